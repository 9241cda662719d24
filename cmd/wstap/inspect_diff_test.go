package main

import (
	"context"
	"io"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wstap/wstap/capture"
	"github.com/wstap/wstap/inspector"
	"github.com/wstap/wstap/internal/sessiondiff"
)

// fakeDiffTerminal makes the commands believe stdout is a terminal and
// hands each diff view run to f.
func fakeDiffTerminal(t *testing.T, f func(ctx context.Context, res *sessiondiff.Result, opts inspector.Options) error) {
	t.Helper()
	oldTerm, oldRun := terminal, runDiffInspector
	terminal = func(io.Writer) bool { return true }
	runDiffInspector = f
	t.Cleanup(func() { terminal, runDiffInspector = oldTerm, oldRun })
}

// writeChat writes a capture of one chat session: hello as user, then the
// server's welcome with a timestamp.
func writeChat(t *testing.T, name, user, ts string) string {
	t.Helper()
	msg := func(ms int, dir capture.Direction, data string) *capture.Chunk {
		return &capture.Chunk{Conn: 1, Time: fixtureAt(ms), Dir: dir, Opcode: capture.OpText, First: true, Last: true, Data: []byte(data)}
	}
	path := filepath.Join(t.TempDir(), name)
	if err := writeCapture(path, []capture.Record{
		&capture.ConnOpen{Conn: 1, Time: fixtureAt(0), URL: "wss://chat.example.test/ws", Mode: "explicit", ClientAddr: "127.0.0.1:50001", Status: 101},
		msg(10, capture.ClientToServer, `{"type":"hello","user":"`+user+`"}`),
		msg(12, capture.ServerToClient, `{"type":"welcome","ts":`+ts+`}`),
		&capture.End{Conn: 1, Time: fixtureAt(32)},
	}); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestInspectTwoFiles(t *testing.T) {
	a := writeChat(t, "a.wstap", "ann", "1")
	b := writeChat(t, "b.wstap", "bob", "2")
	var got *sessiondiff.Result
	var gotOpts inspector.Options
	fakeDiffTerminal(t, func(_ context.Context, res *sessiondiff.Result, opts inspector.Options) error {
		got, gotOpts = res, opts
		return nil
	})
	if code, _, errOut := runCmd("inspect", a, b); code != exitOK {
		t.Fatalf("inspect A B: exit %d: %s", code, errOut)
	}
	if got == nil || got.A.Name != a+"#1" || got.B.Name != b+"#1" || len(got.Client) != 1 || len(got.Server) != 1 {
		t.Fatalf("the diff view got %+v", got)
	}
	if got.Client[0].Kind != sessiondiff.Changed || got.Server[0].Kind != sessiondiff.Changed {
		t.Errorf("client %s, server %s; want both changed", got.Client[0].Kind, got.Server[0].Kind)
	}
	if !strings.Contains(gotOpts.Title, a) || !strings.Contains(gotOpts.Title, b) {
		t.Errorf("title %q", gotOpts.Title)
	}
	// --ignore leaves the timestamp out; --conn-a and --conn-b pick.
	if code, _, errOut := runCmd("inspect", a, b, "--ignore", "ts", "--conn-a", "1", "--conn-b", "1"); code != exitOK {
		t.Fatalf("inspect A B --ignore ts: exit %d: %s", code, errOut)
	}
	if got.Server[0].Kind != sessiondiff.Same || got.Client[0].Kind != sessiondiff.Changed {
		t.Errorf("with --ignore ts: client %s, server %s", got.Client[0].Kind, got.Server[0].Kind)
	}
}

func TestInspectTwoFilesUsage(t *testing.T) {
	a := writeChat(t, "a.wstap", "ann", "1")
	b := writeChat(t, "b.wstap", "bob", "2")
	multi := filepath.Join(t.TempDir(), "m.wstap")
	if err := writeFixture("multi", multi, t.TempDir()); err != nil {
		t.Fatal(err)
	}
	ran := false
	fakeDiffTerminal(t, func(context.Context, *sessiondiff.Result, inspector.Options) error { ran = true; return nil })
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"inspect", a, b, "--ignore", "a..b"}, exitUsage, "--ignore"},
		{[]string{"inspect", a, b, "--follow"}, exitUsage, "--follow"},
		{[]string{"inspect", a, b, a}, exitUsage, "one capture, or two"},
		{[]string{"inspect", a, multi}, exitUsage, "--conn-b"},
		{[]string{"inspect", a, b, "--conn-b", "2"}, exitError, "no connection 2"},
		{[]string{"inspect", a, filepath.Join(t.TempDir(), "none.wstap")}, exitError, "none.wstap"},
	} {
		code, _, errOut := runCmd(c.args...)
		if code != c.code || !strings.Contains(errOut, c.want) {
			t.Errorf("%v: exit %d, %q; want exit %d naming %q", c.args[1:], code, errOut, c.code, c.want)
		}
	}
	if ran {
		t.Errorf("the diff view ran for a bad command line")
	}
}

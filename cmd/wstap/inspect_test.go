package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/wstap/wstap/capture"
	"github.com/wstap/wstap/inspector"
)

// fakeTerminal makes the commands believe stdout is a terminal and hands
// each inspector run to f.
func fakeTerminal(t *testing.T, f func(ctx context.Context, src inspector.Source, opts inspector.Options) error) {
	t.Helper()
	oldTerm, oldRun := terminal, runInspector
	terminal = func(io.Writer) bool { return true }
	runInspector = f
	t.Cleanup(func() { terminal, runInspector = oldTerm, oldRun })
}

func TestInspectNeedsATerminal(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.wstap")
	if err := writeFixture("multi", path, t.TempDir()); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	if code := run([]string{"inspect", path}, &out, &errOut); code != exitError || !strings.Contains(errOut.String(), "needs a terminal") {
		t.Errorf("inspect on a pipe: exit %d, stderr %q", code, errOut.String())
	}
	errOut.Reset()
	if code := run([]string{"record", "--tui", "-o", filepath.Join(t.TempDir(), "x.wstap")}, &out, &errOut); code != exitError ||
		!strings.Contains(errOut.String(), "--tui needs a terminal") {
		t.Errorf("record --tui on a pipe: exit %d, stderr %q", code, errOut.String())
	}
}

func TestInspectOpensTheFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.wstap")
	if err := writeFixture("multi", path, t.TempDir()); err != nil {
		t.Fatal(err)
	}
	var got []inspector.Options
	var conns int
	fakeTerminal(t, func(_ context.Context, src inspector.Source, opts inspector.Options) error {
		got = append(got, opts)
		conns = len(src.Conns())
		return nil
	})
	var out, errOut bytes.Buffer
	for _, args := range [][]string{{"inspect", path}, {"inspect", "--follow", path}} {
		if code := run(args, &out, &errOut); code != exitOK {
			t.Fatalf("%v: exit %d, %s", args, code, errOut.String())
		}
	}
	if len(got) != 2 || got[0].Title != path || got[0].Follow || !got[1].Follow || conns == 0 {
		t.Errorf("inspector ran with %+v over %d connections", got, conns)
	}
	if code := run([]string{"inspect", filepath.Join(t.TempDir(), "none.wstap")}, &out, &errOut); code != exitError {
		t.Errorf("a missing file: exit %d", code)
	}
	if code := run([]string{"inspect"}, &out, &errOut); code != exitUsage {
		t.Errorf("no file: exit %d", code)
	}
	fakeTerminal(t, func(context.Context, inspector.Source, inspector.Options) error { return errors.New("tty gone") })
	errOut.Reset()
	if code := run([]string{"inspect", path}, &out, &errOut); code != exitError || !strings.Contains(errOut.String(), "tty gone") {
		t.Errorf("a failing inspector: exit %d, %q", code, errOut.String())
	}
}

// blockedTerminal is a terminal that stopped reading (a suspended ssh
// session, a frozen tmux pane): every write blocks until release.
type blockedTerminal struct {
	release chan struct{}
	once    sync.Once
	wrote   chan struct{}
}

func (b *blockedTerminal) Write(p []byte) (int, error) {
	b.once.Do(func() { close(b.wrote) })
	<-b.release
	return len(p), nil
}

// TestRecordTUILiveTap records through `record --tui` while the inspector
// follows the capture. Traffic flows in full when the inspector keeps up,
// and also when its terminal is frozen solid: the relay never waits for the
// UI. The inspector draws the connection as it opens.
func TestRecordTUILiveTap(t *testing.T) {
	for _, frozen := range []bool{false, true} {
		t.Run(fmt.Sprintf("frozen=%v", frozen), func(t *testing.T) {
			t.Setenv("WSTAP_HOME", t.TempDir())
			screen := newSyncBuffer()
			blocked := &blockedTerminal{release: make(chan struct{}), wrote: make(chan struct{})}
			inR, inW := io.Pipe()
			defer inW.Close()
			ran := make(chan struct{})
			fakeTerminal(t, func(ctx context.Context, src inspector.Source, opts inspector.Options) error {
				defer close(ran)
				if !opts.Follow {
					t.Errorf("record --tui does not follow the capture")
				}
				var out io.Writer = screen
				if frozen {
					out = blocked
				}
				return inspector.Run(ctx, src, opts, inR, out)
			})
			path := filepath.Join(t.TempDir(), "tui.wstap")
			stdout, stderr := newSyncBuffer(), newSyncBuffer()
			g := &globalOptions{stdout: stdout, stderr: stderr}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			done := make(chan error, 1)
			go func() {
				done <- runRecord(ctx, g, &recordOptions{listen: "127.0.0.1:0", output: path, upstream: echoUpstream(t), tui: true}, nil)
			}()
			addr := waitListening(t, stdout)
			if frozen {
				<-blocked.wrote
			}
			const n = 5000
			c, _, err := websocket.DefaultDialer.Dial("ws://"+addr+"/live", nil)
			if err != nil {
				t.Fatal(err)
			}
			// 32 in flight, as a busy app keeps them.
			errc := make(chan error, 1)
			go func() {
				for i := range n {
					if err := c.WriteMessage(websocket.TextMessage, fmt.Appendf(nil, `{"i":%d}`, i)); err != nil {
						errc <- err
						return
					}
				}
				errc <- nil
			}()
			c.SetReadDeadline(time.Now().Add(60 * time.Second))
			for i := range n {
				if _, p, err := c.ReadMessage(); err != nil || string(p) != fmt.Sprintf(`{"i":%d}`, i) {
					t.Fatalf("echo %d = %q, %v (frozen UI: %v)", i, p, err, frozen)
				}
			}
			if err := <-errc; err != nil {
				t.Fatal(err)
			}
			c.Close()
			if !frozen {
				deadline := time.Now().Add(20 * time.Second)
				drawn := regexp.MustCompile(`#1 +- +101 `)
				for !drawn.MatchString(stripANSI(screen.String())) && time.Now().Before(deadline) {
					time.Sleep(10 * time.Millisecond)
				}
				if !drawn.MatchString(stripANSI(screen.String())) {
					t.Errorf("the inspector never drew the connection: %q", stripANSI(screen.String()))
				}
			}
			close(blocked.release)
			cancel()
			if err := <-done; err != nil {
				t.Fatalf("record --tui: %v\n%s", err, stderr.String())
			}
			<-ran
			if !strings.Contains(stdout.String(), fmt.Sprintf("%d message(s)", 2*n)) {
				t.Errorf("summary: %s", stdout.String())
			}
			r, err := capture.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			if cs := r.Conns(); len(cs) != 1 || cs[0].Messages[0] != n || cs[0].Messages[1] != n {
				t.Errorf("capture holds %+v", cs)
			}
		})
	}
}

var ansiRE = regexp.MustCompile(`\x1b(\[[0-9;?<>=$]*[ -/]*[@-~]|\][^\a]*(\a|\x1b\\)|[()][0-9A-Za-z]|[=>78])`)

func stripANSI(s string) string { return ansiRE.ReplaceAllString(s, "") }

var listeningRE = regexp.MustCompile(`listening +(\S+)`)

func waitListening(t testing.TB, out *syncBuffer) string {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if m := listeningRE.FindStringSubmatch(out.String()); m != nil {
			return m[1]
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("not listening after 20 s: %s", out.String())
	return ""
}

func TestHeldLog(t *testing.T) {
	h := &heldLog{max: 10}
	h.Write([]byte("12345\n"))
	h.Write([]byte("too long now\n"))
	var out bytes.Buffer
	h.flush(&out)
	h.Write([]byte("after\n"))
	if want := "12345\nwstap: 1 more warning(s) while the inspector was open were not kept\nafter\n"; out.String() != want {
		t.Errorf("held log wrote %q, want %q", out.String(), want)
	}
}

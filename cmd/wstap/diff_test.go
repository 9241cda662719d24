package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wstap/wstap/capture"
)

// diffRecords is one connection of a chat: the client says hello as user,
// the server welcomes it with a time stamp ts.
func diffRecords(user string, ts int, agent string) []capture.Record {
	text := func(ms int, dir capture.Direction, s string) *capture.Chunk {
		return &capture.Chunk{Conn: 1, Time: fixtureAt(ms), Dir: dir, Opcode: capture.OpText, First: true, Last: true, Data: []byte(s)}
	}
	return []capture.Record{
		&capture.ConnOpen{Conn: 1, Time: fixtureAt(0), URL: "wss://chat.example.test/ws", Mode: "connect", Status: 101,
			RequestHeaders: http.Header{"User-Agent": {agent}}},
		text(5, capture.ClientToServer, `{"type":"hello","user":{"name":"`+user+`"}}`),
		text(9, capture.ServerToClient, `{"type":"welcome","ts":`+strings.Repeat("1", ts)+`}`),
		&capture.Chunk{Conn: 1, Time: fixtureAt(10), Dir: capture.ClientToServer, Opcode: capture.OpPing, First: true, Last: true},
		text(20, capture.ClientToServer, `{"type":"bye"}`),
		&capture.End{Conn: 1, Time: fixtureAt(30)},
	}
}

func writeDiffCaptures(t *testing.T) (a, b string) {
	t.Helper()
	dir := t.TempDir()
	a, b = filepath.Join(dir, "a.wstap"), filepath.Join(dir, "b.wstap")
	if err := writeCapture(a, diffRecords("ann", 1, "app/1")); err != nil {
		t.Fatal(err)
	}
	if err := writeCapture(b, diffRecords("bob", 2, "app/1")); err != nil {
		t.Fatal(err)
	}
	return a, b
}

func TestDiffCommand(t *testing.T) {
	a, b := writeDiffCaptures(t)
	var out, errOut bytes.Buffer
	code := run([]string{"diff", a, b}, &out, &errOut)
	if code != exitDifferent || errOut.Len() > 0 {
		t.Fatalf("diff: exit %d, stderr %q", code, &errOut)
	}
	for _, want := range []string{
		"--- " + a + "#1  wss://chat.example.test/ws\n",
		"+++ " + b + "#1  wss://chat.example.test/ws\n",
		"client→server: 2 vs 2 messages: 1 same, 1 changed\n",
		`  ~ #1 ↔ #1  user.name: "ann" → "bob"` + "\n",
		`  ~ #1 ↔ #1  ts: 1 → 11` + "\n",
		"sessions differ: 2 changed, 0 inserted, 0 missing, 0 reordered\n",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("diff output lacks %q:\n%s", want, &out)
		}
	}
	if strings.Contains(out.String(), "\x1b[") {
		t.Error("colour on a pipe")
	}

	// Ignoring the fields that differ: the same (exit 0).
	out.Reset()
	if code := run([]string{"diff", "--ignore", "user.name", "--ignore", "ts", a, b}, &out, &errOut); code != exitOK ||
		!strings.HasSuffix(out.String(), "sessions are the same\n") {
		t.Errorf("diff --ignore: exit %d:\n%s%s", code, &out, &errOut)
	}
	// A file against itself.
	out.Reset()
	if code := run([]string{"diff", a, a}, &out, &errOut); code != exitOK {
		t.Errorf("diff a a: exit %d:\n%s%s", code, &out, &errOut)
	}
}

func TestDiffCommandHandshake(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.wstap"), filepath.Join(dir, "b.wstap")
	if err := writeCapture(a, diffRecords("ann", 1, "app/1")); err != nil {
		t.Fatal(err)
	}
	if err := writeCapture(b, diffRecords("ann", 1, "app/2")); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	if code := run([]string{"diff", a, b}, &out, &errOut); code != exitDifferent ||
		!strings.Contains(out.String(), "handshake: 1 difference\n  ~ request.User-Agent: \"app/1\" → \"app/2\"\n") ||
		!strings.HasSuffix(out.String(), ", handshake\n") {
		t.Errorf("diff of handshakes: exit %d:\n%s%s", code, &out, &errOut)
	}
	out.Reset()
	if code := run([]string{"diff", "--ignore", "request.user-agent", a, b}, &out, &errOut); code != exitOK {
		t.Errorf("diff --ignore request.user-agent: exit %d:\n%s%s", code, &out, &errOut)
	}
}

func TestDiffCommandJSONL(t *testing.T) {
	a, b := writeDiffCaptures(t)
	var out, errOut bytes.Buffer
	if code := run([]string{"diff", "--format", "jsonl", a, b}, &out, &errOut); code != exitDifferent {
		t.Fatalf("diff --format jsonl: exit %d, %s", code, &errOut)
	}
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	var types []string
	var changed map[string]any
	for _, line := range lines {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("%v: %s", err, line)
		}
		types = append(types, m["type"].(string))
		if m["type"] == "message" && m["dir"] == "client" {
			changed = m
		}
	}
	if got := strings.Join(types, " "); got != "sessions message message timing summary" {
		t.Errorf("line types %s", got)
	}
	ch, _ := changed["changes"].([]any)
	if changed["op"] != "changed" || changed["a"] != 1.0 || changed["b"] != 1.0 || len(ch) != 1 ||
		ch[0].(map[string]any)["path"] != "user.name" || ch[0].(map[string]any)["b"] != "bob" {
		t.Errorf("client message line = %v", changed)
	}
	if last := lines[len(lines)-1]; !strings.HasPrefix(last, `{"type":"summary","same":false,"changed":2,`) {
		t.Errorf("last line %s", last)
	}
}

func TestDiffCommandErrors(t *testing.T) {
	a, b := writeDiffCaptures(t)
	multi := filepath.Join(t.TempDir(), "multi.wstap")
	if err := writeFixture("multi", multi, t.TempDir()); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		args   []string
		code   int
		stderr string
	}{
		{[]string{"diff", a}, exitUsage, "takes 2 argument(s)"},
		{[]string{"diff", "--ignore", "a..b", a, b}, exitUsage, `--ignore "a..b"`},
		{[]string{"diff", "--ignore", "items.#(id==1)", a, b}, exitUsage, "queries"},
		{[]string{"diff", "--format", "xml", a, b}, exitUsage, `unknown --format "xml"`},
		{[]string{"diff", "--conn-x", "1", a, b}, exitUsage, "unknown flag"},
		{[]string{"diff", multi, b}, exitUsage, "choose a connection with --conn-a N (it has connections 1 to 4)"},
		{[]string{"diff", a, multi}, exitUsage, "--conn-b N"},
		{[]string{"diff", "--conn-b", "1,2", a, multi}, exitUsage, "this command takes one connection"},
		{[]string{"diff", "--conn-a", "9", multi, b}, exitError, "has no connection 9 (it has connections 1 to 4)"},
		{[]string{"diff", "--conn-b", "2", a, b}, exitError, "has no connection 2 (it has connection 1)"},
		{[]string{"diff", filepath.Join(t.TempDir(), "none.wstap"), b}, exitError, "none.wstap"},
	} {
		var out, errOut bytes.Buffer
		code := run(tt.args, &out, &errOut)
		if code != tt.code || !strings.Contains(errOut.String(), tt.stderr) || strings.Count(errOut.String(), "\n") != 1 {
			t.Errorf("%q: exit %d, stderr %q; want exit %d and one line with %q", tt.args, code, &errOut, tt.code, tt.stderr)
		}
		if out.Len() > 0 {
			t.Errorf("%q: stdout %q", tt.args, &out)
		}
	}
}

func TestDiffCommandTorn(t *testing.T) {
	dir := t.TempDir()
	multi, torn := filepath.Join(dir, "multi.wstap"), filepath.Join(dir, "torn.wstap")
	if err := writeFixture("multi", multi, dir); err != nil {
		t.Fatal(err)
	}
	if err := writeFixture("torn", torn, dir); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	code := run([]string{"diff", "--conn-a", "1", "--conn-b", "1", multi, torn}, &out, &errOut)
	if code != exitDifferent || !strings.Contains(errOut.String(), "torn tail") ||
		!strings.Contains(out.String(), "only in A") {
		t.Errorf("diff against a torn capture: exit %d\n%s%s", code, &out, &errOut)
	}
}

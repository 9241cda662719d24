package main

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/wstap/wstap/capture"
)

// syncBuffer is an io.Writer that a command writes to from one goroutine
// while the test reads it from another. Each write signals wrote.
type syncBuffer struct {
	mu    sync.Mutex
	b     bytes.Buffer
	wrote chan struct{}
}

func newSyncBuffer() *syncBuffer { return &syncBuffer{wrote: make(chan struct{}, 1)} }

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	n, err := s.b.Write(p)
	s.mu.Unlock()
	select {
	case s.wrote <- struct{}{}:
	default:
	}
	return n, err
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// waitFor waits until the buffer holds substr. It fails the test if done
// (the command's result) arrives first, or after a generous deadline.
func (s *syncBuffer) waitFor(t *testing.T, substr string, done <-chan error) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for !strings.Contains(s.String(), substr) {
		select {
		case <-s.wrote:
		case err := <-done:
			t.Fatalf("show returned (%v) before printing %q; output:\n%s", err, substr, s)
		case <-deadline:
			t.Fatalf("show did not print %q within 10s; output:\n%s", substr, s)
		}
	}
}

// waitDone waits for the command's result.
func waitDone(t *testing.T, done <-chan error) error {
	t.Helper()
	select {
	case err := <-done:
		return err
	case <-time.After(10 * time.Second):
		t.Fatal("show did not return within 10s")
	}
	return nil
}

// startShow runs runShow in a goroutine and returns its stdout, stderr and
// result channel. The command's context is cancelled when the test ends.
func startShow(t *testing.T, ctx context.Context, opts *showOptions, path string) (stdout, stderr *syncBuffer, done chan error) {
	t.Helper()
	ctx, cancel := context.WithCancel(ctx)
	stdout, stderr, done = newSyncBuffer(), newSyncBuffer(), make(chan error, 1)
	g := &globalOptions{stdout: stdout, stderr: stderr}
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		done <- runShow(ctx, g, opts, []string{path})
	}()
	t.Cleanup(func() {
		cancel()
		<-finished
	})
	return stdout, stderr, done
}

func createCapture(t *testing.T) (*capture.Writer, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "live.wstap")
	w, err := capture.Create(path, capture.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	return w, path
}

func mustAppend(t *testing.T, w *capture.Writer, recs ...capture.Record) {
	t.Helper()
	if err := appendRecords(w, recs); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
}

func openRec(id capture.ConnID, ms int, url string) *capture.ConnOpen {
	return &capture.ConnOpen{Conn: id, Time: fixtureAt(ms), URL: url, Status: 101}
}

func textRec(id capture.ConnID, ms int, dir capture.Direction, text string) *capture.Chunk {
	return &capture.Chunk{Conn: id, Time: fixtureAt(ms), Dir: dir, Opcode: capture.OpText, First: true, Last: true,
		Data: []byte(text)}
}

func TestShowFollowUntilWriterCloses(t *testing.T) {
	for _, format := range []string{"text", "jsonl"} {
		t.Run(format, func(t *testing.T) {
			w, path := createCapture(t)
			mustAppend(t, w, openRec(1, 0, "ws://live.example.test/a"))
			stdout, stderr, done := startShow(t, t.Context(), &showOptions{Format: format, Follow: true}, path)
			stdout.waitFor(t, "ws://live.example.test/a", done)

			mustAppend(t, w, textRec(1, 10, capture.ClientToServer, "first while following"))
			stdout.waitFor(t, "first while following", done)
			mustAppend(t, w, textRec(1, 20, capture.ServerToClient, "second while following"),
				&capture.Close{Conn: 1, Time: fixtureAt(30), Dir: capture.ClientToServer, Code: 1000},
				&capture.End{Conn: 1, Time: fixtureAt(31)})
			stdout.waitFor(t, "second while following", done)

			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			if err := waitDone(t, done); err != nil {
				t.Fatalf("show --follow = %v, want nil once the writer closed the file", err)
			}
			if got, want := strings.Count(stdout.String(), "\n"), 5; got != want {
				t.Errorf("show --follow printed %d lines, want %d:\n%s", got, want, stdout)
			}
			if s := stderr.String(); s != "" {
				t.Errorf("stderr = %q, want nothing", s)
			}
			// What follow printed is what a later show of the closed file prints.
			var again bytes.Buffer
			g := &globalOptions{stdout: &again, stderr: &again}
			if err := runShow(t.Context(), g, &showOptions{Format: format}, []string{path}); err != nil {
				t.Fatal(err)
			}
			if again.String() != stdout.String() {
				t.Errorf("show after close:\n%s\nshow --follow:\n%s", &again, stdout)
			}
		})
	}
}

func TestShowFollowStopsWithContext(t *testing.T) {
	w, path := createCapture(t)
	mustAppend(t, w, openRec(1, 0, "ws://live.example.test/a"), textRec(1, 1, capture.ClientToServer, "hello"))
	ctx, cancel := context.WithCancel(t.Context())
	stdout, _, done := startShow(t, ctx, &showOptions{Format: "text", Follow: true}, path)
	stdout.waitFor(t, "hello", done)
	cancel()
	if err := waitDone(t, done); err != nil {
		t.Fatalf("show --follow after cancel = %v, want nil (exit status 0 on Ctrl-C)", err)
	}
}

func TestShowFollowConnThatOpensLater(t *testing.T) {
	w, path := createCapture(t)
	mustAppend(t, w, openRec(1, 0, "ws://live.example.test/one"))
	stdout, _, done := startShow(t, t.Context(), &showOptions{Conn: 2, Format: "text", Follow: true}, path)

	mustAppend(t, w, openRec(2, 10, "ws://live.example.test/two"), textRec(1, 11, capture.ClientToServer, "for one"),
		textRec(2, 12, capture.ClientToServer, "for two"))
	stdout.waitFor(t, "for two", done)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := waitDone(t, done); err != nil {
		t.Fatal(err)
	}
	if s := stdout.String(); strings.Contains(s, "one") || !strings.Contains(s, "#2 open") {
		t.Errorf("show --follow --conn 2 printed:\n%s\nwant connection 2 only", s)
	}
}

// TestShowJSONLIsTheEncoder pins `show --format jsonl` to the capture
// package's encoder over Reader.Messages, byte for byte: the documented
// Python reader is checked against that encoder.
func TestShowJSONLIsTheEncoder(t *testing.T) {
	path := filepath.Join(t.TempDir(), "multi.wstap")
	if err := writeFixture("multi", path, t.TempDir()); err != nil {
		t.Fatal(err)
	}
	r, err := capture.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for _, conn := range []capture.ConnID{0, 1, 2, 3, 4} {
		var want bytes.Buffer
		enc := capture.NewJSONEncoder(&want)
		for rec, err := range r.Messages(capture.Filter{Conn: conn}, capture.AssembleOptions{}) {
			if err != nil {
				t.Fatal(err)
			}
			if err := enc.Encode(rec); err != nil {
				t.Fatal(err)
			}
		}
		var got, stderr bytes.Buffer
		g := &globalOptions{stdout: &got, stderr: &stderr}
		if err := runShow(t.Context(), g, &showOptions{Conn: uint64(conn), Format: "jsonl"}, []string{path}); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got.Bytes(), want.Bytes()) {
			t.Errorf("show --format jsonl --conn %d:\n%s\nwant (JSONEncoder over Messages):\n%s", conn, &got, &want)
		}
		if err := checkJSONL(got.Bytes()); err != nil {
			t.Errorf("show --format jsonl --conn %d: %v", conn, err)
		}
	}
}

// TestTextLineWidth checks that message lines fit showWidth columns (one
// rune a column) whatever the payload.
func TestTextLineWidth(t *testing.T) {
	big := func(s string, n int) []byte { return bytes.Repeat([]byte(s), n) }
	payloads := map[string][]byte{
		"ascii":    big("a", 10000),
		"controls": big("\x00\x01\n", 5000),
		"invalid":  big("\xff\xfe", 5000),
		"unicode":  big("✓你", 5000),
		"spaces":   big(" ", 500),
	}
	for name, p := range payloads {
		for _, op := range []capture.Opcode{capture.OpText, capture.OpBinary, capture.OpPing} {
			m := &capture.Message{Conn: 123456, Dir: capture.ProxyToClient, Opcode: op, Time: fixtureAt(0), Size: int64(len(p)) * 1000,
				Data: p[:min(len(p), showMaxData)], Cut: len(p) > showMaxData, Truncated: true, Incomplete: true, Compressed: true}
			line := textLine(m)
			if n := utf8.RuneCountInString(line); n > showWidth {
				t.Errorf("%s %s: line of %d runes, want at most %d:\n%s", name, op, n, showWidth, line)
			}
			if !strings.HasSuffix(line, "…") {
				t.Errorf("%s %s: a cut preview does not end in …:\n%s", name, op, line)
			}
		}
	}
}

func TestTextLine(t *testing.T) {
	tests := []struct {
		rec  capture.Record
		want string
	}{
		{&capture.ConnOpen{Conn: 1, Time: fixtureAt(0), URL: "wss://a.example.test/p", Status: 101, Subprotocol: "chat"},
			"12:00:00.123 #1 open  wss://a.example.test/p  101 chat"},
		{&capture.ConnOpen{Conn: 2, Time: fixtureAt(0), URL: "ws://b.example.test/", Status: 0},
			"12:00:00.123 #2 open  ws://b.example.test/  -"},
		{&capture.Message{Conn: 1, Time: fixtureAt(1), Dir: capture.ClientToServer, Opcode: capture.OpText, Size: 5, Data: []byte("a\tb\x7fc")},
			`12:00:00.124 #1 → text        5 B a\tb\x7fc`},
		{&capture.Message{Conn: 1, Time: fixtureAt(1), Dir: capture.ServerToClient, Opcode: capture.OpBinary, Size: 0},
			"12:00:00.124 #1 ← binary      0 B"},
		{&capture.Message{Conn: 1, Time: fixtureAt(1), Dir: capture.ProxyToServer, Opcode: capture.OpPing, Size: 2, Data: []byte{0xff, 0}},
			"12:00:00.124 #1 ⇢ ping        2 B ff 00"},
		{&capture.Message{Conn: 1, Time: fixtureAt(1), Dir: capture.ServerToClient, Opcode: capture.OpText, Size: 3 << 20,
			Data: []byte("{}"), Compressed: true, Incomplete: true},
			"12:00:00.124 #1 ← text    3.0 MiB [z] [incomplete] {}"},
		{&capture.Close{Conn: 1, Time: fixtureAt(2), Dir: capture.ServerToClient, Code: 1005},
			"12:00:00.125 #1 ← close  1005 (no status)"},
		{&capture.Close{Conn: 1, Time: fixtureAt(2), Dir: capture.ClientToServer, Code: 4000, Reason: "a\nb"},
			`12:00:00.125 #1 → close  4000 "a\nb"`},
		{&capture.Event{Conn: 0, Time: fixtureAt(3), Kind: "error", Detail: "disk full\n"},
			`12:00:00.126 * event error: disk full\n`},
		{&capture.End{Conn: 7, Time: fixtureAt(4)}, "12:00:00.127 #7 end"},
		{&capture.HTTP{ID: 2, Time: fixtureAt(5), Method: "POST", URL: "http://c.example.test/x", Error: "EOF"},
			"12:00:00.128 http#2 POST http://c.example.test/x  -  0 B  0s  error: EOF"},
	}
	for _, tt := range tests {
		if got := textLine(tt.rec); got != tt.want {
			t.Errorf("textLine(%T) =\n%s\nwant\n%s", tt.rec, got, tt.want)
		}
	}
}

// TestShowFollowInterrupt runs the real binary on a capture whose recorder
// crashed: show --follow prints what is there, waits for more, and exits 0
// with the torn-tail warning on SIGINT.
func TestShowFollowInterrupt(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no SIGINT on windows")
	}
	path := filepath.Join(t.TempDir(), "torn.wstap")
	if err := writeFixture("torn", path, t.TempDir()); err != nil {
		t.Fatal(err)
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	// TestMain runs main when argv[0] is "wstap".
	cmd := &exec.Cmd{Path: exe, Args: []string{"wstap", "show", "--follow", path}}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// A stuck process fails the test instead of hanging it.
	stuck := time.AfterFunc(10*time.Second, func() { cmd.Process.Kill() })
	defer stuck.Stop()
	// The signal handler is installed before the first line is printed.
	lines := bufio.NewScanner(out)
	var got []string
	for len(got) < 7 && lines.Scan() {
		got = append(got, lines.Text())
	}
	if len(got) < 7 {
		cmd.Process.Kill()
		io.Copy(io.Discard, out)
		cmd.Wait()
		t.Fatalf("show --follow printed %d lines, want the 7 before the torn tail: %q\nstderr: %s", len(got), got, &stderr)
	}
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	rest, _ := io.ReadAll(out)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("show --follow after SIGINT: %v, want exit status 0; stderr: %s", err, &stderr)
	}
	if len(rest) > 0 {
		t.Errorf("show --follow printed more after the torn tail: %q", rest)
	}
	if !strings.HasPrefix(got[0], "12:00:00.123 #1 open  wss://chat.example.test/ws?room=1") {
		t.Errorf("first line = %q", got[0])
	}
	if !strings.Contains(stderr.String(), "torn tail at offset") {
		t.Errorf("stderr = %q, want the torn-tail warning", &stderr)
	}
}

func TestShowStopsOnInterrupt(t *testing.T) {
	path := filepath.Join(t.TempDir(), "multi.wstap")
	if err := writeFixture("multi", path, t.TempDir()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	var stdout, stderr bytes.Buffer
	g := &globalOptions{stdout: &stdout, stderr: &stderr}
	if err := runShow(ctx, g, &showOptions{Format: "text"}, []string{path}); err != nil {
		t.Fatalf("show after Ctrl-C = %v, want nil", err)
	}
	if n := strings.Count(stdout.String(), "\n"); n > 1 {
		t.Errorf("show after Ctrl-C printed %d lines, want at most 1", n)
	}
}

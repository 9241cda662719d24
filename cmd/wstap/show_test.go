package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

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

// framesRecords returns the records of the "frames" fixture, with frame
// facts as a proxy records them (each frame before the payload it
// carries): on connection 1, a client text message in three frames with
// a ping between the second and third, a compressed server message (RSV1),
// a one-frame binary message and a close handshake; on connection 2,
// interleaved, a one-frame message and a frame whose payload is lost.
func framesRecords() []capture.Record {
	frame := func(conn capture.ConnID, ms int, dir capture.Direction, op capture.Opcode, fin bool, length int64) *capture.Frame {
		return &capture.Frame{Conn: conn, Time: fixtureAt(ms), Dir: dir, Opcode: op, Fin: fin,
			Masked: dir == capture.ClientToServer, Length: length}
	}
	chunk := func(conn capture.ConnID, ms int, dir capture.Direction, op capture.Opcode, first, last bool, data string) *capture.Chunk {
		return &capture.Chunk{Conn: conn, Time: fixtureAt(ms), Dir: dir, Opcode: op, First: first, Last: last, Data: []byte(data)}
	}
	c2s, s2c := capture.ClientToServer, capture.ServerToClient
	text, cont := capture.OpText, capture.OpContinuation
	compressed := chunk(1, 12, s2c, text, true, true, "welcome to the room")
	compressed.Compressed = true
	// One frame whose length on the wire is not the inflated payload's:
	// the writer keeps it as a frame record of its own.
	compressed.Frame = &capture.Frame{Fin: true, RSV: 4, Opcode: text, Length: 15}
	bin := chunk(1, 20, s2c, capture.OpBinary, true, true, "\x00\x01\x02\x03")
	bin.Frame = &capture.Frame{Fin: true, Opcode: capture.OpBinary, Length: 4} // folded into the chunk on disk
	tick := chunk(2, 6, s2c, text, true, true, "tick")
	tick.Frame = &capture.Frame{Fin: true, Opcode: text, Length: 4}
	ping := chunk(1, 8, c2s, capture.OpPing, true, true, "hb")
	ping.Frame = &capture.Frame{Fin: true, Opcode: capture.OpPing, Masked: true, Length: 2}
	return []capture.Record{
		&capture.ConnOpen{Conn: 1, Time: fixtureAt(0), URL: "wss://chat.example.test/ws", Mode: "connect",
			ClientAddr: "127.0.0.1:50001", Status: 101, Extensions: "permessage-deflate"},
		&capture.ConnOpen{Conn: 2, Time: fixtureAt(1), URL: "ws://feed.example.test/live", Mode: "explicit",
			ClientAddr: "127.0.0.1:50002", Status: 101},
		frame(1, 5, c2s, text, false, 5), chunk(1, 5, c2s, text, true, false, "hello"),
		tick,
		frame(1, 7, c2s, cont, false, 1), chunk(1, 7, c2s, text, false, false, " "),
		ping,
		frame(1, 9, c2s, cont, true, 6), chunk(1, 9, c2s, text, false, true, "world!"),
		compressed,
		bin,
		frame(2, 25, s2c, cont, true, 3), // its chunk never made it
		frame(1, 30, c2s, capture.OpClose, true, 5), &capture.Close{Conn: 1, Time: fixtureAt(30), Dir: c2s, Code: 1000, Reason: "bye"},
		frame(1, 31, s2c, capture.OpClose, true, 2), &capture.Close{Conn: 1, Time: fixtureAt(31), Dir: s2c, Code: 1000},
		&capture.End{Conn: 1, Time: fixtureAt(32)},
		&capture.End{Conn: 2, Time: fixtureAt(40), Error: "reset"},
	}
}

// writeFramesFixture writes the "frames" fixture at path.
func writeFramesFixture(path string) error { return writeCapture(path, framesRecords()) }

// showOutput runs show on path and returns its stdout, failing on an error
// or on anything on stderr.
func showOutput(t *testing.T, opts *showOptions, path string) string {
	t.Helper()
	var stdout, stderr bytes.Buffer
	g := &globalOptions{stdout: &stdout, stderr: &stderr}
	if err := runShow(t.Context(), g, opts, []string{path}); err != nil {
		t.Fatalf("show %+v: %v", opts, err)
	}
	if stderr.Len() > 0 {
		t.Errorf("show %+v: stderr %q", opts, &stderr)
	}
	return stdout.String()
}

// Issue 7: show --frames prints each message's frames under it.
func TestShowFrames(t *testing.T) {
	path := filepath.Join(t.TempDir(), "frames.wstap")
	if err := writeFramesFixture(path); err != nil {
		t.Fatal(err)
	}
	want := `12:00:00.123 #1 open  wss://chat.example.test/ws  101  (permessage-deflate)
12:00:00.124 #2 open  ws://feed.example.test/live  101
12:00:00.129 #2 ← text        4 B tick
             └ frame text FIN 4 B +0s
12:00:00.131 #1 → ping        2 B hb
             └ frame ping FIN masked 2 B +0s
12:00:00.128 #1 → text       12 B hello world!
             └ frame text masked 5 B +0s
             └ frame continuation masked 1 B +2ms
             └ frame continuation FIN masked 6 B +4ms
12:00:00.135 #1 ← text       19 B [z] welcome to the room
             └ frame text FIN RSV1 15 B +0s
12:00:00.143 #1 ← binary      4 B 00 01 02 03
             └ frame binary FIN 4 B +0s
12:00:00.153 #1 → close  1000 (normal) "bye"
             └ frame close FIN masked 5 B +0s
12:00:00.154 #1 ← close  1000 (normal)
             └ frame close FIN 2 B +0s
12:00:00.155 #1 end
12:00:00.148 #2 ← frame continuation FIN 3 B
12:00:00.163 #2 end (reset)
`
	got := showOutput(t, &showOptions{Format: "text", Frames: true}, path)
	if got != want {
		t.Errorf("show --frames:\n%s\nwant:\n%s", got, want)
	}

	// The fragmented message: three frames under it, FIN only on the last.
	lines := strings.Split(got, "\n")
	i := slices.IndexFunc(lines, func(l string) bool { return strings.Contains(l, "hello world!") })
	if i < 0 || i+3 >= len(lines) {
		t.Fatalf("no fragmented message with three lines under it in:\n%s", got)
	}
	for j, l := range lines[i+1 : i+4] {
		if !strings.Contains(l, "└ frame ") {
			t.Fatalf("line %d under the fragmented message is %q, want a frame", j+1, l)
		}
		if fin := strings.Contains(l, " FIN "); fin != (j == 2) {
			t.Errorf("frame %d of 3 of the fragmented message: %q, FIN = %t", j+1, l, fin)
		}
	}
	if strings.Contains(lines[i+4], "└ frame") {
		t.Errorf("a fourth frame under the fragmented message: %q", lines[i+4])
	}
	// The compressed message: RSV1 on its frame.
	i = slices.IndexFunc(lines, func(l string) bool { return strings.Contains(l, "[z] welcome") })
	if i < 0 || !strings.Contains(lines[i+1], "└ frame text FIN RSV1 ") {
		t.Errorf("the compressed message's frame does not show RSV1:\n%s", got)
	}

	// Without --frames nothing changes: the same lines less the frames.
	plain := showOutput(t, &showOptions{Format: "text"}, path)
	var noFrames []string
	for _, l := range lines {
		if !strings.Contains(l, "└ frame") && !strings.Contains(l, " frame ") {
			noFrames = append(noFrames, l)
		}
	}
	if want := strings.Join(noFrames, "\n"); plain != want {
		t.Errorf("show without --frames:\n%s\nwant:\n%s", plain, want)
	}
}

// TestShowFramesJSONL pins show --format jsonl --frames to the encoder over
// Reader.Messages with Frames: frame records pass through in file order.
func TestShowFramesJSONL(t *testing.T) {
	path := filepath.Join(t.TempDir(), "frames.wstap")
	if err := writeFramesFixture(path); err != nil {
		t.Fatal(err)
	}
	r, err := capture.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var want bytes.Buffer
	enc := capture.NewJSONEncoder(&want)
	for rec, err := range r.Messages(capture.Filter{}, capture.AssembleOptions{Frames: true}) {
		if err != nil {
			t.Fatal(err)
		}
		if err := enc.Encode(rec); err != nil {
			t.Fatal(err)
		}
	}
	got := showOutput(t, &showOptions{Format: "jsonl", Frames: true}, path)
	if got != want.String() {
		t.Errorf("show --format jsonl --frames:\n%s\nwant (JSONEncoder over Messages with Frames):\n%s", got, &want)
	}
	// File order: the fragmented message's three frames come before it,
	// and the last one after the ping that came between.
	var types []string
	for l := range strings.Lines(got) {
		var v struct {
			Type, Opcode string
			Conn         int
		}
		if err := json.Unmarshal([]byte(l), &v); err != nil {
			t.Fatal(err)
		}
		if v.Conn == 1 && v.Type != "open" {
			types = append(types, v.Type+" "+v.Opcode)
		}
	}
	wantTypes := []string{"frame text", "frame continuation", "frame ping", "message ping", "frame continuation",
		"message text", "frame text", "message text", "frame binary", "message binary", "frame close", "close ",
		"frame close", "close ", "end "}
	if !slices.Equal(types, wantTypes) {
		t.Errorf("connection 1's JSON lines are\n%q\nwant\n%q", types, wantTypes)
	}
	if plain := showOutput(t, &showOptions{Format: "jsonl"}, path); strings.Contains(plain, `"type":"frame"`) {
		t.Errorf("show --format jsonl without --frames has frames:\n%s", plain)
	}
}

// TestShowFramesConn checks that --conn keeps a connection's frames, and
// only its own.
func TestShowFramesConn(t *testing.T) {
	path := filepath.Join(t.TempDir(), "frames.wstap")
	if err := writeFramesFixture(path); err != nil {
		t.Fatal(err)
	}
	got := showOutput(t, &showOptions{Conn: 2, Format: "text", Frames: true}, path)
	want := `12:00:00.124 #2 open  ws://feed.example.test/live  101
12:00:00.129 #2 ← text        4 B tick
             └ frame text FIN 4 B +0s
12:00:00.148 #2 ← frame continuation FIN 3 B
12:00:00.163 #2 end (reset)
`
	if got != want {
		t.Errorf("show --frames --conn 2:\n%s\nwant:\n%s", got, want)
	}
}

// TestShowFramesFollow checks that show --follow --frames prints a message's
// frames with it, as they arrive, and frames whose message never came when
// the file ends.
func TestShowFramesFollow(t *testing.T) {
	w, path := createCapture(t)
	mustAppend(t, w, openRec(1, 0, "ws://live.example.test/a"),
		&capture.Frame{Conn: 1, Time: fixtureAt(1), Dir: capture.ClientToServer, Opcode: capture.OpText, Masked: true, Length: 3},
		&capture.Chunk{Conn: 1, Time: fixtureAt(1), Dir: capture.ClientToServer, Opcode: capture.OpText, First: true,
			Data: []byte("one")})
	stdout, _, done := startShow(t, t.Context(), &showOptions{Format: "text", Follow: true, Frames: true}, path)
	stdout.waitFor(t, "ws://live.example.test/a", done)
	mustAppend(t, w,
		&capture.Frame{Conn: 1, Time: fixtureAt(2), Dir: capture.ClientToServer, Opcode: capture.OpContinuation, Fin: true,
			Masked: true, Length: 3},
		&capture.Chunk{Conn: 1, Time: fixtureAt(2), Dir: capture.ClientToServer, Opcode: capture.OpText, Last: true,
			Data: []byte("two")},
		&capture.Frame{Conn: 1, Time: fixtureAt(3), Dir: capture.ServerToClient, Opcode: capture.OpBinary, Length: 9})
	stdout.waitFor(t, "continuation FIN masked 3 B +1ms", done)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := waitDone(t, done); err != nil {
		t.Fatal(err)
	}
	want := `12:00:00.123 #1 open  ws://live.example.test/a  101
12:00:00.124 #1 → text        6 B onetwo
             └ frame text masked 3 B +0s
             └ frame continuation FIN masked 3 B +1ms
12:00:00.126 #1 ← frame binary 9 B
`
	if got := stdout.String(); got != want {
		t.Errorf("show --follow --frames:\n%s\nwant:\n%s", got, want)
	}
}

package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/wstap/wstap/capture"
)

// runServeCLI runs wstap with args as main's run does, with ctx standing in
// for the signals, and returns the exit status.
func runServeCLI(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	g := &globalOptions{stdout: stdout, stderr: stderr}
	root := newRootCommand(g)
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	code := exitCode(err)
	if err != nil && code != exitDifferent {
		fmt.Fprintf(stderr, "wstap: %v\n", err)
	}
	return code
}

// writeServeFixture writes a recorded chat: a greeting, then a reply to
// each of the client's two messages, and the client's close.
func writeServeFixture(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "chat.wstap")
	text := func(ms int, dir capture.Direction, s string) *capture.Chunk {
		return &capture.Chunk{Conn: 1, Time: fixtureAt(ms), Dir: dir, Opcode: capture.OpText, First: true, Last: true, Data: []byte(s)}
	}
	recs := []capture.Record{
		&capture.ConnOpen{Conn: 1, Time: fixtureAt(0), URL: "wss://chat.example.test/ws?room=1", Mode: "reverse",
			RequestHeaders: http.Header{"Sec-Websocket-Protocol": {"chat"}}, Status: 101, Subprotocol: "chat"},
		text(1, capture.ServerToClient, `{"type":"welcome"}`),
		text(10, capture.ClientToServer, `{"type":"join","user":"ann"}`),
		text(11, capture.ServerToClient, `{"type":"joined","user":"ann"}`),
		text(20, capture.ClientToServer, `{"type":"say","text":"hi"}`),
		text(21, capture.ServerToClient, `{"type":"said","text":"hi"}`),
		&capture.Close{Conn: 1, Time: fixtureAt(30), Dir: capture.ClientToServer, Code: 1000},
		&capture.End{Conn: 1, Time: fixtureAt(31)},
	}
	if err := writeCapture(path, recs); err != nil {
		t.Fatal(err)
	}
	return path
}

// serving runs `wstap serve` in the background and returns the URL it
// prints, and a channel with its exit status.
type serving struct {
	url    string
	stderr *syncBuffer
	code   chan int
	stop   context.CancelFunc
}

var servingRE = regexp.MustCompile(`serving connection 1 of \S+ \(2 client messages, 3 server messages\) at (ws://\S+)`)

func startServe(t *testing.T, args ...string) *serving {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	s := &serving{stderr: newSyncBuffer(), code: make(chan int, 1), stop: cancel}
	go func() { s.code <- runServeCLI(ctx, append([]string{"serve"}, args...), io.Discard, s.stderr) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-s.code:
		case <-time.After(20 * time.Second):
			t.Error("wstap serve did not stop within 20s of the interrupt")
		}
	})
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if m := servingRE.FindStringSubmatch(s.stderr.String()); m != nil {
			s.url = m[1]
			return s
		}
		select {
		case c := <-s.code:
			t.Fatalf("wstap serve exited with %d before serving: %s", c, s.stderr.String())
		case <-s.stderr.wrote:
		case <-time.After(100 * time.Millisecond):
		}
	}
	t.Fatalf("wstap serve did not start: %s", s.stderr.String())
	return nil
}

func (s *serving) wait(t *testing.T) int {
	t.Helper()
	select {
	case c := <-s.code:
		s.code <- c // for the cleanup
		return c
	case <-time.After(20 * time.Second):
		t.Fatalf("wstap serve did not exit: %s", s.stderr.String())
	}
	return 0
}

// chat plays the client side with the given messages and closes.
func chat(t *testing.T, url string, msgs ...string) []string {
	t.Helper()
	d := websocket.Dialer{Subprotocols: []string{"chat"}}
	c, _, err := d.Dial(url, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.Subprotocol() != "chat" {
		t.Errorf("subprotocol %q, want chat", c.Subprotocol())
	}
	read := func() string {
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, p, err := c.ReadMessage()
		if err != nil {
			t.Fatal(err)
		}
		return string(p)
	}
	got := []string{read()}
	for _, m := range msgs {
		if err := c.WriteMessage(websocket.TextMessage, []byte(m)); err != nil {
			t.Fatal(err)
		}
		got = append(got, read())
	}
	c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(1000, ""), time.Now().Add(5*time.Second))
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, _, err := c.ReadMessage(); !websocket.IsCloseError(err, 1000) {
		t.Errorf("after the client's close: %v, want the mock's 1000", err)
	}
	return got
}

func TestServeCommandMatchingClient(t *testing.T) {
	path := writeServeFixture(t)
	s := startServe(t, path, "--listen", "127.0.0.1:0", "--once")
	if !strings.HasSuffix(s.url, "/ws?room=1") || strings.Contains(s.url, ":0/") {
		t.Errorf("start line names %s, want the real port and the recorded /ws?room=1", s.url)
	}
	got := chat(t, s.url, `{"type":"join","user":"ann"}`, `{"type":"say","text":"hi"}`)
	want := []string{`{"type":"welcome"}`, `{"type":"joined","user":"ann"}`, `{"type":"said","text":"hi"}`}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("the client received %q, want %q", got, want)
	}
	if code := s.wait(t); code != exitOK {
		t.Errorf("exit %d, want 0; stderr:\n%s", code, s.stderr.String())
	}
	out := s.stderr.String()
	for _, w := range []string{"client 1 (127.0.0.1:", "received 2, sent 3; played to the end; the client closed (1000)",
		"served 1 client: received 2 messages, sent 3 messages; every client message matched the recording"} {
		if !strings.Contains(out, w) {
			t.Errorf("stderr lacks %q:\n%s", w, out)
		}
	}
}

func TestServeCommandDifferingClient(t *testing.T) {
	path := writeServeFixture(t)
	s := startServe(t, path, "--listen", "127.0.0.1:0", "--once", "--pace", "recorded", "--speed", "100")
	got := chat(t, s.url, `{"type":"join","user":"bob"}`, `{"type":"say","text":"hi"}`)
	if len(got) != 3 || got[1] != `{"type":"joined","user":"ann"}` {
		t.Errorf("the client received %q: playback must go on after a mismatch", got)
	}
	if code := s.wait(t); code != exitDifferent {
		t.Errorf("exit %d, want 3; stderr:\n%s", code, s.stderr.String())
	}
	out := s.stderr.String()
	for _, w := range []string{`client 1: message 1 differs from the recording: user "ann" → "bob"` + "\n",
		"1 client message differed from the recording"} {
		if !strings.Contains(out, w) {
			t.Errorf("stderr lacks %q:\n%s", w, out)
		}
	}
	if strings.Contains(out, "wstap: differences found") {
		t.Errorf("exit 3 prints no error line:\n%s", out)
	}
}

func TestServeCommandLoopUntilInterrupted(t *testing.T) {
	path := writeServeFixture(t)
	s := startServe(t, path, "--listen", "127.0.0.1:0", "--loop", "--ignore", "user", "--extract", "u=user", "--set", `user="${u}"`)
	for _, name := range []string{"bob", "cy"} {
		got := chat(t, s.url, fmt.Sprintf(`{"type":"join","user":%q}`, name))
		if want := fmt.Sprintf(`{"type":"joined","user":%q}`, name); len(got) != 2 || got[1] != want {
			t.Errorf("client %s received %q, want %s", name, got, want)
		}
	}
	// A live client is closed with 1001 at the interrupt.
	c, _, err := websocket.DefaultDialer.Dial(s.url, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, _, err := c.ReadMessage(); err != nil {
		t.Fatal(err)
	}
	s.stop()
	if _, _, err := c.ReadMessage(); !websocket.IsCloseError(err, websocket.CloseGoingAway) {
		t.Errorf("at the interrupt the live client got %v, want 1001", err)
	}
	if code := s.wait(t); code != exitOK {
		t.Errorf("exit %d, want 0 (the --ignore'd user differed); stderr:\n%s", code, s.stderr.String())
	}
	out := s.stderr.String()
	if !strings.Contains(out, "served 3 clients: received 2 messages, sent 5 messages; every client message matched the recording") ||
		!strings.Contains(out, "client 3 (") || !strings.Contains(out, "the mock closed (1001") {
		t.Errorf("stderr:\n%s", out)
	}
}

func TestServeCommandErrors(t *testing.T) {
	path := writeServeFixture(t)
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--pace", "reactive"}, exitUsage, `--pace "reactive": want asap or recorded`},
		{[]string{"--speed", "0"}, exitUsage, "--speed 0"},
		{[]string{"--set", "user=ann"}, exitUsage, "not a JSON value"},
		{[]string{"--sub", "(=>x"}, exitUsage, "--sub"},
		{[]string{"--extract", "1x=id"}, exitUsage, "--extract"},
		{[]string{"--ignore", "a..b"}, exitUsage, "--ignore"},
		{[]string{"--set", `user="${who}"`}, exitUsage, "${who}"},
		{[]string{"--once", "--loop"}, exitUsage, "--once and --loop"},
		{[]string{"--listen", "0.0.0.0:0"}, exitUsage, "--allow-remote"},
		{[]string{"--listen", "nonsense"}, exitUsage, "--listen"},
		{[]string{"--bogus"}, exitUsage, "unknown flag"},
		{[]string{"--conn", "9"}, exitError, "no connection 9"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			var errOut strings.Builder
			args := append([]string{"serve", path, "--listen", "127.0.0.1:0"}, tc.args...)
			code := runServeCLI(t.Context(), args, io.Discard, &errOut)
			if code != tc.code || !strings.Contains(errOut.String(), tc.want) || strings.Count(errOut.String(), "\n") != 1 {
				t.Errorf("serve %q: exit %d, stderr %q; want %d and one line with %q", tc.args, code, errOut.String(), tc.code, tc.want)
			}
		})
	}
	var errOut strings.Builder
	if code := runServeCLI(t.Context(), []string{"serve"}, io.Discard, &errOut); code != exitUsage {
		t.Errorf("no file: exit %d, %s", code, errOut.String())
	}
	errOut.Reset()
	if code := runServeCLI(t.Context(), []string{"serve", path + ".missing"}, io.Discard, &errOut); code != exitError {
		t.Errorf("a missing file: exit %d, %s", code, errOut.String())
	}
}

func TestServeCommandPortInUse(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var errOut strings.Builder
	code := runServeCLI(t.Context(), []string{"serve", writeServeFixture(t), "--listen", ln.Addr().String()}, io.Discard, &errOut)
	want := "wstap: listen on " + ln.Addr().String() + ": bind: address already in use\n"
	if code != exitError || errOut.String() != want {
		t.Errorf("exit %d, stderr %q; want 1 and %q", code, errOut.String(), want)
	}
}

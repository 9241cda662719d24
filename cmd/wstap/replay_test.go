package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// shop is the application the end-to-end replay tests record and replay
// against: a welcome with a session id, then prices of what is asked for.
type shop struct {
	broken atomic.Bool // quotes the wrong total
	fresh  atomic.Bool // a new session id per connection, and stale ones refused

	mu       sync.Mutex
	sessions int
	got      []string
}

func (s *shop) received() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.got...)
}

func (s *shop) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	up := websocket.Upgrader{Subprotocols: []string{"shop.v1"}}
	c, err := up.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	defer c.Close()
	s.mu.Lock()
	s.sessions++
	sid := "sess-000000"
	if s.fresh.Load() {
		sid = fmt.Sprintf("sess-%06d", 100000+s.sessions)
	}
	s.mu.Unlock()
	send := func(v any) { b, _ := json.Marshal(v); c.WriteMessage(websocket.TextMessage, b) }
	send(map[string]any{"type": "welcome", "session": sid})
	for {
		_, p, err := c.ReadMessage()
		if err != nil {
			return
		}
		s.mu.Lock()
		s.got = append(s.got, string(p))
		s.mu.Unlock()
		var m struct {
			Session string
			Item    string
			Qty     int
		}
		json.Unmarshal(p, &m)
		if s.fresh.Load() && m.Session != sid {
			send(map[string]any{"type": "error", "error": "unknown session"})
			continue
		}
		total := 3 * m.Qty
		if s.broken.Load() {
			total++
		}
		send(map[string]any{"type": "quote", "item": m.Item, "total": total, "ts": time.Now().UnixNano()})
	}
}

// recordShop records a session with the shop through `wstap record` in
// reverse mode, and returns the capture and the shop's URL.
func recordShop(t *testing.T, s *shop) (path, url string) {
	t.Helper()
	t.Setenv("WSTAP_HOME", t.TempDir())
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	base := "ws" + strings.TrimPrefix(srv.URL, "http")
	url = base + "/shop?lang=en"
	path = filepath.Join(t.TempDir(), "shop.wstap")
	stdout, stderr := newSyncBuffer(), newSyncBuffer()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- runRecord(ctx, &globalOptions{stdout: stdout, stderr: stderr},
			&recordOptions{listen: "127.0.0.1:0", output: path, upstream: base}, nil)
	}()
	addr := waitListening(t, stdout)
	d := websocket.Dialer{Subprotocols: []string{"shop.v1"}}
	c, _, err := d.Dial("ws://"+addr+"/shop?lang=en", http.Header{"X-App": {"test"}})
	if err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, welcome, err := c.ReadMessage()
	if err != nil {
		t.Fatal(err)
	}
	var w struct{ Session string }
	json.Unmarshal(welcome, &w)
	for i, item := range []string{"apple", "pear"} {
		msg := fmt.Sprintf(`{"type":"ask","session":%q,"item":%q,"qty":%d}`, w.Session, item, i+1)
		if err := c.WriteMessage(websocket.TextMessage, []byte(msg)); err != nil {
			t.Fatal(err)
		}
		if _, _, err := c.ReadMessage(); err != nil {
			t.Fatal(err)
		}
	}
	c.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(1000, "bye"))
	c.ReadMessage()
	c.Close()
	time.Sleep(50 * time.Millisecond)
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("record: %v\n%s", err, stderr.String())
	}
	return path, url
}

func runCmd(args ...string) (code int, stdout, stderr string) {
	var out, errOut bytes.Buffer
	code = run(args, &out, &errOut)
	return code, out.String(), errOut.String()
}

// TestReplayEndToEnd records a real session through the proxy, then
// replays it as a regression check against a fixed and a broken build,
// with edits, and against a server that hands out fresh session ids.
func TestReplayEndToEnd(t *testing.T) {
	s := &shop{}
	path, url := recordShop(t, s)
	target := strings.TrimSuffix(url, "/shop?lang=en")

	code, out, errOut := runCmd("replay", path, "--target", target, "--check", "--ignore", "ts")
	if code != exitOK {
		t.Fatalf("replay --check against the same server: exit %d\n%s%s", code, out, errOut)
	}
	if !strings.Contains(out, "match the recording") || !strings.Contains(errOut, "sent 2 of 2 client messages, received 3 server messages (3 recorded)") {
		t.Errorf("stdout %q\nstderr %q", out, errOut)
	}

	// Without --ignore ts, the timestamps differ.
	if code, out, _ := runCmd("replay", path, "--target", target, "--check"); code != exitDifferent || !strings.Contains(out, "ts") {
		t.Errorf("--check without --ignore ts: exit %d\n%s", code, out)
	}

	s.broken.Store(true)
	code, out, _ = runCmd("replay", path, "--target", target, "--check", "--ignore", "ts")
	if code != exitDifferent || !strings.Contains(out, "total") {
		t.Errorf("replay --check against a broken server: exit %d, want 3 with a diff naming total\n%s", code, out)
	}
	s.broken.Store(false)

	// Edits, checked at the server.
	before := len(s.received())
	code, out, errOut = runCmd("replay", path, "--target", target, "--set", `qty=7`, "--sub", `pear=>plum`, "--only", "2")
	if code != exitOK {
		t.Fatalf("replay with edits: exit %d\n%s%s", code, out, errOut)
	}
	if got := s.received()[before:]; len(got) != 1 || !strings.Contains(got[0], `"item":"plum","qty":7`) {
		t.Errorf("the server received %q", got)
	}

	// A server that refuses stale session ids.
	s.fresh.Store(true)
	if code, out, _ := runCmd("replay", path, "--target", target, "--check", "--ignore", "ts", "--ignore", "session"); code != exitDifferent ||
		!strings.Contains(out, "unknown session") {
		t.Errorf("without --extract: exit %d, want 3\n%s", code, out)
	}
	code, out, errOut = runCmd("replay", path, "--target", target, "--check", "--ignore", "ts", "--ignore", "session", "--extract", "sid=session")
	if code != exitOK {
		t.Errorf("with --extract sid=session: exit %d, want 0\n%s%s", code, out, errOut)
	}
	if !strings.Contains(errOut, "extracted sid = \"sess-1") || !strings.Contains(errOut, "replaced recorded extracted values in 2 client messages") {
		t.Errorf("the summary does not tell the extraction: %s", errOut)
	}
	s.fresh.Store(false)

	// -o records the new run; ls reads it.
	newPath := filepath.Join(t.TempDir(), "new.wstap")
	if code, _, errOut := runCmd("replay", path, "--target", target, "-o", newPath); code != exitOK {
		t.Fatalf("replay -o: exit %d: %s", code, errOut)
	}
	if code, out, _ := runCmd("ls", newPath); code != exitOK || !strings.Contains(out, "shop.v1") {
		t.Errorf("ls of the replayed run: exit %d\n%s", code, out)
	}
}

func TestReplayUsage(t *testing.T) {
	s := &shop{}
	path, url := recordShop(t, s)
	for _, args := range [][]string{
		{"--pace", "fast"},
		{"--set", "qty"},
		{"--set", "item=plum"},
		{"--sub", "(=>x"},
		{"--extract", "1=x"},
		{"--set", `session="${sid}"`},
		{"--drop", "0"},
		{"--only", "3-1"},
		{"--header", "nocolon"},
		{"--ignore", "ts"},
		{"--speed", "0"},
		{"--conn", "all", "--target", "ftp://x"},
	} {
		code, _, errOut := runCmd(append([]string{"replay", path}, args...)...)
		if code != exitUsage || strings.Count(strings.TrimSpace(errOut), "\n") != 0 {
			t.Errorf("replay %q: exit %d, stderr %q; want 2 and one line", args, code, errOut)
		}
	}
	if code, _, errOut := runCmd("replay", path, "--conn", "9"); code != exitError || !strings.Contains(errOut, "has connection 1") {
		t.Errorf("--conn 9: exit %d, %q", code, errOut)
	}
	code, _, errOut := runCmd("replay", path, "--target", "ws://127.0.0.1:1", "--timeout", "2s")
	if code != exitError || strings.Count(errOut, "connection refused") != 1 || !strings.HasSuffix(errOut, "wstap: the replay failed\n") {
		t.Errorf("an unreachable server: exit %d, stderr %q; want 1, the reason once", code, errOut)
	}
	if code, _, errOut := runCmd("replay", path+".missing"); code != exitError {
		t.Errorf("a missing file: exit %d, %q", code, errOut)
	}
	code, out, _ := runCmd("replay", path, "--dry-run", "--drop", "1", "--set", "qty=9")
	if code != exitOK || !strings.Contains(out, "connection 1 → "+url) || !strings.Contains(out, "X-App: test") ||
		!strings.Contains(out, "-    1") || !strings.Contains(out, `~    2`) || !strings.Contains(out, `"qty":9`) {
		t.Errorf("--dry-run: exit %d\n%s", code, out)
	}
}

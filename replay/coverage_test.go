package replay

import (
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/wstap/wstap/capture"
	"github.com/wstap/wstap/internal/sessiondiff"
)

func TestConnResultCheck(t *testing.T) {
	a := newApp(t, func(a *app) { a.broken = true })
	conns := fxLoad(t, fxWrite(t, appSession(a.url("/ws"))))
	res := mustRun(t, conns, Options{})
	ts, _ := sessiondiff.ParsePath("ts")
	ops := res.Conns[0].Check(sessiondiff.Options{Ignore: []sessiondiff.Path{ts}})
	var kinds []string
	for _, op := range ops {
		kinds = append(kinds, op.Kind.String())
	}
	if len(ops) != 3 || ops[0].Kind != sessiondiff.Same || ops[1].Kind != sessiondiff.Same || ops[2].Kind != sessiondiff.Changed {
		t.Fatalf("ops %q; want same, same, changed", kinds)
	}
	if ch := ops[2].Changes; len(ch) != 1 || ch[0].Path != "value" || ch[0].A != "5" || ch[0].B != "6" {
		t.Errorf("changes %+v; want value 5 → 6", ch)
	}
	if ops := res.Conns[0].Check(sessiondiff.Options{}); ops[2].Kind != sessiondiff.Changed || len(ops[2].Changes) != 2 {
		t.Errorf("without --ignore ts: %+v", ops[2])
	}
}

func TestPreview(t *testing.T) {
	conns := fxLoad(t, fxWrite(t, appSession("ws://recorded.example/ws?a=1")))
	set, _ := ParseSet(`text="edited"`)
	p, err := Preview(conns[0], Options{Target: "ws://127.0.0.1:9", Edits: &Edits{Sets: []Set{set}, Drop: []Range{{2, 2}}},
		Headers: []Header{{"X-Extra", "1"}}})
	if err != nil {
		t.Fatal(err)
	}
	if p.URL != "ws://127.0.0.1:9/ws?a=1" {
		t.Errorf("URL %q", p.URL)
	}
	var names []string
	for _, h := range p.Headers {
		names = append(names, h.Name)
	}
	if !slices.Equal(names, []string{"Sec-WebSocket-Protocol", "Origin", "X-Trace", "Cookie", "X-Extra"}) {
		t.Errorf("headers %q: want the end-to-end ones in recorded order, then the overrides", names)
	}
	if len(p.Steps) != 2 || !p.Steps[0].Send || !p.Steps[0].Changed || !strings.Contains(string(p.Steps[0].Data), "edited") ||
		p.Steps[1].Send {
		t.Errorf("steps %+v", p.Steps)
	}
	p, err = Preview(conns[0], Options{Replace: map[capture.ConnID]map[int][]byte{1: {2: []byte("new")}}})
	if err != nil || string(p.Steps[1].Data) != "new" || !p.Steps[1].Changed {
		t.Errorf("Replace: %+v, %v", p, err)
	}
}

func TestProgressAndPings(t *testing.T) {
	// A server that pings before it answers: the replay answers the ping
	// and records both.
	up := websocket.Upgrader{}
	srv := newWSServer(t, func(c *websocket.Conn) {
		c.SetPongHandler(func(string) error { return nil })
		c.WriteControl(websocket.PingMessage, []byte("are you there"), time.Now().Add(time.Second))
		for {
			op, p, err := c.ReadMessage()
			if err != nil {
				return
			}
			c.WriteMessage(op, p)
		}
	}, &up)
	rec := fxConn{url: srv, msgs: []fxMsg{cs(1, "one"), sc(2, "one"), cs(3, "two"), sc(4, "two")}}
	conns := fxLoad(t, fxWrite(t, rec))
	var mu sync.Mutex
	var states []string
	w, out := newCapture(t)
	res := mustRun(t, conns, Options{Capture: w, Progress: func(p Progress) {
		mu.Lock()
		defer mu.Unlock()
		if len(states) == 0 || states[len(states)-1] != p.State {
			states = append(states, p.State)
		}
	}})
	w.Close()
	if err := res.Err(); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"connected", "sending", "closing", "done"} {
		if !slices.Contains(states, want) {
			t.Errorf("progress states %q lack %q", states, want)
		}
	}
	r, err := capture.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var pings, pongs int
	for rec, err := range r.Messages(capture.Filter{}, capture.AssembleOptions{}) {
		if m, ok := rec.(*capture.Message); ok && err == nil {
			switch {
			case m.Opcode == capture.OpPing && m.Dir == capture.ServerToClient:
				pings++
			case m.Opcode == capture.OpPong && m.Dir == capture.ClientToServer:
				pongs++
			}
		}
	}
	if pings != 1 || pongs != 1 {
		t.Errorf("the new capture has %d server pings and %d client pongs, want 1 each", pings, pongs)
	}
}

func TestReplayHeaderValueNeverExtracted(t *testing.T) {
	a := newApp(t, nil)
	c1, c2 := appSession(a.url("/one")), appSession(a.url("/two"))
	c2.at = 10
	conns := fxLoad(t, fxWrite(t, c1, c2))
	ex, _ := ParseExtract("tok=no.such")
	res := mustRun(t, conns, Options{Extract: []Extract{ex}, Headers: []Header{{"X-Trace", "${tok}"}}, Timeout: 300 * time.Millisecond})
	first, second := res.Conns[0], res.Conns[1]
	if first.Err != nil || len(first.Skipped) != 1 || !strings.Contains(first.Skipped[0], "sent as recorded") {
		t.Errorf("the first connection: %v, skipped %q; want it sent with the recorded X-Trace", first.Err, first.Skipped)
	}
	if second.Err == nil || !strings.Contains(second.Err.Error(), "${tok}") {
		t.Errorf("the second connection: %v; want an error naming ${tok}", second.Err)
	}
	_, hs, _ := a.handshakes()
	if len(hs) != 1 || hs[0].Get("X-Trace") != "abc" {
		t.Errorf("handshakes %v", hs)
	}
}

func TestLoadErrors(t *testing.T) {
	path := fxWrite(t, appSession("ws://x/"))
	r, err := capture.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if _, err := Load(r, 7); err == nil || !strings.Contains(err.Error(), "no connection 7") {
		t.Errorf("Load(7): %v", err)
	}

	// A refused connection, and a truncated message.
	p2 := t.TempDir() + "/r.wstap"
	w, err := capture.Create(p2, capture.Options{})
	if err != nil {
		t.Fatal(err)
	}
	w.Open(&capture.ConnOpen{Time: fxT0, URL: "ws://x/", Status: 403})
	id, _ := w.Open(&capture.ConnOpen{Time: fxT0, URL: "ws://x/", Status: 101, RequestHeaders: http.Header{"X-A": {"1"}}})
	w.Append(&capture.Chunk{Conn: id, Time: fxT0, Dir: capture.ClientToServer, Opcode: capture.OpText, First: true, Last: true, Truncated: true, Data: []byte("cut")})
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	r2, err := capture.Open(p2)
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Close()
	if _, err := Load(r2, 1); err == nil || !strings.Contains(err.Error(), "never established") {
		t.Errorf("a refused connection: %v", err)
	}
	if _, err := Load(r2, 2); err == nil || !strings.Contains(err.Error(), "incomplete") {
		t.Errorf("a truncated message: %v", err)
	}
}

// TestHeadersWithoutList: captures written before the header list existed
// carry only the canonical map; a replay sends its end-to-end headers.
func TestHeadersWithoutList(t *testing.T) {
	open := &capture.ConnOpen{RequestHeaders: http.Header{"Upgrade": {"websocket"}, "Connection": {"Upgrade, X-Hop"},
		"X-Hop": {"1"}, "Cookie": {"a=1"}, "Sec-Websocket-Key": {"k"}}}
	hs, err := handshakeHeaders(open, nil, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(hs) != 1 || hs[0] != (Header{"Cookie", "a=1"}) {
		t.Errorf("headers %+v; want only Cookie (X-Hop is named by Connection)", hs)
	}
}

func TestRequestURI(t *testing.T) {
	for url, want := range map[string]string{"ws://h": "/", "ws://h?x=1": "/?x=1", "ws://h/a%2Fb?q#frag": "/a%2Fb?q", "nonsense": "/"} {
		s := &Script{Open: &capture.ConnOpen{URL: url}}
		if got := s.RequestURI(); got != want {
			t.Errorf("RequestURI(%s) = %q, want %q", url, got, want)
		}
	}
	if got := (&Script{}).RequestURI(); got != "/" {
		t.Errorf("no open: %q", got)
	}
}

// newWSServer serves each WebSocket connection with handle and returns
// its ws:// URL.
func newWSServer(t *testing.T, handle func(*websocket.Conn), up *websocket.Upgrader) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		handle(c)
	}))
	t.Cleanup(srv.Close)
	return "ws" + strings.TrimPrefix(srv.URL, "http") + "/"
}

// newCapture creates a capture for a replay's run.
func newCapture(t *testing.T) (*capture.Writer, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "run.wstap")
	w, err := capture.Create(path, capture.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	return w, path
}

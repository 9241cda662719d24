package replay

import (
	"encoding/json"
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
)

// fxT0 is when fixture sessions begin.
var fxT0 = time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)

// fxMsg is one message of a fixture session, at ms after its open.
type fxMsg struct {
	ms   int
	dir  capture.Direction
	data string
	op   capture.Opcode // default text
	drop bool           // the proxy did not forward it
}

func cs(ms int, data string) fxMsg { return fxMsg{ms: ms, dir: capture.ClientToServer, data: data} }
func sc(ms int, data string) fxMsg { return fxMsg{ms: ms, dir: capture.ServerToClient, data: data} }

// fxConn is one connection of a fixture capture.
type fxConn struct {
	at       int // ms after fxT0
	url      string
	headers  []capture.HeaderField
	redacted []string
	proto    string
	msgs     []fxMsg
	close    *capture.Close // Time is set from ms below
	closeMS  int
}

// fxWrite writes a capture of conns and returns its path.
func fxWrite(t *testing.T, conns ...fxConn) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "rec.wstap")
	w, err := capture.Create(path, capture.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range conns {
		t0 := fxT0.Add(time.Duration(c.at) * time.Millisecond)
		at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
		h := http.Header{}
		for _, f := range c.headers {
			h.Add(f.Name, f.Value)
		}
		id, err := w.Open(&capture.ConnOpen{Time: t0, URL: c.url, Mode: "reverse", Status: 101, Subprotocol: c.proto,
			RequestHeaders: h, RequestHeaderList: c.headers, Redacted: c.redacted})
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range c.msgs {
			op := m.op
			if op == 0 {
				op = capture.OpText
			}
			if err := w.Append(&capture.Chunk{Conn: id, Time: at(m.ms), Dir: m.dir, Opcode: op, First: true, Last: true,
				Dropped: m.drop, Data: []byte(m.data)}); err != nil {
				t.Fatal(err)
			}
		}
		if c.close != nil {
			cl := *c.close
			cl.Conn, cl.Time = id, at(c.closeMS)
			if err := w.Append(&cl); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Append(&capture.End{Conn: id, Time: at(c.closeMS + 1)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// fxLoad opens path and loads its connections as replay input.
func fxLoad(t *testing.T, path string) []Conn {
	t.Helper()
	r, err := capture.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var out []Conn
	for _, c := range r.Conns() {
		s, err := Load(r, c.Conn)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, Conn{ID: c.Conn, Script: s})
	}
	return out
}

// app is a small JSON application server the tests replay against. It
// greets with a session id, echoes, adds, and can be told to be strict
// about the session id, or to be "broken" (it adds wrong).
type app struct {
	srv    *httptest.Server
	strict bool          // reject messages that carry another session's id
	broken bool          // sum is off by one
	fresh  bool          // hand out a new session id to each connection
	silent bool          // never answer
	slow   time.Duration // wait this long before the welcome

	welcomed time.Time // when the last welcome was sent
	firstAt  time.Time // when the last connection's first client message arrived

	mu       sync.Mutex
	sessions int
	got      []string      // every client message, in order of arrival
	headers  []http.Header // each handshake's headers
	uris     []string      // each handshake's request URI, as sent
	spans    [][2]time.Time
}

func newApp(t *testing.T, configure func(*app)) *app {
	t.Helper()
	a := &app{}
	if configure != nil {
		configure(a)
	}
	a.srv = httptest.NewServer(a)
	t.Cleanup(a.srv.Close)
	return a
}

func (a *app) url(path string) string { return "ws" + strings.TrimPrefix(a.srv.URL, "http") + path }

// handshakes returns each handshake's URI, headers and span so far.
func (a *app) handshakes() ([]string, []http.Header, [][2]time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.uris), slices.Clone(a.headers), slices.Clone(a.spans)
}

func (a *app) received() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]string(nil), a.got...)
}

func (a *app) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	up := websocket.Upgrader{Subprotocols: []string{"app.v1"}, CheckOrigin: func(*http.Request) bool { return true }}
	start := time.Now()
	conn, err := up.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	defer conn.Close()
	a.mu.Lock()
	a.sessions++
	sid := "s-000001"
	if a.fresh {
		sid = "s-" + strings.Repeat("9", 5) + string(rune('a'+a.sessions))
	}
	a.headers = append(a.headers, r.Header.Clone())
	a.uris = append(a.uris, r.RequestURI)
	slot := len(a.spans)
	a.spans = append(a.spans, [2]time.Time{start})
	a.mu.Unlock()
	defer func() {
		a.mu.Lock()
		a.spans[slot][1] = time.Now()
		a.mu.Unlock()
	}()
	var wmu sync.Mutex // the welcome is written from its own goroutine
	write := func(op int, b []byte) {
		wmu.Lock()
		defer wmu.Unlock()
		conn.WriteMessage(op, b)
	}
	send := func(v any) {
		b, _ := json.Marshal(v)
		write(websocket.TextMessage, b)
	}
	first := true
	go func() {
		time.Sleep(a.slow)
		a.mu.Lock()
		a.welcomed = time.Now() // before it is sent: a reply to it comes later
		a.mu.Unlock()
		if !a.silent {
			send(map[string]any{"type": "welcome", "session": sid})
		}
	}()
	for {
		op, data, err := conn.ReadMessage()
		if err != nil {
			return
		}
		a.mu.Lock()
		a.got = append(a.got, string(data))
		if first {
			a.firstAt, first = time.Now(), false
		}
		a.mu.Unlock()
		if a.silent {
			continue
		}
		if op == websocket.BinaryMessage {
			write(websocket.BinaryMessage, append([]byte{0xff}, data...))
			continue
		}
		var m struct {
			Type    string
			Session string
			Text    string
			A, B    int
		}
		if json.Unmarshal(data, &m) != nil {
			send(map[string]any{"type": "error", "error": "not json"})
			continue
		}
		if a.strict && m.Session != sid {
			send(map[string]any{"type": "error", "error": "stale session"})
			continue
		}
		switch m.Type {
		case "echo":
			send(map[string]any{"type": "echo", "text": m.Text})
		case "add":
			sum := m.A + m.B
			if a.broken {
				sum++
			}
			send(map[string]any{"type": "sum", "value": sum, "ts": time.Now().UnixNano()})
		case "bye":
			write(websocket.CloseMessage, websocket.FormatCloseMessage(4000, "bye"))
		}
	}
}

// appSession is a recording of a session with app: welcome, echo, add.
func appSession(url string) fxConn {
	return fxConn{url: url, proto: "app.v1",
		headers: []capture.HeaderField{{Name: "Host", Value: "recorded.example:80"}, {Name: "Upgrade", Value: "websocket"},
			{Name: "Connection", Value: "Upgrade"}, {Name: "Sec-WebSocket-Key", Value: "dGhlIHNhbXBsZSBub25jZQ=="},
			{Name: "Sec-WebSocket-Version", Value: "13"}, {Name: "Sec-WebSocket-Protocol", Value: "app.v2, app.v1"},
			{Name: "Origin", Value: "http://app.example"}, {Name: "X-Trace", Value: "abc"}, {Name: "Cookie", Value: "c=1"}},
		msgs: []fxMsg{
			sc(1, `{"type":"welcome","session":"s-000001"}`),
			cs(10, `{"type":"echo","session":"s-000001","text":"hello"}`),
			sc(11, `{"type":"echo","text":"hello"}`),
			{ms: 15, dir: capture.ProxyToServer, op: capture.OpPing, data: "wstap-heartbeat"},
			cs(20, `{"type":"add","session":"s-000001","a":2,"b":3}`),
			sc(21, `{"type":"sum","value":5,"ts":1}`),
		},
		close: &capture.Close{Dir: capture.ClientToServer, Code: 1000, Reason: "done"}, closeMS: 30}
}

package proxy

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/wstap/wstap/capture"
)

// echoServer is a real gorilla WebSocket server that echoes every message,
// answers pings with pongs of its own, and remembers the last upgrade
// request's headers.
type echoServer struct {
	*httptest.Server
	mu      sync.Mutex
	headers http.Header
}

func newEchoServer(t *testing.T, useTLS bool) *echoServer {
	t.Helper()
	es := &echoServer{}
	up := websocket.Upgrader{
		Subprotocols: []string{"superchat", "chat"},
		CheckOrigin:  func(*http.Request) bool { return true },
	}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/forbidden" {
			http.Error(w, "no entry for you", http.StatusForbidden)
			return
		}
		es.mu.Lock()
		es.headers = r.Header.Clone()
		es.mu.Unlock()
		c, err := up.Upgrade(w, r, http.Header{"Set-Cookie": {"session=abc"}})
		if err != nil {
			return
		}
		defer c.Close()
		for {
			mt, p, err := c.ReadMessage()
			if err != nil {
				return
			}
			if mt == websocket.TextMessage && string(p) == "close-me" {
				c.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(4001, "bye"))
				continue
			}
			if err := c.WriteMessage(mt, p); err != nil {
				return
			}
		}
	})
	if useTLS {
		es.Server = httptest.NewTLSServer(h)
	} else {
		es.Server = httptest.NewServer(h)
	}
	t.Cleanup(es.Close)
	return es
}

// recordingProxy starts a proxy writing to a fresh capture and returns it
// with its server and a function that closes everything and opens the
// capture for reading.
func recordingProxy(t *testing.T, opts Options) (*Proxy, *httptest.Server, func() *capture.Reader) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "test.wstap")
	w, err := capture.Create(path, capture.Options{})
	if err != nil {
		t.Fatal(err)
	}
	opts.Sink = w
	p, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(p)
	var once sync.Once
	var r *capture.Reader
	finish := func() *capture.Reader {
		once.Do(func() {
			srv.Close()
			// Let connections whose peers already left finish on their own,
			// so Shutdown's 1001 closes only reach the ones still live.
			tick := time.NewTicker(2 * time.Millisecond)
			for deadline := time.Now().Add(5 * time.Second); p.Counters().Open.Load() > 0 && time.Now().Before(deadline); {
				<-tick.C
			}
			tick.Stop()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := p.Shutdown(ctx); err != nil {
				t.Errorf("Shutdown: %v", err)
			}
			if err := w.Close(); err != nil {
				t.Fatalf("capture Close: %v", err)
			}
			r, err = capture.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { r.Close() })
		})
		return r
	}
	t.Cleanup(func() { finish() })
	return p, srv, finish
}

// messages reads the assembled records of a capture.
func messages(t *testing.T, r *capture.Reader, conn capture.ConnID) []capture.Record {
	t.Helper()
	var out []capture.Record
	for rec, err := range r.Messages(capture.Filter{Conn: conn}, capture.AssembleOptions{}) {
		if err != nil {
			t.Fatalf("read capture: %v", err)
		}
		out = append(out, rec)
	}
	return out
}

func wsURL(u string) string { return "ws" + strings.TrimPrefix(u, "http") }

func TestReverseModeEcho(t *testing.T) {
	es := newEchoServer(t, false)
	_, srv, finish := recordingProxy(t, Options{Upstream: wsURL(es.URL) + "/base"})

	hdr := http.Header{"Origin": {"http://app.example.test"}, "Cookie": {"c=1"}, "Authorization": {"Bearer t0k"},
		"X-Custom": {"yes"}, "Sec-WebSocket-Protocol": {"chat, superchat"}}
	c, resp, err := websocket.DefaultDialer.Dial(wsURL(srv.URL)+"/room?id=7", hdr)
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Subprotocol(); got != "superchat" {
		t.Errorf("Subprotocol() = %q, want the server's choice %q", got, "superchat")
	}
	if got := resp.Header.Get("Set-Cookie"); got != "session=abc" {
		t.Errorf("Set-Cookie = %q, want session=abc", got)
	}
	sent := []struct {
		mt   int
		data []byte
	}{
		{websocket.TextMessage, []byte(`{"hello":"wörld ✓"}`)},
		{websocket.BinaryMessage, []byte{0, 1, 2, 0xff}},
		{websocket.TextMessage, bytes.Repeat([]byte("x"), 300<<10)},
		{websocket.TextMessage, []byte{}},
	}
	for _, m := range sent {
		if err := c.WriteMessage(m.mt, m.data); err != nil {
			t.Fatal(err)
		}
		mt, p, err := c.ReadMessage()
		if err != nil {
			t.Fatal(err)
		}
		if mt != m.mt || !bytes.Equal(p, m.data) {
			t.Errorf("echo = (%d, %d bytes), want (%d, %d bytes)", mt, len(p), m.mt, len(m.data))
		}
	}
	c.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(4000, "done"))
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, _, err = c.ReadMessage()
	if ce, ok := err.(*websocket.CloseError); !ok || ce.Code != 4000 {
		t.Errorf("close echo = %v, want close 4000", err)
	}
	c.Close()

	es.mu.Lock()
	got := es.headers
	es.mu.Unlock()
	for _, k := range []string{"Origin", "Cookie", "Authorization", "X-Custom"} {
		if got.Get(k) != hdr.Get(k) {
			t.Errorf("server saw %s = %q, want %q", k, got.Get(k), hdr.Get(k))
		}
	}

	r := finish()
	conns := r.Conns()
	if len(conns) != 1 {
		t.Fatalf("capture has %d connections, want 1", len(conns))
	}
	cs := conns[0]
	if want := wsURL(es.URL) + "/base/room?id=7"; cs.URL != want || cs.Status != 101 || cs.Subprotocol != "superchat" || cs.Mode != "reverse" {
		t.Errorf("summary = %+v, want URL %s, 101, superchat, reverse", cs, want)
	}
	var msgs []*capture.Message
	var closes []*capture.Close
	for _, rec := range messages(t, r, cs.Conn) {
		switch rec := rec.(type) {
		case *capture.Message:
			msgs = append(msgs, rec)
		case *capture.Close:
			closes = append(closes, rec)
		}
	}
	if len(msgs) != 2*len(sent) {
		t.Fatalf("capture has %d messages, want %d", len(msgs), 2*len(sent))
	}
	for i, m := range sent {
		for j, dir := range []capture.Direction{capture.ClientToServer, capture.ServerToClient} {
			g := msgs[2*i+j]
			if g.Dir != dir || int(g.Opcode) != m.mt || !bytes.Equal(g.Data, m.data) || g.Incomplete {
				t.Errorf("message %d = %v %v %d bytes (incomplete %v), want %v %d %d bytes", 2*i+j, g.Dir, g.Opcode, len(g.Data), g.Incomplete, dir, m.mt, len(m.data))
			}
		}
	}
	if len(closes) != 2 || closes[0].Code != 4000 || closes[0].Reason != "done" || closes[0].Dir != capture.ClientToServer {
		t.Errorf("closes = %+v, want client 4000 done then the server's echo", closes)
	}
}

func TestConnectPlainWS(t *testing.T) {
	es := newEchoServer(t, false)
	_, srv, finish := recordingProxy(t, Options{})
	pu, _ := url.Parse(srv.URL)
	d := websocket.Dialer{Proxy: http.ProxyURL(pu)}
	c, _, err := d.Dial(wsURL(es.URL)+"/x", nil)
	if err != nil {
		t.Fatal(err)
	}
	c.WriteMessage(websocket.TextMessage, []byte("via connect"))
	if _, p, err := c.ReadMessage(); err != nil || string(p) != "via connect" {
		t.Fatalf("echo = %q, %v", p, err)
	}
	c.Close()
	r := finish()
	cs := r.Conns()
	if len(cs) != 1 || cs[0].Mode != "connect" || cs[0].Messages != [3]int64{1, 1, 0} {
		t.Fatalf("conns = %+v", cs)
	}
}

func TestRefusalReachesClient(t *testing.T) {
	es := newEchoServer(t, false)
	_, srv, finish := recordingProxy(t, Options{Upstream: wsURL(es.URL)})
	_, resp, err := websocket.DefaultDialer.Dial(wsURL(srv.URL)+"/forbidden", nil)
	if err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("dial = %v, %v; want a 403", resp, err)
	}
	r := finish()
	cs := r.Conns()
	if len(cs) != 1 || cs[0].Status != 403 || cs[0].Events != 1 {
		t.Fatalf("conns = %+v", cs)
	}
	for rec := range r.Records(capture.Filter{}) {
		if ev, ok := rec.(*capture.Event); ok && (ev.Kind != capture.EventRefused || !strings.Contains(ev.Detail, "no entry for you")) {
			t.Errorf("event = %+v", ev)
		}
	}
}

func TestUnreachableUpstreamIs502(t *testing.T) {
	dead := httptest.NewServer(http.NotFoundHandler())
	addr := dead.Listener.Addr().String()
	dead.Close()
	_, srv, finish := recordingProxy(t, Options{Upstream: "ws://" + addr})
	_, resp, err := websocket.DefaultDialer.Dial(wsURL(srv.URL), nil)
	if err == nil || resp == nil || resp.StatusCode != http.StatusBadGateway {
		t.Fatalf("dial = %v, %v; want a 502", resp, err)
	}
	r := finish()
	if cs := r.Conns(); len(cs) != 1 || cs[0].Events != 1 {
		t.Fatalf("conns = %+v", cs)
	}
}

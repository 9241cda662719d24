package proxy

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gorilla/websocket"
	"github.com/wstap/wstap/capture"
)

var goingAway = closeBody(1001, "wstap is shutting down")

// shutdownAsync calls Shutdown in the background and returns its result
// channel.
func shutdownAsync(p *Proxy, ctx context.Context) <-chan error {
	done := make(chan error, 1)
	go func() { done <- p.Shutdown(ctx) }()
	return done
}

func waitShutdown(t *testing.T, done <-chan error) error {
	t.Helper()
	select {
	case err := <-done:
		return err
	case <-time.After(3 * ioWait):
		t.Fatal("Shutdown did not return")
		return nil
	}
}

// TestShutdownClosesBothPeers checks that Shutdown sends close 1001 to
// both peers of every live connection (masked towards the server), does
// not forward their replies, returns once they hang up, and records its
// own closes as the proxy's.
func TestShutdownClosesBothPeers(t *testing.T) {
	up := newRawServer(t, rawServerOptions{})
	m := newMatrix(t, Options{Upstream: up.URL})
	type pair struct{ c, s *rawPeer }
	var pairs []pair
	for _, path := range []string{"/live/1", "/live/2"} {
		c := dialRaw(t, m.URL, path, nil, nil)
		s := up.accept(t)
		s.expect(c.send(true, 0, ws.OpText, []byte("hello")))
		pairs = append(pairs, pair{c, s})
	}
	// The first connection is in the middle of a fragmented message: the
	// proxy's close goes between two fragments, as a control frame may.
	s0 := pairs[0].s
	s0.expect(pairs[0].c.send(false, 0, ws.OpText, []byte("half a ")))

	done := shutdownAsync(m.p, t.Context())
	for _, pr := range pairs {
		f := pr.c.read()
		if f.h.OpCode != ws.OpClose || f.h.Masked || string(f.payload) != string(goingAway) {
			t.Errorf("client received %s %q, want an unmasked close 1001", describeFrame(f.raw), f.payload)
		}
		f = pr.s.read()
		if f.h.OpCode != ws.OpClose || !f.h.Masked || string(f.payload) != string(goingAway) {
			t.Errorf("server received %s %q, want a masked close 1001", describeFrame(f.raw), f.payload)
		}
	}
	for _, pr := range pairs {
		pr.c.send(true, 0, ws.OpClose, closeBody(1001, ""))
		pr.s.send(true, 0, ws.OpClose, closeBody(1001, ""))
		pr.s.conn.(*net.TCPConn).CloseWrite()
		pr.c.expectEOF() // the server's reply is not forwarded
		pr.c.conn.Close()
		pr.s.expectEOF() // nor is the client's
		pr.s.conn.Close()
	}
	if err := waitShutdown(t, done); err != nil {
		t.Errorf("Shutdown = %v, want nil", err)
	}
	m.waitEnds(t, 2)

	// Shutting down, the proxy takes no new connection.
	_, resp := dialRawResponse(t, m.URL, "/too-late", nil, nil)
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("an upgrade after Shutdown got %s, want 503", resp.Status)
	}

	r := m.finish(t)
	for _, path := range []string{"/live/1", "/live/2"} {
		got := readConn(t, r, connByPath(t, r, path), 0)
		want := []capture.Close{
			{Dir: capture.ProxyToClient, Code: 1001, Reason: "wstap is shutting down"},
			{Dir: capture.ProxyToServer, Code: 1001, Reason: "wstap is shutting down"},
		}
		var proxy, peers []capture.Close
		for _, c := range closeFacts(got.closes) {
			if c.Dir > capture.ServerToClient {
				proxy = append(proxy, c)
			} else {
				peers = append(peers, c)
			}
		}
		if !reflect.DeepEqual(proxy, want) {
			t.Errorf("%s: proxy closes %+v, want %+v", path, proxy, want)
		}
		if len(peers) != 2 {
			t.Errorf("%s: peer closes %+v, want both replies recorded", path, peers)
		}
		if got.end == nil {
			t.Errorf("%s: no end record", path)
		}
	}
	if len(r.Conns()) != 2 {
		t.Errorf("capture has %d connections, want 2", len(r.Conns()))
	}
}

// TestShutdownGorillaPeers shuts down under real gorilla peers: both see
// close 1001 and hang up, and Shutdown returns.
func TestShutdownGorillaPeers(t *testing.T) {
	codes := make(chan int, 4)
	upgrader := websocket.Upgrader{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := upgrader.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		for {
			mt, p, err := c.ReadMessage()
			var ce *websocket.CloseError
			if errors.As(err, &ce) {
				codes <- ce.Code
				return
			}
			if err != nil {
				codes <- -1
				return
			}
			c.WriteMessage(mt, p)
		}
	}))
	t.Cleanup(srv.Close)
	m := newMatrix(t, Options{Upstream: wsURL(srv.URL)})
	var clients []*websocket.Conn
	for range 2 {
		c, _, err := websocket.DefaultDialer.DialContext(t.Context(), wsURL(m.URL)+"/g", nil)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.WriteMessage(websocket.TextMessage, []byte("hi"))
		c.SetReadDeadline(deadline())
		if _, _, err := c.ReadMessage(); err != nil {
			t.Fatal(err)
		}
		clients = append(clients, c)
	}
	done := shutdownAsync(m.p, t.Context())
	for _, c := range clients {
		c.SetReadDeadline(deadline())
		_, _, err := c.ReadMessage()
		if !websocket.IsCloseError(err, websocket.CloseGoingAway) {
			t.Errorf("client read %v, want close 1001", err)
		}
		c.Close()
	}
	for range clients {
		select {
		case code := <-codes:
			if code != websocket.CloseGoingAway {
				t.Errorf("server saw close %d, want 1001", code)
			}
		case <-time.After(ioWait):
			t.Fatal("the server saw no close")
		}
	}
	if err := waitShutdown(t, done); err != nil {
		t.Errorf("Shutdown = %v", err)
	}
}

// TestShutdownAfterCloseHandshake checks that a peer that has already been
// sent a close is not sent another (RFC 6455 §5.5.1).
func TestShutdownAfterCloseHandshake(t *testing.T) {
	up := newRawServer(t, rawServerOptions{})
	m := newMatrix(t, Options{Upstream: up.URL})
	c := dialRaw(t, m.URL, "/closed", nil, nil)
	s := up.accept(t)
	s.expect(c.send(true, 0, ws.OpClose, closeBody(1000, "")))
	c.expect(s.send(true, 0, ws.OpClose, closeBody(1000, "")))
	// Both peers keep TCP open: Shutdown must wait for them, and cut them
	// when its context ends, without sending anything.
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	if err := waitShutdown(t, shutdownAsync(m.p, ctx)); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Shutdown = %v, want the context's deadline", err)
	}
	c.expectEOF()
	s.expectEOF()
	m.waitEnds(t, 1)
	r := m.finish(t)
	got := readConn(t, r, connByPath(t, r, "/closed"), 0)
	for _, cl := range got.closes {
		if cl.Dir > capture.ServerToClient {
			t.Errorf("the proxy recorded a close of its own: %+v", *cl)
		}
	}
}

// TestShutdownMidFrame checks that Shutdown honours its context while a
// peer stalls in the middle of a frame: the close to the other peer cannot
// go until the frame is complete, so Shutdown cuts the connection when ctx
// ends instead of waiting for ever.
func TestShutdownMidFrame(t *testing.T) {
	up := newRawServer(t, rawServerOptions{})
	m := newMatrix(t, Options{Upstream: up.URL})
	c := dialRaw(t, m.URL, "/stalled", nil, nil)
	s := up.accept(t)
	f := c.build(true, 0, ws.OpBinary, make([]byte, 1<<20))
	c.write(f[:1000])
	got := make([]byte, 1000)
	s.conn.SetReadDeadline(deadline())
	if _, err := readFull(s, got); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	done := shutdownAsync(m.p, ctx)
	// The client, whose leg is free, gets its close at once.
	if fr := c.read(); fr.h.OpCode != ws.OpClose || string(fr.payload) != string(goingAway) {
		t.Errorf("client received %s, want close 1001", describeFrame(fr.raw))
	}
	if err := waitShutdown(t, done); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Shutdown = %v, want the context's deadline", err)
	}
	m.waitEnds(t, 1)
	r := m.finish(t)
	rec := readConn(t, r, connByPath(t, r, "/stalled"), 0)
	var proxy []capture.Close
	for _, cl := range closeFacts(rec.closes) {
		if cl.Dir > capture.ServerToClient {
			proxy = append(proxy, cl)
		}
	}
	if len(proxy) == 0 || proxy[0].Dir != capture.ProxyToClient {
		t.Errorf("proxy closes %+v, want the one sent to the client", proxy)
	}
}

func readFull(p *rawPeer, b []byte) (int, error) {
	n := 0
	for n < len(b) {
		k, err := p.br.Read(b[n:])
		n += k
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// TestShutdownLateFramesDropped (issue 7): once Shutdown has sent its
// closes, what the peers still send is recorded but not forwarded, and the
// capture marks it Dropped (frames, messages and closes alike), so a
// replay does not resend it. What crossed before is not marked.
func TestShutdownLateFramesDropped(t *testing.T) {
	up := newRawServer(t, rawServerOptions{})
	m := newMatrix(t, Options{Upstream: up.URL})
	c := dialRaw(t, m.URL, "/late", nil, nil)
	s := up.accept(t)
	s.expect(c.send(true, 0, ws.OpText, []byte("before")))
	c.expect(s.send(true, 0, ws.OpText, []byte("before too")))
	done := shutdownAsync(m.p, t.Context())
	for _, p := range []*rawPeer{c, s} {
		if f := p.read(); f.h.OpCode != ws.OpClose {
			t.Fatalf("received %s, want the proxy's close", describeFrame(f.raw))
		}
	}
	c.send(true, 0, ws.OpText, []byte("late"))
	c.send(true, 0, ws.OpPing, []byte("late ping"))
	c.send(true, 0, ws.OpClose, closeBody(1001, ""))
	s.send(true, 0, ws.OpBinary, []byte("late too"))
	s.send(true, 0, ws.OpClose, closeBody(1001, ""))
	s.conn.(*net.TCPConn).CloseWrite()
	c.expectEOF() // none of it is forwarded
	c.conn.Close()
	s.expectEOF()
	s.conn.Close()
	if err := waitShutdown(t, done); err != nil {
		t.Errorf("Shutdown = %v, want nil", err)
	}
	m.waitEnds(t, 1)
	got := readConn(t, m.finish(t), 1, 0)
	late := map[string]bool{"before": false, "before too": false, "late": true, "late ping": true, "late too": true}
	for _, msg := range got.msgs {
		want, ok := late[string(msg.Data)]
		if !ok {
			t.Errorf("unexpected message %v %v %q", msg.Dir, msg.Opcode, msg.Data)
			continue
		}
		delete(late, string(msg.Data))
		if msg.Dropped != want {
			t.Errorf("message %v %q: dropped %v, want %v", msg.Dir, msg.Data, msg.Dropped, want)
		}
	}
	if len(late) > 0 {
		t.Errorf("messages missing from the capture: %v", late)
	}
	// Each peer's frames, in order: the first crossed, the rest did not.
	for dir, want := range map[capture.Direction][]bool{
		capture.ClientToServer: {false, true, true, true},
		capture.ServerToClient: {false, true, true},
	} {
		var dropped []bool
		for _, f := range got.frames {
			if f.Dir == dir {
				dropped = append(dropped, f.Dropped)
			}
		}
		if !reflect.DeepEqual(dropped, want) {
			t.Errorf("%v frames dropped = %v, want %v", dir, dropped, want)
		}
	}
	for _, cl := range got.closes {
		if peer := cl.Dir <= capture.ServerToClient; cl.Dropped != peer {
			t.Errorf("close %v %d: dropped %v, want %v", cl.Dir, cl.Code, cl.Dropped, peer)
		}
	}
}

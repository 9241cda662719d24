package proxy

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gorilla/websocket"
	"github.com/wstap/wstap/capture"
)

const (
	hbIdle    = 150 * time.Millisecond
	hbTimeout = 150 * time.Millisecond
)

// ghostEvents returns the ghost events of a captured connection.
func ghostEvents(c *captured) []*capture.Event {
	var out []*capture.Event
	for _, e := range c.events {
		if e.Kind == capture.EventGhost {
			out = append(out, e)
		}
	}
	return out
}

// TestHeartbeatServerGhost: the server completes the handshake and then
// never answers (a dead server, or one that vanished without a FIN). The
// client, a healthy gorilla peer, is told 1001 within idle + timeout.
func TestHeartbeatServerGhost(t *testing.T) {
	srv := newRawServer(t, rawServerOptions{})
	m := newMatrix(t, Options{Upstream: srv.URL, Heartbeat: hbIdle, HeartbeatTimeout: hbTimeout})
	c, _, err := websocket.DefaultDialer.Dial(wsURL(m.URL)+"/ghost", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	dead := srv.accept(t) // reads nothing, answers nothing, keeps the TCP connection open
	_ = dead
	start := time.Now()
	c.SetReadDeadline(time.Now().Add(ioWait))
	_, _, err = c.ReadMessage() // gorilla answers the proxy's pings while it reads
	took := time.Since(start)
	if !websocket.IsCloseError(err, websocket.CloseGoingAway) {
		t.Fatalf("client read %v, want close 1001", err)
	}
	if took > hbIdle+hbTimeout+2*time.Second {
		t.Errorf("ghost found after %v, want about %v", took, hbIdle+hbTimeout)
	}
	m.waitEnds(t, 1)
	cp := readConn(t, m.finish(t), 1, 0)
	ghosts := ghostEvents(cp)
	if len(ghosts) != 1 || !strings.HasPrefix(ghosts[0].Detail, "server sent nothing") {
		t.Fatalf("ghost events = %+v, want one naming the server", ghosts)
	}
	var proxyClose *capture.Close
	for _, cl := range cp.closes {
		if cl.Dir == capture.ProxyToClient {
			proxyClose = cl
		}
	}
	if proxyClose == nil || proxyClose.Code != 1001 {
		t.Errorf("closes = %+v, want a 1001 from the proxy to the client", cp.closes)
	}
	var pings int
	for _, msg := range cp.msgs {
		if msg.Dir == capture.ProxyToServer && msg.Opcode == capture.OpPing && strings.HasPrefix(string(msg.Data), heartbeatPrefix) {
			pings++
		}
	}
	if pings == 0 {
		t.Error("the capture holds no heartbeat ping to the server")
	}
	if m.p.Counters().Ghosts.Load() != 1 {
		t.Errorf("Ghosts counter = %d, want 1", m.p.Counters().Ghosts.Load())
	}
}

// TestHeartbeatClientGhost: a raw client that goes silent after the
// handshake; the server (a gorilla echo) is told 1001.
func TestHeartbeatClientGhost(t *testing.T) {
	es := newEchoServer(t, false)
	closed := make(chan int, 1)
	up := websocket.Upgrader{}
	es.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		c.SetReadDeadline(time.Now().Add(ioWait))
		_, _, err = c.ReadMessage()
		if ce, ok := err.(*websocket.CloseError); ok {
			closed <- ce.Code
		} else {
			closed <- 0
		}
	})
	m := newMatrix(t, Options{Upstream: wsURL(es.URL), Heartbeat: hbIdle, HeartbeatTimeout: hbTimeout})
	client := dialRaw(t, m.URL, "/silent", nil, nil)
	// The client never reads its pings nor answers them.
	select {
	case code := <-closed:
		if code != 1001 {
			t.Fatalf("server saw close %d, want 1001", code)
		}
	case <-time.After(ioWait):
		t.Fatal("the server was never told about the ghost client")
	}
	_ = client
	m.waitEnds(t, 1)
	cp := readConn(t, m.finish(t), 1, 0)
	if g := ghostEvents(cp); len(g) != 1 || !strings.HasPrefix(g[0].Detail, "client sent nothing") {
		t.Fatalf("ghost events = %+v, want one naming the client", g)
	}
}

// TestHeartbeatHealthyIdle: two healthy gorilla peers idle for several
// heartbeat periods are never flagged; wstap's pongs never reach them, and
// the connection works afterwards.
func TestHeartbeatHealthyIdle(t *testing.T) {
	es := newEchoServer(t, false)
	m := newMatrix(t, Options{Upstream: wsURL(es.URL), Heartbeat: hbIdle / 3, HeartbeatTimeout: time.Second})
	c, _, err := websocket.DefaultDialer.Dial(wsURL(m.URL)+"/idle", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	pongs := make(chan string, 16)
	c.SetPongHandler(func(s string) error { pongs <- s; return nil })
	// Read (so gorilla answers the proxy's pings) for several periods.
	c.SetReadDeadline(time.Now().Add(6 * (hbIdle + hbTimeout)))
	_, _, err = c.ReadMessage()
	if ne, ok := err.(interface{ Timeout() bool }); !ok || !ne.Timeout() {
		t.Fatalf("idle read ended with %v, want a timeout (no close)", err)
	}
	if len(pongs) > 0 {
		t.Errorf("the client received a pong it never asked for: %q", <-pongs)
	}
	if g := m.p.Counters().Ghosts.Load(); g != 0 {
		t.Fatalf("a healthy idle connection was flagged (%d ghosts)", g)
	}
	// gorilla's connection is unusable after a read timeout: check the
	// relay with a fresh one through the same proxy.
	c2, _, err := websocket.DefaultDialer.Dial(wsURL(m.URL)+"/after", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	c2.WriteMessage(websocket.TextMessage, []byte("still here"))
	c2.SetReadDeadline(time.Now().Add(ioWait))
	if _, p, err := c2.ReadMessage(); err != nil || string(p) != "still here" {
		t.Fatalf("echo = %q, %v", p, err)
	}
	c.Close()
	c2.Close()
	m.waitEnds(t, 2)
	cp := readConn(t, m.finish(t), 1, 0)
	if g := ghostEvents(cp); len(g) != 0 {
		t.Fatalf("ghost events on a healthy connection: %+v", g)
	}
	var ownPings, theirPongs int
	for _, msg := range cp.msgs {
		switch {
		case msg.Dir == capture.ProxyToClient || msg.Dir == capture.ProxyToServer:
			ownPings++
		case msg.Opcode == capture.OpPong && strings.HasPrefix(string(msg.Data), heartbeatPrefix):
			theirPongs++
		}
	}
	if ownPings < 4 || theirPongs < 4 {
		t.Errorf("capture holds %d heartbeat pings and %d answering pongs, want several of each", ownPings, theirPongs)
	}
}

// TestHeartbeatPeerPings: pings of the peers' own keep flowing untouched
// while the heartbeat runs.
func TestHeartbeatPeerPings(t *testing.T) {
	srv := newRawServer(t, rawServerOptions{})
	m := newMatrix(t, Options{Upstream: srv.URL, Heartbeat: time.Hour})
	client := dialRaw(t, m.URL, "/pings", nil, nil)
	server := srv.accept(t)
	for i, payload := range []string{"app-ping-1", heartbeatPrefix + "1", ""} {
		sent := client.send(true, 0, ws.OpPing, []byte(payload))
		server.expect(sent)
		pong := server.send(true, 0, ws.OpPong, []byte(payload))
		client.expect(pong)
		_ = i
	}
	closeHandshake(t, client, server)
	m.waitEnds(t, 1)
	cp := readConn(t, m.finish(t), 1, 0)
	var pings, pongs int
	for _, msg := range cp.msgs {
		switch msg.Opcode {
		case capture.OpPing:
			pings++
		case capture.OpPong:
			pongs++
		}
	}
	if pings != 3 || pongs != 3 {
		t.Errorf("capture holds %d pings and %d pongs, want 3 and 3", pings, pongs)
	}
}

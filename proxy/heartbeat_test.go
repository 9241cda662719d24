package proxy

import (
	"bytes"
	"fmt"
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

// isHeartbeatPing reports whether f is a ping wstap sent itself.
func isHeartbeatPing(f wireRead) bool {
	return f.h.OpCode == ws.OpPing && strings.HasPrefix(string(f.payload), heartbeatPrefix)
}

// readPast reads the next frame that is not one of wstap's heartbeat
// pings, answering those as a healthy peer does when answer is set, and
// reports how many it passed.
func readPast(p *rawPeer, answer bool) (wireRead, int) {
	p.t.Helper()
	for n := 0; ; n++ {
		f := p.read()
		if !isHeartbeatPing(f) {
			return f, n
		}
		if answer {
			p.send(true, 0, ws.OpPong, f.payload)
		}
	}
}

// TestHeartbeatOwnPongDropped (issue 7): the peers' pongs that answer
// wstap's own pings are not forwarded, and the capture says so (Dropped on
// the message and on its frame), while wstap's pings keep the proxy's
// directions and the peers' traffic is not marked.
func TestHeartbeatOwnPongDropped(t *testing.T) {
	srv := newRawServer(t, rawServerOptions{})
	m := newMatrix(t, Options{Upstream: srv.URL, Heartbeat: hbIdle, HeartbeatTimeout: ioWait})
	c := dialRaw(t, m.URL, "/own-pong", nil, nil)
	s := srv.accept(t)
	for _, p := range []*rawPeer{c, s} { // both idle: each is pinged and answers
		if f := p.read(); !isHeartbeatPing(f) {
			t.Fatalf("received %s %q, want wstap's ping", describeFrame(f.raw), f.payload)
		}
	}
	// Answer only now, so both pings are out before either pong arrives.
	// The pongs go no further: what each peer receives next is the other's.
	for _, pr := range [][2]*rawPeer{{c, s}, {s, c}} {
		from, to := pr[0], pr[1]
		from.send(true, 0, ws.OpPong, []byte(heartbeatPrefix+"1"))
		sent := from.send(true, 0, ws.OpText, []byte("after the pong"))
		if f, _ := readPast(to, true); !bytes.Equal(f.raw, sent) {
			t.Fatalf("received %s %q, want the text that followed the pong", describeFrame(f.raw), f.payload)
		}
	}
	sent := c.send(true, 0, ws.OpClose, closeBody(1000, ""))
	if f, _ := readPast(s, true); !bytes.Equal(f.raw, sent) {
		t.Fatalf("server received %s, want the client's close", describeFrame(f.raw))
	}
	sent = s.send(true, 0, ws.OpClose, closeBody(1000, ""))
	if f, _ := readPast(c, true); !bytes.Equal(f.raw, sent) {
		t.Fatalf("client received %s, want the server's close", describeFrame(f.raw))
	}
	s.conn.Close()
	c.conn.Close()
	m.waitEnds(t, 1)
	cp := readConn(t, m.finish(t), 1, 0)
	var pongs, pings int
	for _, msg := range cp.msgs {
		own := strings.HasPrefix(string(msg.Data), heartbeatPrefix)
		switch {
		case msg.Opcode == capture.OpPing && own:
			pings++
			if msg.Dir != capture.ProxyToClient && msg.Dir != capture.ProxyToServer || msg.Dropped {
				t.Errorf("wstap's ping recorded as %v, dropped %v; want the proxy's direction, not dropped", msg.Dir, msg.Dropped)
			}
		case msg.Opcode == capture.OpPong && own:
			pongs++
			if !msg.Dropped {
				t.Errorf("%v pong %q answering wstap's ping is not marked dropped", msg.Dir, msg.Data)
			}
		case msg.Dropped:
			t.Errorf("%v %v %q is marked dropped, but it was forwarded", msg.Dir, msg.Opcode, msg.Data)
		}
	}
	if pings < 2 || pongs < 2 {
		t.Errorf("capture holds %d of wstap's pings and %d answering pongs, want at least 2 of each", pings, pongs)
	}
	var pongFrames int
	for _, f := range cp.frames {
		isPong := f.Opcode == capture.OpPong
		if isPong {
			pongFrames++
		}
		if f.Dropped != isPong {
			t.Errorf("frame %v %v: dropped %v, want %v", f.Dir, f.Opcode, f.Dropped, isPong)
		}
	}
	if pongFrames != pongs {
		t.Errorf("capture holds %d pong frames for %d pongs", pongFrames, pongs)
	}
}

// TestHeartbeatSlowUploadNoFalseGhost is issue 7's false ghost, scaled
// down: a client uploads one frame slowly, over five heartbeat periods,
// to a server that stays silent until the message is whole. wstap's ping
// to the server cannot go while the client's frame holds that leg, so the
// server cannot be blamed for not answering it; and the client, whose
// bytes keep arriving, is alive though it never sees its pings.
func TestHeartbeatSlowUploadNoFalseGhost(t *testing.T) {
	const (
		beat  = 100 * time.Millisecond
		size  = 64 << 10
		steps = 50 // at beat/10 apart: the upload takes 5 beats
	)
	es := newEchoServer(t, false)
	m := newMatrix(t, Options{Upstream: wsURL(es.URL), Heartbeat: beat})
	c := dialRaw(t, m.URL, "/upload", nil, nil)
	payload := bigText(size)
	frame := c.build(true, 0, ws.OpBinary, payload)
	hs := headerSize(frame[:2])
	c.write(frame[:hs])
	tick := time.NewTicker(beat / 10)
	defer tick.Stop()
	start := time.Now()
	for body := frame[hs:]; len(body) > 0; {
		<-tick.C
		n := min(len(body), size/steps+1)
		c.conn.SetWriteDeadline(deadline())
		if _, err := c.conn.Write(body[:n]); err != nil {
			t.Fatalf("upload cut after %d of %d bytes, %v in: %v", size-len(body), size, time.Since(start), err)
		}
		body = body[n:]
	}
	if took := time.Since(start); took < 4*beat {
		t.Fatalf("the upload took %v, want at least %v", took, 4*beat)
	}
	f, _ := readPast(c, true)
	if f.h.OpCode != ws.OpBinary || !bytes.Equal(f.payload, payload) {
		t.Fatalf("client received %s %.60q, want the echo of its upload", describeFrame(f.raw), f.payload)
	}
	if g := m.p.Counters().Ghosts.Load(); g != 0 {
		t.Fatalf("a healthy slow upload was flagged (%d ghosts)", g)
	}
	sent := c.send(true, 0, ws.OpClose, closeBody(1000, ""))
	if f, _ := readPast(c, true); f.h.OpCode != ws.OpClose {
		t.Fatalf("client received %s, want the server's close", describeFrame(f.raw))
	}
	_ = sent
	c.conn.Close()
	m.waitEnds(t, 1)
	cp := readConn(t, m.finish(t), 1, 0)
	if g := ghostEvents(cp); len(g) != 0 {
		t.Fatalf("ghost events on a healthy connection: %+v", g)
	}
}

// TestHeartbeatStalledPong (issue 7): a client starts a pong that matches
// wstap's pending ping in length, then stalls inside its payload. The
// heartbeat must go on watching: the server, silent all along, is still
// found a ghost and the client is told so.
func TestHeartbeatStalledPong(t *testing.T) {
	srv := newRawServer(t, rawServerOptions{})
	m := newMatrix(t, Options{Upstream: srv.URL, Heartbeat: hbIdle, HeartbeatTimeout: hbTimeout})
	c := dialRaw(t, m.URL, "/stalled-pong", nil, nil)
	_ = srv.accept(t) // reads nothing, answers nothing
	ping := c.read()
	if !isHeartbeatPing(ping) {
		t.Fatalf("client received %s, want wstap's ping", describeFrame(ping.raw))
	}
	mask := ws.NewMask()
	pong := wireFrame(true, 0, ws.OpPong, &mask, ping.payload)
	c.write(pong[:len(pong)-len(ping.payload)+3]) // the header and 3 bytes of the payload
	f, err := c.next()
	if err != nil || f.h.OpCode != ws.OpClose || !bytes.HasPrefix(f.payload, closeBody(1001, "wstap: the server")) {
		t.Fatalf("client received %s %q, %v; want close 1001 naming the server", describeFrame(f.raw), f.payload, err)
	}
	c.conn.Close()
	m.waitEnds(t, 1)
	cp := readConn(t, m.finish(t), 1, 0)
	if g := ghostEvents(cp); len(g) != 1 || !strings.HasPrefix(g[0].Detail, "server sent nothing") {
		t.Fatalf("ghost events = %+v, want one naming the server", g)
	}
}

// TestHeartbeatChattyPeerIgnoresPings: a client that never answers wstap's
// pings but keeps sending messages is alive, not a ghost.
func TestHeartbeatChattyPeerIgnoresPings(t *testing.T) {
	const every = 100 * time.Millisecond
	es := newEchoServer(t, false)
	// Idle for longer than Heartbeat between messages: pinged every time;
	// the next message comes well within HeartbeatTimeout.
	m := newMatrix(t, Options{Upstream: wsURL(es.URL), Heartbeat: every * 6 / 10, HeartbeatTimeout: every * 3 / 2})
	c := dialRaw(t, m.URL, "/chatty", nil, nil)
	tick := time.NewTicker(every)
	defer tick.Stop()
	var pinged int
	for i := range 10 {
		<-tick.C
		msg := fmt.Sprintf("message %d", i)
		c.send(true, 0, ws.OpText, []byte(msg))
		f, n := readPast(c, false)
		pinged += n
		if f.h.OpCode != ws.OpText || string(f.payload) != msg {
			t.Fatalf("client received %s %q, want the echo %q", describeFrame(f.raw), f.payload, msg)
		}
	}
	if pinged == 0 {
		t.Fatal("wstap never pinged the client: the test shows nothing")
	}
	if g := m.p.Counters().Ghosts.Load(); g != 0 {
		t.Fatalf("a talking client was flagged (%d ghosts)", g)
	}
	c.send(true, 0, ws.OpClose, closeBody(1000, ""))
	if f, _ := readPast(c, false); f.h.OpCode != ws.OpClose {
		t.Fatalf("client received %s, want the server's close", describeFrame(f.raw))
	}
	c.conn.Close()
	m.waitEnds(t, 1)
}

// TestHeartbeatPassThroughAlive: once the relay has lost the framing (an
// invalid length encoding) and passes a client's bytes through unparsed,
// bytes that keep arriving still show the client alive.
func TestHeartbeatPassThroughAlive(t *testing.T) {
	const every = 100 * time.Millisecond
	srv := newRawServer(t, rawServerOptions{})
	m := newMatrix(t, Options{Upstream: srv.URL, Heartbeat: every * 6 / 10, HeartbeatTimeout: every * 3 / 2})
	c := dialRaw(t, m.URL, "/pass-through", nil, nil)
	s := srv.accept(t)
	c.write([]byte{0x82, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 0}) // a 64-bit length with its top bit set
	tick := time.NewTicker(every)
	defer tick.Stop()
	for i := range 10 {
		<-tick.C
		c.write([]byte(fmt.Sprintf("opaque %d", i)))
		s.send(true, 0, ws.OpText, []byte("still here")) // the server talks too, and ignores its pings
	}
	if g := m.p.Counters().Ghosts.Load(); g != 0 {
		t.Fatalf("a client whose bytes kept coming was flagged (%d ghosts)", g)
	}
	c.conn.Close()
	s.conn.Close()
	m.waitEnds(t, 1)
}

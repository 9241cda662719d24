package proxy

import (
	"bytes"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gobwas/ws"
	"github.com/wstap/wstap/capture"
)

// heartbeatPrefix starts the payload of every ping wstap sends itself, so
// its pings (and the pongs that answer them) are recognisable in a capture.
const heartbeatPrefix = "wstap-heartbeat "

// heartbeat watches both sides of a session for "ghosts": connections that
// are open but dead. A side that has sent nothing for the idle interval gets
// a ping from the proxy. The timeout runs from the moment that ping is on
// the wire (it may first wait for a frame being written to the side to
// end): if no byte at all arrives from the side within it, the connection
// is a ghost, and the side to blame is that one: the proxy records it,
// closes the live side with 1001 and cuts the dead side's TCP connection.
// A side is alive while bytes arrive from it, inside a frame as well as
// between frames, so a peer that ignores pings but keeps sending is alive.
// The pong answering the proxy's ping is not forwarded.
type heartbeat struct {
	s       *session
	idle    time.Duration
	timeout time.Duration
	sides   [2]hbSide   // [0] the client, [1] the server
	over    atomic.Bool // a ghost was found
	done    chan struct{}
	wg      sync.WaitGroup
}

// hbSide is what the heartbeat knows of one side.
type hbSide struct {
	last atomic.Int64 // unix ns of the last bytes that arrived from it

	mu      sync.Mutex
	pending []byte    // payload of the proxy's unanswered ping, nil if none
	sentAt  time.Time // when it went on the wire; zero while it waits for the leg
	seq     int       // the pending ping's number
	ghost   bool
}

func newHeartbeat(s *session, idle, timeout time.Duration) *heartbeat {
	hb := &heartbeat{s: s, idle: idle, timeout: timeout, done: make(chan struct{})}
	now := time.Now().UnixNano()
	hb.sides[0].last.Store(now)
	hb.sides[1].last.Store(now)
	return hb
}

// side returns the state of the side that sends in direction dir.
func (hb *heartbeat) side(dir capture.Direction) *hbSide { return &hb.sides[dir&1] }

// alive notes that bytes arrived from the side sending in direction dir.
func (hb *heartbeat) alive(dir capture.Direction) {
	hb.side(dir).last.Store(time.Now().UnixNano())
}

// start runs the watch until stop.
func (hb *heartbeat) start() {
	tick := max(min(hb.idle, hb.timeout)/10, 5*time.Millisecond)
	hb.wg.Add(1)
	go func() {
		defer hb.wg.Done()
		t := time.NewTicker(tick)
		defer t.Stop()
		for {
			select {
			case <-hb.done:
				return
			case now := <-t.C:
				hb.check(capture.ClientToServer, now)
				hb.check(capture.ServerToClient, now)
			}
		}
	}()
}

func (hb *heartbeat) stop() {
	close(hb.done)
	hb.wg.Wait()
}

// check pings an idle side and declares a silent one a ghost.
func (hb *heartbeat) check(dir capture.Direction, now time.Time) {
	if hb.over.Load() {
		return // a ghost was found: the connection is being torn down
	}
	sd := hb.side(dir)
	last := time.Unix(0, sd.last.Load())
	sd.mu.Lock()
	switch {
	case sd.ghost:
		sd.mu.Unlock()
	case sd.pending != nil && sd.sentAt.IsZero():
		// The ping waits for a frame being written to the side: until it
		// is on the wire, the side cannot be blamed for not answering.
		sd.mu.Unlock()
	case sd.pending != nil && !last.After(sd.sentAt) && now.Sub(sd.sentAt) >= hb.timeout:
		sd.ghost = true
		silence := now.Sub(last)
		sd.mu.Unlock()
		hb.ghost(dir, silence)
	case sd.pending != nil && last.After(sd.sentAt) && now.Sub(sd.sentAt) >= hb.timeout:
		// Alive, but the pong never came (a peer may ignore pings): forget
		// the ping, so a late pong is forwarded like any other.
		sd.pending = nil
		sd.mu.Unlock()
	case sd.pending == nil && now.Sub(last) >= hb.idle:
		sd.seq++
		payload := []byte(heartbeatPrefix + strconv.Itoa(sd.seq))
		sd.pending, sd.sentAt = payload, time.Time{}
		seq := sd.seq
		sd.mu.Unlock()
		hb.ping(dir, payload, seq)
	default:
		sd.mu.Unlock()
	}
}

// ping sends the proxy's ping number seq to the side sending in direction
// dir, in a goroutine of its own: it waits for any frame being written to
// that side to end, never cutting into one. The ping is recorded just
// before it is written, and its timeout starts once it has been written.
func (hb *heartbeat) ping(dir capture.Direction, payload []byte, seq int) {
	s := hb.s
	sd := hb.side(dir)
	to, pdir, masked := s.client, capture.ProxyToClient, false
	if dir == capture.ServerToClient {
		to, pdir, masked = s.server, capture.ProxyToServer, true
	}
	hb.wg.Add(1)
	go func() {
		defer hb.wg.Done()
		f := ws.NewPingFrame(append([]byte(nil), payload...))
		if masked {
			f = ws.MaskFrameInPlace(f)
		}
		err := to.writeFrameAfter(f, func() {
			now := time.Now()
			s.record(&capture.Chunk{Conn: s.id, Time: now, Dir: pdir, Opcode: capture.OpPing, First: true, Last: true,
				Data: payload, Frame: &capture.Frame{Conn: s.id, Time: now, Dir: pdir, Fin: true, Opcode: capture.OpPing,
					Masked: masked, Length: int64(len(payload))}})
		})
		sd.mu.Lock()
		defer sd.mu.Unlock()
		if sd.seq != seq || sd.pending == nil {
			return // answered already, or forgotten
		}
		if err != nil {
			sd.pending = nil // it never went: the pump ends with the leg
			return
		}
		sd.sentAt = time.Now()
	}()
}

// ownPong reports whether the pong frame h, with payload as it came on the
// wire (masked or not), answers the proxy's pending ping to the side
// sending in direction dir, and returns the unmasked payload if so: the
// pong goes no further. Only the pump reading from the side calls it, once
// the whole frame is in its buffer.
func (hb *heartbeat) ownPong(dir capture.Direction, h ws.Header, payload []byte) ([]byte, bool) {
	sd := hb.side(dir)
	sd.mu.Lock()
	defer sd.mu.Unlock()
	if sd.pending == nil || int64(len(payload)) != int64(len(sd.pending)) || h.Length != int64(len(payload)) {
		return nil, false
	}
	got := append([]byte(nil), payload...)
	if h.Masked {
		ws.Cipher(got, h.Mask, 0)
	}
	if !bytes.Equal(got, sd.pending) {
		return nil, false
	}
	sd.pending = nil
	return got, true
}

// ghost records that the side sending in direction dir is dead, closes the
// other side with 1001 and cuts the dead side's connection.
func (hb *heartbeat) ghost(dir capture.Direction, silence time.Duration) {
	s := hb.s
	hb.over.Store(true)
	dead, live, name := s.server, s.client, "server"
	livedir := capture.ProxyToClient
	if dir == capture.ClientToServer {
		dead, live, name, livedir = s.client, s.server, "client", capture.ProxyToServer
	}
	s.p.counters.Ghosts.Add(1)
	s.record(&capture.Event{Conn: s.id, Time: time.Now(), Kind: capture.EventGhost,
		Detail: fmt.Sprintf("%s sent nothing for %s and did not answer wstap's ping within %s: open but dead; closing the connection",
			name, silence.Round(time.Millisecond), hb.timeout)})
	reason := "wstap: the " + name + " stopped responding"
	f := ws.NewCloseFrame(ws.NewCloseFrameBody(ws.StatusGoingAway, reason))
	if livedir == capture.ProxyToServer {
		f = ws.MaskFrameInPlace(f)
	}
	hb.wg.Add(1)
	go func() { // sendClose waits for a frame being written to the live side to end
		defer hb.wg.Done()
		live.sendClose(f, func() {
			s.p.record(&capture.Close{Conn: s.id, Time: time.Now(), Dir: livedir, Code: 1001, Reason: reason})
		})
		// Only now cut the dead side: its end reaches the live side after
		// the close, as a half-close.
		dead.conn.Close()
		// The live side has a moment to finish its close handshake; then
		// the connection is over whatever it does.
		select {
		case <-hb.done:
		case <-time.After(max(hb.timeout, time.Second)):
			live.conn.Close()
		}
	}()
}

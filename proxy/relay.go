package proxy

import (
	"bufio"
	"cmp"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsflate"
	"github.com/wstap/wstap/capture"
)

const (
	// ioBufSize is the size of each connection leg's read and write buffers
	// and of the payload pieces the relay moves at a time.
	ioBufSize = 32 << 10
	// maxControlCapture bounds what the capture keeps of a control frame's
	// payload; RFC 6455 allows 125 bytes, a violating peer may send more.
	maxControlCapture = 4 << 10
)

// leg is one side of a relayed connection: the peer's connection, the
// buffer the relay reads it through, and what guards writes to it.
type leg struct {
	conn net.Conn
	in   inbuf
	w    *bufio.Writer // for the frames the proxy itself writes; empty between writes

	mu sync.Mutex // held while bytes are written to conn
	// midFrame is set (under mu) while the relay forwards a frame too large
	// to go in one write: frames the proxy originates wait for its end, so
	// they never land inside it.
	midFrame bool
	frameEnd *sync.Cond // signalled when midFrame is cleared
	// closeSent is set (under mu) once a close frame went to this peer.
	closeSent bool
}

// injectBufSize holds any frame the proxy originates: a control frame of at
// most 125 bytes and its header.
const injectBufSize = 256

func newLeg(c net.Conn, r *bufio.Reader) *leg {
	l := &leg{conn: c, w: bufio.NewWriterSize(c, injectBufSize)}
	l.in.init(c, r)
	l.frameEnd = sync.NewCond(&l.mu)
	return l
}

// writeFrameAfter writes one whole frame the proxy itself originates (a
// heartbeat ping) between the peers' frames, after record, and flushes it.
func (l *leg) writeFrameAfter(f ws.Frame, record func()) error {
	l.lockBetweenFrames()
	defer l.mu.Unlock()
	return l.writeLocked(f, record)
}

// sendClose writes a close frame the proxy originates, after record, unless
// the peer was already sent a close.
func (l *leg) sendClose(f ws.Frame, record func()) {
	l.lockBetweenFrames()
	defer l.mu.Unlock()
	if l.closeSent {
		return
	}
	l.closeSent = true
	l.writeLocked(f, record)
}

// lockBetweenFrames locks l.mu once no relayed frame is half written.
func (l *leg) lockBetweenFrames() {
	l.mu.Lock()
	for l.midFrame {
		l.frameEnd.Wait()
	}
}

// writeLocked records, then writes and flushes f. l.mu is held.
func (l *leg) writeLocked(f ws.Frame, record func()) error {
	record()
	if err := ws.WriteFrame(l.w, f); err != nil {
		return err
	}
	return l.w.Flush()
}

// forward writes relayed bytes: whole frames, or (mid is set) a piece of a
// frame that is not over after it. isClose says p ends with a close frame
// (or starts one, when mid).
func (l *leg) forward(p []byte, mid, isClose bool) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if isClose {
		l.closeSent = true
	}
	if l.midFrame && !mid {
		defer l.frameEnd.Broadcast()
	}
	l.midFrame = mid
	if len(p) == 0 { // only the end of a frame in pieces: nothing to write
		return nil
	}
	_, err := l.conn.Write(p)
	return err
}

// session is one relayed WebSocket connection after its 101.
type session struct {
	p       *Proxy
	id      capture.ConnID
	client  *leg
	server  *leg
	deflate *wsflate.Parameters // nil unless permessage-deflate was negotiated

	closeOnce sync.Once
	// goingAway is set once the proxy itself has closed both legs (1001):
	// the peers' replies are recorded but no longer forwarded.
	goingAway atomic.Bool
	// hb watches for ghost connections when Options.Heartbeat is set.
	hb *heartbeat
	// closesSent is closed once the proxy's closes have been written.
	closesSent chan struct{}
}

// run relays both directions until both have ended, then records the end.
func (s *session) run() {
	var wg sync.WaitGroup
	errs := make([]error, 2)
	if d := s.p.opts.Heartbeat; d > 0 {
		s.hb = newHeartbeat(s, d, cmp.Or(s.p.opts.HeartbeatTimeout, d))
		s.client.in.arrived = func() { s.hb.alive(capture.ClientToServer) }
		s.server.in.arrived = func() { s.hb.alive(capture.ServerToClient) }
		s.hb.start()
	}
	wg.Add(2)
	go func() {
		defer wg.Done()
		errs[0] = s.pumpClientToServer()
	}()
	go func() {
		defer wg.Done()
		errs[1] = s.pumpServerToClient()
	}()
	wg.Wait()
	s.client.conn.Close()
	s.server.conn.Close()
	if s.hb != nil {
		s.hb.stop()
	}
	// From here on a Shutdown has nothing to close: its closes, if it
	// began sending them, are recorded before the end.
	s.closeOnce.Do(func() {})
	var msg string
	if err := errors.Join(ignoreClosed(errs[0]), ignoreClosed(errs[1])); err != nil {
		msg = err.Error()
	}
	s.p.record(&capture.End{Conn: s.id, Time: time.Now(), Error: msg})
}

func (s *session) pumpClientToServer() error {
	return s.pump(capture.ClientToServer, s.client, s.server)
}

func (s *session) pumpServerToClient() error {
	return s.pump(capture.ServerToClient, s.server, s.client)
}

// ignoreClosed drops the errors of an orderly end: EOF, or a connection the
// other direction already closed.
func ignoreClosed(err error) error {
	if err == nil || errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}

// pump forwards frames from src to dst unchanged, byte for byte, and hands a
// decoded copy to the sink. It works like a byte tunnel with a decoder
// beside it: every complete frame the read buffer holds is decoded, then
// they all go on with one write. A frame larger than the buffer goes as it
// arrives instead, its header first, so memory stays bounded whatever the
// declared length. Records are made before the bytes they describe are
// written, and never while dst's write lock is held.
func (s *session) pump(dir capture.Direction, src, dst *leg) error {
	d := newDecoder(s, s.id, dir, s.deflate)
	defer d.close()
	defer src.in.close()
	in := &src.in
	var sawClose bool
	for {
		h, hs, err := s.nextHeader(in)
		if err != nil {
			if isEnd(err) {
				s.endOfStream(d, err, sawClose, dst, in.buffered())
				return nil
			}
			if errors.Is(err, ws.ErrHeaderLengthMSB) {
				s.violation(dir, "RFC 6455 §5.2: invalid payload length encoding")
				// Framing is lost from here on: pass the bytes through
				// unchanged and let the peer judge them, as without the proxy.
				return s.passThrough(d, src, dst, sawClose)
			}
			return err
		}
		total := int64(hs) + h.Length
		if total > int64(in.size()) {
			closed, err := s.stream(d, h, hs, src, dst, sawClose)
			if errors.Is(err, errEnded) {
				return nil
			}
			if err != nil {
				return err
			}
			sawClose = sawClose || closed
			continue
		}
		if err := in.ensure(int(total)); err != nil {
			if !isEnd(err) {
				return err
			}
			// The stream ended inside the frame: what arrived of it goes
			// on, and so does the end of the stream, as without the proxy.
			b := in.buffered()
			drop := s.goingAway.Load()
			d.header(h, time.Now(), drop)
			d.payload(h, b[hs:], 0)
			s.endOfStream(d, err, sawClose, dst, b)
			return nil
		}
		n, closed, err := s.span(d, dir, in, dst)
		sawClose = sawClose || closed
		in.discard(n)
		if err != nil {
			return err
		}
	}
}

// nextHeader waits for the next frame header and parses it. It returns its
// size; the header stays unread.
func (s *session) nextHeader(in *inbuf) (ws.Header, int, error) {
	if err := in.ensure(2); err != nil {
		return ws.Header{}, 0, err
	}
	hs := headerSize(in.buffered())
	if err := in.ensure(hs); err != nil {
		return ws.Header{}, 0, err
	}
	h, _, err := parseHeader(in.buffered())
	return h, hs, err
}

// span decodes the complete frames at the start of in's buffer, the first
// of which is there whole, and forwards them with one write. It returns the
// bytes it consumed and whether they held a close frame.
func (s *session) span(d *decoder, dir capture.Direction, in *inbuf, dst *leg) (int, bool, error) {
	b := in.buffered()
	now := time.Now()
	drop := s.goingAway.Load()
	off, closeAt := 0, -1
	for off < len(b) {
		h, hs, err := parseHeader(b[off:])
		if err != nil {
			break // incomplete, or bad: the next round deals with it
		}
		total := int64(hs) + h.Length
		if total > int64(len(b)-off) || (off > 0 && s.goingAway.Load() != drop) {
			break
		}
		payload := b[off+hs : off+int(total)]
		if s.hb != nil && h.OpCode == ws.OpPong {
			if off > 0 {
				break // it may answer wstap's own ping: it starts the next span
			}
			if p, ok := s.hb.ownPong(dir, h, payload); ok { // not forwarded
				f := &capture.Frame{Conn: s.id, Time: now, Dir: dir, Fin: h.Fin, RSV: h.Rsv,
					Opcode: capture.OpPong, Masked: h.Masked, Length: h.Length, Dropped: true}
				s.record(&capture.Chunk{Conn: s.id, Time: now, Dir: dir, Opcode: capture.OpPong, First: true,
					Last: true, Dropped: true, Data: p, Frame: f})
				return int(total), false, nil
			}
		}
		d.header(h, now, drop)
		d.payload(h, payload, 0)
		d.endFrame(h)
		if h.OpCode == ws.OpClose {
			closeAt = off
		}
		off += int(total)
	}
	if drop {
		return off, closeAt >= 0, nil
	}
	return off, closeAt >= 0, dst.forward(b[:off], false, closeAt >= 0)
}

// stream relays a frame too large for the buffer: its header and the
// payload that is already here at once, then the payload in pieces as they
// arrive. dst takes no frame of the proxy's own until the last piece. When
// src's stream ends inside the frame, stream records and mirrors the end
// (sawClose says whether src sent a close before) and returns errEnded.
func (s *session) stream(d *decoder, h ws.Header, hs int, src, dst *leg, sawClose bool) (closed bool, err error) {
	in := &src.in
	drop := s.goingAway.Load()
	closed = h.OpCode == ws.OpClose
	d.header(h, time.Now(), drop)
	skip := hs // the header is the first piece's start
	for off := int64(0); ; {
		b := in.buffered()
		n := int(min(int64(len(b)-skip), h.Length-off))
		d.payload(h, b[skip:skip+n], off)
		off += int64(n)
		last := off == h.Length
		if last {
			// Recorded before its last piece goes out, as span records
			// before it writes: a peer that answers at once must not
			// have its answer recorded first.
			d.endFrame(h)
		}
		if !drop {
			err = dst.forward(b[:skip+n], !last, closed && skip > 0)
		}
		in.discard(skip + n)
		skip = 0
		if err != nil {
			if !last {
				dst.forward(nil, false, false) // let frames of the proxy's own go
			}
			return closed, err
		}
		if last {
			return closed, nil
		}
		if _, err = in.more(); err != nil && len(in.buffered()) == 0 {
			if !drop {
				dst.forward(nil, false, false)
			}
			if isEnd(err) {
				s.endOfStream(d, err, sawClose, dst, nil)
				return closed, errEnded
			}
			d.endOfStream(err, sawClose)
			return closed, err
		}
	}
}

// endOfStream records how src's stream ended, forwards the bytes of a
// frame it cut short (tail), and mirrors the end to dst.
func (s *session) endOfStream(d *decoder, err error, sawClose bool, dst *leg, tail []byte) {
	if len(tail) > 0 && !s.goingAway.Load() {
		dst.forward(tail, false, false)
	}
	d.endOfStream(err, sawClose)
	s.endStream(dst)
}

// isEnd reports whether err ends a stream in an orderly way, or with the
// connection gone: EOF, a cut frame, a closed or reset connection.
func isEnd(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || isNetClosed(err)
}

// passThrough copies src to dst unchanged until src ends, starting with
// what src's buffer holds. The pump falls back to it when it can no longer
// tell where frames begin.
func (s *session) passThrough(d *decoder, src, dst *leg, sawClose bool) error {
	in := &src.in
	for {
		if b := in.buffered(); len(b) > 0 {
			if !s.goingAway.Load() {
				if err := dst.forward(b, false, false); err != nil {
					return err
				}
			}
			in.discard(len(b))
		}
		_, rerr := in.more()
		if rerr != nil && len(in.buffered()) == 0 {
			d.endOfStream(rerr, sawClose)
			if isEnd(rerr) {
				s.endStream(dst)
				return nil
			}
			return rerr
		}
	}
}

// parseHeader parses the frame header at the start of b, as
// ws.ReadHeader would. It returns errShortHeader when b does not hold all
// of it.
func parseHeader(b []byte) (ws.Header, int, error) {
	var h ws.Header
	if len(b) < 2 {
		return h, 0, errShortHeader
	}
	n := headerSize(b)
	if len(b) < n {
		return h, 0, errShortHeader
	}
	h.Fin = b[0]&0x80 != 0
	h.Rsv = (b[0] & 0x70) >> 4
	h.OpCode = ws.OpCode(b[0] & 0x0f)
	h.Masked = b[1]&0x80 != 0
	p := b[2:n]
	switch l := b[1] & 0x7f; l {
	case 126:
		h.Length = int64(binary.BigEndian.Uint16(p))
		p = p[2:]
	case 127:
		if p[0]&0x80 != 0 {
			return h, n, ws.ErrHeaderLengthMSB
		}
		h.Length = int64(binary.BigEndian.Uint64(p))
		p = p[8:]
	default:
		h.Length = int64(l)
	}
	if h.Masked {
		copy(h.Mask[:], p)
	}
	return h, n, nil
}

var errShortHeader = errors.New("proxy: incomplete frame header")

// errEnded says the stream ended and its end was recorded and mirrored.
var errEnded = errors.New("proxy: stream ended")

// headerSize is the size of the frame header whose first two bytes are b.
func headerSize(b []byte) int {
	n := 2
	switch b[1] & 0x7f {
	case 126:
		n += 2
	case 127:
		n += 8
	}
	if b[1]&0x80 != 0 {
		n += 4
	}
	return n
}

func isNetClosed(err error) bool {
	var op *net.OpError
	return errors.Is(err, net.ErrClosed) || errors.As(err, &op)
}

// endStream mirrors the end of one peer's stream to dst. While the proxy
// is closing the connection itself, its close reaches dst first.
func (s *session) endStream(dst *leg) {
	if s.goingAway.Load() {
		<-s.closesSent
	}
	halfClose(dst.conn)
}

// halfClose mirrors an orderly end of one side's stream to the other side:
// a FIN for TCP, close_notify for TLS.
func halfClose(c net.Conn) {
	type closeWriter interface{ CloseWrite() error }
	if cw, ok := c.(closeWriter); ok {
		if cw.CloseWrite() == nil {
			return
		}
	}
	c.Close()
}

func (s *session) violation(dir capture.Direction, detail string) {
	s.p.record(&capture.Event{Conn: s.id, Time: time.Now(), Kind: capture.EventViolation,
		Detail: dir.From() + ": " + detail})
}

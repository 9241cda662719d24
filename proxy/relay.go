package proxy

import (
	"bufio"
	"bytes"
	"cmp"
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

// leg is one side of a relayed connection: the peer's connection and the
// buffered reader and writer the relay uses on it.
type leg struct {
	conn net.Conn
	r    *bufio.Reader
	w    *bufio.Writer
	wmu  sync.Mutex // held while a frame is written, so injected frames never land inside one
	// closeSent is set (under wmu) once a close frame went to this peer.
	closeSent bool
}

func newLeg(c net.Conn, r *bufio.Reader) *leg {
	if r == nil {
		r = bufio.NewReaderSize(c, ioBufSize)
	}
	return &leg{conn: c, r: r, w: bufio.NewWriterSize(c, ioBufSize)}
}

// writeFrameAfter writes one whole frame the proxy itself originates (a
// heartbeat ping) between the peers' frames, after record, and flushes it.
func (l *leg) writeFrameAfter(f ws.Frame, record func()) error {
	l.wmu.Lock()
	defer l.wmu.Unlock()
	return l.writeLocked(f, record)
}

// sendClose writes a close frame the proxy originates, after record, unless
// the peer was already sent a close.
func (l *leg) sendClose(f ws.Frame, record func()) {
	l.wmu.Lock()
	defer l.wmu.Unlock()
	if l.closeSent {
		return
	}
	l.closeSent = true
	l.writeLocked(f, record)
}

// writeLocked records, then writes and flushes f. l.wmu is held.
func (l *leg) writeLocked(f ws.Frame, record func()) error {
	record()
	if err := ws.WriteFrame(l.w, f); err != nil {
		return err
	}
	return l.w.Flush()
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
// decoded copy to the sink. A frame's header is forwarded as soon as it has
// arrived; its payload follows in pieces of at most ioBufSize as it arrives,
// so memory stays bounded whatever the declared length.
func (s *session) pump(dir capture.Direction, src, dst *leg) error {
	d := newDecoder(s, s.id, dir, s.deflate)
	defer d.close()
	piece := make([]byte, ioBufSize)
	plain := make([]byte, ioBufSize)
	var hr headerReader
	var sawClose bool
	for {
		if !headerBuffered(src.r) { // reading the next header may wait: let what we have go
			dst.wmu.Lock()
			err := dst.w.Flush()
			dst.wmu.Unlock()
			if err != nil {
				return err
			}
		}
		raw, h, err := hr.read(src.r)
		if err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || isNetClosed(err) {
				if len(raw) > 0 && !s.goingAway.Load() { // the start of a header, then the end
					dst.wmu.Lock()
					if _, err := dst.w.Write(raw); err == nil {
						dst.w.Flush()
					}
					dst.wmu.Unlock()
				}
				d.endOfStream(err, sawClose)
				s.endStream(dst)
				return nil
			}
			if errors.Is(err, ws.ErrHeaderLengthMSB) || errors.Is(err, ws.ErrHeaderLengthUnexpected) {
				s.violation(dir, "RFC 6455 §5.2: invalid payload length encoding")
				// Framing is lost from here on: pass the bytes through
				// unchanged and let the peer judge them, as without the proxy.
				return s.passThrough(d, raw, src, dst, piece, sawClose)
			}
			return err
		}
		now := time.Now()
		if s.hb != nil {
			s.hb.alive(dir)
			if h.OpCode == ws.OpPong {
				if payload, ok := s.hb.ownPong(dir, h, src.r); ok { // answers wstap's own ping: not forwarded
					f := &capture.Frame{Conn: s.id, Time: now, Dir: dir, Fin: h.Fin, RSV: h.Rsv,
						Opcode: capture.OpPong, Masked: h.Masked, Length: h.Length, Dropped: true}
					s.record(&capture.Chunk{Conn: s.id, Time: now, Dir: dir, Opcode: capture.OpPong, First: true,
						Last: true, Dropped: true, Data: payload, Frame: f})
					continue
				}
			}
		}
		// Once the proxy is closing the connection itself, what the peers
		// still send is recorded, as dropped, but goes no further.
		drop := s.goingAway.Load()
		d.header(h, now, drop)

		out := io.Writer(dst.w)
		if drop {
			out = io.Discard
		}
		dst.wmu.Lock()
		if h.OpCode == ws.OpClose && out != io.Discard {
			dst.closeSent = true
		}
		_, werr := out.Write(raw)
		if werr == nil && h.Length > int64(src.r.Buffered()) {
			werr = dst.w.Flush() // the payload is not all here: let the header go ahead of it
		}
		for off := int64(0); off < h.Length && werr == nil; {
			n, rerr := src.r.Read(piece[:min(int64(len(piece)), h.Length-off)])
			if n > 0 {
				if s.hb != nil {
					s.hb.alive(dir)
				}
				if _, werr = out.Write(piece[:n]); werr == nil && src.r.Buffered() == 0 && off+int64(n) < h.Length {
					werr = dst.w.Flush()
				}
				p := plain[:n]
				copy(p, piece[:n])
				if h.Masked {
					ws.Cipher(p, h.Mask, int(off))
				}
				d.payload(h, p)
				off += int64(n)
			}
			if rerr != nil {
				// The stream ended inside a frame: what arrived of it goes
				// on, and so does the end of the stream, as without the proxy.
				if werr == nil {
					werr = dst.w.Flush()
				}
				dst.wmu.Unlock()
				d.endOfStream(rerr, sawClose)
				if errors.Is(rerr, io.EOF) || errors.Is(rerr, io.ErrUnexpectedEOF) || isNetClosed(rerr) {
					s.endStream(dst)
					return nil
				}
				return rerr
			}
		}
		dst.wmu.Unlock()
		if werr != nil {
			return werr
		}
		if h.OpCode == ws.OpClose {
			sawClose = true
		}
		d.endFrame(h)
	}
}

// passThrough copies src to dst unchanged, head first, until src ends. The
// pump falls back to it when it can no longer tell where frames begin.
func (s *session) passThrough(d *decoder, head []byte, src, dst *leg, buf []byte, sawClose bool) error {
	var werr error
	write := func(p []byte) {
		dst.wmu.Lock()
		defer dst.wmu.Unlock()
		if werr == nil && !s.goingAway.Load() {
			if _, werr = dst.w.Write(p); werr == nil {
				werr = dst.w.Flush()
			}
		}
	}
	write(head)
	for werr == nil {
		n, rerr := src.r.Read(buf)
		if n > 0 && s.hb != nil {
			s.hb.alive(d.dir)
		}
		write(buf[:n])
		if rerr != nil {
			d.endOfStream(rerr, sawClose)
			if errors.Is(rerr, io.EOF) || isNetClosed(rerr) {
				s.endStream(dst)
				return werr
			}
			return rerr
		}
	}
	return werr
}

// headerReader reads frame headers with buffers of its own, so reading a
// header allocates nothing.
type headerReader struct {
	raw     [ws.MaxHeaderSize]byte
	scratch [ws.MaxHeaderSize]byte
	br      bytes.Reader
}

// read reads one frame header from r and returns its raw bytes (valid until
// the next read) and its parsed form.
func (hr *headerReader) read(r *bufio.Reader) ([]byte, ws.Header, error) {
	b, err := r.Peek(2)
	if err == nil {
		b, err = r.Peek(headerSize(b))
	}
	raw := hr.raw[:copy(hr.raw[:], b)]
	r.Discard(len(raw))
	if err != nil {
		if len(raw) > 0 && errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return raw, ws.Header{}, err
	}
	hr.br.Reset(raw)
	h, err := ws.ReadHeaderBuffer(&hr.br, hr.scratch[:0])
	return raw, h, err
}

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

// headerBuffered reports whether r holds a whole frame header, so that
// reading it will not wait for the network.
func headerBuffered(r *bufio.Reader) bool {
	n := r.Buffered()
	if n < 2 {
		return false
	}
	b, _ := r.Peek(2)
	return n >= headerSize(b)
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

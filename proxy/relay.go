package proxy

import (
	"bufio"
	"bytes"
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

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

// writeFrame writes one whole frame the proxy itself originates (a close,
// a heartbeat ping) between the peers' frames, and flushes it.
func (l *leg) writeFrame(f ws.Frame) error {
	l.wmu.Lock()
	defer l.wmu.Unlock()
	if err := ws.WriteFrame(l.w, f); err != nil {
		return err
	}
	return l.w.Flush()
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
	record()
	if ws.WriteFrame(l.w, f) == nil {
		l.w.Flush()
	}
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

// direction state: what the decoder knows about the message in progress.
type decoder struct {
	s        *session
	dir      capture.Direction
	inMsg    bool // a fragmented data message is in progress
	opcode   capture.Opcode
	compress bool // the message in progress is compressed
	started  time.Time
	first    bool // the next chunk emitted is the message's first
	buf      []byte
	utf8     utf8Stream
	inflater *inflater
	ctl      []byte // payload of the control frame in progress
	// frame holds the facts of a frame that is a whole message by itself,
	// recorded with the message's chunk instead of on their own (the
	// capture keeps them in one record; see capture.Chunk.Frame).
	frame *capture.Frame
}

// wholeMessage reports whether a frame with header h carries a whole
// message that the capture can keep in one chunk: a final, uncompressed
// text or binary frame that starts a message, or a ping or pong.
func (d *decoder) wholeMessage(h ws.Header) bool {
	switch capture.Opcode(h.OpCode) {
	case capture.OpText, capture.OpBinary:
		return h.Fin && !d.inMsg && h.Length <= capture.MaxChunk && (d.s.deflate == nil || h.Rsv&4 == 0)
	case capture.OpPing, capture.OpPong:
		return h.Fin && h.Length <= maxControlCapture
	}
	return false
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
	d := &decoder{s: s, dir: dir}
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
		f := &capture.Frame{Conn: s.id, Time: now, Dir: dir, Fin: h.Fin, RSV: h.Rsv,
			Opcode: capture.Opcode(h.OpCode), Masked: h.Masked, Length: h.Length}
		if s.hb != nil {
			s.hb.alive(dir)
			if h.OpCode == ws.OpPong {
				if payload, ok := s.hb.ownPong(dir, h, src.r); ok { // answers wstap's own ping: not forwarded
					s.p.record(&capture.Chunk{Conn: s.id, Time: now, Dir: dir, Opcode: capture.OpPong, First: true,
						Last: true, Data: payload, Frame: f})
					continue
				}
			}
		}
		if d.wholeMessage(h) {
			d.frame = f
		} else {
			s.p.record(f)
		}
		d.checkHeader(h)

		out := io.Writer(dst.w)
		if s.goingAway.Load() {
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
		d.beginFrame(h, now)
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

// checkHeader records the RFC 6455 rules a frame header breaks. The frame
// is forwarded regardless: the peers decide what to make of it.
func (d *decoder) checkHeader(h ws.Header) {
	s, dir := d.s, d.dir
	switch {
	case dir == capture.ClientToServer && !h.Masked:
		s.violation(dir, "RFC 6455 §5.1: client frame is not masked")
	case dir == capture.ServerToClient && h.Masked:
		s.violation(dir, "RFC 6455 §5.1: server frame is masked")
	}
	op := capture.Opcode(h.OpCode)
	if (op > capture.OpBinary && op < capture.OpClose) || op > capture.OpPong {
		s.violation(dir, fmt.Sprintf("RFC 6455 §5.2: reserved opcode %#x", byte(op)))
	}
	if op.IsControl() {
		if h.Length > 125 {
			s.violation(dir, fmt.Sprintf("RFC 6455 §5.5: control frame payload of %d bytes (limit 125)", h.Length))
		}
		if !h.Fin {
			s.violation(dir, "RFC 6455 §5.5: control frame is fragmented")
		}
	}
	rsv := h.Rsv
	if d.s.deflate != nil && rsv&4 != 0 {
		rsv &^= 4 // RSV1 marks a compressed message, on its first frame only
		if op != capture.OpText && op != capture.OpBinary {
			s.violation(dir, "RFC 7692 §6: RSV1 set on a control frame or a continuation frame")
		}
	}
	if rsv != 0 {
		s.violation(dir, fmt.Sprintf("RFC 6455 §5.2: RSV bits %03b set without a negotiated extension", rsv))
	}
	switch {
	case op == capture.OpContinuation && !d.inMsg:
		s.violation(dir, "RFC 6455 §5.4: continuation frame without a message to continue")
	case (op == capture.OpText || op == capture.OpBinary) && d.inMsg:
		s.violation(dir, "RFC 6455 §5.4: new data frame while a fragmented message is unfinished")
	}
}

// beginFrame prepares the decoder for a frame's payload.
func (d *decoder) beginFrame(h ws.Header, now time.Time) {
	op := capture.Opcode(h.OpCode)
	if op.IsControl() || op > capture.OpPong || (op > capture.OpBinary && op < capture.OpClose) {
		d.ctl = d.ctl[:0]
		return
	}
	if op == capture.OpContinuation && d.inMsg {
		return
	}
	if d.inMsg { // a new message cut the unfinished one short
		d.finishMessage(true)
	}
	// A message starts: a text or binary frame, or a stray continuation
	// (recorded as a message of its own so no byte is lost).
	d.inMsg, d.opcode, d.started, d.first = true, op, now, true
	d.compress = d.s.deflate != nil && h.Rsv&4 != 0
	d.utf8 = utf8Stream{}
	d.buf = d.buf[:0]
	if d.compress {
		d.ensureInflater().begin()
	}
}

// payload takes a piece of a frame's unmasked payload.
func (d *decoder) payload(h ws.Header, p []byte) {
	op := capture.Opcode(h.OpCode)
	if op.IsControl() || op > capture.OpPong || (op > capture.OpBinary && op < capture.OpClose) {
		if room := maxControlCapture - len(d.ctl); room > 0 {
			d.ctl = append(d.ctl, p[:min(len(p), room)]...)
		}
		return
	}
	if d.compress {
		d.inflater.write(p)
		return
	}
	d.data(p)
}

// data takes decoded (plain) message bytes and emits them as chunks of at
// most capture.MaxChunk.
func (d *decoder) data(p []byte) {
	if d.opcode == capture.OpText {
		d.utf8.feed(p)
	}
	for len(p) > 0 {
		n := min(len(p), capture.MaxChunk-len(d.buf))
		d.buf = append(d.buf, p[:n]...)
		p = p[n:]
		if len(d.buf) == capture.MaxChunk {
			d.emit(false)
		}
	}
}

func (d *decoder) emit(last bool) {
	t := d.started // a message's time is its first byte's
	if !d.first {
		t = time.Now()
	}
	d.s.p.record(&capture.Chunk{Conn: d.s.id, Time: t, Dir: d.dir, Opcode: d.opcode, First: d.first, Last: last,
		Compressed: d.compress, Data: d.buf, Frame: d.frame})
	d.frame = nil
	d.first = false
	d.buf = d.buf[:0]
}

// endFrame completes a frame: a control frame is recorded whole; a data
// frame with FIN completes its message.
func (d *decoder) endFrame(h ws.Header) {
	op := capture.Opcode(h.OpCode)
	switch {
	case op == capture.OpClose:
		d.closeFrame(h)
	case op.IsControl() || op > capture.OpBinary:
		t := time.Now()
		if d.frame != nil {
			t = d.frame.Time
		}
		d.s.p.record(&capture.Chunk{Conn: d.s.id, Time: t, Dir: d.dir, Opcode: op, First: true, Last: true,
			Truncated: int64(len(d.ctl)) < h.Length, Data: d.ctl, Frame: d.frame})
		d.frame = nil
	case h.Fin && d.inMsg:
		d.finishMessage(false)
	}
}

// finishMessage emits the last chunk of the message in progress.
func (d *decoder) finishMessage(cut bool) {
	switch {
	case d.compress:
		d.inflater.end(cut)
	case !cut || len(d.buf) > 0 || d.first:
		d.emit(!cut)
	}
	if d.opcode == capture.OpText && !cut && !d.utf8.end() {
		d.s.violation(d.dir, "RFC 6455 §8.1: text message is not valid UTF-8")
	}
	d.inMsg = false
}

// closeFrame records a close frame and checks its payload (RFC 6455 §5.5.1,
// §7.4).
func (d *decoder) closeFrame(h ws.Header) {
	code, reason := 1005, ""
	switch {
	case len(d.ctl) == 1:
		d.s.violation(d.dir, "RFC 6455 §5.5.1: close frame payload of 1 byte")
	case len(d.ctl) >= 2:
		code = int(binary.BigEndian.Uint16(d.ctl))
		reason = string(d.ctl[2:])
		if !validCloseCode(code) {
			d.s.violation(d.dir, fmt.Sprintf("RFC 6455 §7.4.1: close code %d may not be sent", code))
		}
		if !utf8.ValidString(reason) {
			d.s.violation(d.dir, "RFC 6455 §5.5.1: close reason is not valid UTF-8")
		}
	}
	d.s.p.record(&capture.Close{Conn: d.s.id, Time: time.Now(), Dir: d.dir, Code: code, Reason: reason})
}

// validCloseCode reports whether a peer may send code in a close frame:
// the codes RFC 6455 §7.4.1 defines for sending, those IANA registered since
// (1012–1014), and the 3000–4999 ranges for libraries and applications.
func validCloseCode(code int) bool {
	switch {
	case code >= 1000 && code <= 1003, code >= 1007 && code <= 1014:
		return true
	case code >= 3000 && code <= 4999:
		return true
	}
	return false
}

// endOfStream records how a direction ended when it ended without a close
// frame: the other side sees 1006 (RFC 6455 §7.1.5).
func (d *decoder) endOfStream(err error, sawClose bool) {
	if d.inMsg {
		d.finishMessage(true)
	}
	if d.frame != nil { // a control frame cut short
		d.s.p.record(d.frame)
		d.frame = nil
	}
	if !sawClose {
		reason := "connection closed without a close frame"
		if err != nil && !errors.Is(err, io.EOF) {
			reason += ": " + err.Error()
		}
		d.s.p.record(&capture.Close{Conn: d.s.id, Time: time.Now(), Dir: d.dir, Code: 1006, Reason: reason})
	}
}

func (d *decoder) ensureInflater() *inflater {
	if d.inflater == nil {
		d.inflater = newInflater(d)
	}
	return d.inflater
}

func (d *decoder) close() {
	if d.inflater != nil {
		d.inflater.stop()
	}
}

// utf8Stream validates UTF-8 across the pieces of one message.
type utf8Stream struct {
	pend [utf8.UTFMax]byte
	n    int
	bad  bool
}

func (u *utf8Stream) feed(p []byte) {
	if u.bad {
		return
	}
	// Complete a sequence split across pieces, a byte at a time.
	for u.n > 0 && len(p) > 0 {
		u.pend[u.n] = p[0]
		u.n++
		p = p[1:]
		if utf8.FullRune(u.pend[:u.n]) {
			if r, size := utf8.DecodeRune(u.pend[:u.n]); r == utf8.RuneError && size == 1 {
				u.bad = true
				return
			}
			u.n = 0
		}
	}
	if u.n > 0 { // p ran out before the split sequence was complete
		return
	}
	// Hold back an incomplete sequence at the end; validate the rest.
	cut := len(p)
	for i := len(p) - 1; i >= 0 && i >= len(p)-(utf8.UTFMax-1); i-- {
		if utf8.RuneStart(p[i]) {
			if !utf8.FullRune(p[i:]) {
				cut = i
			}
			break
		}
	}
	if !utf8.Valid(p[:cut]) {
		u.bad = true
		return
	}
	u.n = copy(u.pend[:], p[cut:])
}

func (u *utf8Stream) end() bool { return !u.bad && u.n == 0 }

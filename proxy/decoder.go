package proxy

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsflate"
	"github.com/wstap/wstap/capture"
)

// recorder receives what a decoder makes of one direction's frames: the
// capture's records and the protocol violations it notices. *session
// implements it; tests collect with one of their own. A record and its
// Data are the decoder's to reuse once record returns (see Sink).
type recorder interface {
	record(capture.Record)
	violation(dir capture.Direction, detail string)
}

// record hands r to the proxy's sink.
func (s *session) record(r capture.Record) { s.p.record(r) }

// newDecoder returns the decoder of direction dir of connection conn;
// deflate is nil unless permessage-deflate was negotiated.
func newDecoder(rec recorder, conn capture.ConnID, dir capture.Direction, deflate *wsflate.Parameters) *decoder {
	return &decoder{rec: rec, conn: conn, dir: dir, deflate: deflate}
}

// decoder turns one direction's frames into capture records: the bytes in
// are frame headers and unmasked payload pieces, the records out are frame
// facts, message chunks (inflated where permessage-deflate compressed
// them), closes and violations. It knows nothing of sockets: the pump
// feeds it header, payload pieces, endFrame, and endOfStream at the end.
type decoder struct {
	rec     recorder
	conn    capture.ConnID
	dir     capture.Direction
	deflate *wsflate.Parameters // nil unless permessage-deflate was negotiated
	// dropped says the frame in progress is not forwarded (see
	// capture.Frame.Dropped): the records made while it lasts say so. The
	// inflater's goroutine reads it.
	dropped  atomic.Bool
	inMsg    bool // a fragmented data message is in progress
	opcode   capture.Opcode
	compress bool // the message in progress is compressed
	started  time.Time
	first    bool // the next chunk emitted is the message's first
	buf      []byte
	small    []byte  // d.buf's own storage, up to smallBuf
	bufBig   *[]byte // d.buf's storage while borrowed from chunkBufs
	utf8     utf8Stream
	inflater *inflater
	ctl      []byte // payload of the control frame in progress
	plain    []byte // a compressed piece, unmasked for the inflater
	// whole is the payload of a message in one frame, straight from the
	// read buffer: the chunk is recorded from it without a copy. When
	// wholeMasked is set, whole was unmasked in place with wholeMask and is
	// masked again once recorded.
	whole       []byte
	wholeMask   [4]byte
	wholeMasked bool
	// frame holds the facts of a frame that is a whole message by itself,
	// recorded with the message's chunk instead of on their own (the
	// capture keeps them in one record; see capture.Chunk.Frame).
	frame *capture.Frame
	// The records the decoder hands on, reused (see recorder): the frame
	// facts, the data chunks (the pump's or the inflater's, one message at
	// a time) and the control chunks (the pump's alone).
	frameRec        capture.Frame
	dataRec, ctlRec capture.Chunk
}

// wholeMessage reports whether a frame with header h carries a whole
// message that the capture can keep in one chunk: a final, uncompressed
// text or binary frame that starts a message, or a ping or pong.
func (d *decoder) wholeMessage(h ws.Header) bool {
	switch capture.Opcode(h.OpCode) {
	case capture.OpText, capture.OpBinary:
		return h.Fin && !d.inMsg && h.Length <= capture.MaxChunk && (d.deflate == nil || h.Rsv&4 == 0)
	case capture.OpPing, capture.OpPong:
		return h.Fin && h.Length <= maxControlCapture
	}
	return false
}

// header takes the header of the next frame, which arrived at now;
// dropped says the proxy does not forward the frame.
func (d *decoder) header(h ws.Header, now time.Time, dropped bool) {
	f := &d.frameRec
	*f = capture.Frame{Conn: d.conn, Time: now, Dir: d.dir, Fin: h.Fin, RSV: h.Rsv,
		Opcode: capture.Opcode(h.OpCode), Masked: h.Masked, Length: h.Length, Dropped: dropped}
	if d.wholeMessage(h) {
		d.frame = f
	} else {
		d.rec.record(f)
	}
	d.checkHeader(h)
	d.beginFrame(h, now) // may end a message cut short, which was not dropped for this frame
	d.dropped.Store(dropped)
}

// checkHeader records the RFC 6455 rules a frame header breaks. The frame
// is forwarded regardless: the peers decide what to make of it.
func (d *decoder) checkHeader(h ws.Header) {
	s, dir := d.rec, d.dir
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
	if d.deflate != nil && rsv&4 != 0 {
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
	d.compress = d.deflate != nil && h.Rsv&4 != 0
	d.utf8 = utf8Stream{}
	d.buf = d.buf[:0]
	if d.compress {
		d.ensureInflater().begin()
	}
}

// payload takes a piece of a frame's payload as it came on the wire, masked
// or not, which starts off bytes into the payload. The decoder uses p only
// until payload returns, or, when p is the whole payload of a frame that is
// a whole message, until endFrame returns: then it unmasks p in place to
// record the message without a copy, and masks it again before endFrame
// returns, so p is as it came when the caller forwards it.
func (d *decoder) payload(h ws.Header, p []byte, off int64) {
	op := capture.Opcode(h.OpCode)
	if op.IsControl() || op > capture.OpPong || (op > capture.OpBinary && op < capture.OpClose) {
		if room := maxControlCapture - len(d.ctl); room > 0 {
			n := len(d.ctl)
			d.ctl = append(d.ctl, p[:min(len(p), room)]...)
			if h.Masked {
				ws.Cipher(d.ctl[n:], h.Mask, int(off))
			}
		}
		return
	}
	if d.compress {
		if h.Masked {
			d.plain = append(d.plain[:0], p...)
			ws.Cipher(d.plain, h.Mask, int(off))
			p = d.plain
		}
		d.inflater.write(p)
		return
	}
	if d.frame != nil && off == 0 && int64(len(p)) == h.Length && len(d.buf) == 0 {
		// A whole message, all here: recorded without a copy (see emit).
		if h.Masked {
			ws.Cipher(p, h.Mask, 0)
			d.wholeMask, d.wholeMasked = h.Mask, true
		}
		if d.opcode == capture.OpText {
			d.utf8.feed(p)
		}
		d.whole = p
		return
	}
	for len(p) > 0 {
		n := min(len(p), capture.MaxChunk-len(d.buf))
		start := len(d.buf)
		d.grow(n)
		d.buf = append(d.buf, p[:n]...)
		if h.Masked {
			ws.Cipher(d.buf[start:], h.Mask, int(off))
		}
		if d.opcode == capture.OpText {
			d.utf8.feed(d.buf[start:])
		}
		p, off = p[n:], off+int64(n)
		if len(d.buf) == capture.MaxChunk {
			d.emit(false)
		}
	}
}

// smallBuf is the most of a message buffer a decoder keeps between
// messages; a larger message borrows a buffer of capture.MaxChunk from
// chunkBufs until it ends, so an idle connection holds little.
const smallBuf = 4 << 10

// chunkBufs keeps the message buffers of capture.MaxChunk that decoders
// gave back, up to a bound: unlike a sync.Pool it never holds more than
// that after a burst, and never empties itself while traffic flows.
var chunkBufs = freeList{max: 32, size: capture.MaxChunk}

// freeList is a bounded stack of buffers of one size.
type freeList struct {
	mu   sync.Mutex
	free []*[]byte
	max  int
	size int
}

func (f *freeList) get() *[]byte {
	f.mu.Lock()

	defer f.mu.Unlock()
	if n := len(f.free); n > 0 {
		b := f.free[n-1]
		f.free[n-1] = nil
		f.free = f.free[:n-1]
		return b
	}
	b := make([]byte, 0, f.size)
	return &b
}

func (f *freeList) put(b *[]byte) {
	f.mu.Lock()

	defer f.mu.Unlock()
	if len(f.free) < f.max {
		*b = (*b)[:0]
		f.free = append(f.free, b)
	}
}

// grow makes room for n more bytes in d.buf.
func (d *decoder) grow(n int) {
	if len(d.buf)+n <= cap(d.buf) {
		return
	}
	if len(d.buf)+n <= smallBuf {
		d.buf = slices.Grow(d.buf, smallBuf-len(d.buf))
		d.small = d.buf[:0]
		return
	}
	big := chunkBufs.get()
	d.bufBig = big
	d.buf = append((*big)[:0], d.buf...)
}

// shrink gives a borrowed message buffer back once its message is over.
func (d *decoder) shrink() {
	if d.bufBig != nil {
		chunkBufs.put(d.bufBig)
		d.bufBig, d.buf = nil, d.small[:0]
	}
}

// data takes decoded (plain) message bytes, the inflater's, and emits them
// as chunks of at most capture.MaxChunk.
func (d *decoder) data(p []byte) {
	if d.opcode == capture.OpText {
		d.utf8.feed(p)
	}
	for len(p) > 0 {
		n := min(len(p), capture.MaxChunk-len(d.buf))
		d.grow(n)
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
	data := d.buf
	if d.whole != nil {
		data, d.whole = d.whole, nil
	}
	var f *capture.Frame
	if !d.compress { // the inflater's chunks never carry frame facts
		f, d.frame = d.frame, nil
	}
	c := &d.dataRec
	*c = capture.Chunk{Conn: d.conn, Time: t, Dir: d.dir, Opcode: d.opcode, First: d.first, Last: last,
		Compressed: d.compress, Dropped: d.dropped.Load(), Data: data, Frame: f}
	d.rec.record(c)
	*c = capture.Chunk{} // keeps no buffer alive: it may go back to chunkBufs, or the read buffer to its pool
	if d.wholeMasked {   // the frame goes on as it came
		ws.Cipher(data, d.wholeMask, 0)
		d.wholeMasked = false
	}
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
		c := &d.ctlRec
		*c = capture.Chunk{Conn: d.conn, Time: t, Dir: d.dir, Opcode: op, First: true, Last: true,
			Truncated: int64(len(d.ctl)) < h.Length, Dropped: d.dropped.Load(), Data: d.ctl, Frame: d.frame}
		d.rec.record(c)
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
	d.shrink()
	if d.opcode == capture.OpText && !cut && !d.utf8.end() {
		d.rec.violation(d.dir, "RFC 6455 §8.1: text message is not valid UTF-8")
	}
	d.inMsg = false
}

// closeFrame records a close frame and checks its payload (RFC 6455 §5.5.1,
// §7.4).
func (d *decoder) closeFrame(h ws.Header) {
	code, reason := 1005, ""
	switch {
	case len(d.ctl) == 1:
		d.rec.violation(d.dir, "RFC 6455 §5.5.1: close frame payload of 1 byte")
	case len(d.ctl) >= 2:
		code = int(binary.BigEndian.Uint16(d.ctl))
		reason = string(d.ctl[2:])
		if !validCloseCode(code) {
			d.rec.violation(d.dir, fmt.Sprintf("RFC 6455 §7.4.1: close code %d may not be sent", code))
		}
		if !utf8.ValidString(reason) {
			d.rec.violation(d.dir, "RFC 6455 §5.5.1: close reason is not valid UTF-8")
		}
	}
	d.rec.record(&capture.Close{Conn: d.conn, Time: time.Now(), Dir: d.dir, Code: code, Reason: reason,
		Dropped: d.dropped.Load()})
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
		d.rec.record(d.frame)
		d.frame = nil
	}
	if !sawClose {
		reason := "connection closed without a close frame"
		if err != nil && !errors.Is(err, io.EOF) {
			reason += ": " + err.Error()
		}
		d.rec.record(&capture.Close{Conn: d.conn, Time: time.Now(), Dir: d.dir, Code: 1006, Reason: reason})
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

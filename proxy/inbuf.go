package proxy

import (
	"bufio"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
)

// bufPool holds the read buffers of legs that have nothing to read. A leg
// waiting on a socket it can wait on without a buffer (see waitable) holds
// none, so an idle connection costs little more than its goroutines.
var bufPool = sync.Pool{New: func() any { b := make([]byte, ioBufSize); return &b }}

// errBufFull is what more returns when the buffer has no room left: the
// caller asked for more than a frame that fits the buffer.
var errBufFull = errors.New("proxy: read buffer full")

// inbuf is the read side of a leg: a buffer of ioBufSize bytes that the
// relay parses frames in and forwards from, without copying them out. The
// buffer is taken from bufPool when bytes arrive and, on a connection that
// can be waited on without one, given back whenever it is empty and the
// socket has nothing more.
type inbuf struct {
	conn net.Conn
	// raw is set when conn can be read without a buffer held while it waits
	// (a plain TCP connection): see readRaw.
	raw rawReader
	// pre is the reader the handshake used, until the bytes it holds (frames
	// that came with the handshake) have been taken.
	pre  *bufio.Reader
	buf  *[]byte // nil while the leg holds no buffer
	r, w int     // the unread bytes are (*buf)[r:w]
	// held says whether the leg holds a buffer, for tests to watch from
	// another goroutine.
	held atomic.Bool
	// arrived, if set, is called each time bytes arrive (the heartbeat's
	// sign of life).
	arrived func()
}

// rawReader reads from a socket into a buffer it takes only once the socket
// is readable, and gives the buffer back while it waits. It returns
// (0, io.EOF) at the end of the stream.
type rawReader interface {
	read(in *inbuf) (int, error)
}

func (in *inbuf) init(c net.Conn, pre *bufio.Reader) {
	in.conn = c
	if hc, ok := c.(*headConn); ok && hc.stopped.Load() {
		c = hc.Conn // it no longer keeps what it reads: read underneath it
	}
	in.raw = waitable(c)
	if pre != nil && pre.Buffered() > 0 {
		in.pre = pre
	}
}

// size is the most a frame may take to be forwarded in one piece.
func (in *inbuf) size() int { return ioBufSize }

// buffered returns the unread bytes, valid until the next more or discard.
func (in *inbuf) buffered() []byte {
	if in.buf == nil {
		return nil
	}
	return (*in.buf)[in.r:in.w]
}

// discard drops the first n unread bytes.
func (in *inbuf) discard(n int) {
	in.r += n
	if in.r == in.w {
		in.r, in.w = 0, 0
	}
}

// take makes sure the leg holds a buffer.
func (in *inbuf) take() {
	if in.buf == nil {
		in.buf = bufPool.Get().(*[]byte)
		in.r, in.w = 0, 0
		in.held.Store(true)
	}
}

// release gives an empty buffer back to the pool.
func (in *inbuf) release() {
	if in.buf != nil && in.r == in.w {
		bufPool.Put(in.buf)
		in.buf = nil
		in.r, in.w = 0, 0
		in.held.Store(false)
	}
}

// more reads at least one more byte into the buffer, waiting for the
// network if it must, and returns how many it read.
func (in *inbuf) more() (int, error) {
	n, err := in.read()
	if n > 0 && in.arrived != nil {
		in.arrived()
	}
	return n, err
}

func (in *inbuf) read() (int, error) {
	in.take()
	if in.r > 0 { // make room at the end
		in.w = copy(*in.buf, (*in.buf)[in.r:in.w])
		in.r = 0
	}
	if in.w == len(*in.buf) {
		return 0, errBufFull
	}
	if in.pre != nil {
		n, err := in.pre.Read((*in.buf)[in.w:])
		in.w += n
		if in.pre.Buffered() == 0 {
			in.pre = nil
		}
		if n > 0 || err != nil {
			return n, err
		}
	}
	if in.raw != nil {
		return in.raw.read(in)
	}
	for {
		n, err := in.conn.Read((*in.buf)[in.w:])
		in.w += n
		if n > 0 || err != nil {
			return n, err
		}
	}
}

// ensure reads until at least n bytes (at most the buffer's size) are
// unread. At the end of the stream it returns io.ErrUnexpectedEOF if some
// but not n bytes came, io.EOF if none did.
func (in *inbuf) ensure(n int) error {
	for in.w-in.r < n {
		if _, err := in.more(); err != nil {
			if errors.Is(err, io.EOF) && in.w > in.r {
				return io.ErrUnexpectedEOF
			}
			return err
		}
	}
	return nil
}

// close gives the buffer back for good, whatever it still holds.
func (in *inbuf) close() {
	if in.buf != nil {
		bufPool.Put(in.buf)
		in.buf = nil
		in.held.Store(false)
	}
	in.r, in.w = 0, 0
}

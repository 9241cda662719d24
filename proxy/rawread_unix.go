//go:build unix

package proxy

import (
	"io"
	"net"
	"os"
	"syscall"
)

// waitable returns a rawReader for a plain TCP connection, nil for any
// other (a TLS connection keeps buffers of its own, so one more buffer
// held while it waits changes little).
func waitable(c net.Conn) rawReader {
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return nil
	}
	sc, err := tc.SyscallConn()
	if err != nil {
		return nil
	}
	r := &sysReader{conn: c, sc: sc}
	r.fn = r.try
	return r
}

// sysReader reads a TCP socket through its syscall.RawConn: a read that
// finds nothing gives the leg's buffer back (when it is empty) before the
// runtime's poller waits for the socket, and the next read takes one again.
type sysReader struct {
	conn net.Conn
	sc   syscall.RawConn
	fn   func(fd uintptr) bool // r.try, made once so a read allocates nothing
	in   *inbuf
	n    int
	err  error
}

// try is the RawConn callback: one read(2). It returns false, to wait for
// the socket, when there is nothing to read yet.
func (r *sysReader) try(fd uintptr) bool {
	in := r.in
	in.take()
	for {
		n, err := syscall.Read(int(fd), (*in.buf)[in.w:])
		switch {
		case err == syscall.EINTR:
			continue
		case err == syscall.EAGAIN:
			in.release()
			return false
		case err != nil:
			r.n, r.err = 0, err
		case n == 0:
			r.n, r.err = 0, io.EOF
		default:
			r.n, r.err = n, nil
		}
		return true
	}
}

func (r *sysReader) read(in *inbuf) (int, error) {
	r.in = in
	err := r.sc.Read(r.fn)
	r.in = nil
	n := 0
	if err == nil {
		n, err = r.n, r.err
		in.w += n
		if err != nil && err != io.EOF {
			err = os.NewSyscallError("read", err)
		}
	}
	if err != nil && err != io.EOF {
		// As net.Conn.Read reports it, so that callers tell a closed or
		// reset connection from other errors the same way.
		err = &net.OpError{Op: "read", Net: "tcp", Source: r.conn.LocalAddr(), Addr: r.conn.RemoteAddr(), Err: err}
	}
	return n, err
}

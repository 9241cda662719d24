package proxy

import (
	"bytes"
	"fmt"
	"io"

	"github.com/klauspost/compress/flate"
	"github.com/wstap/wstap/capture"
)

// deflateTail ends every permessage-deflate message: the 0x00 0x00 0xff 0xff
// that RFC 7692 §7.2.1 strips from the wire, then an empty final stored
// block so the inflater reaches a clean end of stream.
var deflateTail = []byte{0x00, 0x00, 0xff, 0xff, 0x01, 0x00, 0x00, 0xff, 0xff}

// inflater decodes the compressed messages of one direction for the
// capture. The pump writes each message's payload into a pipe as it
// arrives; the inflater's goroutine inflates it and emits chunks, so a
// message of any size is decoded in bounded memory. With context takeover
// (RFC 7692 §7.1.1), each message is inflated with the previous output's
// sliding window as its dictionary.
type inflater struct {
	d        *decoder
	takeover bool
	window   []byte
	size     int // window size in bytes
	fr       io.ReadCloser
	out      []byte
	msgs     chan *io.PipeReader
	pw       *io.PipeWriter
	done     chan struct{}
	exited   chan struct{}
}

func newInflater(d *decoder) *inflater {
	p := d.deflate
	noTakeover, bits := p.ServerNoContextTakeover, p.ServerMaxWindowBits
	if d.dir == capture.ClientToServer {
		noTakeover, bits = p.ClientNoContextTakeover, p.ClientMaxWindowBits
	}
	size := 1 << 15
	if bits >= 8 && bits <= 15 {
		size = bits.Bytes()
	}
	in := &inflater{d: d, takeover: !noTakeover, size: size, fr: flate.NewReader(bytes.NewReader(nil)),
		out: make([]byte, ioBufSize), msgs: make(chan *io.PipeReader), done: make(chan struct{}),
		exited: make(chan struct{})}
	go in.run()
	return in
}

// begin starts a compressed message.
func (in *inflater) begin() {
	pr, pw := io.Pipe()
	in.pw = pw
	in.msgs <- pr
}

// write passes a piece of the compressed payload; it returns once the
// inflater has consumed it, so the caller may reuse p.
func (in *inflater) write(p []byte) {
	if in.pw != nil {
		in.pw.Write(p)
	}
}

// end completes the message and waits until all its chunks are emitted.
func (in *inflater) end(cut bool) {
	if in.pw == nil {
		return
	}
	if cut {
		in.pw.CloseWithError(io.ErrUnexpectedEOF)
	} else {
		in.pw.Close()
	}
	in.pw = nil
	<-in.done
	if d := in.d; !cut || len(d.buf) > 0 || d.first {
		d.emit(!cut)
	}
}

func (in *inflater) stop() {
	if in.pw != nil {
		in.end(true)
	}
	close(in.msgs)
	<-in.exited
}

func (in *inflater) run() {
	defer close(in.exited)
	for pr := range in.msgs {
		in.inflate(pr)
		in.done <- struct{}{}
	}
}

func (in *inflater) inflate(pr *io.PipeReader) {
	defer io.Copy(io.Discard, pr) // never leave the pump blocked on the pipe
	var dict []byte
	if in.takeover {
		dict = in.window
	}
	if err := in.fr.(flate.Resetter).Reset(io.MultiReader(pr, bytes.NewReader(deflateTail)), dict); err != nil {
		in.fail(err)
		return
	}
	for {
		n, err := in.fr.Read(in.out)
		if n > 0 {
			in.d.data(in.out[:n])
			if in.takeover {
				in.slide(in.out[:n])
			}
		}
		if err == io.EOF {
			return
		}
		if err != nil {
			if err != io.ErrUnexpectedEOF { // a cut message ends early: not a decoding fault
				in.fail(err)
			}
			return
		}
	}
}

// slide appends p to the window, keeping its last size bytes.
func (in *inflater) slide(p []byte) {
	if len(p) >= in.size {
		in.window = append(in.window[:0], p[len(p)-in.size:]...)
		return
	}
	if over := len(in.window) + len(p) - in.size; over > 0 {
		in.window = append(in.window[:0], in.window[over:]...)
	}
	in.window = append(in.window, p...)
}

func (in *inflater) fail(err error) {
	in.d.rec.violation(in.d.dir, fmt.Sprintf("RFC 7692 §6.2: compressed message does not inflate: %v", err))
}

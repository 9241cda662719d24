package proxy

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/gobwas/ws"
)

// longForm returns a final frame carrying payload whose header spells the
// length in the 16-bit (ext 2) or 64-bit (ext 8) form, which RFC 6455 §5.2
// says to use only for longer payloads, masked with mask if it is not nil.
func longForm(op ws.OpCode, ext int, mask *[4]byte, payload []byte) []byte {
	b := []byte{0x80 | byte(op), 126}
	if ext == 8 {
		b[1] = 127
		b = binary.BigEndian.AppendUint64(b, uint64(len(payload)))
	} else {
		b = binary.BigEndian.AppendUint16(b, uint16(len(payload)))
	}
	n := len(b)
	if mask != nil {
		b[1] |= 0x80
		b = append(b, mask[:]...)
		n += 4
	}
	b = append(b, payload...)
	if mask != nil {
		ws.Cipher(b[n:], *mask, 0)
	}
	return b
}

// TestHeadersForwardedAsSent: the relay is frame-exact. A header that spells
// a short length the long way reaches the other peer in the same bytes, not
// re-encoded into the minimal form, in both directions.
func TestHeadersForwardedAsSent(t *testing.T) {
	up := newRawServer(t, rawServerOptions{})
	m := newMatrix(t, Options{Upstream: up.URL})
	c := dialRaw(t, m.URL, "/long-form", nil, nil)
	s := up.accept(t)
	for _, ext := range []int{2, 8} {
		mask := ws.NewMask()
		f := longForm(ws.OpText, ext, &mask, []byte("hello"))
		c.write(f)
		s.expect(f)
		f = longForm(ws.OpBinary, ext, nil, []byte("world"))
		s.write(f)
		c.expect(f)
	}
	closeHandshake(t, c, s)
	m.waitEnds(t, 1)
}

// TestHeaderForwardedBeforePayload: a frame's header, and what has arrived
// of its payload, reach the other peer before the rest of the payload has
// even been sent: the relay never holds a frame back until it is whole.
func TestHeaderForwardedBeforePayload(t *testing.T) {
	up := newRawServer(t, rawServerOptions{})
	m := newMatrix(t, Options{Upstream: up.URL})
	c := dialRaw(t, m.URL, "/header-first", nil, nil)
	s := up.accept(t)
	f := c.build(true, 0, ws.OpBinary, bigText(64<<10))
	hs := headerSize(f[:2])
	for _, part := range [][2]int{{0, hs}, {hs, hs + 100}, {hs + 100, len(f)}} {
		c.write(f[part[0]:part[1]])
		got := make([]byte, part[1]-part[0])
		s.conn.SetReadDeadline(deadline())
		if n, err := readFull(s, got); err != nil || !bytes.Equal(got, f[part[0]:part[1]]) {
			t.Fatalf("server received %d of bytes %d–%d of the frame (%v) before the rest was sent, or other bytes",
				n, part[0], part[1], err)
		}
	}
	closeHandshake(t, c, s)
	m.waitEnds(t, 1)
}

package proxy

import (
	"bytes"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsflate"
	"github.com/wstap/wstap/capture"
)

// collector is a recorder that keeps what a decoder makes. Like any Sink it
// copies what it keeps: the decoder reuses Data once record returns.
type collector struct {
	mu         sync.Mutex // the inflater's goroutine records too
	recs       []capture.Record
	violations []string
}

func (c *collector) record(r capture.Record) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch r := r.(type) {
	case *capture.Chunk:
		cc := *r
		cc.Data = bytes.Clone(r.Data)
		if r.Frame != nil {
			f := *r.Frame
			cc.Frame = &f
		}
		c.recs = append(c.recs, &cc)
	case *capture.Frame:
		f := *r
		c.recs = append(c.recs, &f)
	case *capture.Close:
		cl := *r
		c.recs = append(c.recs, &cl)
	default:
		c.recs = append(c.recs, r)
	}
}

func (c *collector) violation(dir capture.Direction, detail string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.violations = append(c.violations, dir.From()+": "+detail)
}

// summary describes the collected records in a line each: chunks as
// "op:data" ("…cut" when a data message's chunk is not its last, which in
// these small cases means the message never ended; "+z" when compressed),
// closes as "close:code:reason", and last the number of frames as
// "frames:N", whether recorded alone or with their chunk.
func (c *collector) summary() []string {
	var out []string
	frames := 0
	for _, r := range c.recs {
		switch r := r.(type) {
		case *capture.Frame:
			frames++
		case *capture.Close:
			out = append(out, fmt.Sprintf("close:%d:%s", r.Code, r.Reason))
		case *capture.Chunk:
			if r.Frame != nil {
				frames++
			}
			s := fmt.Sprintf("%v:%s", r.Opcode, r.Data)
			if !r.Last {
				s += "…cut"
			}
			if r.Compressed {
				s += "+z"
			}
			out = append(out, s)
		}
	}
	return append(out, fmt.Sprintf("frames:%d", frames))
}

// decFrame is a frame as the pump hands it to a decoder: a header and the
// unmasked payload.
type decFrame struct {
	fin     bool
	rsv     byte
	op      ws.OpCode
	payload []byte
}

func df(fin bool, op ws.OpCode, p string) decFrame {
	return decFrame{fin: fin, op: op, payload: []byte(p)}
}

// decode runs frames through a decoder of a client's frames, each payload
// in pieces of at most piece bytes out of a scratch buffer that is
// overwritten after each (as the pump reuses its own), and ends the stream.
func decode(deflate *wsflate.Parameters, piece int, frames []decFrame) *collector {
	c := &collector{}
	d := newDecoder(c, 1, capture.ClientToServer, deflate)
	scratch := make([]byte, piece)
	sawClose := false
	for _, f := range frames {
		h := ws.Header{Fin: f.fin, Rsv: f.rsv, OpCode: f.op, Length: int64(len(f.payload)), Masked: true,
			Mask: [4]byte{0x37, 0xfa, 0x21, 0x3d}}
		wire := bytes.Clone(f.payload)
		ws.Cipher(wire, h.Mask, 0)
		d.header(h, time.Now(), false)
		var pieces [][]byte
		for off := 0; off < len(wire); {
			n := copy(scratch, wire[off:])
			d.payload(h, scratch[:n], int64(off))
			pieces = append(pieces, scratch[:n])
			scratch = make([]byte, piece)
			off += n
		}
		d.endFrame(h)
		if got := bytes.Join(pieces, nil); !bytes.Equal(got, wire) {
			panic(fmt.Sprintf("the decoder left the frame's bytes changed: the pump would forward %x, not %x", got, wire))
		}
		for _, p := range pieces { // the pump reuses them once the frame is over
			clear(p)
		}
		sawClose = sawClose || f.op == ws.OpClose
	}
	d.endOfStream(io.EOF, sawClose)
	d.close()
	return c
}

// TestDecoder table-tests the frame decoder on its own: fragmentation,
// control frames inside messages, permessage-deflate with and without
// context takeover, UTF-8 checked across pieces, close frames, and a
// stream that ends inside a message. Every case runs with payloads handed
// over in pieces of 1, 3 and 64 KiB bytes.
func TestDecoder(t *testing.T) {
	takeover := &wsflate.Parameters{}
	noTakeover := &wsflate.Parameters{ClientNoContextTakeover: true}
	zt, zn := newDeflater(t, true), newDeflater(t, false)
	z := func(d *deflater, fin bool, p []byte) decFrame {
		return decFrame{fin: fin, rsv: 4, op: ws.OpText, payload: d.compress(p)}
	}
	m1, m2, m3 := jsonMessage(1), jsonMessage(2), jsonMessage(3)
	// With takeover the later messages refer back into the earlier ones.
	zt1, zt2, zt3 := z(zt, true, m1), z(zt, true, m2), z(zt, true, m3)
	if _, err := inflateAlone(zt3.payload); err == nil {
		if got, _ := inflateAlone(zt3.payload); bytes.Equal(got, m3) {
			t.Fatal("the third message inflates without the others: the takeover case tests nothing")
		}
	}
	zn1, zn2 := z(zn, true, m1), z(zn, true, m2)
	half := zn.compress(m3)
	cases := []struct {
		name       string
		deflate    *wsflate.Parameters
		frames     []decFrame
		want       []string
		violations []string // substrings, in order
	}{
		{name: "whole-text", frames: []decFrame{df(true, ws.OpText, "hello")},
			want: []string{"text:hello", "close:1006:connection closed without a close frame", "frames:1"}},
		{name: "fragmented", frames: []decFrame{df(false, ws.OpText, "hel"), df(false, ws.OpContinuation, "lo "),
			df(true, ws.OpContinuation, "world"), df(true, ws.OpClose, "\x03\xe8")},
			want: []string{"text:hello world", "close:1000:", "frames:4"}},
		{name: "empty-fragments", frames: []decFrame{df(false, ws.OpBinary, ""), df(true, ws.OpContinuation, "")},
			want: []string{"binary:", "close:1006:connection closed without a close frame", "frames:2"}},
		{name: "control-inside-message", frames: []decFrame{df(false, ws.OpText, "a"), df(true, ws.OpPing, "p"),
			df(false, ws.OpContinuation, "b"), df(true, ws.OpPong, "q"), df(true, ws.OpContinuation, "c")},
			want: []string{"ping:p", "pong:q", "text:abc", "close:1006:connection closed without a close frame", "frames:5"}},
		{name: "deflate-takeover", deflate: takeover, frames: []decFrame{zt1, zt2, zt3},
			want: []string{"text:" + string(m1) + "+z", "text:" + string(m2) + "+z", "text:" + string(m3) + "+z",
				"close:1006:connection closed without a close frame", "frames:3"}},
		{name: "deflate-no-takeover", deflate: noTakeover, frames: []decFrame{zn1, zn2,
			{rsv: 4, op: ws.OpText, payload: half[:len(half)/2]}, df(true, ws.OpPing, "mid"),
			{fin: true, op: ws.OpContinuation, payload: half[len(half)/2:]}},
			want: []string{"text:" + string(m1) + "+z", "text:" + string(m2) + "+z", "ping:mid", "text:" + string(m3) + "+z",
				"close:1006:connection closed without a close frame", "frames:5"}},
		{name: "deflate-garbage", deflate: noTakeover, frames: []decFrame{{fin: true, rsv: 4, op: ws.OpBinary, payload: []byte{0xff, 0xff, 0xff}}},
			want:       []string{"binary:+z", "close:1006:connection closed without a close frame", "frames:1"},
			violations: []string{"client: RFC 7692 §6.2: compressed message does not inflate"}},
		{name: "rsv1-without-deflate", frames: []decFrame{{fin: true, rsv: 4, op: ws.OpText, payload: []byte("x")}},
			want:       []string{"text:x", "close:1006:connection closed without a close frame", "frames:1"},
			violations: []string{"RFC 6455 §5.2: RSV bits 100 set without a negotiated extension"}},
		{name: "utf8-split-across-pieces-and-frames", frames: []decFrame{df(false, ws.OpText, "h\xc3\xa9llo \xe2\x82"),
			df(true, ws.OpContinuation, "\xac")},
			want: []string{"text:héllo €", "close:1006:connection closed without a close frame", "frames:2"}},
		{name: "utf8-invalid-across-frames", frames: []decFrame{df(false, ws.OpText, "ok \xe2\x82"), df(true, ws.OpContinuation, "x")},
			want:       []string{"text:ok \xe2\x82x", "close:1006:connection closed without a close frame", "frames:2"},
			violations: []string{"client: RFC 6455 §8.1: text message is not valid UTF-8"}},
		{name: "utf8-truncated-at-end", frames: []decFrame{df(true, ws.OpText, "end \xf0\x9f\x98")},
			want:       []string{"text:end \xf0\x9f\x98", "close:1006:connection closed without a close frame", "frames:1"},
			violations: []string{"RFC 6455 §8.1"}},
		{name: "binary-not-utf8-checked", frames: []decFrame{df(true, ws.OpBinary, "\xff\xfe")},
			want: []string{"binary:\xff\xfe", "close:1006:connection closed without a close frame", "frames:1"}},
		{name: "close-1005-on-the-wire", frames: []decFrame{df(true, ws.OpClose, "\x03\xed")},
			want:       []string{"close:1005:", "frames:1"},
			violations: []string{"RFC 6455 §7.4.1: close code 1005 may not be sent"}},
		{name: "close-one-byte", frames: []decFrame{df(true, ws.OpClose, "\x03")},
			want:       []string{"close:1005:", "frames:1"},
			violations: []string{"RFC 6455 §5.5.1: close frame payload of 1 byte"}},
		{name: "close-bad-reason", frames: []decFrame{df(true, ws.OpClose, "\x0f\xa0\xff")},
			want:       []string{"close:4000:\xff", "frames:1"},
			violations: []string{"RFC 6455 §5.5.1: close reason is not valid UTF-8"}},
		{name: "close-empty", frames: []decFrame{df(true, ws.OpClose, "")},
			want: []string{"close:1005:", "frames:1"}},
		{name: "cut-mid-message", frames: []decFrame{df(false, ws.OpText, "part")},
			want: []string{"text:part…cut", "close:1006:connection closed without a close frame", "frames:1"}},
		{name: "new-message-cuts-old", frames: []decFrame{df(false, ws.OpText, "old"), df(true, ws.OpBinary, "new")},
			want:       []string{"text:old…cut", "binary:new", "close:1006:connection closed without a close frame", "frames:2"},
			violations: []string{"RFC 6455 §5.4: new data frame while a fragmented message is unfinished"}},
		{name: "stray-continuation", frames: []decFrame{df(true, ws.OpContinuation, "lost")},
			want:       []string{"continuation:lost", "close:1006:connection closed without a close frame", "frames:1"},
			violations: []string{"RFC 6455 §5.4: continuation frame without a message to continue"}},
		{name: "reserved-opcode", frames: []decFrame{df(true, 0x3, "what")},
			want:       []string{"reserved-3:what", "close:1006:connection closed without a close frame", "frames:1"},
			violations: []string{"RFC 6455 §5.2: reserved opcode 0x3"}},
	}
	for _, tc := range cases {
		for _, piece := range []int{1, 3, 64 << 10} {
			t.Run(fmt.Sprintf("%s/%d", tc.name, piece), func(t *testing.T) {
				c := decode(tc.deflate, piece, tc.frames)
				if got := c.summary(); !slices.Equal(got, tc.want) {
					t.Errorf("decode = %.200q, want %.200q", got, tc.want)
				}
				if len(c.violations) != len(tc.violations) {
					t.Fatalf("violations = %q, want %d like %q", c.violations, len(tc.violations), tc.violations)
				}
				for i, v := range tc.violations {
					if !strings.Contains(c.violations[i], v) {
						t.Errorf("violation %d = %q, want it to contain %q", i, c.violations[i], v)
					}
				}
			})
		}
	}
}

// TestDecoderDropped: the records made while a frame is dropped say so;
// those of forwarded frames do not.
func TestDecoderDropped(t *testing.T) {
	c := &collector{}
	d := newDecoder(c, 1, capture.ServerToClient, nil)
	for i, f := range []struct {
		frame decFrame
		drop  bool
	}{{df(true, ws.OpText, "sent"), false}, {df(true, ws.OpPing, "late"), true}, {df(true, ws.OpClose, "\x03\xe9"), true}} {
		h := ws.Header{Fin: f.frame.fin, OpCode: f.frame.op, Length: int64(len(f.frame.payload))}
		d.header(h, time.Now(), f.drop)
		d.payload(h, f.frame.payload, 0)
		d.endFrame(h)
		_ = i
	}
	d.endOfStream(io.EOF, true)
	d.close()
	var got []string
	for _, r := range c.recs {
		switch r := r.(type) {
		case *capture.Chunk:
			got = append(got, fmt.Sprintf("%v:%s:%v:%v", r.Opcode, r.Data, r.Dropped, r.Frame != nil && r.Frame.Dropped))
		case *capture.Frame:
			got = append(got, fmt.Sprintf("frame:%v:%v", r.Opcode, r.Dropped))
		case *capture.Close:
			got = append(got, fmt.Sprintf("close:%d:%v", r.Code, r.Dropped))
		}
	}
	want := []string{"text:sent:false:false", "ping:late:true:true", "frame:close:true", "close:1001:true"}
	if !slices.Equal(got, want) {
		t.Errorf("records = %q, want %q", got, want)
	}
}

// FuzzDecoder feeds arbitrary frame sequences to a decoder. Its first byte
// picks the piece size and whether permessage-deflate (with or without
// context takeover) was negotiated; the rest is frames as on the wire.
// The decoder never panics and, without deflate, the chunks of data
// messages carry exactly the frames' unmasked payload bytes, and each
// complete control frame's chunk its payload (up to the capture's cap).
func FuzzDecoder(f *testing.F) {
	mask := [4]byte{1, 2, 3, 4}
	seq := func(frames ...[]byte) []byte { return slices.Concat(frames...) }
	for _, flags := range []byte{0, 1 << 2, 1, 3, 31 << 2} {
		f.Add(append([]byte{flags}, seq(
			wireFrame(false, 0, ws.OpText, &mask, []byte("hel")),
			wireFrame(true, 0, ws.OpPing, &mask, []byte("ping")),
			wireFrame(true, 0, ws.OpContinuation, &mask, []byte("lo \xe2\x82")),
			wireFrame(true, 4, ws.OpBinary, nil, []byte{0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00}),
			wireFrame(true, 0, ws.OpClose, nil, closeBody(1000, "bye")),
			wireFrame(true, 0, ws.OpBinary, nil, make([]byte, 300)),
		)...))
		f.Add(append([]byte{flags}, wireFrame(true, 0, ws.OpBinary, &mask, make([]byte, 70000))[:1000]...))
	}
	// A message longer than a chunk, in two frames: chunk boundaries fall
	// inside frames and pieces.
	long := bigText(capture.MaxChunk + 1000)
	f.Add(append([]byte{63 << 2}, seq(wireFrame(false, 0, ws.OpText, &mask, long[:1000]),
		wireFrame(true, 0, ws.OpContinuation, nil, long[1000:]))...))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 {
			return
		}
		flags, data := data[0], data[1:]
		piece := int(flags>>2) + 1
		var deflate *wsflate.Parameters
		if flags&1 != 0 {
			deflate = &wsflate.Parameters{ClientNoContextTakeover: flags&2 != 0, ClientMaxWindowBits: wsflate.WindowBits(8 + flags>>4)}
		}
		c := &collector{}
		d := newDecoder(c, 1, capture.ClientToServer, deflate)
		var wantData []byte
		var wantCtl [][]byte
		r := bytes.NewReader(data)
		sawClose, cut := false, false
		scratch := make([]byte, piece)
		for !cut {
			h, err := ws.ReadHeader(r)
			if err != nil {
				break
			}
			d.header(h, time.Now(), false)
			wire := make([]byte, min(h.Length, int64(r.Len())))
			r.Read(wire)
			p := bytes.Clone(wire)
			if h.Masked {
				ws.Cipher(p, h.Mask, 0)
			}
			var pieces [][]byte
			for off := 0; off < len(wire); {
				n := copy(scratch, wire[off:])
				d.payload(h, scratch[:n], int64(off))
				pieces = append(pieces, scratch[:n])
				scratch = make([]byte, piece)
				off += n
			}
			op := capture.Opcode(h.OpCode)
			if op <= capture.OpBinary {
				wantData = append(wantData, p...)
			}
			if cut = int64(len(p)) < h.Length; cut {
				break
			}
			d.endFrame(h)
			if got := bytes.Join(pieces, nil); !bytes.Equal(got, wire) {
				t.Fatalf("the decoder left the frame's bytes changed: the pump would forward %x, not %x", got, wire)
			}
			for _, p := range pieces { // the pump reuses them once the frame is over
				clear(p)
			}
			switch {
			case op == capture.OpClose:
				sawClose = true
			case op > capture.OpBinary:
				wantCtl = append(wantCtl, p[:min(len(p), maxControlCapture)])
			}
		}
		if cut {
			d.endOfStream(io.ErrUnexpectedEOF, sawClose)
		} else {
			d.endOfStream(io.EOF, sawClose)
		}
		d.close()
		if deflate != nil {
			return
		}
		var gotData []byte
		var gotCtl [][]byte
		for _, rec := range c.recs {
			if ch, ok := rec.(*capture.Chunk); ok {
				if ch.Opcode <= capture.OpBinary {
					gotData = append(gotData, ch.Data...)
				} else {
					gotCtl = append(gotCtl, ch.Data)
				}
			}
		}
		if !bytes.Equal(gotData, wantData) {
			t.Errorf("data chunks hold %d bytes, want the %d payload bytes of the data frames", len(gotData), len(wantData))
		}
		if !slices.EqualFunc(gotCtl, wantCtl, bytes.Equal) {
			t.Errorf("control chunks = %q, want %q", gotCtl, wantCtl)
		}
	})
}

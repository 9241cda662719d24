package decode

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strconv"
	"unicode/utf8"
)

// Protobuf wire types. See https://protobuf.dev/programming-guides/encoding/.
const (
	wireVarint     = 0
	wireFixed64    = 1
	wireLen        = 2
	wireStartGroup = 3
	wireEndGroup   = 4
	wireFixed32    = 5
)

const (
	maxFieldNumber = 1<<29 - 1
	maxPBDepth     = 32
)

// pbField is one field of a protobuf message.
type pbField struct {
	num   uint64
	wire  byte
	val   uint64 // varint, fixed32 and fixed64 values
	body  []byte // the bytes of a len field or the fields of a group
	at    int    // offset of body in the message
	start int    // offset of the tag in the message
}

type pbError struct {
	at     int
	reason string
}

func (e *pbError) Error() string {
	return fmt.Sprintf("decode: protobuf: %s at byte %d", e.reason, e.at)
}

func pbVarint(b []byte, pos int) (uint64, int, error) {
	var v uint64
	for k := 0; k < 10; k++ {
		if pos+k >= len(b) {
			return 0, 0, &pbError{len(b), "unexpected end in varint"}
		}
		c := b[pos+k]
		if k == 9 && c > 1 {
			return 0, 0, &pbError{pos, "varint overflows 64 bits"}
		}
		v |= uint64(c&0x7f) << (7 * k)
		if c < 0x80 {
			return v, pos + k + 1, nil
		}
	}
	return 0, 0, &pbError{pos, "varint longer than 10 bytes"}
}

// pbNext reads the field at pos of msg. depth counts enclosing groups.
func pbNext(msg []byte, pos, depth int) (pbField, int, error) {
	f := pbField{start: pos}
	tag, p, err := pbVarint(msg, pos)
	if err != nil {
		return f, 0, err
	}
	f.num, f.wire = tag>>3, byte(tag&7)
	if f.num == 0 || f.num > maxFieldNumber {
		return f, 0, &pbError{pos, fmt.Sprintf("field number %d out of range", f.num)}
	}
	switch f.wire {
	case wireVarint:
		f.val, p, err = pbVarint(msg, p)
		if err != nil {
			return f, 0, err
		}
	case wireFixed64:
		if len(msg)-p < 8 {
			return f, 0, &pbError{len(msg), "unexpected end in fixed64"}
		}
		f.val = binary.LittleEndian.Uint64(msg[p:])
		p += 8
	case wireFixed32:
		if len(msg)-p < 4 {
			return f, 0, &pbError{len(msg), "unexpected end in fixed32"}
		}
		f.val = uint64(binary.LittleEndian.Uint32(msg[p:]))
		p += 4
	case wireLen:
		n, q, err := pbVarint(msg, p)
		if err != nil {
			return f, 0, err
		}
		if n > uint64(len(msg)-q) {
			return f, 0, &pbError{p, fmt.Sprintf("field %d length %d exceeds the %d bytes left", f.num, n, len(msg)-q)}
		}
		f.body, f.at = msg[q:q+int(n)], q
		p = q + int(n)
	case wireStartGroup:
		if depth >= maxPBDepth {
			return f, 0, &pbError{pos, "groups nested too deep"}
		}
		start := p
		for {
			if p >= len(msg) {
				return f, 0, &pbError{len(msg), fmt.Sprintf("unexpected end in group %d", f.num)}
			}
			_, q, err := pbNext(msg, p, depth+1)
			if err != nil {
				var end *pbEndGroup
				if errors.As(err, &end) {
					if end.num != f.num {
						return f, 0, &pbError{p, fmt.Sprintf("end of group %d inside group %d", end.num, f.num)}
					}
					f.body, f.at = msg[start:p], start
					p = end.next
					break
				}
				return f, 0, err
			}
			p = q
		}
	case wireEndGroup:
		return f, 0, &pbEndGroup{num: f.num, next: p, at: pos}
	default:
		return f, 0, &pbError{pos, fmt.Sprintf("unknown wire type %d", f.wire)}
	}
	return f, p, nil
}

// pbEndGroup is what pbNext returns at an end-group tag.
type pbEndGroup struct {
	num      uint64
	next, at int
}

func (e *pbEndGroup) Error() string {
	return fmt.Sprintf("decode: protobuf: end of group %d without its start at byte %d", e.num, e.at)
}

// pbCheck reports whether msg is a whole message of at least one field,
// and counts its fields. It stops, content, at byte limit (0: never).
func pbCheck(msg []byte, limit int) (int, error) {
	n := 0
	for pos := 0; pos < len(msg); n++ {
		if limit > 0 && pos >= limit {
			break
		}
		_, next, err := pbNext(msg, pos, 0)
		if err != nil {
			return n, err
		}
		pos = next
	}
	if n == 0 {
		return 0, &pbError{0, "no fields"}
	}
	return n, nil
}

// pbWriter shows a message field by field.
type pbWriter struct {
	t      tree
	ctx    context.Context
	steps  int
	budget int // bytes it may still try to read as nested messages
}

func (w *pbWriter) message(msg []byte, base int) error {
	for pos := 0; pos < len(msg); {
		if w.steps++; w.steps&4095 == 0 && w.ctx != nil {
			if err := w.ctx.Err(); err != nil {
				return fmt.Errorf("decode: protobuf: %w", err)
			}
		}
		f, next, err := pbNext(msg, pos, 0)
		if err != nil {
			var pe *pbError
			if errors.As(err, &pe) {
				return &pbError{base + pe.at, pe.reason}
			}
			var ee *pbEndGroup
			if errors.As(err, &ee) {
				return &pbEndGroup{ee.num, 0, base + ee.at}
			}
			return err
		}
		if pos > 0 {
			w.t.nl()
		}
		if err := w.field(f, base); err != nil {
			return err
		}
		pos = next
	}
	return nil
}

func (w *pbWriter) field(f pbField, base int) error {
	t := &w.t
	t.put(Key, strconv.FormatUint(f.num, 10))
	t.colon()
	switch f.wire {
	case wireVarint:
		t.put(Meta, "varint ")
		t.put(Number, strconv.FormatUint(f.val, 10))
		if f.val > math.MaxInt64 {
			t.put(Meta, " (int64 "+strconv.FormatInt(int64(f.val), 10)+")")
		}
	case wireFixed32:
		t.put(Meta, "fixed32 ")
		t.put(Number, fmt.Sprintf("0x%08x", f.val))
		t.put(Meta, " (float "+formatFloat(float64(math.Float32frombits(uint32(f.val))), 32)+")")
	case wireFixed64:
		t.put(Meta, "fixed64 ")
		t.put(Number, fmt.Sprintf("0x%016x", f.val))
		t.put(Meta, " (double "+formatFloat(math.Float64frombits(f.val), 64)+")")
	case wireStartGroup:
		return w.nested("group", f.body, base+f.at)
	case wireLen:
		body := f.body
		off := base + f.at
		switch {
		case len(body) == 0:
			t.put(Meta, "len 0 ")
			t.put(String, `""`)
		case utf8.Valid(body) && pbText(body, false):
			w.str(body)
		case w.depth() < maxPBDepth && w.budget >= len(body) && w.isMessage(body):
			return w.nested("message", body, off)
		case utf8.Valid(body) && pbText(body, true):
			w.str(body)
		default:
			t.put(Meta, "len "+strconv.Itoa(len(body))+" ")
			if t.b != nil {
				t.putBytes(String, appendHexBytes(nil, body))
			}
		}
	}
	return nil
}

func (w *pbWriter) depth() int { return w.t.depth }

func (w *pbWriter) isMessage(b []byte) bool {
	w.budget -= len(b)
	_, err := pbCheck(b, 0)
	return err == nil
}

func (w *pbWriter) str(b []byte) {
	w.t.put(Meta, "len "+strconv.Itoa(len(b))+" ")
	if w.t.b != nil {
		w.t.putBytes(String, appendQuoted(nil, b))
	}
}

// nested shows body, the fields of a group or message, between braces.
func (w *pbWriter) nested(label string, body []byte, base int) error {
	w.t.put(Meta, label+" ")
	n := len(body)
	w.t.open("{", n)
	if err := w.message(body, base); err != nil {
		return err
	}
	w.t.close("}", n)
	return nil
}

// pbText reports whether b, valid UTF-8, reads as text: no control
// characters, or with loose only tabs and line breaks.
func pbText(b []byte, loose bool) bool {
	for i := 0; i < len(b); {
		c := b[i]
		if c < utf8.RuneSelf {
			if !printable[c] && !(loose && (c == '\t' || c == '\n' || c == '\r')) {
				return false
			}
			i++
			continue
		}
		r, size := utf8.DecodeRune(b[i:])
		if r < 0xa0 {
			return false
		}
		i += size
	}
	return true
}

// formatProtobuf shows data as a protobuf message without a schema.
func formatProtobuf(ctx context.Context, data []byte, opts Options) (Doc, error) {
	w := &pbWriter{ctx: ctx, budget: 8*len(data) + 64<<10}
	w.t.b = newBuilder(opts, true)
	if len(data) > 0 {
		w.t.b.open = true
	}
	if err := w.message(data, 0); err != nil {
		return nil, err
	}
	return asDoc(w.t.b.doc(nil))
}

// looksProtobuf reports whether data is a message of at least one field.
// Beyond limit bytes (0: none) it stops content.
func looksProtobuf(data []byte, limit int) bool {
	_, err := pbCheck(data, limit)
	return err == nil
}

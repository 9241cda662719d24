package decode

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/vmihailenco/msgpack/v5"
	"github.com/vmihailenco/msgpack/v5/msgpcode"
)

// maxTreeDepth bounds the nesting of MessagePack values.
const maxTreeDepth = 1000

// mpWalker walks MessagePack values with the msgpack decoder, peeking at
// each code so that every type, ext and bin included, is shown in payload
// order rather than decoded into Go maps.
type mpWalker struct {
	t     tree
	d     *msgpack.Decoder
	r     *bytes.Reader
	data  []byte
	ctx   context.Context
	steps int
	limit int // stop, content, once this many bytes are read (0: never)
	level int
	// For telling MessagePack from CBOR: map keys that are strings and
	// that are not, and top-level values.
	strKeys, otherKeys, tops int
	maxTops                  int // fail beyond this many top-level values (0: no limit)
}

// maxTops is the most top-level values a payload sniffed as MessagePack or
// CBOR may hold: a message of a thousand small values is more likely
// something else, and costly to check.
const maxTops = 64

var errStop = errors.New("decode: stop")

func (w *mpWalker) off() int { return len(w.data) - w.r.Len() }

func (w *mpWalker) fail(err error, at int) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("decode: msgpack: unexpected end at byte %d", len(w.data))
	}
	return fmt.Errorf("decode: msgpack: %s at byte %d", strings.TrimPrefix(err.Error(), "msgpack: "), at)
}

func isMapCode(c byte) bool {
	return msgpcode.IsFixedMap(c) || c == msgpcode.Map16 || c == msgpcode.Map32
}

func isArrayCode(c byte) bool {
	return msgpcode.IsFixedArray(c) || c == msgpcode.Array16 || c == msgpcode.Array32
}

// walk reads values until the data ends.
func (w *mpWalker) walk() error {
	for first := true; w.r.Len() > 0; first = false {
		if !first {
			w.t.nl()
		}
		if w.tops++; w.maxTops > 0 && w.tops > w.maxTops {
			return errors.New("decode: msgpack: too many top-level values")
		}
		if err := w.value(Plain); err != nil {
			return err
		}
	}
	return nil
}

// value reads one value; key is Key when it is a map key.
func (w *mpWalker) value(key Class) error {
	at := w.off()
	if w.limit > 0 && at >= w.limit {
		return errStop
	}
	if w.steps++; w.steps&4095 == 0 && w.ctx != nil {
		if err := w.ctx.Err(); err != nil {
			return fmt.Errorf("decode: msgpack: %w", err)
		}
	}
	code, err := w.d.PeekCode()
	if err != nil {
		return w.fail(err, at)
	}
	str, number := String, Number
	if key == Key {
		str, number = Key, Key
		if msgpcode.IsString(code) {
			w.strKeys++
		} else {
			w.otherKeys++
		}
	}
	switch {
	case isMapCode(code), isArrayCode(code):
		isMap := isMapCode(code)
		var n int
		if isMap {
			n, err = w.d.DecodeMapLen()
		} else {
			n, err = w.d.DecodeArrayLen()
		}
		if err != nil {
			return w.fail(err, at)
		}
		if w.level++; w.level > maxTreeDepth {
			return fmt.Errorf("decode: msgpack: nesting deeper than %d at byte %d", maxTreeDepth, at)
		}
		open, closer := "[", "]"
		if isMap {
			open, closer = "{", "}"
		}
		w.t.open(open, n)
		for i := range n {
			if i > 0 {
				w.t.sep()
			}
			if isMap {
				if err := w.value(Key); err != nil {
					return err
				}
				w.t.colon()
			}
			if err := w.value(Plain); err != nil {
				return err
			}
		}
		w.t.close(closer, n)
		w.level--
	case code == msgpcode.Nil:
		if err := w.d.DecodeNil(); err != nil {
			return w.fail(err, at)
		}
		w.t.put(Literal, "null")
	case code == msgpcode.False, code == msgpcode.True:
		v, err := w.d.DecodeBool()
		if err != nil {
			return w.fail(err, at)
		}
		w.t.put(Literal, strconv.FormatBool(v))
	case code == msgpcode.Uint64:
		v, err := w.d.DecodeUint64()
		if err != nil {
			return w.fail(err, at)
		}
		w.t.put(number, strconv.FormatUint(v, 10))
	case msgpcode.IsFixedNum(code), code >= msgpcode.Uint8 && code <= msgpcode.Int64:
		v, err := w.d.DecodeInt64()
		if err != nil {
			return w.fail(err, at)
		}
		w.t.put(number, strconv.FormatInt(v, 10))
	case code == msgpcode.Float:
		v, err := w.d.DecodeFloat32()
		if err != nil {
			return w.fail(err, at)
		}
		w.t.put(number, formatFloat(float64(v), 32))
	case code == msgpcode.Double:
		v, err := w.d.DecodeFloat64()
		if err != nil {
			return w.fail(err, at)
		}
		w.t.put(number, formatFloat(v, 64))
	case msgpcode.IsString(code) || msgpcode.IsBin(code):
		n, err := w.d.DecodeBytesLen()
		if err != nil {
			return w.fail(err, at)
		}
		b, err := w.read(n, at)
		if err != nil {
			return err
		}
		switch {
		case msgpcode.IsBin(code):
			w.putBin(str, b)
		case w.t.b != nil:
			w.t.putBytes(str, appendQuoted(nil, b))
		}
	case msgpcode.IsExt(code):
		id, n, err := w.d.DecodeExtHeader()
		if err != nil {
			return w.fail(err, at)
		}
		b, err := w.read(n, at)
		if err != nil {
			return err
		}
		if t, ok := mpTimestamp(id, b); ok {
			w.t.put(Meta, "timestamp(")
			w.t.put(Literal, t.Format(time.RFC3339Nano))
			w.t.put(Meta, ")")
			break
		}
		w.t.put(Meta, "ext(")
		w.t.put(Number, strconv.Itoa(int(id)))
		w.t.put(Punct, ", ")
		w.putBin(String, b)
		w.t.put(Meta, ")")
	default:
		return fmt.Errorf("decode: msgpack: invalid code 0x%02x at byte %d", code, at)
	}
	return nil
}

// read reads n bytes of a string, bin or ext that began at byte at.
func (w *mpWalker) read(n, at int) ([]byte, error) {
	if n < 0 {
		return nil, nil // a nil string or bin (DecodeBytesLen gives -1)
	}
	if n > w.r.Len() {
		return nil, w.fail(io.ErrUnexpectedEOF, at)
	}
	if w.t.b == nil {
		_, err := w.r.Seek(int64(n), io.SeekCurrent)
		return nil, err
	}
	start := w.off()
	if _, err := w.r.Seek(int64(n), io.SeekCurrent); err != nil {
		return nil, err
	}
	return w.data[start : start+n], nil
}

func (w *mpWalker) putBin(c Class, b []byte) {
	if w.t.b == nil {
		return
	}
	w.t.putBytes(c, appendHexBytes(nil, b))
	w.t.put(Meta, " ("+strconv.Itoa(len(b))+" B)")
}

// mpTimestamp decodes the timestamp extension (type -1) in its 32-, 64-
// and 96-bit forms.
func mpTimestamp(id int8, b []byte) (time.Time, bool) {
	if id != -1 {
		return time.Time{}, false
	}
	switch len(b) {
	case 4:
		return time.Unix(int64(binary.BigEndian.Uint32(b)), 0).UTC(), true
	case 8:
		v := binary.BigEndian.Uint64(b)
		nsec := int64(v >> 34)
		if nsec > 999999999 {
			return time.Time{}, false
		}
		return time.Unix(int64(v&(1<<34-1)), nsec).UTC(), true
	case 12:
		nsec := int64(binary.BigEndian.Uint32(b))
		if nsec > 999999999 {
			return time.Time{}, false
		}
		return time.Unix(int64(binary.BigEndian.Uint64(b[4:])), nsec).UTC(), true
	}
	return time.Time{}, false
}

func newMPWalker(data []byte) *mpWalker {
	r := bytes.NewReader(data)
	return &mpWalker{d: msgpack.NewDecoder(r), r: r, data: data}
}

// formatMsgPack shows every top-level value of data.
func formatMsgPack(ctx context.Context, data []byte, opts Options) (Doc, error) {
	if len(data) == 0 {
		return nil, errors.New("decode: msgpack: unexpected end at byte 0")
	}
	w := newMPWalker(data)
	w.ctx = ctx
	w.t.b = newBuilder(opts, true)
	w.t.b.open = true
	if err := w.walk(); err != nil {
		return nil, err
	}
	return asDoc(w.t.b.doc(nil))
}

// looksMsgPack reports whether data is MessagePack whose first value is a
// map or array (or, with anyTop, anything). Beyond limit bytes (0: none)
// it stops content. The score says how natural the reading is, see
// structureScore.
func looksMsgPack(data []byte, limit int, anyTop bool) (ok bool, score int) {
	if len(data) == 0 || !anyTop && !(isMapCode(data[0]) || isArrayCode(data[0])) {
		return false, 0
	}
	w := newMPWalker(data)
	w.limit = limit
	w.maxTops = maxTops
	if err := w.walk(); err != nil && !errors.Is(err, errStop) {
		return false, 0
	}
	return true, structureScore(w.strKeys, w.otherKeys, w.tops)
}

// structureScore rates a reading of bytes as MessagePack or CBOR: maps
// keyed by strings are natural, other keys and more than one top-level
// value less so. Where both formats read the same bytes, the higher score
// wins.
func structureScore(strKeys, otherKeys, tops int) int {
	return strKeys - otherKeys - 2*max(tops-1, 0)
}

package capture

// A minimal CBOR (RFC 8949) encoder and decoder for the fixed-layout records
// on the hot path. Nested maps (handshakes, HTTP exchanges, index checkpoints)
// go through fxamacker/cbor instead; see codec.go.

import (
	"encoding/binary"
	"errors"
	"math"
)

const (
	majorUint  = 0
	majorNeg   = 1
	majorBytes = 2
	majorText  = 3
	majorArray = 4
	majorMap   = 5
	majorTag   = 6
	majorOther = 7
)

var errCBOR = errors.New("malformed CBOR")

func appendHead(b []byte, major byte, n uint64) []byte {
	m := major << 5
	switch {
	case n < 24:
		return append(b, m|byte(n))
	case n <= math.MaxUint8:
		return append(b, m|24, byte(n))
	case n <= math.MaxUint16:
		return binary.BigEndian.AppendUint16(append(b, m|25), uint16(n))
	case n <= math.MaxUint32:
		return binary.BigEndian.AppendUint32(append(b, m|26), uint32(n))
	}
	return binary.BigEndian.AppendUint64(append(b, m|27), n)
}

func appendUint(b []byte, n uint64) []byte { return appendHead(b, majorUint, n) }

func appendInt(b []byte, n int64) []byte {
	if n >= 0 {
		return appendHead(b, majorUint, uint64(n))
	}
	return appendHead(b, majorNeg, uint64(-(n + 1)))
}

func appendBytes(b, p []byte) []byte { return append(appendHead(b, majorBytes, uint64(len(p))), p...) }

func appendText(b []byte, s string) []byte {
	return append(appendHead(b, majorText, uint64(len(s))), s...)
}

func appendBool(b []byte, v bool) []byte {
	if v {
		return append(b, 0xf5)
	}
	return append(b, 0xf4)
}

// cborDec reads CBOR items from a byte slice. Every method checks bounds, so
// arbitrary input yields errCBOR, never a panic.
type cborDec struct {
	b   []byte
	off int
}

func (d *cborDec) more() bool { return d.off < len(d.b) }

// head reads an item head and returns its major type and argument. Indefinite
// lengths (additional info 31) are rejected: the writer never produces them.
func (d *cborDec) head() (major byte, arg uint64, err error) {
	if d.off >= len(d.b) {
		return 0, 0, errCBOR
	}
	ib := d.b[d.off]
	d.off++
	major, info := ib>>5, ib&0x1f
	var n int
	switch {
	case info < 24:
		return major, uint64(info), nil
	case info == 24:
		n = 1
	case info == 25:
		n = 2
	case info == 26:
		n = 4
	case info == 27:
		n = 8
	default:
		return 0, 0, errCBOR
	}
	if len(d.b)-d.off < n {
		return 0, 0, errCBOR
	}
	p := d.b[d.off : d.off+n]
	d.off += n
	switch n {
	case 1:
		arg = uint64(p[0])
	case 2:
		arg = uint64(binary.BigEndian.Uint16(p))
	case 4:
		arg = uint64(binary.BigEndian.Uint32(p))
	default:
		arg = binary.BigEndian.Uint64(p)
	}
	return major, arg, nil
}

func (d *cborDec) uint() (uint64, error) {
	m, v, err := d.head()
	if err != nil || m != majorUint {
		return 0, errCBOR
	}
	return v, nil
}

func (d *cborDec) int() (int64, error) {
	m, v, err := d.head()
	if err != nil || v > math.MaxInt64 {
		return 0, errCBOR
	}
	switch m {
	case majorUint:
		return int64(v), nil
	case majorNeg:
		return -1 - int64(v), nil
	}
	return 0, errCBOR
}

func (d *cborDec) bool() (bool, error) {
	if d.off >= len(d.b) {
		return false, errCBOR
	}
	switch d.b[d.off] {
	case 0xf4:
		d.off++
		return false, nil
	case 0xf5:
		d.off++
		return true, nil
	}
	return false, errCBOR
}

// str reads a byte or text string of the given major type and returns a slice
// of the input (not a copy).
func (d *cborDec) str(major byte) ([]byte, error) {
	m, n, err := d.head()
	if err != nil || m != major || n > uint64(len(d.b)-d.off) {
		return nil, errCBOR
	}
	p := d.b[d.off : d.off+int(n)]
	d.off += int(n)
	return p, nil
}

func (d *cborDec) array() (int, error) {
	m, n, err := d.head()
	if err != nil || m != majorArray || n > uint64(len(d.b)-d.off) {
		return 0, errCBOR
	}
	return int(n), nil
}

// skip steps over one complete item and returns its bytes.
func (d *cborDec) skip() ([]byte, error) {
	start := d.off
	if err := d.skipDepth(0); err != nil {
		return nil, err
	}
	return d.b[start:d.off], nil
}

func (d *cborDec) skipDepth(depth int) error {
	if depth > 32 {
		return errCBOR
	}
	m, n, err := d.head()
	if err != nil {
		return err
	}
	switch m {
	case majorUint, majorNeg, majorOther:
		return nil
	case majorBytes, majorText:
		if n > uint64(len(d.b)-d.off) {
			return errCBOR
		}
		d.off += int(n)
		return nil
	case majorArray, majorMap:
		if m == majorMap {
			if n > math.MaxInt32 {
				return errCBOR
			}
			n *= 2
		}
		if n > uint64(len(d.b)-d.off) {
			return errCBOR
		}
		for range n {
			if err := d.skipDepth(depth + 1); err != nil {
				return err
			}
		}
		return nil
	case majorTag:
		return d.skipDepth(depth + 1)
	}
	return errCBOR
}

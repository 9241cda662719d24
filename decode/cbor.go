package decode

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"sync"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/fxamacker/cbor/v2"
)

// cborDiag is the diagnostic mode CBOR is shown with: byte strings in hex,
// and limits that let any payload wstap records through.
var cborDiag = sync.OnceValues(func() (cbor.DiagMode, error) {
	return cbor.DiagOptions{
		ByteStringEncoding: cbor.ByteStringBase16Encoding,
		MaxNestedLevels:    1024,
		MaxArrayElements:   math.MaxInt32,
		MaxMapPairs:        math.MaxInt32,
	}.DiagMode()
})

// cborError words an error of the cbor package for byte off of data.
func cborError(err error, data []byte, off int) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("decode: cbor: unexpected end at byte %d", len(data))
	}
	return fmt.Errorf("decode: cbor: %s (item at byte %d)", strings.TrimPrefix(err.Error(), "cbor: "), off)
}

// cborItems calls fn with the diagnostic notation of each item of data, a
// CBOR sequence of one or more items.
func cborItems(ctx context.Context, data []byte, fn func(edn string)) error {
	dm, err := cborDiag()
	if err != nil {
		return fmt.Errorf("decode: cbor: %w", err)
	}
	if len(data) == 0 {
		return cborError(io.EOF, data, 0)
	}
	for rest := data; len(rest) > 0; {
		if ctx != nil {
			if err := ctx.Err(); err != nil {
				return fmt.Errorf("decode: cbor: %w", err)
			}
		}
		off := len(data) - len(rest)
		edn, next, err := dm.DiagnoseFirst(rest)
		if err != nil {
			return cborError(err, data, off)
		}
		fn(edn)
		rest = next
	}
	return nil
}

// formatCBOR shows each item of data in RFC 8949 diagnostic notation
// (cbor.Diagnose), pretty-printed like JSON.
func formatCBOR(ctx context.Context, data []byte, opts Options) (Doc, error) {
	t := tree{b: newBuilder(opts, true)}
	t.b.open = true
	first := true
	err := cborItems(ctx, data, func(edn string) {
		if !first {
			t.nl()
		}
		first = false
		prettyEDN(&t, edn)
	})
	if err != nil {
		return nil, err
	}
	return asDoc(t.b.doc(nil))
}

// prettyEDN writes the diagnostic notation of one item, as cbor.Diagnose
// writes it, with one member or element per line. Text strings are shown
// with their \u escapes decoded where the rune is printable; byte strings
// get their length.
func prettyEDN(t *tree, s string) {
	type frame struct {
		closer byte // '}', ']' or ')'
		isMap  bool
		key    bool // the next scalar is a map key
		indent bool // the frame indents its members
	}
	var stack []frame
	class := func(c Class) Class {
		if n := len(stack); n > 0 && stack[n-1].isMap && stack[n-1].key && (c == String || c == Number) {
			return Key
		}
		return c
	}
	// empty reports whether the next non-space byte from i closes with c.
	empty := func(i int, c byte) bool {
		for i < len(s) && s[i] == ' ' {
			i++
		}
		return i < len(s) && s[i] == c
	}
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ':
			i++
		case c == '{' || c == '[' || (c == '(' && strings.HasPrefix(s[i:], "(_")):
			open := string(c)
			i++
			if i < len(s) && s[i] == '_' {
				open += "_"
				i++
			}
			closer := map[byte]byte{'{': '}', '[': ']', '(': ')'}[c]
			if empty(i, closer) {
				for s[i] != closer {
					i++
				}
				t.put(Punct, open+string(closer))
				i++
				break
			}
			t.open(open, 1)
			stack = append(stack, frame{closer: closer, isMap: c == '{', key: c == '{', indent: true})
		case c == '}' || c == ']' || c == ')':
			i++
			if n := len(stack); n > 0 {
				f := stack[n-1]
				stack = stack[:n-1]
				if f.indent {
					t.close(string(c), 1)
					break
				}
				t.put(Meta, string(c))
				break
			}
			t.put(Error, string(c))
		case c == ',':
			i++
			t.sep()
			if n := len(stack); n > 0 && stack[n-1].isMap {
				stack[n-1].key = true
			}
		case c == ':':
			i++
			t.colon()
			if n := len(stack); n > 0 {
				stack[n-1].key = false
			}
		case c == '"' || c == '\'':
			j := i + 1
			for j < len(s) && s[j] != c {
				if s[j] == '\\' {
					j++
				}
				j++
			}
			j = min(j+1, len(s))
			if j < len(s) && s[j] == '_' {
				j++
			}
			t.putBytes(class(String), unescapeEDN(s[i:j]))
			i = j
		case c == '-' || (c >= '0' && c <= '9'):
			j := i + 1
			for j < len(s) && (isWordByte(s[j]) && s[j] != '-' || (s[j] == '-' || s[j] == '+') && (s[j-1] == 'e' || s[j-1] == 'E')) {
				j++
			}
			if j < len(s) && s[j] == '(' { // a tag
				t.put(Meta, s[i:j+1])
				stack = append(stack, frame{closer: ')'})
				i = j + 1
				break
			}
			t.put(class(Number), s[i:j])
			i = j
		default:
			j := i
			for j < len(s) && (s[j] >= 'a' && s[j] <= 'z' || s[j] >= 'A' && s[j] <= 'Z' || s[j] >= '0' && s[j] <= '9') {
				j++
			}
			if j < len(s) && s[j] == '\'' { // h'…', b64'…' and the like
				k := strings.IndexByte(s[j+1:], '\'')
				if k < 0 {
					k = len(s) - j - 1
				}
				end := j + 1 + k + 1
				end = min(end, len(s))
				t.put(class(String), s[i:end])
				if s[i:j] == "h" {
					t.put(Meta, " ("+strconv.Itoa((end-j-2)/2)+" B)")
				}
				i = end
				break
			}
			if s[i:j] == "simple" && j < len(s) && s[j] == '(' {
				k := strings.IndexByte(s[j:], ')')
				if k < 0 {
					k = len(s) - j - 1
				}
				t.put(class(Literal), s[i:j+k+1])
				i = j + k + 1
				break
			}
			if j == i {
				_, size := utf8.DecodeRuneInString(s[i:])
				t.put(Error, s[i:i+size])
				i += size
				break
			}
			switch w := s[i:j]; w {
			case "NaN", "Infinity":
				t.put(class(Number), w)
			default:
				t.put(class(Literal), w)
			}
			i = j
		}
	}
}

// unescapeEDN returns the quoted string q with its \uXXXX escapes (and
// surrogate pairs) decoded where they stand for a printable rune.
func unescapeEDN(q string) []byte {
	out := make([]byte, 0, len(q))
	for i := 0; i < len(q); {
		if q[i] != '\\' || i+1 >= len(q) {
			out = append(out, q[i])
			i++
			continue
		}
		if q[i+1] != 'u' || i+6 > len(q) {
			out = append(out, q[i], q[i+1])
			i += 2
			continue
		}
		r, n := hex4(q[i+2:i+6]), 6
		if utf16.IsSurrogate(r) && i+12 <= len(q) && q[i+6] == '\\' && q[i+7] == 'u' {
			r, n = utf16.DecodeRune(r, hex4(q[i+8:i+12])), 12
		}
		if r >= 0xa0 && !escapeRune(r) && r != utf8.RuneError && unicode.IsPrint(r) {
			out = utf8.AppendRune(out, r)
		} else {
			out = append(out, q[i:i+n]...)
		}
		i += n
	}
	return out
}

func hex4(s string) rune {
	v, err := strconv.ParseUint(s, 16, 16)
	if err != nil {
		return utf8.RuneError
	}
	return rune(v)
}

// looksCBOR reports whether data is a CBOR sequence whose first item is a
// map, an array or a tag (or, with anyTop, anything). Beyond limit bytes
// (0: none) it only checks the heads of a prefix. The score is that of
// structureScore.
func looksCBOR(data []byte, limit int, anyTop bool) (ok bool, score int) {
	if len(data) == 0 {
		return false, 0
	}
	if m := data[0] >> 5; !anyTop && m != 4 && m != 5 && m != 6 {
		return false, 0
	}
	end := len(data) + 1
	if limit > 0 && len(data) > limit {
		end = limit
	}
	ok, score, tops := cborScan(data, end)
	if tops > maxTops {
		return false, 0
	}
	if ok && end > len(data) {
		ok = cborItems(nil, data, func(string) {}) == nil
	}
	return ok, score
}

// cborScan walks the heads of the CBOR items in data up to byte limit and
// reports whether none is malformed (a sequence that ends before limit must
// be complete), with the structureScore of what it saw and the number of
// top-level items. It skips string contents without reading them. See RFC
// 8949, section 3.
func cborScan(data []byte, limit int) (ok bool, score, tops int) {
	type frame struct {
		left  int64 // items left; -1: until a break
		isMap bool
		seen  int64 // items seen
	}
	var stack []frame
	strKeys, otherKeys := 0, 0
	pos := 0
	for pos < len(data) && pos < limit {
		ib := data[pos]
		pos++
		major, ai := ib>>5, ib&31
		if n := len(stack); n > 0 && stack[n-1].isMap && stack[n-1].seen%2 == 0 && ib != 0xff {
			if major == 3 {
				strKeys++
			} else {
				otherKeys++
			}
		}
		if len(stack) == 0 {
			tops++
		}
		if ib == 0xff {
			if n := len(stack); n == 0 || stack[n-1].left != -1 {
				return false, 0, tops
			}
			stack = stack[:len(stack)-1]
		} else {
			var arg uint64
			switch {
			case ai < 24:
				arg = uint64(ai)
			case ai <= 27:
				n := 1 << (ai - 24)
				if pos+n > len(data) {
					return false, 0, tops
				}
				for _, b := range data[pos : pos+n] {
					arg = arg<<8 | uint64(b)
				}
				pos += n
			case ai == 31:
				if major < 2 || major == 6 {
					return false, 0, tops
				}
			default:
				return false, 0, tops
			}
			indef := ai == 31
			switch major {
			case 2, 3:
				if indef {
					stack = append(stack, frame{left: -1})
					continue
				}
				if arg > uint64(len(data)-pos) {
					return false, 0, tops
				}
				pos += int(arg)
			case 4, 5:
				if indef {
					stack = append(stack, frame{left: -1, isMap: major == 5})
					continue
				}
				if major == 5 {
					if arg > math.MaxInt64/2 {
						return false, 0, tops
					}
					arg *= 2
				}
				if arg > math.MaxInt64 {
					return false, 0, tops
				}
				if arg > 0 {
					stack = append(stack, frame{left: int64(arg), isMap: major == 5})
					continue
				}
			case 6:
				stack = append(stack, frame{left: 1})
				continue
			}
		}
		// An item ended: count it in the containers it completes.
		for n := len(stack); n > 0; n = len(stack) {
			f := &stack[n-1]
			f.seen++
			if f.left < 0 {
				break
			}
			if f.left--; f.left > 0 {
				break
			}
			stack = stack[:n-1]
		}
	}
	return pos >= limit || len(stack) == 0, structureScore(strKeys, otherKeys, tops), tops
}

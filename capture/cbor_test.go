package capture

import (
	"bytes"
	"encoding/hex"
	"errors"
	"math"
	"testing"
)

func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestCBORHeads(t *testing.T) {
	tests := []struct {
		n    uint64
		want string // the head of a uint
	}{
		{0, "00"}, {23, "17"}, {24, "1818"}, {255, "18ff"}, {256, "190100"}, {65535, "19ffff"},
		{65536, "1a00010000"}, {math.MaxUint32, "1affffffff"}, {math.MaxUint32 + 1, "1b0000000100000000"},
		{math.MaxUint64, "1bffffffffffffffff"},
	}
	for _, tt := range tests {
		b := appendUint(nil, tt.n)
		if got := hex.EncodeToString(b); got != tt.want {
			t.Errorf("appendUint(%d) = %s, want %s", tt.n, got, tt.want)
		}
		d := &cborDec{b: b}
		if v, err := d.uint(); v != tt.n || err != nil || d.more() {
			t.Errorf("uint(%s) = %d, %v (more %v); want %d, nil, all read", tt.want, v, err, d.more(), tt.n)
		}
	}
	for _, n := range []int64{0, 1, -1, 23, -24, -25, 1 << 40, -1 << 40, math.MaxInt64, math.MinInt64} {
		d := &cborDec{b: appendInt(nil, n)}
		if v, err := d.int(); v != n || err != nil || d.more() {
			t.Errorf("int(appendInt(%d)) = %d, %v; want %d, nil", n, v, err, n)
		}
	}
}

// TestCBORDecoderErrors: every method of cborDec refuses input that is not
// what it reads, or that ends too soon, with errCBOR.
func TestCBORDecoderErrors(t *testing.T) {
	type method func(d *cborDec) (any, error)
	var (
		uintM  method = func(d *cborDec) (any, error) { return d.uint() }
		intM   method = func(d *cborDec) (any, error) { return d.int() }
		boolM  method = func(d *cborDec) (any, error) { return d.bool() }
		bytesM method = func(d *cborDec) (any, error) { return d.str(majorBytes) }
		textM  method = func(d *cborDec) (any, error) { return d.str(majorText) }
		arrayM method = func(d *cborDec) (any, error) { return d.array() }
		skipM  method = func(d *cborDec) (any, error) { return d.skip() }
	)
	tests := []struct {
		name string
		m    method
		in   string
		want any // the value, or nil for errCBOR
	}{
		{"uint", uintM, "1819", uint64(25)},
		{"uint of nothing", uintM, "", nil},
		{"uint, head cut", uintM, "19ff", nil},
		{"uint, 8-byte head cut", uintM, "1b00000000", nil},
		{"uint, reserved info 28", uintM, "1c", nil},
		{"uint, indefinite", uintM, "1f", nil},
		{"uint of a negative", uintM, "20", nil},
		{"uint of bytes", uintM, "4100", nil},
		{"int -1", intM, "20", int64(-1)},
		{"int -256", intM, "38ff", int64(-256)},
		{"int, MinInt64", intM, "3b7fffffffffffffff", int64(math.MinInt64)},
		{"int, negative out of range", intM, "3b8000000000000000", nil},
		{"int, positive out of range", intM, "1b8000000000000000", nil},
		{"int of text", intM, "6161", nil},
		{"int of false", intM, "f4", nil},
		{"int, head cut", intM, "39", nil},
		{"bool false", boolM, "f4", false},
		{"bool true", boolM, "f5", true},
		{"bool of null", boolM, "f6", nil},
		{"bool of 0", boolM, "00", nil},
		{"bool of nothing", boolM, "", nil},
		{"bytes", bytesM, "43616263", []byte("abc")},
		{"empty bytes", bytesM, "40", []byte{}},
		{"bytes past the end", bytesM, "4461626364"[:8], nil},
		{"bytes of a huge length", bytesM, "5bffffffffffffffff", nil},
		{"bytes of text", bytesM, "6161", nil},
		{"text", textM, "6161", []byte("a")},
		{"text of bytes", textM, "4161", nil},
		{"text, head cut", textM, "78", nil},
		{"array", arrayM, "83010203", 3},
		{"array longer than the input", arrayM, "8301", nil},
		{"array of a map", arrayM, "a0", nil},
		{"array, huge", arrayM, "9bffffffffffffffff", nil},
		{"skip uint", skipM, "1b0000000000000001", unhex(t, "1b0000000000000001")},
		{"skip negative", skipM, "20", unhex(t, "20")},
		{"skip simple", skipM, "f6", unhex(t, "f6")},
		{"skip float", skipM, "f93c00", unhex(t, "f93c00")},
		{"skip bytes", skipM, "42ffff", unhex(t, "42ffff")},
		{"skip text", skipM, "6161", unhex(t, "6161")},
		{"skip nested", skipM, "82a1616181f5c11a00000001", unhex(t, "82a1616181f5c11a00000001")},
		{"skip nothing", skipM, "", nil},
		{"skip bytes past the end", skipM, "43ff", nil},
		{"skip array past the end", skipM, "830102", nil},
		{"skip map past the end", skipM, "a201", nil},
		{"skip map, huge", skipM, "bb0000000100000000", nil},
		{"skip indefinite array", skipM, "9f01ff", nil},
		{"skip tag of nothing", skipM, "c1", nil},
		{"skip too deep", skipM, string(bytes.Repeat([]byte("81"), 40)) + "00", nil},
	}
	for _, tt := range tests {
		d := &cborDec{b: unhex(t, tt.in)}
		got, err := tt.m(d)
		if tt.want == nil {
			if !errors.Is(err, errCBOR) {
				t.Errorf("%s: decode(%s) = %v, %v; want errCBOR", tt.name, tt.in, got, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: decode(%s) = %v, want %v", tt.name, tt.in, err, tt.want)
			continue
		}
		if g, ok := got.([]byte); ok {
			if !bytes.Equal(g, tt.want.([]byte)) {
				t.Errorf("%s: decode(%s) = %x, want %x", tt.name, tt.in, g, tt.want)
			}
		} else if got != tt.want {
			t.Errorf("%s: decode(%s) = %v, want %v", tt.name, tt.in, got, tt.want)
		}
	}
	// Nesting up to the limit is fine.
	deep := append(bytes.Repeat([]byte{0x81}, 32), 0x00)
	if _, err := (&cborDec{b: deep}).skip(); err != nil {
		t.Errorf("skip(32 nested arrays) = %v, want nil", err)
	}
}

// TestDecodeRecordErrors: records that are not what format 1 says are
// refused; kinds it does not know are stepped over whole.
func TestDecodeRecordErrors(t *testing.T) {
	tests := []struct {
		name string
		in   string
		kind Kind // for a skipped record; 0 means an error is wanted
	}{
		{"not an array", "a0", 0},
		{"array of 2", "820101", 0},
		{"kind negative", "83200100", 0},
		{"id negative", "83012000", 0},
		{"time text", "8301016161", 0},
		{"frame short", "86020100000000", 0},
		{"frame direction over 255", "8702010019010000f400", 0},
		{"frame byte over 255", "8702010000190100f400", 0},
		{"frame masked not bool", "870201000000f600", 0},
		{"frame length text", "870201000000f46161", 0},
		{"chunk opcode over 255", "8703010000190100004100", 0},
		{"chunk data text", "870301000001036161", 0},
		{"close reason text", "8604010000036161", 0},
		{"close code bytes", "860401000041004100", 0},
		{"event kind bytes", "850501004161426161", 0},
		{"event detail missing", "8505010061616161"[:14], 0},
		{"end error bytes", "8407010041ff", 0},
		{"open body not a map", "8401010001", 0},
		{"open body cut", "84010100a1", 0},
		{"http body of the wrong shape", "8406010081a0", 0},
		{"http body cut", "84060100", 0},
		{"extra element cut", "85070100601c", 0},
		{"unknown kind", "8418630100a0", 99},
		{"unknown kind over 255", "84190100010080", 255},
		{"unknown kind cut", "84186301008201", 0},
	}
	for _, tt := range tests {
		in := unhex(t, tt.in)
		d := &cborDec{b: in}
		rec, kind, err := decodeRecord(d)
		if tt.kind == 0 {
			if err == nil {
				t.Errorf("%s: decodeRecord(%s) = %#v, %v, nil; want an error", tt.name, tt.in, rec, kind)
			}
			continue
		}
		if err != nil || rec != nil || kind != tt.kind || d.more() {
			t.Errorf("%s: decodeRecord(%s) = %#v, %v, %v (all read %v); want nil, %v, nil, all read", tt.name, tt.in,
				rec, kind, err, !d.more(), tt.kind)
		}
	}
}

// TestDecodeRecordTimes: record times are relative to the one before; a
// skipped record of an unknown kind moves the base too.
func TestDecodeRecordTimes(t *testing.T) {
	var raw []byte
	base := int64(1_000)
	raw, _ = appendRecord(raw, &End{Conn: 1, Time: fromNanos(1_500)}, base)
	raw = appendHead(raw, majorArray, 4) // [99, 1, +25, null]: a kind from a newer format
	raw = appendUint(raw, 99)
	raw = appendUint(raw, 1)
	raw = appendInt(raw, 25)
	raw = append(raw, 0xf6)
	raw, _ = appendRecord(raw, &End{Conn: 2, Time: fromNanos(1_600)}, 1_525)
	d := &cborDec{b: raw}
	var got []int64
	for d.more() {
		rec, _, err := decodeRecordIn(d, nil, &base)
		if err != nil {
			t.Fatalf("decodeRecordIn: %v (at %d of %x)", err, d.off, raw)
		}
		got = append(got, base)
		if rec != nil && nanos(rec.At()) != base {
			t.Errorf("record %#v at %d, want %d", rec, nanos(rec.At()), base)
		}
	}
	if want := []int64{1_500, 1_525, 1_600}; len(got) != 3 || got[0] != want[0] || got[1] != want[1] || got[2] != want[2] {
		t.Errorf("times = %v, want %v", got, want)
	}
}

func TestAppendRecordRefusesUnknownTypes(t *testing.T) {
	for _, r := range []Record{&Message{Conn: 1}, &strangeRecord{}, nil} {
		b, err := appendRecord([]byte{1, 2}, r, 0)
		if err == nil || len(b) != 2 {
			t.Errorf("appendRecord(%T) = %x, %v; want the input unchanged and an error", r, b, err)
		}
	}
}

package sessiondiff

import (
	"reflect"
	"strconv"
	"strings"
	"testing"
)

func TestCompareJSON(t *testing.T) {
	for _, tt := range []struct {
		name   string
		a, b   string
		ignore []string
		want   []Change
	}{
		{"equal bytes", `{"a":1}`, `{"a":1}`, nil, nil},
		{"key order and white space", `{"a":1,"b":[1,2]}`, `{ "b" : [1, 2], "a" : 1 }`, nil, nil},
		{"1.0 is 1", `{"n":1.0,"m":10e-1,"k":0.5E1,"z":-0}`, `{"n":1,"m":1,"k":5,"z":0}`, nil, nil},
		{"1.5 is not 1", `{"n":1.5}`, `{"n":1}`, nil, []Change{{Path: "n", Kind: KindChanged, A: "1.5", B: "1"}}},
		{"big integers exactly", `{"n":12345678901234567891}`, `{"n":12345678901234567892}`, nil,
			[]Change{{Path: "n", Kind: KindChanged, A: "12345678901234567891", B: "12345678901234567892"}}},
		{"escaped strings", `{"s":"\u0041\n"}`, `{"s":"A\n"}`, nil, nil},
		{"changed string", `{"user":{"name":"ann"}}`, `{"user":{"name":"bob"}}`, nil,
			[]Change{{Path: "user.name", Kind: KindChanged, A: `"ann"`, B: `"bob"`}}},
		{"changed bool", `{"ok":true}`, `{"ok":false}`, nil, []Change{{Path: "ok", Kind: KindChanged, A: "true", B: "false"}}},
		{"null is null", `{"x":null}`, `{"x":null}`, nil, nil},
		{"type", `{"id":"1"}`, `{"id":1}`, nil, []Change{{Path: "id", Kind: KindType, A: `"1"`, B: "1"}}},
		{"object and array", `{"x":{}}`, `{"x":[]}`, nil, []Change{{Path: "x", Kind: KindType, A: "{}", B: "[]"}}},
		{"top-level type", `[1]`, `{"a":1}`, nil, []Change{{Kind: KindType, A: "[1]", B: `{"a":1}`}}},
		{"removed and added", `{"a":1,"b":{"c": 2}}`, `{"a":1,"d":[ 3 ]}`, nil, []Change{
			{Path: "b", Kind: KindRemoved, A: `{"c":2}`},
			{Path: "d", Kind: KindAdded, B: "[3]"},
		}},
		{"nested arrays", `{"m":[[1,2],[3,4]]}`, `{"m":[[1,2],[3,5],[6]]}`, nil, []Change{
			{Path: "m.1.1", Kind: KindChanged, A: "4", B: "5"},
			{Path: "m.2", Kind: KindAdded, B: "[6]"},
		}},
		{"shorter array", `[1,2,3]`, `[1]`, nil, []Change{
			{Path: "1", Kind: KindRemoved, A: "2"},
			{Path: "2", Kind: KindRemoved, A: "3"},
		}},
		{"keys that need escaping", `{"a.b":{"c*":1}}`, `{"a.b":{"c*":2}}`, nil,
			[]Change{{Path: `a\.b.c\*`, Kind: KindChanged, A: "1", B: "2"}}},
		{"repeated key: the first counts", `{"a":1,"a":2}`, `{"a":1,"a":3}`, nil, nil},
		{"ignored field", `{"ts":1,"v":1}`, `{"ts":2,"v":1}`, []string{"ts"}, nil},
		{"ignored field, absent in one", `{"ts":1,"v":1}`, `{"v":1,"ts2":0}`, []string{"ts*"}, nil},
		{"ignored prefix", `{"user":{"name":"a","age":1},"x":1}`, `{"user":{"name":"b"},"x":2}`, []string{"user"},
			[]Change{{Path: "x", Kind: KindChanged, A: "1", B: "2"}}},
		{"ignored # path", `{"items":[{"id":1,"n":"a"},{"id":2,"n":"b"}]}`, `{"items":[{"id":7,"n":"a"},{"id":8,"n":"c"}]}`,
			[]string{"items.#.id"}, []Change{{Path: "items.1.n", Kind: KindChanged, A: `"b"`, B: `"c"`}}},
		{"ignored index", `[1,2,3]`, `[9,2]`, []string{"0", "2"}, nil},
		{"ignored wildcard key", `{"meta":{"t1":1,"t2":2,"u":3}}`, `{"meta":{"t1":5,"t2":6,"u":4}}`, []string{"meta.t*"},
			[]Change{{Path: "meta.u", Kind: KindChanged, A: "3", B: "4"}}},
		{"# is no object key", `{"o":{"3":1}}`, `{"o":{"3":2}}`, []string{"o.#"},
			[]Change{{Path: "o.3", Kind: KindChanged, A: "1", B: "2"}}},
		{"the type is not ignored below", `{"a":{"b":1}}`, `{"a":5}`, []string{"a.b"},
			[]Change{{Path: "a", Kind: KindType, A: `{"b":1}`, B: "5"}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			opts := Options{Ignore: paths(tt.ignore...)}
			got := Compare(c(tt.a), c(tt.b), opts)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Compare(%s, %s) = %+v, want %+v", tt.a, tt.b, got, tt.want)
			}
			// Equal messages have equal fingerprints, and the converse
			// holds for these.
			fa, fb := Fingerprint(c(tt.a), opts), Fingerprint(c(tt.b), opts)
			if (got == nil) != (fa == fb) {
				t.Errorf("Compare(%s, %s) = %v, but fingerprints equal = %v", tt.a, tt.b, got, fa == fb)
			}
		})
	}
}

func TestCompareText(t *testing.T) {
	got := Compare(c("hello world, this is a long line of text that goes on"), c("hello world, this is a long line of test that goes on"), Options{})
	want := []Change{{Kind: KindText, Offset: 38, A: "…ne of text that goes on", B: "…ne of test that goes on"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Compare = %+v, want %+v", got, want)
	}
	// A prefix: the difference is where the shorter ends.
	got = Compare(c("abc"), c("abcdef"), Options{})
	want = []Change{{Kind: KindText, Offset: 3, A: "abc", B: "abcdef"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Compare(prefix) = %+v, want %+v", got, want)
	}
	// Control characters are escaped, UTF-8 is not split.
	got = Compare(c("ünï\x00x"), c("ünï\x00y"), Options{})
	if len(got) != 1 || got[0].Offset != 6 || got[0].A != `ünï\x00x` {
		t.Errorf("Compare(control) = %+v", got)
	}
	// JSON on one side only is compared as text.
	got = Compare(c(`{"a":1}`), c(`{"a":1`), Options{})
	if len(got) != 1 || got[0].Kind != KindText || got[0].Offset != 6 {
		t.Errorf("Compare(JSON, not JSON) = %+v", got)
	}
	// A long run cut on both ends.
	long := make([]byte, 100)
	for i := range long {
		long[i] = 'a' + byte(i%26)
	}
	other := append([]byte(nil), long...)
	other[50] = '!'
	got = Compare(c(string(long)), c(string(other)), Options{})
	if len(got) != 1 || got[0].Offset != 50 || got[0].A != "…"+string(long[42:66])+"…" {
		t.Errorf("Compare(long) = %+v", got)
	}
}

func TestCompareBinary(t *testing.T) {
	a := make([]byte, 40)
	for i := range a {
		a[i] = byte(i)
	}
	b := append(append([]byte(nil), a[:17]...), 0xff)
	b = append(b, a[18:]...)
	b = append(b, 0x99)
	got := Compare(cb(a...), cb(b...), Options{})
	want := []Change{{Kind: KindBinary, Offset: 17,
		A: "40 bytes: 11 12 13 14 …", B: "41 bytes: ff 12 13 14 …"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Compare(binary) = %+v, want %+v", got, want)
	}
	got = Compare(cb(1, 2), cb(1, 2, 3), Options{})
	want = []Change{{Kind: KindBinary, Offset: 2, A: "2 bytes, ending there", B: "3 bytes: 03"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Compare(binary prefix) = %+v, want %+v", got, want)
	}
	if got := Compare(cb(1, 2), cb(1, 2), Options{}); got != nil {
		t.Errorf("Compare(equal binary) = %+v", got)
	}
	// Binary JSON is not read as JSON.
	got = Compare(cb([]byte(`{"a":1.0}`)...), cb([]byte(`{"a":1}`)...), Options{})
	if len(got) != 1 || got[0].Kind != KindBinary || got[0].Offset != 6 {
		t.Errorf("Compare(binary JSON) = %+v", got)
	}
}

func TestCompareOpcode(t *testing.T) {
	got := Compare(c("hi"), cb('h', 'i'), Options{})
	want := []Change{{Kind: KindOpcode, A: "text", B: "binary"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Compare(opcode) = %+v, want %+v", got, want)
	}
	got = Compare(c("hi"), cb('h', 'o'), Options{})
	if len(got) != 2 || got[1].Kind != KindBinary || got[1].Offset != 1 {
		t.Errorf("Compare(opcode and bytes) = %+v", got)
	}
	if Fingerprint(c("hi"), Options{}) == Fingerprint(cb('h', 'i'), Options{}) {
		t.Error("a text and a binary message of the same bytes have the same fingerprint")
	}
}

func TestCompareDeep(t *testing.T) {
	deep := func(leaf string) string {
		s := leaf
		for range maxDepth + 20 {
			s = "[" + s + "]"
		}
		return s
	}
	got := Compare(c(deep("1")), c(deep("2")), Options{})
	if len(got) != 1 || got[0].Kind != KindChanged {
		t.Errorf("Compare(deep) = %d changes, want 1 changed", len(got))
	}
	if Fingerprint(c(deep("1")), Options{}) == Fingerprint(c(deep("2")), Options{}) {
		t.Error("deep values that differ have one fingerprint")
	}
}

func TestFingerprint(t *testing.T) {
	opts := Options{Ignore: paths("ts", "items.#.id")}
	same := [][2]string{
		{`{"ts":1,"v":1}`, `{"v":1,"ts":99}`},
		{`{"v":1}`, `{"v":1.0,"ts":"x"}`},
		{`{"items":[{"id":1,"n":2}]}`, `{"items":[{"n":2,"id":3}]}`},
		{`"a"`, `"\u0061"`},
		{`[true,null]`, ` [ true , null ] `},
	}
	for _, p := range same {
		if Fingerprint(c(p[0]), opts) != Fingerprint(c(p[1]), opts) {
			t.Errorf("Fingerprint(%s) != Fingerprint(%s)", p[0], p[1])
		}
	}
	differ := [][2]string{
		{`{"v":1}`, `{"v":2}`},
		{`{"v":1}`, `{"w":1}`},
		{`{"a":{"b":1}}`, `{"a":{"b":1},"c":null}`},
		{`["ab"]`, `["a","b"]`},
		{`{"ab":"c"}`, `{"a":"bc"}`},
		{`[1,2]`, `[2,1]`},
		{`"1"`, `1`},
		{`true`, `false`},
		{`{}`, `[]`},
		{`not json`, `"not json"`},
	}
	for _, p := range differ {
		if Fingerprint(c(p[0]), opts) == Fingerprint(c(p[1]), opts) {
			t.Errorf("Fingerprint(%s) == Fingerprint(%s)", p[0], p[1])
		}
	}
}

func TestCanonNumber(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"0", "0"}, {"-0", "0"}, {"0.000", "0"}, {"0e10", "0"},
		{"1", "1e0"}, {"1.0", "1e0"}, {"1e0", "1e0"}, {"10E-1", "1e0"}, {"0.1e1", "1e0"},
		{"1500", "15e2"}, {"1.5e3", "15e2"}, {"-2.50", "-25e-1"}, {"0.001", "1e-3"},
		{"1e99999999999999999999", "1e99999999999999999999"}, // exponent beyond use: as written
	} {
		if got := canonNumber(tt.in); got != tt.want {
			t.Errorf("canonNumber(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestKindKey(t *testing.T) {
	k := func(m Message) string { return kindKey(&m) }
	if k(c(`{"type":"join","x":1}`)) != k(c(`{"y":2,"type":"join"}`)) {
		t.Error("two joins are different kinds")
	}
	if k(c(`{"type":"join"}`)) == k(c(`{"type":"leave"}`)) {
		t.Error("a join and a leave are one kind")
	}
	if k(c(`{"op":1,"type":"a"}`)) != k(c(`{"op":2,"type":"a"}`)) {
		t.Error(`"type" is not looked for before "op"`)
	}
	if k(c(`{"a":1,"b":2}`)) != k(c(`{"b":3,"a":4}`)) || k(c(`{"a":1}`)) == k(c(`{"a":1,"b":2}`)) {
		t.Error("without a discriminator, the key set is not the kind")
	}
	if k(c(`{"type":{"x":1},"a":1}`)) != k(c(`{"type":{"x":2},"a":2}`)) {
		t.Error("an object discriminator decides the kind")
	}
	if k(c("plain")) != k(c("[1]")) || k(c("plain")) == k(cb(1)) {
		t.Error("messages that are not JSON objects are not of their opcode's kind")
	}
}

func TestCompareLargeObject(t *testing.T) {
	var a, b []string
	for i := range 30 {
		a = append(a, `"k`+strconv.Itoa(i)+`":`+strconv.Itoa(i))
		b = append(b, `"k`+strconv.Itoa(29-i)+`":`+strconv.Itoa(29-i))
	}
	a = append(a, `"k3":"repeated, not counted"`)
	ja, jb := "{"+strings.Join(a, ",")+"}", "{"+strings.Join(b, ",")+`,"k30":1}`
	got := Compare(c(ja), c(jb), Options{})
	if !reflect.DeepEqual(got, []Change{{Path: "k30", Kind: KindAdded, B: "1"}}) {
		t.Errorf("Compare(large objects) = %+v", got)
	}
}

func TestTypeOfText(t *testing.T) {
	for in, want := range map[string]string{"": "", "null": "null", "true": "boolean", "false": "boolean", `"x"`: "string",
		"{}": "object", "[]": "array", "-1": "number"} {
		if got := typeOfText(in); got != want {
			t.Errorf("typeOfText(%q) = %q, want %q", in, got, want)
		}
	}
}

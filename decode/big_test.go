package decode

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"

	"github.com/wstap/wstap/capture"
)

const bigSize = 10 << 20

type bigRecord struct {
	ID    int               `json:"id"`
	Name  string            `json:"name"`
	Tags  []string          `json:"tags"`
	Score float64           `json:"score"`
	On    bool              `json:"on"`
	Meta  map[string]string `json:"meta"`
	None  any               `json:"none"`
}

// bigValue is about 10 MiB of JSON once marshalled: an array of records.
var bigValue = sync.OnceValue(func() []bigRecord {
	var recs []bigRecord
	n := 0
	for i := 0; n < bigSize; i++ {
		r := bigRecord{ID: i, Name: fmt.Sprintf("record %d «ünïcödé» 日本", i), Tags: []string{"a", "b", "c"},
			Score: float64(i) / 7, On: i%2 == 0, Meta: map[string]string{"k": "v"}}
		recs = append(recs, r)
		n += 140
	}
	return recs
})

var bigPretty = sync.OnceValue(func() []byte {
	b, err := json.MarshalIndent(bigValue(), "", "  ")
	if err != nil {
		panic(err)
	}
	return b
})

var bigOneLine = sync.OnceValue(func() []byte {
	b, err := json.Marshal(bigValue())
	if err != nil {
		panic(err)
	}
	return b
})

var bigString = sync.OnceValue(func() []byte {
	return []byte(`"` + strings.Repeat("0123456789abcdef", bigSize/16) + `"`)
})

var bigBinary = sync.OnceValue(func() []byte { return randomBytes(bigSize, 42) })

var bigText = sync.OnceValue(func() []byte {
	var buf bytes.Buffer
	for i := 0; buf.Len() < bigSize; i++ {
		fmt.Fprintf(&buf, "line %d: the quick brown fox jumps over the lazy dog\n", i)
	}
	return buf.Bytes()
})

func TestFormatBigJSON(t *testing.T) {
	if testing.Short() {
		t.Skip("10 MiB payloads")
	}
	want := strings.Split(string(bigPretty()), "\n")
	for name, data := range map[string][]byte{"pretty": bigPretty(), "one line": bigOneLine()} {
		if len(data) < bigSize {
			t.Fatalf("%s: %d bytes", name, len(data))
		}
		d, err := Format(context.Background(), JSON, data, Options{Width: 200})
		if err != nil {
			t.Fatal(err)
		}
		if d.Len() != len(want) {
			t.Fatalf("%s: Len() = %d, want %d", name, d.Len(), len(want))
		}
		for _, i := range []int{0, 1, 2, len(want) / 2, len(want)/2 + 1, len(want) - 2, len(want) - 1} {
			if got := d.Line(i).Text; got != want[i] {
				t.Errorf("%s: Line(%d) = %q, want %q", name, i, got, want[i])
			}
			checkLine(t, i, d.Line(i), 200)
		}
		if l := d.Line(2); len(l.Spans) != 4 || l.Spans[0].Class != Key || l.Spans[2].Class != Number {
			t.Errorf("%s: Line(2) = %+v, want a key, a colon, a number and a comma", name, l)
		}
	}
}

func TestFormatBigString(t *testing.T) {
	if testing.Short() {
		t.Skip("10 MiB payloads")
	}
	data := bigString()
	d, err := Format(context.Background(), JSON, data, Options{})
	if err != nil {
		t.Fatal(err)
	}
	// 64 KiB shown in lines of 80, the last of 16 bytes and the suffix.
	if want := (64<<10)/80 + 1; d.Len() != want {
		t.Fatalf("Len() = %d, want %d", d.Len(), want)
	}
	if l := d.Line(0); l.Text != string(data[:80]) || len(l.Spans) != 1 || l.Spans[0] != (Span{0, 80, String}) {
		t.Errorf("Line(0) = %+v", l)
	}
	mid := d.Line(d.Len() / 2)
	if len(mid.Text) != 80 || mid.Spans[0].Class != String {
		t.Errorf("Line(%d) = %+v", d.Len()/2, mid)
	}
	last := d.Line(d.Len() - 1)
	if want := string(data[64<<10-16:64<<10]) + fmt.Sprintf("…(+%d B)", len(data)-64<<10); last.Text != want || last.Spans[1].Class != Meta {
		t.Errorf("last line = %+v, want %q", last, want)
	}
	checkDoc(t, d, 80)
}

func TestFormatBigHexAndText(t *testing.T) {
	if testing.Short() {
		t.Skip("10 MiB payloads")
	}
	data := bigBinary()
	d, err := Format(context.Background(), Hex, data, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if d.Len() != bigSize/16 {
		t.Fatalf("Len() = %d, want %d", d.Len(), bigSize/16)
	}
	for _, i := range []int{0, d.Len() / 2, d.Len() - 1} {
		l := d.Line(i).Text
		if want := fmt.Sprintf("%08x  % x  % x  |", i*16, data[i*16:i*16+8], data[i*16+8:i*16+16]); !strings.HasPrefix(l, want) {
			t.Errorf("Line(%d) = %q, want prefix %q", i, l, want)
		}
	}

	text := bigText()
	d, err = Format(context.Background(), Text, text, Options{})
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(text), "\n"), "\n")
	if d.Len() != len(lines) {
		t.Fatalf("text: Len() = %d, want %d", d.Len(), len(lines))
	}
	for _, i := range []int{0, len(lines) / 2, len(lines) - 1} {
		if got := d.Line(i).Text; got != lines[i] {
			t.Errorf("text: Line(%d) = %q, want %q", i, got, lines[i])
		}
	}
}

// TestHexWide checks the offset column of a payload of 4 GiB or more
// without allocating one: the digits depend on the length alone.
func TestHexWide(t *testing.T) {
	h := &hexDoc{data: []byte("0123456789abcdefXY"), digits: 9}
	if got, want := h.Line(1).Text, "000000010  58 59"; !strings.HasPrefix(got, want) {
		t.Errorf("Line(1) = %q, want prefix %q", got, want)
	}
	if newHexDoc(make([]byte, 5)).digits != 8 {
		t.Error("digits for a small payload")
	}
}

// TestLineConcurrent reads lines of each kind of Doc from many goroutines
// at once; run with -race.
func TestLineConcurrent(t *testing.T) {
	docs := map[string]Doc{}
	for _, tc := range formatCases {
		d, err := Format(context.Background(), tc.kind, tc.data, tc.opts)
		if err != nil {
			t.Fatal(err)
		}
		docs[tc.name] = d
	}
	big, err := Format(context.Background(), JSON, []byte(`["`+strings.Repeat("x", 5000)+`",`+strings.Repeat(`{"a":[1,2,{"b":null}]},`, 2000)+`0]`), Options{Width: 30})
	if err != nil {
		t.Fatal(err)
	}
	docs["big"] = big
	want := map[string][]Line{}
	for name, d := range docs {
		for i := range d.Len() {
			want[name] = append(want[name], d.Line(i))
		}
	}
	var wg sync.WaitGroup
	errs := make(chan string, 8)
	for g := range 8 {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(g), 7))
			for range 300 {
				for name, d := range docs {
					if d.Len() == 0 {
						continue
					}
					i := r.IntN(d.Len())
					if got := d.Line(i); got.Text != want[name][i].Text || len(got.Spans) != len(want[name][i].Spans) {
						select {
						case errs <- fmt.Sprintf("%s: Line(%d) = %q, want %q", name, i, got.Text, want[name][i].Text):
						default:
						}
						return
					}
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

func BenchmarkFormat10MiB(b *testing.B) {
	cases := []struct {
		name string
		kind Kind
		data func() []byte
	}{
		{"json-lines", JSON, bigPretty},
		{"json-one-line", JSON, bigOneLine},
		{"json-one-string", JSON, bigString},
		{"hex", Hex, bigBinary},
		{"text", Text, bigText},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			data := c.data()
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Format(context.Background(), c.kind, data, Options{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkLine(b *testing.B) {
	d, err := Format(context.Background(), JSON, bigOneLine(), Options{})
	if err != nil {
		b.Fatal(err)
	}
	r := rand.New(rand.NewPCG(1, 2))
	b.ReportAllocs()
	for b.Loop() {
		d.Line(r.IntN(d.Len()))
	}
}

func BenchmarkDetect10MiB(b *testing.B) {
	cases := []struct {
		name string
		op   capture.Opcode
		data func() []byte
	}{
		{"json", capture.OpText, bigOneLine},
		{"text", capture.OpText, bigText},
		{"binary", capture.OpBinary, bigBinary},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			data := c.data()
			b.ReportAllocs()
			for b.Loop() {
				Kinds(Hint{}, c.op, data)
			}
		})
	}
}

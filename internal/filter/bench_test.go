package filter

import (
	"testing"

	"github.com/wstap/wstap/capture"
)

// benchMsgs is a mix of messages for the benchmarks to cycle through.
func benchMsgs() []Msg {
	var ms []Msg
	for _, c := range corpus {
		ms = append(ms, c.msg)
	}
	return ms
}

func benchMatch(b *testing.B, expr string, ms []Msg) {
	e, err := Parse(expr)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	n := 0
	for i := 0; b.Loop(); i++ {
		if e.Match(&ms[i%len(ms)]) {
			n++
		}
	}
	_ = n
}

// BenchmarkMatchFacts measures the terms the inspector can apply without
// reading payloads; ns/op × 10⁶ is the time for a million messages.
func BenchmarkMatchFacts(b *testing.B) {
	benchMatch(b, "from:server op:text -is:dropped size>=1k size<1m", benchMsgs())
}

// BenchmarkMatchJSON measures two json terms on a 200-byte JSON message
// that has both paths.
func BenchmarkMatchJSON(b *testing.B) {
	m := corpus[1].msg // sub
	benchMatch(b, "json:type=subscribe json:user.name=ann", []Msg{m})
}

// BenchmarkMatchJSONMixed measures a json term over the whole corpus,
// where most messages lack the path or are no JSON.
func BenchmarkMatchJSONMixed(b *testing.B) {
	benchMatch(b, "json:type=subscribe", benchMsgs())
}

// BenchmarkMatchWord measures a case-insensitive word on a 200-byte payload.
func BenchmarkMatchWord(b *testing.B) {
	benchMatch(b, "smith", []Msg{corpus[1].msg})
}

// BenchmarkMatchWord4K measures a word absent from a 4 KiB payload.
func BenchmarkMatchWord4K(b *testing.B) {
	data := make([]byte, 4096)
	for i := range data {
		data[i] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ 0123456789"[i%63]
	}
	benchMatch(b, "needle", []Msg{{Dir: capture.ServerToClient, Opcode: capture.OpText, Size: 4096, Data: data}})
}

// BenchmarkMatchRegexp measures a regexp on a 200-byte payload.
func BenchmarkMatchRegexp(b *testing.B) {
	benchMatch(b, `/"id":\d+/`, []Msg{corpus[1].msg})
}

// BenchmarkParse measures parsing a typical expression, as on each key
// press.
func BenchmarkParse(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(`from:server op:text -is:dropped size>1.5k /"type":"(ping|pong)"/i json:user.name="ann smith" error`); err != nil {
			b.Fatal(err)
		}
	}
}

package inspector

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/wstap/wstap/capture"
)

// The capture of the inspector's benchmarks: one connection of 1,000,000
// messages of about 1 KiB of market-data JSON in both directions, then three
// 10 MiB messages: pretty-printed JSON, JSON on one line, and binary. It is
// about 1 GiB of payload, written once into the system's temporary
// directory and reused by later runs while it is whole. Bump benchVersion
// when the generator changes.
const (
	benchVersion = 1
	benchCount   = 1_000_000
	benchBig     = 10 << 20
	benchRows    = benchCount + 3 // the three big messages are the last rows
)

var (
	benchOnce sync.Once
	benchPath string
	benchErr  error
)

// benchCapture returns the path of the benchmarks' capture, writing it the
// first time.
func benchCapture(b *testing.B) string {
	b.Helper()
	benchOnce.Do(func() {
		benchPath = filepath.Join(os.TempDir(), fmt.Sprintf("wstap-inspector-bench-v%d.wstap", benchVersion))
		if r, err := capture.Open(benchPath); err == nil {
			whole := r.Complete()
			r.Close()
			if whole {
				return
			}
		}
		start := time.Now()
		// Written under another name and renamed, so that a run that dies
		// half way (or one running beside it) never sees a partial file.
		tmp := fmt.Sprintf("%s.%d.tmp", benchPath, os.Getpid())
		if benchErr = writeBench(tmp); benchErr != nil {
			os.Remove(tmp)
			return
		}
		benchErr = os.Rename(tmp, benchPath)
		b.Logf("wrote %s in %v", benchPath, time.Since(start).Round(time.Millisecond))
	})
	if benchErr != nil {
		b.Fatal(benchErr)
	}
	return benchPath
}

// Message types. The type and direction of message i depend only on i, so
// that the counts a filter should find are known without reading the file.
const (
	kindTrade     = iota // server
	kindQuote            // server
	kindBook             // server
	kindTicker           // server
	kindSubscribe        // client
	kindOrder            // client
	kindPing             // client
	numKinds
)

var kindNames = [numKinds]string{"trade", "quote", "book", "ticker", "subscribe", "order", "ping"}

// benchKind is the type of message i: 80% from the server (30% trades),
// 20% from the client.
func benchKind(i int) int {
	// splitmix64 of i
	z := uint64(i) + 0x9e3779b97f4a7c15
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	z ^= z >> 31
	switch p := z % 100; {
	case p < 30:
		return kindTrade
	case p < 55:
		return kindQuote
	case p < 72:
		return kindBook
	case p < 80:
		return kindTicker
	case p < 87:
		return kindSubscribe
	case p < 95:
		return kindOrder
	default:
		return kindPing
	}
}

func kindDir(k int) capture.Direction {
	if k >= kindSubscribe {
		return capture.ClientToServer
	}
	return capture.ServerToClient
}

// benchExpect counts, of the 1,000,003 rows, those from the server and the
// trades (the big messages are from the server and none is a trade).
var benchExpect = sync.OnceValues(func() (server, trades int) {
	for i := range benchCount {
		k := benchKind(i)
		if kindDir(k) == capture.ServerToClient {
			server++
		}
		if k == kindTrade {
			trades++
		}
	}
	return server + 3, trades
})

var sides = [2]string{"buy", "sell"}

// gen builds the benchmark's payloads from a seeded generator.
type gen struct {
	rng *rand.Rand
	buf []byte
}

func (g *gen) num(n int) { g.buf = strconv.AppendInt(g.buf, int64(g.rng.IntN(n)), 10) }

// price appends a price such as 1234.56.
func (g *gen) price() {
	g.buf = strconv.AppendInt(g.buf, int64(1+g.rng.IntN(5000)), 10)
	c := g.rng.IntN(100)
	g.buf = append(g.buf, '.', byte('0'+c/10), byte('0'+c%10))
}

func (g *gen) str(key, val string) {
	g.buf = append(g.buf, '"')
	g.buf = append(g.buf, key...)
	g.buf = append(g.buf, `":"`...)
	g.buf = append(g.buf, val...)
	g.buf = append(g.buf, `",`...)
}

func (g *gen) key(k string) {
	g.buf = append(g.buf, '"')
	g.buf = append(g.buf, k...)
	g.buf = append(g.buf, `":`...)
}

func (g *gen) symbol() {
	g.buf = append(g.buf, `"symbol":"SYM`...)
	n := g.rng.IntN(1000)
	g.buf = append(g.buf, byte('0'+n/100), byte('0'+n/10%10), byte('0'+n%10), '"', ',')
}

// message builds message i of kind k, of about size bytes.
func (g *gen) message(i, k, size int, ts int64) []byte {
	g.buf = g.buf[:0]
	g.buf = append(g.buf, '{')
	g.str("type", kindNames[k])
	g.key("seq")
	g.buf = strconv.AppendInt(g.buf, int64(i), 10)
	g.buf = append(g.buf, ',')
	g.key("ts")
	g.buf = strconv.AppendInt(g.buf, ts/int64(time.Millisecond), 10)
	g.buf = append(g.buf, ',')
	var elem func()
	closing := "]}"
	switch k {
	case kindTrade:
		g.symbol()
		g.key("trades")
		g.buf = append(g.buf, '[')
		elem = func() {
			g.buf = append(g.buf, `{"id":`...)
			g.num(1 << 30)
			g.buf = append(g.buf, `,"px":`...)
			g.price()
			g.buf = append(g.buf, `,"qty":`...)
			g.num(10000)
			g.buf = append(g.buf, `,"side":"`...)
			g.buf = append(g.buf, sides[g.rng.IntN(2)]...)
			g.buf = append(g.buf, `"},`...)
		}
	case kindQuote:
		g.symbol()
		g.key("bid")
		g.price()
		g.buf = append(g.buf, ',')
		g.key("ask")
		g.price()
		g.buf = append(g.buf, ',')
		g.key("levels")
		g.buf = append(g.buf, '[')
		elem = func() {
			g.buf = append(g.buf, '[')
			g.price()
			g.buf = append(g.buf, ',')
			g.num(100000)
			g.buf = append(g.buf, "],"...)
		}
	case kindBook:
		g.symbol()
		g.str("venue", "XNAS")
		g.key("bids")
		g.buf = append(g.buf, '[')
		elem = func() {
			g.buf = append(g.buf, '[')
			g.price()
			g.buf = append(g.buf, ',')
			g.num(10000)
			g.buf = append(g.buf, ',')
			g.num(50)
			g.buf = append(g.buf, "],"...)
		}
	case kindTicker:
		g.symbol()
		g.key("stats")
		g.buf = append(g.buf, `{"open":`...)
		g.price()
		g.buf = append(g.buf, `,"high":`...)
		g.price()
		g.buf = append(g.buf, `,"low":`...)
		g.price()
		g.buf = append(g.buf, `,"volume":`...)
		g.num(1 << 40)
		g.buf = append(g.buf, `},"history":[`...)
		elem = func() { g.price(); g.buf = append(g.buf, ',') }
	case kindSubscribe:
		g.key("id")
		g.num(1 << 20)
		g.buf = append(g.buf, `,"channels":[`...)
		chans := [...]string{"trades", "quotes", "book", "ticker"}
		elem = func() {
			g.buf = append(g.buf, '"')
			g.buf = append(g.buf, chans[g.rng.IntN(len(chans))]...)
			g.buf = append(g.buf, ".SYM"...)
			g.num(1000)
			g.buf = append(g.buf, `",`...)
		}
	case kindOrder:
		g.key("id")
		g.num(1 << 20)
		g.buf = append(g.buf, ',')
		g.symbol()
		g.str("side", sides[g.rng.IntN(2)])
		g.key("px")
		g.price()
		g.buf = append(g.buf, `,"legs":[`...)
		elem = func() {
			g.buf = append(g.buf, `{"qty":`...)
			g.num(1000)
			g.buf = append(g.buf, `,"limit":`...)
			g.price()
			g.buf = append(g.buf, `},`...)
		}
	case kindPing:
		g.key("id")
		g.num(1 << 20)
		g.buf = append(g.buf, `,"pad":"`...)
		elem = func() {
			const alnum = "abcdefghijklmnopqrstuvwxyz0123456789"
			for range 8 {
				g.buf = append(g.buf, alnum[g.rng.IntN(len(alnum))])
			}
		}
		closing = `"}`
	}
	for len(g.buf) < size-len(closing) {
		elem()
	}
	if g.buf[len(g.buf)-1] == ',' {
		g.buf = g.buf[:len(g.buf)-1]
	}
	return append(g.buf, closing...)
}

// bigPretty is about benchBig bytes of indented JSON: a snapshot of levels.
func (g *gen) bigPretty() []byte {
	b := make([]byte, 0, benchBig+4096)
	b = append(b, "{\n  \"type\": \"snapshot\",\n  \"symbol\": \"SYM042\",\n  \"levels\": [\n"...)
	for i := 0; len(b) < benchBig-4096; i++ {
		if i > 0 {
			b = append(b, ",\n"...)
		}
		b = append(b, "    {\n      \"level\": "...)
		b = strconv.AppendInt(b, int64(i), 10)
		b = append(b, ",\n      \"px\": "...)
		g.buf = g.buf[:0]
		g.price()
		b = append(b, g.buf...)
		b = append(b, ",\n      \"qty\": "...)
		b = strconv.AppendInt(b, int64(g.rng.IntN(100000)), 10)
		b = append(b, ",\n      \"venue\": \"XNAS\",\n      \"flags\": [\n        \"a\",\n        \"b\"\n      ]\n    }"...)
	}
	b = append(b, "\n  ]\n}\n"...)
	return b
}

// bigOneLine is about benchBig bytes of compact JSON on a single line: a
// long array of [price, qty] pairs.
func (g *gen) bigOneLine() []byte {
	b := make([]byte, 0, benchBig+4096)
	b = append(b, `{"type":"history","symbol":"SYM007","points":[`...)
	for len(b) < benchBig-64 {
		b = append(b, '[')
		g.buf = g.buf[:0]
		g.price()
		b = append(b, g.buf...)
		b = append(b, ',')
		b = strconv.AppendInt(b, int64(g.rng.IntN(100000)), 10)
		b = append(b, "],"...)
	}
	b = append(b[:len(b)-1], "]}"...)
	return b
}

// bigBinary is benchBig bytes that decode as nothing: a run of random bytes
// behind a few that no decoder takes as a header.
func (g *gen) bigBinary() []byte {
	b := make([]byte, benchBig)
	for i := 0; i < len(b); i += 8 {
		v := g.rng.Uint64()
		for k := 0; k < 8 && i+k < len(b); k++ {
			b[i+k] = byte(v >> (8 * k))
		}
	}
	copy(b, []byte{0xde, 0xad, 0xbe, 0xef, 0x13, 0x37, 0xc0, 0xff, 0xee, 0x00})
	return b
}

func writeBench(path string) error {
	w, err := capture.Create(path, capture.Options{})
	if err != nil {
		return err
	}
	t := time.Unix(1_700_000_000, 0)
	c, err := w.Open(&capture.ConnOpen{Time: t, URL: "wss://md.example.test/v2/feed", Status: 101})
	if err != nil {
		return err
	}
	g := &gen{rng: rand.New(rand.NewPCG(7, 11)), buf: make([]byte, 0, 2048)}
	for i := range benchCount {
		k := benchKind(i)
		t = t.Add(time.Millisecond)
		msg := g.message(i, k, 768+g.rng.IntN(512), t.UnixNano())
		dir := kindDir(k)
		if err := w.Append(&capture.Chunk{Conn: c, Time: t, Dir: dir, Opcode: capture.OpText, First: true, Last: true, Data: msg,
			Frame: &capture.Frame{Fin: true, Opcode: capture.OpText, Masked: dir == capture.ClientToServer, Length: int64(len(msg))}}); err != nil {
			return err
		}
	}
	for _, big := range []struct {
		op   capture.Opcode
		data []byte
	}{{capture.OpText, g.bigPretty()}, {capture.OpText, g.bigOneLine()}, {capture.OpBinary, g.bigBinary()}} {
		t = t.Add(time.Millisecond)
		if err := w.Append(&capture.Frame{Conn: c, Time: t, Dir: capture.ServerToClient, Fin: true, Opcode: big.op, Length: int64(len(big.data))}); err != nil {
			return err
		}
		if err := w.Append(&capture.Chunk{Conn: c, Time: t, Dir: capture.ServerToClient, Opcode: big.op, First: true, Last: true, Data: big.data}); err != nil {
			return err
		}
	}
	if err := w.Append(&capture.End{Conn: c, Time: t.Add(time.Millisecond)}); err != nil {
		return err
	}
	return w.Close()
}

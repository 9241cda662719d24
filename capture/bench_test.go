package capture

// Benchmarks of the capture writer and reader, and the deterministic corpus
// they write: JSON chat events and market data. They run only with -bench:
//
//	go test -run=NONE -bench=. -benchmem -cpu 1,2 ./capture
//
// "-cpu 1" is the one-core figure. BenchmarkListConns1GiB writes a capture
// of more than 1 GiB of payload once (skipped with -short); it lives under
// os.TempDir and is deleted afterwards unless WSTAP_BENCH_KEEP is set, in
// which case later runs reuse it.

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// ---- corpus ----------------------------------------------------------------

// benchEpoch is the corpus's clock origin (unix ms).
const benchEpoch = 1795694400000 // 2026-11-26T12:00:00Z

var benchWords = strings.Fields(`the be to of and a in that have I it for not on with he as you do at
this but his by from they we say her she or an will my one all would there their what so up out if
about who get which go me when make can like time no just him know take people into year your good
some could them see other than then now look only come its over think also back after use two how
our work first well way even new want because any these give day most us is are was were been has
had did said lol ok yes yeah thanks please sure maybe tomorrow today tonight meeting deploy build
test release bug fix merge review branch prod staging server client api latency error timeout retry
cache database query index ticket sprint standup lunch coffee weekend awesome great nice cool hmm
wait sorry agreed done shipped looks lgtm really still here there where why should need let's can't
don't it's that's I'm you're we're gonna check push pull logs graph spike alert page oncall dashboard
metrics memory cpu disk network config flag rollout rollback canary customer issue report team call
link doc slides demo friday monday next last week morning afternoon`)

var benchNames = strings.Fields(`mira ana lucas noah emma liam olivia mateo sofia leon hana yuki
kenji aarav priya diego lucia omar layla ivan olga pierre chloe marco giulia sven freya tariq zara
ben amy kai nina theo ruby felix iris hugo maya otto lena raj sara tom eva jon ada max zoe`)

var benchRooms = strings.Fields(`general random dev ops releases support design standup
incidents frontend backend data infra mobile qa`)

var benchEmoji = []string{"👍", "😂", "🎉", "❤️", "🔥", "👀", "✅", "🚀", ":+1:", ":tada:"}

// chatGen produces a stream of chat-protocol events: messages, typing
// indicators, read receipts, presence changes and reactions, as a chat
// server and its clients exchange them.
type chatGen struct {
	rng   *rand.Rand
	zipf  *rand.Zipf
	users *rand.Zipf
	ms    int64  // clock, unix ms
	seq   uint64 // snowflake sequence
	ids   []uint64
	room  string // of every message, when set
}

func newChatGen(seed uint64) *chatGen {
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	return &chatGen{rng: rng, zipf: rand.NewZipf(rng, 1.1, 2, uint64(len(benchWords)-1)),
		users: rand.NewZipf(rng, 1.3, 4, 499), ms: benchEpoch}
}

func (g *chatGen) tick() {
	g.ms += int64(g.rng.IntN(400))
}

// snowflake makes a time-ordered 64-bit ID, like many chat services use.
func (g *chatGen) snowflake() uint64 {
	g.seq++
	return uint64(g.ms-1420070400000)<<22 | uint64(g.rng.IntN(32))<<17 | g.seq&0xfff
}

func (g *chatGen) user() (int, string) {
	u := int(g.users.Uint64())
	return 100000 + u*7919%900000, benchNames[u%len(benchNames)]
}

func (g *chatGen) text(b []byte) []byte {
	n := 1 + int(g.rng.ExpFloat64()*5)
	if g.rng.IntN(25) == 0 {
		n += 20 + g.rng.IntN(80)
	}
	for i := range n {
		if i > 0 {
			b = append(b, ' ')
		}
		b = append(b, benchWords[g.zipf.Uint64()]...)
		switch r := g.rng.IntN(40); {
		case r == 0:
			b = append(b, '?')
		case r == 1:
			b = append(b, ',')
		case r == 2 && i == n-1:
			b = append(b, ' ')
			b = append(b, benchEmoji[g.rng.IntN(len(benchEmoji))]...)
		}
	}
	return b
}

func appendISO(b []byte, ms int64) []byte {
	b = append(b, '"')
	b = time.UnixMilli(ms).UTC().AppendFormat(b, "2006-01-02T15:04:05.000Z07:00")
	return append(b, '"')
}

func (g *chatGen) lastID() uint64 {
	if len(g.ids) == 0 {
		return g.snowflake()
	}
	return g.ids[g.rng.IntN(len(g.ids))]
}

// message appends one chat message object.
func (g *chatGen) message(b []byte) []byte {
	id := g.snowflake()
	if len(g.ids) < 64 {
		g.ids = append(g.ids, id)
	} else {
		g.ids[g.rng.IntN(64)] = id
	}
	uid, name := g.user()
	b = append(b, `{"type":"message","id":"`...)
	b = strconv.AppendUint(b, id, 10)
	b = append(b, `","room":"`...)
	if g.room != "" {
		b = append(b, g.room...)
	} else {
		b = append(b, benchRooms[g.rng.IntN(len(benchRooms))]...)
	}
	b = append(b, `","user":{"id":`...)
	b = strconv.AppendInt(b, int64(uid), 10)
	b = append(b, `,"name":"`...)
	b = append(b, name...)
	b = append(b, `"},"text":"`...)
	b = g.text(b)
	b = append(b, `","ts":`...)
	b = appendISO(b, g.ms)
	if g.rng.IntN(8) == 0 {
		b = append(b, `,"reply_to":"`...)
		b = strconv.AppendUint(b, g.lastID(), 10)
		b = append(b, '"')
	}
	if g.rng.IntN(10) == 0 {
		b = append(b, `,"reactions":[`...)
		for i := range 1 + g.rng.IntN(3) {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"emoji":"`...)
			b = append(b, benchEmoji[g.rng.IntN(len(benchEmoji))]...)
			b = append(b, `","count":`...)
			b = strconv.AppendInt(b, int64(1+g.rng.IntN(12)), 10)
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	return append(b, '}')
}

// next appends the next chat event and reports whether the server sent it
// (most events are broadcasts) or a client did.
func (g *chatGen) next(b []byte) ([]byte, bool) {
	g.tick()
	uid, _ := g.user()
	room := benchRooms[g.rng.IntN(len(benchRooms))]
	switch r := g.rng.IntN(100); {
	case r < 55:
		return g.message(b), r >= 12
	case r < 75:
		b = append(b, `{"type":"typing","room":"`...)
		b = append(b, room...)
		b = append(b, `","user":`...)
		b = strconv.AppendInt(b, int64(uid), 10)
		b = append(b, `,"ts":`...)
		b = strconv.AppendInt(b, g.ms, 10)
		return append(b, '}'), r >= 70
	case r < 88:
		b = append(b, `{"type":"read","room":"`...)
		b = append(b, room...)
		b = append(b, `","user":`...)
		b = strconv.AppendInt(b, int64(uid), 10)
		b = append(b, `,"last_id":"`...)
		b = strconv.AppendUint(b, g.lastID(), 10)
		b = append(b, `","ts":`...)
		b = strconv.AppendInt(b, g.ms, 10)
		return append(b, '}'), r >= 85
	case r < 95:
		b = append(b, `{"type":"presence","user":`...)
		b = strconv.AppendInt(b, int64(uid), 10)
		b = append(b, `,"status":"`...)
		b = append(b, [...]string{"online", "away", "offline", "dnd"}[g.rng.IntN(4)]...)
		b = append(b, `","ts":`...)
		b = strconv.AppendInt(b, g.ms, 10)
		return append(b, '}'), true
	default:
		b = append(b, `{"type":"reaction","message_id":"`...)
		b = strconv.AppendUint(b, g.lastID(), 10)
		b = append(b, `","user":`...)
		b = strconv.AppendInt(b, int64(uid), 10)
		b = append(b, `,"emoji":"`...)
		b = append(b, benchEmoji[g.rng.IntN(len(benchEmoji))]...)
		b = append(b, `","ts":`...)
		b = strconv.AppendInt(b, g.ms, 10)
		return append(b, '}'), r >= 97
	}
}

// history appends a backlog message: a page of chat messages as a server
// sends it when a client joins a room, of about size bytes.
func (g *chatGen) history(b []byte, size int) []byte {
	start := len(b)
	g.room = benchRooms[g.rng.IntN(len(benchRooms))]
	defer func() { g.room = "" }()
	b = append(b, `{"type":"history","room":"`...)
	b = append(b, g.room...)
	b = append(b, `","messages":[`...)
	for n := 0; ; n++ {
		if n > 0 {
			b = append(b, ',')
		}
		g.tick()
		b = g.message(b)
		if len(b)-start > size-300 {
			break
		}
	}
	b = append(b, `],"has_more":true,"cursor":"`...)
	b = strconv.AppendUint(b, g.snowflake(), 36)
	return append(b, `"}`...)
}

// marketGen produces exchange market data: trades, order book updates,
// tickers and heartbeats for a dozen symbols, with prices that walk.
type marketGen struct {
	rng  *rand.Rand
	ms   int64
	syms []marketSym
}

type marketSym struct {
	name            string
	price, tick     float64 // price and tick size
	pdec, qdec      int     // decimals of prices and quantities
	qty             float64 // typical trade size
	tradeID, update uint64
	open, hi, lo    float64
	vol             float64
	count           int64
}

func newMarketGen(seed uint64) *marketGen {
	rng := rand.New(rand.NewPCG(seed, 0x3a7e))
	g := &marketGen{rng: rng, ms: benchEpoch}
	for _, s := range []struct {
		name       string
		price, tk  float64
		pdec, qdec int
		qty        float64
	}{
		{"BTCUSDT", 64123.45, 0.01, 2, 5, 0.02}, {"ETHUSDT", 3412.10, 0.01, 2, 4, 0.4},
		{"SOLUSDT", 143.215, 0.001, 3, 3, 12}, {"BNBUSDT", 581.3, 0.1, 1, 3, 2},
		{"XRPUSDT", 0.5213, 0.0001, 4, 1, 900}, {"ADAUSDT", 0.3871, 0.0001, 4, 1, 1500},
		{"DOGEUSDT", 0.12731, 0.00001, 5, 0, 5000}, {"AVAXUSDT", 27.43, 0.01, 2, 2, 40},
		{"LINKUSDT", 13.912, 0.001, 3, 2, 60}, {"DOTUSDT", 5.871, 0.001, 3, 2, 150},
		{"ETHBTC", 0.053214, 0.000001, 6, 4, 0.5}, {"LTCUSDT", 71.82, 0.01, 2, 3, 5},
	} {
		g.syms = append(g.syms, marketSym{name: s.name, price: s.price, tick: s.tk, pdec: s.pdec, qdec: s.qdec,
			qty: s.qty, tradeID: 1e9 + rng.Uint64N(1e9), update: 4e10 + rng.Uint64N(1e10),
			open: s.price, hi: s.price * 1.01, lo: s.price * 0.99, vol: 1e4 * rng.Float64()})
	}
	return g
}

func (s *marketSym) walk(rng *rand.Rand) {
	s.price = max(s.tick, s.price+float64(rng.IntN(7)-3)*s.tick)
	s.hi, s.lo = max(s.hi, s.price), min(s.lo, s.price)
}

func (g *marketGen) sym() *marketSym {
	// A few symbols carry most of the traffic.
	i := min(int(g.rng.ExpFloat64()*2.5), len(g.syms)-1)
	return &g.syms[i]
}

func appendDec(b []byte, v float64, dec int) []byte {
	b = append(b, '"')
	b = strconv.AppendFloat(b, v, 'f', dec, 64)
	return append(b, '"')
}

func (g *marketGen) qty(s *marketSym) float64 {
	q := s.qty * g.rng.ExpFloat64()
	return max(q, math.Pow(10, -float64(s.qdec)))
}

func (g *marketGen) levels(b []byte, s *marketSym, n int, sign float64) []byte {
	b = append(b, '[')
	p := s.price
	for i := range n {
		if i > 0 {
			b = append(b, ',')
		}
		p += sign * float64(1+g.rng.IntN(3)) * s.tick
		b = append(b, '[')
		b = appendDec(b, p, s.pdec)
		b = append(b, ',')
		if g.rng.IntN(5) == 0 {
			b = appendDec(b, 0, s.qdec) // level removed
		} else {
			b = appendDec(b, g.qty(s)*3, s.qdec)
		}
		b = append(b, ']')
	}
	return append(b, ']')
}

// next appends the next market event (all of them from the server).
func (g *marketGen) next(b []byte) []byte {
	g.ms += int64(g.rng.IntN(30))
	s := g.sym()
	s.walk(g.rng)
	switch r := g.rng.IntN(100); {
	case r < 55:
		s.tradeID++
		q := g.qty(s)
		s.vol += q
		s.count++
		b = append(b, `{"e":"trade","E":`...)
		b = strconv.AppendInt(b, g.ms, 10)
		b = append(b, `,"s":"`...)
		b = append(b, s.name...)
		b = append(b, `","t":`...)
		b = strconv.AppendUint(b, s.tradeID, 10)
		b = append(b, `,"p":`...)
		b = appendDec(b, s.price, s.pdec)
		b = append(b, `,"q":`...)
		b = appendDec(b, q, s.qdec)
		b = append(b, `,"T":`...)
		b = strconv.AppendInt(b, g.ms-int64(g.rng.IntN(3)), 10)
		b = append(b, `,"m":`...)
		b = strconv.AppendBool(b, g.rng.IntN(2) == 0)
		return append(b, `,"M":true}`...)
	case r < 90:
		first := s.update + 1
		s.update += uint64(1 + g.rng.IntN(20))
		b = append(b, `{"e":"depthUpdate","E":`...)
		b = strconv.AppendInt(b, g.ms, 10)
		b = append(b, `,"s":"`...)
		b = append(b, s.name...)
		b = append(b, `","U":`...)
		b = strconv.AppendUint(b, first, 10)
		b = append(b, `,"u":`...)
		b = strconv.AppendUint(b, s.update, 10)
		b = append(b, `,"b":`...)
		b = g.levels(b, s, 1+g.rng.IntN(6), -1)
		b = append(b, `,"a":`...)
		b = g.levels(b, s, 1+g.rng.IntN(6), 1)
		return append(b, '}')
	case r < 98:
		b = append(b, `{"e":"24hrTicker","E":`...)
		b = strconv.AppendInt(b, g.ms, 10)
		b = append(b, `,"s":"`...)
		b = append(b, s.name...)
		b = append(b, `","p":`...)
		b = appendDec(b, s.price-s.open, s.pdec)
		b = append(b, `,"P":`...)
		b = appendDec(b, 100*(s.price-s.open)/s.open, 3)
		b = append(b, `,"w":`...)
		b = appendDec(b, (s.hi+s.lo+s.price)/3, s.pdec)
		b = append(b, `,"c":`...)
		b = appendDec(b, s.price, s.pdec)
		b = append(b, `,"o":`...)
		b = appendDec(b, s.open, s.pdec)
		b = append(b, `,"h":`...)
		b = appendDec(b, s.hi, s.pdec)
		b = append(b, `,"l":`...)
		b = appendDec(b, s.lo, s.pdec)
		b = append(b, `,"v":`...)
		b = appendDec(b, s.vol, s.qdec)
		b = append(b, `,"q":`...)
		b = appendDec(b, s.vol*s.price, 2)
		b = append(b, `,"O":`...)
		b = strconv.AppendInt(b, g.ms-86400000, 10)
		b = append(b, `,"C":`...)
		b = strconv.AppendInt(b, g.ms, 10)
		b = append(b, `,"L":`...)
		b = strconv.AppendUint(b, s.tradeID, 10)
		b = append(b, `,"n":`...)
		b = strconv.AppendInt(b, s.count, 10)
		return append(b, '}')
	default:
		b = append(b, `{"type":"heartbeat","ts":`...)
		b = strconv.AppendInt(b, g.ms, 10)
		return append(b, '}')
	}
}

// snapshot appends an order book snapshot of about size bytes.
func (g *marketGen) snapshot(b []byte, size int) []byte {
	s := g.sym()
	levels := max(1, (size-120)/2/30)
	b = append(b, `{"e":"depthSnapshot","s":"`...)
	b = append(b, s.name...)
	b = append(b, `","lastUpdateId":`...)
	b = strconv.AppendUint(b, s.update, 10)
	b = append(b, `,"bids":`...)
	b = g.levels(b, s, levels, -1)
	b = append(b, `,"asks":`...)
	b = g.levels(b, s, levels, 1)
	return append(b, '}')
}

// benchMsg is one message of a corpus.
type benchMsg struct {
	data   []byte
	server bool // sent by the server (else by the client)
}

// corpus is a slice of messages cut from one backing array.
type corpus struct {
	msgs    []benchMsg
	payload int64
}

func (c *corpus) add(data []byte, server bool) {
	c.msgs = append(c.msgs, benchMsg{data: data, server: server})
	c.payload += int64(len(data))
}

// avg is the mean message size, rounded.
func (c *corpus) avg() int64 { return (c.payload + int64(len(c.msgs))/2) / int64(len(c.msgs)) }

// The corpora hold more than FlushSize (1 MiB) of distinct payload, so that
// cycling through them never lets zstd match a whole earlier message within
// a chunk and the ratios stay honest.
func chatCorpus(n int) *corpus {
	g := newChatGen(1)
	c := &corpus{}
	var buf []byte
	for range n {
		start := len(buf)
		var server bool
		buf, server = g.next(buf)
		c.add(buf[start:len(buf):len(buf)], server)
	}
	return c
}

func marketCorpus(n int) *corpus {
	g := newMarketGen(2)
	c := &corpus{}
	var buf []byte
	for range n {
		start := len(buf)
		buf = g.next(buf)
		c.add(buf[start:len(buf):len(buf)], true)
	}
	return c
}

// historyCorpus is n chat backlog pages of about 64 KiB.
func historyCorpus(n int) *corpus {
	g := newChatGen(3)
	c := &corpus{}
	for range n {
		c.add(g.history(make([]byte, 0, 66<<10), 64<<10), true)
	}
	return c
}

// bigHistoryCorpus is n chat backlog pages of about 1 MiB.
func bigHistoryCorpus(n int) *corpus {
	g := newChatGen(8)
	c := &corpus{}
	for range n {
		c.add(g.history(make([]byte, 0, 1<<20+4<<10), 1<<20), true)
	}
	return c
}

// ---- producing ------------------------------------------------------------

var benchTime0 = time.UnixMilli(benchEpoch).UTC()

func benchOpen(i int) *ConnOpen {
	return &ConnOpen{
		Time: benchTime0.Add(time.Duration(i) * time.Second), Mode: "explicit",
		URL:        fmt.Sprintf("wss://chat.example.test/ws/v2?room=%s&session=%08x", benchRooms[i%len(benchRooms)], i*2654435761),
		ClientAddr: fmt.Sprintf("127.0.0.1:%d", 40000+i%20000), ServerAddr: "127.0.0.1:8443",
		RequestHeaders: http.Header{
			"Host": {"chat.example.test"}, "Upgrade": {"websocket"}, "Connection": {"Upgrade"},
			"Sec-Websocket-Key":        {fmt.Sprintf("dGhlIHNhbXBsZSBub25jZQ%02d==", i%100)},
			"Sec-Websocket-Version":    {"13"},
			"Sec-Websocket-Extensions": {"permessage-deflate; client_max_window_bits"},
			"Sec-Websocket-Protocol":   {"chat.v2, chat.v1"},
			"User-Agent":               {"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36"},
			"Origin":                   {"https://chat.example.test"},
			"Cookie":                   {fmt.Sprintf("sid=%016x; theme=dark", uint64(i)*0x9e3779b97f4a7c15)},
		},
		ResponseHeaders: http.Header{"Upgrade": {"websocket"}, "Connection": {"Upgrade"},
			"Sec-Websocket-Accept": {"s3pPLMBiTxaQ9kYGzzhZRbK+xOo="}, "Sec-Websocket-Protocol": {"chat.v2"}},
		Status: 101, Subprotocol: "chat.v2",
		ClientTLS: &TLSInfo{Version: "TLS 1.3", Cipher: "TLS_AES_128_GCM_SHA256", ALPN: "http/1.1", SNI: "chat.example.test"},
		ServerTLS: &TLSInfo{Version: "TLS 1.3", Cipher: "TLS_AES_128_GCM_SHA256", Verified: "ok"},
	}
}

// benchClock is the time of message i when messages come every step: with
// nanoseconds that vary, as the proxy's clock gives them (round times
// would compress better than real ones).
func benchClock(i int, step time.Duration) time.Time {
	return benchTime0.Add(time.Duration(i)*step + time.Duration(uint64(i)*2654435761%uint64(step)))
}

// producer writes messages the way the relay does: for each message one
// Chunk record (First and Last) carrying its single frame's facts; the
// writer stores them apart when the chunk must be split beyond MaxChunk.
type producer struct {
	w *Writer
	f Frame
	c Chunk
}

func (p *producer) message(conn ConnID, at time.Time, m benchMsg) error {
	dir := ClientToServer
	if m.server {
		dir = ServerToClient
	}
	p.f = Frame{Conn: conn, Time: at, Dir: dir, Fin: true, Opcode: OpText, Masked: !m.server, Length: int64(len(m.data))}
	p.c = Chunk{Conn: conn, Time: at, Dir: dir, Opcode: OpText, First: true, Last: true, Data: m.data, Frame: &p.f}
	return p.w.Append(&p.c)
}

func (p *producer) end(conn ConnID, at time.Time) error {
	for _, r := range []Record{
		&Close{Conn: conn, Time: at, Dir: ClientToServer, Code: 1000, Reason: "bye"},
		&Close{Conn: conn, Time: at.Add(time.Millisecond), Dir: ServerToClient, Code: 1000},
		&End{Conn: conn, Time: at.Add(2 * time.Millisecond)},
	} {
		if err := p.w.Append(r); err != nil {
			return err
		}
	}
	return nil
}

func fileSize(tb testing.TB, path string) int64 {
	tb.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		tb.Fatal(err)
	}
	return fi.Size()
}

// writeCorpus writes every message of c, spread round-robin over conns
// connections, to a new capture at path and closes it. It returns the
// number of records written.
func writeCorpus(tb testing.TB, path string, c *corpus, conns int) int {
	tb.Helper()
	w, err := Create(path, Options{})
	if err != nil {
		tb.Fatal(err)
	}
	ids := make([]ConnID, conns)
	for i := range ids {
		if ids[i], err = w.Open(benchOpen(i)); err != nil {
			tb.Fatal(err)
		}
	}
	p := &producer{w: w}
	for i, m := range c.msgs {
		if err := p.message(ids[i%conns], benchClock(i, time.Millisecond), m); err != nil {
			tb.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		tb.Fatal(err)
	}
	return int(w.Stats().Records)
}

// ---- benchmarks -----------------------------------------------------------

// benchCPU returns the CPU time (user and system) the process has used so
// far, where the platform tells (bench_cpu_unix_test.go).
var benchCPU func() time.Duration

// cpuMeter reports throughput per CPU second next to the wall-clock figures:
// on a shared machine the wall clock also counts time the benchmark waited
// for a core, the CPU time does not. "cpu-MB/s" at -cpu 1 is the one-core
// figure.
type cpuMeter struct{ start time.Duration }

func startCPU() cpuMeter {
	if benchCPU == nil {
		return cpuMeter{}
	}
	return cpuMeter{benchCPU()}
}

// reportTime reports the CPU time per iteration.
func (m cpuMeter) reportTime(b *testing.B) {
	if benchCPU != nil {
		b.ReportMetric(float64((benchCPU()-m.start).Milliseconds())/float64(b.N), "cpu-ms/op")
	}
}

func (m cpuMeter) report(b *testing.B, bytes int64) {
	if benchCPU == nil {
		return
	}
	if used := (benchCPU() - m.start).Seconds(); used > 0 {
		b.ReportMetric(float64(bytes)/1e6/used, "cpu-MB/s")
		b.ReportMetric(used/b.Elapsed().Seconds(), "cores")
	}
}

// The corpora, built once per process.
var (
	chat128  = sync.OnceValue(func() *corpus { return chatCorpus(40000) })    // chat events, ~128 B each
	hist64K  = sync.OnceValue(func() *corpus { return historyCorpus(48) })    // 64 KiB backlog pages
	market   = sync.OnceValue(func() *corpus { return marketCorpus(40000) })  // market events
	chatBig  = sync.OnceValue(func() *corpus { return chatCorpus(200000) })   // ~25 MiB of chat
	mktBig   = sync.OnceValue(func() *corpus { return marketCorpus(200000) }) // ~45 MiB of market data
	hist32M  = sync.OnceValue(func() *corpus { return historyCorpus(512) })   // 32 MiB of backlog pages
	hist1M   = sync.OnceValue(func() *corpus { return bigHistoryCorpus(24) }) // 1 MiB backlog pages
	random1M = sync.OnceValue(func() *corpus {                                // 1 MiB of random bytes each
		rng := rand.New(rand.NewPCG(7, 8))
		c := &corpus{}
		for range 24 {
			data := make([]byte, 1<<20)
			for i := 0; i < len(data); i += 8 {
				binary.LittleEndian.PutUint64(data[i:], rng.Uint64())
			}
			c.add(data, true)
		}
		return c
	})
)

const benchConns = 4

// benchWrite appends b.N messages of c (one Frame and one Chunk record
// each) from GOMAXPROCS producers over benchConns connections, then closes
// the writer; the Close, which compresses and writes what is still queued,
// is timed too.
func benchWrite(b *testing.B, c *corpus) { benchWriteOpts(b, c, Options{}) }

// benchWriteOpts is benchWrite with a writer configured by opts.
func benchWriteOpts(b *testing.B, c *corpus, opts Options) {
	path := filepath.Join(b.TempDir(), "w.wstap")
	w, err := Create(path, opts)
	if err != nil {
		b.Fatal(err)
	}
	ids := make([]ConnID, benchConns)
	for i := range ids {
		if ids[i], err = w.Open(benchOpen(i)); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(c.avg())
	var workers atomic.Int64
	b.ResetTimer()
	cpu := startCPU()
	b.RunParallel(func(pb *testing.PB) {
		wk := int(workers.Add(1) - 1)
		p := &producer{w: w}
		i := wk * 7717 // producers start at different places of the corpus
		for n := 0; pb.Next(); n++ {
			m := c.msgs[i%len(c.msgs)]
			i++
			if err := p.message(ids[(wk+n)%len(ids)], benchClock(n, 250*time.Microsecond), m); err != nil {
				b.Error(err)
				return
			}
		}
	})
	if err := w.Close(); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	st := w.Stats()
	cpu.report(b, int64(st.PayloadBytes))
	b.ReportMetric(float64(2*b.N)/b.Elapsed().Seconds(), "records/s")
	b.ReportMetric(float64(st.PayloadBytes)/float64(fileSize(b, path)), "ratio")
	if st.Chunks > 0 {
		b.ReportMetric(float64(st.RawBytes)/float64(st.Chunks)/1024, "KiB/chunk")
		b.ReportMetric(100*float64(st.RawChunks)/float64(st.Chunks), "%raw-chunks")
	}
	b.ReportMetric(float64(fileSize(b, path))/float64(st.PayloadBytes), "file-B/payload-B")
	os.Remove(path)
}

// BenchmarkWrite128 writes chat events of about 128 bytes.
func BenchmarkWrite128(b *testing.B) { benchWrite(b, chat128()) }

// BenchmarkWrite64K writes 64 KiB chat backlog pages.
func BenchmarkWrite64K(b *testing.B) { benchWrite(b, hist64K()) }

// BenchmarkWriterThroughput writes 1 MiB messages, as a relay at full
// speed hands them over, with each Compression: chat backlog pages (JSON)
// and random bytes (already compressed media, encrypted blobs). MB/s is
// payload; file-B/payload-B is what the file costs per payload byte.
//
//	go test -run=NONE -bench=WriterThroughput -benchtime=3s -count=3 ./capture
func BenchmarkWriterThroughput(b *testing.B) {
	for _, tc := range []struct {
		name string
		c    func() *corpus
	}{{"json", hist1M}, {"random", random1M}} {
		for _, mode := range []Compression{CompressAdaptive, CompressAlways, CompressNever} {
			b.Run(tc.name+"/"+mode.String(), func(b *testing.B) { benchWriteOpts(b, tc.c(), Options{Compression: mode}) })
		}
	}
}

// benchCompression writes all of c over 16 connections per iteration and
// reports the compression ratio: payload bytes over file bytes.
func benchCompression(b *testing.B, c *corpus) {
	dir := b.TempDir()
	b.SetBytes(c.payload)
	var ratio float64
	cpu := startCPU()
	for i := 0; b.Loop(); i++ {
		path := filepath.Join(dir, fmt.Sprintf("c%d.wstap", i))
		writeCorpus(b, path, c, 16)
		ratio = float64(c.payload) / float64(fileSize(b, path))
		os.Remove(path)
	}
	cpu.report(b, c.payload*int64(b.N))
	b.ReportMetric(ratio, "ratio")
	b.ReportMetric(float64(2*len(c.msgs)*b.N)/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkCompressionChat reports the ratio on chat events.
func BenchmarkCompressionChat(b *testing.B) { benchCompression(b, chatBig()) }

// BenchmarkCompressionMarket reports the ratio on market data.
func BenchmarkCompressionMarket(b *testing.B) { benchCompression(b, mktBig()) }

// BenchmarkRead iterates over every record (Records) and every assembled
// message (Messages) of a capture written beforehand.
func BenchmarkRead(b *testing.B) {
	for _, tc := range []struct {
		name string
		c    func() *corpus
	}{{"chat", chatBig}, {"64K", hist32M}} {
		b.Run(tc.name, func(b *testing.B) {
			c := tc.c()
			path := filepath.Join(b.TempDir(), "r.wstap")
			nrec := writeCorpus(b, path, c, 16)
			r, err := Open(path)
			if err != nil {
				b.Fatal(err)
			}
			defer r.Close()
			b.Run("Records", func(b *testing.B) {
				b.SetBytes(c.payload)
				cpu := startCPU()
				for b.Loop() {
					n := 0
					for _, err := range r.Records(Filter{}) {
						if err != nil {
							b.Fatal(err)
						}
						n++
					}
					if n != nrec {
						b.Fatalf("read %d records, want %d", n, nrec)
					}
				}
				cpu.report(b, c.payload*int64(b.N))
				b.ReportMetric(float64(nrec*b.N)/b.Elapsed().Seconds(), "records/s")
			})
			b.Run("Messages", func(b *testing.B) {
				b.SetBytes(c.payload)
				cpu := startCPU()
				for b.Loop() {
					n := 0
					for rec, err := range r.Messages(Filter{}, AssembleOptions{}) {
						if err != nil {
							b.Fatal(err)
						}
						if _, ok := rec.(*Message); ok {
							n++
						}
					}
					if n != len(c.msgs) {
						b.Fatalf("read %d messages, want %d", n, len(c.msgs))
					}
				}
				cpu.report(b, c.payload*int64(b.N))
				b.ReportMetric(float64(len(c.msgs)*b.N)/b.Elapsed().Seconds(), "msgs/s")
				b.ReportMetric(float64(nrec*b.N)/b.Elapsed().Seconds(), "records/s")
			})
		})
	}
}

// The 1 GiB capture of BenchmarkListConns1GiB. Bump listGen when the
// generator changes, so a kept file is not reused.
const (
	listGen      = 3
	listConns    = 2000
	listPayload  = 720 << 20 // payload budget, spread evenly over the connections (large messages overshoot it)
	listActive   = 200       // connections open at once
	listKeepEnv  = "WSTAP_BENCH_KEEP"
	listFileName = "list1g.wstap"
)

// listCapture returns the path of the 1 GiB capture and its payload size,
// writing it if no kept copy exists.
func listCapture(b *testing.B) (string, int64) {
	dir := filepath.Join(os.TempDir(), fmt.Sprintf("wstap-bench-v%d-g%d", Version, listGen))
	path := filepath.Join(dir, listFileName)
	if os.Getenv(listKeepEnv) == "" {
		b.Cleanup(func() { os.RemoveAll(dir) })
	}
	if s, err := os.ReadFile(path + ".ok"); err == nil {
		if n, err := strconv.ParseInt(string(s), 10, 64); err == nil && n > 0 {
			return path, n
		}
	}
	os.RemoveAll(dir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	payload := writeListCapture(b, path)
	b.Logf("wrote %s: %d MiB of payload, %d MiB file, in %v", path, payload>>20, fileSize(b, path)>>20,
		time.Since(start).Round(time.Millisecond))
	if err := os.WriteFile(path+".ok", []byte(strconv.FormatInt(payload, 10)), 0o600); err != nil {
		b.Fatal(err)
	}
	return path, payload
}

// writeListCapture writes listConns connections, listActive at a time,
// each a mix of small chat or market events and, one message in 40, a large
// one (16 KiB to 1 MiB: chat backlogs and order book snapshots), which carry
// most of the bytes.
func writeListCapture(b *testing.B, path string) int64 {
	rng := rand.New(rand.NewPCG(4, 0x1157))
	chat, mkt := chat128(), market()
	var large []benchMsg
	cg, mg := newChatGen(5), newMarketGen(6)
	for i := range 48 {
		size := int(16 << 10 * math.Pow(64, rng.Float64()))
		if i%2 == 0 {
			large = append(large, benchMsg{data: cg.history(nil, size), server: true})
		} else {
			large = append(large, benchMsg{data: mg.snapshot(nil, size), server: true})
		}
	}
	w, err := Create(path, Options{})
	if err != nil {
		b.Fatal(err)
	}
	p := &producer{w: w}
	type live struct {
		id     ConnID
		left   int64
		market bool
	}
	var (
		active  []live
		opened  int
		payload int64
		clock   = benchTime0
	)
	for opened < listConns || len(active) > 0 {
		for len(active) < listActive && opened < listConns {
			id, err := w.Open(benchOpen(opened))
			if err != nil {
				b.Fatal(err)
			}
			active = append(active, live{id: id, left: listPayload / listConns, market: opened%3 == 0})
			opened++
		}
		k := rng.IntN(len(active))
		a := &active[k]
		var m benchMsg
		switch {
		case rng.IntN(40) == 0:
			m = large[rng.IntN(len(large))]
		case a.market:
			m = mkt.msgs[rng.IntN(len(mkt.msgs))]
		default:
			m = chat.msgs[rng.IntN(len(chat.msgs))]
		}
		clock = clock.Add(time.Duration(rng.IntN(2e6))) // ns: real clocks have no round numbers
		if err := p.message(a.id, clock, m); err != nil {
			b.Fatal(err)
		}
		payload += int64(len(m.data))
		if a.left -= int64(len(m.data)); a.left <= 0 {
			if err := p.end(a.id, clock); err != nil {
				b.Fatal(err)
			}
			active[k] = active[len(active)-1]
			active = active[:len(active)-1]
		}
	}
	if err := w.Close(); err != nil {
		b.Fatal(err)
	}
	if payload < 1<<30 {
		b.Fatalf("wrote %d MiB of payload, want at least 1 GiB: raise listPayload", payload>>20)
	}
	return payload
}

// BenchmarkListConns1GiB times Open + Conns on a capture of more than 1 GiB
// of payload over 2000 connections: "footer" is the cleanly closed file;
// "crash" cuts off the footer and the final checkpoint, as a crash just
// before Close would, so the reader hops chunk headers and folds the chunks
// written after the last periodic checkpoint; "crash-worst" cuts just before
// that checkpoint instead, leaving a whole checkpoint interval to fold.
func BenchmarkListConns1GiB(b *testing.B) {
	if testing.Short() {
		b.Skip("writes a 1 GiB capture")
	}
	path, payload := listCapture(b)
	size := fileSize(b, path)

	// Find the checkpoints from the footer.
	f, err := os.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	full, err := NewReader(f, size)
	if err != nil {
		b.Fatal(err)
	}
	var ft [frameHeadSize + footerSize]byte
	if _, err := f.ReadAt(ft[:], size-int64(len(ft))); err != nil {
		b.Fatal(err)
	}
	lastCP := int64(binary.LittleEndian.Uint64(ft[frameHeadSize:]))
	final, _, err := full.readCheckpoint(lastCP)
	if err != nil {
		b.Fatal(err)
	}
	var prev *checkpoint
	if final.Prev >= 0 {
		if prev, _, err = full.readCheckpoint(final.Prev); err != nil {
			b.Fatal(err)
		}
	}
	full.Close()

	list := func(b *testing.B, size int64, fold []chunkEntry) {
		n := 0
		cpu := startCPU()
		for b.Loop() {
			var r *Reader
			var err error
			if fold == nil {
				r, err = Open(path)
			} else {
				var f *os.File
				if f, err = os.Open(path); err == nil {
					defer f.Close()
					r, err = NewReader(f, size)
				}
			}
			if err != nil {
				b.Fatal(err)
			}
			n = len(r.Conns())
			if n == 0 || fold == nil && n != listConns || r.Tail() != nil || r.Complete() != (fold == nil) {
				b.Fatalf("listed %d connections (tail %v, complete %v)", n, r.Tail(), r.Complete())
			}
			r.Close()
		}
		var ulen int64
		for _, e := range fold {
			ulen += int64(e.ULen)
		}
		cpu.reportTime(b)
		b.ReportMetric(float64(n), "conns")
		b.ReportMetric(float64(payload)/(1<<20), "payload-MiB")
		b.ReportMetric(float64(size)/(1<<20), "file-MiB")
		b.ReportMetric(float64(len(fold)), "fold-chunks")
		b.ReportMetric(float64(ulen)/(1<<20), "fold-MiB")
	}
	b.Run("footer", func(b *testing.B) { list(b, size, nil) })
	b.Run("crash", func(b *testing.B) { list(b, lastCP, nonNil(final.Chunks)) })
	if prev != nil {
		b.Run("crash-worst", func(b *testing.B) { list(b, final.Prev, nonNil(prev.Chunks)) })
	}
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// TestBenchCorpus checks that the benchmark corpora are valid JSON and the
// same on every run, and shows their mean sizes with -v.
func TestBenchCorpus(t *testing.T) {
	for _, tc := range []struct {
		name string
		c    *corpus
	}{{"chat", chatCorpus(2000)}, {"market", marketCorpus(2000)}, {"history", historyCorpus(2)}} {
		h := fnv.New64a()
		for _, m := range tc.c.msgs {
			if !json.Valid(m.data) {
				t.Fatalf("%s: invalid JSON: %s", tc.name, m.data)
			}
			h.Write(m.data)
		}
		again := map[string]*corpus{"chat": chatCorpus(2000), "market": marketCorpus(2000), "history": historyCorpus(2)}[tc.name]
		h2 := fnv.New64a()
		for _, m := range again.msgs {
			h2.Write(m.data)
		}
		if h.Sum64() != h2.Sum64() {
			t.Errorf("%s: corpus differs between runs", tc.name)
		}
		t.Logf("%s: %d messages, mean %d B, e.g. %s", tc.name, len(tc.c.msgs), tc.c.avg(), tc.c.msgs[len(tc.c.msgs)-1].data[:min(300, len(tc.c.msgs[len(tc.c.msgs)-1].data))])
	}
	bg := newMarketGen(9)
	if s := bg.snapshot(nil, 100000); !json.Valid(s) || len(s) < 50000 || len(s) > 150000 {
		t.Errorf("snapshot of %d bytes, valid %v", len(s), json.Valid(s))
	}
}

package capture

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"hash"
	"io"
	"iter"
	"math/rand/v2"
	"runtime"
	"testing"
	"time"
)

// payloadGen produces a big message's payload chunk by chunk from a seeded
// PRNG: random chunks and compressible ones alternate, so both zstd paths
// are exercised. Nothing ever holds the whole payload.
type payloadGen struct {
	rng *rand.ChaCha8
	n   int
	buf []byte
}

func newPayloadGen(seed byte) *payloadGen {
	var s [32]byte
	s[0] = seed
	return &payloadGen{rng: rand.NewChaCha8(s), buf: make([]byte, MaxChunk)}
}

// next returns the next chunk of size bytes; the slice is reused.
func (g *payloadGen) next(size int) []byte {
	p := g.buf[:size]
	if g.n%2 == 0 {
		g.rng.Read(p)
	} else {
		g.rng.Read(p[:min(size, 1024)])
		for i := 1024; i < size; i *= 2 {
			copy(p[i:], p[:i])
		}
	}
	g.n++
	return p
}

// heapMeter samples the live heap (after a GC) and keeps the peak growth
// over the baseline taken when it was made.
type heapMeter struct {
	base, peak uint64
	calls      int
}

func newHeapMeter() *heapMeter {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return &heapMeter{base: ms.HeapAlloc}
}

// sample measures every 8th call.
func (m *heapMeter) sample() {
	m.calls++
	if m.calls%8 != 0 {
		return
	}
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	if ms.HeapAlloc > m.base {
		m.peak = max(m.peak, ms.HeapAlloc-m.base)
	}
}

func (m *heapMeter) check(t *testing.T, what string, bound uint64) {
	t.Helper()
	t.Logf("%s: peak live heap growth %.1f MiB", what, float64(m.peak)/(1<<20))
	if m.peak > bound {
		t.Errorf("%s: live heap grew by %.1f MiB, want under %.0f MiB", what, float64(m.peak)/(1<<20), float64(bound)/(1<<20))
	}
}

// sampled wraps a record sequence so that m samples the heap as it flows.
func sampled(src iter.Seq2[Record, error], m *heapMeter) iter.Seq2[Record, error] {
	return func(yield func(Record, error) bool) {
		for rec, err := range src {
			m.sample()
			if !yield(rec, err) {
				return
			}
		}
	}
}

// hashWriter hashes what is written to it, sampling the heap.
type hashWriter struct {
	h hash.Hash
	m *heapMeter
	n int64
}

func (w *hashWriter) Write(p []byte) (int, error) {
	w.m.sample()
	w.n += int64(len(p))
	return w.h.Write(p)
}

func TestStreamHugeMessage(t *testing.T) {
	size := 64 << 20
	if testing.Short() {
		size = 8 << 20
	}
	// The writer may queue up to QueueSize (4 MiB) and a batch or two; a
	// reader holds the chunk being read and readAheadChunks decoded ahead
	// of it (at most a few MiB each): never the message.
	const writeBound, readBound = 24 << 20, (1 + readAheadChunks) * 4 << 20
	w, path := createWriter(t, "huge.wstap", Options{})
	c := mustOpen(t, w, &ConnOpen{Time: at(0), URL: "ws://huge.example.test/"})
	if err := w.Append(&Frame{Conn: c, Time: at(1), Dir: ServerToClient, Fin: true, Opcode: OpBinary, Length: int64(size)}); err != nil {
		t.Fatal(err)
	}
	gen := newPayloadGen(1)
	want := sha256.New()
	var prefix []byte
	meter := newHeapMeter()
	for off := 0; off < size; off += MaxChunk {
		n := min(MaxChunk, size-off)
		p := gen.next(n)
		want.Write(p)
		if len(prefix) < 4096 {
			prefix = append(prefix, p[:min(len(p), 4096-len(prefix))]...)
		}
		if err := w.Append(&Chunk{Conn: c, Time: at(2 + off/MaxChunk), Dir: ServerToClient, Opcode: OpBinary,
			First: off == 0, Last: off+n == size, Data: p}); err != nil {
			t.Fatal(err)
		}
		meter.sample()
	}
	if err := w.Append(&Chunk{Conn: c, Time: at(5000), Dir: ClientToServer, Opcode: OpText, First: true, Last: true,
		Data: []byte("after")}); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	meter.check(t, "writing", writeBound)
	wantSum := want.Sum(nil)

	r, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if s, _ := r.Conn(c); s.Bytes[1] != int64(size) || s.Messages != [3]int64{1, 1, 0} {
		t.Errorf("summary = %+v, want one %d-byte server message", s, size)
	}

	meter = newHeapMeter()
	var big *Message
	var msgs int
	for rec, err := range Assemble(sampled(r.Records(Filter{}), meter), AssembleOptions{MaxData: 4096}) {
		if err != nil {
			t.Fatal(err)
		}
		if m, ok := rec.(*Message); ok {
			msgs++
			if m.Dir == ServerToClient {
				big = m
			}
		}
	}
	meter.check(t, "Messages", readBound)
	if big == nil || msgs != 2 {
		t.Fatalf("got %d messages and big = %v; want 2 messages, one of them big", msgs, big)
	}
	if !big.Cut || big.Size != int64(size) || big.Incomplete || big.Index != 1 || !bytes.Equal(big.Data, prefix) {
		t.Errorf("big message: Cut %v, Size %d, Incomplete %v, Index %d, %d bytes of data (prefix ok: %v); want cut, %d bytes, index 1",
			big.Cut, big.Size, big.Incomplete, big.Index, len(big.Data), bytes.Equal(big.Data, prefix), size)
	}

	meter = newHeapMeter()
	rc, err := r.OpenMessage(big)
	if err != nil {
		t.Fatal(err)
	}
	hw := &hashWriter{h: sha256.New(), m: meter}
	if _, err := io.Copy(hw, rc); err != nil {
		t.Fatalf("streaming the message: %v", err)
	}
	if err := rc.Close(); err != nil {
		t.Fatal(err)
	}
	meter.check(t, "OpenMessage", readBound)
	if hw.n != int64(size) || !bytes.Equal(hw.h.Sum(nil), wantSum) {
		t.Errorf("OpenMessage streamed %d bytes with sha256 %x, want %d bytes with %x", hw.n, hw.h.Sum(nil), size, wantSum)
	}
}

// TestStreamInterleaved: two big messages in opposite directions whose
// chunks interleave, with pings between fragments; each streams whole.
func TestStreamInterleaved(t *testing.T) {
	const chunks = 10
	w, path := createWriter(t, "interleaved.wstap", Options{FlushSize: 300 << 10})
	c := mustOpen(t, w, &ConnOpen{Time: at(0), URL: "ws://il.example.test/"})
	// A second connection's traffic in between must not disturb conn c.
	other, err := w.Open(&ConnOpen{Time: at(0), URL: "ws://other.example.test/"})
	if err != nil {
		t.Fatal(err)
	}
	gens := [2]*payloadGen{newPayloadGen(2), newPayloadGen(3)}
	sums := [2]hash.Hash{sha256.New(), sha256.New()}
	sizes := [2]int{}
	ms := 1
	appendOrDie := func(r Record) {
		t.Helper()
		if err := w.Append(r); err != nil {
			t.Fatal(err)
		}
	}
	for i := range chunks {
		for d := range 2 {
			dir := Direction(d)
			n := MaxChunk - 1000*(d+1) + i*17
			p := gens[d].next(n)
			sums[d].Write(p)
			sizes[d] += n
			op := OpBinary
			if dir == ClientToServer {
				op = OpText
			}
			appendOrDie(&Chunk{Conn: c, Time: at(ms), Dir: dir, Opcode: op, First: i == 0, Last: i == chunks-1, Data: p})
			ms++
			if i < chunks-1 {
				appendOrDie(&Chunk{Conn: c, Time: at(ms), Dir: dir, Opcode: OpPing, First: true, Last: true,
					Data: fmt.Appendf(nil, "ping %d/%d", d, i)})
				appendOrDie(&Chunk{Conn: other, Time: at(ms), Dir: dir, Opcode: OpText, First: true, Last: true,
					Data: fmt.Appendf(nil, "other %d/%d", d, i)})
				ms++
			}
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}

	r, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var bigs [2]*Message
	var pings []*Message
	seen := map[int]bool{}
	for rec, err := range r.Messages(Filter{Conn: c}, AssembleOptions{MaxData: 1024}) {
		if err != nil {
			t.Fatal(err)
		}
		m, ok := rec.(*Message)
		if !ok {
			continue
		}
		if m.Incomplete {
			t.Errorf("message %d is incomplete", m.Index)
		}
		if seen[m.Index] || m.Index < 1 {
			t.Errorf("message index %d twice or out of range", m.Index)
		}
		seen[m.Index] = true
		if m.Opcode == OpPing {
			pings = append(pings, m)
			continue
		}
		if bigs[m.Dir] != nil {
			t.Fatalf("a second big message in direction %v", m.Dir)
		}
		bigs[m.Dir] = m
	}
	if len(pings) != 2*(chunks-1) {
		t.Errorf("got %d pings, want %d", len(pings), 2*(chunks-1))
	}
	for d, m := range bigs {
		if m == nil {
			t.Fatalf("no big message in direction %v", Direction(d))
		}
		if !m.Cut || m.Size != int64(sizes[d]) || len(m.Data) != 1024 {
			t.Errorf("%v: Cut %v, Size %d, %d bytes of data; want cut, %d, 1024", m.Dir, m.Cut, m.Size, len(m.Data), sizes[d])
		}
		rc, err := r.OpenMessage(m)
		if err != nil {
			t.Fatal(err)
		}
		h := sha256.New()
		n, err := io.Copy(h, rc)
		rc.Close()
		if err != nil || n != int64(sizes[d]) || !bytes.Equal(h.Sum(nil), sums[d].Sum(nil)) {
			t.Errorf("%v: OpenMessage streamed %d bytes (%v) with sha256 %x, want %d with %x", m.Dir, n, err,
				h.Sum(nil), sizes[d], sums[d].Sum(nil))
		}
	}
	// A ping, found among the fragments, streams alone.
	for _, p := range []*Message{pings[0], pings[len(pings)-1]} {
		rc, err := r.OpenMessage(p)
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(rc)
		rc.Close()
		if err != nil || !bytes.Equal(got, p.Data) {
			t.Errorf("OpenMessage(ping %d) = %q, %v; want %q", p.Index, got, err, p.Data)
		}
	}
	// A message that does not exist.
	rc, err := r.OpenMessage(&Message{Conn: c, Dir: ServerToClient, Opcode: OpBinary, Index: 999})
	if err == nil {
		_, err = io.ReadAll(rc)
		rc.Close()
	}
	if err == nil {
		t.Error("OpenMessage(index 999) streamed without an error")
	}
}

// TestStreamAcrossFlushes: a message whose chunks straddle many flushes,
// each in a chunk of its own, reassembles and streams whole.
func TestStreamAcrossFlushes(t *testing.T) {
	w, path := createWriter(t, "flushes.wstap", Options{FlushInterval: time.Hour})
	c := mustOpen(t, w, &ConnOpen{Time: at(0), URL: "ws://flush.example.test/"})
	var want []byte
	for i := range 20 {
		p := fmt.Appendf(nil, "part %02d;", i)
		want = append(want, p...)
		if err := w.Append(&Chunk{Conn: c, Time: at(i), Opcode: OpText, First: i == 0, Last: i == 19, Data: p}); err != nil {
			t.Fatal(err)
		}
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	r := closeAndOpen(t, w, path)
	var got []*Message
	for rec, err := range r.Messages(Filter{}, AssembleOptions{}) {
		if err != nil {
			t.Fatal(err)
		}
		if m, ok := rec.(*Message); ok {
			got = append(got, m)
		}
	}
	if len(got) != 1 || !bytes.Equal(got[0].Data, want) || got[0].Cut || got[0].Incomplete {
		t.Fatalf("messages = %+v, want one of %q", got, want)
	}
	rc, err := r.OpenMessage(got[0])
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	if all, err := io.ReadAll(rc); err != nil || !bytes.Equal(all, want) {
		t.Errorf("OpenMessage = %q, %v; want %q", all, err, want)
	}
}

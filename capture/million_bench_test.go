package capture

import (
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// The benchmarks of issue 7: one connection of 1,000,000 messages of 1 KiB
// and one 10 MiB message at the end (about 1 GiB of payload). The capture
// is generated once per process, in the system's temporary directory, and
// removed by TestMain's cleanup of benchmarks (or left for the next run,
// which reuses it when it is whole).
//
//	go test -run=NONE -bench=Million -benchtime=3x ./capture
const (
	millionCount = 1_000_000
	millionSize  = 1 << 10
	millionBig   = 10 << 20
)

var (
	millionOnce sync.Once
	millionPath string
	millionErr  error
)

func millionCapture(b *testing.B) string {
	b.Helper()
	millionOnce.Do(func() {
		millionPath = filepath.Join(os.TempDir(), fmt.Sprintf("wstap-bench-million-v%d.wstap", Version))
		if r, err := Open(millionPath); err == nil {
			whole := r.Complete()
			r.Close()
			if whole {
				return
			}
		}
		os.Remove(millionPath)
		millionErr = writeMillion(millionPath)
	})
	if millionErr != nil {
		b.Fatal(millionErr)
	}
	return millionPath
}

func writeMillion(path string) error {
	w, err := Create(path, Options{})
	if err != nil {
		return err
	}
	c, err := w.Open(&ConnOpen{Time: time.Unix(1_700_000_000, 0), URL: "wss://bench.example.test/feed", Status: 101})
	if err != nil {
		return err
	}
	rng := rand.New(rand.NewPCG(1, 2))
	msg := make([]byte, 0, millionSize)
	t := time.Unix(1_700_000_000, 0)
	for i := range millionCount {
		msg = msg[:0]
		msg = fmt.Appendf(msg, `{"seq":%d,"type":"tick","symbol":"SYM%03d","bids":[`, i, rng.IntN(500))
		for len(msg) < millionSize-40 {
			msg = fmt.Appendf(msg, `[%d.%02d,%d],`, rng.IntN(1000), rng.IntN(100), rng.IntN(10000))
		}
		msg = append(msg[:len(msg)-1], "]}"...)
		for len(msg) < millionSize {
			msg = append(msg, ' ')
		}
		t = t.Add(time.Millisecond)
		dir := Direction(i & 1)
		if err := w.Append(&Chunk{Conn: c, Time: t, Dir: dir, Opcode: OpText, First: true, Last: true, Data: msg,
			Frame: &Frame{Fin: true, Opcode: OpText, Masked: dir == ClientToServer, Length: int64(len(msg))}}); err != nil {
			return err
		}
	}
	big := make([]byte, millionBig)
	for i := range big {
		big[i] = "0123456789abcdef"[rng.IntN(16)]
	}
	t = t.Add(time.Millisecond)
	if err := w.Append(&Frame{Conn: c, Time: t, Dir: ServerToClient, Fin: true, Opcode: OpBinary, Length: millionBig}); err != nil {
		return err
	}
	if err := w.Append(&Chunk{Conn: c, Time: t, Dir: ServerToClient, Opcode: OpBinary, First: true, Last: true, Data: big}); err != nil {
		return err
	}
	if err := w.Append(&End{Conn: c, Time: t.Add(time.Millisecond)}); err != nil {
		return err
	}
	return w.Close()
}

func openMillion(b *testing.B) *Reader {
	b.Helper()
	r, err := Open(millionCapture(b))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { r.Close() })
	return r
}

// lastMessage finds the 10 MiB message's position, by SeekTime and a short
// walk (not timed).
func lastMessage(b *testing.B, r *Reader) uint64 {
	b.Helper()
	cs, _ := r.Conn(1)
	for rec, err := range r.RecordsFrom(Filter{Conn: 1}, r.SeekTime(cs.Last.Add(-2*time.Millisecond))) {
		if err != nil {
			b.Fatal(err)
		}
		if c, ok := rec.(*Chunk); ok && c.First && c.Opcode == OpBinary {
			return c.seq
		}
	}
	b.Fatal("no 10 MiB message")
	return 0
}

func BenchmarkMillion(b *testing.B) {
	path := millionCapture(b)
	if fi, err := os.Stat(path); err == nil {
		b.Logf("capture: %s, %d MiB", path, fi.Size()>>20)
	}
	b.Run("Summaries", func(b *testing.B) {
		r := openMillion(b)
		b.ReportAllocs()
		for b.Loop() {
			n := 0
			for _, err := range r.Summaries(Filter{Conn: 1}) {
				if err != nil {
					b.Fatal(err)
				}
				n++
			}
			if n != millionCount+1 {
				b.Fatalf("%d summaries", n)
			}
		}
	})
	b.Run("OpenLast64K", func(b *testing.B) {
		r := openMillion(b)
		seq := lastMessage(b, r)
		buf := make([]byte, 64<<10)
		b.ReportAllocs()
		for b.Loop() {
			rc, err := r.OpenMessageAt(1, seq)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := io.ReadFull(rc, buf); err != nil {
				b.Fatal(err)
			}
			rc.Close()
		}
	})
	b.Run("OpenLastAll", func(b *testing.B) {
		r := openMillion(b)
		seq := lastMessage(b, r)
		b.ReportAllocs()
		for b.Loop() {
			rc, err := r.OpenMessageAt(1, seq)
			if err != nil {
				b.Fatal(err)
			}
			n, err := io.Copy(io.Discard, rc)
			rc.Close()
			if err != nil || n != millionBig {
				b.Fatalf("read %d bytes, %v", n, err)
			}
		}
	})
	b.Run("SeekTime", func(b *testing.B) {
		r := openMillion(b)
		cs, _ := r.Conn(1)
		span := cs.Last.Sub(cs.First)
		i := 0
		b.ReportAllocs()
		for b.Loop() {
			i++
			r.SeekTime(cs.First.Add(span * time.Duration(i%97) / 97))
		}
	})
	b.Run("Repair", func(b *testing.B) {
		fi, _ := os.Stat(path)
		b.SetBytes(fi.Size())
		for b.Loop() {
			dst := filepath.Join(b.TempDir(), "repaired.wstap")
			if _, err := Repair(path, dst); err != nil {
				b.Fatal(err)
			}
			os.Remove(dst)
		}
	})
}

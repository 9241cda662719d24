package proxy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gorilla/websocket"
	"github.com/wstap/wstap/capture"
)

// The relay benchmarks put wstap between a gorilla client and a gorilla
// echo server on loopback and compare, side by side in one run,
//
//	direct  the client talks to the echo server itself;
//	proxy   through wstap in reverse mode, recording nothing (Sink nil);
//	record  through wstap recording into a capture file (capture.Create).
//
// BenchmarkRelay/<size>/<mode> does round trips: send one message, wait
// for its echo. ns/op is one round trip, MB/s counts the message's payload
// once per round trip, msgs/s is round trips per second. The gorilla client
// (default 4 KiB write buffer) sends a 1 MiB message as 256 masked frames
// of 4 KiB; the echo server returns it as one unmasked 1 MiB frame.
//
// BenchmarkRelay/128B-pipelined/<mode> keeps the pipe full instead: a
// writer goroutine sends b.N messages while the reader reads the b.N echoes,
// so the figure is throughput rather than scheduling latency.
//
// BenchmarkRelayLatency/<mode> sends 128-byte round trips paced at 1000/s
// (one op each; -benchtime=2s makes a window of about 2 s) and reports the
// round-trip percentiles p50-µs, p99-µs and max-µs.
//
// BenchmarkPump isolates the relay's own per-frame CPU work: one pump
// direction fed from memory and writing to a discarding connection, no
// sockets, no peers.
//
// Compare the modes with benchstat, e.g.
//
//	go test -run=NONE -bench=Relay -benchtime=2s -count=5 ./proxy | tee relay.txt
//	go run golang.org/x/perf/cmd/benchstat@latest relay.txt

// relayModes are the three set-ups every relay benchmark compares.
var relayModes = []string{"direct", "proxy", "record"}

// benchEchoServer is a gorilla WebSocket server that echoes every message,
// reading it into a buffer it reuses so the server's own allocations do not
// blur the comparison.
func benchEchoServer(tb testing.TB) *httptest.Server {
	tb.Helper()
	up := websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		var buf []byte
		for {
			mt, rd, err := c.NextReader()
			if err != nil {
				return
			}
			if buf, err = readInto(buf[:0], rd); err != nil {
				return
			}
			if err := c.WriteMessage(mt, buf); err != nil {
				return
			}
		}
	}))
	tb.Cleanup(srv.Close)
	return srv
}

// readInto appends everything r yields to buf, growing it as needed.
func readInto(buf []byte, r io.Reader) ([]byte, error) {
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}

// benchPayload returns n bytes of JSON-like text, the kind of message
// WebSocket APIs mostly carry: the field names repeat, the values vary, so
// it is valid UTF-8 and zstd compresses it a few times, neither trivially
// nor not at all.
func benchPayload(n int) []byte {
	r := rand.New(rand.NewPCG(1, 2))
	sides := []string{"buy", "sell"}
	var b []byte
	for seq := 0; len(b) < n; seq++ {
		b = fmt.Appendf(b, `{"seq":%d,"price":%d.%02d,"qty":%d,"side":%q,"id":"%016x"}`+"\n",
			seq, 100+r.IntN(900), r.IntN(100), 1+r.IntN(10000), sides[r.IntN(2)], r.Uint64())
	}
	return b[:n]
}

// relayRig is a connected client for one mode, with the capture writer
// when the mode records.
type relayRig struct {
	conn *websocket.Conn
	w    *capture.Writer
	buf  []byte
}

// newRelayRig starts an echo server, and in the proxy and record modes a
// wstap reverse proxy in front of it, and dials it. Everything is torn down
// by b's cleanup, outside the timed region.
func newRelayRig(b *testing.B, mode string) *relayRig {
	b.Helper()
	es := benchEchoServer(b)
	rig := &relayRig{}
	target := wsURL(es.URL)
	var p *Proxy
	if mode != "direct" {
		opts := Options{Upstream: wsURL(es.URL)}
		if mode == "record" {
			w, err := capture.Create(filepath.Join(b.TempDir(), "bench.wstap"), capture.Options{})
			if err != nil {
				b.Fatal(err)
			}
			rig.w = w
			opts.Sink = w
		}
		var err error
		if p, err = New(opts); err != nil {
			b.Fatal(err)
		}
		ps := httptest.NewServer(p)
		target = wsURL(ps.URL)
		b.Cleanup(func() {
			// Cleanups run last-in first-out: the client has gone by now.
			ps.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			p.Shutdown(ctx)
			if rig.w != nil {
				if err := rig.w.Close(); err != nil {
					b.Errorf("capture Close: %v", err)
				}
			}
			if err := p.Err(); err != nil {
				b.Errorf("sink: %v", err)
			}
		})
	}
	d := websocket.Dialer{HandshakeTimeout: 10 * time.Second} // Proxy nil: loopback, never an environment proxy
	c, _, err := d.Dial(target, nil)
	if err != nil {
		b.Fatal(err)
	}
	rig.conn = c
	b.Cleanup(func() {
		c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""),
			time.Now().Add(time.Second))
		c.Close()
	})
	return rig
}

// reportFile adds, when the rig records, the file-B/op metric: capture
// file bytes (compressed records of both directions) per op.
func (r *relayRig) reportFile(b *testing.B) {
	if r.w == nil || b.N <= 0 {
		return
	}
	if err := r.w.Flush(); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(r.w.Stats().FileBytes)/float64(b.N), "file-B/op")
}

// roundTrip sends msg and waits for its echo.
func (r *relayRig) roundTrip(msg []byte) error {
	if err := r.conn.WriteMessage(websocket.TextMessage, msg); err != nil {
		return err
	}
	return r.readEcho(len(msg))
}

// readEcho reads one message and checks it has n bytes.
func (r *relayRig) readEcho(n int) error {
	_, rd, err := r.conn.NextReader()
	if err != nil {
		return err
	}
	if r.buf, err = readInto(r.buf[:0], rd); err != nil {
		return err
	}
	if len(r.buf) != n {
		return errors.New("echo has the wrong length")
	}
	return nil
}

// reportRate adds the msgs/s metric: messages echoed per second of the
// timed region.
func reportRate(b *testing.B) {
	if s := b.Elapsed().Seconds(); s > 0 {
		b.ReportMetric(float64(b.N)/s, "msgs/s")
	}
}

// benchCPU returns the CPU time (user and system) the process has used so
// far; nil where getrusage is missing (bench_cpu_unix_test.go sets it).
var benchCPU func() time.Duration

// cpuClock measures the process's CPU time and read and write system
// calls over the timed region. On a shared, noisy machine CPU time is
// steadier than wall time: it counts only what the client, the echo
// server, the relay and the capture writer burn, not the time they wait
// for a core. The system calls show what a relay hop costs on loopback.
type cpuClock struct {
	cpu          time.Duration
	reads, write int64
	sysOK        bool
}

func startCPU() cpuClock {
	var c cpuClock
	if benchCPU != nil {
		c.cpu = benchCPU()
	}
	c.reads, c.write, c.sysOK = procSyscalls()
	return c
}

// report adds the cpu-ns/op metric, and syscr/op and syscw/op where
// /proc/self/io counts the process's read and write system calls (Linux).
func (c cpuClock) report(b *testing.B) {
	if b.N <= 0 {
		return
	}
	if benchCPU != nil {
		b.ReportMetric(float64(benchCPU()-c.cpu)/float64(b.N), "cpu-ns/op")
	}
	if r, w, ok := procSyscalls(); ok && c.sysOK {
		b.ReportMetric(float64(r-c.reads)/float64(b.N), "syscr/op")
		b.ReportMetric(float64(w-c.write)/float64(b.N), "syscw/op")
	}
}

// procSyscalls returns the read and write system calls the process has
// made so far, as /proc/self/io counts them; ok is false without it.
func procSyscalls() (reads, writes int64, ok bool) {
	data, err := os.ReadFile("/proc/self/io")
	if err != nil {
		return 0, 0, false
	}
	var nr, nw int
	for line := range strings.SplitSeq(string(data), "\n") {
		k, v, _ := strings.Cut(line, ":")
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if err != nil {
			continue
		}
		switch k {
		case "syscr":
			reads, nr = n, nr+1
		case "syscw":
			writes, nw = n, nw+1
		}
	}
	return reads, writes, nr == 1 && nw == 1
}

func BenchmarkRelay(b *testing.B) {
	for _, size := range []struct {
		name string
		n    int
	}{{"128B", 128}, {"1MiB", 1 << 20}} {
		b.Run(size.name, func(b *testing.B) {
			for _, mode := range relayModes {
				b.Run(mode, func(b *testing.B) { benchRoundTrip(b, mode, size.n) })
			}
		})
	}
	b.Run("128B-pipelined", func(b *testing.B) {
		for _, mode := range relayModes {
			b.Run(mode, func(b *testing.B) { benchPipelined(b, mode, 128) })
		}
	})
}

func benchRoundTrip(b *testing.B, mode string, size int) {
	rig := newRelayRig(b, mode)
	msg := benchPayload(size)
	for range 3 { // warm up buffers on every hop
		if err := rig.roundTrip(msg); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(int64(size))
	b.ReportAllocs()
	b.ResetTimer()
	cpu := startCPU()
	for range b.N {
		if err := rig.roundTrip(msg); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	cpu.report(b)
	reportRate(b)
	rig.reportFile(b)
}

func benchPipelined(b *testing.B, mode string, size int) {
	rig := newRelayRig(b, mode)
	msg := benchPayload(size)
	if err := rig.roundTrip(msg); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(size))
	b.ReportAllocs()
	b.ResetTimer()
	cpu := startCPU()
	werr := make(chan error, 1)
	go func() {
		for range b.N {
			if err := rig.conn.WriteMessage(websocket.TextMessage, msg); err != nil {
				werr <- err
				return
			}
		}
		werr <- nil
	}()
	for range b.N {
		if err := rig.readEcho(size); err != nil {
			rig.conn.Close() // unblocks the writer
			<-werr
			b.Fatal(err)
		}
	}
	b.StopTimer()
	if err := <-werr; err != nil {
		b.Fatal(err)
	}
	cpu.report(b)
	reportRate(b)
	rig.reportFile(b)
}

const (
	latencyRate = 1000 // messages per second
	latencySize = 128
)

// BenchmarkRelayLatency measures round-trip latency at a paced, light load:
// one op is one round trip, and the ops are sent latencyRate a second, so
// -benchtime=2s (or 2000x) gives a window of about 2 s and ns/op is about
// the pace, 1 ms. A round trip is timed from its send; a send that falls
// behind the schedule goes at once. The percentiles cover the round trips
// of the final run.
func BenchmarkRelayLatency(b *testing.B) {
	for _, mode := range relayModes {
		b.Run(mode, func(b *testing.B) {
			rig := newRelayRig(b, mode)
			msg := benchPayload(latencySize)
			for range 10 {
				if err := rig.roundTrip(msg); err != nil {
					b.Fatal(err)
				}
			}
			interval := time.Second / latencyRate
			rtts := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			start := time.Now()
			for i := range b.N {
				if d := time.Until(start.Add(time.Duration(i) * interval)); d > 0 {
					time.Sleep(d)
				}
				t0 := time.Now()
				if err := rig.roundTrip(msg); err != nil {
					b.Fatal(err)
				}
				rtts = append(rtts, time.Since(t0))
			}
			b.StopTimer()
			slices.Sort(rtts)
			q := func(f float64) float64 {
				return float64(rtts[min(len(rtts)-1, int(f*float64(len(rtts))))]) / float64(time.Microsecond)
			}
			b.ReportMetric(q(0.50), "p50-µs")
			b.ReportMetric(q(0.99), "p99-µs")
			b.ReportMetric(q(1), "max-µs")
		})
	}
}

// memConn is a net.Conn for BenchmarkPump: reads come from src, writes
// vanish.
type memConn struct {
	net.Conn // nil: the pump calls only Read, Write and Close
	src      io.Reader
}

func (c *memConn) Read(p []byte) (int, error)  { return c.src.Read(p) }
func (c *memConn) Write(p []byte) (int, error) { return len(p), nil }
func (c *memConn) Close() error                { return nil }

// frameStream yields n copies of one frame, then EOF.
type frameStream struct {
	frame []byte
	left  int // frames still to yield
	off   int // bytes of the current frame already yielded
}

func (s *frameStream) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) && s.left > 0 {
		c := copy(p[n:], s.frame[s.off:])
		n += c
		if s.off += c; s.off == len(s.frame) {
			s.off = 0
			s.left--
		}
	}
	if n == 0 {
		return 0, io.EOF
	}
	return n, nil
}

// BenchmarkPump measures one pump direction (client to server, masked
// binary frames) relaying b.N frames from memory into a discarding
// connection: the relay's per-frame CPU work without sockets or peers.
// With the sink, the capture writer compresses and writes on its own
// goroutine, which the figure includes when it competes for a core.
func BenchmarkPump(b *testing.B) {
	for _, size := range []struct {
		name string
		n    int
	}{{"128B", 128}, {"4KiB", 4 << 10}, {"1MiB", 1 << 20}} {
		b.Run(size.name, func(b *testing.B) {
			for _, mode := range []string{"proxy", "record"} {
				b.Run(mode, func(b *testing.B) {
					var frame bytes.Buffer
					f := ws.MaskFrame(ws.NewTextFrame(benchPayload(size.n)))
					if err := ws.WriteFrame(&frame, f); err != nil {
						b.Fatal(err)
					}
					opts := Options{}
					var w *capture.Writer
					if mode == "record" {
						var err error
						if w, err = capture.Create(filepath.Join(b.TempDir(), "bench.wstap"), capture.Options{}); err != nil {
							b.Fatal(err)
						}
						opts.Sink = w
					}
					p, err := New(opts)
					if err != nil {
						b.Fatal(err)
					}
					defer p.Shutdown(context.Background())
					s := &session{p: p, id: 1}
					if w != nil {
						if s.id, err = w.Open(&capture.ConnOpen{Time: time.Now(), URL: "ws://127.0.0.1/", Status: 101}); err != nil {
							b.Fatal(err)
						}
					}
					src := &frameStream{frame: frame.Bytes(), left: b.N}
					s.client = newLeg(&memConn{src: src}, nil)
					s.server = newLeg(&memConn{src: strings.NewReader("")}, nil)
					b.SetBytes(int64(size.n))
					b.ReportAllocs()
					b.ResetTimer()
					cpu := startCPU()
					if err := s.pumpClientToServer(); err != nil {
						b.Fatal(err)
					}
					if w != nil {
						if err := w.Flush(); err != nil { // the compression and write the frames caused
							b.Fatal(err)
						}
					}
					b.StopTimer()
					cpu.report(b)
					reportRate(b)
					if w != nil {
						if err := w.Close(); err != nil {
							b.Fatal(err)
						}
					}
				})
			}
		})
	}
}

package loadtest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/binary"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// Options are the settings every mode shares. The zero value dials
// directly, with the system's TLS roots and no subprotocol.
type Options struct {
	// Proxy, when set, is an HTTP proxy to dial through (CONNECT).
	Proxy *url.URL
	// TLS configures wss:// dials (default: the system roots).
	TLS *tls.Config
	// Subprotocol, when set, is offered in the handshake.
	Subprotocol string
	// Timeout bounds the handshake and every wait for the server
	// (default: 10 s).
	Timeout time.Duration
	// Progress, when set, is called about ten times a second while a mode
	// runs, and once at the end.
	Progress func(Progress)
}

// Progress is how far a run has got.
type Progress struct {
	Elapsed  time.Duration
	Messages int64 // messages received (echoes, pushes)
	Bytes    int64 // payload bytes received
	Conns    int64 // Conns: connections open
}

func (o *Options) timeout() time.Duration {
	if o.Timeout > 0 {
		return o.Timeout
	}
	return 10 * time.Second
}

// dial opens a connection; the connection is closed when ctx ends, which
// unblocks its reader and writer.
func dial(ctx context.Context, rawURL string, o *Options) (*websocket.Conn, func(), error) {
	d := websocket.Dialer{TLSClientConfig: o.TLS, HandshakeTimeout: o.timeout(),
		ReadBufferSize: 64 << 10, WriteBufferSize: 64 << 10}
	if o.Proxy != nil {
		d.Proxy = http.ProxyURL(o.Proxy)
	}
	if o.Subprotocol != "" {
		d.Subprotocols = []string{o.Subprotocol}
	}
	c, resp, err := d.DialContext(ctx, rawURL, nil)
	if err != nil {
		if resp != nil {
			return nil, nil, fmt.Errorf("dial %s: %w (HTTP %s)", rawURL, err, resp.Status)
		}
		return nil, nil, fmt.Errorf("dial %s: %w", rawURL, err)
	}
	stop := context.AfterFunc(ctx, func() { c.Close() })
	return c, func() {
		stop()
		c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
		c.Close()
	}, nil
}

// meter counts what arrives and reports it through Options.Progress.
type meter struct {
	msgs, bytes, conns atomic.Int64
	start              time.Time
	fn                 func(Progress)
	done               chan struct{}
	wg                 sync.WaitGroup
}

func newMeter(fn func(Progress)) *meter {
	m := &meter{start: time.Now(), fn: fn, done: make(chan struct{})}
	if fn != nil {
		m.wg.Add(1)
		go m.tick()
	}
	return m
}

func (m *meter) add(n int) { m.msgs.Add(1); m.bytes.Add(int64(n)) }

func (m *meter) snapshot() Progress {
	return Progress{time.Since(m.start), m.msgs.Load(), m.bytes.Load(), m.conns.Load()}
}

func (m *meter) tick() {
	defer m.wg.Done()
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-m.done:
			return
		case <-t.C:
			m.fn(m.snapshot())
		}
	}
}

func (m *meter) stop() {
	if m.fn == nil {
		return
	}
	close(m.done)
	m.wg.Wait()
	m.fn(m.snapshot())
}

// tagged is a message of size bytes whose first 16 are seq in hex and the
// rest a filler that depends on seq, so an echo can be checked without
// keeping what was sent.
func tagged(seq uint64, size int) []byte {
	p := make([]byte, max(size, 16))
	copy(p, fmt.Sprintf("%016x", seq))
	for i := 16; i < len(p); i++ {
		p[i] = 'a' + byte((seq+uint64(i))%26)
	}
	return p
}

func parseHex(p []byte) (uint64, bool) {
	if len(p) < 16 {
		return 0, false
	}
	n, err := strconv.ParseUint(string(p[:16]), 16, 64)
	return n, err == nil
}

func opcode(binary bool) int {
	if binary {
		return websocket.BinaryMessage
	}
	return websocket.TextMessage
}

// RTTOptions are the settings of RTT.
type RTTOptions struct {
	Options
	Size     int           // bytes per message, at least 16 (default 128)
	Window   int           // messages in flight (default 32)
	Duration time.Duration // how long to send (default 5 s unless Count is set)
	Count    int           // how many messages to send, instead of Duration
	Binary   bool          // binary messages instead of text
}

// RTT keeps Window tagged messages in flight on one connection to an echo
// server and checks every echo: its content, and that echoes come back in
// order. After the last message it sends one more, the end marker, whose
// echo ends the run; it is not counted.
func RTT(ctx context.Context, rawURL string, o RTTOptions) (*Report, error) {
	if o.Size == 0 {
		o.Size = 128
	}
	if o.Window <= 0 {
		o.Window = 32
	}
	if o.Duration <= 0 && o.Count <= 0 {
		o.Duration = 5 * time.Second
	}
	if o.Size < 16 {
		return nil, fmt.Errorf("bench rtt: size %d: want at least 16 bytes, for the tag", o.Size)
	}
	c, closeConn, err := dial(ctx, rawURL, &o.Options)
	if err != nil {
		return nil, err
	}
	defer closeConn()
	r := &Report{Mode: "rtt", URL: rawURL}
	r.param("size", int64(o.Size), "bytes")
	r.param("window", int64(o.Window), "messages")
	if o.Count > 0 {
		r.param("count", int64(o.Count), "messages")
	} else {
		r.param("duration_ms", ms(o.Duration), "ms")
	}
	r.param("binary", o.Binary, "")

	m := newMeter(o.Progress)
	window := make(chan struct{}, o.Window)
	var total atomic.Int64
	total.Store(-1)
	readDone := make(chan struct{})
	writeErr := make(chan error, 1)
	go func() { // pumpRTTWrites
		writeErr <- func() error {
			for seq := uint64(0); ; seq++ {
				end := (o.Count > 0 && seq >= uint64(o.Count)) || (o.Count <= 0 && time.Since(m.start) >= o.Duration)
				if end {
					total.Store(int64(seq))
				}
				select {
				case window <- struct{}{}:
				case <-readDone:
					return nil
				}
				c.SetWriteDeadline(time.Now().Add(o.timeout()))
				if err := c.WriteMessage(opcode(o.Binary), tagged(seq, o.Size)); err != nil {
					return err
				}
				if end {
					return nil
				}
			}
		}()
	}()

	var got, mismatched, disordered int64
	var readErr error
	for {
		c.SetReadDeadline(time.Now().Add(o.timeout()))
		_, p, err := c.ReadMessage()
		if err != nil {
			readErr = err
			break
		}
		<-window
		seq, ok := parseHex(p)
		if ok && int64(seq) == total.Load() {
			break
		}
		if ok && seq != uint64(got) {
			disordered++
		}
		if !ok || !bytes.Equal(p, tagged(seq, o.Size)) {
			mismatched++
		}
		got++
		m.add(len(p))
	}
	elapsed := time.Since(m.start)
	close(readDone)
	werr := <-writeErr
	m.stop()
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	if readErr != nil {
		return nil, fmt.Errorf("bench rtt: after %d echoes: %w", got, readErr)
	}
	if werr != nil {
		return nil, fmt.Errorf("bench rtt: send: %w", werr)
	}
	r.result("messages", got, "round trips")
	r.result("elapsed_ms", ms(elapsed), "ms")
	r.result("msgs_per_s", perSecond(got, elapsed), "round trips/s")
	r.result("mb_per_s", mbps(got*int64(o.Size), elapsed), "MB/s (10^6 B), payload one way")
	r.result("mismatched", mismatched, "echoes")
	r.result("out_of_order", disordered, "echoes")
	if mismatched > 0 {
		r.failf("%d of %d echoes differ from what was sent", mismatched, got)
	}
	if disordered > 0 {
		r.failf("%d of %d echoes came back out of order", disordered, got)
	}
	return r, nil
}

// PushOptions are the settings of Push.
type PushOptions struct {
	Options
	// Rate, Size and Count are asked of the server in the query (rate=,
	// size=, count=) unless the URL already has them; 0 leaves them out.
	Rate, Size, Count int
	// NoQuery leaves the URL as it is, for servers that are not wstap's.
	NoQuery bool
}

// Push receives what a server pushes until it closes (or Count messages
// arrived). Messages that start with a sequence number and a timestamp,
// as the built-in server's do (see PushHeader), are checked for gaps and
// give the delivery lag; the lag includes any difference between the two
// machines' clocks.
func Push(ctx context.Context, rawURL string, o PushOptions) (*Report, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("bench push: %w", err)
	}
	if !o.NoQuery {
		q := u.Query()
		for k, v := range map[string]int{"rate": o.Rate, "size": o.Size, "count": o.Count} {
			if v > 0 && !q.Has(k) {
				q.Set(k, strconv.Itoa(v))
			}
		}
		u.RawQuery = q.Encode()
	}
	c, closeConn, err := dial(ctx, u.String(), &o.Options)
	if err != nil {
		return nil, err
	}
	defer closeConn()
	r := &Report{Mode: "push", URL: u.String()}
	r.param("rate", int64(o.Rate), "msgs/s asked (0: as fast as possible)")
	r.param("size", int64(o.Size), "bytes asked")
	r.param("count", int64(o.Count), "messages asked")

	m := newMeter(o.Progress)
	var got, bytesIn, lost, reordered int64
	var lagSum, lagMax time.Duration
	var first, last time.Time
	sequenced := false
	next := uint64(1)
	closed := false
	var readErr error
	for o.Count <= 0 || got < int64(o.Count) {
		c.SetReadDeadline(time.Now().Add(o.timeout()))
		_, p, err := c.ReadMessage()
		if err != nil {
			if websocket.IsCloseError(err, websocket.CloseNormalClosure) {
				closed = true
			} else {
				readErr = err
			}
			break
		}
		now := time.Now()
		if got == 0 {
			first = now
			if len(p) >= PushHeader {
				ts := time.Unix(0, int64(binary.BigEndian.Uint64(p[8:16])))
				sequenced = binary.BigEndian.Uint64(p[0:8]) <= 1000 && now.Sub(ts).Abs() < time.Hour
			}
		}
		last = now
		got++
		bytesIn += int64(len(p))
		m.add(len(p))
		if !sequenced || len(p) < PushHeader {
			continue
		}
		seq := binary.BigEndian.Uint64(p[0:8])
		switch {
		case seq == next:
			next++
		case seq > next:
			lost += int64(seq - next)
			next = seq + 1
		default:
			reordered++
		}
		lag := now.Sub(time.Unix(0, int64(binary.BigEndian.Uint64(p[8:16]))))
		lagSum += lag
		lagMax = max(lagMax, lag)
	}
	m.stop()
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	if readErr != nil && got == 0 {
		return nil, fmt.Errorf("bench push: %w", readErr)
	}
	if readErr != nil {
		r.failf("the connection failed after %d messages: %v", got, readErr)
	}
	if sequenced && closed && o.Count > 0 && next-1 < uint64(o.Count) {
		lost += int64(uint64(o.Count) - (next - 1))
	}
	span := last.Sub(first)
	r.result("messages", got, "received")
	r.result("bytes", bytesIn, "bytes")
	r.result("elapsed_ms", ms(span), "ms, first to last message")
	r.result("msgs_per_s", perSecond(max(got-1, 0), span), "msgs/s")
	r.result("mb_per_s", mbps(bytesIn, span), "MB/s (10^6 B)")
	r.result("sequenced", sequenced, "")
	if sequenced {
		r.result("lost", lost, "messages (gaps in sequence numbers)")
		r.result("reordered", reordered, "messages")
		r.result("lag_mean_ms", ms(lagSum/time.Duration(max(got, 1))), "ms")
		r.result("lag_max_ms", ms(lagMax), "ms")
		if lost > 0 {
			r.failf("%d messages lost (gaps in the sequence numbers)", lost)
		}
		if reordered > 0 {
			r.failf("%d messages arrived out of order", reordered)
		}
	}
	return r, nil
}

// LatencyOptions are the settings of Latency.
type LatencyOptions struct {
	Options
	Rate     int           // messages a second (default 1000)
	Size     int           // bytes per message, at least 32 (default 128)
	Duration time.Duration // how long to send (default 5 s)
	Binary   bool
}

// Latency sends tagged messages at Rate to an echo server, each at its
// scheduled time (late ones go at once, without catching up), and times
// each round trip from when it was written.
func Latency(ctx context.Context, rawURL string, o LatencyOptions) (*Report, error) {
	if o.Rate <= 0 {
		o.Rate = 1000
	}
	if o.Size == 0 {
		o.Size = 128
	}
	if o.Duration <= 0 {
		o.Duration = 5 * time.Second
	}
	if o.Size < 32 {
		return nil, fmt.Errorf("bench latency: size %d: want at least 32 bytes, for the tag", o.Size)
	}
	c, closeConn, err := dial(ctx, rawURL, &o.Options)
	if err != nil {
		return nil, err
	}
	defer closeConn()
	r := &Report{Mode: "latency", URL: rawURL}
	r.param("rate", int64(o.Rate), "msgs/s")
	r.param("size", int64(o.Size), "bytes")
	r.param("duration_ms", ms(o.Duration), "ms")

	m := newMeter(o.Progress)
	n := max(int64(o.Duration.Seconds()*float64(o.Rate)), 1)
	interval := time.Second / time.Duration(o.Rate)
	readDone := make(chan struct{})
	writeErr := make(chan error, 1)
	var sendSpan atomic.Int64
	go func() { // pumpLatencyWrites: n messages, then the end marker
		writeErr <- func() error {
			for seq := int64(0); seq <= n; seq++ {
				if d := time.Until(m.start.Add(time.Duration(seq) * interval)); d > 0 && seq < n {
					select {
					case <-time.After(d):
					case <-readDone:
						return nil
					}
				}
				p := tagged(uint64(seq), o.Size)
				off := time.Since(m.start)
				copy(p[16:], fmt.Sprintf("%016x", uint64(off)))
				c.SetWriteDeadline(time.Now().Add(o.timeout()))
				if err := c.WriteMessage(opcode(o.Binary), p); err != nil {
					return err
				}
				if seq == n-1 {
					sendSpan.Store(int64(off))
				}
			}
			return nil
		}()
	}()
	var rtts []time.Duration
	var bad int64
	var readErr error
	for {
		c.SetReadDeadline(time.Now().Add(o.timeout() + o.Duration))
		_, p, err := c.ReadMessage()
		if err != nil {
			readErr = err
			break
		}
		now := time.Since(m.start)
		seq, ok1 := parseHex(p)
		off, ok2 := parseHex(p[min(16, len(p)):])
		if ok1 && int64(seq) == n {
			break
		}
		if !ok1 || !ok2 || int64(seq) > n {
			bad++
			continue
		}
		rtts = append(rtts, now-time.Duration(off))
		m.add(len(p))
	}
	close(readDone)
	werr := <-writeErr
	m.stop()
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	if readErr != nil {
		return nil, fmt.Errorf("bench latency: after %d echoes: %w", len(rtts), readErr)
	}
	if werr != nil {
		return nil, fmt.Errorf("bench latency: send: %w", werr)
	}
	slices.Sort(rtts)
	span := time.Duration(sendSpan.Load())
	r.result("messages", int64(len(rtts)), "round trips")
	r.result("achieved_rate", perSecond(max(n-1, 0), span), "msgs/s sent")
	r.result("p50_ms", ms(percentile(rtts, 50)), "ms")
	r.result("p90_ms", ms(percentile(rtts, 90)), "ms")
	r.result("p99_ms", ms(percentile(rtts, 99)), "ms")
	r.result("max_ms", ms(percentile(rtts, 100)), "ms")
	r.result("bad", bad, "echoes without a valid tag")
	if int64(len(rtts)) != n {
		r.failf("%d of %d messages came back", len(rtts), n)
	}
	if bad > 0 {
		r.failf("%d echoes had no valid tag", bad)
	}
	return r, nil
}

// percentile of sorted durations, nearest rank; 0 for none.
func percentile(sorted []time.Duration, p int) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := (p*len(sorted) + 99) / 100
	return sorted[min(max(i-1, 0), len(sorted)-1)]
}

// ConnsOptions are the settings of Conns.
type ConnsOptions struct {
	Options
	N        int // connections at once (default 100)
	Messages int // messages each connection sends (default 10)
	Size     int // bytes per message, at least 16 (default 64)
	Binary   bool
}

// Conns dials N connections at once; when all have connected (or failed),
// each sends Messages messages tagged with its connection number and a
// sequence number, and checks that every echo is its own, in order. An
// echo tagged with another connection's number is cross-talk and fails the
// run.
func Conns(ctx context.Context, rawURL string, o ConnsOptions) (*Report, error) {
	if o.N <= 0 {
		o.N = 100
	}
	if o.Messages <= 0 {
		o.Messages = 10
	}
	if o.Size == 0 {
		o.Size = 64
	}
	if o.Size < 16 {
		return nil, fmt.Errorf("bench conns: size %d: want at least 16 bytes, for the tag", o.Size)
	}
	r := &Report{Mode: "conns", URL: rawURL}
	r.param("n", int64(o.N), "connections")
	r.param("messages", int64(o.Messages), "per connection")
	r.param("size", int64(o.Size), "bytes")

	m := newMeter(o.Progress)
	type result struct {
		connect            time.Duration
		dialErr, err       error
		got, cross, broken int64
	}
	results := make([]result, o.N)
	start := make(chan struct{})
	var dialed, wg sync.WaitGroup
	dialed.Add(o.N)
	wg.Add(o.N)
	var sendStart time.Time
	for i := range o.N {
		go func() { // oneConn
			defer wg.Done()
			res := &results[i]
			t0 := time.Now()
			c, closeConn, err := dial(ctx, rawURL, &o.Options)
			res.connect = time.Since(t0)
			dialed.Done()
			if err != nil {
				res.dialErr = err
				return
			}
			defer closeConn()
			m.conns.Add(1)
			defer m.conns.Add(-1)
			<-start
			res.got, res.cross, res.broken, res.err = connRun(c, uint32(i), &o, m)
		}()
	}
	dialed.Wait()
	sendStart = time.Now()
	close(start)
	wg.Wait()
	elapsed := time.Since(sendStart)
	m.stop()
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}

	var connects []time.Duration
	var got, cross, broken, dialFailed, failed int64
	var firstErr error
	for _, res := range results {
		got, cross, broken = got+res.got, cross+res.cross, broken+res.broken
		switch {
		case res.dialErr != nil:
			dialFailed++
			firstErr = cmp(firstErr, res.dialErr)
			continue
		case res.err != nil:
			failed++
			firstErr = cmp(firstErr, res.err)
		}
		connects = append(connects, res.connect)
	}
	if dialFailed == int64(o.N) {
		return nil, firstErr
	}
	slices.Sort(connects)
	r.result("connected", int64(len(connects)), "connections")
	r.result("connect_p50_ms", ms(percentile(connects, 50)), "ms")
	r.result("connect_p99_ms", ms(percentile(connects, 99)), "ms")
	r.result("messages", got, "echoes")
	r.result("elapsed_ms", ms(elapsed), "ms, all connections' messages")
	r.result("msgs_per_s", perSecond(got, elapsed), "round trips/s, all connections")
	r.result("cross_talk", cross, "echoes tagged with another connection")
	r.result("mismatched", broken, "echoes corrupted or out of order")
	r.result("failures", dialFailed+failed, "connections")
	if cross > 0 {
		r.failf("cross-talk: %d echoes carried another connection's tag", cross)
	}
	if broken > 0 {
		r.failf("%d echoes were corrupted or out of order", broken)
	}
	if dialFailed > 0 {
		r.failf("%d of %d connections could not connect: %v", dialFailed, o.N, firstErr)
	} else if failed > 0 {
		r.failf("%d of %d connections failed: %v", failed, o.N, firstErr)
	}
	return r, nil
}

func cmp(first, err error) error {
	if first != nil {
		return first
	}
	return err
}

// connTagged is a message of connection id: its number and seq in hex,
// then a filler.
func connTagged(id uint32, seq uint32, size int) []byte {
	p := tagged(uint64(id)<<32|uint64(seq), size)
	return p
}

// connRun sends o.Messages messages on c and reads as many echoes.
func connRun(c *websocket.Conn, id uint32, o *ConnsOptions, m *meter) (got, cross, broken int64, err error) {
	writeErr := make(chan error, 1)
	go func() { // pumpConnWrites
		for seq := range uint32(o.Messages) {
			c.SetWriteDeadline(time.Now().Add(o.timeout()))
			if err := c.WriteMessage(opcode(o.Binary), connTagged(id, seq, o.Size)); err != nil {
				writeErr <- err
				return
			}
		}
		writeErr <- nil
	}()
	for got < int64(o.Messages) {
		c.SetReadDeadline(time.Now().Add(o.timeout()))
		_, p, rerr := c.ReadMessage()
		if rerr != nil {
			err = fmt.Errorf("connection %d: after %d echoes: %w", id, got, rerr)
			break
		}
		m.add(len(p))
		tag, ok := parseHex(p)
		switch {
		case ok && uint32(tag>>32) != id:
			cross++
		case !ok || uint32(tag) != uint32(got) || !bytes.Equal(p, connTagged(id, uint32(tag), o.Size)):
			broken++
		}
		got++
	}
	if err != nil {
		c.Close() // unblocks the writer
	}
	if werr := <-writeErr; err == nil && werr != nil {
		err = fmt.Errorf("connection %d: send: %w", id, werr)
	}
	return got, cross, broken, err
}

// BigOptions are the settings of Big.
type BigOptions struct {
	Options
	Size int64  // bytes in the message (default 10 MiB)
	Seed uint64 // seeds the pseudo-random content
}

// Big sends one binary message of Size pseudo-random bytes to an echo
// server and reads the echo, both as streams: the message is generated
// as it is written and hashed on both sides, so the memory a run costs is
// the WebSocket buffers (64 KiB each way), not the message. The check is
// the SHA-256 of what was sent against that of what came back.
func Big(ctx context.Context, rawURL string, o BigOptions) (*Report, error) {
	if o.Size <= 0 {
		o.Size = 10 << 20
	}
	c, closeConn, err := dial(ctx, rawURL, &o.Options)
	if err != nil {
		return nil, err
	}
	defer closeConn()
	r := &Report{Mode: "big", URL: rawURL}
	r.param("size", o.Size, "bytes")
	r.param("seed", int64(o.Seed), "")

	m := newMeter(o.Progress)
	type sent struct {
		sum [32]byte
		err error
	}
	sentc := make(chan sent, 1)
	go func() { // pumpBigWrite
		var seed [32]byte
		binary.LittleEndian.PutUint64(seed[:], o.Seed)
		gen, h := rand.NewChaCha8(seed), sha256.New()
		err := func() error {
			w, err := c.NextWriter(websocket.BinaryMessage)
			if err != nil {
				return err
			}
			buf := make([]byte, 64<<10)
			for left := o.Size; left > 0; {
				b := buf[:min(int64(len(buf)), left)]
				gen.Read(b)
				h.Write(b)
				c.SetWriteDeadline(time.Now().Add(o.timeout()))
				if _, err := w.Write(b); err != nil {
					return err
				}
				left -= int64(len(b))
			}
			return w.Close()
		}()
		var s sent
		copy(s.sum[:], h.Sum(nil))
		s.err = err
		sentc <- s
	}()
	h := sha256.New()
	var n int64
	mt, rd, err := func() (int, io.Reader, error) {
		c.SetReadDeadline(time.Now().Add(o.timeout()))
		return c.NextReader()
	}()
	if err == nil {
		n, err = io.Copy(io.MultiWriter(h, progressWriter{m}), deadlineReader{rd, c, o.timeout()})
	}
	elapsed := time.Since(m.start)
	if err != nil {
		c.Close() // unblocks the writer
	}
	s := <-sentc
	m.stop()
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	if err != nil {
		return nil, fmt.Errorf("bench big: reading the echo after %d bytes: %w", n, err)
	}
	if s.err != nil {
		return nil, fmt.Errorf("bench big: send: %w", s.err)
	}
	got := h.Sum(nil)
	r.result("received", n, "bytes")
	r.result("elapsed_ms", ms(elapsed), "ms, first byte sent to last echoed")
	r.result("mb_per_s", mbps(o.Size, elapsed), "MB/s (10^6 B), the message one way")
	r.result("sha256_sent", fmt.Sprintf("%x", s.sum), "")
	r.result("sha256_received", fmt.Sprintf("%x", got), "")
	r.result("intact", n == o.Size && bytes.Equal(got, s.sum[:]) && mt == websocket.BinaryMessage, "")
	switch {
	case mt != websocket.BinaryMessage:
		r.failf("integrity: the echo is not a binary message")
	case n != o.Size:
		r.failf("integrity: sent %d bytes, %d came back", o.Size, n)
	case !bytes.Equal(got, s.sum[:]):
		r.failf("integrity: the echo's SHA-256 differs from the message's")
	}
	return r, nil
}

// deadlineReader moves the read deadline on before every read, so a big
// message may take as long as it needs while a stalled one times out.
type deadlineReader struct {
	r io.Reader
	c *websocket.Conn
	d time.Duration
}

func (d deadlineReader) Read(p []byte) (int, error) {
	d.c.SetReadDeadline(time.Now().Add(d.d))
	return d.r.Read(p)
}

type progressWriter struct{ m *meter }

func (w progressWriter) Write(p []byte) (int, error) {
	w.m.bytes.Add(int64(len(p)))
	return len(p), nil
}

package loadtest

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

func wsURL(srv *httptest.Server, path string) string {
	return "ws" + strings.TrimPrefix(srv.URL, "http") + path
}

func newBenchServer(t *testing.T, h http.Handler) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// value returns a result, failing the test when it is missing.
func value(t *testing.T, r *Report, name string) any {
	t.Helper()
	v, ok := r.Value(name)
	if !ok {
		t.Fatalf("report %s has no %s: %+v", r.Mode, name, r.Results)
	}
	return v
}

func wantOK(t *testing.T, r *Report, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	if r.Err() != nil {
		t.Fatalf("%v\n%+v", r.Err(), r.Results)
	}
}

// corruptEcho echoes every message with its last byte changed.
func corruptEcho() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := upgrade(w, r)
		if err != nil {
			return
		}
		defer c.Close()
		Echo(c, func(p []byte) []byte {
			if len(p) > 0 {
				p[len(p)-1] ^= 1
			}
			return p
		})
	})
}

func TestRTT(t *testing.T) {
	srv := newBenchServer(t, &Server{})
	for _, binary := range []bool{false, true} {
		var progress int
		r, err := RTT(testContext(t), wsURL(srv, "/echo"), RTTOptions{Size: 64, Window: 4, Count: 200, Binary: binary,
			Options: Options{Progress: func(Progress) { progress++ }}})
		wantOK(t, r, err)
		if got := value(t, r, "messages"); got != int64(200) {
			t.Errorf("RTT count 200: messages = %v, want 200", got)
		}
		if got := value(t, r, "mismatched"); got != int64(0) {
			t.Errorf("mismatched = %v, want 0", got)
		}
		if progress == 0 {
			t.Error("Progress was never called")
		}
	}
	// By duration.
	r, err := RTT(testContext(t), wsURL(srv, "/echo"), RTTOptions{Size: 16, Duration: 50 * time.Millisecond})
	wantOK(t, r, err)
	if n := value(t, r, "messages").(int64); n <= 0 {
		t.Errorf("RTT for 50ms: messages = %d, want > 0", n)
	}
}

func TestRTTCorruptEcho(t *testing.T) {
	srv := newBenchServer(t, corruptEcho())
	r, err := RTT(testContext(t), wsURL(srv, "/"), RTTOptions{Size: 32, Window: 2, Count: 10})
	if err != nil {
		t.Fatal(err)
	}
	if r.Err() == nil || value(t, r, "mismatched") != int64(10) {
		t.Errorf("RTT against a corrupting echo: err %v, mismatched %v; want a failure and 10", r.Err(), value(t, r, "mismatched"))
	}
}

func TestBig(t *testing.T) {
	srv := newBenchServer(t, &Server{})
	r, err := Big(testContext(t), wsURL(srv, "/echo"), BigOptions{Size: 300_001, Seed: 7})
	wantOK(t, r, err)
	if value(t, r, "received") != int64(300_001) || value(t, r, "intact") != true ||
		value(t, r, "sha256_sent") != value(t, r, "sha256_received") {
		t.Errorf("Big: %+v", r.Results)
	}

	bad := newBenchServer(t, corruptEcho())
	r, err = Big(testContext(t), wsURL(bad, "/"), BigOptions{Size: 100_000})
	if err != nil {
		t.Fatal(err)
	}
	if r.Err() == nil || !strings.Contains(r.Err().Error(), "SHA-256") || value(t, r, "intact") != false {
		t.Errorf("Big against a corrupting echo: err %v, results %+v; want an integrity failure", r.Err(), r.Results)
	}
}

func TestPush(t *testing.T) {
	srv := newBenchServer(t, &Server{})
	r, err := Push(testContext(t), wsURL(srv, "/push"), PushOptions{Rate: 0, Size: 40, Count: 50})
	wantOK(t, r, err)
	if value(t, r, "messages") != int64(50) || value(t, r, "bytes") != int64(50*40) ||
		value(t, r, "lost") != int64(0) || value(t, r, "sequenced") != true {
		t.Errorf("Push: %+v", r.Results)
	}
	// Paced: still all of them.
	r, err = Push(testContext(t), wsURL(srv, "/push"), PushOptions{Rate: 2000, Size: 16, Count: 20})
	wantOK(t, r, err)
	if value(t, r, "messages") != int64(20) {
		t.Errorf("Push at 2000/s: %+v", r.Results)
	}
}

func TestPushGap(t *testing.T) {
	srv := newBenchServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := upgrade(w, r)
		if err != nil {
			return
		}
		defer c.Close()
		push(c, 0, 32, 10, func(seq uint64) bool { return seq == 4 || seq == 10 })
	}))
	r, err := Push(testContext(t), wsURL(srv, "/push"), PushOptions{Count: 10})
	if err != nil {
		t.Fatal(err)
	}
	if value(t, r, "messages") != int64(8) || value(t, r, "lost") != int64(2) || r.Err() == nil {
		t.Errorf("Push from a server that skips 4 and 10: err %v, %+v; want 8 messages, 2 lost", r.Err(), r.Results)
	}
}

func TestLatency(t *testing.T) {
	srv := newBenchServer(t, &Server{})
	r, err := Latency(testContext(t), wsURL(srv, "/echo"), LatencyOptions{Rate: 500, Size: 64, Duration: 100 * time.Millisecond})
	wantOK(t, r, err)
	if value(t, r, "messages") != int64(50) {
		t.Errorf("Latency 500/s for 100ms: messages %v, want 50", value(t, r, "messages"))
	}
	p50, p90, p99, mx := value(t, r, "p50_ms").(float64), value(t, r, "p90_ms").(float64), value(t, r, "p99_ms").(float64), value(t, r, "max_ms").(float64)
	if !(0 < p50 && p50 <= p90 && p90 <= p99 && p99 <= mx) {
		t.Errorf("percentiles not ordered: p50 %v p90 %v p99 %v max %v", p50, p90, p99, mx)
	}
}

func TestPercentile(t *testing.T) {
	var d []time.Duration
	for i := 1; i <= 100; i++ {
		d = append(d, time.Duration(i))
	}
	for _, tc := range []struct{ p, want int }{{50, 50}, {90, 90}, {99, 99}, {100, 100}, {1, 1}} {
		if got := percentile(d, tc.p); got != time.Duration(tc.want) {
			t.Errorf("percentile(1..100, %d) = %d, want %d", tc.p, got, tc.want)
		}
	}
	if got := percentile(nil, 50); got != 0 {
		t.Errorf("percentile(nil) = %v", got)
	}
}

func TestConns(t *testing.T) {
	srv := newBenchServer(t, &Server{})
	r, err := Conns(testContext(t), wsURL(srv, "/echo"), ConnsOptions{N: 20, Messages: 5, Size: 32})
	wantOK(t, r, err)
	if value(t, r, "connected") != int64(20) || value(t, r, "messages") != int64(100) || value(t, r, "cross_talk") != int64(0) {
		t.Errorf("Conns: %+v", r.Results)
	}
}

// swapServer sends each connection's messages to the other one of its pair.
type swapServer struct {
	mu    sync.Mutex
	conns []*websocket.Conn
	ready chan struct{}
	wmu   [2]sync.Mutex
}

func (s *swapServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c, err := upgrade(w, r)
	if err != nil {
		return
	}
	defer c.Close()
	s.mu.Lock()
	me := len(s.conns)
	s.conns = append(s.conns, c)
	if me == 1 {
		close(s.ready)
	}
	s.mu.Unlock()
	<-s.ready
	other := s.conns[1-me]
	for {
		mt, p, err := c.ReadMessage()
		if err != nil {
			return
		}
		s.wmu[1-me].Lock()
		other.WriteMessage(mt, p)
		s.wmu[1-me].Unlock()
	}
}

func TestConnsCrossTalk(t *testing.T) {
	srv := newBenchServer(t, &swapServer{ready: make(chan struct{})})
	r, err := Conns(testContext(t), wsURL(srv, "/"), ConnsOptions{N: 2, Messages: 3, Size: 16})
	if err != nil {
		t.Fatal(err)
	}
	if value(t, r, "cross_talk") != int64(6) || r.Err() == nil || !strings.Contains(r.Err().Error(), "cross-talk") {
		t.Errorf("Conns against a swapping server: err %v, %+v; want 6 cross-talk echoes and a failure", r.Err(), r.Results)
	}
}

func TestDialError(t *testing.T) {
	srv := newBenchServer(t, &Server{})
	if _, err := RTT(testContext(t), wsURL(srv, "/nowhere"), RTTOptions{Count: 1}); err == nil || !strings.Contains(err.Error(), "404") {
		t.Errorf("RTT to a 404: %v, want a dial error naming 404", err)
	}
}

func TestReportOutput(t *testing.T) {
	r := &Report{Mode: "rtt", URL: "ws://x/echo"}
	r.param("size", int64(128), "bytes")
	r.result("msgs_per_s", 1234.5678, "round trips/s")
	r.result("mismatched", int64(0), "echoes")
	var b bytes.Buffer
	r.WriteTable(&b)
	if !strings.Contains(b.String(), "msgs_per_s  1235  round trips/s") || !strings.Contains(b.String(), "ok: every check held") {
		t.Errorf("table:\n%s", b.String())
	}
	r.failf("bad")
	js, _ := json.Marshal(r)
	var back struct {
		Mode    string
		Params  map[string]any
		Results map[string]any
		OK      bool
	}
	if err := json.Unmarshal(js, &back); err != nil || back.Mode != "rtt" || back.Params["size"] != 128.0 || back.Results["msgs_per_s"] != 1234.5678 || back.OK {
		t.Errorf("json %s", js)
	}
}

func TestParseSize(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
	}{{"128", 128}, {"1k", 1000}, {"1K", 1000}, {"1KiB", 1024}, {"10MiB", 10 << 20}, {"16M", 16e6}, {"2 mb", 2e6}, {"1GiB", 1 << 30}, {"0", 0}, {"5B", 5}} {
		if got, err := ParseSize(tc.in); err != nil || got != tc.want {
			t.Errorf("ParseSize(%q) = %d, %v, want %d", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{"", "k", "-1", "1.5M", "1x", "99999999999999999999", "9999999999999GiB"} {
		if got, err := ParseSize(bad); err == nil {
			t.Errorf("ParseSize(%q) = %d, want an error", bad, got)
		}
	}
}

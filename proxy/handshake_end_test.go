package proxy

import (
	"bufio"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/wstap/wstap/capture"
)

// TestFailedUpgradesEnd checks that an upgrade that never became a
// WebSocket connection (refused, unreachable, the upstream hanging up) is
// over in the capture: an End record saying why follows its events, so
// `wstap ls` does not show it as open (issue 7).
func TestFailedUpgradesEnd(t *testing.T) {
	dead, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadAddr := dead.Addr().String()
	dead.Close()
	cases := []struct {
		name, upstream, wantEnd string
		wantStatus              int
	}{
		{"refused", "ws://" + cannedServer(t, "HTTP/1.1 403 Forbidden\r\nContent-Length: 4\r\n\r\nnope"), "refused: 403 Forbidden", 403},
		{"unreachable", "ws://" + deadAddr, "cannot reach upstream " + deadAddr, 0},
		{"hangup", "ws://" + cannedServer(t, ""), "read the upgrade response", 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := newMatrix(t, Options{Upstream: tc.upstream})
			_, resp := dialRawResponse(t, m.URL, "/"+tc.name, nil, nil)
			resp.Body.Close()
			r := m.finish(t)
			id := connByPath(t, r, "/"+tc.name)
			cs, _ := r.Conn(id)
			if !cs.Ended || cs.Status != tc.wantStatus {
				t.Errorf("summary ended %v status %d, want ended with %d", cs.Ended, cs.Status, tc.wantStatus)
			}
			got := readConn(t, r, id, 0)
			if got.end == nil || !strings.Contains(got.end.Error, tc.wantEnd) {
				t.Fatalf("end record %+v, want one saying %q", got.end, tc.wantEnd)
			}
			if len(got.events) != 1 || got.end.Time.Before(got.events[0].Time) {
				t.Errorf("events %+v before the end at %v, want one, before it", got.events, got.end.Time)
			}
			if n := m.p.Counters().Total.Load(); n != 1 {
				t.Errorf("Counters().Total = %d, want 1: wstap ls lists the connection", n)
			}
			if n := m.p.Counters().Failed.Load(); n != 1 {
				t.Errorf("Counters().Failed = %d, want 1", n)
			}
		})
	}
}

// brokenHijacker is a ResponseWriter whose connection cannot be taken over.
type brokenHijacker struct{ *httptest.ResponseRecorder }

func (brokenHijacker) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return nil, nil, errors.New("hijack: connection already gone")
}

// TestHijackFailureEnds checks that an upgrade whose client connection
// cannot be taken over, after the server's 101, is recorded and ended.
func TestHijackFailureEnds(t *testing.T) {
	for _, tc := range []struct {
		name    string
		w       func() http.ResponseWriter
		wantEnd string
	}{
		{"not-a-hijacker", func() http.ResponseWriter { return httptest.NewRecorder() }, "cannot be taken over"},
		{"hijack-error", func() http.ResponseWriter { return brokenHijacker{httptest.NewRecorder()} }, "connection already gone"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			up := newRawServer(t, rawServerOptions{})
			m := newMatrix(t, Options{Upstream: up.URL})
			req := httptest.NewRequestWithContext(t.Context(), http.MethodGet, "/"+tc.name, nil)
			req.RemoteAddr = "127.0.0.1:40000"
			req.Header.Set("Upgrade", "websocket")
			req.Header.Set("Connection", "Upgrade")
			m.p.ServeHTTP(tc.w(), req)
			r := m.finish(t)
			id := connByPath(t, r, "/"+tc.name)
			got := readConn(t, r, id, 0)
			if got.end == nil || !strings.Contains(got.end.Error, tc.wantEnd) {
				t.Errorf("end record %+v, want one saying %q", got.end, tc.wantEnd)
			}
			if len(got.events) != 1 || got.events[0].Kind != capture.EventError {
				t.Errorf("events %+v, want one error", got.events)
			}
		})
	}
}

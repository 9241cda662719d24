package proxy

import (
	"bufio"
	"bytes"
	"net/http"
	"slices"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/wstap/wstap/capture"
)

// parsed is r as net/http's server would hand it to the handler.
func parsed(t *testing.T, head string) *http.Request {
	t.Helper()
	r, err := http.ReadRequest(bufio.NewReader(iotest.OneByteReader(strings.NewReader(head))))
	if err != nil {
		t.Fatalf("ReadRequest(%q): %v", head, err)
	}
	return r
}

// TestFindRequestHead finds a request's head among the bytes a connection
// delivered, whatever surrounds it: a body before it holding a look-alike
// head, bytes pipelined after it holding another, a bare-LF head.
func TestFindRequestHead(t *testing.T) {
	real := "GET /chat HTTP/1.1\r\nhost: a.test\r\nX-One: 1\r\nupgrade: websocket\r\n\r\n"
	alike := "GET /chat HTTP/1.1\r\nHost: a.test\r\nX-One: 2\r\nupgrade: websocket\r\n\r\n" // another X-One
	bare := strings.ReplaceAll(real, "\r\n", "\n")
	for _, tc := range []struct {
		name, buf, head string
		start           int
	}{
		{"alone", real, real, 0},
		{"pipelined-after", real + "\x81\x05hello" + real + "rest", real, 0},
		{"look-alike-before", alike + real, real, len(alike)},
		{"in-a-header-value", "POST /f HTTP/1.1\r\nX-Note: " + real + real, real, len("POST /f HTTP/1.1\r\nX-Note: ") + len(real)},
		{"bare-lf", bare + "after", bare, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start, end, ok := findRequestHead([]byte(tc.buf), parsed(t, tc.head))
			if !ok || start != tc.start || end != tc.start+len(tc.head) {
				t.Errorf("findRequestHead = %d, %d, %v, want %d, %d, true", start, end, ok, tc.start, tc.start+len(tc.head))
			}
		})
	}
	for _, buf := range []string{"", alike, real[:len(real)-2], "GET /other HTTP/1.1\r\nhost: a.test\r\n\r\n"} {
		if _, _, ok := findRequestHead([]byte(buf), parsed(t, real)); ok {
			t.Errorf("findRequestHead(%q) found a head that is not the request's", buf)
		}
	}
}

// TestHeadConnClaim checks that a connection forgets what it gave away,
// stops recording when asked, and bounds what it keeps.
func TestHeadConnClaim(t *testing.T) {
	first := "GET /a HTTP/1.1\r\nHost: a.test\r\n\r\n"
	second := "GET /b HTTP/1.1\r\nHost: a.test\r\n\r\n"
	hc := &headConn{buf: []byte(first + second)}
	if got := hc.claim(parsed(t, first)); string(got) != first {
		t.Errorf("claim(first) = %q", got)
	}
	if string(hc.buf) != second {
		t.Errorf("after the claim the connection keeps %q, want %q", hc.buf, second)
	}
	if got := hc.claim(parsed(t, first)); got != nil {
		t.Errorf("claim(first) again = %q, want nil", got)
	}
	hc.stop()
	if hc.claim(parsed(t, second)) != nil || hc.buf != nil {
		t.Error("a stopped connection still holds bytes")
	}
	var nilConn *headConn
	if nilConn.claim(parsed(t, first)) != nil {
		t.Error("claim on no connection")
	}
	nilConn.stop()
}

// TestParseHead splits heads into fields as sent, obs-fold included, and
// refuses what is not a whole head.
func TestParseHead(t *testing.T) {
	h, ok := parseHead([]byte("HTTP/1.1 101 OK\r\nx-A:  one \r\nX-Fold: a\r\n  b\r\nEmpty:\r\n\r\n"))
	want := []capture.HeaderField{{Name: "x-A", Value: "one"}, {Name: "X-Fold", Value: "a b"}, {Name: "Empty", Value: ""}}
	if !ok || !slices.Equal(h.list(func(string) bool { return false }), want) {
		t.Fatalf("parseHead = %+v, %v", h, ok)
	}
	if string(h.fields[1].raw) != "X-Fold: a\r\n  b\r\n" || string(h.end) != "\r\n" {
		t.Errorf("raw fold %q, end %q", h.fields[1].raw, h.end)
	}
	for _, bad := range []string{"", "HTTP/1.1 200 OK\r\n", "HTTP/1.1 200 OK\r\nno colon\r\n\r\n", "HTTP/1.1 200 OK\r\n folded-first\r\n\r\n",
		"HTTP/1.1 200 OK\r\n\r\nextra", "HTTP/1.1 200 OK"} {
		if _, ok := parseHead([]byte(bad)); ok {
			t.Errorf("parseHead(%q) accepted it", bad)
		}
	}
}

// TestUpstreamRequestHead rewrites only the request target, the Host
// value when it differs, and the fields for wstap.
func TestUpstreamRequestHead(t *testing.T) {
	drop := func(name string) bool { return strings.EqualFold(name, "Proxy-Connection") }
	for _, tc := range []struct {
		name, in, uri, host, want string
	}{
		{"same", "GET /x HTTP/1.1\r\nhost: a.test\r\nX: 1\r\n\r\n", "/x", "a.test", "GET /x HTTP/1.1\r\nhost: a.test\r\nX: 1\r\n\r\n"},
		{"new-host", "GET ws://a.test/x HTTP/1.1\r\nX: 1\r\nhOST:  b.test\r\n\r\n", "/x", "a.test", "GET /x HTTP/1.1\r\nX: 1\r\nhOST: a.test\r\n\r\n"},
		{"no-host", "GET /x HTTP/1.0\nproxy-connection: close\nX: 1\n\n", "/base/x", "a.test", "GET /base/x HTTP/1.0\nHost: a.test\nX: 1\n\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, ok := parseHead([]byte(tc.in))
			if !ok {
				t.Fatalf("parseHead(%q) failed", tc.in)
			}
			if got := h.upstreamRequest(tc.uri, tc.host, drop); !bytes.Equal(got, []byte(tc.want)) {
				t.Errorf("upstreamRequest = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestOriginForm(t *testing.T) {
	for in, want := range map[string]string{
		"/a?b": "/a?b", "ws://h.test/a/b?c=%41": "/a/b?c=%41", "ws://h.test": "/", "ws://h.test?q=1": "/?q=1",
		"http://h.test:80/": "/", "*": "*",
	} {
		if got := originForm(in); got != want {
			t.Errorf("originForm(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestReadRecorderBounded stops recording a head that outgrows its bound.
func TestReadRecorderBounded(t *testing.T) {
	rr := &readRecorder{r: strings.NewReader(strings.Repeat("x", 100)), on: true, max: 10}
	br := bufio.NewReaderSize(rr, 16)
	br.ReadByte()
	if !rr.cut || rr.buf != nil {
		t.Errorf("recorder kept %d bytes past its bound (cut %v)", len(rr.buf), rr.cut)
	}
	if got := rr.take(0); got != nil {
		t.Errorf("take = %q", got)
	}
}

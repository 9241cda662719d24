package proxy

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/gorilla/websocket"
	"github.com/wstap/wstap/capture"
)

// lockedBuffer is a bytes.Buffer safe for a logger's concurrent writes.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

const (
	testCreds    = "alice:s3cret"
	testCredsB64 = "YWxpY2U6czNjcmV0" // base64 of testCreds
)

func basic(creds string) string { return "Basic " + base64.StdEncoding.EncodeToString([]byte(creds)) }

// TestProxyAuthExplicit requires Proxy-Authorization on absolute-form and
// CONNECT requests, and checks that the credentials reach neither the
// upstream, nor the capture, nor the log.
func TestProxyAuthExplicit(t *testing.T) {
	if base64.StdEncoding.EncodeToString([]byte(testCreds)) != testCredsB64 {
		t.Fatal("testCredsB64 is wrong")
	}
	es := newEchoServer(t, false)
	host := es.Listener.Addr().String()
	var logs lockedBuffer
	m := newMatrix(t, Options{ProxyAuth: testCreds,
		Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	withCreds := func(userinfo string) *http.Client {
		u, _ := url.Parse(m.URL)
		if userinfo != "" {
			user, pass, _ := strings.Cut(userinfo, ":")
			u.User = url.UserPassword(user, pass)
		}
		return proxyClient(t, u.String(), nil)
	}

	for _, tc := range []struct{ name, userinfo string }{{"none", ""}, {"wrong", "alice:guess"}} {
		resp, _ := do(t, withCreds(tc.userinfo), "GET", es.URL+"/page", nil, nil)
		if resp.StatusCode != http.StatusProxyAuthRequired || resp.Header.Get("Proxy-Authenticate") != `Basic realm="wstap"` {
			t.Errorf("%s credentials: answer %s, Proxy-Authenticate %q; want 407 asking for Basic", tc.name, resp.Status, resp.Header.Get("Proxy-Authenticate"))
		}
		_, br := rawProxyRequest(t, m.srv, fmt.Sprintf("CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n", host, host))
		if resp, err := http.ReadResponse(br, &http.Request{Method: http.MethodConnect}); err != nil || resp.StatusCode != http.StatusProxyAuthRequired {
			t.Errorf("%s credentials: CONNECT answered %v, %v; want 407", tc.name, resp, err)
		}
	}

	// Plain HTTP with the right credentials.
	do(t, withCreds(testCreds), "GET", es.URL+"/page", nil, nil)
	es.mu.Lock()
	seen := es.headers
	es.mu.Unlock()
	if v := seen.Get("Proxy-Authorization"); v != "" {
		t.Errorf("the upstream received Proxy-Authorization %q", v)
	}

	// WebSocket through CONNECT (gorilla sends the proxy URL's userinfo).
	pu, _ := url.Parse(m.URL)
	pu.User = url.UserPassword("alice", "s3cret")
	c, _, err := (&websocket.Dialer{Proxy: http.ProxyURL(pu), HandshakeTimeout: ioWait}).Dial(wsURL(es.URL)+"/tunnelled", nil)
	if err != nil {
		t.Fatalf("WebSocket through CONNECT with credentials: %v", err)
	}
	c.Close()
	m.waitEnds(t, 1)

	// Absolute-form WebSocket with the right credentials.
	rc, br := rawProxyRequest(t, m.srv, fmt.Sprintf("GET ws://%s/absolute HTTP/1.1\r\nHost: %s\r\nProxy-Authorization: %s\r\n%s\r\n",
		host, host, basic(testCreds), upgradeHeaders))
	if resp, err := http.ReadResponse(br, nil); err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("absolute-form upgrade with credentials answered %v, %v", resp, err)
	}
	es.mu.Lock()
	seen = es.headers
	es.mu.Unlock()
	if v := seen.Get("Proxy-Authorization"); v != "" {
		t.Errorf("the upstream received Proxy-Authorization %q", v)
	}
	rc.Close()
	m.waitEnds(t, 1)

	r := m.finish(t)
	if len(r.Conns()) != 2 || len(r.HTTP()) != 1 {
		t.Errorf("capture holds %d connections and %d exchanges, want 2 and 1", len(r.Conns()), len(r.HTTP()))
	}
	var all strings.Builder
	for rec, err := range r.Records(capture.Filter{}) {
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&all, "%+v\n", rec)
	}
	for _, secret := range []string{"s3cret", testCredsB64, "Proxy-Authorization"} {
		if strings.Contains(all.String(), secret) {
			t.Errorf("the capture holds %q", secret)
		}
		if strings.Contains(logs.String(), secret) {
			t.Errorf("the log holds %q:\n%s", secret, logs.String())
		}
	}
}

// TestProxyAuthReverse requires Authorization: Basic in reverse mode, and
// keeps it from the upstream and the capture.
func TestProxyAuthReverse(t *testing.T) {
	es := newEchoServer(t, false)
	m := newMatrix(t, Options{Upstream: wsURL(es.URL), ProxyAuth: testCreds})

	resp, _ := do(t, proxyClient(t, "", nil), "GET", m.URL+"/page", nil, http.Header{"Authorization": {basic("alice:guess")}})
	if resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("WWW-Authenticate") != `Basic realm="wstap"` {
		t.Errorf("wrong credentials: answer %s, WWW-Authenticate %q; want 401 asking for Basic", resp.Status, resp.Header.Get("WWW-Authenticate"))
	}
	if _, resp, err := websocket.DefaultDialer.Dial(wsURL(m.URL)+"/ws", nil); err == nil || resp == nil || resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("upgrade without credentials: %v, %v; want 401", resp, err)
	}

	do(t, proxyClient(t, "", nil), "GET", m.URL+"/page", nil, http.Header{"Authorization": {basic(testCreds)}})
	c, _, err := websocket.DefaultDialer.Dial(wsURL(m.URL)+"/ws", http.Header{"Authorization": {basic(testCreds)}})
	if err != nil {
		t.Fatalf("upgrade with credentials: %v", err)
	}
	es.mu.Lock()
	seen := es.headers
	es.mu.Unlock()
	if v := seen.Get("Authorization"); v != "" {
		t.Errorf("the upstream received wstap's Authorization %q", v)
	}
	c.Close()
	m.waitEnds(t, 1)
	r := m.finish(t)
	open := readConn(t, r, connByPath(t, r, "/ws"), 0).open
	if _, ok := open.RequestHeaders["Authorization"]; ok {
		t.Errorf("the capture holds Authorization: %v", open.RequestHeaders)
	}
	for _, x := range httpRecords(t, r) {
		if _, ok := x.RequestHeaders["Authorization"]; ok {
			t.Errorf("the capture holds Authorization: %v", x.RequestHeaders)
		}
	}
}

// TestAllowRemote refuses clients that are not on loopback unless
// AllowRemote, naming the flag.
func TestAllowRemote(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(pageHandler))
	t.Cleanup(up.Close)
	for _, tc := range []struct {
		remote string
		allow  bool
		want   int
	}{
		{"127.0.0.1:5000", false, http.StatusOK},
		{"[::1]:5000", false, http.StatusOK},
		{"[::ffff:127.0.0.1]:5000", false, http.StatusOK},
		{"192.0.2.7:5000", false, http.StatusForbidden},
		{"[2001:db8::1]:5000", false, http.StatusForbidden},
		{"not an address", false, http.StatusForbidden},
		{"192.0.2.7:5000", true, http.StatusOK},
	} {
		p, err := New(Options{AllowRemote: tc.allow})
		if err != nil {
			t.Fatal(err)
		}
		req := httptest.NewRequestWithContext(t.Context(), "GET", up.URL+"/page?x=remote", nil)
		req.RemoteAddr = tc.remote
		rec := httptest.NewRecorder()
		p.ServeHTTP(rec, req)
		if rec.Code != tc.want {
			t.Errorf("client %s (AllowRemote %v): answer %d %q, want %d", tc.remote, tc.allow, rec.Code, rec.Body, tc.want)
		}
		if tc.want == http.StatusForbidden && !strings.Contains(rec.Body.String(), "--allow-remote") {
			t.Errorf("refusal %q does not name --allow-remote", rec.Body)
		}
		p.Shutdown(t.Context())
	}
}

func TestProxyAuthOptions(t *testing.T) {
	if _, err := New(Options{ProxyAuth: "no-colon"}); err == nil || !strings.Contains(err.Error(), "user:pass") {
		t.Errorf("New(ProxyAuth without a colon) = %v, want an error naming user:pass", err)
	}
	for _, tc := range []struct {
		header string
		want   bool
	}{
		{basic(testCreds), true},
		{"basic " + testCredsB64, true},
		{"  Basic   " + testCredsB64 + " ", true},
		{basic("alice:s3cre"), false},
		{basic("alice:s3cret!"), false},
		{"Bearer " + testCredsB64, false},
		{"Basic !!!", false},
		{"Basic", false},
		{"", false},
	} {
		if got := basicMatches(tc.header, testCreds); got != tc.want {
			t.Errorf("basicMatches(%q) = %v, want %v", tc.header, got, tc.want)
		}
	}
}

// TestRedactResponseHeaders redacts response headers of upgrades too, in
// the capture only.
func TestRedactResponseHeaders(t *testing.T) {
	es := newEchoServer(t, false)
	m := newMatrix(t, Options{Upstream: wsURL(es.URL), Redact: []string{"Set-Cookie", "Authorization"}})
	c, resp, err := websocket.DefaultDialer.Dial(wsURL(m.URL)+"/cookie", http.Header{"Authorization": {"Bearer t0k"}})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Header.Get("Set-Cookie") != "session=abc" {
		t.Errorf("client got Set-Cookie %q, want the server's", resp.Header.Get("Set-Cookie"))
	}
	c.Close()
	m.waitEnds(t, 1)
	r := m.finish(t)
	open := readConn(t, r, connByPath(t, r, "/cookie"), 0).open
	if open.ResponseHeaders.Get("Set-Cookie") != "[redacted]" || open.RequestHeaders.Get("Authorization") != "[redacted]" {
		t.Errorf("recorded Set-Cookie %q, Authorization %q; want both redacted",
			open.ResponseHeaders.Get("Set-Cookie"), open.RequestHeaders.Get("Authorization"))
	}
}

// TestAdmitLoopbackRule: the proxy's rule for a loopback client is
// internal/netaddr's, the same as wstap record's for --listen (issue 7).
func TestAdmitLoopbackRule(t *testing.T) {
	p, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Shutdown(t.Context())
	for _, tc := range []struct {
		remote string
		want   bool
	}{
		{"127.0.0.1:40000", true}, {"127.1.2.3:40000", true}, {"[::1]:40000", true}, {"[::ffff:127.0.0.1]:40000", true},
		{"localhost:40000", true}, {"LOCALHOST:40000", true},
		{"10.0.0.1:40000", false}, {"0.0.0.0:40000", false}, {"[::]:40000", false}, {"example.test:40000", false}, {"", false},
	} {
		req := httptest.NewRequestWithContext(t.Context(), http.MethodGet, "http://upstream.example.test/", nil)
		req.RemoteAddr = tc.remote
		rec := httptest.NewRecorder()
		if got := p.admit(rec, req); got != tc.want {
			t.Errorf("admit from %q = %v (%d), want %v", tc.remote, got, rec.Code, tc.want)
		}
	}
}

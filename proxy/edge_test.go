package proxy

import (
	"bufio"
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsflate"
	"github.com/gorilla/websocket"
	"github.com/wstap/wstap/capture"
)

// TestFrameNotHeldBehindPartialHeader checks that a complete frame is
// forwarded at once even when the first bytes of the next frame's header
// arrive with it and the rest is late.
func TestFrameNotHeldBehindPartialHeader(t *testing.T) {
	up := newRawServer(t, rawServerOptions{})
	m := newMatrix(t, Options{Upstream: up.URL})
	c := dialRaw(t, m.URL, "/partial", nil, nil)
	s := up.accept(t)
	a := c.build(true, 0, ws.OpText, []byte("complete"))
	b := c.build(true, 0, ws.OpText, []byte("late"))
	c.write(append(append([]byte(nil), a...), b[:1]...))
	s.expect(a) // before the rest of b exists
	c.write(b[1:])
	s.expect(b)
	c.write(c.build(true, 0, ws.OpBinary, nil)[:3])
	c.conn.Close()
	// What arrived of the last header still goes on, then the end of the
	// stream.
	if rest := readAllBytes(t, s); len(rest) != 3 {
		t.Errorf("server received % x after the last frame, want the 3 bytes of header the client sent", rest)
	}
	s.conn.Close()
	m.waitEnds(t, 1)
	r := m.finish(t)
	got := readConn(t, r, connByPath(t, r, "/partial"), 0)
	checkMsgs(t, got, []wantMsg{{capture.ClientToServer, capture.OpText, []byte("complete"), false},
		{capture.ClientToServer, capture.OpText, []byte("late"), false}})
	if len(got.closes) == 0 || got.closes[0].Code != 1006 || got.closes[0].Dir != capture.ClientToServer {
		t.Errorf("closes %+v, want 1006 from the client", closeFacts(got.closes))
	}
}

// TestServerResetRecorded checks that a server that resets its connection
// is recorded (1006 with the reason, an End with the error) and that the
// client's connection ends too.
func TestServerResetRecorded(t *testing.T) {
	up := newRawServer(t, rawServerOptions{})
	m := newMatrix(t, Options{Upstream: up.URL})
	c := dialRaw(t, m.URL, "/reset", nil, nil)
	s := up.accept(t)
	s.expect(c.send(true, 0, ws.OpText, []byte("hello")))
	s.conn.(*net.TCPConn).SetLinger(0)
	s.conn.Close() // an RST, not a FIN
	c.expectEOF()
	// The proxy's next write to the server fails.
	c.conn.SetWriteDeadline(deadline())
	c.conn.Write(c.build(true, 0, ws.OpText, []byte("anyone there?")))
	c.conn.Close()
	m.waitEnds(t, 1)
	r := m.finish(t)
	got := readConn(t, r, connByPath(t, r, "/reset"), 0)
	var server *capture.Close
	for _, cl := range got.closes {
		if cl.Dir == capture.ServerToClient {
			server = cl
		}
	}
	if server == nil || server.Code != 1006 || !strings.Contains(server.Reason, "reset") {
		t.Errorf("server close %+v, want 1006 naming the reset", server)
	}
	if got.end == nil {
		t.Fatal("no end record")
	}
	// The proxy could not forward the client's last message, but it
	// received it, and the end says why it went no further.
	checkMsgs(t, got, []wantMsg{{capture.ClientToServer, capture.OpText, []byte("hello"), false},
		{capture.ClientToServer, capture.OpText, []byte("anyone there?"), false}})
	if !strings.Contains(got.end.Error, "write") {
		t.Errorf("end error %q, want the failed write to the server", got.end.Error)
	}
}

// TestReverseModePlainHTTP checks that plain HTTP in reverse mode goes to
// the upstream's origin.
func TestReverseModePlainHTTP(t *testing.T) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "page %s for %s", r.URL.RequestURI(), r.Host)
	}))
	t.Cleanup(backend.Close)
	m := newMatrix(t, Options{Upstream: wsURL(backend.URL) + "/ws"})
	resp, err := http.Get(m.URL + "/index.html?x=1")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	host := strings.TrimPrefix(backend.URL, "http://")
	if want := "page /index.html?x=1 for " + host; string(body) != want {
		t.Errorf("body %q, want %q", body, want)
	}
}

// TestUnsupportedSchemeIs400 refuses an absolute-form upgrade for a scheme
// that is not ws, wss, http or https.
func TestUnsupportedSchemeIs400(t *testing.T) {
	m := newMatrix(t, Options{})
	_, resp := dialRawResponse(t, m.URL, "ftp://files.example.test/x", nil, nil)
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("status %s, want 400", resp.Status)
	}
}

// TestUpstreamHangsUpIs502 answers 502, saying why, when the upstream
// closes without answering the upgrade, and records it.
func TestUpstreamHangsUpIs502(t *testing.T) {
	m := newMatrix(t, Options{Upstream: "ws://" + cannedServer(t, "")})
	_, resp := dialRawResponse(t, m.URL, "/hangup", nil, nil)
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusBadGateway || !strings.Contains(string(body), "read the upgrade response") {
		t.Errorf("answer %s %q, want 502 saying the response never came", resp.Status, body)
	}
	r := m.finish(t)
	got := readConn(t, r, connByPath(t, r, "/hangup"), 0)
	if got.open.Status != 0 || len(got.events) != 1 || got.events[0].Kind != capture.EventError {
		t.Errorf("recorded status %d, events %+v; want 0 and one error", got.open.Status, got.events)
	}
}

// TestRefusalBodies forwards a refusal's whole body while the capture
// keeps a prefix, and notes a body cut short.
func TestRefusalBodies(t *testing.T) {
	long := strings.Repeat("nope ", 100)
	cases := []struct {
		name, response, wantBody, wantDetail string
	}{
		{"long", "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Bearer\r\nContent-Length: 500\r\n\r\n" + long, long, "401 Unauthorized: nope"},
		{"cut-short", "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 100\r\n\r\nbusy", "busy", "body cut short"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := newMatrix(t, Options{Upstream: "ws://" + cannedServer(t, tc.response), MaxRefusalBody: 16})
			_, resp := dialRawResponse(t, m.URL, "/refused", nil, nil)
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode == http.StatusSwitchingProtocols || !strings.HasPrefix(string(body), tc.wantBody) {
				t.Errorf("client got %s %q, want the server's refusal", resp.Status, body)
			}
			r := m.finish(t)
			got := readConn(t, r, connByPath(t, r, "/refused"), 0)
			if len(got.open.ResponseBody) != min(16, len(tc.wantBody)) {
				t.Errorf("capture kept %d bytes of the body, want at most 16", len(got.open.ResponseBody))
			}
			if len(got.events) != 1 || got.events[0].Kind != capture.EventRefused || !strings.Contains(got.events[0].Detail, tc.wantDetail) {
				t.Errorf("events %+v, want a refusal saying %q", got.events, tc.wantDetail)
			}
		})
	}
}

// TestNoHijackIs502 answers 502 when the client's connection cannot be
// taken over.
func TestNoHijackIs502(t *testing.T) {
	up := newRawServer(t, rawServerOptions{})
	p, err := New(Options{Upstream: up.URL})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Shutdown(t.Context())
	req := httptest.NewRequestWithContext(t.Context(), http.MethodGet, "/nohijack", nil)
	req.RemoteAddr = "127.0.0.1:40000" // httptest's default, 192.0.2.1, is refused without AllowRemote
	req.Header.Set("Upgrade", "websocket")
	req.Header.Set("Connection", "Upgrade")
	rec := httptest.NewRecorder()
	p.ServeHTTP(rec, req)
	if rec.Code != http.StatusBadGateway || !strings.Contains(rec.Body.String(), "cannot be taken over") {
		t.Errorf("answer %d %q, want 502", rec.Code, rec.Body)
	}
}

// failingSink refuses every record.
type failingSink struct{}

func (failingSink) Open(*capture.ConnOpen) (capture.ConnID, error) {
	return 0, errors.New("capture: disk full")
}
func (failingSink) Append(capture.Record) error { return errors.New("capture: disk full") }
func (failingSink) HTTP(*capture.HTTP) (uint64, error) {
	return 0, errors.New("capture: disk full")
}

// TestSinkTroubleKeepsTraffic checks that traffic flows when the capture
// fails, or when there is none, and that the counters count it.
func TestSinkTroubleKeepsTraffic(t *testing.T) {
	for _, tc := range []struct {
		name    string
		sink    Sink
		wantErr bool
	}{{"failing", failingSink{}, true}, {"none", nil, false}} {
		t.Run(tc.name, func(t *testing.T) {
			es := newEchoServer(t, false)
			p, err := New(Options{Upstream: wsURL(es.URL), Sink: tc.sink})
			if err != nil {
				t.Fatal(err)
			}
			srv := httptest.NewServer(p)
			t.Cleanup(srv.Close)
			c, _, err := websocket.DefaultDialer.DialContext(t.Context(), wsURL(srv.URL), nil)
			if err != nil {
				t.Fatal(err)
			}
			for i := range 3 {
				msg := fmt.Sprintf("message %d", i)
				c.WriteMessage(websocket.TextMessage, []byte(msg))
				c.SetReadDeadline(deadline())
				if _, got, err := c.ReadMessage(); err != nil || string(got) != msg {
					t.Fatalf("echo %q, %v; want %q", got, err, msg)
				}
			}
			c.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(1000, ""))
			c.ReadMessage()
			c.Close()
			srv.Close()
			if err := p.Shutdown(t.Context()); err != nil {
				t.Fatal(err)
			}
			if err := p.Err(); (err != nil) != tc.wantErr {
				t.Errorf("Err() = %v, want an error: %v", err, tc.wantErr)
			}
			cn := p.Counters()
			if cn.Total.Load() != 1 || cn.Open.Load() != 0 || cn.Messages.Load() != 6 || cn.Bytes.Load() != 6*9 {
				t.Errorf("counters: total %d, open %d, messages %d, bytes %d; want 1, 0, 6, 54",
					cn.Total.Load(), cn.Open.Load(), cn.Messages.Load(), cn.Bytes.Load())
			}
		})
	}
}

// TestConnectPlainHTTPInTunnel serves plain HTTP that arrives inside a
// CONNECT tunnel.
func TestConnectPlainHTTPInTunnel(t *testing.T) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "tunnelled %s", r.URL.Path)
	}))
	t.Cleanup(backend.Close)
	m := newMatrix(t, Options{})
	host := strings.TrimPrefix(backend.URL, "http://")
	c, err := net.Dial("tcp", strings.TrimPrefix(m.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(deadline())
	fmt.Fprintf(c, "CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n", host, host)
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, &http.Request{Method: http.MethodConnect})
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("CONNECT answered %v, %v", resp, err)
	}
	fmt.Fprintf(c, "GET /inside HTTP/1.1\r\nHost: %s\r\n\r\n", host)
	resp, err = http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	if string(body) != "tunnelled /inside" {
		t.Errorf("body %q", body)
	}
}

// TestConnectTLSWithoutCertificates fails the client's TLS handshake inside
// a CONNECT tunnel when the proxy has no way to make certificates.
func TestConnectTLSWithoutCertificates(t *testing.T) {
	m := newMatrix(t, Options{})
	c, err := net.Dial("tcp", strings.TrimPrefix(m.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(deadline())
	io.WriteString(c, "CONNECT secure.example.test:443 HTTP/1.1\r\nHost: secure.example.test:443\r\n\r\n")
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, &http.Request{Method: http.MethodConnect})
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("CONNECT answered %v, %v", resp, err)
	}
	tc := tls.Client(&bufferedConn{Conn: c, r: br}, &tls.Config{ServerName: "secure.example.test"})
	if err := tc.HandshakeContext(t.Context()); err == nil {
		t.Fatal("TLS handshake succeeded without a certificate")
	}
}

func TestJoinURL(t *testing.T) {
	for _, tc := range []struct{ up, req, want string }{
		{"ws://h", "/", "ws://h/"},
		{"ws://h", "", "ws://h/"},
		{"ws://h/", "/a/b", "ws://h/a/b"},
		{"ws://h/base", "/", "ws://h/base"},
		{"ws://h/base/", "/a", "ws://h/base/a"},
		{"ws://h/base?k=v", "/a?q=1", "ws://h/base/a?q=1"},
		{"ws://h/base?k=v", "/a", "ws://h/base/a?k=v"},
		{"wss://h:8443/x", "/a%2Fb", "wss://h:8443/x/a%2Fb"},
		{"wss://h:8443/", "/a%2Fb", "wss://h:8443/a%2Fb"},
	} {
		up, _ := url.Parse(tc.up)
		req, _ := url.Parse(tc.req)
		if got := joinURL(up, req).String(); got != tc.want {
			t.Errorf("joinURL(%q, %q) = %q, want %q", tc.up, tc.req, got, tc.want)
		}
	}
}

func TestNegotiatedDeflate(t *testing.T) {
	for _, tc := range []struct {
		ext  []string
		want *wsflate.Parameters
	}{
		{nil, nil},
		{[]string{"x-webkit-deflate-frame"}, nil},
		{[]string{"permessage-deflate; server_max_window_bits=99"}, nil},
		{[]string{"permessage-deflate; bogus"}, nil},
		{[]string{";;;"}, nil},
		{[]string{"x-other, permessage-deflate; client_no_context_takeover"}, &wsflate.Parameters{ClientNoContextTakeover: true}},
		{[]string{"x-other", "permessage-deflate; server_max_window_bits=10"}, &wsflate.Parameters{ServerMaxWindowBits: 10}},
	} {
		got := negotiatedDeflate(http.Header{"Sec-Websocket-Extensions": tc.ext})
		if (got == nil) != (tc.want == nil) || (got != nil && *got != *tc.want) {
			t.Errorf("negotiatedDeflate(%q) = %+v, want %+v", tc.ext, got, tc.want)
		}
	}
}

// TestUnparsableExtensionsMeanNoDeflate records RSV1 as a violation and the
// payload as it was when the server's extension answer cannot be parsed.
func TestUnparsableExtensionsMeanNoDeflate(t *testing.T) {
	up := newRawServer(t, rawServerOptions{Extensions: "permessage-deflate; server_max_window_bits=99"})
	m := newMatrix(t, Options{Upstream: up.URL})
	c := dialRaw(t, m.URL, "/badext", nil, nil)
	s := up.accept(t)
	payload := newDeflater(t, false).compress([]byte("compressed anyway"))
	c.expect(s.send(true, 4, ws.OpText, payload))
	closeHandshake(t, c, s)
	m.waitEnds(t, 1)
	r := m.finish(t)
	got := readConn(t, r, connByPath(t, r, "/badext"), 0)
	if v := got.violations(); len(v) < 1 || !strings.Contains(v[0], "RSV bits 100") {
		t.Errorf("violations %q, want RSV1 without an extension", v)
	}
	if ms := got.dir(capture.ServerToClient); len(ms) != 1 || !bytes.Equal(ms[0].Data, payload) || ms[0].Compressed {
		t.Errorf("messages %+v, want the payload as it was", ms)
	}
}

// testCert makes a certificate from tmpl, signed by parent (self-signed
// when parent is nil).
func testCert(t *testing.T, tmpl *x509.Certificate, parent *x509.Certificate, parentKey crypto.Signer) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if tmpl.SerialNumber == nil {
		tmpl.SerialNumber = big.NewInt(time.Now().UnixNano())
	}
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, key.Public(), parentKey)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert, key
}

// TestUpstreamTLSFailuresExplained answers 502 with words a user can act
// on for each way the upstream's certificate can fail.
func TestUpstreamTLSFailuresExplained(t *testing.T) {
	now := time.Now()
	ca, caKey := testCert(t, &x509.Certificate{Subject: pkix.Name{CommonName: "wstap test CA"}, IsCA: true,
		BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour)}, nil, nil)
	leaf := func(mod func(*x509.Certificate), signed bool) (*x509.Certificate, *ecdsa.PrivateKey) {
		tmpl := &x509.Certificate{Subject: pkix.Name{CommonName: "upstream"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
			NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour), ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
		mod(tmpl)
		if signed {
			return testCert(t, tmpl, ca, caKey)
		}
		return testCert(t, tmpl, nil, nil)
	}
	cases := []struct {
		name  string
		cert  *x509.Certificate
		key   *ecdsa.PrivateKey
		trust bool // the proxy trusts the certificate itself
		want  string
	}{}
	add := func(name string, mod func(*x509.Certificate), signed, trust bool, want string) {
		c, k := leaf(mod, signed)
		cases = append(cases, struct {
			name  string
			cert  *x509.Certificate
			key   *ecdsa.PrivateKey
			trust bool
			want  string
		}{name, c, k, trust, want})
	}
	add("untrusted-ca", func(*x509.Certificate) {}, true, false, "signed by an authority wstap does not trust (CN=wstap test CA); pass --upstream-ca ca.pem, or --insecure")
	add("expired", func(c *x509.Certificate) { c.NotAfter = now.Add(-time.Minute) }, false, true, "has expired or is not yet valid; pass --insecure")
	add("wrong-usage", func(c *x509.Certificate) { c.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth} }, false, true, "certificate is invalid; pass --upstream-ca or --insecure")
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewUnstartedServer(http.NotFoundHandler())
			srv.TLS = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{tc.cert.Raw}, PrivateKey: tc.key}}}
			srv.Config.ErrorLog = log.New(io.Discard, "", 0)
			srv.StartTLS()
			t.Cleanup(srv.Close)
			pool := x509.NewCertPool()
			if tc.trust {
				pool.AddCert(tc.cert)
			}
			m := newMatrix(t, Options{Upstream: "wss://" + srv.Listener.Addr().String(), UpstreamTLS: &tls.Config{RootCAs: pool}})
			_, resp := dialRawResponse(t, m.URL, "/tls/"+tc.name, nil, nil)
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != http.StatusBadGateway || !strings.Contains(string(body), tc.want) {
				t.Errorf("answer %s %q, want 502 saying %q", resp.Status, body, tc.want)
			}
			r := m.finish(t)
			got := readConn(t, r, connByPath(t, r, "/tls/"+tc.name), 0)
			if len(got.events) != 1 || !strings.Contains(got.events[0].Detail, tc.want) {
				t.Errorf("events %+v, want the explanation", got.events)
			}
		})
	}
	t.Run("not-tls", func(t *testing.T) {
		up := newRawServer(t, rawServerOptions{})
		m := newMatrix(t, Options{Upstream: "wss" + strings.TrimPrefix(up.URL, "ws")})
		_, resp := dialRawResponse(t, m.URL, "/tls/plain", nil, nil)
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusBadGateway || !strings.Contains(string(body), "TLS handshake with 127.0.0.1") {
			t.Errorf("answer %s %q, want 502 naming the TLS handshake", resp.Status, body)
		}
	})
}

// TestReverseModeWSS relays to a wss:// upstream whose CA the proxy is told
// to trust, and records the server leg's TLS facts.
func TestReverseModeWSS(t *testing.T) {
	now := time.Now()
	ca, caKey := testCert(t, &x509.Certificate{Subject: pkix.Name{CommonName: "dev CA"}, IsCA: true,
		BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour)}, nil, nil)
	cert, key := testCert(t, &x509.Certificate{Subject: pkix.Name{CommonName: "dev server"}, DNSNames: []string{"localhost"},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}, ca, caKey)
	es := newEchoServer(t, false)
	es.Close()
	es.Server = httptest.NewUnstartedServer(es.Config.Handler)
	es.TLS = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{cert.Raw, ca.Raw}, PrivateKey: key}}}
	es.StartTLS()
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	m := newMatrix(t, Options{Upstream: "wss://" + es.Listener.Addr().String(), UpstreamTLS: &tls.Config{RootCAs: pool}})
	c := dialRaw(t, m.URL, "/secure", nil, nil)
	c.send(true, 0, ws.OpText, []byte("over TLS"))
	if f := c.read(); string(f.payload) != "over TLS" || f.h.Masked {
		t.Errorf("echo %s %q", describeFrame(f.raw), f.payload)
	}
	closeRaw(t, c)
	m.waitEnds(t, 1)
	r := m.finish(t)
	open := readConn(t, r, connByPath(t, r, "/secure"), 0).open
	st := open.ServerTLS
	if st == nil || st.Version == "" || len(st.Chain) != 2 || st.Chain[0].Subject != "CN=dev server" ||
		!strings.Contains(st.Verified, "chains to CN=dev CA") || st.ALPN != "http/1.1" { // never h2: RFC 8441 is not relayed
		t.Errorf("server TLS recorded as %+v", st)
	}
	if open.ClientTLS != nil {
		t.Errorf("client TLS recorded as %+v for a plain client leg", open.ClientTLS)
	}
}

// dialConnect opens a CONNECT tunnel through the proxy at proxyURL to
// target and upgrades path inside it, as a raw client.
func dialConnect(t *testing.T, proxyURL, target, path string) *rawPeer {
	t.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(proxyURL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(deadline())
	fmt.Fprintf(c, "CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n", target, target)
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, &http.Request{Method: http.MethodConnect})
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("CONNECT answered %v, %v", resp, err)
	}
	c.Write(upgradeRequest(target, path, nil))
	if resp, err = http.ReadResponse(br, nil); err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("upgrade answered %v, %v", resp, err)
	}
	c.SetDeadline(time.Time{})
	return &rawPeer{t: t, conn: c, br: br, client: true, resp: resp}
}

// TestConnectHalfClose checks that the end of the server's stream reaches a
// client in a CONNECT tunnel as a half-close: the client can still send its
// close reply, which is forwarded and recorded.
func TestConnectHalfClose(t *testing.T) {
	up := newRawServer(t, rawServerOptions{})
	m := newMatrix(t, Options{})
	c := dialConnect(t, m.URL, strings.TrimPrefix(up.URL, "ws://"), "/half")
	s := up.accept(t)
	c.expect(s.send(true, 0, ws.OpClose, closeBody(1000, "server done")))
	s.conn.(*net.TCPConn).CloseWrite()
	c.expectEOF()
	s.expect(c.send(true, 0, ws.OpClose, closeBody(1000, "client done")))
	c.conn.Close()
	s.expectEOF()
	s.conn.Close()
	m.waitEnds(t, 1)
	r := m.finish(t)
	got := readConn(t, r, connByPath(t, r, "/half"), 0)
	want := []capture.Close{{Dir: capture.ServerToClient, Code: 1000, Reason: "server done"},
		{Dir: capture.ClientToServer, Code: 1000, Reason: "client done"}}
	if g := closeFacts(got.closes); !reflect.DeepEqual(g, want) {
		t.Errorf("closes %+v, want %+v", g, want)
	}
}

// cannedServer answers the first connection on a loopback port by reading
// one request and writing response, then hanging up. It returns the
// address.
func cannedServer(t *testing.T, response string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		http.ReadRequest(bufio.NewReader(c))
		io.WriteString(c, response)
	}()
	return ln.Addr().String()
}

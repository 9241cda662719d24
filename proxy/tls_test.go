package proxy

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/wstap/wstap/capture"
	"github.com/wstap/wstap/certs"
)

// testCA makes a CA of the test's own.
func testCA(t *testing.T) *certs.Authority {
	t.Helper()
	ca, _, err := certs.LoadOrCreate(t.TempDir(), certs.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

// serverPool trusts an httptest TLS server's certificate.
func serverPool(s *httptest.Server) *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(s.Certificate())
	return p
}

func proxyDialer(t *testing.T, srv *httptest.Server, roots *x509.CertPool) *websocket.Dialer {
	pu, _ := url.Parse(srv.URL)
	return &websocket.Dialer{Proxy: http.ProxyURL(pu), TLSClientConfig: &tls.Config{RootCAs: roots},
		HandshakeTimeout: ioWait}
}

func TestWSSThroughConnect(t *testing.T) {
	// The server's certificate comes from a CA of its own (the dev-server
	// case), which the proxy is told to trust, for both names dialled.
	upCA := testCA(t)
	es := newEchoServer(t, false)
	certPEM, keyPEM, err := upCA.IssueServer([]string{"127.0.0.1", "localhost"}, 0)
	if err != nil {
		t.Fatal(err)
	}
	kp, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	es.Close()
	es.Server = httptest.NewUnstartedServer(es.Config.Handler)
	es.TLS = &tls.Config{Certificates: []tls.Certificate{kp}}
	es.StartTLS()
	t.Cleanup(es.Server.Close)
	ca := testCA(t)
	_, srv, finish := recordingProxy(t, Options{GetCertificate: ca.GetCertificate,
		UpstreamTLS: &tls.Config{RootCAs: upCA.Pool()}})

	// The client trusts wstap's CA only: it sees wstap's leaf, not the server's.
	for _, host := range []string{"127.0.0.1", "localhost"} {
		target := "wss://" + strings.Replace(es.Listener.Addr().String(), "127.0.0.1", host, 1) + "/secure?x=1"
		c, resp, err := proxyDialer(t, srv, ca.Pool()).Dial(target, http.Header{"Sec-WebSocket-Protocol": {"chat"}})
		if err != nil {
			t.Fatalf("dial %s through the proxy: %v", target, err)
		}
		if c.Subprotocol() != "chat" || resp.Header.Get("Set-Cookie") != "session=abc" {
			t.Errorf("subprotocol %q, Set-Cookie %q", c.Subprotocol(), resp.Header.Get("Set-Cookie"))
		}
		state := c.UnderlyingConn().(*tls.Conn).ConnectionState()
		if iss := state.PeerCertificates[0].Issuer.String(); iss != ca.Certificate().Subject.String() {
			t.Errorf("client saw a leaf issued by %q, want wstap's CA", iss)
		}
		c.WriteMessage(websocket.TextMessage, []byte("secret "+host))
		if _, p, err := c.ReadMessage(); err != nil || string(p) != "secret "+host {
			t.Fatalf("echo = %q, %v", p, err)
		}
		c.Close()
	}
	r := finish()
	cs := r.Conns()
	if len(cs) != 2 {
		t.Fatalf("conns = %+v", cs)
	}
	for _, c := range cs {
		if c.Mode != "connect" || !strings.HasPrefix(c.URL, "wss://") || !strings.HasSuffix(c.URL, "/secure?x=1") || c.Messages != [3]int64{1, 1, 0} {
			t.Errorf("summary = %+v", c)
		}
	}
	var opens []*capture.ConnOpen
	for rec := range r.Records(capture.Filter{}) {
		if o, ok := rec.(*capture.ConnOpen); ok {
			opens = append(opens, o)
		}
	}
	for _, o := range opens {
		if o.ClientTLS == nil || o.ClientTLS.ALPN != "http/1.1" && o.ClientTLS.ALPN != "" || o.ClientTLS.Version == "" {
			t.Errorf("client TLS facts = %+v", o.ClientTLS)
		}
		if o.ServerTLS == nil || len(o.ServerTLS.Chain) == 0 || !strings.HasPrefix(o.ServerTLS.Verified, "verified") {
			t.Errorf("server TLS facts = %+v", o.ServerTLS)
		}
	}
	if opens[1].ClientTLS.SNI != "localhost" {
		t.Errorf("SNI recorded = %q, want localhost", opens[1].ClientTLS.SNI)
	}
}

func TestUpstreamCertificateErrorsAreActionable(t *testing.T) {
	es := newEchoServer(t, true) // httptest's certificate, which the proxy does not trust
	ca := testCA(t)
	tests := []struct {
		name     string
		upTLS    *tls.Config
		wantCode int
		wantBody string
	}{
		{"untrusted", &tls.Config{RootCAs: x509.NewCertPool()}, http.StatusBadGateway, "--upstream-ca"},
		{"wrong name", &tls.Config{RootCAs: serverPool(es.Server), ServerName: "other.example.test"}, http.StatusBadGateway, "not valid for"},
		{"insecure", &tls.Config{InsecureSkipVerify: true}, http.StatusSwitchingProtocols, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, srv, finish := recordingProxy(t, Options{GetCertificate: ca.GetCertificate, UpstreamTLS: tt.upTLS})
			c, resp, err := proxyDialer(t, srv, ca.Pool()).Dial("wss://"+es.Listener.Addr().String()+"/", nil)
			if resp == nil || resp.StatusCode != tt.wantCode {
				t.Fatalf("dial = %v, %v; want status %d", resp, err, tt.wantCode)
			}
			if c != nil {
				c.Close()
			}
			if tt.wantBody != "" {
				body, _ := io.ReadAll(resp.Body)
				if !strings.Contains(string(body), tt.wantBody) || !strings.Contains(string(body), "--insecure") {
					t.Errorf("502 body = %q, want it to name %s and --insecure", body, tt.wantBody)
				}
			}
			r := finish()
			for rec := range r.Records(capture.Filter{}) {
				switch rec := rec.(type) {
				case *capture.Event:
					if tt.wantBody == "" || !strings.Contains(rec.Detail, tt.wantBody) {
						t.Errorf("event = %+v", rec)
					}
				case *capture.ConnOpen:
					if tt.wantBody == "" && (rec.ServerTLS == nil || !strings.Contains(rec.ServerTLS.Verified, "not verified")) {
						t.Errorf("insecure leg recorded as %+v", rec.ServerTLS)
					}
				}
			}
		})
	}
}

// rawProxyRequest writes raw bytes to the proxy and returns a reader over
// its answer.
func rawProxyRequest(t *testing.T, srv *httptest.Server, raw string) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(ioWait))
	if _, err := io.WriteString(c, raw); err != nil {
		t.Fatal(err)
	}
	return c, bufio.NewReader(c)
}

const upgradeHeaders = "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"

func TestAbsoluteFormWS(t *testing.T) {
	es := newEchoServer(t, false)
	_, srv, finish := recordingProxy(t, Options{})
	host := es.Listener.Addr().String()
	c, br := rawProxyRequest(t, srv, fmt.Sprintf("GET ws://%s/abs?q=1 HTTP/1.1\r\nHost: %s\r\n%s\r\n", host, host, upgradeHeaders))
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("response = %v, %v", resp, err)
	}
	if got := resp.Header.Get("Sec-WebSocket-Accept"); got != "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" {
		t.Errorf("Sec-WebSocket-Accept = %q: the key did not reach the server unchanged", got)
	}
	p := &rawPeer{t: t, conn: c, br: br, client: true}
	p.send(true, 0, 1, []byte("absolute"))
	if got := p.read(); string(got.payload) != "absolute" {
		t.Errorf("echo = %q", got.payload)
	}
	c.Close()
	r := finish()
	if cs := r.Conns(); len(cs) != 1 || cs[0].Mode != "explicit" || cs[0].URL != "ws://"+host+"/abs?q=1" {
		t.Fatalf("conns = %+v", cs)
	}
}

func TestConnectWithPipelinedUpgrade(t *testing.T) {
	es := newEchoServer(t, false)
	_, srv, finish := recordingProxy(t, Options{})
	host := es.Listener.Addr().String()
	// The CONNECT and the upgrade request inside the tunnel in one write:
	// the bytes after the CONNECT must not be lost.
	c, br := rawProxyRequest(t, srv, fmt.Sprintf("CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\nGET /pipe HTTP/1.1\r\nHost: %s\r\n%s\r\n", host, host, host, upgradeHeaders))
	resp, err := http.ReadResponse(br, &http.Request{Method: http.MethodConnect})
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("CONNECT response = %v, %v", resp, err)
	}
	resp, err = http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("upgrade response = %v, %v", resp, err)
	}
	p := &rawPeer{t: t, conn: c, br: br, client: true}
	p.send(true, 0, 2, []byte{1, 2, 3})
	if got := p.read(); string(got.payload) != "\x01\x02\x03" {
		t.Errorf("echo = %q", got.payload)
	}
	c.Close()
	r := finish()
	if cs := r.Conns(); len(cs) != 1 || cs[0].Mode != "connect" || cs[0].URL != "ws://"+host+"/pipe" {
		t.Fatalf("conns = %+v", cs)
	}
}

func TestPlainHTTPPassesThrough(t *testing.T) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "plain %s %s", r.Method, r.URL.Path)
	}))
	t.Cleanup(backend.Close)
	_, srv, _ := recordingProxy(t, Options{})
	pu, _ := url.Parse(srv.URL)
	client := &http.Client{Transport: &http.Transport{Proxy: http.ProxyURL(pu)}, Timeout: ioWait}
	resp, err := client.Get(backend.URL + "/page")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "plain GET /page" {
		t.Errorf("body = %q", body)
	}
}

func TestReverseModeRejectsBadUpstream(t *testing.T) {
	for _, up := range []string{"http://x.example.test", "ws://", "::"} {
		if _, err := New(Options{Upstream: up}); err == nil {
			t.Errorf("New(Upstream %q) succeeded", up)
		}
	}
}

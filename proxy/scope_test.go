package proxy

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/gorilla/websocket"
	"github.com/wstap/wstap/capture"
)

func TestIgnoreHostsPatterns(t *testing.T) {
	p, err := New(Options{IgnoreHosts: []string{"*.bank.example.test", " Pinned.Example.Test ", "10.*", "[::1]", "fe80::*"}})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Shutdown(t.Context())
	for _, tc := range []struct {
		target string
		want   bool
	}{
		{"a.bank.example.test:443", true},
		{"a.b.bank.example.test:443", true}, // * matches dots too
		{"bank.example.test:443", false},
		{"A.BANK.EXAMPLE.TEST:8443", true},
		{"pinned.example.test:443", true},
		{"pinned.example.test.:443", true},
		{"pinned.example.test", true},
		{"unpinned.example.test:443", false},
		{"10.1.2.3:443", true},
		{"110.1.2.3:443", false},
		{"[::1]:443", true},
		{"[fe80::1]:443", true},
		{"127.0.0.1:443", false},
	} {
		if got := p.hostIgnored(tc.target); got != tc.want {
			t.Errorf("hostIgnored(%q) = %v, want %v", tc.target, got, tc.want)
		}
	}
	for _, bad := range []string{"", "  ", "[a-", "example.test/path", "pinned.example.test:443", "[::1]:443"} {
		if _, err := New(Options{IgnoreHosts: []string{"ok.example.test", bad}}); err == nil || !strings.Contains(err.Error(), "ignore-hosts") {
			t.Errorf("New(IgnoreHosts %q) = %v, want an error naming ignore-hosts", bad, err)
		}
	}
}

// TestIgnoreHostsPinnedTLS checks that a client pinning its server's
// certificate works through the proxy when the host is ignored, that the
// capture notes the tunnel but holds no connection, and that a host not
// ignored is still intercepted.
func TestIgnoreHostsPinnedTLS(t *testing.T) {
	es := newEchoServer(t, true)
	es.Config.ErrorLog = log.New(io.Discard, "", 0)
	addr := es.Listener.Addr().String()
	ca := testCA(t)

	t.Run("ignored", func(t *testing.T) {
		m := newMatrix(t, Options{GetCertificate: ca.GetCertificate, IgnoreHosts: []string{"127.0.0.*"}})
		c, _, err := pinnedDialer(m.URL, serverPool(es.Server)).Dial("wss://"+addr+"/pinned", nil)
		if err != nil {
			t.Fatalf("pinned client through the proxy: %v", err)
		}
		if got := c.UnderlyingConn().(*tls.Conn).ConnectionState().PeerCertificates[0]; !got.Equal(es.Certificate()) {
			t.Errorf("client saw the certificate of %q, want the server's own", got.Issuer)
		}
		c.WriteMessage(websocket.TextMessage, []byte("untouched"))
		c.SetReadDeadline(deadline())
		if _, p, err := c.ReadMessage(); err != nil || string(p) != "untouched" {
			t.Fatalf("echo %q, %v", p, err)
		}
		c.Close()
		r := m.finish(t)
		if cs := r.Conns(); len(cs) != 0 {
			t.Errorf("capture holds connections %+v of an ignored host", cs)
		}
		evs := connZeroEvents(t, r)
		want := "tunnelled " + addr + " without interception (--ignore-hosts)"
		if len(evs) != 1 || evs[0].Kind != capture.EventTunnel || evs[0].Detail != want {
			t.Errorf("events %+v, want one tunnel event %q", evs, want)
		}
	})

	t.Run("intercepted", func(t *testing.T) {
		m := newMatrix(t, Options{GetCertificate: ca.GetCertificate, IgnoreHosts: []string{"*.example.test"},
			UpstreamTLS: &tls.Config{RootCAs: serverPool(es.Server)}})
		_, _, err := pinnedDialer(m.URL, serverPool(es.Server)).Dial("wss://"+addr+"/pinned", nil)
		var unknown x509.UnknownAuthorityError
		if !errors.As(err, &unknown) {
			t.Errorf("pinned client through an intercepting proxy: %v, want an unknown authority", err)
		}
		c, _, err := pinnedDialer(m.URL, ca.Pool()).Dial("wss://"+addr+"/seen", nil)
		if err != nil {
			t.Fatalf("client trusting wstap's CA: %v", err)
		}
		c.Close()
		m.waitEnds(t, 1)
		r := m.finish(t)
		if cs := r.Conns(); len(cs) != 1 || cs[0].Mode != "connect" || !strings.HasSuffix(cs[0].URL, "/seen") {
			t.Errorf("conns %+v, want the intercepted one", cs)
		}
	})
}

func pinnedDialer(proxyURL string, roots *x509.CertPool) *websocket.Dialer {
	return &websocket.Dialer{Proxy: func(*http.Request) (*url.URL, error) { return url.Parse(proxyURL) },
		TLSClientConfig: &tls.Config{RootCAs: roots}, HandshakeTimeout: ioWait}
}

// connZeroEvents returns the events that belong to no connection.
func connZeroEvents(t *testing.T, r *capture.Reader) []*capture.Event {
	t.Helper()
	var out []*capture.Event
	for rec, err := range r.Records(capture.Filter{}) {
		if err != nil {
			t.Fatalf("read capture: %v", err)
		}
		if e, ok := rec.(*capture.Event); ok && e.Conn == 0 {
			out = append(out, e)
		}
	}
	return out
}

// tcpEcho is a TCP server on loopback that echoes what it reads until the
// client half-closes, then closes.
func tcpEcho(t *testing.T) net.Listener {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				c.SetDeadline(deadline())
				io.Copy(c, c)
			}()
		}
	}()
	return ln
}

// TestIgnoredTunnelBytes sends bytes pipelined with the CONNECT through an
// ignored tunnel: they arrive once, in order, and half-closes travel both
// ways.
func TestIgnoredTunnelBytes(t *testing.T) {
	ln := tcpEcho(t)
	m := newMatrix(t, Options{IgnoreHosts: []string{"127.0.0.1"}})
	target := ln.Addr().String()
	c, br := rawProxyRequest(t, m.srv, fmt.Sprintf("CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\npipelined|", target, target))
	resp, err := http.ReadResponse(br, &http.Request{Method: http.MethodConnect})
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("CONNECT answered %v, %v", resp, err)
	}
	io.WriteString(c, "after")
	c.(*net.TCPConn).CloseWrite()
	got, err := io.ReadAll(br)
	if err != nil || string(got) != "pipelined|after" {
		t.Errorf("echo %q, %v; want %q then the end", got, err, "pipelined|after")
	}
}

// TestIgnoredTunnelUnreachable answers 502 and records an error event
// when an ignored host cannot be reached.
func TestIgnoredTunnelUnreachable(t *testing.T) {
	ln := tcpEcho(t)
	target := ln.Addr().String()
	ln.Close()
	m := newMatrix(t, Options{IgnoreHosts: []string{"127.0.0.1"}})
	_, br := rawProxyRequest(t, m.srv, fmt.Sprintf("CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n", target, target))
	resp, err := http.ReadResponse(br, &http.Request{Method: http.MethodConnect})
	if err != nil || resp.StatusCode != http.StatusBadGateway {
		t.Fatalf("CONNECT answered %v, %v; want 502", resp, err)
	}
	body, _ := io.ReadAll(resp.Body)
	if !strings.Contains(string(body), "cannot reach "+target) {
		t.Errorf("502 body %q", body)
	}
	evs := connZeroEvents(t, m.finish(t))
	if len(evs) != 1 || evs[0].Kind != capture.EventError || !strings.Contains(evs[0].Detail, "--ignore-hosts") {
		t.Errorf("events %+v, want one error naming --ignore-hosts", evs)
	}
}

// TestShutdownCutsIgnoredTunnels: Shutdown ends live tunnels and waits for
// them; a tunnel opened afterwards is refused.
func TestShutdownCutsIgnoredTunnels(t *testing.T) {
	ln := tcpEcho(t)
	m := newMatrix(t, Options{IgnoreHosts: []string{"127.0.0.1"}})
	target := ln.Addr().String()
	c, br := rawProxyRequest(t, m.srv, fmt.Sprintf("CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n", target, target))
	if resp, err := http.ReadResponse(br, &http.Request{Method: http.MethodConnect}); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("CONNECT answered %v, %v", resp, err)
	}
	io.WriteString(c, "ping")
	if b := make([]byte, 4); func() error { _, err := io.ReadFull(br, b); return err }() != nil || string(b) != "ping" {
		t.Fatalf("echo %q", b)
	}
	m.finish(t)
	if _, err := br.ReadByte(); err == nil {
		t.Error("the tunnel is still open after Shutdown")
	}

	// A tunnel that opens while the proxy shuts down is refused.
	client, server := net.Pipe()
	defer client.Close()
	req, _ := http.NewRequest(http.MethodConnect, "http://"+target, nil)
	go m.p.tunnelConnect(req, server, nil)
	client.SetDeadline(deadline())
	resp, err := http.ReadResponse(bufio.NewReader(client), req)
	if err != nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("CONNECT after Shutdown answered %v, %v; want 503", resp, err)
	}
}

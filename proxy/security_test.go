package proxy

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// connectTLS sends a CONNECT for target through the proxy at proxyAddr and
// then a TLS handshake with cfg, and returns the handshake's error.
func connectTLS(t *testing.T, proxyAddr, target string, cfg *tls.Config) error {
	t.Helper()
	c, err := net.DialTimeout("tcp", proxyAddr, ioWait)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(ioWait))
	fmt.Fprintf(c, "CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n", target, target)
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, &http.Request{Method: http.MethodConnect})
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("CONNECT %s: %v %v", target, resp, err)
	}
	if br.Buffered() > 0 {
		t.Fatalf("CONNECT %s: %d bytes after the answer", target, br.Buffered())
	}
	tc := tls.Client(c, cfg)
	defer tc.Close()
	return tc.Handshake()
}

// TestClientLegRefusesOldTLS: wstap's MITM listener refuses a client that
// offers only TLS 1.1, and takes one that offers TLS 1.2 (issue 12, item
// 12: both legs use TLS 1.2 or later).
func TestClientLegRefusesOldTLS(t *testing.T) {
	es := newEchoServer(t, true)
	ca := testCA(t)
	_, srv, _ := recordingProxy(t, Options{GetCertificate: ca.GetCertificate,
		UpstreamTLS: &tls.Config{RootCAs: serverPool(es.Server)}})
	proxyAddr := strings.TrimPrefix(srv.URL, "http://")
	target := es.Listener.Addr().String()
	for _, tc := range []struct {
		name     string
		min, max uint16
		ok       bool
	}{
		{"TLS 1.1 only", tls.VersionTLS10, tls.VersionTLS11, false},
		{"TLS 1.2", tls.VersionTLS12, tls.VersionTLS12, true},
	} {
		err := connectTLS(t, proxyAddr, target, &tls.Config{RootCAs: ca.Pool(), ServerName: "127.0.0.1",
			MinVersion: tc.min, MaxVersion: tc.max})
		if (err == nil) != tc.ok {
			t.Errorf("%s client: handshake with wstap = %v, want ok=%v", tc.name, err, tc.ok)
		}
	}
}

// TestServerLegRefusesOldTLS: wstap refuses an upstream that offers only
// TLS 1.1, which a TLS 1.1 client reaches directly, and the client gets
// no 101 (issue 12, item 12).
func TestServerLegRefusesOldTLS(t *testing.T) {
	es := newEchoServer(t, false)
	old := httptest.NewUnstartedServer(es.Config.Handler)
	old.TLS = &tls.Config{MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11}
	old.StartTLS()
	t.Cleanup(old.Close)
	pool := serverPool(old)

	// The upstream does speak TLS 1.1: the refusal below is wstap's.
	direct, err := tls.DialWithDialer(&net.Dialer{Timeout: ioWait}, "tcp", old.Listener.Addr().String(),
		&tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11})
	if err != nil {
		t.Fatalf("a TLS 1.1 client cannot reach the TLS 1.1 server either: %v", err)
	}
	direct.Close()

	p, srv, _ := recordingProxy(t, Options{Upstream: "wss://" + old.Listener.Addr().String(), UpstreamTLS: &tls.Config{RootCAs: pool}})
	c, resp, err := (&websocket.Dialer{HandshakeTimeout: ioWait}).Dial(wsURL(srv.URL)+"/old", nil)
	if err == nil {
		c.Close()
		t.Fatalf("wstap relayed to an upstream offering TLS 1.1 only: %s", resp.Status)
	}
	if resp != nil && resp.StatusCode == http.StatusSwitchingProtocols {
		t.Errorf("client got %s, want a refusal", resp.Status)
	}
	if n := p.Counters().Failed.Load(); n != 1 {
		t.Errorf("Failed = %d, want the upgrade counted as failed", n)
	}
}

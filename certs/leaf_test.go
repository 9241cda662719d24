package certs

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestLeafVerifies(t *testing.T) {
	a := newTestAuthority(t, Options{})
	tests := []struct {
		host     string
		verifyAs string // the name a client checks
		dns, ip  string // the SAN expected
	}{
		{"example.test", "example.test", "example.test", ""},
		{"Sub.Example.TEST.", "sub.example.test", "sub.example.test", ""},
		{"localhost:8443", "localhost", "localhost", ""},
		{"127.0.0.1", "127.0.0.1", "", "127.0.0.1"},
		{"127.0.0.1:443", "127.0.0.1", "", "127.0.0.1"},
		{"::1", "::1", "", "::1"},
		{"[::1]:443", "::1", "", "::1"},
		{"[fe80::1%eth0]", "fe80::1", "", "fe80::1"},
	}
	for _, tt := range tests {
		t.Run(tt.host, func(t *testing.T) {
			cert, err := a.Leaf(tt.host)
			if err != nil {
				t.Fatalf("Leaf(%q): %v", tt.host, err)
			}
			leaf := cert.Leaf
			if leaf == nil {
				t.Fatalf("Leaf(%q).Leaf is nil", tt.host)
			}
			if len(cert.Certificate) != 2 || !slices.Equal(cert.Certificate[1], a.Certificate().Raw) {
				t.Errorf("chain has %d certificates, want [leaf, CA]", len(cert.Certificate))
			}
			if _, err := leaf.Verify(x509.VerifyOptions{Roots: a.Pool(), DNSName: tt.verifyAs}); err != nil {
				t.Errorf("Verify(%q): %v", tt.verifyAs, err)
			}
			if _, err := leaf.Verify(x509.VerifyOptions{Roots: a.Pool(), DNSName: "other.example.test"}); err == nil {
				t.Errorf("leaf for %q verifies for other.example.test", tt.host)
			}
			var gotDNS, gotIP string
			if len(leaf.DNSNames) == 1 {
				gotDNS = leaf.DNSNames[0]
			}
			if len(leaf.IPAddresses) == 1 {
				gotIP = leaf.IPAddresses[0].String()
			}
			if gotDNS != tt.dns || gotIP != tt.ip || len(leaf.DNSNames)+len(leaf.IPAddresses) != 1 {
				t.Errorf("SANs DNS %q IP %v, want %q %q", leaf.DNSNames, leaf.IPAddresses, tt.dns, tt.ip)
			}
			if want := tt.verifyAs; leaf.Subject.CommonName != want {
				t.Errorf("CommonName = %q, want %q", leaf.Subject.CommonName, want)
			}
			if !slices.Equal(leaf.ExtKeyUsage, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}) || leaf.IsCA {
				t.Errorf("ExtKeyUsage %v IsCA %v, want serverAuth only and not a CA", leaf.ExtKeyUsage, leaf.IsCA)
			}
			if pub, ok := leaf.PublicKey.(*ecdsa.PublicKey); !ok || pub.Curve != elliptic.P256() {
				t.Errorf("leaf key %T, want ECDSA P-256", leaf.PublicKey)
			}
			if d := leaf.NotAfter.Sub(leaf.NotBefore); d != 7*24*time.Hour+time.Hour {
				t.Errorf("validity %v, want 7 days and the hour of backdating", d)
			}
			if !slices.Equal(leaf.AuthorityKeyId, a.Certificate().SubjectKeyId) {
				t.Errorf("AuthorityKeyId %x, want the CA's SubjectKeyId %x", leaf.AuthorityKeyId, a.Certificate().SubjectKeyId)
			}
		})
	}
}

func TestLeafInvalidHosts(t *testing.T) {
	a := newTestAuthority(t, Options{})
	for _, host := range []string{"", ".", "*.example.test", "a..b", "bad host", "ex*mple.test", "[::1", "[127.0.0.1]", "example.test:http", "example.test:99999", "ünïcode.test"} {
		if _, err := a.Leaf(host); !errors.Is(err, ErrInvalidHost) {
			t.Errorf("Leaf(%q) = %v, want ErrInvalidHost", host, err)
		}
	}
	if n := a.issued.Load(); n != 0 {
		t.Errorf("%d leaves issued for invalid hosts", n)
	}
}

func TestLeafCache(t *testing.T) {
	a := newTestAuthority(t, Options{CacheSize: 2})
	first, err := a.Leaf("example.test")
	if err != nil {
		t.Fatal(err)
	}
	// Another spelling of the same host hits the cache.
	for _, host := range []string{"example.test", "EXAMPLE.test.", "example.test:443"} {
		again, err := a.Leaf(host)
		if err != nil {
			t.Fatal(err)
		}
		if again != first {
			t.Errorf("Leaf(%q) issued a new certificate, want the cached one", host)
		}
	}
	if n := a.issued.Load(); n != 1 {
		t.Errorf("issued %d leaves, want 1", n)
	}

	// The bound: a third host evicts the least recently used.
	mustLeaf(t, a, "b.example.test")
	mustLeaf(t, a, "example.test") // now b is the least recently used
	mustLeaf(t, a, "c.example.test")
	if n := a.cache.len(); n != 2 {
		t.Errorf("cache holds %d leaves, want its bound 2", n)
	}
	if n := a.issued.Load(); n != 3 {
		t.Errorf("issued %d leaves, want 3", n)
	}
	if again := mustLeaf(t, a, "example.test"); again != first {
		t.Errorf("the most recently used leaf was evicted")
	}
	mustLeaf(t, a, "b.example.test")
	if n := a.issued.Load(); n != 4 {
		t.Errorf("issued %d leaves, want 4 (b.example.test was evicted)", n)
	}
}

func mustLeaf(t *testing.T, a *Authority, host string) *tls.Certificate {
	t.Helper()
	c, err := a.Leaf(host)
	if err != nil {
		t.Fatalf("Leaf(%q): %v", host, err)
	}
	return c
}

func TestLeafRenewedBeforeExpiry(t *testing.T) {
	a := newTestAuthority(t, Options{})
	now := time.Now()
	a.now = func() time.Time { return now }
	first := mustLeaf(t, a, "example.test")

	now = first.Leaf.NotAfter.Add(-renewBefore - time.Minute)
	if c := mustLeaf(t, a, "example.test"); c != first {
		t.Errorf("leaf replaced %v before its expiry, want it kept", first.Leaf.NotAfter.Sub(now))
	}
	now = first.Leaf.NotAfter.Add(-renewBefore + time.Minute)
	second := mustLeaf(t, a, "example.test")
	if second == first {
		t.Fatalf("leaf kept %v before its expiry, want a new one", first.Leaf.NotAfter.Sub(now))
	}
	if !second.Leaf.NotAfter.After(first.Leaf.NotAfter) {
		t.Errorf("renewed leaf expires %v, not after the old one (%v)", second.Leaf.NotAfter, first.Leaf.NotAfter)
	}
	if n := a.issued.Load(); n != 2 {
		t.Errorf("issued %d leaves, want 2", n)
	}
}

func TestLeafConcurrent(t *testing.T) {
	a := newTestAuthority(t, Options{})
	const n = 32
	var (
		wg    sync.WaitGroup
		certs [n]*tls.Certificate
		errs  [n]error
	)
	for i := range n {
		wg.Go(func() { certs[i], errs[i] = a.Leaf("example.test") })
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("Leaf #%d: %v", i, errs[i])
		}
		if certs[i] != certs[0] {
			t.Errorf("Leaf #%d returned another certificate than #0", i)
		}
	}
	if got := a.issued.Load(); got != 1 {
		t.Errorf("%d concurrent requests issued %d leaves, want 1", n, got)
	}
}

// handshake serves one TLS connection on a loopback listener with config
// and dials it with client, returning both sides' handshake errors and the
// certificate the client saw.
func handshake(t *testing.T, network, addr string, config, client *tls.Config) (serverErr, clientErr error, peer *x509.Certificate) {
	t.Helper()
	ln, err := tls.Listen(network, addr, config)
	if err != nil {
		t.Fatalf("listen on %s: %v", addr, err)
	}
	defer ln.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	served := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			served <- err
			return
		}
		defer c.Close()
		served <- c.(*tls.Conn).HandshakeContext(ctx)
	}()
	d := &tls.Dialer{Config: client}
	c, clientErr := d.DialContext(ctx, network, ln.Addr().String())
	if clientErr == nil {
		if s := c.(*tls.Conn).ConnectionState().PeerCertificates; len(s) > 0 {
			peer = s[0]
		}
		c.Close()
	}
	return <-served, clientErr, peer
}

func TestHandshake(t *testing.T) {
	a := newTestAuthority(t, Options{})
	tests := []struct {
		name       string
		network    string
		listen     string
		getCert    func(*tls.ClientHelloInfo) (*tls.Certificate, error)
		serverName string // also what the client verifies
	}{
		{"SNI", "tcp4", "127.0.0.1:0", a.GetCertificate, "example.test"},
		{"SNI localhost", "tcp4", "127.0.0.1:0", a.GetCertificate, "localhost"},
		{"SNI with fallback", "tcp4", "127.0.0.1:0", a.GetCertificateFor("127.0.0.1"), "sub.example.test"},
		{"IPv4 without SNI", "tcp4", "127.0.0.1:0", a.GetCertificateFor("127.0.0.1"), "127.0.0.1"},
		{"IPv6 without SNI", "tcp6", "[::1]:0", a.GetCertificateFor("[::1]:443"), "::1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.network == "tcp6" {
				ln, err := net.Listen("tcp6", "[::1]:0")
				if err != nil {
					t.Skipf("no IPv6 loopback: %v", err)
				}
				ln.Close()
			}
			serverErr, clientErr, peer := handshake(t, tt.network, tt.listen,
				&tls.Config{GetCertificate: tt.getCert},
				&tls.Config{RootCAs: a.Pool(), ServerName: tt.serverName})
			if serverErr != nil || clientErr != nil {
				t.Fatalf("handshake: server %v, client %v", serverErr, clientErr)
			}
			if peer.Subject.CommonName != tt.serverName {
				t.Errorf("server presented %q, want %q", peer.Subject.CommonName, tt.serverName)
			}
		})
	}
}

func TestHandshakeWithoutSNIFails(t *testing.T) {
	a := newTestAuthority(t, Options{})
	serverErr, clientErr, _ := handshake(t, "tcp4", "127.0.0.1:0",
		&tls.Config{GetCertificate: a.GetCertificate},
		&tls.Config{RootCAs: a.Pool(), ServerName: "127.0.0.1"})
	if !errors.Is(serverErr, ErrNoServerName) {
		t.Errorf("server handshake without SNI = %v, want ErrNoServerName", serverErr)
	}
	if clientErr == nil {
		t.Errorf("client handshake succeeded without a certificate")
	}
	if _, err := a.GetCertificate(&tls.ClientHelloInfo{}); !errors.Is(err, ErrNoServerName) {
		t.Errorf("GetCertificate(no SNI) = %v, want ErrNoServerName", err)
	}
	if _, err := a.GetCertificateFor("")(nil); !errors.Is(err, ErrNoServerName) {
		t.Errorf("GetCertificateFor(\"\")(nil) = %v, want ErrNoServerName", err)
	}
}

func TestIssueServer(t *testing.T) {
	a := newTestAuthority(t, Options{})
	hosts := []string{"example.test", "*.Example.test", "localhost", "127.0.0.1", "::1", "example.test."}
	certPEM, keyPEM, err := a.IssueServer(hosts, 0)
	if err != nil {
		t.Fatalf("IssueServer(%q): %v", hosts, err)
	}
	if block, _ := pem.Decode(keyPEM); block == nil || block.Type != "PRIVATE KEY" {
		t.Fatalf("key is not a PKCS#8 PEM block")
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatalf("tls.X509KeyPair: %v", err)
	}
	leaf := pair.Leaf
	if len(pair.Certificate) != 1 {
		t.Errorf("PEM holds %d certificates, want the leaf alone", len(pair.Certificate))
	}
	if want := []string{"example.test", "*.example.test", "localhost"}; !slices.Equal(leaf.DNSNames, want) {
		t.Errorf("DNSNames = %q, want %q", leaf.DNSNames, want)
	}
	if len(leaf.IPAddresses) != 2 || !leaf.IPAddresses[0].Equal(net.IPv4(127, 0, 0, 1)) || !leaf.IPAddresses[1].Equal(net.IPv6loopback) {
		t.Errorf("IPAddresses = %v, want [127.0.0.1 ::1]", leaf.IPAddresses)
	}
	if leaf.Subject.CommonName != "example.test" {
		t.Errorf("CommonName = %q, want the first host", leaf.Subject.CommonName)
	}
	if d := leaf.NotAfter.Sub(leaf.NotBefore); d != DefaultServerValidity+time.Hour {
		t.Errorf("validity %v, want 397 days and the hour of backdating", d)
	}
	for _, name := range []string{"example.test", "a.example.test", "localhost", "127.0.0.1", "::1"} {
		for _, usage := range []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth} {
			_, err := leaf.Verify(x509.VerifyOptions{Roots: a.Pool(), DNSName: name, KeyUsages: []x509.ExtKeyUsage{usage}})
			if err != nil {
				t.Errorf("Verify(%q, usage %v): %v", name, usage, err)
			}
		}
	}
	for _, name := range []string{"a.b.example.test", "other.test", "127.0.0.2"} {
		if _, err := leaf.Verify(x509.VerifyOptions{Roots: a.Pool(), DNSName: name}); err == nil {
			t.Errorf("Verify(%q) succeeded, want an error", name)
		}
	}

	// A real server with it.
	for _, name := range []string{"example.test", "a.example.test", "127.0.0.1"} {
		serverErr, clientErr, _ := handshake(t, "tcp4", "127.0.0.1:0",
			&tls.Config{Certificates: []tls.Certificate{pair}},
			&tls.Config{RootCAs: a.Pool(), ServerName: name})
		if serverErr != nil || clientErr != nil {
			t.Errorf("handshake as %q: server %v, client %v", name, serverErr, clientErr)
		}
	}

	certPEM, _, err = a.IssueServer([]string{"example.test"}, 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(certPEM)
	c, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if d := c.NotAfter.Sub(c.NotBefore); d != 25*time.Hour {
		t.Errorf("validity %v, want 24h and the hour of backdating", d)
	}
}

func TestIssueServerNotBeyondCA(t *testing.T) {
	a := newTestAuthority(t, Options{})
	a.now = func() time.Time { return a.Certificate().NotAfter.Add(-24 * time.Hour) }
	certPEM, _, err := a.IssueServer([]string{"example.test"}, 0)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(certPEM)
	c, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if !c.NotAfter.Equal(a.Certificate().NotAfter) {
		t.Errorf("NotAfter %v, want the CA's %v", c.NotAfter, a.Certificate().NotAfter)
	}
}

func TestIssueServerBadInput(t *testing.T) {
	a := newTestAuthority(t, Options{})
	tests := []struct {
		hosts    []string
		validity time.Duration
		want     string
	}{
		{nil, 0, "certs: no hosts"},
		{[]string{"example.test", ""}, 0, `certs: invalid host "": empty`},
		{[]string{"bad host"}, 0, `certs: invalid host "bad host": character ' ' not allowed`},
		{[]string{"a.*.example.test"}, 0, "certs: invalid host \"a.*.example.test\": a wildcard must be the whole first label"},
		{[]string{"*"}, 0, `certs: invalid host "*"`},
		{[]string{"example.test"}, -time.Hour, "certs: negative validity"},
		{[]string{"example.test"}, MaxServerValidity + time.Hour, "certs: validity 19801h0m0s is over 825 days"},
	}
	for _, tt := range tests {
		_, _, err := a.IssueServer(tt.hosts, tt.validity)
		if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
			t.Errorf("IssueServer(%q, %v) = %v, want an error starting %q", tt.hosts, tt.validity, err, tt.want)
		}
	}
}

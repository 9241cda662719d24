package tlsfacts

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func dial(t *testing.T, srv *httptest.Server, cfg *tls.Config) (*tls.ConnectionState, error) {
	t.Helper()
	c, err := tls.Dial("tcp", srv.Listener.Addr().String(), cfg)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	st := c.ConnectionState()
	return &st, nil
}

func TestExplain(t *testing.T) {
	srv := httptest.NewTLSServer(http.NotFoundHandler())
	defer srv.Close()
	pool := x509.NewCertPool()
	pool.AddCert(srv.Certificate())

	_, err := dial(t, srv, &tls.Config{ServerName: "example.com"})
	if got := Explain(err, "example.com").Error(); !strings.Contains(got, "--upstream-ca") || !errors.Is(Explain(err, "x"), err) {
		t.Errorf("an unknown authority: %s", got)
	}
	_, err = dial(t, srv, &tls.Config{RootCAs: pool, ServerName: "other.test"})
	if got := Explain(err, "other.test").Error(); !strings.Contains(got, "not valid for other.test") || !strings.Contains(got, "--insecure") {
		t.Errorf("a name mismatch: %s", got)
	}
	if got := Explain(errors.New("boom"), "h").Error(); got != "TLS handshake with h: boom" {
		t.Errorf("another error: %s", got)
	}
}

func TestInfo(t *testing.T) {
	srv := httptest.NewTLSServer(http.NotFoundHandler())
	defer srv.Close()
	pool := x509.NewCertPool()
	pool.AddCert(srv.Certificate())
	st, err := dial(t, srv, &tls.Config{RootCAs: pool, ServerName: "example.com"})
	if err != nil {
		t.Fatal(err)
	}
	info := Info(st, true)
	if info.Version != "TLS 1.3" || info.SNI != "example.com" || len(info.Chain) != 1 || !strings.HasPrefix(info.Verified, "verified: chains to") {
		t.Errorf("peer info %+v", info)
	}
	if own := Info(st, false); own.Chain != nil || own.Verified != "" {
		t.Errorf("our own leg lists a chain: %+v", own)
	}
	if Info(nil, true) != nil {
		t.Error("Info(nil) is not nil")
	}
}

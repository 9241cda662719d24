package certs

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"time"
)

// Validity of the certificates the Authority issues.
const (
	// leafValidity is the life of a leaf for the proxy: short, since it is
	// issued on demand and cached only in memory.
	leafValidity = 7 * 24 * time.Hour
	// DefaultServerValidity is the validity IssueServer uses when given
	// zero: 397 days, within the 398 Apple platforms accept.
	DefaultServerValidity = 397 * 24 * time.Hour
	// MaxServerValidity is the longest validity IssueServer accepts: the
	// 825 days Apple platforms accept from a user-installed CA.
	MaxServerValidity = 825 * 24 * time.Hour
	// backdate is how far before its issuance a certificate becomes valid,
	// to forgive clocks that run slow.
	backdate = time.Hour
)

// ErrNoServerName is returned by GetCertificate for a ClientHello without
// SNI, as clients send when they connect to an IP address.
var ErrNoServerName = errors.New("certs: client sent no server name (SNI)")

// Leaf returns a certificate for host, signed by the CA, for the proxy to
// present when it intercepts TLS to host. The host is a DNS name or an IP
// address; a port and IPv6 brackets are dropped, and names are lower-cased
// without a trailing dot. The leaf uses an ECDSA P-256 key, names the host
// alone, is valid for 7 days and has the chain [leaf, CA], with Leaf set.
//
// Leaves are cached by host up to Options.CacheSize and replaced within an
// hour of their expiry. Concurrent requests for one host share a single
// issuance; a failed issuance is not cached.
func (a *Authority) Leaf(host string) (*tls.Certificate, error) {
	return a.leaf(context.Background(), host)
}

// GetCertificate returns the leaf for the server name the client asked for
// (SNI). It fits tls.Config.GetCertificate. A ClientHello without SNI gets
// ErrNoServerName; GetCertificateFor covers that case.
func (a *Authority) GetCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	return a.GetCertificateFor("")(hello)
}

// GetCertificateFor returns a tls.Config.GetCertificate function that
// answers with the leaf for the client's server name (SNI) or, if the
// client sent none, for fallbackHost: typically the host of the CONNECT
// request, often an IP address, for which clients send no SNI.
func (a *Authority) GetCertificateFor(fallbackHost string) func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return func(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
		host, ctx := fallbackHost, context.Background()
		if hello != nil {
			if hello.ServerName != "" {
				host = hello.ServerName
			}
			if c := hello.Context(); c != nil {
				ctx = c
			}
		}
		if host == "" {
			return nil, ErrNoServerName
		}
		return a.leaf(ctx, host)
	}
}

func (a *Authority) leaf(ctx context.Context, host string) (*tls.Certificate, error) {
	h, err := parseHost(host, false)
	if err != nil {
		return nil, err
	}
	now := a.now()
	return a.cache.get(ctx, h.name, now, func() (*tls.Certificate, error) {
		return a.issueLeaf(h, now)
	})
}

// issueLeaf issues a new leaf for h.
func (a *Authority) issueLeaf(h hostName, now time.Time) (*tls.Certificate, error) {
	a.issued.Add(1)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("certs: generate key for %s: %w", h.name, err)
	}
	tmpl, err := a.template([]hostName{h}, now, leafValidity)
	if err != nil {
		return nil, err
	}
	tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, a.cert, key.Public(), a.key)
	if err != nil {
		return nil, fmt.Errorf("certs: issue certificate for %s: %w", h.name, err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("certs: issue certificate for %s: %w", h.name, err)
	}
	return &tls.Certificate{
		Certificate: [][]byte{der, a.cert.Raw},
		PrivateKey:  key,
		Leaf:        leaf,
	}, nil
}

// IssueServer returns a certificate and its private key (PKCS#8), in PEM,
// for the user's own test servers, signed by the CA: clients that trust the
// CA for the proxy trust these servers too. Each host becomes a subject
// alternative name: a DNS name, a wildcard such as "*.example.test", or an
// IP address, normalised as by Leaf; the first is also the subject's common
// name. The certificate serves TLS servers and, for mutual TLS, clients.
// It is valid for validity, DefaultServerValidity when zero, and at most
// MaxServerValidity, and never beyond the CA. The PEM holds the leaf alone:
// clients have the CA.
func (a *Authority) IssueServer(hosts []string, validity time.Duration) (certPEM, keyPEM []byte, err error) {
	switch {
	case len(hosts) == 0:
		return nil, nil, errors.New("certs: no hosts to issue a certificate for")
	case validity < 0:
		return nil, nil, fmt.Errorf("certs: negative validity %v", validity)
	case validity == 0:
		validity = DefaultServerValidity
	case validity > MaxServerValidity:
		return nil, nil, fmt.Errorf("certs: validity %v is over 825 days, the most Apple platforms accept", validity)
	}
	var names []hostName
	seen := make(map[string]bool)
	for _, host := range hosts {
		h, err := parseHost(host, true)
		if err != nil {
			return nil, nil, err
		}
		if !seen[h.name] {
			seen[h.name] = true
			names = append(names, h)
		}
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("certs: generate key: %w", err)
	}
	tmpl, err := a.template(names, a.now(), validity)
	if err != nil {
		return nil, nil, err
	}
	tmpl.Subject.OrganizationalUnit = []string{"development certificate"}
	tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, a.cert, key.Public(), a.key)
	if err != nil {
		return nil, nil, fmt.Errorf("certs: issue certificate for %s: %w", names[0].name, err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, fmt.Errorf("certs: encode key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), nil
}

// template returns the template of an end-entity certificate for hosts,
// valid from shortly before now for validity, or until the CA expires.
func (a *Authority) template(hosts []hostName, now time.Time, validity time.Duration) (*x509.Certificate, error) {
	serial, err := randomSerial()
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: hosts[0].name, Organization: []string{"wstap"}},
		NotBefore:             now.Add(-backdate),
		NotAfter:              now.Add(validity),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
	}
	if tmpl.NotAfter.After(a.cert.NotAfter) {
		tmpl.NotAfter = a.cert.NotAfter
	}
	// Clients count the validity from NotBefore: the backdate comes out of
	// the limit, not on top of it.
	if tmpl.NotAfter.Sub(tmpl.NotBefore) > MaxServerValidity {
		tmpl.NotBefore = tmpl.NotAfter.Add(-MaxServerValidity)
	}
	for _, h := range hosts {
		if h.ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, h.ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h.name)
		}
	}
	return tmpl, nil
}

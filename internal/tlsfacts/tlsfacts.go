package tlsfacts

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"

	"github.com/wstap/wstap/capture"
)

// Explain turns a certificate verification failure into words a user can
// act on, naming the flag to use.
func Explain(err error, host string) error {
	var unknown x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	var invalid x509.CertificateInvalidError
	var verr *tls.CertificateVerificationError
	switch {
	case errors.As(err, &unknown):
		if c := unknown.Cert; c != nil && bytes.Equal(c.RawIssuer, c.RawSubject) {
			return fmt.Errorf("the server's certificate is self-signed (%s); pass --upstream-ca server.pem to trust it, or --insecure: %w", c.Subject, err)
		}
		issuer := ""
		if unknown.Cert != nil {
			issuer = " (" + unknown.Cert.Issuer.String() + ")"
		}
		return fmt.Errorf("the server's certificate is signed by an authority wstap does not trust%s; pass --upstream-ca ca.pem, or --insecure: %w", issuer, err)
	case errors.As(err, &hostErr):
		return fmt.Errorf("the server's certificate is not valid for %s; pass --insecure to accept it anyway: %w", host, err)
	case errors.As(err, &invalid):
		if invalid.Reason == x509.Expired {
			return fmt.Errorf("the server's certificate has expired or is not yet valid; pass --insecure to accept it anyway: %w", err)
		}
		return fmt.Errorf("the server's certificate is invalid; pass --upstream-ca or --insecure: %w", err)
	case errors.As(err, &verr):
		return fmt.Errorf("the server's certificate did not verify; pass --upstream-ca or --insecure: %w", err)
	}
	return fmt.Errorf("TLS handshake with %s: %w", host, err)
}

// Info extracts the facts the capture keeps of a TLS leg.
func Info(st *tls.ConnectionState, peer bool) *capture.TLSInfo {
	if st == nil {
		return nil
	}
	info := &capture.TLSInfo{Version: tls.VersionName(st.Version), Cipher: tls.CipherSuiteName(st.CipherSuite),
		ALPN: st.NegotiatedProtocol, SNI: st.ServerName}
	if peer {
		for _, c := range st.PeerCertificates {
			info.Chain = append(info.Chain, capture.CertInfo{Subject: c.Subject.String(), Issuer: c.Issuer.String(),
				NotAfter: c.NotAfter.UTC()})
		}
		if len(st.VerifiedChains) > 0 {
			ch := st.VerifiedChains[0]
			info.Verified = "verified: chains to " + ch[len(ch)-1].Subject.String()
		}
	}
	return info
}

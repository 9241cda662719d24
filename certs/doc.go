// Package certs manages wstap's certificate authority and the leaf
// certificates the proxy presents when it intercepts TLS.
//
// # Overview
//
// An Authority is a CA kept in a directory, DefaultDir unless told
// otherwise: ca.pem holds its certificate, the one users trust, and
// ca-key.pem its ECDSA P-256 key in PKCS#8, mode 0600. LoadOrCreate makes
// the CA on first use and reuses it after; Load only loads.
//
// Authority.GetCertificate (or GetCertificateFor, which covers clients that
// send no SNI) plugs into tls.Config.GetCertificate; the proxy receives it as
// a plain function and does not import this package. Leaves are issued per
// host on demand, valid for the host alone and for a week, and cached in
// memory up to a bound.
//
// Authority.IssueServer makes certificates for the user's own test servers,
// signed by the same CA, as `wstap cert` writes them.
//
// WriteFile is how every certificate and key file gets to disk, the CA's
// and `wstap cert`'s alike: through a synced temporary file renamed or
// hard-linked into place, so no reader sees half a key, and, unless told
// to overwrite, never over an existing file.
//
// # Concurrency
//
// An Authority is safe for concurrent use. Concurrent requests for one
// host's leaf share a single issuance. LoadOrCreate is safe against several
// processes creating the CA at once: one wins and the others load its CA.
//
// # Imports
//
// certs uses the standard library only and imports nothing from wstap.
package certs

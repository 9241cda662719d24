package certs

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/big"
	"os"
	"os/user"
	"path/filepath"
	"runtime"
	"sync/atomic"
	"time"
)

// Names of the CA's files in its directory.
const (
	certFile = "ca.pem"
	keyFile  = "ca-key.pem"
)

// caValidity is how long a new CA certificate is valid.
const caValidity = 10 * 365 * 24 * time.Hour

// defaultCacheSize is the default bound of the leaf cache.
const defaultCacheSize = 1024

// Options configure an Authority. The zero value is ready to use.
type Options struct {
	// CacheSize is the most leaf certificates kept in memory; the least
	// recently used one goes first. Zero or less means 1024.
	CacheSize int
}

// Authority is a certificate authority kept in a directory: it issues the
// leaf certificates the proxy presents and certificates for the user's own
// test servers. It is safe for concurrent use.
type Authority struct {
	dir     string
	cert    *x509.Certificate
	certPEM []byte
	key     crypto.Signer

	cache  *leafCache
	now    func() time.Time // time.Now; tests replace it
	issued atomic.Int64     // leaves issued, for tests
}

// DefaultDir returns the directory wstap keeps its CA in: $WSTAP_HOME if it
// is set, else "wstap" in the user's configuration directory
// (os.UserConfigDir).
func DefaultDir() (string, error) {
	if dir := os.Getenv("WSTAP_HOME"); dir != "" {
		return dir, nil
	}
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("certs: find the CA directory: %w (set $WSTAP_HOME)", err)
	}
	return filepath.Join(dir, "wstap"), nil
}

// LoadOrCreate loads the CA in dir, creating the directory (mode 0700) and
// the CA first if they do not exist, and reports whether it created the CA.
//
// Creation is safe against several processes starting at once: each file is
// written to a temporary name, synced, then linked to its final name, which
// fails rather than replace a file another process put there first; the
// losers load the winner's CA. An existing CA is never overwritten. If the
// certificate is missing but the key is there (a creation interrupted
// between the two), a new certificate is made for that key.
func LoadOrCreate(dir string, opts Options) (*Authority, bool, error) {
	if dir == "" {
		return nil, false, errors.New("certs: no CA directory given")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, false, fmt.Errorf("certs: create CA directory %s: %w", dir, unwrapPath(err))
	}
	created := false
	certPath, keyPath := filepath.Join(dir, certFile), filepath.Join(dir, keyFile)
	// Each pass makes progress (a key, then a certificate) unless another
	// process does so first; three passes see it through.
	for range 3 {
		a, err := Load(dir, opts)
		if err == nil {
			return a, created, nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return nil, false, err
		}
		key, err := loadKey(keyPath)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			if _, err := os.Lstat(certPath); err == nil {
				return nil, false, fmt.Errorf("certs: %s exists but its key %s does not; move the certificate away to create a new CA", certPath, keyPath)
			}
			k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
			if err != nil {
				return nil, false, fmt.Errorf("certs: generate CA key: %w", err)
			}
			der, err := x509.MarshalPKCS8PrivateKey(k)
			if err != nil {
				return nil, false, fmt.Errorf("certs: encode CA key: %w", err)
			}
			won, err := publish(dir, keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600)
			if err != nil {
				return nil, false, err
			}
			if !won {
				continue // another process made the key first: use it
			}
			created, key = true, k
		case err != nil:
			return nil, false, err
		}
		der, err := newCACertificate(key, time.Now())
		if err != nil {
			return nil, false, err
		}
		// Whoever links the certificate first wins; the next pass loads it.
		if _, err := publish(dir, certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
			return nil, false, err
		}
	}
	a, err := Load(dir, opts)
	if err != nil {
		return nil, false, err
	}
	return a, created, nil
}

// Load loads the CA in dir. The error wraps fs.ErrNotExist if a file is
// missing. A key file that other users may read is refused.
func Load(dir string, opts Options) (*Authority, error) {
	certPath, keyPath := filepath.Join(dir, certFile), filepath.Join(dir, keyFile)
	certPEM, err := os.ReadFile(certPath)
	if err != nil {
		return nil, fmt.Errorf("certs: load CA certificate %s: %w", certPath, unwrapPath(err))
	}
	block, _ := pem.Decode(certPEM)
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, fmt.Errorf("certs: load CA certificate %s: no PEM CERTIFICATE block", certPath)
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("certs: load CA certificate %s: %w", certPath, err)
	}
	if !cert.IsCA || !cert.BasicConstraintsValid || cert.KeyUsage&x509.KeyUsageCertSign == 0 {
		return nil, fmt.Errorf("certs: load CA certificate %s: not a CA certificate", certPath)
	}
	if now := time.Now(); now.After(cert.NotAfter) {
		return nil, fmt.Errorf("certs: load CA certificate %s: expired on %s; move %s and %s away to create a new CA",
			certPath, cert.NotAfter.Format(time.DateOnly), certPath, keyPath)
	}
	key, err := loadKey(keyPath)
	if err != nil {
		return nil, err
	}
	if pub, ok := cert.PublicKey.(interface{ Equal(crypto.PublicKey) bool }); !ok || !pub.Equal(key.Public()) {
		return nil, fmt.Errorf("certs: load CA key %s: does not match the certificate %s", keyPath, certPath)
	}
	size := opts.CacheSize
	if size <= 0 {
		size = defaultCacheSize
	}
	return &Authority{
		dir:     dir,
		cert:    cert,
		certPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}),
		key:     key,
		cache:   newLeafCache(size),
		now:     time.Now,
	}, nil
}

// loadKey reads the CA key at path: PKCS#8 (what wstap writes), SEC 1 or
// PKCS#1, ECDSA or RSA.
func loadKey(path string) (crypto.Signer, error) {
	fail := func(err error) (crypto.Signer, error) {
		return nil, fmt.Errorf("certs: load CA key %s: %w", path, err)
	}
	f, err := os.Open(path)
	if err != nil {
		return fail(unwrapPath(err))
	}
	defer f.Close()
	if runtime.GOOS != "windows" && runtime.GOOS != "plan9" {
		fi, err := f.Stat()
		if err != nil {
			return fail(unwrapPath(err))
		}
		if mode := fi.Mode().Perm(); mode&0o077 != 0 {
			return fail(fmt.Errorf("mode %04o lets other users read the key; run: chmod 600 %s", mode, path))
		}
	}
	data, err := io.ReadAll(f)
	if err != nil {
		return fail(unwrapPath(err))
	}
	block, _ := pem.Decode(data)
	if block == nil {
		return fail(errors.New("no PEM block"))
	}
	var key any
	switch block.Type {
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(block.Bytes)
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	default:
		return fail(fmt.Errorf("PEM block %q is not a private key", block.Type))
	}
	if err != nil {
		return fail(err)
	}
	switch k := key.(type) {
	case *ecdsa.PrivateKey:
		return k, nil
	case *rsa.PrivateKey:
		return k, nil
	case ed25519.PrivateKey:
		return fail(errors.New("Ed25519 CA keys are not supported (browsers reject them); use ECDSA P-256"))
	}
	return fail(fmt.Errorf("unsupported key type %T", key))
}

// newCACertificate returns a new self-signed CA certificate for key, in DER.
func newCACertificate(key crypto.Signer, now time.Time) ([]byte, error) {
	serial, err := randomSerial()
	if err != nil {
		return nil, err
	}
	skid, err := subjectKeyID(key.Public())
	if err != nil {
		return nil, err
	}
	var tag [4]byte
	if _, err := rand.Read(tag[:]); err != nil {
		return nil, fmt.Errorf("certs: generate CA name: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject: pkix.Name{
			CommonName:   fmt.Sprintf("wstap CA %s %s", owner(), hex.EncodeToString(tag[:])),
			Organization: []string{"wstap"},
		},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(caValidity),
		IsCA:                  true,
		BasicConstraintsValid: true,
		MaxPathLenZero:        true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		SubjectKeyId:          skid,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, fmt.Errorf("certs: create CA certificate: %w", err)
	}
	return der, nil
}

// owner names the user and machine a CA belongs to, as "user@host".
func owner() string {
	name := ""
	if u, err := user.Current(); err == nil {
		name = u.Username
	}
	if name == "" {
		name = os.Getenv("USER")
	}
	if name == "" {
		name = os.Getenv("USERNAME")
	}
	if name == "" {
		name = "unknown"
	}
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "unknown"
	}
	return name + "@" + host
}

// randomSerial returns a random positive 128-bit serial number.
func randomSerial() (*big.Int, error) {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return nil, fmt.Errorf("certs: generate serial number: %w", err)
	}
	return n.Add(n, big.NewInt(1)), nil // never zero, which RFC 5280 forbids
}

// subjectKeyID returns the key identifier of pub by RFC 7093, section 2,
// method 1: the leftmost 160 bits of the SHA-256 of the subjectPublicKey.
func subjectKeyID(pub crypto.PublicKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("certs: encode public key: %w", err)
	}
	var spki struct {
		Algorithm pkix.AlgorithmIdentifier
		PublicKey asn1.BitString
	}
	if _, err := asn1.Unmarshal(der, &spki); err != nil {
		return nil, fmt.Errorf("certs: decode public key: %w", err)
	}
	sum := sha256.Sum256(spki.PublicKey.Bytes)
	return sum[:20], nil
}

// publish writes data to name in dir without replacing an existing file,
// and reports whether it did (false: the file was there already). See
// WriteFile: a reader sees the whole file or none of it.
func publish(dir, name string, data []byte, perm fs.FileMode) (bool, error) {
	err := WriteFile(filepath.Join(dir, name), data, perm, false)
	if errors.Is(err, fs.ErrExist) {
		return false, nil
	}
	return err == nil, err
}

// Dir returns the directory the CA is kept in.
func (a *Authority) Dir() string { return a.dir }

// CertPath returns the path of the CA certificate, the file clients trust.
func (a *Authority) CertPath() string { return filepath.Join(a.dir, certFile) }

// KeyPath returns the path of the CA's private key.
func (a *Authority) KeyPath() string { return filepath.Join(a.dir, keyFile) }

// Certificate returns the CA certificate. The caller must not modify it.
func (a *Authority) Certificate() *x509.Certificate { return a.cert }

// CertPEM returns the CA certificate in PEM, as clients import it.
func (a *Authority) CertPEM() []byte { return append([]byte(nil), a.certPEM...) }

// Pool returns a new certificate pool holding the CA alone, for clients
// (and tests) that should trust the leaves it issues.
func (a *Authority) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(a.cert)
	return p
}

package certs

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// newTestAuthority creates a CA in a fresh temporary directory.
func newTestAuthority(t *testing.T, opts Options) *Authority {
	t.Helper()
	a, created, err := LoadOrCreate(t.TempDir(), opts)
	if err != nil {
		t.Fatalf("LoadOrCreate: %v", err)
	}
	if !created {
		t.Fatalf("LoadOrCreate in an empty directory: created = false, want true")
	}
	return a
}

func TestLoadOrCreateNewCA(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "home", "wstap")
	before := time.Now()
	a, created, err := LoadOrCreate(dir, Options{})
	if err != nil {
		t.Fatalf("LoadOrCreate(%s): %v", dir, err)
	}
	if !created {
		t.Errorf("created = false, want true")
	}
	if a.Dir() != dir || a.CertPath() != filepath.Join(dir, "ca.pem") || a.KeyPath() != filepath.Join(dir, "ca-key.pem") {
		t.Errorf("Dir, CertPath, KeyPath = %s, %s, %s", a.Dir(), a.CertPath(), a.KeyPath())
	}

	c := a.Certificate()
	if !c.IsCA || !c.BasicConstraintsValid || !c.MaxPathLenZero || c.MaxPathLen != 0 {
		t.Errorf("IsCA, BasicConstraintsValid, MaxPathLenZero, MaxPathLen = %v, %v, %v, %d; want true, true, true, 0",
			c.IsCA, c.BasicConstraintsValid, c.MaxPathLenZero, c.MaxPathLen)
	}
	if want := x509.KeyUsageCertSign | x509.KeyUsageCRLSign; c.KeyUsage != want {
		t.Errorf("KeyUsage = %v, want %v", c.KeyUsage, want)
	}
	if pub, ok := c.PublicKey.(*ecdsa.PublicKey); !ok || pub.Curve != elliptic.P256() {
		t.Errorf("public key %T, want ECDSA P-256", c.PublicKey)
	}
	if !strings.HasPrefix(c.Subject.CommonName, "wstap CA ") || !strings.Contains(c.Subject.CommonName, "@") {
		t.Errorf("CommonName = %q, want \"wstap CA user@host tag\"", c.Subject.CommonName)
	}
	if len(c.Subject.Organization) != 1 || c.Subject.Organization[0] != "wstap" {
		t.Errorf("Organization = %q, want [wstap]", c.Subject.Organization)
	}
	if got := c.NotAfter.Sub(c.NotBefore); got < 3650*24*time.Hour || got > 3651*24*time.Hour+time.Hour {
		t.Errorf("validity %v, want about 10 years", got)
	}
	if c.NotBefore.After(before) {
		t.Errorf("NotBefore %v is after creation %v", c.NotBefore, before)
	}
	if c.SerialNumber.Sign() <= 0 || c.SerialNumber.BitLen() > 129 || c.SerialNumber.BitLen() < 64 {
		t.Errorf("serial %v (%d bits), want a positive random 128-bit number", c.SerialNumber, c.SerialNumber.BitLen())
	}
	if len(c.SubjectKeyId) != 20 {
		t.Errorf("SubjectKeyId = %x, want 20 bytes", c.SubjectKeyId)
	}
	if _, err := c.Verify(x509.VerifyOptions{Roots: a.Pool()}); err != nil {
		t.Errorf("CA does not verify against its own pool: %v", err)
	}

	block, _ := pem.Decode(a.CertPEM())
	if block == nil || !bytes.Equal(block.Bytes, c.Raw) {
		t.Errorf("CertPEM() does not hold the certificate")
	}
	onDisk, err := os.ReadFile(a.CertPath())
	if err != nil || !bytes.Equal(onDisk, a.CertPEM()) {
		t.Errorf("ca.pem differs from CertPEM() (err %v)", err)
	}
	keyPEM, err := os.ReadFile(a.KeyPath())
	if err != nil {
		t.Fatal(err)
	}
	if block, _ := pem.Decode(keyPEM); block == nil || block.Type != "PRIVATE KEY" {
		t.Errorf("ca-key.pem is not a PKCS#8 PEM block")
	}

	if runtime.GOOS != "windows" {
		for path, want := range map[string]fs.FileMode{a.KeyPath(): 0o600, dir: 0o700} {
			fi, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if got := fi.Mode().Perm(); got != want {
				t.Errorf("mode of %s = %04o, want %04o", path, got, want)
			}
		}
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 2 {
		t.Errorf("directory holds %d entries, want ca.pem and ca-key.pem only (no temporary files)", len(entries))
	}
}

func TestLoadOrCreateReusesCA(t *testing.T) {
	a := newTestAuthority(t, Options{})
	b, created, err := LoadOrCreate(a.Dir(), Options{})
	if err != nil {
		t.Fatalf("second LoadOrCreate: %v", err)
	}
	if created {
		t.Errorf("second LoadOrCreate: created = true, want false")
	}
	if !bytes.Equal(a.Certificate().Raw, b.Certificate().Raw) {
		t.Errorf("second LoadOrCreate returned a different CA")
	}
	c, err := Load(a.Dir(), Options{})
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if !bytes.Equal(a.Certificate().Raw, c.Certificate().Raw) {
		t.Errorf("Load returned a different CA")
	}
	// A leaf from one verifies with the other's pool: same key, too.
	leaf, err := c.Leaf("example.test")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := leaf.Leaf.Verify(x509.VerifyOptions{Roots: a.Pool(), DNSName: "example.test"}); err != nil {
		t.Errorf("leaf from the reloaded CA: %v", err)
	}
}

func TestLoadOrCreateConcurrent(t *testing.T) {
	dir := t.TempDir()
	const n = 8
	var (
		wg      sync.WaitGroup
		cas     [n]*Authority
		created [n]bool
		errs    [n]error
	)
	for i := range n {
		wg.Go(func() { cas[i], created[i], errs[i] = LoadOrCreate(dir, Options{}) })
	}
	wg.Wait()
	creators := 0
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("LoadOrCreate #%d: %v", i, errs[i])
		}
		if !bytes.Equal(cas[i].Certificate().Raw, cas[0].Certificate().Raw) {
			t.Errorf("LoadOrCreate #%d returned a different CA than #0", i)
		}
		if created[i] {
			creators++
		}
	}
	if creators != 1 {
		t.Errorf("%d callers report they created the CA, want 1", creators)
	}
	disk, err := Load(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(disk.Certificate().Raw, cas[0].Certificate().Raw) {
		t.Errorf("the CA on disk is not the one returned")
	}
}

func TestLoadMissing(t *testing.T) {
	dir := t.TempDir()
	_, err := Load(dir, Options{})
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Load(empty dir) = %v, want fs.ErrNotExist", err)
	}
	want := "certs: load CA certificate " + filepath.Join(dir, "ca.pem") + ": "
	if !strings.HasPrefix(err.Error(), want) || strings.Count(err.Error(), "ca.pem") != 1 {
		t.Errorf("error %q, want it to start %q and name the file once", err, want)
	}
}

func TestLoadRefusesReadableKey(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("file modes do not control access on Windows")
	}
	a := newTestAuthority(t, Options{})
	if err := os.Chmod(a.KeyPath(), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, load := range []func() error{
		func() error { _, err := Load(a.Dir(), Options{}); return err },
		func() error { _, _, err := LoadOrCreate(a.Dir(), Options{}); return err },
	} {
		err := load()
		if err == nil {
			t.Fatalf("loading a CA whose key is mode 0644 succeeded")
		}
		msg := err.Error()
		if !strings.HasPrefix(msg, "certs: load CA key "+a.KeyPath()+": ") || !strings.Contains(msg, "chmod 600 "+a.KeyPath()) {
			t.Errorf("error %q, want it to name the key and say chmod 600", msg)
		}
	}
	// The key was neither replaced nor fixed behind the user's back.
	if fi, _ := os.Stat(a.KeyPath()); fi.Mode().Perm() != 0o644 {
		t.Errorf("key mode changed to %04o", fi.Mode().Perm())
	}
}

func TestLoadBadFiles(t *testing.T) {
	other := newTestAuthority(t, Options{})
	otherKey, err := os.ReadFile(other.KeyPath())
	if err != nil {
		t.Fatal(err)
	}
	leaf, _, err := other.IssueServer([]string{"example.test"}, 0)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		file string // ca.pem or ca-key.pem
		data []byte
		want string
	}{
		{"cert not PEM", "ca.pem", []byte("hello"), "certs: load CA certificate %s/ca.pem: no PEM CERTIFICATE block"},
		{"cert garbage", "ca.pem", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte{1, 2, 3}}), "certs: load CA certificate %s/ca.pem: x509: "},
		{"cert not a CA", "ca.pem", leaf, "certs: load CA certificate %s/ca.pem: not a CA certificate"},
		{"key not PEM", "ca-key.pem", []byte("hello"), "certs: load CA key %s/ca-key.pem: no PEM block"},
		{"key wrong block", "ca-key.pem", leaf, "certs: load CA key %s/ca-key.pem: PEM block \"CERTIFICATE\" is not a private key"},
		{"key of another CA", "ca-key.pem", otherKey, "certs: load CA key %s/ca-key.pem: does not match the certificate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newTestAuthority(t, Options{})
			path := filepath.Join(a.Dir(), tt.file)
			if err := os.WriteFile(path, tt.data, 0o600); err != nil {
				t.Fatal(err)
			}
			want := strings.ReplaceAll(tt.want, "%s/", a.Dir()+string(filepath.Separator))
			_, err := Load(a.Dir(), Options{})
			if err == nil || !strings.HasPrefix(err.Error(), want) {
				t.Errorf("Load = %v, want an error starting %q", err, want)
			}
			// LoadOrCreate reports the same and overwrites nothing.
			_, _, err = LoadOrCreate(a.Dir(), Options{})
			if err == nil || !strings.HasPrefix(err.Error(), want) {
				t.Errorf("LoadOrCreate = %v, want an error starting %q", err, want)
			}
			if got, _ := os.ReadFile(path); !bytes.Equal(got, tt.data) {
				t.Errorf("LoadOrCreate overwrote %s", tt.file)
			}
		})
	}
}

func TestLoadOrCreateCertWithoutKey(t *testing.T) {
	a := newTestAuthority(t, Options{})
	if err := os.Remove(a.KeyPath()); err != nil {
		t.Fatal(err)
	}
	_, _, err := LoadOrCreate(a.Dir(), Options{})
	if err == nil || !strings.Contains(err.Error(), "move the certificate away") {
		t.Fatalf("LoadOrCreate with ca.pem but no key = %v, want an error saying to move the certificate", err)
	}
	if _, err := os.Stat(a.KeyPath()); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("LoadOrCreate made a key beside an existing certificate")
	}
}

func TestLoadOrCreateKeyWithoutCert(t *testing.T) {
	// A creation interrupted after the key: the next run completes the CA
	// with that key.
	a := newTestAuthority(t, Options{})
	if err := os.Remove(a.CertPath()); err != nil {
		t.Fatal(err)
	}
	b, created, err := LoadOrCreate(a.Dir(), Options{})
	if err != nil {
		t.Fatalf("LoadOrCreate with a key but no certificate: %v", err)
	}
	if created {
		t.Errorf("created = true, want false (the key existed)")
	}
	if !a.Certificate().PublicKey.(*ecdsa.PublicKey).Equal(b.Certificate().PublicKey) {
		t.Errorf("the new certificate is not for the existing key")
	}
}

func TestLoadKeyFormats(t *testing.T) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	sec1, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	a := newTestAuthority(t, Options{})
	if err := os.WriteFile(a.KeyPath(), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: sec1}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(a.CertPath()); err != nil {
		t.Fatal(err)
	}
	b, _, err := LoadOrCreate(a.Dir(), Options{})
	if err != nil {
		t.Fatalf("LoadOrCreate with a SEC 1 key: %v", err)
	}
	if !k.PublicKey.Equal(b.Certificate().PublicKey) {
		t.Errorf("CA certificate is not for the SEC 1 key")
	}
}

func TestDefaultDir(t *testing.T) {
	t.Setenv("WSTAP_HOME", "/some/where")
	if got, err := DefaultDir(); err != nil || got != "/some/where" {
		t.Errorf("DefaultDir() with $WSTAP_HOME = %q, %v; want /some/where", got, err)
	}
	t.Setenv("WSTAP_HOME", "")
	cfg, err := os.UserConfigDir()
	if err != nil {
		t.Skipf("no user config dir: %v", err)
	}
	if got, err := DefaultDir(); err != nil || got != filepath.Join(cfg, "wstap") {
		t.Errorf("DefaultDir() = %q, %v; want %q", got, err, filepath.Join(cfg, "wstap"))
	}
}

func TestLoadOrCreateNoDir(t *testing.T) {
	if _, _, err := LoadOrCreate("", Options{}); err == nil {
		t.Errorf("LoadOrCreate(\"\") succeeded")
	}
}

// TestLoadOrCreateProcesses starts several processes creating one CA at
// once; all must end with the same one.
func TestLoadOrCreateProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	dir := t.TempDir()
	const n = 4
	cmds := make([]*exec.Cmd, n)
	outs := make([]bytes.Buffer, n)
	for i := range cmds {
		cmds[i] = exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestHelperProcessLoadOrCreate$", "-test.count=1")
		cmds[i].Env = append(os.Environ(), "WSTAP_CERTS_HELPER_DIR="+dir)
		cmds[i].Stdout, cmds[i].Stderr = &outs[i], &outs[i]
		if err := cmds[i].Start(); err != nil {
			t.Fatal(err)
		}
	}
	for i, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Fatalf("process %d: %v\n%s", i, err, outs[i].Bytes())
		}
	}
	a, err := Load(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("CA %x", sha256.Sum256(a.Certificate().Raw))
	creators := 0
	for i := range outs {
		out := outs[i].String()
		if !strings.Contains(out, want) {
			t.Errorf("process %d saw another CA than the one on disk:\n%s", i, out)
		}
		if strings.Contains(out, "created true") {
			creators++
		}
	}
	if creators != 1 {
		t.Errorf("%d processes report they created the CA, want 1", creators)
	}
}

func TestHelperProcessLoadOrCreate(t *testing.T) {
	dir := os.Getenv("WSTAP_CERTS_HELPER_DIR")
	if dir == "" {
		t.Skip("helper process for TestLoadOrCreateProcesses")
	}
	a, created, err := LoadOrCreate(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	fmt.Printf("CA %x created %v\n", sha256.Sum256(a.Certificate().Raw), created)
}

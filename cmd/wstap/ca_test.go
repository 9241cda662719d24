package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/wstap/wstap/certs"
)

// runCACLI runs `wstap ARGS…` with the ca and cert commands on a root like
// the real one, $WSTAP_HOME set to home, and returns the output and exit
// status.
func runCACLI(t *testing.T, home string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	t.Setenv("WSTAP_HOME", home)
	var out, errOut bytes.Buffer
	g := &globalOptions{stdout: &out, stderr: &errOut}
	root := &cobra.Command{Use: "wstap", SilenceUsage: true, SilenceErrors: true}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &usageError{err} })
	root.AddCommand(newCACommand(g), newCertCommand(g))
	root.SetArgs(args)
	root.SetOut(&out)
	root.SetErr(&errOut)
	err := root.ExecuteContext(context.Background())
	if err != nil {
		errOut.WriteString("wstap: " + err.Error() + "\n")
	}
	return out.String(), errOut.String(), exitCode(err)
}

func TestCAInit(t *testing.T) {
	home := filepath.Join(t.TempDir(), "wstap-home")
	stdout, stderr, code := runCACLI(t, home, "ca", "init")
	if code != 0 {
		t.Fatalf("wstap ca init: exit %d, stderr %q", code, stderr)
	}
	if !strings.HasPrefix(stdout, "created a new CA in "+home+"\n") {
		t.Errorf("first ca init printed %q, want it to say it created the CA in %s", stdout, home)
	}
	for _, want := range []string{filepath.Join(home, "ca.pem"), filepath.Join(home, "ca-key.pem"), "sha256 ", "expires "} {
		if !strings.Contains(stdout, want) {
			t.Errorf("ca init output lacks %q:\n%s", want, stdout)
		}
	}
	ca, err := certs.Load(home, certs.Options{})
	if err != nil {
		t.Fatalf("the CA ca init made does not load: %v", err)
	}
	if !strings.Contains(stdout, fingerprint(ca.Certificate().Raw)) {
		t.Errorf("ca init output lacks the fingerprint %s", fingerprint(ca.Certificate().Raw))
	}

	again, _, code := runCACLI(t, home, "ca", "init")
	if code != 0 || !strings.HasPrefix(again, "using the existing CA in "+home+"\n") {
		t.Errorf("second ca init: exit %d, output %q; want it to say it uses the existing CA", code, again)
	}
	if !strings.Contains(again, fingerprint(ca.Certificate().Raw)) {
		t.Errorf("second ca init shows another CA:\n%s", again)
	}
}

func TestCAPathAndExport(t *testing.T) {
	home := t.TempDir()
	stdout, stderr, code := runCACLI(t, home, "ca", "path")
	if want := filepath.Join(home, "ca.pem") + "\n"; code != 0 || stdout != want {
		t.Fatalf("ca path: exit %d, stdout %q; want 0, %q", code, stdout, want)
	}
	if !strings.Contains(stderr, "created a new CA in "+home) {
		t.Errorf("ca path made the CA without saying so on stderr (stderr %q)", stderr)
	}

	stdout, stderr, code = runCACLI(t, home, "ca", "export")
	if code != 0 || stderr != "" {
		t.Fatalf("ca export: exit %d, stderr %q; want 0 and nothing", code, stderr)
	}
	onDisk, err := os.ReadFile(filepath.Join(home, "ca.pem"))
	if err != nil {
		t.Fatal(err)
	}
	if stdout != string(onDisk) {
		t.Errorf("ca export printed %q, want ca.pem's contents", stdout)
	}
	block, _ := pem.Decode([]byte(stdout))
	if block == nil || block.Type != "CERTIFICATE" {
		t.Fatalf("ca export did not print a PEM certificate")
	}
	if c, err := x509.ParseCertificate(block.Bytes); err != nil || !c.IsCA {
		t.Errorf("ca export printed a certificate that is not a CA (err %v)", err)
	}

	// --ca-dir wins over $WSTAP_HOME.
	other := t.TempDir()
	stdout, _, code = runCACLI(t, home, "ca", "path", "--ca-dir", other)
	if want := filepath.Join(other, "ca.pem") + "\n"; code != 0 || stdout != want {
		t.Errorf("ca path --ca-dir: exit %d, stdout %q; want 0, %q", code, stdout, want)
	}
}

func TestCAUsage(t *testing.T) {
	home := t.TempDir()
	tests := []struct {
		args []string
		code int
		want string // in stdout for 0, in stderr otherwise
	}{
		{[]string{"ca"}, 0, "ca-key.pem"}, // help
		{[]string{"ca", "bogus"}, 2, `unknown command "bogus" for wstap ca`},
		{[]string{"ca", "init", "extra"}, 2, "wstap ca init takes no arguments"},
		{[]string{"ca", "export", "--nope"}, 2, "unknown flag: --nope"},
		{[]string{"cert"}, 2, "wstap cert needs at least one HOST"},
		{[]string{"cert", "bad host", "-o", home}, 2, `certs: invalid host "bad host"`},
		{[]string{"cert", "example.test", "a..b", "-o", home}, 2, `certs: invalid host "a..b"`},
	}
	for _, tt := range tests {
		stdout, stderr, code := runCACLI(t, home, tt.args...)
		out := stderr
		if tt.code == 0 {
			out = stdout
		}
		if code != tt.code || !strings.Contains(out, tt.want) {
			t.Errorf("wstap %q: exit %d, stdout %q, stderr %q; want exit %d and %q", tt.args, code, stdout, stderr, tt.code, tt.want)
		}
	}
	if matches, _ := filepath.Glob(filepath.Join(home, "*.pem")); len(matches) != 2 { // ca.pem, ca-key.pem
		t.Errorf("usage errors left files: %q", matches)
	}
}

func TestCAUnreadableKey(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("file modes do not control access on Windows")
	}
	home := t.TempDir()
	if _, _, code := runCACLI(t, home, "ca", "init"); code != 0 {
		t.Fatalf("ca init: exit %d", code)
	}
	key := filepath.Join(home, "ca-key.pem")
	if err := os.Chmod(key, 0o644); err != nil {
		t.Fatal(err)
	}
	stdout, stderr, code := runCACLI(t, home, "ca", "export")
	if code != 1 || stdout != "" || !strings.Contains(stderr, "chmod 600 "+key) {
		t.Errorf("ca export with a readable key: exit %d, stdout %q, stderr %q; want 1 and a chmod 600 hint", code, stdout, stderr)
	}
}

func TestCert(t *testing.T) {
	home, out := t.TempDir(), filepath.Join(t.TempDir(), "certs")
	stdout, stderr, code := runCACLI(t, home, "cert", "example.test", "*.example.test", "127.0.0.1", "::1", "-o", out)
	if code != 0 {
		t.Fatalf("wstap cert: exit %d, stderr %q", code, stderr)
	}
	certPath, keyPath := filepath.Join(out, "example.test.pem"), filepath.Join(out, "example.test-key.pem")
	for _, want := range []string{"wrote " + certPath, "wrote " + keyPath, "example.test, *.example.test, 127.0.0.1, ::1"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("cert output lacks %q:\n%s", want, stdout)
		}
	}
	if !strings.Contains(stderr, "created a new CA in "+home) {
		t.Errorf("cert made the CA without saying so (stderr %q)", stderr)
	}
	if runtime.GOOS != "windows" {
		if fi, err := os.Stat(keyPath); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("key file: %v, mode %v; want 0600", err, fi.Mode().Perm())
		}
	}
	pair, err := tls.LoadX509KeyPair(certPath, keyPath)
	if err != nil {
		t.Fatalf("tls.LoadX509KeyPair: %v", err)
	}
	ca, err := certs.Load(home, certs.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"example.test", "www.example.test", "127.0.0.1", "::1"} {
		if _, err := pair.Leaf.Verify(x509.VerifyOptions{Roots: ca.Pool(), DNSName: name}); err != nil {
			t.Errorf("certificate does not verify for %s: %v", name, err)
		}
	}
	entries, _ := os.ReadDir(out)
	if len(entries) != 2 {
		t.Errorf("%s holds %d entries, want the two files (no temporary ones)", out, len(entries))
	}

	// Never overwritten without --force.
	before, _ := os.ReadFile(certPath)
	_, stderr, code = runCACLI(t, home, "cert", "example.test", "-o", out)
	if want := certPath + " and " + keyPath + " exist; pass --force"; code != 1 || !strings.Contains(stderr, want) {
		t.Errorf("cert over existing files: exit %d, stderr %q; want 1 and %q", code, stderr, want)
	}
	if after, _ := os.ReadFile(certPath); !bytes.Equal(before, after) {
		t.Errorf("cert without --force overwrote %s", certPath)
	}
	if err := os.Remove(keyPath); err != nil {
		t.Fatal(err)
	}
	_, stderr, code = runCACLI(t, home, "cert", "example.test", "-o", out)
	if code != 1 || !strings.Contains(stderr, certPath+" exists; pass --force") {
		t.Errorf("cert over one existing file: exit %d, stderr %q", code, stderr)
	}
	if _, err := os.Stat(keyPath); err == nil {
		t.Errorf("cert wrote the key although the certificate exists")
	}

	_, stderr, code = runCACLI(t, home, "cert", "example.test", "-o", out, "--force")
	if code != 0 {
		t.Fatalf("cert --force: exit %d, stderr %q", code, stderr)
	}
	if after, _ := os.ReadFile(certPath); bytes.Equal(before, after) {
		t.Errorf("cert --force left %s as it was", certPath)
	}
	if _, err := tls.LoadX509KeyPair(certPath, keyPath); err != nil {
		t.Errorf("files after --force do not pair: %v", err)
	}
}

func TestCertFileNames(t *testing.T) {
	home := t.TempDir()
	tests := []struct {
		host, base string
	}{
		{"*.Example.test", "_wildcard.example.test"},
		{"::1", "__1"},
		{"[::1]:8443", "__1"},
		{"LOCALHOST.", "localhost"},
		{"127.0.0.1", "127.0.0.1"},
	}
	for _, tt := range tests {
		out := t.TempDir()
		_, stderr, code := runCACLI(t, home, "cert", tt.host, "-o", out)
		if code != 0 {
			t.Errorf("cert %q: exit %d, stderr %q", tt.host, code, stderr)
			continue
		}
		for _, name := range []string{tt.base + ".pem", tt.base + "-key.pem"} {
			if _, err := os.Stat(filepath.Join(out, name)); err != nil {
				t.Errorf("cert %q did not write %s: %v", tt.host, name, err)
			}
		}
	}
}

func TestCertRunDirect(t *testing.T) {
	// The run function alone, as other tests and the lead's wiring call it.
	out := t.TempDir()
	var stdout, stderr bytes.Buffer
	g := &globalOptions{stdout: &stdout, stderr: &stderr}
	opts := &certOptions{caOptions: caOptions{CADir: t.TempDir()}, Output: out}
	if err := runCert(context.Background(), g, opts, []string{"localhost"}); err != nil {
		t.Fatalf("runCert: %v", err)
	}
	if _, err := os.Stat(filepath.Join(out, "localhost-key.pem")); err != nil {
		t.Errorf("runCert wrote no key: %v", err)
	}
	if err := runCert(context.Background(), g, opts, nil); exitCode(err) != exitUsage {
		t.Errorf("runCert with no hosts = %v (exit %d), want a usage error", err, exitCode(err))
	}
}

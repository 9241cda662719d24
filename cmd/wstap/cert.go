package main

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/wstap/wstap/certs"
)

// certOptions are the flags of `wstap cert`.
type certOptions struct {
	caOptions
	Output string // directory to write to; default "."
	Force  bool   // overwrite existing files
}

// AddFlags registers the options' flags.
func (o *certOptions) AddFlags(fs *pflag.FlagSet) {
	o.caOptions.AddFlags(fs)
	fs.StringVarP(&o.Output, "output", "o", ".", "write the certificate and key into `DIR`")
	fs.BoolVar(&o.Force, "force", false, "overwrite the files if they exist")
}

func newCertCommand(g *globalOptions) *cobra.Command {
	opts := &certOptions{}
	cmd := &cobra.Command{
		Use:   "cert HOST...",
		Short: "Make a certificate for your own test server, signed by the wstap CA",
		Long: `Make a certificate and private key for a test server of your own, signed by
the wstap CA (made first if need be), so that clients that trust the CA for
wstap trust the server too.

Each HOST is a DNS name, a wildcard such as *.example.test, or an IP
address; the certificate names them all. It is valid for 397 days, for
servers and, in mutual TLS, for clients.

The files are HOST.pem (the certificate) and HOST-key.pem (the key, mode
0600), named after the first HOST, with "*" written "_wildcard" and ":"
written "_"; they go to the directory -o names (default: the current one,
made if missing). Existing files are left alone unless --force is given.

  wstap cert example.test '*.example.test' localhost 127.0.0.1 ::1
` + caStatusHelp,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usagef("%s needs at least one HOST (see %s --help)", cmd.CommandPath(), cmd.CommandPath())
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			return runCert(cmd.Context(), g, opts, args)
		},
	}
	opts.AddFlags(cmd.Flags())
	return cmd
}

func runCert(_ context.Context, g *globalOptions, opts *certOptions, args []string) error {
	if len(args) == 0 {
		return usagef("cert needs at least one HOST")
	}
	ca, _, err := loadOrCreateCA(g, &opts.caOptions, true)
	if err != nil {
		return err
	}
	certPEM, keyPEM, err := ca.IssueServer(args, 0)
	if errors.Is(err, certs.ErrInvalidHost) {
		return usagef("%w", err)
	}
	if err != nil {
		return err
	}
	block, _ := pem.Decode(certPEM)
	if block == nil {
		return errors.New("cert: issued certificate is not PEM")
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return fmt.Errorf("cert: parse issued certificate: %w", err)
	}

	dir := opts.Output
	if dir == "" {
		dir = "."
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", dir, pathErr(err))
	}
	base := certFileBase(cert.Subject.CommonName) // the first host, normalised
	certPath := filepath.Join(dir, base+".pem")
	keyPath := filepath.Join(dir, base+"-key.pem")
	if !opts.Force {
		var exist []string
		for _, p := range []string{certPath, keyPath} {
			if _, err := os.Lstat(p); err == nil {
				exist = append(exist, p)
			}
		}
		switch len(exist) {
		case 1:
			return fmt.Errorf("%s exists; pass --force to overwrite it", exist[0])
		case 2:
			return fmt.Errorf("%s and %s exist; pass --force to overwrite them", exist[0], exist[1])
		}
	}
	if err := writeCertFile(certPath, certPEM, 0o644, opts.Force); err != nil {
		return err
	}
	if err := writeCertFile(keyPath, keyPEM, 0o600, opts.Force); err != nil {
		if !opts.Force {
			os.Remove(certPath) // ours: keep the pair together
		}
		return err
	}

	names := append([]string(nil), cert.DNSNames...)
	for _, ip := range cert.IPAddresses {
		names = append(names, ip.String())
	}
	var b strings.Builder
	fmt.Fprintf(&b, "wrote %s (certificate for %s; expires %s)\n", certPath, strings.Join(names, ", "),
		cert.NotAfter.Local().Format(time.DateOnly))
	fmt.Fprintf(&b, "wrote %s (its private key, mode 0600)\n", keyPath)
	fmt.Fprintf(&b, "\nClients that trust the wstap CA (%s) trust this certificate.\n", ca.CertPath())
	fmt.Fprintf(&b, "In Go: http.ListenAndServeTLS(addr, %q, %q, handler)\n", certPath, keyPath)
	return writeOut(g.stdout, b.String())
}

// certFileBase turns a host into a file name: "*.example.test" becomes
// "_wildcard.example.test" and "::1" becomes "__1", as mkcert names them.
func certFileBase(host string) string {
	return strings.NewReplacer("*", "_wildcard", ":", "_", "/", "_", `\`, "_").Replace(host)
}

// writeCertFile writes one of cert's files with certs.WriteFile, naming
// --force when the file exists and overwrite is off.
func writeCertFile(path string, data []byte, perm fs.FileMode, overwrite bool) error {
	err := certs.WriteFile(path, data, perm, overwrite)
	if errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("%s exists; pass --force to overwrite it", path)
	}
	return err
}

// pathErr drops the *fs.PathError around err, whose path the message names
// already.
func pathErr(err error) error {
	if pe, ok := errors.AsType[*fs.PathError](err); ok {
		return pe.Err
	}
	return err
}

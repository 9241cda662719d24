package main

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/wstap/wstap/certs"
)

// caOptions are the flags of `wstap ca` and its subcommands.
type caOptions struct {
	CADir string // the CA's directory; "" means certs.DefaultDir()
}

// AddFlags registers the options' flags.
func (o *caOptions) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.CADir, "ca-dir", "", "keep the CA in `DIR` (default: $WSTAP_HOME or <user config dir>/wstap)")
}

// dir returns the CA directory the options name.
func (o *caOptions) dir() (string, error) {
	if o.CADir != "" {
		return o.CADir, nil
	}
	return certs.DefaultDir()
}

// loadOrCreateCA loads the CA the options name, creating it if need be,
// and says so on stderr when it does and quiet is set (the command's
// stdout then holds data only).
func loadOrCreateCA(g *globalOptions, o *caOptions, quiet bool) (*certs.Authority, bool, error) {
	dir, err := o.dir()
	if err != nil {
		return nil, false, err
	}
	ca, created, err := certs.LoadOrCreate(dir, certs.Options{})
	if err != nil {
		return nil, false, err
	}
	if created && quiet {
		fmt.Fprintf(g.stderr, "wstap: created a new CA in %s\n", ca.Dir())
	}
	return ca, created, nil
}

const caHelp = `wstap intercepts TLS with certificates from its own certificate authority
(CA). The CA is made on first use, kept in a directory (default:
$WSTAP_HOME or <user config dir>/wstap) as ca.pem, the certificate, and
ca-key.pem, its private key (mode 0600), and reused after.

Clients must trust ca.pem to talk to wstap without certificate errors:

  curl --cacert "$(wstap ca path)" ...
  NODE_EXTRA_CA_CERTS="$(wstap ca path)" node client.js
  SSL_CERT_FILE="$(wstap ca path)" python3 client.py
  wstap ca export > wstap-ca.pem    # to import into a browser or a system store

Anyone with ca-key.pem can make certificates your clients trust: keep it to
yourself, and remove the CA from your trust stores when you are done.
`

func newCACommand(g *globalOptions) *cobra.Command {
	opts := &caOptions{}
	cmd := &cobra.Command{
		Use:   "ca [init|path|export]",
		Short: "Manage the certificate authority wstap intercepts TLS with",
		Long:  caHelp + caStatusHelp,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usagef("unknown command %q for %s (want init, path or export)", args[0], cmd.CommandPath())
			}
			return cmd.Help()
		},
	}
	opts.AddFlags(cmd.PersistentFlags())
	cmd.AddCommand(
		&cobra.Command{
			Use:   "init",
			Short: "Create the CA if it does not exist, and show it",
			Long: `Create the CA if it does not exist yet, then print where it is, whether it
was created, and its subject, fingerprint and expiry.
` + caStatusHelp,
			Args: exactArgs(0),
			RunE: func(cmd *cobra.Command, args []string) error {
				return runCAInit(cmd.Context(), g, opts, args)
			},
		},
		&cobra.Command{
			Use:   "path",
			Short: "Print the path of the CA certificate",
			Long: `Print the path of the CA certificate (ca.pem), the file clients trust,
creating the CA first if it does not exist:

  curl --cacert "$(wstap ca path)" ...
` + caStatusHelp,
			Args: exactArgs(0),
			RunE: func(cmd *cobra.Command, args []string) error {
				return runCAPath(cmd.Context(), g, opts, args)
			},
		},
		&cobra.Command{
			Use:   "export",
			Short: "Print the CA certificate in PEM",
			Long: `Print the CA certificate in PEM on stdout, to import into a browser, a
system trust store or a client's configuration, creating the CA first if it
does not exist.
` + caStatusHelp,
			Args: exactArgs(0),
			RunE: func(cmd *cobra.Command, args []string) error {
				return runCAExport(cmd.Context(), g, opts, args)
			},
		},
	)
	return cmd
}

func runCAInit(_ context.Context, g *globalOptions, opts *caOptions, _ []string) error {
	ca, created, err := loadOrCreateCA(g, opts, false)
	if err != nil {
		return err
	}
	c := ca.Certificate()
	var b strings.Builder
	if created {
		fmt.Fprintf(&b, "created a new CA in %s\n", ca.Dir())
	} else {
		fmt.Fprintf(&b, "using the existing CA in %s\n", ca.Dir())
	}
	fmt.Fprintf(&b, "  certificate  %s\n", ca.CertPath())
	fmt.Fprintf(&b, "  key          %s (keep it private)\n", ca.KeyPath())
	fmt.Fprintf(&b, "  subject      %s\n", c.Subject.CommonName)
	fmt.Fprintf(&b, "  sha256       %s\n", fingerprint(c.Raw))
	fmt.Fprintf(&b, "  expires      %s\n", c.NotAfter.Local().Format(time.DateOnly))
	if created {
		b.WriteString("Trust the certificate in your clients; see wstap ca --help.\n")
	}
	return writeOut(g.stdout, b.String())
}

func runCAPath(_ context.Context, g *globalOptions, opts *caOptions, _ []string) error {
	ca, _, err := loadOrCreateCA(g, opts, true)
	if err != nil {
		return err
	}
	return writeOut(g.stdout, ca.CertPath()+"\n")
}

func runCAExport(_ context.Context, g *globalOptions, opts *caOptions, _ []string) error {
	ca, _, err := loadOrCreateCA(g, opts, true)
	if err != nil {
		return err
	}
	return writeOut(g.stdout, string(ca.CertPEM()))
}

// caStatusHelp is the EXIT STATUS section of ca and cert.
const caStatusHelp = `
EXIT STATUS
  0  success
  1  error (the CA cannot be read or created, a file to write exists)
  2  usage error (unknown flag, missing or invalid argument)
`

// fingerprint formats the SHA-256 of der as colon-separated hex, as
// browsers and openssl show it.
func fingerprint(der []byte) string {
	sum := sha256.Sum256(der)
	parts := make([]string, len(sum))
	for i, c := range sum {
		parts[i] = fmt.Sprintf("%02X", c)
	}
	return strings.Join(parts, ":")
}

// writeOut writes s to w, reporting a failure as an error.
func writeOut(w io.Writer, s string) error {
	if _, err := io.WriteString(w, s); err != nil {
		return fmt.Errorf("write output: %w", err)
	}
	return nil
}

package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/gorilla/websocket"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"github.com/wstap/wstap/capture"
	"github.com/wstap/wstap/certs"
	"github.com/wstap/wstap/inspector"
	"github.com/wstap/wstap/internal/demo"
)

type demoOptions struct {
	noTUI  bool
	output string
}

func (o *demoOptions) AddFlags(fs *pflag.FlagSet) {
	fs.BoolVar(&o.noTUI, "no-tui", false, "print the capture's connections instead of opening the inspector (the default when stdout is not a terminal)")
	fs.StringVarP(&o.output, "output", "o", "", "capture file to write (default: ./captures/demo-<time>.wstap)")
}

func newDemoCommand(g *globalOptions) *cobra.Command {
	opts := &demoOptions{}
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Record a built-in demo session: demo server, proxy and client in one process",
		Long: `Run a self-contained first session: a demo chat-and-ticker server (wss://,
subprotocol ` + demo.Subprotocol + `), wstap's recording proxy in explicit mode
intercepting its TLS, and a scripted client talking through the proxy for a
few seconds. The capture lands in ./captures; wstap prints its path and its
connection list, then opens it in the inspector (press ? there for the keys)
unless --no-tui is given or stdout is not a terminal.
` + exitStatusHelp,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runDemo(cmd.Context(), g, opts, args)
		},
	}
	opts.AddFlags(cmd.Flags())
	return cmd
}

func runDemo(ctx context.Context, g *globalOptions, opts *demoOptions, _ []string) error {
	dir, err := certs.DefaultDir()
	if err != nil {
		return err
	}
	ca, _, err := certs.LoadOrCreate(dir, certs.Options{})
	if err != nil {
		return err
	}
	// The demo server presents a certificate from wstap's own CA, so the
	// proxy verifies the upstream as it would any real server.
	certPEM, keyPEM, err := ca.IssueServer([]string{"127.0.0.1", "localhost"}, 0)
	if err != nil {
		return err
	}
	kp, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return err
	}
	srvAddr, stopServer, err := demo.ListenTLS(demo.NewServer(), &tls.Config{Certificates: []tls.Certificate{kp}})
	if err != nil {
		return err
	}
	defer stopServer()

	path := opts.output
	if path == "" {
		if path, err = defaultCapturePath("demo"); err != nil {
			return err
		}
	}
	log := slog.New(slog.NewTextHandler(g.stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	r, err := startRecorder(g, &recordOptions{listen: "127.0.0.1:0", output: path, upstreamRoots: ca.Pool()}, log)
	if err != nil {
		return err
	}
	fmt.Fprintf(g.stdout, "demo server  wss://%s/chat (subprotocol %s)\nwstap proxy  http://%s\ncapture      %s\nCA           %s\n\n",
		srvAddr, demo.Subprotocol, r.ln.Addr(), path, ca.CertPath())
	proxyURL := &url.URL{Scheme: "http", Host: r.ln.Addr().String()}
	n, clientErr := demo.RunClient(ctx, demo.ClientOptions{
		URL:    "wss://" + srvAddr + "/chat",
		Dialer: &websocket.Dialer{Proxy: http.ProxyURL(proxyURL), TLSClientConfig: &tls.Config{RootCAs: ca.Pool()}},
	})
	if err := r.stop(5 * time.Second); err != nil {
		return err
	}
	if clientErr != nil {
		return clientErr
	}
	fmt.Fprintf(g.stdout, "the demo client received %d messages through the proxy\n\n", n)
	if !opts.noTUI && terminal(g.stdout) {
		src, err := capture.Open(path)
		if err != nil {
			return err
		}
		defer src.Close()
		if err := runInspector(ctx, src, inspector.Options{Title: path}); err != nil {
			return err
		}
		fmt.Fprintf(g.stdout, "the capture stays in %s: wstap inspect %s opens it again\n", path, path)
		return nil
	}
	if err := runLs(ctx, g, &lsOptions{Format: "text"}, []string{path}); err != nil {
		return err
	}
	fmt.Fprintf(g.stdout, "\nnext: wstap show %s\n", path)
	return nil
}

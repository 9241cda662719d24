package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"sync"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"github.com/wstap/wstap/capture"
	"github.com/wstap/wstap/certs"
	"github.com/wstap/wstap/inspector"
	"github.com/wstap/wstap/internal/netaddr"
	"github.com/wstap/wstap/internal/present"
	"github.com/wstap/wstap/proxy"
)

type recordOptions struct {
	listen      string
	output      string
	force       bool
	upstream    string
	insecure    bool
	upstreamCAs []string
	clientCert  string
	clientKey   string
	allowRemote bool

	heartbeat        time.Duration
	heartbeatTimeout time.Duration
	redact           []string
	ignoreHosts      []string
	maxBody          int64
	proxyAuth        string
	tui              bool
	noCapture        bool
	debugAddr        string

	upstreamRoots *x509.CertPool // trusted for upstreams instead of the system roots (the demo's own server)
}

func (o *recordOptions) AddFlags(fs *pflag.FlagSet) {
	fs.StringVarP(&o.listen, "listen", "l", envOr("WSTAP_LISTEN", "127.0.0.1:8080"), "address to listen on (default: $WSTAP_LISTEN or 127.0.0.1:8080)")
	fs.StringVarP(&o.output, "output", "o", "", "capture file to write (default: ./captures/wstap-<time>.wstap)")
	fs.BoolVar(&o.force, "force", false, "replace the -o file if it exists (a capture is never overwritten otherwise)")
	fs.StringVar(&o.upstream, "upstream", "", "reverse mode: relay every WebSocket to this ws:// or wss:// URL")
	fs.BoolVar(&o.insecure, "insecure", false, "do not verify upstream TLS certificates")
	fs.StringArrayVar(&o.upstreamCAs, "upstream-ca", nil, "PEM file of a CA (or self-signed certificate) to trust for upstreams; repeatable")
	fs.StringVar(&o.clientCert, "client-cert", "", "PEM client certificate for upstreams that require mTLS")
	fs.StringVar(&o.clientKey, "client-key", "", "PEM key of --client-cert")
	fs.BoolVar(&o.allowRemote, "allow-remote", false, "serve other machines: allow a non-loopback --listen address and non-loopback clients (set --proxy-auth too)")
	fs.StringVar(&o.proxyAuth, "proxy-auth", "", "user:pass credentials clients must send (Proxy-Authorization: Basic; Authorization: Basic in reverse mode); with --allow-remote (default: $WSTAP_PROXY_AUTH)")
	fs.StringSliceVar(&o.redact, "redact", nil, "headers to redact in the capture, requests' and responses', e.g. Authorization,Cookie,Set-Cookie")
	fs.StringSliceVar(&o.ignoreHosts, "ignore-hosts", nil, "comma-separated host globs (*.bank.example.test,10.*) whose CONNECT tunnels pass byte for byte, not intercepted (for apps that pin certificates)")
	fs.Int64Var(&o.maxBody, "max-body", 1<<20, "bytes of each plain HTTP body to keep in the capture; 0 keeps none")
	fs.DurationVar(&o.heartbeat, "heartbeat", 0, "expose ghost connections: ping a side idle this long (e.g. 30s); 0 is off")
	fs.BoolVar(&o.noCapture, "no-capture", false, "relay without recording anything (to measure what recording costs; wstap bench)")
	fs.BoolVar(&o.tui, "tui", false, "show connections and messages live in the inspector while recording (quit it with q to stop)")
	fs.StringVar(&o.debugAddr, "debug-addr", "", "serve pprof and expvar counters (/debug/pprof/, /debug/vars) on this loopback address, e.g. 127.0.0.1:6060; off by default")
	fs.DurationVar(&o.heartbeatTimeout, "heartbeat-timeout", 0, "how long a pinged side may stay silent before it is a ghost (default: --heartbeat)")
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func newRecordCommand(g *globalOptions) *cobra.Command {
	opts := &recordOptions{}
	cmd := &cobra.Command{
		Use:   "record",
		Short: "Run the proxy and record WebSocket traffic to a capture file",
		Long: `Run wstap's recording proxy.

Explicit mode (default): point clients at http://LISTEN as their HTTP proxy.
ws:// and wss:// (through CONNECT, with TLS intercepted by wstap's CA) are
relayed frame for frame and recorded; other HTTP passes through.

Reverse mode (--upstream URL): clients connect to ws://LISTEN as if it were
the server; wstap dials URL.

Trust wstap's CA (wstap ca export) in the client to intercept wss://.
Hosts matching --ignore-hosts are tunnelled untouched (for apps that pin
certificates); the capture notes each tunnel and holds nothing of it.
Plain HTTP exchanges are recorded too, bodies up to --max-body.

Only clients on this machine are served unless --allow-remote; then set
--proxy-auth user:pass (or $WSTAP_PROXY_AUTH) so that clients must send
Proxy-Authorization: Basic (Authorization: Basic in reverse mode).

SIGINT or SIGTERM closes live connections with 1001, flushes the capture and
prints a summary; a second SIGINT exits at once.
` + exitStatusHelp,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runRecord(cmd.Context(), g, opts, args)
		},
	}
	opts.AddFlags(cmd.Flags())
	return cmd
}

// recorder is a running proxy with its capture, listener and CA.
type recorder struct {
	proxy   *proxy.Proxy
	capture *capture.Writer
	ca      *certs.Authority
	ln      net.Listener
	srv     *http.Server
	served  chan error
	debug   net.Listener // --debug-addr's, or nil
}

// startRecorder opens the capture, loads the CA and starts serving the
// proxy.
func startRecorder(g *globalOptions, opts *recordOptions, log *slog.Logger) (*recorder, error) {
	if err := checkListen(opts.listen, opts.allowRemote); err != nil {
		return nil, err
	}
	if opts.heartbeat < 0 || opts.heartbeatTimeout < 0 || (opts.heartbeatTimeout > 0 && opts.heartbeat == 0) {
		return nil, usagef("--heartbeat and --heartbeat-timeout take positive durations, and --heartbeat-timeout needs --heartbeat")
	}
	if opts.maxBody < 0 {
		return nil, usagef("--max-body %d: want a size in bytes, 0 or more", opts.maxBody)
	}
	maxBody := opts.maxBody
	if maxBody == 0 {
		maxBody = -1 // proxy.Options: negative keeps no body, 0 is the default
	}
	proxyAuth := opts.proxyAuth
	if proxyAuth == "" {
		proxyAuth = os.Getenv("WSTAP_PROXY_AUTH") // read here, not as the flag's default, which --help would print
	}
	upTLS, err := upstreamTLS(opts)
	if err != nil {
		return nil, err
	}
	dir, err := certs.DefaultDir()
	if err != nil {
		return nil, err
	}
	ca, _, err := certs.LoadOrCreate(dir, certs.Options{})
	if err != nil {
		return nil, err
	}
	var w *capture.Writer
	var sink proxy.Sink // nil: the proxy discards what it would record
	path := opts.output
	if !opts.noCapture {
		if path == "" {
			if path, err = defaultCapturePath("wstap"); err != nil {
				return nil, err
			}
		}
		if err := makeRoom(path, opts.force); err != nil {
			return nil, err
		}
		if w, err = capture.Create(path, capture.Options{Tool: "wstap " + versionString()}); err != nil {
			if errors.Is(err, fs.ErrExist) {
				return nil, fmt.Errorf("%s exists; pass --force to overwrite it", path)
			}
			return nil, err
		}
		sink = w
	}
	closeCapture := func() {
		if w != nil {
			w.Close()
			os.Remove(path)
		}
	}
	p, err := proxy.New(proxy.Options{Sink: sink, Upstream: opts.upstream, GetCertificate: ca.GetCertificate,
		UpstreamTLS: upTLS, Redact: opts.redact, Logger: log, IgnoreHosts: opts.ignoreHosts, MaxBody: maxBody,
		ProxyAuth: proxyAuth, AllowRemote: opts.allowRemote, Heartbeat: opts.heartbeat, HeartbeatTimeout: opts.heartbeatTimeout})
	if err != nil {
		closeCapture()
		return nil, &usageError{err} // every option New rejects came from a flag
	}
	ln, err := net.Listen("tcp", opts.listen)
	if err != nil {
		closeCapture()
		return nil, fmt.Errorf("listen on %s: %w", opts.listen, err)
	}
	r := &recorder{proxy: p, capture: w, ca: ca, ln: ln, served: make(chan error, 1),
		srv: &http.Server{Handler: p, ReadHeaderTimeout: 30 * time.Second}}
	if opts.debugAddr != "" {
		if r.debug, err = serveDebug(opts.debugAddr, r.debugVars()); err != nil {
			ln.Close()
			closeCapture()
			return nil, err
		}
	}
	// Served through the proxy's Listener, handshakes go upstream (and
	// into the capture) as the client wrote them.
	go func() { r.served <- r.srv.Serve(p.Listener(ln)) }()
	return r, nil
}

// debugVars are the recorder's counters for --debug-addr.
func (r *recorder) debugVars() debugVars {
	v := debugVars{counters: func() map[string]int64 {
		c := r.proxy.Counters()
		return map[string]int64{"open": c.Open.Load(), "total": c.Total.Load(), "messages": c.Messages.Load(),
			"bytes": c.Bytes.Load(), "http": c.HTTP.Load(), "ghosts": c.Ghosts.Load(), "failed": c.Failed.Load(),
			"too_large": c.TooLarge.Load()}
	}}
	if w := r.capture; w != nil {
		v.capture = func() map[string]int64 {
			s := w.Stats()
			return map[string]int64{"records": int64(s.Records), "chunks": int64(s.Chunks),
				"payload_bytes": int64(s.PayloadBytes), "raw_bytes": int64(s.RawBytes), "file_bytes": s.FileBytes,
				"raw_chunks": int64(s.RawChunks), "raw_chunk_bytes": int64(s.RawChunkBytes)}
		}
	}
	return v
}

// capturePath names the capture, or says there is none.
func (r *recorder) capturePath() string {
	if r.capture == nil {
		return "none (--no-capture)"
	}
	return r.capture.Path()
}

// stop closes the listener, closes live connections with 1001 (waiting up
// to grace), then flushes and closes the capture.
func (r *recorder) stop(grace time.Duration) error {
	r.srv.Close()
	if r.debug != nil {
		r.debug.Close()
	}
	ctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	r.proxy.Shutdown(ctx)
	var err error
	if r.capture != nil {
		err = r.capture.Close()
	}
	// The proxy's error is the capture's, most often: say it once.
	if perr := r.proxy.Err(); perr != nil && !errors.Is(perr, err) && (err == nil || perr.Error() != err.Error()) {
		err = errors.Join(err, perr)
	}
	return err
}

// makeRoom removes the file at path for --force, so that the capture
// replaces it; without force it leaves the file, for capture.Create to
// refuse. It removes nothing but a file (or a symbolic link).
func makeRoom(path string, force bool) error {
	fi, err := os.Lstat(path)
	if !force || err != nil {
		return nil
	}
	if fi.IsDir() {
		return fmt.Errorf("%s is a directory; -o names the capture file to write", path)
	}
	if err := os.Remove(path); err != nil {
		return fmt.Errorf("--force: %w", err)
	}
	return nil
}

func runRecord(ctx context.Context, g *globalOptions, opts *recordOptions, _ []string) error {
	if opts.noCapture && (opts.output != "" || opts.tui) {
		return usagef("--no-capture records nothing: it goes with neither -o nor --tui")
	}
	if opts.tui && !terminal(g.stdout) {
		return errors.New("--tui needs a terminal (stdin and stdout); drop it to record with a counter on stderr")
	}
	// Under --tui the inspector owns the terminal: warnings wait in a
	// bounded buffer and are printed once it has closed.
	var held *heldLog
	var logOut io.Writer = g.stderr
	if opts.tui {
		held = &heldLog{max: 64 << 10}
		logOut = held
	}
	log := slog.New(slog.NewTextHandler(logOut, &slog.HandlerOptions{Level: slog.LevelWarn}))
	r, err := startRecorder(g, opts, log)
	if err != nil {
		return err
	}
	mode := "explicit proxy: set http://" + r.ln.Addr().String() + " as the client's HTTP proxy"
	if opts.upstream != "" {
		mode = "reverse mode: connect clients to ws://" + r.ln.Addr().String() + " (relayed to " + opts.upstream + ")"
	}
	fmt.Fprintf(g.stdout, "wstap %s\n  listening  %s\n  %s\n  capture    %s\n  CA         %s\n",
		versionString(), r.ln.Addr(), mode, r.capturePath(), r.ca.CertPath())
	if r.debug != nil {
		fmt.Fprintf(g.stdout, "  debug      http://%s/debug/pprof/ and /debug/vars\n", r.debug.Addr())
	}
	if opts.allowRemote && opts.proxyAuth == "" && os.Getenv("WSTAP_PROXY_AUTH") == "" {
		fmt.Fprintln(g.stderr, "wstap: warning: --allow-remote without --proxy-auth: anyone who can reach "+r.ln.Addr().String()+" can use this proxy")
	}

	// After a burst, give the memory back within about a minute of idling.
	reclaimCtx, stopReclaim := context.WithCancel(ctx)
	defer stopReclaim()
	go reclaimWhenIdle(reclaimCtx, 20*time.Second, func() int64 {
		c := r.proxy.Counters()
		return c.Bytes.Load() + c.Messages.Load() + c.Total.Load() + c.HTTP.Load()
	}, debug.FreeOSMemory)

	var serveErr error
	if opts.tui {
		serveErr, err = recordTUI(ctx, r)
		held.flush(g.stderr)
		if err != nil {
			fmt.Fprintf(g.stderr, "wstap: inspector: %v\n", err)
		}
	} else {
		stopCounter := startCounter(g.stderr, r.proxy, r.captureErr)
		select {
		case <-ctx.Done():
		case serveErr = <-r.served:
		}
		stopCounter()
	}
	// A second interrupt exits at once; what was flushed stays readable.
	again := make(chan os.Signal, 1)
	signal.Notify(again, os.Interrupt)
	defer signal.Stop(again)
	go func() {
		if _, ok := <-again; ok {
			fmt.Fprintln(g.stderr, "wstap: interrupted again; exiting without waiting")
			os.Exit(130)
		}
	}()
	fmt.Fprintln(g.stderr, "wstap: stopping: closing live connections (1001) and flushing the capture")
	err = r.stop(5 * time.Second)
	c := r.proxy.Counters()
	// Total counts the connections as wstap ls lists them: upgrades that
	// got no 101 are connections of the capture too.
	failed := ""
	if n := c.Failed.Load(); n > 0 {
		failed = fmt.Sprintf(" (%d refused or failed)", n)
	}
	switch capErr := r.captureErr(); {
	case r.capture == nil:
		fmt.Fprintf(g.stdout, "relayed %d WebSocket connection(s)%s, %d message(s), %s of payload and %d HTTP exchange(s) (nothing recorded: --no-capture)\n",
			c.Total.Load(), failed, c.Messages.Load(), present.Bytes(c.Bytes.Load()), c.HTTP.Load())
	case capErr == nil:
		// What the file holds, as the writer counted it: the same as the
		// relay's figures, unless a record was too large to keep.
		s := r.capture.Stats()
		fmt.Fprintf(g.stdout, "recorded %d WebSocket connection(s)%s, %d message(s), %s of payload and %d HTTP exchange(s) into %s\n",
			s.ConnsWritten, failed, s.MessagesWritten, present.Bytes(int64(s.PayloadBytesWritten)), s.HTTPWritten, r.capturePath())
	default:
		// Issue 12: never claim what the relay saw as recorded.
		s := r.capture.Stats()
		fmt.Fprintf(g.stdout, "relayed %d WebSocket connection(s), %d message(s), %s of payload and %d HTTP exchange(s); "+
			"%s holds %d connection(s), %d message(s), %s of payload and %d HTTP exchange(s), recorded before recording stopped\n",
			c.Total.Load(), c.Messages.Load(), present.Bytes(c.Bytes.Load()), c.HTTP.Load(),
			r.capturePath(), s.ConnsWritten, s.MessagesWritten, present.Bytes(int64(s.PayloadBytesWritten)), s.HTTPWritten)
		err = stoppedError(s, capErr, err)
	}
	if n := c.Ghosts.Load(); n > 0 {
		fmt.Fprintf(g.stdout, "%d ghost connection(s) found and closed (wstap ls shows them)\n", n)
	}
	if serveErr != nil && !errors.Is(serveErr, http.ErrServerClosed) {
		err = errors.Join(fmt.Errorf("serve: %w", serveErr), err)
	}
	return err
}

// recordTUI runs the inspector on the capture while the proxy records into
// it, until the user quits, ctx ends or the server stops. The inspector
// follows the file as the writer flushes it: the relay never waits for the
// UI, which reads on its own goroutines and redraws at most 20 times a
// second.
func recordTUI(ctx context.Context, r *recorder) (serveErr, err error) {
	src, err := capture.Open(r.capture.Path())
	if err != nil {
		return nil, err
	}
	defer src.Close()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	served := make(chan error, 1)
	go func() {
		select {
		case err := <-r.served:
			served <- err
			cancel()
		case <-ctx.Done():
			served <- nil
		}
	}()
	err = runInspector(ctx, src, inspector.Options{Title: r.capture.Path(), Follow: true})
	cancel()
	return <-served, err
}

// heldLog keeps log lines while the inspector owns the terminal, up to max
// bytes; what is past it is counted, not kept.
type heldLog struct {
	mu      sync.Mutex
	b       bytes.Buffer
	max     int
	dropped int
	out     io.Writer // once flushed, lines go straight here
}

func (h *heldLog) Write(p []byte) (int, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.out != nil {
		return h.out.Write(p)
	}
	if h.b.Len()+len(p) > h.max {
		h.dropped++
		return len(p), nil
	}
	return h.b.Write(p)
}

// flush prints what was held, and then writes straight through.
func (h *heldLog) flush(w io.Writer) {
	h.mu.Lock()
	defer h.mu.Unlock()
	w.Write(h.b.Bytes())
	if h.dropped > 0 {
		fmt.Fprintf(w, "wstap: %d more warning(s) while the inspector was open were not kept\n", h.dropped)
	}
	h.b.Reset()
	h.out = w
}

// captureErr is the capture's error, nil while it records (or with
// --no-capture).
func (r *recorder) captureErr() error {
	if r.capture == nil {
		return nil
	}
	return r.capture.Err()
}

// stoppedError says that recording stopped, when and why, and what the
// capture holds; err is what stopping the recorder returned, which holds
// capErr and is replaced by it.
func stoppedError(s capture.Stats, capErr, err error) error {
	at := "some point"
	if !s.StoppedAt.IsZero() {
		at = s.StoppedAt.Local().Format(time.TimeOnly)
	}
	stopped := fmt.Errorf("recording stopped at %s: %w; the capture holds %d connection(s), %d message(s) up to then; traffic went on being relayed",
		at, capErr, s.ConnsWritten, s.MessagesWritten)
	if err != nil && err.Error() != capErr.Error() && !errors.Is(err, capErr) {
		// Something besides the capture failed too.
		return errors.Join(stopped, err)
	}
	return stopped
}

// startCounter shows a one-line live counter on stderr when it is a
// terminal, and nothing otherwise; once capErr reports an error, the line
// says that recording stopped. It returns a function that stops it.
func startCounter(w io.Writer, p *proxy.Proxy, capErr func() error) func() {
	f, ok := w.(*os.File)
	if !ok || !isTerminal(f) {
		return func() {}
	}
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		t := time.NewTicker(250 * time.Millisecond)
		defer t.Stop()
		for {
			fmt.Fprint(f, "\r\x1b[K"+counterLine(p.Counters(), capErr()))
			select {
			case <-done:
				fmt.Fprint(f, "\r\x1b[K")
				return
			case <-t.C:
			}
		}
	}()
	return func() { close(done); <-stopped }
}

// counterLine is the live counter's text: the relay's figures and, once
// the capture has failed, that recording stopped and why.
func counterLine(c *proxy.Counters, capErr error) string {
	line := fmt.Sprintf("%d open · %d total · %d msgs · %s · %d HTTP · %d ghosts", c.Open.Load(), c.Total.Load(),
		c.Messages.Load(), present.Bytes(c.Bytes.Load()), c.HTTP.Load(), c.Ghosts.Load())
	if capErr != nil {
		line += " | RECORDING STOPPED: " + errCause(capErr)
	}
	return line
}

// errCause is what went wrong in err, without the operation and path
// around it: "no space left on device" of "write F: no space left on
// device".
func errCause(err error) string {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

func isTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// checkListen refuses a non-loopback address unless remote use is allowed.
// The rule is the proxy's for its clients (internal/netaddr): "localhost"
// is loopback, no other name is.
func checkListen(addr string, allowRemote bool) error {
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return usagef("--listen %q: %v", addr, err)
	}
	if !allowRemote && !netaddr.IsLoopback(addr) {
		return usagef("--listen %s is not a loopback address; pass --allow-remote to serve other machines", addr)
	}
	return nil
}

// upstreamTLS builds the TLS configuration for dialling upstreams.
func upstreamTLS(o *recordOptions) (*tls.Config, error) {
	return dialTLS(tlsFlags{insecure: o.insecure, upstreamCAs: o.upstreamCAs, clientCert: o.clientCert, clientKey: o.clientKey}, o.upstreamRoots)
}

// tlsFlags are the flags, of record and replay, that say how to dial TLS.
type tlsFlags struct {
	insecure              bool
	upstreamCAs           []string
	clientCert, clientKey string
}

// dialTLS builds a TLS client configuration from the flags; roots, when
// set, replace the system roots.
func dialTLS(o tlsFlags, roots *x509.CertPool) (*tls.Config, error) {
	cfg := &tls.Config{InsecureSkipVerify: o.insecure, RootCAs: roots}
	if len(o.upstreamCAs) > 0 {
		pool, err := x509.SystemCertPool()
		if err != nil {
			pool = x509.NewCertPool()
		}
		for _, path := range o.upstreamCAs {
			pem, err := os.ReadFile(path)
			if err != nil {
				return nil, fmt.Errorf("--upstream-ca: %w", err)
			}
			if !pool.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("--upstream-ca %s: no PEM certificate in the file", path)
			}
		}
		cfg.RootCAs = pool
	}
	if (o.clientCert == "") != (o.clientKey == "") {
		return nil, usagef("--client-cert and --client-key go together")
	}
	if o.clientCert != "" {
		kp, err := tls.LoadX509KeyPair(o.clientCert, o.clientKey)
		if err != nil {
			return nil, fmt.Errorf("--client-cert: %w", err)
		}
		cfg.Certificates = []tls.Certificate{kp}
	}
	return cfg, nil
}

// defaultCapturePath is ./captures/<prefix>-<UTC time>.wstap, creating the
// directory (0700) if needed.
func defaultCapturePath(prefix string) (string, error) {
	dir := "captures"
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("create %s: %w", dir, err)
	}
	name := fmt.Sprintf("%s-%s.wstap", prefix, time.Now().UTC().Format("20060102-150405.000"))
	return filepath.Join(dir, name), nil
}

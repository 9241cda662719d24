package proxy

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/elazarl/goproxy"
	"github.com/gobwas/ws"
	"github.com/wstap/wstap/capture"
)

// Sink receives the records of the traffic the proxy relays. It must be
// safe for concurrent use. *capture.Writer satisfies it. An error from a
// Sink never stops the traffic: the proxy reports it (Proxy.Err, the
// logger) and keeps relaying.
//
// Records alias buffers the relay reuses: a Chunk's Data points into the
// frame decoder's buffer, which the next chunk overwrites. Append must copy
// what it keeps before returning; the record and its Data are reused
// after. (capture.Writer.Append encodes the record before it returns.)
type Sink interface {
	Open(*capture.ConnOpen) (capture.ConnID, error)
	Append(capture.Record) error
	HTTP(*capture.HTTP) (uint64, error)
}

// Options configures a Proxy. The zero value is an explicit proxy that
// records nothing and cannot intercept TLS.
type Options struct {
	// Sink receives records. Default: records are discarded.
	Sink Sink
	// Upstream, if set, puts the proxy in reverse mode: clients connect to
	// the proxy as if it were the server, and every WebSocket upgrade goes
	// to this ws:// or wss:// URL (the client's path is appended to the
	// URL's path, as httputil.ReverseProxy does). Default: explicit proxy.
	Upstream string
	// GetCertificate supplies the leaf certificates presented to clients
	// whose CONNECT tunnels carry TLS. When the ClientHello has no SNI, the
	// proxy fills ServerName with the CONNECT host before calling it.
	// Default nil: TLS inside CONNECT cannot be intercepted and fails.
	GetCertificate func(*tls.ClientHelloInfo) (*tls.Certificate, error)
	// UpstreamTLS is the base TLS configuration for dialling wss:// and
	// https:// upstreams (RootCAs, InsecureSkipVerify, client
	// certificates). Default: the system roots, verification on.
	UpstreamTLS *tls.Config
	// DialTimeout bounds the TCP connect to an upstream. Default 10s.
	DialTimeout time.Duration
	// HandshakeTimeout bounds the whole upstream handshake (TCP, TLS,
	// upgrade request and response). Default 30s.
	HandshakeTimeout time.Duration
	// MaxRefusalBody is how much of a refusal's body the capture keeps,
	// at most a little under half of capture.MaxRecord. Default 4 KiB.
	MaxRefusalBody int
	// Heartbeat, when positive, exposes ghost connections (open but dead):
	// a side that has sent nothing for this long gets a ping from wstap
	// (payload "wstap-heartbeat N"; its pong is recorded as dropped and not
	// forwarded), and a side from which not a byte arrives for
	// HeartbeatTimeout after that ping went on the wire is recorded as a
	// ghost: the proxy closes the other side with 1001 and cuts the dead
	// side's connection. Bytes inside a frame count: a slow upload is
	// alive, and so is a peer that ignores pings but keeps sending.
	// Default 0: off.
	Heartbeat time.Duration
	// HeartbeatTimeout is how long a side may stay silent once wstap's
	// ping to it is on the wire (it may wait for a frame being written to
	// that side to end first). Default: Heartbeat.
	HeartbeatTimeout time.Duration
	// Redact names headers, of requests and of responses (Set-Cookie, say),
	// whose values are replaced by "[redacted]" in the capture (not on the
	// wire). Default none. Proxy-Authorization is never recorded.
	Redact []string
	// IgnoreHosts are glob patterns (path.Match syntax, matched
	// case-insensitively against the host name without its port:
	// "*.bank.example.test", "pinned.example.test", "10.*") of hosts whose
	// CONNECT tunnels are relayed byte for byte, without TLS interception,
	// for apps that pin certificates; the capture notes each such tunnel
	// as a "tunnel" event and holds nothing of its content. A "*" matches
	// dots too, so "*.example.test" matches "a.b.example.test" but not
	// "example.test". Plain ws:// and http:// requests to these hosts
	// (absolute-form, not tunnelled) are relayed and recorded as usual:
	// they carry no certificate to pin. New rejects malformed patterns.
	// Default none: every tunnel is intercepted.
	IgnoreHosts []string
	// MaxBody is how much of each plain HTTP body (request and response)
	// the capture keeps, at most a little under half of capture.MaxRecord
	// (the largest record a capture holds); the record holds the whole
	// sizes, so a longer body shows as cut. A negative value keeps no
	// body. Default 1 MiB.
	MaxBody int64
	// ProxyAuth, "user:pass", makes the proxy require these credentials:
	// "Proxy-Authorization: Basic …" on explicit-proxy requests (CONNECT
	// and absolute-form; 407 otherwise), or, in reverse mode, where clients
	// take the proxy for the server, "Authorization: Basic …" (401
	// otherwise; the header is wstap's and is not forwarded upstream).
	// Credentials are compared in constant time and never recorded.
	// Default "": no authentication.
	ProxyAuth string
	// AllowRemote lets clients on other machines use the proxy. Default
	// false: a request whose RemoteAddr is not a loopback address gets a
	// 403 that names --allow-remote.
	AllowRemote bool
	// Logger receives diagnostics. Default: discarded.
	Logger *slog.Logger
}

// Proxy is wstap's recording proxy. It is an http.Handler: serve it with an
// http.Server (never wrap its ResponseWriter, which must stay an
// http.Hijacker), on a listener wrapped by Proxy.Listener so that
// handshakes are forwarded as the client wrote them.
type Proxy struct {
	opts     Options
	upstream *url.URL
	gp       *goproxy.ProxyHttpServer
	inner    *http.Server
	ln       *chanListener
	rp       *httputil.ReverseProxy

	mu       sync.Mutex
	sessions map[*session]struct{}
	closing  bool
	wg       sync.WaitGroup

	sinkErr  atomic.Pointer[error]
	sinkOnce sync.Once
	counters Counters
	tunnels  tunnelSet // uninspected tunnels (IgnoreHosts)
	heads    sync.Map  // connKey → *headConn of the connections accepted through Listener
}

// Counters are a Proxy's live figures.
type Counters struct {
	Open     atomic.Int64 // WebSocket connections being relayed
	Total    atomic.Int64 // WebSocket connections recorded so far, as wstap ls lists them: refused and failed upgrades too
	Messages atomic.Int64 // messages (data and control) relayed
	Bytes    atomic.Int64 // decoded payload bytes relayed
	HTTP     atomic.Int64 // plain HTTP exchanges
	Ghosts   atomic.Int64 // connections found open but dead (see Options.Heartbeat)
	Failed   atomic.Int64 // upgrades that got no 101 (refused, unreachable upstream, …); in Total too
	TooLarge atomic.Int64 // records the capture refused as too large (logged; the capture goes on)
}

// New returns a proxy configured by opts.
func New(opts Options) (*Proxy, error) {
	if opts.DialTimeout <= 0 {
		opts.DialTimeout = 10 * time.Second
	}
	if opts.HandshakeTimeout <= 0 {
		opts.HandshakeTimeout = 30 * time.Second
	}
	if opts.MaxRefusalBody <= 0 {
		opts.MaxRefusalBody = 4 << 10
	}
	opts.MaxRefusalBody = min(opts.MaxRefusalBody, maxRecordBody)
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.MaxBody == 0 {
		opts.MaxBody = defaultMaxBody
	}
	if err := checkProxyAuth(opts.ProxyAuth); err != nil {
		return nil, err
	}
	ignore, err := compileIgnoreHosts(opts.IgnoreHosts)
	if err != nil {
		return nil, err
	}
	opts.IgnoreHosts = ignore
	p := &Proxy{opts: opts, sessions: map[*session]struct{}{}}
	if opts.Upstream != "" {
		u, err := url.Parse(opts.Upstream)
		if err != nil || (u.Scheme != "ws" && u.Scheme != "wss") || u.Host == "" {
			return nil, fmt.Errorf("proxy: upstream %q is not a ws:// or wss:// URL", opts.Upstream)
		}
		p.upstream = u
		p.rp = p.reverseHTTP(u)
	}
	p.gp = goproxy.NewProxyHttpServer()
	p.gp.Logger = discardLogger{}
	// Never loop through our own HTTPS_PROXY: dial upstreams directly.
	p.gp.ConnectDial = nil
	p.gp.Tr = &http.Transport{Proxy: nil, TLSClientConfig: opts.UpstreamTLS, ForceAttemptHTTP2: false,
		DialContext: (&net.Dialer{Timeout: opts.DialTimeout}).DialContext}
	p.recordGoproxyHTTP()
	if len(opts.IgnoreHosts) > 0 {
		p.gp.OnRequest(goproxy.ReqConditionFunc(p.ignoredConnect)).HijackConnect(p.tunnelConnect) // before hijackConnect
	}
	p.gp.OnRequest().HijackConnect(p.hijackConnect)
	p.ln = newChanListener()
	p.inner = &http.Server{
		Handler:           http.HandlerFunc(p.serveTunnel),
		TLSNextProto:      map[string]func(*http.Server, *tls.Conn, http.Handler){}, // HTTP/1.1 only
		ConnContext:       func(ctx context.Context, c net.Conn) context.Context { return withTunnel(ctx, c) },
		ReadHeaderTimeout: opts.HandshakeTimeout,
		ErrorLog:          slog.NewLogLogger(opts.Logger.Handler(), slog.LevelDebug),
	}
	go p.inner.Serve(p.ln)
	return p, nil
}

// Counters returns the proxy's live counters.
func (p *Proxy) Counters() *Counters { return &p.counters }

// Err returns the first error the Sink returned, if any.
func (p *Proxy) Err() error {
	if e := p.sinkErr.Load(); e != nil {
		return *e
	}
	return nil
}

// ServeHTTP dispatches a request that arrived at the proxy's listener.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hc := p.headConnOf(r)
	head := hc.claim(r) // before admit changes r.Header
	if !p.admit(w, r) {
		return
	}
	switch {
	case p.upstream != nil && isUpgrade(r):
		u := joinURL(p.upstream, r.URL)
		p.relayUpgrade(w, r, target{url: u, host: u.Host, mode: "reverse", uri: u.RequestURI(), head: head, conn: hc})
	case p.upstream != nil:
		p.serveReverseHTTP(w, r)
	case r.Method == http.MethodConnect:
		hc.stop() // a tunnel follows
		p.gp.ServeHTTP(keepBuffered{w}, r)
	case r.URL.IsAbs() && isUpgrade(r):
		u := *r.URL
		u.Scheme = map[string]string{"http": "ws", "https": "wss", "ws": "ws", "wss": "wss"}[strings.ToLower(u.Scheme)]
		if u.Scheme == "" {
			http.Error(w, "wstap: unsupported scheme "+r.URL.Scheme, http.StatusBadRequest)
			return
		}
		host := r.Host
		if host == "" {
			host = u.Host
		}
		p.relayUpgrade(w, r, target{url: &u, host: host, mode: "explicit", uri: originForm(r.RequestURI), head: head, conn: hc})
	default:
		p.gp.ServeHTTP(flushingWriter{w}, r)
	}
}

// joinURL appends the client's path and query to the upstream URL.
func joinURL(up, req *url.URL) *url.URL {
	u := *up
	switch {
	case req.Path == "" || req.Path == "/":
		if u.Path == "" {
			u.Path = "/"
		}
	case u.Path == "" || u.Path == "/":
		u.Path, u.RawPath = req.Path, req.RawPath
	default:
		// Join the escaped forms too, so an escaped slash stays escaped.
		raw := strings.TrimSuffix(u.EscapedPath(), "/") + "/" + strings.TrimPrefix(req.EscapedPath(), "/")
		u.Path = strings.TrimSuffix(u.Path, "/") + "/" + strings.TrimPrefix(req.Path, "/")
		u.RawPath = raw
	}
	if req.RawQuery != "" {
		u.RawQuery = req.RawQuery
	}
	return &u
}

// reverseHTTP forwards plain HTTP in reverse mode (the page that opens the
// WebSocket, say) to the upstream's http(s) origin.
func (p *Proxy) reverseHTTP(up *url.URL) *httputil.ReverseProxy {
	origin := &url.URL{Scheme: "http", Host: up.Host}
	if up.Scheme == "wss" {
		origin.Scheme = "https"
	}
	return &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(origin)
			pr.Out.Host = up.Host
		},
		Transport: recordingTransport{&http.Transport{Proxy: nil, TLSClientConfig: p.opts.UpstreamTLS,
			DialContext: (&net.Dialer{Timeout: p.opts.DialTimeout}).DialContext}},
		ErrorHandler: p.reverseError,
		ErrorLog:     slog.NewLogLogger(p.opts.Logger.Handler(), slog.LevelDebug),
	}
}

// keepBuffered hands goproxy's CONNECT handling a hijacked connection that
// still holds the bytes the client sent together with its CONNECT request
// (a pipelined ClientHello, say); goproxy's own hijack would drop them.
type keepBuffered struct{ http.ResponseWriter }

func (k keepBuffered) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, rw, err := k.ResponseWriter.(http.Hijacker).Hijack()
	if err != nil {
		return nil, nil, err
	}
	if rw.Reader.Buffered() > 0 {
		c = &bufferedConn{Conn: c, r: rw.Reader}
	}
	return c, rw, nil
}

// bufferedConn is a net.Conn whose reads start with what a bufio.Reader
// already holds.
type bufferedConn struct {
	net.Conn
	r io.Reader
}

func (c *bufferedConn) Read(p []byte) (int, error) { return c.r.Read(p) }

// CloseWrite half-closes the connection underneath, if it can.
func (c *bufferedConn) CloseWrite() error { return closeWrite(c.Conn) }

// closeWrite half-closes c (a FIN for TCP, close_notify for TLS), or
// reports errors.ErrUnsupported.
func closeWrite(c net.Conn) error {
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return errors.ErrUnsupported
}

// tunnelInfo describes a connection that arrived through CONNECT.
type tunnelInfo struct {
	target string // host:port of the CONNECT request
	tls    *tls.Conn
	head   *headConn // the tunnel's connection, as the inner server reads it
}

type tunnelKey struct{}

func withTunnel(ctx context.Context, c net.Conn) context.Context {
	if tc, ok := c.(*tunnelConn); ok {
		return context.WithValue(ctx, tunnelKey{}, tc.info)
	}
	return ctx
}

// tunnelConn is a connection taken over from a CONNECT tunnel, served by
// the inner HTTP server.
type tunnelConn struct {
	net.Conn
	info *tunnelInfo
}

// CloseWrite half-closes the tunnel, so the relay can mirror the end of
// the server's stream while the client still sends (RFC 6455 §7.1.1).
func (c *tunnelConn) CloseWrite() error { return closeWrite(c.Conn) }

// hijackConnect takes over a CONNECT tunnel: it answers 200, terminates TLS
// with a leaf for the host when the client speaks TLS, and serves what
// follows with the inner HTTP/1.1 server.
func (p *Proxy) hijackConnect(req *http.Request, client net.Conn, _ *goproxy.ProxyCtx) {
	if _, err := io.WriteString(client, "HTTP/1.1 200 Connection established\r\n\r\n"); err != nil {
		client.Close()
		return
	}
	info := &tunnelInfo{target: req.URL.Host}
	br := bufio.NewReader(client)
	client.SetReadDeadline(time.Now().Add(p.opts.HandshakeTimeout))
	first, err := br.Peek(1)
	client.SetReadDeadline(time.Time{})
	if err != nil {
		client.Close()
		return
	}
	var conn net.Conn = &bufferedConn{Conn: client, r: br}
	if first[0] == 0x16 { // a TLS handshake record: the client speaks TLS inside the tunnel
		host, _, err := net.SplitHostPort(req.URL.Host)
		if err != nil {
			host = req.URL.Host
		}
		tc := tls.Server(conn, &tls.Config{
			NextProtos: []string{"http/1.1"}, // never h2: WebSocket over HTTP/2 (RFC 8441) is not relayed
			GetCertificate: func(h *tls.ClientHelloInfo) (*tls.Certificate, error) {
				if p.opts.GetCertificate == nil {
					return nil, errors.New("proxy: TLS interception is not configured")
				}
				if h.ServerName == "" {
					hh := *h
					hh.ServerName = host
					return p.opts.GetCertificate(&hh)
				}
				return p.opts.GetCertificate(h)
			},
		})
		ctx, cancel := context.WithTimeout(context.Background(), p.opts.HandshakeTimeout)
		err = tc.HandshakeContext(ctx)
		cancel()
		if err != nil {
			p.logf("TLS handshake with client for %s: %v", req.URL.Host, err)
			client.Close()
			return
		}
		conn, info.tls = tc, tc
	}
	info.head = &headConn{Conn: conn}
	if !p.ln.push(&tunnelConn{Conn: info.head, info: info}) {
		client.Close()
	}
}

// serveTunnel handles a request that came through a CONNECT tunnel.
func (p *Proxy) serveTunnel(w http.ResponseWriter, r *http.Request) {
	info, _ := r.Context().Value(tunnelKey{}).(*tunnelInfo)
	if info == nil {
		http.Error(w, "wstap: lost tunnel", http.StatusInternalServerError)
		return
	}
	head := info.head.claim(r)
	scheme := "http"
	var st *tls.ConnectionState
	if info.tls != nil {
		scheme = "https"
		s := info.tls.ConnectionState()
		st = &s
	}
	if isUpgrade(r) {
		ws := map[string]string{"http": "ws", "https": "wss"}[scheme]
		u := &url.URL{Scheme: ws, Host: info.target, Path: r.URL.Path, RawPath: r.URL.RawPath, RawQuery: r.URL.RawQuery}
		host := r.Host
		if host == "" {
			host = info.target
		}
		p.relayUpgrade(w, r, target{url: u, host: host, mode: "connect", clientTLS: st, uri: originForm(r.RequestURI),
			head: head, conn: info.head})
		return
	}
	r.URL.Scheme, r.URL.Host = scheme, info.target
	if r.Host != "" {
		r.URL.Host = r.Host
	}
	p.gp.ServeHTTP(flushingWriter{w}, r)
}

// chanListener is a net.Listener fed with connections taken over from
// CONNECT tunnels.
type chanListener struct {
	ch     chan net.Conn
	done   chan struct{}
	closed sync.Once
}

func newChanListener() *chanListener {
	return &chanListener{ch: make(chan net.Conn), done: make(chan struct{})}
}

func (l *chanListener) push(c net.Conn) bool {
	select {
	case l.ch <- c:
		return true
	case <-l.done:
		return false
	}
}

func (l *chanListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.ch:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *chanListener) Close() error {
	l.closed.Do(func() { close(l.done) })
	return nil
}

func (l *chanListener) Addr() net.Addr { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)} }

// open records a connection's handshake and returns its ID.
func (p *Proxy) open(o *capture.ConnOpen) capture.ConnID {
	n := p.counters.Total.Add(1)
	if p.opts.Sink == nil {
		return capture.ConnID(n)
	}
	id, err := p.opts.Sink.Open(o)
	if errors.Is(err, capture.ErrTooLarge) {
		// Huge headers or a huge refusal body: keep the connection, not them.
		p.sinkWarn(err)
		lean := *o
		lean.RequestHeaders, lean.ResponseHeaders, lean.RequestHeaderList, lean.ResponseHeaderList = nil, nil, nil, nil
		lean.ResponseBody, lean.Redacted = nil, nil
		if id, err = p.opts.Sink.Open(&lean); err == nil {
			o.Conn = lean.Conn
			p.record(&capture.Event{Conn: id, Time: time.Now(), Kind: capture.EventNote,
				Detail: "the handshake's headers and body were too large for the capture and are left out"})
		}
	}
	if err != nil {
		p.sinkError(err)
	}
	return id
}

// record hands a record to the sink. A failing sink is reported once and
// otherwise ignored: the traffic keeps flowing.
func (p *Proxy) record(r capture.Record) {
	if c, ok := r.(*capture.Chunk); ok {
		if c.First {
			p.counters.Messages.Add(1)
		}
		p.counters.Bytes.Add(int64(len(c.Data)))
	}
	// Connection 0 is a connection the capture refused to open (see
	// open): its records have nowhere to go.
	if p.opts.Sink == nil || (r.ConnID() == 0 && r.Type() != capture.KindEvent) {
		return
	}
	if err := p.opts.Sink.Append(r); err != nil {
		p.sinkError(err)
	}
}

// sinkError reports an error from the Sink: a record refused as too large
// (capture.ErrTooLarge) is left out with a warning and the capture goes
// on; any other error is a failed capture.
func (p *Proxy) sinkError(err error) {
	if errors.Is(err, capture.ErrTooLarge) {
		p.sinkWarn(err)
		return
	}
	p.sinkFailed(err)
}

// sinkWarn reports a record the capture refused as too large.
func (p *Proxy) sinkWarn(err error) {
	p.counters.TooLarge.Add(1)
	p.opts.Logger.Warn("capture: a record too large for the capture is left out; the capture goes on", "err", err)
}

func (p *Proxy) sinkFailed(err error) {
	p.sinkOnce.Do(func() {
		p.sinkErr.Store(&err)
		p.opts.Logger.Error("capture failed; traffic keeps flowing unrecorded", "err", err)
	})
}

func (p *Proxy) logf(format string, a ...any) {
	p.opts.Logger.Warn(fmt.Sprintf(format, a...))
}

// redact replaces the values of the configured headers with
// capture.Redaction, in h and in list (a record's header lines), and
// returns names with the canonical names of those it replaced in h added:
// sorted, without repeats, nil when empty.
func (p *Proxy) redact(h http.Header, list []capture.HeaderField, names []string) []string {
	for _, name := range p.opts.Redact {
		k := http.CanonicalHeaderKey(name)
		if _, ok := h[k]; ok {
			h[k] = []string{capture.Redaction}
			names = append(names, k)
		}
	}
	for i, f := range list {
		if capture.IsRedacted(p.opts.Redact, f.Name) {
			list[i].Value = capture.Redaction
		}
	}
	slices.Sort(names)
	return slices.Clip(slices.Compact(names))
}

// reserve counts an upgrade in progress, so Shutdown waits for it; it
// reports false once the proxy is shutting down. release undoes it.
func (p *Proxy) reserve() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closing {
		return false
	}
	p.wg.Add(1)
	return true
}

func (p *Proxy) release() { p.wg.Done() }

// register lists a session whose 101 has gone out as live; it reports
// false when Shutdown has begun meanwhile (and so will not close it).
func (p *Proxy) register(s *session) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.sessions[s] = struct{}{}
	p.counters.Open.Add(1)
	return !p.closing
}

func (p *Proxy) unregister(s *session) {
	p.mu.Lock()
	delete(p.sessions, s)
	p.mu.Unlock()
	p.counters.Open.Add(-1)
}

// Shutdown closes every live WebSocket connection cleanly, sending close
// 1001 (going away) to both peers, and waits until they have ended or ctx
// is done; then it cuts what is left. New upgrades are refused from the
// moment it is called. Uninspected tunnels (IgnoreHosts) carry opaque
// bytes and are cut at once. The caller stops its own listener first.
func (p *Proxy) Shutdown(ctx context.Context) error {
	p.mu.Lock()
	p.closing = true
	live := make([]*session, 0, len(p.sessions))
	for s := range p.sessions {
		live = append(live, s)
	}
	p.mu.Unlock()
	p.ln.Close()
	p.inner.Close()
	p.tunnels.closeAll()
	// A close waits for the frame in flight on its leg, which may never
	// finish: send them beside the wait, so ctx bounds everything.
	var closers sync.WaitGroup
	for _, s := range live {
		closers.Go(s.closeBoth)
	}
	done := make(chan struct{})
	go func() {
		p.wg.Wait()
		close(done)
	}()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		for _, s := range live {
			s.client.conn.Close()
			s.server.conn.Close()
		}
		<-done
		err = ctx.Err()
	}
	closers.Wait()
	return err
}

// closeBoth sends close 1001 from the proxy to each peer that has not been
// sent a close yet (an endpoint sends at most one; RFC 6455 §5.5.1).
func (s *session) closeBoth() {
	s.closeOnce.Do(func() {
		defer close(s.closesSent)
		s.goingAway.Store(true)
		const reason = "wstap is shutting down"
		payload := ws.NewCloseFrameBody(ws.StatusGoingAway, reason)
		s.client.sendClose(ws.NewCloseFrame(payload), func() {
			s.p.record(&capture.Close{Conn: s.id, Time: time.Now(), Dir: capture.ProxyToClient, Code: 1001, Reason: reason})
		})
		s.server.sendClose(ws.MaskFrameInPlace(ws.NewCloseFrame(append([]byte(nil), payload...))), func() {
			s.p.record(&capture.Close{Conn: s.id, Time: time.Now(), Dir: capture.ProxyToServer, Code: 1001, Reason: reason})
		})
	})
}

type discardLogger struct{}

func (discardLogger) Printf(string, ...any) {}

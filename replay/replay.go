package replay

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/wstap/wstap/capture"
	"github.com/wstap/wstap/internal/tlsfacts"
)

// Pace says when a replay sends each client message.
type Pace int

// Paces.
const (
	// Reactive waits, before client message i, until the server messages
	// that preceded it in the recording have arrived, or Options.Timeout.
	Reactive Pace = iota
	// Recorded keeps the recording's gaps, scaled by Options.Speed.
	Recorded
	// ASAP sends each message as soon as the previous one is written.
	ASAP
)

// ParsePace parses reactive, recorded or asap.
func ParsePace(s string) (Pace, error) {
	switch s {
	case "reactive", "":
		return Reactive, nil
	case "recorded":
		return Recorded, nil
	case "asap":
		return ASAP, nil
	}
	return 0, fmt.Errorf("unknown pace %q (want reactive, recorded or asap)", s)
}

func (p Pace) String() string {
	return [...]string{"reactive", "recorded", "asap"}[p]
}

// Header adds or overrides a handshake header: --header 'K: V'. The value
// may use ${NAME}.
type Header struct{ Name, Value string }

// ParseHeader parses "Name: value".
func ParseHeader(s string) (Header, error) {
	name, val, ok := strings.Cut(s, ":")
	name = strings.TrimSpace(name)
	if !ok || name == "" || strings.ContainsAny(name, " \t\r\n") {
		return Header{}, fmt.Errorf("--header %q: want 'Name: value'", s)
	}
	val = strings.TrimSpace(val)
	if strings.ContainsAny(val, "\r\n") {
		return Header{}, fmt.Errorf("--header %q: a value cannot span lines", s)
	}
	return Header{Name: name, Value: val}, nil
}

// Options configure a replay. The zero value replays against the recorded
// URL, reactively, with no edits.
type Options struct {
	// Target, when set, replaces the recorded URL's scheme, host and
	// port; its path and query too, when it names a path other than /.
	Target string
	Pace   Pace
	// Speed scales the recorded gaps (Recorded pace) and the connections'
	// start offsets: 2 replays twice as fast. Default 1.
	Speed float64
	// Timeout bounds each wait for the server: the handshake, the replies
	// a reactive replay waits for, the close. Default 10s.
	Timeout time.Duration
	// Headers add to or override the recorded handshake headers.
	Headers []Header
	// DropRedacted leaves out the headers the capture redacted, instead
	// of refusing to start.
	DropRedacted bool
	// TLS configures wss:// dialling; nil verifies against the system roots.
	TLS *tls.Config
	// Edits change the client's messages and select which are sent.
	Edits *Edits
	// Extract take values from the server's messages, for ${NAME}.
	Extract []Extract
	// Vars holds the values; nil makes a fresh set.
	Vars *Vars
	// Replace sends, for a connection's client message N (Replace[conn][N]),
	// this payload instead of the recorded one. Edits still apply to it.
	Replace map[capture.ConnID]map[int][]byte
	// Capture, when set, records the new run.
	Capture *capture.Writer
	// Progress, when set, is called as the replay goes (from several
	// goroutines; it must be safe for that).
	Progress func(Progress)
}

// Progress reports how one connection's replay goes.
type Progress struct {
	Conn     capture.ConnID
	State    string // "waiting", "connected", "sending", "closing", "done", "failed"
	Sent     int
	Total    int // client messages to send
	Received int
	Err      error
}

// ConnResult is what the replay of one connection did.
type ConnResult struct {
	Conn        capture.ConnID // the connection in the recording
	NewConn     capture.ConnID // its id in Options.Capture, if any
	URL         string         // what was dialled
	Subprotocol string         // what the server chose
	Sent        int
	SentAt      []time.Time // when each message sent was written
	Total       int         // client messages selected to send
	Timeouts    int         // waits for the server that ran out
	Correlated  int         // messages in which a recorded extracted value was replaced
	Skipped     []string
	// Expected are the recorded server messages that followed what was
	// sent; Got the server's messages in this run, in order.
	Expected []Step
	Got      []Step
	// Close is how the server closed in this run, nil if it did not.
	Close *capture.Close
	Err   error
}

// Result is the outcome of a replay.
type Result struct {
	Conns []*ConnResult
	Vars  *Vars
	// Unmatched names the extractions that never matched.
	Unmatched []string
}

// Err returns the first connection's error.
func (r *Result) Err() error {
	for _, c := range r.Conns {
		if c.Err != nil {
			return fmt.Errorf("connection %d: %w", c.Conn, c.Err)
		}
	}
	return nil
}

// Conn pairs a recorded connection's id with its script.
type Conn struct {
	ID     capture.ConnID
	Script *Script
}

func (o *Options) defaults() {
	if o.Speed <= 0 {
		o.Speed = 1
	}
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	if o.Vars == nil {
		o.Vars = NewVars()
	}
}

// Run replays the client side of conns concurrently, each starting at its
// recorded offset from the first (scaled by Speed; at once with ASAP). It
// returns an error only when it could not start: a bad target, a header
// the capture redacted. How each connection went is in the Result.
func Run(ctx context.Context, conns []Conn, opts Options) (*Result, error) {
	opts.defaults()
	if len(conns) == 0 {
		return nil, errors.New("no connection to replay")
	}
	players := make([]*player, len(conns))
	for i, c := range conns {
		p, err := newPlayer(c, &opts)
		if err != nil {
			return nil, fmt.Errorf("connection %d: %w", c.ID, err)
		}
		players[i] = p
	}
	first := conns[0].Script.Open.Time
	for _, c := range conns {
		if c.Script.Open.Time.Before(first) {
			first = c.Script.Open.Time
		}
	}
	start := time.Now()
	var wg sync.WaitGroup
	for i, p := range players {
		p.waits = slices.ContainsFunc(players[:i], func(q *player) bool { return !q.script.Open.Time.After(p.script.Open.Time) }) ||
			slices.ContainsFunc(players[i+1:], func(q *player) bool { return q.script.Open.Time.Before(p.script.Open.Time) })
		offset := time.Duration(float64(p.script.Open.Time.Sub(first)) / opts.Speed)
		if opts.Pace == ASAP {
			offset = 0
		}
		wg.Go(func() {
			if !sleepUntil(ctx, start.Add(offset)) {
				p.res.Err = ctx.Err()
				return
			}
			p.run(ctx)
		})
	}
	wg.Wait()
	res := &Result{Vars: opts.Vars}
	for _, p := range players {
		res.Conns = append(res.Conns, p.res)
	}
	for _, e := range opts.Extract {
		if opts.Vars.Matched(e.Name) == 0 && !slices.Contains(res.Unmatched, e.Name) {
			res.Unmatched = append(res.Unmatched, e.Name)
		}
	}
	return res, nil
}

func sleepUntil(ctx context.Context, t time.Time) bool {
	d := time.Until(t)
	if d <= 0 {
		return ctx.Err() == nil
	}
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-tm.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// player replays one connection.
type player struct {
	opts   *Options
	script *Script
	res    *ConnResult
	url    string
	header []Header // the handshake, templates not yet expanded
	// waits says a connection of the run opens before this one: its
	// handshake may wait for a value that one extracts.
	waits bool
	// recorded holds, for an override of a recorded header, the value it
	// overrides.
	recorded []*string

	client []Step
	// need[i] is how many server messages a reactive replay waits for
	// before client[i]: those recorded before it that followed a message
	// that is sent (or came before the client's first).
	need []int
	// old[i] holds the extracted values as the recording had them when
	// the client sent client[i].
	old []map[string]Value

	mu       sync.Mutex
	last     int // the number of the client message sent last
	got      []Step
	notify   chan struct{} // a message arrived
	readDone chan struct{} // the reading goroutine ended
	conn     *websocket.Conn
	newConn  capture.ConnID
}

func newPlayer(c Conn, opts *Options) (*player, error) {
	s := c.Script
	p := &player{opts: opts, script: s, res: &ConnResult{Conn: c.ID},
		notify: make(chan struct{}, 1), readDone: make(chan struct{})}
	u, err := targetURL(s.Open.URL, opts.Target)
	if err != nil {
		return nil, err
	}
	p.url, p.res.URL = u, u
	if p.header, err = handshakeHeaders(s.Open, opts.Headers, opts.DropRedacted); err != nil {
		return nil, err
	}
	p.recorded = make([]*string, len(p.header))
	for i, h := range p.header[len(p.header)-len(opts.Headers):] {
		if v := recordedValue(s.Open, h.Name); v != nil && !capture.IsRedacted(s.Open.Redacted, h.Name) {
			p.recorded[len(p.header)-len(opts.Headers)+i] = v
		}
	}
	sent := map[int]bool{0: true}
	vals := map[string]Value{}
	have := 0
	for _, st := range s.Steps {
		if st.Dir == capture.ServerToClient {
			for _, e := range opts.Extract {
				if v, ok := e.From(st.Data); ok {
					vals[e.Name] = v
				}
			}
			if sent[st.After] {
				have++
				p.res.Expected = append(p.res.Expected, st)
			}
			continue
		}
		if !opts.Edits.Sends(st.N) {
			continue
		}
		sent[st.N] = true
		p.client = append(p.client, st)
		p.need = append(p.need, have)
		p.old = append(p.old, maps.Clone(vals))
	}
	p.res.Total = len(p.client)
	return p, nil
}

// targetURL applies --target to the recorded URL. The recorded path and
// query are kept as they were, byte for byte, unless the target names a
// path.
func targetURL(recorded, target string) (string, error) {
	if target == "" {
		return recorded, nil
	}
	t, err := url.Parse(target)
	if err != nil {
		return "", fmt.Errorf("--target %q: %w", target, err)
	}
	switch t.Scheme {
	case "ws", "wss":
	case "http":
		t.Scheme = "ws"
	case "https":
		t.Scheme = "wss"
	default:
		return "", fmt.Errorf("--target %q: want a ws:// or wss:// URL", target)
	}
	if t.Host == "" {
		return "", fmt.Errorf("--target %q: it names no host", target)
	}
	if t.User != nil {
		return "", fmt.Errorf("--target %q: credentials in the URL are not sent; use --header 'Authorization: …'", target)
	}
	rest := pathAndQuery(target)
	if rest == "" || rest == "/" {
		rest = pathAndQuery(recorded)
	}
	return t.Scheme + "://" + t.Host + rest, nil
}

// pathAndQuery returns what follows scheme://host in u, as written.
func pathAndQuery(u string) string {
	_, rest, ok := strings.Cut(u, "://")
	if !ok {
		return ""
	}
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		rest = rest[i:]
		if j := strings.IndexByte(rest, '#'); j >= 0 {
			rest = rest[:j]
		}
		return rest
	}
	return ""
}

// recordedValue is the recorded request's value of header name, if any.
func recordedValue(open *capture.ConnOpen, name string) *string {
	if vs := open.RequestHeaders.Values(name); len(vs) > 0 {
		v := strings.Join(vs, ", ")
		return &v
	}
	return nil
}

// notEndToEnd are the headers a replay regenerates rather than sends as
// recorded: hop-by-hop ones (RFC 9110, section 7.6.1), those the WebSocket
// handshake computes afresh, and Host, which follows the target.
var notEndToEnd = []string{"Connection", "Keep-Alive", "Proxy-Connection", "Proxy-Authorization", "Proxy-Authenticate",
	"Te", "Trailer", "Transfer-Encoding", "Upgrade", "Host", "Content-Length",
	"Sec-Websocket-Key", "Sec-Websocket-Version", "Sec-Websocket-Extensions", "Sec-Websocket-Accept"}

// RecordedHeaders returns the recorded upgrade request's end-to-end
// headers, in their order and case (Sec-WebSocket-Protocol, the
// subprotocol offer, among them): what a replay or a generated client
// sends. Hop-by-hop headers, those the handshake computes afresh and Host
// are left out. Redacted ones are kept, with the placeholder value: see
// capture.IsRedacted.
func RecordedHeaders(open *capture.ConnOpen) []Header {
	var fields []capture.HeaderField
	if open.RequestHeaderList != nil {
		fields = open.RequestHeaderList
	} else {
		for name, vs := range open.RequestHeaders {
			for _, v := range vs {
				fields = append(fields, capture.HeaderField{Name: name, Value: v})
			}
		}
		slices.SortStableFunc(fields, func(a, b capture.HeaderField) int { return strings.Compare(a.Name, b.Name) })
	}
	hop := hopByHop(fields)
	var out []Header
	for _, f := range fields {
		if !hop[http.CanonicalHeaderKey(f.Name)] {
			out = append(out, Header{Name: f.Name, Value: f.Value})
		}
	}
	return out
}

// hopByHop returns the canonical names a replay does not send as
// recorded: notEndToEnd, and those the Connection header names.
func hopByHop(fields []capture.HeaderField) map[string]bool {
	hop := map[string]bool{}
	for _, n := range notEndToEnd {
		hop[n] = true
	}
	for _, f := range fields {
		if http.CanonicalHeaderKey(f.Name) == "Connection" {
			for tok := range strings.SplitSeq(f.Value, ",") {
				hop[http.CanonicalHeaderKey(strings.TrimSpace(tok))] = true
			}
		}
	}
	return hop
}

// handshakeHeaders returns the headers a replay sends: the recorded
// end-to-end ones, then the overrides.
func handshakeHeaders(open *capture.ConnOpen, overrides []Header, dropRedacted bool) ([]Header, error) {
	overridden := func(name string) bool {
		return slices.ContainsFunc(overrides, func(h Header) bool { return strings.EqualFold(h.Name, name) })
	}
	var out []Header
	for _, h := range RecordedHeaders(open) {
		if overridden(h.Name) {
			continue
		}
		if capture.IsRedacted(open.Redacted, h.Name) {
			if dropRedacted {
				continue
			}
			return nil, fmt.Errorf("the capture redacted the %s header; supply it with --header '%s: …', or leave it out with --drop-redacted", h.Name, h.Name)
		}
		out = append(out, h)
	}
	for _, h := range overrides {
		if notSendable(h.Name) {
			return nil, fmt.Errorf("--header %s: the replay makes this header itself", h.Name)
		}
	}
	return append(out, overrides...), nil
}

// notSendable reports whether an override names a header the handshake
// makes itself (Host may be overridden).
func notSendable(name string) bool {
	key := http.CanonicalHeaderKey(name)
	return key != "Host" && slices.Contains(notEndToEnd, key)
}

func (p *player) progress(state string, err error) {
	if p.opts.Progress == nil {
		return
	}
	p.mu.Lock()
	pr := Progress{Conn: p.res.Conn, State: state, Sent: p.res.Sent, Total: p.res.Total, Received: len(p.got), Err: err}
	p.mu.Unlock()
	p.opts.Progress(pr)
}

func (p *player) fail(err error) {
	p.res.Err = err
	p.progress("failed", err)
}

// requestHeader expands the handshake's templates. A value that is not
// extracted yet is waited for, up to the timeout, when an earlier
// connection of the run may extract it; the first connection sends the
// header as recorded instead (or not at all).
func (p *player) requestHeader(ctx context.Context) (http.Header, string, error) {
	deadline := time.Now().Add(p.opts.Timeout)
	for {
		h := http.Header{}
		host := ""
		var unset *errUnset
		for i, f := range p.header {
			v, err := expand(f.Value, p.opts.Vars.Get, func(v Value) string { return v.Str })
			if err != nil && !p.waits {
				p.res.Skipped = append(p.res.Skipped, fmt.Sprintf("handshake: --header %s: %s; sent as recorded", f.Name, err))
				if i < len(p.recorded) && p.recorded[i] != nil {
					v = *p.recorded[i]
				} else {
					continue
				}
			} else if err != nil {
				errors.As(err, &unset)
				break
			}
			key := http.CanonicalHeaderKey(f.Name)
			switch key {
			case "Host":
				host = v
			case "Sec-Websocket-Protocol":
				h[key] = append(h[key], v)
			default:
				// As recorded: the name's case is kept.
				h[f.Name] = append(h[f.Name], v)
			}
		}
		if unset == nil {
			return h, host, nil
		}
		p.progress("waiting", nil)
		wait := p.opts.Vars.wait()
		if _, ok := p.opts.Vars.Get(unset.name); ok {
			continue
		}
		tm := time.NewTimer(time.Until(deadline))
		select {
		case <-wait:
			tm.Stop()
		case <-tm.C:
			return nil, "", fmt.Errorf("the handshake needs ${%s}, which no connection extracted within %s", unset.name, p.opts.Timeout)
		case <-ctx.Done():
			tm.Stop()
			return nil, "", ctx.Err()
		}
	}
}

func (p *player) run(ctx context.Context) {
	defer p.progress("done", nil)
	h, host, err := p.requestHeader(ctx)
	if err != nil {
		p.fail(err)
		return
	}
	d := websocket.Dialer{
		TLSClientConfig:   p.opts.TLS,
		HandshakeTimeout:  p.opts.Timeout,
		EnableCompression: strings.Contains(p.script.Open.Extensions, "permessage-deflate"),
	}
	if host != "" {
		h["Host"] = []string{host}
	}
	opened := time.Now()
	conn, resp, err := d.DialContext(ctx, p.url, h)
	if err != nil {
		p.recordRefusal(opened, h, resp, err)
		p.fail(dialError(p.url, resp, err))
		return
	}
	defer conn.Close()
	conn.SetReadLimit(0)
	p.conn = conn
	p.res.Subprotocol = conn.Subprotocol()
	p.recordOpen(opened, resp, conn)
	p.progress("connected", nil)

	go p.read(conn)
	p.send(ctx, conn)
	p.close(conn)
}

// dialError says why a handshake failed, in words a user can act on.
func dialError(u string, resp *http.Response, err error) error {
	if resp != nil {
		return fmt.Errorf("%s refused the handshake: %s", u, resp.Status)
	}
	var verr *tls.CertificateVerificationError
	if errors.As(err, &verr) {
		pu, _ := url.Parse(u)
		host := u
		if pu != nil {
			host = pu.Hostname()
		}
		return tlsfacts.Explain(err, host)
	}
	return fmt.Errorf("dial %s: %w", u, err)
}

// send sends the selected client messages, paced.
func (p *player) send(ctx context.Context, conn *websocket.Conn) {
	deficit := 0
	start := time.Now()
	for i, st := range p.client {
		switch p.opts.Pace {
		case Reactive:
			if need := p.need[i] - deficit; !p.waitFor(ctx, need) {
				if ctx.Err() != nil {
					return
				}
				if p.ended() {
					p.fail(fmt.Errorf("the server closed the connection before client message %d was sent", st.N))
					return
				}
				p.res.Timeouts++
				deficit += need - p.received()
			}
		case Recorded:
			at := start.Add(time.Duration(float64(st.Time.Sub(p.script.Open.Time)) / p.opts.Speed))
			if !sleepUntil(ctx, at) {
				return
			}
		}
		data := st.Data
		if r := p.opts.Replace[p.res.Conn]; r != nil {
			if d, ok := r[st.N]; ok {
				data = d
			}
		}
		correlated := false
		for name, old := range p.old[i] {
			if cur, ok := p.opts.Vars.Get(name); ok {
				if next := correlate(data, old, cur); len(next) != len(data) || string(next) != string(data) {
					data, correlated = next, true
				}
			}
		}
		if correlated {
			p.res.Correlated++
		}
		data, _, skipped, err := p.opts.Edits.Apply(data, st.Opcode, p.opts.Vars.Get)
		if err != nil {
			p.fail(fmt.Errorf("client message %d: %w", st.N, err))
			return
		}
		for _, s := range skipped {
			p.res.Skipped = append(p.res.Skipped, fmt.Sprintf("client message %d: %s; sent without that edit", st.N, s))
		}
		if p.ended() {
			p.fail(fmt.Errorf("the server closed the connection before client message %d was sent", st.N))
			return
		}
		// Noted and recorded before the write, as the proxy records a frame
		// before it forwards it: the reply may arrive before WriteMessage
		// returns, and must come after the message in the capture.
		now := time.Now()
		p.mu.Lock()
		p.last = st.N
		p.mu.Unlock()
		p.record(capture.ClientToServer, st.Opcode, now, data)
		conn.SetWriteDeadline(now.Add(p.opts.Timeout))
		if err := conn.WriteMessage(int(st.Opcode), data); err != nil {
			p.fail(fmt.Errorf("sending client message %d: %w", st.N, err))
			return
		}
		p.mu.Lock()
		p.res.Sent++
		p.res.SentAt = append(p.res.SentAt, now)
		p.mu.Unlock()
		p.progress("sending", nil)
	}
	// The replies to the last messages.
	if need := len(p.res.Expected) - deficit; p.opts.Pace != ASAP || need > 0 {
		if !p.waitFor(ctx, need) && ctx.Err() == nil && !p.ended() {
			p.res.Timeouts++
		}
	}
}

func (p *player) received() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.got)
}

func (p *player) ended() bool {
	select {
	case <-p.readDone:
		return true
	default:
		return false
	}
}

// waitFor waits until n server messages have arrived, the timeout passes
// or the connection ends.
func (p *player) waitFor(ctx context.Context, n int) bool {
	tm := time.NewTimer(p.opts.Timeout)
	defer tm.Stop()
	for {
		if p.received() >= n {
			return true
		}
		select {
		case <-p.notify:
		case <-p.readDone:
			return p.received() >= n
		case <-tm.C:
			return false
		case <-ctx.Done():
			return false
		}
	}
}

// read is the connection's one reader: it collects the server's messages,
// extracts values from them and records them.
func (p *player) read(conn *websocket.Conn) {
	defer close(p.readDone)
	conn.SetPingHandler(func(data string) error {
		now := time.Now()
		p.record(capture.ServerToClient, capture.OpPing, now, []byte(data))
		err := conn.WriteControl(websocket.PongMessage, []byte(data), now.Add(p.opts.Timeout))
		if err == nil {
			p.record(capture.ClientToServer, capture.OpPong, time.Now(), []byte(data))
		}
		return err
	})
	conn.SetPongHandler(func(data string) error {
		p.record(capture.ServerToClient, capture.OpPong, time.Now(), []byte(data))
		return nil
	})
	for {
		op, data, err := conn.ReadMessage()
		now := time.Now()
		if err != nil {
			var ce *websocket.CloseError
			if errors.As(err, &ce) {
				c := &capture.Close{Time: now, Dir: capture.ServerToClient, Code: ce.Code, Reason: ce.Text}
				p.mu.Lock()
				p.res.Close = c
				p.mu.Unlock()
				p.recordClose(c)
			}
			return
		}
		for _, e := range p.opts.Extract {
			if v, ok := e.From(data); ok {
				p.opts.Vars.Set(e.Name, v)
			}
		}
		p.mu.Lock()
		p.got = append(p.got, Step{Dir: capture.ServerToClient, Opcode: capture.Opcode(op), Time: now, Data: data, N: len(p.got) + 1, After: p.last})
		p.res.Got = p.got
		p.mu.Unlock()
		p.record(capture.ServerToClient, capture.Opcode(op), now, data)
		select {
		case p.notify <- struct{}{}:
		default:
		}
		p.progress("receiving", nil)
	}
}

// close ends the connection as the recording did: with the client's close
// code, or by waiting for the server's close when the server closed first.
func (p *player) close(conn *websocket.Conn) {
	p.progress("closing", nil)
	code, reason := websocket.CloseNormalClosure, ""
	if c := p.script.Close; c != nil && c.Dir == capture.ClientToServer {
		code, reason = c.Code, c.Reason
	}
	serverFirst := p.script.Close != nil && p.script.Close.Dir == capture.ServerToClient
	if serverFirst && len(p.client) == countSent(p.script) {
		// The server closed the recorded session: give it the time to
		// close this one; gorilla answers its close frame.
		tm := time.NewTimer(p.opts.Timeout)
		select {
		case <-p.readDone:
		case <-tm.C:
		}
		tm.Stop()
	}
	if !p.ended() {
		if code == websocket.CloseAbnormalClosure {
			conn.Close()
		} else {
			msg := websocket.FormatCloseMessage(code, reason)
			if err := conn.WriteControl(websocket.CloseMessage, msg, time.Now().Add(p.opts.Timeout)); err == nil {
				p.recordClose(&capture.Close{Time: time.Now(), Dir: capture.ClientToServer, Code: code, Reason: reason})
			}
			tm := time.NewTimer(p.opts.Timeout)
			select {
			case <-p.readDone:
			case <-tm.C:
				conn.Close()
			}
			tm.Stop()
		}
	}
	conn.Close()
	<-p.readDone
	p.mu.Lock()
	p.res.Got = slices.Clip(p.got)
	p.mu.Unlock()
	p.recordEnd()
}

// countSent is how many client messages the recording has.
func countSent(s *Script) int {
	n := 0
	for _, st := range s.Steps {
		if st.Dir == capture.ClientToServer {
			n++
		}
	}
	return n
}

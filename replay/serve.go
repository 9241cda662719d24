package replay

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/wstap/wstap/capture"
	"github.com/wstap/wstap/internal/sessiondiff"
)

// The mock server plays the server side of one recorded connection to
// each client that connects: the server's messages recorded before the
// client's first, then, after each client message, those that followed
// it in the recording. Each client message is compared with the recorded
// one; a difference is a Mismatch, and playback goes on regardless.

// ServeOptions configure a mock server. The zero value plays the
// recording as fast as the client goes, unedited, with a 10s timeout.
type ServeOptions struct {
	// Pace is ASAP (the zero value, Reactive, means ASAP too: a mock
	// always waits for the client's messages) or Recorded: before each
	// server message, the recorded gap since the step before it (either
	// direction), scaled by Speed.
	Pace Pace
	// Speed scales the recorded gaps: 2 plays twice as fast. Default 1.
	Speed float64
	// Edits change the server messages the mock sends. Only Sets and Subs
	// apply; Drop and Only are not used.
	Edits *Edits
	// Extract take values from each client's messages, for ${NAME} in
	// Edits and for correlation: where a recorded server message holds the
	// value an extraction had on the recorded client's messages, the value
	// it has on this client's messages is sent instead.
	Extract []Extract
	// Ignore lists the paths left out when a client's message is compared
	// with the recorded one.
	Ignore []sessiondiff.Path
	// Timeout bounds each write and the close handshake. Default 10s.
	Timeout time.Duration
	// OnMismatch, when set, is called for each mismatch as it happens,
	// from the goroutine that reads that client: it must be safe for
	// concurrent calls, and return promptly.
	OnMismatch func(Mismatch)
}

// Mismatch is a client message that differs from the recorded one, or
// one beyond the recording.
type Mismatch struct {
	Client  int    // 1, 2, 3 … in order of connection
	Remote  string // the client's address
	N       int    // the client message's number, from 1
	Changes []sessiondiff.Change
	// Unexpected says the recorded client sent fewer messages: there was
	// none to compare with (Changes is nil).
	Unexpected bool
}

// SessionResult is what one client's session did.
type SessionResult struct {
	Client      int
	Remote      string
	URI         string // the request's path and query, as the client sent it
	Subprotocol string // what the mock chose; "" when the client offered none it recorded
	Start, End  time.Time
	Received    int // the client's messages
	Sent        int // the mock's messages
	Expected    int // the client messages in the recording
	// Differing counts the mismatches, Mismatches holds the first
	// maxKeptMismatches of them.
	Differing  int
	Mismatches []Mismatch
	// Complete says every recorded server message was sent.
	Complete bool
	// Close is the first close frame, by the client (capture.ClientToServer)
	// or by the mock (capture.ServerToClient); nil when the connection
	// ended without one.
	Close *capture.Close
	// Notes tell what the mock did not do as asked: an edit it skipped, a
	// path other than the recorded one.
	Notes []string
	// Err says why the session ended abnormally: a write that failed, a
	// connection lost without a close.
	Err error
	// Live says the session had not ended when the result was taken.
	Live bool
}

// Ended says, in a few words, how the session ended.
func (r SessionResult) Ended() string {
	switch {
	case r.Live:
		return "still open"
	case r.Err != nil:
		return r.Err.Error()
	case r.Close == nil:
		return "ended without a close"
	}
	by := "the client"
	if r.Close.Dir == capture.ServerToClient {
		by = "the mock"
	}
	reason := ""
	if r.Close.Reason != "" {
		reason = " " + r.Close.Reason
	}
	return fmt.Sprintf("%s closed (%d%s)", by, r.Close.Code, reason)
}

// ServeSummary adds up a mock server's sessions.
type ServeSummary struct {
	Clients  int // sessions that passed the handshake
	Live     int // of them, those still open
	Received int // client messages, all sessions
	Sent     int // server messages, all sessions
	// Differing counts the mismatches of every session; Mismatches lists
	// those the sessions kept, in order of connection.
	Differing  int
	Mismatches []Mismatch
	Sessions   []SessionResult // in order of connection
}

// maxKeptMismatches bounds the mismatches a session keeps for its result;
// a client that goes on sending unexpected messages is counted, not kept.
const maxKeptMismatches = 100

// sessionsBuffer is how many ended sessions Sessions holds for a reader
// that is behind.
const sessionsBuffer = 64

// Server is a mock server: an http.Handler that plays a recorded
// connection's server side to each WebSocket client. Serve it with an
// http.Server; Shutdown ends the sessions, which the http.Server does not
// track once they are upgraded.
type Server struct {
	script   *Script
	opts     ServeOptions
	upgrader websocket.Upgrader
	client   []Step
	nserver  int
	// old[k] holds the extracted values as the recorded client's messages
	// 1 … k had them.
	old []map[string]Value

	ctx      context.Context // ended by Shutdown
	cancel   context.CancelFunc
	force    chan struct{} // closed when Shutdown gives up waiting
	sessions chan SessionResult

	mu      sync.Mutex
	closed  bool
	wg      sync.WaitGroup
	clients int
	all     []*serveSession
}

// NewServer returns a mock server for s.
func NewServer(s *Script, opts ServeOptions) (*Server, error) {
	if s == nil || s.Open == nil {
		return nil, errors.New("serve: no recorded connection")
	}
	if opts.Speed <= 0 {
		opts.Speed = 1
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 10 * time.Second
	}
	if opts.Pace == Reactive {
		opts.Pace = ASAP
	}
	srv := &Server{script: s, opts: opts, client: s.Client(), sessions: make(chan SessionResult, sessionsBuffer),
		force: make(chan struct{})}
	srv.nserver = len(s.Steps) - len(srv.client)
	srv.ctx, srv.cancel = context.WithCancel(context.Background())
	srv.upgrader = websocket.Upgrader{
		// A local mock: any page may connect. Who may reach it is the
		// listen address's business.
		CheckOrigin:       func(*http.Request) bool { return true },
		EnableCompression: strings.Contains(s.Open.Extensions, "permessage-deflate"),
		HandshakeTimeout:  opts.Timeout,
		Error: func(w http.ResponseWriter, r *http.Request, status int, reason error) {
			http.Error(w, "wstap serve: a mock WebSocket server: "+reason.Error(), status)
		},
	}
	if s.Open.Subprotocol != "" {
		srv.upgrader.Subprotocols = []string{s.Open.Subprotocol}
	}
	vals := map[string]Value{}
	srv.old = []map[string]Value{vals}
	for _, st := range srv.client {
		vals = extractInto(vals, opts.Extract, st.Data)
		srv.old = append(srv.old, vals)
	}
	return srv, nil
}

// extractInto returns vals with what exs take from data; vals itself is
// not changed, so that earlier snapshots stay as they were.
func extractInto(vals map[string]Value, exs []Extract, data []byte) map[string]Value {
	cloned := false
	for _, e := range exs {
		if v, ok := e.From(data); ok {
			if !cloned {
				vals, cloned = maps.Clone(vals), true
			}
			vals[e.Name] = v
		}
	}
	return vals
}

// Sessions returns a channel that receives each session's result as it
// ends. It holds sessionsBuffer results for a reader that is behind; a
// session that ends while it is full is not delivered there (Summary still
// has it). It is never closed.
func (s *Server) Sessions() <-chan SessionResult { return s.sessions }

// Summary adds up the sessions so far, the live ones included.
func (s *Server) Summary() ServeSummary {
	s.mu.Lock()
	all := slices.Clone(s.all)
	s.mu.Unlock()
	var sum ServeSummary
	for _, ss := range all {
		r := ss.result()
		sum.Clients++
		if r.Live {
			sum.Live++
		}
		sum.Received += r.Received
		sum.Sent += r.Sent
		sum.Differing += r.Differing
		sum.Mismatches = append(sum.Mismatches, r.Mismatches...)
		sum.Sessions = append(sum.Sessions, r)
	}
	return sum
}

// Shutdown refuses new clients, closes each live session with 1001 (going
// away) and waits until the client answers or Timeout passes. When ctx ends
// first, it drops the connections that remain, waits for their handlers and
// returns ctx's error.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.cancel()
	done := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		s.mu.Lock()
		select {
		case <-s.force:
		default:
			close(s.force)
		}
		s.mu.Unlock()
		<-done
		return ctx.Err()
	}
}

// ServeHTTP upgrades the request and plays the recording to the client,
// whatever path it asked for. It returns when the session has ended.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		http.Error(w, "wstap serve: shutting down", http.StatusServiceUnavailable)
		return
	}
	s.wg.Add(1)
	s.mu.Unlock()
	defer s.wg.Done()

	conn, err := s.upgrader.Upgrade(w, r, nil)
	if err != nil {
		return // the upgrader answered with an HTTP error
	}
	conn.SetReadLimit(0)
	ss := &serveSession{srv: s, conn: conn, steps: slices.Clone(s.script.Steps),
		notify: make(chan struct{}, 1), readDone: make(chan struct{})}
	ss.res = SessionResult{Remote: r.RemoteAddr, URI: r.RequestURI, Subprotocol: conn.Subprotocol(),
		Start: time.Now(), Expected: len(s.client), Live: true}
	if want := s.script.RequestURI(); r.RequestURI != want {
		ss.res.Notes = append(ss.res.Notes, fmt.Sprintf("the client asked for %s, the recorded client for %s", r.RequestURI, want))
	}
	s.mu.Lock()
	s.clients++
	ss.res.Client = s.clients
	s.all = append(s.all, ss)
	s.mu.Unlock()

	ss.play()

	res := ss.result()
	select {
	case s.sessions <- res:
	default:
	}
}

// serveSession is one client's session. Its reader, readClient, is the
// connection's one reading goroutine; play, on the handler's goroutine,
// is its one writer (gorilla's WriteControl, which the reader's close and
// ping handlers use, may run beside it).
type serveSession struct {
	srv   *Server
	conn  *websocket.Conn
	steps []Step // this session's copy; payloads are never written to

	mu      sync.Mutex
	res     SessionResult
	arrived []arrival // the client's messages 1 … len(recorded client steps)
	closing atomic.Bool

	notify   chan struct{} // a client message arrived
	readDone chan struct{} // readClient returned
}

// arrival is a client message as the player needs it: when it came, and
// the values extracted from the client's messages up to it.
type arrival struct {
	at   time.Time
	vals map[string]Value
}

func (ss *serveSession) result() SessionResult {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	r := ss.res
	r.Mismatches = slices.Clip(r.Mismatches)
	r.Notes = slices.Clip(r.Notes)
	return r
}

func (ss *serveSession) note(format string, a ...any) {
	ss.mu.Lock()
	ss.res.Notes = append(ss.res.Notes, fmt.Sprintf(format, a...))
	ss.mu.Unlock()
}

func (ss *serveSession) setClose(c *capture.Close) {
	ss.mu.Lock()
	if ss.res.Close == nil {
		ss.res.Close = c
	}
	ss.mu.Unlock()
}

func (ss *serveSession) fail(err error) {
	ss.mu.Lock()
	if ss.res.Err == nil {
		ss.res.Err = err
	}
	ss.mu.Unlock()
}

// play sends the recorded server messages as the client's messages come,
// then ends the session as the recording did.
func (ss *serveSession) play() {
	defer func() {
		ss.closing.Store(true)
		ss.conn.Close()
		<-ss.readDone
		ss.mu.Lock()
		ss.res.End, ss.res.Live = time.Now(), false
		ss.mu.Unlock()
	}()
	go ss.readClient()

	s := ss.srv
	anchor := time.Now() // when the step before this one happened in this session
	prevAt := s.script.Open.Time
	for _, st := range ss.steps {
		if st.Dir == capture.ClientToServer {
			a, ok := ss.waitClient(st.N)
			if !ok {
				ss.finish(false)
				return
			}
			anchor, prevAt = a.at, st.Time
			continue
		}
		if s.opts.Pace == Recorded {
			gap := time.Duration(float64(st.Time.Sub(prevAt)) / s.opts.Speed)
			if !ss.sleepUntil(anchor.Add(gap)) {
				ss.finish(false)
				return
			}
		}
		if err := ss.send(st); err != nil {
			if !errors.Is(err, websocket.ErrCloseSent) { // else the client closed first, and gorilla answered it
				ss.fail(err)
			}
			return
		}
		anchor, prevAt = time.Now(), st.Time
	}
	ss.mu.Lock()
	ss.res.Complete = true
	ss.mu.Unlock()
	ss.finish(true)
}

// waitClient waits for client message n; false when the client went away
// or the server shuts down first.
func (ss *serveSession) waitClient(n int) (arrival, bool) {
	for {
		ss.mu.Lock()
		if len(ss.arrived) >= n {
			a := ss.arrived[n-1]
			ss.mu.Unlock()
			return a, true
		}
		ss.mu.Unlock()
		select {
		case <-ss.notify:
		case <-ss.readDone:
			ss.mu.Lock()
			ok := len(ss.arrived) >= n
			var a arrival
			if ok {
				a = ss.arrived[n-1]
			}
			ss.mu.Unlock()
			if ok {
				return a, true
			}
			return arrival{}, false
		case <-ss.srv.ctx.Done():
			return arrival{}, false
		}
	}
}

// sleepUntil waits until t; false when the client went away or the server
// shuts down first.
func (ss *serveSession) sleepUntil(t time.Time) bool {
	d := time.Until(t)
	if d <= 0 {
		return true
	}
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-tm.C:
		return true
	case <-ss.readDone:
		return false
	case <-ss.srv.ctx.Done():
		return false
	}
}

// valsAfter returns the values extracted from the client's messages 1 … k.
func (ss *serveSession) valsAfter(k int) map[string]Value {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if k < 1 || k > len(ss.arrived) {
		return nil
	}
	return ss.arrived[k-1].vals
}

// send sends one recorded server message, correlated and edited with the
// values of the client's messages up to the one it followed.
func (ss *serveSession) send(st Step) error {
	s := ss.srv
	vals := ss.valsAfter(st.After)
	data := st.Data
	for _, name := range slices.Sorted(maps.Keys(s.old[st.After])) {
		if cur, ok := vals[name]; ok {
			data = correlate(data, s.old[st.After][name], cur)
		}
	}
	edited, _, skipped, err := s.opts.Edits.Apply(data, st.Opcode, func(name string) (Value, bool) {
		v, ok := vals[name]
		return v, ok
	})
	for _, sk := range skipped {
		ss.note("server message %d: %s; sent without that edit", st.N, sk)
	}
	if err != nil {
		ss.note("server message %d: %v; sent unedited", st.N, err)
	} else {
		data = edited
	}
	ss.conn.SetWriteDeadline(time.Now().Add(s.opts.Timeout))
	if err := ss.conn.WriteMessage(int(st.Opcode), data); err != nil {
		return fmt.Errorf("sending server message %d: %w", st.N, err)
	}
	ss.mu.Lock()
	ss.res.Sent++
	ss.mu.Unlock()
	return nil
}

// finish ends the session: as the recording did when it was played to
// the end (played) and the server closed it, by waiting for the client's
// close otherwise; with 1001 when the server shuts down.
func (ss *serveSession) finish(played bool) {
	s := ss.srv
	if c := s.script.Close; played && c != nil && c.Dir == capture.ServerToClient {
		ss.closeWith(c.Code, c.Reason)
		return
	}
	select {
	case <-ss.readDone:
		return
	case <-s.ctx.Done():
		ss.closeWith(websocket.CloseGoingAway, "the mock server is shutting down")
	}
}

// closeWith sends a close frame and waits, up to Timeout, for the client's
// answer. Codes that never go on the wire are honoured as well as they can
// be: 1005 is a close frame without a code, 1006 and 1015 drop the
// connection. See RFC 6455, section 7.4.1.
func (ss *serveSession) closeWith(code int, reason string) {
	s := ss.srv
	switch code {
	case websocket.CloseAbnormalClosure, websocket.CloseTLSHandshake:
		return // play's deferred Close drops the connection
	}
	if len(reason) > 123 {
		reason = reason[:123] // a control frame's payload is 125 bytes at most
	}
	err := ss.conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, reason), time.Now().Add(s.opts.Timeout))
	if err != nil {
		if !errors.Is(err, websocket.ErrCloseSent) {
			ss.fail(fmt.Errorf("sending the close: %w", err))
		}
		return
	}
	ss.setClose(&capture.Close{Time: time.Now(), Dir: capture.ServerToClient, Code: code, Reason: reason})
	tm := time.NewTimer(s.opts.Timeout)
	defer tm.Stop()
	select {
	case <-ss.readDone:
	case <-tm.C:
		ss.fail(fmt.Errorf("the client did not answer the close within %s", s.opts.Timeout))
	case <-s.force:
	}
}

// readClient is the connection's one reader: it numbers the client's
// messages, compares each with the recorded one, extracts values from it
// and hands it to the player.
func (ss *serveSession) readClient() {
	defer close(ss.readDone)
	s := ss.srv
	vals := map[string]Value{}
	for n := 1; ; n++ {
		op, data, err := ss.conn.ReadMessage()
		now := time.Now()
		if err != nil {
			var ce *websocket.CloseError
			switch {
			case errors.As(err, &ce) && ce.Code != websocket.CloseAbnormalClosure:
				ss.setClose(&capture.Close{Time: now, Dir: capture.ClientToServer, Code: ce.Code, Reason: ce.Text})
			case ss.closing.Load():
			default:
				ss.mu.Lock()
				if ss.res.Close == nil {
					ss.res.Err = errors.New("the client dropped the connection without a close")
				}
				ss.mu.Unlock()
			}
			return
		}
		got := sessiondiff.Message{Index: n, Dir: capture.ClientToServer, Opcode: capture.Opcode(op), Time: now, Data: data}
		var m *Mismatch
		if n <= len(s.client) {
			want := s.client[n-1]
			rec := sessiondiff.Message{Index: n, Dir: want.Dir, Opcode: want.Opcode, Time: want.Time, Data: want.Data}
			if ch := sessiondiff.Compare(rec, got, sessiondiff.Options{Ignore: s.opts.Ignore}); ch != nil {
				m = &Mismatch{N: n, Changes: ch}
			}
		} else {
			m = &Mismatch{N: n, Unexpected: true}
		}
		vals = extractInto(vals, s.opts.Extract, data)
		ss.mu.Lock()
		ss.res.Received++
		if n <= len(s.client) {
			ss.arrived = append(ss.arrived, arrival{at: now, vals: vals})
		}
		if m != nil {
			m.Client, m.Remote = ss.res.Client, ss.res.Remote
			ss.res.Differing++
			if len(ss.res.Mismatches) < maxKeptMismatches {
				ss.res.Mismatches = append(ss.res.Mismatches, *m)
			}
		}
		ss.mu.Unlock()
		select {
		case ss.notify <- struct{}{}:
		default:
		}
		if m != nil && s.opts.OnMismatch != nil {
			s.opts.OnMismatch(*m)
		}
	}
}

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/wstap/wstap/capture"
	"github.com/wstap/wstap/internal/sessiondiff"
	"github.com/wstap/wstap/replay"
)

// serveOptions are the flags of `wstap serve`.
type serveOptions struct {
	conn        string
	listen      string
	allowRemote bool
	pace        string
	speed       float64
	timeout     time.Duration
	sets        []string
	subs        []string
	extracts    []string
	ignores     []string
	once        bool
	loop        bool
}

func (o *serveOptions) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.conn, "conn", "", "the recorded connection to play, `N` (default: the only one)")
	fs.StringVarP(&o.listen, "listen", "l", "127.0.0.1:8765", "address to listen on; port 0 picks a free one")
	fs.BoolVar(&o.allowRemote, "allow-remote", false, "allow a non-loopback --listen address: serve other machines")
	fs.StringVar(&o.pace, "pace", "asap", "when to send each server message: asap (as soon as the client message it followed has arrived) or recorded (the recorded gaps, scaled by --speed)")
	fs.Float64Var(&o.speed, "speed", 1, "with --pace recorded, scale the recorded gaps by 1/`F` (2 is twice as fast)")
	fs.DurationVar(&o.timeout, "timeout", 10*time.Second, "the longest wait for a write to a client and for a client's answer to a close")
	fs.StringArrayVar(&o.sets, "set", nil, "set `PATH=JSON` in every server message that has the path (sjson path, JSON literal; ${NAME} from --extract); repeatable")
	fs.StringArrayVar(&o.subs, "sub", nil, "replace in server text messages: `'REGEX=>REPL'` (Go regexp, $1 for groups, ${NAME} from --extract); repeatable")
	fs.StringArrayVar(&o.extracts, "extract", nil, "take `NAME=PATH` from each client's messages (gjson path, or /regex/ with one group), for ${NAME} and correlation; repeatable")
	fs.StringArrayVar(&o.ignores, "ignore", nil, "a JSON `PATH` whose values may differ from the recording in client messages (gjson syntax; # for any index); repeatable")
	fs.BoolVar(&o.once, "once", false, "exit when the first client's session ends")
	fs.BoolVar(&o.loop, "loop", false, "serve client after client until interrupted (the default)")
}

func newServeCommand(g *globalOptions) *cobra.Command {
	opts := &serveOptions{}
	cmd := &cobra.Command{
		Use:   "serve FILE",
		Short: "Play the server side of a recorded connection to real clients: a mock server",
		Long: `Serve a recorded WebSocket connection's server side to the clients that
connect: a mock of the recorded server, for developing or testing a client
without it. Point the client at the URL printed on start: the recorded
path and query on the --listen address (any path is served).

The handshake answers with the recorded subprotocol when the client offers
it (and with none otherwise), and negotiates permessage-deflate when the
recording had it. Each client gets its own session:

  1. on connect, the server messages recorded before the client's first
     message are sent;
  2. each message the client sends is compared with the recorded client
     message of the same number, JSON-aware (ignoring --ignore paths);
  3. then the server messages that followed that message in the recording
     are sent;
  4. when the recorded server closed the connection, and the client has
     sent every recorded message, the mock closes with the recorded code
     and reason; otherwise it waits for the client to close.

A client message that differs from the recording, or one beyond it, is a
mismatch: a line on stderr as it happens, e.g.

  client 1: message 3 differs from the recording: user.name "ann" → "bob"

and playback goes on regardless.

Pacing (--pace):
  asap      send each server message as soon as the client message it
            followed has arrived (default)
  recorded  keep the recorded gap before each server message, scaled by
            --speed

Edits and correlation, applied to the server's messages:
  --set 'user.name="bob"'       an sjson path and a JSON literal, in every
                                JSON message that has the path
  --sub 'ts=\d+=>ts=0'          a Go regexp and its replacement, in every
                                text message ($1 for groups)
  --extract rid=id              take a value from each client's messages
                                (a gjson path, or /regex/ with one group),
                                for ${rid} in --set and --sub
Wherever a recorded server message holds the value an extraction had on the
recorded client's messages (6 characters or more), the value this client
sent is used instead: with --extract rid=id, a mock that echoed the
recorded request id echoes this client's.

Clients are served one after another and at once, until SIGINT or SIGTERM
(--loop, the default), or until the first client's session ends (--once).
Then live sessions are closed with 1001 and a summary goes to stderr.

Only this machine can connect unless --allow-remote allows a non-loopback
--listen address.

EXIT STATUS
  0  every client message matched the recording
  1  an error: the capture could not be read, the address is in use
  2  usage error (a bad flag, an edit that does not parse)
  3  a client message differed from the recording (or went beyond it)
`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runServe(cmd.Context(), g, opts, args[0])
		},
	}
	opts.AddFlags(cmd.Flags())
	return cmd
}

// config parses the flags into the mock's options.
func (o *serveOptions) config() (replay.ServeOptions, error) {
	var so replay.ServeOptions
	switch o.pace {
	case "asap":
		so.Pace = replay.ASAP
	case "recorded":
		so.Pace = replay.Recorded
	default:
		return so, usagef("--pace %q: want asap or recorded", o.pace)
	}
	if o.speed <= 0 {
		return so, usagef("--speed %v: want a factor above 0", o.speed)
	}
	if o.timeout <= 0 {
		return so, usagef("--timeout %v: want a duration above 0", o.timeout)
	}
	if o.once && o.loop {
		return so, usagef("--once and --loop exclude each other")
	}
	so.Speed, so.Timeout = o.speed, o.timeout
	ed, err := parseEdits(o.sets, o.subs)
	if err != nil {
		return so, err
	}
	so.Edits = ed
	if so.Extract, err = parseExtracts(o.extracts); err != nil {
		return so, err
	}
	if err := checkNames(ed.Names(), so.Extract); err != nil {
		return so, err
	}
	if so.Ignore, err = parseIgnores(o.ignores); err != nil {
		return so, err
	}
	return so, nil
}

func runServe(ctx context.Context, g *globalOptions, o *serveOptions, path string) error {
	so, err := o.config()
	if err != nil {
		return err
	}
	if err := checkListen(o.listen, o.allowRemote); err != nil {
		return err
	}
	script, id, err := loadServeScript(path, o.conn)
	if err != nil {
		return err
	}
	var mu sync.Mutex // one line at a time on stderr
	say := func(format string, a ...any) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(g.stderr, format+"\n", a...)
	}
	so.OnMismatch = func(m replay.Mismatch) { say("%s", mismatchLine(m, len(script.Client()))) }
	srv, err := replay.NewServer(script, so)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", o.listen)
	if err != nil {
		var oe *net.OpError
		if errors.As(err, &oe) && oe.Err != nil {
			err = oe.Err
		}
		return fmt.Errorf("listen on %s: %v", o.listen, err)
	}
	hs := &http.Server{Handler: srv, ReadHeaderTimeout: 30 * time.Second}
	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()

	say("serving connection %d of %s (%s, %s) at ws://%s%s", id, path,
		serveCount(len(script.Client()), "client message"), serveCount(len(script.Server()), "server message"),
		ln.Addr(), script.RequestURI())

	var serveErr error
wait:
	for {
		select {
		case <-ctx.Done():
			break wait
		case serveErr = <-served:
			break wait
		case r := <-srv.Sessions():
			say("%s", sessionLine(r))
			if o.once {
				break wait
			}
		}
	}
	hs.Close() // the listener; upgraded sessions are the mock's to end
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		say("wstap: some clients did not answer the close in time; their connections were dropped")
	}
	for drained := false; !drained; {
		select {
		case r := <-srv.Sessions(): // those Shutdown ended
			say("%s", sessionLine(r))
		default:
			drained = true
		}
	}
	sum := srv.Summary()
	mu.Lock()
	writeServeSummary(g.stderr, sum)
	mu.Unlock()
	if serveErr != nil && !errors.Is(serveErr, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", serveErr)
	}
	if sum.Differing > 0 {
		return errDifferent
	}
	return nil
}

// loadServeScript reads the connection the mock plays.
func loadServeScript(path, conn string) (*replay.Script, capture.ConnID, error) {
	r, err := capture.Open(path)
	if err != nil {
		return nil, 0, err
	}
	defer r.Close()
	ids, err := pickConns(r, path, "--conn", conn, false)
	if err != nil {
		return nil, 0, err
	}
	s, err := replay.Load(r, ids[0])
	if err != nil {
		return nil, 0, fmt.Errorf("%s: %w", path, err)
	}
	return s, ids[0], nil
}

// serveCount is "1 client message" or "3 client messages".
func serveCount(n int, noun string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, noun)
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// mismatchLine is the stderr line of a mismatch.
func mismatchLine(m replay.Mismatch, recorded int) string {
	if m.Unexpected {
		return fmt.Sprintf("client %d: message %d is beyond the recording, which has %s", m.Client, m.N, serveCount(recorded, "client message"))
	}
	const shown = 3
	var parts []string
	for i, c := range m.Changes {
		if i == shown {
			parts = append(parts, fmt.Sprintf("and %d more", len(m.Changes)-shown))
			break
		}
		parts = append(parts, changeText(c))
	}
	return fmt.Sprintf("client %d: message %d differs from the recording: %s", m.Client, m.N, strings.Join(parts, "; "))
}

// changeText says what one change is, recorded value first.
func changeText(c sessiondiff.Change) string {
	path := c.Path
	if path != "" {
		path += " "
	}
	switch c.Kind {
	case sessiondiff.KindAdded:
		return fmt.Sprintf("%s(absent) → %s", path, c.B)
	case sessiondiff.KindRemoved:
		return fmt.Sprintf("%s%s → (absent)", path, c.A)
	case sessiondiff.KindText, sessiondiff.KindBinary:
		return fmt.Sprintf("%s%s at byte %d: %s → %s", path, c.Kind, c.Offset, c.A, c.B)
	case sessiondiff.KindOpcode:
		return fmt.Sprintf("%sopcode %s → %s", path, c.A, c.B)
	}
	return fmt.Sprintf("%s%s → %s", path, c.A, c.B)
}

// sessionLine is the stderr line of a session that ended.
func sessionLine(r replay.SessionResult) string {
	played := "played to the end"
	if !r.Complete {
		played = fmt.Sprintf("stopped after %d of %s", min(r.Received, r.Expected), serveCount(r.Expected, "recorded client message"))
	}
	diff := ""
	switch {
	case r.Differing == 1:
		diff = ", 1 mismatch"
	case r.Differing > 1:
		diff = fmt.Sprintf(", %d mismatches", r.Differing)
	}
	line := fmt.Sprintf("client %d (%s): received %d, sent %d%s; %s; %s", r.Client, r.Remote, r.Received, r.Sent, diff, played, r.Ended())
	for _, n := range r.Notes {
		line += "\n  " + n
	}
	return line
}

// writeServeSummary prints what the mock did.
func writeServeSummary(w io.Writer, sum replay.ServeSummary) {
	verdict := "every client message matched the recording"
	switch {
	case sum.Clients == 0:
		verdict = "no client connected"
	case sum.Differing == 1:
		verdict = "1 client message differed from the recording"
	case sum.Differing > 1:
		verdict = fmt.Sprintf("%d client messages differed from the recording", sum.Differing)
	}
	fmt.Fprintf(w, "served %s: received %s, sent %s; %s\n", serveCount(sum.Clients, "client"),
		serveCount(sum.Received, "message"), serveCount(sum.Sent, "message"), verdict)
}

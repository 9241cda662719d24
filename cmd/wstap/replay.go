package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/wstap/wstap/capture"
	"github.com/wstap/wstap/internal/present"
	"github.com/wstap/wstap/internal/sessiondiff"
	"github.com/wstap/wstap/replay"
)

// replayOptions are the flags of `wstap replay`.
type replayOptions struct {
	conn         string
	target       string
	pace         string
	speed        float64
	timeout      time.Duration
	sets         []string
	subs         []string
	drops        []string
	only         string
	headers      []string
	dropRedacted bool
	tls          tlsFlags
	extracts     []string
	output       string
	check        bool
	ignores      []string
	dryRun       bool
}

func (o *replayOptions) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.conn, "conn", "", "the connection(s) to replay: `N`, a list such as 1,3-5, or all (default: the only one)")
	fs.StringVar(&o.target, "target", "", "send to this ws:// or wss:// `URL` instead: its scheme, host and port replace the recorded ones, and its path and query too if it names a path")
	fs.StringVar(&o.pace, "pace", "reactive", "when to send each client message: reactive (after the server's recorded replies to the previous one arrived), recorded (the recorded gaps) or asap")
	fs.Float64Var(&o.speed, "speed", 1, "scale the recorded gaps and the connections' start offsets by 1/`F` (2 is twice as fast)")
	fs.DurationVar(&o.timeout, "timeout", 10*time.Second, "the longest wait for the server: a handshake, the replies a reactive replay waits for, the close")
	fs.StringArrayVar(&o.sets, "set", nil, "set `PATH=JSON` in every client message that has the path (sjson path, JSON literal; ${NAME} from --extract); repeatable")
	fs.StringArrayVar(&o.subs, "sub", nil, "replace in client text messages: `'REGEX=>REPL'` (Go regexp, $1 for groups, ${NAME} from --extract); repeatable")
	fs.StringArrayVar(&o.drops, "drop", nil, "do not send client message `N` (or a list such as 3,5-7); repeatable")
	fs.StringVar(&o.only, "only", "", "send only client messages `N-M` (or a list such as 1,3-5)")
	fs.StringArrayVar(&o.headers, "header", nil, "add or override a handshake header, `'K: V'` (${NAME} from --extract); repeatable")
	fs.BoolVar(&o.dropRedacted, "drop-redacted", false, "leave out the headers the capture redacted instead of refusing to start")
	fs.BoolVar(&o.tls.insecure, "insecure", false, "do not verify the server's TLS certificate")
	fs.StringArrayVar(&o.tls.upstreamCAs, "upstream-ca", nil, "PEM file of a CA (or self-signed certificate) to trust for the server; repeatable")
	fs.StringVar(&o.tls.clientCert, "client-cert", "", "PEM client certificate for servers that require mTLS")
	fs.StringVar(&o.tls.clientKey, "client-key", "", "PEM key of --client-cert")
	fs.StringArrayVar(&o.extracts, "extract", nil, "take `NAME=PATH` from the server's messages in this run (gjson path, or /regex/ with one group), for ${NAME}; repeatable")
	fs.StringVarP(&o.output, "output", "o", "", "record the new run to this capture `FILE`")
	fs.BoolVar(&o.check, "check", false, "compare the server's answers with the recorded ones; exit 3 when they differ")
	fs.StringArrayVar(&o.ignores, "ignore", nil, "with --check: a JSON `PATH` whose values may differ (gjson syntax; # for any index); repeatable")
	fs.BoolVar(&o.dryRun, "dry-run", false, "print what would be sent, numbered, without connecting")
}

func newReplayCommand(g *globalOptions) *cobra.Command {
	opts := &replayOptions{}
	cmd := &cobra.Command{
		Use:   "replay FILE",
		Short: "Resend the client side of a recorded connection, with edits, optionally as a regression check",
		Long: `Replay the client side of a recorded WebSocket connection against a server:
the same handshake (the recorded subprotocol offer and end-to-end headers:
cookies, authorization, origin, custom ones; Sec-WebSocket-Key and the
hop-by-hop headers are made afresh), then the messages the client sent.
Only what the client really sent is resent: never wstap's heartbeat frames
nor frames the proxy dropped. Pings and pongs are left to the WebSocket
library, which answers the server's pings.

Client messages are numbered 1, 2, 3 … in the order the client sent them;
--dry-run lists them. --drop and --only select by these numbers.

Pacing (--pace):
  reactive  before client message i, wait until the server messages that
            preceded it in the recording have arrived, or --timeout (default)
  recorded  keep the recorded gaps, scaled by --speed
  asap      send each message as soon as the previous one is written

Edits, applied to the client's messages in this order:
  --set 'user.name="bob"'       an sjson path and a JSON literal, in every
                                JSON message that has the path
  --sub 'ts=\d+=>ts=0'          a Go regexp and its replacement, in every
                                text message ($1 for groups)

Correlation, for servers that hand out fresh tokens and ids:
  --extract sid=session.id      take a value from the server's messages in
  --extract 'tok=/token=(\w+)/' this run (a gjson path, or a regex with one
                                group); the newest match wins
  ${sid}                        use it in --set values, --sub replacements
                                and --header values
Besides, wherever the recorded client sent the value an extraction had in
the recording (6 characters or more), the new value is sent instead: with
--extract sid=session alone, the session id the recorded client echoed is
replaced by the one the new server handed out. Values are shared by the
connections of one run: a token connection 1 receives can go into
connection 2's --header. An extraction that never matched is reported.

Several connections (--conn all, or 1,3-5) are replayed at once, each
starting at its recorded offset from the first, scaled by --speed (at once
with --pace asap): races between tabs and users come back.

--check aligns the server's answers with the recorded ones by their order,
compares them JSON-aware (ignoring --ignore paths) and prints a compact
diff on stdout; the exit status is 3 when they differ. A recorded bug thus
becomes a regression test a CI job can run:

  wstap replay bug.wstap --target ws://127.0.0.1:9000 --check --ignore ts

Progress and the summary go to stderr. -o records the new run as a capture.

EXIT STATUS
  0  the replay ran (with --check: the answers matched)
  1  an error: the server refused the handshake or could not be reached, a
     connection failed, the capture could not be read
  2  usage error (a bad flag, an edit that does not parse, a redacted header)
  3  --check found differences
`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runReplay(cmd.Context(), g, opts, args[0])
		},
	}
	opts.AddFlags(cmd.Flags())
	return cmd
}

// replayConfig parses the flags into replay options.
func (o *replayOptions) config() (replay.Options, []sessiondiff.Path, error) {
	var ro replay.Options
	var err error
	if ro.Pace, err = replay.ParsePace(o.pace); err != nil {
		return ro, nil, usagef("--pace: %w", err)
	}
	if o.speed <= 0 {
		return ro, nil, usagef("--speed %v: want a factor above 0", o.speed)
	}
	if o.timeout <= 0 {
		return ro, nil, usagef("--timeout %v: want a duration above 0", o.timeout)
	}
	ro.Speed, ro.Timeout, ro.Target, ro.DropRedacted = o.speed, o.timeout, o.target, o.dropRedacted
	ed, err := parseEdits(o.sets, o.subs)
	if err != nil {
		return ro, nil, err
	}
	for _, d := range o.drops {
		r, err := replay.ParseRanges(d)
		if err != nil {
			return ro, nil, usagef("--drop %w", err)
		}
		ed.Drop = append(ed.Drop, r...)
	}
	if o.only != "" {
		if ed.Only, err = replay.ParseRanges(o.only); err != nil {
			return ro, nil, usagef("--only %w", err)
		}
	}
	ro.Edits = ed
	for _, h := range o.headers {
		hd, err := replay.ParseHeader(h)
		if err != nil {
			return ro, nil, usagef("%w", err)
		}
		ro.Headers = append(ro.Headers, hd)
	}
	if ro.Extract, err = parseExtracts(o.extracts); err != nil {
		return ro, nil, err
	}
	names := ed.Names()
	for _, h := range ro.Headers {
		names = append(names, replay.TemplateNames(h.Value)...)
	}
	if err := checkNames(names, ro.Extract); err != nil {
		return ro, nil, err
	}
	ignore, err := parseIgnores(o.ignores)
	if err != nil {
		return ro, nil, err
	}
	if len(ignore) > 0 && !o.check {
		return ro, nil, usagef("--ignore applies to --check; add --check")
	}
	if ro.TLS, err = dialTLS(o.tls, nil); err != nil {
		return ro, nil, err
	}
	return ro, ignore, nil
}

// parseEdits parses --set and --sub flags (usage errors).
func parseEdits(sets, subs []string) (*replay.Edits, error) {
	ed := &replay.Edits{}
	for _, s := range sets {
		set, err := replay.ParseSet(s)
		if err != nil {
			return nil, usagef("%w", err)
		}
		ed.Sets = append(ed.Sets, set)
	}
	for _, s := range subs {
		sub, err := replay.ParseSub(s)
		if err != nil {
			return nil, usagef("%w", err)
		}
		ed.Subs = append(ed.Subs, sub)
	}
	return ed, nil
}

// parseExtracts parses --extract flags; a name given twice is a mistake.
func parseExtracts(flags []string) ([]replay.Extract, error) {
	var out []replay.Extract
	for _, s := range flags {
		e, err := replay.ParseExtract(s)
		if err != nil {
			return nil, usagef("%w", err)
		}
		if slices.ContainsFunc(out, func(x replay.Extract) bool { return x.Name == e.Name }) {
			return nil, usagef("--extract %s: the name %s is extracted twice", s, e.Name)
		}
		out = append(out, e)
	}
	return out, nil
}

// checkNames refuses a ${NAME} that no --extract declares.
func checkNames(names []string, ex []replay.Extract) error {
	for _, n := range names {
		if !slices.ContainsFunc(ex, func(e replay.Extract) bool { return e.Name == n }) {
			return usagef("${%s} is used, but no --extract %s=PATH says where to take it from", n, n)
		}
	}
	return nil
}

// parseIgnores parses --ignore paths.
func parseIgnores(flags []string) ([]sessiondiff.Path, error) {
	var out []sessiondiff.Path
	for _, s := range flags {
		p, err := sessiondiff.ParsePath(s)
		if err != nil {
			return nil, usagef("--ignore %q: %w", s, err)
		}
		out = append(out, p)
	}
	return out, nil
}

func runReplay(ctx context.Context, g *globalOptions, o *replayOptions, path string) error {
	ro, ignore, err := o.config()
	if err != nil {
		return err
	}
	r, err := capture.Open(path)
	if err != nil {
		return err
	}
	defer r.Close()
	ids, err := pickConns(r, path, "--conn", o.conn, true)
	if err != nil {
		return err
	}
	var conns []replay.Conn
	for _, id := range ids {
		s, err := replay.Load(r, id)
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		conns = append(conns, replay.Conn{ID: id, Script: s})
	}
	if o.dryRun {
		return printPlans(g.stdout, conns, ro)
	}
	for _, c := range conns {
		// Refuse before dialling anything: a redacted header, a bad target.
		if _, err := replay.Preview(c, ro); err != nil {
			return usagef("connection %d: %w", c.ID, err)
		}
	}

	var w *capture.Writer
	if o.output != "" {
		if w, err = capture.Create(o.output, capture.Options{}); err != nil {
			return err
		}
		defer w.Close()
	}
	ro.Capture = w
	prog := newReplayProgress(g.stderr, len(conns))
	ro.Progress = prog.update
	res, err := replay.Run(ctx, conns, ro)
	prog.finish()
	if err != nil {
		return usagef("%w", err)
	}
	if w != nil {
		if err := w.Close(); err != nil {
			return fmt.Errorf("recording the run: %w", err)
		}
	}
	printReplaySummary(g.stderr, res, o.output)
	different := false
	if o.check {
		different = printCheck(g.stdout, res, sessiondiff.Options{Ignore: ignore}, terminalColor(g.stdout))
	}
	if failed := countFailed(res); failed > 0 {
		// The summary above says why, connection by connection.
		if len(res.Conns) == 1 {
			return errors.New("the replay failed")
		}
		return fmt.Errorf("%d of %d connections failed", failed, len(res.Conns))
	}
	if ctx.Err() != nil {
		return fmt.Errorf("interrupted")
	}
	if different {
		return errDifferent
	}
	return nil
}

func countFailed(res *replay.Result) int {
	n := 0
	for _, c := range res.Conns {
		if c.Err != nil {
			n++
		}
	}
	return n
}

// printPlans is --dry-run: the handshake and the numbered client messages.
func printPlans(w io.Writer, conns []replay.Conn, ro replay.Options) error {
	for _, c := range conns {
		p, err := replay.Preview(c, ro)
		if err != nil {
			return usagef("connection %d: %w", c.ID, err)
		}
		fmt.Fprintf(w, "connection %d → %s\n", c.ID, p.URL)
		for _, h := range p.Headers {
			fmt.Fprintf(w, "  %s: %s\n", h.Name, h.Value)
		}
		for _, st := range p.Steps {
			mark := " "
			switch {
			case !st.Send:
				mark = "-"
			case st.Changed:
				mark = "~"
			}
			m := &capture.Message{Opcode: st.Opcode, Data: st.Data, Size: int64(len(st.Data))}
			fmt.Fprintf(w, "%s %4d %9s %-6s %8s %s\n", mark, st.N, present.Offset(st.Time.Sub(c.Script.Open.Time)),
				st.Opcode, present.Bytes(m.Size), present.Payload(m, 70))
		}
	}
	fmt.Fprintln(w, "(- not sent: --drop/--only; ~ changed by an edit; values from --extract are filled in when the replay runs)")
	return nil
}

// printReplaySummary tells what the replay did, on stderr.
func printReplaySummary(w io.Writer, res *replay.Result, output string) {
	sent, total, got, want, timeouts, corr := 0, 0, 0, 0, 0, 0
	for _, c := range res.Conns {
		sent, total, got, want = sent+c.Sent, total+c.Total, got+len(c.Got), want+len(c.Expected)
		timeouts, corr = timeouts+c.Timeouts, corr+c.Correlated
	}
	fmt.Fprintf(w, "replayed %d connection%s: sent %d of %d client messages, received %d server messages (%d recorded), %d timeout%s\n",
		len(res.Conns), plural(len(res.Conns), "", "s"), sent, total, got, want, timeouts, plural(timeouts, "", "s"))
	for _, c := range res.Conns {
		state := "ok"
		if c.Err != nil {
			state = "failed: " + c.Err.Error()
		}
		proto := ""
		if c.Subprotocol != "" {
			proto = ", subprotocol " + c.Subprotocol
		}
		fmt.Fprintf(w, "  connection %d → %s: sent %d/%d, received %d/%d, %d timeout%s%s; %s\n", c.Conn, c.URL,
			c.Sent, c.Total, len(c.Got), len(c.Expected), c.Timeouts, plural(c.Timeouts, "", "s"), proto, state)
		for _, s := range c.Skipped {
			fmt.Fprintf(w, "    %s\n", s)
		}
	}
	for _, n := range res.Vars.Names() {
		v, _ := res.Vars.Get(n)
		fmt.Fprintf(w, "extracted %s = %s (%d match%s)\n", n, present.Cut(v.Raw, 60), res.Vars.Matched(n), plural(res.Vars.Matched(n), "", "es"))
	}
	for _, n := range res.Unmatched {
		fmt.Fprintf(w, "extraction %s never matched a server message\n", n)
	}
	if corr > 0 {
		fmt.Fprintf(w, "replaced recorded extracted values in %d client message%s\n", corr, plural(corr, "", "s"))
	}
	if output != "" {
		fmt.Fprintf(w, "recorded the run to %s\n", output)
	}
}

// printCheck prints, per connection, how the server's answers compare
// with the recorded ones; it reports whether any differ.
func printCheck(w io.Writer, res *replay.Result, opts sessiondiff.Options, color bool) bool {
	different := false
	for _, c := range res.Conns {
		ops := c.Check(opts)
		bad := 0
		for _, op := range ops {
			if op.Kind != sessiondiff.Same {
				bad++
			}
		}
		if bad == 0 {
			fmt.Fprintf(w, "connection %d: the server's %d answer%s match the recording\n", c.Conn, len(c.Got), plural(len(c.Got), "", "s"))
			continue
		}
		different = true
		fmt.Fprintf(w, "connection %d: %d of the server's answers differ from the recording (%d recorded, %d received)\n",
			c.Conn, bad, len(c.Expected), len(c.Got))
		sessiondiff.WriteOps(w, "server→client", ops, color)
	}
	return different
}

// terminalColor says whether to colour output to w: a terminal, and no
// NO_COLOR.
func terminalColor(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && isTerminal(f) && os.Getenv("NO_COLOR") == ""
}

// replayProgress shows how a replay goes: on a terminal, a bar redrawn in
// place; otherwise a line as each connection connects and ends.
type replayProgress struct {
	w     io.Writer
	tty   bool
	mu    sync.Mutex
	conns map[capture.ConnID]replay.Progress
	n     int
	last  time.Time
	drawn bool
}

func newReplayProgress(w io.Writer, n int) *replayProgress {
	f, ok := w.(*os.File)
	return &replayProgress{w: w, tty: ok && isTerminal(f), conns: map[capture.ConnID]replay.Progress{}, n: n}
}

func (p *replayProgress) update(pr replay.Progress) {
	p.mu.Lock()
	defer p.mu.Unlock()
	prev := p.conns[pr.Conn]
	p.conns[pr.Conn] = pr
	if !p.tty {
		switch {
		case pr.State == "connected" && prev.State != "connected":
			fmt.Fprintf(p.w, "connection %d: connected, %d client message%s to send\n", pr.Conn, pr.Total, plural(pr.Total, "", "s"))
		}
		return
	}
	if now := time.Now(); now.Sub(p.last) >= 50*time.Millisecond || pr.State == "done" {
		p.last = now
		p.draw()
	}
}

func (p *replayProgress) draw() {
	sent, total, got, done := 0, 0, 0, 0
	for _, c := range p.conns {
		sent, total, got = sent+c.Sent, total+c.Total, got+c.Received
		if c.State == "done" {
			done++
		}
	}
	const width = 30
	fill := width
	if total > 0 {
		fill = width * sent / total
	}
	bar := strings.Repeat("█", fill) + strings.Repeat("░", width-fill)
	fmt.Fprintf(p.w, "\r\x1b[Kreplay %s %d/%d sent · %d received · %d/%d connections done", bar, sent, total, got, done, p.n)
	p.drawn = true
}

func (p *replayProgress) finish() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.tty && p.drawn {
		p.draw()
		fmt.Fprintln(p.w)
	}
}

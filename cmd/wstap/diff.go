package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/wstap/wstap/capture"
	"github.com/wstap/wstap/internal/sessiondiff"
)

// diffOptions are the flags of `wstap diff`.
type diffOptions struct {
	ConnA, ConnB string   // the connection of each file; "" for the only one
	Ignore       []string // paths left out of the comparison
	Format       string   // "text" (default) or "jsonl"
}

// AddFlags registers the options' flags.
func (o *diffOptions) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.ConnA, "conn-a", "", "compare connection `N` of the first file (default: its only connection)")
	fs.StringVar(&o.ConnB, "conn-b", "", "compare connection `N` of the second file (default: its only connection)")
	fs.StringArrayVar(&o.Ignore, "ignore", nil, "leave the field at `PATH` (gjson syntax: ts, user.name, items.#.id, request.User-Agent) out of the comparison; repeatable")
	fs.StringVar(&o.Format, "format", "text", "`FORMAT` of the output: text (a readable diff) or jsonl (one JSON object a line)")
}

func newDiffCommand(g *globalOptions) *cobra.Command {
	opts := &diffOptions{}
	cmd := &cobra.Command{
		Use:   "diff A B",
		Short: "Compare two recorded sessions message by message",
		Long: `Compare a connection of capture A with a connection of capture B: the
handshake, then each direction's messages, then the timing.

Each direction is aligned on its own, like a text diff aligns lines: a
message only in B is inserted (+), one only in A is missing (-), one in
both at different places is reordered (↕), and one that stands where the
other session has a message of the same kind (same opcode and, for JSON,
the same "type", "op", "event", "method", "action", "kind" or "cmd", else
the same keys) is changed (~), with the fields that differ:

  --- a.wstap#1  wss://chat.example.test/ws
  +++ b.wstap#1  wss://chat.example.test/ws
  client→server: 3 vs 4 messages: 2 same, 1 changed, 1 inserted
    ~ #2 ↔ #2  user.name: "ann" → "bob"
    + #4 only in B: {"type":"ping"}
  server→client: 2 vs 2 messages: 2 same
  timing:
    duration: 1.2s → 1.5s
    …
  sessions differ: 1 changed, 1 inserted, 0 missing, 0 reordered

#N is a message's position among the messages its session sent that way.
Text messages that are JSON are compared field by field: objects by key in
any order, arrays by index, numbers by value (1.0 is 1). Other text is
compared byte for byte and the first difference shown; binary messages by
size and first differing byte. Pings, pongs and wstap's own frames are not
compared. The handshake's differences are listed only when there are any:
the URL's path and query, the status, the subprotocol, the extensions and
the headers, but for Sec-WebSocket-Key, Sec-WebSocket-Accept and Date.
Timing never makes sessions differ.

--ignore PATH (repeatable) leaves a field out: a JSON field of every text
message, in gjson path syntax ("ts", "user.name", "items.#.id", "*" within
a key, "a\.b" for a dot in a key), and everything under it; or a
handshake field: url, status, subprotocol, extensions, request.NAME or
response.NAME for a header.

--conn-a and --conn-b pick the connections (see wstap ls); each defaults to
the only connection of a file that has one.

--format jsonl prints one JSON object a line, each with a "type": sessions,
handshake, message (only those that are not the same), timing, and a last
summary line, {"type":"summary","same":…,"changed":N,…}.

The output is coloured on a terminal, unless NO_COLOR is set.

EXIT STATUS
  0  the sessions are the same (after --ignore)
  1  error (a missing or unreadable file, a connection that does not exist)
  2  usage error (unknown flag, bad --ignore path or --format, no --conn-a
     or --conn-b for a file with several connections)
  3  the sessions differ
`,
		Args: exactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runDiff(cmd.Context(), g, opts, args)
		},
	}
	opts.AddFlags(cmd.Flags())
	return cmd
}

func runDiff(_ context.Context, g *globalOptions, opts *diffOptions, args []string) error {
	if opts.Format != "text" && opts.Format != "jsonl" {
		return usagef("unknown --format %q (want text or jsonl)", opts.Format)
	}
	ignore, err := parseIgnores(opts.Ignore)
	if err != nil {
		return err
	}
	a, err := loadSession(g, args[0], "--conn-a", opts.ConnA)
	if err != nil {
		return err
	}
	b, err := loadSession(g, args[1], "--conn-b", opts.ConnB)
	if err != nil {
		return err
	}
	res := sessiondiff.Diff(a, b, sessiondiff.Options{Ignore: ignore})
	out := &errWriter{w: g.stdout}
	if opts.Format == "jsonl" {
		err = res.WriteJSONL(out)
	} else {
		err = res.WriteText(out, terminalColor(g.stdout))
	}
	if err != nil {
		return err
	}
	if !res.Same() {
		return errDifferent
	}
	return nil
}

// loadSession opens the capture at path and loads the connection that
// spec (the value of flag) names. It warns of a torn tail and of damage.
func loadSession(g *globalOptions, path, flag, spec string) (*sessiondiff.Session, error) {
	r, err := capture.Open(path)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	ids, err := pickConns(r, path, flag, spec, false)
	if err != nil {
		return nil, err
	}
	s, err := sessiondiff.Load(r, ids[0], fmt.Sprintf("%s#%d", path, ids[0]))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	for _, d := range r.Damage() {
		warnDamage(g, path, d)
	}
	warnTornTail(g, path, r.Tail())
	return s, nil
}

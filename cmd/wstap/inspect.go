package main

import (
	"context"
	"errors"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/wstap/wstap/capture"
	"github.com/wstap/wstap/inspector"
	"github.com/wstap/wstap/internal/sessiondiff"
	"github.com/wstap/wstap/replay"
)

type inspectOptions struct {
	follow bool
	// Resending an edited message (e, E).
	target string
	tls    tlsFlags
	// Two files: the diff view.
	connA, connB string
	ignores      []string
}

func (o *inspectOptions) AddFlags(fs *pflag.FlagSet) {
	fs.BoolVarP(&o.follow, "follow", "f", false, "keep reading the capture as another wstap records it, until the recorder closes it")
	fs.StringVar(&o.target, "target", "", "resend edited messages to this ws:// or wss:// `URL` instead of the recorded one (its scheme, host and port; its path and query too if it names a path)")
	fs.BoolVar(&o.tls.insecure, "insecure", false, "when resending, do not verify the server's TLS certificate")
	fs.StringArrayVar(&o.tls.upstreamCAs, "upstream-ca", nil, "when resending, trust this `PEM` CA (or self-signed certificate) for the server; repeatable")
	fs.StringVar(&o.connA, "conn-a", "", "two files: the connection `N` of the first (default: its only connection)")
	fs.StringVar(&o.connB, "conn-b", "", "two files: the connection `N` of the second (default: its only connection)")
	fs.StringArrayVar(&o.ignores, "ignore", nil, "two files: leave the field at `PATH` (gjson syntax, as wstap diff) out of the comparison; repeatable")
}

func newInspectCommand(g *globalOptions) *cobra.Command {
	opts := &inspectOptions{}
	cmd := &cobra.Command{
		Use:   "inspect FILE [FILE2]",
		Short: "Browse a capture in the terminal inspector, or two sessions side by side",
		Long: `Open a capture in wstap's terminal inspector: its WebSocket connections and
plain HTTP exchanges, each connection's messages, and each message decoded
(JSON, text, hex, msgpack, CBOR, protobuf, Socket.IO, MQTT), with a filter
bar, search, marks, time jumps and the handshake and TLS facts.

Press ? in the inspector for every key. A capture that is still being
recorded is followed as it grows; --follow says so explicitly. The
inspector needs a terminal; wstap show prints a capture instead.

e (in $EDITOR) or E (in the inspector) edits a client message and resends
it: the connection is replayed up to that message, the edited one sent in
its place, and the server's replies shown beside the recorded ones.
--target, --insecure and --upstream-ca say where and how to dial, as for
wstap replay.

With two files, the inspector shows connection --conn-a of the first and
--conn-b of the second side by side, aligned as wstap diff aligns them
(--ignore as there); n and N jump between the differences.
` + readStatusHelp,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) < 1 || len(args) > 2 {
				return usagef("%s takes one capture, or two to compare, got %d argument(s) (see %s --help)", cmd.CommandPath(), len(args), cmd.CommandPath())
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			return runInspect(cmd.Context(), g, opts, args)
		},
	}
	opts.AddFlags(cmd.Flags())
	return cmd
}

// runInspector runs the inspector on the process's terminal; tests replace
// it.
var runInspector = func(ctx context.Context, src inspector.Source, opts inspector.Options) error {
	return inspector.Run(ctx, src, opts, nil, nil)
}

// runDiffInspector runs the diff view of two sessions on the process's
// terminal; tests replace it.
var runDiffInspector = func(ctx context.Context, res *sessiondiff.Result, opts inspector.Options) error {
	return inspector.RunDiff(ctx, res, opts, nil, nil)
}

// terminal reports whether w is a terminal the inspector can draw on; tests
// replace it.
var terminal = func(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && isTerminal(f) && isTerminal(os.Stdin)
}

var errNoTerminal = errors.New("the inspector needs a terminal (stdin and stdout); use wstap show to print a capture")

func runInspect(ctx context.Context, g *globalOptions, opts *inspectOptions, args []string) error {
	if len(args) == 2 {
		return runInspectDiff(ctx, g, opts, args)
	}
	if opts.connA != "" || opts.connB != "" || len(opts.ignores) > 0 {
		return usagef("--conn-a, --conn-b and --ignore compare two captures: give a second file")
	}
	if _, err := dialTLS(opts.tls, nil); err != nil { // a bad flag fails now, not at the first resend
		return err
	}
	if !terminal(g.stdout) {
		return errNoTerminal
	}
	r, err := capture.Open(args[0])
	if err != nil {
		return err
	}
	defer r.Close()
	return runInspector(ctx, r, inspector.Options{Title: args[0], Follow: opts.follow, Resend: resender(args[0], opts)})
}

func runInspectDiff(ctx context.Context, g *globalOptions, opts *inspectOptions, args []string) error {
	if opts.follow {
		return usagef("--follow follows one capture; two are compared as they are")
	}
	ignore, err := parseIgnores(opts.ignores)
	if err != nil {
		return err
	}
	if !terminal(g.stdout) {
		return errNoTerminal
	}
	a, err := loadSession(g, args[0], "--conn-a", opts.connA)
	if err != nil {
		return err
	}
	b, err := loadSession(g, args[1], "--conn-b", opts.connB)
	if err != nil {
		return err
	}
	res := sessiondiff.Diff(a, b, sessiondiff.Options{Ignore: ignore})
	return runDiffInspector(ctx, res, inspector.Options{Title: args[0] + " ↔ " + args[1]})
}

// resendTimeout bounds each wait for the server while resending.
const resendTimeout = 10 * time.Second

// resender is the inspector's Resend for the capture at path: it replays
// the edited message's connection up to it, with the edit, and returns
// the server's replies beside the recorded ones.
func resender(path string, opts *inspectOptions) func(context.Context, inspector.Edited) (*inspector.Resent, error) {
	return func(ctx context.Context, e inspector.Edited) (*inspector.Resent, error) {
		cfg, err := dialTLS(opts.tls, nil)
		if err != nil {
			return nil, err
		}
		r, err := capture.Open(path) // a reader of its own: the inspector's is busy
		if err != nil {
			return nil, err
		}
		s, err := replay.Load(r, e.Conn)
		r.Close()
		if err != nil {
			return nil, err
		}
		res, err := replay.Resend(ctx, replay.Conn{ID: e.Conn, Script: s}, e.Seq, e.Data,
			replay.Options{Target: opts.target, TLS: cfg, Timeout: resendTimeout})
		if res == nil {
			return nil, err
		}
		out := &inspector.Resent{N: res.N, Sent: res.Sent, Old: replies(res.Old), New: replies(res.New)}
		if res.Conn != nil {
			out.URL = res.Conn.URL
		}
		return out, err
	}
}

func replies(steps []replay.Step) []inspector.Reply {
	out := make([]inspector.Reply, len(steps))
	for i, st := range steps {
		out[i] = inspector.Reply{Dir: st.Dir, Opcode: st.Opcode, Time: st.Time, Data: st.Data}
	}
	return out
}

package main

import (
	"context"
	"errors"
	"io"
	"os"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/wstap/wstap/capture"
	"github.com/wstap/wstap/inspector"
)

type inspectOptions struct {
	follow bool
}

func (o *inspectOptions) AddFlags(fs *pflag.FlagSet) {
	fs.BoolVarP(&o.follow, "follow", "f", false, "keep reading the capture as another wstap records it, until the recorder closes it")
}

func newInspectCommand(g *globalOptions) *cobra.Command {
	opts := &inspectOptions{}
	cmd := &cobra.Command{
		Use:   "inspect FILE",
		Short: "Browse a capture in the terminal inspector",
		Long: `Open a capture in wstap's terminal inspector: its WebSocket connections and
plain HTTP exchanges, each connection's messages, and each message decoded
(JSON, text, hex, msgpack, CBOR, protobuf, Socket.IO, MQTT), with a filter
bar, search, marks, time jumps and the handshake and TLS facts.

Press ? in the inspector for every key. A capture that is still being
recorded is followed as it grows; --follow says so explicitly. The
inspector needs a terminal; wstap show prints a capture instead.
` + readStatusHelp,
		Args: exactArgs(1),
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

// terminal reports whether w is a terminal the inspector can draw on; tests
// replace it.
var terminal = func(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && isTerminal(f) && isTerminal(os.Stdin)
}

var errNoTerminal = errors.New("the inspector needs a terminal (stdin and stdout); use wstap show to print a capture")

func runInspect(ctx context.Context, g *globalOptions, opts *inspectOptions, args []string) error {
	if !terminal(g.stdout) {
		return errNoTerminal
	}
	r, err := capture.Open(args[0])
	if err != nil {
		return err
	}
	defer r.Close()
	return runInspector(ctx, r, inspector.Options{Title: args[0], Follow: opts.follow})
}

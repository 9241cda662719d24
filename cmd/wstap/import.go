package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/wstap/wstap/capture"
	"github.com/wstap/wstap/har"
)

// importOptions are the flags of `wstap import`.
type importOptions struct {
	Out string // the new capture
}

// AddFlags registers the options' flags.
func (o *importOptions) AddFlags(fs *pflag.FlagSet) {
	fs.StringVarP(&o.Out, "output", "o", "", "write the capture to `FILE.wstap` (required; it must not exist)")
}

func newImportCommand(g *globalOptions) *cobra.Command {
	opts := &importOptions{}
	cmd := &cobra.Command{
		Use:   "import FILE.har -o FILE.wstap",
		Short: "Bring a browser's or a proxy's HAR file into a new capture",
		Long: `Read a HAR file (HTTP Archive, the network log that browsers and proxies
export) and write its contents into a new capture, at the times the HAR gives,
so that ls, show, inspect, replay, serve and diff work on it.

Accepted: the HARs of Chrome and Edge (DevTools: Network, "Export HAR"),
Firefox, HTTP Toolkit, mitmproxy (the savehar addon, --set hardump=FILE) and
wstap export --format har.

What becomes what:
  a WebSocket entry   a connection: its upgrade request and the server's
                      answer (status, headers, subprotocol, extensions), one
                      message for each of its _webSocketMessages ("send":
                      client to server, "receive": server to client; text as
                      is, binary from base64), a close for a close frame, and
                      its end. An http:// or https:// URL becomes ws:// or
                      wss://. Firefox exports no WebSocket messages: its 101
                      entries become connections without messages.
  any other entry     a plain HTTP exchange: method, URL, status, headers,
                      bodies (up to 4 MiB each; base64 ones decoded), sizes
                      and duration.

Headers that wstap export redacted keep their "[redacted]" values and their
marks. Nothing is written unless the whole HAR reads: a malformed one is an
error naming the entry and the field, and FILE.wstap is not created. It
appears only once it is complete.

EXIT STATUS
  0  the capture was written (a summary goes to stderr)
  1  error (FILE.har is unreadable or malformed, FILE.wstap exists or cannot
     be written)
  2  usage error (unknown flag, missing argument or -o)
`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runImport(cmd.Context(), g, opts, args)
		},
	}
	opts.AddFlags(cmd.Flags())
	return cmd
}

func runImport(_ context.Context, g *globalOptions, opts *importOptions, args []string) error {
	if opts.Out == "" {
		return usagef("wstap import needs -o FILE.wstap, the capture to write (see wstap import --help)")
	}
	src, out := args[0], opts.Out
	if _, err := os.Lstat(out); err == nil {
		return fmt.Errorf("%s exists; choose a new output file", out)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	data, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	st, err := importInto(data, out)
	if err != nil {
		return fmt.Errorf("%s: %w", src, err)
	}
	fmt.Fprintf(g.stderr, "imported %d %s, %d %s and %d HTTP %s into %s\n",
		st.Connections, plural(st.Connections, "connection", "connections"),
		st.Messages, plural(st.Messages, "message", "messages"),
		st.HTTP, plural(st.HTTP, "exchange", "exchanges"), out)
	return nil
}

// importInto writes the capture at out, which appears only once it is
// complete (capture.CreateNew): a failure at any point leaves nothing
// behind.
func importInto(data []byte, out string) (har.Stats, error) {
	var st har.Stats
	err := capture.CreateNew(out, capture.Options{}, func(w *capture.Writer) error {
		var err error
		st, err = har.Import(data, w)
		return err
	})
	if err != nil {
		return har.Stats{}, err
	}
	return st, nil
}

package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

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

// importInto writes the capture beside out under a temporary name and links
// it into place once it is complete, never replacing a file: a failure at
// any point leaves nothing behind.
func importInto(data []byte, out string) (har.Stats, error) {
	f, err := os.CreateTemp(filepath.Dir(out), ".wstap-import-*")
	if err != nil {
		return har.Stats{}, err
	}
	tmp := f.Name()
	f.Close()
	os.Remove(tmp) // capture.Create makes the file itself, and only a new one
	w, err := capture.Create(tmp, capture.Options{})
	if err != nil {
		return har.Stats{}, err
	}
	st, err := har.Import(data, w)
	if cerr := w.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp)
		return har.Stats{}, err
	}
	defer os.Remove(tmp)
	if err := os.Link(tmp, out); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return har.Stats{}, fmt.Errorf("%s exists; choose a new output file", out)
		}
		// A file system without hard links: rename, which replaces, once
		// more making sure there is nothing to replace.
		if _, serr := os.Lstat(out); !errors.Is(serr, fs.ErrNotExist) {
			return har.Stats{}, err
		}
		if err := os.Rename(tmp, out); err != nil {
			return har.Stats{}, err
		}
	}
	if d, err := os.Open(filepath.Dir(out)); err == nil {
		d.Sync()
		d.Close()
	}
	return st, nil
}

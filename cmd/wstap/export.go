package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/wstap/wstap/capture"
	"github.com/wstap/wstap/codegen"
	"github.com/wstap/wstap/har"
	"github.com/wstap/wstap/replay"
)

// exportOptions are the flags of `wstap export`.
type exportOptions struct {
	format      string
	conn        string
	output      string
	keepSecrets bool
}

func (o *exportOptions) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.format, "format", "", "`FORMAT`: har, jsonl, python, js or go")
	fs.StringVar(&o.conn, "conn", "", "export connection `N` (har and jsonl: a list such as 1,3-5 too; default every connection, and for code the only one)")
	fs.StringVarP(&o.output, "output", "o", "", "write to `OUT` instead of stdout (code with a data file beside it needs -o)")
	fs.BoolVar(&o.keepSecrets, "keep-secrets", false, "code: write the recorded Authorization and Cookie values into the script instead of reading them from environment variables")
}

func newExportCommand(g *globalOptions) *cobra.Command {
	opts := &exportOptions{}
	cmd := &cobra.Command{
		Use:   "export FILE --format har|jsonl|python|js|go",
		Short: "Export a capture as HAR or JSON lines, or as a runnable Python, JavaScript or Go client",
		Long: `Export a capture.

  --format har     HAR 1.2, one entry per WebSocket connection in the shape
                   Chrome DevTools writes and reads (_resourceType websocket,
                   _webSocketMessages with send/receive, epoch times, opcode,
                   binary as base64), and one entry per plain HTTP exchange.
                   Frames that did not cross between the peers (wstap's
                   heartbeat) are left out.
  --format jsonl   the JSON lines of wstap show --format jsonl
  --format python  a client script that reproduces one connection: the URL
  --format js      exactly as recorded, the subprotocol offer and end-to-end
  --format go      headers, the client's messages, paced as a reactive
                   replay (--pace recorded in the script keeps the recorded
                   timing); it prints what it receives. Python uses
                   websockets (10.4 and later), JavaScript the ws package,
                   Go gorilla/websocket. Authorization, Cookie and redacted
                   header values are read from environment variables the
                   script names at its top, unless --keep-secrets. A long
                   session's messages go into a data file beside the script.

With -o the output is written to a temporary file and renamed into place, so
a failed export never leaves a half-written file.
` + readStatusHelp,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runExport(cmd.Context(), g, opts, args[0])
		},
	}
	opts.AddFlags(cmd.Flags())
	return cmd
}

func runExport(ctx context.Context, g *globalOptions, o *exportOptions, path string) error {
	switch o.format {
	case "har", "jsonl", "python", "js", "go":
	case "":
		return usagef("--format is required: har, jsonl, python, js or go")
	default:
		return usagef("unknown --format %q (want har, jsonl, python, js or go)", o.format)
	}
	code := o.format != "har" && o.format != "jsonl"
	if o.keepSecrets && !code {
		return usagef("--keep-secrets applies to --format python, js and go")
	}
	r, err := capture.Open(path)
	if err != nil {
		return err
	}
	defer r.Close()

	var out bytes.Buffer
	var extra []outFile // files written beside -o
	switch o.format {
	case "har":
		var conns []capture.ConnID
		if o.conn != "" {
			if conns, err = pickConns(r, path, "--conn", o.conn, true); err != nil {
				return err
			}
		}
		if err := har.Export(&out, r, conns, har.ExportOptions{Version: versionString()}); err != nil {
			return err
		}
	case "jsonl":
		sopts := &showOptions{Format: "jsonl"}
		if o.conn != "" {
			ids, err := pickConns(r, path, "--conn", o.conn, false)
			if err != nil {
				return err
			}
			sopts.Conn = uint64(ids[0])
		}
		if err := runShow(ctx, &globalOptions{stdout: &out, stderr: g.stderr}, sopts, []string{path}); err != nil {
			return err
		}
	default:
		ids, err := pickConns(r, path, "--conn", o.conn, false)
		if err != nil {
			return err
		}
		s, err := replay.Load(r, ids[0])
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		copts := codegen.Options{Lang: o.format, KeepSecrets: o.keepSecrets}
		if o.output != "" {
			copts.ScriptName = filepath.Base(o.output) // it names the script and its data file
		}
		gen, err := codegen.Generate(s, copts)
		if err != nil {
			return fmt.Errorf("connection %d: %w", ids[0], err)
		}
		out.Write(gen.Script)
		if gen.Data != nil {
			if o.output == "" {
				return usagef("connection %d is long: its messages go into a data file beside the script; give the script a name with -o", ids[0])
			}
			extra = append(extra, outFile{filepath.Join(filepath.Dir(o.output), gen.DataName), gen.Data})
		}
	}
	if o.output == "" {
		_, err := g.stdout.Write(out.Bytes())
		return err
	}
	for _, f := range append(extra, outFile{o.output, out.Bytes()}) {
		if err := writeAtomic(f.path, f.data); err != nil {
			return err
		}
	}
	if code {
		fmt.Fprintf(g.stderr, "wrote %s%s\n", o.output, describeExtra(extra))
	}
	return nil
}

type outFile struct {
	path string
	data []byte
}

func describeExtra(extra []outFile) string {
	var names []string
	for _, f := range extra {
		names = append(names, f.path)
	}
	if len(names) == 0 {
		return ""
	}
	return " and its messages, " + strings.Join(names, ", ")
}

// writeAtomic writes data to path through a temporary file in the same
// directory, renamed into place: a failure leaves nothing half-written.
// The file is the user's alone (0600), as captures are: an export holds
// the same cookies and tokens.
func writeAtomic(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
	}
	return err
}

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/wstap/wstap/capture"
	"github.com/wstap/wstap/internal/present"
)

// lsOptions are the flags of `wstap ls`.
type lsOptions struct {
	Format string // "text" (default) or "jsonl"
}

// AddFlags registers the options' flags.
func (o *lsOptions) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.Format, "format", "text", "`FORMAT` of the output: text (a table) or jsonl (one JSON object a line)")
}

func newLsCommand(g *globalOptions) *cobra.Command {
	opts := &lsOptions{}
	cmd := &cobra.Command{
		Use:   "ls FILE",
		Short: "List the connections of a capture",
		Long: `List the WebSocket connections of a capture, one a line, then its plain HTTP
exchanges, if any. The listing comes from the file's index (and from the
chunks written since its last checkpoint), without decoding payloads, so it
is quick on a big file and works on a file that is still being recorded.

Columns: ID, URL, SUBPROTOCOL, STATUS (101, or the refusal's status), MSGS
(messages client→server/server→client, "+N" for the proxy's own), BYTES
(decoded payload, all directions), DURATION (open to last record), CLOSE
(the first close frame's code and sender) and FLAGS (ghost, violations=N,
open when the connection has not ended).

With --format jsonl, each connection is a JSON object of type "conn" and each
HTTP exchange one of type "http".
` + readStatusHelp,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runLs(cmd.Context(), g, opts, args)
		},
	}
	opts.AddFlags(cmd.Flags())
	return cmd
}

// lsConn is a connection line of `ls --format jsonl`.
type lsConn struct {
	Type string `json:"type"` // "conn"
	capture.ConnSummary
}

// lsHTTP is an HTTP exchange line of `ls --format jsonl`.
type lsHTTP struct {
	Type string `json:"type"` // "http"
	capture.HTTPSummary
}

func runLs(_ context.Context, g *globalOptions, opts *lsOptions, args []string) error {
	if opts.Format != "text" && opts.Format != "jsonl" {
		return usagef("unknown --format %q (want text or jsonl)", opts.Format)
	}
	path := args[0]
	r, err := capture.Open(path)
	if err != nil {
		return err
	}
	defer r.Close()
	conns, exchanges := r.Conns(), r.HTTP()
	out := &errWriter{w: g.stdout}
	if opts.Format == "jsonl" {
		enc := json.NewEncoder(out)
		enc.SetEscapeHTML(false)
		for _, c := range conns {
			c.First, c.Last = c.First.UTC(), c.Last.UTC()
			enc.Encode(lsConn{Type: "conn", ConnSummary: c})
		}
		for _, h := range exchanges {
			h.Time = h.Time.UTC()
			enc.Encode(lsHTTP{Type: "http", HTTPSummary: h})
		}
	} else {
		writeConnTable(out, conns)
		if len(exchanges) > 0 {
			fmt.Fprintln(out)
			writeHTTPTable(out, exchanges)
		}
	}
	if out.err != nil {
		return out.err
	}
	for _, d := range r.Damage() {
		warnDamage(g, path, d)
	}
	warnTornTail(g, path, r.Tail())
	return nil
}

// maxURL bounds the URL column of the tables.
const maxURL = 64

func writeConnTable(w io.Writer, conns []capture.ConnSummary) {
	if len(conns) == 0 {
		fmt.Fprintln(w, "(no connections)")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tURL\tSUBPROTOCOL\tSTATUS\tMSGS\tBYTES\tDURATION\tCLOSE\tFLAGS")
	for _, c := range conns {
		msgs := fmt.Sprintf("%d/%d", c.Messages[0], c.Messages[1])
		if c.Messages[2] > 0 {
			msgs += fmt.Sprintf("+%d", c.Messages[2])
		}
		closing := "-"
		if c.CloseCode != 0 {
			closing = fmt.Sprintf("%d %s", c.CloseCode, c.CloseFrom)
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", c.Conn, present.Cut(c.URL, maxURL), orDash(c.Subprotocol),
			present.HTTPStatus(c.Status), msgs, present.Bytes(c.Bytes[0]+c.Bytes[1]+c.Bytes[2]), present.Duration(c.Duration()),
			closing, present.ConnFlags(c))
	}
	tw.Flush()
}

func writeHTTPTable(w io.Writer, exchanges []capture.HTTPSummary) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tMETHOD\tURL\tSTATUS\tSIZE\tDURATION")
	for _, h := range exchanges {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\n", h.ID, h.Method, present.Cut(h.URL, maxURL), present.HTTPStatus(h.Status),
			present.Bytes(h.ResponseSize), present.Duration(h.Duration))
	}
	tw.Flush()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"iter"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/wstap/wstap/capture"
)

// showOptions are the flags of `wstap show`.
type showOptions struct {
	Conn   uint64 // only this connection; 0 for every record
	Format string // "text" (default) or "jsonl"
	Follow bool   // keep printing as the file grows
}

// AddFlags registers the options' flags.
func (o *showOptions) AddFlags(fs *pflag.FlagSet) {
	fs.Uint64Var(&o.Conn, "conn", 0, "show only connection `N` (default: every record)")
	fs.StringVar(&o.Format, "format", "text", "`FORMAT` of the output: text (one readable line a record) or jsonl (the stable JSON lines schema)")
	fs.BoolVarP(&o.Follow, "follow", "f", false, "keep printing records as they are recorded, until the recorder closes the file or Ctrl-C")
}

func newShowCommand(g *globalOptions) *cobra.Command {
	opts := &showOptions{}
	cmd := &cobra.Command{
		Use:   "show FILE",
		Short: "Print the records of a capture",
		Long: `Print the records of a capture in file order: connection opens, whole
messages (reassembled from their chunks), closes, events, ends and plain HTTP
exchanges.

The text format prints one line a record: the time (UTC), the connection
(#N), the direction (→ client to server, ← server to client, ⇢ and ⇠ the
proxy's own frames to the server and to the client), the opcode, the size
and a preview of the payload (text with control characters escaped, binary
as hex), cut to about 100 columns. Tags after the size: [z] compressed on the
wire, [truncated] the capture kept only a prefix, [incomplete] the message
never finished.

--format jsonl prints the stable machine interface, one JSON object a line
with a "type" field (open, message, close, event, end, http); see the JSONL
schema in the docs.

--follow keeps reading a capture that is still being recorded, like tail -f,
until the recorder closes the file or you press Ctrl-C.
` + readStatusHelp,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runShow(cmd.Context(), g, opts, args)
		},
	}
	opts.AddFlags(cmd.Flags())
	return cmd
}

// showMaxData bounds the payload bytes the text format keeps of a message:
// far more than a preview line shows, so big messages cost no memory.
const showMaxData = 1024

// showWidth is the width, in columns, that text lines are cut to fit.
const showWidth = 100

func runShow(ctx context.Context, g *globalOptions, opts *showOptions, args []string) error {
	if opts.Format != "text" && opts.Format != "jsonl" {
		return usagef("unknown --format %q (want text or jsonl)", opts.Format)
	}
	path := args[0]
	r, err := capture.Open(path)
	if err != nil {
		return err
	}
	defer r.Close()

	f := capture.Filter{Conn: capture.ConnID(opts.Conn)}
	if f.Conn != 0 {
		// While following a file that is still being written, the
		// connection may not have opened yet.
		if _, ok := r.Conn(f.Conn); !ok && (!opts.Follow || r.Complete()) {
			return fmt.Errorf("%s has no connection %d (%s)", path, f.Conn, connRange(r.Conns()))
		}
	}

	out := &errWriter{w: g.stdout}
	bw := bufio.NewWriter(out)
	var emit func(capture.Record) error
	var aopts capture.AssembleOptions
	if opts.Format == "jsonl" {
		// The stable interface: exactly the encoder over whole messages.
		emit = capture.NewJSONEncoder(bw).Encode
	} else {
		aopts.MaxData = showMaxData
		emit = func(rec capture.Record) error {
			_, err := fmt.Fprintln(bw, textLine(rec))
			return err
		}
	}
	var recs iter.Seq2[capture.Record, error]
	if opts.Follow {
		recs = capture.Assemble(r.Follow(ctx, f, 0), aopts)
	} else {
		recs = r.Messages(f, aopts)
	}

	var tail error
	for rec, err := range recs {
		if err != nil {
			if errors.Is(err, capture.ErrTornTail) {
				tail = err
				break
			}
			bw.Flush()
			return fmt.Errorf("read %s: %w", path, err)
		}
		if err := emit(rec); err != nil {
			return err
		}
		if ctx.Err() != nil {
			// Ctrl-C: main catches SIGINT, so stop here, quietly.
			break
		}
		if opts.Follow {
			if err := bw.Flush(); err != nil {
				return err
			}
		}
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	if tail == nil {
		// Following, a tail still torn when Ctrl-C came is most likely
		// a recorder that crashed: say so too.
		tail = r.Tail()
	}
	warnTornTail(g, path, tail)
	return nil
}

// connRange describes the connection ids a capture has, for an error message.
func connRange(conns []capture.ConnSummary) string {
	switch len(conns) {
	case 0:
		return "it has none"
	case 1:
		return fmt.Sprintf("it has connection %d", conns[0].Conn)
	}
	return fmt.Sprintf("it has connections %d to %d", conns[0].Conn, conns[len(conns)-1].Conn)
}

// textLine renders one record as one line of `show`'s text format.
func textLine(rec capture.Record) string {
	prefix := clockTime(rec.At()) + " " + connLabel(rec.ConnID())
	room := func(s string) int { return max(16, showWidth-utf8.RuneCountInString(s)-1) }
	switch r := rec.(type) {
	case *capture.ConnOpen:
		s := fmt.Sprintf("%s open  %s  %s", prefix, r.URL, statusText(r.Status))
		if r.Subprotocol != "" {
			s += " " + r.Subprotocol
		}
		if r.Extensions != "" {
			s += "  (" + r.Extensions + ")"
		}
		return s
	case *capture.Message:
		s := fmt.Sprintf("%s %s %-6s %8s", prefix, arrow(r.Dir), r.Opcode, humanBytes(r.Size))
		if tags := messageTags(r); tags != "" {
			s += " " + tags
		}
		if p := payloadPreview(r, room(s)); p != "" {
			s += " " + p
		}
		return s
	case *capture.Close:
		s := fmt.Sprintf("%s %s close  %d", prefix, arrow(r.Dir), r.Code)
		if name := closeCodeNames[r.Code]; name != "" {
			s += " (" + name + ")"
		}
		if r.Reason != "" {
			s += " " + strconv.Quote(r.Reason)
		}
		return s
	case *capture.Event:
		s := fmt.Sprintf("%s event %s", prefix, r.Kind)
		if r.Detail != "" {
			s += ": " + escapeText(r.Detail, room(s)-2)
		}
		return s
	case *capture.End:
		s := prefix + " end"
		if r.Error != "" {
			s += " (" + escapeText(r.Error, room(s)-3) + ")"
		}
		return s
	case *capture.HTTP:
		s := fmt.Sprintf("%s http#%d %s %s  %s  %s  %s", clockTime(r.Time), r.ID, r.Method, r.URL, statusText(r.Status),
			humanBytes(r.ResponseSize), humanDuration(r.Duration))
		if r.Error != "" {
			s += "  error: " + escapeText(r.Error, room(s)-9)
		}
		return s
	case *capture.Frame:
		return fmt.Sprintf("%s %s frame  %s fin=%t rsv=%d masked=%t length=%d", prefix, arrow(r.Dir), r.Opcode,
			r.Fin, r.RSV, r.Masked, r.Length)
	}
	return fmt.Sprintf("%s %s", prefix, rec.Type())
}

// connLabel names a record's connection: "#3", or "*" for records that
// belong to the capture as a whole.
func connLabel(c capture.ConnID) string {
	if c == 0 {
		return "*"
	}
	return "#" + strconv.FormatUint(uint64(c), 10)
}

// arrow draws a direction: → client to server, ← server to client, and the
// dashed ⇢ ⇠ for frames the proxy itself sent to the server or the client.
func arrow(d capture.Direction) string {
	switch d {
	case capture.ClientToServer:
		return "→"
	case capture.ServerToClient:
		return "←"
	case capture.ProxyToServer:
		return "⇢"
	case capture.ProxyToClient:
		return "⇠"
	}
	return "?"
}

// messageTags marks compressed, truncated and incomplete messages.
func messageTags(m *capture.Message) string {
	var tags []string
	if m.Compressed {
		tags = append(tags, "[z]")
	}
	if m.Truncated {
		tags = append(tags, "[truncated]")
	}
	if m.Incomplete {
		tags = append(tags, "[incomplete]")
	}
	return strings.Join(tags, " ")
}

// payloadPreview shows a message's payload in at most width runes: text
// escaped, binary as hex. Control payloads (ping, pong) are shown as text
// when they are valid UTF-8.
func payloadPreview(m *capture.Message, width int) string {
	if len(m.Data) == 0 {
		return ""
	}
	// Data holds at most showMaxData bytes, and every byte takes at least
	// a quarter of a column, so the preview is cut long before the end of a
	// Cut message: its "…" marks both.
	if m.Opcode == capture.OpText || (m.Opcode.IsControl() && utf8.Valid(m.Data)) {
		return escapeText(string(m.Data), width)
	}
	return hexPreview(m.Data, width)
}

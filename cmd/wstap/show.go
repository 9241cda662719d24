package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"iter"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/wstap/wstap/capture"
	"github.com/wstap/wstap/internal/present"
)

// showOptions are the flags of `wstap show`.
type showOptions struct {
	Conn   uint64 // only this connection; 0 for every record
	Format string // "text" (default) or "jsonl"
	Follow bool   // keep printing as the file grows
	Frames bool   // print each message's frames too
}

// AddFlags registers the options' flags.
func (o *showOptions) AddFlags(fs *pflag.FlagSet) {
	fs.Uint64Var(&o.Conn, "conn", 0, "show only connection `N` (default: every record)")
	fs.StringVar(&o.Format, "format", "text", "`FORMAT` of the output: text (one readable line a record) or jsonl (the stable JSON lines schema)")
	fs.BoolVarP(&o.Follow, "follow", "f", false, "keep printing records as they are recorded, until the recorder closes the file or Ctrl-C")
	fs.BoolVar(&o.Frames, "frames", false, "print the WebSocket frames of each message too (FIN, RSV bits, opcode, masked, wire length)")
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

--frames prints, under each message and close, the frames that carried it,
so fragmentation and compression show:

  12:00:00.128 #1 → text       12 B [z] hello world!
               └ frame text RSV1 masked 9 B +0s
               └ frame continuation FIN masked 5 B +1ms

A frame line gives the opcode (continuation for a message's later frames),
FIN on a message's last frame, RSV1 (permessage-deflate compressed the
message), RSV2 and RSV3 where set, masked (the client masks what it sends),
the payload length on the wire (compressed, if it was) and the frame's time
relative to its message's or close's. A frame that no message claimed (its
payload was lost, or it broke the protocol) gets a line of its own,
"HH:MM:SS.mmm #N → frame …", before its connection's end.

--format jsonl prints the stable machine interface, one JSON object a line
with a "type" field (open, message, close, event, end, http); see the JSONL
schema in the docs. With --frames it also has the frame records, type
"frame", in file order: before the message they carried, which is written
when its last chunk arrives.

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
	var finish func() error // prints what emit held back, at the end
	aopts := capture.AssembleOptions{Frames: opts.Frames}
	if opts.Format == "jsonl" {
		// The stable interface: exactly the encoder over whole messages
		// (and frames, in file order).
		emit = capture.NewJSONEncoder(bw).Encode
		finish = func() error { return nil }
	} else {
		aopts.MaxData = showMaxData
		emit, finish = textEmitter(bw)
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
			if capture.IsDamage(err) { // read on past it, as the reader does
				if err := bw.Flush(); err != nil {
					return err
				}
				warnDamage(g, path, err)
				continue
			}
			if errors.Is(err, capture.ErrTornTail) {
				tail = err
				break
			}
			finish()
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
	if err := finish(); err != nil {
		return err
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

// textEmitter returns the text format's emit, which prints each record's
// line to w and, for records with frames (show --frames hands Frame records
// to it), their frame lines under it; and finish, which prints the frames
// no record claimed.
func textEmitter(w io.Writer) (emit func(capture.Record) error, finish func() error) {
	var frames present.FrameBuffer
	orphans := func(conn capture.ConnID) error {
		for _, f := range frames.Orphans(conn) {
			if _, err := fmt.Fprintln(w, present.Line(&f, showWidth)); err != nil {
				return err
			}
		}
		return nil
	}
	emit = func(rec capture.Record) error {
		switch r := rec.(type) {
		case *capture.Frame:
			frames.Hold(r)
			return nil
		case *capture.End:
			// Assemble has handed out the connection's last messages.
			if err := orphans(r.Conn); err != nil {
				return err
			}
		}
		if _, err := fmt.Fprintln(w, present.Line(rec, showWidth)); err != nil {
			return err
		}
		for _, f := range frames.Take(rec) {
			if _, err := fmt.Fprintln(w, present.FrameLine(&f, rec.At())); err != nil {
				return err
			}
		}
		return nil
	}
	return emit, func() error { return orphans(0) }
}

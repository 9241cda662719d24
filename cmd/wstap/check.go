package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/wstap/wstap/capture"
	"github.com/wstap/wstap/internal/present"
)

// errDamaged is check's result for a damaged capture (exit status 1).
var errDamaged = errors.New("damaged")

func newCheckCommand(g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "check FILE",
		Short: "Verify every checksum and record of a capture",
		Long: `Verify a capture: every frame head, every checksum, every chunk's
decompression and record count, the run of record numbers from chunk to
chunk, and the footer's index. Each damaged range is printed on a line of
its own, with its offsets and what is wrong; then a summary line.

A torn tail (the recorder crashed, or is still writing) counts as damage
here. wstap repair FILE -o OUT salvages every readable record into a new
capture.

EXIT STATUS
  0  the capture is intact
  1  the capture is damaged, or cannot be read at all
  2  usage error (unknown flag, missing argument)
`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runCheck(cmd.Context(), g, args)
		},
	}
}

func runCheck(_ context.Context, g *globalOptions, args []string) error {
	path := args[0]
	rep, err := capture.VerifyFile(path)
	if err != nil {
		return err
	}
	out := &errWriter{w: g.stdout}
	for _, d := range rep.Damage {
		fmt.Fprintf(out, "%s: %s\n", path, d.Describe())
	}
	if t := rep.Tail; t != nil {
		fmt.Fprintf(out, "%s: torn tail at offset %d (%d bytes): %s\n", path, t.Offset, rep.Size-t.Offset, t.Reason)
	}
	state := "closed cleanly"
	if !rep.Complete {
		state = "not closed (no footer)"
	}
	verdict := "intact"
	if !rep.Intact() {
		n := len(rep.Damage)
		if rep.Tail != nil {
			n++
		}
		verdict = fmt.Sprintf("DAMAGED: %d damaged %s", n, plural(n, "range", "ranges"))
	}
	fmt.Fprintf(out, "%s: %s; %d chunks, %d records, %s, %s\n", path, verdict, rep.Chunks, rep.Records,
		present.Bytes(rep.Size), state)
	if out.err != nil {
		return out.err
	}
	if !rep.Intact() {
		return fmt.Errorf("%s is damaged; wstap repair %s -o NEW.wstap salvages every readable record: %w", path, path, errDamaged)
	}
	return nil
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/wstap/wstap/capture"
)

// repairOptions are the flags of `wstap repair`.
type repairOptions struct {
	Out string // the new capture
}

// AddFlags registers the options' flags.
func (o *repairOptions) AddFlags(fs *pflag.FlagSet) {
	fs.StringVarP(&o.Out, "output", "o", "", "write the repaired capture to `OUT` (required; it must not exist)")
}

func newRepairCommand(g *globalOptions) *cobra.Command {
	opts := &repairOptions{}
	cmd := &cobra.Command{
		Use:   "repair FILE -o OUT",
		Short: "Salvage every readable record of a capture into a new, compressed one",
		Long: `Write a new capture OUT with every readable record of FILE, in the same
order, with the same connection ids and times, behind a fresh index and a
footer. Damaged ranges and a torn tail are passed over; wstap check FILE
lists them. FILE is never written to, and OUT appears only once it is
complete.

Every chunk of OUT is compressed. wstap record stores a batch of records
uncompressed when compressing it would keep the records in memory past the
loss bound (a busy CPU, traffic faster than zstd); repair compresses such a
capture afterwards, intact or not. The summary gives both files' sizes.

EXIT STATUS
  0  OUT was written (the summary says how much was passed over)
  1  error (FILE cannot be read, OUT exists or cannot be written)
  2  usage error (unknown flag, missing argument or -o)
`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runRepair(cmd.Context(), g, opts, args)
		},
	}
	opts.AddFlags(cmd.Flags())
	return cmd
}

func runRepair(_ context.Context, g *globalOptions, opts *repairOptions, args []string) error {
	if opts.Out == "" {
		return usagef("wstap repair needs -o OUT, the new capture to write (see wstap repair --help)")
	}
	st, err := capture.Repair(args[0], opts.Out)
	if err != nil {
		return err
	}
	torn := ""
	if st.Torn {
		torn = " and a torn tail"
	}
	fmt.Fprintf(g.stdout, "%s: %d records salvaged into %s; %d damaged %s%s passed over; %s → %s\n", args[0], st.Records,
		opts.Out, st.Damage, plural(st.Damage, "range", "ranges"), torn, decimalSize(st.SrcBytes), decimalSize(st.DstBytes))
	return nil
}

// decimalSize writes n bytes in SI units with one decimal: 582 B, 3.1 kB,
// 12.0 MB, 1.5 GB.
func decimalSize(n int64) string {
	if n < 1000 {
		return fmt.Sprintf("%d B", n)
	}
	v, unit := float64(n)/1e3, "kB"
	for _, u := range []string{"MB", "GB", "TB"} {
		if v < 999.95 {
			break
		}
		v, unit = v/1e3, u
	}
	return fmt.Sprintf("%.1f %s", v, unit)
}

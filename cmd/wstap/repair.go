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
		Short: "Salvage every readable record of a damaged capture into a new one",
		Long: `Write a new capture OUT with every readable record of FILE, in the same
order, with the same connection ids and times, behind a fresh index and a
footer. Damaged ranges and a torn tail are passed over; wstap check FILE
lists them. FILE is never written to, and OUT appears only once it is
complete.

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
	fmt.Fprintf(g.stdout, "%s: %d records salvaged into %s; %d damaged %s%s passed over\n", args[0], st.Records, opts.Out,
		st.Damage, plural(st.Damage, "range", "ranges"), torn)
	return nil
}

package main

import (
	"errors"
	"fmt"
	"io"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// Exit statuses, the same for every command (DESIGN section 4).
const (
	exitOK        = 0
	exitError     = 1
	exitUsage     = 2
	exitDifferent = 3 // diff and replay --check found differences
)

// version is set at build time with -ldflags "-X main.version=v1.2.3".
var version = ""

// globalOptions are shared by every command.
type globalOptions struct {
	stdout, stderr io.Writer
}

// usageError marks an error as a usage mistake (exit status 2).
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

func usagef(format string, a ...any) error { return &usageError{fmt.Errorf(format, a...)} }

// errDifferent is returned by commands that found differences (exit status 3).
var errDifferent = errors.New("differences found")

// exitCode maps a command's error to the process exit status. It is the only
// place that does so.
func exitCode(err error) int {
	var ue *usageError
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, errDifferent):
		return exitDifferent
	case errors.As(err, &ue):
		return exitUsage
	}
	return exitError
}

func versionString() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "devel"
}

const exitStatusHelp = `
EXIT STATUS
  0  success
  1  error (a missing or unreadable file, a file that is not a capture)
  2  usage error (unknown flag, missing argument)
`

func newRootCommand(g *globalOptions) *cobra.Command {
	root := &cobra.Command{
		Use:   "wstap",
		Short: "A recording man-in-the-middle proxy and inspector for WebSocket traffic",
		Long: `wstap sits between a WebSocket client and server, relays every frame unchanged
and records a decoded copy into a compressed, crash-safe capture file.` + "\n" + exitStatusHelp +
			"  3  differences found (diff, replay --check, a mock server's client that strayed)\n",
		Version:       versionString(),
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &usageError{err} })
	root.AddCommand(newLsCommand(g), newShowCommand(g), newInspectCommand(g), newRecordCommand(g), newDemoCommand(g), newCACommand(g), newCertCommand(g), newCheckCommand(g), newRepairCommand(g), newReplayCommand(g), newServeCommand(g), newDiffCommand(g), newExportCommand(g), newImportCommand(g), newBenchCommand(g))
	return root
}

// exactArgs is cobra.ExactArgs with a usage error.
func exactArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if n == 0 && len(args) > 0 {
			return usagef("%s takes no arguments, got %q (see %s --help)", cmd.CommandPath(), args, cmd.CommandPath())
		}
		if len(args) != n {
			return usagef("%s takes %d argument(s), got %d (see %s --help)", cmd.CommandPath(), n, len(args), cmd.CommandPath())
		}
		return nil
	}
}

package inspector

import (
	"context"
	"io"
	"os"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"
	"github.com/charmbracelet/x/term"
	"github.com/wstap/wstap/internal/sessiondiff"
)

// Run runs the inspector on a terminal until the user quits or ctx ends.
// in and out are the terminal (nil: the process's stdin and stdout).
func Run(ctx context.Context, src Source, opts Options, in io.Reader, out io.Writer) error {
	in, out, opts = terminalDefaults(in, out, opts)
	m := New(src, opts)
	defer m.Close()
	return runProgram(ctx, m, in, out)
}

// RunDiff runs the side-by-side diff of two sessions (see NewDiff) on a
// terminal until the user quits or ctx ends, as Run does.
func RunDiff(ctx context.Context, res *sessiondiff.Result, opts Options, in io.Reader, out io.Writer) error {
	in, out, opts = terminalDefaults(in, out, opts)
	m := NewDiff(res, opts)
	defer m.Close()
	return runProgram(ctx, m, in, out)
}

// terminalDefaults fills in the process's terminal and whether it shows
// colours (never with NO_COLOR set).
func terminalDefaults(in io.Reader, out io.Writer, opts Options) (io.Reader, io.Writer, Options) {
	if in == nil {
		in = os.Stdin
	}
	if out == nil {
		out = os.Stdout
	}
	if !opts.Color {
		opts.Color = os.Getenv("NO_COLOR") == "" && colorprofile.Detect(out, os.Environ()) > colorprofile.ASCII
	}
	return in, out, opts
}

func runProgram(ctx context.Context, m tea.Model, in io.Reader, out io.Writer) error {
	popts := []tea.ProgramOption{tea.WithContext(ctx), tea.WithInput(in), tea.WithOutput(out)}
	if f, ok := out.(*os.File); !ok || !term.IsTerminal(f.Fd()) {
		// No terminal to ask for its size (a pipe, a test): draw 80×24.
		popts = append(popts, tea.WithWindowSize(80, 24))
	}
	p := tea.NewProgram(m, popts...)
	_, err := p.Run()
	if ctx.Err() != nil {
		return nil
	}
	return err
}

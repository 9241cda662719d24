package inspector

import (
	"context"
	"io"
	"os"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"
	"github.com/charmbracelet/x/term"
)

// Run runs the inspector on a terminal until the user quits or ctx ends.
// in and out are the terminal (nil: the process's stdin and stdout).
func Run(ctx context.Context, src Source, opts Options, in io.Reader, out io.Writer) error {
	if in == nil {
		in = os.Stdin
	}
	if out == nil {
		out = os.Stdout
	}
	if !opts.Color {
		opts.Color = os.Getenv("NO_COLOR") == "" && colorprofile.Detect(out, os.Environ()) > colorprofile.ASCII
	}
	m := New(src, opts)
	defer m.Close()
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

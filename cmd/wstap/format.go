package main

import (
	"errors"
	"fmt"
	"io"

	"github.com/wstap/wstap/capture"
)

// Output plumbing shared by the read-side commands (ls, show). How records
// look is package present's business; the capture package does the reading.

// readStatusHelp is the EXIT STATUS section of commands that read captures.
const readStatusHelp = exitStatusHelp + `
A capture whose tail is torn (the recorder crashed, or is still writing) is
printed up to the damage, followed by a warning on stderr; that is not an
error and the exit status stays 0. Damage in the middle of a capture (a
flipped byte, a bad sector) is passed over with a warning naming the
damaged bytes, and what follows it is printed too; wstap check lists every
damaged range and wstap repair salvages the rest into a new file. A capture
written by a newer wstap is an error (1).
`

// warnTornTail prints the one-line warning for a torn capture tail, if err
// is one. Everything before the tail has been printed by then.
func warnTornTail(g *globalOptions, path string, err error) {
	var te *capture.TailError
	switch {
	case errors.As(err, &te):
		fmt.Fprintf(g.stderr, "wstap: warning: %s: torn tail at offset %d (%s); records before it are intact\n",
			path, te.Offset, te.Reason)
	case errors.Is(err, capture.ErrTornTail):
		fmt.Fprintf(g.stderr, "wstap: warning: %s: torn tail; records before it are intact\n", path)
	}
}

// warnDamage prints the one-line warning for damage in the middle of a
// capture, which the reader passed over to read on.
func warnDamage(g *globalOptions, path string, err error) {
	var de *capture.DamageError
	if errors.As(err, &de) {
		fmt.Fprintf(g.stderr, "wstap: warning: %s: %s; reading on\n", path, de.Describe())
	}
}

// errWriter remembers the first write error, so formatting code can print
// freely and check once.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	n, err := e.w.Write(p)
	if err != nil {
		e.err = fmt.Errorf("write output: %w", err)
	}
	return n, e.err
}

package replay

import (
	"github.com/wstap/wstap/internal/sessiondiff"
)

// Check aligns the server's answers in this run with the recorded ones
// (those that followed what was sent) by their order, and compares them
// JSON-aware.
func (c *ConnResult) Check(opts sessiondiff.Options) []sessiondiff.Op {
	return sessiondiff.Check(diffMessages(c.Expected), diffMessages(c.Got), opts)
}

// diffMessages turns steps into the messages sessiondiff compares.
func diffMessages(steps []Step) []sessiondiff.Message {
	out := make([]sessiondiff.Message, len(steps))
	for i, st := range steps {
		out[i] = sessiondiff.Message{Index: st.N, Dir: st.Dir, Opcode: st.Opcode, Time: st.Time, Data: st.Data}
	}
	return out
}

package replay

import (
	"github.com/wstap/wstap/capture"
)

// Plan is what a replay of one connection would do, without dialling:
// where it goes, with which headers, and which client messages it sends,
// with the edits that need no extracted value already applied.
type Plan struct {
	Conn    capture.ConnID
	URL     string
	Headers []Header
	Steps   []PlannedStep
}

// PlannedStep is one client message of a plan.
type PlannedStep struct {
	Step
	Send    bool   // false: --drop or --only leaves it out
	Data    []byte // the payload as it would be sent (before ${NAME}s are known)
	Changed bool   // an edit changed it
}

// Preview plans the replay of c under opts.
func Preview(c Conn, opts Options) (*Plan, error) {
	opts.defaults()
	p, err := newPlayer(c, &opts)
	if err != nil {
		return nil, err
	}
	plan := &Plan{Conn: c.ID, URL: p.url, Headers: p.header}
	none := func(string) (Value, bool) { return Value{}, false }
	for _, st := range c.Script.Client() {
		ps := PlannedStep{Step: st, Send: opts.Edits.Sends(st.N), Data: st.Data}
		if r := opts.Replace[c.ID]; r != nil {
			if d, ok := r[st.N]; ok {
				ps.Data, ps.Changed = d, true
			}
		}
		if ps.Send {
			data, changed, _, err := opts.Edits.Apply(ps.Data, st.Opcode, none)
			if err != nil {
				return nil, err
			}
			ps.Data, ps.Changed = data, ps.Changed || changed
		}
		plan.Steps = append(plan.Steps, ps)
	}
	return plan, nil
}

package replay

import (
	"context"
	"fmt"
	"time"

	"github.com/wstap/wstap/capture"
)

// Resent is the outcome of resending one edited client message: the
// server's replies to it in the recording and in the new run.
type Resent struct {
	N        int       // the client message's number
	Sent     time.Time // when the edited message was sent; zero if it was not
	Old, New []Step    // the server messages that followed it, recorded and now
	Conn     *ConnResult
}

// Resend replays connection c up to the client message at capture
// position seq, sending data in its place, and returns the server's
// replies to it beside the recorded ones. opts says where and how (its
// Edits' selection is replaced: every message up to that one is sent).
func Resend(ctx context.Context, c Conn, seq uint64, data []byte, opts Options) (*Resent, error) {
	n := 0
	for _, st := range c.Script.Client() {
		if st.Seq == seq {
			n = st.N
		}
	}
	if n == 0 {
		return nil, fmt.Errorf("connection %d has no client message at position %d; only what the client sent can be resent", c.ID, seq)
	}
	ed := Edits{Only: []Range{{1, n}}}
	if opts.Edits != nil {
		ed.Sets, ed.Subs = opts.Edits.Sets, opts.Edits.Subs
	}
	opts.Edits = &ed
	opts.Replace = map[capture.ConnID]map[int][]byte{c.ID: {n: data}}
	res, err := Run(ctx, []Conn{c}, opts)
	if err != nil {
		return nil, err
	}
	cr := res.Conns[0]
	out := &Resent{N: n, Conn: cr}
	if cr.Sent == n {
		out.Sent = cr.SentAt[n-1]
	}
	for _, st := range c.Script.Server() {
		if st.After == n {
			out.Old = append(out.Old, st)
		}
	}
	for _, st := range cr.Got {
		if st.After == n {
			out.New = append(out.New, st)
		}
	}
	return out, cr.Err
}

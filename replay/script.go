package replay

import (
	"errors"
	"fmt"
	"time"

	"github.com/wstap/wstap/capture"
)

// Step is one message of a recorded session that crossed between the
// peers: sent by the client and forwarded to the server, or the reverse.
type Step struct {
	Dir    capture.Direction // capture.ClientToServer or capture.ServerToClient
	Opcode capture.Opcode    // capture.OpText or capture.OpBinary
	Time   time.Time
	Data   []byte // the whole payload
	// N numbers the steps of one direction: 1, 2, 3 … The client's
	// numbers are what --drop and --only select.
	N int
	// After is, for a server step, the N of the client step it followed
	// (0 for the messages before the client's first): in the recording,
	// or, in a replay's ConnResult.Got, the one sent last when it came.
	// For a client step it is the number of server steps before it.
	After int
	// Seq is the message's position in the capture it was loaded from
	// (capture.Message.Seq); 0 for a message of a new run.
	Seq uint64
}

// Script is one recorded connection, as a replay or a mock server needs
// it: the handshake, and the messages that crossed, in order.
type Script struct {
	Open  *capture.ConnOpen
	Steps []Step
	// Close is the first close of the connection by the client or the
	// server; nil when it ended without one.
	Close *capture.Close
	End   time.Time // the connection's last record
}

// RequestURI returns the recorded request's path and query, as the client
// wrote them: what a client of the mock should ask for. It is "/" when the
// recorded URL has no path.
func (s *Script) RequestURI() string {
	if s.Open == nil {
		return "/"
	}
	p := pathAndQuery(s.Open.URL)
	if p == "" {
		return "/"
	}
	if p[0] == '?' {
		p = "/" + p
	}
	return p
}

// Client returns the client's steps, in order.
func (s *Script) Client() []Step { return s.side(capture.ClientToServer) }

// Server returns the server's steps, in order.
func (s *Script) Server() []Step { return s.side(capture.ServerToClient) }

func (s *Script) side(d capture.Direction) []Step {
	var out []Step
	for _, st := range s.Steps {
		if st.Dir == d {
			out = append(out, st)
		}
	}
	return out
}

// Load reads connection conn of r as a script. Only what crossed between
// the peers is kept: wstap's own heartbeat frames, the pongs that answered
// them and frames the proxy dropped are left out. So are the peers' pings
// and pongs: keepalive belongs to the connection, and the WebSocket
// library of a replay or a mock answers pings by itself. A message the capture kept
// only part of is an error: a replay would send something else.
func Load(r *capture.Reader, conn capture.ConnID) (*Script, error) {
	if _, ok := r.Conn(conn); !ok {
		return nil, fmt.Errorf("the capture has no connection %d", conn)
	}
	s := &Script{}
	nc, ns := 0, 0
	for rec, err := range r.Messages(capture.Filter{Conn: conn}, capture.AssembleOptions{}) {
		if err != nil {
			var de *capture.DamageError
			if errors.As(err, &de) {
				return nil, fmt.Errorf("connection %d: %w", conn, err)
			}
			return nil, err
		}
		s.End = rec.At()
		switch rec := rec.(type) {
		case *capture.ConnOpen:
			s.Open = rec
		case *capture.Close:
			if s.Close == nil && !rec.Dropped && (rec.Dir == capture.ClientToServer || rec.Dir == capture.ServerToClient) {
				s.Close = rec
			}
		case *capture.Message:
			if !rec.Crossed() || rec.Opcode.IsControl() {
				continue
			}
			if rec.Truncated || rec.Incomplete {
				return nil, fmt.Errorf("connection %d: message at %s is incomplete in the capture; it cannot be replayed", conn, rec.Time.Format("15:04:05.000"))
			}
			st := Step{Dir: rec.Dir, Opcode: rec.Opcode, Time: rec.Time, Data: rec.Data, Seq: rec.Seq}
			if rec.Dir == capture.ClientToServer {
				nc++
				st.N, st.After = nc, ns
			} else {
				ns++
				st.N, st.After = ns, nc
			}
			s.Steps = append(s.Steps, st)
		}
	}
	if s.Open == nil {
		return nil, fmt.Errorf("connection %d: its open record is missing from the capture", conn)
	}
	if s.Open.Status != 101 {
		return nil, fmt.Errorf("connection %d was never established (status %d); there is nothing to replay", conn, s.Open.Status)
	}
	return s, nil
}

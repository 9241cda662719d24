package sessiondiff

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/wstap/wstap/capture"
)

// Message is one data message of a session (text or binary) that crossed
// between the peers.
type Message struct {
	Index  int               // 1-based position among its session's messages of the same direction
	Dir    capture.Direction // capture.ClientToServer or capture.ServerToClient
	Opcode capture.Opcode    // capture.OpText or capture.OpBinary
	Time   time.Time
	Data   []byte // the whole payload
}

// Session is one connection's handshake and messages.
type Session struct {
	Name            string // how output names it, e.g. "a.wstap#1"
	URL             string
	Status          int
	Subprotocol     string
	Extensions      string
	RequestHeaders  http.Header
	ResponseHeaders http.Header
	Start, End      time.Time // open time; last record time
	Messages        []Message // both directions, in order of time
}

// Load reads connection conn of r: its open record and every data message
// that crossed (capture.Message.Crossed, opcode text or binary), payloads
// whole. Pings, pongs, the proxy's own frames and dropped frames are left
// out. A message that never finished (the connection or the file ended
// first) is kept with the part that was recorded. Damage in the middle of the file is passed over and a torn tail ends
// the session early, as the reader does; the caller learns of both from
// r.Damage and r.Tail. Any other read error is returned.
func Load(r *capture.Reader, conn capture.ConnID, name string) (*Session, error) {
	sum, ok := r.Conn(conn)
	if !ok {
		return nil, fmt.Errorf("sessiondiff: no connection %d", conn)
	}
	s := &Session{Name: name, URL: sum.URL, Status: sum.Status, Subprotocol: sum.Subprotocol,
		Extensions: sum.Extensions, Start: sum.First, End: sum.Last}
	for rec, err := range r.Messages(capture.Filter{Conn: conn}, capture.AssembleOptions{}) {
		if err != nil {
			if capture.IsDamage(err) {
				continue
			}
			if errors.Is(err, capture.ErrTornTail) {
				break
			}
			return nil, fmt.Errorf("sessiondiff: load connection %d: %w", conn, err)
		}
		if t := rec.At(); t.After(s.End) {
			s.End = t
		}
		switch rec := rec.(type) {
		case *capture.ConnOpen:
			s.URL, s.Status, s.Subprotocol, s.Extensions = rec.URL, rec.Status, rec.Subprotocol, rec.Extensions
			s.RequestHeaders, s.ResponseHeaders, s.Start = rec.RequestHeaders, rec.ResponseHeaders, rec.Time
		case *capture.Message:
			if rec.Crossed() && (rec.Opcode == capture.OpText || rec.Opcode == capture.OpBinary) {
				s.Messages = append(s.Messages, Message{Dir: rec.Dir, Opcode: rec.Opcode, Time: rec.Time, Data: rec.Data})
			}
		}
	}
	// Messages are yielded as they complete; a long one may begin before a
	// short one of the other direction that completes first.
	slices.SortStableFunc(s.Messages, func(a, b Message) int { return a.Time.Compare(b.Time) })
	Number(s.Messages)
	return s, nil
}

// Number sets the Index of each message: 1, 2, 3 … among the messages of
// its direction, in slice order. Code that builds a Session by hand (tests,
// a replay's new run) calls it once the messages are in place.
func Number(ms []Message) {
	var n [2]int
	for i := range ms {
		d := 0
		if ms[i].Dir != capture.ClientToServer {
			d = 1
		}
		n[d]++
		ms[i].Index = n[d]
	}
}

package present

import (
	"cmp"
	"slices"

	"github.com/wstap/wstap/capture"
)

// frameKey is Assemble's key for a message in progress: control messages
// interleave with a data message's frames (RFC 6455, section 5.4), so they
// are kept apart.
type frameKey struct {
	conn    capture.ConnID
	dir     capture.Direction
	control bool
}

// FrameBuffer assigns Frame records to the record they belong to: the
// frames of a data message to that *capture.Message, a ping's or pong's
// frame to its message, a close frame to its *capture.Close. A capture
// holds each frame record before the payload it carries, so in an
// assembled sequence (AssembleOptions.Frames) a message's frames come
// before the message; Hold them as they come and Take them when their
// record arrives. The zero value is ready to use.
type FrameBuffer struct {
	held map[frameKey][]capture.Frame
}

// Hold keeps a copy of f until Take hands it out with its record.
func (b *FrameBuffer) Hold(f *capture.Frame) {
	if b.held == nil {
		b.held = map[frameKey][]capture.Frame{}
	}
	k := frameKey{f.Conn, f.Dir, f.Opcode.IsControl()}
	b.held[k] = append(b.held[k], *f)
}

// Take returns the frames of rec, a *capture.Message or *capture.Close, in
// order, and forgets them; nil for other records and for records without
// frames (a close with code 1006, which no frame carried). The frames of a
// message are the first held frame of its connection, direction and
// opcode, and the continuation frames after it, so an incomplete message
// cut short by the next one keeps only its own.
func (b *FrameBuffer) Take(rec capture.Record) []capture.Frame {
	var k frameKey
	var op capture.Opcode
	switch r := rec.(type) {
	case *capture.Message:
		k, op = frameKey{r.Conn, r.Dir, r.Opcode.IsControl()}, r.Opcode
	case *capture.Close:
		k, op = frameKey{r.Conn, r.Dir, true}, capture.OpClose
	default:
		return nil
	}
	held := b.held[k]
	i := slices.IndexFunc(held, func(f capture.Frame) bool { return f.Opcode == op })
	if i < 0 {
		return nil
	}
	j := i + 1
	for j < len(held) && held[j].Opcode == capture.OpContinuation {
		j++
	}
	frames := slices.Clone(held[i:j])
	if rest := slices.Delete(held, i, j); len(rest) > 0 {
		b.held[k] = rest
	} else {
		delete(b.held, k)
	}
	return frames
}

// Orphans returns, in time order, and forgets the frames held for
// connection conn (every connection when conn is 0) that no record
// claimed: frames of a payload the capture lost, or of a protocol
// violation such as a continuation frame with no message to continue. Call
// it when the connection ends, and for 0 when the records do.
func (b *FrameBuffer) Orphans(conn capture.ConnID) []capture.Frame {
	var frames []capture.Frame
	for k, held := range b.held {
		if conn == 0 || k.conn == conn {
			frames = append(frames, held...)
			delete(b.held, k)
		}
	}
	// Map order is random: ties break by the key, and within a key the
	// stable sort keeps the order the frames came in.
	slices.SortStableFunc(frames, func(a, b capture.Frame) int {
		return cmp.Or(a.Time.Compare(b.Time), cmp.Compare(a.Conn, b.Conn), cmp.Compare(a.Dir, b.Dir),
			cmp.Compare(btoi(a.Opcode.IsControl()), btoi(b.Opcode.IsControl())))
	})
	return frames
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

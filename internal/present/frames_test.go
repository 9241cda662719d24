package present

import (
	"slices"
	"testing"

	"github.com/wstap/wstap/capture"
)

// Shorthands for the records of TestFrameBuffer, in the order Assemble
// yields them: a message's frames before it.
const (
	c2s = capture.ClientToServer
	s2c = capture.ServerToClient
)

func frame(conn capture.ConnID, dir capture.Direction, op capture.Opcode, fin bool, length int64) *capture.Frame {
	return &capture.Frame{Conn: conn, Time: at(int(length)), Dir: dir, Opcode: op, Fin: fin, Length: length}
}

func msg(conn capture.ConnID, dir capture.Direction, op capture.Opcode) *capture.Message {
	return &capture.Message{Conn: conn, Dir: dir, Opcode: op}
}

func TestFrameBuffer(t *testing.T) {
	const (
		text, cont, bin = capture.OpText, capture.OpContinuation, capture.OpBinary
		ping, pong      = capture.OpPing, capture.OpPong
	)
	tests := []struct {
		name        string
		recs        []capture.Record
		want        [][]string // FrameFacts of what Take returned, for each record that is not a frame
		wantOrphans []string   // Orphans(0) at the end
	}{
		{
			name: "fragmented",
			recs: []capture.Record{frame(1, c2s, text, false, 1), frame(1, c2s, cont, false, 2), frame(1, c2s, cont, true, 3),
				msg(1, c2s, text)},
			want: [][]string{{"text 1 B", "continuation 2 B", "continuation FIN 3 B"}},
		},
		{
			name: "one frame each",
			recs: []capture.Record{frame(1, c2s, text, true, 1), msg(1, c2s, text), frame(1, c2s, bin, true, 2),
				msg(1, c2s, bin)},
			want: [][]string{{"text FIN 1 B"}, {"binary FIN 2 B"}},
		},
		{
			name: "ping between fragments",
			recs: []capture.Record{frame(1, c2s, text, false, 1), frame(1, c2s, cont, false, 2), frame(1, c2s, ping, true, 4),
				msg(1, c2s, ping), frame(1, c2s, cont, true, 3), msg(1, c2s, text)},
			want: [][]string{{"ping FIN 4 B"}, {"text 1 B", "continuation 2 B", "continuation FIN 3 B"}},
		},
		{
			name: "directions and connections apart",
			recs: []capture.Record{frame(1, c2s, text, false, 1), frame(1, s2c, text, true, 2), frame(2, c2s, text, true, 5),
				frame(1, c2s, cont, true, 3), msg(1, s2c, text), msg(2, c2s, text), msg(1, c2s, text)},
			want: [][]string{{"text FIN 2 B"}, {"text FIN 5 B"}, {"text 1 B", "continuation FIN 3 B"}},
		},
		{
			name: "pong and close",
			recs: []capture.Record{frame(1, s2c, pong, true, 4), msg(1, s2c, pong), frame(1, c2s, capture.OpClose, true, 2),
				&capture.Close{Conn: 1, Dir: c2s, Code: 1000}, &capture.Close{Conn: 1, Dir: s2c, Code: 1006}},
			want: [][]string{{"pong FIN 4 B"}, {"close FIN 2 B"}, nil},
		},
		{
			name: "incomplete message cut short by the next",
			recs: []capture.Record{frame(1, c2s, text, false, 1), frame(1, c2s, cont, false, 2), frame(1, c2s, bin, true, 6),
				&capture.Message{Conn: 1, Dir: c2s, Opcode: text, Incomplete: true}, msg(1, c2s, bin)},
			want: [][]string{{"text 1 B", "continuation 2 B"}, {"binary FIN 6 B"}},
		},
		{
			name: "continuation with nothing to continue",
			recs: []capture.Record{frame(1, c2s, cont, true, 1), frame(1, c2s, text, true, 2), msg(1, c2s, text),
				&capture.End{Conn: 1}},
			want:        [][]string{{"text FIN 2 B"}, nil},
			wantOrphans: []string{"continuation FIN 1 B"},
		},
		{
			name:        "frames of a lost payload",
			recs:        []capture.Record{frame(2, s2c, bin, false, 9), frame(1, c2s, ping, true, 3), &capture.Event{Conn: 1}},
			want:        [][]string{nil},
			wantOrphans: []string{"ping FIN 3 B", "binary 9 B"}, // in time order
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b FrameBuffer
			var got [][]string
			for _, rec := range tt.recs {
				if f, ok := rec.(*capture.Frame); ok {
					b.Hold(f)
					continue
				}
				got = append(got, facts(b.Take(rec)))
			}
			if !slices.EqualFunc(got, tt.want, slices.Equal) {
				t.Errorf("Take for each record = %q, want %q", got, tt.want)
			}
			if got := facts(b.Orphans(0)); !slices.Equal(got, tt.wantOrphans) {
				t.Errorf("Orphans(0) = %q, want %q", got, tt.wantOrphans)
			}
			if got := b.Orphans(0); got != nil {
				t.Errorf("Orphans(0) a second time = %v, want none", got)
			}
		})
	}
}

func TestFrameBufferOrphansOfOneConn(t *testing.T) {
	var b FrameBuffer
	for _, f := range []*capture.Frame{frame(1, c2s, capture.OpText, false, 1), frame(2, c2s, capture.OpText, false, 2),
		frame(1, s2c, capture.OpBinary, false, 3)} {
		b.Hold(f)
	}
	if got, want := facts(b.Orphans(1)), []string{"text 1 B", "binary 3 B"}; !slices.Equal(got, want) {
		t.Errorf("Orphans(1) = %q, want %q", got, want)
	}
	if got, want := facts(b.Orphans(0)), []string{"text 2 B"}; !slices.Equal(got, want) {
		t.Errorf("Orphans(0) after Orphans(1) = %q, want %q", got, want)
	}
}

// TestFrameBufferCopies checks that Hold keeps a copy: a reader may hand
// out records from shared blocks.
func TestFrameBufferCopies(t *testing.T) {
	var b FrameBuffer
	f := frame(1, c2s, capture.OpText, true, 1)
	b.Hold(f)
	f.Length = 99
	if got := facts(b.Take(msg(1, c2s, capture.OpText))); !slices.Equal(got, []string{"text FIN 1 B"}) {
		t.Errorf("Take after the caller changed the frame = %q", got)
	}
}

func facts(frames []capture.Frame) []string {
	var s []string
	for i := range frames {
		s = append(s, FrameFacts(&frames[i]))
	}
	return s
}

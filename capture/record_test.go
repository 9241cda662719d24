package capture

import (
	"errors"
	"io"
	"testing"
	"time"
)

func TestDirection(t *testing.T) {
	tests := []struct {
		d     Direction
		str   string
		from  string
		valid bool
		side  int
	}{
		{ClientToServer, "client->server", "client", true, 0},
		{ServerToClient, "server->client", "server", true, 1},
		{ProxyToClient, "proxy->client", "proxy", true, 2},
		{ProxyToServer, "proxy->server", "proxy", true, 2},
		{4, "dir(4)", "dir(4)", false, 2},
		{255, "dir(255)", "dir(255)", false, 2},
	}
	for _, tt := range tests {
		if got := tt.d.String(); got != tt.str {
			t.Errorf("Direction(%d).String() = %q, want %q", uint8(tt.d), got, tt.str)
		}
		if got := tt.d.From(); got != tt.from {
			t.Errorf("Direction(%d).From() = %q, want %q", uint8(tt.d), got, tt.from)
		}
		if got := tt.d.Valid(); got != tt.valid {
			t.Errorf("Direction(%d).Valid() = %v, want %v", uint8(tt.d), got, tt.valid)
		}
		if got := tt.d.side(); got != tt.side {
			t.Errorf("Direction(%d).side() = %d, want %d", uint8(tt.d), got, tt.side)
		}
	}
}

func TestOpcode(t *testing.T) {
	tests := []struct {
		op      Opcode
		str     string
		control bool
	}{
		{OpContinuation, "continuation", false},
		{OpText, "text", false},
		{OpBinary, "binary", false},
		{3, "reserved-3", false},
		{7, "reserved-7", false},
		{OpClose, "close", true},
		{OpPing, "ping", true},
		{OpPong, "pong", true},
		{0xB, "reserved-11", true},
		{0xF, "reserved-15", true},
		{0x10, "reserved-16", false}, // not an opcode: four bits on the wire
	}
	for _, tt := range tests {
		if got := tt.op.String(); got != tt.str {
			t.Errorf("Opcode(%#x).String() = %q, want %q", uint8(tt.op), got, tt.str)
		}
		if got := tt.op.IsControl(); got != tt.control {
			t.Errorf("Opcode(%#x).IsControl() = %v, want %v", uint8(tt.op), got, tt.control)
		}
	}
}

func TestKindString(t *testing.T) {
	tests := []struct {
		k    Kind
		want string
	}{
		{KindOpen, "open"}, {KindFrame, "frame"}, {KindChunk, "chunk"}, {KindClose, "close"}, {KindEvent, "event"},
		{KindHTTP, "http"}, {KindEnd, "end"}, {KindMessage, "kind(0)"}, {8, "kind(8)"}, {255, "kind(255)"},
	}
	for _, tt := range tests {
		if got := tt.k.String(); got != tt.want {
			t.Errorf("Kind(%d).String() = %q, want %q", uint8(tt.k), got, tt.want)
		}
	}
}

// TestRecordMethods: every record kind says its kind, connection and time.
func TestRecordMethods(t *testing.T) {
	tests := []struct {
		r    Record
		kind Kind
		conn ConnID
		at   time.Time
	}{
		{&ConnOpen{Conn: 1, Time: at(1)}, KindOpen, 1, at(1)},
		{&Frame{Conn: 2, Time: at(2)}, KindFrame, 2, at(2)},
		{&Chunk{Conn: 3, Time: at(3)}, KindChunk, 3, at(3)},
		{&Close{Conn: 4, Time: at(4)}, KindClose, 4, at(4)},
		{&Event{Conn: 5, Time: at(5)}, KindEvent, 5, at(5)},
		{&Event{Time: at(6)}, KindEvent, 0, at(6)},
		{&HTTP{ID: 7, Time: at(7)}, KindHTTP, 0, at(7)}, // an exchange belongs to no connection
		{&End{Conn: 8, Time: at(8)}, KindEnd, 8, at(8)},
		{&Message{Conn: 9, Time: at(9), End: at(10)}, KindMessage, 9, at(9)},
	}
	for _, tt := range tests {
		if tt.r.Type() != tt.kind || tt.r.ConnID() != tt.conn || !tt.r.At().Equal(tt.at) {
			t.Errorf("%T: Type() = %v, ConnID() = %d, At() = %v; want %v, %d, %v", tt.r, tt.r.Type(), tt.r.ConnID(),
				tt.r.At(), tt.kind, tt.conn, tt.at)
		}
	}
}

func TestErrorTexts(t *testing.T) {
	te := &TailError{Offset: 4096, Reason: "zero-filled tail"}
	if got, want := te.Error(), "capture: torn or corrupt tail at offset 4096: zero-filled tail"; got != want {
		t.Errorf("TailError.Error() = %q, want %q", got, want)
	}
	var err error = te
	if !errors.Is(err, ErrTornTail) || errors.Is(err, ErrNotCapture) || errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("TailError matches ErrTornTail %v, ErrNotCapture %v, io.ErrUnexpectedEOF %v; want only the first",
			errors.Is(err, ErrTornTail), errors.Is(err, ErrNotCapture), errors.Is(err, io.ErrUnexpectedEOF))
	}
	ve := &VersionError{Version: 3}
	if got, want := ve.Error(), "capture: written by a newer wstap (format 3); this wstap reads format 1 and older"; got != want {
		t.Errorf("VersionError.Error() = %q, want %q", got, want)
	}
}

func TestConnSummaryDuration(t *testing.T) {
	tests := []struct {
		name        string
		first, last time.Time
		want        time.Duration
	}{
		{"open only", at(5), at(5), 0},
		{"one second", at(0), at(1000), time.Second},
		{"no open record", time.Time{}, at(10), 0},
		{"nothing", time.Time{}, time.Time{}, 0},
		{"last before first", at(10), at(3), 0},
		{"no last", at(10), time.Time{}, 0},
	}
	for _, tt := range tests {
		s := ConnSummary{First: tt.first, Last: tt.last}
		if got := s.Duration(); got != tt.want {
			t.Errorf("%s: Duration() = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestChunkEntryHas(t *testing.T) {
	tests := []struct {
		conns []ConnID
		c     ConnID
		want  bool
	}{
		{nil, 1, true}, // unknown: the chunk must be read
		{nil, 0, true},
		{[]ConnID{}, 1, false},
		{[]ConnID{0, 2, 5}, 0, true},
		{[]ConnID{0, 2, 5}, 2, true},
		{[]ConnID{0, 2, 5}, 5, true},
		{[]ConnID{0, 2, 5}, 1, false},
		{[]ConnID{0, 2, 5}, 6, false},
	}
	for _, tt := range tests {
		e := chunkEntry{Conns: tt.conns}
		if got := e.has(tt.c); got != tt.want {
			t.Errorf("chunkEntry{Conns: %v}.has(%d) = %v, want %v", tt.conns, tt.c, got, tt.want)
		}
	}
}

// TestSummaryApply: the summary of a connection follows its records.
func TestSummaryApply(t *testing.T) {
	s := ConnSummary{Conn: 1}
	for _, r := range []Record{
		&ConnOpen{Conn: 1, Time: at(0), URL: "ws://s.example.test/", Mode: "reverse", ClientAddr: "127.0.0.1:1", Status: 101,
			Subprotocol: "chat", Extensions: "permessage-deflate"},
		&Chunk{Conn: 1, Time: at(1), Dir: ClientToServer, First: true, Data: []byte("ab")},
		&Chunk{Conn: 1, Time: at(2), Dir: ClientToServer, Last: true, Data: []byte("c")},
		&Chunk{Conn: 1, Time: at(3), Dir: ProxyToServer, First: true, Last: true, Data: []byte("p")},
		&Chunk{Conn: 1, Time: at(4), Dir: ServerToClient, First: true, Last: true},
		&Event{Conn: 1, Time: at(5), Kind: EventViolation},
		&Event{Conn: 1, Time: at(6), Kind: EventGhost},
		&Event{Conn: 1, Time: at(7), Kind: EventNote},
		&Close{Conn: 1, Time: at(8), Dir: ServerToClient, Code: 1001, Reason: "away\xff"},
		&Close{Conn: 1, Time: at(9), Dir: ClientToServer, Code: 1000, Reason: "second"},
		&Frame{Conn: 1, Time: at(3)}, // earlier than the latest: Last stays
		&End{Conn: 1, Time: at(10), Error: "reset"},
	} {
		s.apply(r)
	}
	want := ConnSummary{Conn: 1, URL: "ws://s.example.test/", Mode: "reverse", ClientAddr: "127.0.0.1:1", Status: 101,
		Subprotocol: "chat", Extensions: "permessage-deflate", First: at(0), Last: at(10),
		Messages: [3]int64{1, 1, 1}, Bytes: [3]int64{3, 0, 1}, CloseCode: 1001, CloseFrom: "server", CloseReason: "away\uFFFD",
		Events: 3, Violations: 1, Ghost: true, Ended: true, Error: "reset"}
	if s != want {
		t.Errorf("summary = %+v\nwant %+v", s, want)
	}
	if s.Duration() != 10*time.Millisecond {
		t.Errorf("Duration() = %v, want 10ms", s.Duration())
	}
}

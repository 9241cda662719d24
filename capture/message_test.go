package capture

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"iter"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// records returns recs as a record sequence that ends with end, if not nil.
func records(recs []Record, end error) iter.Seq2[Record, error] {
	return func(yield func(Record, error) bool) {
		for _, r := range recs {
			if !yield(r, nil) {
				return
			}
		}
		if end != nil {
			yield(nil, end)
		}
	}
}

// describe renders Assemble's output compactly: messages as
// "conn/dir/opcode#index:data" with a trailing "!" when incomplete.
func describe(rec Record, err error) string {
	if err != nil {
		return "error " + err.Error()
	}
	if m, ok := rec.(*Message); ok {
		s := fmt.Sprintf("%d/%d/%v#%d:%s", m.Conn, m.Dir, m.Opcode, m.Index, m.Data)
		if m.Incomplete {
			s += "!"
		}
		return s
	}
	return fmt.Sprintf("%v %d", rec.Type(), rec.ConnID())
}

func assembled(src iter.Seq2[Record, error], opts AssembleOptions) []string {
	var out []string
	for rec, err := range Assemble(src, opts) {
		out = append(out, describe(rec, err))
	}
	return out
}

func chunkOf(conn ConnID, dir Direction, op Opcode, first, last bool, data string) *Chunk {
	return &Chunk{Conn: conn, Time: at(int(conn)), Dir: dir, Opcode: op, First: first, Last: last, Data: []byte(data)}
}

// TestAssembleFlushOrder: messages left unfinished on several connections
// come out in a fixed order, the order in which they began in the file, as
// docs/examples/read_capture.py has it, not in map order (issue 7).
func TestAssembleFlushOrder(t *testing.T) {
	src := []Record{
		chunkOf(3, ServerToClient, OpText, true, false, "a"),
		chunkOf(1, ClientToServer, OpBinary, true, false, "b"),
		chunkOf(2, ServerToClient, OpText, true, false, "c"),
		chunkOf(1, ServerToClient, OpText, true, false, "d"),
		chunkOf(2, ClientToServer, OpPing, true, false, "e"),
		chunkOf(4, ClientToServer, OpText, true, false, "f"),
		chunkOf(3, ClientToServer, OpText, true, true, "g"),
		chunkOf(3, ProxyToServer, OpPing, true, false, "h"),
		chunkOf(4, ClientToServer, OpPing, true, false, "i"),
	}
	flushed := []string{
		"3/1/text#1:a!", "1/0/binary#1:b!", "2/1/text#1:c!", "1/1/text#2:d!",
		"2/0/ping#2:e!", "4/0/text#1:f!", "3/3/ping#3:h!", "4/0/ping#2:i!",
	}
	torn := &TailError{Offset: 1234, Reason: "test"}
	for _, end := range []error{nil, torn} {
		want := append([]string{"3/0/text#2:g"}, flushed...)
		if end != nil {
			want = append(want, "error "+end.Error())
		}
		for i := range 50 { // map order differs from run to run
			if got := assembled(records(src, end), AssembleOptions{}); !reflect.DeepEqual(got, want) {
				t.Fatalf("run %d, end %v: Assemble =\n%q\nwant\n%q", i, end, got, want)
			}
		}
	}
	// An End flushes its own connection only, in the same order.
	withEnd := append(append([]Record(nil), src...), &End{Conn: 2, Time: at(9)}, chunkOf(2, ClientToServer, OpText, true, true, "j"))
	want := []string{"3/0/text#2:g", "2/1/text#1:c!", "2/0/ping#2:e!", "end 2", "2/0/text#3:j",
		"3/1/text#1:a!", "1/0/binary#1:b!", "1/1/text#2:d!", "4/0/text#1:f!", "3/3/ping#3:h!", "4/0/ping#2:i!"}
	for i := range 20 {
		if got := assembled(records(withEnd, nil), AssembleOptions{}); !reflect.DeepEqual(got, want) {
			t.Fatalf("run %d: Assemble =\n%q\nwant\n%q", i, got, want)
		}
	}
}

// TestAssembleStopsEarly: a consumer may stop at any record; Assemble then
// stops too (the runtime panics if an iterator goes on after its yield
// returned false) and what it yielded is a prefix of the whole.
func TestAssembleStopsEarly(t *testing.T) {
	src := append(fixtureRecords(), chunkOf(1, ServerToClient, OpText, true, false, "open at the end"),
		chunkOf(2, ClientToServer, OpText, true, false, "so is this"))
	for _, end := range []error{nil, errBoom} {
		for _, opts := range []AssembleOptions{{}, {Frames: true}, {MaxData: 2}} {
			full := assembled(records(src, end), opts)
			for n := 1; n <= len(full); n++ {
				var got []string
				for rec, err := range Assemble(records(src, end), opts) {
					got = append(got, describe(rec, err))
					if len(got) == n {
						break
					}
				}
				if !reflect.DeepEqual(got, full[:n]) {
					t.Fatalf("end %v, opts %+v, stopping after %d: got %q, want %q", end, opts, n, got, full[:n])
				}
			}
		}
	}
}

func TestAssembleOptions(t *testing.T) {
	src := []Record{
		&Frame{Conn: 1, Time: at(1), Fin: false, Opcode: OpText, Length: 3},
		chunkOf(1, ClientToServer, OpText, true, false, "abc"),
		&Frame{Conn: 1, Time: at(2), Fin: true, Opcode: OpContinuation, Length: 4},
		&Chunk{Conn: 1, Time: at(2), Opcode: OpText, Last: true, Truncated: true, Data: []byte("defg")},
	}
	tests := []struct {
		opts AssembleOptions
		want []string
	}{
		{AssembleOptions{}, []string{"1/0/text#1:abcdefg"}},
		{AssembleOptions{Frames: true}, []string{"frame 1", "frame 1", "1/0/text#1:abcdefg"}},
		{AssembleOptions{MaxData: 5}, []string{"1/0/text#1:abcde"}},
		{AssembleOptions{MaxData: 2}, []string{"1/0/text#1:ab"}},
	}
	for _, tt := range tests {
		var msgs []*Message
		var got []string
		for rec, err := range Assemble(records(src, nil), tt.opts) {
			got = append(got, describe(rec, err))
			if m, ok := rec.(*Message); ok {
				msgs = append(msgs, m)
			}
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("Assemble(%+v) = %q, want %q", tt.opts, got, tt.want)
			continue
		}
		m := msgs[0]
		wantCut := tt.opts.MaxData > 0 && tt.opts.MaxData < 7
		if m.Size != 7 || m.Cut != wantCut || !m.Truncated || m.Incomplete || !m.Time.Equal(at(1)) || !m.End.Equal(at(2)) {
			t.Errorf("Assemble(%+v): message %+v, want size 7, Cut %v, Truncated, from at(1) to at(2)", tt.opts, m, wantCut)
		}
	}
}

func TestMessageIsARecord(t *testing.T) {
	m := &Message{Conn: 7, Time: at(3), End: at(4)}
	var r Record = m
	if r.Type() != KindMessage || r.ConnID() != 7 || !r.At().Equal(at(3)) {
		t.Errorf("Message: Type() = %v, ConnID() = %d, At() = %v; want %v, 7, %v", r.Type(), r.ConnID(), r.At(),
			KindMessage, at(3))
	}
	if KindMessage.String() != "kind(0)" {
		t.Errorf("KindMessage.String() = %q, want %q", KindMessage.String(), "kind(0)")
	}
}

// openMessageCapture writes a capture whose connection 1 holds, in order:
// a message cut short by the next one of its kind (index 1), a ping in the
// middle of message 3 (index 2), message 3 in two chunks, and message 4
// cut short by the connection's End; connection 2 holds one message that
// never finishes, with no End.
func openMessageCapture(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "om.wstap")
	recs := []Record{
		&ConnOpen{Conn: 1, Time: at(0), URL: "ws://om.example.test/1"},
		&ConnOpen{Conn: 2, Time: at(0), URL: "ws://om.example.test/2"},
		chunkOf(1, ServerToClient, OpText, true, false, "abandoned"),
		chunkOf(1, ServerToClient, OpPing, true, true, "ping"),
		chunkOf(1, ServerToClient, OpText, true, false, "three, "),
		chunkOf(2, ServerToClient, OpBinary, true, false, "endless"),
		chunkOf(1, ServerToClient, OpText, false, true, "done"),
		chunkOf(1, ClientToServer, OpBinary, true, false, "cut by the end"),
		&End{Conn: 1, Time: at(9)},
	}
	w := writeAll(t, path, recs, Options{FlushInterval: time.Hour})
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestOpenMessage(t *testing.T) {
	path := openMessageCapture(t)
	r, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var msgs []*Message
	for rec, err := range r.Messages(Filter{}, AssembleOptions{}) {
		if err != nil {
			t.Fatal(err)
		}
		if m, ok := rec.(*Message); ok {
			msgs = append(msgs, m)
		}
	}
	var got []string
	for _, m := range msgs {
		got = append(got, describe(m, nil))
	}
	// Message 1 comes out when message 3 begins, after the ping.
	want := []string{"1/1/ping#2:ping", "1/1/text#1:abandoned!", "1/1/text#3:three, done", "1/0/binary#4:cut by the end!",
		"2/1/binary#1:endless!"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Messages = %q, want %q", got, want)
	}
	tests := []struct {
		m    *Message
		want string
		err  error
	}{
		{msgs[0], "ping", nil},
		{msgs[1], "abandoned", nil}, // the next message of its kind began
		{msgs[2], "three, done", nil},
		{msgs[3], "cut by the end", nil},                                      // the connection ended
		{msgs[4], "endless", io.ErrUnexpectedEOF},                             // the records ran out
		{&Message{Conn: 1, Seq: 9999}, "", errNotFound},                       // past the end
		{&Message{Conn: 3, Seq: msgs[0].Seq}, "", errNotFound},                // no such connection
		{&Message{Conn: 2, Seq: msgs[0].Seq}, "", errNotFound},                // another connection's message
		{&Message{Conn: msgs[2].Conn, Seq: msgs[2].Seq + 1}, "", errNotFound}, // inside a message
		{&Message{Conn: 1, Index: 1}, "", errNoOpen},                          // no position
		{&Message{Conn: 0, Seq: 1}, "", errNoOpen},                            // not a connection's
		{nil, "", errNoOpen},
	}
	for _, tt := range tests {
		rc, err := r.OpenMessage(tt.m)
		if err != nil {
			if tt.err != errNoOpen || !strings.Contains(err.Error(), "no message to open") {
				t.Errorf("OpenMessage(%+v) = %v, want a stream", tt.m, err)
			}
			continue
		}
		if tt.err == errNoOpen {
			rc.Close()
			t.Errorf("OpenMessage(%+v) = a stream, want an error", tt.m)
			continue
		}
		data, err := io.ReadAll(iotestOneByte{rc})
		rc.Close()
		switch {
		case tt.err == errNotFound:
			if err == nil || !strings.Contains(err.Error(), "no message of connection") {
				t.Errorf("OpenMessage(%+v): read %q, %v; want message not found", tt.m, data, err)
			}
		case string(data) != tt.want || !errors.Is(err, tt.err):
			t.Errorf("OpenMessage(%+v): read %q, %v; want %q, %v", tt.m, data, err, tt.want, tt.err)
		}
	}
}

var (
	errNotFound = errors.New("not found")
	errNoOpen   = errors.New("no open")
)

// iotestOneByte reads one byte at a time, so that every message crosses
// many Read calls.
type iotestOneByte struct{ r io.Reader }

func (o iotestOneByte) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	return o.r.Read(p[:1])
}

// TestOpenMessageTornTail: a message whose file is torn before its end
// streams what there is and then the tail error.
func TestOpenMessageTornTail(t *testing.T) {
	w, path := createWriter(t, "torn.wstap", Options{FlushInterval: time.Hour})
	c := mustOpen(t, w, &ConnOpen{Time: at(0), URL: "ws://torn.example.test/"})
	if err := w.Append(chunkOf(c, ServerToClient, OpBinary, true, false, "first half, ")); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := w.Append(chunkOf(c, ServerToClient, OpBinary, false, true, "second half")); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	full, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	r0, err := NewReader(bytes.NewReader(full), int64(len(full)))
	if err != nil {
		t.Fatal(err)
	}
	second := r0.chunks[1]
	r0.Close()
	cut := full[:second.Offset+frameHeadSize+chunkHeaderSize+int64(second.CLen)-1]
	r, err := NewReader(bytes.NewReader(cut), int64(len(cut)))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var first *Message
	for m, err := range r.Summaries(Filter{Conn: c}) {
		if err == nil && first == nil {
			first = new(Message)
			*first = *m
		}
	}
	if first == nil || first.Seq != 1 || !first.Incomplete {
		t.Fatalf("Summaries: first message %+v, want an incomplete one at position 1", first)
	}
	rc, err := r.OpenMessage(first)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	var te *TailError
	if string(data) != "first half, " || !errors.As(err, &te) || te.Offset != second.Offset {
		t.Errorf("read %q, %v; want %q and a torn tail at %d", data, err, "first half, ", second.Offset)
	}
	if n, err := rc.Read(make([]byte, 8)); n != 0 || err != io.EOF {
		t.Errorf("Read after the error = %d, %v; want 0, EOF", n, err)
	}
}

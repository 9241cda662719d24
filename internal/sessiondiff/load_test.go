package sessiondiff

import (
	"bytes"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/wstap/wstap/capture"
)

// loadRecords are a connection with every kind of message Load must sort
// out, and a second connection it must leave alone.
func loadRecords() []capture.Record {
	chunk := func(conn capture.ConnID, ms int, dir capture.Direction, op capture.Opcode, first, last bool, data string) *capture.Chunk {
		return &capture.Chunk{Conn: conn, Time: at(ms), Dir: dir, Opcode: op, First: first, Last: last, Data: []byte(data)}
	}
	c2s, s2c := capture.ClientToServer, capture.ServerToClient
	dropped := chunk(1, 60, s2c, capture.OpText, true, true, "after the close")
	dropped.Dropped = true
	return []capture.Record{
		&capture.ConnOpen{Conn: 1, Time: at(0), URL: "wss://chat.example.test/ws?room=1", Mode: "connect", Status: 101,
			Subprotocol: "chat", Extensions: "permessage-deflate",
			RequestHeaders:  http.Header{"User-Agent": {"app/1"}},
			ResponseHeaders: http.Header{"X-Trace": {"t"}}},
		&capture.ConnOpen{Conn: 2, Time: at(1), URL: "ws://other.example.test/", Status: 101},
		chunk(1, 5, c2s, capture.OpText, true, true, `{"type":"hello"}`),
		// A binary message in two chunks, with a server message and a
		// ping between them.
		chunk(1, 10, c2s, capture.OpBinary, true, false, "\x01\x02"),
		chunk(1, 12, s2c, capture.OpText, true, true, `{"type":"welcome"}`),
		chunk(1, 13, c2s, capture.OpPing, true, true, "hb"),
		chunk(1, 14, s2c, capture.OpPong, true, true, "hb"),
		chunk(2, 15, c2s, capture.OpText, true, true, "other connection"),
		chunk(1, 16, c2s, capture.OpBinary, false, true, "\x03"),
		chunk(1, 20, capture.ProxyToClient, capture.OpPing, true, true, "wstap-heartbeat"),
		chunk(1, 30, s2c, capture.OpText, true, true, "bye"),
		&capture.Close{Conn: 1, Time: at(40), Dir: c2s, Code: 1000},
		dropped,
		&capture.End{Conn: 1, Time: at(70)},
		&capture.End{Conn: 2, Time: at(80)},
	}
}

func writeCapture(t *testing.T, path string, recs []capture.Record, opts capture.Options) {
	t.Helper()
	w, err := capture.Create(path, opts)
	if err != nil {
		t.Fatal(err)
	}
	for _, rec := range recs {
		switch r := rec.(type) {
		case *capture.ConnOpen:
			o := *r
			if _, err := w.Open(&o); err != nil {
				t.Fatal(err)
			}
		default:
			if err := w.Append(rec); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestLoad(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a.wstap")
	writeCapture(t, path, loadRecords(), capture.Options{})
	r, err := capture.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	s, err := Load(r, 1, "a.wstap#1")
	if err != nil {
		t.Fatal(err)
	}
	if s.Name != "a.wstap#1" || s.URL != "wss://chat.example.test/ws?room=1" || s.Status != 101 || s.Subprotocol != "chat" ||
		s.Extensions != "permessage-deflate" || s.RequestHeaders.Get("User-Agent") != "app/1" ||
		s.ResponseHeaders.Get("X-Trace") != "t" || !s.Start.Equal(at(0)) || !s.End.Equal(at(70)) {
		t.Errorf("Load = %+v", s)
	}
	type msg struct {
		index int
		dir   capture.Direction
		op    capture.Opcode
		ms    int
		data  string
	}
	var got []msg
	for _, m := range s.Messages {
		got = append(got, msg{m.Index, m.Dir, m.Opcode, int(m.Time.Sub(t0) / time.Millisecond), string(m.Data)})
	}
	want := []msg{
		{1, capture.ClientToServer, capture.OpText, 5, `{"type":"hello"}`},
		{2, capture.ClientToServer, capture.OpBinary, 10, "\x01\x02\x03"}, // whole, in the order of its start
		{1, capture.ServerToClient, capture.OpText, 12, `{"type":"welcome"}`},
		{2, capture.ServerToClient, capture.OpText, 30, "bye"},
	}
	if len(got) != len(want) {
		t.Fatalf("Load messages = %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("message %d = %+v, want %+v", i, got[i], want[i])
		}
	}

	if _, err := Load(r, 9, "x"); err == nil {
		t.Error("Load of a connection that does not exist: no error")
	}
	// A session diffs the same as itself.
	if res := Diff(s, s, Options{}); !res.Same() {
		t.Error("Diff(s, s) differs")
	}
}

// TestLoadTorn loads a capture whose tail was torn off: the messages
// before the tear are kept, and the caller learns of it from the reader.
func TestLoadTorn(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src.wstap")
	recs := loadRecords()
	w, err := capture.Create(src, capture.Options{FlushInterval: time.Hour, CheckpointInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	sizes := []int64{}
	for _, part := range [][]capture.Record{recs[:5], recs[5:]} {
		for _, rec := range part {
			if o, ok := rec.(*capture.ConnOpen); ok {
				oo := *o
				_, err = w.Open(&oo)
			} else {
				err = w.Append(rec)
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
		fi, err := os.Stat(src)
		if err != nil {
			t.Fatal(err)
		}
		sizes = append(sizes, fi.Size())
	}
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	w.Close()
	torn := data[:(sizes[0]+sizes[1])/2]
	r, err := capture.NewReader(bytes.NewReader(torn), int64(len(torn)))
	if err != nil {
		t.Fatal(err)
	}
	s, err := Load(r, 1, "torn")
	if err != nil {
		t.Fatal(err)
	}
	if r.Tail() == nil {
		t.Error("the reader saw no torn tail")
	}
	// The binary message never finished: what was recorded of it counts.
	if len(s.Messages) != 3 || string(s.Messages[0].Data) != `{"type":"hello"}` || string(s.Messages[1].Data) != "\x01\x02" {
		t.Errorf("Load of a torn capture = %d messages: %+v", len(s.Messages), s.Messages)
	}
}

// TestLoadDamaged loads a capture with a damaged chunk in the middle: the
// messages before and after it are kept.
func TestLoadDamaged(t *testing.T) {
	path := filepath.Join(t.TempDir(), "d.wstap")
	recs := loadRecords()
	w, err := capture.Create(path, capture.Options{FlushInterval: time.Hour, CheckpointInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	for _, part := range [][]capture.Record{recs[:3], recs[3:5], recs[5:]} {
		for _, rec := range part {
			if o, ok := rec.(*capture.ConnOpen); ok {
				oo := *o
				_, err = w.Open(&oo)
			} else {
				err = w.Append(rec)
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	magic := []byte{0x51, 0x2a, 0x4d, 0x18} // a chunk's skippable frame
	first := bytes.Index(data, magic)
	second := first + 1 + bytes.Index(data[first+1:], magic)
	if first < 0 || second <= first {
		t.Fatal("no second chunk")
	}
	data[second+8+44+2] ^= 0x40 // inside its zstd frame
	r, err := capture.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	s, err := Load(r, 1, "damaged")
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Damage()) == 0 {
		t.Fatal("the reader saw no damage")
	}
	// hello before the damage; bye after it. The binary message lost its
	// start, and the welcome is gone.
	var texts []string
	for _, m := range s.Messages {
		texts = append(texts, string(m.Data))
	}
	if len(texts) < 2 || texts[0] != `{"type":"hello"}` || texts[len(texts)-1] != "bye" {
		t.Errorf("Load of a damaged capture = %q", texts)
	}
}

package capture

import (
	"bytes"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 26, 12, 0, 0, 123456789, time.UTC)

func at(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }

// sampleRecords returns one record of every kind, for connection 1 and
// exchange 1, in the order a proxy would write them.
func sampleRecords() []Record {
	return []Record{
		&ConnOpen{Conn: 1, Time: at(0), URL: "wss://chat.example.test/ws?room=1&x=%20y", Mode: "connect",
			ClientAddr: "127.0.0.1:5555", ServerAddr: "127.0.0.1:443",
			RequestHeaders:  http.Header{"Sec-Websocket-Protocol": {"chat, superchat"}, "Cookie": {"a=1"}},
			ResponseHeaders: http.Header{"Sec-Websocket-Protocol": {"chat"}},
			Status:          101, Subprotocol: "chat", Extensions: "permessage-deflate; client_no_context_takeover",
			ClientTLS: &TLSInfo{Version: "TLS 1.3", Cipher: "TLS_AES_128_GCM_SHA256", ALPN: "http/1.1", SNI: "chat.example.test"},
			ServerTLS: &TLSInfo{Version: "TLS 1.3", Chain: []CertInfo{{Subject: "CN=chat", Issuer: "CN=ca", NotAfter: at(1e6)}}, Verified: "ok"}},
		&Frame{Conn: 1, Time: at(1), Dir: ClientToServer, Fin: true, RSV: 4, Opcode: OpText, Masked: true, Length: 17},
		&Chunk{Conn: 1, Time: at(1), Dir: ClientToServer, Opcode: OpText, First: true, Last: true, Compressed: true, Data: []byte(`{"hello":"wörld"}`)},
		&Frame{Conn: 1, Time: at(2), Dir: ServerToClient, Fin: false, Opcode: OpBinary, Length: 3},
		&Chunk{Conn: 1, Time: at(2), Dir: ServerToClient, Opcode: OpBinary, First: true, Data: []byte{0, 1, 2}},
		&Chunk{Conn: 1, Time: at(3), Dir: ServerToClient, Opcode: OpPing, First: true, Last: true, Data: []byte("p")},
		&Chunk{Conn: 1, Time: at(4), Dir: ServerToClient, Opcode: OpBinary, Last: true, Truncated: true, Data: []byte{0xff}},
		&Event{Conn: 1, Time: at(5), Kind: EventViolation, Detail: "RFC 6455 §5.1: unmasked client frame"},
		&Close{Conn: 1, Time: at(6), Dir: ClientToServer, Code: 4001, Reason: "bye\xff"},
		&Close{Conn: 1, Time: at(7), Dir: ServerToClient, Code: 1005},
		&End{Conn: 1, Time: at(8), Error: ""},
		&HTTP{ID: 1, Time: at(9), Method: "GET", URL: "https://example.test/a", Status: 200,
			RequestHeaders: http.Header{"Accept": {"*/*"}}, ResponseHeaders: http.Header{"Content-Type": {"text/plain"}},
			ResponseBody: []byte("hi"), ResponseSize: 2, Duration: 3 * time.Millisecond},
		&Event{Conn: 0, Time: at(10), Kind: EventNote, Detail: "capture-wide"},
	}
}

func writeAll(t testing.TB, path string, recs []Record, opts Options) *Writer {
	t.Helper()
	w, err := Create(path, opts)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		if err := appendAny(w, r); err != nil {
			t.Fatalf("append %T: %v", r, err)
		}
	}
	return w
}

// createWriter creates a capture named name in a fresh temporary directory.
func createWriter(t testing.TB, name string, opts Options) (*Writer, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	w, err := Create(path, opts)
	if err != nil {
		t.Fatal(err)
	}
	return w, path
}

// mustOpen records o with w and returns its connection ID.
func mustOpen(t testing.TB, w *Writer, o *ConnOpen) ConnID {
	t.Helper()
	c, err := w.Open(o)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// closeAndOpen closes w and opens the capture at path for reading; the
// reader is closed when the test ends.
func closeAndOpen(t testing.TB, w *Writer, path string) *Reader {
	t.Helper()
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return openReader(t, path)
}

// openReader opens the capture at path; the reader is closed when the test
// ends.
func openReader(t testing.TB, path string) *Reader {
	t.Helper()
	r, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// appendAny hands r to the writer method for its kind, on a copy where the
// writer assigns an ID, so r itself stays as given.
func appendAny(w *Writer, r Record) error {
	var err error
	switch r := r.(type) {
	case *ConnOpen:
		c := *r
		_, err = w.Open(&c)
	case *HTTP:
		x := *r
		_, err = w.HTTP(&x)
	default:
		err = w.Append(r)
	}
	return err
}

func readAll(t testing.TB, r *Reader, f Filter) ([]Record, error) {
	t.Helper()
	var out []Record
	for rec, err := range r.Records(f) {
		if err != nil {
			return out, err
		}
		out = append(out, rec)
	}
	return out, nil
}

func TestRoundTripEveryKind(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a.wstap")
	w := writeAll(t, path, sampleRecords(), Options{})
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode = %v, want 0600", fi.Mode().Perm())
	}
	r, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if !r.Complete() || r.Tail() != nil {
		t.Errorf("Complete() = %v, Tail() = %v; want true, nil", r.Complete(), r.Tail())
	}
	got, err := readAll(t, r, Filter{})
	if err != nil {
		t.Fatal(err)
	}
	want := sampleRecords()
	if len(got) != len(want) {
		t.Fatalf("read %d records, want %d", len(got), len(want))
	}
	for i := range want {
		if !sameRecord(got[i], want[i]) {
			t.Errorf("record %d:\n got %#v\nwant %#v", i, got[i], want[i])
		}
	}
	conns := r.Conns()
	if len(conns) != 1 {
		t.Fatalf("Conns() = %d entries, want 1", len(conns))
	}
	c := conns[0]
	if c.URL != "wss://chat.example.test/ws?room=1&x=%20y" || c.Subprotocol != "chat" || c.Status != 101 ||
		c.Messages != [3]int64{1, 2, 0} || c.Bytes != [3]int64{18, 5, 0} || c.CloseCode != 4001 ||
		c.CloseFrom != "client" || !c.Ended || c.Violations != 1 || c.Duration() != 8*time.Millisecond {
		t.Errorf("summary = %+v", c)
	}
	if h := r.HTTP(); len(h) != 1 || h[0].URL != "https://example.test/a" || h[0].Status != 200 {
		t.Errorf("HTTP() = %+v", h)
	}
}

func TestReaderWithoutFooterMatchesFooter(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a.wstap")
	w := writeAll(t, path, sampleRecords(), Options{})
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	full, _ := os.ReadFile(path)
	r1, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r1.Close()
	// Cut the footer and the final checkpoint: the reader must rebuild the
	// same summaries by hopping chunk headers and folding records.
	end := bytes.LastIndex(full, []byte{0x52, 0x2a, 0x4d, 0x18})
	r2, err := NewReader(bytes.NewReader(full[:end]), int64(end))
	if err != nil {
		t.Fatal(err)
	}
	if r2.Complete() || r2.Tail() != nil {
		t.Errorf("Complete() = %v, Tail() = %v; want false, nil", r2.Complete(), r2.Tail())
	}
	if !reflect.DeepEqual(r1.Conns(), r2.Conns()) {
		t.Errorf("summaries differ:\nfooter %+v\n  scan %+v", r1.Conns(), r2.Conns())
	}
	if !reflect.DeepEqual(r1.HTTP(), r2.HTTP()) {
		t.Errorf("http differ:\nfooter %+v\n  scan %+v", r1.HTTP(), r2.HTTP())
	}
	_ = errors.Is
}

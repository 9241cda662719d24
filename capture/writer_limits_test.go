package capture

import (
	"bytes"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestWriterRefusesHugeRecords: a record whose encoding exceeds MaxRecord
// would make a chunk the reader refuses, losing everything after it. The
// writer refuses it instead, and stays usable; the IDs it did not hand out
// go to the next records.
func TestWriterRefusesHugeRecords(t *testing.T) {
	w, path := createWriter(t, "huge.wstap", Options{})
	c := mustOpen(t, w, &ConnOpen{Time: at(0), URL: "ws://huge.example.test/", Status: 101})
	big := make([]byte, MaxRecord)

	x := &HTTP{ID: 77, Time: at(1), Method: "GET", URL: "http://huge.example.test/", Status: 200,
		ResponseBody: big, ResponseSize: int64(len(big))}
	if id, err := w.HTTP(x); !errors.Is(err, ErrTooLarge) || id != 0 || x.ID != 0 {
		t.Errorf("HTTP(%d-byte body) = %d, %v, x.ID = %d; want 0, ErrTooLarge, 0", len(big), id, err, x.ID)
	} else if !strings.Contains(err.Error(), "http record of") {
		t.Errorf("HTTP(%d-byte body) = %v, want an error naming the record", len(big), err)
	}
	o := &ConnOpen{Time: at(2), URL: "ws://refused.example.test/", Status: 403, ResponseBody: big}
	if id, err := w.Open(o); !errors.Is(err, ErrTooLarge) || id != 0 || o.Conn != 0 {
		t.Errorf("Open(%d-byte response body) = %d, %v, o.Conn = %d; want 0, ErrTooLarge, 0", len(big), id, err, o.Conn)
	}
	if err := w.Append(&Event{Conn: c, Time: at(3), Kind: EventNote, Detail: string(big)}); !errors.Is(err, ErrTooLarge) {
		t.Errorf("Append(event with a %d-byte detail) = %v, want ErrTooLarge", len(big), err)
	}
	if err := w.Append(&End{Conn: c + 1, Time: at(3)}); err == nil {
		t.Error("Append(end of the refused connection) = nil, want an error: its ID was never handed out")
	}
	if err := w.Err(); err != nil {
		t.Errorf("Err() after refused records = %v, want nil", err)
	}

	// A record just under the bound goes in, and so does everything after.
	near := string(big[:MaxRecord-64])
	if err := w.Append(&Event{Conn: c, Time: at(4), Kind: EventNote, Detail: near}); err != nil {
		t.Errorf("Append(event with a %d-byte detail) = %v", len(near), err)
	}
	if id, err := w.HTTP(&HTTP{Time: at(5), Method: "GET", URL: "http://huge.example.test/small", Status: 204}); id != 1 || err != nil {
		t.Errorf("HTTP(small) = %d, %v; want 1, nil", id, err)
	}
	if id, err := w.Open(&ConnOpen{Time: at(6), URL: "ws://next.example.test/", Status: 101}); id != c+1 || err != nil {
		t.Errorf("Open(small) = %d, %v; want %d, nil", id, err, c+1)
	}
	if err := w.Append(textChunk(c, 7, "after")); err != nil {
		t.Error(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if st := w.Stats(); st.Records != 5 {
		t.Errorf("Stats().Records = %d, want 5", st.Records)
	}

	r, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	recs, err := readAll(t, r, Filter{})
	if err != nil || !r.Complete() {
		t.Fatalf("Records ended with %v, Complete() = %v; want nil, true", err, r.Complete())
	}
	var kinds []Kind
	for _, rec := range recs {
		kinds = append(kinds, rec.Type())
	}
	if want := []Kind{KindOpen, KindEvent, KindHTTP, KindOpen, KindChunk}; !reflect.DeepEqual(kinds, want) {
		t.Fatalf("read kinds %v, want %v", kinds, want)
	}
	if ev := recs[1].(*Event); len(ev.Detail) != len(near) {
		t.Errorf("the big event reads back with %d bytes of detail, want %d", len(ev.Detail), len(near))
	}
	if cs := r.Conns(); len(cs) != 2 || cs[1].URL != "ws://next.example.test/" {
		t.Errorf("Conns() = %+v, want connection %d to be the one opened after the refusal", cs, c+1)
	}
	if h := r.HTTP(); len(h) != 1 || h[0].ID != 1 {
		t.Errorf("HTTP() = %+v, want exchange 1 only", h)
	}
}

// TestFlushSizeBounded: however large FlushSize is set, a batch (and so a
// chunk) stays within what a reader accepts.
func TestFlushSizeBounded(t *testing.T) {
	// A batch holds less than FlushSize plus one record; zstd adds a few
	// bytes per 128 KiB block to data it cannot compress.
	const zstdSlack = 1 << 20
	if maxFlushSize+MaxRecord+zstdSlack > maxFrameLen {
		t.Fatalf("maxFlushSize %d + MaxRecord %d exceed the reader's maxFrameLen %d", maxFlushSize, MaxRecord, maxFrameLen)
	}
	for _, size := range []int{maxFlushSize, maxFlushSize + 1, 1 << 30, 1<<31 - 1} {
		o := Options{FlushSize: size}.withDefaults()
		if o.FlushSize != maxFlushSize {
			t.Errorf("Options{FlushSize: %d}.withDefaults().FlushSize = %d, want %d", size, o.FlushSize, maxFlushSize)
		}
		w := &Writer{opts: Options{FlushSize: size, FlushInterval: time.Hour}.withDefaults(), crate: 1e15, wrate: 1e15}
		if n := w.batchLimit(); n > maxFlushSize {
			t.Errorf("FlushSize %d: batchLimit() = %d on a fast disk, want at most %d", size, n, maxFlushSize)
		}
	}
}

func TestOptionsDefaults(t *testing.T) {
	want := Options{FlushInterval: 75 * time.Millisecond, FlushSize: 1 << 20, QueueSize: 4 << 20, SyncInterval: time.Second,
		CheckpointInterval: 10 * time.Second, CheckpointChunks: 1024, CheckpointBytes: 64 << 20, Tool: "wstap"}
	if got := (Options{}).withDefaults(); got != want {
		t.Errorf("Options{}.withDefaults() = %+v, want %+v", got, want)
	}
	neg := Options{FlushInterval: -1, FlushSize: -1, QueueSize: -1, CheckpointInterval: -1, CheckpointChunks: -1,
		CheckpointBytes: -1}.withDefaults()
	if neg.SyncInterval != time.Second || neg.FlushSize != want.FlushSize || neg.CheckpointBytes != want.CheckpointBytes {
		t.Errorf("negative options: withDefaults() = %+v, want the defaults", neg)
	}
	set := Options{FlushInterval: time.Second, FlushSize: 4096, QueueSize: 1, SyncInterval: -1, CheckpointInterval: time.Minute,
		CheckpointChunks: 3, CheckpointBytes: 5, Tool: "t"}
	if got := set.withDefaults(); got != set {
		t.Errorf("withDefaults() changed set options: %+v, want %+v", got, set)
	}
}

// TestWriterFrameFacts: a chunk handed over with its frame's facts keeps
// them in its own record only when that frame is exactly the whole
// message; otherwise the writer adds a frame record. Either way a reader
// yields the frame just before the chunk.
func TestWriterFrameFacts(t *testing.T) {
	data := []byte("payload")
	big := bytes.Repeat([]byte("b"), MaxChunk+10)
	whole := &Frame{Fin: true, RSV: 4, Opcode: OpText, Masked: true, Length: int64(len(data))}
	tests := []struct {
		name   string
		chunk  Chunk
		frame  Frame
		folded bool
		parts  int // chunk records
	}{
		{"whole message", Chunk{Opcode: OpText, First: true, Last: true, Data: data}, *whole, true, 1},
		{"first fragment", Chunk{Opcode: OpText, First: true, Data: data}, Frame{Opcode: OpText, Length: 7}, false, 1},
		{"no FIN", Chunk{Opcode: OpText, First: true, Last: true, Data: data}, Frame{Opcode: OpText, Length: 7}, false, 1},
		{"continuation", Chunk{Opcode: OpText, Last: true, Data: data},
			Frame{Fin: true, Opcode: OpContinuation, Length: 7}, false, 1},
		{"other opcode", Chunk{Opcode: OpBinary, First: true, Last: true, Data: data}, *whole, false, 1},
		{"inflated", Chunk{Opcode: OpText, First: true, Last: true, Compressed: true, Data: data},
			Frame{Fin: true, RSV: 4, Opcode: OpText, Length: 5}, false, 1},
		{"over MaxChunk", Chunk{Opcode: OpBinary, First: true, Last: true, Data: big},
			Frame{Fin: true, Opcode: OpBinary, Length: int64(len(big))}, false, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "f.wstap")
			w, err := Create(path, Options{})
			if err != nil {
				t.Fatal(err)
			}
			c, err := w.Open(&ConnOpen{Time: at(0), URL: "ws://frames.example.test/"})
			if err != nil {
				t.Fatal(err)
			}
			in := tt.chunk
			in.Conn, in.Time, in.Dir = c, at(1), ServerToClient
			f := tt.frame
			f.Conn, f.Time, f.Dir = 99, at(99), ClientToServer // the chunk's own say
			in.Frame = &f
			if err := w.Append(&in); err != nil {
				t.Fatal(err)
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			if in.Frame != &f || f.Conn != 99 {
				t.Error("Append changed its argument")
			}
			wantRecs := 1 + tt.parts // the open, the chunk records and a frame record unless folded
			if !tt.folded {
				wantRecs++
			}
			if st := w.Stats(); st.Records != uint64(wantRecs) {
				t.Errorf("Stats().Records = %d, want %d", st.Records, wantRecs)
			}
			r, err := Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			recs, err := readAll(t, r, Filter{Conn: c})
			if err != nil {
				t.Fatal(err)
			}
			if len(recs) != 2+tt.parts {
				t.Fatalf("read %d records, want the open, the frame and %d chunks", len(recs), tt.parts)
			}
			wantFrame := tt.frame
			wantFrame.Conn, wantFrame.Time, wantFrame.Dir = c, at(1), ServerToClient
			if got := recs[1]; !reflect.DeepEqual(got, &wantFrame) {
				t.Errorf("frame = %#v, want %#v", got, &wantFrame)
			}
			var joined []byte
			for _, rec := range recs[2:] {
				ch, ok := rec.(*Chunk)
				if !ok || ch.Frame != nil || ch.Opcode != tt.chunk.Opcode || ch.Compressed != tt.chunk.Compressed {
					t.Fatalf("record %#v, want a chunk like %#v without frame facts", rec, tt.chunk)
				}
				joined = append(joined, ch.Data...)
			}
			if !bytes.Equal(joined, tt.chunk.Data) {
				t.Errorf("the chunks hold %d bytes, want %d", len(joined), len(tt.chunk.Data))
			}
		})
	}
}

// devNull opens /dev/null for writing, where every write succeeds and every
// fsync fails (Linux: EINVAL), or skips the test.
func devNull(t *testing.T) *os.File {
	t.Helper()
	f, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		t.Skipf("no %s: %v", os.DevNull, err)
	}
	if err := f.Sync(); err == nil {
		f.Close()
		t.Skipf("fsync of %s succeeds here", os.DevNull)
	}
	return f
}

// TestWriterSyncFails: an fsync that SyncInterval brings fails the writer:
// later calls report it, naming the sync.
func TestWriterSyncFails(t *testing.T) {
	w, err := newWriter(devNull(t), os.DevNull, Options{SyncInterval: time.Millisecond, FlushInterval: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	c := mustOpen(t, w, &ConnOpen{Time: at(0), URL: "ws://sync.example.test/"})
	// The writer's timers are the subject: wait, boundedly, for the sync.
	deadline := time.Now().Add(10 * time.Second)
	for w.Err() == nil && time.Now().Before(deadline) {
		if err := w.Append(textChunk(c, 1, "x")); err != nil {
			break
		}
		<-time.After(time.Millisecond)
	}
	err = w.Err()
	if !errors.Is(err, syscall.EINVAL) || !strings.Contains(err.Error(), "capture: sync "+os.DevNull) {
		t.Fatalf("Err() = %v, want the failed sync of %s", err, os.DevNull)
	}
	if err := w.Append(textChunk(c, 2, "y")); !errors.Is(err, syscall.EINVAL) {
		t.Errorf("Append after the failed sync = %v, want its error", err)
	}
	if err := w.Close(); !errors.Is(err, syscall.EINVAL) {
		t.Errorf("Close() = %v, want the sync error", err)
	}
}

// TestWriterSyncOnCloseFails: with SyncInterval negative, Close syncs, and
// reports a failure.
func TestWriterSyncOnCloseFails(t *testing.T) {
	w, err := newWriter(devNull(t), os.DevNull, Options{SyncInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	c := mustOpen(t, w, &ConnOpen{Time: at(0), URL: "ws://sync.example.test/"})
	if err := w.Append(textChunk(c, 1, "x")); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		t.Fatalf("Flush() = %v, want nil: nothing syncs before Close", err)
	}
	err = w.Close()
	if !errors.Is(err, syscall.EINVAL) || !strings.Contains(err.Error(), "capture: sync") {
		t.Errorf("Close() = %v, want the failed sync", err)
	}
	if err2 := w.Close(); err2 == nil || err2.Error() != err.Error() {
		t.Errorf("second Close() = %v, want %v again", err2, err)
	}
}

// TestWriterHTTPHeaders: header values that are not valid UTF-8 (HTTP
// allows any byte) are stored with U+FFFD, as CBOR text must be valid.
func TestWriterHTTPHeaders(t *testing.T) {
	w, path := createWriter(t, "h.wstap", Options{})
	if _, err := w.HTTP(&HTTP{Time: at(1), Method: "GET\xff", URL: "http://h.example.test/\xfe",
		RequestHeaders: http.Header{"X-Bad\xff": {"a\xffb", "ok"}}}); err != nil {
		t.Fatal(err)
	}
	r := closeAndOpen(t, w, path)
	recs, err := readAll(t, r, Filter{})
	if err != nil || len(recs) != 1 {
		t.Fatalf("read %d records, %v; want 1", len(recs), err)
	}
	x := recs[0].(*HTTP)
	want := http.Header{"X-Bad\uFFFD": {"a\uFFFDb", "ok"}}
	if x.Method != "GET\uFFFD" || x.URL != "http://h.example.test/\uFFFD" || !reflect.DeepEqual(x.RequestHeaders, want) {
		t.Errorf("read %q %q %v, want %q %q %v", x.Method, x.URL, x.RequestHeaders, "GET\uFFFD",
			"http://h.example.test/\uFFFD", want)
	}
}

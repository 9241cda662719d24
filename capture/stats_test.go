package capture

import (
	"bytes"
	"errors"
	"testing"
	"time"
)

// heldCounts are a capture's figures as a reader lists them.
type heldCounts struct {
	conns, messages, payload, http uint64
}

func readCounts(t *testing.T, data []byte) heldCounts {
	t.Helper()
	r, err := NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatalf("NewReader(%d bytes): %v", len(data), err)
	}
	defer r.Close()
	var h heldCounts
	for _, s := range r.Conns() {
		h.conns++
		for i := range s.Messages {
			h.messages += uint64(s.Messages[i])
			h.payload += uint64(s.Bytes[i])
		}
	}
	h.http = uint64(len(r.HTTP()))
	return h
}

func writtenCounts(s Stats) heldCounts {
	return heldCounts{s.ConnsWritten, s.MessagesWritten, s.PayloadBytesWritten, s.HTTPWritten}
}

// appendConn opens a connection and appends its messages: n single-chunk
// messages of 2000 random bytes, one message of two chunks and a close.
func appendConn(t *testing.T, w *Writer, seq, n int) error {
	t.Helper()
	c, err := w.Open(&ConnOpen{Time: at(seq), URL: "ws://stats.example.test/"})
	if err != nil {
		return err
	}
	for i := range n {
		if err := w.Append(randomChunk(c, seq+i, 2000)); err != nil {
			return err
		}
	}
	first := randomChunk(c, seq+n, 100)
	first.Last = false
	last := randomChunk(c, seq+n+1, 50)
	last.First = false
	for _, r := range []Record{first, last, &Close{Conn: c, Time: at(seq + n + 2), Dir: ServerToClient, Code: 1000}} {
		if err := w.Append(r); err != nil {
			return err
		}
	}
	_, err = w.HTTP(&HTTP{Time: at(seq), Method: "GET", URL: "http://stats.example.test/", Status: 200})
	return err
}

// TestStatsCountWhatTheFileHolds: the written counters of Stats equal what
// a reader finds in the file, with the disk healthy and after it filled
// up, when they are less than what the writer accepted (issue 12: the
// summary of wstap record claimed 5 connections and 5560 messages when
// the file held 2 and 3780).
func TestStatsCountWhatTheFileHolds(t *testing.T) {
	t.Run("healthy", func(t *testing.T) {
		f := newFakeFile()
		w := fakeWriter(t, f, Options{FlushInterval: time.Hour, SyncInterval: -1})
		for i := range 3 {
			if err := appendConn(t, w, 100*i, 4); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		s := w.Stats()
		want := heldCounts{conns: 3, messages: 3 * 5, payload: 3 * (4*2000 + 150), http: 3}
		if got := writtenCounts(s); got != want {
			t.Errorf("Stats written = %+v, want %+v", got, want)
		}
		if got := readCounts(t, f.bytes()); got != want {
			t.Errorf("the file holds %+v, want %+v", got, want)
		}
		if !s.StoppedAt.IsZero() {
			t.Errorf("StoppedAt = %v for a writer that never failed", s.StoppedAt)
		}
	})

	t.Run("disk full", func(t *testing.T) {
		f := newFakeFile()
		w := fakeWriter(t, f, Options{FlushInterval: time.Hour, SyncInterval: -1})
		for i := range 2 {
			if err := appendConn(t, w, 100*i, 4); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
		f.fill(f.size() + 100) // random payloads do not fit in 100 bytes
		before := time.Now()
		if err := appendConn(t, w, 200, 4); err != nil {
			t.Fatalf("appending before the write = %v, want nil", err)
		}
		if err := within(t, 10*time.Second, "Flush", w.Flush); !errors.Is(err, errDiskFull) {
			t.Fatalf("Flush() = %v, want ENOSPC", err)
		}
		if err := appendConn(t, w, 300, 4); !errors.Is(err, errDiskFull) {
			t.Errorf("appending after the failure = %v, want ENOSPC", err)
		}
		within(t, 10*time.Second, "Close", w.Close)
		after := time.Now()

		s := w.Stats()
		held := readCounts(t, f.bytes())
		if got := writtenCounts(s); got != held {
			t.Errorf("Stats written = %+v, but the file holds %+v", got, held)
		}
		if want := (heldCounts{conns: 2, messages: 10, payload: 2 * (4*2000 + 150), http: 2}); held != want {
			t.Errorf("the file holds %+v, want %+v (what was flushed before the disk filled)", held, want)
		}
		if s.Records <= s.ConnsWritten+s.MessagesWritten+s.HTTPWritten {
			t.Errorf("Records = %d accepted: the test lost nothing to the full disk", s.Records)
		}
		if s.StoppedAt.Before(before) || s.StoppedAt.After(after) {
			t.Errorf("StoppedAt = %v, want between %v and %v, when the write failed", s.StoppedAt, before, after)
		}
	})
}

package capture

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// followDeadline bounds every wait for a followed record. Follow polls every
// few milliseconds; the deadline only keeps a broken Follow from hanging the
// test.
const followDeadline = 20 * time.Second

type followed struct {
	rec Record
	err error
}

// startFollow runs r.Follow in a goroutine and returns its records on a
// channel that is closed when Follow ends.
func startFollow(t *testing.T, ctx context.Context, r *Reader, f Filter) <-chan followed {
	t.Helper()
	ch := make(chan followed)
	go func() {
		defer close(ch)
		for rec, err := range r.Follow(ctx, f, 2*time.Millisecond) {
			select {
			case ch <- followed{rec, err}:
			case <-ctx.Done():
				return
			}
		}
	}()
	return ch
}

// next receives n records from ch, failing on an error, an early end or the
// deadline.
func next(t *testing.T, ch <-chan followed, n int) []Record {
	t.Helper()
	var out []Record
	deadline := time.After(followDeadline)
	for len(out) < n {
		select {
		case f, ok := <-ch:
			if !ok {
				t.Fatalf("Follow ended after %d of %d records", len(out), n)
			}
			if f.err != nil {
				t.Fatalf("Follow yielded error %v after %d of %d records", f.err, len(out), n)
			}
			out = append(out, f.rec)
		case <-deadline:
			t.Fatalf("Follow yielded %d of %d records within %v", len(out), n, followDeadline)
		}
	}
	return out
}

// ends waits for Follow to end by itself and fails on any further record.
func ends(t *testing.T, ch <-chan followed) {
	t.Helper()
	select {
	case f, ok := <-ch:
		if ok {
			t.Fatalf("Follow yielded %v, %v after the last record; want its end", f.rec, f.err)
		}
	case <-time.After(followDeadline):
		t.Fatalf("Follow did not end within %v of the writer's Close", followDeadline)
	}
}

func textChunk(c ConnID, ms int, s string) *Chunk {
	return &Chunk{Conn: c, Time: at(ms), Dir: ClientToServer, Opcode: OpText, First: true, Last: true, Data: []byte(s)}
}

func TestFollowLiveWriter(t *testing.T) {
	path := filepath.Join(t.TempDir(), "live.wstap")
	// Only Flush seals a batch, and a checkpoint comes every other chunk,
	// so Follow meets checkpoints between the chunks it already read.
	w, err := Create(path, Options{FlushInterval: time.Hour, CheckpointChunks: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	c := mustOpen(t, w, &ConnOpen{Time: at(0), URL: "ws://live.example.test/"})
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	r, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch := startFollow(t, ctx, r, Filter{})
	if got := next(t, ch, 1); got[0].Type() != KindOpen {
		t.Fatalf("first followed record = %#v, want the open", got[0])
	}
	const batches, per = 6, 25
	for b := range batches {
		for i := range per {
			if err := w.Append(textChunk(c, b*100+i, fmt.Sprintf("b%d-%d", b, i))); err != nil {
				t.Fatal(err)
			}
		}
		if b%2 == 1 {
			if _, err := w.HTTP(&HTTP{Time: at(b * 100), Method: "GET", URL: "http://live.example.test/x"}); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
		n := per + b%2
		got := next(t, ch, n)
		for i := range per {
			if want := fmt.Sprintf("b%d-%d", b, i); string(got[i].(*Chunk).Data) != want {
				t.Fatalf("batch %d, record %d = %#v, want chunk %q", b, i, got[i], want)
			}
		}
	}
	if err := w.Append(&End{Conn: c, Time: at(1000)}); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if got := next(t, ch, 1); got[0].Type() != KindEnd {
		t.Fatalf("last followed record = %#v, want the end", got[0])
	}
	ends(t, ch)
	if !r.Complete() || r.Tail() != nil {
		t.Errorf("after Follow: Complete() = %v, Tail() = %v; want true, nil", r.Complete(), r.Tail())
	}
	s, _ := r.Conn(c)
	if s.Messages[0] != batches*per || !s.Ended {
		t.Errorf("summary after Follow = %+v, want %d client messages and ended", s, batches*per)
	}
	if h := r.HTTP(); len(h) != batches/2 {
		t.Errorf("HTTP() after Follow = %d exchanges, want %d", len(h), batches/2)
	}
}

func TestFollowStopsWithContext(t *testing.T) {
	w, path := createWriter(t, "ctx.wstap", Options{})
	defer w.Close()
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	r, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range r.Follow(ctx, Filter{}, time.Millisecond) {
		}
	}()
	cancel()
	select {
	case <-done:
	case <-time.After(followDeadline):
		t.Fatal("Follow ignored its context")
	}
}

// TestRefreshSummaries: Refresh brings in new chunks and checkpoints, and
// the summaries follow without counting anything twice.
func TestRefreshSummaries(t *testing.T) {
	w, path := createWriter(t, "refresh.wstap", Options{FlushInterval: time.Hour, CheckpointChunks: 2})
	defer w.Close()
	c := mustOpen(t, w, &ConnOpen{Time: at(0), URL: "ws://refresh.example.test/"})
	if _, err := w.HTTP(&HTTP{Time: at(1), Method: "GET", URL: "http://refresh.example.test/1"}); err != nil {
		t.Fatal(err)
	}
	if err := w.Append(textChunk(c, 2, "one")); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	r, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if more, err := r.Refresh(); more || err != nil {
		t.Errorf("Refresh() with nothing new = %v, %v; want false, nil", more, err)
	}
	check := func(when string, msgs int64, https int) {
		t.Helper()
		s, ok := r.Conn(c)
		if !ok || s.Messages[0] != msgs {
			t.Errorf("%s: summary = %+v, want %d client messages", when, s, msgs)
		}
		if h := r.HTTP(); len(h) != https {
			t.Errorf("%s: HTTP() = %+v, want %d exchanges", when, h, https)
		}
	}
	check("after Open", 1, 1)
	// The second chunk is followed by a checkpoint covering both chunks,
	// the first of which the reader has folded already.
	if _, err := w.HTTP(&HTTP{Time: at(3), Method: "GET", URL: "http://refresh.example.test/2"}); err != nil {
		t.Fatal(err)
	}
	if err := w.Append(textChunk(c, 4, "two")); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if more, err := r.Refresh(); !more || err != nil {
		t.Fatalf("Refresh() = %v, %v; want true, nil", more, err)
	}
	check("after a checkpoint", 2, 2)
	if err := w.Append(textChunk(c, 5, "three")); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if more, err := r.Refresh(); !more || err != nil {
		t.Fatalf("Refresh() = %v, %v; want true, nil", more, err)
	}
	check("after a third chunk", 3, 2)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if more, err := r.Refresh(); !more || err != nil || !r.Complete() {
		t.Fatalf("Refresh() after Close = %v, %v, Complete() = %v; want true, nil, true", more, err, r.Complete())
	}
	check("after Close", 3, 2)
	recs, err := readAll(t, r, Filter{})
	if err != nil || len(recs) != 6 {
		t.Errorf("read %d records, %v; want 6", len(recs), err)
	}
}

// TestFollowIncompleteTail follows a copy of a capture whose last chunk is
// only partly written: Follow yields what is complete, waits, and goes on
// when the rest of the chunk arrives.
func TestFollowIncompleteTail(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src.wstap")
	w, err := Create(src, Options{FlushInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	c := mustOpen(t, w, &ConnOpen{Time: at(0), URL: "ws://tail.example.test/"})
	for i := range 5 {
		if err := w.Append(textChunk(c, i, fmt.Sprint("early ", i))); err != nil {
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
	good := fi.Size()
	for i := range 5 {
		if err := w.Append(textChunk(c, 10+i, fmt.Sprint("late ", i))); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	full, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	chunkEnd := good + frameHeadSize + chunkHeaderSize + int64(leUint32(full[good+frameHeadSize:]))

	// The copy holds the first chunk and part of the second.
	dst := filepath.Join(dir, "dst.wstap")
	if err := os.WriteFile(dst, full[:good+30], 0o600); err != nil {
		t.Fatal(err)
	}
	r, err := Open(dst)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if r.Tail() == nil {
		t.Error("Tail() = nil for a half-written chunk")
	}
	if more, err := r.Refresh(); more || err != nil {
		t.Errorf("Refresh() on an unchanged torn tail = %v, %v; want false, nil", more, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch := startFollow(t, ctx, r, Filter{})
	got := next(t, ch, 6)
	if string(got[5].(*Chunk).Data) != "early 4" {
		t.Fatalf("record 5 = %#v, want chunk \"early 4\"", got[5])
	}

	appendTo := func(p []byte) {
		t.Helper()
		f, err := os.OpenFile(dst, os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.Write(p); err != nil {
			t.Fatal(err)
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
	}
	appendTo(full[good+30 : chunkEnd-5]) // still short
	appendTo(full[chunkEnd-5 : chunkEnd])
	got = next(t, ch, 5)
	for i, rec := range got {
		if want := fmt.Sprint("late ", i); string(rec.(*Chunk).Data) != want {
			t.Fatalf("late record %d = %#v, want chunk %q", i, rec, want)
		}
	}
	appendTo(full[chunkEnd:]) // the final checkpoint and the footer
	ends(t, ch)
	if !r.Complete() || r.Tail() != nil {
		t.Errorf("Complete() = %v, Tail() = %v; want true, nil", r.Complete(), r.Tail())
	}
}

func leUint32(p []byte) uint32 {
	return uint32(p[0]) | uint32(p[1])<<8 | uint32(p[2])<<16 | uint32(p[3])<<24
}

package capture

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"
)

// producerKey names the producer a record came from in
// TestWriterConcurrentProducers: one goroutine per connection and direction,
// one for events, one for HTTP exchanges, and the main goroutine for opens
// and ends.
func producerKey(r Record) string {
	switch r := r.(type) {
	case *ConnOpen:
		return "open"
	case *End:
		return "end"
	case *Event:
		return "events"
	case *HTTP:
		return "http"
	case *Frame:
		return fmt.Sprintf("%d/%d", r.Conn, r.Dir)
	case *Chunk:
		return fmt.Sprintf("%d/%d", r.Conn, r.Dir)
	case *Close:
		return fmt.Sprintf("%d/%d", r.Conn, r.Dir)
	}
	return fmt.Sprintf("%T", r)
}

// producerRecords is what the goroutine for one connection and direction
// appends: n messages, each a Frame and one or two Chunks whose payload
// names the producer and the message's sequence number, then a Close.
func producerRecords(conn ConnID, dir Direction, n int) (recs []Record, payload int64) {
	for seq := range n {
		data := fmt.Appendf(nil, "%d/%d/%d/", conn, dir, seq)
		data = append(data, bytes.Repeat([]byte{byte('a' + seq%26)}, (seq*37+int(conn)*11)%300)...)
		when := at(seq*10 + int(dir))
		recs = append(recs, &Frame{Conn: conn, Time: when, Dir: dir, Fin: true, Opcode: OpBinary, Length: int64(len(data))})
		if seq%7 == 3 { // a message in two chunks
			half := len(data) / 2
			recs = append(recs,
				&Chunk{Conn: conn, Time: when, Dir: dir, Opcode: OpBinary, First: true, Data: data[:half]},
				&Chunk{Conn: conn, Time: when, Dir: dir, Opcode: OpBinary, Last: true, Data: data[half:]})
		} else {
			recs = append(recs, &Chunk{Conn: conn, Time: when, Dir: dir, Opcode: OpBinary, First: true, Last: true, Data: data})
		}
		payload += int64(len(data))
	}
	recs = append(recs, &Close{Conn: conn, Time: at(n*10 + int(dir)), Dir: dir, Code: 1000, Reason: "done"})
	return recs, payload
}

func TestWriterConcurrentProducers(t *testing.T) {
	const (
		nConns = 50
		nMsgs  = 40
		nEvent = 200
		nHTTP  = 100
	)
	path := filepath.Join(t.TempDir(), "c.wstap")
	// Small batches and frequent checkpoints: many chunks, and summaries
	// that come from several checkpoints plus folded records.
	w, err := Create(path, Options{FlushSize: 16 << 10, CheckpointChunks: 8})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]Record{}
	var payload [nConns + 1][2]int64
	for i := 1; i <= nConns; i++ {
		o := &ConnOpen{Time: at(0), URL: fmt.Sprintf("ws://n%d.example.test/ws", i), Status: 101}
		id, err := w.Open(o)
		if err != nil {
			t.Fatal(err)
		}
		if id != ConnID(i) {
			t.Fatalf("Open #%d = conn %d, want %d", i, id, i)
		}
		want["open"] = append(want["open"], &ConnOpen{Conn: id, Time: at(0), URL: o.URL, Status: 101})
	}
	var events []Record
	for i := range nEvent {
		events = append(events, &Event{Conn: ConnID(i % (nConns + 1)), Time: at(i), Kind: EventNote, Detail: fmt.Sprintf("ev-%d", i)})
	}
	want["events"] = events
	var exchanges []Record
	for i := range nHTTP {
		exchanges = append(exchanges, &HTTP{ID: uint64(i + 1), Time: at(i), Method: "GET",
			URL: fmt.Sprintf("http://h.example.test/%d", i), Status: 200, ResponseBody: []byte("ok"), ResponseSize: 2})
	}
	want["http"] = exchanges

	errc := make(chan error, 2*nConns+2)
	var wg sync.WaitGroup
	var ends sync.WaitGroup
	for c := ConnID(1); c <= nConns; c++ {
		var connWG sync.WaitGroup
		for _, dir := range []Direction{ClientToServer, ServerToClient} {
			recs, n := producerRecords(c, dir, nMsgs)
			payload[c][dir] = n
			want[producerKey(recs[0])] = recs
			wg.Add(1)
			connWG.Add(1)
			go func() {
				defer wg.Done()
				defer connWG.Done()
				for _, r := range recs {
					if err := w.Append(r); err != nil {
						errc <- err
						return
					}
				}
			}()
		}
		ends.Add(1)
		go func() { // the connection's End follows both of its producers
			defer ends.Done()
			connWG.Wait()
			if err := w.Append(&End{Conn: c, Time: at(nMsgs*10 + 5)}); err != nil {
				errc <- err
			}
		}()
		want["end"] = append(want["end"], &End{Conn: c, Time: at(nMsgs*10 + 5)})
	}
	wg.Add(2)
	go func() {
		defer wg.Done()
		for _, r := range events {
			if err := w.Append(r); err != nil {
				errc <- err
				return
			}
		}
	}()
	go func() {
		defer wg.Done()
		for _, r := range exchanges {
			x := *r.(*HTTP)
			x.ID = 0
			if _, err := w.HTTP(&x); err != nil {
				errc <- err
				return
			}
		}
	}()
	wg.Wait()
	ends.Wait()
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	wantTotal := 0
	for _, rs := range want {
		wantTotal += len(rs)
	}
	if st := w.Stats(); st.Records != uint64(wantTotal) || st.Chunks < 10 {
		t.Errorf("Stats() = %+v, want %d records in 10 or more chunks", st, wantTotal)
	}

	r, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	recs, err := readAll(t, r, Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != wantTotal {
		t.Errorf("read %d records, want %d", len(recs), wantTotal)
	}
	got := map[string][]Record{}
	lastOf := map[ConnID]int{} // file position of each connection's latest non-End record
	endAt := map[ConnID]int{}
	for i, rec := range recs {
		k := producerKey(rec)
		got[k] = append(got[k], rec)
		if _, ok := rec.(*End); ok {
			endAt[rec.ConnID()] = i
		} else if _, ev := rec.(*Event); !ev && rec.ConnID() != 0 { // events race with ends
			lastOf[rec.ConnID()] = i
		}
	}
	slices.SortFunc(got["end"], func(a, b Record) int { return cmpInt(a.ConnID(), b.ConnID()) })
	for k, wr := range want {
		gr := got[k]
		if len(gr) != len(wr) {
			t.Errorf("producer %s: read %d records, want %d", k, len(gr), len(wr))
			continue
		}
		for i := range wr {
			if !sameRecord(gr[i], wr[i]) {
				t.Errorf("producer %s, record %d:\n got %#v\nwant %#v", k, i, gr[i], wr[i])
				break
			}
		}
	}
	for c, i := range lastOf {
		if endAt[c] < i {
			t.Errorf("conn %d: End at record %d, before the connection's record %d", c, endAt[c], i)
		}
	}

	checkSummaries := func(name string, sums []ConnSummary, https []HTTPSummary) {
		t.Helper()
		if len(sums) != nConns {
			t.Fatalf("%s: Conns() = %d entries, want %d", name, len(sums), nConns)
		}
		for _, s := range sums {
			c := s.Conn
			events := 0
			for i := range nEvent {
				if ConnID(i%(nConns+1)) == c {
					events++
				}
			}
			wantMsgs := [3]int64{nMsgs, nMsgs, 0}
			wantBytes := [3]int64{payload[c][0], payload[c][1], 0}
			if s.Messages != wantMsgs || s.Bytes != wantBytes || s.CloseCode != 1000 || !s.Ended ||
				s.Events != events || s.URL != fmt.Sprintf("ws://n%d.example.test/ws", c) || s.Status != 101 ||
				!s.First.Equal(at(0)) || !s.Last.Equal(at(nMsgs*10+5)) {
				t.Errorf("%s: summary of conn %d = %+v, want messages %v, bytes %v, %d events, ended", name, c, s,
					wantMsgs, wantBytes, events)
			}
		}
		if len(https) != nHTTP {
			t.Fatalf("%s: HTTP() = %d entries, want %d", name, len(https), nHTTP)
		}
		for i, h := range https {
			if h.ID != uint64(i+1) || h.URL != fmt.Sprintf("http://h.example.test/%d", i) {
				t.Errorf("%s: HTTP()[%d] = %+v", name, i, h)
			}
		}
	}
	checkSummaries("footer", r.Conns(), r.HTTP())

	// The same summaries from a scan: the file without its footer and final
	// checkpoint, so the last chunks are folded by the reader.
	full, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	cut := withoutFooter(t, full)
	r2, err := NewReader(bytes.NewReader(cut), int64(len(cut)))
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Close()
	if r2.Complete() || r2.Tail() != nil {
		t.Errorf("without footer: Complete() = %v, Tail() = %v; want false, nil", r2.Complete(), r2.Tail())
	}
	checkSummaries("scan", r2.Conns(), r2.HTTP())
}

// withoutFooter returns a cleanly closed capture without its footer and
// final checkpoint: what a crash just before Close leaves.
func withoutFooter(t testing.TB, full []byte) []byte {
	t.Helper()
	r, err := NewReader(bytes.NewReader(full), int64(len(full)))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if !r.Complete() {
		t.Fatal("withoutFooter: the capture has no footer")
	}
	// The footer names the last checkpoint, which is the final one.
	last := int64(leUint64(full[len(full)-footerSize:]))
	return bytes.Clone(full[:last])
}

func leUint64(p []byte) uint64 {
	var v uint64
	for i := 7; i >= 0; i-- {
		v = v<<8 | uint64(p[i])
	}
	return v
}

func TestWriterBackpressure(t *testing.T) {
	// A queue of one byte and batches of one record: every Append waits for
	// the disk, and nothing may be lost.
	for _, opts := range []Options{
		{QueueSize: 1, FlushSize: 1},
		{QueueSize: 1, FlushSize: 100},
		{QueueSize: 64 << 10, FlushSize: 4 << 10},
	} {
		t.Run(fmt.Sprintf("queue=%d,flush=%d", opts.QueueSize, opts.FlushSize), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "b.wstap")
			w, err := Create(path, opts)
			if err != nil {
				t.Fatal(err)
			}
			const producers, per = 4, 300
			conns := make([]ConnID, producers)
			for i := range conns {
				if conns[i], err = w.Open(&ConnOpen{Time: at(0), URL: "ws://b.example.test/"}); err != nil {
					t.Fatal(err)
				}
			}
			var wg sync.WaitGroup
			errc := make(chan error, producers)
			for _, c := range conns {
				wg.Go(func() {
					for seq := range per {
						data := fmt.Appendf(nil, "%d", seq)
						if err := w.Append(&Chunk{Conn: c, Time: at(seq), Opcode: OpText, First: true, Last: true, Data: data}); err != nil {
							errc <- err
							return
						}
					}
				})
			}
			wg.Wait()
			close(errc)
			for err := range errc {
				t.Fatal(err)
			}
			r := closeAndOpen(t, w, path)
			next := map[ConnID]int{}
			for rec, err := range r.Records(Filter{}) {
				if err != nil {
					t.Fatal(err)
				}
				c, ok := rec.(*Chunk)
				if !ok {
					continue
				}
				if want := fmt.Sprint(next[c.Conn]); string(c.Data) != want {
					t.Fatalf("conn %d: chunk %q, want %q", c.Conn, c.Data, want)
				}
				next[c.Conn]++
			}
			for _, c := range conns {
				if next[c] != per {
					t.Errorf("conn %d: read %d chunks, want %d", c, next[c], per)
				}
			}
		})
	}
}

func TestWriterSplitsBigChunks(t *testing.T) {
	tests := []struct {
		size        int
		first, last bool
		want        []int
	}{
		{MaxChunk, true, true, []int{MaxChunk}},
		{MaxChunk + 1, true, true, []int{MaxChunk, 1}},
		{2*MaxChunk + 100, true, true, []int{MaxChunk, MaxChunk, 100}},
		{2*MaxChunk + 100, false, false, []int{MaxChunk, MaxChunk, 100}},
		{3 * MaxChunk, true, false, []int{MaxChunk, MaxChunk, MaxChunk}},
		{2*MaxChunk + 1, false, true, []int{MaxChunk, MaxChunk, 1}},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%d,first=%v,last=%v", tt.size, tt.first, tt.last), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "s.wstap")
			w, err := Create(path, Options{})
			if err != nil {
				t.Fatal(err)
			}
			c, err := w.Open(&ConnOpen{Time: at(0), URL: "ws://s.example.test/"})
			if err != nil {
				t.Fatal(err)
			}
			data := make([]byte, tt.size)
			for i := range data {
				data[i] = byte(i * 7 / 3)
			}
			in := &Chunk{Conn: c, Time: at(1), Dir: ServerToClient, Opcode: OpBinary, First: tt.first, Last: tt.last, Data: data}
			if err := w.Append(in); err != nil {
				t.Fatal(err)
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			if len(in.Data) != tt.size || in.First != tt.first || in.Last != tt.last {
				t.Errorf("Append changed its argument: %d bytes, first %v, last %v", len(in.Data), in.First, in.Last)
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
			var sizes []int
			var joined []byte
			for i, rec := range recs[1:] {
				ch := rec.(*Chunk)
				sizes = append(sizes, len(ch.Data))
				joined = append(joined, ch.Data...)
				wantFirst := tt.first && i == 0
				wantLast := tt.last && i == len(tt.want)-1
				if ch.First != wantFirst || ch.Last != wantLast || ch.Dir != ServerToClient || ch.Opcode != OpBinary {
					t.Errorf("chunk %d: First %v, Last %v, Dir %v, Opcode %v; want First %v, Last %v", i, ch.First,
						ch.Last, ch.Dir, ch.Opcode, wantFirst, wantLast)
				}
			}
			if !slices.Equal(sizes, tt.want) {
				t.Errorf("chunk sizes = %v, want %v", sizes, tt.want)
			}
			if !bytes.Equal(joined, data) {
				t.Error("the chunks do not join to the payload")
			}
			if s, _ := r.Conn(c); s.Bytes[1] != int64(tt.size) {
				t.Errorf("summary bytes = %v, want %d from the server", s.Bytes, tt.size)
			}
		})
	}
}

func TestWriterRejects(t *testing.T) {
	w, path := createWriter(t, "r.wstap", Options{})
	c := mustOpen(t, w, &ConnOpen{Time: at(0), URL: "ws://r.example.test/"})
	bad := []Record{
		&Frame{Conn: c + 1, Time: at(1), Fin: true, Opcode: OpText},
		&Chunk{Conn: c + 1, Time: at(1), Opcode: OpText, First: true, Last: true, Data: []byte("x")},
		&Chunk{Conn: c + 5, Time: at(1), Opcode: OpBinary, First: true, Last: true, Data: make([]byte, MaxChunk+1)},
		&Close{Conn: 99, Time: at(1), Code: 1000},
		&End{Conn: 2, Time: at(1)},
		&Event{Conn: 3, Time: at(1), Kind: EventNote},
		&Chunk{Conn: 0, Time: at(1), Opcode: OpText, First: true, Last: true, Data: []byte("no connection")},
		&Frame{Conn: 0, Time: at(1), Fin: true, Opcode: OpText},
		&ConnOpen{Conn: c, Time: at(1)},
		&HTTP{Time: at(1), Method: "GET"},
		nil,
	}
	for _, r := range bad {
		if err := w.Append(r); err == nil {
			t.Errorf("Append(%#v) = nil, want an error", r)
		}
	}
	if err := w.Append(&Event{Conn: 0, Time: at(2), Kind: EventNote, Detail: "capture-wide"}); err != nil {
		t.Errorf("Append(event of connection 0) = %v", err)
	}
	if err := w.Append(&Chunk{Conn: c, Time: at(3), Opcode: OpText, First: true, Last: true, Data: []byte("ok")}); err != nil {
		t.Errorf("Append(chunk of conn %d) = %v", c, err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Errorf("second Close() = %v, want nil", err)
	}
	for name, err := range map[string]error{
		"Append": w.Append(&Chunk{Conn: c, Time: at(4), Opcode: OpText, First: true, Last: true, Data: []byte("late")}),
		"Flush":  w.Flush(),
		"Open": func() error {
			_, err := w.Open(&ConnOpen{Time: at(4), URL: "ws://r.example.test/"})
			return err
		}(),
		"HTTP": func() error {
			_, err := w.HTTP(&HTTP{Time: at(4), Method: "GET"})
			return err
		}(),
	} {
		if !errors.Is(err, ErrClosed) {
			t.Errorf("%s after Close = %v, want ErrClosed", name, err)
		}
	}
	r, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	recs, err := readAll(t, r, Filter{})
	if err != nil || len(recs) != 3 {
		t.Errorf("read %d records, %v; want 3 (open, event, chunk)", len(recs), err)
	}
}

func TestCreateFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "p.wstap")
	w, err := Create(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if w.Path() != path {
		t.Errorf("Path() = %q, want %q", w.Path(), path)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS != "windows" && fi.Mode().Perm() != 0o600 {
		t.Errorf("mode = %v, want 0600", fi.Mode().Perm())
	}
	if _, err := Create(path, Options{}); !errors.Is(err, fs.ErrExist) {
		t.Errorf("Create(existing) = %v, want an error matching fs.ErrExist", err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	// The refused Create left the first capture alone.
	r, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if !r.Complete() {
		t.Error("the existing capture was damaged by the refused Create")
	}
	if _, err := Create(filepath.Join(dir, "missing", "x.wstap"), Options{}); err == nil {
		t.Error("Create in a missing directory = nil error")
	}
}

// TestWriterErrorIsLoud makes the file fail under a running writer: every
// later Append, Flush and Close reports it, and what was flushed before
// stays readable.
func TestWriterErrorIsLoud(t *testing.T) {
	path := filepath.Join(t.TempDir(), "e.wstap")
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	w, err := newWriter(f, path, Options{FlushSize: 1 << 10, QueueSize: 4 << 10})
	if err != nil {
		t.Fatal(err)
	}
	c := mustOpen(t, w, &ConnOpen{Time: at(0), URL: "ws://e.example.test/"})
	if err := w.Append(&Chunk{Conn: c, Time: at(1), Opcode: OpText, First: true, Last: true, Data: []byte("before")}); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	f.Close() // every write from now on fails

	// Producers blocked by backpressure are released with the error.
	done := make(chan error, 1)
	go func() {
		for i := 0; ; i++ {
			if err := w.Append(&Chunk{Conn: c, Time: at(2), Opcode: OpBinary, First: true, Last: true, Data: make([]byte, 512)}); err != nil {
				done <- err
				return
			}
			if i > 1e6 {
				done <- nil
				return
			}
		}
	}()
	select {
	case err := <-done:
		if !errors.Is(err, os.ErrClosed) {
			t.Errorf("Append after the failure = %v, want an error wrapping os.ErrClosed", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Append never reported the write error")
	}
	if err := w.Flush(); !errors.Is(err, os.ErrClosed) {
		t.Errorf("Flush() = %v, want the write error", err)
	}
	if err := w.Err(); !errors.Is(err, os.ErrClosed) {
		t.Errorf("Err() = %v, want the write error", err)
	}
	if _, err := w.Open(&ConnOpen{Time: at(3)}); err == nil {
		t.Error("Open after the failure = nil error")
	}
	if _, err := w.HTTP(&HTTP{Time: at(3)}); err == nil {
		t.Error("HTTP after the failure = nil error")
	}
	if err := w.Close(); !errors.Is(err, os.ErrClosed) {
		t.Errorf("Close() = %v, want the write error", err)
	}
	if err := w.Close(); !errors.Is(err, os.ErrClosed) {
		t.Errorf("second Close() = %v, want the write error again", err)
	}

	r, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	recs, err := readAll(t, r, Filter{})
	if err != nil {
		t.Fatalf("reading what was flushed: %v", err)
	}
	if len(recs) != 2 || string(recs[1].(*Chunk).Data) != "before" {
		t.Errorf("read %d records, want the open and the chunk flushed before the failure", len(recs))
	}
}

// TestWriterErrorAtCreate: a file that refuses even the header fails
// newWriter itself.
func TestWriterErrorAtCreate(t *testing.T) {
	f, err := os.OpenFile("/dev/full", os.O_WRONLY, 0)
	if err != nil {
		t.Skipf("no /dev/full: %v", err)
	}
	defer f.Close()
	if w, err := newWriter(f, "/dev/full", Options{}); err == nil {
		w.Close()
		t.Fatal("newWriter(/dev/full) = nil error")
	}
}

// TestFlushReadable: after Flush, a Reader opened meanwhile sees every
// record, and Refresh brings in the next flush.
func TestFlushReadable(t *testing.T) {
	w, path := createWriter(t, "f.wstap", Options{FlushInterval: time.Hour})
	defer w.Close()
	c := mustOpen(t, w, &ConnOpen{Time: at(0), URL: "ws://f.example.test/"})
	for i := range 10 {
		if err := w.Append(&Chunk{Conn: c, Time: at(i), Opcode: OpText, First: true, Last: true, Data: fmt.Appendf(nil, "m%d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	r, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if r.Complete() || r.Tail() != nil {
		t.Errorf("live file: Complete() = %v, Tail() = %v; want false, nil", r.Complete(), r.Tail())
	}
	recs, err := readAll(t, r, Filter{})
	if err != nil || len(recs) != 11 {
		t.Fatalf("read %d records, %v; want 11", len(recs), err)
	}
	if s, _ := r.Conn(c); s.Messages[0] != 10 {
		t.Errorf("summary messages = %v, want 10 from the client", s.Messages)
	}
	if err := w.Append(&Chunk{Conn: c, Time: at(20), Opcode: OpText, First: true, Last: true, Data: []byte("late")}); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if more, err := r.Refresh(); !more || err != nil {
		t.Fatalf("Refresh() = %v, %v; want true, nil", more, err)
	}
	recs, err = readAll(t, r, Filter{Conn: c})
	if err != nil || len(recs) != 12 || string(recs[11].(*Chunk).Data) != "late" {
		t.Fatalf("after Refresh: read %d records, %v; want 12 ending in \"late\"", len(recs), err)
	}
}

func TestWriterOpenIDs(t *testing.T) {
	w, _ := createWriter(t, "ids.wstap", Options{})
	var mu sync.Mutex
	var ids []int
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			id, err := w.Open(&ConnOpen{Time: at(0), URL: "ws://ids.example.test/"})
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			ids = append(ids, int(id))
			mu.Unlock()
		})
	}
	wg.Wait()
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	sort.Ints(ids)
	for i, id := range ids {
		if id != i+1 {
			t.Fatalf("concurrent Open IDs = %v, want 1..20 each once", ids)
		}
	}
}

// TestWriterCloseDuringSplit: Close racing an Append that is split into
// several chunks either lets the whole Append in or makes it fail; it never
// reports success for a payload it dropped, and never waits forever for a
// writer goroutine that has finished.
func TestWriterCloseDuringSplit(t *testing.T) {
	for i := range 20 {
		path := filepath.Join(t.TempDir(), fmt.Sprintf("split%d.wstap", i))
		w, err := Create(path, Options{QueueSize: 1, FlushSize: 1})
		if err != nil {
			t.Fatal(err)
		}
		c, err := w.Open(&ConnOpen{Time: at(0), URL: "ws://split.example.test/"})
		if err != nil {
			t.Fatal(err)
		}
		appended := make(chan error, 1)
		go func() {
			appended <- w.Append(&Chunk{Conn: c, Time: at(1), Opcode: OpBinary, First: true, Last: true,
				Data: make([]byte, 3*MaxChunk)})
		}()
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		var aerr error
		select {
		case aerr = <-appended:
		case <-time.After(30 * time.Second):
			t.Fatal("Append never returned after Close") // it waited for a writer that had finished
		}
		r, err := Open(path)
		if err != nil {
			t.Fatal(err)
		}
		recs, err := readAll(t, r, Filter{})
		r.Close()
		if err != nil {
			t.Fatal(err)
		}
		if aerr == nil && len(recs) != 4 {
			t.Fatalf("Append = nil, but %d of its 3 chunks are in the file", len(recs)-1)
		}
		if aerr != nil && !errors.Is(aerr, ErrClosed) {
			t.Fatalf("Append = %v, want nil or ErrClosed", aerr)
		}
	}
}

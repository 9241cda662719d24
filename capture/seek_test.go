package capture

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

// seekCapture writes a capture of two connections whose messages spread
// over many chunks (a flush every 10 records): message i of connection 1
// is "c1-i" at at(10*i), connection 2's "c2-i" at at(10*i+5); connection
// 1's 50th message is a 600 KiB binary one of three chunks, with a frame
// record before it. It returns the path and the messages' texts by
// connection, in order.
func seekCapture(t *testing.T) (string, map[ConnID][]string) {
	t.Helper()
	w, path := createWriter(t, "seek.wstap", Options{FlushInterval: time.Hour, CheckpointChunks: 4})
	c1 := mustOpen(t, w, &ConnOpen{Time: at(0), URL: "ws://one.example.test/", Status: 101})
	c2 := mustOpen(t, w, &ConnOpen{Time: at(0), URL: "ws://two.example.test/", Status: 101})
	want := map[ConnID][]string{}
	n := 0
	add := func(r Record) {
		t.Helper()
		if err := w.Append(r); err != nil {
			t.Fatal(err)
		}
		if n++; n%10 == 0 {
			if err := w.Flush(); err != nil {
				t.Fatal(err)
			}
		}
	}
	for i := range 100 {
		if i == 50 {
			big := bytes.Repeat([]byte("0123456789abcdef"), 600<<10/16)
			add(&Frame{Conn: c1, Time: at(10 * i), Dir: ServerToClient, Fin: true, Opcode: OpBinary, Length: int64(len(big))})
			add(&Chunk{Conn: c1, Time: at(10 * i), Dir: ServerToClient, Opcode: OpBinary, First: true, Last: true, Data: big})
			want[c1] = append(want[c1], string(big))
			continue
		}
		s1, s2 := fmt.Sprint("c1-", i), fmt.Sprint("c2-", i)
		add(textChunk(c1, 10*i, s1))
		add(textChunk(c2, 10*i+5, s2))
		want[c1], want[c2] = append(want[c1], s1), append(want[c2], s2)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return path, want
}

// TestSummariesAndPositions: Summaries lists every message with its
// position and a prefix of at most SummaryPrefix bytes; OpenMessage from
// that position streams the whole payload, starting at the chunk that holds
// it, not at the connection's first (issue 7).
func TestSummariesAndPositions(t *testing.T) {
	path, want := seekCapture(t)
	r := openReader(t, path)
	if len(r.chunks) < 20 {
		t.Fatalf("%d chunks, want at least 20 for the test to mean something", len(r.chunks))
	}
	for _, c := range []ConnID{1, 2} {
		var got []Message
		for m, err := range r.Summaries(Filter{Conn: c}) {
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, *m) // the *Message is reused: copy
			got[len(got)-1].Data = bytes.Clone(m.Data)
		}
		if len(got) != len(want[c]) {
			t.Fatalf("conn %d: %d summaries, want %d", c, len(got), len(want[c]))
		}
		prev := uint64(0)
		for i, m := range got {
			w := want[c][i]
			prefix := w[:min(len(w), SummaryPrefix)]
			if string(m.Data) != prefix || m.Size != int64(len(w)) || m.Cut != (len(w) > SummaryPrefix) || m.Index != i+1 {
				t.Fatalf("conn %d summary %d = %q (size %d, cut %v, index %d), want prefix %q of %d bytes",
					c, i, cutStr(m.Data), m.Size, m.Cut, m.Index, cutStr([]byte(prefix)), len(w))
			}
			if m.Seq <= prev {
				t.Fatalf("conn %d summary %d at position %d, after %d", c, i, m.Seq, prev)
			}
			prev = m.Seq
			if len(w) > 1000 && (m.WireSize != int64(len(w)) || m.Frames != 1) {
				t.Errorf("big message: wire size %d in %d frames, want %d in 1", m.WireSize, m.Frames, len(w))
			}
		}
		// Every message opens from its position, the last one too.
		for _, i := range []int{0, 49, 50, len(got) - 1} {
			if i >= len(got) {
				continue
			}
			m := got[i]
			rc, err := r.OpenMessage(&m)
			if err != nil {
				t.Fatal(err)
			}
			data, err := io.ReadAll(rc)
			rc.Close()
			if err != nil || string(data) != want[c][i] {
				t.Errorf("conn %d: OpenMessage(#%d at %d) = %d bytes, %v; want %d bytes", c, i+1, m.Seq, len(data), err, len(want[c][i]))
			}
		}
	}
}

func cutStr(p []byte) string {
	if len(p) > 20 {
		return string(p[:20]) + "…"
	}
	return string(p)
}

// TestOpenMessageStartsAtItsChunk: opening a message reads from the chunk
// that holds it: with every chunk before it damaged, it still opens.
func TestOpenMessageStartsAtItsChunk(t *testing.T) {
	path, want := seekCapture(t)
	r := openReader(t, path)
	var last Message
	for m, err := range r.Summaries(Filter{Conn: 2}) {
		if err != nil {
			t.Fatal(err)
		}
		last = *m
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	i := r.startAt(last.Seq).i
	for _, e := range r.chunks[:i] { // break the checksum of every chunk before
		data[e.Offset+frameHeadSize+chunkHeaderSize+1] ^= 0xff
	}
	rd, err := NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	rc, err := rd.OpenMessageAt(2, last.Seq)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(rc)
	rc.Close()
	if err != nil || string(got) != want[2][len(want[2])-1] {
		t.Errorf("OpenMessageAt(2, %d) = %q, %v; want %q", last.Seq, got, err, want[2][len(want[2])-1])
	}
}

// TestRecordsFromAndSeekTime: RecordsFrom starts at any position, SeekTime
// finds the first record at or after a time.
func TestRecordsFromAndSeekTime(t *testing.T) {
	path, _ := seekCapture(t)
	r := openReader(t, path)
	var all []Record
	for rec, err := range r.Records(Filter{}) {
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, rec)
	}
	// Positions: the chunk records' seq, and the reader's count.
	if n := r.RecordCount(); n != uint64(len(all)) { // no folded frame: each record read is one on disk
		t.Errorf("RecordCount() = %d, want %d", n, len(all))
	}
	for _, seq := range []uint64{0, 1, 2, 9, 10, 11, 57, 150, r.RecordCount() - 1, r.RecordCount(), r.RecordCount() + 5} {
		var got []Record
		for rec, err := range r.RecordsFrom(Filter{}, seq) {
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, rec)
		}
		first := firstAtOrAfter(t, r, seq)
		if len(got) != len(all)-first {
			t.Errorf("RecordsFrom(%d): %d records, want %d", seq, len(got), len(all)-first)
			continue
		}
		for i := range got {
			if !sameRecord(got[i], all[first+i]) {
				t.Errorf("RecordsFrom(%d) record %d = %v, want %v", seq, i, got[i], all[first+i])
				break
			}
		}
	}
	// c2-i is at at(10i+5): the first record at or after at(10i+3) is c2-i.
	for _, i := range []int{0, 7, 33, 99} {
		seq := r.SeekTime(at(10*i + 3))
		var got *Chunk
		for rec, err := range r.RecordsFrom(Filter{}, seq) {
			if err != nil {
				t.Fatal(err)
			}
			if c, ok := rec.(*Chunk); ok {
				got = c
				break
			}
		}
		if w := fmt.Sprint("c2-", i); got == nil || string(got.Data) != w {
			t.Errorf("SeekTime(at(%d)): first chunk %v, want %q", 10*i+3, got, w)
		}
	}
	if seq := r.SeekTime(at(100000)); seq != r.RecordCount() {
		t.Errorf("SeekTime(past the end) = %d, want %d", seq, r.RecordCount())
	}
	if seq := r.SeekTime(time.Time{}); seq != 0 {
		t.Errorf("SeekTime(zero) = %d, want 0", seq)
	}
}

// firstAtOrAfter returns the index in Records' output of the first record
// at position seq or later.
func firstAtOrAfter(t *testing.T, r *Reader, seq uint64) int {
	t.Helper()
	i := 0
	cur := r.cursor()
	defer r.bufs.Put(cur)
	for k := range r.chunks {
		e := r.chunks[k]
		if _, err := r.decodeChunk(&e, r.size, cur, &cur.keep); err != nil {
			t.Fatal(err)
		}
		for _, p := range cur.pos {
			if p >= seq {
				return i
			}
			i++
		}
	}
	return i
}

// TestReaderConcurrent: one goroutine follows a growing file while others
// list summaries and open payloads on the same Reader (run with -race).
func TestReaderConcurrent(t *testing.T) {
	w, path := createWriter(t, "live.wstap", Options{FlushInterval: time.Hour, CheckpointChunks: 3})
	c := mustOpen(t, w, &ConnOpen{Time: at(0), URL: "ws://live.example.test/", Status: 101})
	for i := range 20 {
		if err := w.Append(textChunk(c, i, fmt.Sprint("early ", i))); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	r := openReader(t, path)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	followed := make(chan int)
	go func() {
		n := 0
		for rec, err := range r.Follow(ctx, Filter{Conn: c}, 2*time.Millisecond) {
			if err != nil {
				break
			}
			if _, ok := rec.(*Chunk); ok {
				n++
			}
		}
		followed <- n
	}()
	var wg sync.WaitGroup
	for g := range 3 {
		wg.Go(func() {
			for range 20 {
				for m, err := range r.Summaries(Filter{Conn: c}) {
					if err != nil {
						t.Error(err)
						return
					}
					if m.Index%7 == g {
						rc, err := r.OpenMessage(m)
						if err != nil {
							t.Error(err)
							return
						}
						data, err := io.ReadAll(rc)
						rc.Close()
						if err != nil || !strings.HasSuffix(string(data), fmt.Sprint(" ", m.Index-1)) {
							t.Errorf("message %d = %q, %v", m.Index, data, err)
						}
					}
				}
				_ = r.Conns()
				_ = r.SeekTime(at(5))
			}
		})
	}
	for i := 20; i < 60; i++ {
		if err := w.Append(textChunk(c, i, fmt.Sprint("later ", i))); err != nil {
			t.Fatal(err)
		}
		if i%5 == 0 {
			if err := w.Flush(); err != nil {
				t.Fatal(err)
			}
		}
	}
	wg.Wait()
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if n := <-followed; n != 60 {
		t.Errorf("Follow saw %d messages, want 60", n)
	}
}

// TestFollowFrom: following from a position yields the records from there
// on, including those written after the follow began.
func TestFollowFrom(t *testing.T) {
	w, path := createWriter(t, "from.wstap", Options{FlushInterval: time.Hour})
	c := mustOpen(t, w, &ConnOpen{Time: at(0), URL: "ws://from.example.test/", Status: 101})
	for i := range 10 {
		if err := w.Append(textChunk(c, i, fmt.Sprint("m", i))); err != nil {
			t.Fatal(err)
		}
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	r := openReader(t, path)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	got := make(chan []string)
	go func() {
		var out []string
		for rec, err := range r.FollowFrom(ctx, Filter{}, 7, 2*time.Millisecond) { // the open is at 0: m6 is at 7
			if err != nil {
				break
			}
			if ch, ok := rec.(*Chunk); ok {
				out = append(out, string(ch.Data))
			}
		}
		got <- out
	}()
	if err := w.Append(textChunk(c, 20, "m10")); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if g := strings.Join(<-got, " "); g != "m6 m7 m8 m9 m10" {
		t.Errorf("FollowFrom(7) = %q, want m6 … m10", g)
	}
}

// TestVerifyAndRepair: Verify finds every kind of damage, and Repair
// salvages the rest into a capture that verifies clean, with the same
// connection ids, never touching its input (issue 7).
func TestVerifyAndRepair(t *testing.T) {
	path, want := seekCapture(t)
	clean, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	r := openReader(t, path)
	chunks := r.chunks
	rep, err := Verify(bytes.NewReader(clean), int64(len(clean)))
	if err != nil || !rep.Intact() || !rep.Complete || rep.Chunks != len(chunks) || rep.Records != r.RecordCount() {
		t.Fatalf("Verify(clean) = %+v, %v; want intact, complete, %d chunks, %d records", rep, err, len(chunks), r.RecordCount())
	}

	flip := func(data []byte, off int64) []byte { d := bytes.Clone(data); d[off] ^= 0x20; return d }
	mid := chunks[2] // text messages only, before the big one
	cutChunk := append(bytes.Clone(withoutFooter(t, clean)[:mid.Offset]), withoutFooter(t, clean)[chunkEnd(&mid):]...)
	badFooter := bytes.Clone(clean)
	binary.LittleEndian.PutUint64(badFooter[len(badFooter)-footerSize:], 7)
	tests := []struct {
		name   string
		data   []byte
		reason string
	}{
		{"chunk data", flip(clean, mid.Offset+frameHeadSize+chunkHeaderSize+3), "chunk checksum mismatch"},
		{"chunk header", flip(clean, mid.Offset+frameHeadSize+20), "chunk header checksum mismatch"},
		{"a chunk cut out", cutChunk, "are missing"},
		{"footer", badFooter, "footer's checkpoint chain"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep, err := Verify(bytes.NewReader(tt.data), int64(len(tt.data)))
			if err != nil {
				t.Fatal(err)
			}
			if rep.Intact() || len(rep.Damage) != 1 || !strings.Contains(rep.Damage[0].Reason, tt.reason) {
				t.Fatalf("Verify = %+v (damage %v), want one damaged range about %q", rep, rep.Damage, tt.reason)
			}
			src := writeTemp(t, tt.name, tt.data)
			dst := src + ".fixed"
			st, err := Repair(src, dst)
			if err != nil {
				t.Fatal(err)
			}
			if after, _ := os.ReadFile(src); !bytes.Equal(after, tt.data) {
				t.Error("Repair changed its input")
			}
			fixed, err := VerifyFile(dst)
			if err != nil || !fixed.Intact() || !fixed.Complete {
				t.Fatalf("VerifyFile(repaired) = %+v, %v; want intact and complete", fixed, err)
			}
			if st.Records != fixed.Records {
				t.Errorf("Repair salvaged %d records, the new file holds %d", st.Records, fixed.Records)
			}
			// Every message that survived reads back, with its connection.
			rr := openReader(t, dst)
			seen := map[ConnID]int{}
			for m, err := range rr.Summaries(Filter{}) {
				if err != nil {
					t.Fatal(err)
				}
				if !containsPrefix(want[m.Conn], m.Data) {
					t.Fatalf("repaired: message %q of connection %d is not one of its own", cutStr(m.Data), m.Conn)
				}
				seen[m.Conn]++
			}
			lost := len(want[1]) + len(want[2]) - seen[1] - seen[2]
			if tt.name == "footer" && lost != 0 || tt.name != "footer" && (lost == 0 || lost > 12) {
				t.Errorf("repaired: %d messages lost", lost)
			}
			if cs := rr.Conns(); len(cs) != 2 || cs[0].URL != "ws://one.example.test/" || cs[1].URL != "ws://two.example.test/" {
				t.Errorf("repaired: Conns() = %+v", cs)
			}
		})
	}
}

func containsPrefix(ss []string, p []byte) bool {
	for _, s := range ss {
		if strings.HasPrefix(s, string(p)) {
			return true
		}
	}
	return false
}

func writeTemp(t *testing.T, name string, data []byte) string {
	t.Helper()
	p := t.TempDir() + "/" + strings.ReplaceAll(name, " ", "_") + ".wstap"
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

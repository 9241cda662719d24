package capture

import (
	"bytes"
	"encoding/binary"
	"os"
	"reflect"
	"testing"
	"time"
)

// TestRecordsOutliveReads checks the reader's shared allocation of records
// (recAlloc): records kept from many chunks stay intact while later chunks
// are read, and appending to one payload never writes into another.
func TestRecordsOutliveReads(t *testing.T) {
	w, path := createWriter(t, "a.wstap", Options{FlushSize: 16 << 10})
	conn, err := w.Open(&ConnOpen{Time: t0, URL: "ws://alloc.example.test/"})
	if err != nil {
		t.Fatal(err)
	}
	var want [][]byte
	for i := range 3000 {
		size := i % 700 // below and above smallChunk
		if i%97 == 0 {
			size = 5000
		}
		data := bytes.Repeat([]byte{byte(i), byte(i >> 8)}, size/2+1)[:size]
		if size == 0 {
			data = nil
		}
		want = append(want, data)
		if err := w.Append(&Frame{Conn: conn, Time: at(i), Fin: true, Opcode: OpBinary, Length: int64(size)}); err != nil {
			t.Fatal(err)
		}
		if err := w.Append(&Chunk{Conn: conn, Time: at(i), Opcode: OpBinary, First: true, Last: true, Data: data}); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if w.Stats().Chunks < 10 {
		t.Fatalf("%d chunks, want many", w.Stats().Chunks)
	}

	r, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var chunks []*Chunk
	var frames []*Frame
	for rec, err := range r.Records(Filter{}) {
		if err != nil {
			t.Fatal(err)
		}
		switch rec := rec.(type) {
		case *Chunk:
			chunks = append(chunks, rec)
		case *Frame:
			frames = append(frames, rec)
		}
	}
	// Read the file again, so that the reader's buffers are overwritten.
	for _, err := range r.Records(Filter{}) {
		if err != nil {
			t.Fatal(err)
		}
	}
	if len(chunks) != len(want) || len(frames) != len(want) {
		t.Fatalf("read %d chunks and %d frames, want %d", len(chunks), len(frames), len(want))
	}
	for _, c := range chunks {
		c.Data = append(c.Data, 0xee, 0xee) // must not reach the next payload
	}
	for i, c := range chunks {
		if got := c.Data[:len(c.Data)-2]; !bytes.Equal(got, want[i]) {
			t.Fatalf("chunk %d: payload of %d bytes changed after later reads", i, len(want[i]))
		}
		if frames[i].Length != int64(len(want[i])) || !frames[i].Time.Equal(at(i)) {
			t.Fatalf("frame %d = %+v", i, frames[i])
		}
	}
}

// TestFoldManyChunks checks that folding chunks (with transient records)
// builds the same summaries as the checkpoints do, across many chunks and
// connections.
func TestFoldManyChunks(t *testing.T) {
	w, path := createWriter(t, "a.wstap", Options{FlushSize: 8 << 10})
	p := &producer{w: w}
	c := chatCorpus(4000)
	var ids []ConnID
	for i := range 20 {
		id, err := w.Open(benchOpen(i))
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	for i, m := range c.msgs {
		if err := p.message(ids[i%len(ids)], benchClock(i, time.Millisecond), m); err != nil {
			t.Fatal(err)
		}
		if i%1000 == 999 {
			if err := p.end(ids[i/1000], benchClock(i, time.Millisecond)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	full, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer full.Close()
	// Cut the final checkpoint and the footer: no checkpoint is left, so the
	// reader folds every chunk.
	file, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	end := int64(binary.LittleEndian.Uint64(file[len(file)-footerSize:]))
	cut, err := NewReader(bytes.NewReader(file[:end]), end)
	if err != nil {
		t.Fatal(err)
	}
	defer cut.Close()
	if cut.Tail() != nil || cut.covered != len(full.chunks) || len(full.chunks) < 20 {
		t.Fatalf("tail %v, %d of %d chunks folded", cut.Tail(), cut.covered, len(full.chunks))
	}
	if !reflect.DeepEqual(full.Conns(), cut.Conns()) {
		t.Errorf("summaries differ:\n index %+v\n  fold %+v", full.Conns(), cut.Conns())
	}
	for i := range full.chunks {
		if !reflect.DeepEqual(full.chunks[i].Conns, cut.chunks[i].Conns) {
			t.Errorf("chunk %d: conns %v from the index, %v folded", i, full.chunks[i].Conns, cut.chunks[i].Conns)
		}
	}
}

package capture

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// setCompressHook installs fn as w's compressor hook.
func setCompressHook(w *Writer, fn func(seq0 uint64)) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.compressHook = fn
}

// jsonChunk is message seq of conn c: about size bytes of JSON text that
// compresses well, as chat traffic does.
func jsonChunk(c ConnID, seq, size int) *Chunk {
	var b []byte
	for i := 0; len(b) < size; i++ {
		b = fmt.Appendf(b, `{"type":"message","seq":%d,"part":%d,"room":"general","text":"hello again"}`, seq, i)
	}
	return &Chunk{Conn: c, Time: at(seq), Dir: ServerToClient, Opcode: OpText, First: true, Last: true, Data: b[:size]}
}

// fileChunk is a chunk as the file holds it.
type fileChunk struct {
	seq0 uint64
	nrec uint32
	raw  bool // its frame is raw blocks, as appendRawFrame writes them
}

// chunksOf lists the chunks of the capture in data by walking its frames,
// not trusting its index, and checks that the index of a cleanly closed
// file lists the same chunks; a raw chunk's content must be its records.
func chunksOf(t *testing.T, data []byte) []fileChunk {
	t.Helper()
	walk, err := newReader(bytes.NewReader(data), int64(len(data)), true)
	if err != nil {
		t.Fatal(err)
	}
	defer walk.Close()
	index, err := NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	defer index.Close()
	if index.Complete() && !slices.EqualFunc(walk.chunks, index.chunks, func(a, b chunkEntry) bool {
		return a.Offset == b.Offset && a.CLen == b.CLen && a.ULen == b.ULen && a.NRec == b.NRec && a.Seq0 == b.Seq0
	}) {
		t.Errorf("the index lists chunks %+v, the file holds %+v", index.chunks, walk.chunks)
	}
	var out []fileChunk
	for _, e := range walk.chunks {
		frame := data[e.Offset+chunkRoom : e.Offset+chunkRoom+int64(e.CLen)]
		content, err := rawFrameContent(frame)
		if err == nil && len(content) != int(e.ULen) {
			t.Errorf("raw chunk at %d holds %d bytes, its header says %d", e.Offset, len(content), e.ULen)
		}
		out = append(out, fileChunk{seq0: e.Seq0, nrec: e.NRec, raw: err == nil})
	}
	return out
}

// countRaw is how many of chunks are raw.
func countRaw(chunks []fileChunk) int {
	n := 0
	for _, c := range chunks {
		if c.raw {
			n++
		}
	}
	return n
}

// TestWriterAdaptiveRawWhileBehind: while every compressor is stuck (the
// hook blocks them until the test lets go), the batches sealed meanwhile
// still reach the file, raw, by their due time: the loss bound holds while
// the writer is behind, and Flush returns before the release. Released,
// the writer compresses again.
func TestWriterAdaptiveRawWhileBehind(t *testing.T) {
	const stuck, after = 8, 4
	f := newFakeFile()
	// One record per batch. FlushInterval sets when a batch is due: long
	// enough that, released, the writer has all the time it needs.
	w := fakeWriter(t, f, Options{FlushSize: 1, FlushInterval: 500 * time.Millisecond, SyncInterval: -1})
	o := &ConnOpen{Time: at(0), URL: "ws://adapt.example.test/"}
	c := mustOpen(t, w, o)
	want := []Record{&ConnOpen{Conn: c, Time: at(0), URL: o.URL}}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	raw0 := w.Stats().RawChunks // the open alone does not compress: 1

	gate := make(chan struct{})
	released := false
	release := func() {
		if !released {
			released = true
			close(gate)
		}
	}
	t.Cleanup(release) // before fakeWriter's Close, which waits for the compressors
	entered := make(chan uint64, stuck+after)
	setCompressHook(w, func(seq0 uint64) {
		entered <- seq0
		<-gate
	})
	for i := 1; i <= stuck; i++ {
		if err := w.Append(jsonChunk(c, i, 1500)); err != nil {
			t.Fatal(err)
		}
		want = append(want, jsonChunk(c, i, 1500))
	}
	// No speed is measured yet (the records are small), so the first batch
	// goes to a compressor, which the hook holds.
	select {
	case <-entered:
	case <-time.After(10 * time.Second):
		t.Fatal("no compressor took a batch")
	}
	if err := within(t, 20*time.Second, "Flush with the compressors stuck", w.Flush); err != nil {
		t.Fatal(err)
	}
	chunks := chunksOf(t, f.bytes())
	if len(chunks) != 1+stuck || countRaw(chunks[1:]) != stuck {
		t.Fatalf("with the compressors stuck the file holds chunks %+v; want the open's and %d raw ones", chunks, stuck)
	}
	if st := w.Stats(); st.RawChunks != raw0+stuck || st.RawChunkBytes == 0 || st.RawChunkBytes > st.RawBytes {
		t.Errorf("Stats() = %+v, want %d raw chunks", st, raw0+stuck)
	}
	_, recs := readBytes(t, f.bytes())
	checkRecords(t, recs, want)

	release()
	for i := stuck + 1; i <= stuck+after; i++ {
		if err := w.Append(jsonChunk(c, i, 1500)); err != nil {
			t.Fatal(err)
		}
		want = append(want, jsonChunk(c, i, 1500))
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	chunks = chunksOf(t, f.bytes())
	if len(chunks) != 1+stuck+after || countRaw(chunks[1+stuck:]) != 0 {
		t.Errorf("released, the writer wrote chunks %+v; want %d compressed ones at the end", chunks, after)
	}
	if st := w.Stats(); st.RawChunks != raw0+stuck {
		t.Errorf("Stats().RawChunks = %d after the release, want %d still", st.RawChunks, raw0+stuck)
	}
	r, recs := readBytes(t, f.bytes())
	if !r.Complete() {
		t.Error("Complete() = false after Close")
	}
	checkRecords(t, recs, want)
	if rep, err := Verify(bytes.NewReader(f.bytes()), int64(len(f.bytes()))); err != nil || !rep.Intact() || !rep.Complete {
		t.Errorf("Verify = %+v, %v; want intact and complete", rep, err)
	}
}

// TestWriterWritesInSeqOrder: compressors that finish out of order (the
// hook holds a batch until a later one is compressed) still have their
// chunks written in sequence order, and the index lists them so. With
// CompressAlways and batches due at once, the writer waits for the late
// compressor rather than storing raw.
func TestWriterWritesInSeqOrder(t *testing.T) {
	for _, tt := range []struct {
		name string
		opts Options
	}{
		{"adaptive", Options{FlushInterval: time.Hour}},
		{"always, due at once", Options{FlushInterval: time.Millisecond, Compression: CompressAlways}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			const n = 40
			f := newFakeFile()
			opts := tt.opts
			opts.FlushSize, opts.SyncInterval, opts.CheckpointChunks = 1, -1, 5
			w := fakeWriter(t, f, opts)
			o := &ConnOpen{Time: at(0), URL: "ws://order.example.test/"}
			c := mustOpen(t, w, o)
			want := []Record{&ConnOpen{Conn: c, Time: at(0), URL: o.URL}}
			if err := w.Flush(); err != nil {
				t.Fatal(err)
			}
			// Record i is alone in the batch whose seq0 is i. A held batch
			// waits until the hook is entered for the batch ncomp after
			// it: with the held one taking a compressor, that can only
			// happen once one of the batches in between is compressed.
			entered := make([]chan struct{}, n+w.ncomp+1)
			for i := range entered {
				entered[i] = make(chan struct{})
			}
			held := func(seq0 uint64) bool { return seq0%8 == 1 && seq0+uint64(w.ncomp) <= n }
			setCompressHook(w, func(seq0 uint64) { // once per batch
				close(entered[seq0])
				if held(seq0) {
					select {
					case <-entered[seq0+uint64(w.ncomp)]:
					case <-time.After(20 * time.Second):
						t.Errorf("batch %d: the batch %d after it never reached a compressor", seq0, w.ncomp)
					}
				}
			})
			for i := 1; i <= n; i++ {
				if err := w.Append(jsonChunk(c, i, 700)); err != nil {
					t.Fatal(err)
				}
				want = append(want, jsonChunk(c, i, 700))
			}
			if err := within(t, 30*time.Second, "Close", w.Close); err != nil {
				t.Fatal(err)
			}
			chunks := chunksOf(t, f.bytes())
			next := uint64(0)
			for i, ch := range chunks {
				if ch.seq0 != next {
					t.Fatalf("chunk %d starts at record %d, want %d: chunks %+v", i, ch.seq0, next, chunks)
				}
				next += uint64(ch.nrec)
			}
			// The open's chunk is too small to compress.
			if len(chunks) != n+1 || countRaw(chunks[1:]) != 0 {
				t.Errorf("%d chunks, %d raw; want %d, all but the open's compressed", len(chunks), countRaw(chunks), n+1)
			}
			r, recs := readBytes(t, f.bytes())
			if !r.Complete() {
				t.Error("Complete() = false after Close")
			}
			checkRecords(t, recs, want)
		})
	}
}

// TestWriterCompressionOptions: what each Compression stores, for payloads
// that compress and payloads that do not, and that all of it reads back.
func TestWriterCompressionOptions(t *testing.T) {
	tests := []struct {
		mode    Compression
		random  bool
		wantRaw bool // Stats: every chunk stored raw, or none
		fileRaw bool // every chunk's frame is raw blocks, or none
	}{
		{CompressAdaptive, false, false, false},
		{CompressAdaptive, true, true, true}, // compression does not pay
		{CompressAlways, false, false, false},
		{CompressAlways, true, false, true}, // compressed, and zstd stored raw blocks
		{CompressNever, false, true, true},
		{CompressNever, true, true, true},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%v,random=%v", tt.mode, tt.random), func(t *testing.T) {
			f := newFakeFile()
			// No timer and no due time: only the mode decides.
			w := fakeWriter(t, f, Options{Compression: tt.mode, FlushInterval: time.Hour, FlushSize: 16 << 10, SyncInterval: -1})
			o := &ConnOpen{Time: at(0), URL: "ws://mode.example.test/"}
			c := mustOpen(t, w, o)
			want := []Record{&ConnOpen{Conn: c, Time: at(0), URL: o.URL}}
			var payload int
			for i := 1; i <= 60; i++ {
				rec := jsonChunk(c, i, 2000)
				if tt.random {
					rec = randomChunk(c, i, 2000)
				}
				if err := w.Append(rec); err != nil {
					t.Fatal(err)
				}
				want = append(want, rec)
				payload += len(rec.Data)
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			data := f.bytes()
			chunks := chunksOf(t, data)
			st := w.Stats()
			if len(chunks) < 5 || st.Chunks != uint64(len(chunks)) {
				t.Fatalf("Stats().Chunks = %d, the file holds %d chunks; want 5 or more", st.Chunks, len(chunks))
			}
			wantRaw, fileRaw := 0, 0
			if tt.wantRaw {
				wantRaw = len(chunks)
			}
			if tt.fileRaw {
				fileRaw = len(chunks)
			}
			if got := countRaw(chunks); got != fileRaw || st.RawChunks != uint64(wantRaw) {
				t.Errorf("%d of %d chunks raw, Stats().RawChunks = %d; want %d and %d", got, len(chunks), st.RawChunks,
					fileRaw, wantRaw)
			}
			if tt.wantRaw && st.RawChunkBytes != st.RawBytes || !tt.wantRaw && st.RawChunkBytes != 0 {
				t.Errorf("Stats().RawChunkBytes = %d of %d record bytes", st.RawChunkBytes, st.RawBytes)
			}
			switch {
			case !tt.random && !tt.wantRaw && len(data) > payload/4:
				t.Errorf("compressed JSON: the file is %d bytes for %d of payload", len(data), payload)
			case tt.wantRaw && len(data) < payload:
				t.Errorf("stored raw: the file is %d bytes for %d of payload", len(data), payload)
			}
			_, recs := readBytes(t, data)
			checkRecords(t, recs, want)
		})
	}
}

func TestCompressionString(t *testing.T) {
	for c, want := range map[Compression]string{CompressAdaptive: "adaptive", CompressAlways: "always",
		CompressNever: "never", 7: "Compression(7)"} {
		if got := c.String(); got != want {
			t.Errorf("Compression(%d).String() = %q, want %q", int(c), got, want)
		}
	}
	path := filepath.Join(t.TempDir(), "bad.wstap")
	if w, err := Create(path, Options{Compression: 7}); err == nil || !strings.Contains(err.Error(), "unknown compression mode 7") {
		if w != nil {
			w.Close()
		}
		t.Errorf("Create(Compression 7) = %v, want an error naming the mode", err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("Create(Compression 7) left %s behind (%v)", path, err)
	}
}

// TestStoreRawPolicy is the adaptive policy, case by case: when a
// compressor that takes the oldest waiting batch stores it raw.
func TestStoreRawPolicy(t *testing.T) {
	const fi = 80 * time.Millisecond // due 90ms after the batch began; FlushInterval/4 is 20ms
	now := time.Now()
	tests := []struct {
		name    string
		mode    Compression
		age     time.Duration // since the batch's first record
		size    int           // the batch
		behind  int           // bytes waiting behind it
		crate   float64       // one compressor, bytes per second; 0 unmeasured
		stale   bool          // no speed measured for probeInterval
		wantRaw bool
		// squeezed is how long ago a producer last waited for the
		// compressors; 0: never.
		squeezed time.Duration
	}{
		{"idle", CompressAdaptive, 0, 1 << 20, 0, 500e6, false, false, 0},
		{"unmeasured", CompressAdaptive, 0, 1 << 20, 6 << 20, 0, false, false, 0},
		{"late", CompressAdaptive, 95 * time.Millisecond, 1 << 10, 0, 500e6, false, true, 0},
		{"due after it would be compressed", CompressAdaptive, 80 * time.Millisecond, 1 << 20, 0, 200e6, false, false, 0},
		{"alone too slow for its due time", CompressAdaptive, 80 * time.Millisecond, 1 << 20, 0, 50e6, false, true, 0},
		// 2 compressors at 100 MB/s: 3 MiB takes them 15.7ms, 4.5 MiB 23.6ms.
		{"backlog within FlushInterval/4", CompressAdaptive, 0, 1 << 20, 2 << 20, 100e6, false, false, 0},
		{"backlog beyond FlushInterval/4", CompressAdaptive, 0, 1 << 20, 7 << 19, 100e6, false, true, 0},
		// 2 compressors at 200 MB/s: 3 MiB takes them 7.9ms, with 5ms left.
		{"backlog beyond the time left", CompressAdaptive, 85 * time.Millisecond, 1 << 10, 3 << 20, 200e6, false, true, 0},
		{"stale speed: probe", CompressAdaptive, 0, 1 << 20, 7 << 19, 100e6, true, false, 0},
		{"always, late", CompressAlways, time.Second, 1 << 20, 6 << 20, 1e6, false, false, 0},
		{"never, idle", CompressNever, 0, 1 << 10, 0, 1e12, false, true, 0},
		{"a producer waited just now", CompressAdaptive, 0, 1 << 20, 0, 500e6, false, true, time.Millisecond},
		{"a producer waited long ago", CompressAdaptive, 0, 1 << 20, 0, 500e6, false, false, fi},
		{"always, a producer waited", CompressAlways, 0, 1 << 20, 0, 500e6, false, false, time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := Options{FlushInterval: fi, Compression: tt.mode}.withDefaults()
			b := &batch{buf: make([]byte, tt.size), started: now.Add(-tt.age)}
			b.due = b.started.Add(fi + fi/8)
			// 32 MiB more are compressed and wait for a slow disk: that is
			// no reason to store raw, which would only give it more to write.
			w := &Writer{opts: opts, ncomp: 2, crate: tt.crate, todoBytes: tt.size + tt.behind,
				queued: tt.size + tt.behind + 32<<20, measured: now}
			if tt.stale {
				w.measured = now.Add(-probeInterval)
			}
			if tt.squeezed > 0 {
				w.squeezed = now.Add(-tt.squeezed)
			}
			if got := w.storeRawLocked(b, now); got != tt.wantRaw {
				t.Errorf("storeRawLocked = %v, want %v", got, tt.wantRaw)
			}
		})
	}
}

// TestPipelineLimits: the batch and queue limits follow the stages each
// Compression waits for.
func TestPipelineLimits(t *testing.T) {
	const fi = 80 * time.Millisecond // batches: 10ms; queue: 20ms
	tests := []struct {
		mode         Compression
		crate, wrate float64
		batch, queue int
	}{
		// Unmeasured: the floors.
		{CompressAdaptive, 0, 0, 16 << 10, 64 << 10},
		{CompressAdaptive, 100e6, 0, 16 << 10, 64 << 10},
		// 100 MB/s to compress, 400 MB/s to write: one batch crosses at
		// 80 MB/s; two compressors together take 200 MB/s.
		{CompressAdaptive, 100e6, 400e6, 800000, 8000000},
		{CompressAlways, 100e6, 400e6, 800000, 4000000},
		{CompressAlways, 100e6, 0, 16 << 10, 64 << 10},
		{CompressNever, 100e6, 400e6, 1 << 20, 8000000},
		{CompressNever, 0, 10e6, 100000, 200000},
	}
	for _, tt := range tests {
		w := &Writer{opts: Options{FlushInterval: fi, QueueSize: 8 << 20, Compression: tt.mode}.withDefaults(), ncomp: 2, crate: tt.crate, wrate: tt.wrate}
		if got := w.batchLimit(); got != tt.batch {
			t.Errorf("%v, compress %g B/s, write %g B/s: batchLimit() = %d, want %d", tt.mode, tt.crate, tt.wrate, got, tt.batch)
		}
		if got := w.queueLimit(); got != tt.queue {
			t.Errorf("%v, compress %g B/s, write %g B/s: queueLimit() = %d, want %d", tt.mode, tt.crate, tt.wrate, got, tt.queue)
		}
	}
}

// writeGroups writes the groups of records to a new capture at path with
// opts, flushing after each, and closes it.
func writeGroups(t *testing.T, path string, opts Options, groups [][]Record) *Writer {
	t.Helper()
	w, err := Create(path, opts)
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range groups {
		for _, r := range g {
			if err := appendAny(w, r); err != nil {
				t.Fatalf("append %T: %v", r, err)
			}
		}
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return w
}

// TestRawCaptureReadsEverywhere: a capture whose every chunk is raw reads
// back as the same capture compressed does, through the Reader, Verify,
// the zstd tool and the Python reader.
func TestRawCaptureReadsEverywhere(t *testing.T) {
	dir := t.TempDir()
	opts := Options{CheckpointChunks: 2, FlushInterval: time.Hour, FlushSize: 64 << 10}
	compressed := filepath.Join(dir, "compressed.wstap")
	writeGroups(t, compressed, opts, pyGroups())
	opts.Compression = CompressNever
	rawPath := filepath.Join(dir, "raw.wstap")
	w := writeGroups(t, rawPath, opts, pyGroups())

	data, err := os.ReadFile(rawPath)
	if err != nil {
		t.Fatal(err)
	}
	chunks := chunksOf(t, data)
	if len(chunks) < 6 || countRaw(chunks) != len(chunks) {
		t.Fatalf("%d of %d chunks raw; want several, all raw", countRaw(chunks), len(chunks))
	}
	want, err := goJSONL(t, compressed)
	if err != nil {
		t.Fatal(err)
	}
	got, err := goJSONL(t, rawPath)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, want) {
		t.Errorf("the raw capture reads as\n%s\nthe compressed one as\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	rep, err := VerifyFile(rawPath)
	if err != nil || !rep.Intact() || !rep.Complete || rep.Records != w.Stats().Records {
		t.Errorf("VerifyFile(raw capture) = %+v, %v; want intact, complete, %d records", rep, err, w.Stats().Records)
	}

	t.Run("zstd tool", func(t *testing.T) {
		zstdCLI := zstdTool(t)
		ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
		defer cancel()
		out, err := exec.CommandContext(ctx, zstdCLI, "-dc", rawPath).Output()
		if err != nil {
			t.Fatalf("zstd -dc: %v", err)
		}
		if uint64(len(out)) != w.Stats().RawBytes {
			t.Errorf("zstd -dc printed %d bytes, want the %d bytes of records", len(out), w.Stats().RawBytes)
		}
	})
	t.Run("python", func(t *testing.T) {
		py := pyInterpreter(t)
		pyMatchBytes(t, py, rawPath)
	})
}

// TestRepairCompressesRawCapture: a capture stored raw (as a writer behind
// on its work leaves it) repairs into a compressed one with the same
// records, and RepairStats gives both sizes.
func TestRepairCompressesRawCapture(t *testing.T) {
	dir := t.TempDir()
	src, dst := filepath.Join(dir, "raw.wstap"), filepath.Join(dir, "compressed.wstap")
	w, err := Create(src, Options{Compression: CompressNever, FlushSize: 64 << 10})
	if err != nil {
		t.Fatal(err)
	}
	ids := make([]ConnID, 4)
	for i := range ids {
		ids[i] = mustOpen(t, w, benchOpen(i))
	}
	p := &producer{w: w}
	for i, m := range chatCorpus(5000).msgs {
		if err := p.message(ids[i%len(ids)], benchClock(i, time.Millisecond), m); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.end(ids[0], benchClock(5000, time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	st, err := Repair(src, dst)
	if err != nil {
		t.Fatal(err)
	}
	srcSize, dstSize := fileSize(t, src), fileSize(t, dst)
	if st.SrcBytes != srcSize || st.DstBytes != dstSize || st.Records != w.Stats().Records || st.Damage != 0 || st.Torn {
		t.Errorf("Repair = %+v; want %d records, %d → %d bytes, no damage", st, w.Stats().Records, srcSize, dstSize)
	}
	if dstSize > srcSize/3 {
		t.Errorf("Repair wrote %d bytes from a raw capture of %d: it did not compress", dstSize, srcSize)
	}
	srcData, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	dstData, err := os.ReadFile(dst)
	if err != nil {
		t.Fatal(err)
	}
	if n := countRaw(chunksOf(t, srcData)); n == 0 || n != len(chunksOf(t, srcData)) {
		t.Fatalf("the source has %d raw chunks, want all", n)
	}
	if n := countRaw(chunksOf(t, dstData)); n != 0 {
		t.Errorf("the repaired capture has %d raw chunks, want none", n)
	}
	_, want := readBytes(t, srcData)
	_, got := readBytes(t, dstData)
	checkRecords(t, got, want)
}

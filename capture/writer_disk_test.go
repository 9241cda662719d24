package capture

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// fakeFile is an in-memory file for a Writer, standing in for a disk that
// is slow, blocked by the test, full, or failing to sync.
type fakeFile struct {
	mu      sync.Mutex
	data    []byte
	truncs  []int64 // the sizes Truncate was called with
	syncs   int
	closed  bool
	delay   time.Duration // every Write sleeps this long first: a slow disk
	gate    chan struct{} // when non-nil, every Write waits until it is closed
	limit   int64         // when > 0, the disk is full beyond this many bytes
	syncErr error         // returned by every Sync

	waiting chan struct{} // told, without blocking, when a Write waits at the gate
	synced  chan struct{} // told, without blocking, of every Sync
}

func newFakeFile() *fakeFile {
	return &fakeFile{waiting: make(chan struct{}, 1), synced: make(chan struct{}, 1)}
}

// errDiskFull is what a full fake disk returns, as write(2) would.
var errDiskFull error = syscall.ENOSPC

// Write appends p, after the delay and the gate. Beyond the limit it writes
// what fits (a short write) and returns errDiskFull.
func (f *fakeFile) Write(p []byte) (int, error) {
	f.mu.Lock()
	gate, delay := f.gate, f.delay
	if gate != nil {
		select {
		case f.waiting <- struct{}{}:
		default:
		}
	}
	f.mu.Unlock()
	if gate != nil {
		<-gate
	}
	if delay > 0 {
		time.Sleep(delay) // the slow disk under test
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return 0, os.ErrClosed
	}
	n := len(p)
	var err error
	if f.limit > 0 && int64(len(f.data)+n) > f.limit {
		n, err = max(0, int(f.limit)-len(f.data)), errDiskFull
	}
	f.data = append(f.data, p[:n]...)
	return n, err
}

func (f *fakeFile) Truncate(size int64) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.truncs = append(f.truncs, size)
	if size <= int64(len(f.data)) {
		f.data = f.data[:size]
	} else {
		f.data = append(f.data, make([]byte, size-int64(len(f.data)))...)
	}
	return nil
}

func (f *fakeFile) Sync() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.syncs++
	select {
	case f.synced <- struct{}{}:
	default:
	}
	return f.syncErr
}

func (f *fakeFile) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closed = true
	return nil
}

// hold blocks every Write from now until release is called.
func (f *fakeFile) hold() (release func()) {
	gate := make(chan struct{})
	f.mu.Lock()
	f.gate = gate
	f.mu.Unlock()
	return func() {
		f.mu.Lock()
		f.gate = nil
		f.mu.Unlock()
		close(gate)
	}
}

// fill makes the disk full beyond size bytes.
func (f *fakeFile) fill(size int64) {
	f.mu.Lock()
	f.limit = size
	f.mu.Unlock()
}

func (f *fakeFile) size() int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return int64(len(f.data))
}

func (f *fakeFile) bytes() []byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	return bytes.Clone(f.data)
}

func (f *fakeFile) truncations() []int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.truncs)
}

const fakePath = "fake.wstap"

// fakeWriter starts a Writer on f; the test ends by closing it, if the test
// did not.
func fakeWriter(t *testing.T, f *fakeFile, opts Options) *Writer {
	t.Helper()
	w, err := newWriter(f, fakePath, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	return w
}

// readBytes reads every record of a capture held in memory; it fails the
// test on anything unreadable, a torn tail included.
func readBytes(t *testing.T, data []byte) (*Reader, []Record) {
	t.Helper()
	r, err := NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatalf("NewReader(%d bytes): %v", len(data), err)
	}
	t.Cleanup(func() { r.Close() })
	if err := r.Tail(); err != nil {
		t.Errorf("Tail() = %v, want nil: garbage after the last complete frame", err)
	}
	recs, err := readAll(t, r, Filter{})
	if err != nil {
		t.Fatalf("Records: %v", err)
	}
	return r, recs
}

// sizedChunk is message seq of conn c: size bytes that start with seq, so
// that every message of one size encodes to the same length.
func sizedChunk(c ConnID, seq, size int) *Chunk {
	data := bytes.Repeat([]byte{'x'}, size)
	copy(data, fmt.Sprintf("%06d", seq))
	return &Chunk{Conn: c, Time: at(seq), Dir: ServerToClient, Opcode: OpBinary, First: true, Last: true, Data: data}
}

// randomChunk is message seq of conn c: size bytes that do not compress.
func randomChunk(c ConnID, seq, size int) *Chunk {
	rng := rand.New(rand.NewPCG(uint64(seq), 11))
	data := make([]byte, size)
	for i := range data {
		data[i] = byte(rng.Uint32())
	}
	return &Chunk{Conn: c, Time: at(seq), Dir: ClientToServer, Opcode: OpBinary, First: true, Last: true, Data: data}
}

// within runs fn and fails the test if it has not returned in d: a writer
// that hangs.
func within[T any](t *testing.T, d time.Duration, what string, fn func() T) T {
	t.Helper()
	c := make(chan T, 1)
	go func() { c <- fn() }()
	select {
	case v := <-c:
		return v
	case <-time.After(d):
		t.Fatalf("%s did not return within %v", what, d)
		panic("unreachable")
	}
}

// TestWriterBlockedDisk: with the disk blocked, Append accepts records
// until the bytes queued for the disk would pass QueueSize, then blocks
// instead of dropping; released, the disk gets every record, in order.
func TestWriterBlockedDisk(t *testing.T) {
	const (
		n         = 12
		size      = 1000
		queueSize = 3500 // three of the records and a half
	)
	f := newFakeFile()
	// One record per batch, no timer and no sync: only the queue matters.
	w := fakeWriter(t, f, Options{FlushSize: 1, QueueSize: queueSize, FlushInterval: time.Hour, SyncInterval: -1})
	o := &ConnOpen{Time: at(0), URL: "ws://blocked.example.test/"}
	c := mustOpen(t, w, o)
	want := []Record{&ConnOpen{Conn: c, Time: at(0), URL: o.URL}}
	// The size of one record, alone in its batch, as the queue counts it.
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	raw0 := w.Stats().RawBytes
	if err := w.Append(sizedChunk(c, 0, size)); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	want = append(want, sizedChunk(c, 0, size))
	recSize := int(w.Stats().RawBytes - raw0)
	fits := queueSize / recSize // Appends that return with the disk blocked
	if fits < 2 || fits > 3 {
		t.Fatalf("a %d-byte message encodes to %d bytes: the test's sizes need adjusting", size, recSize)
	}

	release := f.hold()
	accepted0 := w.Stats().Records
	returned := make(chan int, n)
	perr := make(chan error, 1)
	go func() {
		for i := 1; i <= n; i++ {
			if err := w.Append(sizedChunk(c, i, size)); err != nil {
				perr <- err
				return
			}
			returned <- i
		}
		perr <- nil
	}()
	for i := 1; i <= n; i++ {
		want = append(want, sizedChunk(c, i, size))
	}
	select {
	case <-f.waiting:
	case <-time.After(10 * time.Second):
		t.Fatal("the writer never wrote to the blocked disk")
	}
	for i := 1; i <= fits; i++ {
		select {
		case got := <-returned:
			if got != i {
				t.Fatalf("Append #%d returned, want #%d", got, i)
			}
		case err := <-perr:
			t.Fatalf("the producer stopped early: %v", err)
		case <-time.After(10 * time.Second):
			t.Fatalf("Append #%d blocked with %d bytes queued, under QueueSize %d", i, (i-1)*recSize, queueSize)
		}
	}
	// The next Append puts its record in the queue and waits: bounded wait
	// for its record to be counted, then it must stay blocked.
	for deadline := time.Now().Add(10 * time.Second); w.Stats().Records < accepted0+uint64(fits)+1; {
		if time.Now().After(deadline) {
			t.Fatalf("Append #%d never took its record", fits+1)
		}
		<-time.After(time.Millisecond)
	}
	select {
	case i := <-returned:
		t.Fatalf("Append #%d returned with the disk blocked and %d bytes queued; QueueSize is %d", i, i*recSize, queueSize)
	case err := <-perr:
		t.Fatalf("the producer stopped: %v", err)
	case <-time.After(100 * time.Millisecond):
	}
	if got := w.Stats().Records; got != accepted0+uint64(fits)+1 {
		t.Errorf("Stats().Records = %d with the disk blocked, want %d", got, accepted0+uint64(fits)+1)
	}

	release()
	// returned is buffered: once released, the producer may finish (and
	// send on perr) before this loop reads what it returned.
	for i := fits + 1; i <= n; i++ {
		select {
		case got := <-returned:
			if got != i {
				t.Fatalf("Append #%d returned, want #%d", got, i)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("Append #%d still blocked after the disk was released", i)
		}
	}
	if err := <-perr; err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	r, recs := readBytes(t, f.bytes())
	if !r.Complete() {
		t.Error("Complete() = false after Close")
	}
	checkRecords(t, recs, want)
}

// TestWriterSlowDiskQueue: on a slow disk the writer's measured speed, not
// QueueSize (4 MiB by default), bounds the backlog: Append blocks once the
// queue holds what the disk writes in FlushInterval/4, or 64 KiB at least.
// So when Append returns, the file already holds all but the last few
// records; none is dropped.
func TestWriterSlowDiskQueue(t *testing.T) {
	const (
		n     = 150
		size  = 5000
		delay = 10 * time.Millisecond // per write: at most about 2 MB/s
	)
	f := newFakeFile()
	f.delay = delay
	w := fakeWriter(t, f, Options{SyncInterval: -1})
	o := &ConnOpen{Time: at(0), URL: "ws://slow.example.test/"}
	c := mustOpen(t, w, o)
	want := []Record{&ConnOpen{Conn: c, Time: at(0), URL: o.URL}}
	sizes := make([]int64, n) // the file's size when Append #i returned
	for i := range n {
		if err := w.Append(sizedChunk(c, i, size)); err != nil {
			t.Fatal(err)
		}
		sizes[i] = f.size()
		want = append(want, sizedChunk(c, i, size))
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	data := f.bytes()
	_, recs := readBytes(t, data)
	checkRecords(t, recs, want)

	// Writing a batch of 16 KiB or so takes delay, so the rule's queue is
	// its floor of 64 KiB; add the batch being filled (at least 16 KiB, one
	// record more) and what Append counts in the queue before it blocks.
	recSize := size + 64
	bound := (64<<10+16<<10)/size + 2
	inFile := map[int64]int{} // chunk records in the file's first so many bytes
	worst, worstAt := 0, 0
	for i, sz := range sizes {
		k, ok := inFile[sz]
		if !ok {
			_, recs := readBytes(t, data[:sz])
			k = max(0, len(recs)-1) // less the open
			inFile[sz] = k
		}
		if backlog := i + 1 - k; backlog > worst {
			worst, worstAt = backlog, i
		}
	}
	t.Logf("largest backlog: %d records (%d bytes or so) when Append #%d returned; bound %d", worst, worst*recSize, worstAt, bound)
	if worst > bound {
		t.Errorf("when Append #%d returned, %d records (%d bytes or so) were not in the file yet; "+
			"at this disk's speed the queue should hold about 64 KiB, %d records at most", worstAt, worst, worst*recSize, bound)
	}
}

// TestWriterDiskFull: a write that fails (ENOSPC, whole or after a short
// write) fails the writer: Flush, Append and Close report it, the file is
// cut back to the last complete frame, and everything written before reads
// back with nothing after it.
func TestWriterDiskFull(t *testing.T) {
	tests := []struct {
		name    string
		room    int64 // bytes the disk still takes after the good records
		atClose bool  // the disk fills only for Close's checkpoint and footer
	}{
		{"short chunk write", 100, false},
		{"chunk refused whole", 0, false},
		{"short checkpoint write at Close", 10, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeFile()
			w := fakeWriter(t, f, Options{FlushInterval: time.Hour, SyncInterval: -1})
			o := &ConnOpen{Time: at(0), URL: "ws://full.example.test/"}
			c := mustOpen(t, w, o)
			want := []Record{&ConnOpen{Conn: c, Time: at(0), URL: o.URL}}
			for i := 1; i <= 5; i++ {
				if err := w.Append(randomChunk(c, i, 2000)); err != nil {
					t.Fatal(err)
				}
				want = append(want, randomChunk(c, i, 2000))
			}
			if err := w.Flush(); err != nil {
				t.Fatal(err)
			}
			good := f.size()
			f.fill(good + tt.room)
			if !tt.atClose {
				// 2000 bytes that do not compress: more than room.
				if err := w.Append(randomChunk(c, 6, 2000)); err != nil {
					t.Fatalf("Append before the write = %v, want nil", err)
				}
				err := within(t, 10*time.Second, "Flush", w.Flush)
				if !errors.Is(err, errDiskFull) || !strings.HasPrefix(err.Error(), "write "+fakePath+": ") ||
					strings.Count(err.Error(), fakePath) != 1 {
					t.Fatalf("Flush() = %v, want the write error (ENOSPC), naming the file once", err)
				}
				if err := w.Append(randomChunk(c, 7, 10)); !errors.Is(err, errDiskFull) {
					t.Errorf("Append after the failure = %v, want ENOSPC", err)
				}
				if err := w.Err(); !errors.Is(err, errDiskFull) {
					t.Errorf("Err() = %v, want ENOSPC", err)
				}
			}
			if err := within(t, 10*time.Second, "Close", w.Close); !errors.Is(err, errDiskFull) {
				t.Errorf("Close() = %v, want ENOSPC", err)
			}
			if err := within(t, 10*time.Second, "second Close", w.Close); !errors.Is(err, errDiskFull) {
				t.Errorf("second Close() = %v, want ENOSPC again", err)
			}

			truncs := f.truncations()
			if tt.room > 0 && len(truncs) == 0 {
				t.Errorf("after a short write Truncate was not called; want Truncate(%d)", good)
			}
			for _, sz := range truncs {
				if sz != good {
					t.Errorf("Truncate(%d), want Truncate(%d): the end of the last complete frame", sz, good)
				}
			}
			data := f.bytes()
			if int64(len(data)) != good {
				t.Errorf("the file holds %d bytes, want %d: the last complete frame ends there", len(data), good)
			}
			r, recs := readBytes(t, data)
			if r.Complete() {
				t.Error("Complete() = true for a file whose footer was never written")
			}
			checkRecords(t, recs, want)
		})
	}
}

// TestWriterDiskFullReleasesProducers: producers blocked by backpressure
// when the disk fails are released with the error; nothing hangs.
func TestWriterDiskFullReleasesProducers(t *testing.T) {
	const producers = 3
	f := newFakeFile()
	w := fakeWriter(t, f, Options{FlushSize: 1, QueueSize: 1, FlushInterval: time.Hour, SyncInterval: -1})
	o := &ConnOpen{Time: at(0), URL: "ws://released.example.test/"}
	c := mustOpen(t, w, o)
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	good := f.size()
	release := f.hold()
	f.fill(good + 20)
	errc := make(chan error, producers)
	for p := range producers {
		go func() {
			for i := range 1000 {
				if err := w.Append(randomChunk(c, p*1000+i, 500)); err != nil {
					errc <- err
					return
				}
			}
			errc <- nil
		}()
	}
	select {
	case <-f.waiting:
	case <-time.After(10 * time.Second):
		t.Fatal("the writer never wrote to the blocked disk")
	}
	release()
	for range producers {
		select {
		case err := <-errc:
			if !errors.Is(err, errDiskFull) {
				t.Errorf("a producer's Append = %v, want ENOSPC", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("a producer blocked by backpressure was not released by the write error")
		}
	}
	if err := within(t, 10*time.Second, "Close", w.Close); !errors.Is(err, errDiskFull) {
		t.Errorf("Close() = %v, want ENOSPC", err)
	}
	if got := f.bytes(); int64(len(got)) != good {
		t.Errorf("the file holds %d bytes, want %d", len(got), good)
	}
	_, recs := readBytes(t, f.bytes())
	checkRecords(t, recs, []Record{&ConnOpen{Conn: c, Time: at(0), URL: o.URL}})
}

// TestWriterSyncErrorInjected: a failed fsync fails the writer, whether
// SyncInterval brought it or Close did; what was written stays readable.
func TestWriterSyncErrorInjected(t *testing.T) {
	errSync := errors.New("injected: input/output error")
	t.Run("interval", func(t *testing.T) {
		f := newFakeFile()
		f.syncErr = errSync
		w := fakeWriter(t, f, Options{SyncInterval: time.Millisecond, FlushInterval: time.Hour})
		o := &ConnOpen{Time: at(0), URL: "ws://sync.example.test/"}
		c := mustOpen(t, w, o)
		if err := w.Append(textChunk(c, 1, "x")); err != nil {
			t.Fatal(err)
		}
		if err := w.Flush(); err != nil && !errors.Is(err, errSync) {
			t.Fatal(err)
		}
		select {
		case <-f.synced:
		case <-time.After(10 * time.Second):
			t.Fatal("no fsync within 10s of a write, with SyncInterval 1ms")
		}
		// syncLoop records the error just after Sync returns.
		for deadline := time.Now().Add(10 * time.Second); w.Err() == nil; {
			if time.Now().After(deadline) {
				t.Fatal("Err() = nil 10s after a failed fsync")
			}
			<-time.After(time.Millisecond)
		}
		if err := w.Err(); !errors.Is(err, errSync) || !strings.Contains(err.Error(), "capture: sync "+fakePath) {
			t.Errorf("Err() = %v, want the failed sync of %s", err, fakePath)
		}
		if err := w.Append(textChunk(c, 2, "y")); !errors.Is(err, errSync) {
			t.Errorf("Append after the failed sync = %v, want its error", err)
		}
		if err := w.Flush(); !errors.Is(err, errSync) {
			t.Errorf("Flush after the failed sync = %v, want its error", err)
		}
		if err := within(t, 10*time.Second, "Close", w.Close); !errors.Is(err, errSync) {
			t.Errorf("Close() = %v, want the sync error", err)
		}
		_, recs := readBytes(t, f.bytes())
		checkRecords(t, recs, []Record{&ConnOpen{Conn: c, Time: at(0), URL: o.URL}, textChunk(c, 1, "x")})
	})
	t.Run("on Close", func(t *testing.T) {
		f := newFakeFile()
		f.syncErr = errSync
		w := fakeWriter(t, f, Options{SyncInterval: -1})
		o := &ConnOpen{Time: at(0), URL: "ws://sync.example.test/"}
		c := mustOpen(t, w, o)
		if err := w.Append(textChunk(c, 1, "x")); err != nil {
			t.Fatal(err)
		}
		if err := w.Flush(); err != nil {
			t.Fatalf("Flush() = %v, want nil: nothing syncs before Close", err)
		}
		err := within(t, 10*time.Second, "Close", w.Close)
		if !errors.Is(err, errSync) || !strings.Contains(err.Error(), "capture: sync "+fakePath) {
			t.Errorf("Close() = %v, want the failed sync of %s", err, fakePath)
		}
		if err2 := w.Close(); err2 == nil || err2.Error() != err.Error() {
			t.Errorf("second Close() = %v, want %v again", err2, err)
		}
		f.mu.Lock()
		syncs, closed := f.syncs, f.closed
		f.mu.Unlock()
		if syncs != 1 || !closed {
			t.Errorf("the file saw %d syncs and closed = %v; want 1 sync on Close, then closed", syncs, closed)
		}
		r, recs := readBytes(t, f.bytes())
		if !r.Complete() {
			t.Error("Complete() = false: the footer is written before the sync")
		}
		checkRecords(t, recs, []Record{&ConnOpen{Conn: c, Time: at(0), URL: o.URL}, textChunk(c, 1, "x")})
	})
}

package capture

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/klauspost/compress/zstd"
)

// ErrClosed is returned by a Writer's methods after Close.
var ErrClosed = errors.New("capture: writer closed")

// ErrTooLarge is returned (wrapped) for a record whose encoding exceeds
// MaxRecord. The record is not written; the writer stays usable.
var ErrTooLarge = errors.New("capture: record too large")

// MaxRecord is the largest encoding of a single record the writer accepts.
// A Chunk is split long before (see MaxChunk); the bound concerns the other
// kinds, such as an HTTP exchange with huge bodies. With maxFlushSize it
// keeps every chunk well within what a reader accepts (maxFrameLen).
const MaxRecord = 16 << 20

// maxFlushSize bounds Options.FlushSize: a batch is sealed once it reaches
// FlushSize, so it holds less than FlushSize plus one record.
const maxFlushSize = 32 << 20

// Options configures a Writer. The zero value works; every field documents
// its default.
type Options struct {
	// FlushInterval bounds how long a record waits in memory before the
	// writer hands it to the file. Default 75ms, which keeps DESIGN's bound
	// of 100 ms with room for compression and the write itself.
	FlushInterval time.Duration
	// FlushSize seals a batch once its encoded records reach this many
	// bytes. Default 1 MiB. When the writer compresses and writes slower
	// than FlushSize per FlushInterval/8 (a busy CPU, a slow disk), batches
	// are sealed smaller, so that FlushInterval stays the bound on a
	// record's time in memory. At most 32 MiB (larger values are reduced to
	// it), so that a chunk stays within what a reader accepts.
	FlushSize int
	// QueueSize bounds the bytes of sealed batches waiting for the disk.
	// Beyond it Append blocks: a slow disk slows the producers and nothing
	// is dropped. Default 8 MiB. Append also blocks while the queue holds
	// more than the writer, at its measured speed, writes in
	// FlushInterval/4: so a record is in the file at most about
	// FlushInterval + FlushInterval/8 after its Append returned.
	QueueSize int
	// SyncInterval is how often written data is fsynced, bounding the loss
	// on power failure (a killed process loses nothing already written).
	// Default 1s; a negative value syncs only on Close.
	SyncInterval time.Duration
	// CheckpointInterval, CheckpointChunks and CheckpointBytes say how
	// often an index checkpoint is appended: after this long, this many
	// chunks or this many bytes of records (before compression) since the
	// last one, whichever comes first. Defaults 10s, 1024 and 64 MiB. The
	// bytes bound what a reader decompresses to list a file whose writer
	// died before Close (about 0.1 s for 64 MiB).
	CheckpointInterval time.Duration
	CheckpointChunks   int
	CheckpointBytes    int
	// Tool names the program in the file header. Default "wstap".
	Tool string
}

func (o Options) withDefaults() Options {
	if o.FlushInterval <= 0 {
		o.FlushInterval = 75 * time.Millisecond
	}
	if o.FlushSize <= 0 {
		o.FlushSize = 1 << 20
	}
	o.FlushSize = min(o.FlushSize, maxFlushSize)
	if o.QueueSize <= 0 {
		o.QueueSize = 8 << 20
	}
	if o.SyncInterval == 0 {
		o.SyncInterval = time.Second
	}
	if o.CheckpointInterval <= 0 {
		o.CheckpointInterval = 10 * time.Second
	}
	if o.CheckpointChunks <= 0 {
		o.CheckpointChunks = 1024
	}
	if o.CheckpointBytes <= 0 {
		o.CheckpointBytes = 64 << 20
	}
	if o.Tool == "" {
		o.Tool = "wstap"
	}
	return o
}

// Stats are a Writer's counters.
type Stats struct {
	Records      uint64 // records accepted by Append, Open and HTTP
	Chunks       uint64 // chunks written to the file
	PayloadBytes uint64 // decoded payload bytes in Chunk records accepted
	RawBytes     uint64 // encoded record bytes written (before compression)
	FileBytes    int64  // bytes written to the file
}

// batch is a run of encoded records on its way to becoming one chunk.
type batch struct {
	buf     []byte
	nrec    uint32
	seq0    uint64
	t0, t1  int64
	started time.Time
	conns   []ConnID      // sorted set of connections with records here
	sums    []ConnSummary // summaries of those connections as of the batch's end
	http    []HTTPSummary // exchanges in the batch
}

// recycle empties a written b for Writer.free: allocating and zeroing a
// 1 MiB buffer for every batch is not free. Its conns slice went into the
// index and is not reused; the other slices are.
func (b *batch) recycle() {
	*b = batch{buf: b.buf[:0], sums: b.sums[:0], http: b.http[:0]}
}

func (b *batch) addConn(c ConnID) {
	if i, ok := slices.BinarySearch(b.conns, c); !ok {
		b.conns = slices.Insert(b.conns, i, c)
	}
}

// Writer streams records into a capture file. Many goroutines may call its
// methods at once; one goroutine of its own compresses and writes.
//
// # Concurrency
//
// Producers encode their record into the current batch under a mutex. A
// sealed batch (FlushSize reached, or FlushInterval passed) joins a FIFO
// queue bounded by QueueSize; the writer goroutine compresses each into one
// zstd frame and writes header and frame with one write(2). Records of one
// producer reach the file in the order it appended them.
type Writer struct {
	opts Options
	f    file
	path string

	mu       sync.Mutex
	space    *sync.Cond // signalled when the queue shrinks or the writer fails
	cur      *batch
	queue    []*batch
	queued   int
	nextConn ConnID
	nextHTTP uint64
	nextSeq  uint64
	conns    map[ConnID]*ConnSummary
	err      error
	closed   bool
	stats    Stats
	rate     float64 // bytes per second the writer goroutine compresses and writes; 0 until measured
	free     []*batch

	kick     chan struct{} // wakes the writer goroutine
	closing  chan struct{}
	done     chan struct{}
	syncReq  chan struct{} // asks syncLoop for an fsync; closed by finish
	syncDone chan struct{}

	// Owned by the writer goroutine.
	enc       *zstd.Encoder
	off       int64
	out       []byte
	pending   []chunkEntry
	pendRaw   int64 // record bytes in the pending chunks
	dirty     map[ConnID]ConnSummary
	httpNew   []HTTPSummary
	seqDone   uint64 // records written to the file
	lastCP    int64
	lastCPAt  time.Time
	unsynced  bool
	lastSync  time.Time
	closeErrs []error
}

// file is what a Writer needs of its file: *os.File in Create, and a fake in
// tests that inject a slow or failing disk. Write must return an error when
// it writes less than asked (as *os.File does). The writer goroutine calls
// Write and Truncate; Sync comes from syncLoop, possibly during a Write.
type file interface {
	Write(p []byte) (int, error)
	Truncate(size int64) error
	Sync() error
	Close() error
}

// Create creates a new capture file at path (mode 0600; it must not exist)
// and starts its writer goroutine.
func Create(path string, opts Options) (*Writer, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("capture: create %s: %w", path, err)
	}
	w, err := newWriter(f, path, opts)
	if err != nil {
		f.Close()
		os.Remove(path)
		return nil, err
	}
	return w, nil
}

// newWriter writes the file header to f, an empty file named path (for
// messages), and starts the writer's goroutines. On an error f is left to
// the caller.
func newWriter(f file, path string, opts Options) (*Writer, error) {
	opts = opts.withDefaults()
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(1),
		zstd.WithEncoderCRC(false), zstd.WithZeroFrames(true))
	if err != nil {
		return nil, fmt.Errorf("capture: zstd encoder: %w", err)
	}
	id := make([]byte, 16)
	rand.Read(id)
	hdr, err := appendFileHeader(nil, Header{Version: Version, Created: time.Now().UTC(), Tool: opts.Tool, FileID: id})
	if err != nil {
		return nil, fmt.Errorf("capture: encode header: %w", err)
	}
	if _, err := f.Write(hdr); err != nil {
		return nil, fmt.Errorf("capture: write header of %s: %w", path, err)
	}
	w := &Writer{
		opts: opts, f: f, path: path, conns: map[ConnID]*ConnSummary{},
		kick: make(chan struct{}, 1), closing: make(chan struct{}), done: make(chan struct{}),
		syncReq: make(chan struct{}, 1), syncDone: make(chan struct{}),
		enc: enc, off: int64(len(hdr)), dirty: map[ConnID]ConnSummary{},
		lastCP: -1, lastCPAt: time.Now(), lastSync: time.Now(),
	}
	w.space = sync.NewCond(&w.mu)
	w.cur = &batch{}
	go w.run()
	go w.syncLoop()
	return w, nil
}

// Path returns the file's path.
func (w *Writer) Path() string { return w.path }

// Open records a new connection, assigns it the next ConnID (1, 2, 3 …),
// stores the ID in o.Conn and returns it. A record refused with ErrTooLarge
// takes no ID.
func (w *Writer) Open(o *ConnOpen) (ConnID, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.usable(); err != nil {
		return 0, err
	}
	w.nextConn++
	o.Conn = w.nextConn
	w.conns[o.Conn] = &ConnSummary{Conn: o.Conn}
	if err := w.appendLocked(o); err != nil {
		if w.err == nil { // the record was refused, not written: its ID stays free
			delete(w.conns, o.Conn)
			w.nextConn--
			o.Conn = 0
		}
		return 0, err
	}
	return o.Conn, nil
}

// HTTP records a plain HTTP exchange, assigns it the next exchange ID, stores
// it in x.ID and returns it. A record refused with ErrTooLarge (bodies of
// about MaxRecord bytes) takes no ID.
func (w *Writer) HTTP(x *HTTP) (uint64, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.usable(); err != nil {
		return 0, err
	}
	w.nextHTTP++
	x.ID = w.nextHTTP
	if err := w.appendLocked(x); err != nil {
		if w.err == nil { // the record was refused, not written: its ID stays free
			w.nextHTTP--
			x.ID = 0
		}
		return 0, err
	}
	return x.ID, nil
}

// Append records a Frame, Chunk, Close, Event or End of a connection that
// Open returned (or of connection 0, for an Event about the whole capture).
// A Chunk larger than MaxChunk is split; any other record whose encoding
// exceeds MaxRecord is refused with ErrTooLarge. Append copies what it
// needs; the caller may reuse the record and its buffers at once. It blocks
// while the disk is behind, and returns the writer's error once a write has
// failed.
func (w *Writer) Append(r Record) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.usable(); err != nil {
		return err
	}
	switch r.(type) {
	case *ConnOpen:
		return errors.New("capture: use Writer.Open for open records")
	case *HTTP:
		return errors.New("capture: use Writer.HTTP for http records")
	case nil:
		return errors.New("capture: nil record")
	}
	if c := r.ConnID(); c > w.nextConn || (c == 0 && r.Type() != KindEvent) {
		return fmt.Errorf("capture: %v record for unknown connection %d", r.Type(), c)
	}
	c, ok := r.(*Chunk)
	if !ok {
		return w.appendLocked(r)
	}
	if f := c.Frame; f != nil && !(c.First && c.Last && f.Fin && f.Opcode == c.Opcode && f.Length == int64(len(c.Data)) &&
		len(c.Data) <= MaxChunk) {
		// Frame facts ride inside a chunk only when its frame carried exactly
		// this whole message; otherwise they get a record of their own.
		f := *c.Frame
		f.Conn, f.Time, f.Dir = c.Conn, c.Time, c.Dir
		if err := w.appendLocked(&f); err != nil {
			return err
		}
		cc := *c
		cc.Frame = nil
		c = &cc
	}
	if len(c.Data) > MaxChunk {
		return w.appendSplit(c)
	}
	return w.appendLocked(c)
}

func (w *Writer) appendSplit(c *Chunk) error {
	part := *c
	for data := c.Data; len(data) > 0; part.First = false {
		n := min(len(data), MaxChunk)
		part.Data, data = data[:n], data[n:]
		part.Last = c.Last && len(data) == 0
		if err := w.usable(); err != nil { // Close may have come while appendLocked waited
			return err
		}
		if err := w.appendLocked(&part); err != nil {
			return err
		}
	}
	return nil
}

func (w *Writer) usable() error {
	if w.closed {
		return ErrClosed
	}
	return w.err
}

// appendLocked encodes r into the current batch. w.mu is held. When it
// refuses r (it does not encode, or exceeds MaxRecord), nothing is recorded
// and w.err is still nil; otherwise r is in the batch.
func (w *Writer) appendLocked(r Record) error {
	b := w.cur
	var err error
	mark := len(b.buf)
	ts := nanos(r.At())
	if b.nrec == 0 {
		b.t0, b.t1 = ts, ts // record times are stored relative to the one before
	}
	if b.buf, err = appendRecord(b.buf, r, b.t1); err != nil {
		b.buf = b.buf[:mark]
		return err
	}
	if n := len(b.buf) - mark; n > MaxRecord {
		b.buf = b.buf[:mark]
		return fmt.Errorf("%w: %v record of %d bytes, the limit is %d", ErrTooLarge, r.Type(), n, MaxRecord)
	}
	if b.nrec == 0 {
		b.seq0, b.t0, b.started = w.nextSeq, ts, time.Now()
		select {
		case w.kick <- struct{}{}: // arm the flush timer
		default:
		}
	}
	b.nrec++
	b.t1 = ts
	w.nextSeq++
	w.stats.Records++
	conn := r.ConnID()
	b.addConn(conn)
	switch r := r.(type) {
	case *HTTP:
		b.http = append(b.http, summarizeHTTP(r))
	case *Chunk:
		w.stats.PayloadBytes += uint64(len(r.Data))
	}
	if conn != 0 {
		s := w.conns[conn]
		if s == nil {
			s = &ConnSummary{Conn: conn}
			w.conns[conn] = s
		}
		s.apply(r)
	}
	if len(b.buf) >= w.batchLimit() {
		w.sealLocked()
	}
	for w.queued > w.queueLimit() && w.err == nil {
		w.space.Wait()
	}
	return w.err
}

// batchLimit is the size at which the current batch is sealed: FlushSize,
// or less when the writer is slow, so that compressing and writing one
// batch takes about FlushInterval/8 at most. w.mu is held.
func (w *Writer) batchLimit() int {
	return w.limit(w.opts.FlushInterval/8, 16<<10, w.opts.FlushSize)
}

// queueLimit is the backlog beyond which Append blocks: QueueSize, or what
// the writer writes in FlushInterval/4 at its measured speed. w.mu is held.
func (w *Writer) queueLimit() int {
	return w.limit(w.opts.FlushInterval/4, 64<<10, w.opts.QueueSize)
}

// limit is the bytes the writer compresses and writes in d at its measured
// rate, at least floor (the measurement is coarse for tiny batches) and at
// most ceil. w.mu is held.
func (w *Writer) limit(d time.Duration, floor, ceil int) int {
	n := floor
	if w.rate > 0 {
		n = max(n, int(min(w.rate*d.Seconds(), float64(ceil))))
	}
	return min(n, ceil)
}

// sealLocked moves the current batch to the queue. w.mu is held.
func (w *Writer) sealLocked() {
	b := w.cur
	if b.nrec == 0 {
		return
	}
	for _, c := range b.conns {
		if s := w.conns[c]; s != nil {
			b.sums = append(b.sums, *s)
		}
	}
	w.queue = append(w.queue, b)
	w.queued += len(b.buf)
	if n := len(w.free); n > 0 {
		w.cur, w.free = w.free[n-1], w.free[:n-1]
	} else {
		w.cur = &batch{buf: make([]byte, 0, min(cap(b.buf), w.opts.FlushSize+MaxChunk+1024))}
	}
	select {
	case w.kick <- struct{}{}:
	default:
	}
}

// Flush seals the current batch and waits until everything appended so far
// is written to the file (not necessarily synced).
func (w *Writer) Flush() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.usable(); err != nil {
		return err
	}
	w.sealLocked()
	for w.queued > 0 && w.err == nil {
		w.space.Wait()
	}
	return w.err
}

// Err returns the first write error, if any.
func (w *Writer) Err() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

// Stats returns the writer's counters.
func (w *Writer) Stats() Stats {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.stats
}

// Close writes everything appended, a final index checkpoint and the footer,
// syncs and closes the file. It returns the first error the writer met.
func (w *Writer) Close() error {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		<-w.done
		return w.Err()
	}
	w.closed = true
	w.sealLocked()
	w.mu.Unlock()
	close(w.closing)
	<-w.done
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err == nil {
		w.err = errors.Join(w.closeErrs...)
	}
	return w.err
}

// run is the writer goroutine: it owns the file and the encoder.
func (w *Writer) run() {
	defer close(w.done)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	armed := false
	every := min(w.opts.CheckpointInterval, time.Second)
	if w.opts.SyncInterval > 0 {
		every = min(every, w.opts.SyncInterval)
	}
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		closing := false
		select {
		case <-w.kick:
		case <-timer.C:
			armed = false
			w.mu.Lock()
			if w.cur.nrec > 0 && time.Since(w.cur.started) >= w.opts.FlushInterval-time.Millisecond {
				w.sealLocked()
			}
			w.mu.Unlock()
		case <-tick.C:
			w.housekeep(false)
		case <-w.closing:
			closing = true
		}
		w.drain()
		if closing {
			w.finish()
			return
		}
		w.mu.Lock()
		if w.cur.nrec > 0 && !armed {
			timer.Reset(max(0, w.opts.FlushInterval-time.Since(w.cur.started)))
			armed = true
		}
		w.mu.Unlock()
	}
}

// drain writes every queued batch.
func (w *Writer) drain() {
	for {
		w.mu.Lock()
		if len(w.queue) == 0 {
			w.mu.Unlock()
			return
		}
		b := w.queue[0]
		w.queue[0] = nil
		w.queue = w.queue[1:]
		failed := w.err != nil
		w.mu.Unlock()

		var err error
		if !failed {
			err = w.writeBatch(b)
		}
		w.mu.Lock()
		w.queued -= len(b.buf)
		if err != nil && w.err == nil {
			w.err = err
		}
		if len(w.free) < 2 && cap(b.buf) <= w.opts.FlushSize+MaxChunk+64<<10 {
			b.recycle()
			w.free = append(w.free, b)
		}
		w.space.Broadcast()
		w.mu.Unlock()
		if err == nil && !failed {
			w.housekeep(false)
		}
	}
}

// writeBatch compresses b into one zstd frame and writes it behind its chunk
// header in a single write.
func (w *Writer) writeBatch(b *batch) error {
	start := time.Now()
	var room [frameHeadSize + chunkHeaderSize]byte
	w.out = append(w.out[:0], room[:]...)
	w.out = w.enc.EncodeAll(b.buf, w.out)
	frame := w.out[frameHeadSize+chunkHeaderSize:]
	h := chunkHeader{clen: uint32(len(frame)), ulen: uint32(len(b.buf)), crc: crc32c(frame), nrec: b.nrec,
		seq0: b.seq0, t0: b.t0, t1: b.t1}
	h.append(w.out[:0])
	if err := w.write(w.out); err != nil {
		return err
	}
	w.pending = append(w.pending, chunkEntry{Offset: w.off - int64(len(w.out)), CLen: h.clen, ULen: h.ulen,
		NRec: h.nrec, Seq0: h.seq0, T0: h.t0, T1: h.t1, Conns: b.conns})
	w.pendRaw += int64(h.ulen)
	w.seqDone = h.seq0 + uint64(h.nrec)
	for _, s := range b.sums {
		w.dirty[s.Conn] = s
	}
	w.httpNew = append(w.httpNew, b.http...)
	w.mu.Lock()
	w.stats.Chunks++
	w.stats.RawBytes += uint64(len(b.buf))
	w.stats.FileBytes = w.off
	// The speed behind batchLimit and queueLimit: believe a slowdown at
	// once, a speedup gradually. Tiny batches measure mostly the syscall.
	if d := time.Since(start); len(b.buf) >= 4<<10 && d > 0 {
		if inst := float64(len(b.buf)) / d.Seconds(); w.rate == 0 || inst < w.rate {
			w.rate = inst
		} else {
			w.rate += (inst - w.rate) / 4
		}
	}
	w.mu.Unlock()
	return nil
}

// write appends p to the file. After a failed or short write it cuts the
// file back to the last complete frame, so nothing is ever appended after
// garbage.
func (w *Writer) write(p []byte) error {
	n, err := w.f.Write(p)
	if err != nil {
		if n > 0 {
			w.f.Truncate(w.off)
		}
		return fmt.Errorf("capture: write %s: %w", w.path, err)
	}
	w.off += int64(len(p))
	w.unsynced = true
	return nil
}

// housekeep writes a checkpoint and syncs when they are due.
func (w *Writer) housekeep(force bool) {
	w.mu.Lock()
	failed := w.err != nil
	w.mu.Unlock()
	if failed {
		return
	}
	var err error
	if len(w.pending) > 0 && (force || len(w.pending) >= w.opts.CheckpointChunks ||
		w.pendRaw >= int64(w.opts.CheckpointBytes) || time.Since(w.lastCPAt) >= w.opts.CheckpointInterval) {
		err = w.checkpoint(false)
	}
	if err == nil && w.unsynced && w.opts.SyncInterval > 0 && time.Since(w.lastSync) >= w.opts.SyncInterval {
		w.lastSync, w.unsynced = time.Now(), false
		select {
		case w.syncReq <- struct{}{}:
		default: // a sync is still running
		}
	}
	if err != nil {
		w.mu.Lock()
		if w.err == nil {
			w.err = err
		}
		w.space.Broadcast()
		w.mu.Unlock()
	}
}

// syncLoop fsyncs the file when housekeep asks. It runs apart from the
// writer goroutine because an fsync on a busy disk can take longer than
// FlushInterval, and the next chunk must not wait for it: surviving kill -9
// needs only write(2).
func (w *Writer) syncLoop() {
	defer close(w.syncDone)
	for range w.syncReq {
		if err := w.f.Sync(); err != nil {
			w.mu.Lock()
			if w.err == nil {
				w.err = fmt.Errorf("capture: sync %s: %w", w.path, err)
			}
			w.space.Broadcast()
			w.mu.Unlock()
		}
	}
}

func (w *Writer) sync() error {
	w.lastSync = time.Now()
	w.unsynced = false
	if err := w.f.Sync(); err != nil {
		return fmt.Errorf("capture: sync %s: %w", w.path, err)
	}
	return nil
}

// checkpoint appends an index checkpoint covering the chunks written since
// the previous one.
func (w *Writer) checkpoint(final bool) error {
	cp := checkpoint{Prev: w.lastCP, Seq: w.seqDone, Final: final, Chunks: w.pending, HTTP: w.httpNew,
		Conns: make([]ConnSummary, 0, len(w.dirty))}
	for _, s := range w.dirty {
		cp.Conns = append(cp.Conns, s)
	}
	slices.SortFunc(cp.Conns, func(a, b ConnSummary) int { return int(a.Conn) - int(b.Conn) })
	body, err := encMode.Marshal(cp)
	if err != nil {
		return fmt.Errorf("capture: encode checkpoint: %w", err)
	}
	at := w.off
	var crc [4]byte
	binary.LittleEndian.PutUint32(crc[:], crc32c(body))
	if err := w.write(appendSkippable(nil, magicIndex, crc[:], body)); err != nil {
		return err
	}
	w.lastCP, w.lastCPAt = at, time.Now()
	w.pending, w.httpNew, w.pendRaw = nil, nil, 0
	clear(w.dirty)
	return nil
}

// finish runs once Close has sealed the last batch and drain has written it.
func (w *Writer) finish() {
	defer w.enc.Close()
	close(w.syncReq)
	<-w.syncDone
	w.mu.Lock()
	failed := w.err != nil
	w.mu.Unlock()
	if !failed {
		err := w.checkpoint(true)
		if err == nil {
			var ft [footerSize]byte
			binary.LittleEndian.PutUint64(ft[:], uint64(w.lastCP))
			copy(ft[8:], footerMagic)
			err = w.write(appendSkippable(nil, magicFooter, ft[:]))
		}
		if err == nil {
			err = w.sync()
		}
		if err != nil {
			w.closeErrs = append(w.closeErrs, err)
		}
	}
	if err := w.f.Close(); err != nil && !failed {
		w.closeErrs = append(w.closeErrs, fmt.Errorf("capture: close %s: %w", w.path, err))
	}
}

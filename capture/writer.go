package capture

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"runtime"
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

// Compression says when a Writer compresses a batch of records. Whatever
// it says, every chunk is one zstd frame that any zstd decoder reads; a
// batch stored raw is a frame of Raw_Blocks (see docs/capture-format.md,
// section 3.2.1), and Repair compresses such a capture afterwards.
type Compression int

const (
	// CompressAdaptive, the zero value and the default, compresses a batch
	// unless the writer is behind, as `zstd --adapt` does: when the batch
	// is due in the file before the compressors, at their measured speed,
	// could compress it or get through the batches waiting for them, or
	// when those would take them more than FlushInterval/4, it stores the
	// batch raw; and a batch still not compressed when it is due is
	// written raw at once. So compression never holds a record in memory
	// past the loss bound, and the compressors' backlog stays below what
	// would make Append wait. It also stores raw a batch that compression
	// shrinks by less than 3% (random or already compressed payloads).
	CompressAdaptive Compression = iota
	// CompressAlways compresses every batch, however long it takes: when
	// the compressors fall behind, Append blocks (see QueueSize) rather
	// than a batch being stored raw. Repair uses it.
	CompressAlways
	// CompressNever stores every batch raw: no CPU goes into compression,
	// and the file is a little larger than the records it holds.
	CompressNever
)

// String returns the mode's name: adaptive, always or never.
func (c Compression) String() string {
	switch c {
	case CompressAdaptive:
		return "adaptive"
	case CompressAlways:
		return "always"
	case CompressNever:
		return "never"
	}
	return fmt.Sprintf("Compression(%d)", int(c))
}

// Options configures a Writer. The zero value works; every field documents
// its default.
type Options struct {
	// FlushInterval bounds how long a record waits in memory before the
	// writer hands it to the file. Default 75ms, which keeps DESIGN's bound
	// of 100 ms with room for compression and the write itself: a batch is
	// sealed at most FlushInterval after its first record, and an adaptive
	// writer hands it to the file, raw if its compressor is not done, by
	// FlushInterval + FlushInterval/8 (84 ms).
	FlushInterval time.Duration
	// FlushSize seals a batch once its encoded records reach this many
	// bytes. Default 1 MiB. When a batch takes the writer longer than
	// FlushInterval/8 to compress and write (a busy CPU, a slow disk), at
	// the speeds it measured, batches are sealed smaller, so that
	// FlushInterval stays the bound on a record's time in memory. At most
	// 32 MiB (larger values are reduced to it), so that a chunk stays within
	// what a reader accepts.
	FlushSize int
	// QueueSize bounds the bytes of sealed batches waiting for the file
	// (to be compressed, or written). Beyond it Append blocks: a slow disk
	// slows the producers and nothing is dropped. Default 4 MiB. Append
	// also blocks while the queue holds more than the writer, at its
	// measured speed, gets into the file in FlushInterval/4: the file's
	// speed, and with CompressAlways the compressors' together when they
	// are slower.
	QueueSize int
	// Compression says when batches are compressed: CompressAdaptive (the
	// default), CompressAlways or CompressNever.
	Compression Compression
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
		o.QueueSize = 4 << 20
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
	Records       uint64 // records accepted by Append, Open and HTTP
	Chunks        uint64 // chunks written to the file
	PayloadBytes  uint64 // decoded payload bytes in Chunk records accepted
	RawBytes      uint64 // encoded record bytes written (before compression)
	FileBytes     int64  // bytes written to the file
	RawChunks     uint64 // chunks stored uncompressed (a frame of Raw_Blocks), of Chunks
	RawChunkBytes uint64 // encoded record bytes in those chunks, of RawBytes

	// What the file holds: counted as each chunk is written, so that after
	// a failed write they say what the capture has up to the failure, as a
	// reader counts it (ConnSummary), and not what was accepted.
	ConnsWritten        uint64 // open records written: connections, refused upgrades too
	MessagesWritten     uint64 // messages begun in chunks written (a Chunk record with First)
	PayloadBytesWritten uint64 // decoded payload bytes in Chunk records written
	HTTPWritten         uint64 // plain HTTP exchanges written

	// StoppedAt is when the writer's first error stopped it writing, zero
	// while it goes on; Err says why.
	StoppedAt time.Time
}

// batchState is where a sealed batch is in the pipeline.
type batchState int

const (
	batchWaiting     batchState = iota // in Writer.todo: no compressor has taken it
	batchCompressing                   // a compressor is at work on it
	batchReady                         // done: out holds its chunk (or its compressor let go of it)
)

// batch is a run of encoded records on its way to becoming one chunk.
type batch struct {
	buf     []byte
	nrec    uint32
	seq0    uint64
	t0, t1  int64
	started time.Time     // when its first record came
	conns   []ConnID      // sorted set of connections with records here
	sums    []ConnSummary // summaries of those connections as of the batch's end
	http    []HTTPSummary // exchanges in the batch
	opens   uint64        // open records in the batch
	msgs    uint64        // messages begun in the batch (Chunk records with First)
	payload uint64        // decoded payload bytes in its Chunk records

	// Set when it is sealed, and then under Writer.mu.
	due     time.Time // when it must be handed to the file: FlushInterval + FlushInterval/8 after started
	state   batchState
	taken   bool // the writer took it from the queue (and stored it raw) while it was compressing
	written bool // the writer is done with it

	// Written by its compressor, read by the writer once state is batchReady.
	out []byte // the chunk: frame head, chunk header and zstd frame; from Writer.outs; nil when raw
	raw bool   // store it raw: the writer builds its chunk from buf (rawChunkVec)
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

// chunkRoom is what a chunk holds before its zstd frame: the skippable
// frame head and the chunk header.
const chunkRoom = frameHeadSize + chunkHeaderSize

// chunk fills in the frame head and chunk header at the start of out, whose
// first chunkRoom bytes were left for them and whose rest is the zstd frame
// of b's records, and returns out.
func (b *batch) chunk(out []byte) []byte {
	frame := out[chunkRoom:]
	b.head(out, len(frame), crc32c(frame))
	return out
}

// head fills in the frame head and chunk header of b's chunk, whose zstd
// frame is clen bytes with checksum crc, at the start of out.
func (b *batch) head(out []byte, clen int, crc uint32) {
	h := chunkHeader{clen: uint32(clen), ulen: uint32(len(b.buf)), crc: crc, nrec: b.nrec,
		seq0: b.seq0, t0: b.t0, t1: b.t1}
	h.append(out[:0])
}

// rawChunkVec returns b's chunk with its records stored raw, as pieces in
// order for one vectored write: hdr (whose memory it reuses) holds the
// chunk's frame head and header and the zstd frame's own bytes, and the
// other pieces are slices of b.buf, which is not copied.
func (b *batch) rawChunkVec(hdr []byte, vec [][]byte) ([]byte, [][]byte) {
	var room [chunkRoom]byte
	hdr, vec = rawFrameVec(append(hdr[:0], room[:]...), 0, vec[:0], b.buf)
	var crc uint32
	clen := -chunkRoom
	for i, p := range vec {
		clen += len(p)
		if i == 0 {
			p = p[chunkRoom:]
		}
		crc = crc32.Update(crc, castagnoli, p)
	}
	b.head(hdr, clen, crc)
	return hdr, vec
}

// pays reports whether compressing ulen bytes to a frame of clen was worth
// it: 3% saved at least.
func pays(clen, ulen int) bool { return int64(clen)*100 < int64(ulen)*97 }

// probeInterval is how long an adaptive writer goes on trusting a
// compression speed it measured: once no batch (of 4 KiB or more) was
// compressed for this long, the next one is compressed whatever the speed said, so that a
// stall (a GC pause, a busy minute) is not believed forever. The loss bound
// holds regardless, since a late batch is written raw.
const probeInterval = time.Second

// Writer streams records into a capture file. Many goroutines may call its
// methods at once; goroutines of its own compress and write.
//
// # Concurrency
//
// Producers encode their record into the current batch under a mutex. A
// sealed batch (FlushSize reached, or FlushInterval passed) joins a FIFO
// queue bounded by QueueSize. Compressor goroutines (as many as GOMAXPROCS,
// between 2 and 4) take batches from it in order, each with an encoder of
// its own, and turn each into the bytes of one chunk: compressed into one
// zstd frame, or stored raw (see Compression). One writer goroutine owns
// the file, its offsets, the index entries and checkpoints: it writes the
// chunks strictly in sequence order, each with one write(2), however the
// compressors finish. Records of one producer reach the file in the order
// it appended them.
type Writer struct {
	opts  Options
	f     file
	path  string
	ncomp int // compressor goroutines

	mu        sync.Mutex
	space     *sync.Cond // signalled when the queue shrinks or the writer fails
	work      *sync.Cond // signalled when todo grows or the compressors must stop
	cur       *batch
	queue     []*batch // sealed batches not yet written, in sequence order
	todo      []*batch // the batches of queue that no compressor took yet: a suffix of it
	queued    int      // record bytes in queue
	todoBytes int      // record bytes in todo
	nextConn  ConnID
	nextHTTP  uint64
	nextSeq   uint64
	conns     map[ConnID]*ConnSummary
	err       error
	closed    bool
	stopping  bool // the compressors are to return once todo is empty
	stats     Stats
	crate     float64   // record bytes per second one compressor compresses, averaged (average); 0 until measured
	wrate     float64   // record bytes per second the file takes in chunks, at its slowest (measure); 0 until measured
	measured  time.Time // when crate was last measured
	// cpu measures the machine's idle CPU, for CompressAdaptive.
	cpu *cpuHeadroom
	// squeezed is when a producer last waited in Append while most of the
	// backlog waited for a compressor (see storeRawLocked).
	squeezed time.Time
	// Batches written, kept for the next ones: as many as are at work at
	// once in a burst (one being filled, one per compressor, one being
	// written), so that a burst does not allocate and zero a buffer of
	// FlushSize per batch and leave the GC that much more to collect.
	free []*batch
	outs [][]byte // buffers for batch.out: only batches being compressed or written hold one

	// compressHook, which tests set under mu, is called by a compressor
	// with the batch's seq0 before it compresses the batch (outside the
	// time it measures), and may block it.
	compressHook func(seq0 uint64)

	kick        chan struct{} // wakes the writer goroutine
	closing     chan struct{}
	done        chan struct{}
	syncReq     chan struct{} // asks syncLoop for an fsync; closed by finish
	syncDone    chan struct{}
	compressors sync.WaitGroup

	// Owned by the writer goroutine.
	off       int64
	hdr       []byte   // the bytes of a raw chunk's that are not records (rawChunkVec)
	vec       [][]byte // the pieces of the chunk being written
	vec1      [1][]byte
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
// and starts its writer goroutines.
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
	if opts.Compression < CompressAdaptive || opts.Compression > CompressNever {
		return nil, fmt.Errorf("capture: unknown compression mode %d", int(opts.Compression))
	}
	ncomp := max(2, min(runtime.GOMAXPROCS(0), 4))
	encs := make([]*zstd.Encoder, 0, ncomp)
	closeEncs := func() {
		for _, e := range encs {
			e.Close()
		}
	}
	// A frame holds one batch, of about FlushSize: a window of that size
	// finds what a larger one would, where zstd's default of 8 MiB would
	// keep 8 MiB of history live in each encoder.
	window := 1 << 20
	for window < min(opts.FlushSize, 8<<20) {
		window <<= 1
	}
	for range ncomp {
		enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(1),
			zstd.WithEncoderCRC(false), zstd.WithZeroFrames(true), zstd.WithWindowSize(window))
		if err != nil {
			closeEncs()
			return nil, fmt.Errorf("capture: zstd encoder: %w", err)
		}
		encs = append(encs, enc)
	}
	id := make([]byte, 16)
	rand.Read(id)
	hdr, err := appendFileHeader(nil, Header{Version: Version, Created: time.Now().UTC(), Tool: opts.Tool, FileID: id})
	if err != nil {
		closeEncs()
		return nil, fmt.Errorf("capture: encode header: %w", err)
	}
	if _, err := f.Write(hdr); err != nil {
		closeEncs()
		return nil, fmt.Errorf("capture: write header of %s: %w", path, err)
	}
	w := &Writer{
		opts: opts, f: f, path: path, ncomp: ncomp, conns: map[ConnID]*ConnSummary{},
		kick: make(chan struct{}, 1), closing: make(chan struct{}), done: make(chan struct{}),
		syncReq: make(chan struct{}, 1), syncDone: make(chan struct{}),
		off: int64(len(hdr)), dirty: map[ConnID]ConnSummary{},
		lastCP: -1, lastCPAt: time.Now(), lastSync: time.Now(),
	}
	if opts.Compression == CompressAdaptive {
		w.cpu = newCPUHeadroom()
	}
	w.space = sync.NewCond(&w.mu)
	w.work = sync.NewCond(&w.mu)
	w.cur = &batch{}
	w.compressors.Add(ncomp)
	for _, enc := range encs {
		go w.compressLoop(enc)
	}
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
	case *ConnOpen:
		b.opens++
	case *HTTP:
		b.http = append(b.http, summarizeHTTP(r))
	case *Chunk:
		w.stats.PayloadBytes += uint64(len(r.Data))
		b.payload += uint64(len(r.Data))
		if r.First {
			b.msgs++
		}
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
		if w.todoBytes*2 > w.queued && w.crate > 0 {
			// Most of the backlog waits for a compressor: compression is
			// slowing the producer (the relay) down.
			w.squeezed = time.Now()
		}
		w.space.Wait()
	}
	return w.err
}

// batchLimit is the size at which the current batch is sealed: FlushSize,
// or less when the writer is slow, so that one batch crosses the pipeline
// (compressed by one compressor, unless Compression is CompressNever, then
// written) in about FlushInterval/8 at the measured speeds. w.mu is held.
func (w *Writer) batchLimit() int {
	cost := w.writeCost()
	if w.opts.Compression != CompressNever {
		cost = sumCost(cost, w.compressCost(1))
	}
	return limit(w.opts.FlushInterval/8, cost, 16<<10, w.opts.FlushSize)
}

// sumCost is the cost of two stages in a row, 0 (unknown) while either is.
func sumCost(a, b float64) float64 {
	if a == 0 || b == 0 {
		return 0
	}
	return a + b
}

// queueLimit is the backlog beyond which Append blocks: QueueSize, or what
// the pipeline gets into the file in FlushInterval/4 at its measured speed,
// which is its slower stage's: the file's, or with CompressAlways the
// compressors' together when they are slower. An adaptive writer stores
// raw what its compressors cannot take in time, and one that never
// compresses has no compressing to wait for: for them the file alone sets
// the pace. w.mu is held.
func (w *Writer) queueLimit() int {
	cost := w.writeCost()
	if c := w.compressCost(w.ncomp); w.opts.Compression == CompressAlways && (c == 0 || cost == 0) {
		cost = 0 // unknown while either stage is
	} else if w.opts.Compression == CompressAlways {
		cost = max(cost, c)
	}
	return limit(w.opts.FlushInterval/4, cost, 64<<10, w.opts.QueueSize)
}

// compressCost is the seconds per record byte that n compressors working
// at once take at the measured speed; 0 until measured. w.mu is held.
func (w *Writer) compressCost(n int) float64 {
	if w.crate == 0 {
		return 0
	}
	return 1 / (float64(n) * w.crate)
}

// writeCost is the seconds per record byte the file takes; 0 until
// measured. w.mu is held.
func (w *Writer) writeCost() float64 {
	if w.wrate == 0 {
		return 0
	}
	return 1 / w.wrate
}

// limit is the bytes a stage that costs cost seconds per byte handles in d,
// at least floor (the measurement is coarse for tiny batches, and missing
// when cost is 0) and at most ceil.
func limit(d time.Duration, cost float64, floor, ceil int) int {
	n := floor
	if cost > 0 {
		n = max(n, int(min(d.Seconds()/cost, float64(ceil))))
	}
	return min(n, ceil)
}

// measure folds the speed of n bytes handled in d into rate: it believes
// a slowdown at once, a speedup gradually. Tiny batches measure mostly the
// overhead and are left out; it reports whether it used this one.
func measure(rate *float64, n int, d time.Duration) bool {
	if n < 4<<10 || d <= 0 {
		return false
	}
	if inst := float64(n) / d.Seconds(); *rate == 0 || inst < *rate {
		*rate = inst
	} else {
		*rate += (inst - *rate) / 4
	}
	return true
}

// average folds the speed of n bytes handled in d into rate, a moving
// average over the last few batches, slowdowns and speedups alike: the
// compressors' speed decides whether a batch is stored raw, and one
// compression that the scheduler cut short must not make the next many
// raw (a late batch is written raw anyway). Tiny batches are left out; it
// reports whether it used this one.
func average(rate *float64, n int, d time.Duration) bool {
	if n < 4<<10 || d <= 0 {
		return false
	}
	if inst := float64(n) / d.Seconds(); *rate == 0 {
		*rate = inst
	} else {
		*rate += (inst - *rate) / 4
	}
	return true
}

// sealLocked moves the current batch to the queue, for the compressors.
// w.mu is held.
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
	b.due = b.started.Add(w.opts.FlushInterval + w.opts.FlushInterval/8)
	b.state = batchWaiting
	w.queue = append(w.queue, b)
	w.todo = append(w.todo, b)
	w.queued += len(b.buf)
	w.todoBytes += len(b.buf)
	if n := len(w.free); n > 0 {
		w.cur, w.free = w.free[n-1], w.free[:n-1]
	} else {
		w.cur = &batch{buf: make([]byte, 0, min(cap(b.buf), w.opts.FlushSize+MaxChunk+1024))}
	}
	w.work.Signal()
	w.wake()
}

// wake wakes the writer goroutine, without waiting.
func (w *Writer) wake() {
	select {
	case w.kick <- struct{}{}:
	default:
	}
}

// recycleLocked keeps b, which no goroutine uses any more, and its out
// buffer for later batches. w.mu is held.
func (w *Writer) recycleLocked(b *batch) {
	if b.out != nil && len(w.outs) < w.ncomp && cap(b.out) <= w.opts.FlushSize+MaxChunk+128<<10 {
		w.outs = append(w.outs, b.out[:0])
	}
	b.out = nil
	if len(w.free) < w.ncomp+2 && cap(b.buf) <= w.opts.FlushSize+MaxChunk+64<<10 {
		b.recycle()
		w.free = append(w.free, b)
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
		if err := errors.Join(w.closeErrs...); err != nil {
			w.failLocked(err)
		}
	}
	return w.err
}

// compressLoop is a compressor goroutine: it takes the oldest batch no
// compressor has taken, turns it into the bytes of its chunk (compressed
// with enc, or raw) and hands it back to the writer goroutine, until
// finish stops it.
func (w *Writer) compressLoop(enc *zstd.Encoder) {
	defer w.compressors.Done()
	defer enc.Close()
	w.mu.Lock()
	defer w.mu.Unlock()
	for {
		for len(w.todo) == 0 && !w.stopping {
			w.work.Wait()
		}
		if len(w.todo) == 0 {
			return
		}
		b := w.todo[0]
		raw := w.err != nil || w.storeRawLocked(b, time.Now())
		w.todo[0] = nil
		w.todo = w.todo[1:]
		w.todoBytes -= len(b.buf)
		b.state = batchCompressing
		hook := w.compressHook
		var out []byte
		if n := len(w.outs); n > 0 && !raw {
			out, w.outs = w.outs[n-1], w.outs[:n-1]
		}
		w.mu.Unlock()

		// A raw chunk is the writer's to build, straight from b.buf.
		var took time.Duration
		if !raw {
			if hook != nil {
				hook(b.seq0)
			}
			var room [chunkRoom]byte
			start := time.Now()
			out = enc.EncodeAll(b.buf, append(out, room[:]...))
			took = time.Since(start)
			if raw = w.opts.Compression == CompressAdaptive && !pays(len(out)-chunkRoom, len(b.buf)); !raw {
				b.out = b.chunk(out)
			}
		}
		b.raw = raw

		w.mu.Lock()
		if raw && out != nil && len(w.outs) < w.ncomp {
			w.outs = append(w.outs, out[:0])
		}
		if average(&w.crate, len(b.buf), took) {
			w.measured = time.Now()
		}
		b.state = batchReady
		switch {
		case b.written: // the writer stored it raw and is done with it
			w.recycleLocked(b)
		case !b.taken:
			w.wake()
		}
	}
}

// storeRawLocked reports whether a compressor that takes b, the oldest
// batch waiting for one, at now should store it raw rather than compress
// it. With CompressAdaptive the writer is behind, and stores b raw, when
//
//   - b is due in the file already, or
//   - at the compressors' measured speed, b alone would take longer to
//     compress than the time left before it is due, or
//   - the machine has less than minIdleCores of idle CPU (Linux): no
//     headroom, so compressing would take the CPU from the traffic being
//     recorded, the relay and peers on the same machine, or
//   - a producer had to wait for the compressors within the last
//     FlushInterval (at most 100 ms): Append blocked while most of the
//     backlog waited for compression, so the capture was slowing the
//     traffic down, or
//   - the batches waiting for a compressor (b first) would take all the
//     compressors together longer than that, or than FlushInterval/4:
//     the backlog at which a writer that always compresses makes Append
//     block (queueLimit), so an adaptive one goes raw first.
//
// Only the compressors' own backlog counts: batches compressed and waiting
// for a slow disk are behind the disk, and storing raw would only give it
// more to write.
//
// Until a speed is measured, and when none was measured for probeInterval,
// b is compressed: a stale measurement is not trusted forever, and the
// writer goroutine writes b raw if it is late all the same. w.mu is held.
func (w *Writer) storeRawLocked(b *batch, now time.Time) bool {
	switch w.opts.Compression {
	case CompressAlways:
		return false
	case CompressNever:
		return true
	}
	left := b.due.Sub(now)
	if left <= 0 {
		return true
	}
	if w.cpu != nil {
		if c := w.cpu.idleCores(now); c >= 0 && c < minIdleCores {
			return true
		}
	}
	if w.crate == 0 || now.Sub(w.measured) >= probeInterval {
		return false
	}
	if now.Sub(w.squeezed) < min(w.opts.FlushInterval, 100*time.Millisecond) {
		return true
	}
	alone := float64(len(b.buf)) / w.crate
	all := float64(w.todoBytes) / (float64(w.ncomp) * w.crate)
	return alone > left.Seconds() || all > min(left, w.opts.FlushInterval/4).Seconds()
}

// run is the writer goroutine: it owns the file, seals batches on the
// flush timer, and writes chunks in order.
func (w *Writer) run() {
	defer close(w.done)
	flush := time.NewTimer(time.Hour)
	flush.Stop()
	armed := false
	due := time.NewTimer(time.Hour) // the head of the queue is due in the file
	due.Stop()
	every := min(w.opts.CheckpointInterval, time.Second)
	if w.opts.SyncInterval > 0 {
		every = min(every, w.opts.SyncInterval)
	}
	tick := time.NewTicker(every)
	defer tick.Stop()
	closing := w.closing
	for {
		select {
		case <-w.kick:
		case <-flush.C:
			armed = false
			w.mu.Lock()
			if w.cur.nrec > 0 && time.Since(w.cur.started) >= w.opts.FlushInterval-time.Millisecond {
				w.sealLocked()
			}
			w.mu.Unlock()
		case <-due.C:
		case <-tick.C:
			w.housekeep(false)
		case <-closing:
			closing = nil // Close sealed the last batch: write the queue out, then finish
		}
		w.drain()
		w.mu.Lock()
		if closing == nil && len(w.queue) == 0 {
			w.mu.Unlock()
			w.finish()
			return
		}
		if w.cur.nrec > 0 && !armed {
			flush.Reset(max(0, w.opts.FlushInterval-time.Since(w.cur.started)))
			armed = true
		}
		if len(w.queue) > 0 && w.opts.Compression != CompressAlways {
			due.Reset(time.Until(w.queue[0].due))
		}
		w.mu.Unlock()
	}
}

// drain writes the chunks at the head of the queue in sequence order while
// they are ready. A head batch that is due and still not ready (its
// compressor is late, or none has taken it) it stores raw itself, except
// with CompressAlways. It returns when the queue is empty or its head is
// neither ready nor due. After a failure it drops the queue unwritten.
func (w *Writer) drain() {
	for {
		w.mu.Lock()
		if len(w.queue) == 0 {
			w.mu.Unlock()
			return
		}
		b := w.queue[0]
		failed := w.err != nil
		late := !failed && b.state != batchReady
		if late && (w.opts.Compression == CompressAlways || time.Now().Before(b.due)) {
			w.mu.Unlock()
			return
		}
		switch b.state {
		case batchWaiting: // the oldest batch of all is the first of todo
			w.todo[0] = nil
			w.todo = w.todo[1:]
			w.todoBytes -= len(b.buf)
		case batchCompressing:
			b.taken = true // its compressor goes on reading b.buf
		}
		w.queue[0] = nil
		w.queue = w.queue[1:]
		w.mu.Unlock()

		var err error
		if !failed {
			// A late b.out is its compressor's still, if it has one.
			if late || b.raw {
				w.hdr, w.vec = b.rawChunkVec(w.hdr, w.vec)
			} else {
				w.vec = append(w.vec[:0], b.out)
			}
			err = w.writeChunk(b, w.vec, late || b.raw)
			clear(w.vec) // nothing of b stays reachable from here

		}
		w.mu.Lock()
		w.queued -= len(b.buf)
		if err != nil && w.err == nil {
			w.failLocked(err)
		}
		b.written = true
		if b.state != batchCompressing { // else its compressor recycles it
			w.recycleLocked(b)
		}
		w.space.Broadcast()
		w.mu.Unlock()
		if err == nil && !failed {
			w.housekeep(false)
		}
	}
}

// writeChunk writes vec, the pieces of b's chunk, with one vectored write and notes
// the chunk for the next checkpoint.
func (w *Writer) writeChunk(b *batch, vec [][]byte, raw bool) error {
	size := 0
	for _, p := range vec {
		size += len(p)
	}
	start := time.Now()
	if err := w.writeVec(vec); err != nil {
		return err
	}
	took := time.Since(start)
	w.pending = append(w.pending, chunkEntry{Offset: w.off - int64(size), CLen: uint32(size - chunkRoom),
		ULen: uint32(len(b.buf)), NRec: b.nrec, Seq0: b.seq0, T0: b.t0, T1: b.t1, Conns: b.conns})
	w.pendRaw += int64(len(b.buf))
	w.seqDone = b.seq0 + uint64(b.nrec)
	for _, s := range b.sums {
		w.dirty[s.Conn] = s
	}
	w.httpNew = append(w.httpNew, b.http...)
	w.mu.Lock()
	w.stats.Chunks++
	w.stats.RawBytes += uint64(len(b.buf))
	w.stats.FileBytes = w.off
	w.stats.ConnsWritten += b.opens
	w.stats.MessagesWritten += b.msgs
	w.stats.PayloadBytesWritten += b.payload
	w.stats.HTTPWritten += uint64(len(b.http))
	if raw {
		w.stats.RawChunks++
		w.stats.RawChunkBytes += uint64(len(b.buf))
	}
	// The file's speed behind batchLimit and queueLimit, in record bytes:
	// what the pipeline's last stage gets through, compressed or raw.
	measure(&w.wrate, len(b.buf), took)
	w.mu.Unlock()
	return nil
}

// write appends p to the file. After a failed or short write it cuts the
// file back to the last complete frame, so nothing is ever appended after
// garbage.
func (w *Writer) write(p []byte) error {
	w.vec1[0] = p
	err := w.writeVec(w.vec1[:])
	w.vec1[0] = nil
	return err
}

// writeVec appends the pieces of vec to the file, as write does p.
func (w *Writer) writeVec(vec [][]byte) error {
	n, err := writeVec(w.f, vec)
	if err != nil {
		if n > 0 {
			w.f.Truncate(w.off)
		}
		if _, ok := err.(*os.PathError); ok {
			return err // "write PATH: …" already
		}
		return fmt.Errorf("write %s: %w", w.path, err)
	}
	w.off += int64(n)
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
			w.failLocked(err)
		}
		w.space.Broadcast()
		w.mu.Unlock()
	}
}

// failLocked makes err the writer's error and notes when it stopped. w.mu
// is held and w.err is nil.
func (w *Writer) failLocked(err error) {
	w.err = err
	w.stats.StoppedAt = time.Now()
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
				w.failLocked(fmt.Errorf("capture: sync %s: %w", w.path, err))
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

// finish runs once Close has sealed the last batch and drain has written
// the queue out: it stops the compressors (one may still be at a batch the
// writer stored raw) and the sync loop, then closes the file.
func (w *Writer) finish() {
	w.mu.Lock()
	w.stopping = true
	w.work.Broadcast()
	w.mu.Unlock()
	w.compressors.Wait()
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

package capture

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"iter"
	"os"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/klauspost/compress/zstd"
)

// Reader reads a capture file: its connection list from the index, and its
// records in order, for all connections or for one, from the start or from
// any position.
//
// # Concurrency
//
// Every method of a Reader may be called from several goroutines at once,
// and the iterators and streams it returns may run side by side: the
// inspector follows a growing file on one goroutine (Follow, FollowFrom)
// while it opens payloads on demand on another (OpenMessage, RecordsFrom,
// Summaries). Each iterator and stream decodes with buffers of its own;
// Refresh, which Follow calls, updates the shared index under a lock that
// no iterator holds while it yields. A single iterator, like any
// iter.Seq2, is for one goroutine.
type Reader struct {
	ra     io.ReaderAt
	file   *os.File // nil when reading from a plain io.ReaderAt
	hdr    Header
	hdrEnd int64
	dec    *zstd.Decoder // DecodeAll only: safe for concurrent use
	// decMu guards dec and the file against Close: a decoder used after
	// Close blocks forever, so chunk reads and decodes hold it shared and
	// Close exclusively.
	decMu  sync.RWMutex
	closed bool
	bufs   sync.Pool // *cursor

	mu         sync.RWMutex
	size       int64
	chunks     []chunkEntry
	covered    int                     // chunks[:covered] are folded into the summaries
	conns      map[ConnID]*ConnSummary // summaries, newest state
	http       []HTTPSummary
	final      bool           // the footer was seen: the writer closed the file
	scanned    int64          // offset up to which frames are known (good, or damage passed over)
	lastFrame  int64          // offset of the last good frame the walk found, -1 for none
	tail       *TailError     // bad or incomplete data at scanned with nothing good after it, if any
	damage     []*DamageError // damage passed over, by offset
	bad        map[int64]bool // chunks (by offset) whose data failed its checks
	skipped    map[int64]int  // records of unknown kinds stepped over, by chunk offset
	rebuild    bool           // a checkpoint did not decode: summaries come from the chunks themselves
	fromFooter bool           // the index came from the footer's checkpoint chain
}

// cursor holds the buffers one iterator decodes chunks with.
type cursor struct {
	cbuf    []byte   // chunk frame head, chunk header and compressed chunk
	ubuf    []byte   // decompressed chunk
	keep    recAlloc // records handed to the caller
	scratch recAlloc // records valid until the next chunk (transient)
	recs    []Record
	pos     []uint64 // pos[i] is recs[i]'s position in the file
	disk    int      // records on disk in the chunk last decoded, unknown kinds included
}

// Open opens the capture at path and loads its index: from the footer of a
// cleanly closed file, or by hopping chunk headers otherwise. Neither a
// torn tail nor damage in the middle is an error here; see Reader.Tail and
// Reader.Damage.
func Open(path string) (*Reader, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("capture: %w", err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("capture: %w", err)
	}
	r, err := newReader(f, fi.Size(), false)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("open capture %s: %w", path, err)
	}
	r.file = f
	return r, nil
}

// NewReader reads a capture of the given size from ra.
func NewReader(ra io.ReaderAt, size int64) (*Reader, error) { return newReader(ra, size, false) }

// newReader opens a capture; walk ignores the footer and hops every frame.
func newReader(ra io.ReaderAt, size int64, walk bool) (*Reader, error) {
	dec, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(4), zstd.WithDecoderMaxMemory(maxFrameLen))
	if err != nil {
		return nil, err
	}
	r := &Reader{ra: ra, size: size, conns: map[ConnID]*ConnSummary{}, dec: dec, lastFrame: -1}
	if err := r.readHeader(); err != nil {
		dec.Close()
		return nil, err
	}
	r.scanned = r.hdrEnd
	if walk || !r.loadFromFooter() {
		r.reset()
		r.scan()
	}
	r.foldUncovered()
	return r, nil
}

// ErrReaderClosed is what an iterator yields when its Reader was closed
// under it.
var ErrReaderClosed = errors.New("capture: reader closed")

// Close releases the reader's file and decoder. It waits for decodes in
// flight; iterators still running then end with ErrReaderClosed.
func (r *Reader) Close() error {
	r.decMu.Lock()
	defer r.decMu.Unlock()
	r.closed = true
	r.dec.Close()
	if r.file != nil {
		return r.file.Close()
	}
	return nil
}

// Header returns the file header.
func (r *Reader) Header() Header { return r.hdr }

// Complete reports whether the writer closed the file cleanly.
func (r *Reader) Complete() bool {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.final
}

// Tail returns a *TailError (matching ErrTornTail) when the file ends in
// incomplete or corrupt data, and nil otherwise. Everything before the
// error's offset is readable.
func (r *Reader) Tail() error {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if r.tail == nil {
		return nil
	}
	return r.tail
}

// Damage returns the damaged ranges found so far in the middle of the
// file, in file order: bytes the reader passed over to read on after them.
// Opening a file finds the damage in its frame structure (when it has no
// footer) and in the chunks written after its last checkpoint; reading
// records finds the rest. Verify finds all of it.
func (r *Reader) Damage() []*DamageError {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return slices.Clone(r.damage)
}

// Skipped returns how many records of kinds this version does not know were
// stepped over in the chunks read so far. Each is counted once, however
// often its chunk is read.
func (r *Reader) Skipped() int {
	r.mu.RLock()
	defer r.mu.RUnlock()
	n := 0
	for _, k := range r.skipped {
		n += k
	}
	return n
}

// Conns returns the summaries of all connections, in ID order.
func (r *Reader) Conns() []ConnSummary {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]ConnSummary, 0, len(r.conns))
	for _, s := range r.conns {
		out = append(out, *s)
	}
	slices.SortFunc(out, func(a, b ConnSummary) int { return cmpInt(a.Conn, b.Conn) })
	return out
}

// Conn returns the summary of one connection.
func (r *Reader) Conn(id ConnID) (ConnSummary, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	s, ok := r.conns[id]
	if !ok {
		return ConnSummary{}, false
	}
	return *s, true
}

// HTTP returns the summaries of all plain HTTP exchanges, in ID order.
func (r *Reader) HTTP() []HTTPSummary {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return slices.Clone(r.http)
}

// RecordCount counts the records known so far: it is the position just
// after the last record of the last good chunk.
func (r *Reader) RecordCount() uint64 {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if n := len(r.chunks); n > 0 {
		return r.chunks[n-1].Seq0 + uint64(r.chunks[n-1].NRec)
	}
	return 0
}

func cmpInt[T ~uint64 | ~int64 | ~int](a, b T) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func (r *Reader) readAt(n int, off int64) ([]byte, error) {
	p := make([]byte, n)
	if _, err := r.ra.ReadAt(p, off); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, io.ErrUnexpectedEOF
		}
		return nil, err
	}
	return p, nil
}

func (r *Reader) readHeader() error {
	head, err := r.readAt(frameHeadSize, 0)
	if err != nil || binary.LittleEndian.Uint32(head) != magicFileHeader {
		return ErrNotCapture
	}
	n := binary.LittleEndian.Uint32(head[4:])
	if n > 1<<16 {
		return ErrNotCapture
	}
	p, err := r.readAt(int(n), frameHeadSize)
	if err != nil {
		return ErrNotCapture
	}
	r.hdr, err = parseFileHeader(p)
	if err != nil {
		return err
	}
	r.hdrEnd = frameHeadSize + int64(n)
	return nil
}

func (r *Reader) reset() {
	r.chunks, r.covered, r.http, r.final, r.fromFooter = nil, 0, nil, false, false
	r.conns = map[ConnID]*ConnSummary{}
	r.scanned, r.tail, r.lastFrame, r.damage = r.hdrEnd, nil, -1, nil
}

// footer states, from footerChain.
const (
	noFooter = iota
	goodFooter
	badFooter // a footer is there, but its checkpoint chain is not valid
)

// footerChain follows the checkpoint chain back from the footer and
// returns the checkpoints oldest first.
func (r *Reader) footerChain() ([]*checkpoint, int) {
	const tailLen = frameHeadSize + footerSize
	if r.size < r.hdrEnd+tailLen {
		return nil, noFooter
	}
	p, err := r.readAt(tailLen, r.size-tailLen)
	if err != nil || binary.LittleEndian.Uint32(p) != magicFooter ||
		binary.LittleEndian.Uint32(p[4:]) != footerSize || string(p[16:]) != footerMagic {
		return nil, noFooter
	}
	var cps []*checkpoint
	limit := r.size - tailLen
	for off := int64(binary.LittleEndian.Uint64(p[8:])); off >= 0; {
		if off < r.hdrEnd || off >= limit {
			return nil, badFooter
		}
		cp, end, err := r.readCheckpoint(off)
		if err != nil || end > limit || (len(cps) == 0 && !cp.Final) {
			return nil, badFooter
		}
		cps = append(cps, cp)
		limit, off = off, cp.Prev
	}
	slices.Reverse(cps)
	return cps, goodFooter
}

// loadFromFooter loads the index of a cleanly closed file by following the
// checkpoint chain back from the footer. It reports false when the file has
// no valid footer or the chain is damaged, and the caller scans instead.
func (r *Reader) loadFromFooter() bool {
	cps, state := r.footerChain()
	if state != goodFooter || !r.plausible(cps) {
		return false
	}
	for _, cp := range cps {
		r.applyCheckpoint(cp, true)
	}
	r.covered = len(r.chunks)
	r.final, r.fromFooter = true, true
	r.scanned = r.size
	return true
}

// plausible reports whether the chunk entries of a checkpoint chain lie
// inside the file, in order: an index whose checksums were forged, or
// written by a broken writer, must not send the reader outside the file.
// The reader walks the frames instead.
func (r *Reader) plausible(cps []*checkpoint) bool {
	prev := r.hdrEnd - 1
	for _, cp := range cps {
		for i := range cp.Chunks {
			e := &cp.Chunks[i]
			if e.Offset <= prev || e.CLen > maxFrameLen || chunkEnd(e) > r.size {
				return false
			}
			prev = e.Offset
		}
	}
	return true
}

// errCheckpointBody is a checkpoint whose checksum holds but whose CBOR
// does not decode: its frame's extent can be trusted, its contents not.
var errCheckpointBody = errors.New("checkpoint does not decode")

// readCheckpoint reads the checkpoint frame at off and returns it with the
// offset just past it.
func (r *Reader) readCheckpoint(off int64) (*checkpoint, int64, error) {
	head, err := r.readAt(frameHeadSize, off)
	if err != nil {
		return nil, 0, err
	}
	n := int64(binary.LittleEndian.Uint32(head[4:]))
	if binary.LittleEndian.Uint32(head) != magicIndex || n < 4 || n > maxFrameLen || off+frameHeadSize+n > r.size {
		return nil, 0, errors.New("bad checkpoint frame")
	}
	p, err := r.readAt(int(n), off+frameHeadSize)
	if err != nil {
		return nil, 0, err
	}
	if crc32c(p[4:]) != binary.LittleEndian.Uint32(p) {
		return nil, 0, errors.New("checkpoint checksum mismatch")
	}
	var cp checkpoint
	if err := decMode.Unmarshal(p[4:], &cp); err != nil {
		return nil, off + frameHeadSize + n, fmt.Errorf("%w: %v", errCheckpointBody, err)
	}
	return &cp, off + frameHeadSize + n, nil
}

// applyCheckpoint takes a checkpoint's index. From the footer (add) its
// chunk entries are the index; on a walk, the walk found the chunks and
// the checkpoint only tells their connection sets.
func (r *Reader) applyCheckpoint(cp *checkpoint, add bool) {
	for _, e := range cp.Chunks {
		if e.Conns == nil {
			e.Conns = []ConnID{}
		}
		if i, ok := r.chunkAt(e.Offset); ok {
			r.chunks[i].Conns = e.Conns
		} else if add && (len(r.chunks) == 0 || e.Offset > r.chunks[len(r.chunks)-1].Offset) {
			r.chunks = append(r.chunks, e)
		}
	}
	for _, s := range cp.Conns {
		r.conns[s.Conn] = &s
	}
	// A checkpoint read by Refresh may cover chunks whose exchanges were
	// folded already; IDs rise in file order, so keep only the new ones.
	for _, x := range cp.HTTP {
		if n := len(r.http); n == 0 || x.ID > r.http[n-1].ID {
			r.http = append(r.http, x)
		}
	}
}

// chunkAt finds the chunk whose frame starts at off.
func (r *Reader) chunkAt(off int64) (int, bool) {
	return slices.BinarySearchFunc(r.chunks, off, func(e chunkEntry, off int64) int { return cmpInt(e.Offset, off) })
}

// scan walks frames from r.scanned to the end of the file, recording chunks
// and applying checkpoints. At a bad frame it looks for the next good one
// and notes the bytes between as damage; when nothing good follows, the
// bad frame is the torn tail. r.mu is held (or the reader is new).
func (r *Reader) scan() {
	r.tail = nil
	for off := r.scanned; off < r.size; {
		next, bad, trusted := r.hop(off)
		var rerr *readError
		switch {
		case bad == nil:
			r.lastFrame = off
		case trusted: // a frame whose extent is known, but whose contents are bad
			r.addDamage(&DamageError{Offset: off, End: next, Reason: bad.Error()})
		default:
			good := int64(-1)
			if !r.final && !errors.As(bad, &rerr) { // the file may be fine; the reading is not
				good = r.resync(off + 1)
			}
			if good < 0 {
				r.tail = &TailError{Offset: off, Reason: bad.Error()}
				return
			}
			r.addDamage(&DamageError{Offset: off, End: good, Reason: bad.Error()})
			next = good
		}
		r.scanned, off = next, next
	}
	if r.rebuild { // summaries must come from the chunks themselves
		r.rebuild, r.covered, r.http = false, 0, nil
		r.conns = map[ConnID]*ConnSummary{}
	}
}

// hop checks the frame at off and indexes it. It returns the offset after
// the frame, or why the frame is bad (a *readError when it could not be
// read); trusted says the frame's extent (the returned offset) holds
// although its contents are bad.
func (r *Reader) hop(off int64) (next int64, bad error, trusted bool) {
	if r.final {
		return 0, errors.New("data after the footer"), false
	}
	if r.size-off < frameHeadSize {
		return 0, fmt.Errorf("short frame header (%d bytes)", r.size-off), false
	}
	head, err := r.readAt(frameHeadSize, off)
	if err != nil {
		return 0, &readError{"read", err}, false
	}
	magic, n := binary.LittleEndian.Uint32(head), int64(binary.LittleEndian.Uint32(head[4:]))
	switch {
	case magic == 0 && n == 0:
		return 0, errors.New("zero-filled bytes"), false
	case magic&magicSkipMask != magicFileHeader:
		return 0, fmt.Errorf("unknown frame magic %#08x", magic), false
	case off+frameHeadSize+n > r.size:
		return 0, fmt.Errorf("frame of %d bytes runs past the end of the file", n), false
	}
	next = off + frameHeadSize + n
	switch magic {
	case magicChunk:
		p, err := r.readAt(int(min(n, chunkHeaderSize+1)), off+frameHeadSize)
		if err != nil {
			return 0, &readError{"read", err}, false
		}
		h, ok := parseChunkHeader(p)
		if !ok {
			return 0, errors.New("chunk header checksum mismatch"), false
		}
		next += int64(h.clen)
		if next > r.size {
			return 0, fmt.Errorf("chunk of %d bytes runs past the end of the file", h.clen), false
		}
		r.chunks = append(r.chunks, chunkEntry{Offset: off, CLen: h.clen, ULen: h.ulen, NRec: h.nrec,
			Seq0: h.seq0, T0: h.t0, T1: h.t1})
	case magicIndex:
		cp, end, err := r.readCheckpoint(off)
		if errors.Is(err, errCheckpointBody) {
			r.rebuild = true
			return end, err, true
		}
		if err != nil {
			return 0, err, false
		}
		r.applyCheckpoint(cp, false)
		r.covered = len(r.chunks)
	case magicFooter:
		if n != footerSize {
			return 0, fmt.Errorf("footer of %d bytes", n), false
		}
		r.final = true
	case magicFileHeader:
		return 0, errors.New("a second file header"), false
	}
	return next, nil, false
}

// readError is an I/O error while reading a frame (op "read") or a chunk
// ("read chunk"): not damage, so reading stops there, as at a torn tail.
type readError struct {
	op  string
	err error
}

func (e *readError) Error() string { return e.op + ": " + e.err.Error() }
func (e *readError) Unwrap() error { return e.err }

// resyncWindow is how much of the file resync reads at a time.
const resyncWindow = 1 << 20

// resync returns the offset of the first good frame at or after from: a
// chunk whose header checksum holds and which lies inside the file, a
// checkpoint whose checksum holds, or the footer. It returns -1 when there
// is none.
func (r *Reader) resync(from int64) int64 {
	const overlap = frameHeadSize + chunkHeaderSize
	buf := make([]byte, resyncWindow+overlap)
	for at := from; at+frameHeadSize <= r.size; at += resyncWindow {
		n, err := r.ra.ReadAt(buf[:min(int64(len(buf)), r.size-at)], at)
		if err != nil && !errors.Is(err, io.EOF) {
			return -1
		}
		win := buf[:n]
		for i := 0; i+frameHeadSize <= len(win) && i < resyncWindow; i++ {
			// The magics are 0x184D2A5?; their little-endian bytes end in 2A 4D 18.
			j := indexMagic(win[i:])
			if j < 0 {
				break
			}
			i += j
			if i >= resyncWindow {
				break
			}
			if r.goodFrameAt(at+int64(i), win[i]) {
				return at + int64(i)
			}
		}
	}
	return -1
}

// indexMagic returns the index of the first 4-byte frame magic in p that
// a reader can resynchronise on (chunk, checkpoint, footer), or -1.
func indexMagic(p []byte) int {
	for i := 0; i+4 <= len(p); i++ {
		if p[i+1] == 0x2A && p[i+2] == 0x4D && p[i+3] == 0x18 && p[i] >= 0x51 && p[i] <= 0x53 {
			return i
		}
	}
	return -1
}

// goodFrameAt reports whether a chunk, a checkpoint or the footer, whose
// magic's first byte is b, starts at off and checks out.
func (r *Reader) goodFrameAt(off int64, b byte) bool {
	switch b {
	case byte(magicChunk & 0xff):
		p, err := r.readAt(frameHeadSize+chunkHeaderSize, off)
		if err != nil || binary.LittleEndian.Uint32(p[4:]) != chunkHeaderSize {
			return false
		}
		h, ok := parseChunkHeader(p[frameHeadSize:])
		return ok && off+frameHeadSize+chunkHeaderSize+int64(h.clen) <= r.size
	case byte(magicIndex & 0xff):
		_, _, err := r.readCheckpoint(off)
		return err == nil || errors.Is(err, errCheckpointBody)
	case byte(magicFooter & 0xff):
		p, err := r.readAt(frameHeadSize+footerSize, off)
		return err == nil && off+frameHeadSize+footerSize == r.size &&
			binary.LittleEndian.Uint32(p[4:]) == footerSize && string(p[16:]) == footerMagic
	}
	return false
}

// addDamage notes a damaged range, keeping the list in file order. r.mu
// is held.
func (r *Reader) addDamage(d *DamageError) {
	i, found := slices.BinarySearchFunc(r.damage, d.Offset, func(x *DamageError, off int64) int { return cmpInt(x.Offset, off) })
	if !found {
		r.damage = slices.Insert(r.damage, i, d)
	}
}

// chunkEnd is the offset just past chunk e.
func chunkEnd(e *chunkEntry) int64 {
	return e.Offset + frameHeadSize + chunkHeaderSize + int64(e.CLen)
}

// markBad notes that chunk e failed its checks when decoded, and returns
// the damage to report. A bad last chunk that nothing good follows is the
// torn tail instead, as a walk would have found it; then it returns nil.
// r.mu must not be held.
func (r *Reader) markBad(e *chunkEntry, err error) *DamageError {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.markBadLocked(e, err)
}

func (r *Reader) markBadLocked(e *chunkEntry, err error) *DamageError {
	var rerr *readError
	i, ok := r.chunkAt(e.Offset)
	if ok && (errors.As(err, &rerr) || i == len(r.chunks)-1 && !r.final && e.Offset == r.lastFrame) {
		r.tail = &TailError{Offset: e.Offset, Reason: err.Error()}
		r.scanned = e.Offset
		r.chunks = r.chunks[:i]
		r.covered = min(r.covered, i)
		r.final = false
		return nil
	}
	if r.bad == nil {
		r.bad = map[int64]bool{}
	}
	r.bad[e.Offset] = true
	d := &DamageError{Offset: e.Offset, End: chunkEnd(e), Reason: err.Error()}
	r.addDamage(d)
	return d
}

// foldUncovered reads the chunks no checkpoint covers, to learn their
// connection sets and bring the summaries up to date. r.mu is held (or
// the reader is new).
func (r *Reader) foldUncovered() {
	cur := r.cursor()
	defer r.bufs.Put(cur)
	for i := r.covered; i < len(r.chunks); i++ {
		e := &r.chunks[i]
		if r.bad[e.Offset] {
			r.covered = i + 1
			continue
		}
		cur.scratch.reset()
		unknown, err := r.decodeChunk(e, r.size, cur, &cur.scratch)
		if errors.Is(err, ErrReaderClosed) {
			return
		}
		if err != nil {
			if r.markBadLocked(e, err) == nil { // the torn tail: the chunks end here
				return
			}
			r.covered = i + 1
			continue
		}
		r.noteUnknown(e.Offset, unknown)
		conns := []ConnID{}
		prev := ConnID(0)
		for k, rec := range cur.recs {
			if c := rec.ConnID(); k == 0 || c != prev {
				if j, ok := slices.BinarySearch(conns, c); !ok {
					conns = slices.Insert(conns, j, c)
				}
				prev = c
			}
			r.fold(rec)
		}
		e.Conns = conns
		r.covered = i + 1
	}
}

// noteUnknown counts the records of unknown kinds in the chunk at off.
// r.mu is held.
func (r *Reader) noteUnknown(off int64, n int) {
	if n == 0 {
		return
	}
	if r.skipped == nil {
		r.skipped = map[int64]int{}
	}
	r.skipped[off] = n
}

// fold applies one record to the summaries.
func (r *Reader) fold(rec Record) {
	if x, ok := rec.(*HTTP); ok {
		r.http = append(r.http, summarizeHTTP(x))
		return
	}
	c := rec.ConnID()
	if c == 0 {
		return
	}
	s := r.conns[c]
	if s == nil {
		s = &ConnSummary{Conn: c}
		r.conns[c] = s
	}
	s.apply(rec)
}

func (r *Reader) cursor() *cursor {
	if c, ok := r.bufs.Get().(*cursor); ok {
		return c
	}
	return &cursor{scratch: recAlloc{transient: true}}
}

// decodeChunk reads, verifies and decodes one chunk's records into
// cur.recs (and their positions into cur.pos), taking them from a. It
// returns the number of records of unknown kinds stepped over. It touches
// no shared state of r.
func (r *Reader) decodeChunk(e *chunkEntry, size int64, cur *cursor, a *recAlloc) (int, error) {
	cur.recs, cur.pos = cur.recs[:0], cur.pos[:0]
	r.decMu.RLock() // Close waits for the read and the decode
	defer r.decMu.RUnlock()
	if r.closed {
		return 0, ErrReaderClosed
	}
	// The skippable frame's head, the chunk header (it carries the CRC,
	// which the index does not keep) and the frame, in one read. A damaged
	// index must not size the buffer.
	if e.CLen > maxFrameLen || e.Offset < 0 || chunkEnd(e) > size {
		return 0, errors.New("chunk outside the file")
	}
	n := frameHeadSize + chunkHeaderSize + int(e.CLen)
	cur.cbuf = slices.Grow(cur.cbuf[:0], n)[:n]
	if _, err := r.ra.ReadAt(cur.cbuf, e.Offset); err != nil {
		return 0, &readError{"read chunk", err}
	}
	// No checksum covers the frame head; a reader that found the chunk
	// through the index must still see what a scan would.
	magic, hsize := binary.LittleEndian.Uint32(cur.cbuf), binary.LittleEndian.Uint32(cur.cbuf[4:])
	if magic != magicChunk || hsize != chunkHeaderSize {
		return 0, fmt.Errorf("bad chunk frame head (magic %#08x, size %d)", magic, hsize)
	}
	h, ok := parseChunkHeader(cur.cbuf[frameHeadSize : frameHeadSize+chunkHeaderSize])
	if !ok || h.clen != e.CLen {
		return 0, errors.New("chunk header checksum mismatch")
	}
	frame := cur.cbuf[frameHeadSize+chunkHeaderSize:]
	if crc32c(frame) != h.crc {
		return 0, errors.New("chunk checksum mismatch")
	}
	var err error
	cur.ubuf, err = r.dec.DecodeAll(frame, cur.ubuf[:0])
	if err != nil {
		return 0, fmt.Errorf("chunk does not decompress: %w", err)
	}
	if len(cur.ubuf) != int(h.ulen) {
		return 0, fmt.Errorf("chunk decompressed to %d bytes, header says %d", len(cur.ubuf), h.ulen)
	}
	d := &cborDec{b: cur.ubuf}
	unknown := 0
	base := h.t0
	seq := h.seq0
	for ; d.more(); seq++ {
		rec, _, err := decodeRecordIn(d, a, &base)
		if err != nil {
			return 0, fmt.Errorf("record %d of chunk: %w", seq-h.seq0, err)
		}
		if rec == nil {
			unknown++
			continue
		}
		if c, ok := rec.(*Chunk); ok {
			c.seq = seq
			if c.Frame != nil {
				cur.recs, cur.pos = append(cur.recs, c.Frame), append(cur.pos, seq) // a frame's facts kept in its message's chunk
				c.Frame = nil
			}
		}
		cur.recs, cur.pos = append(cur.recs, rec), append(cur.pos, seq)
	}
	cur.disk = int(seq - h.seq0)
	return unknown, nil
}

// Filter selects records.
type Filter struct {
	Conn ConnID // only this connection's records (0: every record)
}

func (f Filter) match(rec Record) bool {
	return f.Conn == 0 || (rec.ConnID() == f.Conn && rec.Type() != KindHTTP)
}

// Records returns the records that match f, in file order. Only chunks that
// hold records of f.Conn are decoded. Damage in the middle of the file is
// yielded as a *DamageError at its place, and the sequence goes on after
// it; if the file ends in a torn tail, the last pair carries a *TailError
// after every good record; any other error ends the sequence.
func (r *Reader) Records(f Filter) iter.Seq2[Record, error] { return r.records(f, 0, false) }

// RecordsFrom is Records starting at position seq (a Message.Seq, or what
// SeekTime returned): it finds the chunk that holds seq by a binary search
// of the index and yields the records from seq on. Damage before that chunk
// is not reported.
func (r *Reader) RecordsFrom(f Filter, seq uint64) iter.Seq2[Record, error] {
	return r.records(f, seq, false)
}

// records is Records from position from. With transient set, the records
// and their payloads are valid only until the next record is requested
// from a later chunk (Summaries and message streams read that way).
func (r *Reader) records(f Filter, from uint64, transient bool) iter.Seq2[Record, error] {
	return func(yield func(Record, error) bool) {
		st := r.startAt(from)
		defer r.endWalk(st)
		for {
			more, ok := r.step(st, f, from, transient, yield)
			if !ok {
				return
			}
			if !more {
				if t := r.Tail(); t != nil {
					yield(nil, t)
				}
				return
			}
		}
	}
}

// walkState is where an iteration is: the next chunk to read, the offset
// from which damage not yet reported starts, and its decode buffers. The
// next chunks the walk will need are decoded ahead, beside it (ahead):
// decompression is most of the cost of reading, and other cores share it.
type walkState struct {
	i     int
	lo    int64
	cur   *cursor      // holds the records of the chunk being consumed
	free  []*cursor    // buffers for chunks to decode ahead
	ahead []*readAhead // in walk order
	next  int          // the index from which to look for chunks to decode ahead
}

// readAheadChunks is how many chunks a walk decodes ahead of its consumer.
const readAheadChunks = 2

// readAhead is a chunk being decoded ahead of the walk.
type readAhead struct {
	off     int64
	cur     *cursor
	unknown int
	err     error
	done    chan struct{}
}

// startAt returns the state that begins at the chunk holding position seq.
func (r *Reader) startAt(seq uint64) *walkState {
	st := &walkState{cur: r.cursor()}
	for range readAheadChunks {
		st.free = append(st.free, r.cursor())
	}
	if seq == 0 {
		return st
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	st.i = sort.Search(len(r.chunks), func(i int) bool { return r.chunks[i].Seq0+uint64(r.chunks[i].NRec) > seq })
	st.next = st.i
	st.lo = r.size
	if st.i < len(r.chunks) {
		st.lo = r.chunks[st.i].Offset
	}
	return st
}

// endWalk waits for the chunks decoded ahead and returns the buffers.
func (r *Reader) endWalk(st *walkState) {
	for _, p := range st.ahead {
		<-p.done
		st.free = append(st.free, p.cur)
	}
	r.bufs.Put(st.cur)
	for _, c := range st.free {
		r.bufs.Put(c)
	}
}

// wanted reports whether a walk for f from position from reads chunk e.
// r.mu is held.
func (r *Reader) wanted(e *chunkEntry, f Filter, from uint64) bool {
	return !r.bad[e.Offset] && (f.Conn == 0 || e.has(f.Conn)) && e.Seq0+uint64(e.NRec) > from
}

func allocFor(cur *cursor, transient bool) *recAlloc {
	if transient {
		cur.scratch.reset()
		return &cur.scratch
	}
	return &cur.keep
}

// decodeAhead starts decoding the next chunks the walk will read, as
// many as it has free buffers for.
func (r *Reader) decodeAhead(st *walkState, f Filter, from uint64, transient bool) {
	if len(st.free) == 0 {
		return
	}
	r.mu.RLock()
	st.next = max(st.next, st.i)
	var es []chunkEntry
	for ; st.next < len(r.chunks) && len(es) < len(st.free); st.next++ {
		if r.wanted(&r.chunks[st.next], f, from) {
			es = append(es, r.chunks[st.next])
		}
	}
	size := r.size
	r.mu.RUnlock()
	for _, e := range es {
		c := st.free[len(st.free)-1]
		st.free = st.free[:len(st.free)-1]
		p := &readAhead{off: e.Offset, cur: c, done: make(chan struct{})}
		st.ahead = append(st.ahead, p)
		go func() {
			defer close(p.done)
			p.unknown, p.err = r.decodeChunk(&e, size, c, allocFor(c, transient))
		}()
	}
}

// step reads the next chunk of the walk and yields its records that match
// f from position from, after the damage that precedes it. more is false
// when no chunk is left (for now: a file being written may grow); ok is
// false when the consumer stopped.
func (r *Reader) step(st *walkState, f Filter, from uint64, transient bool,
	yield func(Record, error) bool) (more, ok bool) {
	r.mu.RLock()
	var e chunkEntry
	more = st.i < len(r.chunks)
	hi := int64(1<<63 - 1)
	if more {
		e = r.chunks[st.i]
		hi = e.Offset
	}
	var dmg []*DamageError
	for _, d := range r.damage {
		if d.Offset >= st.lo && d.Offset <= hi {
			dmg = append(dmg, d)
		}
	}
	skip := more && !r.wanted(&e, f, from)
	size := r.size
	r.mu.RUnlock()
	for _, d := range dmg {
		if !yield(nil, d) {
			return more, false
		}
	}
	if !more {
		if len(dmg) > 0 {
			st.lo = dmg[len(dmg)-1].Offset + 1
		}
		return false, true
	}
	st.i++
	st.lo = e.Offset + 1
	if skip {
		return true, true
	}
	// The consumer is done with the previous chunk's records: its buffers
	// may be decoded into again.
	var unknown int
	var err error
	decoded := false
	for len(st.ahead) > 0 && !decoded {
		p := st.ahead[0]
		st.ahead = st.ahead[1:]
		<-p.done
		if p.off == e.Offset {
			st.free = append(st.free, st.cur)
			st.cur, unknown, err, decoded = p.cur, p.unknown, p.err, true
		} else { // decoded ahead for nothing (the index changed under the walk)
			st.free = append(st.free, p.cur)
		}
	}
	if !decoded {
		st.next = st.i // (st.i is already past e)
		unknown, err = r.decodeChunk(&e, size, st.cur, allocFor(st.cur, transient))
	}
	cur := st.cur
	r.decodeAhead(st, f, from, transient) // cur is not among the free buffers: its records stay valid
	if errors.Is(err, ErrReaderClosed) {
		yield(nil, err)
		return false, false
	}
	if err != nil {
		d := r.markBad(&e, err)
		if d == nil { // it was the torn tail
			return false, true
		}
		return true, yield(nil, d)
	}
	if unknown > 0 {
		r.mu.Lock()
		r.noteUnknown(e.Offset, unknown)
		r.mu.Unlock()
	}
	for k, rec := range cur.recs {
		if cur.pos[k] >= from && f.match(rec) && !yield(rec, nil) {
			return true, false
		}
	}
	return true, true
}

// SeekTime returns the position of the first record at or after t, found
// by a binary search over the chunks' first and last times and a read of
// one chunk: RecordsFrom(f, SeekTime(t)) starts there. Record times rise
// through a file (records are appended as the proxy observes them); past
// the last record it returns RecordCount().
func (r *Reader) SeekTime(t time.Time) uint64 {
	ns := t.UnixNano()
	r.mu.RLock()
	i := sort.Search(len(r.chunks), func(i int) bool { return r.chunks[i].T1 >= ns })
	r.mu.RUnlock()
	cur := r.cursor()
	defer r.bufs.Put(cur)
	for ; ; i++ {
		r.mu.RLock()
		if i >= len(r.chunks) {
			r.mu.RUnlock()
			break
		}
		e, size := r.chunks[i], r.size
		r.mu.RUnlock()
		cur.scratch.reset()
		if _, err := r.decodeChunk(&e, size, cur, &cur.scratch); err != nil {
			continue // damaged: the next chunk is the first that can be read
		}
		for k, rec := range cur.recs {
			if !rec.At().Before(t) {
				return cur.pos[k]
			}
		}
	}
	return r.RecordCount()
}

// Refresh looks for data appended since the reader last looked (a file
// that a writer is still writing) and loads its index. It reports whether
// new chunks arrived.
func (r *Reader) Refresh() (bool, error) {
	if r.file == nil {
		return false, nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.final {
		return false, nil
	}
	fi, err := r.file.Stat()
	if err != nil {
		return false, fmt.Errorf("capture: %w", err)
	}
	if fi.Size() == r.size && r.tail == nil {
		return false, nil
	}
	before := len(r.chunks)
	r.size = fi.Size()
	r.scan()
	r.foldUncovered()
	return len(r.chunks) > before || r.final, nil
}

// Follow is Records for a file that is still being written, like tail -f:
// after the last complete chunk it polls every interval (default 100ms) for
// more, until the writer closes the file or ctx is done. An incomplete chunk
// at the end is taken for a write in progress, not reported as a torn tail.
func (r *Reader) Follow(ctx context.Context, f Filter, interval time.Duration) iter.Seq2[Record, error] {
	return r.FollowFrom(ctx, f, 0, interval)
}

// FollowFrom is Follow starting at position seq, as RecordsFrom does.
func (r *Reader) FollowFrom(ctx context.Context, f Filter, seq uint64, interval time.Duration) iter.Seq2[Record, error] {
	if interval <= 0 {
		interval = 100 * time.Millisecond
	}
	return func(yield func(Record, error) bool) {
		st := r.startAt(seq)
		defer r.endWalk(st)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			more, ok := r.step(st, f, seq, false, yield)
			if !ok {
				return
			}
			if more {
				continue
			}
			if r.Complete() {
				return
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			if _, err := r.Refresh(); err != nil {
				yield(nil, err)
				return
			}
		}
	}
}

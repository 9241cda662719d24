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
	"time"

	"github.com/klauspost/compress/zstd"
)

// Reader reads a capture file: its connection list from the index, and its
// records in order, for all connections or for one.
//
// A Reader is not safe for concurrent use; open one per goroutine.
type Reader struct {
	ra     io.ReaderAt
	file   *os.File // nil when reading from a plain io.ReaderAt
	size   int64
	hdr    Header
	hdrEnd int64

	chunks  []chunkEntry
	covered int                     // chunks[:covered] have known connection sets
	conns   map[ConnID]*ConnSummary // summaries, newest state
	http    []HTTPSummary
	final   bool          // the footer was seen: the writer closed the file
	scanned int64         // offset up to which frames are known to be good
	tail    *TailError    // bad or incomplete data at scanned, if any
	skipped map[int64]int // records of unknown kinds stepped over, by chunk offset

	dec     *zstd.Decoder
	cbuf    []byte   // chunk frame head, chunk header and compressed chunk
	ubuf    []byte   // decompressed chunk
	keep    recAlloc // records handed to the caller
	scratch recAlloc // records folded and dropped (transient)
	recs    []Record // foldUncovered's records of one chunk
}

// Open opens the capture at path and loads its index: from the footer of a
// cleanly closed file, or by hopping chunk headers otherwise. A torn tail is
// not an error here; see Reader.Tail.
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
	r, err := newReader(f, fi.Size())
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("open capture %s: %w", path, err)
	}
	r.file = f
	return r, nil
}

// NewReader reads a capture of the given size from ra.
func NewReader(ra io.ReaderAt, size int64) (*Reader, error) { return newReader(ra, size) }

func newReader(ra io.ReaderAt, size int64) (*Reader, error) {
	dec, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(maxFrameLen))
	if err != nil {
		return nil, err
	}
	r := &Reader{ra: ra, size: size, conns: map[ConnID]*ConnSummary{}, dec: dec}
	if err := r.readHeader(); err != nil {
		dec.Close()
		return nil, err
	}
	r.scanned = r.hdrEnd
	if !r.loadFromFooter() {
		r.reset()
		r.scan()
	}
	r.foldUncovered()
	return r, nil
}

// Close releases the reader's file and decoder.
func (r *Reader) Close() error {
	r.dec.Close()
	if r.file != nil {
		return r.file.Close()
	}
	return nil
}

// Header returns the file header.
func (r *Reader) Header() Header { return r.hdr }

// Complete reports whether the writer closed the file cleanly.
func (r *Reader) Complete() bool { return r.final }

// Tail returns a *TailError (matching ErrTornTail) when the file ends in
// incomplete or corrupt data, and nil otherwise. Everything before the
// error's offset is readable.
func (r *Reader) Tail() error {
	if r.tail == nil {
		return nil
	}
	return r.tail
}

// Skipped returns how many records of kinds this version does not know were
// stepped over in the chunks read so far. Each is counted once, however
// often its chunk is read.
func (r *Reader) Skipped() int {
	n := 0
	for _, k := range r.skipped {
		n += k
	}
	return n
}

// Conns returns the summaries of all connections, in ID order.
func (r *Reader) Conns() []ConnSummary {
	out := make([]ConnSummary, 0, len(r.conns))
	for _, s := range r.conns {
		out = append(out, *s)
	}
	slices.SortFunc(out, func(a, b ConnSummary) int { return cmpInt(a.Conn, b.Conn) })
	return out
}

// Conn returns the summary of one connection.
func (r *Reader) Conn(id ConnID) (ConnSummary, bool) {
	s, ok := r.conns[id]
	if !ok {
		return ConnSummary{}, false
	}
	return *s, true
}

// HTTP returns the summaries of all plain HTTP exchanges, in ID order.
func (r *Reader) HTTP() []HTTPSummary { return slices.Clone(r.http) }

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
	r.chunks, r.covered, r.http, r.final = nil, 0, nil, false
	r.conns = map[ConnID]*ConnSummary{}
	r.scanned, r.tail = r.hdrEnd, nil
}

// loadFromFooter loads the index of a cleanly closed file by following the
// checkpoint chain back from the footer. It reports false when the file has
// no valid footer or the chain is damaged, and the caller scans instead.
func (r *Reader) loadFromFooter() bool {
	const tailLen = frameHeadSize + footerSize
	if r.size < r.hdrEnd+tailLen {
		return false
	}
	p, err := r.readAt(tailLen, r.size-tailLen)
	if err != nil || binary.LittleEndian.Uint32(p) != magicFooter ||
		binary.LittleEndian.Uint32(p[4:]) != footerSize || string(p[16:]) != footerMagic {
		return false
	}
	var cps []*checkpoint
	limit := r.size - tailLen
	for off := int64(binary.LittleEndian.Uint64(p[8:])); off >= 0; {
		if off < r.hdrEnd || off >= limit {
			return false
		}
		cp, end, err := r.readCheckpoint(off)
		if err != nil || end > limit || (len(cps) == 0 && !cp.Final) {
			return false
		}
		cps = append(cps, cp)
		limit, off = off, cp.Prev
	}
	slices.Reverse(cps)
	for _, cp := range cps {
		r.applyCheckpoint(cp)
	}
	r.covered = len(r.chunks)
	r.final = true
	r.scanned = r.size
	return true
}

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
		return nil, 0, fmt.Errorf("checkpoint: %w", err)
	}
	return &cp, off + frameHeadSize + n, nil
}

func (r *Reader) applyCheckpoint(cp *checkpoint) {
	for _, e := range cp.Chunks {
		if e.Conns == nil {
			e.Conns = []ConnID{}
		}
		if i, ok := r.chunkAt(e.Offset); ok {
			r.chunks[i].Conns = e.Conns
		} else {
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

// scan walks frame headers from r.scanned to the end of the file, recording
// chunks and applying checkpoints. It stops at the first frame that is short,
// zeroed or fails its header checksum, and notes it in r.tail.
func (r *Reader) scan() {
	r.tail = nil
	for off := r.scanned; off < r.size; off = r.scanned {
		torn := func(format string, a ...any) { r.tail = &TailError{Offset: off, Reason: fmt.Sprintf(format, a...)} }
		if r.final {
			torn("data after the footer")
			return
		}
		if r.size-off < frameHeadSize {
			torn("short frame header (%d bytes)", r.size-off)
			return
		}
		head, err := r.readAt(frameHeadSize, off)
		if err != nil {
			torn("read: %v", err)
			return
		}
		magic, n := binary.LittleEndian.Uint32(head), int64(binary.LittleEndian.Uint32(head[4:]))
		switch {
		case magic == 0 && n == 0:
			torn("zero-filled tail")
			return
		case magic&magicSkipMask != magicFileHeader:
			torn("unknown frame magic %#08x", magic)
			return
		case off+frameHeadSize+n > r.size:
			torn("frame of %d bytes runs past the end of the file", n)
			return
		}
		next := off + frameHeadSize + n
		switch magic {
		case magicChunk:
			p, err := r.readAt(int(min(n, chunkHeaderSize+1)), off+frameHeadSize)
			if err != nil {
				torn("read: %v", err)
				return
			}
			h, ok := parseChunkHeader(p)
			if !ok {
				torn("chunk header checksum mismatch")
				return
			}
			next += int64(h.clen)
			if next > r.size {
				torn("chunk of %d bytes runs past the end of the file", h.clen)
				return
			}
			r.chunks = append(r.chunks, chunkEntry{Offset: off, CLen: h.clen, ULen: h.ulen, NRec: h.nrec,
				Seq0: h.seq0, T0: h.t0, T1: h.t1})
		case magicIndex:
			cp, _, err := r.readCheckpoint(off)
			if err != nil {
				torn("%v", err)
				return
			}
			r.applyCheckpoint(cp)
			r.covered = len(r.chunks)
		case magicFooter:
			r.final = true
		}
		r.scanned = next
	}
}

// foldUncovered reads the chunks no checkpoint covers, to learn their
// connection sets and bring the summaries up to date. A chunk that fails to
// decode becomes the torn tail.
func (r *Reader) foldUncovered() {
	r.scratch.transient = true
	for i := r.covered; i < len(r.chunks); i++ {
		e := &r.chunks[i]
		r.scratch.reset()
		recs, err := r.decodeChunk(e, &r.scratch, r.recs[:0])
		if err != nil {
			r.truncate(i, err)
			return
		}
		r.recs = recs
		conns := []ConnID{}
		prev := ConnID(0)
		for k, rec := range recs {
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

// truncate drops chunks[i:] after chunk i failed to decode.
func (r *Reader) truncate(i int, err error) {
	r.tail = &TailError{Offset: r.chunks[i].Offset, Reason: err.Error()}
	r.scanned = r.chunks[i].Offset
	r.chunks = r.chunks[:i]
	r.final = false
}

// readChunk reads, verifies and decodes one chunk's records.
func (r *Reader) readChunk(e *chunkEntry) ([]Record, error) {
	return r.decodeChunk(e, &r.keep, nil)
}

// decodeChunk reads, verifies and decodes one chunk's records, taking them
// from a and appending them to recs (a new slice when nil).
func (r *Reader) decodeChunk(e *chunkEntry, a *recAlloc, recs []Record) ([]Record, error) {
	// The skippable frame's head, the chunk header (it carries the CRC,
	// which the index does not keep) and the frame, in one read. A damaged
	// index must not size the buffer.
	if e.CLen > maxFrameLen || e.Offset < 0 || e.Offset+frameHeadSize+chunkHeaderSize+int64(e.CLen) > r.size {
		return nil, errors.New("chunk outside the file")
	}
	n := frameHeadSize + chunkHeaderSize + int(e.CLen)
	r.cbuf = slices.Grow(r.cbuf[:0], n)[:n]
	if _, err := r.ra.ReadAt(r.cbuf, e.Offset); err != nil {
		return nil, fmt.Errorf("read chunk: %w", err)
	}
	// No checksum covers the frame head; a reader that found the chunk
	// through the index must still see what a scan would.
	magic, size := binary.LittleEndian.Uint32(r.cbuf), binary.LittleEndian.Uint32(r.cbuf[4:])
	if magic != magicChunk || size != chunkHeaderSize {
		return nil, fmt.Errorf("bad chunk frame head (magic %#08x, size %d)", magic, size)
	}
	h, ok := parseChunkHeader(r.cbuf[frameHeadSize : frameHeadSize+chunkHeaderSize])
	if !ok || h.clen != e.CLen {
		return nil, errors.New("chunk header checksum mismatch")
	}
	frame := r.cbuf[frameHeadSize+chunkHeaderSize:]
	if crc32c(frame) != h.crc {
		return nil, errors.New("chunk checksum mismatch")
	}
	var err error
	r.ubuf, err = r.dec.DecodeAll(frame, r.ubuf[:0])
	if err != nil {
		return nil, fmt.Errorf("chunk does not decompress: %w", err)
	}
	if len(r.ubuf) != int(h.ulen) {
		return nil, fmt.Errorf("chunk decompressed to %d bytes, header says %d", len(r.ubuf), h.ulen)
	}
	if recs == nil {
		recs = make([]Record, 0, min(int(h.nrec), len(r.ubuf)/4)) // a record takes at least 4 bytes
	}
	d := &cborDec{b: r.ubuf}
	unknown := 0
	base := h.t0
	for d.more() {
		rec, _, err := decodeRecordIn(d, a, &base)
		if err != nil {
			return nil, fmt.Errorf("record %d of chunk: %w", len(recs), err)
		}
		if rec == nil {
			unknown++
			continue
		}
		if c, ok := rec.(*Chunk); ok && c.Frame != nil {
			recs = append(recs, c.Frame) // a frame's facts kept in its message's chunk
			c.Frame = nil
		}
		recs = append(recs, rec)
	}
	if unknown > 0 {
		if r.skipped == nil {
			r.skipped = map[int64]int{}
		}
		r.skipped[e.Offset] = unknown
	}
	return recs, nil
}

// Filter selects records.
type Filter struct {
	Conn ConnID // only this connection's records (0: every record)
}

func (f Filter) match(rec Record) bool {
	return f.Conn == 0 || (rec.ConnID() == f.Conn && rec.Type() != KindHTTP)
}

// Records returns the records that match f, in file order. Only chunks that
// hold records of f.Conn are decoded. If the file ends in a torn tail, the
// last pair carries a *TailError after every good record; any other error
// ends the sequence.
func (r *Reader) Records(f Filter) iter.Seq2[Record, error] {
	return func(yield func(Record, error) bool) {
		for i := 0; ; i++ {
			if i >= len(r.chunks) {
				if r.tail != nil {
					yield(nil, r.tail)
				}
				return
			}
			if !r.yieldChunk(i, f, yield) {
				return
			}
		}
	}
}

// yieldChunk decodes chunk i and yields its matching records. It returns
// false when the consumer stopped or the chunk turned out bad (which then
// becomes the tail, and is yielded).
func (r *Reader) yieldChunk(i int, f Filter, yield func(Record, error) bool) bool {
	e := r.chunks[i]
	if f.Conn != 0 && !e.has(f.Conn) {
		return true
	}
	recs, err := r.readChunk(&e)
	if err != nil {
		r.truncate(i, err)
		yield(nil, r.tail)
		return false
	}
	for _, rec := range recs {
		if f.match(rec) && !yield(rec, nil) {
			return false
		}
	}
	return true
}

// Refresh looks for data appended since the reader last looked (a file
// that a writer is still writing) and loads its index. It reports whether
// new chunks arrived.
func (r *Reader) Refresh() (bool, error) {
	if r.file == nil || r.final {
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
	if interval <= 0 {
		interval = 100 * time.Millisecond
	}
	return func(yield func(Record, error) bool) {
		t := time.NewTicker(interval)
		defer t.Stop()
		for i := 0; ; {
			for ; i < len(r.chunks); i++ {
				if !r.yieldChunk(i, f, yield) {
					return
				}
			}
			if r.final {
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

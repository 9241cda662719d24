package capture

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
)

// fuzzFixtures returns the capture fixtures in testdata, the seeds of every
// fuzz target here.
func fuzzFixtures(f *testing.F) [][]byte {
	f.Helper()
	paths, err := filepath.Glob("testdata/*.wstap")
	if err != nil {
		f.Fatal(err)
	}
	var out [][]byte
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		out = append(out, data)
	}
	if len(out) == 0 {
		f.Fatal("no fixtures in testdata")
	}
	return out
}

// frames calls fn for each well-formed skippable frame of a capture, with its
// magic, its offset and its payload, and for a chunk also its zstd frame.
func frames(data []byte, fn func(magic uint32, off int, payload, zframe []byte)) {
	for off := 0; off+frameHeadSize <= len(data); {
		magic := binary.LittleEndian.Uint32(data[off:])
		n := int(binary.LittleEndian.Uint32(data[off+4:]))
		end := off + frameHeadSize + n
		if magic&magicSkipMask != magicFileHeader || n < 0 || end > len(data) || end < off {
			return
		}
		payload := data[off+frameHeadSize : end]
		var zframe []byte
		if magic == magicChunk && n == chunkHeaderSize {
			clen := int(binary.LittleEndian.Uint32(payload))
			if clen > len(data)-end {
				fn(magic, off, payload, nil)
				return
			}
			zframe = data[end : end+clen]
			end += clen
		}
		fn(magic, off, payload, zframe)
		off = end
	}
}

// fixChecksums recomputes every checksum of a mutated capture, so that the
// fuzzer gets past them into the index and the records.
func fixChecksums(data []byte) []byte {
	data = bytes.Clone(data)
	frames(data, func(magic uint32, off int, p, zframe []byte) {
		switch magic {
		case magicFileHeader:
			if len(p) >= 16 {
				binary.LittleEndian.PutUint32(p[12:], crc32c(p[16:]))
			}
		case magicChunk:
			if len(p) == chunkHeaderSize {
				if zframe != nil {
					binary.LittleEndian.PutUint32(p[8:], crc32c(zframe))
				}
				binary.LittleEndian.PutUint32(p[40:], crc32c(p[:40]))
			}
		case magicIndex:
			if len(p) >= 4 {
				binary.LittleEndian.PutUint32(p, crc32c(p[4:]))
			}
		}
	})
	return data
}

// rawChunks returns the decompressed record streams of a capture's chunks.
func rawChunks(tb testing.TB, data []byte) [][]byte {
	dec, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1))
	if err != nil {
		tb.Fatal(err)
	}
	defer dec.Close()
	var out [][]byte
	frames(data, func(magic uint32, _ int, _, zframe []byte) {
		if magic == magicChunk && zframe != nil {
			if raw, err := dec.DecodeAll(zframe, nil); err == nil {
				out = append(out, raw)
			}
		}
	})
	return out
}

func FuzzRecordReader(f *testing.F) {
	for _, data := range fuzzFixtures(f) {
		for _, raw := range rawChunks(f, data) {
			f.Add(raw)
		}
	}
	for _, r := range sampleRecords() {
		b, err := appendRecord(nil, r, 0)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte{0x83, 0x18, 0x63, 0x01, 0x00})                      // [99, 1, 0]: an unknown kind
	f.Add([]byte{0x86, 0x07, 0x01, 0x00, 0x60, 0xf6, 0x80})          // an end with two extra elements
	f.Add([]byte{0x84, 0x01, 0x01, 0x00, 0xa1, 0x63, 'u', 'r', 'l'}) // an open whose body is cut
	f.Fuzz(func(t *testing.T, data []byte) {
		d := &cborDec{b: data}
		for n := 0; d.more(); n++ {
			start := d.off
			rec, kind, err := decodeRecord(d)
			if err != nil {
				return
			}
			if d.off <= start {
				t.Fatalf("record %d: decodeRecord made no progress at offset %d", n, start)
			}
			// The reader's allocators decode the same record.
			for _, a := range []*recAlloc{{}, {transient: true}} {
				d2 := &cborDec{b: data[start:d.off]}
				rec2, kind2, err2 := decodeRecordIn(d2, a, new(int64))
				if err2 != nil || kind2 != kind || !reflect.DeepEqual(rec2, rec) || d2.more() {
					t.Fatalf("record %d: decodeRecordIn(transient %v) = %#v, %v, %v; decodeRecord = %#v, %v", n,
						a.transient, rec2, kind2, err2, rec, kind)
				}
			}
			if rec == nil {
				if fieldCount(uint64(kind)) != 0 {
					t.Fatalf("record %d: no record for known kind %v", n, kind)
				}
				continue
			}
			if rec.Type() != kind {
				t.Fatalf("record %d: kind %v for a %T", n, kind, rec)
			}
			enc, err := appendRecord(nil, rec, 0)
			if err != nil {
				t.Fatalf("record %d: %#v decodes but does not encode: %v", n, rec, err)
			}
			d3 := &cborDec{b: enc}
			again, kind3, err := decodeRecord(d3)
			if err != nil || kind3 != kind || d3.more() {
				t.Fatalf("record %d: re-encoded %#v (% x) decodes to %#v, %v, %v", n, rec, enc, again, kind3, err)
			}
			if want := normalized(rec); !reflect.DeepEqual(normalized(again), want) {
				t.Fatalf("record %d: encode∘decode changed it:\n got %#v\nwant %#v", n, normalized(again), want)
			}
		}
	})
}

// normalized is r as encoding it and decoding it again yields: text made
// valid UTF-8, empty maps and slices nil, times in UTC.
func normalized(r Record) Record {
	utc := func(t time.Time) time.Time {
		if t.IsZero() {
			return time.Time{}
		}
		return t.UTC()
	}
	bytesOrNil := func(p []byte) []byte {
		if len(p) == 0 {
			return nil
		}
		return p
	}
	header := func(h http.Header) http.Header {
		m := headerMap(h)
		if m == nil {
			return nil
		}
		return http.Header(m)
	}
	tls := func(x *TLSInfo) *TLSInfo {
		if x == nil {
			return nil
		}
		y := *x
		y.Chain = nil
		for _, c := range x.Chain {
			c.NotAfter = utc(c.NotAfter)
			y.Chain = append(y.Chain, c)
		}
		return &y
	}
	switch r := r.(type) {
	case *ConnOpen:
		x := *r
		x.URL, x.Subprotocol, x.Extensions = validText(x.URL), validText(x.Subprotocol), validText(x.Extensions)
		x.RequestHeaders, x.ResponseHeaders = header(x.RequestHeaders), header(x.ResponseHeaders)
		x.ResponseBody = bytesOrNil(x.ResponseBody)
		x.ClientTLS, x.ServerTLS = tls(x.ClientTLS), tls(x.ServerTLS)
		return &x
	case *HTTP:
		x := *r
		x.Method, x.URL, x.Error = validText(x.Method), validText(x.URL), validText(x.Error)
		x.RequestHeaders, x.ResponseHeaders = header(x.RequestHeaders), header(x.ResponseHeaders)
		x.RequestBody, x.ResponseBody = bytesOrNil(x.RequestBody), bytesOrNil(x.ResponseBody)
		return &x
	case *Event:
		x := *r
		x.Kind, x.Detail = validText(x.Kind), validText(x.Detail)
		return &x
	case *End:
		x := *r
		x.Error = validText(x.Error)
		return &x
	case *Chunk:
		x := *r
		x.Data = bytesOrNil(x.Data)
		return &x
	}
	return r
}

func FuzzChunkHeader(f *testing.F) {
	for _, data := range fuzzFixtures(f) {
		frames(data, func(magic uint32, _ int, p, _ []byte) {
			if magic == magicChunk {
				f.Add(bytes.Clone(p))
			}
		})
	}
	f.Add(chunkHeader{clen: maxFrameLen, ulen: maxFrameLen + 1, nrec: 1 << 31, t0: -1, t1: 1 << 62}.append(nil)[frameHeadSize:])
	f.Fuzz(func(t *testing.T, p []byte) {
		if h, ok := parseChunkHeader(p); ok {
			if out := h.append(nil); !bytes.Equal(out[frameHeadSize:], p) {
				t.Fatalf("parseChunkHeader(% x) = %+v, which encodes as % x", p, h, out[frameHeadSize:])
			}
		}
		if len(p) < 40 {
			return
		}
		// The same fields behind a valid checksum parse whenever the
		// lengths are in bounds, and round-trip.
		q := binary.LittleEndian.AppendUint32(bytes.Clone(p[:40]), crc32c(p[:40]))
		h, ok := parseChunkHeader(q)
		inBounds := binary.LittleEndian.Uint32(q) <= maxFrameLen && binary.LittleEndian.Uint32(q[4:]) <= maxFrameLen
		if ok != inBounds {
			t.Fatalf("parseChunkHeader(% x) ok = %v, want %v", q, ok, inBounds)
		}
		if ok {
			out := h.append(nil)
			if binary.LittleEndian.Uint32(out) != magicChunk || binary.LittleEndian.Uint32(out[4:]) != chunkHeaderSize ||
				!bytes.Equal(out[frameHeadSize:], q) {
				t.Fatalf("parseChunkHeader(% x) = %+v, which encodes as % x", q, h, out)
			}
		}
	})
}

func FuzzReader(f *testing.F) {
	for _, data := range fuzzFixtures(f) {
		f.Add(data, false)
		f.Add(data, true)
	}
	path := filepath.Join(f.TempDir(), "seed.wstap")
	w := writeAll(f, path, sampleRecords(), Options{})
	if err := w.Close(); err != nil {
		f.Fatal(err)
	}
	small, err := os.ReadFile(path)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(small, false)
	f.Add(small, true)
	f.Fuzz(func(t *testing.T, data []byte, fix bool) {
		if fix {
			data = fixChecksums(data)
		}
		var before runtime.MemStats
		runtime.ReadMemStats(&before)
		readFuzzed(t, data, !fix)
		var after runtime.MemStats
		runtime.ReadMemStats(&after)
		// A chunk may legitimately decompress to maxFrameLen; anything
		// beyond a few of those came from trusting a damaged length.
		if grew := after.TotalAlloc - before.TotalAlloc; grew > 4*maxFrameLen+uint64(len(data))*64 {
			t.Fatalf("reading %d bytes allocated %d MiB", len(data), grew>>20)
		}
	})
}

// readFuzzed reads a capture every way a user can, checking invariants that
// hold for any input. A file whose checksums were forged may have an index
// that lies about which chunks hold a connection; strict is false for it.
func readFuzzed(t *testing.T, data []byte, strict bool) {
	r, err := NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return
	}
	defer r.Close()
	_ = r.Header()
	conns := r.Conns()
	_ = r.HTTP()
	if tail := r.Tail(); tail != nil {
		var te *TailError
		if !asTail(tail, &te) || te.Offset < 0 || te.Offset > int64(len(data)) {
			t.Fatalf("Tail() = %v, want a *TailError inside the file", tail)
		}
	}
	tails := 0
	lastDamage := int64(-1)
	for rec, err := range r.Records(Filter{}) {
		if err != nil {
			var te *TailError
			var de *DamageError
			switch {
			case asTail(err, &te):
				tails++
			case errors.As(err, &de):
				if de.Offset <= lastDamage || de.Offset < 0 || de.End > int64(len(data)) || de.End < de.Offset {
					t.Fatalf("Records yielded %v after damage at %d, in a file of %d bytes", err, lastDamage, len(data))
				}
				lastDamage = de.Offset
			default:
				t.Fatalf("Records yielded %v, want only a *DamageError or a *TailError", err)
			}
			continue
		}
		if tails > 0 {
			t.Fatal("Records yielded a record after the torn tail")
		}
		if rec == nil {
			t.Fatal("Records yielded a nil record")
		}
	}
	if tails > 1 {
		t.Fatalf("Records yielded %d torn tails", tails)
	}
	rep, err := Verify(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatalf("Verify of a file NewReader opened = %v", err)
	}
	if rep.Intact() && (tails > 0 || lastDamage >= 0) {
		t.Fatalf("Verify says intact, but Records met damage or a torn tail")
	}
	nsum := 0
	for m, err := range r.Summaries(Filter{}) {
		if err == nil {
			if len(m.Data) > SummaryPrefix || int64(len(m.Data)) > m.Size {
				t.Fatalf("summary with %d bytes of data for size %d", len(m.Data), m.Size)
			}
			nsum++
		}
	}
	var msgs []*Message
	for rec, err := range r.Messages(Filter{}, AssembleOptions{MaxData: 64, Frames: true}) {
		if m, ok := rec.(*Message); ok && err == nil {
			if m.Cut && len(m.Data) != 64 || int64(len(m.Data)) > m.Size {
				t.Fatalf("message %+v: %d bytes of data for size %d, cut %v", m, len(m.Data), m.Size, m.Cut)
			}
			msgs = append(msgs, m)
		}
	}
	if nsum != len(msgs) {
		t.Fatalf("Summaries yielded %d messages, Messages %d", nsum, len(msgs))
	}
	for i, c := range conns {
		if i == 4 {
			break
		}
		for range r.Records(Filter{Conn: c.Conn}) {
		}
	}
	for i, m := range msgs {
		if i == 4 {
			break
		}
		if rc, err := r.OpenMessage(m); err == nil {
			buf := make([]byte, 4096)
			total := int64(0)
			for {
				k, err := rc.Read(buf)
				total += int64(k)
				if err != nil {
					break
				}
			}
			rc.Close()
			if strict && !m.Incomplete && total != m.Size && r.Tail() == nil {
				t.Fatalf("OpenMessage(%d/%d) streamed %d of %d bytes", m.Conn, m.Index, total, m.Size)
			}
		}
	}
}

func asTail(err error, te **TailError) bool {
	e, ok := err.(*TailError)
	if ok {
		*te = e
	}
	return ok && e.Is(ErrTornTail)
}

// TestReaderDistrustsIndex: a checkpoint with a valid checksum but a chunk
// entry of absurd length or place (a damaged or hostile file) must not size a
// buffer: the reader distrusts the index, walks the frames instead, and reads
// every record without allocating gigabytes.
func TestReaderDistrustsIndex(t *testing.T) {
	v1 := readFixture(t, fixtureV1)
	last := int64(leUint64(v1[len(v1)-footerSize:])) // the final checkpoint
	r, err := NewReader(bytes.NewReader(v1), int64(len(v1)))
	if err != nil {
		t.Fatal(err)
	}
	cp, end, err := r.readCheckpoint(last)
	r.Close()
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []chunkEntry{
		{Offset: last - 100, CLen: 1 << 31, NRec: 1, Conns: []ConnID{1}},
		{Offset: -1 << 40, CLen: 10, NRec: 1, Conns: []ConnID{1}},
		{Offset: 1 << 40, CLen: maxFrameLen, NRec: 1 << 30, Conns: []ConnID{1}},
	} {
		lying := *cp
		lying.Chunks = []chunkEntry{bad}
		body, err := encMode.Marshal(lying)
		if err != nil {
			t.Fatal(err)
		}
		var crc [4]byte
		binary.LittleEndian.PutUint32(crc[:], crc32c(body))
		data := appendSkippable(bytes.Clone(v1[:last]), magicIndex, crc[:], body)
		data = append(data, v1[end:]...) // the footer, which names the same offset
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		r, err := NewReader(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			t.Fatal(err)
		}
		var rerr error
		n := 0
		for _, err := range r.Records(Filter{}) {
			if err != nil {
				rerr = err
			}
			n++
		}
		r.Close()
		runtime.ReadMemStats(&after)
		if want := len(fixtureRecords()); rerr != nil || n != want {
			t.Errorf("chunk entry %+v: Records yielded %d records and %v, want %d and no error", bad, n, rerr, want)
		}
		if grew := after.TotalAlloc - before.TotalAlloc; grew > 16<<20 {
			t.Errorf("chunk entry %+v: reading allocated %d MiB", bad, grew>>20)
		}
	}
}

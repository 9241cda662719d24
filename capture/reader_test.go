package capture

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// fixtureBefore returns the records of v1.wstap's chunks before chunk i.
func fixtureBefore(i int) []Record {
	var out []Record
	for _, g := range fixtureGroups()[:i] {
		out = append(out, g...)
	}
	return out
}

// tailReason returns the reason of a *TailError, or "" for another error.
func tailReason(err error) string {
	var te *TailError
	if errors.As(err, &te) {
		return te.Reason
	}
	return ""
}

// TestChunkFrameHeadChecked: in a closed capture the reader finds chunks
// through the index, not by hopping frame heads; a damaged head (no checksum
// covers its 8 bytes) must still make the chunk a damaged one, at the
// chunk's offset, as it does for a reader that walks the frames. Either
// way the reader reads on after it (issue 7).
func TestChunkFrameHeadChecked(t *testing.T) {
	v1 := readFixture(t, fixtureV1)
	const bad = 2
	chunks := fixtureChunks(t, v1)
	off := chunks[bad].Offset
	tests := []struct {
		name   string
		at     int64 // byte of the frame head to damage
		mask   byte
		reason string // in the damage found through the index
	}{
		{"magic low byte", 0, 0x01, "chunk frame head"}, // 0x184D2A50, the file header's magic
		{"magic high byte", 3, 0x80, "chunk frame head"},
		{"size low byte", 4, 0x01, "chunk frame head"},
		{"size high byte", 7, 0x01, "chunk frame head"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := bytes.Clone(v1)
			data[off+tt.at] ^= tt.mask
			r, err := NewReader(bytes.NewReader(data), int64(len(data)))
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			got, damage, tail := readOn(t, r, Filter{})
			checkRecords(t, got, fixtureWithout(bad))
			if tail != nil {
				t.Errorf("Records: torn tail %v, want none", tail)
			}
			if len(damage) != 1 || damage[0].Offset != off || damage[0].End != chunks[bad+1].Offset ||
				!strings.Contains(damage[0].Reason, tt.reason) {
				t.Errorf("Records: damage %v, want one range %d–%d about the %s", damage, off, chunks[bad+1].Offset, tt.reason)
			}
			if !r.Complete() || r.Tail() != nil {
				t.Errorf("Complete() = %v, Tail() = %v; want true, nil", r.Complete(), r.Tail())
			}

			cut := withoutFooter(t, data)
			rs, err := NewReader(bytes.NewReader(cut), int64(len(cut)))
			if err != nil {
				t.Fatal(err)
			}
			defer rs.Close()
			if d := rs.Damage(); len(d) != 1 || d[0].Offset != off || d[0].End != chunks[bad+1].Offset {
				t.Errorf("walk: Damage() = %v, want one range %d–%d", d, off, chunks[bad+1].Offset)
			}
			got, damage, tail = readOn(t, rs, Filter{})
			checkRecords(t, got, fixtureWithout(bad))
			if len(damage) != 1 || tail != nil {
				t.Errorf("walk: Records: damage %v and tail %v, want one range and no tail", damage, tail)
			}
		})
	}
}

// fixtureWithout returns the fixture's records but those of chunk i.
func fixtureWithout(i int) []Record {
	var out []Record
	for k, g := range fixtureGroups() {
		if k != i {
			out = append(out, g...)
		}
	}
	return out
}

// readOn reads every record of f, reading on past damage, and returns the
// records, the damage and the torn tail it met.
func readOn(t testing.TB, r *Reader, f Filter) ([]Record, []*DamageError, error) {
	t.Helper()
	var out []Record
	var damage []*DamageError
	var tail error
	for rec, err := range r.Records(f) {
		var de *DamageError
		switch {
		case errors.As(err, &de):
			damage = append(damage, de)
		case err != nil:
			if tail != nil {
				t.Fatalf("Records: %v after %v", err, tail)
			}
			tail = err
		case tail != nil:
			t.Fatalf("Records: record %v after %v", rec, tail)
		default:
			out = append(out, rec)
		}
	}
	return out, damage, tail
}

// rawFileHeader builds a file header frame field by field.
func rawFileHeader(magic string, version uint16, crc uint32, meta []byte) []byte {
	b := binary.LittleEndian.AppendUint32(nil, magicFileHeader)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(magic)+8+len(meta)))
	b = append(b, magic...)
	b = binary.LittleEndian.AppendUint16(b, version)
	b = binary.LittleEndian.AppendUint16(b, 0)
	b = binary.LittleEndian.AppendUint32(b, crc)
	return append(b, meta...)
}

func TestReaderRefusesBadHeaders(t *testing.T) {
	good, err := appendFileHeader(nil, Header{Version: 1, Created: t0, Tool: "crafted", FileID: make([]byte, 16)})
	if err != nil {
		t.Fatal(err)
	}
	meta := good[frameHeadSize+16:]
	crc := crc32c(meta)
	notCBOR := []byte{0xff, 0xff}
	tests := []struct {
		name    string
		data    []byte
		wantErr string // a substring of the error; every one matches ErrNotCapture unless newer
		newer   bool
	}{
		{"empty", nil, "not a wstap capture", false},
		{"short frame head", good[:5], "not a wstap capture", false},
		{"zstd data frame", binary.LittleEndian.AppendUint32(binary.LittleEndian.AppendUint32(nil, magicZstd), 16),
			"not a wstap capture", false},
		{"chunk first", append(binary.LittleEndian.AppendUint32(binary.LittleEndian.AppendUint32(nil, magicChunk), 44),
			make([]byte, 44)...), "not a wstap capture", false},
		{"header frame over 64 KiB", binary.LittleEndian.AppendUint32(
			binary.LittleEndian.AppendUint32(nil, magicFileHeader), 1<<16+1), "not a wstap capture", false},
		{"header frame past the end", good[:len(good)-1], "not a wstap capture", false},
		{"payload under 16 bytes", append(binary.LittleEndian.AppendUint32(
			binary.LittleEndian.AppendUint32(nil, magicFileHeader), 8), fileMagic...), "not a wstap capture", false},
		{"bad file magic", rawFileHeader("WSTAPCAX", 1, crc, meta), "not a wstap capture", false},
		{"version 0", rawFileHeader(fileMagic, 0, crc, meta), "unknown format version 0", false},
		{"version 2", rawFileHeader(fileMagic, 2, crc, meta), "written by a newer wstap (format 2)", true},
		{"version 65535", rawFileHeader(fileMagic, 65535, crc, meta), "(format 65535)", true},
		{"header checksum mismatch", rawFileHeader(fileMagic, 1, crc^1, meta), "header checksum mismatch", false},
		{"metadata not CBOR", rawFileHeader(fileMagic, 1, crc32c(notCBOR), notCBOR), "header metadata", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := NewReader(bytes.NewReader(tt.data), int64(len(tt.data)))
			if err == nil {
				r.Close()
				t.Fatalf("NewReader(%x) = nil error, want %q", tt.data, tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("NewReader(%x) = %v, want an error containing %q", tt.data, err, tt.wantErr)
			}
			var ve *VersionError
			if tt.newer {
				if !errors.As(err, &ve) || errors.Is(err, ErrNotCapture) {
					t.Errorf("NewReader = %v, want a *VersionError", err)
				}
			} else if !errors.Is(err, ErrNotCapture) || errors.As(err, &ve) {
				t.Errorf("NewReader = %v, want an error matching ErrNotCapture", err)
			}
		})
	}

	// The header alone is an empty capture, still being written.
	r, err := NewReader(bytes.NewReader(good), int64(len(good)))
	if err != nil {
		t.Fatalf("NewReader(header only) = %v", err)
	}
	defer r.Close()
	if h := r.Header(); h.Version != 1 || h.Tool != "crafted" || !h.Created.Equal(t0) || len(h.FileID) != 16 {
		t.Errorf("Header() = %+v", h)
	}
	if r.Complete() || r.Tail() != nil || len(r.Conns()) != 0 || len(r.HTTP()) != 0 {
		t.Errorf("header only: Complete() = %v, Tail() = %v, %d conns, %d exchanges; want an empty capture",
			r.Complete(), r.Tail(), len(r.Conns()), len(r.HTTP()))
	}
	if recs, err := readAll(t, r, Filter{}); len(recs) != 0 || err != nil {
		t.Errorf("header only: read %d records, %v; want none", len(recs), err)
	}
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing.wstap")
	if _, err := Open(missing); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Open(missing) = %v, want an error matching fs.ErrNotExist", err)
	}
	text := filepath.Join(dir, "notes.txt")
	if err := os.WriteFile(text, []byte("not a capture at all\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Open(text)
	if !errors.Is(err, ErrNotCapture) || !strings.Contains(err.Error(), text) {
		t.Errorf("Open(text file) = %v, want ErrNotCapture naming the path", err)
	}
	if _, err := Open(dir); err == nil {
		t.Error("Open(directory) = nil error")
	}
}

// TestScanTornTails appends damage of every kind a scan recognises to a
// capture without a footer: every record before it reads back, and the
// tail names the damage and where it starts.
func TestScanTornTails(t *testing.T) {
	v1 := readFixture(t, fixtureV1)
	noFooter := withoutFooter(t, v1)
	chunk0 := fixtureChunks(t, v1)[0]
	firstChunk := v1[chunk0.Offset : chunk0.Offset+frameHeadSize+chunkHeaderSize+int64(chunk0.CLen)]
	frame := func(magic uint32, size uint32, payload []byte) []byte {
		b := binary.LittleEndian.AppendUint32(nil, magic)
		return append(binary.LittleEndian.AppendUint32(b, size), payload...)
	}
	checkpointFrame := func(body []byte, crc uint32) []byte {
		return frame(magicIndex, uint32(4+len(body)), append(binary.LittleEndian.AppendUint32(nil, crc), body...))
	}
	cpBody := []byte{0xa0} // an empty CBOR map
	tests := []struct {
		name   string
		base   []byte
		extra  []byte
		reason string // "" for no tail
		damage string // damage passed over at the end of base, "" for none
	}{
		{"nothing", noFooter, nil, "", ""},
		{"skippable frame of another kind", noFooter, frame(0x184D2A5E, 3, []byte("abc")), "", ""},
		{"short frame header", noFooter, []byte{0x51, 0x2a, 0x4d, 0x18, 0x2c}, "short frame header (5 bytes)", ""},
		{"zeros", noFooter, make([]byte, 64), "zero-filled", ""},
		{"zstd data frame", noFooter, frame(magicZstd, 16, make([]byte, 16)), "unknown frame magic 0xfd2fb528", ""},
		{"frame past the end", noFooter, frame(0x184D2A5E, 100, make([]byte, 10)),
			"frame of 100 bytes runs past the end of the file", ""},
		{"chunk header of 10 bytes", noFooter, frame(magicChunk, 10, make([]byte, 10)), "chunk header checksum mismatch", ""},
		{"chunk header checksum", noFooter, frame(magicChunk, chunkHeaderSize, make([]byte, chunkHeaderSize)),
			"chunk header checksum mismatch", ""},
		{"chunk past the end", noFooter, firstChunk[:len(firstChunk)-1], "runs past the end of the file", ""},
		{"checkpoint under 4 bytes", noFooter, frame(magicIndex, 2, []byte{0, 0}), "bad checkpoint frame", ""},
		{"checkpoint checksum", noFooter, checkpointFrame(cpBody, crc32c(cpBody)^1), "checkpoint checksum mismatch", ""},
		// A checkpoint whose checksum holds but whose CBOR does not decode
		// has a trustworthy extent: damage, not a tail (issue 7).
		{"checkpoint not CBOR", noFooter, checkpointFrame([]byte{0xff}, crc32c([]byte{0xff})), "", "checkpoint does not decode"},
		{"checkpoint of the wrong type", noFooter, checkpointFrame([]byte{0x01}, crc32c([]byte{0x01})), "",
			"checkpoint does not decode"},
		{"data after the footer", v1, []byte("garbage!"), "data after the footer", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := append(bytes.Clone(tt.base), tt.extra...)
			r, err := NewReader(bytes.NewReader(data), int64(len(data)))
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			at := int64(0)
			if tt.reason != "" {
				at = int64(len(tt.base))
			}
			checkTail(t, "Tail()", r.Tail(), at)
			if reason := tailReason(r.Tail()); !strings.Contains(reason, tt.reason) {
				t.Errorf("Tail() reason = %q, want %q", reason, tt.reason)
			}
			got, damage, err := readOn(t, r, Filter{})
			checkRecords(t, got, fixtureRecords())
			checkTail(t, "Records", err, at)
			if tt.damage == "" && len(damage) > 0 || tt.damage != "" && (len(damage) != 1 ||
				damage[0].Offset != int64(len(tt.base)) || !strings.Contains(damage[0].Reason, tt.damage)) {
				t.Errorf("Records: damage %v, want %q", damage, tt.damage)
			}
			if want := len(r.Conns()); want != 2 {
				t.Errorf("Conns() = %d entries, want 2", want)
			}
		})
	}
}

// TestFooterDistrusted: a footer that names no valid final checkpoint, or a
// damaged checkpoint, makes the reader scan; what the scan finds is intact.
func TestFooterDistrusted(t *testing.T) {
	v1 := readFixture(t, fixtureV1)
	last := int64(leUint64(v1[len(v1)-footerSize:])) // the final checkpoint
	ftOff := len(v1) - footerSize                    // the footer's checkpoint offset field
	first := int64(-1)                               // the first checkpoint
	frames(v1, func(magic uint32, off int, _, _ []byte) {
		if magic == magicIndex && first < 0 {
			first = int64(off)
		}
	})
	if first < 0 || first == last {
		t.Fatalf("the fixture's checkpoints are at %d and %d, want two", first, last)
	}
	setFooter := func(off uint64) []byte {
		b := bytes.Clone(v1)
		binary.LittleEndian.PutUint64(b[ftOff:], off)
		return b
	}
	damaged := bytes.Clone(v1)
	damaged[last+frameHeadSize+4] ^= 0x01 // a byte of the final checkpoint's body
	tests := []struct {
		name     string
		data     []byte
		complete bool
		tail     int64
		reason   string
	}{
		{"footer names the header", setFooter(0), true, 0, ""},
		{"footer names the footer", setFooter(uint64(ftOff)), true, 0, ""},
		{"footer names a non-final checkpoint", setFooter(uint64(first)), true, 0, ""},
		{"footer names a chunk", setFooter(uint64(fixtureChunks(t, v1)[1].Offset)), true, 0, ""},
		// The chain is broken, so the reader walks the frames: the damaged
		// checkpoint is damage, passed over to the footer (issue 7).
		{"final checkpoint damaged", damaged, true, 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := NewReader(bytes.NewReader(tt.data), int64(len(tt.data)))
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			if r.Complete() != tt.complete {
				t.Errorf("Complete() = %v, want %v", r.Complete(), tt.complete)
			}
			checkTail(t, "Tail()", r.Tail(), tt.tail)
			if reason := tailReason(r.Tail()); !strings.Contains(reason, tt.reason) {
				t.Errorf("Tail() reason = %q, want %q", reason, tt.reason)
			}
			got, damage, err := readOn(t, r, Filter{})
			checkRecords(t, got, fixtureRecords())
			checkTail(t, "Records", err, tt.tail)
			if tt.name == "final checkpoint damaged" {
				if len(damage) != 1 || damage[0].Offset != last || !strings.Contains(damage[0].Reason, "checkpoint checksum mismatch") {
					t.Errorf("Records: damage %v, want the final checkpoint's", damage)
				}
			} else if len(damage) != 0 {
				t.Errorf("Records: damage %v, want none", damage)
			}
			if cs := r.Conns(); len(cs) != 2 || cs[1].Error != "server vanished" || len(r.HTTP()) != 2 {
				t.Errorf("Conns() = %+v, HTTP() = %+v; want the fixture's 2 connections and 2 exchanges", cs, r.HTTP())
			}
		})
	}
}

func TestReadCheckpointErrors(t *testing.T) {
	v1 := readFixture(t, fixtureV1)
	last := int64(leUint64(v1[len(v1)-footerSize:]))
	r, err := NewReader(bytes.NewReader(v1), int64(len(v1)))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	cp, end, err := r.readCheckpoint(last)
	if err != nil || !cp.Final || end != int64(len(v1))-frameHeadSize-footerSize {
		t.Fatalf("readCheckpoint(final) = %+v, %d, %v; want the final checkpoint ending at the footer", cp, end, err)
	}
	chunk1 := fixtureChunks(t, v1)[1].Offset
	tests := []struct {
		name string
		off  int64
		want string
	}{
		{"a chunk", chunk1, "bad checkpoint frame"},
		{"the footer", int64(len(v1)) - frameHeadSize - footerSize, "bad checkpoint frame"},
		{"past the end", int64(len(v1)) - 4, "unexpected EOF"},
		{"mid frame", last + 3, "bad checkpoint frame"},
	}
	for _, tt := range tests {
		if _, _, err := r.readCheckpoint(tt.off); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("readCheckpoint(%s at %d) = %v, want an error containing %q", tt.name, tt.off, err, tt.want)
		}
	}
	// A checkpoint frame whose size runs past the end of the file.
	short := bytes.Clone(v1[:last+frameHeadSize+10])
	rs, err := NewReader(bytes.NewReader(short), int64(len(short)))
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Close()
	if _, _, err := rs.readCheckpoint(last); err == nil || !strings.Contains(err.Error(), "bad checkpoint frame") {
		t.Errorf("readCheckpoint(cut checkpoint) = %v, want bad checkpoint frame", err)
	}
	checkTail(t, "cut checkpoint: Tail()", rs.Tail(), last)
}

var errBoom = errors.New("boom")

// failingReaderAt fails every read that touches [from, to).
type failingReaderAt struct {
	data     []byte
	from, to int64
}

func (f failingReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if off < f.to && off+int64(len(p)) > f.from {
		return 0, errBoom
	}
	return bytes.NewReader(f.data).ReadAt(p, off)
}

// TestReaderIOErrors: a read that fails (not at EOF) makes the chunk a torn
// tail naming the error, at the chunk's offset.
func TestReaderIOErrors(t *testing.T) {
	v1 := readFixture(t, fixtureV1)
	noFooter := withoutFooter(t, v1)
	chunks := fixtureChunks(t, v1)
	c := chunks[2]
	zframe := c.Offset + frameHeadSize + chunkHeaderSize
	// The fixture has a checkpoint after every second chunk: without the
	// last one, chunks 2 and 3 are read at open.
	last := chunks[3]
	uncovered := v1[:last.Offset+frameHeadSize+chunkHeaderSize+int64(last.CLen)]
	tests := []struct {
		name     string
		data     []byte
		from, to int64
		open     bool // the tail is known at open; otherwise only when Records reaches the chunk
	}{
		{"scan reads a frame head", noFooter, c.Offset, c.Offset + 1, true},
		{"scan reads a chunk header", noFooter, c.Offset + frameHeadSize + 5, c.Offset + frameHeadSize + 6, true},
		{"fold reads a chunk", uncovered, zframe, zframe + 1, true},
		{"Records reads a chunk", v1, zframe, zframe + 1, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ra := failingReaderAt{tt.data, tt.from, tt.to}
			r, err := NewReader(ra, int64(len(tt.data)))
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			if tt.open {
				checkTail(t, "Tail()", r.Tail(), c.Offset)
			} else {
				checkTail(t, "Tail()", r.Tail(), 0)
			}
			got, err := readAll(t, r, Filter{})
			checkRecords(t, got, fixtureBefore(2))
			checkTail(t, "Records", err, c.Offset)
			if reason := tailReason(err); !strings.Contains(reason, "boom") {
				t.Errorf("tail reason = %q, want the read error", reason)
			}
		})
	}
}

func TestReaderLookups(t *testing.T) {
	r, err := Open(fixtureV1)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if s, ok := r.Conn(2); !ok || s.Conn != 2 || s.URL != "ws://feed.example.test/v1/stream" {
		t.Errorf("Conn(2) = %+v, %v; want the feed connection", s, ok)
	}
	for _, id := range []ConnID{0, 3, 1 << 40} {
		if s, ok := r.Conn(id); ok || s != (ConnSummary{}) {
			t.Errorf("Conn(%d) = %+v, %v; want nothing", id, s, ok)
		}
	}
	if r.Skipped() != 0 {
		t.Errorf("Skipped() = %d, want 0", r.Skipped())
	}
	// The slices returned are copies.
	h := r.HTTP()
	h[0].URL = "changed"
	if r.HTTP()[0].URL == "changed" {
		t.Error("HTTP() returned the reader's own slice")
	}
	// A consumer that stops early stops the reading.
	n := 0
	for range r.Records(Filter{}) {
		n++
		if n == 3 {
			break
		}
	}
	if n != 3 {
		t.Errorf("Records stopped after %d records, want 3", n)
	}
}

func TestRefreshWithoutChange(t *testing.T) {
	v1 := readFixture(t, fixtureV1)
	r, err := NewReader(bytes.NewReader(v1), int64(len(v1)))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if more, err := r.Refresh(); more || err != nil {
		t.Errorf("Refresh() of a NewReader = %v, %v; want false, nil", more, err)
	}
	rf, err := Open(fixtureV1)
	if err != nil {
		t.Fatal(err)
	}
	defer rf.Close()
	if more, err := rf.Refresh(); more || err != nil || !rf.Complete() {
		t.Errorf("Refresh() of a final file = %v, %v, Complete() = %v; want false, nil, true", more, err, rf.Complete())
	}
}

// TestFollowEnds covers the ways Follow ends besides the writer's Close.
func TestFollowEnds(t *testing.T) {
	v1 := readFixture(t, fixtureV1)
	path := filepath.Join(t.TempDir(), "live.wstap")
	if err := os.WriteFile(path, withoutFooter(t, v1), 0o600); err != nil {
		t.Fatal(err)
	}
	follow := func(r *Reader, ctx context.Context, interval time.Duration) ([]Record, error) {
		var recs []Record
		for rec, err := range r.Follow(ctx, Filter{}, interval) {
			if err != nil {
				return recs, err
			}
			recs = append(recs, rec)
		}
		return recs, nil
	}

	t.Run("final file", func(t *testing.T) {
		r, err := Open(fixtureV1)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		got, err := follow(r, context.Background(), 0) // the default interval: never waited for
		checkRecords(t, got, fixtureRecords())
		if err != nil {
			t.Errorf("Follow(final file) ended with %v", err)
		}
	})
	t.Run("context done", func(t *testing.T) {
		r, err := Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		got, err := follow(r, ctx, time.Millisecond)
		checkRecords(t, got, fixtureRecords())
		if err != nil {
			t.Errorf("Follow(cancelled) ended with %v, want a quiet end", err)
		}
	})
	t.Run("consumer stops", func(t *testing.T) {
		r, err := Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		n := 0
		for range r.Follow(context.Background(), Filter{}, time.Millisecond) {
			if n++; n == 2 {
				break
			}
		}
		if n != 2 {
			t.Errorf("Follow yielded %d records before the break, want 2", n)
		}
	})
	t.Run("file fails", func(t *testing.T) {
		r, err := Open(path)
		if err != nil {
			t.Fatal(err)
		}
		// Refresh's Stat fails from now on, while the reads still work.
		f := r.file
		defer f.Close()
		if r.file, err = os.Open(path); err != nil {
			t.Fatal(err)
		}
		r.file.Close()
		defer r.dec.Close()
		if _, err := r.Refresh(); !errors.Is(err, os.ErrClosed) {
			t.Errorf("Refresh() on a closed file = %v, want os.ErrClosed", err)
		}
		got, err := follow(r, context.Background(), time.Millisecond)
		checkRecords(t, got, fixtureRecords())
		if !errors.Is(err, os.ErrClosed) {
			t.Errorf("Follow ended with %v, want the Stat error", err)
		}
	})
}

// TestConnsFromCheckpoint: a capture still being written lists its
// connections from a checkpoint that CheckpointInterval brought, without
// reading (folding) the chunks it covers.
func TestConnsFromCheckpoint(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cp.wstap")
	w, err := Create(path, Options{FlushInterval: time.Hour, CheckpointInterval: 5 * time.Millisecond,
		CheckpointChunks: 1 << 20, CheckpointBytes: 1 << 30, SyncInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	c := mustOpen(t, w, &ConnOpen{Time: at(0), URL: "ws://cp.example.test/", Status: 101})
	for i := range 3 {
		if err := w.Append(textChunk(c, 1+i, fmt.Sprint("message ", i))); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	// The writer's ticker writes the checkpoint: wait for it, boundedly.
	var data []byte
	var cpEnd int
	deadline := time.Now().Add(10 * time.Second)
	for cpEnd == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no checkpoint within 10s of the flush, with CheckpointInterval 5ms")
		}
		if data, err = os.ReadFile(path); err != nil {
			t.Fatal(err)
		}
		frames(data, func(magic uint32, off int, p, _ []byte) {
			if magic == magicIndex && cpEnd == 0 {
				cpEnd = off + frameHeadSize + len(p)
			}
		})
		if cpEnd == 0 {
			<-time.After(time.Millisecond)
		}
	}
	data = data[:cpEnd]
	ok, err := NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	defer ok.Close()
	want, _ := ok.Conn(c)
	if want.Messages != [3]int64{3, 0, 0} || want.URL != "ws://cp.example.test/" {
		t.Fatalf("Conn(%d) = %+v, want 3 client messages", c, want)
	}
	chunks := ok.chunks
	if len(chunks) != 1 {
		t.Fatalf("%d chunks before the checkpoint, want 1", len(chunks))
	}

	// Damage the chunk's payload. With the checkpoint, the listing does not
	// read the chunk and does not notice; without, it folds the chunk in
	// and finds the damage at once.
	bad := bytes.Clone(data)
	bad[chunks[0].Offset+frameHeadSize+chunkHeaderSize+int64(chunks[0].CLen)/2] ^= 0x40
	r, err := NewReader(bytes.NewReader(bad), int64(len(bad)))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if got, _ := r.Conn(c); !reflect.DeepEqual(got, want) || r.Tail() != nil || r.Complete() {
		t.Errorf("with the checkpoint: Conn(%d) = %+v, Tail() = %v, Complete() = %v; want %+v, nil, false",
			c, got, r.Tail(), r.Complete(), want)
	}
	// The checkpoint after it is good: the chunk is damage, not the tail.
	if recs, damage, tail := readOn(t, r, Filter{}); len(recs) != 0 || tail != nil || len(damage) != 1 ||
		damage[0].Offset != chunks[0].Offset {
		t.Errorf("with the checkpoint: read %d records, damage %v, tail %v; want none, the chunk's, none", len(recs), damage, tail)
	}
	cut := bad[:chunks[0].Offset+frameHeadSize+chunkHeaderSize+int64(chunks[0].CLen)]
	rc, err := NewReader(bytes.NewReader(cut), int64(len(cut)))
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	checkTail(t, "without the checkpoint: Tail()", rc.Tail(), chunks[0].Offset)
	if n := len(rc.Conns()); n != 0 {
		t.Errorf("without the checkpoint: Conns() = %d entries, want 0", n)
	}
}

// TestCloseUnderAnIterator closes a Reader while an iterator with decodes
// running ahead is still reading it: the iterator ends with ErrReaderClosed
// rather than blocking forever on the closed decoder.
func TestCloseUnderAnIterator(t *testing.T) {
	path := filepath.Join(t.TempDir(), "many.wstap")
	w, err := Create(path, Options{FlushSize: 4 << 10})
	if err != nil {
		t.Fatal(err)
	}
	c, err := w.Open(&ConnOpen{Time: fat(0), URL: "ws://many.example.test/", Status: 101})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5000 {
		if err := w.Append(&Chunk{Conn: c, Time: fat(i), Dir: ServerToClient, Opcode: OpText, First: true, Last: true,
			Data: []byte(strings.Repeat("x", 100))}); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	r, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	n, closedErr := 0, error(nil)
	for _, err := range r.Records(Filter{}) {
		if err != nil {
			closedErr = err
			break
		}
		if n++; n == 10 {
			r.Close()
		}
	}
	if !errors.Is(closedErr, ErrReaderClosed) || n >= 5000 {
		t.Errorf("after Close the iterator read %d records and ended with %v, want ErrReaderClosed", n, closedErr)
	}
}

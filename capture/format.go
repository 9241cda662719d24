package capture

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"time"
)

// Version is the capture format version this package writes and the newest
// it reads.
const Version = 1

// MaxChunk is the largest payload a Chunk record carries. Writer.Append
// splits larger chunks.
const MaxChunk = 256 << 10

// Frame magics. All are zstd skippable frames (RFC 8878, section 3.1.2), so
// `zstd -dc file.wstap` prints the raw record stream and ignores them.
const (
	magicFileHeader = 0x184D2A50 // file header, once at offset 0
	magicChunk      = 0x184D2A51 // chunk header, followed by one zstd frame
	magicIndex      = 0x184D2A52 // index checkpoint
	magicFooter     = 0x184D2A53 // footer of a cleanly closed file
	magicSkipMask   = 0xFFFFFFF0 // any 0x184D2A5? frame is skippable
	magicZstd       = 0xFD2FB528 // a zstd data frame
)

const (
	fileMagic       = "WSTAPCAP"
	footerMagic     = "WSTAPEND"
	frameHeadSize   = 8  // magic u32 + size u32
	chunkHeaderSize = 44 // see chunkHeader
	footerSize      = 16 // checkpoint offset u64 + footerMagic
	// maxFrameLen bounds any length field read from the file, so a damaged
	// length never drives a huge allocation. Chunks hold at most a few MiB.
	maxFrameLen = 64 << 20
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func crc32c(p []byte) uint32 { return crc32.Checksum(p, castagnoli) }

// ErrTornTail reports that the file ends in a chunk that is short, zeroed or
// fails its checksum: the usual state after a crash or while a writer is
// still at work. Records before the offset are intact.
var ErrTornTail = errors.New("capture: torn or corrupt tail")

// TailError is the error for a torn or corrupt tail; it matches ErrTornTail.
type TailError struct {
	Offset int64  // where the bad data starts; everything before is intact
	Reason string // what was wrong with it
}

func (e *TailError) Error() string {
	return fmt.Sprintf("capture: torn or corrupt tail at offset %d: %s", e.Offset, e.Reason)
}

// Is reports whether target is ErrTornTail.
func (e *TailError) Is(target error) bool { return target == ErrTornTail }

// ErrDamaged reports bytes in the middle of a capture that fail their
// checks. The reader passes over them and reads on.
var ErrDamaged = errors.New("capture: damaged data")

// DamageError is a damaged range in the middle of a capture: bytes that
// failed their lengths or checksums, or records that did not decode,
// followed by good data the reader read on with. It matches ErrDamaged.
// End equals Offset for damage that has no extent of its own, such as
// records missing between two good chunks.
type DamageError struct {
	Offset int64  // the first damaged byte
	End    int64  // just past the last damaged byte
	Reason string // what was wrong
}

func (e *DamageError) Error() string { return "capture: " + e.Describe() + "; reading on" }

// Describe says where the damage is and what is wrong, in the words of
// Error without the package prefix and the "reading on": "damaged bytes
// A–B (N bytes): REASON", or "damage at offset A: REASON" for damage with
// no extent of its own.
func (e *DamageError) Describe() string {
	if e.End <= e.Offset {
		return fmt.Sprintf("damage at offset %d: %s", e.Offset, e.Reason)
	}
	return fmt.Sprintf("damaged bytes %d–%d (%d bytes): %s", e.Offset, e.End, e.End-e.Offset, e.Reason)
}

// Is reports whether target is ErrDamaged.
func (e *DamageError) Is(target error) bool { return target == ErrDamaged }

// IsDamage reports whether err is damage in the middle of a file, after
// which a record sequence goes on (and not, say, a torn tail).
func IsDamage(err error) bool { return errors.Is(err, ErrDamaged) }

// ErrNotCapture reports a file that does not start with a capture header.
var ErrNotCapture = errors.New("capture: not a wstap capture")

// VersionError reports a file written in a newer format than this package
// reads.
type VersionError struct{ Version int }

func (e *VersionError) Error() string {
	return fmt.Sprintf("capture: written by a newer wstap (format %d); this wstap reads format %d and older", e.Version, Version)
}

// Header is the file header's metadata.
type Header struct {
	Version int       // format version
	Created time.Time `cbor:"created"`
	Tool    string    `cbor:"tool"`    // e.g. "wstap v0.1.0"
	FileID  []byte    `cbor:"file_id"` // 16 random bytes
}

// appendFileHeader encodes the file header frame.
func appendFileHeader(b []byte, h Header) ([]byte, error) {
	meta, err := encMode.Marshal(struct {
		Created time.Time `cbor:"created"`
		Tool    string    `cbor:"tool"`
		FileID  []byte    `cbor:"file_id"`
	}{h.Created, h.Tool, h.FileID})
	if err != nil {
		return b, err
	}
	size := len(fileMagic) + 2 + 2 + 4 + len(meta)
	b = binary.LittleEndian.AppendUint32(b, magicFileHeader)
	b = binary.LittleEndian.AppendUint32(b, uint32(size))
	b = append(b, fileMagic...)
	b = binary.LittleEndian.AppendUint16(b, uint16(h.Version))
	b = binary.LittleEndian.AppendUint16(b, 0) // flags, none defined
	b = binary.LittleEndian.AppendUint32(b, crc32c(meta))
	return append(b, meta...), nil
}

// parseFileHeader decodes the payload of the file header frame.
func parseFileHeader(p []byte) (Header, error) {
	if len(p) < 16 || string(p[:8]) != fileMagic {
		return Header{}, ErrNotCapture
	}
	h := Header{Version: int(binary.LittleEndian.Uint16(p[8:]))}
	if h.Version > Version {
		return h, &VersionError{Version: h.Version}
	}
	if h.Version < 1 {
		return h, fmt.Errorf("%w: unknown format version %d", ErrNotCapture, h.Version)
	}
	meta := p[16:]
	if crc32c(meta) != binary.LittleEndian.Uint32(p[12:]) {
		return h, fmt.Errorf("%w: header checksum mismatch", ErrNotCapture)
	}
	var m struct {
		Created time.Time `cbor:"created"`
		Tool    string    `cbor:"tool"`
		FileID  []byte    `cbor:"file_id"`
	}
	if err := decMode.Unmarshal(meta, &m); err != nil {
		return h, fmt.Errorf("%w: header metadata: %v", ErrNotCapture, err)
	}
	h.Created, h.Tool, h.FileID = m.Created, m.Tool, m.FileID
	return h, nil
}

// chunkHeader is the payload of a chunk's skippable frame (44 bytes,
// little-endian). The zstd frame follows it directly.
//
//	off len field
//	  0   4 clen   length of the zstd frame
//	  4   4 ulen   decompressed length
//	  8   4 crc    CRC-32C of the zstd frame
//	 12   4 nrec   records in the chunk
//	 16   8 seq0   file-wide index of the first record (0-based)
//	 24   8 t0     time of the first record, unix ns
//	 32   8 t1     time of the last record, unix ns
//	 40   4 hcrc   CRC-32C of bytes 0..39
type chunkHeader struct {
	clen, ulen, crc, nrec uint32
	seq0                  uint64
	t0, t1                int64
}

func (h chunkHeader) append(b []byte) []byte {
	b = binary.LittleEndian.AppendUint32(b, magicChunk)
	b = binary.LittleEndian.AppendUint32(b, chunkHeaderSize)
	start := len(b)
	b = binary.LittleEndian.AppendUint32(b, h.clen)
	b = binary.LittleEndian.AppendUint32(b, h.ulen)
	b = binary.LittleEndian.AppendUint32(b, h.crc)
	b = binary.LittleEndian.AppendUint32(b, h.nrec)
	b = binary.LittleEndian.AppendUint64(b, h.seq0)
	b = binary.LittleEndian.AppendUint64(b, uint64(h.t0))
	b = binary.LittleEndian.AppendUint64(b, uint64(h.t1))
	return binary.LittleEndian.AppendUint32(b, crc32c(b[start:]))
}

func parseChunkHeader(p []byte) (chunkHeader, bool) {
	if len(p) != chunkHeaderSize || crc32c(p[:40]) != binary.LittleEndian.Uint32(p[40:]) {
		return chunkHeader{}, false
	}
	le := binary.LittleEndian
	h := chunkHeader{clen: le.Uint32(p), ulen: le.Uint32(p[4:]), crc: le.Uint32(p[8:]), nrec: le.Uint32(p[12:]),
		seq0: le.Uint64(p[16:]), t0: int64(le.Uint64(p[24:])), t1: int64(le.Uint64(p[32:]))}
	if h.clen > maxFrameLen || h.ulen > maxFrameLen {
		return chunkHeader{}, false
	}
	return h, true
}

// appendSkippable appends a skippable frame with the given magic and payload
// parts.
func appendSkippable(b []byte, magic uint32, parts ...[]byte) []byte {
	n := 0
	for _, p := range parts {
		n += len(p)
	}
	b = binary.LittleEndian.AppendUint32(b, magic)
	b = binary.LittleEndian.AppendUint32(b, uint32(n))
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

package capture

import (
	"encoding/binary"
	"slices"
)

// maxRawBlock is the largest block a zstd frame may hold: Block_Maximum_Size
// is at most 128 KiB (RFC 8878, section 3.1.1.2.4).
const maxRawBlock = 128 << 10

// appendRawFrame appends src to dst as a zstd frame that stores it
// uncompressed (RFC 8878, section 3.1.1): the magic 0xFD2FB528; a frame
// header with Single_Segment set, so that the window is the content and no
// Window_Descriptor follows, and with the Frame_Content_Size in the
// smallest field that holds it; no dictionary and no checksum (the chunk
// header's crc covers the frame); then Raw_Blocks of at most 128 KiB, the
// last one flagged. Any zstd decoder reads it back, and building it costs a
// copy where compressing costs a few milliseconds per megabyte.
func appendRawFrame(dst, src []byte) []byte {
	dst = appendRawFrameHeader(dst, len(src))
	for {
		k := min(len(src), maxRawBlock)
		dst = appendRawBlockHeader(dst, k, k == len(src))
		dst = append(dst, src[:k]...)
		if src = src[k:]; len(src) == 0 {
			return dst
		}
	}
}

// rawFrameVec is appendRawFrame without the copy of src: it appends the
// frame's own bytes (its header and the Block_Headers) to hdr, and to vec
// the frame as pieces in order, alternately of hdr and of src, for one
// vectored write. The pieces of hdr start at from, so that what hdr held
// before from (a chunk's head) goes out with the frame's first bytes. hdr
// is grown once, before any piece of it is taken, so the pieces stay
// valid.
func rawFrameVec(hdr []byte, from int, vec [][]byte, src []byte) ([]byte, [][]byte) {
	blocks := max(1, (len(src)+maxRawBlock-1)/maxRawBlock)
	hdr = slices.Grow(hdr, rawFrameHeaderMax+3*blocks)
	hdr = appendRawFrameHeader(hdr, len(src))
	for {
		k := min(len(src), maxRawBlock)
		hdr = appendRawBlockHeader(hdr, k, k == len(src))
		vec = append(vec, hdr[from:len(hdr):len(hdr)])
		from = len(hdr)
		if k > 0 {
			vec = append(vec, src[:k:k])
		}
		if src = src[k:]; len(src) == 0 {
			return hdr, vec
		}
	}
}

// rawFrameHeaderMax is the longest header appendRawFrameHeader writes.
const rawFrameHeaderMax = 4 + 1 + 8

// appendRawFrameHeader appends the Magic_Number and Frame_Header of a raw
// frame of n content bytes.
func appendRawFrameHeader(dst []byte, n int) []byte {
	const single = 1 << 5 // Single_Segment_flag, bit 5 of the Frame_Header_Descriptor
	dst = binary.LittleEndian.AppendUint32(dst, magicZstd)
	// Frame_Content_Size_flag (bits 7–6) says how wide the field is: with
	// Single_Segment, 0 is one byte, 1 two bytes holding the size less
	// 256, 2 four bytes and 3 eight (section 3.1.1.1.1.1).
	switch u := uint64(n); {
	case u < 256:
		return append(dst, 0<<6|single, byte(u))
	case u < 256+1<<16:
		dst = append(dst, 1<<6|single)
		return binary.LittleEndian.AppendUint16(dst, uint16(u-256))
	case u < 1<<32:
		dst = append(dst, 2<<6|single)
		return binary.LittleEndian.AppendUint32(dst, uint32(u))
	default:
		dst = append(dst, 3<<6|single)
		return binary.LittleEndian.AppendUint64(dst, u)
	}
}

// appendRawBlockHeader appends the Block_Header of a Raw_Block of k bytes:
// 3 bytes little-endian, Last_Block in bit 0, Block_Type in bits 1–2 (0:
// Raw_Block), Block_Size above them (section 3.1.1.2.1).
func appendRawBlockHeader(dst []byte, k int, last bool) []byte {
	h := uint32(k) << 3
	if last {
		h |= 1
	}
	return append(dst, byte(h), byte(h>>8), byte(h>>16))
}

package capture

import "encoding/binary"

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
	const single = 1 << 5 // Single_Segment_flag, bit 5 of the Frame_Header_Descriptor
	n := uint64(len(src))
	dst = binary.LittleEndian.AppendUint32(dst, magicZstd)
	// Frame_Content_Size_flag (bits 7–6) says how wide the field is: with
	// Single_Segment, 0 is one byte, 1 two bytes holding the size less
	// 256, 2 four bytes and 3 eight (section 3.1.1.1.1.1).
	switch {
	case n < 256:
		dst = append(dst, 0<<6|single, byte(n))
	case n < 256+1<<16:
		dst = append(dst, 1<<6|single)
		dst = binary.LittleEndian.AppendUint16(dst, uint16(n-256))
	case n < 1<<32:
		dst = append(dst, 2<<6|single)
		dst = binary.LittleEndian.AppendUint32(dst, uint32(n))
	default:
		dst = append(dst, 3<<6|single)
		dst = binary.LittleEndian.AppendUint64(dst, n)
	}
	for {
		k := min(len(src), maxRawBlock)
		// Block_Header, 3 bytes little-endian: Last_Block in bit 0,
		// Block_Type in bits 1–2 (0: Raw_Block), Block_Size above them
		// (section 3.1.1.2.1).
		h := uint32(k) << 3
		if k == len(src) {
			h |= 1
		}
		dst = append(dst, byte(h), byte(h>>8), byte(h>>16))
		dst = append(dst, src[:k]...)
		if src = src[k:]; len(src) == 0 {
			return dst
		}
	}
}

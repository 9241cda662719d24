package capture

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
)

// rawFrameContent parses frame strictly as appendRawFrame writes it: the
// zstd magic, a descriptor with Single_Segment and nothing else but the
// Frame_Content_Size field in its smallest width, then Raw_Blocks of 128
// KiB but the last, which alone is flagged, adding up to the content size.
// It returns the content. A compressed zstd frame is an error.
func rawFrameContent(frame []byte) ([]byte, error) {
	if len(frame) < 5 || binary.LittleEndian.Uint32(frame) != magicZstd {
		return nil, errors.New("no zstd magic")
	}
	desc := frame[4]
	if desc&0x3f != 0x20 {
		return nil, fmt.Errorf("descriptor %#02x: want Single_Segment and no checksum, dictionary or reserved bit", desc)
	}
	width := [4]int{1, 2, 4, 8}[desc>>6]
	p := frame[5:]
	if len(p) < width {
		return nil, errors.New("short content size")
	}
	var size uint64
	switch width {
	case 1:
		size = uint64(p[0])
	case 2:
		size = uint64(binary.LittleEndian.Uint16(p)) + 256
	case 4:
		size = uint64(binary.LittleEndian.Uint32(p))
	case 8:
		size = binary.LittleEndian.Uint64(p)
	}
	if want := fcsWidth(size); width != want {
		return nil, fmt.Errorf("content size %d in %d bytes, want %d", size, width, want)
	}
	p = p[width:]
	var content []byte
	for {
		if len(p) < 3 {
			return nil, errors.New("short block header")
		}
		h := uint32(p[0]) | uint32(p[1])<<8 | uint32(p[2])<<16
		last, typ, n := h&1 == 1, (h>>1)&3, int(h>>3)
		p = p[3:]
		if typ != 0 {
			return nil, fmt.Errorf("block type %d, want 0 (Raw_Block)", typ)
		}
		if n > maxRawBlock || len(p) < n {
			return nil, fmt.Errorf("block of %d bytes with %d left", n, len(p))
		}
		if !last && n != maxRawBlock {
			return nil, fmt.Errorf("a block of %d bytes that is not the last", n)
		}
		content = append(content, p[:n]...)
		p = p[n:]
		if last {
			break
		}
	}
	if len(p) != 0 {
		return nil, fmt.Errorf("%d bytes after the last block", len(p))
	}
	if uint64(len(content)) != size {
		return nil, fmt.Errorf("blocks hold %d bytes, the header says %d", len(content), size)
	}
	return content, nil
}

// fcsWidth is the width of the smallest Frame_Content_Size field that
// holds size in a single-segment frame (RFC 8878, section 3.1.1.1.4).
func fcsWidth(size uint64) int {
	switch {
	case size < 256:
		return 1
	case size < 256+1<<16:
		return 2
	case size < 1<<32:
		return 4
	}
	return 8
}

// checkRawFrame decodes appendRawFrame(prefix, src) with klauspost's
// decoder and the strict parser, and checks what zstd.Header says of it.
func checkRawFrame(t testing.TB, dec *zstd.Decoder, src []byte) {
	t.Helper()
	prefix := []byte("prefix")
	out := appendRawFrame(bytes.Clone(prefix), src)
	if !bytes.HasPrefix(out, prefix) {
		t.Fatalf("appendRawFrame(%d bytes) overwrote dst", len(src))
	}
	frame := out[len(prefix):]
	checkRawFrameVec(t, prefix, src, out)
	got, err := dec.DecodeAll(frame, nil)
	if err != nil {
		t.Fatalf("DecodeAll(raw frame of %d bytes) = %v", len(src), err)
	}
	if !bytes.Equal(got, src) {
		t.Fatalf("DecodeAll(raw frame of %d bytes) = %d bytes that differ", len(src), len(got))
	}
	if got, err := rawFrameContent(frame); err != nil || !bytes.Equal(got, src) {
		t.Fatalf("rawFrameContent(raw frame of %d bytes) = %d bytes, %v", len(src), len(got), err)
	}
	var h zstd.Header
	if err := h.Decode(frame); err != nil {
		t.Fatalf("Header.Decode(raw frame of %d bytes) = %v", len(src), err)
	}
	if !h.SingleSegment || !h.HasFCS || h.FrameContentSize != uint64(len(src)) || h.HasCheckSum || h.DictionaryID != 0 ||
		!h.FirstBlock.OK || h.FirstBlock.Compressed || h.FirstBlock.Last != (len(src) <= maxRawBlock) {
		t.Fatalf("Header.Decode(raw frame of %d bytes) = %+v", len(src), h)
	}
	blocks := max(1, (len(src)+maxRawBlock-1)/maxRawBlock)
	if want := 4 + 1 + fcsWidth(uint64(len(src))) + 3*blocks + len(src); len(frame) != want {
		t.Fatalf("raw frame of %d bytes is %d bytes long, want %d", len(src), len(frame), want)
	}
}

func TestRawFrame(t *testing.T) {
	dec, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1))
	if err != nil {
		t.Fatal(err)
	}
	defer dec.Close()
	rng := rand.New(rand.NewPCG(3, 4))
	// Each width of the content size, and blocks full, short and split.
	for _, n := range []int{0, 1, 255, 256, 257, 1000, 256 + 1<<16 - 1, 256 + 1<<16, maxRawBlock - 1, maxRawBlock,
		maxRawBlock + 1, 2 * maxRawBlock, 5<<20 + 3} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			src := make([]byte, n)
			for i := range src {
				src[i] = byte(rng.Uint32())
			}
			checkRawFrame(t, dec, src)
		})
	}
}

func FuzzRawFrame(f *testing.F) {
	for _, s := range []string{"", "x", "hello, raw zstd", string(make([]byte, 300))} {
		f.Add([]byte(s))
	}
	dec, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1))
	if err != nil {
		f.Fatal(err)
	}
	defer dec.Close()
	f.Fuzz(func(t *testing.T, src []byte) {
		checkRawFrame(t, dec, src)
	})
}

// TestRawFrameZstdCLI: the zstd tool decodes a raw frame, when it is
// installed.
func TestRawFrameZstdCLI(t *testing.T) {
	zstdCLI := zstdTool(t)
	src := bytes.Repeat([]byte("raw blocks for the zstd tool "), 20000) // 580 KB: five blocks
	path := filepath.Join(t.TempDir(), "raw.zst")
	if err := os.WriteFile(path, appendRawFrame(nil, src), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, zstdCLI, "-dc", path).Output()
	if err != nil {
		t.Fatalf("zstd -dc: %v", err)
	}
	if !bytes.Equal(out, src) {
		t.Errorf("zstd -dc printed %d bytes, want the %d stored", len(out), len(src))
	}
}

// zstdTool returns the path of the zstd command, or skips the test.
func zstdTool(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("zstd")
	if err != nil {
		t.Skip("no zstd command")
	}
	return path
}

// checkRawFrameVec checks that rawFrameVec's pieces, after a header of
// prefix, are the bytes of want, appendRawFrame's frame, and that every
// piece of the content is src itself, not a copy.
func checkRawFrameVec(t testing.TB, prefix, src, want []byte) {
	t.Helper()
	old := [][]byte{[]byte("kept")}
	hdr, vec := rawFrameVec(bytes.Clone(prefix), 0, old, src)
	if len(vec) == 0 || string(vec[0]) != "kept" {
		t.Fatalf("rawFrameVec(%d bytes) dropped what vec held", len(src))
	}
	vec = vec[1:]
	if got := bytes.Join(vec, nil); !bytes.Equal(got, want) {
		t.Fatalf("rawFrameVec(%d bytes): the pieces are %d bytes that differ from appendRawFrame's %d", len(src), len(got), len(want))
	}
	if len(hdr) != len(want)-len(src) {
		t.Fatalf("rawFrameVec(%d bytes): hdr is %d bytes, want the %d that are not content", len(src), len(hdr), len(want)-len(src))
	}
	off := 0
	for i, p := range vec {
		if i%2 == 0 { // the header, then the Block_Headers
			continue
		}
		if &p[0] != &src[off] {
			t.Fatalf("rawFrameVec(%d bytes): piece %d is a copy of src[%d:], not src itself", len(src), i, off)
		}
		off += len(p)
	}
	if off != len(src) {
		t.Fatalf("rawFrameVec(%d bytes): the content pieces hold %d bytes", len(src), off)
	}
}

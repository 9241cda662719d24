package inspector

import (
	"time"

	"github.com/wstap/wstap/capture"
)

// previewMax is how many payload bytes a row keeps for its one-line
// preview. A payload no longer than this is held whole, so a filter on it
// needs no read of the file.
const previewMax = 64

// Row flags.
const (
	flagDropped uint8 = 1 << iota
	flagIncomplete
	flagCompressed
	flagTruncated
)

// row is what the message list keeps of one message: about 32 bytes plus
// its preview in the store's arena. A million messages cost under 100 MB;
// payloads stay in the capture file.
type row struct {
	seq   uint64 // the message's position in the file (Message.Seq)
	t     int64  // when its first byte arrived, Unix nanoseconds
	size  int64  // payload bytes
	pre   uint32 // offset of its preview in the arena
	plen  uint8  // preview length
	dir   capture.Direction
	op    capture.Opcode
	flags uint8
}

func (r *row) has(f uint8) bool { return r.flags&f != 0 }

// whole reports whether the preview holds the whole payload.
func (r *row) whole() bool { return int64(r.plen) == r.size && !r.has(flagTruncated) }

// crossed reports whether the message went from one peer to the other (see
// capture.Message.Crossed).
func (r *row) crossed() bool {
	return (r.dir == capture.ClientToServer || r.dir == capture.ServerToClient) && !r.has(flagDropped)
}

// batch is a run of rows on its way from a loader to the model, with the
// preview bytes they point into (offsets relative to the batch).
type batch struct {
	rows  []row
	bytes []byte
}

func (b *batch) add(m *capture.Message) {
	if b.rows == nil {
		b.rows = make([]row, 0, 1024)
		b.bytes = make([]byte, 0, 1024*previewMax)
	}
	r := row{seq: m.Seq, t: m.Time.UnixNano(), size: m.Size, dir: m.Dir, op: m.Opcode}
	if m.Dropped {
		r.flags |= flagDropped
	}
	if m.Incomplete {
		r.flags |= flagIncomplete
	}
	if m.Compressed {
		r.flags |= flagCompressed
	}
	if m.Truncated {
		r.flags |= flagTruncated
	}
	d := m.Data
	if len(d) > previewMax {
		d = d[:previewMax]
	}
	r.pre, r.plen = uint32(len(b.bytes)), uint8(len(d))
	b.bytes = append(b.bytes, d...)
	b.rows = append(b.rows, r)
}

// Rows and previews are kept in fixed-size blocks, so that appending never
// copies what is already stored: a million rows load without a stall or a
// doubling of memory.
const (
	rowBlock   = 1 << 14
	arenaBlock = 1 << 20
)

// store holds the rows of one connection. Only the model's goroutine
// appends; background jobs read a copy of the store taken when they start.
// Blocks are allocated whole and filled in place, never moved or resliced,
// so what the copy covers never changes under them.
type store struct {
	blocks [][]row
	n      int
	arena  [][]byte
	alen   uint32 // bytes in the arena: the offset of the next preview
	// stats
	largest int64 // the largest message's size
	bytes   [3]int64
	counts  [3]int64
	// rate counts messages per second of the connection's life, for the
	// client [0] and the server [1], from the second of the first row.
	base int64
	rate [2][]int32
}

// maxRateSecs bounds the rate history (about 12 days of seconds).
const maxRateSecs = 1 << 20

func (s *store) append(b *batch) {
	for _, r := range b.rows {
		r.pre = s.keep(b.bytes[r.pre : r.pre+uint32(r.plen)])
		if r.size > s.largest || s.n == 0 {
			s.largest = r.size
		}
		k := sender(r.dir)
		s.bytes[k] += r.size
		s.counts[k]++
		if k < 2 {
			sec := r.t / int64(time.Second)
			if s.n == 0 {
				s.base = sec
			}
			d := min(max(sec-s.base, 0), maxRateSecs-1)
			for int64(len(s.rate[k])) <= d {
				s.rate[k] = append(s.rate[k], 0)
			}
			s.rate[k][d]++
		}
		if s.n%rowBlock == 0 {
			s.blocks = append(s.blocks, make([]row, rowBlock))
		}
		s.blocks[s.n/rowBlock][s.n%rowBlock] = r
		s.n++
	}
}

// keep copies a preview into the arena and returns its offset. A preview
// never straddles two blocks.
func (s *store) keep(p []byte) uint32 {
	if end := uint32(len(s.arena)) * arenaBlock; s.alen+uint32(len(p)) > end {
		s.alen = end // the rest of the last block stays unused
		s.arena = append(s.arena, make([]byte, arenaBlock))
	}
	off := s.alen
	copy(s.arena[off/arenaBlock][off%arenaBlock:], p)
	s.alen += uint32(len(p))
	return off
}

// len is the number of rows.
func (s *store) len() int { return s.n }

// at returns row i.
func (s *store) at(i int) *row { return &s.blocks[i/rowBlock][i%rowBlock] }

func (s *store) preview(r *row) []byte {
	b, o := r.pre/arenaBlock, r.pre%arenaBlock
	return s.arena[b][o : o+uint32(r.plen)]
}

// message rebuilds the summary of row i as a capture.Message, with its
// preview as Data.
func (s *store) message(i int, conn capture.ConnID) capture.Message {
	r := s.at(i)
	return capture.Message{
		Conn: conn, Dir: r.dir, Opcode: r.op, Time: time.Unix(0, r.t), Seq: r.seq, Size: r.size,
		Data: s.preview(r), Cut: !r.whole(), Dropped: r.has(flagDropped), Incomplete: r.has(flagIncomplete),
		Compressed: r.has(flagCompressed), Truncated: r.has(flagTruncated),
	}
}

// sender maps a direction to the index of ConnSummary.Messages: 0 client,
// 1 server, 2 proxy.
func sender(d capture.Direction) int {
	switch d {
	case capture.ClientToServer:
		return 0
	case capture.ServerToClient:
		return 1
	}
	return 2
}

package capture

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"iter"
	"slices"
	"time"
)

// KindMessage is the Kind of an assembled *Message. It never appears on disk.
const KindMessage Kind = 0

// Message is one whole WebSocket message, reassembled from its Chunk
// records: unmasked, defragmented and inflated.
type Message struct {
	Conn   ConnID
	Dir    Direction
	Opcode Opcode
	Time   time.Time // when its first byte reached the proxy
	End    time.Time // when its last chunk was recorded
	// Seq is the message's position in its file: the sequence number of
	// its first chunk record (0-based across the file, as in the chunk
	// headers' seq0). Reader.OpenMessage and Reader.RecordsFrom start
	// there. 0 for a message assembled from records no Reader read.
	Seq uint64
	// Index is 1, 2, 3 … among the messages of its connection, both
	// directions, counted from where the record sequence began.
	Index      int
	Size       int64  // payload bytes recorded
	WireSize   int64  // payload bytes of the frames that carried it, as declared on the wire
	Frames     int    // frames that carried it (0 when the capture holds no frame facts)
	Data       []byte // the payload, or its first MaxData bytes when Cut
	Cut        bool   // Data holds only a prefix because of AssembleOptions.MaxData
	Truncated  bool   // the capture itself kept only part of the payload
	Incomplete bool   // the message never finished, or its start was lost (the connection or the file ended, or damage)
	Compressed bool   // it was compressed on the wire (permessage-deflate)
	Dropped    bool   // the proxy did not forward it to the other peer (see Frame.Dropped)
}

// Type implements Record.
func (*Message) Type() Kind { return KindMessage }

// ConnID implements Record.
func (m *Message) ConnID() ConnID { return m.Conn }

// At implements Record.
func (m *Message) At() time.Time { return m.Time }

// Crossed reports whether the message went from one peer to the other: it
// was sent by the client or the server and the proxy forwarded it. wstap's
// own heartbeat pings, the pongs that answered them and frames dropped
// during shutdown did not cross; a replay must not resend them.
func (m *Message) Crossed() bool {
	return (m.Dir == ClientToServer || m.Dir == ServerToClient) && !m.Dropped
}

// AssembleOptions configures Assemble.
type AssembleOptions struct {
	// MaxData caps Message.Data; longer payloads keep a prefix and set Cut,
	// while Size still counts every byte. 0 means no cap. Use
	// Reader.OpenMessage to stream a big payload whole.
	MaxData int
	// Frames keeps Frame records in the output; by default they are dropped
	// (their facts still count in Message.WireSize and Message.Frames).
	Frames bool
}

type msgKey struct {
	conn    ConnID
	dir     Direction
	control bool
}

func chunkKey(c *Chunk) msgKey { return msgKey{c.Conn, c.Dir, c.Opcode.IsControl()} }

// wireCount is the frames counted towards a message.
type wireCount struct {
	bytes  int64
	frames int
}

// assembler is the one implementation of message reassembly and
// numbering: Assemble and Reader.Summaries both drive it.
type assembler struct {
	maxData int
	// alias lets a message that is one chunk reuse one Message value and
	// point Data into the chunk's own bytes: valid only until the next
	// record, which is what Summaries promises.
	alias   bool
	scratch Message

	open    map[msgKey]openMessage
	nbegun  uint64 // messages that entered open so far
	index   map[ConnID]int
	pending map[msgKey]wireCount // frames whose message has not begun yet
}

// openMessage is a message in progress and the order in which it began
// among those that did not end with their first chunk.
type openMessage struct {
	m     *Message
	began uint64
}

func newAssembler(maxData int, alias bool) *assembler {
	return &assembler{maxData: maxData, alias: alias, open: map[msgKey]openMessage{},
		index: map[ConnID]int{}, pending: map[msgKey]wireCount{}}
}

// frame counts a frame header towards the message it carries. A frame is
// recorded before its payload's chunks: a text or binary frame begins the
// next message of its kind, a continuation continues the one in progress.
func (a *assembler) frame(f *Frame) {
	k := msgKey{f.Conn, f.Dir, f.Opcode.IsControl()}
	p, waiting := a.pending[k]
	if m := a.open[k].m; m != nil && !waiting && f.Opcode == OpContinuation {
		m.WireSize += f.Length
		m.Frames++
		return
	}
	if f.Opcode != OpContinuation {
		p = wireCount{}
	}
	a.pending[k] = wireCount{p.bytes + f.Length, p.frames + 1}
}

// chunk takes one chunk at position seq. It returns a message cut short
// by this chunk's start (cut, Incomplete), and the message this chunk
// completes (done); either may be nil.
func (a *assembler) chunk(c *Chunk, seq uint64) (cut, done *Message) {
	k := chunkKey(c)
	m := a.open[k].m
	if m == nil || c.First {
		if m != nil { // a new message began before the last one ended
			delete(a.open, k)
			m.Incomplete = true
			cut = m
		}
		a.index[c.Conn]++
		if a.alias && c.Last {
			m = &a.scratch
		} else {
			m = new(Message)
		}
		w := a.pending[k]
		delete(a.pending, k)
		*m = Message{Conn: c.Conn, Dir: c.Dir, Opcode: c.Opcode, Time: c.Time, Seq: seq, Index: a.index[c.Conn],
			Compressed: c.Compressed, Incomplete: !c.First, WireSize: w.bytes, Frames: w.frames}
		if !c.Last { // a single-chunk message (the common case) never enters the map
			a.nbegun++
			a.open[k] = openMessage{m, a.nbegun}
		}
	}
	m.Size += int64(len(c.Data))
	m.End = c.Time
	m.Truncated = m.Truncated || c.Truncated
	m.Dropped = m.Dropped || c.Dropped
	keep := len(c.Data)
	if a.maxData > 0 && len(m.Data)+keep > a.maxData {
		keep = max(0, a.maxData-len(m.Data))
		m.Cut = true
	}
	switch {
	case m == &a.scratch:
		m.Data = c.Data[:keep:keep]
	case keep > 0:
		m.Data = append(m.Data, c.Data[:keep]...)
	}
	if c.Last {
		delete(a.open, k)
		done = m
	}
	return cut, done
}

// unfinished removes and returns the messages in progress of conn (0: of
// every connection), marked Incomplete, in the order they began in the
// file.
func (a *assembler) unfinished(conn ConnID) []*Message {
	var ms []openMessage
	for k, o := range a.open {
		if conn == 0 || k.conn == conn {
			ms = append(ms, o)
			delete(a.open, k)
		}
	}
	if conn == 0 {
		clear(a.pending)
	} else {
		for k := range a.pending {
			if k.conn == conn {
				delete(a.pending, k)
			}
		}
	}
	slices.SortFunc(ms, func(x, y openMessage) int { return cmp.Compare(x.began, y.began) })
	out := make([]*Message, len(ms))
	for i, o := range ms {
		o.m.Incomplete = true
		out[i] = o.m
	}
	return out
}

// Assemble turns a record sequence (from Reader.Records or Reader.Follow)
// into one where Chunk records are replaced by whole *Message values, each
// yielded when its last chunk arrives. Messages left unfinished when their
// connection ends, when the sequence ends, or when damage in the file
// passes, are yielded as Incomplete, in the order they began. A
// *DamageError passes through and the sequence goes on; any other error
// ends it. Every other record passes through in order.
func Assemble(src iter.Seq2[Record, error], opts AssembleOptions) iter.Seq2[Record, error] {
	return func(yield func(Record, error) bool) {
		newAssembler(opts.MaxData, false).run(src, true, opts.Frames, yield)
	}
}

// run drives the assembler over src and yields the messages, and with
// others every other record (frames too with frames), until src ends, an
// error other than damage, or the consumer stops.
func (a *assembler) run(src iter.Seq2[Record, error], others, frames bool, yield func(Record, error) bool) {
	flush := func(conn ConnID) bool {
		for _, m := range a.unfinished(conn) {
			if !yield(m, nil) {
				return false
			}
		}
		return true
	}
	for rec, err := range src {
		if err != nil {
			if !flush(0) || !yield(nil, err) || !IsDamage(err) {
				return
			}
			continue
		}
		switch r := rec.(type) {
		case *Chunk:
			cut, done := a.chunk(r, r.seq)
			if cut != nil && !yield(cut, nil) {
				return
			}
			if done != nil && !yield(done, nil) {
				return
			}
		case *Frame:
			a.frame(r)
			if others && frames && !yield(r, nil) {
				return
			}
		case *End:
			if !flush(r.Conn) || others && !yield(r, nil) {
				return
			}
		default:
			if others && !yield(rec, nil) {
				return
			}
		}
	}
	flush(0)
}

// Messages is Assemble over Records(f).
func (r *Reader) Messages(f Filter, opts AssembleOptions) iter.Seq2[Record, error] {
	return Assemble(r.Records(f), opts)
}

// SummaryPrefix is how much of each payload Reader.Summaries keeps.
const SummaryPrefix = 256

// Summaries yields a summary of every message that f selects, in the order
// Messages would yield them: direction, times, opcode, size, wire size,
// flags, position (Seq) and the first SummaryPrefix bytes of the payload in
// Data (Cut when there is more). It copies only those prefixes, and only
// of messages that span several chunks: the *Message and its Data are
// reused, and valid only until the next iteration. Keep what you need.
// Errors are as for Records: a *DamageError is yielded and the sequence
// goes on.
func (r *Reader) Summaries(f Filter) iter.Seq2[*Message, error] {
	return func(yield func(*Message, error) bool) {
		newAssembler(SummaryPrefix, true).run(r.records(f, 0, true), false, false, func(rec Record, err error) bool {
			if err != nil {
				return yield(nil, err)
			}
			return yield(rec.(*Message), nil)
		})
	}
}

// OpenMessage streams the whole payload of a message that Messages or
// Summaries yielded (typically one that was Cut), reading chunk by chunk:
// memory stays bounded whatever the message's size. It starts at the
// message's position (Message.Seq), found by a binary search of the chunk
// index, never at the connection's beginning. The stream is the caller's
// to close; it may be read while other goroutines use the Reader.
func (r *Reader) OpenMessage(m *Message) (io.ReadCloser, error) {
	if m == nil || m.Conn == 0 || m.Seq == 0 {
		return nil, errors.New("capture: no message to open (it has no position in a file)")
	}
	return r.OpenMessageAt(m.Conn, m.Seq)
}

// OpenMessageAt streams the payload of connection conn's message whose
// first chunk record is at position seq.
func (r *Reader) OpenMessageAt(conn ConnID, seq uint64) (io.ReadCloser, error) {
	if conn == 0 {
		return nil, errors.New("capture: no message to open (connection 0)")
	}
	next, stop := iter.Pull2(r.records(Filter{Conn: conn}, seq, true))
	return &messageStream{next: next, stop: stop, conn: conn, seq: seq}, nil
}

// messageStream yields the chunks of the message that begins at seq: the
// chunks of its connection, direction and kind (data or control) that
// follow, until the last, the connection's end, or the next message of the
// same kind.
type messageStream struct {
	next    func() (Record, error, bool)
	stop    func()
	conn    ConnID
	seq     uint64
	key     msgKey
	started bool
	done    bool
	buf     []byte
}

func (s *messageStream) Read(p []byte) (int, error) {
	for len(s.buf) == 0 {
		if s.done {
			return 0, io.EOF
		}
		rec, err, ok := s.next()
		if err != nil {
			s.done = true
			if !s.started {
				return 0, fmt.Errorf("capture: message of connection %d at position %d: %w", s.conn, s.seq, err)
			}
			return 0, err
		}
		if !ok {
			s.done = true
			if !s.started {
				return 0, fmt.Errorf("capture: no message of connection %d at position %d", s.conn, s.seq)
			}
			return 0, io.ErrUnexpectedEOF // the file ends before the message does
		}
		if _, end := rec.(*End); end && s.started {
			s.done = true
			continue
		}
		c, isChunk := rec.(*Chunk)
		if !isChunk {
			continue
		}
		if !s.started {
			if c.seq != s.seq {
				s.done = true
				return 0, fmt.Errorf("capture: no message of connection %d at position %d", s.conn, s.seq)
			}
			s.started, s.key = true, chunkKey(c)
		} else if chunkKey(c) != s.key {
			continue
		} else if c.First { // the next message of the same kind began: ours never finished
			s.done = true
			continue
		}
		s.buf = c.Data
		if c.Last {
			s.done = true
		}
	}
	n := copy(p, s.buf)
	s.buf = s.buf[n:]
	return n, nil
}

// Close releases the stream.
func (s *messageStream) Close() error {
	s.stop()
	return nil
}

package capture

import (
	"cmp"
	"errors"
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
	Conn       ConnID
	Dir        Direction
	Opcode     Opcode
	Time       time.Time // when its first byte reached the proxy
	End        time.Time // when its last chunk was recorded
	Index      int       // 1, 2, 3 … among the messages of its connection, both directions
	Size       int64     // payload bytes recorded
	Data       []byte    // the payload, or its first MaxData bytes when Cut
	Cut        bool      // Data holds only a prefix because of AssembleOptions.MaxData
	Truncated  bool      // the capture itself kept only part of the payload
	Incomplete bool      // the message never finished (the connection or the file ended)
	Compressed bool      // it was compressed on the wire (permessage-deflate)
}

// Type implements Record.
func (*Message) Type() Kind { return KindMessage }

// ConnID implements Record.
func (m *Message) ConnID() ConnID { return m.Conn }

// At implements Record.
func (m *Message) At() time.Time { return m.Time }

// AssembleOptions configures Assemble.
type AssembleOptions struct {
	// MaxData caps Message.Data; longer payloads keep a prefix and set Cut,
	// while Size still counts every byte. 0 means no cap. Use
	// Reader.OpenMessage to stream a big payload whole.
	MaxData int
	// Frames keeps Frame records in the output; by default they are dropped.
	Frames bool
}

type msgKey struct {
	conn    ConnID
	dir     Direction
	control bool
}

// Assemble turns a record sequence (from Reader.Records or Reader.Follow)
// into one where Chunk records are replaced by whole *Message values, each
// yielded when its last chunk arrives. Messages left unfinished when their
// connection ends, or when the sequence ends, are yielded as Incomplete.
// Every other record passes through in order.
func Assemble(src iter.Seq2[Record, error], opts AssembleOptions) iter.Seq2[Record, error] {
	return func(yield func(Record, error) bool) {
		open := map[msgKey]*Message{}
		index := map[ConnID]int{}
		flush := func(conn ConnID) bool {
			var ks []msgKey
			for k := range open {
				if conn == 0 || k.conn == conn {
					ks = append(ks, k)
				}
			}
			// Index counts per connection: ties between connections are
			// broken as docs/examples/read_capture.py does, by the key
			// (connection, direction, control).
			slices.SortFunc(ks, func(a, b msgKey) int {
				return cmp.Or(cmpInt(open[a].Index, open[b].Index), cmpInt(a.conn, b.conn),
					cmp.Compare(a.dir, b.dir), cmpInt(btoi(a.control), btoi(b.control)))
			})
			for _, k := range ks {
				m := open[k]
				delete(open, k)
				m.Incomplete = true
				if !yield(m, nil) {
					return false
				}
			}
			return true
		}
		for rec, err := range src {
			if err != nil {
				if !flush(0) {
					return
				}
				yield(nil, err)
				return
			}
			switch r := rec.(type) {
			case *Chunk:
				k := msgKey{r.Conn, r.Dir, r.Opcode.IsControl()}
				m := open[k]
				fresh := m == nil || r.First
				if fresh {
					if m != nil { // a new message began before the last one ended
						delete(open, k)
						m.Incomplete = true
						if !yield(m, nil) {
							return
						}
					}
					index[r.Conn]++
					m = &Message{Conn: r.Conn, Dir: r.Dir, Opcode: r.Opcode, Time: r.Time, Index: index[r.Conn],
						Compressed: r.Compressed}
					if !r.Last { // a single-chunk message (the common case) never enters the map
						open[k] = m
					}
				}
				m.Size += int64(len(r.Data))
				m.End = r.Time
				m.Truncated = m.Truncated || r.Truncated
				if keep := len(r.Data); opts.MaxData > 0 && len(m.Data)+keep > opts.MaxData {
					keep = max(0, opts.MaxData-len(m.Data))
					m.Data = append(m.Data, r.Data[:keep]...)
					m.Cut = true
				} else {
					m.Data = append(m.Data, r.Data...)
				}
				if r.Last {
					if !fresh {
						delete(open, k)
					}
					if !yield(m, nil) {
						return
					}
				}
			case *Frame:
				if opts.Frames && !yield(r, nil) {
					return
				}
			case *End:
				if !flush(r.Conn) || !yield(r, nil) {
					return
				}
			default:
				if !yield(rec, nil) {
					return
				}
			}
		}
		flush(0)
	}
}

// Messages is Assemble over Records(f).
func (r *Reader) Messages(f Filter, opts AssembleOptions) iter.Seq2[Record, error] {
	return Assemble(r.Records(f), opts)
}

// OpenMessage streams the whole payload of a message that Messages yielded
// (typically one that was Cut), reading chunk by chunk: memory stays bounded
// whatever the message's size. It finds the message by its connection and
// Index, so it reads that connection's chunks from the start.
func (r *Reader) OpenMessage(m *Message) (io.ReadCloser, error) {
	if m == nil || m.Conn == 0 || m.Index < 1 {
		return nil, errors.New("capture: no message to open")
	}
	next, stop := iter.Pull2(r.Records(Filter{Conn: m.Conn}))
	return &messageStream{next: next, stop: stop, m: m, open: map[msgKey]bool{}}, nil
}

// messageStream counts message starts exactly as Assemble numbers them.
type messageStream struct {
	next    func() (Record, error, bool)
	stop    func()
	m       *Message
	open    map[msgKey]bool // keys with a message in progress
	seen    int             // messages of the connection begun so far
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
			return 0, err
		}
		if !ok {
			s.done = true
			if !s.started {
				return 0, errors.New("capture: message not found")
			}
			return 0, io.ErrUnexpectedEOF
		}
		if _, end := rec.(*End); end {
			clear(s.open)
			if s.started {
				s.done = true
			}
			continue
		}
		c, isChunk := rec.(*Chunk)
		if !isChunk {
			continue
		}
		k := msgKey{c.Conn, c.Dir, c.Opcode.IsControl()}
		begins := c.First || !s.open[k]
		if begins {
			s.seen++
		}
		s.open[k] = !c.Last
		mine := k == msgKey{s.m.Conn, s.m.Dir, s.m.Opcode.IsControl()}
		switch {
		case !s.started && begins && s.seen == s.m.Index:
			s.started = true
		case !s.started || !mine:
			continue
		case begins: // the next message of the same kind began: ours never finished
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

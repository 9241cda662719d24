package capture

import (
	"slices"
	"time"
)

// ConnSummary is what a listing shows of one connection. The writer keeps it
// in index checkpoints, so a reader lists connections without decoding
// payloads; for chunks written after the last checkpoint the reader folds the
// records in itself.
type ConnSummary struct {
	Conn        ConnID    `cbor:"conn" json:"conn"`
	URL         string    `cbor:"url" json:"url"`
	Mode        string    `cbor:"mode,omitempty" json:"mode,omitempty"`
	ClientAddr  string    `cbor:"client_addr,omitempty" json:"client_addr,omitempty"`
	Status      int       `cbor:"status" json:"status"`
	Subprotocol string    `cbor:"subprotocol,omitempty" json:"subprotocol,omitempty"`
	Extensions  string    `cbor:"extensions,omitempty" json:"extensions,omitempty"`
	First       time.Time `cbor:"first" json:"first"` // the open record's time
	Last        time.Time `cbor:"last" json:"last"`   // the latest record's time

	// Messages and Bytes count messages (data and control) and their decoded
	// payload bytes by sender: [0] client, [1] server, [2] proxy.
	Messages [3]int64 `cbor:"messages" json:"messages"`
	Bytes    [3]int64 `cbor:"bytes" json:"bytes"`

	CloseCode   int    `cbor:"close_code,omitempty" json:"close_code,omitempty"` // the first close seen
	CloseFrom   string `cbor:"close_from,omitempty" json:"close_from,omitempty"`
	CloseReason string `cbor:"close_reason,omitempty" json:"close_reason,omitempty"`
	Events      int    `cbor:"events,omitempty" json:"events,omitempty"`
	Violations  int    `cbor:"violations,omitempty" json:"violations,omitempty"`
	Ghost       bool   `cbor:"ghost,omitempty" json:"ghost,omitempty"`
	Ended       bool   `cbor:"ended,omitempty" json:"ended,omitempty"`
	Error       string `cbor:"error,omitempty" json:"error,omitempty"`
}

// Duration is the time from the open record to the latest record.
func (s *ConnSummary) Duration() time.Duration {
	if s.First.IsZero() || s.Last.Before(s.First) {
		return 0
	}
	return s.Last.Sub(s.First)
}

// HTTPSummary is what a listing shows of one plain HTTP exchange.
type HTTPSummary struct {
	ID           uint64        `cbor:"id" json:"id"`
	Time         time.Time     `cbor:"time" json:"time"`
	Method       string        `cbor:"method" json:"method"`
	URL          string        `cbor:"url" json:"url"`
	Status       int           `cbor:"status" json:"status"`
	Duration     time.Duration `cbor:"duration_ns" json:"duration_ns"`
	RequestSize  int64         `cbor:"request_size" json:"request_size"`
	ResponseSize int64         `cbor:"response_size" json:"response_size"`
}

func summarizeHTTP(x *HTTP) HTTPSummary {
	return HTTPSummary{ID: x.ID, Time: x.Time, Method: x.Method, URL: x.URL, Status: x.Status,
		Duration: x.Duration, RequestSize: x.RequestSize, ResponseSize: x.ResponseSize}
}

// apply folds one record of the summary's connection into it. The writer
// and the reader share it, so a listing is the same whichever built it.
func (s *ConnSummary) apply(r Record) {
	if t := r.At(); t.After(s.Last) {
		s.Last = t
	}
	switch r := r.(type) {
	case *ConnOpen:
		s.URL, s.Mode, s.ClientAddr, s.Status = r.URL, r.Mode, r.ClientAddr, r.Status
		s.Subprotocol, s.Extensions, s.First = r.Subprotocol, r.Extensions, r.Time
	case *Chunk:
		side := r.Dir.side()
		if r.First {
			s.Messages[side]++
		}
		s.Bytes[side] += int64(len(r.Data))
	case *Close:
		if s.CloseCode == 0 {
			s.CloseCode, s.CloseFrom, s.CloseReason = r.Code, r.Dir.From(), validText(r.Reason)
		}
	case *Event:
		s.Events++
		switch r.Kind {
		case EventViolation:
			s.Violations++
		case EventGhost:
			s.Ghost = true
		}
	case *End:
		s.Ended, s.Error = true, r.Error
	}
}

// checkpoint is the CBOR map (text keys) in an index checkpoint frame. Each
// checkpoint covers the chunks written since the previous one and carries the
// full summary of every connection those chunks touched, so the newest
// summary of a connection is the one in the last checkpoint that names it.
type checkpoint struct {
	Prev   int64         `cbor:"prev"`  // offset of the previous checkpoint, -1 for none
	Seq    uint64        `cbor:"seq"`   // records written before this checkpoint
	Final  bool          `cbor:"final"` // the writer closed the file after this checkpoint
	Chunks []chunkEntry  `cbor:"chunks"`
	Conns  []ConnSummary `cbor:"conns"`
	HTTP   []HTTPSummary `cbor:"http"`
}

// chunkEntry locates one chunk and says which connections it holds records
// of (0 stands for HTTP exchanges and events of no connection).
type chunkEntry struct {
	_      struct{} `cbor:",toarray"`
	Offset int64    // of the chunk's skippable frame
	CLen   uint32
	ULen   uint32
	NRec   uint32
	Seq0   uint64
	T0, T1 int64
	Conns  []ConnID // sorted; nil when unknown (not yet covered by a checkpoint)
}

func (e *chunkEntry) has(c ConnID) bool {
	if e.Conns == nil {
		return true // unknown: the chunk must be read to tell
	}
	_, ok := slices.BinarySearch(e.Conns, c)
	return ok
}

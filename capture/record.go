package capture

import (
	"fmt"
	"net/http"
	"strings"
	"time"
)

// ConnID identifies a WebSocket connection within one capture file. IDs are
// 1, 2, 3 … in the order the connections were opened; 0 means "the capture as
// a whole" (for events that belong to no connection).
type ConnID uint64

// Direction says which way a frame or message travelled, and who sent it.
type Direction uint8

// Directions. The proxy's own frames (heartbeat pings, closes it originates)
// carry ProxyToClient or ProxyToServer.
const (
	ClientToServer Direction = 0
	ServerToClient Direction = 1
	ProxyToClient  Direction = 2
	ProxyToServer  Direction = 3
)

// From names the sender: "client", "server" or "proxy", as in the JSONL schema.
func (d Direction) From() string {
	switch d {
	case ClientToServer:
		return "client"
	case ServerToClient:
		return "server"
	case ProxyToClient, ProxyToServer:
		return "proxy"
	}
	return fmt.Sprintf("dir(%d)", uint8(d))
}

// String returns the direction as "client->server", "server->client",
// "proxy->client" or "proxy->server".
func (d Direction) String() string {
	switch d {
	case ClientToServer:
		return "client->server"
	case ServerToClient:
		return "server->client"
	case ProxyToClient:
		return "proxy->client"
	case ProxyToServer:
		return "proxy->server"
	}
	return fmt.Sprintf("dir(%d)", uint8(d))
}

// Valid reports whether d is one of the four defined directions.
func (d Direction) Valid() bool { return d <= ProxyToServer }

// side indexes per-sender counters: 0 client, 1 server, 2 proxy.
func (d Direction) side() int {
	if d > ServerToClient {
		return 2
	}
	return int(d)
}

// Opcode is a WebSocket frame opcode. See RFC 6455, section 5.2.
type Opcode uint8

// Opcodes defined by RFC 6455, section 11.8.
const (
	OpContinuation Opcode = 0x0
	OpText         Opcode = 0x1
	OpBinary       Opcode = 0x2
	OpClose        Opcode = 0x8
	OpPing         Opcode = 0x9
	OpPong         Opcode = 0xA
)

// String returns the lower-case name used in the JSONL schema ("text",
// "binary", "ping", …), or "reserved-N" for an opcode RFC 6455 reserves.
func (o Opcode) String() string {
	switch o {
	case OpContinuation:
		return "continuation"
	case OpText:
		return "text"
	case OpBinary:
		return "binary"
	case OpClose:
		return "close"
	case OpPing:
		return "ping"
	case OpPong:
		return "pong"
	}
	return fmt.Sprintf("reserved-%d", uint8(o))
}

// IsControl reports whether o is a control opcode (0x8–0xF). See RFC 6455,
// section 5.5.
func (o Opcode) IsControl() bool { return o&0x8 != 0 }

// Kind is the type of a record on disk. The numbers are part of the file
// format (docs/capture-format.md) and never change meaning.
type Kind uint8

// Record kinds.
const (
	KindOpen  Kind = 1
	KindFrame Kind = 2
	KindChunk Kind = 3
	KindClose Kind = 4
	KindEvent Kind = 5
	KindHTTP  Kind = 6
	KindEnd   Kind = 7
)

// String returns the record kind's name as used in the JSONL "type" field.
func (k Kind) String() string {
	switch k {
	case KindOpen:
		return "open"
	case KindFrame:
		return "frame"
	case KindChunk:
		return "chunk"
	case KindClose:
		return "close"
	case KindEvent:
		return "event"
	case KindHTTP:
		return "http"
	case KindEnd:
		return "end"
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// Record is one entry of a capture: *ConnOpen, *Frame, *Chunk, *Close, *Event,
// *HTTP or *End.
type Record interface {
	// Type returns the record's on-disk kind.
	Type() Kind
	// ConnID returns the connection the record belongs to (0 for none).
	ConnID() ConnID
	// At returns the time the proxy observed what the record describes.
	At() time.Time
}

// ConnOpen records a WebSocket connection: both legs' handshakes as the proxy saw
// them. It is written once the server has answered; a refused handshake is a
// ConnOpen with the refusal's status (and a "refused" Event).
type ConnOpen struct {
	Conn ConnID    // assigned by Writer.Open
	Time time.Time // when the client's upgrade request arrived

	URL        string // ws:// or wss:// URL of the upstream, with path and query
	Mode       string // "explicit", "connect" or "reverse"
	ClientAddr string // remote address of the client leg
	ServerAddr string // remote address of the server leg, if dialled

	RequestHeaders  http.Header // the upgrade request as the client sent it
	ResponseHeaders http.Header // the server's response headers
	Status          int         // 101, or the refusal's status; 0 if the upstream was unreachable
	Subprotocol     string      // Sec-WebSocket-Protocol chosen by the server
	Extensions      string      // Sec-WebSocket-Extensions chosen by the server
	ResponseBody    []byte      // a prefix of a refusal's body

	ClientTLS *TLSInfo // TLS facts of the client leg, nil for plain ws
	ServerTLS *TLSInfo // TLS facts of the server leg, nil for plain ws

	// RequestHeaderList is the upgrade request's header lines as the
	// client sent them: in its order and case, Host included (net/http's
	// Header drops Host and canonicalises names). Headers meant for the
	// proxy (Proxy-Authorization, Proxy-Connection) are left out. Replay
	// and code generation reproduce the request from it. Nil in captures
	// written before it existed; RequestHeaders is always set.
	RequestHeaderList []HeaderField
	// ResponseHeaderList is the server's response header lines as it
	// wrote them, in order and case.
	ResponseHeaderList []HeaderField
	// Redacted names (canonical case, sorted) the headers whose values in
	// this record are the placeholder "[redacted]", not what was sent.
	Redacted []string
}

// HeaderField is one header line as it crossed the wire: the name in its
// original case, and the value.
type HeaderField struct {
	Name  string
	Value string
}

// Redaction is the value that stands in the capture for a redacted
// header's value; the names of such headers are in the record's Redacted.
const Redaction = "[redacted]"

// IsRedacted reports whether the record's value of header name (any case)
// is the Redaction placeholder rather than what was sent.
func IsRedacted(redacted []string, name string) bool {
	for _, n := range redacted {
		if strings.EqualFold(n, name) {
			return true
		}
	}
	return false
}

// TLSInfo holds the facts of one TLS leg.
type TLSInfo struct {
	Version  string     `cbor:"version,omitempty" json:"version,omitempty"`
	Cipher   string     `cbor:"cipher,omitempty" json:"cipher,omitempty"`
	ALPN     string     `cbor:"alpn,omitempty" json:"alpn,omitempty"`
	SNI      string     `cbor:"sni,omitempty" json:"sni,omitempty"`
	Chain    []CertInfo `cbor:"chain,omitempty" json:"chain,omitempty"`
	Verified string     `cbor:"verified,omitempty" json:"verified,omitempty"` // verification result in words
}

// CertInfo describes one certificate of a peer's chain.
type CertInfo struct {
	Subject  string    `cbor:"subject" json:"subject"`
	Issuer   string    `cbor:"issuer" json:"issuer"`
	NotAfter time.Time `cbor:"not_after" json:"not_after"`
}

// Frame records the facts of one frame header as it crossed the proxy. The
// payload itself is recorded, decoded, in Chunk records.
type Frame struct {
	Conn   ConnID
	Time   time.Time // when the frame header arrived
	Dir    Direction
	Fin    bool
	RSV    uint8 // RSV1..RSV3 as bits 2..0 (RSV1 = 4)
	Opcode Opcode
	Masked bool
	Length int64 // payload length declared by the header (on the wire)
	// Dropped says the proxy did not forward the frame to the other peer:
	// a pong that answered wstap's own heartbeat ping, or a frame that
	// arrived after wstap began shutting the connection down. A replay
	// must not resend it: the other side never saw it.
	Dropped bool
}

// Chunk is a piece of one message's decoded payload: unmasked and, where
// permessage-deflate was negotiated, inflated. A message is one or more
// chunks from First to Last, in order, of at most MaxChunk bytes each.
// Control messages (ping, pong) are always a single chunk. A data message's
// chunks may be interleaved with other records, including control messages of
// the same direction (RFC 6455, section 5.4).
type Chunk struct {
	Conn       ConnID
	Time       time.Time // the first chunk's time is the message's time
	Dir        Direction
	Opcode     Opcode // the message's opcode (text, binary, ping, pong)
	First      bool
	Last       bool
	Compressed bool   // the message was compressed on the wire (RSV1)
	Truncated  bool   // the capture kept only part of the payload here
	Dropped    bool   // the proxy did not forward the message (see Frame.Dropped)
	Data       []byte // at most MaxChunk bytes

	// Frame, when set on a chunk handed to Writer.Append, holds the facts
	// of the frame that carried it. When that frame is exactly this whole
	// message (First and Last, FIN, same opcode, Length == len(Data)), the
	// writer folds the facts into the chunk's record instead of writing a
	// frame record, which matters for small messages; otherwise it writes
	// the frame record first. A reader yields the facts as a *Frame record
	// just before the chunk and leaves this field nil.
	Frame *Frame

	seq uint64 // the record's position in the file it was read from (see Message.Seq)
}

// Close records a close frame, or the abrupt end of one side (Code 1006,
// which never appears on the wire; see RFC 6455, section 7.1.5).
type Close struct {
	Conn   ConnID
	Time   time.Time
	Dir    Direction // who sent it
	Code   int       // 1005 when the close frame carried no status code
	Reason string
	// Dropped says the proxy did not forward the close frame (see
	// Frame.Dropped).
	Dropped bool
}

// Event records something that is not traffic: a protocol violation, a ghost
// connection, a refused handshake, an error, a note.
type Event struct {
	Conn   ConnID // 0 when the event belongs to no connection
	Time   time.Time
	Kind   string // one of the Event* constants, or another lower-case word
	Detail string
}

// Event kinds used by wstap.
const (
	EventViolation = "violation"
	EventGhost     = "ghost"
	EventRefused   = "refused"
	EventError     = "error"
	EventNote      = "note"
	EventTunnel    = "tunnel"
)

// HTTP records one plain HTTP exchange that went through the proxy.
type HTTP struct {
	ID   uint64    // assigned by Writer.HTTP: 1, 2, 3 … within the file
	Time time.Time // when the request arrived

	Method          string
	URL             string
	Status          int // 0 when no response arrived
	RequestHeaders  http.Header
	ResponseHeaders http.Header
	RequestBody     []byte // at most the writer's body cap
	ResponseBody    []byte
	RequestSize     int64 // the whole body's size; larger than len(RequestBody) when cut
	ResponseSize    int64
	Duration        time.Duration // from the request to the end of the response
	Error           string
	ClientAddr      string
	Redacted        []string // headers whose values are the Redaction placeholder (see ConnOpen.Redacted)
}

// End records that a connection is over: both legs are closed.
type End struct {
	Conn  ConnID
	Time  time.Time
	Error string // why, if it did not end with a clean close handshake
}

// Type implements Record.
func (*ConnOpen) Type() Kind { return KindOpen }
func (*Frame) Type() Kind    { return KindFrame }
func (*Chunk) Type() Kind    { return KindChunk }
func (*Close) Type() Kind    { return KindClose }
func (*Event) Type() Kind    { return KindEvent }
func (*HTTP) Type() Kind     { return KindHTTP }
func (*End) Type() Kind      { return KindEnd }

// ConnID implements Record.
func (r *ConnOpen) ConnID() ConnID { return r.Conn }
func (r *Frame) ConnID() ConnID    { return r.Conn }
func (r *Chunk) ConnID() ConnID    { return r.Conn }
func (r *Close) ConnID() ConnID    { return r.Conn }
func (r *Event) ConnID() ConnID    { return r.Conn }
func (r *HTTP) ConnID() ConnID     { return 0 }
func (r *End) ConnID() ConnID      { return r.Conn }

// At implements Record.
func (r *ConnOpen) At() time.Time { return r.Time }
func (r *Frame) At() time.Time    { return r.Time }
func (r *Chunk) At() time.Time    { return r.Time }
func (r *Close) At() time.Time    { return r.Time }
func (r *Event) At() time.Time    { return r.Time }
func (r *HTTP) At() time.Time     { return r.Time }
func (r *End) At() time.Time      { return r.Time }

package decode

import (
	"fmt"
)

// Kind names a way to read a payload.
type Kind uint8

// The kinds of payload Format reads.
const (
	Text     Kind = iota // UTF-8 (invalid bytes shown as U+FFFD), wrapped at Options.Width
	JSON                 // pretty-printed, 2-space indent
	Hex                  // hex dump: offset, 16 bytes in two groups of 8, ASCII column
	MsgPack              // MessagePack values as JSON-like text
	CBOR                 // CBOR items in RFC 8949 diagnostic notation
	Protobuf             // the protobuf wire format without a schema
	SocketIO             // Engine.IO / Socket.IO packets
	MQTT                 // MQTT 3.1.1 and 5 control packets

	numKinds = iota
)

var kindNames = [numKinds]string{"text", "json", "hex", "msgpack", "cbor", "protobuf", "socket.io", "mqtt"}

// String returns the kind's name: "text", "json", "hex", "msgpack", "cbor",
// "protobuf", "socket.io" or "mqtt".
func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// ParseKind returns the kind whose String is s.
func ParseKind(s string) (Kind, error) {
	for i, n := range kindNames {
		if n == s {
			return Kind(i), nil
		}
	}
	return 0, fmt.Errorf("decode: unknown kind %q", s)
}

// Hint is what a connection tells about its payloads.
type Hint struct {
	Subprotocol string // the Sec-WebSocket-Protocol the server chose
	URL         string // the ws:// or wss:// URL (Socket.IO: path /socket.io/ or query EIO=)
}

// Options configures Format. The zero value works.
type Options struct {
	// Width wraps lines longer than this many terminal cells (0: 80; values
	// below 16 count as 16). Hex ignores it.
	Width int
	// MaxLine caps one logical line's bytes before wrapping (0: 64 KiB); the
	// rest becomes "…(+N B)".
	MaxLine int
	// MQTTVersion is the MQTT protocol level of the connection when the caller
	// knows it from the CONNECT packet: 4 for 3.1.1, 5 for MQTT 5 (0: guess
	// per message, see the package documentation).
	MQTTVersion int
}

const (
	defaultWidth   = 80
	minWidth       = 16
	maxWidth       = 1 << 14
	defaultMaxLine = 64 << 10
)

func (o Options) width() int {
	switch {
	case o.Width <= 0:
		return defaultWidth
	case o.Width < minWidth:
		return minWidth
	case o.Width > maxWidth:
		return maxWidth
	}
	return o.Width
}

func (o Options) maxLine() int {
	if o.MaxLine <= 0 {
		return defaultMaxLine
	}
	return o.MaxLine
}

// Doc is a formatted payload, read a line at a time so that only visible
// lines are built. A Doc is immutable and safe for concurrent use; it may
// keep a reference to the payload given to Format, which must then not be
// modified.
type Doc interface {
	// Len returns the number of lines.
	Len() int
	// Line returns line i, 0 ≤ i < Len(); it is cheap (well under 1 ms) and
	// safe for concurrent use. Out of range it returns the zero Line.
	Line(i int) Line
}

// Line is one display line.
type Line struct {
	Text  string // plain text: no ANSI, no control characters (escaped visibly), no tabs
	Spans []Span // byte ranges of Text with a class, sorted, non-overlapping; gaps are Plain
}

// Span gives the bytes Text[Start:End] of a Line the class Class.
type Span struct {
	Start, End int
	Class      Class
}

// Class is the role of a piece of text, which the caller maps to a style.
type Class uint8

// The classes of text in a Line.
const (
	Plain   Class = iota
	Key           // object keys
	String        // string values
	Number        // numbers
	Literal       // true, false, null and the like
	Punct         // brackets, commas, colons
	Offset        // hex offsets, line gutters
	Meta          // field, packet and type labels; escaped characters
	Error         // what failed to parse

	numClasses = iota
)

var classNames = [numClasses]string{"plain", "key", "string", "number", "literal", "punct", "offset", "meta", "error"}

// String returns the class's lower-case name, such as "key".
func (c Class) String() string {
	if int(c) < len(classNames) {
		return classNames[c]
	}
	return fmt.Sprintf("class(%d)", uint8(c))
}

// Package decode turns a WebSocket message payload into display lines: it
// picks how to read the payload (Detect, Kinds) and formats it as plain text
// lines with style classes (Format), which the inspector maps to colours and
// which show, a session diff and export reuse.
//
// # Overview
//
// A payload is read as one Kind: Text, JSON, Hex, MsgPack, CBOR, Protobuf
// (the wire format without a schema), SocketIO (Engine.IO and Socket.IO
// packets) or MQTT (3.1.1 and 5 control packets). Format returns a Doc that
// builds a Line only when asked for it, so that a terminal showing forty
// lines of a 10 MiB payload formats forty lines: Hex computes each line from
// the payload, and JSON is pretty-printed once into one buffer and a line
// index, then coloured line by line with chroma's JSON lexer. Each Line is
// plain text (no ANSI, no tabs, control characters made visible) and spans
// of Class; a logical line longer than Options.MaxLine is cut with
// "…(+N B)" and the rest wrapped at Options.Width cells, counting East Asian
// wide characters and emoji as two cells (a table that errs on the wide
// side, so a line never takes more cells than Width).
//
// Pair finds the request and response a message belongs to (JSON-RPC 2.0,
// GraphQL over WebSocket), so a viewer can jump between them.
//
// # Detection
//
// Detect applies these rules in order; Kinds lists Detect's pick, then every
// other kind that reads the payload, then Hex and Text. A message counts as
// text when its opcode is capture.OpText, else as binary.
//
//  1. The subprotocol, for binary messages: one containing "mqtt" gives
//     MQTT; "msgpack" or "messagepack" MsgPack; "cbor" CBOR; "proto"
//     (protobuf) Protobuf. For text messages, "json" or "graphql" gives
//     JSON. A hint is followed only when the payload fits the kind (for
//     MQTT, when it starts with a valid fixed header); otherwise sniffing
//     decides.
//  2. The URL: a path containing /socket.io/ or a query with EIO gives
//     SocketIO, for text messages that parse as Engine.IO packets and for
//     binary ones (attachments).
//  3. Text messages: JSON if the payload is valid JSON, else SocketIO if it
//     is plainly a Socket.IO packet without a hint (an EVENT such as
//     42["chat",…] with its event name, an ACK with an id and an array,
//     2probe), else Text.
//  4. Binary messages: JSON if the payload is UTF-8 and valid JSON; then
//     MsgPack if it parses completely as one or more values the first of
//     which is a map or an array, and CBOR if it parses completely as a
//     sequence of items the first of which is a map, an array or a tag. The
//     two can read the same bytes: MsgPack is tried first when the first
//     byte is a MessagePack map or array head (0x80–0x9f, 0xdc–0xdf, which
//     CBOR reads as a small array or a tag it rejects), CBOR first
//     otherwise (a CBOR map, 0xa0–0xbf, is a MessagePack string). Then
//     Protobuf if it parses completely as a message of at least one field
//     with field numbers 1…2^29-1 and known wire types (groups included).
//     Else Hex.
//
// Where MsgPack and CBOR both read the bytes, the reading with more
// string-keyed map entries, fewer other keys and fewer top-level values
// wins; on a tie, the first byte decides as above. Neither is sniffed in a
// payload of more than 64 top-level values.
//
// Payloads up to 1 MiB are checked in full (MQTT: the bodies of the first
// 64 packets, the headers of the rest). Above that, Detect looks at a
// 64 KiB prefix: JSON must be valid so far and end with the bracket that
// closes its first one; MsgPack, CBOR and Protobuf must parse that far.
// MQTT and Socket.IO without a hint are not sniffed above 1 MiB. So Detect
// costs microseconds on a large payload, and Format may still find it
// invalid; for a payload up to 1 MiB, every kind Kinds lists formats.
//
// # Formats
//
// Text is split into lines at \n (a \r before it is dropped; a final \n
// ends the last line rather than opening an empty one). Invalid UTF-8 shows
// as U+FFFD; a tab as spaces to the next tab stop of 8 cells; other C0
// controls, a lone \r and DEL as Control Pictures (U+2400 + c, U+2421); C1
// controls and bidirectional or line-separator controls as \u escapes. The
// replacements have class Meta.
//
// Hex is the layout of hexdump -C, built per line from the payload: an
// offset of 8 hex digits (more from 4 GiB on), 16 bytes in two groups of 8,
// and the printable ASCII between bars. Its lines are 78 cells wide whatever
// Options.Width says.
//
// Nested values are indented 2 cells a level, up to half of Width; a line
// wrapped at Width continues at its indentation.
//
// JSON is pretty-printed with a 2-space indent in the payload's key order;
// strings keep their escapes, and invalid UTF-8, DEL, C1 and bidirectional
// controls in them are shown as U+FFFD or \u escapes. MsgPack and CBOR are
// shown as JSON-like text: byte strings as h'…' with their length, MsgPack
// ext values as ext(type, h'…') and timestamps as timestamp(RFC 3339); CBOR
// in RFC 8949 diagnostic notation as cbor.Diagnose writes it (tags as
// N(…), undefined, simple(N)), with text strings' \u escapes decoded.
// Several top-level values are shown one after the other.
//
// Protobuf shows one line per field ("1: varint 150", "2: len 5 \"hello\"",
// "4: fixed32 0x3f800000 (float 1)"). A length-delimited field is a string
// when it is UTF-8 text without control characters, else a nested message
// ("3: message {" … "}") when it parses completely as one, else a string
// if it is text with line breaks or tabs, else bytes in hex. Nesting stops
// at 32 levels and nested parsing at a work budget of 8 times the payload.
//
// SocketIO shows a header line such as "engine.io message · socket.io
// EVENT · ns /chat · ack 12 · event \"chat\"" and the data below it
// pretty-printed. A payload that does not start with a packet type digit, or
// is not UTF-8, is a binary attachment, shown in hex below "socket.io
// binary attachment".
//
// MQTT shows each control packet of a message: a header line (type, PUBLISH
// QoS, DUP and RETAIN, remaining length) and a line per field; payloads
// (PUBLISH, will) are shown below as JSON, text or hex; passwords only by
// length. A packet that is truncated or malformed ends with an error line
// after what did parse; only a message whose first byte is no packet at all
// fails to Format. The protocol version cannot be told from a lone packet:
// Options.MQTTVersion gives it when the caller knows the connection's
// CONNECT. Without it a CONNECT in the same message sets it, and a packet
// whose MQTT 3.1.1 reading fails or leaves bytes over is read as MQTT 5 if
// that reading fits exactly (a header marked "MQTT 5" says so); a PUBLISH
// always reads as 3.1.1 then, since its payload takes any bytes.
//
// # Concurrency
//
// Format may be called from many goroutines at once, and a Doc's Line too.
// Format checks its context between steps, so abandoned work stops early.
//
// # Imports
//
// decode imports only capture (for capture.Opcode), the standard library,
// chroma, msgpack, fxamacker/cbor and gjson. It must not import proxy,
// replay, inspector, cmd, bubbletea, lipgloss or gorilla, nor write ANSI:
// the caller maps classes to styles.
package decode

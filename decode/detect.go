package decode

import (
	"bytes"
	"strings"
	"unicode/utf8"

	"github.com/wstap/wstap/capture"
)

const (
	// fullCheck is the largest payload a kind is checked against in full.
	fullCheck = 1 << 20
	// prefixCheck is how much of a larger payload is checked.
	prefixCheck = 64 << 10
)

// sniff checks a payload against each kind once, on demand.
type sniff struct {
	text      bool // a text message
	data      []byte
	done, ok  [numKinds]bool
	sub       string        // the subprotocol, lower-case
	socketIO  bool          // the URL is a Socket.IO endpoint
	limit     int           // 0, or prefixCheck for a large payload
	utf8Valid int8          // 0 unknown, 1 valid, -1 not
	score     [numKinds]int // MsgPack and CBOR: structureScore
}

func newSniff(h Hint, op capture.Opcode, data []byte) *sniff {
	s := &sniff{text: op == capture.OpText, data: data, sub: strings.ToLower(h.Subprotocol), socketIO: isSocketIOURL(h.URL)}
	if len(data) > fullCheck {
		s.limit = prefixCheck
	}
	return s
}

func (s *sniff) can(k Kind) bool {
	if !s.done[k] {
		s.ok[k], s.done[k] = s.check(k), true
	}
	return s.ok[k]
}

func (s *sniff) isUTF8() bool {
	if s.utf8Valid == 0 {
		s.utf8Valid = -1
		if utf8.Valid(s.data) {
			s.utf8Valid = 1
		}
	}
	return s.utf8Valid == 1
}

func (s *sniff) check(k Kind) bool {
	d := s.data
	switch k {
	case Text, Hex:
		return true
	case JSON:
		return looksJSON(d)
	case MsgPack:
		ok, score := looksMsgPack(d, s.limit, false)
		s.score[k] = score
		return ok
	case CBOR:
		ok, score := looksCBOR(d, s.limit, false)
		s.score[k] = score
		return ok
	case Protobuf:
		return looksProtobuf(d, s.limit)
	case SocketIO:
		if !s.socketIO {
			return len(d) <= fullCheck && looksSocketIO(d)
		}
		if isSIOAttachment(d) {
			return len(d) > 0 && !s.text
		}
		p, err := parseSIOHeader(d)
		return err == nil && (p.sio < 0 && p.eio != 0 || len(p.data) == 0 || looksJSON(p.data))
	case MQTT:
		if strings.Contains(s.sub, "mqtt") && !s.text {
			return looksMQTTStart(d)
		}
		return len(d) <= fullCheck && looksMQTT(d)
	}
	return false
}

// looksJSON reports whether data is a JSON value: in full up to fullCheck
// bytes; beyond, its first prefixCheck bytes must be valid so far and its
// last byte must close the first one's object or array.
func looksJSON(data []byte) bool {
	if len(data) <= fullCheck {
		return validJSON(data, false)
	}
	head := bytes.TrimLeft(data[:prefixCheck], " \t\r\n")
	tail := bytes.TrimRight(data, " \t\r\n")
	if len(head) == 0 || len(tail) == 0 {
		return false
	}
	switch head[0] {
	case '{':
		if tail[len(tail)-1] != '}' {
			return false
		}
	case '[':
		if tail[len(tail)-1] != ']' {
			return false
		}
	default:
		return false
	}
	return validJSON(data[:prefixCheck], true)
}

// pick applies the rules in the package documentation.
func (s *sniff) pick() Kind {
	sub := s.sub
	has := func(words ...string) bool {
		for _, w := range words {
			if strings.Contains(sub, w) {
				return true
			}
		}
		return false
	}
	if !s.text {
		switch {
		case has("mqtt"):
			if s.can(MQTT) {
				return MQTT
			}
		case has("msgpack", "messagepack"):
			if ok, _ := looksMsgPack(s.data, s.limit, true); ok {
				return MsgPack
			}
		case has("cbor"):
			if ok, _ := looksCBOR(s.data, s.limit, true); ok {
				return CBOR
			}
		case has("proto"):
			if s.can(Protobuf) {
				return Protobuf
			}
		}
	}
	if s.text && has("json", "graphql") && s.can(JSON) {
		return JSON
	}
	if s.socketIO && s.can(SocketIO) {
		return SocketIO
	}
	if s.text {
		switch {
		case s.can(JSON):
			return JSON
		case s.can(SocketIO):
			return SocketIO
		}
		return Text
	}
	if len(s.data) > 0 && s.isUTF8() && s.can(JSON) {
		return JSON
	}
	mp, cb := s.can(MsgPack), s.can(CBOR)
	switch {
	case mp && cb:
		if s.score[MsgPack] != s.score[CBOR] {
			if s.score[MsgPack] > s.score[CBOR] {
				return MsgPack
			}
			return CBOR
		}
		if c := s.data[0]; c >= 0x80 && c <= 0x9f || c >= 0xdc {
			return MsgPack
		}
		return CBOR
	case mp:
		return MsgPack
	case cb:
		return CBOR
	case s.can(Protobuf):
		return Protobuf
	}
	return Hex
}

// Detect picks how to show a payload: the connection's hint first, then
// sniffing, by the rules in the package documentation. It looks at no more
// than a bounded prefix of a payload over 1 MiB.
func Detect(h Hint, op capture.Opcode, data []byte) Kind {
	return newSniff(h, op, data).pick()
}

// Kinds lists every kind that can read data, Detect's pick first, Hex and
// Text always present: Text last for a binary message, Hex last for text.
func Kinds(h Hint, op capture.Opcode, data []byte) []Kind {
	s := newSniff(h, op, data)
	pick := s.pick()
	out := []Kind{pick}
	add := func(k Kind) {
		for _, o := range out {
			if o == k {
				return
			}
		}
		out = append(out, k)
	}
	for _, k := range []Kind{JSON, MsgPack, CBOR, Protobuf, SocketIO, MQTT} {
		if s.can(k) {
			add(k)
		}
	}
	if s.text {
		add(Text)
		add(Hex)
	} else {
		add(Hex)
		add(Text)
	}
	return out
}

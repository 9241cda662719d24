package decode

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// MQTT control packet types. See MQTT 5.0, section 2.1.2, and MQTT 3.1.1,
// section 2.2.1.
var mqttTypes = [16]string{"", "CONNECT", "CONNACK", "PUBLISH", "PUBACK", "PUBREC", "PUBREL", "PUBCOMP",
	"SUBSCRIBE", "SUBACK", "UNSUBSCRIBE", "UNSUBACK", "PINGREQ", "PINGRESP", "DISCONNECT", "AUTH"}

const (
	mqttConnect     = 1
	mqttConnack     = 2
	mqttPublish     = 3
	mqttPuback      = 4
	mqttPubrel      = 6
	mqttPubcomp     = 7
	mqttSubscribe   = 8
	mqttSuback      = 9
	mqttUnsubscribe = 10
	mqttUnsuback    = 11
	mqttPingreq     = 12
	mqttPingresp    = 13
	mqttDisconnect  = 14
	mqttAuth        = 15
)

// mqttReasons names MQTT 5 reason codes (section 2.4); 0x00 reads
// differently per packet, see mqttReason.
var mqttReasons = map[byte]string{
	0x00: "Success", 0x01: "Granted QoS 1", 0x02: "Granted QoS 2", 0x04: "Disconnect with Will Message",
	0x10: "No matching subscribers", 0x11: "No subscription existed", 0x18: "Continue authentication",
	0x19: "Re-authenticate", 0x80: "Unspecified error", 0x81: "Malformed Packet", 0x82: "Protocol Error",
	0x83: "Implementation specific error", 0x84: "Unsupported Protocol Version",
	0x85: "Client Identifier not valid", 0x86: "Bad User Name or Password", 0x87: "Not authorized",
	0x88: "Server unavailable", 0x89: "Server busy", 0x8A: "Banned", 0x8B: "Server shutting down",
	0x8C: "Bad authentication method", 0x8D: "Keep Alive timeout", 0x8E: "Session taken over",
	0x8F: "Topic Filter invalid", 0x90: "Topic Name invalid", 0x91: "Packet Identifier in use",
	0x92: "Packet Identifier not found", 0x93: "Receive Maximum exceeded", 0x94: "Topic Alias invalid",
	0x95: "Packet too large", 0x96: "Message rate too high", 0x97: "Quota exceeded",
	0x98: "Administrative action", 0x99: "Payload format invalid", 0x9A: "Retain not supported",
	0x9B: "QoS not supported", 0x9C: "Use another server", 0x9D: "Server moved",
	0x9E: "Shared Subscriptions not supported", 0x9F: "Connection rate exceeded",
	0xA0: "Maximum connect time", 0xA1: "Subscription Identifiers not supported",
	0xA2: "Wildcard Subscriptions not supported",
}

// mqttConnackV3 names the MQTT 3.1.1 CONNACK return codes (section 3.2.2.3).
var mqttConnackV3 = [...]string{"Connection Accepted", "unacceptable protocol version", "identifier rejected",
	"server unavailable", "bad user name or password", "not authorized"}

func mqttReason(typ int, code byte) string {
	if code == 0 {
		switch typ {
		case mqttDisconnect:
			return "Normal disconnection"
		case mqttSuback:
			return "Granted QoS 0"
		}
	}
	if n, ok := mqttReasons[code]; ok {
		return n
	}
	return "unknown"
}

// MQTT 5 property types and names (section 2.2.2.2).
const (
	propByte = iota
	propU16
	propU32
	propVarint
	propString
	propBinary
	propPair
)

var mqttProps = map[byte]struct {
	name string
	typ  int
}{
	0x01: {"payload format indicator", propByte}, 0x02: {"message expiry interval", propU32},
	0x03: {"content type", propString}, 0x08: {"response topic", propString},
	0x09: {"correlation data", propBinary}, 0x0B: {"subscription identifier", propVarint},
	0x11: {"session expiry interval", propU32}, 0x12: {"assigned client identifier", propString},
	0x13: {"server keep alive", propU16}, 0x15: {"authentication method", propString},
	0x16: {"authentication data", propBinary}, 0x17: {"request problem information", propByte},
	0x18: {"will delay interval", propU32}, 0x19: {"request response information", propByte},
	0x1A: {"response information", propString}, 0x1C: {"server reference", propString},
	0x1F: {"reason string", propString}, 0x21: {"receive maximum", propU16},
	0x22: {"topic alias maximum", propU16}, 0x23: {"topic alias", propU16},
	0x24: {"maximum QoS", propByte}, 0x25: {"retain available", propByte},
	0x26: {"user property", propPair}, 0x27: {"maximum packet size", propU32},
	0x28: {"wildcard subscription available", propByte}, 0x29: {"subscription identifier available", propByte},
	0x2A: {"shared subscription available", propByte},
}

// piece is a run of text of one class on an MQTT line.
type piece struct {
	c Class
	s string
}

// mqttLine is one line of a packet's description, or a payload shown
// below the line as text, JSON or hex.
type mqttLine struct {
	depth   int
	ps      []piece
	payload []byte
	hasBody bool
}

// mqttReader reads the body of a packet. Its first error sticks, and reads
// after it return zero values.
type mqttReader struct {
	b    []byte
	pos  int
	base int // offset of b in the message
	err  error
}

func (r *mqttReader) fail(format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf(format+" at byte %d", append(args, r.base+r.pos)...)
	}
}

func (r *mqttReader) need(n int, what string) bool {
	if r.err != nil {
		return false
	}
	if len(r.b)-r.pos < n {
		r.fail("%s runs past the packet end", what)
		return false
	}
	return true
}

func (r *mqttReader) u8(what string) byte {
	if !r.need(1, what) {
		return 0
	}
	r.pos++
	return r.b[r.pos-1]
}

func (r *mqttReader) u16(what string) uint16 {
	if !r.need(2, what) {
		return 0
	}
	r.pos += 2
	return binary.BigEndian.Uint16(r.b[r.pos-2:])
}

func (r *mqttReader) u32(what string) uint32 {
	if !r.need(4, what) {
		return 0
	}
	r.pos += 4
	return binary.BigEndian.Uint32(r.b[r.pos-4:])
}

func (r *mqttReader) varint(what string) uint32 {
	v, n, err := mqttVarint(r.b[min(r.pos, len(r.b)):])
	if r.err != nil {
		return 0
	}
	if err != nil {
		r.fail("%s: %v", what, err)
		return 0
	}
	r.pos += n
	return v
}

func (r *mqttReader) bin(what string) []byte {
	n := int(r.u16(what + " length"))
	if !r.need(n, what) {
		return nil
	}
	r.pos += n
	return r.b[r.pos-n : r.pos]
}

// str reads a UTF-8 string (section 1.5.4).
func (r *mqttReader) str(what string) []byte {
	at := r.pos
	s := r.bin(what)
	if r.err == nil && !utf8.Valid(s) {
		r.pos = at
		r.fail("%s is not UTF-8", what)
	}
	return s
}

func (r *mqttReader) left() int { return len(r.b) - r.pos }

var errVarint = errors.New("variable byte integer longer than 4 bytes")

// mqttVarint reads a variable byte integer (section 1.5.5).
func mqttVarint(b []byte) (uint32, int, error) {
	var v uint32
	for k := range 4 {
		if k >= len(b) {
			return 0, 0, errors.New("unexpected end in variable byte integer")
		}
		v |= uint32(b[k]&0x7f) << (7 * k)
		if b[k] < 0x80 {
			return v, k + 1, nil
		}
	}
	return 0, 0, errVarint
}

func quoted(b []byte) piece { return piece{String, string(appendQuoted(nil, b))} }
func num(v uint64) piece    { return piece{Number, strconv.FormatUint(v, 10)} }
func label(s string) piece  { return piece{Meta, s} }

var colon = piece{Punct, ": "}
var dot = piece{Punct, " · "}

// mqttPacketParse holds what parsing one packet's body found.
type mqttPacketParse struct {
	lines []mqttLine
	v5    bool // the body was read as MQTT 5
	level int  // CONNECT: the protocol level
}

func (p *mqttPacketParse) add(depth int, ps ...piece) {
	p.lines = append(p.lines, mqttLine{depth: depth, ps: ps})
}

// props reads MQTT 5 properties and lists them under a "properties" line.
func (p *mqttPacketParse) props(r *mqttReader, depth int, what string) {
	n := int(r.varint(what + " length"))
	if !r.need(n, what) {
		return
	}
	end := r.pos + n
	if n > 0 {
		p.add(depth, label(what), piece{Punct, ":"})
	}
	for r.err == nil && r.pos < end {
		at := r.pos
		id := r.varint("property identifier")
		info, ok := mqttProps[byte(id)]
		if r.err != nil {
			return
		}
		if !ok || id > 0xff {
			r.pos = at
			r.fail("unknown property 0x%02x", id)
			return
		}
		ps := []piece{label(info.name), colon}
		switch info.typ {
		case propByte:
			ps = append(ps, num(uint64(r.u8(info.name))))
		case propU16:
			ps = append(ps, num(uint64(r.u16(info.name))))
		case propU32:
			ps = append(ps, num(uint64(r.u32(info.name))))
		case propVarint:
			ps = append(ps, num(uint64(r.varint(info.name))))
		case propString:
			ps = append(ps, quoted(r.str(info.name)))
		case propBinary:
			b := r.bin(info.name)
			ps = append(ps, piece{String, string(appendHexBytes(nil, b))}, label(" ("+strconv.Itoa(len(b))+" B)"))
		case propPair:
			k := r.str(info.name + " name")
			v := r.str(info.name + " value")
			ps = append(ps, quoted(k), piece{Punct, " = "}, quoted(v))
		}
		if r.pos > end {
			r.pos = at
			r.fail("property 0x%02x runs past the properties", id)
			return
		}
		p.add(depth+1, ps...)
	}
}

// payload adds a line for a payload and the payload itself.
func (p *mqttPacketParse) payload(depth int, name string, b []byte) {
	k := payloadKind(b)
	ps := []piece{label(name), colon, num(uint64(len(b))), label(plural(len(b), " byte", " bytes"))}
	if len(b) > 0 {
		ps = append(ps, dot, label(k.String()))
	}
	p.lines = append(p.lines, mqttLine{depth: depth, ps: ps, payload: b, hasBody: len(b) > 0})
}

// payloadKind picks how to show a payload inside a packet: JSON, text or hex.
func payloadKind(b []byte) Kind {
	switch {
	case validJSON(b, false):
		return JSON
	case utf8.Valid(b) && pbText(b, true):
		return Text
	}
	return Hex
}

// parseMQTTBody parses the body of a packet of type typ with flags, as
// MQTT 5 if v5. The reader holds the body; errors stay in it.
func parseMQTTBody(r *mqttReader, typ int, flags byte, v5 bool) *mqttPacketParse {
	p := &mqttPacketParse{v5: v5}
	const d = 1
	packetID := func() { p.add(d, label("packet id"), colon, num(uint64(r.u16("packet id")))) }
	reason := func(what string) {
		c := r.u8(what)
		p.add(d, label(what), colon, piece{Number, fmt.Sprintf("0x%02x", c)}, label(" ("+mqttReason(typ, c)+")"))
	}
	switch typ {
	case mqttConnect:
		name := r.str("protocol name")
		level := r.u8("protocol level")
		if r.err != nil {
			break
		}
		p.level = int(level)
		ver := map[byte]string{3: "3.1", 4: "3.1.1", 5: "5"}[level]
		if ver == "" {
			r.pos--
			r.fail("unknown protocol level %d", level)
			break
		}
		p.v5 = level == 5
		p.add(d, label("protocol"), colon, quoted(name), label(" level "), num(uint64(level)), label(" (MQTT "+ver+")"))
		f := r.u8("connect flags")
		if r.err == nil && f&1 != 0 {
			r.pos--
			r.fail("reserved connect flag set")
			break
		}
		var names []string
		for _, fl := range []struct {
			bit  byte
			name string
		}{{0x80, "username"}, {0x40, "password"}, {0x20, "will retain"}, {0x04, "will"}, {0x02, "clean session"}} {
			if f&fl.bit != 0 {
				name := fl.name
				if name == "clean session" && p.v5 {
					name = "clean start"
				}
				names = append(names, name)
			}
		}
		if q := f >> 3 & 3; q != 0 {
			names = append(names, "will QoS "+strconv.Itoa(int(q)))
		}
		ps := []piece{label("flags"), colon, piece{Number, fmt.Sprintf("0x%02x", f)}}
		if len(names) > 0 {
			ps = append(ps, piece{Plain, " "}, piece{Literal, strings.Join(names, ", ")})
		}
		p.add(d, ps...)
		p.add(d, label("keep alive"), colon, num(uint64(r.u16("keep alive"))), label(" s"))
		if p.v5 {
			p.props(r, d, "properties")
		}
		p.add(d, label("client id"), colon, quoted(r.str("client id")))
		if f&0x04 != 0 {
			if p.v5 {
				p.props(r, d, "will properties")
			}
			p.add(d, label("will topic"), colon, quoted(r.str("will topic")))
			if w := r.bin("will payload"); r.err == nil {
				p.payload(d, "will payload", w)
			}
		}
		if f&0x80 != 0 {
			p.add(d, label("username"), colon, quoted(r.str("username")))
		}
		if f&0x40 != 0 {
			pw := r.bin("password")
			p.add(d, label("password"), colon, label("("+strconv.Itoa(len(pw))+plural(len(pw), " byte)", " bytes)")))
		}
	case mqttConnack:
		f := r.u8("acknowledge flags")
		if r.err == nil && f&^1 != 0 {
			r.pos--
			r.fail("reserved acknowledge flags set")
			break
		}
		p.add(d, label("session present"), colon, piece{Literal, strconv.FormatBool(f&1 == 1)})
		if v5 {
			reason("reason code")
			p.props(r, d, "properties")
			break
		}
		c := r.u8("return code")
		name := "unknown"
		if int(c) < len(mqttConnackV3) {
			name = mqttConnackV3[c]
		}
		p.add(d, label("return code"), colon, num(uint64(c)), label(" ("+name+")"))
	case mqttPublish:
		p.add(d, label("topic"), colon, quoted(r.str("topic")))
		if flags>>1&3 > 0 {
			packetID()
		}
		if v5 {
			p.props(r, d, "properties")
		}
		if r.err == nil {
			p.payload(d, "payload", r.b[r.pos:])
			r.pos = len(r.b)
		}
	case mqttPuback, mqttPuback + 1, mqttPubrel, mqttPubcomp:
		packetID()
		if v5 && r.left() > 0 {
			reason("reason code")
			if r.left() > 0 {
				p.props(r, d, "properties")
			}
		}
	case mqttSubscribe, mqttUnsubscribe:
		packetID()
		if v5 {
			p.props(r, d, "properties")
		}
		if r.err == nil && r.left() == 0 {
			r.fail("%s without a topic filter", mqttTypes[typ])
		}
		for r.err == nil && r.left() > 0 {
			ps := []piece{label("topic filter"), colon, quoted(r.str("topic filter"))}
			if typ == mqttSubscribe {
				o := r.u8("subscription options")
				if r.err != nil {
					break
				}
				if (v5 && o&0xc0 != 0) || (!v5 && o&0xfc != 0) || o&3 == 3 {
					r.pos--
					r.fail("invalid subscription options 0x%02x", o)
					break
				}
				ps = append(ps, dot, label("QoS "), num(uint64(o&3)))
				if o&0x04 != 0 {
					ps = append(ps, dot, piece{Literal, "no local"})
				}
				if o&0x08 != 0 {
					ps = append(ps, dot, piece{Literal, "retain as published"})
				}
				if rh := o >> 4 & 3; rh != 0 {
					ps = append(ps, dot, label("retain handling "), num(uint64(rh)))
				}
			}
			p.add(d, ps...)
		}
	case mqttSuback, mqttUnsuback:
		packetID()
		if v5 {
			p.props(r, d, "properties")
		} else if typ == mqttUnsuback {
			break
		}
		if r.err == nil && r.left() == 0 && typ == mqttSuback {
			r.fail("SUBACK without a return code")
		}
		for r.err == nil && r.left() > 0 {
			c := r.u8("return code")
			if !v5 {
				name := "Failure"
				switch {
				case c <= 2:
					name = "Success, maximum QoS " + strconv.Itoa(int(c))
				case c != 0x80:
					r.pos--
					r.fail("invalid SUBACK return code 0x%02x", c)
					continue
				}
				p.add(d, label("return code"), colon, piece{Number, fmt.Sprintf("0x%02x", c)}, label(" ("+name+")"))
				continue
			}
			p.add(d, label("reason code"), colon, piece{Number, fmt.Sprintf("0x%02x", c)}, label(" ("+mqttReason(typ, c)+")"))
		}
	case mqttPingreq, mqttPingresp:
	case mqttDisconnect, mqttAuth:
		if !v5 {
			if typ == mqttAuth {
				r.fail("AUTH is MQTT 5 only")
			}
			break
		}
		if r.left() > 0 {
			reason("reason code")
			if r.left() > 0 {
				p.props(r, d, "properties")
			}
		}
	}
	if r.err == nil && r.left() > 0 {
		r.fail("%d unexpected bytes after the %s fields", r.left(), mqttTypes[typ])
	}
	return p
}

// mqttFlagsOK checks a fixed header's flags (section 2.1.3).
func mqttFlagsOK(typ int, flags byte) error {
	switch typ {
	case mqttPublish:
		if flags>>1&3 == 3 {
			return errors.New("PUBLISH with QoS 3")
		}
	case mqttPubrel, mqttSubscribe, mqttUnsubscribe:
		if flags != 2 {
			return fmt.Errorf("%s flags 0x%x, want 0x2", mqttTypes[typ], flags)
		}
	default:
		if flags != 0 {
			return fmt.Errorf("%s flags 0x%x, want 0", mqttTypes[typ], flags)
		}
	}
	return nil
}

// mqttMessage is what parsing a WebSocket message of MQTT packets found.
type mqttMessage struct {
	err   error // the first problem; in a Doc, shown as an error line
	fatal bool  // nothing could be parsed
}

// parseMQTT parses the control packets of a message and hands the lines
// of each to emit, if not nil. version is 4 or 5 when the caller knows it,
// else 0: a CONNECT then sets it for the packets after it, and a packet
// whose MQTT 3.1.1 reading fails or leaves bytes over is read as MQTT 5 if
// that fits exactly (and then so are the packets after it). After full
// packets (0: no limit) it only checks fixed headers and lengths.
func parseMQTT(ctx context.Context, data []byte, version int, emit func([]mqttLine) error, full int) mqttMessage {
	var m mqttMessage
	if len(data) == 0 {
		return mqttMessage{err: errors.New("decode: mqtt: empty message"), fatal: true}
	}
	var lines []mqttLine
	fail := func(depth int, err error) {
		if m.err == nil {
			m.err = err
		}
		lines = append(lines, mqttLine{depth: depth, ps: []piece{{Error, "error: " + strings.TrimPrefix(err.Error(), "decode: mqtt: ")}}})
	}
	flush := func() error {
		if emit != nil && len(lines) > 0 {
			if err := emit(lines); err != nil {
				return err
			}
		}
		lines = lines[:0]
		return nil
	}
	for pos, n := 0, 0; pos < len(data); n++ {
		if err := flush(); err != nil {
			return mqttMessage{err: err, fatal: true}
		}
		if ctx != nil {
			if err := ctx.Err(); err != nil {
				return mqttMessage{err: fmt.Errorf("decode: mqtt: %w", err), fatal: true}
			}
		}
		typ, flags := int(data[pos]>>4), data[pos]&15
		if typ == 0 {
			m.fatal = m.fatal || pos == 0
			fail(0, fmt.Errorf("decode: mqtt: reserved packet type 0 at byte %d", pos))
			break
		}
		if err := mqttFlagsOK(typ, flags); err != nil {
			m.fatal = m.fatal || pos == 0
			fail(0, fmt.Errorf("decode: mqtt: %v at byte %d", err, pos))
			break
		}
		rem, n1, err := mqttVarint(data[pos+1:])
		if err != nil {
			m.fatal = m.fatal || pos == 0 && errors.Is(err, errVarint)
			fail(0, fmt.Errorf("decode: mqtt: %s remaining length: %v at byte %d", mqttTypes[typ], err, pos+1))
			break
		}
		bodyAt := pos + 1 + n1
		if full > 0 && n >= full && emit == nil {
			if int(rem) > len(data)-bodyAt {
				fail(1, errors.New("decode: mqtt: truncated"))
				break
			}
			pos = bodyAt + int(rem)
			continue
		}
		head := []piece{{Key, mqttTypes[typ]}}
		if typ == mqttPublish {
			head = append(head, dot, label("QoS "), num(uint64(flags>>1&3)))
			if flags&8 != 0 {
				head = append(head, dot, piece{Literal, "DUP"})
			}
			if flags&1 != 0 {
				head = append(head, dot, piece{Literal, "RETAIN"})
			}
		}
		head = append(head, dot, label("remaining length "), num(uint64(rem)))
		if int(rem) > len(data)-bodyAt {
			lines = append(lines, mqttLine{ps: head})
			fail(1, fmt.Errorf("decode: mqtt: %s truncated: %d of %d bytes at byte %d", mqttTypes[typ], len(data)-bodyAt, rem, len(data)))
			break
		}
		body := data[bodyAt : bodyAt+int(rem)]
		read := func(v5 bool) (*mqttPacketParse, error) {
			r := &mqttReader{b: body, base: bodyAt}
			p := parseMQTTBody(r, typ, flags, v5)
			return p, r.err
		}
		p, perr := read(version == 5)
		if perr != nil && version == 0 && typ != mqttConnect {
			if p5, err5 := read(true); err5 == nil {
				p, perr = p5, nil
			}
		}
		if typ == mqttConnect && p.level != 0 {
			version = 4
			if p.level == 5 {
				version = 5
			}
		} else if p.v5 && perr == nil {
			version = 5
		}
		if p.v5 && typ != mqttConnect {
			head = append(head, dot, label("MQTT 5"))
		}
		lines = append(lines, mqttLine{ps: head})
		lines = append(lines, p.lines...)
		if perr != nil {
			fail(1, fmt.Errorf("decode: mqtt: %w", perr))
		}
		pos = bodyAt + int(rem)
	}
	if m.fatal {
		return m
	}
	if err := flush(); err != nil {
		return mqttMessage{err: err, fatal: true}
	}
	return m
}

// formatMQTT shows the control packets of data, each a header line and its
// fields; a payload is shown below its line as JSON, text or hex. A packet
// that fails to parse shows an error line after what did.
func formatMQTT(ctx context.Context, data []byte, opts Options) (Doc, error) {
	var parts []Doc
	b := newBuilder(opts, true)
	flush := func() error {
		d, err := b.doc(nil)
		if err != nil {
			return err
		}
		parts = append(parts, d)
		b = newBuilder(opts, true)
		return nil
	}
	var buf []byte
	emit := func(lines []mqttLine) error {
		for _, l := range lines {
			b.newline(l.depth, 0)
			for _, p := range l.ps {
				if p.c == String || p.c == Error {
					buf = append(buf[:0], p.s...)
					b.putVisible(p.c, buf, false)
				} else {
					put(b, p.c, p.s)
				}
			}
			if !l.hasBody {
				continue
			}
			if err := flush(); err != nil {
				return err
			}
			// Indent the payload below its line, as far as the width allows.
			ind := min(2*(l.depth+1), opts.width()-minWidth)
			sub := opts
			sub.Width = opts.width() - ind
			var d Doc
			var err error
			switch payloadKind(l.payload) {
			case JSON:
				d, err = formatJSON(ctx, l.payload, sub)
			case Text:
				d, err = formatText(ctx, l.payload, sub)
			default:
				d = newHexDoc(l.payload)
			}
			if err != nil {
				return err
			}
			parts = append(parts, indentDoc{d, ind})
		}
		return nil
	}
	if m := parseMQTT(ctx, data, opts.MQTTVersion, emit, 0); m.fatal {
		return nil, m.err
	}
	if err := flush(); err != nil {
		return nil, err
	}
	return newCatDoc(parts...), nil
}

// looksMQTT reports whether data is whole MQTT control packets that parse
// without a problem; after the first 64 it checks only their headers.
func looksMQTT(data []byte) bool {
	return parseMQTT(nil, data, 0, nil, 64).err == nil
}

// looksMQTTStart reports whether data begins with a plausible MQTT fixed
// header, for a connection that says it speaks MQTT.
func looksMQTTStart(data []byte) bool {
	if len(data) < 2 {
		return false
	}
	typ := int(data[0] >> 4)
	if typ == 0 || mqttFlagsOK(typ, data[0]&15) != nil {
		return false
	}
	_, _, err := mqttVarint(data[1:])
	return err == nil
}

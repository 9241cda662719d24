package decode

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/tidwall/gjson"
)

// Engine.IO packet types, the first character of a text frame. See
// https://github.com/socketio/engine.io-protocol.
var eioTypes = [...]string{"open", "close", "ping", "pong", "message", "upgrade", "noop"}

// Socket.IO packet types, the first character of an Engine.IO message. See
// https://github.com/socketio/socket.io-protocol.
var sioTypes = [...]string{"CONNECT", "DISCONNECT", "EVENT", "ACK", "CONNECT_ERROR", "BINARY_EVENT", "BINARY_ACK"}

// sioPacket is a parsed Engine.IO packet and the Socket.IO packet in it.
type sioPacket struct {
	eio         int    // Engine.IO type, or -1 for a binary attachment
	sio         int    // Socket.IO type, or -1 when the message is not Socket.IO
	attachments int    // BINARY_EVENT and BINARY_ACK: attachments announced
	ns          string // namespace, "" for the main one
	ack         string // ack id digits, or ""
	data        []byte // the JSON data (or other payload) after the header
}

// isSIOAttachment reports whether data is not a text Engine.IO packet: it
// does not begin with a packet type digit or is not UTF-8. Socket.IO sends
// the attachments of binary events (and Engine.IO v3 its binary messages,
// after a 0x04 byte) as binary frames.
func isSIOAttachment(data []byte) bool {
	return len(data) == 0 || data[0] < '0' || data[0] > '6' || !utf8.Valid(data)
}

// parseSIO parses a text Engine.IO packet and checks that its data is JSON.
func parseSIO(data []byte) (sioPacket, error) {
	p, err := parseSIOHeader(data)
	if err == nil && (p.eio == 0 || p.sio >= 0) && len(p.data) > 0 && !validJSON(p.data, false) {
		err = sioDataError(p, data)
	}
	return p, err
}

func sioDataError(p sioPacket, data []byte) error {
	what := "open packet"
	if p.sio >= 0 {
		what = sioTypes[p.sio]
	}
	return fmt.Errorf("decode: socket.io: %s data at byte %d is not JSON", what, len(data)-len(p.data))
}

// parseSIOHeader parses a text Engine.IO packet up to its data.
func parseSIOHeader(data []byte) (sioPacket, error) {
	p := sioPacket{eio: int(data[0] - '0'), sio: -1}
	rest := data[1:]
	if p.eio != 4 || len(rest) == 0 || rest[0] < '0' || rest[0] > '6' {
		p.data = rest
		return p, nil
	}
	p.sio = int(rest[0] - '0')
	i := 1
	if p.sio == 5 || p.sio == 6 {
		j := i
		for j < len(rest) && isDigit(rest[j]) {
			j++
		}
		if j == i || j >= len(rest) || rest[j] != '-' {
			return p, fmt.Errorf("decode: socket.io: %s without its attachment count at byte %d", sioTypes[p.sio], 1+j)
		}
		n, err := strconv.Atoi(string(rest[i:j]))
		if err != nil {
			return p, fmt.Errorf("decode: socket.io: attachment count %q", rest[i:j])
		}
		p.attachments = n
		i = j + 1
	}
	if i < len(rest) && rest[i] == '/' {
		j := i
		for j < len(rest) && rest[j] != ',' {
			j++
		}
		p.ns = string(rest[i:j])
		i = min(j+1, len(rest))
	}
	j := i
	for j < len(rest) && isDigit(rest[j]) {
		j++
	}
	p.ack = string(rest[i:j])
	p.data = rest[j:]
	return p, nil
}

// eventName returns the event of an EVENT or BINARY_EVENT, whose data
// has been checked to be JSON.
func (p sioPacket) eventName() (string, bool) {
	if p.sio != 2 && p.sio != 5 {
		return "", false
	}
	if d := bytes.TrimLeft(p.data, " \t\r\n"); len(d) == 0 || d[0] != '[' {
		return "", false
	}
	first := gjson.GetBytes(p.data, "0")
	if first.Type != gjson.String {
		return "", false
	}
	return first.Str, true
}

// looksSocketIO reports whether a text frame is, without a hint, plainly
// Socket.IO: an Engine.IO message carrying a well-formed Socket.IO packet
// (an EVENT naming its event, an ACK with an array, …), or a ping or pong
// probe.
func looksSocketIO(data []byte) bool {
	if string(data) == "2probe" || string(data) == "3probe" {
		return true
	}
	if len(data) < 2 || data[0] != '4' || isSIOAttachment(data) {
		return false
	}
	p, err := parseSIO(data)
	if err != nil || p.sio < 0 {
		return false
	}
	v := gjson.ParseBytes(p.data)
	switch p.sio {
	case 0:
		return len(p.data) == 0 || v.IsObject()
	case 1:
		return len(p.data) == 0
	case 2, 5:
		_, ok := p.eventName()
		return ok
	case 3, 6:
		return v.IsArray() && p.ack != ""
	case 4:
		return v.IsObject() || v.Type == gjson.String
	}
	return false
}

// isSocketIOURL reports whether u is a Socket.IO endpoint: its path holds
// /socket.io/ or its query an EIO parameter.
func isSocketIOURL(u string) bool {
	if u == "" {
		return false
	}
	pu, err := url.Parse(u)
	if err != nil {
		return strings.Contains(u, "/socket.io/") || strings.Contains(u, "EIO=")
	}
	return strings.Contains(pu.Path+"/", "/socket.io/") || pu.Query().Has("EIO")
}

// formatSocketIO shows an Engine.IO packet: a header line, then its data
// (JSON pretty-printed, other text as text); or a binary attachment in hex.
func formatSocketIO(ctx context.Context, data []byte, opts Options) (Doc, error) {
	hb := newBuilder(opts, true)
	hb.open = true
	sep := func() { put(hb, Punct, " · ") }
	if isSIOAttachment(data) {
		if len(data) == 0 {
			return nil, fmt.Errorf("decode: socket.io: empty packet")
		}
		put(hb, Key, "socket.io binary attachment")
		sep()
		put(hb, Number, strconv.Itoa(len(data)))
		put(hb, Meta, " bytes")
		h, _ := hb.doc(nil)
		return newCatDoc(h, newHexDoc(data)), nil
	}
	p, err := parseSIOHeader(data)
	if err != nil {
		return nil, err
	}
	probe := (p.eio == 2 || p.eio == 3) && string(p.data) == "probe"
	if probe {
		p.data = nil
	}
	// The data of Socket.IO packets and of the open packet is JSON; it is
	// checked once, by formatJSON.
	var body Doc
	if len(p.data) > 0 {
		var jerr error
		if body, jerr = formatJSON(ctx, p.data, opts); jerr != nil {
			if errors.Is(jerr, context.Canceled) || errors.Is(jerr, context.DeadlineExceeded) {
				return nil, jerr
			}
			if p.eio == 0 || p.sio >= 0 {
				return nil, sioDataError(p, data)
			}
			body = nil
		}
	}
	put(hb, Meta, "engine.io ")
	put(hb, Key, eioTypes[p.eio])
	if p.sio >= 0 {
		sep()
		put(hb, Meta, "socket.io ")
		put(hb, Key, sioTypes[p.sio])
		if p.ns != "" {
			sep()
			put(hb, Meta, "ns ")
			hb.putVisible(String, []byte(p.ns), false)
		}
		if p.ack != "" {
			sep()
			put(hb, Meta, "ack ")
			put(hb, Number, p.ack)
		}
		if p.sio == 5 || p.sio == 6 {
			sep()
			put(hb, Number, strconv.Itoa(p.attachments))
			put(hb, Meta, plural(p.attachments, " attachment", " attachments"))
		}
		if name, ok := p.eventName(); ok {
			sep()
			put(hb, Meta, "event ")
			put(hb, String, appendQuoted(nil, []byte(name)))
		}
	} else if probe {
		sep()
		put(hb, Literal, "probe")
	}
	h, err := hb.doc(nil)
	if err != nil {
		return nil, err
	}
	if len(p.data) == 0 {
		return h, nil
	}
	if body == nil {
		if body, err = formatText(ctx, p.data, opts); err != nil {
			return nil, err
		}
	}
	return newCatDoc(h, body), nil
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

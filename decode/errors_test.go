package decode

import (
	"context"
	"errors"
	"strings"
	"testing"
)

func TestFormatErrors(t *testing.T) {
	mp := mustMsgPack(map[string]any{"alpha": 1, "beta": "two"})
	tests := []struct {
		kind Kind
		data []byte
		want string // the error, or a prefix of it ending in "…"
	}{
		{JSON, nil, "decode: json: unexpected end at byte 0"},
		{JSON, []byte(`  `), "decode: json: unexpected end at byte 2"},
		{JSON, []byte(`{"a":}`), `decode: json: invalid character '}' looking for a value at byte 5`},
		{JSON, []byte(`[1,]`), `decode: json: invalid character ']' looking for a value at byte 3`},
		{JSON, []byte(`{"a" 1}`), `decode: json: invalid character '1' after object key at byte 5`},
		{JSON, []byte(`{"a":1 "b"}`), `decode: json: invalid character '"' after object member at byte 7`},
		{JSON, []byte(`[1 2]`), `decode: json: invalid character '2' after array element at byte 3`},
		{JSON, []byte(`{1:2}`), `decode: json: invalid character '1' looking for an object key at byte 1`},
		{JSON, []byte(`tru`), "decode: json: unexpected end at byte 3"},
		{JSON, []byte(`trUe`), `decode: json: invalid character 'U' in literal true at byte 2`},
		{JSON, []byte(`"\x"`), `decode: json: invalid character 'x' in string escape at byte 2`},
		{JSON, []byte(`"\u12g4"`), `decode: json: invalid character 'g' in \u escape at byte 5`},
		{JSON, []byte(`"\u12`), "decode: json: unexpected end at byte 5"},
		{JSON, []byte(`"\`), "decode: json: unexpected end at byte 2"},
		{JSON, []byte("\"a\tb\""), `decode: json: invalid character '\t' in string at byte 2`},
		{JSON, []byte(`"abc`), "decode: json: unexpected end at byte 4"},
		{JSON, []byte(`1 2`), `decode: json: invalid character '2' after top-level value at byte 2`},
		{JSON, []byte(`01`), `decode: json: invalid character '1' after top-level value at byte 1`},
		{JSON, []byte(`-`), "decode: json: unexpected end at byte 1"},
		{JSON, []byte(`1.e5`), `decode: json: invalid character 'e' in number at byte 2`},
		{JSON, []byte(`1e+`), "decode: json: unexpected end at byte 3"},
		{JSON, []byte(`{"a":1`), "decode: json: unexpected end at byte 6"},
		{JSON, []byte(`x`), `decode: json: invalid character 'x' looking for a value at byte 0`},
		{JSON, []byte(strings.Repeat("[", maxJSONDepth+1)), "decode: json: nesting deeper than 10000 at byte 10001"},
		{MsgPack, nil, "decode: msgpack: unexpected end at byte 0"},
		{MsgPack, mp[:13], "decode: msgpack: unexpected end at byte 13"},
		{MsgPack, []byte{0x91, 0xc1}, "decode: msgpack: invalid code 0xc1 at byte 1"},
		{MsgPack, []byte{0xdb, 0xff, 0xff, 0xff, 0xff, 'a'}, "decode: msgpack: unexpected end at byte 6"},
		{MsgPack, []byte{0xc7, 0xff, 0x01, 0x00}, "decode: msgpack: unexpected end at byte 4"},
		{MsgPack, []byte(strings.Repeat("\x91", maxTreeDepth+1) + "\x01"), "decode: msgpack: nesting deeper than 1000 at byte 1000"},
		{CBOR, nil, "decode: cbor: unexpected end at byte 0"},
		{CBOR, []byte{0xa1, 0x61}, "decode: cbor: unexpected end at byte 2"},
		{CBOR, []byte{0x01, 0x62, 0xff, 0xfe}, "decode: cbor: invalid UTF-8 string (item at byte 1)"},
		{CBOR, []byte{0x1c}, "decode: cbor: invalid additional information 28 for type positive integer (item at byte 0)"},
		{CBOR, []byte{0xff}, "decode: cbor: unexpected \"break\" code (item at byte 0)"},
		{Protobuf, []byte{0x00, 0x01}, "decode: protobuf: field number 0 out of range at byte 0"},
		{Protobuf, []byte{0x0f}, "decode: protobuf: unknown wire type 7 at byte 0"},
		{Protobuf, []byte{0x08, 0x96}, "decode: protobuf: unexpected end in varint at byte 2"},
		{Protobuf, []byte{0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02}, "decode: protobuf: varint overflows 64 bits at byte 1"},
		{Protobuf, []byte{0x12, 0x05, 'a'}, "decode: protobuf: field 2 length 5 exceeds the 1 bytes left at byte 1"},
		{Protobuf, []byte{0x0d, 1, 2}, "decode: protobuf: unexpected end in fixed32 at byte 3"},
		{Protobuf, []byte{0x09, 1, 2}, "decode: protobuf: unexpected end in fixed64 at byte 3"},
		{Protobuf, []byte{0x08, 0x01, 0x0c}, "decode: protobuf: end of group 1 without its start at byte 2"},
		{Protobuf, []byte{0x0b, 0x08, 0x01}, "decode: protobuf: unexpected end in group 1 at byte 3"},
		{Protobuf, []byte{0x0b, 0x14}, "decode: protobuf: end of group 2 inside group 1 at byte 1"},
		{Protobuf, []byte{0x08, 0x01, 0x0b, 0x14}, "decode: protobuf: end of group 2 inside group 1 at byte 3"},
		{Protobuf, []byte(strings.Repeat("\x0b", maxPBDepth+1)), "decode: protobuf: groups nested too deep at byte 32"},
		{SocketIO, nil, "decode: socket.io: empty packet"},
		{SocketIO, []byte(`42["chat"`), "decode: socket.io: EVENT data at byte 2 is not JSON"},
		{SocketIO, []byte(`45["x"]`), "decode: socket.io: BINARY_EVENT without its attachment count at byte 2"},
		{SocketIO, []byte(`0sid`), "decode: socket.io: open packet data at byte 1 is not JSON"},
		{MQTT, nil, "decode: mqtt: empty message"},
		{MQTT, []byte{0x00, 0x00}, "decode: mqtt: reserved packet type 0 at byte 0"},
		{MQTT, []byte{0x21, 0x02, 0x00, 0x00}, "decode: mqtt: CONNACK flags 0x1, want 0 at byte 0"},
		{MQTT, []byte{0x36, 0x00}, "decode: mqtt: PUBLISH with QoS 3 at byte 0"},
		{MQTT, []byte{0x80, 0x00}, "decode: mqtt: SUBSCRIBE flags 0x0, want 0x2 at byte 0"},
		{MQTT, []byte{0x30, 0xff, 0xff, 0xff, 0xff, 0x01}, "decode: mqtt: PUBLISH remaining length: variable byte integer longer than 4 bytes at byte 1"},
		{Kind(99), []byte("x"), "decode: unknown kind 99"},
	}
	for _, tc := range tests {
		d, err := Format(context.Background(), tc.kind, tc.data, Options{})
		if err == nil {
			t.Errorf("Format(%s, %q) = %d lines, want error %q", tc.kind, tc.data, d.Len(), tc.want)
			continue
		}
		if d != nil {
			t.Errorf("Format(%s, %q) returned a Doc with its error", tc.kind, tc.data)
		}
		if err.Error() != tc.want {
			t.Errorf("Format(%s, %q) error = %q, want %q", tc.kind, tc.data, err, tc.want)
		}
	}
}

// TestFormatTextNeverFails checks that Text and Hex read any bytes.
func TestFormatTextNeverFails(t *testing.T) {
	for _, k := range []Kind{Text, Hex} {
		for _, data := range [][]byte{nil, {0}, {0xff, 0xfe}, []byte("\r\n\r\n")} {
			d, err := Format(context.Background(), k, data, Options{})
			if err != nil {
				t.Fatalf("Format(%s, %q) error: %v", k, data, err)
			}
			checkDoc(t, d, 80)
		}
	}
}

func TestFormatCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for k := range Kind(numKinds) {
		if _, err := Format(ctx, k, []byte(`{}`), Options{}); !errors.Is(err, context.Canceled) {
			t.Errorf("Format(canceled, %s) error = %v, want context.Canceled", k, err)
		}
	}
}

// cancelAfter is a context that reports itself canceled after n calls to
// Err, so that a test can stop a formatter in the middle of its work.
type cancelAfter struct {
	context.Context
	n int
}

func (c *cancelAfter) Err() error {
	if c.n--; c.n < 0 {
		return context.Canceled
	}
	return nil
}

// TestFormatStopsEarly checks that each long formatter looks at its
// context between steps, not only on entry.
func TestFormatStopsEarly(t *testing.T) {
	big := func(unit string, n int) []byte { return []byte(strings.Repeat(unit, n)) }
	tests := []struct {
		kind Kind
		data []byte
	}{
		{Text, big("line of text\n", 300000)},
		{JSON, []byte("[" + strings.Repeat(`{"a":1},`, 300000) + "1]")},
		{MsgPack, cat(b(0xdd), u32(300000), big("\x01", 300000))},
		{CBOR, cat(big("\x80", 10))},
		{Protobuf, big("\x08\x01", 10000)},
		{MQTT, big("\xc0\x00", 10)},
	}
	for _, tc := range tests {
		ctx := &cancelAfter{Context: context.Background(), n: 1}
		if _, err := Format(ctx, tc.kind, tc.data, Options{}); !errors.Is(err, context.Canceled) {
			t.Errorf("Format(%s) with a context canceled midway: error = %v, want context.Canceled", tc.kind, err)
		}
	}
}

func TestKindString(t *testing.T) {
	want := []string{"text", "json", "hex", "msgpack", "cbor", "protobuf", "socket.io", "mqtt"}
	for i, w := range want {
		k := Kind(i)
		if k.String() != w {
			t.Errorf("Kind(%d).String() = %q, want %q", i, k.String(), w)
		}
		got, err := ParseKind(w)
		if err != nil || got != k {
			t.Errorf("ParseKind(%q) = %v, %v; want %v", w, got, err, k)
		}
	}
	if _, err := ParseKind("yaml"); err == nil || err.Error() != `decode: unknown kind "yaml"` {
		t.Errorf(`ParseKind("yaml") error = %v`, err)
	}
	if s := Kind(42).String(); s != "kind(42)" {
		t.Errorf("Kind(42).String() = %q", s)
	}
	if s := Class(42).String(); s != "class(42)" {
		t.Errorf("Class(42).String() = %q", s)
	}
	if s := Key.String(); s != "key" {
		t.Errorf("Key.String() = %q", s)
	}
	for r, w := range map[Role]string{NoRole: "none", Request: "request", Response: "response", Role(7): "role(7)"} {
		if r.String() != w {
			t.Errorf("Role(%d).String() = %q, want %q", r, r.String(), w)
		}
	}
}

func TestOptionsDefaults(t *testing.T) {
	tests := []struct {
		o              Options
		width, maxLine int
	}{
		{Options{}, 80, 64 << 10},
		{Options{Width: -5, MaxLine: -1}, 80, 64 << 10},
		{Options{Width: 3, MaxLine: 10}, 16, 10},
		{Options{Width: 1 << 20}, 1 << 14, 64 << 10},
		{Options{Width: 120}, 120, 64 << 10},
	}
	for _, tc := range tests {
		if w, m := tc.o.width(), tc.o.maxLine(); w != tc.width || m != tc.maxLine {
			t.Errorf("%+v: width, maxLine = %d, %d; want %d, %d", tc.o, w, m, tc.width, tc.maxLine)
		}
	}
}

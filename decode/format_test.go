package decode

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"
	"github.com/vmihailenco/msgpack/v5"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

type formatCase struct {
	name string
	kind Kind
	data []byte
	opts Options
}

func mustMsgPack(v any) []byte {
	b, err := msgpack.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

func mustCBOR(v any) []byte {
	b, err := cbor.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// orderedMsgPack encodes a map with its keys in the given order.
func orderedMsgPack(kv ...any) []byte {
	var buf bytes.Buffer
	enc := msgpack.NewEncoder(&buf)
	if err := enc.EncodeMapLen(len(kv) / 2); err != nil {
		panic(err)
	}
	for _, v := range kv {
		if err := enc.Encode(v); err != nil {
			panic(err)
		}
	}
	return buf.Bytes()
}

// pbProto is the protobuf message of the brief: field 1 varint 150, field 2
// "hi", field 3 a nested message.
var pbProto = []byte{0x08, 0x96, 0x01, 0x12, 0x02, 0x68, 0x69, 0x1a, 0x03, 0x08, 0x96, 0x01}

var mqttConnectV3 = pkt(0x10, s16("MQTT"), b(4, 0xee), u16(30), s16("dev-1"),
	s16("status"), s16("offline"), s16("alice"), s16("hunter2"))

var mqttConnectV5 = pkt(0x10, s16("MQTT"), b(5, 0xc2), u16(60),
	b(8, 0x11), u32(3600), b(0x21), u16(20), // properties: session expiry, receive maximum
	s16("c5"), s16("bob"), s16("pw"))

var mqttPublishPkt = pkt(0x3b, s16("sensors/t1"), u16(7), []byte(`{"temp":21.5,"ok":true}`))

var formatCases = []formatCase{
	// Text
	{"text/plain", Text, []byte("hello, world\nsecond line\n"), Options{}},
	{"text/controls", Text, []byte("a\tb\tc\x00d\x1b[31mred\x7f\r\nnext\rline \xff\xfe end\u0085\u202eevil"), Options{}},
	{"text/wrap-cjk-emoji", Text, []byte("日本語のテキストと絵文字🎉🎉🎉が混ざった長い行はここで折り返す" + strings.Repeat("ab", 10)), Options{Width: 20}},
	{"text/combining", Text, []byte("e\u0301e\u0301e\u0301e\u0301e\u0301e\u0301e\u0301e\u0301e\u0301e\u0301e\u0301e\u0301e\u0301e\u0301e\u0301e\u0301e\u0301"), Options{Width: 16}},
	{"text/cut", Text, []byte(strings.Repeat("0123456789", 10) + "\nshort"), Options{Width: 20, MaxLine: 45}},
	{"text/empty-lines", Text, []byte("\n\na\n\n"), Options{}},
	{"text/empty", Text, nil, Options{}},
	// JSON
	{"json/object", JSON, []byte(`{"name":"wstap","n":-1.5e+3,"ok":true,"nil":null,"list":[1,[2,{}],[]],"obj":{"a":{"b":"c"}}}`), Options{}},
	{"json/pretty-input", JSON, []byte("{\n  \"a\" : [ 1 ,\n 2 ] ,\t\"b\":{ }\r\n}\n"), Options{}},
	{"json/escapes", JSON, []byte(`{"q":"say \"hi\"\\","u":"caf\u00e9 ☕ 日本","ctl":"\u0000\n\t","bad":"` + "\xff\x7f\u0085\u202e" + `"}`), Options{}},
	{"json/scalar", JSON, []byte(` "just a string" `), Options{}},
	{"json/number", JSON, []byte(`-0.000123E-45`), Options{}},
	{"json/long-string", JSON, []byte(`{"k":"` + strings.Repeat("abcdefghij", 12) + `","next":1}`), Options{Width: 40}},
	{"json/long-key", JSON, []byte(`{"` + strings.Repeat("k", 70) + `":1}`), Options{Width: 30}},
	{"json/cut-string", JSON, []byte(`["` + strings.Repeat("x", 100) + `",2]`), Options{Width: 30, MaxLine: 50}},
	{"json/cut-escape", JSON, []byte(`["` + strings.Repeat("x", 46) + `\\\\\"yz"]`), Options{Width: 80, MaxLine: 50}},
	{"json/cut-number", JSON, []byte(`{"n":` + strings.Repeat("7", 80) + `}`), Options{Width: 80, MaxLine: 40}},
	{"json/cut-literal", JSON, []byte(`{"` + strings.Repeat("k", 34) + `":false}`), Options{Width: 80, MaxLine: 40}},
	{"json/deep", JSON, []byte(strings.Repeat("[", 50) + strings.Repeat("]", 50)), Options{Width: 20}},
	{"json/deep-values", JSON, []byte(strings.Repeat(`{"a":`, 12) + "1" + strings.Repeat("}", 12)), Options{Width: 20}},
	{"json/wide", JSON, []byte(`{"名前":"` + strings.Repeat("日本", 12) + `"}`), Options{Width: 20}},
	// Hex
	{"hex/one-line", Hex, []byte{0xde, 0xad, 0xbe, 0xef, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0x0a, 0x0b}, Options{}},
	{"hex/partial", Hex, []byte("Hello, hex world!\x00\x7f\x80\xff~ "), Options{}},
	{"hex/short", Hex, []byte("ab"), Options{}},
	{"hex/nine", Hex, []byte("123456789"), Options{}},
	{"hex/empty", Hex, nil, Options{}},
	// MsgPack
	{"msgpack/map", MsgPack, orderedMsgPack("id", 7, "name", "ada", "tags", []string{"x", "y"}, "score", 1.25,
		"on", true, "none", nil, "big", uint64(math.MaxUint64), "neg", int64(-1<<40), "bin", []byte{0, 1, 0xfe},
		"nested", map[string]any{}, "empty", []any{}), Options{}},
	{"msgpack/keys", MsgPack, cat(b(0x83), mustMsgPack(1), mustMsgPack("int key"), mustMsgPack([]int{1, 2}), mustMsgPack("array key"),
		mustMsgPack(true), mustMsgPack(map[string]int{"k": 1})), Options{}},
	{"msgpack/values", MsgPack, cat(mustMsgPack([]any{float32(0.5), math.Inf(1), math.NaN(), "tab\tquote\"", "\xffbad"}),
		mustMsgPack(42), mustMsgPack("second"), b(0xc0)), Options{}},
	{"msgpack/ext", MsgPack, cat(b(0x95), b(0xd4, 5, 0xaa), b(0xc7, 3, 0x7f, 1, 2, 3),
		mustMsgPack(time.Unix(1700000000, 0).UTC()), mustMsgPack(time.Unix(1700000000, 123456789).UTC()),
		mustMsgPack(time.Unix(10000000000, 1).UTC())), Options{}},
	{"msgpack/timestamp96", MsgPack, cat(b(0x91, 0xc7, 12, 0xff), u32(5), []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}), Options{}},
	{"msgpack/timestamp32", MsgPack, cat(b(0x91, 0xd6, 0xff), u32(0)), Options{}},
	{"msgpack/long", MsgPack, mustMsgPack(map[string]string{"s": strings.Repeat("long ", 20)}), Options{Width: 30}},
	// CBOR
	{"cbor/map", CBOR, cat(b(0xa5), mustCBOR("a"), mustCBOR(1), mustCBOR(2), mustCBOR([]any{true, false, nil, 1.5, "日本"}),
		mustCBOR("bytes"), mustCBOR([]byte{1, 2, 3}), mustCBOR(-7), mustCBOR(map[string]int{}), mustCBOR("f"), mustCBOR(math.Inf(-1))), Options{}},
	{"cbor/tags", CBOR, cat(mustCBOR(cbor.Tag{Number: 1, Content: 1363896240}),
		mustCBOR(cbor.Tag{Number: 55799, Content: map[string]int{"x": 1}}),
		b(0xc2, 0x49, 1, 0, 0, 0, 0, 0, 0, 0, 0)), Options{}},
	{"cbor/indefinite", CBOR, b(0x9f, 0x01, 0x82, 0x02, 0x03, 0xff, 0xbf, 0x61, 0x61, 0xf7, 0xff, 0x5f, 0x41, 0x01, 0x42, 0x02, 0x03, 0xff, 0x9f, 0xff, 0xf0, 0xf8, 0x20, 0xf9, 0x7e, 0x00), Options{}},
	{"cbor/strings", CBOR, mustCBOR([]string{"tab\t", "quote\"", "é", "🎉", "\u202e", "\x01"}), Options{}},
	// Protobuf
	{"protobuf/brief", Protobuf, pbProto, Options{}},
	{"protobuf/types", Protobuf, cat(b(0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01),
		b(0x15, 0, 0, 0x80, 0x3f), b(0x19, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f),
		b(0x22, 3, 1, 2, 0xff), b(0x2a, 0), b(0x32, 5), []byte("a\nb\tc"), b(0x3a, 4, 0x08, 0x01, 0x10, 0x02),
		b(0x43, 0x08, 0x05, 0x44), b(0xf8, 0xff, 0xff, 0xff, 0x0f, 0x01)), Options{}},
	{"protobuf/nested", Protobuf, cat(b(0x0a, 10, 0x12, 8, 0x1a, 6, 0x0a, 4), []byte("deep")), Options{}},
	{"protobuf/empty", Protobuf, nil, Options{}},
	// Socket.IO
	{"socketio/event", SocketIO, []byte(`42/chat,12["message",{"text":"hi","n":1}]`), Options{}},
	{"socketio/binary-event", SocketIO, []byte(`451-/up,["upload",{"_placeholder":true,"num":0}]`), Options{}},
	{"socketio/ack", SocketIO, []byte(`43/chat,12["ok"]`), Options{}},
	{"socketio/connect", SocketIO, []byte(`40{"token":"abc"}`), Options{}},
	{"socketio/connect-error", SocketIO, []byte(`44{"message":"Not authorized"}`), Options{}},
	{"socketio/disconnect", SocketIO, []byte(`41/admin,`), Options{}},
	{"socketio/open", SocketIO, []byte(`0{"sid":"lv_VI97HAXpY6yYWAAAC","upgrades":["websocket"],"pingInterval":25000,"pingTimeout":5000}`), Options{}},
	{"socketio/ping-probe", SocketIO, []byte(`2probe`), Options{}},
	{"socketio/pong", SocketIO, []byte(`3`), Options{}},
	{"socketio/plain-message", SocketIO, []byte(`4hello engine.io`), Options{}},
	{"socketio/noop", SocketIO, []byte(`6`), Options{}},
	{"socketio/attachment", SocketIO, []byte{0x00, 0x01, 0xfe, 0xff, 'x'}, Options{}},
	// MQTT
	{"mqtt/connect-v3", MQTT, mqttConnectV3, Options{}},
	{"mqtt/connect-v5", MQTT, mqttConnectV5, Options{}},
	{"mqtt/connack-v3", MQTT, pkt(0x20, b(1, 5)), Options{}},
	{"mqtt/connack-v5", MQTT, pkt(0x20, b(0, 0x86), b(5, 0x1f), s16("no")), Options{}},
	{"mqtt/publish-json", MQTT, mqttPublishPkt, Options{}},
	{"mqtt/publish-text", MQTT, pkt(0x30, s16("chat"), []byte("hello\tthere")), Options{}},
	{"mqtt/publish-binary", MQTT, pkt(0x31, s16("bin"), b(0, 1, 2, 0xff)), Options{}},
	{"mqtt/publish-empty", MQTT, pkt(0x30, s16("t")), Options{}},
	{"mqtt/publish-v5", MQTT, pkt(0x32, s16("t"), u16(1), b(18, 0x01, 1, 0x03), s16("text/plain"), b(0x23, 0, 3), []byte("hi")), Options{MQTTVersion: 5}},
	{"mqtt/acks", MQTT, cat(pkt(0x40, u16(1)), pkt(0x50, u16(2)), pkt(0x62, u16(3)), pkt(0x70, u16(4))), Options{}},
	{"mqtt/acks-v5", MQTT, cat(pkt(0x40, u16(1), b(0x10)), pkt(0x50, u16(2), b(0x80, 4, 0x1f), s16("x"))), Options{}},
	{"mqtt/subscribe-v3", MQTT, pkt(0x82, u16(10), s16("a/+"), b(1), s16("b/#"), b(2)), Options{}},
	{"mqtt/subscribe-v5", MQTT, pkt(0x82, u16(10), b(2, 0x0b, 7), s16("a/#"), b(0x2d)), Options{MQTTVersion: 5}},
	{"mqtt/suback-v3", MQTT, pkt(0x90, u16(10), b(0, 1, 2, 0x80)), Options{}},
	{"mqtt/suback-v5", MQTT, pkt(0x90, u16(10), b(0), b(0, 0x87)), Options{MQTTVersion: 5}},
	{"mqtt/unsubscribe", MQTT, cat(pkt(0xa2, u16(11), s16("a/+")), pkt(0xb0, u16(11))), Options{}},
	{"mqtt/unsuback-v5", MQTT, pkt(0xb0, u16(11), b(0), b(0x11)), Options{MQTTVersion: 5}},
	{"mqtt/ping-disconnect", MQTT, cat(pkt(0xc0), pkt(0xd0), pkt(0xe0)), Options{}},
	{"mqtt/disconnect-v5", MQTT, pkt(0xe0, b(0x8e, 0)), Options{MQTTVersion: 5}},
	{"mqtt/auth", MQTT, pkt(0xf0, b(0x18, 20, 0x15), s16("SCRAM"), b(0x16), s16("\x01\x02"), b(0x26), s16("k"), s16("v")), Options{}},
	{"mqtt/v5-guess", MQTT, cat(mqttConnectV5, pkt(0x30, s16("t"), b(0), []byte("after v5 connect"))), Options{}},
	{"mqtt/partial", MQTT, cat(pkt(0xc0), mqttPublishPkt[:10]), Options{}},
	{"mqtt/bad-body", MQTT, cat(pkt(0x20, b(0, 0, 0, 0, 0)), pkt(0xd0)), Options{MQTTVersion: 4}},
	{"mqtt/bad-header-after", MQTT, cat(pkt(0xc0), b(0x00, 0x00)), Options{}},
}

func TestFormatGolden(t *testing.T) {
	got := map[string]*strings.Builder{}
	var order []string
	for _, tc := range formatCases {
		group, _, _ := strings.Cut(tc.name, "/")
		sb := got[group]
		if sb == nil {
			sb = &strings.Builder{}
			got[group] = sb
			order = append(order, group)
		}
		d, err := Format(context.Background(), tc.kind, tc.data, tc.opts)
		if err != nil {
			t.Errorf("Format(%s, %q) error: %v", tc.kind, tc.data, err)
			continue
		}
		checkDoc(t, d, tc.opts.width())
		if tc.kind == JSON {
			for i := range d.Len() {
				for _, s := range d.Line(i).Spans {
					if s.Class == Error {
						t.Errorf("%s: Line(%d) = %q has an error span %+v", tc.name, i, d.Line(i).Text, s)
					}
				}
			}
		}
		fmt.Fprintf(sb, "=== %s (%s, width %d, max line %d)\n%s", tc.name, tc.kind, tc.opts.width(), tc.opts.maxLine(), render(d))
	}
	for _, group := range order {
		path := filepath.Join("testdata", group+".golden")
		if *update {
			if err := os.MkdirAll("testdata", 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, []byte(got[group].String()), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (run go test -update)", err)
		}
		if g := got[group].String(); g != string(want) {
			t.Errorf("%s differs from the formatting; diff:\n%s", path, lineDiff(string(want), g))
		}
	}
}

// lineDiff shows the first lines where want and got differ.
func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var sb strings.Builder
	shown := 0
	for i := 0; i < max(len(w), len(g)) && shown < 10; i++ {
		var a, b string
		if i < len(w) {
			a = w[i]
		}
		if i < len(g) {
			b = g[i]
		}
		if a != b {
			fmt.Fprintf(&sb, "line %d:\n- %s\n+ %s\n", i+1, a, b)
			shown++
		}
	}
	return sb.String()
}

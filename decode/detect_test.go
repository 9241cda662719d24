package decode

import (
	"bytes"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/wstap/wstap/capture"
)

// randomBytes returns n bytes of a fixed pseudo-random stream.
func randomBytes(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

const sioURL = "wss://chat.example/socket.io/?EIO=4&transport=websocket"

func TestDetect(t *testing.T) {
	msgpackMap := mustMsgPack(map[string]any{"type": "hello", "n": 1, "list": []int{1, 2, 3}})
	cborMap := mustCBOR(map[string]any{"type": "hello", "n": 1, "list": []int{1, 2, 3}})
	tests := []struct {
		name  string
		h     Hint
		op    capture.Opcode
		data  []byte
		want  Kind
		kinds []Kind
	}{
		{"json text", Hint{}, capture.OpText, []byte(`{"a":[1,2]}`), JSON, []Kind{JSON, Text, Hex}},
		{"json number text", Hint{}, capture.OpText, []byte(`42`), JSON, []Kind{JSON, Text, Hex}},
		{"plain text", Hint{}, capture.OpText, []byte("hello world"), Text, []Kind{Text, Hex}},
		{"empty text", Hint{}, capture.OpText, nil, Text, []Kind{Text, Hex}},
		{"empty binary", Hint{}, capture.OpBinary, nil, Hex, []Kind{Hex, Protobuf, Text}[:1:1]},
		{"json binary", Hint{}, capture.OpBinary, []byte(`[true]`), JSON, []Kind{JSON, Hex, Text}},
		{"msgpack map", Hint{}, capture.OpBinary, msgpackMap, MsgPack, nil},
		{"msgpack array", Hint{}, capture.OpBinary, mustMsgPack([]any{1, "a", true}), MsgPack, nil},
		{"cbor map", Hint{}, capture.OpBinary, cborMap, CBOR, nil},
		{"cbor array", Hint{}, capture.OpBinary, mustCBOR([]any{1, 2}), CBOR, nil},
		{"cbor array of a map", Hint{}, capture.OpBinary, mustCBOR([]any{"x", map[string]int{"k": 1}}), CBOR, nil},
		{"empty map or array", Hint{}, capture.OpBinary, b(0x80), MsgPack, []Kind{MsgPack, CBOR, Hex, Text}},
		{"cbor tag", Hint{}, capture.OpBinary, b(0xc1, 0x1a, 0x51, 0x4b, 0x67, 0xb0), CBOR, nil},
		{"protobuf", Hint{}, capture.OpBinary, pbProto, Protobuf, []Kind{Protobuf, Hex, Text}},
		{"random", Hint{}, capture.OpBinary, randomBytes(64, 1), Hex, []Kind{Hex, Text}},
		{"random text frame", Hint{}, capture.OpText, randomBytes(64, 2), Text, []Kind{Text, Hex}},
		{"socket.io url text", Hint{URL: sioURL}, capture.OpText, []byte(`42["chat","hi"]`), SocketIO, []Kind{SocketIO, Text, Hex}},
		{"socket.io url ping", Hint{URL: sioURL}, capture.OpText, []byte(`2`), SocketIO, nil},
		{"socket.io url binary", Hint{URL: sioURL}, capture.OpBinary, []byte{1, 2, 3}, SocketIO, []Kind{SocketIO, Hex, Text}},
		{"socket.io EIO query", Hint{URL: "ws://h/ws?EIO=3"}, capture.OpText, []byte(`40`), SocketIO, nil},
		{"socket.io url, not a packet", Hint{URL: sioURL}, capture.OpText, []byte(`hello`), Text, []Kind{Text, Hex}},
		{"socket.io sniffed", Hint{}, capture.OpText, []byte(`42["chat",{"a":1}]`), SocketIO, []Kind{SocketIO, Text, Hex}},
		{"socket.io probe sniffed", Hint{}, capture.OpText, []byte(`3probe`), SocketIO, nil},
		{"socket.io not sniffed", Hint{}, capture.OpText, []byte(`42 is the answer`), Text, []Kind{Text, Hex}},
		{"mqtt connect", Hint{Subprotocol: "mqtt"}, capture.OpBinary, mqttConnectV3, MQTT, nil},
		{"mqtt publish", Hint{Subprotocol: "mqttv3.1"}, capture.OpBinary, mqttPublishPkt, MQTT, nil},
		{"mqtt partial", Hint{Subprotocol: "MQTT"}, capture.OpBinary, mqttPublishPkt[:6], MQTT, nil},
		{"mqtt hint, not mqtt", Hint{Subprotocol: "mqtt"}, capture.OpBinary, []byte{0x00, 0x01}, Hex, nil},
		{"mqtt unhinted", Hint{}, capture.OpBinary, mqttConnectV3, Hex, nil},
		{"msgpack hint, scalar", Hint{Subprotocol: "v1.msgpack.example"}, capture.OpBinary, mustMsgPack("s"), MsgPack, nil},
		{"msgpack hint, not msgpack", Hint{Subprotocol: "msgpack"}, capture.OpBinary, b(0xc1), Hex, nil},
		{"cbor hint, not cbor", Hint{Subprotocol: "cbor"}, capture.OpBinary, b(0x1c), Hex, nil},
		{"messagepack hint", Hint{Subprotocol: "messagepack"}, capture.OpBinary, mustMsgPack([]int{1}), MsgPack, nil},
		{"cbor hint", Hint{Subprotocol: "cbor"}, capture.OpBinary, mustCBOR(5), CBOR, nil},
		{"proto hint", Hint{Subprotocol: "x.protobuf"}, capture.OpBinary, []byte{0x08, 0x01}, Protobuf, nil},
		{"json hint", Hint{Subprotocol: "json"}, capture.OpText, []byte(`{}`), JSON, nil},
		{"graphql hint, bad json", Hint{Subprotocol: "graphql-transport-ws"}, capture.OpText, []byte(`{`), Text, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Detect(tc.h, tc.op, tc.data); got != tc.want {
				t.Errorf("Detect(%+v, %v, %q) = %v, want %v", tc.h, tc.op, tc.data, got, tc.want)
			}
			kinds := Kinds(tc.h, tc.op, tc.data)
			if kinds[0] != tc.want {
				t.Errorf("Kinds(…)[0] = %v, want %v", kinds[0], tc.want)
			}
			last, other := Text, Hex
			if tc.op == capture.OpText {
				last, other = Hex, Text
			}
			if kinds[len(kinds)-1] != last || !slices.Contains(kinds, other) {
				t.Errorf("Kinds(…) = %v: want %v last and %v present", kinds, last, other)
			}
			seen := map[Kind]bool{}
			for _, k := range kinds {
				if seen[k] {
					t.Errorf("Kinds(…) = %v lists %v twice", kinds, k)
				}
				seen[k] = true
			}
			if tc.kinds != nil && len(tc.kinds) > 1 && !slices.Equal(kinds, tc.kinds) {
				t.Errorf("Kinds(…) = %v, want %v", kinds, tc.kinds)
			}
		})
	}
}

// TestDetectMsgPackVersusCBOR checks that maps and arrays of each format
// are not taken for the other, over many shapes.
func TestDetectMsgPackVersusCBOR(t *testing.T) {
	values := []any{
		map[string]any{"a": 1},
		map[string]any{"id": 7, "name": "ada", "tags": []string{"x"}},
		map[string]any{"": nil},
		[]any{1, 2, 3},
		[]any{"x", map[string]int{"k": 1}},
		map[string]any{"k": []any{"x", map[string]int{"k": 1}}},
		[]any{[]byte{1, 2}, "x"},
		map[string]any{"nested": map[string]any{"a": []int{1, 2, 3}, "b": "text"}},
		// An empty map (0x80) reads as an empty CBOR array and the other way
		// round: Detect says MessagePack, see TestDetect.
	}
	for _, v := range values {
		m, c := mustMsgPack(v), mustCBOR(v)
		if got := Detect(Hint{}, capture.OpBinary, m); got != MsgPack {
			t.Errorf("Detect(msgpack of %v = %x) = %v, want msgpack", v, m, got)
		}
		if got := Detect(Hint{}, capture.OpBinary, c); got != CBOR {
			t.Errorf("Detect(cbor of %v = %x) = %v, want cbor", v, c, got)
		}
	}
}

func TestDetectLarge(t *testing.T) {
	const size = 10 << 20
	var buf bytes.Buffer
	buf.WriteString("[")
	for buf.Len() < size {
		buf.WriteString(`{"id":12345,"name":"some name","tags":["a","b"]},`)
	}
	buf.WriteString("null]")
	bigJSON := buf.Bytes()

	mpArr := cat(b(0xdd), u32(size/8))
	for range size / 8 {
		mpArr = append(mpArr, 0xa7, 's', 't', 'r', 'i', 'n', 'g', '!')
	}
	cbArr := cat(b(0x9a), u32(size/8))
	for range size / 8 {
		cbArr = append(cbArr, 0x67, 's', 't', 'r', 'i', 'n', 'g', '!')
	}
	var pb []byte
	for len(pb) < size {
		pb = append(pb, 0x0a, 0x06, 'f', 'i', 'e', 'l', 'd', '!')
	}
	broken := append([]byte(nil), bigJSON...)
	broken[100] = '}'
	tests := []struct {
		name string
		op   capture.Opcode
		data []byte
		want Kind
	}{
		{"json", capture.OpText, bigJSON, JSON},
		{"json broken early", capture.OpText, broken, Text},
		{"json unclosed", capture.OpText, bigJSON[:len(bigJSON)-1], Text},
		{"text", capture.OpText, bytes.Repeat([]byte("plain text "), size/11), Text},
		{"msgpack", capture.OpBinary, mpArr, MsgPack},
		{"cbor", capture.OpBinary, cbArr, CBOR},
		{"protobuf", capture.OpBinary, pb, Protobuf},
		{"random", capture.OpBinary, randomBytes(size, 3), Hex},
		{"zeros", capture.OpBinary, make([]byte, size), Hex},
	}
	for _, tc := range tests {
		if got := Detect(Hint{}, tc.op, tc.data); got != tc.want {
			t.Errorf("Detect(10 MiB %s) = %v, want %v", tc.name, got, tc.want)
		}
	}
	if got := Detect(Hint{URL: sioURL}, capture.OpText, append([]byte("42"), bigJSON...)); got != SocketIO {
		t.Errorf("Detect(10 MiB socket.io) = %v", got)
	}
	if ok, _ := looksCBOR(cbArr[:prefixCheck+100], prefixCheck, false); !ok {
		t.Error("looksCBOR on a prefix")
	}
}

// TestCBORPrefix checks the head walker on small sequences against the
// cbor package.
func TestCBORPrefix(t *testing.T) {
	tests := []struct {
		data []byte
		ok   bool
	}{
		{mustCBOR(map[string]any{"a": []any{1, "x", []byte{1}}, "b": map[int]int{1: 2}}), true},
		{b(0x9f, 0x01, 0x9f, 0xff, 0xff), true},
		{b(0xbf, 0x61, 'a', 0x01, 0xff), true},
		{b(0x5f, 0x41, 0x01, 0xff), true},
		{b(0xc1, 0x1a, 0x51, 0x4b, 0x67, 0xb0), true},
		{b(0x1b, 0, 0, 0, 0, 0, 0, 0, 1), true},
		{b(0x82, 0x01), false},
		{b(0xff), false},
		{b(0x1c), false},
		{b(0x1f), false},
		{b(0xdf), false},
		{b(0x62, 'a'), false},
		{b(0x19, 1), false},
		{b(0x9b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff), false},
		{b(0xbb, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff), false},
		{b(0x81, 0x81, 0x01, 0x01), true},
	}
	for _, tc := range tests {
		if got, _, _ := cborScan(tc.data, len(tc.data)+1); got != tc.ok {
			t.Errorf("cborScan(%x) = %v, want %v", tc.data, got, tc.ok)
		}
	}
}

func TestIsSocketIOURL(t *testing.T) {
	for u, want := range map[string]bool{
		sioURL:                          true,
		"ws://h/socket.io":              true,
		"ws://h/app/socket.io/?x=1":     true,
		"ws://h/ws?EIO=4":               true,
		"ws://h/ws?eio=4":               false,
		"ws://h/chat":                   false,
		"":                              false,
		"::bad url /socket.io/":         true,
		"ws://h/notsocket.io/":          false,
		"wss://h/socket.iox/?transport": false,
	} {
		if got := isSocketIOURL(u); got != want {
			t.Errorf("isSocketIOURL(%q) = %v, want %v", u, got, want)
		}
	}
}

func TestLooksSocketIO(t *testing.T) {
	for s, want := range map[string]bool{
		`42["chat","hi"]`:       true,
		`42/ns,7["chat"]`:       true,
		`451-["up",{"num":0}]`:  true,
		`43/ns,7["ok"]`:         true,
		`43["ok"]`:              false,
		`40`:                    true,
		`40{"sid":"x"}`:         true,
		`40[1]`:                 false,
		`41`:                    true,
		`41{}`:                  false,
		`44{"message":"no"}`:    true,
		`44"no"`:                true,
		`44[1]`:                 false,
		`42[1]`:                 false,
		`42{"a":1}`:             false,
		`4hello`:                false,
		`2probe`:                true,
		`2`:                     false,
		"4\xff":                 false,
		`42[`:                   false,
		strings.Repeat("x", 10): false,
	} {
		if got := looksSocketIO([]byte(s)); got != want {
			t.Errorf("looksSocketIO(%q) = %v, want %v", s, got, want)
		}
	}
}

package capture

import (
	"bytes"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"
)

// tj is a time whose JSON form is short: "2026-01-02T03:04:05.6Z".
var tj = time.Date(2026, 1, 2, 3, 4, 5, 600_000_000, time.UTC)

func TestJSONTime(t *testing.T) {
	tests := []struct {
		t    time.Time
		want string
	}{
		{tj, "2026-01-02T03:04:05.6Z"},
		{time.Date(2026, 1, 2, 4, 4, 5, 0, time.FixedZone("CET", 3600)), "2026-01-02T03:04:05Z"},
		{time.Date(2026, 1, 2, 3, 4, 5, 1, time.UTC), "2026-01-02T03:04:05.000000001Z"},
		{time.Unix(0, -5e8).UTC(), "1969-12-31T23:59:59.5Z"},
		{time.Time{}, "0001-01-01T00:00:00Z"},
	}
	for _, tt := range tests {
		if got := JSONTime(tt.t); got != tt.want {
			t.Errorf("JSONTime(%v) = %q, want %q", tt.t, got, tt.want)
		}
	}
}

// TestJSONEncoder pins the JSONL form of every record type: the schema
// `wstap show --format jsonl` promises.
func TestJSONEncoder(t *testing.T) {
	const ts = `"time":"2026-01-02T03:04:05.6Z"`
	tests := []struct {
		name string
		rec  Record
		want string
	}{
		{"open, minimal", &ConnOpen{Conn: 1, Time: tj, URL: "ws://j.example.test/", Status: 101},
			`{"type":"open","conn":1,` + ts + `,"url":"ws://j.example.test/","subprotocol":"","extensions":"",` +
				`"request_headers":{},"status":101}`},
		{"open, everything", &ConnOpen{Conn: 2, Time: tj, URL: "wss://j.example.test/?a=1&b=<2>", Mode: "reverse",
			ClientAddr: "127.0.0.1:1", ServerAddr: "127.0.0.1:2", RequestHeaders: http.Header{"A": {"1"}},
			ResponseHeaders: http.Header{"B": {"2", "3"}}, Status: 403, Subprotocol: "chat", Extensions: "x",
			ResponseBody: []byte("no\xff<"), ClientTLS: &TLSInfo{SNI: "j.example.test"}, ServerTLS: &TLSInfo{Version: "TLS 1.3"}},
			`{"type":"open","conn":2,` + ts + `,"url":"wss://j.example.test/?a=1&b=<2>","subprotocol":"chat",` +
				`"extensions":"x","request_headers":{"A":["1"]},"status":403,"mode":"reverse","client_addr":"127.0.0.1:1",` +
				`"server_addr":"127.0.0.1:2","response_headers":{"B":["2","3"]},"response_body":"no` + "\uFFFD" + `<",` +
				`"client_tls":{"sni":"j.example.test"},"server_tls":{"version":"TLS 1.3"}}`},
		{"text message", &Message{Conn: 1, Dir: ServerToClient, Opcode: OpText, Time: tj, Size: 6, Data: []byte("héllo"),
			Compressed: true},
			`{"type":"message","conn":1,"from":"server","opcode":"text",` + ts + `,"size":6,"text":"héllo","compressed":true}`},
		{"empty text message", &Message{Conn: 1, Dir: ClientToServer, Opcode: OpText, Time: tj},
			`{"type":"message","conn":1,"from":"client","opcode":"text",` + ts + `,"size":0,"text":""}`},
		{"text message, invalid UTF-8", &Message{Conn: 1, Dir: ProxyToServer, Opcode: OpText, Time: tj, Size: 2,
			Data: []byte("a\xff")},
			`{"type":"message","conn":1,"from":"proxy","opcode":"text",` + ts + `,"size":2,"base64":"Yf8="}`},
		{"binary message", &Message{Conn: 1, Dir: ServerToClient, Opcode: OpBinary, Time: tj, Size: 3, Data: []byte("abc")},
			`{"type":"message","conn":1,"from":"server","opcode":"binary",` + ts + `,"size":3,"base64":"YWJj"}`},
		{"empty binary message", &Message{Conn: 1, Dir: ServerToClient, Opcode: OpPong, Time: tj},
			`{"type":"message","conn":1,"from":"server","opcode":"pong",` + ts + `,"size":0,"base64":""}`},
		{"cut message", &Message{Conn: 1, Opcode: OpText, Time: tj, Size: 100, Data: []byte("ab"), Cut: true, Incomplete: true},
			`{"type":"message","conn":1,"from":"client","opcode":"text",` + ts + `,"size":100,"text":"ab","truncated":true,` +
				`"incomplete":true}`},
		{"truncated message", &Message{Conn: 1, Opcode: OpBinary, Time: tj, Size: 1, Data: []byte{0}, Truncated: true},
			`{"type":"message","conn":1,"from":"client","opcode":"binary",` + ts + `,"size":1,"base64":"AA==","truncated":true}`},
		{"bare whole chunk", &Chunk{Conn: 3, Dir: ServerToClient, Opcode: OpText, Time: tj, First: true, Last: true,
			Data: []byte("hi")},
			`{"type":"message","conn":3,"from":"server","opcode":"text",` + ts + `,"size":2,"text":"hi"}`},
		{"bare partial chunk", &Chunk{Conn: 3, Dir: ClientToServer, Opcode: OpBinary, Time: tj, First: true, Truncated: true,
			Compressed: true, Data: []byte{0, 1}},
			`{"type":"message","conn":3,"from":"client","opcode":"binary",` + ts + `,"size":2,"base64":"AAE=","truncated":true,` +
				`"compressed":true,"incomplete":true}`},
		{"close", &Close{Conn: 1, Time: tj, Dir: ProxyToClient, Code: 1001, Reason: "bye\xff"},
			`{"type":"close","conn":1,"from":"proxy","code":1001,"reason":"bye` + "\uFFFD" + `",` + ts + `}`},
		{"close without status", &Close{Conn: 1, Time: tj, Dir: ServerToClient, Code: 1005},
			`{"type":"close","conn":1,"from":"server","code":1005,"reason":"",` + ts + `}`},
		{"event", &Event{Time: tj, Kind: EventNote, Detail: "a\u2028b <&>"},
			`{"type":"event","conn":0,"kind":"note","detail":"a\u2028b <&>",` + ts + `}`}, // escaped, as JSON in JavaScript needs
		{"end", &End{Conn: 4, Time: tj}, `{"type":"end","conn":4,` + ts + `}`},
		{"end with an error", &End{Conn: 4, Time: tj, Error: "reset"}, `{"type":"end","conn":4,` + ts + `,"error":"reset"}`},
		{"frame", &Frame{Conn: 1, Time: tj, Dir: ClientToServer, Fin: true, RSV: 4, Opcode: OpText, Masked: true, Length: 17},
			`{"type":"frame","conn":1,"from":"client",` + ts + `,"fin":true,"rsv":4,"opcode":"text","masked":true,"length":17}`},
		{"frame, reserved opcode", &Frame{Conn: 1, Time: tj, Dir: 9, Opcode: 0xB},
			`{"type":"frame","conn":1,"from":"dir(9)",` + ts + `,"fin":false,"rsv":0,"opcode":"reserved-11","masked":false,"length":0}`},
		{"http, text bodies", &HTTP{ID: 1, Time: tj, Method: "POST", URL: "http://j.example.test/x", Status: 200,
			RequestHeaders: http.Header{"C": {"d"}}, ResponseHeaders: http.Header{"E": {"f"}},
			RequestBody: []byte(`{"a":1}`), RequestSize: 7, ResponseBody: []byte("ok"), ResponseSize: 2,
			Duration: 1234567 * time.Nanosecond, ClientAddr: "127.0.0.1:9"},
			`{"type":"http","id":1,` + ts + `,"method":"POST","url":"http://j.example.test/x","status":200,` +
				`"request_headers":{"C":["d"]},"response_headers":{"E":["f"]},"request_size":7,"response_size":2,` +
				`"request_body":"{\"a\":1}","response_body":"ok","duration_ms":1.234}`},
		{"http, binary bodies", &HTTP{ID: 2, Method: "GET", URL: "http://j.example.test/y", RequestBody: []byte{0xff, 0},
			RequestSize: 10, ResponseBody: []byte{0xfe}, ResponseSize: 1, Error: "refused"},
			`{"type":"http","id":2,"time":"0001-01-01T00:00:00Z","method":"GET","url":"http://j.example.test/y","status":0,` +
				`"request_size":10,"response_size":1,"request_body_base64":"/wA=","request_body_truncated":true,` +
				`"response_body_base64":"/g==","duration_ms":0,"error":"refused"}`},
		{"http, bodies cut", &HTTP{ID: 3, Time: tj, Method: "GET", URL: "http://j.example.test/z", Status: 200,
			ResponseBody: []byte("par"), ResponseSize: 3000, Duration: 3 * time.Millisecond},
			`{"type":"http","id":3,` + ts + `,"method":"GET","url":"http://j.example.test/z","status":200,` +
				`"request_size":0,"response_size":3000,"response_body":"par","response_body_truncated":true,"duration_ms":3}`},
	}
	for _, tt := range tests {
		var buf bytes.Buffer
		if err := NewJSONEncoder(&buf).Encode(tt.rec); err != nil {
			t.Errorf("%s: Encode = %v", tt.name, err)
			continue
		}
		if got := buf.String(); got != tt.want+"\n" {
			t.Errorf("%s: Encode(%#v) =\n%s\nwant\n%s", tt.name, tt.rec, got, tt.want)
		}
	}
}

type strangeRecord struct{ Event }

func TestJSONEncoderErrors(t *testing.T) {
	var buf bytes.Buffer
	enc := NewJSONEncoder(&buf)
	for _, rec := range []Record{nil, &strangeRecord{}} {
		if err := enc.Encode(rec); err == nil || !strings.Contains(err.Error(), "cannot encode") {
			t.Errorf("Encode(%T) = %v, want a cannot-encode error", rec, err)
		}
	}
	if buf.Len() != 0 {
		t.Errorf("refused records wrote %q", buf.String())
	}
	fail := NewJSONEncoder(failWriter{})
	if err := fail.Encode(&End{Conn: 1}); !errors.Is(err, errBoom) {
		t.Errorf("Encode to a failing writer = %v, want its error", err)
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errBoom }

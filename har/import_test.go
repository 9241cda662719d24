package har

import (
	"bytes"
	"encoding/json"
	"errors"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wstap/wstap/capture"
)

// fixtureMessages are the messages of the WebSocket entry in every fixture
// that records them: the same conversation, as each tool writes it.
var fixtureMessages = []msg{
	{capture.ClientToServer, capture.OpText, `{"type":"hello","user":"ana"}`, time.Unix(1733227200, 312345000)},
	{capture.ServerToClient, capture.OpText, `{"type":"welcome","users":["ana","bo"]}`, time.Unix(1733227200, 398765000)},
	{capture.ServerToClient, capture.OpBinary, "\x00\x01\x02\x03\xff\xfe", time.Unix(1733227201, 123000)},
	{capture.ClientToServer, capture.OpText, `{"type":"bye"}`, time.Unix(1733227205, 100000000)},
}

// importFixture imports testdata/name and reads the capture back.
func importFixture(t *testing.T, name string) (contents, Stats) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	path, st := importFile(t, data)
	return readContents(t, path), st
}

// checkConn checks the fixtures' one connection: its handshake, and its
// messages (none when the tool records none).
func checkConn(t *testing.T, c contents, url, extensions, serverAddr string, opened, ended time.Time, msgs []msg) {
	t.Helper()
	if len(c.opens) != 1 {
		t.Fatalf("%d connections, want 1", len(c.opens))
	}
	o := c.opens[0]
	if o.Conn != 1 || o.URL != url || o.Status != 101 || o.Subprotocol != "chat" || o.Extensions != extensions ||
		o.Mode != "import" || o.ServerAddr != serverAddr {
		t.Errorf("connection = %+v,\nwant %s, 101, subprotocol chat, extensions %q, server %q, mode import",
			o, url, extensions, serverAddr)
	}
	if !o.Time.Equal(opened) {
		t.Errorf("connection opened at %v, want %v", o.Time, opened)
	}
	if got := headerValues(o.RequestHeaderList, "Sec-WebSocket-Protocol"); got != "chat, superchat" {
		t.Errorf("request Sec-WebSocket-Protocol = %q (headers %v)", got, o.RequestHeaderList)
	}
	if o.RequestHeaders.Get("Sec-WebSocket-Key") != "dGhlIHNhbXBsZSBub25jZQ==" || o.RequestHeaders.Get("Host") != "" {
		t.Errorf("request header map = %v (Host stays in the list only)", o.RequestHeaders)
	}
	if o.ResponseHeaders.Get("Sec-WebSocket-Accept") != "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" {
		t.Errorf("response header map = %v", o.ResponseHeaders)
	}
	got := c.msgs[1]
	if len(got) != len(msgs) {
		t.Fatalf("%d messages, want %d: %v", len(got), len(msgs), got)
	}
	for i, w := range msgs {
		if g := got[i]; g.Dir != w.Dir || g.Op != w.Op || g.Data != w.Data || !g.Time.Equal(w.Time) {
			t.Errorf("message %d = %v, want %v", i+1, g, w)
		}
	}
	if e := c.ends[1]; e == nil || !e.Time.Equal(ended) {
		t.Errorf("end = %+v, want at %v", e, ended)
	}
}

// Chrome's shape comes from Chrome DevTools' exporter, devtools-frontend
// front_end/models/har/Log.ts (Entry.build, with HARFormat.ts for the
// importer's side): Date.toJSON times, _initiator, _priority (null for a
// WebSocket), _resourceType, _webSocketMessages with times in seconds and
// binary data in base64 (as the DevTools protocol carries it), an empty
// serverIPAddress and no connection for a WebSocket, the connection's
// lifetime as timings.receive, h2 pseudo-headers for fetches.
func TestImportChrome(t *testing.T) {
	c, st := importFixture(t, "chrome.har")
	if want := (Stats{Connections: 1, Messages: 4, HTTP: 2}); st != want {
		t.Errorf("stats = %+v, want %+v", st, want)
	}
	opened := time.Date(2024, 12, 3, 12, 0, 0, 250_000_000, time.UTC)
	checkConn(t, c, "wss://chat.example.test/ws?room=1", "permessage-deflate", "", opened,
		opened.Add(5003123*time.Microsecond), fixtureMessages)
	if got := c.opens[0].RequestHeaderList[0]; got != (capture.HeaderField{Name: "Accept-Encoding", Value: "gzip, deflate, br, zstd"}) {
		t.Errorf("first request header = %v", got)
	}
	if len(c.http) != 2 {
		t.Fatalf("%d HTTP exchanges, want 2", len(c.http))
	}
	login, img := c.http[0], c.http[1]
	if login.Method != "POST" || login.URL != "https://chat.example.test/api/login?next=%2Fchat&lang=en" ||
		login.Status != 200 || string(login.RequestBody) != `{"user":"ana","password":"x"}` ||
		string(login.ResponseBody) != `{"ok":true,"token":"t-42"}` || login.ResponseSize != 26 ||
		login.RequestHeaders.Get(":authority") != "chat.example.test" ||
		login.Duration != 48217000*time.Nanosecond || !login.Time.Equal(time.Date(2024, 12, 3, 12, 0, 0, 105_000_000, time.UTC)) {
		t.Errorf("login exchange = %+v (duration %v)", login, login.Duration)
	}
	if !bytes.HasPrefix(img.ResponseBody, []byte("\x89PNG")) || img.ResponseSize != int64(len(img.ResponseBody)) ||
		img.ResponseHeaders.Get("Content-Type") != "image/png" {
		t.Errorf("image exchange = %+v", img)
	}
}

// Firefox's shape comes from its exporter, devtools/client/netmonitor/
// src/har/har-builder.js: offset times to the millisecond (dateToHarString),
// connection as the port, _securityState, pages with pageTimings, and no
// WebSocket messages at all (Firefox exports none). A WebSocket's entry is
// the 101 of its upgrade request, whose URL is the HTTP channel's, https.
func TestImportFirefox(t *testing.T) {
	c, st := importFixture(t, "firefox.har")
	if want := (Stats{Connections: 1, Messages: 0, HTTP: 1}); st != want {
		t.Errorf("stats = %+v, want %+v", st, want)
	}
	opened := time.Date(2024, 12, 3, 12, 0, 0, 250_000_000, time.UTC)
	checkConn(t, c, "wss://chat.example.test/ws?room=1", "permessage-deflate", "192.0.2.10:443", opened,
		opened.Add(45*time.Millisecond), nil)
	if len(c.http) != 1 {
		t.Fatalf("%d HTTP exchanges, want 1", len(c.http))
	}
	if x := c.http[0]; x.Method != "GET" || x.URL != "https://chat.example.test/api/status?verbose=1" || x.Status != 200 ||
		string(x.ResponseBody) != `{"ok":true}` || x.Duration != 32*time.Millisecond || x.RequestHeaders.Get("Cookie") != "sid=abc123" {
		t.Errorf("exchange = %+v", x)
	}
}

// HTTP Toolkit's shape comes from httptoolkit-ui src/model/http/har.ts
// (generateHarHttpEntry and generateHarWebSocketMessage): date-fns times
// with an offset, lower-case header names, pageref by source, opcode 1 or
// 2 with binary data in base64, message times in seconds computed from a
// millisecond start and a relative timestamp (hence sub-microsecond
// digits), _webSocketClose {code, reason, timestamp}, and _tlsErrors.
func TestImportHTTPToolkit(t *testing.T) {
	c, st := importFixture(t, "httptoolkit.har")
	if want := (Stats{Connections: 1, Messages: 4, HTTP: 1}); st != want {
		t.Errorf("stats = %+v, want %+v", st, want)
	}
	msgs := slices.Clone(fixtureMessages)
	msgs[1].Time = time.Unix(1733227200, 398765300) // the HAR says 1733227200.3987653
	opened := time.Date(2024, 12, 3, 12, 0, 0, 250_000_000, time.UTC)
	checkConn(t, c, "wss://chat.example.test/ws?room=1", "", "", opened, time.Unix(1733227205, 253500000), msgs)
	if ev := c.events[1]; len(ev) != 1 || ev[0].Kind != capture.EventNote ||
		!strings.Contains(ev[0].Detail, `closed with code 1000 "bye"`) || !ev[0].Time.Equal(time.Unix(1733227205, 253500000)) {
		t.Errorf("close note = %+v", ev)
	}
	if len(c.http) != 1 {
		t.Fatalf("%d HTTP exchanges, want 1", len(c.http))
	}
	if x := c.http[0]; x.Method != "POST" || string(x.RequestBody) != `{"user":"ana","password":"x"}` ||
		x.ResponseHeaders.Get("Content-Type") != "application/json" {
		t.Errorf("exchange = %+v", x)
	}
}

// mitmproxy's shape comes from its savehar addon, mitmproxy/addons/
// savehar.py (flow_entry): isoformat times to the microsecond with
// +00:00, the handshake's URL as https (pretty_url), time as the sum of
// the handshake's timings, serverIPAddress without a port, messages with
// type, time (epoch seconds), opcode (wsproto's Opcode value) and data
// (base64 unless text), indent 4.
func TestImportMitmproxy(t *testing.T) {
	c, st := importFixture(t, "mitmproxy.har")
	if want := (Stats{Connections: 1, Messages: 4, HTTP: 1}); st != want {
		t.Errorf("stats = %+v, want %+v", st, want)
	}
	opened := time.Date(2024, 12, 3, 12, 0, 0, 250_789_000, time.UTC)
	// Its time is the handshake's, so the connection ends with its last message.
	checkConn(t, c, "wss://chat.example.test/ws?room=1", "", "192.0.2.10", opened, fixtureMessages[3].Time, fixtureMessages)
	if len(c.http) != 1 {
		t.Fatalf("%d HTTP exchanges, want 1", len(c.http))
	}
	if x := c.http[0]; x.Status != 200 || string(x.ResponseBody) != `{"ok":true}` || x.Duration != 47832967*time.Nanosecond ||
		!x.Time.Equal(time.Date(2024, 12, 3, 12, 0, 0, 105_123_000, time.UTC)) {
		t.Errorf("exchange = %+v (duration %v)", x, x.Duration)
	}
}

// entry is a valid WebSocket entry, edited by repl (old, new pairs).
func entry(repl ...string) string {
	e := `{"startedDateTime": "2024-12-03T12:00:00.250Z", "time": 5,
		"request": {"method": "GET", "url": "wss://x/ws", "headers": [{"name": "Host", "value": "x"}]},
		"response": {"status": 101, "headers": [], "content": {"size": 0}},
		"_resourceType": "websocket",
		"_webSocketMessages": [{"type": "send", "time": 1733227200.3, "opcode": 1, "data": "a"}]}`
	for i := 0; i+1 < len(repl); i += 2 {
		if !strings.Contains(e, repl[i]) {
			panic("entry: no " + repl[i])
		}
		e = strings.Replace(e, repl[i], repl[i+1], 1)
	}
	return e
}

// exchangeEntry is a valid plain HTTP entry, edited by repl.
func exchangeEntry(repl ...string) string {
	e := `{"startedDateTime": "2024-12-03T12:00:00.250Z", "time": 5,
		"request": {"method": "POST", "url": "https://x/api", "headers": [], "postData": {"mimeType": "text/plain", "text": "hi"}},
		"response": {"status": 200, "headers": [], "content": {"size": 2, "mimeType": "text/plain", "text": "ok"}}}`
	for i := 0; i+1 < len(repl); i += 2 {
		if !strings.Contains(e, repl[i]) {
			panic("exchangeEntry: no " + repl[i])
		}
		e = strings.Replace(e, repl[i], repl[i+1], 1)
	}
	return e
}

func harOf(entries ...string) string {
	return `{"log": {"version": "1.2", "entries": [` + strings.Join(entries, ",") + `]}}`
}

func TestImportMalformed(t *testing.T) {
	threeMessages := `[{"type": "send", "time": 1733227200.3, "opcode": 1, "data": "a"},
		{"type": "receive", "time": 1733227200.4, "opcode": 1, "data": "b"},
		{"type": "receive", "time": "soon", "opcode": 1, "data": "c"}]`
	for _, tc := range []struct {
		name, har, want string
	}{
		{"invalid JSON", `{"log": {"entries": [}`,
			`har: not a HAR file: invalid JSON at byte 22 (line 1, column 22): invalid character '}' looking for beginning of value`},
		{"cut short", "{\n  \"log\": {",
			`har: not a HAR file: invalid JSON at byte 12 (line 2, column 10): unexpected end of JSON input`},
		{"empty", "", `har: not a HAR file: invalid JSON at byte 0 (line 1, column 1): unexpected end of JSON input`},
		{"an array", `[]`, `har: not a HAR file: the top level is not an object`},
		{"no log", `{"entries": []}`, `har: not a HAR file: it has no "log"`},
		{"log not an object", `{"log": []}`, `har: log: not an object`},
		{"no entries", `{"log": {"version": "1.2"}}`, `har: log.entries: missing`},
		{"entries not an array", `{"log": {"entries": {}}}`, `har: log.entries: not an array`},
		{"entry not an object", harOf(entry(), `7`), `har: entry 2: not an object`},
		{"no request", harOf(`{"startedDateTime": "2024-12-03T12:00:00Z"}`), `har: entry 1: request: missing`},
		{"no url", harOf(entry(`"url": "wss://x/ws", `, ``)), `har: entry 1: request.url: missing`},
		{"relative url", harOf(entry(`wss://x/ws`, `/ws`)), `har: entry 1: request.url "/ws": not an absolute URL`},
		{"started yesterday", harOf(entry(`2024-12-03T12:00:00.250Z`, `yesterday`)),
			`har: entry 1 (wss://x/ws): startedDateTime "yesterday": not an RFC 3339 time`},
		{"started in 1960", harOf(entry(`2024-12-03T12:00:00.250Z`, `1960-01-01T00:00:00Z`)),
			`har: entry 1 (wss://x/ws): startedDateTime "1960-01-01T00:00:00Z": out of range (wstap keeps times from 1970 to 2242)`},
		{"time a string", harOf(entry(`"time": 5`, `"time": "5ms"`)), `har: entry 1 (wss://x/ws): time: not a number`},
		{"message time a string", harOf(entry(), entry(), entry(`[{"type": "send", "time": 1733227200.3, "opcode": 1, "data": "a"}]`, threeMessages)),
			`har: entry 3 (wss://x/ws): _webSocketMessages[2].time: not a number`},
		{"message time in ms", harOf(entry(`1733227200.3`, `1733227200300`)),
			`har: entry 1 (wss://x/ws): _webSocketMessages[0].time 1733227200300: out of range (wstap keeps times from 1970 to 2242, in seconds)`},
		{"message type", harOf(entry(`"type": "send"`, `"type": "sent"`)),
			`har: entry 1 (wss://x/ws): _webSocketMessages[0].type "sent": not "send" or "receive"`},
		{"message without type", harOf(entry(`"type": "send", `, ``)),
			`har: entry 1 (wss://x/ws): _webSocketMessages[0].type: missing`},
		{"message not an object", harOf(entry(`[{"type": "send", "time": 1733227200.3, "opcode": 1, "data": "a"}]`, `["a"]`)),
			`har: entry 1 (wss://x/ws): _webSocketMessages[0]: not an object`},
		{"messages not an array", harOf(entry(`[{"type": "send", "time": 1733227200.3, "opcode": 1, "data": "a"}]`, `{}`)),
			`har: entry 1 (wss://x/ws): _webSocketMessages: not an array`},
		{"binary not base64", harOf(entry(`"opcode": 1, "data": "a"`, `"opcode": 2, "data": "!!"`)),
			`har: entry 1 (wss://x/ws): _webSocketMessages[0].data: not base64 (a message of opcode 2 carries its payload in base64)`},
		{"reserved opcode", harOf(entry(`"opcode": 1`, `"opcode": 3`)),
			`har: entry 1 (wss://x/ws): _webSocketMessages[0].opcode 3: not a message opcode (want 1, 2, 8, 9 or 10)`},
		{"opcode 1.5", harOf(entry(`"opcode": 1`, `"opcode": 1.5`)),
			`har: entry 1 (wss://x/ws): _webSocketMessages[0].opcode 1.5: not an integer`},
		{"opcode 16", harOf(entry(`"opcode": 1`, `"opcode": 16`)),
			`har: entry 1 (wss://x/ws): _webSocketMessages[0].opcode 16: not an opcode`},
		{"data a number", harOf(entry(`"data": "a"`, `"data": 7`)),
			`har: entry 1 (wss://x/ws): _webSocketMessages[0].data: not a string`},
		{"no response", harOf(entry(`"response": {"status": 101, "headers": [], "content": {"size": 0}},`, ``)),
			`har: entry 1 (wss://x/ws): response: missing`},
		{"status a string", harOf(entry(`"status": 101`, `"status": "101"`)),
			`har: entry 1 (wss://x/ws): response.status: not a number`},
		{"status 1000", harOf(entry(`"status": 101`, `"status": 1000`)),
			`har: entry 1 (wss://x/ws): response.status 1000: not an HTTP status`},
		{"headers not an array", harOf(entry(`"headers": [{"name": "Host", "value": "x"}]`, `"headers": {"Host": "x"}`)),
			`har: entry 1 (wss://x/ws): request.headers: not an array`},
		{"header without name", harOf(entry(`{"name": "Host", "value": "x"}`, `{"name": "Host", "value": "x"}, {"value": "y"}`)),
			`har: entry 1 (wss://x/ws): request.headers[1].name: missing`},
		{"header not an object", harOf(entry(`{"name": "Host", "value": "x"}`, `"Host: x"`)),
			`har: entry 1 (wss://x/ws): request.headers[0]: not an object`},
		{"header value a number", harOf(entry(`"value": "x"`, `"value": 1`)),
			`har: entry 1 (wss://x/ws): request.headers[0].value: not a string`},
		{"not a websocket scheme", harOf(entry(`wss://x/ws`, `ftp://x/ws`)),
			`har: entry 1 (ftp://x/ws): request.url "ftp://x/ws": not a WebSocket URL (want ws, wss, http or https)`},
		{"no host", harOf(entry(`wss://x/ws`, `wss:///ws`)), `har: entry 1 (wss:///ws): request.url "wss:///ws": no host`},
		{"redacted not strings", harOf(entry(`"_resourceType"`, `"_wstapRedacted": [1], "_resourceType"`)),
			`har: entry 1 (wss://x/ws): _wstapRedacted[0]: not a string`},
		{"close not aborted", harOf(entry(`"_resourceType"`, `"_webSocketClose": "closed", "_resourceType"`)),
			`har: entry 1 (wss://x/ws): _webSocketClose "closed": not an object or "aborted"`},
		{"close code", harOf(entry(`"_resourceType"`, `"_webSocketClose": {"code": 70000}, "_resourceType"`)),
			`har: entry 1 (wss://x/ws): _webSocketClose.code 70000: not a close code`},
		{"close timestamp", harOf(entry(`"_resourceType"`, `"_webSocketClose": {"timestamp": "later"}, "_resourceType"`)),
			`har: entry 1 (wss://x/ws): _webSocketClose.timestamp: not a number`},
		{"resource type", harOf(entry(`"_resourceType": "websocket"`, `"_resourceType": 1`)),
			`har: entry 1 (wss://x/ws): _resourceType: not a string`},
		{"content not base64", harOf(exchangeEntry(`"text": "ok"`, `"text": "ok!", "encoding": "base64"`)),
			`har: entry 1 (https://x/api): response.content.text: not base64 (its encoding says base64)`},
		{"content encoding", harOf(exchangeEntry(`"text": "ok"`, `"text": "ok", "encoding": "gzip"`)),
			`har: entry 1 (https://x/api): response.content.encoding "gzip": not a known encoding (want base64 or none)`},
		{"content size", harOf(exchangeEntry(`"size": 2`, `"size": "2"`)),
			`har: entry 1 (https://x/api): response.content.size: not a number`},
		{"content not an object", harOf(exchangeEntry(`"content": {"size": 2, "mimeType": "text/plain", "text": "ok"}`, `"content": "ok"`)),
			`har: entry 1 (https://x/api): response.content: not an object`},
		{"post text", harOf(exchangeEntry(`"text": "hi"`, `"text": ["hi"]`)),
			`har: entry 1 (https://x/api): request.postData.text: not a string`},
		{"post params", harOf(exchangeEntry(`"text": "hi"`, `"params": [{"value": "1"}]`)),
			`har: entry 1 (https://x/api): request.postData.params[0].name: missing`},
		{"error a number", harOf(exchangeEntry(`"status": 200`, `"status": 0, "_error": 5`)),
			`har: entry 1 (https://x/api): response._error: not a string`},
		{"method a number", harOf(exchangeEntry(`"method": "POST"`, `"method": 1`)),
			`har: entry 1 (https://x/api): request.method: not a string`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "c.wstap")
			w, err := capture.Create(path, capture.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer w.Close()
			_, err = Import([]byte(tc.har), w)
			if err == nil || err.Error() != tc.want {
				t.Fatalf("Import(%s) = %v,\nwant %s", tc.name, err, tc.want)
			}
			var fe *FormatError
			if !errors.As(err, &fe) {
				t.Errorf("Import(%s) = %T, want a *FormatError", tc.name, err)
			}
			if n := w.Stats().Records; n != 0 {
				t.Errorf("a malformed HAR wrote %d records", n)
			}
		})
	}
}

// Import keeps each connection's messages in the order the HAR lists
// them, numbers connections by their start, and merges everything in time
// order.
func TestImportOrder(t *testing.T) {
	har := harOf(
		exchangeEntry(`2024-12-03T12:00:00.250Z`, `2024-12-03T12:00:00.500Z`),
		entry(`wss://x/ws`, `wss://late/ws`, `2024-12-03T12:00:00.250Z`, `2024-12-03T12:00:00.400Z`,
			`[{"type": "send", "time": 1733227200.3, "opcode": 1, "data": "a"}]`,
			`[{"type": "send", "time": 1733227200.45, "opcode": 1, "data": "l1"},
			  {"type": "receive", "time": 1733227200.6, "opcode": 1, "data": "l2"}]`),
		entry(`"time": 5`, `"time": 1000`, `[{"type": "send", "time": 1733227200.3, "opcode": 1, "data": "a"}]`,
			`[{"type": "send", "time": 1733227200.7, "opcode": 1, "data": "e2"},
			  {"type": "send", "time": 1733227200.3, "opcode": 1, "data": "e1"},
			  {"type": "receive", "time": 1733227200.5, "opcode": 8, "data": "A+hieWU="},
			  {"type": "send", "time": 1733227200.55, "opcode": 8, "data": ""}]`),
	)
	path, st := importFile(t, []byte(har))
	if want := (Stats{Connections: 2, Messages: 4, HTTP: 1}); st != want {
		t.Errorf("stats = %+v, want %+v", st, want)
	}
	c := readContents(t, path)
	if len(c.opens) != 2 || c.opens[0].URL != "wss://x/ws" || c.opens[1].URL != "wss://late/ws" {
		t.Fatalf("connections = %v, want wss://x/ws first (it started first)", c.opens)
	}
	var early []string
	for _, m := range c.msgs[1] {
		early = append(early, m.Data)
	}
	if !slices.Equal(early, []string{"e2", "e1"}) {
		t.Errorf("connection 1's messages = %q, want the HAR's order", early)
	}
	cl := c.closes[1]
	if len(cl) != 2 || !cl[0].Time.Equal(time.Unix(1733227200, 500_000_000)) || cl[0].Dir != capture.ServerToClient ||
		cl[0].Code != 1000 || cl[0].Reason != "bye" || cl[1].Code != 1005 || cl[1].Dir != capture.ClientToServer {
		t.Errorf("closes = %+v %+v", cl[0], cl[1])
	}
	if e := c.ends[1]; e == nil || !e.Time.Equal(time.Date(2024, 12, 3, 12, 0, 1, 250_000_000, time.UTC)) {
		t.Errorf("connection 1 ends %+v, want after its duration, 1 s", e)
	}
	if e := c.ends[2]; e == nil || !e.Time.Equal(time.Unix(1733227200, 600_000_000)) {
		t.Errorf("connection 2 ends %+v, want with its last message", e)
	}
	// Each connection's records in the HAR's order, interleaved with the
	// others' by time where the HAR's order allows.
	var order []string
	for rec, err := range openCapture(t, path).Messages(capture.Filter{}, capture.AssembleOptions{}) {
		if err != nil {
			t.Fatal(err)
		}
		s := rec.Type().String() + strconv.Itoa(int(rec.ConnID()))
		if m, ok := rec.(*capture.Message); ok {
			s = string(m.Data)
		}
		order = append(order, s)
	}
	want := []string{"open1", "open2", "l1", "http0", "l2", "end2", "e2", "e1", "close1", "close1", "end1"}
	if !slices.Equal(order, want) {
		t.Errorf("records = %q,\nwant %q", order, want)
	}
}

// Bodies: postData's params when it has no text, HTTP Toolkit's
// _content, and refused handshakes.
func TestImportBodies(t *testing.T) {
	har := harOf(
		exchangeEntry(`"text": "hi"`, `"params": [{"name": "a b", "value": "1&2"}, {"name": "c"}]`),
		exchangeEntry(`"size": 2`, `"size": 9000`, `"postData": {"mimeType": "text/plain", "text": "hi"}`,
			`"_content": {"text": "AP8=", "size": 2, "encoding": "base64"}`),
		exchangeEntry(`"postData": {"mimeType": "text/plain", "text": "hi"}`, `"postData": {"mimeType": "x", "text": "aGk=", "encoding": "base64"}`,
			`"status": 200`, `"status": 0, "_error": "net::ERR_FAILED"`),
		entry(`"status": 101`, `"status": 403`, `"content": {"size": 0}`, `"content": {"size": 9, "text": "forbidden"}`,
			`"_webSocketMessages": [{"type": "send", "time": 1733227200.3, "opcode": 1, "data": "a"}]`, `"_webSocketClose": "aborted"`),
	)
	path, _ := importFile(t, []byte(har))
	c := readContents(t, path)
	if len(c.http) != 3 {
		t.Fatalf("%d exchanges, want 3", len(c.http))
	}
	if got := string(c.http[0].RequestBody); got != "a+b=1%262&c=" {
		t.Errorf("params body = %q", got)
	}
	if x := c.http[1]; !bytes.Equal(x.RequestBody, []byte{0, 0xff}) || x.RequestSize != 2 || x.ResponseSize != 9000 {
		t.Errorf("_content body = %+v", x)
	}
	if x := c.http[2]; string(x.RequestBody) != "hi" || x.Status != 0 || x.Error != "net::ERR_FAILED" {
		t.Errorf("failed exchange = %+v", x)
	}
	o := c.opens[0]
	if o.Status != 403 || string(o.ResponseBody) != "forbidden" || len(c.msgs[1]) != 0 {
		t.Errorf("refused connection = %+v", o)
	}
	if e := c.ends[1]; e == nil || e.Error != "aborted" {
		t.Errorf("aborted connection's end = %+v", e)
	}
	if ev := c.events[1]; len(ev) != 1 || ev[0].Kind != capture.EventRefused || ev[0].Detail != "the server answered 403 Forbidden" {
		t.Errorf("refusal events = %+v", ev)
	}
}

// A 101 entry without any of Chrome's marks is a connection, unless its
// Upgrade names another protocol; plain ws and http URLs map to ws.
func TestImportDetection(t *testing.T) {
	plain := func(url, upgrade string) string {
		return `{"startedDateTime": "2024-12-03T12:00:00Z", "request": {"url": "` + url + `", "headers": [` + upgrade + `]},
			"response": {"status": 101}}`
	}
	har := harOf(plain("http://a/ws", ""), plain("http://b/", `{"name": "Upgrade", "value": "h2c"}`),
		plain("ws://c/", ""), plain("https://d/", `{"name": "upgrade", "value": "WebSocket"}`))
	_, st := importFile(t, []byte(har))
	if want := (Stats{Connections: 3, HTTP: 1}); st != want {
		t.Errorf("stats = %+v, want %+v", st, want)
	}
}

func TestParseEpoch(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Time
		ok   bool
	}{
		{"1733227200.123456", time.Unix(1733227200, 123456000), true},
		{"1733227200.1234567891", time.Unix(1733227200, 123456789), true},
		{"1733227200", time.Unix(1733227200, 0), true},
		{"1733227200.5", time.Unix(1733227200, 500000000), true},
		{"1.733227200123456e9", time.Unix(1733227200, 123456000), true},
		{"-1.5", time.Unix(-2, 500000000), true},
		{"99999999999999999999", time.Time{}, false},
		{"1e300", time.Time{}, false},
	} {
		got, ok := parseEpoch(json.Number(tc.in))
		if ok != tc.ok || (ok && !got.Equal(tc.want)) {
			t.Errorf("parseEpoch(%s) = %v, %v; want %v, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

// Every time a HAR can write to the microsecond reads back exactly, which
// a float64 multiplication would not guarantee.
func TestEpochRoundTrip(t *testing.T) {
	for us := int64(1733227200_000000); us < 1733227200_000000+20_000; us += 7 {
		tm := time.UnixMicro(us)
		got, ok := parseEpoch(epochSeconds(tm))
		if !ok || !got.Equal(tm) {
			t.Fatalf("parseEpoch(epochSeconds(%v)) = %v, %v", tm, got, ok)
		}
	}
}

func TestFormatError(t *testing.T) {
	for _, tc := range []struct {
		e    FormatError
		want string
	}{
		{FormatError{Reason: "not a HAR file: it has no \"log\""}, `har: not a HAR file: it has no "log"`},
		{FormatError{Field: "log.entries", Reason: "missing"}, "har: log.entries: missing"},
		{FormatError{Entry: 2, Reason: "not an object"}, "har: entry 2: not an object"},
		{FormatError{Entry: 3, URL: "wss://x/ws", Field: "_webSocketMessages[2].time", Reason: "not a number"},
			"har: entry 3 (wss://x/ws): _webSocketMessages[2].time: not a number"},
		{FormatError{Entry: 1, Field: "startedDateTime", Value: `"yesterday"`, Reason: "not an RFC 3339 time"},
			`har: entry 1: startedDateTime "yesterday": not an RFC 3339 time`},
	} {
		if got := tc.e.Error(); got != tc.want {
			t.Errorf("Error() = %q, want %q", got, tc.want)
		}
	}
	long := strings.Repeat("é", 50)
	if got := quote(long); !strings.HasSuffix(got, `…"`) || !utf8ValidString(got) {
		t.Errorf("quote(long) = %q", got)
	}
	if got := shortURL("wss://x/" + long); !strings.HasSuffix(got, "…") || !utf8ValidString(got) {
		t.Errorf("shortURL(long) = %q", got)
	}
}

func utf8ValidString(s string) bool { return strings.ToValidUTF8(s, "\x00") == s }

// A writer that fails is reported with the entry it was writing.
func TestImportWriterError(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.wstap")
	w, err := capture.Create(path, capture.Options{})
	if err != nil {
		t.Fatal(err)
	}
	w.Close()
	_, err = Import([]byte(harOf(entry())), w)
	if !errors.Is(err, capture.ErrClosed) || !strings.HasPrefix(err.Error(), "har: entry 1 (wss://x/ws): ") {
		t.Errorf("Import into a closed writer = %v", err)
	}
}

// TestImportBoundaries checks doc.go's promise: har imports the standard
// library and capture, nothing else.
func TestImportBoundaries(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			if p != "github.com/wstap/wstap/capture" && strings.Contains(strings.Split(p, "/")[0], ".") {
				t.Errorf("%s imports %s: har imports the standard library and capture only (doc.go)", name, p)
			}
		}
	}
}

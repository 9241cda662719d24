package har

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wstap/wstap/capture"
)

var update = flag.Bool("update", false, "rewrite testdata/export.golden")

// t0 is the first record's time in the round-trip capture: it has
// nanoseconds, which a HAR keeps to the microsecond.
var t0 = time.Date(2024, 12, 3, 12, 0, 0, 250_123_456, time.UTC)

func at(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }

// roundTripRecords is a capture with two WebSocket connections (text,
// binary, a subprotocol, a redacted header, a ping the client sent and
// its pong, wstap's own heartbeat and the pong it dropped, a message
// bigger than a chunk), a refused handshake and an HTTP exchange, in the
// order a proxy writes them.
func roundTripRecords() []capture.Record {
	big := bytes.Repeat([]byte{0xde, 0xad, 0xbe, 0xef, 0x00}, 60_000) // 300 kB: more than one chunk
	chunk := func(conn capture.ConnID, ms int, dir capture.Direction, op capture.Opcode, data []byte) *capture.Chunk {
		return &capture.Chunk{Conn: conn, Time: at(ms).Add(789 * time.Nanosecond), Dir: dir, Opcode: op,
			First: true, Last: true, Data: data}
	}
	return []capture.Record{
		&capture.ConnOpen{Conn: 1, Time: t0, URL: "wss://chat.example.test/ws?room=1&who=ana%20b", Mode: "connect",
			ClientAddr: "127.0.0.1:50001", ServerAddr: "192.0.2.10:443",
			RequestHeaders: http.Header{"Upgrade": {"websocket"}, "Connection": {"Upgrade"},
				"Sec-Websocket-Protocol": {"chat, superchat"}, "Authorization": {capture.Redaction}},
			RequestHeaderList: []capture.HeaderField{{Name: "Host", Value: "chat.example.test"},
				{Name: "Upgrade", Value: "websocket"}, {Name: "Connection", Value: "Upgrade"},
				{Name: "Sec-WebSocket-Protocol", Value: "chat, superchat"}, {Name: "Authorization", Value: capture.Redaction}},
			ResponseHeaders: http.Header{"Upgrade": {"websocket"}, "Connection": {"Upgrade"}, "Sec-Websocket-Protocol": {"chat"},
				"Sec-Websocket-Extensions": {"permessage-deflate"}},
			ResponseHeaderList: []capture.HeaderField{{Name: "Upgrade", Value: "websocket"}, {Name: "Connection", Value: "Upgrade"},
				{Name: "Sec-WebSocket-Protocol", Value: "chat"}, {Name: "Sec-WebSocket-Extensions", Value: "permessage-deflate"}},
			Status: 101, Subprotocol: "chat", Extensions: "permessage-deflate", Redacted: []string{"Authorization"}},
		chunk(1, 62, capture.ClientToServer, capture.OpText, []byte(`{"type":"hello","user":"ana <b>&"}`)),
		chunk(1, 148, capture.ServerToClient, capture.OpText, []byte("héllo ✓ — 你好\n\t\"quoted\"")),
		&capture.ConnOpen{Conn: 2, Time: at(300), URL: "ws://feed.example.test/live", Mode: "explicit",
			ClientAddr: "127.0.0.1:50002", ServerAddr: "[2001:db8::1]:8080",
			RequestHeaders: http.Header{"Origin": {"http://feed.example.test"}}, Status: 101},
		chunk(1, 750, capture.ServerToClient, capture.OpBinary, []byte{0, 1, 2, 3, 0xff, 0xfe}),
		chunk(2, 800, capture.ServerToClient, capture.OpBinary, big),
		&capture.HTTP{ID: 1, Time: at(900), Method: "POST", URL: "https://chat.example.test/api/upload?kind=avatar#frag",
			Status: 201, RequestHeaders: http.Header{"Content-Type": {"application/json"}, "Cookie": {capture.Redaction}},
			ResponseHeaders: http.Header{"Content-Type": {"image/png"}, "Location": {"/api/upload/7"}},
			RequestBody:     []byte(`{"name":"avatar.png"}`), RequestSize: 21,
			ResponseBody: []byte{0x89, 'P', 'N', 'G', 0xff}, ResponseSize: 5000, Duration: 12345 * time.Microsecond,
			Redacted: []string{"Cookie"}},
		chunk(1, 1000, capture.ClientToServer, capture.OpPing, []byte("are you there")),
		chunk(1, 1001, capture.ServerToClient, capture.OpPong, []byte("are you there")),
		// wstap's heartbeat, and the pong that answered it: neither crossed.
		chunk(1, 2000, capture.ProxyToClient, capture.OpPing, []byte("wstap-heartbeat")),
		&capture.Chunk{Conn: 1, Time: at(2001), Dir: capture.ClientToServer, Opcode: capture.OpPong, First: true, Last: true,
			Dropped: true, Data: []byte("wstap-heartbeat")},
		&capture.ConnOpen{Conn: 3, Time: at(2500), URL: "wss://chat.example.test/admin", Mode: "connect", Status: 403,
			ResponseHeaders: http.Header{"Content-Type": {"text/plain"}}, ResponseBody: []byte("forbidden")},
		&capture.Event{Conn: 3, Time: at(2501), Kind: capture.EventRefused, Detail: "the server answered 403 Forbidden"},
		&capture.End{Conn: 3, Time: at(2502), Error: "handshake refused"},
		chunk(1, 3000, capture.ClientToServer, capture.OpText, []byte(`{"type":"bye"}`)),
		&capture.Close{Conn: 1, Time: at(3100), Dir: capture.ClientToServer, Code: 1000, Reason: "bye"},
		&capture.Close{Conn: 1, Time: at(3101), Dir: capture.ServerToClient, Code: 1000, Reason: "bye"},
		&capture.End{Conn: 1, Time: at(3102)},
		&capture.End{Conn: 2, Time: at(4000), Error: "the server went away"},
	}
}

// writeCapture writes recs into a new capture at path.
func writeCapture(t testing.TB, path string, recs []capture.Record) {
	t.Helper()
	w, err := capture.Create(path, capture.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, rec := range recs {
		switch r := rec.(type) {
		case *capture.ConnOpen:
			c := *r
			if _, err := w.Open(&c); err != nil {
				t.Fatal(err)
			}
		case *capture.HTTP:
			x := *r
			if _, err := w.HTTP(&x); err != nil {
				t.Fatal(err)
			}
		default:
			if err := w.Append(rec); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

func openCapture(t testing.TB, path string) *capture.Reader {
	t.Helper()
	r, err := capture.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// exportFile exports the capture at path, every connection and exchange.
func exportFile(t testing.TB, path string) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := Export(&buf, openCapture(t, path), nil, ExportOptions{Version: "test"}); err != nil {
		t.Fatalf("Export: %v", err)
	}
	return buf.Bytes()
}

// importFile imports data into a new capture and returns its path.
func importFile(t testing.TB, data []byte) (string, Stats) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "imported.wstap")
	w, err := capture.Create(path, capture.Options{})
	if err != nil {
		t.Fatal(err)
	}
	st, err := Import(data, w)
	if cerr := w.Close(); cerr != nil {
		t.Fatal(cerr)
	}
	if err != nil {
		t.Fatalf("Import: %v", err)
	}
	return path, st
}

// msg is what the tests compare of a message.
type msg struct {
	Dir  capture.Direction
	Op   capture.Opcode
	Data string
	Time time.Time
}

func (m msg) String() string {
	return fmt.Sprintf("%v %v %q at %s", m.Dir, m.Op, m.Data, m.Time.Format(time.RFC3339Nano))
}

// contents is a capture read back.
type contents struct {
	opens  []*capture.ConnOpen
	msgs   map[capture.ConnID][]msg // crossed messages only
	closes map[capture.ConnID][]*capture.Close
	events map[capture.ConnID][]*capture.Event
	ends   map[capture.ConnID]*capture.End
	http   []*capture.HTTP
	times  []time.Time // every record's time, in file order
}

func readContents(t testing.TB, path string) contents {
	t.Helper()
	c := contents{msgs: map[capture.ConnID][]msg{}, closes: map[capture.ConnID][]*capture.Close{},
		events: map[capture.ConnID][]*capture.Event{}, ends: map[capture.ConnID]*capture.End{}}
	for rec, err := range openCapture(t, path).Messages(capture.Filter{}, capture.AssembleOptions{}) {
		if err != nil {
			t.Fatalf("read %s: %v", path, err)
		}
		c.times = append(c.times, rec.At())
		switch r := rec.(type) {
		case *capture.ConnOpen:
			c.opens = append(c.opens, r)
		case *capture.Message:
			if r.Crossed() {
				c.msgs[r.Conn] = append(c.msgs[r.Conn], msg{r.Dir, r.Opcode, string(r.Data), r.Time})
			}
		case *capture.Close:
			c.closes[r.Conn] = append(c.closes[r.Conn], r)
		case *capture.Event:
			c.events[r.Conn] = append(c.events[r.Conn], r)
		case *capture.End:
			c.ends[r.Conn] = r
		case *capture.HTTP:
			c.http = append(c.http, r)
		}
	}
	return c
}

// roundTripCapture writes roundTripRecords into a new capture.
func roundTripCapture(t testing.TB) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "orig.wstap")
	writeCapture(t, path, roundTripRecords())
	return path
}

func TestRoundTrip(t *testing.T) {
	orig := roundTripCapture(t)
	data := exportFile(t, orig)
	back, st := importFile(t, data)
	if want := (Stats{Connections: 3, Messages: 7, HTTP: 1}); st != want {
		t.Errorf("Import stats = %+v, want %+v", st, want)
	}
	a, b := readContents(t, orig), readContents(t, back)

	if len(b.opens) != len(a.opens) {
		t.Fatalf("%d connections after the round trip, want %d", len(b.opens), len(a.opens))
	}
	for i, o := range a.opens {
		g := b.opens[i]
		if g.Conn != o.Conn || g.URL != o.URL || g.Status != o.Status || g.Subprotocol != o.Subprotocol ||
			g.Extensions != o.Extensions || g.ServerAddr != o.ServerAddr || g.Mode != "import" {
			t.Errorf("connection %d = %+v, want %+v (mode import)", o.Conn, g, o)
		}
		if want := o.Time.Truncate(time.Millisecond); !g.Time.Equal(want) {
			t.Errorf("connection %d opened at %v, want %v", o.Conn, g.Time, want)
		}
		if o.RequestHeaderList != nil && !reflect.DeepEqual(g.RequestHeaderList, o.RequestHeaderList) {
			t.Errorf("connection %d request headers = %v, want %v", o.Conn, g.RequestHeaderList, o.RequestHeaderList)
		}
		if !reflect.DeepEqual(g.RequestHeaders, o.RequestHeaders) {
			t.Errorf("connection %d request header map = %v, want %v", o.Conn, g.RequestHeaders, o.RequestHeaders)
		}
		if o.ResponseHeaderList != nil && !reflect.DeepEqual(g.ResponseHeaderList, o.ResponseHeaderList) {
			t.Errorf("connection %d response headers = %v, want %v", o.Conn, g.ResponseHeaderList, o.ResponseHeaderList)
		}
		if !slices.Equal(g.Redacted, o.Redacted) || !bytes.Equal(g.ResponseBody, o.ResponseBody) {
			t.Errorf("connection %d: redacted %v, body %q; want %v, %q", o.Conn, g.Redacted, g.ResponseBody, o.Redacted, o.ResponseBody)
		}
	}
	if g := b.opens[0]; !capture.IsRedacted(g.Redacted, "authorization") ||
		g.RequestHeaders.Get("Authorization") != capture.Redaction {
		t.Errorf("the redacted Authorization lost its mark: %v, %v", g.Redacted, g.RequestHeaders)
	}

	for conn, want := range a.msgs {
		got := b.msgs[conn]
		if len(got) != len(want) {
			t.Errorf("connection %d: %d messages after the round trip, want %d:\n%v", conn, len(got), len(want), got)
			continue
		}
		for i, w := range want {
			w.Time = w.Time.Truncate(time.Microsecond)
			if g := got[i]; g.Dir != w.Dir || g.Op != w.Op || g.Data != w.Data || !g.Time.Equal(w.Time) {
				t.Errorf("connection %d message %d = %v, want %v", conn, i+1, g, w)
			}
		}
	}
	for _, m := range b.msgs[1] {
		if strings.Contains(m.Data, "wstap-heartbeat") {
			t.Errorf("the heartbeat crossed the round trip: %v", m)
		}
	}
	if n := len(b.msgs[1]); n != 6 {
		t.Errorf("connection 1 has %d messages, want 6 (the heartbeat and its pong left out)", n)
	}
	if e := b.ends[3]; e == nil || e.Error != "handshake refused" || len(b.events[3]) != 1 ||
		b.events[3][0].Kind != capture.EventRefused {
		t.Errorf("refused connection: end %+v, events %+v", e, b.events[3])
	}
	if e := b.ends[1]; e == nil || !e.Time.Equal(a.ends[1].Time.Truncate(time.Microsecond)) {
		t.Errorf("connection 1 ends %+v, want at %v", e, a.ends[1].Time)
	}

	if len(b.http) != 1 {
		t.Fatalf("%d HTTP exchanges after the round trip, want 1", len(b.http))
	}
	x, y := a.http[0], b.http[0]
	if y.Method != x.Method || y.URL != "https://chat.example.test/api/upload?kind=avatar" || y.Status != x.Status ||
		!bytes.Equal(y.RequestBody, x.RequestBody) || !bytes.Equal(y.ResponseBody, x.ResponseBody) ||
		y.RequestSize != x.RequestSize || y.ResponseSize != x.ResponseSize || y.Duration != x.Duration ||
		!reflect.DeepEqual(y.RequestHeaders, x.RequestHeaders) || !reflect.DeepEqual(y.ResponseHeaders, x.ResponseHeaders) ||
		!slices.Equal(y.Redacted, x.Redacted) || !y.Time.Equal(x.Time.Truncate(time.Millisecond)) {
		t.Errorf("HTTP exchange after the round trip = %+v,\nwant %+v", y, x)
	}

	// Records come in time order, as a proxy writes them.
	if !slices.IsSortedFunc(b.times, func(x, y time.Time) int { return x.Compare(y) }) {
		t.Errorf("the imported records are not in time order: %v", b.times)
	}
}

func TestExportGolden(t *testing.T) {
	got := exportFile(t, roundTripCapture(t))
	if !json.Valid(got) {
		t.Fatalf("the export is not JSON:\n%s", got)
	}
	// The 300 kB message would swamp the golden file: shorten it.
	golden := filepath.Join("testdata", "export.golden")
	got = shortenLongData(got)
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("Export differs from %s (go test -run ExportGolden -update rewrites it):\n%s", golden, lineDiff(want, got))
	}
	// And the same bytes every time.
	if again := shortenLongData(exportFile(t, roundTripCapture(t))); !bytes.Equal(again, got) {
		t.Error("two exports of the same capture differ")
	}
}

// shortenLongData cuts every JSON string longer than 200 characters.
func shortenLongData(p []byte) []byte {
	var out []byte
	for line := range bytes.Lines(p) {
		if len(line) > 260 {
			line = append(append(line[:200:200], []byte("…(cut)")...), '\n')
		}
		out = append(out, line...)
	}
	return out
}

// lineDiff shows the first lines where want and got differ.
func lineDiff(want, got []byte) string {
	w, g := strings.Split(string(want), "\n"), strings.Split(string(got), "\n")
	for i := range max(len(w), len(g)) {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			return fmt.Sprintf("line %d:\n- %s\n+ %s", i+1, wl, gl)
		}
	}
	return "(no difference in lines)"
}

func TestExportConns(t *testing.T) {
	path := roundTripCapture(t)
	r := openCapture(t, path)
	var buf bytes.Buffer
	if err := Export(&buf, r, []capture.ConnID{2, 2}, ExportOptions{}); err != nil {
		t.Fatal(err)
	}
	var doc HAR
	if err := json.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if n := len(doc.Log.Entries); n != 1 {
		t.Fatalf("Export of connection 2: %d entries, want 1 (no HTTP exchange)", n)
	}
	e := doc.Log.Entries[0]
	if e.Request.URL != "ws://feed.example.test/live" || e.ServerIPAddress != "2001:db8::1" || e.Connection != "8080" ||
		e.WebSocketMessages == nil || len(*e.WebSocketMessages) != 1 || e.Time != 3700.123 {
		t.Errorf("connection 2's entry = %+v", e)
	}
	if doc.Log.Creator != (Creator{"wstap", "devel"}) || doc.Log.Version != "1.2" {
		t.Errorf("log = %+v", doc.Log)
	}

	err := Export(&buf, r, []capture.ConnID{9}, ExportOptions{})
	if err == nil || err.Error() != "har: the capture has no connection 9" {
		t.Errorf("Export of connection 9 = %v", err)
	}
}

// A connection without messages still has _webSocketMessages, empty, as
// Chrome writes it; an exchange has none.
func TestExportEmptyMessages(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.wstap")
	writeCapture(t, path, []capture.Record{
		&capture.ConnOpen{Conn: 1, Time: t0, URL: "ws://a.test/", Status: 101},
		&capture.HTTP{ID: 1, Time: at(1), Method: "GET", URL: "http://a.test/x", Error: "connection refused"},
	})
	data := exportFile(t, path)
	if !bytes.Contains(data, []byte(`"_webSocketMessages": []`)) {
		t.Errorf("no empty _webSocketMessages in\n%s", data)
	}
	if bytes.Count(data, []byte(`"_webSocketMessages"`)) != 1 {
		t.Errorf("the exchange has _webSocketMessages:\n%s", data)
	}
	if !bytes.Contains(data, []byte(`"_error": "connection refused"`)) {
		t.Errorf("the failed exchange's error is missing:\n%s", data)
	}
}

// Export passes over a torn tail and exports what came before it.
func TestExportTornTail(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "c.wstap")
	w, err := capture.Create(path, capture.Options{FlushInterval: time.Hour, CheckpointInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	open := &capture.ConnOpen{Time: t0, URL: "ws://a.test/", Status: 101}
	if _, err := w.Open(open); err != nil {
		t.Fatal(err)
	}
	if err := w.Append(&capture.Chunk{Conn: 1, Time: at(1), Opcode: capture.OpText, First: true, Last: true, Data: []byte("kept")}); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	fi, _ := os.Stat(path)
	good := fi.Size()
	if err := w.Append(&capture.Chunk{Conn: 1, Time: at(2), Opcode: capture.OpText, First: true, Last: true, Data: bytes.Repeat([]byte("lost "), 100)}); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	w.Close()
	torn := filepath.Join(dir, "torn.wstap")
	if err := os.WriteFile(torn, data[:good+20], 0o600); err != nil {
		t.Fatal(err)
	}
	r := openCapture(t, torn)
	var buf bytes.Buffer
	if err := Export(&buf, r, nil, ExportOptions{}); err != nil {
		t.Fatalf("Export of a torn capture: %v", err)
	}
	if !bytes.Contains(buf.Bytes(), []byte(`"data": "kept"`)) || bytes.Contains(buf.Bytes(), []byte("lost")) {
		t.Errorf("Export of a torn capture:\n%s", buf.Bytes())
	}
}

func TestEpochSeconds(t *testing.T) {
	for _, tc := range []struct {
		t    time.Time
		want string
	}{
		{time.Unix(1733227200, 123456789), "1733227200.123456"},
		{time.Unix(1733227200, 0), "1733227200.000000"},
		{time.Unix(0, 1000), "0.000001"},
		{time.Unix(-2, 999_999_000), "-1.000001"},
	} {
		if got := epochSeconds(tc.t); string(got) != tc.want {
			t.Errorf("epochSeconds(%v) = %s, want %s", tc.t, got, tc.want)
		}
	}
}

// TestChromeShape checks that an export has every field of the WebSocket
// entry in testdata/chrome.har, Chrome's own shape, with the same JSON
// types, so that DevTools' importer (front_end/models/har/HARFormat.ts
// and Importer.ts), which reads what Chrome writes, accepts it.
func TestChromeShape(t *testing.T) {
	chrome := readJSON(t, filepath.Join("testdata", "chrome.har"))
	var export map[string]any
	if err := json.Unmarshal(exportFile(t, roundTripCapture(t)), &export); err != nil {
		t.Fatal(err)
	}
	ws := func(doc map[string]any) map[string]any {
		for _, e := range doc["log"].(map[string]any)["entries"].([]any) {
			if m := e.(map[string]any); m["_resourceType"] == "websocket" {
				return m
			}
		}
		t.Fatal("no websocket entry")
		return nil
	}
	// The log itself, without its entries.
	logOf := func(doc map[string]any) map[string]any {
		l := map[string]any{}
		for k, v := range doc["log"].(map[string]any) {
			if k != "entries" {
				l[k] = v
			}
		}
		return l
	}
	for _, d := range sameShape("log", logOf(chrome), logOf(export)) {
		t.Error(d)
	}
	diffs := sameShape("entry", ws(chrome), ws(export))
	for _, d := range diffs {
		t.Error(d)
	}
	if len(diffs) > 0 {
		t.Log("DevTools reads Chrome's shape; an export must have it too")
	}
}

// optionalInChrome are fields of Chrome's entries that DevTools' importer
// reads as optional (HARFormat.ts: HARInitiator's url, lineNumber,
// requestId and stack are optionalString, optionalNumber or checked),
// which a proxy cannot know: the script that opened a connection.
var optionalInChrome = map[string]bool{
	"entry._initiator.stack": true, "entry._initiator.url": true, "entry._initiator.lineNumber": true,
}

// sameShape lists how got lacks a field of want or has it with another
// JSON type, recursively over objects and over the first element of
// arrays.
func sameShape(path string, want, got any) []string {
	if optionalInChrome[path] {
		return nil
	}
	if jsonType(want) != jsonType(got) {
		return []string{fmt.Sprintf("%s is %s in Chrome's HAR, %s in the export", path, jsonType(want), jsonType(got))}
	}
	var out []string
	switch w := want.(type) {
	case map[string]any:
		g := got.(map[string]any)
		for _, k := range slices.Sorted(maps.Keys(w)) {
			gv, ok := g[k]
			if !ok {
				if !optionalInChrome[path+"."+k] {
					out = append(out, fmt.Sprintf("%s.%s: Chrome writes it, the export does not", path, k))
				}
				continue
			}
			out = append(out, sameShape(path+"."+k, w[k], gv)...)
		}
	case []any:
		if g := got.([]any); len(w) > 0 && len(g) > 0 {
			out = append(out, sameShape(path+"[0]", w[0], g[0])...)
		}
	}
	return out
}

func jsonType(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case map[string]any:
		return "an object"
	case []any:
		return "an array"
	case string:
		return "a string"
	case float64, json.Number:
		return "a number"
	case bool:
		return "a boolean"
	}
	return fmt.Sprintf("%T", v)
}

func readJSON(t testing.TB, path string) map[string]any {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return doc
}

// The structural comparison itself catches a missing field and a changed
// type.
func TestSameShape(t *testing.T) {
	want := map[string]any{"a": 1.0, "b": map[string]any{"c": "x", "d": nil}, "e": []any{map[string]any{"f": true}}}
	got := map[string]any{"a": "1", "b": map[string]any{"c": "y"}, "e": []any{map[string]any{}}}
	diffs := sameShape("entry", want, got)
	wantDiffs := []string{
		"entry.a is a number in Chrome's HAR, a string in the export",
		"entry.b.d: Chrome writes it, the export does not",
		"entry.e[0].f: Chrome writes it, the export does not",
	}
	if !slices.Equal(diffs, wantDiffs) {
		t.Errorf("sameShape = %q, want %q", diffs, wantDiffs)
	}
}

// A request body that is not text goes in request._content, in base64,
// as HTTP Toolkit writes it, and comes back; an unreachable upstream's
// connection has status 0 and an error.
func TestExportBinaryRequest(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.wstap")
	writeCapture(t, path, []capture.Record{
		&capture.ConnOpen{Conn: 1, Time: t0, URL: "wss://down.test/ws", ServerAddr: "192.0.2.1"},
		&capture.HTTP{ID: 1, Time: at(1), Method: "PUT", URL: "http://a.test/blob", Status: 204,
			RequestBody: []byte{0, 0xff, 0xfe}, RequestSize: 3},
	})
	data := exportFile(t, path)
	var doc HAR
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	ws, x := doc.Log.Entries[0], doc.Log.Entries[1]
	if ws.Response.Status != 0 || ws.Response.Error == nil || ws.ServerIPAddress != "192.0.2.1" || ws.Connection != "" {
		t.Errorf("unreachable connection's entry = %+v", ws)
	}
	if x.Request.PostData != nil || x.Request.Content == nil || *x.Request.Content != (Content{Size: 3, MimeType: "x-unknown",
		Text: "AP/+", Encoding: "base64"}) {
		t.Errorf("binary request = %+v", x.Request)
	}
	back, _ := importFile(t, data)
	c := readContents(t, back)
	if len(c.http) != 1 || !bytes.Equal(c.http[0].RequestBody, []byte{0, 0xff, 0xfe}) || c.opens[0].ServerAddr != "192.0.2.1" {
		t.Errorf("after the round trip: %+v, %+v", c.http, c.opens)
	}
}

package main

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/wstap/wstap/capture"
)

var update = flag.Bool("update", false, "rewrite the golden output in testdata/script/*.txtar")

// TestMain lets testscript run the real wstap binary: `exec wstap …` in a
// script re-executes this test binary as wstap.
func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){"wstap": main})
}

// TestScripts runs the CLI scenarios in testdata/script. Beside the builtin
// commands, scripts can use
//
//	mkcapture KIND FILE   write a capture (see writeFixture for the kinds)
//	checkjsonl FILE       check that FILE is JSON lines of the show schema
//	status N CMD ARGS…    run CMD like exec and check that it exits with status N
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:           "testdata/script",
		UpdateScripts: *update,
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"mkcapture":  cmdMkcapture,
			"checkjsonl": cmdCheckJSONL,
			"status":     cmdStatus,
		},
	})
}

func cmdStatus(ts *testscript.TestScript, neg bool, args []string) {
	if neg {
		ts.Fatalf("unsupported: ! status")
	}
	if len(args) < 2 {
		ts.Fatalf("usage: status N CMD [ARGS…]")
	}
	want, err := strconv.Atoi(args[0])
	if err != nil {
		ts.Fatalf("status: %v", err)
	}
	got := 0
	if err := ts.Exec(args[1], args[2:]...); err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			ts.Fatalf("status: %v", err)
		}
		got = ee.ExitCode()
	}
	if got != want {
		ts.Fatalf("%s exited with status %d, want %d", args[1], got, want)
	}
}

func cmdMkcapture(ts *testscript.TestScript, neg bool, args []string) {
	if neg {
		ts.Fatalf("unsupported: ! mkcapture")
	}
	if len(args) != 2 {
		ts.Fatalf("usage: mkcapture KIND FILE")
	}
	if err := writeFixture(args[0], ts.MkAbs(args[1]), ts.MkAbs(".")); err != nil {
		ts.Fatalf("mkcapture: %v", err)
	}
}

// fixtureT0 is the time of the first record of every fixture, so that
// golden output does not depend on the clock.
var fixtureT0 = time.Date(2026, 11, 26, 12, 0, 0, 123_000_000, time.UTC)

func fixtureAt(ms int) time.Time { return fixtureT0.Add(time.Duration(ms) * time.Millisecond) }

// writeFixture writes a capture of the given kind at path, using tmp for
// scratch files:
//
//	multi   four connections (a normal one with unicode text, control
//	        characters, binary, ping/pong, a violation and a 4001 close; a
//	        ghost; a refused handshake; an unfinished one), an HTTP
//	        exchange and a capture-wide event, cleanly closed
//	empty   no records at all
//	torn    a crashed recording: its last chunk is cut in half
//	newer   multi, claiming a format version this wstap does not know
//	frames  fragmented, compressed and one-frame messages with their frame
//	        records (see writeFramesFixture)
//	damaged multi in three chunks, cleanly closed, with one byte of the
//	        second chunk's compressed data flipped (connection 1's
//	        messages after its pong are lost)
func writeFixture(kind, path, tmp string) error {
	switch kind {
	case "multi":
		return writeCapture(path, multiRecords())
	case "empty":
		return writeCapture(path, nil)
	case "torn":
		return writeTorn(path, tmp)
	case "damaged":
		return writeDamaged(path)
	case "frames":
		return writeFramesFixture(path)
	case "newer":
		if err := writeCapture(path, multiRecords()); err != nil {
			return err
		}
		return patchVersion(path, capture.Version+1)
	}
	return fmt.Errorf("unknown capture kind %q (want multi, empty, torn, damaged, frames or newer)", kind)
}

// multiRecords returns the records of the "multi" fixture in the order a
// proxy would write them.
func multiRecords() []capture.Record {
	bin40 := make([]byte, 40)
	for i := range bin40 {
		bin40[i] = byte(i)
	}
	big := bytes.Repeat([]byte{0xde, 0xad, 0xbe, 0xef}, 300) // 1200 bytes
	long := strings.Repeat("The quick brown fox jumps over the lazy dog. ", 7)
	return []capture.Record{
		&capture.ConnOpen{Conn: 1, Time: fixtureAt(0), URL: "wss://chat.example.test/ws?room=1", Mode: "connect",
			ClientAddr: "127.0.0.1:50001", ServerAddr: "127.0.0.1:8443",
			RequestHeaders: http.Header{"Sec-Websocket-Protocol": {"chat, superchat"}, "Origin": {"https://chat.example.test"}},
			Status:         101, Subprotocol: "chat", Extensions: "permessage-deflate"},
		&capture.Chunk{Conn: 1, Time: fixtureAt(5), Dir: capture.ClientToServer, Opcode: capture.OpText, First: true, Last: true,
			Compressed: true, Data: []byte("héllo wörld ✓ — 你好")},
		&capture.Chunk{Conn: 1, Time: fixtureAt(12), Dir: capture.ServerToClient, Opcode: capture.OpText, First: true, Last: true,
			Data: []byte(`{"type":"welcome","users":["ana","bo"]}`)},
		&capture.Chunk{Conn: 1, Time: fixtureAt(15), Dir: capture.ClientToServer, Opcode: capture.OpText, First: true, Last: true,
			Data: []byte("line 1\nline 2\ttab\x00nul \"quoted\" back\\slash")},
		&capture.Chunk{Conn: 1, Time: fixtureAt(20), Dir: capture.ServerToClient, Opcode: capture.OpBinary, First: true, Last: true,
			Data: bin40},
		&capture.Chunk{Conn: 1, Time: fixtureAt(30), Dir: capture.ClientToServer, Opcode: capture.OpPing, First: true, Last: true,
			Data: []byte("hb-1")},
		&capture.Chunk{Conn: 1, Time: fixtureAt(31), Dir: capture.ServerToClient, Opcode: capture.OpPong, First: true, Last: true,
			Data: []byte("hb-1")},
		&capture.Chunk{Conn: 1, Time: fixtureAt(40), Dir: capture.ServerToClient, Opcode: capture.OpBinary, First: true,
			Data: big[:600]},
		&capture.Chunk{Conn: 1, Time: fixtureAt(41), Dir: capture.ServerToClient, Opcode: capture.OpBinary, Last: true,
			Truncated: true, Data: big[600:]},
		&capture.Chunk{Conn: 1, Time: fixtureAt(50), Dir: capture.ServerToClient, Opcode: capture.OpText, First: true, Last: true,
			Data: []byte(long)},
		&capture.Event{Conn: 1, Time: fixtureAt(60), Kind: capture.EventViolation,
			Detail: "RFC 6455 section 5.1: client frame is not masked"},
		&capture.Close{Conn: 1, Time: fixtureAt(70), Dir: capture.ClientToServer, Code: 4001, Reason: "bye for now"},
		&capture.Close{Conn: 1, Time: fixtureAt(71), Dir: capture.ServerToClient, Code: 4001, Reason: "bye for now"},
		&capture.End{Conn: 1, Time: fixtureAt(72)},

		&capture.ConnOpen{Conn: 2, Time: fixtureAt(100), URL: "ws://feed.example.test/live", Mode: "explicit",
			ClientAddr: "127.0.0.1:50002", Status: 101},
		&capture.ConnOpen{Conn: 3, Time: fixtureAt(200), URL: "wss://chat.example.test/admin", Mode: "connect",
			ClientAddr: "127.0.0.1:50003", Status: 403, ResponseBody: []byte("forbidden")},
		&capture.Event{Conn: 3, Time: fixtureAt(201), Kind: capture.EventRefused, Detail: "the server answered 403 Forbidden"},
		&capture.End{Conn: 3, Time: fixtureAt(202), Error: "handshake refused"},
		&capture.HTTP{ID: 1, Time: fixtureAt(300), Method: "GET", URL: "https://example.test/api/status", Status: 200,
			RequestHeaders:  http.Header{"Accept": {"application/json"}},
			ResponseHeaders: http.Header{"Content-Type": {"application/json"}},
			ResponseBody:    []byte(`{"ok":true}`), ResponseSize: 11, Duration: 3 * time.Millisecond},
		&capture.Event{Conn: 0, Time: fixtureAt(301), Kind: capture.EventNote, Detail: "listening on 127.0.0.1:8080"},
		&capture.ConnOpen{Conn: 4, Time: fixtureAt(400), URL: "ws://chat.example.test/ws?room=2", Mode: "explicit",
			ClientAddr: "127.0.0.1:50004", Status: 101, Subprotocol: "chat"},
		&capture.Chunk{Conn: 4, Time: fixtureAt(410), Dir: capture.ClientToServer, Opcode: capture.OpText, First: true, Last: true,
			Data: []byte("hi")},
		&capture.Chunk{Conn: 2, Time: fixtureAt(1100), Dir: capture.ProxyToClient, Opcode: capture.OpPing, First: true, Last: true,
			Data: []byte("wstap-heartbeat")},
		&capture.Chunk{Conn: 4, Time: fixtureAt(1500), Dir: capture.ServerToClient, Opcode: capture.OpText, First: true,
			Data: []byte("the first half of a message that never ended")},
		&capture.Event{Conn: 2, Time: fixtureAt(2100), Kind: capture.EventGhost, Detail: "the client did not answer a ping within 1s"},
		&capture.Close{Conn: 2, Time: fixtureAt(2101), Dir: capture.ProxyToClient, Code: 1001},
		&capture.Close{Conn: 2, Time: fixtureAt(2102), Dir: capture.ProxyToServer, Code: 1001},
		&capture.End{Conn: 2, Time: fixtureAt(2103), Error: "ghost connection"},
	}
}

// appendRecords hands recs to w, through Open and HTTP where they must go.
func appendRecords(w *capture.Writer, recs []capture.Record) error {
	for _, rec := range recs {
		var err error
		switch r := rec.(type) {
		case *capture.ConnOpen:
			c := *r
			_, err = w.Open(&c)
			if err == nil && c.Conn != r.Conn {
				err = fmt.Errorf("Open assigned connection %d, the fixture expects %d", c.Conn, r.Conn)
			}
		case *capture.HTTP:
			x := *r
			_, err = w.HTTP(&x)
		default:
			err = w.Append(rec)
		}
		if err != nil {
			return fmt.Errorf("append %T: %w", rec, err)
		}
	}
	return nil
}

func writeCapture(path string, recs []capture.Record) error {
	w, err := capture.Create(path, capture.Options{})
	if err != nil {
		return err
	}
	if err := appendRecords(w, recs); err != nil {
		w.Close()
		return err
	}
	return w.Close()
}

// writeDamaged writes the "damaged" fixture: multi in three chunks, then
// a flipped byte inside the second chunk's zstd frame.
func writeDamaged(path string) error {
	w, err := capture.Create(path, capture.Options{FlushInterval: time.Hour, CheckpointInterval: time.Hour})
	if err != nil {
		return err
	}
	recs := multiRecords()
	for _, part := range [][]capture.Record{recs[:7], recs[7:14], recs[14:]} {
		if err := appendRecords(w, part); err != nil {
			w.Close()
			return err
		}
		if err := w.Flush(); err != nil {
			w.Close()
			return err
		}
	}
	if err := w.Close(); err != nil {
		return err
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	chunkMagic := []byte{0x51, 0x2a, 0x4d, 0x18}
	first := bytes.Index(data, chunkMagic)
	second := first + 1 + bytes.Index(data[first+1:], chunkMagic)
	if first < 0 || second <= first {
		return fmt.Errorf("no second chunk in %s", path)
	}
	data[second+8+44+2] ^= 0x40 // inside the zstd frame: its checksum fails
	return os.WriteFile(path, data, 0o600)
}

// writeTorn writes what a recorder that crashed in the middle of a write
// leaves behind: two chunks, the second cut in half, and no index or footer.
func writeTorn(path, tmp string) error {
	scratch, err := os.MkdirTemp(tmp, "torn")
	if err != nil {
		return err
	}
	defer os.RemoveAll(scratch)
	src := filepath.Join(scratch, "src.wstap")
	// Only the explicit flushes below cut chunks, so the file's layout does
	// not depend on how fast the test runs.
	w, err := capture.Create(src, capture.Options{FlushInterval: time.Hour, CheckpointInterval: time.Hour})
	if err != nil {
		return err
	}
	defer w.Close()
	recs := multiRecords()
	flushed := func(recs []capture.Record) (int64, error) {
		if err := appendRecords(w, recs); err != nil {
			return 0, err
		}
		if err := w.Flush(); err != nil {
			return 0, err
		}
		fi, err := os.Stat(src)
		if err != nil {
			return 0, err
		}
		return fi.Size(), nil
	}
	// The first chunk ends with connection 1's pong; the second is lost.
	first, err := flushed(recs[:7])
	if err != nil {
		return err
	}
	second, err := flushed(recs[7:14])
	if err != nil {
		return err
	}
	data, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	if int64(len(data)) != second {
		return fmt.Errorf("%s is %d bytes after the second flush, then %d", src, second, len(data))
	}
	return os.WriteFile(path, data[:(first+second)/2], 0o600)
}

// patchVersion rewrites the format version in the file header (a u16,
// little-endian, after the 8-byte skippable-frame head and "WSTAPCAP").
func patchVersion(path string, version uint16) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if len(data) < 18 || string(data[8:16]) != "WSTAPCAP" {
		return fmt.Errorf("%s: no file header where expected", path)
	}
	binary.LittleEndian.PutUint16(data[16:], version)
	return os.WriteFile(path, data, 0o600)
}

// jsonlKeys are the keys every line of a type must have (DESIGN section 4).
var jsonlKeys = map[string][]string{
	"open":    {"conn", "time", "url", "subprotocol", "extensions", "request_headers", "status"},
	"message": {"conn", "from", "opcode", "time", "size"},
	"close":   {"conn", "from", "code", "reason", "time"},
	"event":   {"conn", "kind", "detail", "time"},
	"end":     {"conn", "time"},
	"http":    {"method", "url", "status", "time"},
}

func cmdCheckJSONL(ts *testscript.TestScript, neg bool, args []string) {
	if neg {
		ts.Fatalf("unsupported: ! checkjsonl")
	}
	if len(args) != 1 {
		ts.Fatalf("usage: checkjsonl FILE")
	}
	if err := checkJSONL([]byte(ts.ReadFile(args[0]))); err != nil {
		ts.Fatalf("%s: %v", args[0], err)
	}
}

// checkJSONL checks that p is JSON lines of `show --format jsonl`'s schema.
func checkJSONL(p []byte) error {
	sc := bufio.NewScanner(bytes.NewReader(p))
	sc.Buffer(nil, 16<<20)
	n := 0
	for sc.Scan() {
		n++
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			return fmt.Errorf("line %d: %v", n, err)
		}
		typ, _ := m["type"].(string)
		keys, ok := jsonlKeys[typ]
		if !ok {
			return fmt.Errorf("line %d: unknown type %q", n, m["type"])
		}
		for _, k := range keys {
			if _, ok := m[k]; !ok {
				return fmt.Errorf("line %d (%s): no %q key", n, typ, k)
			}
		}
		if s, ok := m["time"].(string); !ok {
			return fmt.Errorf("line %d: time is %v, want a string", n, m["time"])
		} else if _, err := time.Parse(time.RFC3339Nano, s); err != nil {
			return fmt.Errorf("line %d: time: %v", n, err)
		}
		if from, ok := m["from"]; ok && !slices.Contains([]any{"client", "server", "proxy"}, from) {
			return fmt.Errorf("line %d: from = %v", n, from)
		}
		if typ == "message" {
			_, text := m["text"]
			_, b64 := m["base64"]
			if text == b64 && m["size"] != 0.0 {
				return fmt.Errorf("line %d: a message needs exactly one of text and base64", n)
			}
			if text && m["opcode"] != "text" {
				return fmt.Errorf("line %d: text for a %v message", n, m["opcode"])
			}
		}
	}
	if err := sc.Err(); err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("no lines")
	}
	return nil
}

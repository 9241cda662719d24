package capture

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
)

// The reference reader in the docs must print what `wstap show --format
// jsonl` prints (DESIGN.md section 3: "keep such a script in the docs and
// test it").
const pyScript = "../docs/examples/read_capture.py"

// pyInterpreter returns a Python 3 that can import zstandard and cbor2. It
// skips the test when there is none, except in CI, where it fails.
func pyInterpreter(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"/usr/bin/python3", "python3"} {
		path, err := exec.LookPath(name)
		if err != nil {
			continue
		}
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		err = exec.CommandContext(ctx, path, "-c", "import zstandard, cbor2").Run()
		cancel()
		if err == nil {
			return path
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("no python3 can import zstandard and cbor2; install python3-zstandard and python3-cbor2")
	}
	t.Skip("no python3 with zstandard and cbor2")
	return ""
}

// pyRun runs the script on path and returns its stdout lines and stderr.
func pyRun(t *testing.T, py, path string) (lines []string, stderr string, exit int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, py, pyScript, path)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("%s %s: %v", pyScript, path, ctx.Err())
	}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		exit = ee.ExitCode()
	case err != nil:
		t.Fatalf("run %s: %v", pyScript, err)
	}
	return splitLines(out.String()), errb.String(), exit
}

func splitLines(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(strings.TrimSuffix(s, "\n"), "\n")
}

// goRender renders path as `wstap show --format jsonl [--frames]` does:
// it returns the output and the errors met on the way, reading on past
// damage and stopping at any other error (a torn tail is the last record).
func goRender(t *testing.T, path string, frames bool) (string, []error) {
	t.Helper()
	r, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var buf bytes.Buffer
	enc := NewJSONEncoder(&buf)
	var errs []error
	for rec, err := range r.Messages(Filter{}, AssembleOptions{Frames: frames}) {
		if err != nil {
			errs = append(errs, err)
			if IsDamage(err) { // read on, as the script does
				continue
			}
			break
		}
		if err := enc.Encode(rec); err != nil {
			t.Fatal(err)
		}
	}
	return buf.String(), errs
}

// goJSONL is goRender's lines and the first error that it met (a
// *DamageError, or a *TailError at a torn tail).
func goJSONL(t *testing.T, path string) ([]string, error) {
	t.Helper()
	out, errs := goRender(t, path, false)
	var end error
	if len(errs) > 0 {
		end = errs[0]
	}
	return splitLines(out), end
}

// pyCompare checks that the script's lines equal wstap's, as parsed JSON,
// with the same top-level keys in the same order.
func pyCompare(t *testing.T, got, want []string) {
	t.Helper()
	for i := range max(len(got), len(want)) {
		if i >= len(got) || i >= len(want) {
			t.Errorf("line %d: script printed %d lines, wstap %d", i+1, len(got), len(want))
			return
		}
		var g, w any
		if err := json.Unmarshal([]byte(got[i]), &g); err != nil {
			t.Fatalf("line %d of the script's output: %v\n%s", i+1, err, short(got[i]))
		}
		if err := json.Unmarshal([]byte(want[i]), &w); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(g, w) || !slices.Equal(jsonKeys(t, got[i]), jsonKeys(t, want[i])) {
			t.Errorf("line %d:\nscript %s\n wstap %s", i+1, short(got[i]), short(want[i]))
		}
	}
}

// short cuts a line for a failure message: some hold 800 KiB of base64.
func short(s string) string {
	if len(s) > 400 {
		return s[:400] + "…"
	}
	return s
}

// jsonKeys returns the top-level keys of a JSON object in order.
func jsonKeys(t *testing.T, line string) []string {
	t.Helper()
	d := json.NewDecoder(strings.NewReader(line))
	if _, err := d.Token(); err != nil {
		t.Fatal(err)
	}
	var keys []string
	for d.More() {
		k, err := d.Token()
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, k.(string))
		var skip json.RawMessage
		if err := d.Decode(&skip); err != nil {
			t.Fatal(err)
		}
	}
	return keys
}

// pyGroups returns records of every kind in groups; the writer flushes after
// each group, so the file has several chunks and checkpoints between them.
// Connections 3 and 4 have messages open at the end of the file, which both
// readers print in the same order: by index, connection, direction and
// control.
func pyGroups() [][]Record {
	rng := rand.New(rand.NewPCG(1, 2))
	noise := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.IntN(64)) // compresses a little, not to nothing
		}
		return b
	}
	chunk := func(ms int, dir Direction, op Opcode, first, last bool, data []byte) *Chunk {
		return &Chunk{Conn: 2, Time: at(ms), Dir: dir, Opcode: op, First: first, Last: last, Data: data}
	}
	cet := time.FixedZone("", 3600)
	return [][]Record{
		sampleRecords(), // connection 1, exchange 1, a capture-wide event
		{
			&ConnOpen{Time: at(100), URL: "wss://api.example.test/v1/stream?q=ü", Mode: "reverse",
				ClientAddr: "[::1]:40000", ServerAddr: "127.0.0.1:8443",
				RequestHeaders:  http.Header{"Origin": {"https://app.example.test"}, "X-Multi": {"a", "b", ""}},
				ResponseHeaders: http.Header{"Set-Cookie": {"token=s3cr3t; HttpOnly"}},
				Status:          101, ResponseBody: []byte("ok\xff"),
				ClientTLS: &TLSInfo{SNI: "api.example.test", Chain: []CertInfo{
					{Subject: "CN=api.example.test", Issuer: "CN=wstap CA", NotAfter: time.Date(2027, 1, 2, 3, 4, 5, 600, cet)},
					{Subject: "CN=wstap CA"}}},
				ServerTLS: &TLSInfo{},
				RequestHeaderList: []HeaderField{{"Host", "api.example.test"}, {"origin", "https://app.example.test"},
					{"X-Multi", "a"}, {"X-Multi", "b"}, {"Cookie", Redaction}},
				ResponseHeaderList: []HeaderField{{"set-cookie", "token=s3cr3t; HttpOnly"}},
				Redacted:           []string{"Cookie"}},
			&Frame{Conn: 2, Time: at(101), Dir: ClientToServer, Fin: true, Opcode: OpText, Masked: true, Length: 50},
			chunk(101, ClientToServer, OpText, true, true,
				[]byte("héllo 世界 🎉 <b>&amp;</b> \u2028\u2029 \x00\x01\x08\x0c\x1f\x7f\t\n\"\\")),
			chunk(102, ServerToClient, OpBinary, true, true, []byte{0, 1, 2, 0xfe, 0xff}),
			chunk(103, ProxyToServer, OpPing, true, true, []byte("heartbeat")),
			chunk(104, ServerToClient, OpPong, true, true, nil),
			// The pong that answered wstap's ping: not forwarded.
			&Chunk{Conn: 2, Time: at(104), Dir: ServerToClient, Opcode: OpPong, First: true, Last: true, Dropped: true,
				Data: []byte("heartbeat"), Frame: &Frame{Fin: true, Opcode: OpPong, Length: 9, Dropped: true}},
			// A fragmented text message with a ping and an event between its chunks.
			&Chunk{Conn: 2, Time: at(105), Dir: ServerToClient, Opcode: OpText, First: true, Compressed: true, Data: []byte("part1 ")},
			chunk(106, ServerToClient, OpPing, true, true, []byte{0x80}),
			chunk(107, ServerToClient, OpText, false, false, []byte("pärt2 ")),
			&Event{Conn: 2, Time: at(107), Kind: EventViolation, Detail: "ping inside a fragmented message"},
			chunk(108, ServerToClient, OpText, false, true, []byte("part3")),
			chunk(109, ClientToServer, OpText, true, true, nil),                    // empty text
			chunk(110, ClientToServer, OpText, true, true, []byte("bad \xc3\x28")), // invalid UTF-8
			chunk(111, ServerToClient, OpBinary, true, true, noise(600<<10)),       // split by the writer
		},
		{
			// Fragmented, with a first fragment larger than MaxChunk.
			chunk(200, ClientToServer, OpBinary, true, false, noise(300<<10)),
			&Chunk{Conn: 2, Time: at(201), Dir: ClientToServer, Opcode: OpBinary, Last: true, Truncated: true, Data: noise(10)},
			// A message cut short by the next one.
			chunk(202, ServerToClient, OpText, true, false, []byte("abandoned")),
			chunk(203, ServerToClient, OpText, true, true, []byte("next")),
			&Close{Conn: 2, Time: at(204), Dir: ServerToClient, Code: 1002, Reason: "a\xff\xfeb\xe2\x82c"},
			&Close{Conn: 2, Time: at(204), Dir: ClientToServer, Code: 1000, Dropped: true},
			chunk(205, ClientToServer, OpBinary, true, false, []byte("unfinished")),
			&End{Conn: 2, Time: at(206), Error: "upstream: connection reset"},
			&HTTP{Time: at(207), Method: "POST", URL: "http://example.test/upload?x=1", Status: 201,
				RequestHeaders: http.Header{"Content-Type": {"application/octet-stream"}},
				RequestBody:    []byte{0xff, 0, 1}, RequestSize: 10,
				ResponseBody: []byte(`{"id":"ü"}`), ResponseSize: 11, Duration: 1234567, Redacted: []string{"Authorization"}},
			&HTTP{Time: at(208), Method: "GET", URL: "http://down.example.test/", Duration: 250, Error: "connection refused"},
			&Event{Conn: 0, Time: time.Unix(0, -5e8), Kind: EventNote, Detail: "before 1970"},
			&Event{Conn: 0, Kind: EventError, Detail: "no time"},
		},
		{
			&ConnOpen{Time: at(300), URL: "ws://127.0.0.1:9/"},
			&ConnOpen{Time: at(300), URL: "ws://127.0.0.1:10/"},
			&Chunk{Conn: 4, Time: at(301), Dir: ServerToClient, Opcode: OpBinary, First: true, Data: []byte("four")},
			&Chunk{Conn: 3, Time: at(301), Dir: ClientToServer, Opcode: OpText, First: true, Data: []byte("tail")},
			&Chunk{Conn: 4, Time: at(302), Dir: ClientToServer, Opcode: OpPing, First: true, Data: []byte("p4")},
			&Chunk{Conn: 3, Time: at(302), Dir: ServerToClient, Opcode: OpText, First: true, Data: []byte("three")},
		},
	}
}

// pyWrite writes the groups to a new capture at path, flushing after each,
// and returns the open writer.
func pyWrite(t *testing.T, path string, groups [][]Record) *Writer {
	t.Helper()
	w, err := Create(path, Options{CheckpointChunks: 2, FlushInterval: time.Hour, FlushSize: 64 << 10})
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range groups {
		for _, r := range g {
			if err := appendAny(w, r); err != nil {
				t.Fatalf("append %T: %v", r, err)
			}
		}
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	return w
}

func TestPythonReaderMatchesJSONL(t *testing.T) {
	py := pyInterpreter(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "every.wstap")
	if err := pyWrite(t, path, pyGroups()).Close(); err != nil {
		t.Fatal(err)
	}
	want, err := goJSONL(t, path)
	if err != nil {
		t.Fatal(err)
	}
	if len(want) < 25 {
		t.Fatalf("wstap printed only %d lines", len(want))
	}
	got, stderr, exit := pyRun(t, py, path)
	if exit != 0 || stderr != "" {
		t.Errorf("script exited %d, stderr %q; want 0 and nothing", exit, stderr)
	}
	pyCompare(t, got, want)

	full, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	r, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	chunks := r.chunks
	r.Close()
	if len(chunks) < 6 {
		t.Fatalf("capture has %d chunks, want several", len(chunks))
	}
	mid := chunks[len(chunks)/2]
	dataOff := mid.Offset + frameHeadSize + chunkHeaderSize
	cases := []struct {
		name string
		data []byte
	}{
		{"torn", full[:dataOff+int64(mid.CLen)/2]},
		{"bitflip", func() []byte {
			b := bytes.Clone(full)
			b[dataOff+int64(mid.CLen)/2] ^= 0x10
			return b
		}()},
		{"zeroed", append(bytes.Clone(full[:mid.Offset]), make([]byte, 4096)...)},
		// The chunk's frame head, which no checksum covers: wstap finds the
		// chunk through the index, the script by walking the frames.
		{"magic flipped", func() []byte {
			b := bytes.Clone(full)
			b[mid.Offset+3] ^= 0x01
			return b
		}()},
		{"size flipped", func() []byte {
			b := bytes.Clone(full)
			b[mid.Offset+4] ^= 0x01
			return b
		}()},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := filepath.Join(dir, c.name+".wstap")
			if err := os.WriteFile(p, c.data, 0o600); err != nil {
				t.Fatal(err)
			}
			want, end := goJSONL(t, p)
			// A torn tail where nothing follows the bad chunk; damage,
			// read past by both readers alike, where the rest of the file
			// follows it (issue 7).
			var te *TailError
			var de *DamageError
			var mark string
			switch {
			case errors.As(end, &te) && te.Offset == mid.Offset:
				mark = "offset " + strconv.FormatInt(mid.Offset, 10)
			case errors.As(end, &de) && de.Offset == mid.Offset:
				mark = fmt.Sprintf("damaged bytes %d–%d", de.Offset, de.End)
			default:
				t.Fatalf("wstap ended with %v, want a torn tail or damage at offset %d", end, mid.Offset)
			}
			got, stderr, exit := pyRun(t, py, p)
			if exit != 0 {
				t.Errorf("script exited %d, want 0; stderr %q", exit, stderr)
			}
			if !strings.Contains(stderr, "warning") || !strings.Contains(stderr, mark) {
				t.Errorf("script stderr = %q, want a warning naming %q", stderr, mark)
			}
			pyCompare(t, got, want)
		})
	}
}

// TestPythonReaderForwardCompatible appends a chunk of records from a newer
// format revision (an unknown kind, extra trailing elements) to a capture
// without a footer: both readers skip what they do not know.
func TestPythonReaderForwardCompatible(t *testing.T) {
	py := pyInterpreter(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "a.wstap")
	w := pyWrite(t, path, [][]Record{sampleRecords()})
	prefix, err := os.ReadFile(path) // header and chunks, no checkpoint or footer yet
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	ts := at(50).UnixNano()
	var raw []byte
	raw = appendHead(raw, majorArray, 4) // kind 99: unknown to format 1
	raw = appendUint(raw, 99)
	raw = appendUint(raw, 1)
	raw = appendInt(raw, ts)
	raw = appendText(raw, "from the future")
	raw = appendHead(raw, majorArray, 6) // an event with one element more
	raw = appendUint(raw, uint64(KindEvent))
	raw = appendUint(raw, 0)
	raw = appendInt(raw, ts)
	raw = appendText(raw, EventNote)
	raw = appendText(raw, "extra element")
	raw = appendHead(raw, majorMap, 1)
	raw = appendText(raw, "new")
	raw = appendBool(raw, true)
	raw = appendHead(raw, majorArray, 8) // a chunk with one element more
	raw = appendUint(raw, uint64(KindChunk))
	raw = appendUint(raw, 1)
	raw = appendInt(raw, ts+1)
	raw = appendUint(raw, uint64(ServerToClient))
	raw = appendUint(raw, uint64(OpText))
	raw = appendUint(raw, chunkFirst|chunkLast)
	raw = appendBytes(raw, []byte("later"))
	raw = appendUint(raw, 7)
	enc, err := zstd.NewWriter(nil)
	if err != nil {
		t.Fatal(err)
	}
	frame := enc.EncodeAll(raw, nil)
	enc.Close()
	h := chunkHeader{clen: uint32(len(frame)), ulen: uint32(len(raw)), crc: crc32c(frame), nrec: 3,
		seq0: uint64(len(sampleRecords())), t0: ts, t1: ts + 1}
	file := appendSkippable(prefix, 0x184D2A5E, []byte("a skippable frame of another kind"))
	file = append(h.append(file), frame...)
	p := filepath.Join(dir, "future.wstap")
	if err := os.WriteFile(p, file, 0o600); err != nil {
		t.Fatal(err)
	}
	want, end := goJSONL(t, p)
	if end != nil {
		t.Fatal(end)
	}
	if len(want) == 0 || !strings.Contains(want[len(want)-1], `"text":"later"`) || strings.Contains(strings.Join(want, "\n"), "future") {
		t.Fatalf("wstap did not skip the unknown record: %q", want)
	}
	got, stderr, exit := pyRun(t, py, p)
	if exit != 0 || stderr != "" {
		t.Errorf("script exited %d, stderr %q; want 0 and nothing", exit, stderr)
	}
	pyCompare(t, got, want)

	// A file from a newer format is refused. The header checksum covers only
	// the metadata, so bumping the version keeps the file otherwise valid.
	newer := bytes.Clone(file)
	newer[frameHeadSize+len(fileMagic)] = Version + 1
	p = filepath.Join(dir, "newer.wstap")
	if err := os.WriteFile(p, newer, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(p); err == nil || !strings.Contains(err.Error(), "written by a newer wstap (format 2)") {
		t.Errorf("Open(newer) = %v, want a newer-format error", err)
	}
	got, stderr, exit = pyRun(t, py, p)
	if exit != 1 || len(got) != 0 || !strings.Contains(stderr, "written by a newer wstap (format 2)") {
		t.Errorf("script on a newer file: exit %d, %d lines, stderr %q; want 1, 0, a newer-format error", exit, len(got), stderr)
	}
}

// pyRunArgs is pyRun with extra arguments before the path (--frames).
func pyRunArgs(t *testing.T, py, path string, args ...string) (out, stderr string, exit int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, py, append(append([]string{pyScript}, args...), path)...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case ctx.Err() != nil:
		t.Fatalf("%s %s: %v", pyScript, path, ctx.Err())
	case errors.As(err, &ee):
		exit = ee.ExitCode()
	case err != nil:
		t.Fatalf("run %s: %v", pyScript, err)
	}
	return o.String(), e.String(), exit
}

// goShow renders path as `wstap show --format jsonl [--frames]` does and
// returns the output and, for each warning it would print, the part both
// readers word alike: "damaged bytes A–B" or "tail at offset N".
func goShow(t *testing.T, path string, frames bool) (string, []string) {
	t.Helper()
	out, errs := goRender(t, path, frames)
	var marks []string
	for _, err := range errs {
		var de *DamageError
		var te *TailError
		switch {
		case errors.As(err, &de):
			marks = append(marks, fmt.Sprintf("damaged bytes %d–%d (%d bytes)", de.Offset, de.End, de.End-de.Offset))
		case errors.As(err, &te):
			marks = append(marks, fmt.Sprintf("tail at offset %d", te.Offset))
		default:
			t.Fatal(err)
		}
	}
	return out, marks
}

// pyMatchBytes checks that the script prints exactly wstap's bytes, with
// and without --frames, and warns of the same damage, in the same order.
func pyMatchBytes(t *testing.T, py, path string) {
	t.Helper()
	for _, frames := range []bool{false, true} {
		want, marks := goShow(t, path, frames)
		var args []string
		if frames {
			args = []string{"--frames"}
		}
		got, stderr, exit := pyRunArgs(t, py, path, args...)
		if exit != 0 {
			t.Errorf("frames=%v: script exited %d; stderr %q", frames, exit, stderr)
		}
		if got != want {
			pyCompare(t, splitLines(got), splitLines(want))
			t.Errorf("frames=%v: the script's output differs from wstap's bytes:\nscript %q\n wstap %q", frames, short(got), short(want))
		}
		warnings := splitLines(stderr)
		if len(warnings) != len(marks) {
			t.Errorf("frames=%v: script warned %q; wstap warns of %q", frames, warnings, marks)
			continue
		}
		for i, m := range marks {
			if !strings.Contains(warnings[i], m) {
				t.Errorf("frames=%v: warning %d is %q, want one naming %q", frames, i+1, warnings[i], m)
			}
		}
	}
}

func TestPythonReaderBytes(t *testing.T) {
	py := pyInterpreter(t)
	path := filepath.Join(t.TempDir(), "every.wstap")
	if err := pyWrite(t, path, pyGroups()).Close(); err != nil {
		t.Fatal(err)
	}
	pyMatchBytes(t, py, path)
}

// pyBuild assembles a capture by hand: a file header, then chunks and
// checkpoints as a test wants them, right or wrong.
type pyBuild struct {
	b      []byte
	seq    uint64
	chunks []chunkEntry
}

func newPyBuild(t *testing.T) *pyBuild {
	t.Helper()
	hdr, err := appendFileHeader(nil, Header{Version: Version, Created: at(0), Tool: "test", FileID: make([]byte, 16)})
	if err != nil {
		t.Fatal(err)
	}
	return &pyBuild{b: hdr}
}

// encode returns the records as a chunk's CBOR sequence, times relative.
func pyEncode(t *testing.T, recs []Record) ([]byte, int64) {
	t.Helper()
	var raw []byte
	t0 := nanos(recs[0].At())
	base := t0
	for _, r := range recs {
		var err error
		if raw, err = appendRecord(raw, r, base); err != nil {
			t.Fatal(err)
		}
		base = nanos(r.At())
	}
	return raw, t0
}

// chunk appends a chunk of raw records; nrec and seq0 are the header's.
func (f *pyBuild) chunk(t *testing.T, raw []byte, t0 int64, nrec int, seq0 uint64) int64 {
	t.Helper()
	enc, err := zstd.NewWriter(nil)
	if err != nil {
		t.Fatal(err)
	}
	frame := enc.EncodeAll(raw, nil)
	enc.Close()
	off := int64(len(f.b))
	h := chunkHeader{clen: uint32(len(frame)), ulen: uint32(len(raw)), crc: crc32c(frame), nrec: uint32(nrec),
		seq0: seq0, t0: t0, t1: t0}
	f.b = append(h.append(f.b), frame...)
	f.chunks = append(f.chunks, chunkEntry{Offset: off, CLen: h.clen, ULen: h.ulen, NRec: h.nrec, Seq0: seq0, T0: t0, T1: t0, Conns: []ConnID{}})
	f.seq = seq0 + uint64(nrec)
	return off
}

// recs appends a chunk holding recs, numbered on from the last chunk.
func (f *pyBuild) recs(t *testing.T, recs ...Record) int64 {
	raw, t0 := pyEncode(t, recs)
	return f.chunk(t, raw, t0, len(recs), f.seq)
}

// checkpoint appends a checkpoint frame whose CRC holds over body.
func (f *pyBuild) checkpoint(body []byte) int64 {
	off := int64(len(f.b))
	crc := binary.LittleEndian.AppendUint32(nil, crc32c(body))
	f.b = appendSkippable(f.b, magicIndex, crc, body)
	return off
}

// closeAt appends a final checkpoint of every chunk, and a footer that
// points at cp (the final checkpoint itself when cp < 0).
func (f *pyBuild) closeAt(t *testing.T, cp int64) {
	t.Helper()
	body, err := encMode.Marshal(checkpoint{Prev: -1, Seq: f.seq, Final: true, Chunks: f.chunks})
	if err != nil {
		t.Fatal(err)
	}
	off := f.checkpoint(body)
	if cp < 0 {
		cp = off
	}
	f.b = appendSkippable(f.b, magicFooter, binary.LittleEndian.AppendUint64(nil, uint64(cp)), []byte(footerMagic))
}

func (f *pyBuild) write(t *testing.T, name string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, f.b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// pyConns are a connection's records split over three chunks, with a
// message open across each boundary.
func pyConns() [][]Record {
	return [][]Record{
		{&ConnOpen{Conn: 1, Time: at(0), URL: "ws://a.test/"},
			&ConnOpen{Conn: 2, Time: at(0), URL: "ws://b.test/"},
			&Chunk{Conn: 2, Time: at(1), Dir: ServerToClient, Opcode: OpText, First: true, Data: []byte("b1 ")},
			&Chunk{Conn: 1, Time: at(1), Dir: ClientToServer, Opcode: OpBinary, First: true, Data: []byte("a1 ")}},
		{&Chunk{Conn: 1, Time: at(2), Dir: ClientToServer, Opcode: OpBinary, Last: true, Data: []byte("a2")},
			&Chunk{Conn: 1, Time: at(2), Dir: ServerToClient, Opcode: OpPong, First: true, Last: true, Dropped: true,
				Data: []byte("hb"), Frame: &Frame{Fin: true, Opcode: OpPong, Length: 2}},
			&Frame{Conn: 1, Time: at(3), Dir: ClientToServer, Opcode: OpText, Masked: true, Length: 1, Dropped: true},
			&Chunk{Conn: 1, Time: at(3), Dir: ClientToServer, Opcode: OpText, First: true, Data: []byte("x"), Dropped: true},
			&Close{Conn: 1, Time: at(4), Dir: ClientToServer, Code: 1000, Reason: "bye", Dropped: true}},
		{&Chunk{Conn: 2, Time: at(5), Dir: ServerToClient, Opcode: OpText, Last: true, Data: []byte("b2")},
			&End{Conn: 1, Time: at(6)},
			&Event{Conn: 2, Time: at(7), Kind: EventNote, Detail: "last"}},
	}
}

// TestPythonReaderEdgeCases builds files with the inconsistencies and the
// damage of spec section 7.2 by hand; both readers must print the same.
func TestPythonReaderEdgeCases(t *testing.T) {
	py := pyInterpreter(t)
	groups := pyConns()
	whole := func(t *testing.T) *pyBuild {
		f := newPyBuild(t)
		for _, g := range groups {
			f.recs(t, g...)
		}
		return f
	}
	verify := func(t *testing.T, path string, wantDamage ...string) {
		t.Helper()
		rep, err := VerifyFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, d := range rep.Damage {
			got = append(got, d.Reason)
		}
		if rep.Tail != nil {
			got = append(got, "torn tail: "+rep.Tail.Reason)
		}
		if len(got) != len(wantDamage) {
			t.Fatalf("Verify found %q, want %d ranges like %q", got, len(wantDamage), wantDamage)
		}
		for i, w := range wantDamage {
			if !strings.Contains(got[i], w) {
				t.Errorf("Verify damage %d = %q, want it to say %q", i+1, got[i], w)
			}
		}
	}

	t.Run("intact", func(t *testing.T) {
		f := whole(t)
		f.closeAt(t, -1)
		p := f.write(t, "intact.wstap")
		verify(t, p)
		pyMatchBytes(t, py, p)
	})
	t.Run("invalid UTF-8 in text strings", func(t *testing.T) {
		// A writer must not store it (section 4.1), but a reader reads it.
		f := newPyBuild(t)
		f.recs(t, &ConnOpen{Conn: 1, Time: at(0), URL: "ws://a.test/\xff",
			RequestHeaders:    http.Header{"X-\xe2\x82": {"v\xff\xfe"}, "X-\xc3\xa9": {"é"}, "X-\xff": {"1"}, "X-A": {"2"}},
			RequestHeaderList: []HeaderField{{"X-\xff", "\xe2\x82c"}}, Redacted: []string{"X-\xff"}},
			&Event{Conn: 1, Time: at(1), Kind: "no\xf0\x90\x80te", Detail: "a\xff\xfeb\xe2\x82c"},
			&End{Conn: 1, Time: at(2), Error: "\xc0\xaf"})
		// appendRecord makes text valid; put the invalid bytes back.
		raw, t0 := pyEncode(t, []Record{&Event{Conn: 1, Time: at(3), Kind: "note", Detail: "a\x01\x01b\x01\x01c"}})
		raw = bytes.Replace(raw, []byte("a\x01\x01b\x01\x01c"), []byte("a\xff\xfeb\xe2\x82c"), 1)
		f.chunk(t, raw, t0, 1, f.seq)
		p := f.write(t, "utf8.wstap")
		want, _ := goShow(t, p, false)
		if !strings.Contains(want, `a\ufffd\ufffdb\ufffd\ufffdc`) {
			t.Errorf("wstap printed %q, want each invalid byte as \\ufffd", want)
		}
		pyMatchBytes(t, py, p)
	})
	t.Run("invalid UTF-8 in text strings, stored", func(t *testing.T) {
		f := newPyBuild(t)
		raw, t0 := pyEncode(t, []Record{
			&ConnOpen{Conn: 1, Time: at(0), URL: "ws://a.test/", RequestHeaders: http.Header{"X-1": {"v1"}, "X-2": {"w"}}},
			&Event{Conn: 1, Time: at(1), Kind: "note", Detail: "d1"},
			&End{Conn: 1, Time: at(2), Error: "e1"}})
		for _, r := range [][2]string{{"X-1", "X-\xff"}, {"v1", "v\xfe"}, {"d1", "\xe2\x82"}, {"e1", "\xc0\xaf"}} { // same lengths
			raw = bytes.Replace(raw, []byte(r[0]), []byte(r[1]), 1)
		}
		f.chunk(t, raw, t0, 3, 0)
		p := f.write(t, "utf8raw.wstap")
		pyMatchBytes(t, py, p)
	})
	t.Run("record count disagrees with nrec", func(t *testing.T) {
		f := newPyBuild(t)
		for i, g := range groups {
			raw, t0 := pyEncode(t, g)
			n := len(g)
			if i == 1 {
				n += 2 // the header claims two records more
			}
			f.chunk(t, raw, t0, n, f.seq)
		}
		p := f.write(t, "nrec.wstap")
		verify(t, p, "holds 5 records, its header says 7")
		pyMatchBytes(t, py, p)
	})
	t.Run("gap and step back in seq0", func(t *testing.T) {
		f := newPyBuild(t)
		raw, t0 := pyEncode(t, groups[0])
		f.chunk(t, raw, t0, len(groups[0]), 0)
		raw, t0 = pyEncode(t, groups[1])
		f.chunk(t, raw, t0, len(groups[1]), 10) // records 4–9 missing
		raw, t0 = pyEncode(t, groups[2])
		f.chunk(t, raw, t0, len(groups[2]), 3) // back
		f.closeAt(t, -1)
		p := f.write(t, "gap.wstap")
		verify(t, p, "records 4–9 are missing", "goes back")
		pyMatchBytes(t, py, p)
	})
	t.Run("checkpoint that does not decode", func(t *testing.T) {
		f := newPyBuild(t)
		f.recs(t, groups[0]...)
		f.checkpoint([]byte{0xa1, 0x64, 'p', 'r', 'e', 'v'}) // a map cut short; its CRC holds
		f.recs(t, groups[1]...)
		f.checkpoint([]byte{0x83, 1, 2, 3}) // not a map
		f.recs(t, groups[2]...)
		p := f.write(t, "badcp.wstap")
		verify(t, p, "checkpoint does not decode", "checkpoint does not decode")
		pyMatchBytes(t, py, p)
		// The listing comes from the chunks, as for an intact file.
		r, err := Open(p)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		good := whole(t)
		gp := good.write(t, "good.wstap")
		rg, err := Open(gp)
		if err != nil {
			t.Fatal(err)
		}
		defer rg.Close()
		if got, want := r.Conns(), rg.Conns(); !reflect.DeepEqual(got, want) {
			t.Errorf("summaries past a bad checkpoint = %+v, want %+v", got, want)
		}
	})
	t.Run("footer pointing elsewhere", func(t *testing.T) {
		f := whole(t)
		f.closeAt(t, f.chunks[1].Offset) // a chunk, not a checkpoint
		p := f.write(t, "footer.wstap")
		r, err := Open(p)
		if err != nil {
			t.Fatal(err)
		}
		if d := r.Damage(); len(d) != 0 || r.Tail() != nil || !r.Complete() {
			t.Errorf("Open: damage %v, tail %v, complete %v; want none, none, true", d, r.Tail(), r.Complete())
		}
		r.Close()
		verify(t, p, "checkpoint chain does not hold")
		pyMatchBytes(t, py, p)
	})
	t.Run("indefinite length", func(t *testing.T) {
		f := newPyBuild(t)
		f.recs(t, groups[0]...)
		raw, t0 := pyEncode(t, groups[1])
		raw[0] = 0x9f // the first record's array head: indefinite length
		f.chunk(t, append(raw, 0xff), t0, len(groups[1]), f.seq)
		f.recs(t, groups[2]...)
		p := f.write(t, "indef.wstap")
		verify(t, p, "malformed CBOR")
		pyMatchBytes(t, py, p)
	})
	t.Run("bad chunk at the end", func(t *testing.T) {
		// Its header holds, its data does not, and nothing good follows:
		// the torn tail, at its offset, even with garbage after it.
		for _, garbage := range [][]byte{nil, []byte("garbage after it")} {
			f := whole(t)
			last := f.chunks[len(f.chunks)-1]
			f.b[last.Offset+frameHeadSize+chunkHeaderSize+int64(last.CLen)-1] ^= 0x40
			f.b = append(f.b, garbage...)
			p := f.write(t, "badlast.wstap")
			_, marks := goShow(t, p, false)
			if want := fmt.Sprintf("tail at offset %d", last.Offset); !slices.Equal(marks, []string{want}) {
				t.Errorf("wstap warned %q, want %q", marks, want)
			}
			pyMatchBytes(t, py, p)
		}
	})
	t.Run("bad chunk before a checkpoint", func(t *testing.T) {
		f := whole(t)
		last := f.chunks[len(f.chunks)-1]
		f.b[last.Offset+frameHeadSize+chunkHeaderSize+int64(last.CLen)-1] ^= 0x40
		f.closeAt(t, -1)
		p := f.write(t, "badlastcp.wstap")
		verify(t, p, "chunk checksum mismatch")
		pyMatchBytes(t, py, p)
	})
	t.Run("garbage between chunks", func(t *testing.T) {
		f := newPyBuild(t)
		f.recs(t, groups[0]...)
		f.b = append(f.b, bytes.Repeat([]byte{0x51, 0x2a, 0x4d, 0x18, 0}, 20)...) // false magics
		f.recs(t, groups[1]...)
		f.b = append(f.b, make([]byte, 100)...)
		f.recs(t, groups[2]...)
		p := f.write(t, "garbage.wstap")
		verify(t, p, "runs past the end of the file", "zero-filled bytes")
		pyMatchBytes(t, py, p)
	})
}

// TestPythonReaderWorkedExample: on the test vector of the spec's
// section 12 (see TestWorkedExample), the script prints wstap's bytes,
// with --frames too.
func TestPythonReaderWorkedExample(t *testing.T) {
	py := pyInterpreter(t)
	data, _ := workedExample(t)
	p := filepath.Join(t.TempDir(), "worked.wstap")
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if got, _ := goShow(t, p, true); !strings.Contains(got, `{"type":"frame","conn":1,"from":"client","time":"2026-11-26T12:00:00.001Z","fin":true,"rsv":0,"opcode":"text","masked":true,"length":2}`) {
		t.Errorf("wstap --frames prints\n%s\nwant the folded frame of section 12", got)
	}
	pyMatchBytes(t, py, p)
}

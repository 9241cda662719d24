package capture

import (
	"bytes"
	"errors"
	"flag"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
)

var update = flag.Bool("update", false, "rewrite the capture fixtures and golden files in testdata")

// The fixtures in testdata: one capture per format version, kept forever
// (STYLE section 5), and damaged captures derived from v1.wstap. They are
// written only by `go test -run TestFixtures -update ./capture`; v1.wstap
// must never change once committed, so -update refuses to rewrite it with a
// writer of another version.
const (
	fixtureV1        = "testdata/v1.wstap"
	fixtureV1JSONL   = "testdata/v1.jsonl"
	fixtureTruncated = "testdata/v1-truncated.wstap" // cut in the middle of chunk truncChunk
	fixtureBadCRC    = "testdata/v1-badcrc.wstap"    // a byte flipped inside the zstd frame of chunk badCRCChunk
	fixtureZeroTail  = "testdata/v1-zerotail.wstap"  // no footer, then 4 KiB of zeros
	fixtureUnknown   = "testdata/v1-unknown.wstap"   // no footer, then a chunk holding a record of kind 99
	fixtureV2        = "testdata/v2.wstap"           // v1.wstap with format version 2 in its header

	truncChunk  = 2
	badCRCChunk = 1
)

var fixtureT0 = time.Date(2026, 11, 26, 9, 30, 0, 250_000_000, time.UTC)

func fat(ms int) time.Time { return fixtureT0.Add(time.Duration(ms) * time.Millisecond) }

// fixtureGroups are the records of v1.wstap; each group becomes one chunk.
// Never change them: v1.wstap holds them forever.
func fixtureGroups() [][]Record {
	return [][]Record{
		{
			&ConnOpen{Conn: 1, Time: fat(0), URL: "wss://chat.example.test/ws?room=1", Mode: "connect",
				ClientAddr: "127.0.0.1:50001", ServerAddr: "127.0.0.1:8443",
				RequestHeaders:  http.Header{"Sec-Websocket-Protocol": {"chat, superchat"}, "Cookie": {"session=abc"}},
				ResponseHeaders: http.Header{"Sec-Websocket-Protocol": {"chat"}},
				Status:          101, Subprotocol: "chat", Extensions: "permessage-deflate",
				ClientTLS: &TLSInfo{Version: "TLS 1.3", Cipher: "TLS_AES_128_GCM_SHA256", ALPN: "http/1.1", SNI: "chat.example.test"},
				ServerTLS: &TLSInfo{Version: "TLS 1.3", Chain: []CertInfo{{Subject: "CN=chat.example.test", Issuer: "CN=wstap test CA",
					NotAfter: fat(86_400_000)}}, Verified: "ok"}},
			&Frame{Conn: 1, Time: fat(1), Dir: ClientToServer, Fin: true, RSV: 4, Opcode: OpText, Masked: true, Length: 15},
			&Chunk{Conn: 1, Time: fat(1), Dir: ClientToServer, Opcode: OpText, First: true, Last: true, Compressed: true,
				Data: []byte(`{"say":"héllo"}`)},
			&Frame{Conn: 1, Time: fat(2), Dir: ServerToClient, Opcode: OpBinary, Length: 4},
			&Chunk{Conn: 1, Time: fat(2), Dir: ServerToClient, Opcode: OpBinary, First: true, Data: []byte{0, 1, 2, 3}},
			&Frame{Conn: 1, Time: fat(3), Dir: ServerToClient, Fin: true, Opcode: OpPing, Length: 2},
			&Chunk{Conn: 1, Time: fat(3), Dir: ServerToClient, Opcode: OpPing, First: true, Last: true, Data: []byte("hb")},
			&Frame{Conn: 1, Time: fat(4), Dir: ServerToClient, Opcode: OpContinuation, Length: 3},
			&Chunk{Conn: 1, Time: fat(4), Dir: ServerToClient, Opcode: OpBinary, Data: []byte{4, 5, 6}},
		},
		{
			&Frame{Conn: 1, Time: fat(5), Dir: ServerToClient, Fin: true, Opcode: OpContinuation, Length: 1},
			&Chunk{Conn: 1, Time: fat(5), Dir: ServerToClient, Opcode: OpBinary, Last: true, Data: []byte{7}},
			&ConnOpen{Conn: 2, Time: fat(6), URL: "ws://feed.example.test/v1/stream", Mode: "reverse",
				ClientAddr: "127.0.0.1:50002", RequestHeaders: http.Header{"User-Agent": {"fixture/1"}}, Status: 101},
			&HTTP{ID: 1, Time: fat(7), Method: "POST", URL: "https://api.example.test/login", Status: 200,
				RequestHeaders: http.Header{"Content-Type": {"application/json"}}, ResponseHeaders: http.Header{"Set-Cookie": {"s=1"}},
				RequestBody: []byte(`{"user":"u"}`), RequestSize: 12, ResponseBody: []byte{0xff, 0xfe}, ResponseSize: 4096,
				Duration: 12 * time.Millisecond, ClientAddr: "127.0.0.1:50003"},
			&Event{Conn: 1, Time: fat(8), Kind: EventViolation, Detail: "RFC 6455 §5.1: unmasked client frame"},
			&Close{Conn: 1, Time: fat(9), Dir: ClientToServer, Code: 4001, Reason: "bye"},
			&Close{Conn: 1, Time: fat(10), Dir: ServerToClient, Code: 1005},
			&End{Conn: 1, Time: fat(11)},
		},
		{
			&Chunk{Conn: 2, Time: fat(12), Dir: ServerToClient, Opcode: OpText, First: true, Last: true,
				Data: []byte(strings.Repeat(`{"tick":1,"px":"101.25"}`, 40))},
			&Chunk{Conn: 2, Time: fat(13), Dir: ClientToServer, Opcode: OpText, First: true, Last: true, Truncated: true,
				Data: []byte("cut\xff")},
			&Chunk{Conn: 2, Time: fat(14), Dir: ProxyToServer, Opcode: OpPing, First: true, Last: true, Data: []byte("wstap")},
			&Event{Conn: 0, Time: fat(15), Kind: EventNote, Detail: "capture-wide note"},
			&HTTP{ID: 2, Time: fat(16), Method: "GET", URL: "http://plain.example.test/", Error: "upstream unreachable"},
		},
		{
			&Chunk{Conn: 2, Time: fat(17), Dir: ServerToClient, Opcode: OpBinary, First: true, Data: []byte("never finished")},
			&Close{Conn: 2, Time: fat(18), Dir: ServerToClient, Code: 1006},
			&End{Conn: 2, Time: fat(19), Error: "server vanished"},
		},
	}
}

func fixtureRecords() []Record {
	var all []Record
	for _, g := range fixtureGroups() {
		all = append(all, g...)
	}
	return all
}

// writeFixtureV1 writes the v1 fixture: one chunk per group, a checkpoint
// after every second chunk.
func writeFixtureV1(t *testing.T, path string) {
	t.Helper()
	w, err := Create(path, Options{FlushInterval: time.Hour, CheckpointInterval: time.Hour, CheckpointChunks: 2,
		SyncInterval: -1, Tool: "wstap fixture"})
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range fixtureGroups() {
		for _, r := range g {
			if err := appendAny(w, r); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

// messagesJSONL renders a capture as `wstap show --format jsonl` does.
func messagesJSONL(t *testing.T, r *Reader) []byte {
	t.Helper()
	var buf bytes.Buffer
	enc := NewJSONEncoder(&buf)
	for rec, err := range r.Messages(Filter{}, AssembleOptions{}) {
		if err != nil {
			t.Fatalf("Messages: %v", err)
		}
		if err := enc.Encode(rec); err != nil {
			t.Fatal(err)
		}
	}
	return buf.Bytes()
}

// fixtureChunks returns the chunk index of a capture's bytes.
func fixtureChunks(t *testing.T, data []byte) []chunkEntry {
	t.Helper()
	r, err := NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	return append([]chunkEntry(nil), r.chunks...)
}

// unknownKindChunk builds a chunk the way the writer does, holding a record
// of kind 99 (from some future format revision) between known records, and
// a known record with an extra trailing element.
func unknownKindChunk(t *testing.T, seq0 uint64) (chunk []byte, known []Record) {
	t.Helper()
	known = []Record{
		&Event{Conn: 2, Time: fat(30), Kind: EventNote, Detail: "before the unknown record"},
		&Chunk{Conn: 2, Time: fat(32), Dir: ServerToClient, Opcode: OpText, First: true, Last: true, Data: []byte("after")},
		&Event{Conn: 0, Time: fat(33), Kind: EventNote, Detail: "with an extra element"},
	}
	var raw []byte
	var err error
	// Record times are relative to the previous record's (the chunk
	// header's t0 for the first), the unknown record's included.
	base := fat(30).UnixNano()
	if raw, err = appendRecord(raw, known[0], base); err != nil {
		t.Fatal(err)
	}
	raw = append(raw, 0x80|5) // [99, conn 2, time, "future", {1: h'00'}]
	raw = appendUint(raw, 99)
	raw = appendUint(raw, 2)
	raw = appendInt(raw, fat(31).UnixNano()-fat(30).UnixNano())
	raw = appendText(raw, "future")
	raw = append(raw, 0xa1, 0x01, 0x41, 0x00)
	if raw, err = appendRecord(raw, known[1], fat(31).UnixNano()); err != nil {
		t.Fatal(err)
	}
	ev := appendText(appendText(appendInt(appendUint(appendUint([]byte{0x80 | 6}, uint64(KindEvent)), 0),
		fat(33).UnixNano()-fat(32).UnixNano()), EventNote), "with an extra element")
	raw = appendUint(append(raw, ev...), 7) // the sixth element, unknown to format 1

	enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderCRC(false))
	if err != nil {
		t.Fatal(err)
	}
	defer enc.Close()
	frame := enc.EncodeAll(raw, nil)
	h := chunkHeader{clen: uint32(len(frame)), ulen: uint32(len(raw)), crc: crc32c(frame), nrec: 4, seq0: seq0,
		t0: fat(30).UnixNano(), t1: fat(33).UnixNano()}
	return append(h.append(nil), frame...), known
}

// generateFixtures rewrites testdata from a fresh v1.wstap.
func generateFixtures(t *testing.T) {
	if Version != 1 {
		t.Fatalf("this writer writes format %d; v1.wstap is kept forever and cannot be regenerated", Version)
	}
	if err := os.MkdirAll("testdata", 0o755); err != nil {
		t.Fatal(err)
	}
	tmp := filepath.Join(t.TempDir(), "v1.wstap")
	writeFixtureV1(t, tmp)
	v1, err := os.ReadFile(tmp)
	if err != nil {
		t.Fatal(err)
	}
	chunks := fixtureChunks(t, v1)
	if len(chunks) != len(fixtureGroups()) {
		t.Fatalf("the fixture has %d chunks, want %d", len(chunks), len(fixtureGroups()))
	}
	noFooter := withoutFooter(t, v1)

	c := chunks[truncChunk]
	truncated := bytes.Clone(v1[:c.Offset+frameHeadSize+chunkHeaderSize+int64(c.CLen)/2])

	badCRC := bytes.Clone(v1)
	c = chunks[badCRCChunk]
	badCRC[c.Offset+frameHeadSize+chunkHeaderSize+int64(c.CLen)/2] ^= 0x20

	zeroTail := append(bytes.Clone(noFooter), make([]byte, 4096)...)

	last := chunks[len(chunks)-1]
	extra, _ := unknownKindChunk(t, last.Seq0+uint64(last.NRec))
	unknown := append(bytes.Clone(noFooter), extra...)

	v2 := bytes.Clone(v1)
	v2[frameHeadSize+len(fileMagic)] = 2 // the version, a little-endian u16 after the magic

	r, err := NewReader(bytes.NewReader(v1), int64(len(v1)))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	golden := messagesJSONL(t, r)

	for path, data := range map[string][]byte{
		fixtureV1: v1, fixtureV1JSONL: golden, fixtureTruncated: truncated, fixtureBadCRC: badCRC,
		fixtureZeroTail: zeroTail, fixtureUnknown: unknown, fixtureV2: v2,
	} {
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("rewrote the fixtures in testdata")
}

func readFixture(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (regenerate with: go test -run TestFixtures -update ./capture)", err)
	}
	return data
}

func TestFixtures(t *testing.T) {
	if *update {
		generateFixtures(t)
	}
	v1 := readFixture(t, fixtureV1)
	want := fixtureRecords()

	t.Run("v1", func(t *testing.T) {
		r, err := Open(fixtureV1)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		if h := r.Header(); h.Version != 1 || h.Tool != "wstap fixture" || len(h.FileID) != 16 {
			t.Errorf("Header() = %+v", h)
		}
		if !r.Complete() || r.Tail() != nil {
			t.Errorf("Complete() = %v, Tail() = %v; want true, nil", r.Complete(), r.Tail())
		}
		got, err := readAll(t, r, Filter{})
		if err != nil {
			t.Fatal(err)
		}
		checkRecords(t, got, want)
		if jsonl := messagesJSONL(t, r); !bytes.Equal(jsonl, readFixture(t, fixtureV1JSONL)) {
			t.Errorf("JSONL of %s differs from %s:\n%s", fixtureV1, fixtureV1JSONL, jsonl)
		}
		conns := r.Conns()
		if len(conns) != 2 || conns[0].Messages != [3]int64{1, 2, 0} || conns[0].CloseCode != 4001 || !conns[0].Ended ||
			conns[1].Messages != [3]int64{1, 2, 1} || conns[1].Error != "server vanished" {
			t.Errorf("Conns() = %+v", conns)
		}
		if h := r.HTTP(); len(h) != 2 || h[0].ResponseSize != 4096 || h[1].URL != "http://plain.example.test/" {
			t.Errorf("HTTP() = %+v", h)
		}
		// Every connection alone, through the index.
		for _, c := range conns {
			got, err := readAll(t, r, Filter{Conn: c.Conn})
			if err != nil {
				t.Fatal(err)
			}
			var wantConn []Record
			for _, rec := range want {
				if (Filter{Conn: c.Conn}).match(rec) {
					wantConn = append(wantConn, rec)
				}
			}
			checkRecords(t, got, wantConn)
		}
	})

	chunks := fixtureChunks(t, v1)
	if len(chunks) != len(fixtureGroups()) {
		t.Fatalf("%s has %d chunks, want %d", fixtureV1, len(chunks), len(fixtureGroups()))
	}
	before := func(chunk int) []Record { // the records of the chunks before chunk
		var out []Record
		for _, g := range fixtureGroups()[:chunk] {
			out = append(out, g...)
		}
		return out
	}
	without := func(chunk int) []Record { // the records of every chunk but chunk
		var out []Record
		for i, g := range fixtureGroups() {
			if i != chunk {
				out = append(out, g...)
			}
		}
		return out
	}
	noFooterLen := int64(len(withoutFooter(t, v1)))
	_, unknownKnown := unknownKindChunk(t, 0)

	tests := []struct {
		name     string
		path     string
		complete bool     // Complete() after reading every record
		want     []Record // the records that read back
		tailAt   int64    // the offset of the tail error; 0 for none
		damageAt int64    // the offset of damage in the middle; 0 for none
		skipped  int
	}{
		{"truncated", fixtureTruncated, false, before(truncChunk), chunks[truncChunk].Offset, 0, 0},
		// Issue 7: one bad chunk in the middle costs that chunk alone.
		{"bad crc", fixtureBadCRC, true, without(badCRCChunk), 0, chunks[badCRCChunk].Offset, 0},
		{"zero tail", fixtureZeroTail, false, want, noFooterLen, 0, 0},
		{"unknown kind", fixtureUnknown, false, append(fixtureRecords(), unknownKnown...), 0, 0, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := Open(tt.path)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			var got []Record
			var tail, damage error
			for rec, err := range r.Records(Filter{}) {
				switch {
				case err != nil && IsDamage(err):
					if damage != nil {
						t.Fatalf("second damage %v after %v", err, damage)
					}
					damage = err
				case err != nil:
					if tail != nil {
						t.Fatalf("second error %v after %v", err, tail)
					}
					tail = err
				default:
					if tail != nil {
						t.Fatalf("record %v after the torn tail", rec)
					}
					got = append(got, rec)
				}
			}
			checkRecords(t, got, tt.want)
			checkTail(t, "Records", tail, tt.tailAt)
			checkDamage(t, "Records", damage, tt.damageAt)
			if tt.damageAt != 0 {
				if d := r.Damage(); len(d) != 1 || d[0].Offset != tt.damageAt {
					t.Errorf("Damage() = %v, want one range at %d", d, tt.damageAt)
				}
			}
			checkTail(t, "Tail()", r.Tail(), tt.tailAt)
			if r.Complete() != tt.complete {
				t.Errorf("Complete() = %v, want %v", r.Complete(), tt.complete)
			}
			if r.Skipped() != tt.skipped {
				t.Errorf("Skipped() = %d, want %d", r.Skipped(), tt.skipped)
			}
			// Messages, per connection, ends the same way and never panics.
			for _, f := range []Filter{{}, {Conn: 1}, {Conn: 2}} {
				var merr error
				for _, err := range r.Messages(f, AssembleOptions{MaxData: 8}) {
					if err != nil && !IsDamage(err) {
						merr = err
					}
				}
				if tt.tailAt != 0 && f.Conn == 0 {
					checkTail(t, "Messages", merr, tt.tailAt)
				}
			}
		})
	}

	t.Run("footer then zeros", func(t *testing.T) {
		// Zeros after a clean file's footer: everything reads back, the file
		// counts as complete, and the trailing bytes are reported.
		data := append(bytes.Clone(v1), make([]byte, 4096)...)
		r, err := NewReader(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		if !r.Complete() {
			t.Error("Complete() = false, want true: the footer is intact")
		}
		checkTail(t, "Tail()", r.Tail(), int64(len(v1)))
		var got []Record
		var tail error
		for rec, err := range r.Records(Filter{}) {
			if err != nil {
				tail = err
				continue
			}
			got = append(got, rec)
		}
		checkRecords(t, got, want)
		checkTail(t, "Records", tail, int64(len(v1)))
		if sums := r.Conns(); len(sums) != 2 || !sums[1].Ended {
			t.Errorf("Conns() = %+v", sums)
		}
	})

	t.Run("newer version", func(t *testing.T) {
		_, err := Open(fixtureV2)
		var ve *VersionError
		if !errors.As(err, &ve) || ve.Version != 2 {
			t.Fatalf("Open(%s) = %v, want a *VersionError for format 2", fixtureV2, err)
		}
		if !strings.Contains(err.Error(), "written by a newer wstap (format 2)") {
			t.Errorf("error %q does not say it was written by a newer wstap (format 2)", err)
		}
	})
}

func checkRecords(t *testing.T, got, want []Record) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("read %d records, want %d", len(got), len(want))
	}
	for i := range min(len(got), len(want)) {
		if !sameRecord(got[i], want[i]) {
			t.Errorf("record %d:\n got %#v\nwant %#v", i, got[i], want[i])
		}
	}
}

func checkDamage(t *testing.T, what string, err error, at int64) {
	t.Helper()
	var de *DamageError
	switch {
	case at == 0 && err != nil:
		t.Errorf("%s: %v, want no damage", what, err)
	case at != 0 && (!errors.As(err, &de) || de.Offset != at || !errors.Is(err, ErrDamaged)):
		t.Errorf("%s: %v, want a *DamageError at offset %d", what, err, at)
	}
}

func checkTail(t *testing.T, what string, err error, at int64) {
	t.Helper()
	if at == 0 {
		if err != nil {
			t.Errorf("%s: %v, want no error", what, err)
		}
		return
	}
	var te *TailError
	if !errors.Is(err, ErrTornTail) || !errors.As(err, &te) {
		t.Errorf("%s: %v, want a *TailError matching ErrTornTail", what, err)
		return
	}
	if te.Offset != at {
		t.Errorf("%s: tail at offset %d (%s), want %d", what, te.Offset, te.Reason, at)
	}
}

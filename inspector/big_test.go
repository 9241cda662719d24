package inspector

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wstap/wstap/capture"
)

// bigPayloads are 10 MiB messages of the three shapes that froze other
// tools: pretty-printable JSON, JSON on one line, and binary.
func bigPayloads() map[string][]byte {
	var pretty bytes.Buffer
	pretty.WriteString(`{"rows":[`)
	for i := 0; pretty.Len() < 10<<20; i++ {
		if i > 0 {
			pretty.WriteByte(',')
		}
		fmt.Fprintf(&pretty, `{"id":%d,"name":"row-%d","tags":["a","b"],"px":%d.25}`, i, i, i%1000)
	}
	pretty.WriteString(`]}`)
	line := []byte(`{"blob":"` + strings.Repeat("x", 10<<20) + `"}`)
	bin := make([]byte, 10<<20)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range bin {
		bin[i] = byte(rng.Uint32())
	}
	bin[0] = 0xc1 // never valid msgpack, CBOR or UTF-8
	return map[string][]byte{"json": pretty.Bytes(), "oneline": line, "binary": bin}
}

func writeBig(t testing.TB, dir string, payloads [][]byte) string {
	t.Helper()
	path := filepath.Join(dir, "big.wstap")
	w, err := capture.Create(path, capture.Options{})
	if err != nil {
		t.Fatal(err)
	}
	c, err := w.Open(&capture.ConnOpen{Time: at(0), URL: "ws://big.example.test/", Status: 101})
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range payloads {
		op := capture.OpText
		if p[0] == 0xc1 {
			op = capture.OpBinary
		}
		for off := 0; off < len(p); off += capture.MaxChunk {
			end := min(off+capture.MaxChunk, len(p))
			if err := w.Append(&capture.Chunk{Conn: c, Time: at(i), Dir: capture.ServerToClient, Opcode: op,
				First: off == 0, Last: end == len(p), Data: p[off:end]}); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestOpenTenMiB(t *testing.T) {
	big := bigPayloads()
	names := []string{"json", "oneline", "binary"}
	var ps [][]byte
	for _, n := range names {
		ps = append(ps, big[n])
	}
	r, err := capture.Open(writeBig(t, t.TempDir(), ps))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() }) // after the model's Close (cleanups run last first), which waits for its readers
	m := newTestModel(t, r, Options{})
	press(t, m, "enter")
	settle(t, m)
	want := map[string]struct{ kind, first, last string }{
		"json":    {"json", `  "rows": [`, "}"},
		"oneline": {"json", `  "blob": "xxxxxxxx`, "}"},
		"binary":  {"hex", "00000000  c1", "009ffff0  "},
	}
	for i, n := range names {
		press(t, m, "g")
		for range i {
			press(t, m, "j")
		}
		press(t, m, "enter")
		d := m.det
		if d.loading || d.fmtErr != nil || len(d.data) != len(big[n]) {
			t.Fatalf("%s: loading %v, error %v, %d bytes read", n, d.loading, d.fmtErr, len(d.data))
		}
		if d.kind.String() != want[n].kind {
			t.Errorf("%s: opened as %s, want %s", n, d.kind, want[n].kind)
		}
		s := screen(m)
		if !strings.Contains(s, want[n].first) {
			t.Errorf("%s: first page lacks %q:\n%s", n, want[n].first, s)
		}
		lines := strings.Split(s, "\n")
		for _, l := range lines {
			if len([]rune(l)) > 100 {
				t.Errorf("%s: a line wider than the screen: %d cells", n, len([]rune(l)))
				break
			}
		}
		press(t, m, "G")
		if s := screen(m); !strings.Contains(s, want[n].last) || !strings.Contains(s, fmt.Sprintf("of %d", d.doc.Len())) {
			t.Errorf("%s: G does not show the end:\n%s", n, s)
		}
		press(t, m, "esc")
	}
}

package har

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/wstap/wstap/capture"
)

// FuzzImport feeds Import arbitrary bytes, seeded with the fixtures of
// every tool and wstap's own export. Invariants: no panic; a HAR Import
// accepts exports and imports again to the same connections, exchanges
// and messages (direction, opcode, payload, time to the microsecond).
func FuzzImport(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "*.har"))
	for _, name := range append(files, filepath.Join("testdata", "export.golden")) {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(harOf(entry(), exchangeEntry())))
	f.Add([]byte(harOf(entry(`"opcode": 1, "data": "a"`, `"opcode": 8, "data": "A+g="`))))
	f.Add([]byte(`{"log":{"entries":[{"startedDateTime":"2024-12-03T12:00:00Z","request":{"url":"ws://a/"},"response":{"status":101},
		"_webSocketMessages":[{"type":"receive","time":1.7332272e9,"opcode":9,"data":""}]}]}}`))
	f.Add([]byte(`{"log":{"entries":[]}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		first := filepath.Join(dir, "first.wstap")
		w, err := capture.Create(first, capture.Options{})
		if err != nil {
			t.Fatal(err)
		}
		st, err := Import(data, w)
		if cerr := w.Close(); cerr != nil {
			t.Fatal(cerr)
		}
		if err != nil {
			if st != (Stats{}) {
				t.Errorf("a failed Import reports %+v", st)
			}
			return
		}
		a := readContents(t, first)
		var buf bytes.Buffer
		if err := Export(&buf, openCapture(t, first), nil, ExportOptions{}); err != nil {
			t.Fatalf("Export of an imported HAR: %v", err)
		}
		second := filepath.Join(dir, "second.wstap")
		w2, err := capture.Create(second, capture.Options{})
		if err != nil {
			t.Fatal(err)
		}
		st2, err := Import(buf.Bytes(), w2)
		if cerr := w2.Close(); cerr != nil {
			t.Fatal(cerr)
		}
		if err != nil {
			t.Fatalf("Import of Export's HAR: %v\n%s", err, buf.Bytes())
		}
		if st2 != st {
			t.Errorf("stats after the round trip = %+v, want %+v", st2, st)
		}
		b := readContents(t, second)
		if len(a.opens) != len(b.opens) || len(a.http) != len(b.http) {
			t.Fatalf("%d connections and %d exchanges, then %d and %d", len(a.opens), len(a.http), len(b.opens), len(b.http))
		}
		for i, o := range a.opens {
			if p := b.opens[i]; p.URL != o.URL || p.Status != o.Status || p.Subprotocol != o.Subprotocol {
				t.Errorf("connection %d = %s %d %q, then %s %d %q", i+1, o.URL, o.Status, o.Subprotocol, p.URL, p.Status, p.Subprotocol)
			}
		}
		for conn, want := range a.msgs {
			got := b.msgs[conn]
			if len(got) != len(want) {
				t.Fatalf("connection %d: %d messages, then %d", conn, len(want), len(got))
			}
			for i, m := range want {
				m.Time = m.Time.Truncate(time.Microsecond)
				if g := got[i]; g.Dir != m.Dir || g.Op != m.Op || g.Data != m.Data || !g.Time.Equal(m.Time) {
					t.Errorf("connection %d message %d = %v, then %v", conn, i+1, m, g)
				}
			}
		}
	})
}

package capture

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// workedExample returns the test vector of docs/capture-format.md section
// 12: the file's bytes, from its hexdump -C block, and the JSON lines a
// reader must print for it.
func workedExample(t *testing.T) ([]byte, []string) {
	t.Helper()
	doc, err := os.ReadFile("../docs/capture-format.md")
	if err != nil {
		t.Fatal(err)
	}
	block := func(marker string) []string {
		t.Helper()
		_, rest, ok := strings.Cut(string(doc), marker)
		if !ok {
			t.Fatalf("docs/capture-format.md has no %q", marker)
		}
		_, rest, _ = strings.Cut(rest, "```\n")
		body, _, ok := strings.Cut(rest, "```")
		if !ok {
			t.Fatalf("the block after %q does not end", marker)
		}
		return splitLines(body)
	}
	var data []byte
	for i, line := range block("<!-- test vector: hexdump -C -->") {
		// "00000010  01 00 … 86  |…|": offset, 16 bytes, ASCII.
		off, rest, _ := strings.Cut(line, "  ")
		hexPart, _, _ := strings.Cut(rest, "  |")
		b, err := hex.DecodeString(strings.ReplaceAll(hexPart, " ", ""))
		if err != nil || off != fmt.Sprintf("%08x", len(data)) {
			t.Fatalf("hexdump line %d %q: offset %s, bytes %v", i+1, line, off, err)
		}
		data = append(data, b...)
	}
	return data, block("<!-- test vector: jsonl -->")
}

// TestWorkedExample: the spec's worked example is a test vector that
// wstap's reader, its Verify and the Python reader all read alike.
func TestWorkedExample(t *testing.T) {
	data, want := workedExample(t)
	if len(data) != 582 {
		t.Fatalf("the worked example is %d bytes, the spec says 582", len(data))
	}
	r, err := NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if !r.Complete() || r.Tail() != nil || len(r.Damage()) != 0 || !r.fromFooter {
		t.Errorf("Complete %v, Tail %v, Damage %v, index from the footer %v; want a clean file", r.Complete(), r.Tail(),
			r.Damage(), r.fromFooter)
	}
	var buf bytes.Buffer
	enc := NewJSONEncoder(&buf)
	for rec, err := range r.Messages(Filter{}, AssembleOptions{}) {
		if err != nil {
			t.Fatal(err)
		}
		if err := enc.Encode(rec); err != nil {
			t.Fatal(err)
		}
	}
	if got := splitLines(buf.String()); !slices.Equal(got, want) {
		t.Errorf("wstap reads the worked example as\n%s\nthe spec says\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if rep, err := Verify(bytes.NewReader(data), int64(len(data))); err != nil || !rep.Intact() || rep.Records != 4 {
		t.Errorf("Verify = %+v, %v; want intact, 4 records", rep, err)
	}
	py := pyInterpreter(t)
	path := filepath.Join(t.TempDir(), "worked.wstap")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	got, stderr, exit := pyRun(t, py, path)
	if exit != 0 || stderr != "" || !slices.Equal(got, want) {
		t.Errorf("read_capture.py: exit %d, stderr %q, lines\n%s\nwant\n%s", exit, stderr, strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

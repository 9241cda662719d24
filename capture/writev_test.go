package capture

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestAdvance(t *testing.T) {
	piece := func(s string) []byte { return []byte(s) }
	for _, tt := range []struct {
		vec  []string
		n    int
		want []string
	}{
		{[]string{"abc", "de"}, 0, []string{"abc", "de"}},
		{[]string{"", "", "abc"}, 0, []string{"abc"}},
		{[]string{"abc", "de"}, 1, []string{"bc", "de"}},
		{[]string{"abc", "de"}, 3, []string{"de"}},
		{[]string{"abc", "", "de"}, 3, []string{"de"}},
		{[]string{"abc", "de"}, 4, []string{"e"}},
		{[]string{"abc", "de"}, 5, nil},
		{[]string{"abc", "de", ""}, 5, nil},
	} {
		var vec [][]byte
		for _, s := range tt.vec {
			vec = append(vec, piece(s))
		}
		var got []string
		for _, p := range advance(vec, tt.n) {
			got = append(got, string(p))
		}
		if strings.Join(got, "|") != strings.Join(tt.want, "|") || len(got) != len(tt.want) {
			t.Errorf("advance(%q, %d) = %q, want %q", tt.vec, tt.n, got, tt.want)
		}
	}
}

// TestWriteVec writes pieces, some empty, to a real file (writev on Unix)
// and to a file of the tests' (one Write each) and reads them back.
func TestWriteVec(t *testing.T) {
	big := bytes.Repeat([]byte("0123456789abcdef"), 20000)
	vec := [][]byte{nil, []byte("head"), big[:1], {}, big, []byte("tail"), nil}
	want := bytes.Join(vec, nil)

	path := filepath.Join(t.TempDir(), "v")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	n, err := writeVec(f, bytes2(vec))
	if err != nil || n != len(want) {
		t.Fatalf("writeVec(file) = %d, %v; want %d, nil", n, err, len(want))
	}
	f.Close()
	if got, _ := os.ReadFile(path); !bytes.Equal(got, want) {
		t.Fatalf("the file holds %d bytes that differ from the %d written", len(got), len(want))
	}
	// Closed: the error is os's own for a write to a closed file.
	if n, err := writeVec(f, bytes2(vec)); n != 0 || !errors.Is(err, os.ErrClosed) {
		t.Fatalf("writeVec(closed file) = %d, %v; want 0 and os.ErrClosed", n, err)
	}

	ff := newFakeFile()
	if n, err := writeVec(ff, bytes2(vec)); err != nil || n != len(want) {
		t.Fatalf("writeVec(fake) = %d, %v; want %d, nil", n, err, len(want))
	}
	if got := ff.bytes(); !bytes.Equal(got, want) {
		t.Fatalf("the fake file holds %d bytes that differ from the %d written", len(got), len(want))
	}
	// Full after 10 bytes: what was written is counted, and the error said.
	ff = newFakeFile()
	ff.fill(10)
	if n, err := writeVec(ff, bytes2(vec)); !errors.Is(err, errDiskFull) || n > 10 {
		t.Fatalf("writeVec(full fake) = %d, %v; want at most 10 and errDiskFull", n, err)
	}
}

// bytes2 copies the outer slice of vec, which writeVec may change.
func bytes2(vec [][]byte) [][]byte { return append([][]byte(nil), vec...) }

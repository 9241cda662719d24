package capture

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestCreateNew(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "new.wstap")
	boom := errors.New("boom")
	if err := CreateNew(path, Options{}, func(w *Writer) error {
		w.Append(&Event{Time: time.Now(), Kind: EventNote, Detail: "half"})
		return boom
	}); !errors.Is(err, boom) {
		t.Fatalf("a failing fill: %v", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Fatalf("a failed CreateNew left %d files behind", len(entries))
	}
	if err := CreateNew(path, Options{}, func(w *Writer) error {
		return w.Append(&Event{Time: time.Now(), Kind: EventNote, Detail: "whole"})
	}); err != nil {
		t.Fatal(err)
	}
	r, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, err := range r.Records(Filter{}) {
		if err != nil {
			t.Fatal(err)
		}
		n++
	}
	r.Close()
	if n != 1 || !r.Complete() {
		t.Errorf("%d records, complete %v", n, r.Complete())
	}
	if err := CreateNew(path, Options{}, func(*Writer) error { return nil }); err == nil || !strings.Contains(err.Error(), "exists") {
		t.Errorf("an existing file: %v", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("%d files in the directory, want the one capture", len(entries))
	}
}

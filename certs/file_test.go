package certs

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

func TestWriteFile(t *testing.T) {
	tests := []struct {
		name      string
		existing  string // "" for no file at the path
		overwrite bool
		wantErr   error
		want      string // the file's content afterwards
	}{
		{name: "new", want: "new"},
		{name: "new with overwrite", overwrite: true, want: "new"},
		{name: "existing kept", existing: "old", wantErr: fs.ErrExist, want: "old"},
		{name: "existing replaced", existing: "old", overwrite: true, want: "new"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "f.pem")
			if tt.existing != "" {
				if err := os.WriteFile(path, []byte(tt.existing), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			err := WriteFile(path, []byte("new"), 0o600, tt.overwrite)
			if !errors.Is(err, tt.wantErr) || (err == nil) != (tt.wantErr == nil) {
				t.Fatalf("WriteFile(overwrite=%t) = %v, want %v", tt.overwrite, err, tt.wantErr)
			}
			if err != nil && !strings.HasPrefix(err.Error(), "certs: write "+path+": ") {
				t.Errorf("WriteFile error = %q, want it to start with %q", err, "certs: write "+path+": ")
			}
			got, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Errorf("%s holds %q, want %q", path, got, tt.want)
			}
			if fi, err := os.Stat(path); err != nil {
				t.Fatal(err)
			} else if want := fs.FileMode(0o600); tt.wantErr == nil && runtime.GOOS != "windows" && fi.Mode().Perm() != want {
				t.Errorf("%s has mode %v, want %v", path, fi.Mode().Perm(), want)
			}
			entries, err := os.ReadDir(dir)
			if err != nil {
				t.Fatal(err)
			}
			if len(entries) != 1 {
				t.Errorf("%s holds %d entries, want 1 (no temporary files left)", dir, len(entries))
			}
		})
	}
}

func TestWriteFileMissingDir(t *testing.T) {
	path := filepath.Join(t.TempDir(), "no", "such", "f.pem")
	err := WriteFile(path, []byte("x"), 0o600, false)
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("WriteFile into a missing directory = %v, want fs.ErrNotExist", err)
	}
	if want := "certs: write " + path + ": "; !strings.HasPrefix(err.Error(), want) || strings.Count(err.Error(), path) != 1 {
		t.Errorf("WriteFile error = %q, want %q and the path once", err, want+"…")
	}
}

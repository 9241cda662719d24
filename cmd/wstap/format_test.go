package main

import (
	"bytes"
	"errors"
	"fmt"
	"testing"

	"github.com/wstap/wstap/capture"
)

// How records look is tested in internal/present; this file tests the
// output plumbing the read-side commands share.

func TestWarnTornTail(t *testing.T) {
	tests := []struct {
		err  error
		want string
	}{
		{nil, ""},
		{errors.New("capture: something else"), ""},
		{capture.ErrTornTail, "wstap: warning: f.wstap: torn tail; records before it are intact\n"},
		{fmt.Errorf("read: %w", &capture.TailError{Offset: 42, Reason: "bad crc"}),
			"wstap: warning: f.wstap: torn tail at offset 42 (bad crc); records before it are intact\n"},
	}
	for _, tt := range tests {
		var stderr bytes.Buffer
		warnTornTail(&globalOptions{stderr: &stderr}, "f.wstap", tt.err)
		if got := stderr.String(); got != tt.want {
			t.Errorf("warnTornTail(%v) printed %q, want %q", tt.err, got, tt.want)
		}
	}
}

// failWriter fails every write after the first n bytes.
type failWriter struct{ n int }

func (w *failWriter) Write(p []byte) (int, error) {
	if len(p) > w.n {
		return w.n, errors.New("disk full")
	}
	w.n -= len(p)
	return len(p), nil
}

func TestErrWriterKeepsFirstError(t *testing.T) {
	w := &errWriter{w: &failWriter{n: 3}}
	if n, err := w.Write([]byte("abc")); n != 3 || err != nil {
		t.Fatalf("first Write = %d, %v; want 3, nil", n, err)
	}
	_, err := w.Write([]byte("def"))
	if err == nil || err.Error() != "write output: disk full" {
		t.Fatalf("second Write = %v, want write output: disk full", err)
	}
	if n, again := w.Write([]byte("g")); n != 0 || again != err || w.err != err {
		t.Errorf("Write after a failure = %d, %v; want 0 and the first error %v", n, again, err)
	}
}

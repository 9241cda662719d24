package main

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// A line as `wstap bench rtt … --format json` prints it.
const rttLine = `{"mode":"rtt","url":"ws://127.0.0.1:39002/echo","params":{"binary":false,"duration_ms":1000,"size":128,"window":32},"results":{"elapsed_ms":1018.35386,"mb_per_s":0.22536763399708626,"messages":1793,"mismatched":0,"msgs_per_s":1760.6846406022364,"out_of_order":0},"ok":true}`

const bigFailedLine = `{"mode":"big","url":"ws://127.0.0.1:1/echo","params":{"seed":1,"size":1048576},"results":{"elapsed_ms":12.5,"intact":false,"mb_per_s":80,"received":1048576,"sha256_received":"ab","sha256_sent":"cd"},"ok":false,"failures":["integrity: the echo's SHA-256 differs from the message's"]}`

func TestParseBenchJSON(t *testing.T) {
	r, err := parseBenchJSON([]byte(rttLine + "\n"))
	if err != nil {
		t.Fatal(err)
	}
	if r.Mode != "rtt" || !r.OK || r.URL != "ws://127.0.0.1:39002/echo" || r.Params["window"] != 32.0 {
		t.Errorf("parseBenchJSON(rtt) = %+v", r)
	}
	want := map[string]float64{"elapsed_ms": 1018.35386, "mb_per_s": 0.22536763399708626, "messages": 1793,
		"mismatched": 0, "msgs_per_s": 1760.6846406022364, "out_of_order": 0}
	if got := r.numbers(); !reflect.DeepEqual(got, want) {
		t.Errorf("numbers() = %v, want %v", got, want)
	}

	// Other output before the JSON, and the hashes and booleans left out.
	r, err = parseBenchJSON([]byte("bench server: something\n\n" + bigFailedLine + "\n\n"))
	if err != nil {
		t.Fatal(err)
	}
	if r.OK || r.reason() != "integrity: the echo's SHA-256 differs from the message's" {
		t.Errorf("parseBenchJSON(big failed) ok=%v reason %q", r.OK, r.reason())
	}
	if _, ok := r.numbers()["sha256_sent"]; ok {
		t.Error("numbers() kept a string result")
	}
	if _, ok := r.numbers()["intact"]; ok {
		t.Error("numbers() kept a boolean result")
	}

	for _, bad := range []string{"", "bench rtt ws://x\n  size 128\nok: every check held\n", `{"mode":"rtt",`, `{"ok":true}`} {
		if r, err := parseBenchJSON([]byte(bad)); err == nil {
			t.Errorf("parseBenchJSON(%q) = %+v, want an error", bad, r)
		}
	}
}

// fakeWstap writes a shell script that stands in for the wstap binary.
func fakeWstap(t *testing.T, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "wstap")
	if err := os.WriteFile(path, []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestRunBench(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name    string
		script  string
		wantErr string // "" for success
	}{
		{"ok", "echo '" + rttLine + "'", ""},
		{"check failed", "echo '" + strings.ReplaceAll(bigFailedLine, "'", `'\''`) + "'; exit 1", "integrity: the echo's SHA-256"},
		{"no JSON", "echo 'wstap: dial ws://127.0.0.1:1/echo: connection refused' >&2; exit 1", "dial ws://127.0.0.1:1/echo: connection refused"},
		{"silent exit", "exit 3", "exit status 3"},
		{"timeout", "exec sleep 30", "timed out after"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bin := fakeWstap(t, tt.script)
			start := time.Now()
			vals, err := runBench(ctx, bin, 500*time.Millisecond, "rtt", "ws://127.0.0.1:1/echo", "--size", "128")
			if time.Since(start) > 10*time.Second {
				t.Errorf("runBench took %v, want it bounded by its limit", time.Since(start))
			}
			if tt.wantErr == "" {
				if err != nil || vals[valMsgsPerS] != 1760.6846406022364 {
					t.Errorf("runBench = %v, %v, want msgs_per_s 1760.68", vals, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("runBench error = %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestRunBenchArgs(t *testing.T) {
	out := filepath.Join(t.TempDir(), "args")
	bin := fakeWstap(t, `printf '%s\n' "$@" > `+out+`; echo '`+rttLine+`'`)
	if _, err := runBench(context.Background(), bin, 5*time.Second, "rtt", "ws://h/echo", "--size", "16", "--window", "32"); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	want := "bench\nrtt\nws://h/echo\n--size\n16\n--window\n32\n--format\njson\n"
	if string(b) != want {
		t.Errorf("wstap got arguments %q, want %q", b, want)
	}
}

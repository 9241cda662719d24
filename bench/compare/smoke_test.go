package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// buildWstapForTest builds ./cmd/wstap into dir.
func buildWstapForTest(t *testing.T, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "wstap")
	build := exec.Command("go", "build", "-o", bin, "./cmd/wstap")
	build.Dir = filepath.Join("..", "..")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/wstap: %v\n%s", err, out)
	}
	return bin
}

// TestSmoke really runs a small comparison: wstap built into a temporary
// directory, the direct, record and no-capture paths, one size, one round.
func TestSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("builds wstap and runs real processes")
	}
	dir := t.TempDir()
	bin := buildWstapForTest(t, dir)
	out, svg, saved := filepath.Join(dir, "p.md"), filepath.Join(dir, "p.svg"), filepath.Join(dir, "r.json")
	cfg, err := parseFlags([]string{"-wstap", bin, "-paths", "direct,record,no-capture", "-rounds", "1",
		"-duration", "300ms", "-sizes", "128", "-conns", "4", "-messages", "10", "-big", "1MiB", "-idle", "20",
		"-timeout", "30s", "-out", out, "-svg", svg, "-json", saved}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	var stderr bytes.Buffer
	if err := run(ctx, cfg, io.Discard, &stderr); err != nil {
		t.Fatalf("run: %v\n%s", err, stderr.String())
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	md := string(b)
	res, err := readResults(saved)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Samples) != 3*4+2 { // rtt, conns, latency, big on three paths; idle on two
		t.Errorf("%d samples, want 14", len(res.Samples))
	}
	for _, s := range res.Samples {
		if s.Err != "" {
			t.Errorf("%s %d on %s failed: %s", s.Workload, s.Point, s.Path, s.Err)
		}
	}
	// Every path's rtt row has msgs/s and MB/s above 0.
	for _, p := range []string{pathDirect, pathRecord, pathNoCapture} {
		m := regexp.MustCompile(`(?m)^\| 128 B \| 32 \| ` + regexp.QuoteMeta(p) + ` \| ([0-9.]+) \| ([0-9.]+) \|`).FindStringSubmatch(md)
		if m == nil {
			t.Errorf("no rtt row for %s in the document:\n%s", p, md)
			continue
		}
		for _, v := range m[1:] {
			if f, err := strconv.ParseFloat(v, 64); err != nil || f <= 0 {
				t.Errorf("%s: rtt number %q, want one above 0", p, v)
			}
		}
	}
	if strings.Contains(md, "| mitmproxy |") {
		t.Error("the document has a mitmproxy row though -paths left it out")
	}
	if _, err := os.Stat(svg); err != nil {
		t.Error(err)
	}
}

// TestMitmproxyThatDoesNotStart checks that a mitmdump that exits at once
// is skipped, and the document says so, while the other paths are measured.
func TestMitmproxyThatDoesNotStart(t *testing.T) {
	if testing.Short() {
		t.Skip("builds wstap and runs real processes")
	}
	dir := t.TempDir()
	bin := buildWstapForTest(t, dir)
	fakeBin := filepath.Join(dir, "bin")
	if err := os.Mkdir(fakeBin, 0o755); err != nil {
		t.Fatal(err)
	}
	script := "#!/bin/sh\nif [ \"$1\" = --version ]; then echo 'Mitmproxy: 0.0.1-fake'; exit 0; fi\necho 'fake mitmdump: no' >&2\nexit 4\n"
	if err := os.WriteFile(filepath.Join(fakeBin, "mitmdump"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", fakeBin+string(os.PathListSeparator)+os.Getenv("PATH"))
	out := filepath.Join(dir, "p.md")
	cfg, err := parseFlags([]string{"-wstap", bin, "-paths", "direct,record,mitmproxy", "-workloads", "rtt", "-rounds", "1",
		"-duration", "200ms", "-sizes", "128", "-out", out, "-svg", filepath.Join(dir, "p.svg")}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	var stderr bytes.Buffer
	if err := run(ctx, cfg, io.Discard, &stderr); err != nil {
		t.Fatalf("run: %v\n%s", err, stderr.String())
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	md := string(b)
	for _, want := range []string{"- mitmproxy: 0.0.1-fake", "**Not measured**: mitmproxy exited before listening",
		"fake mitmdump: no", "| 128 B | 32 | direct |", "÷ mitmproxy not measured: mitmproxy was not measured"} {
		if !strings.Contains(md, want) {
			t.Errorf("the document lacks %q:\n%s", want, md)
		}
	}
}

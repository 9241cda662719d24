package main

import (
	"errors"
	"flag"
	"io"
	"os/exec"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParseFlagsDefaults(t *testing.T) {
	cfg, err := parseFlags(nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.rounds != 3 || cfg.duration != 2*time.Second || cfg.idle != 1000 || cfg.bigSize != 64<<20 {
		t.Errorf("defaults = %+v", cfg)
	}
	if want := []int64{16, 128, 1 << 10, 16 << 10, 128 << 10, 1 << 20, 16 << 20}; !reflect.DeepEqual(cfg.sizes, want) {
		t.Errorf("sizes = %v, want %v", cfg.sizes, want)
	}
	if want := []int{1, 10, 100, 1000}; !reflect.DeepEqual(cfg.conns, want) {
		t.Errorf("conns = %v, want %v", cfg.conns, want)
	}
	if !reflect.DeepEqual(cfg.paths, allPaths) || !reflect.DeepEqual(cfg.workloads, allWorkloads) {
		t.Errorf("paths %v, workloads %v", cfg.paths, cfg.workloads)
	}
}

func TestParseFlagsQuick(t *testing.T) {
	cfg, err := parseFlags([]string{"-quick", "-idle", "7", "-paths", "record,direct"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.rounds != 1 || cfg.duration != 300*time.Millisecond || cfg.bigSize != 4<<20 {
		t.Errorf("-quick = rounds %d, duration %v, big %d", cfg.rounds, cfg.duration, cfg.bigSize)
	}
	if !reflect.DeepEqual(cfg.sizes, []int64{128, 1 << 20}) || !reflect.DeepEqual(cfg.conns, []int{1, 10}) {
		t.Errorf("-quick sizes %v, conns %v", cfg.sizes, cfg.conns)
	}
	if cfg.idle != 7 {
		t.Errorf("-quick -idle 7: idle = %d, want the explicit flag to win", cfg.idle)
	}
	if !reflect.DeepEqual(cfg.paths, []string{pathDirect, pathRecord}) {
		t.Errorf("paths = %v, want them in table order", cfg.paths)
	}
}

func TestParseFlagsErrors(t *testing.T) {
	for _, args := range [][]string{
		{"-paths", "direct,squid"}, {"-workloads", "rtt,push"}, {"-sizes", "8"}, {"-sizes", "1x"},
		{"-conns", "0"}, {"-rounds", "0"}, {"-duration", "0s"}, {"-big", "huge"}, {"-idle", "0"},
		{"-nope"}, {"extra"},
	} {
		_, err := parseFlags(args, io.Discard)
		var ue *usageError
		if !errors.As(err, &ue) {
			t.Errorf("parseFlags(%q) = %v, want a usage error", args, err)
		}
	}
	if _, err := parseFlags([]string{"-h"}, io.Discard); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("parseFlags(-h) = %v, want flag.ErrHelp", err)
	}
	if code := mainStatus([]string{"-rounds", "0"}, io.Discard, io.Discard); code != 2 {
		t.Errorf("exit status for a usage error = %d, want 2", code)
	}
	if code := mainStatus([]string{"-from", "/nonexistent/results.json"}, io.Discard, io.Discard); code != 1 {
		t.Errorf("exit status for a missing -from file = %d, want 1", code)
	}
}

func TestCommandLine(t *testing.T) {
	got := commandLine([]string{"-quick", "-json", "/tmp/my results.json", "-paths", "direct,record"})
	want := `go run ./bench/compare -quick -json '/tmp/my results.json' -paths direct,record`
	if got != want {
		t.Errorf("commandLine = %q, want %q", got, want)
	}
	if got := quoteArgs([]string{"it's"}); got[0] != `'it'\''s'` {
		t.Errorf("quoteArgs(it's) = %s", got[0])
	}
}

// TestImports keeps compare a client of the wstap binary: it must not
// link wstap's own packages (doc.go, Imports).
func TestImports(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	const mod = "github.com/wstap/wstap/"
	for dep := range strings.FieldsSeq(string(out)) {
		if strings.HasPrefix(dep, mod) && dep != mod+"bench/compare" {
			t.Errorf("compare must not import %s: it drives the wstap binary from outside", dep)
		}
	}
}

package capture

import (
	"os"
	"testing"
	"time"
)

// TestMain keeps the machine's load out of the tests: a writer under test
// sees no CPU headroom signal (cpuTimes reports none) unless a test sets
// one, so that the other packages' tests running beside these cannot make
// an adaptive writer store raw.
func TestMain(m *testing.M) {
	cpuTimes = func() (uint64, uint64, bool) { return 0, 0, false }
	os.Exit(m.Run())
}

// TestCPUHeadroom: idle cores come from the difference between samples at
// least cpuSampleEvery apart, and unknown until the first such window.
func TestCPUHeadroom(t *testing.T) {
	var idle, total uint64 = 1000, 4000
	ok := true
	h := &cpuHeadroom{read: func() (uint64, uint64, bool) { return idle, total, ok }, ncpu: 2, cores: -1}
	t0 := time.Now()
	h.idle, h.tot, h.at = idle, total, t0
	if c := h.idleCores(t0.Add(cpuSampleEvery / 2)); c != -1 {
		t.Fatalf("idle cores before a window passed = %v, want -1 (unknown)", c)
	}
	idle, total = 1010, 4040 // a quarter of the ticks idle, on 2 cores: half a core
	if c := h.idleCores(t0.Add(cpuSampleEvery)); c != 0.5 {
		t.Fatalf("idle cores = %v, want 0.5", c)
	}
	idle, total = 1010, 4080 // nothing idle since
	if c := h.idleCores(t0.Add(cpuSampleEvery + cpuSampleEvery/2)); c != 0.5 {
		t.Fatalf("within the next window: %v, want the last value 0.5", c)
	}
	if c := h.idleCores(t0.Add(2 * cpuSampleEvery)); c != 0 {
		t.Fatalf("a busy window: %v, want 0", c)
	}
	ok = false
	if c := h.idleCores(t0.Add(3 * cpuSampleEvery)); c != -1 {
		t.Fatalf("unreadable: %v, want -1", c)
	}
}

// TestStoreRawWithoutHeadroom: with CompressAdaptive, a machine without
// idle CPU gets raw batches even when the compressors keep up; with
// headroom it gets compressed ones.
func TestStoreRawWithoutHeadroom(t *testing.T) {
	now := time.Now()
	for _, tc := range []struct {
		idleCores float64
		mode      Compression
		wantRaw   bool
	}{{0.1, CompressAdaptive, true}, {1.5, CompressAdaptive, false}, {-1, CompressAdaptive, false}, {0.1, CompressAlways, false}} {
		opts := Options{Compression: tc.mode}.withDefaults()
		b := &batch{buf: make([]byte, 1<<20), started: now}
		b.due = now.Add(opts.FlushInterval + opts.FlushInterval/8)
		w := &Writer{opts: opts, ncomp: 2, crate: 500e6, todoBytes: 1 << 20, queued: 1 << 20, measured: now,
			cpu: &cpuHeadroom{cores: tc.idleCores, at: now}}
		if got := w.storeRawLocked(b, now); got != tc.wantRaw {
			t.Errorf("%v with %.1f idle cores: raw %v, want %v", tc.mode, tc.idleCores, got, tc.wantRaw)
		}
	}
}

// TestReadCPUTimes reads this machine's /proc/stat where there is one.
func TestReadCPUTimes(t *testing.T) {
	idle, total, ok := readCPUTimes()
	if _, err := os.Stat("/proc/stat"); err != nil {
		if ok {
			t.Fatal("CPU times read without /proc/stat")
		}
		t.Skip("no /proc/stat")
	}
	if !ok || total == 0 || idle > total {
		t.Fatalf("readCPUTimes = %d idle of %d, %v", idle, total, ok)
	}
}

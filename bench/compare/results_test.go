package main

import (
	"math"
	"path/filepath"
	"reflect"
	"testing"
)

func TestMedian(t *testing.T) {
	tests := []struct {
		in   []float64
		want float64
	}{
		{[]float64{5}, 5},
		{[]float64{3, 1, 2}, 2},
		{[]float64{100, 10, 90}, 90}, // mean 66.7, first 100
		{[]float64{4, 1, 3, 2}, 2.5},
		{[]float64{1, 1, 1000}, 1},
		{[]float64{-2, 7}, 2.5},
	}
	for _, tt := range tests {
		in := append([]float64(nil), tt.in...)
		if got := median(tt.in); got != tt.want {
			t.Errorf("median(%v) = %v, want %v", tt.in, got, tt.want)
		}
		if !reflect.DeepEqual(in, tt.in) {
			t.Errorf("median(%v) changed its input to %v", in, tt.in)
		}
	}
	if got := median(nil); !math.IsNaN(got) {
		t.Errorf("median(nil) = %v, want NaN", got)
	}
}

func TestWindowFor(t *testing.T) {
	tests := []struct {
		size int64
		want int
	}{
		{16, 32}, {128, 32}, {1 << 10, 32}, {16 << 10, 32},
		{16<<10 + 1, 8}, {128 << 10, 8}, {1<<20 - 1, 8},
		{1 << 20, 2}, {16 << 20, 2}, {1 << 30, 2},
	}
	for _, tt := range tests {
		if got := windowFor(tt.size); got != tt.want {
			t.Errorf("windowFor(%d) = %d, want %d", tt.size, got, tt.want)
		}
	}
}

func TestFormatSize(t *testing.T) {
	tests := []struct {
		n    int64
		want string
	}{
		{16, "16 B"}, {128, "128 B"}, {1000, "1000 B"}, {1024, "1 KiB"}, {1536, "1536 B"},
		{16 << 10, "16 KiB"}, {128 << 10, "128 KiB"}, {1 << 20, "1 MiB"}, {16 << 20, "16 MiB"},
		{64 << 20, "64 MiB"}, {1 << 30, "1 GiB"}, {3 << 19, "1536 KiB"},
	}
	for _, tt := range tests {
		if got := formatSize(tt.n); got != tt.want {
			t.Errorf("formatSize(%d) = %q, want %q", tt.n, got, tt.want)
		}
	}
}

func TestParseSize(t *testing.T) {
	tests := []struct {
		in   string
		want int64
	}{
		{"16", 16}, {"128B", 128}, {"1KiB", 1024}, {" 16kib ", 16 << 10}, {"1MiB", 1 << 20},
		{"16 MiB", 16 << 20}, {"1k", 1000}, {"2M", 2e6}, {"1GiB", 1 << 30},
	}
	for _, tt := range tests {
		got, err := parseSize(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("parseSize(%q) = %d, %v, want %d", tt.in, got, err, tt.want)
		}
	}
	for _, bad := range []string{"", "KiB", "12x", "-1", "99999999999999999999"} {
		if got, err := parseSize(bad); err == nil {
			t.Errorf("parseSize(%q) = %d, want an error", bad, got)
		}
	}
	// The sizes the document labels read back as themselves.
	for _, n := range []int64{16, 128, 1 << 10, 16 << 10, 128 << 10, 1 << 20, 16 << 20} {
		s := formatSize(n)
		if got, err := parseSize(s); err != nil || got != n {
			t.Errorf("parseSize(formatSize(%d) = %q) = %d, %v", n, s, got, err)
		}
	}
}

func TestAggregate(t *testing.T) {
	samples := []Sample{
		{Round: 1, Workload: workRTT, Point: 128, Path: pathRecord, Values: map[string]float64{valMsgsPerS: 100, valMBPerS: 1}},
		{Round: 2, Workload: workRTT, Point: 128, Path: pathRecord, Values: map[string]float64{valMsgsPerS: 10, valMBPerS: 3}},
		{Round: 3, Workload: workRTT, Point: 128, Path: pathRecord, Values: map[string]float64{valMsgsPerS: 90, valMBPerS: 2}},
		{Round: 1, Workload: workRTT, Point: 128, Path: pathMitmproxy, Err: "timed out after 1m0s"},
		{Round: 2, Workload: workRTT, Point: 128, Path: pathMitmproxy, Values: map[string]float64{valMsgsPerS: 7}},
		{Round: 3, Workload: workRTT, Point: 128, Path: pathMitmproxy, Err: "connection reset"},
		{Round: 1, Workload: workRTT, Point: 1 << 20, Path: pathRecord, Err: "first"},
		{Round: 2, Workload: workRTT, Point: 1 << 20, Path: pathRecord, Err: "second"},
	}
	cells := aggregate(samples)
	rec := cells[cellKey{workRTT, 128, pathRecord}]
	if v, _ := rec.value(valMsgsPerS); v != 90 {
		t.Errorf("record msgs/s = %v, want the median 90", v)
	}
	if v, _ := rec.value(valMBPerS); v != 2 {
		t.Errorf("record MB/s = %v, want the median 2 (each value has its own median)", v)
	}
	if rec.ok != 3 || rec.failed != 0 {
		t.Errorf("record: %d ok, %d failed, want 3, 0", rec.ok, rec.failed)
	}
	mitm := cells[cellKey{workRTT, 128, pathMitmproxy}]
	if v, ok := mitm.value(valMsgsPerS); !ok || v != 7 || mitm.ok != 1 || mitm.failed != 2 || mitm.err != "timed out after 1m0s" {
		t.Errorf("mitmproxy = %v %v, %d ok, %d failed, err %q; want 7 over the one round that succeeded, the first error",
			v, ok, mitm.ok, mitm.failed, mitm.err)
	}
	big := cells[cellKey{workRTT, 1 << 20, pathRecord}]
	if _, ok := big.value(valMsgsPerS); ok || big.ok != 0 || big.err != "first" {
		t.Errorf("all-failed cell = %+v, want no value and the first error", big)
	}
	if _, ok := (*cell)(nil).value(valMsgsPerS); ok {
		t.Error("a missing cell has a value")
	}
}

func TestRatio(t *testing.T) {
	if r, ok := ratio(8, 10, true, true); !ok || r != 0.8 {
		t.Errorf("ratio(8, 10) = %v, %v, want 0.8 (the first over the second)", r, ok)
	}
	for _, tt := range []struct {
		a, b     float64
		aok, bok bool
	}{{1, 0, true, true}, {1, 2, false, true}, {1, 2, true, false}, {math.NaN(), 2, true, true}} {
		if r, ok := ratio(tt.a, tt.b, tt.aok, tt.bok); ok {
			t.Errorf("ratio(%v, %v, %v, %v) = %v, want none", tt.a, tt.b, tt.aok, tt.bok, r)
		}
	}
}

func TestRotate(t *testing.T) {
	ps := []string{"a", "b", "c", "d"}
	want := [][]string{{"a", "b", "c", "d"}, {"b", "c", "d", "a"}, {"c", "d", "a", "b"}, {"d", "a", "b", "c"}, {"a", "b", "c", "d"}}
	for k, w := range want {
		if got := rotate(ps, k); !reflect.DeepEqual(got, w) {
			t.Errorf("rotate(%v, %d) = %v, want %v", ps, k, got, w)
		}
	}
}

func TestResultsRoundTrip(t *testing.T) {
	res, err := readResults(filepath.Join("testdata", "results.json"))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "r.json")
	if err := writeResults(path, res); err != nil {
		t.Fatal(err)
	}
	back, err := readResults(path)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(res, back) {
		t.Error("results written with -json and read with -from differ")
	}
}

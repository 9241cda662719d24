package main

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The paths compare measures, in the order tables list them.
const (
	pathDirect    = "direct"
	pathRecord    = "record"
	pathNoCapture = "no-capture"
	pathMitmproxy = "mitmproxy"
)

var allPaths = []string{pathDirect, pathRecord, pathNoCapture, pathMitmproxy}

// The workloads, in the order a round runs them and the document lists them.
const (
	workRTT     = "rtt"
	workConns   = "conns"
	workLatency = "latency"
	workBig     = "big"
	workIdle    = "idle"
)

var allWorkloads = []string{workRTT, workConns, workLatency, workBig, workIdle}

// latencyRate is the paced rate of the latency workload, in messages a
// second; the latency target is stated for it.
const latencyRate = 1000

// Results is everything one run measured: what -json saves and -from reads.
// The document is rendered from it alone.
type Results struct {
	Command  string    `json:"command"`           // the command line that measured, as "go run ./bench/compare …"
	Date     time.Time `json:"date"`              // when the run started
	Machine  Machine   `json:"machine"`           // where it ran
	Config   Config    `json:"config"`            // what it ran
	Paths    []string  `json:"paths"`             // the paths measured, in table order
	Skipped  []Skip    `json:"skipped,omitempty"` // the paths asked for that could not be measured
	Setup    []string  `json:"setup"`             // the processes started, one command line each
	Commands []Example `json:"commands"`          // one example command line per workload
	Samples  []Sample  `json:"samples"`           // one per round, workload point and path
}

// Machine describes where a run happened.
type Machine struct {
	CPU       string `json:"cpu"`       // model name from /proc/cpuinfo
	Cores     int    `json:"cores"`     // logical CPUs
	Kernel    string `json:"kernel"`    // uname -sr
	Go        string `json:"go"`        // the Go version that built compare (and wstap)
	Commit    string `json:"commit"`    // git rev-parse --short HEAD, or "unknown"
	Mitmproxy string `json:"mitmproxy"` // mitmdump --version, or "not available"
}

// Config is the settings of a run, as the document states them.
type Config struct {
	Rounds    int      `json:"rounds"`
	Duration  string   `json:"duration"`  // of each rtt and latency run
	Sizes     []int64  `json:"sizes"`     // the size sweep, bytes
	Conns     []int    `json:"conns"`     // the connection sweep
	Messages  int      `json:"messages"`  // per connection in the connection sweep
	Rate      int      `json:"rate"`      // of the latency workload, msgs/s
	BigSize   int64    `json:"big_size"`  // bytes of the big message
	Idle      int      `json:"idle"`      // idle connections opened
	Workloads []string `json:"workloads"` // the workloads run
	Quick     bool     `json:"quick"`     // a smoke run (-quick)
}

// Skip names a path that was asked for and not measured, and why.
type Skip struct {
	Path   string `json:"path"`
	Reason string `json:"reason"`
}

// Example is one command line a workload ran.
type Example struct {
	Workload string `json:"workload"`
	Line     string `json:"line"`
}

// Sample is one measurement: one workload point on one path in one round.
// Point is the size of rtt and big, the connection count of conns and
// idle, the rate of latency.
type Sample struct {
	Round    int                `json:"round"`
	Workload string             `json:"workload"`
	Point    int64              `json:"point"`
	Path     string             `json:"path"`
	Values   map[string]float64 `json:"values,omitempty"`
	Err      string             `json:"error,omitempty"`
}

// The names of the values of a sample. The first are wstap bench's
// results as its JSON names them; the rss ones compare measures.
const (
	valMsgsPerS     = "msgs_per_s"
	valMBPerS       = "mb_per_s"
	valConnectP99   = "connect_p99_ms"
	valP50          = "p50_ms"
	valP99          = "p99_ms"
	valElapsed      = "elapsed_ms"
	valRSSIdle      = "rss_idle_kib"       // big: VmRSS before
	valRSSPeak      = "rss_peak_kib"       // big: VmHWM after
	valRSSAboveIdle = "rss_above_idle_kib" // big: the difference
	valRSSPerConn   = "rss_per_conn_kib"   // idle: VmRSS increase per connection
)

func readResults(path string) (*Results, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var r Results
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("read results %s: %w", path, err)
	}
	return &r, nil
}

func writeResults(path string, r *Results) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return writeFile(path, append(b, '\n'))
}

// writeFile writes through a temporary file and a rename, so a document is
// never left half written.
func writeFile(path string, b []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}

// cellKey names one cell of a table: a workload point on a path.
type cellKey struct {
	workload string
	point    int64
	path     string
}

// cell is the rounds of one workload point on one path, reduced.
type cell struct {
	values map[string]float64 // the median of each value over the rounds that succeeded
	ok     int                // rounds that succeeded
	failed int                // rounds that failed
	err    string             // the first failure's reason
}

// measured reports whether name has a median.
func (c *cell) value(name string) (float64, bool) {
	if c == nil {
		return 0, false
	}
	v, ok := c.values[name]
	return v, ok
}

// aggregate reduces the samples to cells: each value is the median over
// the rounds in which the point succeeded on that path.
func aggregate(samples []Sample) map[cellKey]*cell {
	raw := map[cellKey]map[string][]float64{}
	cells := map[cellKey]*cell{}
	for _, s := range samples {
		k := cellKey{s.Workload, s.Point, s.Path}
		c := cells[k]
		if c == nil {
			c = &cell{values: map[string]float64{}}
			cells[k] = c
			raw[k] = map[string][]float64{}
		}
		if s.Err != "" {
			c.failed++
			if c.err == "" {
				c.err = s.Err
			}
			continue
		}
		c.ok++
		for name, v := range s.Values {
			raw[k][name] = append(raw[k][name], v)
		}
	}
	for k, vals := range raw {
		for name, xs := range vals {
			cells[k].values[name] = median(xs)
		}
	}
	return cells
}

// median is the middle value of xs, or the mean of the two middle values
// for an even count; NaN for none. xs is not changed.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// ratio is a/b, or false when either is missing or b is 0.
func ratio(a, b float64, aok, bok bool) (float64, bool) {
	if !aok || !bok || b == 0 || math.IsNaN(a) || math.IsNaN(b) {
		return 0, false
	}
	return a / b, true
}

// windowFor is the rtt window for a message size: 32 messages in flight up
// to 16 KiB, 8 below 1 MiB, 2 from 1 MiB. It keeps the bytes in flight
// between 512 B and 32 MiB, so small messages measure the relay's per
// message cost and big ones do not queue hundreds of megabytes.
func windowFor(size int64) int {
	switch {
	case size <= 16<<10:
		return 32
	case size < 1<<20:
		return 8
	}
	return 2
}

// formatSize writes a size the way the document labels it: 16 B, 1 KiB,
// 128 KiB, 16 MiB; sizes that are not whole KiB or MiB in bytes.
func formatSize(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return strconv.FormatInt(n>>30, 10) + " GiB"
	case n >= 1<<20 && n%(1<<20) == 0:
		return strconv.FormatInt(n>>20, 10) + " MiB"
	case n >= 1<<10 && n%(1<<10) == 0:
		return strconv.FormatInt(n>>10, 10) + " KiB"
	}
	return strconv.FormatInt(n, 10) + " B"
}

// parseSize reads a size: 128, 128B, 1KiB, 16MiB, 1GiB (binary units), or
// 1k, 1M, 1G (decimal ones), as wstap bench reads them.
func parseSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	i := 0
	for i < len(t) && t[i] >= '0' && t[i] <= '9' {
		i++
	}
	if i == 0 {
		return 0, fmt.Errorf("size %q: want a number of bytes such as 128, 16KiB or 1MiB", s)
	}
	n, err := strconv.ParseInt(t[:i], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("size %q: %w", s, err)
	}
	mult := map[string]int64{"": 1, "b": 1, "k": 1e3, "kb": 1e3, "m": 1e6, "mb": 1e6, "g": 1e9, "gb": 1e9,
		"kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30}[strings.ToLower(strings.TrimSpace(t[i:]))]
	if mult == 0 {
		return 0, fmt.Errorf("size %q: unknown unit %q (want KiB, MiB, GiB, k, M or G)", s, strings.TrimSpace(t[i:]))
	}
	if n > math.MaxInt64/mult {
		return 0, fmt.Errorf("size %q: too big", s)
	}
	return n * mult, nil
}

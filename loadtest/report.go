package loadtest

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Metric is one named number (or string) of a report, with its unit.
type Metric struct {
	Name  string
	Value any // int64, float64 or string
	Unit  string
}

// Report is what a mode measured. Params echo the settings of the run;
// Failures list the checks that did not hold.
type Report struct {
	Mode     string
	URL      string
	Params   []Metric
	Results  []Metric
	Failures []string
}

// Err is nil when every check held, and otherwise names the failures.
func (r *Report) Err() error {
	if len(r.Failures) == 0 {
		return nil
	}
	return fmt.Errorf("bench %s: %s", r.Mode, strings.Join(r.Failures, "; "))
}

// Value returns the result named name.
func (r *Report) Value(name string) (any, bool) {
	for _, m := range r.Results {
		if m.Name == name {
			return m.Value, true
		}
	}
	return nil, false
}

func (r *Report) param(name string, v any, unit string) {
	r.Params = append(r.Params, Metric{name, v, unit})
}

func (r *Report) result(name string, v any, unit string) {
	if f, ok := v.(float64); ok && (math.IsNaN(f) || math.IsInf(f, 0)) {
		v = 0.0
	}
	r.Results = append(r.Results, Metric{name, v, unit})
}

func (r *Report) failf(format string, a ...any) {
	r.Failures = append(r.Failures, fmt.Sprintf(format, a...))
}

// MarshalJSON writes one object: mode, url, params, results (objects of
// name to value) and ok, with failures when there are any. Durations are
// in milliseconds, as their names say.
func (r *Report) MarshalJSON() ([]byte, error) {
	obj := func(ms []Metric) map[string]any {
		o := make(map[string]any, len(ms))
		for _, m := range ms {
			o[m.Name] = m.Value
		}
		return o
	}
	return json.Marshal(struct {
		Mode     string         `json:"mode"`
		URL      string         `json:"url"`
		Params   map[string]any `json:"params"`
		Results  map[string]any `json:"results"`
		OK       bool           `json:"ok"`
		Failures []string       `json:"failures,omitempty"`
	}{r.Mode, r.URL, obj(r.Params), obj(r.Results), len(r.Failures) == 0, r.Failures})
}

// maxAligned is the longest value the table right-aligns with the others.
const maxAligned = 16

// WriteTable writes the report as aligned columns: the parameters, then
// the results, then the failures or "ok".
func (r *Report) WriteTable(w io.Writer) error {
	fmt.Fprintf(w, "bench %s %s\n", r.Mode, r.URL)
	nameW, valW := 0, 0
	for _, m := range slices.Concat(r.Params, r.Results) {
		nameW = max(nameW, len(m.Name))
		if v := formatValue(m.Value); len(v) <= maxAligned {
			valW = max(valW, len(v)) // a hash does not push the numbers right
		}
	}
	row := func(m Metric) {
		fmt.Fprintln(w, strings.TrimRight(fmt.Sprintf("  %-*s  %*s  %s", nameW, m.Name, valW, formatValue(m.Value), m.Unit), " "))
	}
	for _, m := range r.Params {
		row(m)
	}
	fmt.Fprintln(w)
	for _, m := range r.Results {
		row(m)
	}
	if len(r.Failures) == 0 {
		_, err := fmt.Fprintln(w, "ok: every check held")
		return err
	}
	var err error
	for _, f := range r.Failures {
		_, err = fmt.Fprintf(w, "FAILED: %s\n", f)
	}
	return err
}

func formatValue(v any) string {
	switch v := v.(type) {
	case float64:
		switch {
		case v == 0:
			return "0"
		case math.Abs(v) >= 100:
			return strconv.FormatFloat(v, 'f', 0, 64)
		case math.Abs(v) >= 1:
			return strconv.FormatFloat(v, 'f', 2, 64)
		}
		return strconv.FormatFloat(v, 'f', 3, 64)
	case bool:
		return strconv.FormatBool(v)
	}
	return fmt.Sprint(v)
}

// ms is a duration in milliseconds, for reports.
func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// megabytes per second, 10^6 bytes.
func mbps(bytes int64, d time.Duration) float64 { return float64(bytes) / 1e6 / d.Seconds() }

func perSecond(n int64, d time.Duration) float64 { return float64(n) / d.Seconds() }

// ParseSize reads a size in bytes: 128, 1k or 1K (1000), 1KiB (1024),
// 16M, 16MB (10^6 each), 10MiB, 1G, 1GiB. Suffixes are case-insensitive
// and may follow a space.
func ParseSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	i := 0
	for i < len(t) && t[i] >= '0' && t[i] <= '9' {
		i++
	}
	if i == 0 {
		return 0, fmt.Errorf("size %q: want a number of bytes such as 128, 64k or 10MiB", s)
	}
	n, err := strconv.ParseInt(t[:i], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("size %q: %w", s, errors.Unwrap(err))
	}
	mult := map[string]int64{"": 1, "b": 1,
		"k": 1e3, "kb": 1e3, "m": 1e6, "mb": 1e6, "g": 1e9, "gb": 1e9,
		"kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30}[strings.ToLower(strings.TrimSpace(t[i:]))]
	if mult == 0 {
		return 0, fmt.Errorf("size %q: unknown unit %q (want k, KiB, M, MiB, G or GiB)", s, strings.TrimSpace(t[i:]))
	}
	if n > math.MaxInt64/mult {
		return 0, fmt.Errorf("size %q: too big", s)
	}
	return n * mult, nil
}

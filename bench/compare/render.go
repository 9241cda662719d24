package main

import (
	"bytes"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// doc renders Results: the document's tables, its targets and the plot
// all read the same medians.
type doc struct {
	res   *Results
	cells map[cellKey]*cell
}

func newDoc(res *Results) *doc {
	return &doc{res: res, cells: aggregate(res.Samples)}
}

func (d *doc) cell(workload string, point int64, path string) *cell {
	return d.cells[cellKey{workload, point, path}]
}

func (d *doc) measured(path string) bool { return slices.Contains(d.res.Paths, path) }

func (d *doc) ran(workload string) bool { return slices.Contains(d.res.Config.Workloads, workload) }

// skipped is why a path was not measured, or "".
func (d *doc) skipped(path string) string {
	for _, s := range d.res.Skipped {
		if s.Path == path {
			return s.Reason
		}
	}
	if !d.measured(path) {
		return "not among this run's -paths"
	}
	return ""
}

// missing says why the point has no median on one of the paths, or "".
func (d *doc) missing(workload string, point int64, paths ...string) string {
	if !d.ran(workload) {
		return workload + " was not run"
	}
	if !d.inRun(workload, point) {
		return d.pointLabel(workload, point) + " was not among this run's points"
	}
	for _, p := range paths {
		if why := d.skipped(p); why != "" {
			return p + " was not measured (" + why + ")"
		}
		c := d.cell(workload, point, p)
		switch {
		case c == nil:
			return fmt.Sprintf("%s %s was not run on %s", workload, d.pointLabel(workload, point), p)
		case c.ok == 0:
			return p + " failed: " + c.err
		}
	}
	return ""
}

// inRun reports whether the run's settings include the point.
func (d *doc) inRun(workload string, point int64) bool {
	cfg := d.res.Config
	switch workload {
	case workRTT:
		return slices.Contains(cfg.Sizes, point)
	case workConns:
		return slices.Contains(cfg.Conns, int(point))
	case workLatency:
		return int64(cfg.Rate) == point
	case workBig:
		return cfg.BigSize == point
	case workIdle:
		return int64(cfg.Idle) == point
	}
	return false
}

// ratio is name on path divided by name on over.
func (d *doc) ratio(workload string, point int64, path, over, name string) (float64, bool) {
	a, aok := d.cell(workload, point, path).value(name)
	b, bok := d.cell(workload, point, over).value(name)
	return ratio(a, b, aok, bok)
}

func (d *doc) pointLabel(workload string, point int64) string {
	switch workload {
	case workRTT, workBig:
		return formatSize(point)
	case workConns, workIdle:
		return strconv.FormatInt(point, 10) + " connections"
	case workLatency:
		return strconv.FormatInt(point, 10) + " msg/s"
	}
	return strconv.FormatInt(point, 10)
}

// fmtNum writes a measurement with about three significant digits.
func fmtNum(v float64) string {
	a := math.Abs(v)
	switch {
	case math.IsNaN(v):
		return "–"
	case a >= 100:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case a >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64)
	case a >= 1:
		return strconv.FormatFloat(v, 'f', 2, 64)
	}
	return strconv.FormatFloat(v, 'f', 3, 64)
}

func fmtSigned(v float64) string {
	if v >= 0 {
		return "+" + fmtNum(v)
	}
	return fmtNum(v)
}

// fmtRatio writes a ratio as 0.91×, 12.3×, 140×.
func fmtRatio(r float64) string {
	a := math.Abs(r)
	switch {
	case a >= 100:
		return strconv.FormatFloat(r, 'f', 0, 64) + "×"
	case a >= 10:
		return strconv.FormatFloat(r, 'f', 1, 64) + "×"
	}
	return strconv.FormatFloat(r, 'f', 2, 64) + "×"
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// mdCell makes text safe inside a Markdown table cell: one line, pipes
// escaped.
func mdCell(s string) string {
	return strings.ReplaceAll(oneLine(s), "|", `\|`)
}

// mdReason is a failure's reason in a table cell, cut to a readable length.
func mdReason(s string) string {
	s = oneLine(s)
	if r := []rune(s); len(r) > 140 {
		s = string(r[:139]) + "…"
	}
	return mdCell(s)
}

// table accumulates a Markdown table.
type table struct {
	head []string
	left int // the leading columns aligned left (names); the rest are numbers
	rows [][]string
}

func (t *table) row(cells ...string) { t.rows = append(t.rows, cells) }

func (t *table) write(b *bytes.Buffer) {
	line := func(cells []string) {
		b.WriteString("|")
		for i := range t.head {
			c := ""
			if i < len(cells) {
				c = cells[i]
			}
			b.WriteString(" " + c + " |")
		}
		b.WriteString("\n")
	}
	line(t.head)
	b.WriteString("|")
	for i := range t.head {
		if i < max(t.left, 1) {
			b.WriteString("---|")
		} else {
			b.WriteString("--:|")
		}
	}
	b.WriteString("\n")
	for _, r := range t.rows {
		line(r)
	}
	b.WriteString("\n")
}

// pathRow is the first cells of a row for a path: its name, with the
// rounds that counted when some failed (the Failures section says why),
// or a failure that takes the whole row. ok is
// false when the row has no numbers.
func (d *doc) pathRow(c *cell, path string) (name string, failure string, ok bool) {
	switch {
	case c == nil:
		return path, "not run", false
	case c.ok == 0:
		return path, mdReason("failed: " + c.err), false
	case c.failed > 0:
		return fmt.Sprintf("%s (%d of %d rounds; see Failures)", path, c.ok, c.ok+c.failed), "", true
	}
	return path, "", true
}

func (d *doc) num(c *cell, name string) string {
	if v, ok := c.value(name); ok {
		return fmtNum(v)
	}
	return "–"
}

// ratioCell is path's name over over's, or "" where the ratio is not one
// the tables show (over itself, and ÷ mitmproxy for non-wstap paths).
func (d *doc) ratioCell(workload string, point int64, path, over, name string) string {
	if path == over || (over == pathMitmproxy && path == pathDirect) {
		return ""
	}
	if r, ok := d.ratio(workload, point, path, over, name); ok {
		return fmtRatio(r)
	}
	return "–"
}

// tablePaths are the paths of the tables: those measured, in table order.
func (d *doc) tablePaths() []string {
	var ps []string
	for _, p := range allPaths {
		if d.measured(p) {
			ps = append(ps, p)
		}
	}
	for _, p := range d.res.Paths {
		if !slices.Contains(ps, p) {
			ps = append(ps, p)
		}
	}
	return ps
}

// renderMarkdown writes docs/performance.md; svgRef is the plot's path
// relative to the document.
func renderMarkdown(res *Results, svgRef string) []byte {
	d := newDoc(res)
	var b bytes.Buffer
	cfg := res.Config
	fmt.Fprintf(&b, "<!-- Code generated by %s; DO NOT EDIT. -->\n\n", res.Command)
	b.WriteString("# Performance: wstap beside a direct connection and mitmproxy\n\n")
	fmt.Fprintf(&b, "> Generated by `%s` on %s. Do not edit it by hand: run the command again,\n", res.Command, res.Date.UTC().Format("2006-01-02 15:04 MST"))
	b.WriteString("> or render saved results with `go run ./bench/compare -from FILE` (results saved with `-json FILE`).\n\n")
	if cfg.Quick {
		b.WriteString("**This is a `-quick` smoke run** (short runs, few points, one round): it shows that the comparison\n")
		b.WriteString("works, not how fast wstap is. The full run is `go run ./bench/compare`.\n\n")
	}

	b.WriteString("## Machine\n\n")
	m := res.Machine
	fmt.Fprintf(&b, "- date: %s\n- CPU: %s, %d cores\n- kernel: %s\n- Go: %s\n- wstap: commit %s\n- mitmproxy: %s\n\n",
		res.Date.UTC().Format("2006-01-02 15:04 MST"), oneLine(m.CPU), m.Cores, oneLine(m.Kernel), oneLine(m.Go),
		oneLine(m.Commit), oneLine(m.Mitmproxy))

	d.writeMethod(&b)
	d.writeTargets(&b)
	if d.ran(workRTT) {
		d.writeRTT(&b, svgRef)
	}
	if d.ran(workConns) {
		d.writeConns(&b)
	}
	if d.ran(workLatency) {
		d.writeLatency(&b)
	}
	if d.ran(workBig) {
		d.writeBig(&b)
	}
	if d.ran(workIdle) {
		d.writeIdle(&b)
	}
	d.writeFailures(&b)
	return append(bytes.TrimRight(b.Bytes(), "\n"), '\n')
}

func (d *doc) writeMethod(b *bytes.Buffer) {
	cfg := d.res.Config
	b.WriteString("## Method\n\n")
	b.WriteString("Every path is a real process on 127.0.0.1, in front of one echo server (`wstap bench serve`), in reverse\n")
	b.WriteString("mode, so that every path is dialled with the same URL shape (`ws://127.0.0.1:PORT/echo`):\n\n")
	desc := map[string]string{
		pathDirect:    "the echo server itself, no proxy",
		pathRecord:    "`wstap record --upstream`, recording every byte into a capture file",
		pathNoCapture: "`wstap record --upstream --no-capture`, relaying without recording",
		pathMitmproxy: "`mitmdump --mode reverse:` (mitmproxy " + d.res.Machine.Mitmproxy + ", with its defaults)",
	}
	if !d.measured(pathMitmproxy) {
		desc[pathMitmproxy] = "`mitmdump --mode reverse:`"
	}
	for _, p := range allPaths {
		line := "- **" + p + "**: " + desc[p]
		if !d.measured(p) {
			line += ". **Not measured**: " + d.skipped(p)
		}
		b.WriteString(line + "\n")
	}
	fmt.Fprintf(b, `
The load is `+"`wstap bench`"+` with `+"`--format json`"+`. %d interleaved round(s): in each round every workload
point runs on every path, the order of the paths rotated by one from round to round; each table shows the
median of the rounds, and its ratios are ratios of those medians: "÷ direct" is the path's number divided by
direct's, "÷ mitmproxy" by mitmproxy's (shown for wstap's paths). For throughput higher is better; for times,
latency and memory lower is better.

- **Size sweep**: `+"`rtt`"+` for %s at each size, one connection, a window of 32 messages in flight up to
  16 KiB, 8 below 1 MiB and 2 from 1 MiB (so small messages measure the per-message cost and big ones do
  not queue hundreds of megabytes).
- **Connection sweep**: `+"`conns -n N`"+`, %d messages per connection, N = %s.
- **Latency**: `+"`latency --rate %d`"+` for %s; the p99 each proxy adds is its p99 minus direct's.
- **Big message**: `+"`big`"+`, one message of %s. The proxy's peak RSS above idle is VmHWM after the message minus VmRSS
  before it (/proc/PID/status, with VmHWM reset through /proc/PID/clear_refs first), read from a proxy process
  started for this measurement alone; direct has no proxy.
- **Idle connections**: compare itself opens %d WebSocket connections (gorilla/websocket) through a proxy
  process started for this measurement alone, waits a second, and reads the proxy's VmRSS; the increase over
  its VmRSS before, divided by the connections, is the cost of one idle connection.

Each proxy process started for a memory measurement is first warmed up with one connection carrying one
small message, so that what it allocates once (on its first connection and message) counts as idle.

A workload that fails or times out on a path shows as "failed: reason" and the run goes on.

`, cfg.Rounds, cfg.Duration, cfg.Messages, joinInts(cfg.Conns), cfg.Rate, cfg.Duration, formatSize(cfg.BigSize), cfg.Idle)
	b.WriteString("The processes (`$TMP` is a temporary directory):\n\n```sh\n")
	for _, l := range d.res.Setup {
		b.WriteString(l + "\n")
	}
	b.WriteString("```\n\nOne command line of each workload, as it ran:\n\n```sh\n")
	for _, e := range d.res.Commands {
		b.WriteString(e.Line + "\n")
	}
	b.WriteString("```\n\n")
}

func joinInts(ns []int) string {
	s := make([]string, len(ns))
	for i, n := range ns {
		s[i] = strconv.Itoa(n)
	}
	return strings.Join(s, ", ")
}

func (d *doc) writeTargets(b *bytes.Buffer) {
	b.WriteString("## Targets\n\nChecked against the medians below, on the record path (wstap recording every byte).\n\n")
	t := table{head: []string{"target", "verdict", "measured"}, left: 3}
	for _, r := range d.checkTargets() {
		t.row(r.Name, "**"+r.Verdict+"**", mdCell(r.Detail))
	}
	t.write(b)
}

func (d *doc) writeRTT(b *bytes.Buffer, svgRef string) {
	b.WriteString("## Size sweep (`rtt`)\n\nRound trips a second on one connection; MB/s is the payload one way (10^6 bytes).\n\n")
	t := table{left: 3, head: []string{"size", "window", "path", "msgs/s", "MB/s", "÷ direct", "÷ mitmproxy"}}
	for _, size := range d.res.Config.Sizes {
		for _, p := range d.tablePaths() {
			c := d.cell(workRTT, size, p)
			name, failure, ok := d.pathRow(c, p)
			if !ok {
				t.row(formatSize(size), strconv.Itoa(windowFor(size)), name, failure)
				continue
			}
			t.row(formatSize(size), strconv.Itoa(windowFor(size)), name, d.num(c, valMsgsPerS), d.num(c, valMBPerS),
				d.ratioCell(workRTT, size, p, pathDirect, valMsgsPerS), d.ratioCell(workRTT, size, p, pathMitmproxy, valMsgsPerS))
		}
	}
	t.write(b)
	fmt.Fprintf(b, "![throughput ratio against message size](%s)\n\n", svgRef)
}

func (d *doc) writeConns(b *bytes.Buffer) {
	fmt.Fprintf(b, "## Connection sweep (`conns`)\n\nN connections at once, %d messages each; msgs/s over all connections, and the p99 of the\ntime to connect.\n\n",
		d.res.Config.Messages)
	t := table{left: 2, head: []string{"connections", "path", "msgs/s", "÷ direct", "÷ mitmproxy", "connect p99 (ms)", "connect p99 ÷ direct"}}
	for _, n := range d.res.Config.Conns {
		pt := int64(n)
		for _, p := range d.tablePaths() {
			c := d.cell(workConns, pt, p)
			name, failure, ok := d.pathRow(c, p)
			if !ok {
				t.row(strconv.Itoa(n), name, failure)
				continue
			}
			t.row(strconv.Itoa(n), name, d.num(c, valMsgsPerS), d.ratioCell(workConns, pt, p, pathDirect, valMsgsPerS),
				d.ratioCell(workConns, pt, p, pathMitmproxy, valMsgsPerS), d.num(c, valConnectP99),
				d.ratioCell(workConns, pt, p, pathDirect, valConnectP99))
		}
	}
	t.write(b)
}

func (d *doc) writeLatency(b *bytes.Buffer) {
	rate := int64(d.res.Config.Rate)
	fmt.Fprintf(b, "## Latency (`latency`, paced %d msg/s)\n\nRound-trip times; \"added\" is the path's p99 minus direct's.\n\n", rate)
	t := table{head: []string{"path", "p50 (ms)", "p99 (ms)", "p99 added (ms)", "p99 ÷ direct", "p99 ÷ mitmproxy"}}
	dir, dok := d.cell(workLatency, rate, pathDirect).value(valP99)
	for _, p := range d.tablePaths() {
		c := d.cell(workLatency, rate, p)
		name, failure, ok := d.pathRow(c, p)
		if !ok {
			t.row(name, failure)
			continue
		}
		added := ""
		if v, vok := c.value(valP99); vok && dok && p != pathDirect {
			added = fmtSigned(v - dir)
		}
		t.row(name, d.num(c, valP50), d.num(c, valP99), added,
			d.ratioCell(workLatency, rate, p, pathDirect, valP99), d.ratioCell(workLatency, rate, p, pathMitmproxy, valP99))
	}
	t.write(b)
}

func (d *doc) writeBig(b *bytes.Buffer) {
	size := d.res.Config.BigSize
	fmt.Fprintf(b, "## Big message (`big`, %s)\n\nOne binary message, echoed and checked (SHA-256); MB/s is the message one way. The RSS is the\nproxy process's peak above its idle RSS.\n\n",
		formatSize(size))
	t := table{head: []string{"path", "time (ms)", "MB/s", "÷ direct", "÷ mitmproxy", "peak RSS above idle (MiB)", "RSS ÷ mitmproxy"}}
	for _, p := range d.tablePaths() {
		c := d.cell(workBig, size, p)
		name, failure, ok := d.pathRow(c, p)
		if !ok {
			t.row(name, failure)
			continue
		}
		rss, rssRatio := "n/a (no proxy)", ""
		if p != pathDirect {
			rss = "–"
			if v, vok := c.value(valRSSAboveIdle); vok {
				rss = fmtNum(v / 1024)
			}
			rssRatio = d.ratioCell(workBig, size, p, pathMitmproxy, valRSSAboveIdle)
		}
		t.row(name, d.num(c, valElapsed), d.num(c, valMBPerS), d.ratioCell(workBig, size, p, pathDirect, valMBPerS),
			d.ratioCell(workBig, size, p, pathMitmproxy, valMBPerS), rss, rssRatio)
	}
	t.write(b)
}

func (d *doc) writeIdle(b *bytes.Buffer) {
	n := int64(d.res.Config.Idle)
	fmt.Fprintf(b, "## Idle connections (%d)\n\nThe proxy process's RSS increase while %d idle WebSocket connections are open through it, per\nconnection. Direct has no proxy.\n\n", n, n)
	t := table{head: []string{"path", "RSS per connection (KiB)", "÷ mitmproxy"}}
	for _, p := range d.tablePaths() {
		if p == pathDirect {
			t.row(p, "n/a (no proxy)")
			continue
		}
		c := d.cell(workIdle, n, p)
		name, failure, ok := d.pathRow(c, p)
		if !ok {
			t.row(name, failure)
			continue
		}
		t.row(name, d.num(c, valRSSPerConn), d.ratioCell(workIdle, n, p, pathMitmproxy, valRSSPerConn))
	}
	t.write(b)
}

// writeFailures lists every failed measurement, round by round.
func (d *doc) writeFailures(b *bytes.Buffer) {
	var failed []Sample
	for _, s := range d.res.Samples {
		if s.Err != "" {
			failed = append(failed, s)
		}
	}
	if len(failed) == 0 {
		return
	}
	b.WriteString("## Failures\n\nEvery measurement that failed, by round.\n\n")
	t := table{head: []string{"round", "workload", "point", "path", "reason"}, left: 5}
	for _, s := range failed {
		t.row(strconv.Itoa(s.Round), s.Workload, d.pointLabel(s.Workload, s.Point), s.Path, mdReason(s.Err))
	}
	t.write(b)
}

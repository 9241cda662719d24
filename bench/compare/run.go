package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"
)

// listenLimit bounds the wait for a process to listen.
const listenLimit = 30 * time.Second

// warmSettle is how long a fresh proxy is left alone after its warm-up
// connection closed, before its idle RSS is read.
const warmSettle = 300 * time.Millisecond

// idleSettle is how long the idle connections stay open before the RSS is
// read.
const idleSettle = time.Second

// run measures (or, with -from, reads saved results) and writes the
// document and the plot.
func run(ctx context.Context, cfg *config, stdout, stderr io.Writer) error {
	var res *Results
	if cfg.from != "" {
		var err error
		if res, err = readResults(cfg.from); err != nil {
			return err
		}
	} else {
		var err error
		res, err = measure(ctx, cfg, stderr)
		if res != nil && cfg.jsonOut != "" {
			if werr := writeResults(cfg.jsonOut, res); werr != nil {
				return errors.Join(err, fmt.Errorf("save results: %w", werr))
			}
			fmt.Fprintf(stderr, "compare: saved the raw results to %s\n", cfg.jsonOut)
		}
		if err != nil {
			return err
		}
	}
	return writeDocs(res, cfg.out, cfg.svg, stdout)
}

// writeDocs renders the document and the plot and prints the tables.
func writeDocs(res *Results, out, svgPath string, stdout io.Writer) error {
	ref, err := filepath.Rel(filepath.Dir(absPath(out)), absPath(svgPath))
	if err != nil {
		ref = svgPath
	}
	md := renderMarkdown(res, filepath.ToSlash(ref))
	svg, err := renderSVG(res)
	if err != nil {
		return fmt.Errorf("render %s: %w", svgPath, err)
	}
	for path, b := range map[string][]byte{out: md, svgPath: svg} {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return err
		}
		if err := writeFile(path, b); err != nil {
			return err
		}
	}
	// The tables, from the targets on: what a terminal needs to see.
	text := string(md)
	if i := strings.Index(text, "## Targets"); i >= 0 {
		text = text[i:]
	}
	fmt.Fprintf(stdout, "%s\nwrote %s and %s\n", text, out, svgPath)
	return nil
}

func absPath(p string) string {
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return p
}

// target is one path under measurement: the URL the load dials and the
// process whose memory is read (nil for direct).
type target struct {
	name  string
	url   string
	proc  *proc
	setup string // its command line, for the document
}

// runner holds what a measuring run started.
type runner struct {
	cfg      *config
	tmp      string
	wstap    string
	mitmdump string
	echo     string // the echo server's address, 127.0.0.1:PORT
	procs    []*proc
	examples map[string]map[string]string // workload → path → one command line
	log      func(string, ...any)
}

// stopAll stops every process the run started, by its PID, newest first.
func (r *runner) stopAll() {
	for _, p := range slices.Backward(r.procs) {
		p.stop()
	}
}

// line is a command line as the document shows it, the temporary directory
// written $TMP.
func (r *runner) line(argv []string) string {
	return strings.ReplaceAll(strings.Join(quoteArgs(argv), " "), r.tmp, "$TMP")
}

// measure runs every round and returns the results so far, also on an
// error.
func measure(ctx context.Context, cfg *config, stderr io.Writer) (*Results, error) {
	tmp, err := os.MkdirTemp("", "wstap-compare-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	r := &runner{cfg: cfg, tmp: tmp, examples: map[string]map[string]string{},
		log: func(f string, a ...any) { fmt.Fprintf(stderr, f+"\n", a...) }}
	defer r.stopAll()

	// Each idle or conns connection costs compare, the proxy and the echo
	// server a descriptor or two; children inherit the raised limit.
	want := uint64(4*max(cfg.idle, slices.Max(cfg.conns)) + 1024)
	if got, err := raiseNoFile(want); err != nil || got < want {
		r.log("compare: warning: open files limited to %d (want %d): %v", got, want, err)
	}
	root, err := moduleRoot()
	if err != nil && cfg.wstap == "" {
		return nil, err
	}
	if r.wstap, err = r.buildWstap(ctx, root); err != nil {
		return nil, err
	}

	res := &Results{Command: commandLine(cfg.args), Date: time.Now().UTC(), Config: Config{
		Rounds: cfg.rounds, Duration: cfg.duration.String(), Sizes: cfg.sizes, Conns: cfg.conns,
		Messages: cfg.messages, Rate: latencyRate, BigSize: cfg.bigSize, Idle: cfg.idle,
		Workloads: cfg.workloads, Quick: cfg.quick}}
	mitmVersion := "not measured"
	if slices.Contains(cfg.paths, pathMitmproxy) {
		var why string
		if r.mitmdump, why = findMitmdump(ctx, r.log); why != "" {
			res.Skipped = append(res.Skipped, Skip{pathMitmproxy, why})
			r.log("compare: skipping mitmproxy: %s", why)
			mitmVersion = "not available"
		} else {
			mitmVersion = mitmproxyVersion(ctx, r.mitmdump)
		}
	}
	res.Machine = machineInfo(ctx, root, runtime.Version(), mitmVersion, runtime.NumCPU())

	echo, err := r.startEcho(ctx)
	if err != nil {
		return nil, err
	}
	res.Setup = append(res.Setup, echo.setup)
	var targets []*target
	for _, name := range cfg.paths {
		if name == pathMitmproxy && r.mitmdump == "" {
			continue
		}
		if name == pathDirect {
			targets = append(targets, echo)
			res.Paths = append(res.Paths, name)
			continue
		}
		t, err := r.startPath(ctx, name, "main")
		if err != nil {
			if ctx.Err() != nil {
				return res, ctx.Err()
			}
			res.Skipped = append(res.Skipped, Skip{name, err.Error()})
			r.log("compare: skipping %s: %v", name, err)
			continue
		}
		targets = append(targets, t)
		res.Paths = append(res.Paths, name)
		res.Setup = append(res.Setup, t.setup)
	}
	if len(targets) == 0 {
		return res, errors.New("no path to measure")
	}

	if err := r.runRounds(ctx, res, r.points(), targets); err != nil {
		return res, err
	}
	res.Commands = r.exampleLines()
	return res, nil
}

// runRounds runs every point on every target, round after round, the
// order of the targets rotated by one each round, and appends a sample for
// each run to res. Only ctx ending stops it.
func (r *runner) runRounds(ctx context.Context, res *Results, points []point, targets []*target) error {
	var pids []int
	for _, t := range targets {
		if t.proc != nil && t.proc.pid() > 0 {
			pids = append(pids, t.proc.pid())
		}
	}
	for round := 1; round <= r.cfg.rounds; round++ {
		order := rotate(targets, round-1)
		for _, pt := range points {
			for _, t := range order {
				if pt.skip != nil && pt.skip(t) {
					continue
				}
				vals, err := pt.run(ctx, t, round)
				if ctx.Err() != nil {
					return ctx.Err()
				}
				// The next run gets the CPU to itself: wait for every
				// process (a proxy working off a backlog) to go quiet.
				settle(ctx, pids, 30*time.Second)
				s := Sample{Round: round, Workload: pt.workload, Point: pt.value, Path: t.name, Values: vals}
				if err != nil {
					s.Values, s.Err = nil, err.Error()
				}
				res.Samples = append(res.Samples, s)
				r.log("round %d/%d  %-7s %-10s %-10s %s", round, r.cfg.rounds, pt.workload, pt.label, t.name, summary(s))
			}
		}
	}
	return nil
}

// rotate is ts rotated left by k, so that each round starts with a
// different path.
func rotate[T any](ts []T, k int) []T {
	if len(ts) == 0 {
		return nil
	}
	k %= len(ts)
	return slices.Concat(ts[k:], ts[:k])
}

// summary is one progress line's numbers.
func summary(s Sample) string {
	if s.Err != "" {
		return "failed: " + s.Err
	}
	v := s.Values
	switch s.Workload {
	case workRTT:
		return fmt.Sprintf("%s msgs/s  %s MB/s", fmtNum(v[valMsgsPerS]), fmtNum(v[valMBPerS]))
	case workConns:
		return fmt.Sprintf("%s msgs/s  connect p99 %s ms", fmtNum(v[valMsgsPerS]), fmtNum(v[valConnectP99]))
	case workLatency:
		return fmt.Sprintf("p50 %s ms  p99 %s ms", fmtNum(v[valP50]), fmtNum(v[valP99]))
	case workBig:
		out := fmt.Sprintf("%s ms  %s MB/s", fmtNum(v[valElapsed]), fmtNum(v[valMBPerS]))
		if kib, ok := v[valRSSAboveIdle]; ok {
			out += fmt.Sprintf("  peak RSS +%s MiB", fmtNum(kib/1024))
		}
		return out
	case workIdle:
		return fmt.Sprintf("%s KiB per connection", fmtNum(v[valRSSPerConn]))
	}
	return ""
}

// moduleRoot is the directory of go.mod at or above the working directory.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for range 64 {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && strings.Contains(string(b), "module github.com/wstap/wstap") {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			break
		}
		dir = parent
	}
	return "", errors.New("run compare inside the wstap repository (no go.mod of github.com/wstap/wstap above the working directory), or pass -wstap")
}

// buildWstap builds ./cmd/wstap into the temporary directory, or checks
// the binary -wstap names.
func (r *runner) buildWstap(ctx context.Context, root string) (string, error) {
	if r.cfg.wstap != "" {
		p, err := exec.LookPath(r.cfg.wstap)
		if err != nil {
			return "", fmt.Errorf("-wstap: %w", err)
		}
		return filepath.Abs(p)
	}
	bin := filepath.Join(r.tmp, "wstap")
	r.log("compare: go build -o %s ./cmd/wstap", bin)
	ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/wstap")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/wstap: %v\n%s", err, out)
	}
	return bin, nil
}

// startEcho starts `wstap bench serve`, which is also the direct path.
func (r *runner) startEcho(ctx context.Context) (*target, error) {
	ports, err := freePorts(1)
	if err != nil {
		return nil, err
	}
	r.echo = "127.0.0.1:" + strconv.Itoa(ports[0])
	argv := []string{r.wstap, "bench", "serve", "--listen", r.echo}
	p, err := startProc("echo server", argv, nil, filepath.Join(r.tmp, "echo.log"))
	if err != nil {
		return nil, err
	}
	r.procs = append(r.procs, p)
	if err := waitListening(ctx, p, r.echo, listenLimit); err != nil {
		return nil, err
	}
	return &target{name: pathDirect, url: "ws://" + r.echo + "/echo", setup: r.line(argv)}, nil
}

// startPath starts the proxy of a path in front of the echo server; tag
// names its files.
func (r *runner) startPath(ctx context.Context, name, tag string) (*target, error) {
	ports, err := freePorts(1)
	if err != nil {
		return nil, err
	}
	addr := "127.0.0.1:" + strconv.Itoa(ports[0])
	var argv, env []string
	wstapHome := "WSTAP_HOME=" + filepath.Join(r.tmp, "wstap-home") // its CA, away from the user's
	switch name {
	case pathRecord:
		argv = []string{r.wstap, "record", "-l", addr, "--upstream", "ws://" + r.echo, "-o", filepath.Join(r.tmp, tag+".wstap")}
		env = []string{wstapHome}
	case pathNoCapture:
		argv = []string{r.wstap, "record", "-l", addr, "--upstream", "ws://" + r.echo, "--no-capture"}
		env = []string{wstapHome}
	case pathMitmproxy:
		argv = []string{r.mitmdump, "-q", "--mode", "reverse:http://" + r.echo, "--listen-host", "127.0.0.1",
			"-p", strconv.Itoa(ports[0]), "--set", "confdir=" + filepath.Join(r.tmp, "mitmproxy")}
	default:
		return nil, fmt.Errorf("unknown path %q", name)
	}
	p, err := startProc(name, argv, env, filepath.Join(r.tmp, name+"-"+tag+".log"))
	if err != nil {
		return nil, err
	}
	r.procs = append(r.procs, p)
	if err := waitListening(ctx, p, addr, listenLimit); err != nil {
		p.stop()
		return nil, err
	}
	shown := slices.Clone(argv)
	if name == pathMitmproxy {
		shown[0] = "mitmdump"
	}
	return &target{name: name, url: "ws://" + addr + "/echo", proc: p, setup: r.line(shown)}, nil
}

// fresh starts a proxy of the same path for one memory measurement, warms
// it up with one connection and one message, and returns it with a
// function that stops it and removes its files.
func (r *runner) fresh(ctx context.Context, t *target, tag string) (*target, func(), error) {
	f, err := r.startPath(ctx, t.name, tag)
	if err != nil {
		return nil, nil, fmt.Errorf("start a fresh %s: %w", t.name, err)
	}
	stop := func() {
		f.proc.stop()
		os.Remove(filepath.Join(r.tmp, tag+".wstap"))
	}
	if err := warmUp(ctx, f.url, 10*time.Second); err != nil {
		stop()
		return nil, nil, err
	}
	select { // let the proxy finish with the warm-up connection
	case <-time.After(warmSettle):
	case <-ctx.Done():
		stop()
		return nil, nil, ctx.Err()
	}
	return f, stop, nil
}

// bench runs one `wstap bench` command for a workload on a target, within
// nominal plus -timeout, and keeps its command line as an example.
func (r *runner) bench(ctx context.Context, workload string, t *target, nominal time.Duration, mode string, args ...string) (map[string]float64, error) {
	if r.examples[workload] == nil {
		r.examples[workload] = map[string]string{}
	}
	if _, ok := r.examples[workload][t.name]; !ok {
		r.examples[workload][t.name] = r.line(append([]string{r.wstap}, benchArgs(mode, t.url, args...)...))
	}
	return runBench(ctx, r.wstap, nominal+r.cfg.timeout, mode, t.url, args...)
}

// exampleLines is one command line per workload that ran, the record
// path's where it ran.
func (r *runner) exampleLines() []Example {
	var ex []Example
	for _, w := range allWorkloads {
		byPath := r.examples[w]
		if w == workIdle {
			if slices.Contains(r.cfg.workloads, workIdle) {
				ex = append(ex, Example{w, fmt.Sprintf("# idle: compare dials %d connections to ws://127.0.0.1:PORT/echo (gorilla/websocket), holds them %v, reads /proc/PID/status VmRSS of the proxy before and after",
					r.cfg.idle, idleSettle)})
			}
			continue
		}
		for _, p := range append([]string{pathRecord}, allPaths...) {
			if l, ok := byPath[p]; ok {
				ex = append(ex, Example{w, l})
				break
			}
		}
	}
	return ex
}

// point is one workload point: what every path runs once a round.
type point struct {
	workload string
	value    int64  // the Sample's Point
	label    string // for progress lines
	run      func(ctx context.Context, t *target, round int) (map[string]float64, error)
	skip     func(t *target) bool // paths the point does not apply to
}

// points lists the workload points of a round, in order.
func (r *runner) points() []point {
	cfg := r.cfg
	dur := cfg.duration.String()
	var pts []point
	for _, w := range cfg.workloads {
		switch w {
		case workRTT:
			for _, size := range cfg.sizes {
				pts = append(pts, point{workload: w, value: size, label: formatSize(size),
					run: func(ctx context.Context, t *target, _ int) (map[string]float64, error) {
						return r.bench(ctx, w, t, cfg.duration, "rtt", "--size", strconv.FormatInt(size, 10),
							"--window", strconv.Itoa(windowFor(size)), "--duration", dur)
					}})
			}
		case workConns:
			for _, n := range cfg.conns {
				pts = append(pts, point{workload: w, value: int64(n), label: strconv.Itoa(n),
					run: func(ctx context.Context, t *target, _ int) (map[string]float64, error) {
						return r.bench(ctx, w, t, 0, "conns", "-n", strconv.Itoa(n), "--messages", strconv.Itoa(cfg.messages))
					}})
			}
		case workLatency:
			pts = append(pts, point{workload: w, value: latencyRate, label: strconv.Itoa(latencyRate) + "/s",
				run: func(ctx context.Context, t *target, _ int) (map[string]float64, error) {
					return r.bench(ctx, w, t, cfg.duration, "latency", "--rate", strconv.Itoa(latencyRate), "--duration", dur)
				}})
		case workBig:
			pts = append(pts, point{workload: w, value: cfg.bigSize, label: formatSize(cfg.bigSize), run: r.runBig})
		case workIdle:
			pts = append(pts, point{workload: w, value: int64(cfg.idle), label: strconv.Itoa(cfg.idle), run: r.runIdle,
				skip: func(t *target) bool { return t.proc == nil }})
		}
	}
	return pts
}

// runBig sends the big message through a fresh proxy process and reads
// its RSS before (VmRSS) and its peak after (VmHWM, reset first). Direct
// has no proxy: only the transfer is measured.
func (r *runner) runBig(ctx context.Context, t *target, round int) (map[string]float64, error) {
	args := []string{"--size", strconv.FormatInt(r.cfg.bigSize, 10)}
	if t.proc == nil {
		return r.bench(ctx, workBig, t, 0, "big", args...)
	}
	f, stop, err := r.fresh(ctx, t, fmt.Sprintf("big-%d", round))
	if err != nil {
		return nil, err
	}
	defer stop()
	pid := f.proc.pid()
	if err := resetPeak(pid); err != nil {
		return nil, fmt.Errorf("reset the peak RSS of %s: %w", t.name, err)
	}
	before, err := procStatus(pid, "VmRSS")
	if err != nil {
		return nil, err
	}
	vals, err := r.bench(ctx, workBig, f, 0, "big", args...)
	if err != nil {
		return nil, err
	}
	after, err := procStatus(pid, "VmHWM")
	if err != nil {
		return nil, err
	}
	vals[valRSSIdle], vals[valRSSPeak] = before["VmRSS"], after["VmHWM"]
	vals[valRSSAboveIdle] = after["VmHWM"] - before["VmRSS"]
	return vals, nil
}

// runIdle opens -idle connections through a fresh proxy process, waits,
// and reads how much its RSS grew per connection.
func (r *runner) runIdle(ctx context.Context, t *target, round int) (map[string]float64, error) {
	f, stop, err := r.fresh(ctx, t, fmt.Sprintf("idle-%d", round))
	if err != nil {
		return nil, err
	}
	defer stop()
	pid := f.proc.pid()
	before, err := procStatus(pid, "VmRSS")
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, r.cfg.timeout)
	defer cancel()
	conns, err := openIdle(ctx, f.url, r.cfg.idle, 10*time.Second)
	if err != nil {
		if ctx.Err() == context.DeadlineExceeded {
			return nil, fmt.Errorf("timed out after %v: %w", r.cfg.timeout, err)
		}
		return nil, err
	}
	defer closeIdle(conns)
	select {
	case <-time.After(idleSettle):
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	after, err := procStatus(pid, "VmRSS")
	if err != nil {
		return nil, err
	}
	n := float64(r.cfg.idle)
	return map[string]float64{"rss_before_kib": before["VmRSS"], "rss_after_kib": after["VmRSS"],
		valRSSPerConn: (after["VmRSS"] - before["VmRSS"]) / n}, nil
}

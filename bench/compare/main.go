package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// config is what the flags ask for.
type config struct {
	wstap     string        // -wstap: the binary to drive; "" builds ./cmd/wstap
	paths     []string      // -paths
	workloads []string      // -workloads
	rounds    int           // -rounds
	duration  time.Duration // -duration of each rtt and latency run
	sizes     []int64       // -sizes
	conns     []int         // -conns
	messages  int           // -messages per connection in the connection sweep
	bigSize   int64         // -big
	idle      int           // -idle
	timeout   time.Duration // -timeout: each child command's limit beyond its own duration
	quick     bool          // -quick
	out, svg  string        // -out, -svg
	jsonOut   string        // -json
	from      string        // -from
	args      []string      // the command line, for the document
}

// usageError is a bad command line (exit status 2).
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

func usagef(format string, a ...any) error { return &usageError{fmt.Errorf(format, a...)} }

const usageText = `Usage: go run ./bench/compare [flags]

Measures wstap (record, record --no-capture) beside a direct connection and
mitmproxy on this machine, in interleaved rounds, and writes the medians to
docs/performance.md and docs/performance.svg. Run it from the repository
root. -quick is a smoke run; -json saves the raw results and -from renders
saved results again without measuring.

Flags:
`

func parseFlags(args []string, stderr io.Writer) (*config, error) {
	fs := flag.NewFlagSet("compare", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, usageText)
		fs.PrintDefaults()
	}
	cfg := &config{args: args}
	var paths, workloads, sizes, conns, big string
	fs.StringVar(&cfg.wstap, "wstap", "", "the wstap `binary` to drive (default: go build ./cmd/wstap into a temporary directory)")
	fs.StringVar(&paths, "paths", strings.Join(allPaths, ","), "the paths to measure, comma-separated")
	fs.StringVar(&workloads, "workloads", strings.Join(allWorkloads, ","), "the workloads to run, comma-separated")
	fs.IntVar(&cfg.rounds, "rounds", 3, "interleaved rounds; the document shows their medians")
	fs.DurationVar(&cfg.duration, "duration", 2*time.Second, "how long each rtt and latency run lasts")
	fs.StringVar(&sizes, "sizes", "16,128,1KiB,16KiB,128KiB,1MiB,16MiB", "the rtt message sizes, comma-separated")
	fs.StringVar(&conns, "conns", "1,10,100,1000", "the connection counts of the connection sweep, comma-separated")
	fs.IntVar(&cfg.messages, "messages", 50, "messages per connection in the connection sweep")
	fs.StringVar(&big, "big", "64MiB", "the size of the big message")
	fs.IntVar(&cfg.idle, "idle", 1000, "idle connections to open through each proxy")
	fs.DurationVar(&cfg.timeout, "timeout", 2*time.Minute, "the longest each child command may take beyond its own duration")
	fs.BoolVar(&cfg.quick, "quick", false, "a smoke run: 1 round, 300ms, sizes 128 and 1MiB, conns 1 and 10, a 4MiB big message, 100 idle connections (flags given explicitly win)")
	fs.StringVar(&cfg.out, "out", filepath.Join("docs", "performance.md"), "the document to write")
	fs.StringVar(&cfg.svg, "svg", filepath.Join("docs", "performance.svg"), "the plot to write")
	fs.StringVar(&cfg.jsonOut, "json", "", "also save the raw per-round results to this `file`")
	fs.StringVar(&cfg.from, "from", "", "render the document and plot from results saved with -json, measuring nothing")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, err
		}
		return nil, &usageError{err}
	}
	if fs.NArg() > 0 {
		return nil, usagef("compare takes no arguments, got %q", fs.Args())
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if cfg.quick {
		quick := map[string]func(){
			"rounds":   func() { cfg.rounds = 1 },
			"duration": func() { cfg.duration = 300 * time.Millisecond },
			"sizes":    func() { sizes = "128,1MiB" },
			"conns":    func() { conns = "1,10" },
			"messages": func() { cfg.messages = 20 },
			"big":      func() { big = "4MiB" },
			"idle":     func() { cfg.idle = 100 },
			"timeout":  func() { cfg.timeout = time.Minute },
		}
		for name, apply := range quick {
			if !set[name] {
				apply()
			}
		}
	}
	var err error
	if cfg.paths, err = names("paths", paths, allPaths); err != nil {
		return nil, err
	}
	if cfg.workloads, err = names("workloads", workloads, allWorkloads); err != nil {
		return nil, err
	}
	for s := range strings.SplitSeq(sizes, ",") {
		n, err := parseSize(s)
		if err != nil {
			return nil, usagef("-sizes: %v", err)
		}
		if n < 16 {
			return nil, usagef("-sizes: %s: rtt needs at least 16 bytes", s)
		}
		if !slices.Contains(cfg.sizes, n) {
			cfg.sizes = append(cfg.sizes, n)
		}
	}
	slices.Sort(cfg.sizes)
	for s := range strings.SplitSeq(conns, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 {
			return nil, usagef("-conns: %q: want a whole number above 0", s)
		}
		if !slices.Contains(cfg.conns, n) {
			cfg.conns = append(cfg.conns, n)
		}
	}
	slices.Sort(cfg.conns)
	if cfg.bigSize, err = parseSize(big); err != nil || cfg.bigSize < 1 {
		return nil, usagef("-big %q: want a size such as 64MiB", big)
	}
	switch {
	case cfg.rounds < 1:
		return nil, usagef("-rounds %d: want 1 or more", cfg.rounds)
	case cfg.duration <= 0:
		return nil, usagef("-duration %v: want a duration above 0", cfg.duration)
	case cfg.messages < 1:
		return nil, usagef("-messages %d: want 1 or more", cfg.messages)
	case cfg.idle < 1:
		return nil, usagef("-idle %d: want 1 or more", cfg.idle)
	case cfg.timeout <= 0:
		return nil, usagef("-timeout %v: want a duration above 0", cfg.timeout)
	}
	return cfg, nil
}

// names reads a comma-separated list of known names, in the known order.
func names(flagName, list string, known []string) ([]string, error) {
	var got []string
	for s := range strings.SplitSeq(list, ",") {
		s = strings.TrimSpace(s)
		if !slices.Contains(known, s) {
			return nil, usagef("-%s: unknown %q (want some of %s)", flagName, s, strings.Join(known, ","))
		}
		got = append(got, s)
	}
	var ordered []string
	for _, k := range known {
		if slices.Contains(got, k) {
			ordered = append(ordered, k)
		}
	}
	return ordered, nil
}

// commandLine is the command that measured, as the document shows it.
func commandLine(args []string) string {
	return strings.Join(append([]string{"go", "run", "./bench/compare"}, quoteArgs(args)...), " ")
}

var plainArg = regexp.MustCompile(`^[A-Za-z0-9_./:=,@%+-]+$`)

// quoteArgs quotes arguments for a POSIX shell where they need it.
func quoteArgs(args []string) []string {
	q := make([]string, len(args))
	for i, a := range args {
		if plainArg.MatchString(a) {
			q[i] = a
		} else {
			q[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
	}
	return q
}

func main() {
	os.Exit(mainStatus(os.Args[1:], os.Stdout, os.Stderr))
}

// mainStatus runs compare and returns its exit status: 0 ok, 1 error,
// 2 usage.
func mainStatus(args []string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cfg, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err == nil {
		err = run(ctx, cfg, stdout, stderr)
	}
	var ue *usageError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "compare: %v\n", err)
		return 2
	case ctx.Err() != nil:
		fmt.Fprintln(stderr, "compare: interrupted; every process it started has been stopped")
		return 1
	}
	fmt.Fprintf(stderr, "compare: %v\n", err)
	return 1
}

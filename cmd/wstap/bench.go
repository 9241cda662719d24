package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/wstap/wstap/internal/present"
	"github.com/wstap/wstap/loadtest"
)

// benchFlags are the flags every `wstap bench` mode shares.
type benchFlags struct {
	proxy       string
	insecure    bool
	cas         []string
	format      string
	subprotocol string
	timeout     time.Duration
}

func (o *benchFlags) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.proxy, "proxy", "", "dial through this explicit HTTP proxy, `http://HOST:PORT` (such as wstap record)")
	fs.BoolVar(&o.insecure, "insecure", false, "do not verify the server's TLS certificate (wss://)")
	fs.StringArrayVar(&o.cas, "ca", nil, "`PEM` file of a CA (or self-signed certificate) to trust for wss://; repeatable")
	fs.StringVar(&o.format, "format", "table", "output: table (aligned columns) or json (one object: mode, url, params, results, ok)")
	fs.StringVar(&o.subprotocol, "subprotocol", "", "offer this subprotocol `P` in the handshake")
	fs.DurationVar(&o.timeout, "timeout", 10*time.Second, "the longest wait for the handshake and for each message from the server")
}

// options turns the shared flags into loadtest options (usage errors for
// bad values).
func (o *benchFlags) options() (loadtest.Options, error) {
	var lo loadtest.Options
	if o.format != "table" && o.format != "json" {
		return lo, usagef("--format %q: want table or json", o.format)
	}
	if o.timeout <= 0 {
		return lo, usagef("--timeout %v: want a duration above 0", o.timeout)
	}
	if o.proxy != "" {
		u, err := url.Parse(o.proxy)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return lo, usagef("--proxy %q: want http://HOST:PORT", o.proxy)
		}
		lo.Proxy = u
	}
	tlsCfg, err := dialTLS(tlsFlags{insecure: o.insecure, upstreamCAs: o.cas}, nil)
	if err != nil {
		return lo, err
	}
	lo.TLS, lo.Subprotocol, lo.Timeout = tlsCfg, o.subprotocol, o.timeout
	return lo, nil
}

// benchTarget checks the URL argument.
func benchTarget(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "ws" && u.Scheme != "wss") || u.Host == "" {
		return "", usagef("%q: want a ws:// or wss:// URL", raw)
	}
	return raw, nil
}

// benchSize parses a size flag (a usage error when it does not parse or is
// below least).
func benchSize(flag, s string, least int64) (int64, error) {
	n, err := loadtest.ParseSize(s)
	if err != nil {
		return 0, usagef("--%s: %w", flag, err)
	}
	if n < least {
		return 0, usagef("--%s %s: want at least %d bytes", flag, s, least)
	}
	return n, nil
}

const benchHelp = `Load a WebSocket server and check what comes back. Point it at your own
server, at the built-in one (wstap bench serve), directly, through an
explicit proxy (--proxy http://HOST:PORT, e.g. wstap record) or through
wstap record in reverse mode (a URL pointing at record --upstream).

Modes:
  rtt      windowed round trips on one connection: msgs/s, MB/s; every echo checked
  push     the receive rate from a server that pushes: msgs/s, MB/s, gaps, lag
  latency  paced sends, each round trip timed: p50/p90/p99/max, achieved rate
  conns    N connections at once, with a cross-talk check: connect p50/p99, msgs/s
  big      one message of S bytes, with an integrity check (SHA-256): time, MB/s
  serve    the built-in echo (/echo) and push (/push) server

Examples:
  wstap bench serve --listen 127.0.0.1:9001
  wstap bench rtt ws://127.0.0.1:9001/echo --size 1k --window 64 --duration 10s
  wstap bench push ws://127.0.0.1:9001/push --rate 2000 --size 256 --count 20000
  wstap bench latency ws://127.0.0.1:9001/echo --rate 1000 --duration 5s
  wstap bench conns ws://127.0.0.1:9001/echo -n 500 --messages 20
  wstap bench big ws://127.0.0.1:9001/echo --size 64MiB --format json

Through wstap, as an explicit proxy and in reverse mode:
  wstap record -l 127.0.0.1:8080 -o bench.wstap &
  wstap bench rtt ws://127.0.0.1:9001/echo --proxy http://127.0.0.1:8080
  wstap record -l 127.0.0.1:8081 --upstream ws://127.0.0.1:9001 -o rev.wstap &
  wstap bench big ws://127.0.0.1:8081/echo --size 10MiB

Sizes take 128, 1k (1000), 1KiB (1024), 16M, 10MiB, 1G, 1GiB. MB/s counts
10^6 bytes. Results go to stdout; on a terminal, a progress line is
redrawn on stderr while the run goes.
` + benchExitHelp

const benchExitHelp = `
EXIT STATUS
  0  the run completed and every check held
  1  an error: could not connect, a connection failed, an echo differed,
     cross-talk, lost or reordered messages, an integrity failure
  2  usage error (an unknown mode, a bad size or flag)
`

func newBenchCommand(g *globalOptions) *cobra.Command {
	modes := "rtt, push, latency, conns, big or serve"
	cmd := &cobra.Command{
		Use:           "bench MODE",
		Short:         "Load a WebSocket server: round trips, push rate, latency, many connections, one big message",
		Long:          benchHelp,
		SilenceUsage:  true,
		SilenceErrors: true,
		Args:          cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usagef("bench needs a mode: %s (see wstap bench --help)", modes)
			}
			return usagef("bench: unknown mode %q: want %s", args[0], modes)
		},
	}
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &usageError{err} })
	cmd.AddCommand(newBenchServeCommand(g), newBenchRTTCommand(g), newBenchPushCommand(g),
		newBenchLatencyCommand(g), newBenchConnsCommand(g), newBenchBigCommand(g))
	return cmd
}

// benchMode is a mode command: the shared flags, a URL, a run and its report.
func benchMode(g *globalOptions, use, short, long string, add func(*pflag.FlagSet),
	run func(ctx context.Context, url string, lo loadtest.Options) (*loadtest.Report, error)) *cobra.Command {
	bf := &benchFlags{}
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Long:  long + benchExitHelp,
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			target, err := benchTarget(args[0])
			if err != nil {
				return err
			}
			lo, err := bf.options()
			if err != nil {
				return err
			}
			prog := newBenchProgress(g.stderr, strings.Fields(use)[0])
			lo.Progress = prog.update
			rep, err := run(cmd.Context(), target, lo)
			prog.finish()
			if err != nil {
				if cmd.Context().Err() != nil {
					return errors.New("interrupted")
				}
				return err
			}
			if err := writeBenchReport(g.stdout, rep, bf.format); err != nil {
				return err
			}
			return rep.Err()
		},
	}
	add(cmd.Flags())
	bf.AddFlags(cmd.Flags())
	return cmd
}

func writeBenchReport(w io.Writer, rep *loadtest.Report, format string) error {
	if format == "json" {
		b, err := json.Marshal(rep)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(w, "%s\n", b)
		return err
	}
	return rep.WriteTable(w)
}

func newBenchRTTCommand(g *globalOptions) *cobra.Command {
	var o loadtest.RTTOptions
	var size string
	return benchMode(g, "rtt URL", "Windowed round trips on one connection against an echo server",
		`Keep --window messages in flight on one connection to an echo server,
each tagged with a sequence number, and check every echo: the same content,
in order. Reports round trips a second and MB/s (the payload one way; it
crosses the wire twice). Runs for --duration, or --count messages.

  wstap bench rtt ws://127.0.0.1:9001/echo --size 128 --window 32 --duration 5s
  wstap bench rtt ws://127.0.0.1:9001/echo --count 100000 --binary --proxy http://127.0.0.1:8080
`,
		func(fs *pflag.FlagSet) {
			fs.StringVar(&size, "size", "128", "bytes per message, at least 16 (`SIZE`: 128, 1k, 1KiB, 1MiB)")
			fs.IntVar(&o.Window, "window", 32, "messages in flight")
			fs.DurationVar(&o.Duration, "duration", 5*time.Second, "how long to send")
			fs.IntVar(&o.Count, "count", 0, "send `N` messages instead of for --duration")
			fs.BoolVar(&o.Binary, "binary", false, "binary messages instead of text")
		},
		func(ctx context.Context, url string, lo loadtest.Options) (*loadtest.Report, error) {
			n, err := benchSize("size", size, 16)
			if err != nil {
				return nil, err
			}
			if o.Window <= 0 || o.Count < 0 || o.Duration <= 0 {
				return nil, usagef("--window must be above 0, --count 0 or more, --duration above 0")
			}
			o.Options, o.Size = lo, int(n)
			return loadtest.RTT(ctx, url, o)
		})
}

func newBenchPushCommand(g *globalOptions) *cobra.Command {
	var o loadtest.PushOptions
	var size string
	return benchMode(g, "push URL", "The receive rate from a server that pushes",
		`Connect to a server that pushes and count what arrives until it closes
(or --count messages arrived). The URL gets rate=, size= and count= in its
query (unless it has them already, or --no-query), which is what the
built-in server's /push reads. Messages that start with a big-endian
sequence number and a Unix time in nanoseconds (16 bytes, as the built-in
server sends) are checked for gaps (lost), reordering, and the delivery
lag (which includes any skew between the two machines' clocks).

  wstap bench push ws://127.0.0.1:9001/push --rate 5000 --size 256 --count 50000
`,
		func(fs *pflag.FlagSet) {
			fs.IntVar(&o.Rate, "rate", 0, "messages a second to ask for (0: as fast as the server can)")
			fs.StringVar(&size, "size", "128", "bytes per message to ask for (`SIZE`)")
			fs.IntVar(&o.Count, "count", 1000, "messages to ask for and to wait for")
			fs.BoolVar(&o.NoQuery, "no-query", false, "do not add rate, size and count to the URL")
		},
		func(ctx context.Context, url string, lo loadtest.Options) (*loadtest.Report, error) {
			n, err := benchSize("size", size, 0)
			if err != nil {
				return nil, err
			}
			if o.Rate < 0 || o.Count < 0 {
				return nil, usagef("--rate and --count must be 0 or more")
			}
			o.Options, o.Size = lo, int(n)
			return loadtest.Push(ctx, url, o)
		})
}

func newBenchLatencyCommand(g *globalOptions) *cobra.Command {
	var o loadtest.LatencyOptions
	var size string
	return benchMode(g, "latency URL", "Paced sends against an echo server: round-trip percentiles",
		`Send messages to an echo server at --rate for --duration, each at its
scheduled time, and time each round trip. Reports p50/p90/p99/max and the
rate achieved; every message must come back.

  wstap bench latency ws://127.0.0.1:9001/echo --rate 1000 --duration 10s
`,
		func(fs *pflag.FlagSet) {
			fs.IntVar(&o.Rate, "rate", 1000, "messages a second")
			fs.StringVar(&size, "size", "128", "bytes per message, at least 32 (`SIZE`)")
			fs.DurationVar(&o.Duration, "duration", 5*time.Second, "how long to send")
			fs.BoolVar(&o.Binary, "binary", false, "binary messages instead of text")
		},
		func(ctx context.Context, url string, lo loadtest.Options) (*loadtest.Report, error) {
			n, err := benchSize("size", size, 32)
			if err != nil {
				return nil, err
			}
			if o.Rate <= 0 || o.Duration <= 0 {
				return nil, usagef("--rate and --duration must be above 0")
			}
			o.Options, o.Size = lo, int(n)
			return loadtest.Latency(ctx, url, o)
		})
}

func newBenchConnsCommand(g *globalOptions) *cobra.Command {
	var o loadtest.ConnsOptions
	var size string
	return benchMode(g, "conns URL", "Many connections at once, with a cross-talk check",
		`Open -n connections to an echo server at once; when all are open, each
sends --messages messages tagged with its connection number and a sequence
number and checks every echo is its own. An echo carrying another
connection's tag is cross-talk and fails the run. Reports connect time
p50/p99, round trips a second over all connections, and failures.

  wstap bench conns ws://127.0.0.1:9001/echo -n 200 --messages 50
`,
		func(fs *pflag.FlagSet) {
			fs.IntVarP(&o.N, "n", "n", 100, "connections at once")
			fs.IntVar(&o.Messages, "messages", 10, "messages each connection sends")
			fs.StringVar(&size, "size", "64", "bytes per message, at least 16 (`SIZE`)")
			fs.BoolVar(&o.Binary, "binary", false, "binary messages instead of text")
		},
		func(ctx context.Context, url string, lo loadtest.Options) (*loadtest.Report, error) {
			n, err := benchSize("size", size, 16)
			if err != nil {
				return nil, err
			}
			if o.N <= 0 || o.Messages <= 0 {
				return nil, usagef("-n and --messages must be above 0")
			}
			o.Options, o.Size = lo, int(n)
			return loadtest.Conns(ctx, url, o)
		})
}

func newBenchBigCommand(g *globalOptions) *cobra.Command {
	var o loadtest.BigOptions
	var size string
	return benchMode(g, "big URL", "One big message, echoed, with an integrity check",
		`Send one binary message of --size pseudo-random bytes (from --seed) to an
echo server and read the echo, comparing the SHA-256 of what was sent and
what came back. Both are streamed: the run holds the WebSocket buffers
(64 KiB each way), never the message. Reports the time and MB/s (the
message one way).

  wstap bench big ws://127.0.0.1:9001/echo --size 10MiB
`,
		func(fs *pflag.FlagSet) {
			fs.StringVar(&size, "size", "10MiB", "bytes in the message (`SIZE`: 1MiB, 16M, 64MiB)")
			fs.Uint64Var(&o.Seed, "seed", 1, "seed of the pseudo-random content")
		},
		func(ctx context.Context, url string, lo loadtest.Options) (*loadtest.Report, error) {
			n, err := benchSize("size", size, 1)
			if err != nil {
				return nil, err
			}
			o.Options, o.Size = lo, n
			return loadtest.Big(ctx, url, o)
		})
}

func newBenchServeCommand(g *globalOptions) *cobra.Command {
	var listen string
	var allowRemote bool
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "The built-in echo and push server",
		Long: `Serve /echo, which echoes every message with its opcode, and
/push?rate=N&size=S&count=C, which pushes C binary messages of S bytes at N
a second (0: as fast as it can; defaults rate=0, size=128, count=1000),
each starting with a big-endian sequence number (1, 2, 3 …) and a Unix
time in nanoseconds, then closes with 1000. Runs until interrupted.

  wstap bench serve --listen 127.0.0.1:9001
  wstap bench serve --listen 127.0.0.1:0     # any free port, printed
` + `
EXIT STATUS
  0  stopped by an interrupt
  1  cannot listen
  2  usage error (a bad or non-loopback --listen without --allow-remote)
`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runBenchServe(cmd.Context(), g, listen, allowRemote)
		},
	}
	cmd.Flags().StringVarP(&listen, "listen", "l", "127.0.0.1:9001", "address to listen on (port 0: any free port)")
	cmd.Flags().BoolVar(&allowRemote, "allow-remote", false, "allow a non-loopback --listen address")
	return cmd
}

func runBenchServe(ctx context.Context, g *globalOptions, listen string, allowRemote bool) error {
	if err := checkListen(listen, allowRemote); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return fmt.Errorf("listen %s: %w", listen, err)
	}
	srv := &http.Server{Handler: &loadtest.Server{}, ReadHeaderTimeout: 10 * time.Second}
	addr := ln.Addr().String()
	fmt.Fprintf(g.stderr, "bench server: ws://%s/echo and ws://%s/push\n", addr, addr)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		return fmt.Errorf("bench server: %w", err)
	case <-ctx.Done():
	}
	shut, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	srv.Shutdown(shut) // hijacked WebSocket connections are not waited for
	srv.Close()
	<-served
	return nil
}

// benchProgress redraws one line on stderr while a mode runs, on a
// terminal only.
type benchProgress struct {
	w     io.Writer
	mode  string
	tty   bool
	mu    sync.Mutex
	drawn bool
}

func newBenchProgress(w io.Writer, mode string) *benchProgress {
	f, ok := w.(*os.File)
	return &benchProgress{w: w, mode: mode, tty: ok && isTerminal(f)}
}

func (p *benchProgress) update(pr loadtest.Progress) {
	if !p.tty {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	line := fmt.Sprintf("\r\x1b[Kbench %s %5.1fs · %d messages · %s", p.mode, pr.Elapsed.Seconds(), pr.Messages, present.Bytes(pr.Bytes))
	if pr.Conns > 0 {
		line += fmt.Sprintf(" · %d connections open", pr.Conns)
	}
	fmt.Fprint(p.w, line)
	p.drawn = true
}

func (p *benchProgress) finish() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.drawn {
		fmt.Fprint(p.w, "\r\x1b[K")
	}
}

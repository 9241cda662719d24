package main

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"regexp"
	"testing"
	"time"
)

// runBench runs `wstap bench ARGS…` through its constructor.
func runBench(ctx context.Context, args ...string) (code int, stdout, stderr string) {
	var out, errOut bytes.Buffer
	cmd := newBenchCommand(&globalOptions{stdout: &out, stderr: &errOut})
	cmd.SetArgs(args)
	cmd.SetOut(&errOut)
	cmd.SetErr(&errOut)
	return exitCode(cmd.ExecuteContext(ctx)), out.String(), errOut.String()
}

// startRecord runs `wstap record` in process and returns its address.
func startRecord(t *testing.T, ctx context.Context, opts *recordOptions) string {
	t.Helper()
	stdout, stderr := newSyncBuffer(), newSyncBuffer()
	done := make(chan error, 1)
	ctx, cancel := context.WithCancel(ctx)
	go func() { done <- runRecord(ctx, &globalOptions{stdout: stdout, stderr: stderr}, opts, nil) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("record: %v\n%s", err, stderr.String())
		}
	})
	return waitListening(t, stdout)
}

func benchJSON(t *testing.T, out string) (r struct {
	Mode    string
	Params  map[string]any
	Results map[string]any
	OK      bool
}) {
	t.Helper()
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("bench --format json printed %q: %v", out, err)
	}
	return r
}

func TestBenchCommand(t *testing.T) {
	t.Setenv("WSTAP_HOME", t.TempDir())
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()

	// The built-in server, on any free port.
	serveErr := newSyncBuffer()
	serveCtx, stopServe := context.WithCancel(ctx)
	served := make(chan error, 1)
	go func() {
		served <- runBenchServe(serveCtx, &globalOptions{stdout: newSyncBuffer(), stderr: serveErr}, "127.0.0.1:0", false)
	}()
	defer func() {
		stopServe()
		if err := <-served; err != nil {
			t.Errorf("bench serve: %v", err)
		}
	}()
	var addr string
	re := regexp.MustCompile(`bench server: ws://(\S+)/echo and ws://\S+/push`)
	for deadline := time.Now().Add(10 * time.Second); addr == "" && time.Now().Before(deadline); {
		if m := re.FindStringSubmatch(serveErr.String()); m != nil {
			addr = m[1]
			break
		}
		select {
		case <-serveErr.wrote:
		case <-time.After(10 * time.Millisecond):
		}
	}
	if addr == "" {
		t.Fatalf("bench serve printed %q", serveErr.String())
	}

	// rtt through wstap record in reverse mode.
	rev := startRecord(t, ctx, &recordOptions{listen: "127.0.0.1:0", output: filepath.Join(t.TempDir(), "rev.wstap"), upstream: "ws://" + addr})
	code, out, errOut := runBench(ctx, "rtt", "ws://"+rev+"/echo", "--count", "100", "--size", "1k", "--window", "8", "--format", "json")
	if code != exitOK {
		t.Fatalf("bench rtt through record --upstream: exit %d\n%s%s", code, out, errOut)
	}
	r := benchJSON(t, out)
	if r.Mode != "rtt" || !r.OK || r.Params["size"] != 1000.0 || r.Results["messages"] != 100.0 || r.Results["mismatched"] != 0.0 {
		t.Errorf("bench rtt: %s", out)
	}
	if errOut != "" {
		t.Errorf("bench rtt wrote on stderr off a terminal: %q", errOut)
	}

	// big through wstap record as an explicit proxy.
	fwd := startRecord(t, ctx, &recordOptions{listen: "127.0.0.1:0", output: filepath.Join(t.TempDir(), "fwd.wstap")})
	code, out, errOut = runBench(ctx, "big", "ws://"+addr+"/echo", "--proxy", "http://"+fwd, "--size", "256KiB", "--format", "json")
	if code != exitOK {
		t.Fatalf("bench big --proxy: exit %d\n%s%s", code, out, errOut)
	}
	r = benchJSON(t, out)
	if r.Mode != "big" || !r.OK || r.Results["received"] != float64(256<<10) || r.Results["intact"] != true ||
		r.Results["sha256_sent"] != r.Results["sha256_received"] {
		t.Errorf("bench big: %s", out)
	}

	// The table, and the other modes directly.
	for _, args := range [][]string{
		{"push", "ws://" + addr + "/push", "--count", "30", "--size", "64"},
		{"latency", "ws://" + addr + "/echo", "--rate", "200", "--duration", "50ms"},
		{"conns", "ws://" + addr + "/echo", "-n", "5", "--messages", "3"},
	} {
		code, out, errOut := runBench(ctx, args...)
		if code != exitOK || !bytes.Contains([]byte(out), []byte("ok: every check held")) {
			t.Errorf("bench %v: exit %d\n%s%s", args, code, out, errOut)
		}
	}

	// Errors and usage errors.
	for _, tc := range []struct {
		args []string
		want int
	}{
		{[]string{"nosuchmode"}, exitUsage},
		{[]string{}, exitUsage},
		{[]string{"rtt", "ws://" + addr + "/echo", "--size", "12q"}, exitUsage},
		{[]string{"rtt", "ws://" + addr + "/echo", "--size", "8"}, exitUsage},
		{[]string{"rtt", "http://" + addr + "/echo"}, exitUsage},
		{[]string{"rtt", "ws://" + addr + "/echo", "--format", "xml"}, exitUsage},
		{[]string{"rtt", "ws://" + addr + "/echo", "--nosuchflag"}, exitUsage},
		{[]string{"serve", "--listen", "192.0.2.1:9001"}, exitUsage},
		{[]string{"rtt", "ws://" + addr + "/nowhere", "--count", "1"}, exitError},
	} {
		if code, out, errOut := runBench(ctx, tc.args...); code != tc.want {
			t.Errorf("bench %q: exit %d, want %d\n%s%s", tc.args, code, tc.want, out, errOut)
		}
	}
}

package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
)

func TestRecordFlags(t *testing.T) {
	var o recordOptions
	fs := pflag.NewFlagSet("record", pflag.ContinueOnError)
	o.AddFlags(fs)
	if o.maxBody != 1<<20 {
		t.Errorf("--max-body defaults to %d, want 1048576", o.maxBody)
	}
	err := fs.Parse([]string{"--ignore-hosts", "*.bank.example.test,pinned.example.test", "--ignore-hosts", "10.*",
		"--max-body", "4096", "--proxy-auth", "alice:s3cret", "--allow-remote", "--redact", "Authorization,Set-Cookie"})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(o.ignoreHosts, " "); got != "*.bank.example.test pinned.example.test 10.*" {
		t.Errorf("--ignore-hosts = %q", got)
	}
	if o.maxBody != 4096 || o.proxyAuth != "alice:s3cret" || !o.allowRemote || len(o.redact) != 2 {
		t.Errorf("parsed %+v", o)
	}
	// The credentials' environment fallback is not the flag's default,
	// which --help would print.
	t.Setenv("WSTAP_PROXY_AUTH", "bob:hunter2")
	var help bytes.Buffer
	fs2 := pflag.NewFlagSet("record", pflag.ContinueOnError)
	(&recordOptions{}).AddFlags(fs2)
	fs2.SetOutput(&help)
	fs2.PrintDefaults()
	if strings.Contains(help.String(), "hunter2") {
		t.Errorf("--help shows the credentials:\n%s", help.String())
	}
}

// TestRecordBadProxyOptions: options the proxy rejects are usage errors,
// and leave no capture behind.
func TestRecordBadProxyOptions(t *testing.T) {
	t.Setenv("WSTAP_HOME", t.TempDir())
	for _, args := range [][]string{
		{"--ignore-hosts", "[a-"},
		{"--ignore-hosts", "pinned.example.test:443"},
		{"--proxy-auth", "no-colon"},
		{"--max-body", "-1"},
		{"--heartbeat-timeout", "1s"},
		{"--heartbeat", "-1s"},
	} {
		path := filepath.Join(t.TempDir(), "bad.wstap")
		var out, errOut bytes.Buffer
		code := run(append([]string{"record", "--listen", "127.0.0.1:0", "-o", path}, args...), &out, &errOut)
		if code != exitUsage || strings.Count(errOut.String(), "\n") != 1 {
			t.Errorf("record %q: status %d, stderr %q; want 2 and one line", args, code, errOut.String())
		}
		if _, err := os.Stat(path); err == nil {
			t.Errorf("record %q left %s behind", args, path)
		}
	}
}

// TestRecordHTTPExchange records a plain HTTP exchange through `wstap
// record`, checks the summary line, and finds the exchange with `wstap ls`
// and `wstap show`.
func TestRecordHTTPExchange(t *testing.T) {
	t.Setenv("WSTAP_HOME", t.TempDir())
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "hello over plain HTTP")
	}))
	t.Cleanup(up.Close)
	path := filepath.Join(t.TempDir(), "http.wstap")
	rec := startRecording(t, &recordOptions{listen: "127.0.0.1:0", output: path, maxBody: 5, proxyAuth: "alice:s3cret"})
	addr := rec.addr

	pu := &url.URL{Scheme: "http", Host: addr, User: url.UserPassword("alice", "s3cret")}
	client := &http.Client{Transport: &http.Transport{Proxy: http.ProxyURL(pu)}, Timeout: 10 * time.Second}
	resp, err := client.Get(up.URL + "/greeting")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "hello over plain HTTP" {
		t.Fatalf("body %q", body)
	}
	client.CloseIdleConnections()

	summary := rec.stop(t)
	if !strings.Contains(summary, "and 1 HTTP exchange(s) into "+path) {
		t.Errorf("summary %q does not count the HTTP exchange", summary)
	}

	var out, lsErr bytes.Buffer
	if code := run([]string{"ls", path}, &out, &lsErr); code != 0 {
		t.Fatalf("wstap ls: status %d: %s", code, lsErr.String())
	}
	t.Logf("wstap ls:\n%s", out.String())
	if !strings.Contains(out.String(), up.URL+"/greeting") || !strings.Contains(out.String(), "GET") {
		t.Errorf("wstap ls does not list the exchange:\n%s", out.String())
	}
	out.Reset()
	if code := run([]string{"show", "--format", "jsonl", path}, &out, &lsErr); code != 0 {
		t.Fatalf("wstap show: status %d: %s", code, lsErr.String())
	}
	want := fmt.Sprintf(`"url":%q`, up.URL+"/greeting")
	if !strings.Contains(out.String(), `"type":"http"`) || !strings.Contains(out.String(), want) ||
		!strings.Contains(out.String(), `"response_body":"hello"`) || !strings.Contains(out.String(), `"response_body_truncated":true`) {
		t.Errorf("wstap show --format jsonl lacks the exchange, cut at --max-body 5:\n%s", out.String())
	}
	if strings.Contains(out.String(), "s3cret") || strings.Contains(out.String(), "Proxy-Authorization") {
		t.Errorf("the capture holds the proxy credentials:\n%s", out.String())
	}
}

// recording is `wstap record` running in-process (runRecord).
type recording struct {
	addr   string // the address it listens on
	cancel context.CancelFunc
	lines  chan string // stdout
	done   chan error
	errOut *bytes.Buffer
}

// startRecording runs runRecord with opts until the test calls stop.
func startRecording(t *testing.T, opts *recordOptions) *recording {
	t.Helper()
	pr, pw := io.Pipe()
	rec := &recording{lines: make(chan string, 16), done: make(chan error, 1), errOut: &bytes.Buffer{}}
	g := &globalOptions{stdout: pw, stderr: rec.errOut}
	ctx, cancel := context.WithCancel(t.Context())
	rec.cancel = cancel
	t.Cleanup(cancel)
	go func() {
		rec.done <- runRecord(ctx, g, opts, nil)
		pw.Close()
	}()
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			rec.lines <- sc.Text()
		}
		close(rec.lines)
	}()
	for rec.addr == "" {
		select {
		case l, ok := <-rec.lines:
			if !ok {
				t.Fatalf("wstap record ended before listening: %v %s", <-rec.done, rec.errOut.String())
			}
			if f := strings.Fields(l); len(f) == 2 && f[0] == "listening" {
				rec.addr = f[1]
			}
		case <-time.After(20 * time.Second):
			t.Fatal("wstap record did not start")
		}
	}
	return rec
}

// stop interrupts the recorder, checks that it succeeded and returns its
// summary line.
func (r *recording) stop(t *testing.T) string {
	t.Helper()
	r.cancel()
	var summary string
	for l := range r.lines {
		if strings.HasPrefix(l, "recorded ") {
			summary = l
		}
	}
	if err := <-r.done; err != nil {
		t.Fatalf("runRecord: %v\n%s", err, r.errOut.String())
	}
	return summary
}

// TestCheckListen: --listen takes loopback addresses only, unless
// --allow-remote, by internal/netaddr's rule, the proxy's too (issue 7).
func TestCheckListen(t *testing.T) {
	for _, tc := range []struct {
		addr        string
		allowRemote bool
		ok          bool
	}{
		{"127.0.0.1:8080", false, true},
		{"127.1.2.3:0", false, true},
		{"[::1]:0", false, true},
		{"localhost:0", false, true},
		{"LOCALHOST:0", false, true},
		{"0.0.0.0:8080", false, false},
		{"[::]:8080", false, false},
		{":8080", false, false},
		{"10.0.0.1:8080", false, false},
		{"example.test:8080", false, false},
		{"0.0.0.0:8080", true, true},
		{"example.test:8080", true, true},
		{"127.0.0.1", false, false}, // no port
		{"127.0.0.1", true, false},
	} {
		err := checkListen(tc.addr, tc.allowRemote)
		var ue *usageError
		if (err == nil) != tc.ok || (err != nil && !errors.As(err, &ue)) {
			t.Errorf("checkListen(%q, allowRemote %v) = %v, want ok %v (or a usage error)", tc.addr, tc.allowRemote, err, tc.ok)
		}
	}
}

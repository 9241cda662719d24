package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"testing"
	"time"
)

// TestRecordDebugAddr: --debug-addr serves pprof and the counters on
// loopback, and the counters are the proxy's and the capture's own.
func TestRecordDebugAddr(t *testing.T) {
	t.Setenv("WSTAP_HOME", t.TempDir())
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	stdout, stderr := newSyncBuffer(), newSyncBuffer()
	opts := &recordOptions{listen: "127.0.0.1:0", upstream: echoUpstream(t), output: filepath.Join(t.TempDir(), "d.wstap"),
		debugAddr: "127.0.0.1:0", maxBody: 1 << 20}
	rctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- runRecord(rctx, &globalOptions{stdout: stdout, stderr: stderr}, opts, nil) }()
	defer func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("record: %v\n%s", err, stderr.String())
		}
	}()
	addr := waitListening(t, stdout)
	m := regexp.MustCompile(`debug +http://(\S+)/debug/pprof/ and /debug/vars`).FindStringSubmatch(stdout.String())
	if m == nil {
		t.Fatalf("record did not say where the debug server is:\n%s", stdout.String())
	}
	c := talk(t, addr, 3)
	c.Close()

	get := func(path string) []byte {
		t.Helper()
		resp, err := http.Get("http://" + m[1] + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %s", path, resp.Status)
		}
		return body
	}
	if body := get("/debug/pprof/goroutine?debug=1"); !regexp.MustCompile(`goroutine profile: total \d+`).Match(body) {
		t.Errorf("/debug/pprof/goroutine is not a goroutine profile: %.200s", body)
	}
	var vars struct {
		Wstap struct {
			Goroutines int
			FDs        int `json:"fds"`
			Proxy      map[string]int64
			Capture    map[string]int64
		}
		Memstats map[string]any
	}
	// The capture's counters move once the writer has flushed.
	for deadline := time.Now().Add(10 * time.Second); ; {
		body := get("/debug/vars")
		if err := json.Unmarshal(body, &vars); err != nil {
			t.Fatalf("/debug/vars is not JSON: %v\n%s", err, body)
		}
		if vars.Wstap.Capture["records"] > 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if p := vars.Wstap.Proxy; p["total"] != 1 || p["messages"] < 6 {
		t.Errorf("/debug/vars proxy = %v, want 1 connection and its 6 messages at least", p)
	}
	if c := vars.Wstap.Capture; c["records"] == 0 {
		t.Errorf("/debug/vars capture = %v, want its records counted", c)
	}
	if vars.Wstap.Goroutines == 0 || vars.Wstap.FDs == 0 || vars.Memstats == nil {
		t.Errorf("/debug/vars lacks goroutines (%d), fds (%d) or Go's memstats", vars.Wstap.Goroutines, vars.Wstap.FDs)
	}
}

func TestDebugAddrRefused(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:6060", "192.0.2.1:6060", "nonsense"} {
		_, err := serveDebug(addr, debugVars{})
		var u *usageError
		if !errors.As(err, &u) {
			t.Errorf("serveDebug(%q) = %v, want a usage error", addr, err)
		}
	}
}

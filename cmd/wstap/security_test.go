package main

import (
	"bytes"
	"errors"
	"io/fs"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/wstap/wstap/capture"
	"github.com/wstap/wstap/proxy"
)

// smallDisk mounts a tmpfs of size bytes for the test, unmounted when it
// ends; it skips the test when it cannot (not root, no mount).
func smallDisk(t *testing.T, size string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("a real full disk needs a tmpfs, which only root may mount")
	}
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size, "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs of %s: %v %s", size, err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v %s", dir, err, out)
		}
	})
	return dir
}

// TestRecordDiskFullSummary records onto a real 256 KiB tmpfs until it is
// full. The relay goes on; the summary and the error count what the file
// really holds, as capture.Open reads it back, say when recording stopped
// and why, and name the file once (issue 12, item 2).
func TestRecordDiskFullSummary(t *testing.T) {
	t.Setenv("WSTAP_HOME", t.TempDir())
	path := filepath.Join(smallDisk(t, "256k"), "full.wstap")
	rec := startRecording(t, &recordOptions{listen: "127.0.0.1:0", output: path, upstream: echoUpstream(t), maxBody: 1 << 20})
	start := time.Now().Truncate(time.Second)
	const conns, perConn, size = 4, 40, 4 << 10 // 640 KiB of random payloads, echoed: 1.25 MiB
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range conns {
		c, _, err := websocket.DefaultDialer.Dial("ws://"+rec.addr+"/full", nil)
		if err != nil {
			t.Fatalf("connection %d: %v", i, err)
		}
		msg := make([]byte, size)
		for j := range perConn {
			for k := range msg {
				msg[k] = byte(rng.Uint32())
			}
			c.SetReadDeadline(time.Now().Add(10 * time.Second))
			if err := c.WriteMessage(websocket.BinaryMessage, msg); err != nil {
				t.Fatalf("connection %d, message %d: %v", i, j, err)
			}
			if _, p, err := c.ReadMessage(); err != nil || !bytes.Equal(p, msg) {
				t.Fatalf("connection %d, echo %d: %d bytes, %v: the relay must go on past a full disk", i, j, len(p), err)
			}
		}
		c.Close()
	}
	rec.cancel()
	var summary string
	for l := range rec.lines {
		if strings.HasPrefix(l, "relayed ") || strings.HasPrefix(l, "recorded ") {
			summary = l
		}
	}
	err := <-rec.done
	end := time.Now()
	if err == nil || exitCode(err) != exitError {
		t.Fatalf("runRecord = %v (status %d), want a failure (status 1)", err, exitCode(err))
	}
	msg := err.Error()
	t.Logf("summary: %s\nerror: %s", summary, msg)

	r, oerr := capture.Open(path)
	if oerr != nil {
		t.Fatal(oerr)
	}
	defer r.Close()
	var heldConns, heldMsgs int64
	for _, s := range r.Conns() {
		heldConns++
		heldMsgs += s.Messages[0] + s.Messages[1] + s.Messages[2]
	}
	if heldMsgs >= 2*conns*perConn {
		t.Fatalf("the capture holds all %d messages: the disk never filled", heldMsgs)
	}
	m := regexp.MustCompile(`^recording stopped at (\d\d:\d\d:\d\d): write ` + regexp.QuoteMeta(path) +
		`: no space left on device; the capture holds (\d+) connection\(s\), (\d+) message\(s\) up to then; traffic went on being relayed$`).FindStringSubmatch(msg)
	if m == nil {
		t.Fatalf("error %q, want it to say when recording stopped, why, naming the file once, and what the capture holds", msg)
	}
	if n, _ := strconv.ParseInt(m[2], 10, 64); n != heldConns {
		t.Errorf("the error says the capture holds %d connection(s); capture.Open finds %d", n, heldConns)
	}
	if n, _ := strconv.ParseInt(m[3], 10, 64); n != heldMsgs {
		t.Errorf("the error says the capture holds %d message(s); capture.Open finds %d", n, heldMsgs)
	}
	if at, perr := time.ParseInLocation(time.TimeOnly, m[1], time.Local); perr != nil {
		t.Errorf("stop time %q: %v", m[1], perr)
	} else if at = time.Date(start.Year(), start.Month(), start.Day(), at.Hour(), at.Minute(), at.Second(), 0, time.Local); at.Before(start) || at.After(end) {
		t.Errorf("recording stopped at %s, want between %s and %s", m[1], start.Format(time.TimeOnly), end.Format(time.TimeOnly))
	}
	wantSummary := "relayed " + strconv.Itoa(conns) + " WebSocket connection(s), " + strconv.Itoa(2*conns*perConn) + " message(s)"
	held := path + " holds " + strconv.FormatInt(heldConns, 10) + " connection(s), " + strconv.FormatInt(heldMsgs, 10) + " message(s)"
	if !strings.HasPrefix(summary, wantSummary) || !strings.Contains(summary, held) || strings.Contains(summary, "recorded "+strconv.Itoa(conns)) {
		t.Errorf("summary %q, want it to start %q and say %q", summary, wantSummary, held)
	}
	if n := strings.Count(rec.errOut.String(), "no space left on device"); n > 1 {
		t.Errorf("stderr reports the failure %d times:\n%s", n, rec.errOut.String())
	}
}

// TestCounterLineShowsFailure: the live counter says that recording
// stopped, and why, once the capture fails (issue 12, item 2).
func TestCounterLineShowsFailure(t *testing.T) {
	p, err := proxy.New(proxy.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if line := counterLine(p.Counters(), nil); strings.Contains(line, "STOPPED") {
		t.Errorf("counterLine(no error) = %q, want no failure", line)
	}
	full := &fs.PathError{Op: "write", Path: "captures/x.wstap", Err: errors.New("no space left on device")}
	line := counterLine(p.Counters(), full)
	if !strings.HasSuffix(line, " | RECORDING STOPPED: no space left on device") {
		t.Errorf("counterLine(%v) = %q, want it to end with the failure", full, line)
	}
}

// TestRecordRefusesToOverwrite: -o never replaces an existing file unless
// --force is given (issue 12, item 12).
func TestRecordRefusesToOverwrite(t *testing.T) {
	t.Setenv("WSTAP_HOME", t.TempDir())
	path := filepath.Join(t.TempDir(), "old.wstap")
	if err := os.WriteFile(path, []byte("an earlier capture"), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	code := run([]string{"record", "--listen", "127.0.0.1:0", "-o", path}, &out, &errOut)
	if want := "wstap: " + path + " exists; pass --force to overwrite it\n"; code != exitError || errOut.String() != want {
		t.Errorf("record -o over a file: status %d, stderr %q; want 1 and %q", code, errOut.String(), want)
	}
	if b, _ := os.ReadFile(path); string(b) != "an earlier capture" {
		t.Errorf("the file was changed to %q", b)
	}

	rec := startRecording(t, &recordOptions{listen: "127.0.0.1:0", output: path, force: true, maxBody: 1 << 20})
	rec.stop(t)
	r, err := capture.Open(path)
	if err != nil {
		t.Fatalf("after --force, %s is not a capture: %v", path, err)
	}
	r.Close()
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("the replaced capture: %v, mode %v; want 0600", err, fi.Mode().Perm())
	}

	dir := filepath.Join(t.TempDir(), "adir")
	os.Mkdir(dir, 0o700)
	errOut.Reset()
	if code := run([]string{"record", "--listen", "127.0.0.1:0", "-o", dir, "--force"}, &out, &errOut); code != exitError {
		t.Errorf("record -o DIR --force: status %d, want 1: %s", code, errOut.String())
	}
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		t.Errorf("--force removed the directory %s: %v", dir, err)
	}
}

// TestRecordFileModes: wstap record makes the CA directory 0700 and its
// key 0600, the default captures directory 0700 and the capture 0600
// (issue 12, item 12: captures hold secrets, the CA key is a skeleton key).
func TestRecordFileModes(t *testing.T) {
	home := filepath.Join(t.TempDir(), "home")
	t.Setenv("WSTAP_HOME", home)
	t.Chdir(t.TempDir())
	rec := startRecording(t, &recordOptions{listen: "127.0.0.1:0", maxBody: 1 << 20})
	rec.stop(t)
	caps, _ := filepath.Glob(filepath.Join("captures", "*.wstap"))
	keys, _ := filepath.Glob(filepath.Join(home, "*", "ca-key.pem"))
	keys2, _ := filepath.Glob(filepath.Join(home, "ca-key.pem"))
	keys = append(keys, keys2...)
	if len(caps) != 1 || len(keys) != 1 {
		t.Fatalf("captures %q, CA keys %q; want one of each", caps, keys)
	}
	for path, want := range map[string]fs.FileMode{caps[0]: 0o600, "captures": 0o700, keys[0]: 0o600, filepath.Dir(keys[0]): 0o700} {
		if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != want {
			t.Errorf("%s: %v, mode %v; want %v", path, err, fi.Mode().Perm(), want)
		}
	}
}

// TestRecordLoopbackByDefault: record listens on loopback by default,
// refuses another address without --allow-remote (status 2), and warns
// when --allow-remote comes without --proxy-auth (issue 12, item 12).
func TestRecordLoopbackByDefault(t *testing.T) {
	t.Setenv("WSTAP_HOME", t.TempDir())
	t.Setenv("WSTAP_LISTEN", "")
	t.Setenv("WSTAP_PROXY_AUTH", "")
	cmd := newRecordCommand(&globalOptions{})
	if def := cmd.Flags().Lookup("listen").DefValue; !strings.HasPrefix(def, "127.0.0.1:") {
		t.Errorf("--listen defaults to %q, want a loopback address", def)
	}
	var out, errOut bytes.Buffer
	code := run([]string{"record", "--listen", "0.0.0.0:0", "-o", filepath.Join(t.TempDir(), "x.wstap")}, &out, &errOut)
	if code != exitUsage || !strings.Contains(errOut.String(), "--allow-remote") {
		t.Errorf("record --listen 0.0.0.0:0: status %d, stderr %q; want 2 naming --allow-remote", code, errOut.String())
	}
	for _, tc := range []struct {
		auth string
		warn bool
	}{{"", true}, {"alice:s3cret-pw", false}} {
		rec := startRecording(t, &recordOptions{listen: "127.0.0.1:0", allowRemote: true, proxyAuth: tc.auth,
			output: filepath.Join(t.TempDir(), "r.wstap"), maxBody: 1 << 20})
		rec.stop(t)
		if got := strings.Contains(rec.errOut.String(), "--allow-remote without --proxy-auth"); got != tc.warn {
			t.Errorf("--allow-remote --proxy-auth %q: warned %v, want %v: %q", tc.auth, got, tc.warn, rec.errOut.String())
		}
	}
}

// TestRecordNoSecretsInLogs: neither the --proxy-auth password nor the
// value of a --redact header reaches stdout, stderr or the capture, which
// holds the placeholder instead, through refusals and failures that log
// (issue 12, item 12).
func TestRecordNoSecretsInLogs(t *testing.T) {
	t.Setenv("WSTAP_HOME", t.TempDir())
	const password, token = "s3cret-pw", "tok-secret-42"
	path := filepath.Join(t.TempDir(), "secrets.wstap")
	rec := startRecording(t, &recordOptions{listen: "127.0.0.1:0", output: path, proxyAuth: "alice:" + password,
		redact: []string{"Authorization"}, maxBody: 1 << 20})
	up := echoUpstream(t)
	dead, _ := net.Listen("tcp", "127.0.0.1:0")
	deadURL := "ws://" + dead.Addr().String() + "/dead"
	dead.Close()
	hdr := http.Header{"Authorization": {"Bearer " + token}}
	for _, tc := range []struct {
		creds, target string
		ok            bool
	}{{"alice:" + password, up + "/ok", true}, {"alice:wrong-" + password, up + "/bad", false}, {"alice:" + password, deadURL, false}} {
		u, p, _ := strings.Cut(tc.creds, ":")
		pu := &url.URL{Scheme: "http", Host: rec.addr, User: url.UserPassword(u, p)}
		c, _, err := (&websocket.Dialer{Proxy: http.ProxyURL(pu), HandshakeTimeout: 10 * time.Second}).Dial(tc.target, hdr)
		if (err == nil) != tc.ok {
			t.Fatalf("dial %s: %v, want ok=%v", tc.target, err, tc.ok)
		}
		if err == nil {
			c.WriteMessage(websocket.TextMessage, []byte("hello"))
			c.SetReadDeadline(time.Now().Add(10 * time.Second))
			c.ReadMessage()
			c.Close()
		}
	}
	var stdout strings.Builder
	rec.cancel()
	for l := range rec.lines {
		stdout.WriteString(l + "\n")
	}
	if err := <-rec.done; err != nil {
		t.Fatal(err)
	}
	logs := stdout.String() + rec.errOut.String()
	if !strings.Contains(logs, "level=WARN") {
		t.Errorf("nothing was logged of the failed upgrade; the test proves nothing:\n%s", logs)
	}
	var show, showErr bytes.Buffer
	if code := run([]string{"show", "--format", "jsonl", path}, &show, &showErr); code != 0 {
		t.Fatalf("wstap show: %d %s", code, showErr.String())
	}
	for what, text := range map[string]string{"the output and logs": logs, "the capture": show.String()} {
		for _, secret := range []string{password, token} {
			if strings.Contains(text, secret) {
				t.Errorf("%s: %q appears in it:\n%s", what, secret, text)
			}
		}
	}
	if !strings.Contains(show.String(), capture.Redaction) {
		t.Errorf("the capture lacks the placeholder %q:\n%s", capture.Redaction, show.String())
	}
}

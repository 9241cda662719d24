package main

import (
	"bufio"
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/wstap/wstap/capture"
)

// TestRecordChild is not a test: it is `wstap record` run as a child process
// by TestRecordStopAndKill.
func TestRecordChild(t *testing.T) {
	if os.Getenv("WSTAP_RECORD_CHILD") != "1" {
		t.Skip("child process of TestRecordStopAndKill")
	}
	args := strings.Split(os.Getenv("WSTAP_RECORD_ARGS"), "\x1f")
	os.Exit(run(args, os.Stdout, os.Stderr))
}

// startRecordChild runs `wstap record` in a child process and returns it with
// the address it listens on.
func startRecordChild(t *testing.T, args ...string) (*exec.Cmd, string, *bytes.Buffer) {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestRecordChild$")
	cmd.Env = append(os.Environ(), "WSTAP_RECORD_CHILD=1", "WSTAP_HOME="+t.TempDir(),
		"WSTAP_RECORD_ARGS="+strings.Join(append([]string{"record"}, args...), "\x1f"))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if f := strings.Fields(sc.Text()); len(f) == 2 && f[0] == "listening" {
				addr <- f[1]
			}
		}
		close(addr)
	}()
	select {
	case a, ok := <-addr:
		if !ok {
			t.Fatalf("wstap record exited before listening: %s", stderr.String())
		}
		return cmd, a, &stderr
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("wstap record did not start: %s", stderr.String())
	}
	return nil, "", nil
}

func echoUpstream(t *testing.T) string {
	up := websocket.Upgrader{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		for {
			mt, p, err := c.ReadMessage()
			if err != nil {
				return
			}
			c.WriteMessage(mt, p)
		}
	}))
	t.Cleanup(srv.Close)
	return "ws" + strings.TrimPrefix(srv.URL, "http")
}

// talk sends n messages through the proxy and waits for their echoes.
func talk(t *testing.T, addr string, n int) *websocket.Conn {
	t.Helper()
	c, _, err := websocket.DefaultDialer.Dial("ws://"+addr+"/live", nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		msg := fmt.Sprintf("message %d", i)
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		if err := c.WriteMessage(websocket.TextMessage, []byte(msg)); err != nil {
			t.Fatal(err)
		}
		if _, p, err := c.ReadMessage(); err != nil || string(p) != msg {
			t.Fatalf("echo %d = %q, %v", i, p, err)
		}
	}
	return c
}

func capturedTexts(t *testing.T, path string) (texts []string, r *capture.Reader) {
	t.Helper()
	r, err := capture.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	for rec, err := range r.Messages(capture.Filter{}, capture.AssembleOptions{}) {
		if err != nil {
			continue // a torn tail after a kill
		}
		if m, ok := rec.(*capture.Message); ok && m.Dir == capture.ClientToServer && m.Opcode == capture.OpText {
			texts = append(texts, string(m.Data))
		}
	}
	return texts, r
}

func TestRecordStopAndKill(t *testing.T) {
	if testing.Short() {
		t.Skip("runs wstap record in child processes")
	}
	upstream := echoUpstream(t)

	t.Run("SIGINT", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "stop.wstap")
		cmd, addr, stderr := startRecordChild(t, "--listen", "127.0.0.1:0", "-o", path, "--upstream", upstream)
		c := talk(t, addr, 20)
		defer c.Close()
		cmd.Process.Signal(os.Interrupt)
		// The live connection is closed by the proxy with 1001.
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, _, err := c.ReadMessage()
		if !websocket.IsCloseError(err, websocket.CloseGoingAway) {
			t.Errorf("client saw %v, want close 1001", err)
		}
		c.Close()
		if err := cmd.Wait(); err != nil {
			t.Fatalf("wstap record after SIGINT: %v\n%s", err, stderr)
		}
		texts, r := capturedTexts(t, path)
		if !r.Complete() || len(texts) != 20 {
			t.Errorf("capture complete=%v with %d client messages, want complete with 20", r.Complete(), len(texts))
		}
		if cs := r.Conns(); len(cs) != 1 || cs[0].CloseCode != 1001 || cs[0].CloseFrom != "proxy" {
			t.Errorf("conns = %+v, want one closed 1001 by the proxy", cs)
		}
	})

	t.Run("SIGKILL", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "kill.wstap")
		cmd, addr, _ := startRecordChild(t, "--listen", "127.0.0.1:0", "-o", path, "--upstream", upstream)
		c := talk(t, addr, 50)
		defer c.Close()
		// DESIGN §3: what was handed over 100 ms before a kill survives it.
		time.Sleep(300 * time.Millisecond)
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
		texts, r := capturedTexts(t, path)
		if r.Complete() {
			t.Error("a killed recorder's capture claims a clean close")
		}
		if len(texts) != 50 || texts[0] != "message 0" || texts[49] != "message 49" {
			t.Errorf("capture after SIGKILL holds %d client messages, want all 50", len(texts))
		}
	})
}

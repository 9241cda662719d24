package proxy

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/wstap/wstap/capture"
)

// browserPage opens a WebSocket to its own origin's /ws with subprotocol
// chat.v1, sends a few messages, and collects the echoes.
const browserPage = `<!doctype html><meta charset="utf-8"><title>wstap browser test</title>
<script>
window.results = {received: [], protocol: null, error: null};
const sent = ["hello from chromium", "ünïcødé ✓ 👋", JSON.stringify({n: 1, list: [1, 2, 3]})];
const ws = new WebSocket("wss://" + location.host + "/ws", ["chat.v1", "chat.v0"]);
ws.binaryType = "arraybuffer";
ws.onopen = () => { window.results.protocol = ws.protocol; sent.forEach((m) => ws.send(m)); ws.send(new Uint8Array([0, 1, 2, 255]).buffer); };
ws.onmessage = (e) => {
  window.results.received.push(typeof e.data === "string" ? e.data : "bin:" + Array.from(new Uint8Array(e.data)).join(","));
  if (window.results.received.length === sent.length + 1) ws.close(4000, "browser done");
};
ws.onclose = (e) => { window.results.close = e.code; window.done = true; };
ws.onerror = () => { window.results.error = "websocket error"; };
</script>`

// findBrowser returns node, the module directory holding playwright-core,
// and Chromium; or skips (fails under CI=true) when one is missing.
func findBrowser(t *testing.T) (node, modules, chromium string) {
	t.Helper()
	skip := func(msg string) {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true but %s; .ci/run installs it", msg)
		}
		t.Skip(msg + " (bash .ci/run installs it)")
	}
	var err error
	if node, err = exec.LookPath("node"); err != nil {
		skip("node is not installed")
	}
	chromium = os.Getenv("CHROMIUM")
	if chromium == "" {
		chromium = "/usr/bin/chromium"
	}
	if _, err := os.Stat(chromium); err != nil {
		skip("Debian's chromium is not installed")
	}
	for _, dir := range []string{os.Getenv("WSTAP_NODE_MODULES"), filepath.Join("..", ".ci", "node", "node_modules")} {
		if dir == "" {
			continue
		}
		if _, err := os.Stat(filepath.Join(dir, "playwright-core")); err == nil {
			modules, _ = filepath.Abs(dir)
			return node, modules, chromium
		}
	}
	skip("npm's playwright-core is not installed")
	return
}

func TestBrowserThroughExplicitProxy(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Chromium")
	}
	node, modules, chromium := findBrowser(t)

	// A wss:// site on loopback with its own CA; wstap trusts that CA.
	upCA := testCA(t)
	certPEM, keyPEM, err := upCA.IssueServer([]string{"127.0.0.1"}, 0)
	if err != nil {
		t.Fatal(err)
	}
	kp, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	originSeen := make(chan string, 1)
	up := websocket.Upgrader{Subprotocols: []string{"chat.v1"}, CheckOrigin: func(r *http.Request) bool {
		select {
		case originSeen <- r.Header.Get("Origin"):
		default:
		}
		return true
	}}
	site := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/ws" {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			fmt.Fprint(w, browserPage)
			return
		}
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
	site.TLS = &tls.Config{Certificates: []tls.Certificate{kp}}
	site.StartTLS()
	t.Cleanup(site.Close)

	ca := testCA(t)
	_, srv, finish := recordingProxy(t, Options{GetCertificate: ca.GetCertificate,
		UpstreamTLS: &tls.Config{RootCAs: upCA.Pool()}})

	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, filepath.Join("testdata", "browser", "run.js"),
		site.URL+"/", srv.URL, t.TempDir())
	cmd.Env = append(os.Environ(), "NODE_PATH="+modules, "CHROMIUM="+chromium)
	cmd.WaitDelay = 5 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("browser run: %v\n%s", err, stderr.String())
	}
	var res struct {
		Received []string `json:"received"`
		Protocol string   `json:"protocol"`
		Error    *string  `json:"error"`
		Close    int      `json:"close"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &res); err != nil {
		t.Fatalf("browser output %q: %v\n%s", stdout.String(), err, stderr.String())
	}
	want := []string{"hello from chromium", "ünïcødé ✓ 👋", `{"n":1,"list":[1,2,3]}`, "bin:0,1,2,255"}
	if res.Protocol != "chat.v1" || strings.Join(res.Received, "|") != strings.Join(want, "|") || res.Error != nil || res.Close != 4000 {
		t.Fatalf("page saw protocol %q, echoes %q, error %v, close %d; want chat.v1, %q, none, 4000", res.Protocol, res.Received, res.Error, res.Close, want)
	}
	origin := <-originSeen

	r := finish()
	var conn *capture.ConnSummary
	for _, c := range r.Conns() {
		if strings.HasSuffix(c.URL, "/ws") {
			conn = &c
		}
	}
	if conn == nil || conn.Subprotocol != "chat.v1" || conn.Mode != "connect" || conn.CloseCode != 4000 {
		t.Fatalf("capture connections = %+v, want the page's wss://…/ws with chat.v1 closed 4000", r.Conns())
	}
	var texts []string
	var open *capture.ConnOpen
	for rec, err := range r.Messages(capture.Filter{Conn: conn.Conn}, capture.AssembleOptions{}) {
		if err != nil {
			t.Fatal(err)
		}
		switch rec := rec.(type) {
		case *capture.ConnOpen:
			open = rec
		case *capture.Message:
			if rec.Dir == capture.ClientToServer && !rec.Opcode.IsControl() {
				if rec.Opcode == capture.OpBinary {
					texts = append(texts, fmt.Sprintf("bin:%d,%d,%d,%d", rec.Data[0], rec.Data[1], rec.Data[2], rec.Data[3]))
				} else {
					texts = append(texts, string(rec.Data))
				}
			}
		}
	}
	if strings.Join(texts, "|") != strings.Join(want, "|") {
		t.Errorf("capture holds the browser's messages %q, want %q", texts, want)
	}
	if open == nil || open.RequestHeaders.Get("Origin") != origin || origin != site.URL {
		t.Errorf("recorded Origin %q, server saw %q, want %q", open.RequestHeaders.Get("Origin"), origin, site.URL)
	}
	if !strings.Contains(conn.Extensions, "permessage-deflate") && open.RequestHeaders.Get("Sec-WebSocket-Extensions") == "" {
		t.Logf("note: no permessage-deflate offered by this Chromium")
	}
}

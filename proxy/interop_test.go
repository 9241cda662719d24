package proxy

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wstap/wstap/capture"
	"github.com/wstap/wstap/internal/peertest"
)

// Interop tests: real third-party WebSocket peers talk through wstap.
// Python's websockets (Debian's python3-websockets) and Node's ws (npm,
// installed by .ci/run into .ci/node) play client and server in turn, in
// reverse mode and through a CONNECT tunnel. The scripts live in
// testdata/interop; they follow a plan (interopPlan) the test writes, and
// report what they received as JSON. The test checks both peers' reports
// and the capture against the plan.

const (
	interopDir     = "testdata/interop"
	interopTimeout = 25 * time.Second // one case, processes included
	interopPath    = "/interop?peer=1"
)

// interopMsg is one message of the plan: a text message's fragments as
// strings, a binary message's as base64. One fragment means one frame.
type interopMsg struct {
	Type  string   `json:"type"` // "text" or "binary"
	Frags []string `json:"frags"`
}

func (m interopMsg) payload() []byte {
	var b []byte
	for _, f := range m.Frags {
		if m.Type == "text" {
			b = append(b, f...)
			continue
		}
		p, err := base64.StdEncoding.DecodeString(f)
		if err != nil {
			panic(err)
		}
		b = append(b, p...)
	}
	return b
}

// interopPlan is what the peer scripts read: what each side sends.
type interopPlan struct {
	ClientMsgs   []interopMsg `json:"client_msgs"`
	ServerMsgs   []interopMsg `json:"server_msgs"`
	Offer        []string     `json:"offer"`  // subprotocols the client offers, in order
	Accept       string       `json:"accept"` // the one the server supports
	ClientPing   string       `json:"client_ping"`
	ServerPing   string       `json:"server_ping"`
	CloseRequest string       `json:"close_request"` // a text message asking the server to close
	CloseCode    int          `json:"close_code"`
	CloseReason  string       `json:"close_reason"`
}

// interopReport is what a peer script prints when its connection is over.
type interopReport struct {
	Path        string `json:"path"`    // server: the request target it saw
	Offered     string `json:"offered"` // server: the Sec-WebSocket-Protocol it was offered
	Subprotocol string `json:"subprotocol"`
	Extensions  string `json:"extensions"`
	Received    []struct {
		Type string `json:"type"`
		Data string `json:"data"` // base64 for binary
	} `json:"received"`
	Pongs []string  `json:"pongs"`
	Pings *[]string `json:"pings"` // nil when the library does not report pings
	Close *struct {
		Code   int    `json:"code"`
		Reason string `json:"reason"`
	} `json:"close"`
}

// interopWant is a whole message as a peer or the capture should see it.
type interopWant struct {
	text bool
	data []byte
}

func (w interopWant) String() string {
	kind := "binary"
	if w.text {
		kind = "text"
	}
	if len(w.data) > 40 {
		return fmt.Sprintf("%s(%d bytes, %q…)", kind, len(w.data), w.data[:40])
	}
	return fmt.Sprintf("%s(%q)", kind, w.data)
}

func interopWantOf(ms ...interopMsg) []interopWant {
	out := make([]interopWant, len(ms))
	for i, m := range ms {
		out[i] = interopWant{m.Type == "text", m.payload()}
	}
	return out
}

func interopB64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

// newInteropPlan builds the plan: a unicode text, a binary message, an empty
// text, a 1 MiB text of mixed one- to four-byte characters, and fragmented
// text and binary messages from the client; a greeting, binary and
// fragmented messages, a ping and the close from the server.
func newInteropPlan() *interopPlan {
	rng := rand.New(rand.NewPCG(1, 2))
	alphabet := []string{"a", "b", "c", " ", "\n", "é", "ß", "Ω", "✓", "日本", "🚀", "🧪"}
	var big strings.Builder
	for big.Len() < 1<<20-8 {
		big.WriteString(alphabet[rng.IntN(len(alphabet))])
	}
	big.WriteString(strings.Repeat("x", 1<<20-big.Len()))
	all := make([]byte, 512)
	for i := range 256 {
		all[i], all[511-i] = byte(i), byte(i)
	}
	noise := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		return b
	}
	text := func(frags ...string) interopMsg { return interopMsg{"text", frags} }
	binary := func(frags ...[]byte) interopMsg {
		m := interopMsg{Type: "binary"}
		for _, f := range frags {
			m.Frags = append(m.Frags, interopB64(f))
		}
		return m
	}
	return &interopPlan{
		ClientMsgs: []interopMsg{
			text("héllo wörld ✓ — Ελληνικά, 日本語, 🚀🧪, and a NUL: \x00"),
			binary(all),
			text(""),
			text(big.String()),
			text("frag ", "mënt ", "✓ end"),
			binary([]byte{0, 1, 2}, noise(200<<10), []byte{0xff}),
		},
		ServerMsgs: []interopMsg{
			text("server says hi ✓ 🚀"),
			binary(noise(16 << 10)),
			text("srv ", "fräg", "mented ✓"),
			binary([]byte{0xde, 0xad}, []byte{0xbe, 0xef}),
		},
		Offer:        []string{"chat.v2", "chat.v1"},
		Accept:       "chat.v1",
		ClientPing:   "cli-ping",
		ServerPing:   "srv-ping",
		CloseRequest: "close-me",
		CloseCode:    4001,
		CloseReason:  "bye ✓ from the server",
	}
}

// interopEnv holds how to run each peer.
type interopEnv struct {
	python      string // an interpreter that can import websockets
	node        string
	nodeModules string // holds ws
}

// interopSkipOrFail skips the test, or fails it when CI is "true": CI installs the
// peers (.ci/run) and must not skip silently.
func interopSkipOrFail(t *testing.T, msg string) {
	t.Helper()
	peertest.SkipOrFail(t, msg)
}

func findInteropPeers(t *testing.T) *interopEnv {
	t.Helper()
	env := &interopEnv{}
	var v string
	if env.python, v = peertest.Python(); env.python == "" {
		interopSkipOrFail(t, "interop: no python3 can import websockets; install Debian's python3-websockets (bash .ci/run does)")
	}
	t.Logf("python peer: %s, websockets %s", env.python, v)
	if env.node, env.nodeModules, v = peertest.Node(".."); env.node == "" {
		interopSkipOrFail(t, "interop: node is not installed")
	}
	if env.nodeModules == "" {
		interopSkipOrFail(t, "interop: node's ws module not found; set WSTAP_NODE_MODULES to a node_modules holding ws, "+
			"or run bash .ci/run (it installs ws into .ci/node)")
	}
	t.Logf("node peer: %s, ws %s from %s", env.node, v, env.nodeModules)
	return env
}

// command returns the command that runs a peer script.
func (e *interopEnv) command(ctx context.Context, script string, args ...string) *exec.Cmd {
	script = filepath.Join(interopDir, script)
	var cmd *exec.Cmd
	if strings.HasSuffix(script, ".py") {
		cmd = exec.CommandContext(ctx, e.python, append([]string{script}, args...)...)
		cmd.Env = append(os.Environ(), "PYTHONDONTWRITEBYTECODE=1", "PYTHONIOENCODING=utf-8")
	} else {
		cmd = exec.CommandContext(ctx, e.node, append([]string{script}, args...)...)
		cmd.Env = append(os.Environ(), "NODE_PATH="+e.nodeModules)
	}
	cmd.WaitDelay = 5 * time.Second
	return cmd
}

// interopSink is a capture.Writer that reports when a connection's End record
// has been written: the relay is done with it.
type interopSink struct {
	*capture.Writer
	ended chan capture.ConnID
}

func (s *interopSink) Append(r capture.Record) error {
	err := s.Writer.Append(r)
	if e, ok := r.(*capture.End); ok {
		select {
		case s.ended <- e.Conn:
		default:
		}
	}
	return err
}

// interopServer is a running server script.
type interopServer struct {
	port   string
	report chan interopResult
}

type interopResult struct {
	out, stderr []byte
	err         error
}

// startInteropServer runs a server script and waits (bounded) for the port it
// prints first.
func startInteropServer(t *testing.T, ctx context.Context, env *interopEnv, script, planPath string) *interopServer {
	t.Helper()
	cmd := env.command(ctx, script, planPath)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", script, err)
	}
	ps := &interopServer{report: make(chan interopResult, 1)}
	portc := make(chan string, 1)
	exited := make(chan struct{})
	go func() {
		defer close(exited)
		br := bufio.NewReader(stdout)
		line, _ := br.ReadString('\n')
		portc <- strings.TrimSpace(line)
		rest, _ := io.ReadAll(br)
		err := cmd.Wait()
		ps.report <- interopResult{out: rest, stderr: stderr.Bytes(), err: err}
	}()
	t.Cleanup(func() {
		cmd.Cancel() // a no-op once it has exited
		<-exited
	})
	select {
	case ps.port = <-portc:
	case <-time.After(10 * time.Second):
		t.Fatalf("%s printed no port within 10s", script)
	}
	if _, err := strconv.ParseUint(ps.port, 10, 16); err != nil || ps.port == "0" {
		r := <-ps.report
		t.Fatalf("%s: first line %q is not a port (exit: %v); stderr:\n%s", script, ps.port, r.err, r.stderr)
	}
	return ps
}

func parseInteropReport(t *testing.T, who string, r interopResult) *interopReport {
	t.Helper()
	if r.err != nil {
		t.Fatalf("%s: %v; stderr:\n%s", who, r.err, r.stderr)
	}
	var rep interopReport
	if err := json.Unmarshal(r.out, &rep); err != nil {
		t.Fatalf("%s: bad report (%v): %.300q; stderr:\n%s", who, err, r.out, r.stderr)
	}
	return &rep
}

func TestInterop(t *testing.T) {
	env := findInteropPeers(t)
	plan := newInteropPlan()
	planPath := filepath.Join(t.TempDir(), "plan.json")
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(plan); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(planPath, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	peers := []struct{ name, client, server string }{
		{"python-to-node", "client.py", "server.js"},
		{"node-to-python", "client.js", "server.py"},
	}
	for _, pc := range peers {
		for _, mode := range []string{"reverse", "connect"} {
			t.Run(pc.name+"/"+mode, func(t *testing.T) {
				t.Parallel()
				runInterop(t, env, plan, planPath, pc.client, pc.server, mode)
			})
		}
	}
}

func runInterop(t *testing.T, env *interopEnv, plan *interopPlan, planPath, clientScript, serverScript, mode string) {
	ctx, cancel := context.WithTimeout(t.Context(), interopTimeout)
	defer cancel()

	srvPeer := startInteropServer(t, ctx, env, serverScript, planPath)
	upstream := "ws://127.0.0.1:" + srvPeer.port

	// The proxy, recording into a fresh capture.
	capPath := filepath.Join(t.TempDir(), "interop.wstap")
	w, err := capture.Create(capPath, capture.Options{})
	if err != nil {
		t.Fatal(err)
	}
	sink := &interopSink{Writer: w, ended: make(chan capture.ConnID, 1)}
	opts := Options{Sink: sink}
	if mode == "reverse" {
		opts.Upstream = upstream
	}
	p, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(p) // on 127.0.0.1
	var closeOnce sync.Once
	closeAll := func() {
		closeOnce.Do(func() {
			srv.Close()
			sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer scancel()
			if err := p.Shutdown(sctx); err != nil {
				t.Errorf("Shutdown: %v", err)
			}
			if err := w.Close(); err != nil {
				t.Errorf("capture Close: %v", err)
			}
		})
	}
	t.Cleanup(closeAll)

	// The client.
	proxyAddr := srv.Listener.Addr().String()
	args := []string{planPath, "ws://" + proxyAddr + interopPath}
	if mode == "connect" {
		args = []string{planPath, upstream + interopPath, proxyAddr}
	}
	cmd := env.command(ctx, clientScript, args...)
	var cout, cerr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &cout, &cerr
	cerrRun := cmd.Run()
	client := parseInteropReport(t, clientScript, interopResult{cout.Bytes(), cerr.Bytes(), cerrRun})
	var server *interopReport
	select {
	case r := <-srvPeer.report:
		server = parseInteropReport(t, serverScript, r)
	case <-ctx.Done():
		t.Fatalf("%s did not finish: %v", serverScript, ctx.Err())
	}
	select {
	case <-sink.ended:
	case <-ctx.Done():
		t.Fatalf("the relay recorded no end of the connection: %v", ctx.Err())
	}
	closeAll()
	if err := p.Err(); err != nil {
		t.Errorf("sink error: %v", err)
	}

	// What the peers saw.
	checkInteropReceived(t, "client received", client, append(interopWantOf(plan.ServerMsgs...), interopWantOf(plan.ClientMsgs...)...))
	checkInteropReceived(t, "server received", server, append(interopWantOf(plan.ClientMsgs...), interopWant{true, []byte(plan.CloseRequest)}))
	for who, rep := range map[string]*interopReport{"client": client, "server": server} {
		if rep.Subprotocol != plan.Accept {
			t.Errorf("%s: subprotocol %q, want %q", who, rep.Subprotocol, plan.Accept)
		}
		if !strings.Contains(rep.Extensions, "permessage-deflate") {
			t.Errorf("%s: extensions %q, want permessage-deflate", who, rep.Extensions)
		}
		if rep.Close == nil || rep.Close.Code != plan.CloseCode || rep.Close.Reason != plan.CloseReason {
			t.Errorf("%s: close %+v, want %d %q", who, rep.Close, plan.CloseCode, plan.CloseReason)
		}
	}
	if got := splitTokens(server.Offered); !slices.Equal(got, plan.Offer) {
		t.Errorf("server was offered subprotocols %q, want %q", server.Offered, plan.Offer)
	}
	if server.Path != interopPath {
		t.Errorf("server saw request target %q, want %q", server.Path, interopPath)
	}
	if !slices.Equal(client.Pongs, []string{plan.ClientPing}) {
		t.Errorf("client pongs %q, want [%q]", client.Pongs, plan.ClientPing)
	}
	if !slices.Equal(server.Pongs, []string{plan.ServerPing}) {
		t.Errorf("server pongs %q, want [%q]", server.Pongs, plan.ServerPing)
	}
	if client.Pings != nil && !slices.Equal(*client.Pings, []string{plan.ServerPing}) {
		t.Errorf("client pings %q, want [%q]", *client.Pings, plan.ServerPing)
	}
	if server.Pings != nil && !slices.Equal(*server.Pings, []string{plan.ClientPing}) {
		t.Errorf("server pings %q, want [%q]", *server.Pings, plan.ClientPing)
	}

	// What the capture holds.
	r, err := capture.Open(capPath)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	checkInteropCapture(t, r, plan, mode, upstream, client, server)
}

// splitTokens splits a comma-separated header value ("a, b" or "a,b").
func splitTokens(v string) []string {
	var out []string
	for f := range strings.SplitSeq(v, ",") {
		out = append(out, strings.TrimSpace(f))
	}
	return out
}

func checkInteropReceived(t *testing.T, what string, rep *interopReport, want []interopWant) {
	t.Helper()
	got := make([]interopWant, len(rep.Received))
	for i, m := range rep.Received {
		got[i] = interopWant{text: m.Type == "text", data: []byte(m.Data)}
		if !got[i].text {
			b, err := base64.StdEncoding.DecodeString(m.Data)
			if err != nil {
				t.Fatalf("%s: message %d: %v", what, i, err)
			}
			got[i].data = b
		}
	}
	compareInteropMsgs(t, what, got, want)
}

func compareInteropMsgs(t *testing.T, what string, got, want []interopWant) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s %d messages, want %d:\n got %v\nwant %v", what, len(got), len(want), got, want)
		return
	}
	for i := range want {
		if got[i].text != want[i].text || !bytes.Equal(got[i].data, want[i].data) {
			t.Errorf("%s: message %d = %v, want %v%s", what, i, got[i], want[i], interopFirstDiff(got[i].data, want[i].data))
		}
	}
}

// interopFirstDiff describes where two payloads first differ.
func interopFirstDiff(a, b []byte) string {
	n := min(len(a), len(b))
	for i := range n {
		if a[i] != b[i] {
			return fmt.Sprintf(" (first difference at byte %d of %d/%d)", i, len(a), len(b))
		}
	}
	if len(a) != len(b) {
		return fmt.Sprintf(" (lengths %d and %d, equal up to %d)", len(a), len(b), n)
	}
	return ""
}

func checkInteropCapture(t *testing.T, r *capture.Reader, plan *interopPlan, mode, upstream string, client, server *interopReport) {
	t.Helper()
	conns := r.Conns()
	if len(conns) != 1 {
		t.Fatalf("capture has %d connections, want 1: %+v", len(conns), conns)
	}
	cs := conns[0]
	if want := upstream + interopPath; cs.URL != want || cs.Mode != mode || cs.Status != 101 {
		t.Errorf("conn = URL %q mode %q status %d, want %q %q 101", cs.URL, cs.Mode, cs.Status, want, mode)
	}
	if cs.Subprotocol != plan.Accept {
		t.Errorf("capture subprotocol %q, want %q", cs.Subprotocol, plan.Accept)
	}
	if !strings.HasPrefix(cs.Extensions, "permessage-deflate") {
		t.Errorf("capture extensions %q, want permessage-deflate", cs.Extensions)
	}
	// websockets reports the response header itself: it must be what the
	// capture holds (ws reports only the extension's name).
	for who, rep := range map[string]*interopReport{"client": client, "server": server} {
		if strings.Contains(rep.Extensions, ";") && rep.Extensions != cs.Extensions {
			t.Errorf("capture extensions %q, but the %s saw %q", cs.Extensions, who, rep.Extensions)
		}
	}
	if cs.CloseCode != plan.CloseCode || cs.CloseFrom != "server" || cs.CloseReason != plan.CloseReason {
		t.Errorf("conn close = %d from %q %q, want %d from server %q", cs.CloseCode, cs.CloseFrom, cs.CloseReason, plan.CloseCode, plan.CloseReason)
	}
	if !cs.Ended || cs.Error != "" || cs.Events != 0 || cs.Violations != 0 || cs.Ghost {
		t.Errorf("conn = ended %v error %q events %d violations %d ghost %v, want a clean end and no events",
			cs.Ended, cs.Error, cs.Events, cs.Violations, cs.Ghost)
	}

	var open *capture.ConnOpen
	data := map[capture.Direction][]interopWant{}
	control := map[capture.Direction][]string{}
	var closes []*capture.Close
	frames := map[capture.Direction][]*capture.Frame{}
	ends := 0
	for rec, err := range r.Messages(capture.Filter{Conn: cs.Conn}, capture.AssembleOptions{Frames: true}) {
		if err != nil {
			t.Fatalf("read capture: %v", err)
		}
		switch rec := rec.(type) {
		case *capture.ConnOpen:
			open = rec
		case *capture.Frame:
			frames[rec.Dir] = append(frames[rec.Dir], rec)
		case *capture.Message:
			if rec.Incomplete || rec.Truncated || rec.Cut {
				t.Errorf("message %d (%v %v, %d bytes): incomplete %v truncated %v cut %v",
					rec.Index, rec.Dir, rec.Opcode, rec.Size, rec.Incomplete, rec.Truncated, rec.Cut)
			}
			switch rec.Opcode {
			case capture.OpText, capture.OpBinary:
				if !rec.Compressed {
					t.Errorf("message %d (%v %v, %d bytes) not marked compressed; both peers compress every data message",
						rec.Index, rec.Dir, rec.Opcode, rec.Size)
				}
				data[rec.Dir] = append(data[rec.Dir], interopWant{rec.Opcode == capture.OpText, rec.Data})
			default:
				if rec.Compressed {
					t.Errorf("control message %d (%v %v) marked compressed", rec.Index, rec.Dir, rec.Opcode)
				}
				control[rec.Dir] = append(control[rec.Dir], rec.Opcode.String()+" "+string(rec.Data))
			}
		case *capture.Close:
			closes = append(closes, rec)
		case *capture.Event:
			t.Errorf("unexpected event: %s: %s", rec.Kind, rec.Detail)
		case *capture.End:
			ends++
			if rec.Error != "" {
				t.Errorf("end error: %s", rec.Error)
			}
		}
	}
	if open == nil {
		t.Fatal("capture has no open record")
	}
	if got := open.RequestHeaders.Get("Sec-WebSocket-Protocol"); !slices.Equal(splitTokens(got), plan.Offer) {
		t.Errorf("captured request offers subprotocols %q, want %q", got, plan.Offer)
	} else if got != server.Offered {
		t.Errorf("captured request offers subprotocols %q, but the server saw %q", got, server.Offered)
	}
	if got := open.RequestHeaders.Get("Sec-WebSocket-Extensions"); !strings.Contains(got, "permessage-deflate") {
		t.Errorf("captured request offers extensions %q, want permessage-deflate", got)
	}
	if ends != 1 {
		t.Errorf("capture has %d end records, want 1", ends)
	}

	compareInteropMsgs(t, "capture client->server", data[capture.ClientToServer],
		append(interopWantOf(plan.ClientMsgs...), interopWant{true, []byte(plan.CloseRequest)}))
	compareInteropMsgs(t, "capture server->client", data[capture.ServerToClient],
		append(interopWantOf(plan.ServerMsgs...), interopWantOf(plan.ClientMsgs...)...))
	for dir, want := range map[capture.Direction][]string{
		capture.ClientToServer: {"ping " + plan.ClientPing, "pong " + plan.ServerPing},
		capture.ServerToClient: {"ping " + plan.ServerPing, "pong " + plan.ClientPing},
	} {
		got := slices.Sorted(slices.Values(control[dir]))
		if !slices.Equal(got, want) {
			t.Errorf("capture %v control messages %q, want %q", dir, got, want)
		}
	}
	if len(control[capture.ProxyToClient])+len(control[capture.ProxyToServer]) > 0 {
		t.Errorf("the proxy sent control messages of its own: %q %q", control[capture.ProxyToClient], control[capture.ProxyToServer])
	}

	// The server closes with 4001 and its reason; the client echoes it.
	type closeRec struct {
		dir    capture.Direction
		code   int
		reason string
	}
	var gotCloses []closeRec
	for _, c := range closes {
		gotCloses = append(gotCloses, closeRec{c.Dir, c.Code, c.Reason})
	}
	wantCloses := []closeRec{
		{capture.ServerToClient, plan.CloseCode, plan.CloseReason},
		{capture.ClientToServer, plan.CloseCode, plan.CloseReason},
	}
	if !slices.Equal(gotCloses, wantCloses) {
		t.Errorf("capture closes %+v, want %+v", gotCloses, wantCloses)
	}

	// The frames: clients mask, servers don't; RSV1 on the first frame of
	// every data message and nowhere else (RFC 7692 §6); fragmented
	// messages crossed as several frames.
	for _, dir := range []capture.Direction{capture.ClientToServer, capture.ServerToClient} {
		conts := 0
		for _, f := range frames[dir] {
			if f.Masked != (dir == capture.ClientToServer) {
				t.Errorf("%v frame %v masked=%v", dir, f.Opcode, f.Masked)
			}
			first := f.Opcode == capture.OpText || f.Opcode == capture.OpBinary
			if compressed := f.RSV&4 != 0; compressed != first {
				t.Errorf("%v frame %v (fin %v, %d bytes): RSV %03b", dir, f.Opcode, f.Fin, f.Length, f.RSV)
			}
			if f.Opcode == capture.OpContinuation {
				conts++
			}
		}
		if conts == 0 {
			t.Errorf("no continuation frames %v: the fragmented messages were not fragmented", dir)
		}
	}
	if len(frames[capture.ProxyToClient])+len(frames[capture.ProxyToServer]) > 0 {
		t.Errorf("capture has frames from the proxy")
	}
}

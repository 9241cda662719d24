package codegen

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/wstap/wstap/internal/peertest"
)

// received is what the test server got on one connection.
type received struct {
	Target   string                // the raw request target of the request line
	Headers  [][2]string           // the header lines, in order and case
	Messages []serverMsg           // the client's messages
	Before   []int                 // for each message, the replies sent before it arrived
	Close    *websocket.CloseError // the client's close, if any
}

type serverMsg struct {
	Op   int
	Data []byte
}

// testServer is a gorilla WebSocket server that records exactly what each
// connection sent and answers each client message with an echo, after
// Delay.
type testServer struct {
	*httptest.Server
	URL   string // ws:// or wss://host:port
	Delay time.Duration
	conns chan *received

	mu    sync.Mutex
	heads map[string]*teeConn // by remote address
}

// newTestServer starts a server on addr ("127.0.0.1:0", "[::1]:0"); with
// cert, it speaks TLS.
func newTestServer(t *testing.T, addr string, cert *tls.Certificate) *testServer {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	s := &testServer{conns: make(chan *received, 4), heads: map[string]*teeConn{}}
	scheme := "ws://"
	var inner net.Listener = ln
	if cert != nil {
		inner = tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{*cert}, NextProtos: []string{"http/1.1"}})
		scheme = "wss://"
	}
	s.Server = httptest.NewUnstartedServer(http.HandlerFunc(s.serve))
	s.Server.Listener.Close()
	s.Server.Listener = &teeListener{Listener: inner, s: s}
	s.Server.Start()
	s.URL = scheme + ln.Addr().String()
	t.Cleanup(s.Close)
	return s
}

func (s *testServer) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	tee := s.heads[r.RemoteAddr]
	s.mu.Unlock()
	rec := &received{}
	if tee != nil {
		rec.Target, rec.Headers = parseHead(tee.head())
	}
	up := websocket.Upgrader{
		CheckOrigin:  func(*http.Request) bool { return true },
		Subprotocols: websocket.Subprotocols(r), // choose the first offered
	}
	conn, err := up.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	defer conn.Close()
	conn.SetReadLimit(0)
	// One goroutine reads and one answers, after Delay: a client that does
	// not wait for the replies gets its next message in early, and Before
	// shows it.
	var replies atomic.Int64
	echo := make(chan serverMsg, 1024)
	answered := make(chan struct{})
	go func() {
		defer close(answered)
		for m := range echo {
			if s.Delay > 0 {
				time.Sleep(s.Delay) // a slow server, not synchronisation
			}
			// Counted before the write: the client may read the reply
			// and send its next message before WriteMessage returns.
			replies.Add(1)
			if err := conn.WriteMessage(m.Op, m.Data); err != nil {
				return
			}
		}
	}()
	defer func() {
		close(echo)
		<-answered
		s.conns <- rec
	}()
	for {
		op, data, err := conn.ReadMessage()
		if err != nil {
			var ce *websocket.CloseError
			if errors.As(err, &ce) {
				rec.Close = ce
			}
			return
		}
		rec.Messages = append(rec.Messages, serverMsg{op, data})
		rec.Before = append(rec.Before, int(replies.Load()))
		echo <- serverMsg{op, data}
	}
}

// next returns what the next connection that ended received.
func (s *testServer) next(t *testing.T) *received {
	t.Helper()
	select {
	case r := <-s.conns:
		return r
	case <-time.After(20 * time.Second):
		t.Fatal("the test server saw no connection end")
		return nil
	}
}

// teeListener keeps the request head of each connection it accepts.
type teeListener struct {
	net.Listener
	s *testServer
}

func (l *teeListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	tc := &teeConn{Conn: c}
	l.s.mu.Lock()
	l.s.heads[c.RemoteAddr().String()] = tc
	l.s.mu.Unlock()
	return tc, nil
}

type teeConn struct {
	net.Conn
	mu   sync.Mutex
	buf  []byte
	full bool
}

func (c *teeConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.mu.Lock()
	if !c.full {
		c.buf = append(c.buf, p[:n]...)
		if i := bytes.Index(c.buf, []byte("\r\n\r\n")); i >= 0 {
			c.buf, c.full = c.buf[:i+4], true
		}
	}
	c.mu.Unlock()
	return n, err
}

func (c *teeConn) head() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return bytes.Clone(c.buf)
}

// parseHead splits a request head into its target and header lines.
func parseHead(head []byte) (string, [][2]string) {
	sc := bufio.NewScanner(bytes.NewReader(head))
	var target string
	var fields [][2]string
	for first := true; sc.Scan(); first = false {
		line := sc.Text()
		if first {
			parts := strings.Split(line, " ")
			if len(parts) == 3 {
				target = parts[1]
			}
			continue
		}
		if name, value, ok := strings.Cut(line, ":"); ok {
			fields = append(fields, [2]string{name, strings.Trim(value, " \t")})
		}
	}
	return target, fields
}

// testCA makes a CA and a leaf for 127.0.0.1, ::1 and localhost; it
// writes the CA's PEM to a file and returns the file and the leaf.
func testCA(t *testing.T) (string, *tls.Certificate) {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "wstap codegen test CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	leafKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	leafTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "localhost"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTmpl, ca, &leafKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(file, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), 0o644); err != nil {
		t.Fatal(err)
	}
	return file, &tls.Certificate{Certificate: [][]byte{leafDER, caDER}, PrivateKey: leafKey}
}

// peers holds how to run each language's script.
type peers struct {
	python      string // an interpreter that can import websockets
	node        string
	nodeModules string // holds ws
	goTool      string
	goSum       []byte // gorilla's go.sum lines
}

var (
	peersOnce sync.Once
	found     peers
	peersLog  []string
)

// skipOrFail skips the test, or fails it when CI is "true": CI installs
// the runtimes (.ci/run) and must not skip silently.
func skipOrFail(t *testing.T, msg string) {
	t.Helper()
	peertest.SkipOrFail(t, msg)
}

func findPeers(t *testing.T) *peers {
	t.Helper()
	peersOnce.Do(func() {
		if path, v := peertest.Python(); path != "" {
			found.python = path
			peersLog = append(peersLog, "python: "+path+", websockets "+v)
		}
		if node, modules, v := peertest.Node(".."); node != "" {
			found.node, found.nodeModules = node, modules
			if modules != "" {
				peersLog = append(peersLog, "node: "+node+", ws "+v+" from "+modules)
			}
		}
		if goTool, err := exec.LookPath("go"); err == nil {
			if sum, err := os.ReadFile("../go.sum"); err == nil {
				for line := range strings.Lines(string(sum)) {
					if strings.HasPrefix(line, "github.com/gorilla/websocket v1.5.3") {
						found.goSum = append(found.goSum, line...)
					}
				}
				if found.goSum != nil {
					found.goTool = goTool
				}
			}
		}
	})
	for _, l := range peersLog {
		t.Log(l)
	}
	return &found
}

// need skips or fails the test when lang cannot run here.
func (p *peers) need(t *testing.T, lang string) {
	t.Helper()
	switch {
	case lang == "python" && p.python == "":
		skipOrFail(t, "no python3 can import websockets; install Debian's python3-websockets (bash .ci/run does)")
	case lang == "js" && p.node == "":
		skipOrFail(t, "node is not installed")
	case lang == "js" && p.nodeModules == "":
		skipOrFail(t, "node's ws module not found; set WSTAP_NODE_MODULES to a node_modules holding ws, or run bash .ci/run (it installs ws into .ci/node)")
	case lang == "go" && p.goTool == "":
		skipOrFail(t, "no go tool, or no gorilla/websocket v1.5.3 in ../go.sum")
	}
}

// program is a generated script written to a directory, ready to run.
type program struct {
	lang string
	dir  string
	bin  string // the built Go program
	p    *peers
}

// prepare writes g into a fresh directory and, for Go, builds it once (in
// a module of its own that requires gorilla/websocket, from the module
// cache).
func (p *peers) prepare(t *testing.T, lang string, g *Generated) *program {
	t.Helper()
	dir := t.TempDir()
	name := "gen" + langs[lang]
	if err := os.WriteFile(filepath.Join(dir, name), g.Script, 0o644); err != nil {
		t.Fatal(err)
	}
	if g.Data != nil {
		if err := os.WriteFile(filepath.Join(dir, g.DataName), g.Data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	prog := &program{lang: lang, dir: dir, p: p}
	if lang != "go" {
		return prog
	}
	gomod := "module wstapclient\n\ngo 1.22\n\nrequire github.com/gorilla/websocket v1.5.3\n"
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte(gomod), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "go.sum"), p.goSum, 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 120*time.Second)
	defer cancel()
	prog.bin = filepath.Join(dir, "gen")
	cmd := exec.CommandContext(ctx, p.goTool, "build", "-o", prog.bin, name)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOWORK=off", "GOTOOLCHAIN=local", "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", name, err, out)
	}
	return prog
}

// result is how a run of a script went.
type result struct {
	stdout, stderr string
	code           int
}

// run runs the program with args and extra environment, bounded.
func (prog *program) run(t *testing.T, env []string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	var cmd *exec.Cmd
	switch prog.lang {
	case "python":
		cmd = exec.CommandContext(ctx, prog.p.python, append([]string{"gen.py"}, args...)...)
		env = append(env, "PYTHONDONTWRITEBYTECODE=1", "PYTHONIOENCODING=utf-8")
	case "js":
		cmd = exec.CommandContext(ctx, prog.p.node, append([]string{"gen.js"}, args...)...)
		env = append(env, "NODE_PATH="+prog.p.nodeModules)
	case "go":
		cmd = exec.CommandContext(ctx, prog.bin, args...)
	}
	cmd.Dir = prog.dir
	cmd.Env = append(os.Environ(), env...)
	cmd.WaitDelay = 5 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	res := result{stdout: stdout.String(), stderr: stderr.String()}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		res.code = ee.ExitCode()
	case err != nil:
		t.Fatalf("run %s: %v", prog.lang, err)
	}
	if ctx.Err() != nil {
		t.Fatalf("%s: the script did not finish within 60s\nstderr:\n%s", prog.lang, res.stderr)
	}
	return res
}

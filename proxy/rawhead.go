package proxy

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"net/http"
	"reflect"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/wstap/wstap/capture"
)

// The handshake is forwarded as the peers wrote it (DESIGN.md section 2):
// net/http hands the proxy a parsed request whose Header has lost the
// Host line, the order of the lines and the case of their names, so the
// proxy keeps the bytes it read beside the parse. A headConn records what
// the client's connection delivered since the last request head; the
// handler finds the head of the request it serves among those bytes by
// parsing each candidate and keeping the one whose parse matches the
// request (method, target, headers), so bytes pipelined behind the head
// (WebSocket frames) cannot be taken for it. The server's response head
// is the bytes http.ReadResponse consumed, known from a readRecorder under
// its bufio.Reader.
//
// Where the bytes are missing (the bare Handler served without
// Proxy.Listener, a head bigger than the window), the proxy falls back to
// the parsed form: canonical names, in sorted order, Host first.

// maxHeadWindow bounds the bytes a connection keeps while looking for a
// request head, and the response head read from an upstream: enough for
// net/http's default limit on a head (http.DefaultMaxHeaderBytes) and
// what its reader takes in beyond it.
const maxHeadWindow = http.DefaultMaxHeaderBytes + 64<<10

// Listener wraps ln so that the proxy, served on the returned listener
// (http.Server.Serve(p.Listener(ln))), sees the bytes of each request head
// as the client sent them: the upgrade request then goes upstream with its
// lines in the client's order and case, Host where the client put it, and
// the capture records them so. Without it the proxy works as well but
// forwards the upgrade request's headers in net/http's canonical form.
func (p *Proxy) Listener(ln net.Listener) net.Listener {
	return &headListener{Listener: ln, p: p}
}

type headListener struct {
	net.Listener
	p *Proxy
}

// Accept wraps each connection in a headConn that the proxy's handler
// finds again by the connection's addresses.
func (l *headListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	hc := &headConn{Conn: c}
	key := connKey(c.LocalAddr().String(), c.RemoteAddr().String())
	l.p.heads.Store(key, hc)
	hc.forget = func() { l.p.heads.CompareAndDelete(key, hc) }
	return hc, nil
}

func connKey(local, remote string) string { return local + " " + remote }

// headConnOf returns the headConn r arrived on, if it came through
// Listener.
func (p *Proxy) headConnOf(r *http.Request) *headConn {
	la, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr)
	if !ok {
		return nil
	}
	v, ok := p.heads.Load(connKey(la.String(), r.RemoteAddr))
	if !ok {
		return nil
	}
	return v.(*headConn)
}

// headConn is a client connection that keeps the bytes read from it since
// the last request head it was asked for, at most about maxHeadWindow.
// The server's reading goroutine and its background read write; the
// handler reads: mu guards buf.
type headConn struct {
	net.Conn
	forget    func() // drops the connection from Proxy.heads
	closeOnce sync.Once

	mu      sync.Mutex
	buf     []byte
	stopped atomic.Bool // set under mu; read without it on the relay's hot path
}

func (c *headConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	if n > 0 && !c.stopped.Load() { // once frames flow, a read costs no lock
		c.mu.Lock()
		if !c.stopped.Load() {
			c.buf = append(c.buf, b[:n]...)
			if len(c.buf) > maxHeadWindow+maxHeadWindow/4 {
				// A head is at the end of what was read: drop the oldest.
				c.buf = append(c.buf[:0], c.buf[len(c.buf)-maxHeadWindow:]...)
			}
		}
		c.mu.Unlock()
	}
	return n, err
}

// CloseWrite half-closes the connection underneath, if it can.
func (c *headConn) CloseWrite() error { return closeWrite(c.Conn) }

func (c *headConn) Close() error {
	c.closeOnce.Do(func() {
		if c.forget != nil {
			c.forget()
		}
	})
	return c.Conn.Close()
}

// stop ends the recording: what follows is no HTTP (a relayed WebSocket
// connection, a tunnel).
func (c *headConn) stop() {
	if c == nil {
		return
	}
	c.mu.Lock()
	c.stopped.Store(true)
	c.buf = nil
	c.mu.Unlock()
}

// claim finds the head of r among the bytes read, drops them up to its end
// and returns it, or nil when it is not there.
func (c *headConn) claim(r *http.Request) []byte {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	start, end, ok := findRequestHead(c.buf, r)
	if !ok {
		return nil
	}
	head := bytes.Clone(c.buf[start:end])
	c.buf = append(c.buf[:0], c.buf[end:]...)
	return head
}

// findRequestHead finds, in b, the first head whose parse is r's request
// line and headers, and returns where it starts and ends (after the blank
// line).
func findRequestHead(b []byte, r *http.Request) (start, end int, ok bool) {
	prefix := []byte(r.Method + " " + r.RequestURI + " ")
	for i := 0; i < len(b); {
		j := bytes.Index(b[i:], prefix)
		if j < 0 {
			return 0, 0, false
		}
		start = i + j
		i = start + 1
		if start > 0 && b[start-1] != '\n' {
			continue
		}
		end = headEnd(b[start:])
		if end < 0 {
			return 0, 0, false // a head that is not complete yet is not r's
		}
		end += start
		got, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(b[start:end])))
		if err == nil && got.Method == r.Method && got.RequestURI == r.RequestURI && got.Proto == r.Proto &&
			got.Host == r.Host && reflect.DeepEqual(got.Header, r.Header) {
			return start, end, true
		}
	}
	return 0, 0, false
}

// headEnd returns the length of the head b begins with, through its blank
// line ("\r\n" or a bare "\n", as net/http accepts), or -1.
func headEnd(b []byte) int {
	for i := 0; i < len(b); {
		j := bytes.IndexByte(b[i:], '\n')
		if j < 0 {
			return -1
		}
		next := i + j + 1
		if next < len(b) && b[next] == '\n' {
			return next + 1
		}
		if next+1 < len(b) && b[next] == '\r' && b[next+1] == '\n' {
			return next + 2
		}
		i = next
	}
	return -1
}

// rawHead is an HTTP/1 message head as it crossed the wire.
type rawHead struct {
	line   []byte // the request or status line, with its line end
	fields []rawField
	end    []byte // the blank line that ends the head
}

// rawField is one header field: its line (and any obs-fold continuation
// lines) as sent, and the name and value they say.
type rawField struct {
	name, value string
	raw         []byte
}

// parseHead splits a complete head into its lines.
func parseHead(b []byte) (*rawHead, bool) {
	h := &rawHead{}
	for first := true; len(b) > 0; first = false {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			return nil, false
		}
		line := b[:i+1]
		b = b[i+1:]
		switch content := bytes.TrimRight(line, "\r\n"); {
		case first:
			h.line = line
		case len(content) == 0:
			h.end = line
			return h, len(b) == 0
		case content[0] == ' ' || content[0] == '\t':
			if len(h.fields) == 0 {
				return nil, false
			}
			f := &h.fields[len(h.fields)-1]
			f.raw = append(f.raw, line...)
			f.value = strings.TrimSpace(f.value + " " + strings.TrimSpace(string(content)))
		default:
			name, value, ok := strings.Cut(string(content), ":")
			if !ok {
				return nil, false
			}
			h.fields = append(h.fields, rawField{name: name, value: strings.Trim(value, " \t"), raw: bytes.Clone(line)})
		}
	}
	return nil, false
}

// list returns the head's fields as the capture keeps them, leaving out
// those drop names.
func (h *rawHead) list(drop func(name string) bool) []capture.HeaderField {
	out := make([]capture.HeaderField, 0, len(h.fields))
	for _, f := range h.fields {
		if !drop(f.name) {
			out = append(out, capture.HeaderField{Name: f.name, Value: f.value})
		}
	}
	return out
}

// upstreamRequest is the head as it goes to the server: the request line
// with target uri (origin form), the Host field's value host (a Host line
// where the client put none), the fields drop names left out, everything
// else byte for byte.
func (h *rawHead) upstreamRequest(uri, host string, drop func(name string) bool) []byte {
	method, rest, _ := bytes.Cut(h.line, []byte(" "))
	_, proto, _ := bytes.Cut(rest, []byte(" "))
	var b bytes.Buffer
	b.Grow(len(h.line) + len(uri) + 64*len(h.fields))
	b.Write(method)
	b.WriteString(" " + uri + " ")
	b.Write(proto) // with the line end
	lineLen := b.Len()
	hasHost := false
	for _, f := range h.fields {
		if drop(f.name) {
			continue
		}
		if strings.EqualFold(f.name, "Host") && !hasHost { // net/http refuses a second one
			hasHost = true
			if f.value != host {
				b.WriteString(f.name + ": " + host + lineEnd(f.raw))
				continue
			}
		}
		b.Write(f.raw)
	}
	if !hasHost {
		// HTTP/1.1 requires one (RFC 9112, section 3.2): right after the
		// request line, where clients put it.
		rest := bytes.Clone(b.Bytes()[lineLen:])
		b.Truncate(lineLen)
		b.WriteString("Host: " + host + lineEnd(h.line))
		b.Write(rest)
	}
	b.Write(h.end)
	return b.Bytes()
}

// lineEnd returns the line end line uses: "\r\n" or "\n".
func lineEnd(line []byte) string {
	if bytes.HasSuffix(line, []byte("\r\n")) {
		return "\r\n"
	}
	return "\n"
}

// originForm turns a request target into the origin form a server expects
// (RFC 9112, section 3.2.1): "ws://host/path?q" becomes "/path?q".
func originForm(target string) string {
	if strings.HasPrefix(target, "/") {
		return target
	}
	_, rest, ok := strings.Cut(target, "://")
	if !ok {
		return target
	}
	i := strings.IndexAny(rest, "/?")
	switch {
	case i < 0:
		return "/"
	case rest[i] == '?':
		return "/" + rest[i:]
	}
	return rest[i:]
}

// canonicalList is the fallback header list: Host (when not empty) first,
// then h's fields in sorted order, as net/http holds them.
func canonicalList(host string, h http.Header) []capture.HeaderField {
	var out []capture.HeaderField
	if host != "" {
		out = append(out, capture.HeaderField{Name: "Host", Value: host})
	}
	names := make([]string, 0, len(h))
	for k := range h {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		for _, v := range h[k] {
			out = append(out, capture.HeaderField{Name: k, Value: v})
		}
	}
	return out
}

// readRecorder keeps the bytes read through it while on: under the
// bufio.Reader of an upstream connection, it tells which bytes
// http.ReadResponse consumed for the head, and which the body reader took.
// One goroutine reads at a time.
type readRecorder struct {
	r   io.Reader
	buf []byte
	on  bool
	max int  // while > 0, recording stops beyond max bytes
	cut bool // more than max bytes came: buf is not the whole head
}

func (rr *readRecorder) Read(b []byte) (int, error) {
	n, err := rr.r.Read(b)
	if rr.on && n > 0 {
		if rr.max > 0 && len(rr.buf)+n > rr.max {
			rr.on, rr.cut, rr.buf = false, true, nil
		} else {
			rr.buf = append(rr.buf, b[:n]...)
		}
	}
	return n, err
}

// take returns the bytes recorded but not returned yet, except the last
// buffered (still in the bufio.Reader above, not consumed), and forgets
// them.
func (rr *readRecorder) take(buffered int) []byte {
	n := len(rr.buf) - buffered
	if n <= 0 {
		return nil
	}
	out := bytes.Clone(rr.buf[:n])
	rr.buf = append(rr.buf[:0], rr.buf[n:]...)
	return out
}

// stop ends the recording.
func (rr *readRecorder) stop() { rr.on, rr.buf = false, nil }

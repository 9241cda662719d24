package proxy

// Test peers for the relay's test matrix: raw WebSocket peers that write and
// read exact frames (github.com/gobwas/ws over net.Conn), a recording proxy
// whose sink reports ended connections, and readers for what the capture
// holds. Everything runs on loopback.

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/wstap/wstap/capture"
)

// ioWait bounds every network read and write of the tests: long enough for
// a loaded machine under -race, short enough that a bug fails instead of
// hanging.
const ioWait = 10 * time.Second

// wsGUID is the key suffix of RFC 6455 §1.3.
const wsGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

func acceptKey(key string) string {
	h := sha1.Sum([]byte(key + wsGUID))
	return base64.StdEncoding.EncodeToString(h[:])
}

// wireFrame returns one frame as it goes on the wire: its header, then its
// payload, masked with mask when mask is not nil.
func wireFrame(fin bool, rsv byte, op ws.OpCode, mask *[4]byte, payload []byte) []byte {
	h := ws.Header{Fin: fin, Rsv: rsv, OpCode: op, Length: int64(len(payload))}
	if mask != nil {
		h.Masked, h.Mask = true, *mask
	}
	var b bytes.Buffer
	if err := ws.WriteHeader(&b, h); err != nil {
		panic(err)
	}
	n := b.Len()
	b.Write(payload)
	if mask != nil {
		ws.Cipher(b.Bytes()[n:], *mask, 0)
	}
	return b.Bytes()
}

// closeBody is a close frame's payload: the code, big-endian, then the reason.
func closeBody(code int, reason string) []byte {
	return append([]byte{byte(code >> 8), byte(code)}, reason...)
}

// rawPeer is one end of a WebSocket connection driven frame by frame.
type rawPeer struct {
	t      testing.TB
	conn   net.Conn
	br     *bufio.Reader
	client bool           // the frames it writes are masked
	req    *http.Request  // server side: the upgrade request as it arrived
	resp   *http.Response // client side: the handshake response
}

// wireRead is one frame as a peer read it.
type wireRead struct {
	raw     []byte // the frame's bytes exactly as they arrived
	h       ws.Header
	payload []byte // unmasked
}

// build returns a frame as this peer sends it: masked with a fresh mask
// when the peer is a client.
func (p *rawPeer) build(fin bool, rsv byte, op ws.OpCode, payload []byte) []byte {
	if p.client {
		m := ws.NewMask()
		return wireFrame(fin, rsv, op, &m, payload)
	}
	return wireFrame(fin, rsv, op, nil, payload)
}

// send writes one frame (see build) and returns its bytes.
func (p *rawPeer) send(fin bool, rsv byte, op ws.OpCode, payload []byte) []byte {
	p.t.Helper()
	b := p.build(fin, rsv, op, payload)
	p.write(b)
	return b
}

func (p *rawPeer) write(b []byte) {
	p.t.Helper()
	p.conn.SetWriteDeadline(time.Now().Add(ioWait))
	if _, err := p.conn.Write(b); err != nil {
		p.t.Fatalf("write %d bytes: %v", len(b), err)
	}
}

// next reads one frame.
func (p *rawPeer) next() (wireRead, error) {
	p.conn.SetReadDeadline(time.Now().Add(ioWait))
	var raw bytes.Buffer
	h, err := ws.ReadHeader(io.TeeReader(p.br, &raw))
	if err != nil {
		return wireRead{}, err
	}
	if h.Length > 1<<30 {
		return wireRead{}, fmt.Errorf("frame of %d bytes is too big for a test peer", h.Length)
	}
	n := raw.Len()
	if _, err := io.CopyN(&raw, p.br, h.Length); err != nil {
		return wireRead{}, err
	}
	pl := bytes.Clone(raw.Bytes()[n:])
	if h.Masked {
		ws.Cipher(pl, h.Mask, 0)
	}
	return wireRead{raw: raw.Bytes(), h: h, payload: pl}, nil
}

// read reads one frame and fails the test if none arrives.
func (p *rawPeer) read() wireRead {
	p.t.Helper()
	f, err := p.next()
	if err != nil {
		p.t.Fatalf("read frame: %v", err)
	}
	return f
}

// expect reads one frame and checks that it is want, byte for byte.
func (p *rawPeer) expect(want []byte) wireRead {
	p.t.Helper()
	f := p.read()
	if !bytes.Equal(f.raw, want) {
		p.t.Fatalf("received frame %s, want %s", describeFrame(f.raw), describeFrame(want))
	}
	return f
}

// expectEOF checks that the peer's stream ends (the other side's FIN)
// with nothing more on it.
func (p *rawPeer) expectEOF() {
	p.t.Helper()
	p.conn.SetReadDeadline(time.Now().Add(ioWait))
	b, err := io.ReadAll(p.br)
	if len(b) > 0 || (err != nil && !errors.Is(err, net.ErrClosed) && !isReset(err)) {
		p.t.Fatalf("waiting for the end of the stream: got %d more bytes (%q…), %v", len(b), b[:min(len(b), 32)], err)
	}
}

func isReset(err error) bool {
	return err != nil && strings.Contains(err.Error(), "connection reset")
}

// describeFrame summarises a frame's bytes for a failure message.
func describeFrame(b []byte) string {
	h, err := ws.ReadHeader(bytes.NewReader(b))
	if err != nil {
		return fmt.Sprintf("%d unparsable bytes % x", len(b), b[:min(len(b), 16)])
	}
	return fmt.Sprintf("{fin %v rsv %03b op %#x masked %v len %d; %d bytes on the wire, starting % x}",
		h.Fin, h.Rsv, byte(h.OpCode), h.Masked, h.Length, len(b), b[:min(len(b), 20)])
}

// rawServerOptions says how a rawServer answers upgrades.
type rawServerOptions struct {
	// Extensions is the Sec-WebSocket-Extensions answer, if any.
	Extensions string
	// Header holds extra response headers.
	Header http.Header
	// Status is the response's status line after "HTTP/1.1 ". Default
	// "101 Switching Protocols".
	Status string
	// Pipelined is written together with the response, in the same write.
	Pipelined []byte
}

// rawServer is a WebSocket server on 127.0.0.1 that completes the handshake
// by hand and hands each connection to the test as a rawPeer.
type rawServer struct {
	URL   string // ws://127.0.0.1:port
	ln    net.Listener
	opts  rawServerOptions
	conns chan *rawPeer
	done  chan struct{} // closed when the test ends
	wg    sync.WaitGroup
	mu    sync.Mutex
	open  []net.Conn
}

func newRawServer(t *testing.T, opts rawServerOptions) *rawServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &rawServer{URL: "ws://" + ln.Addr().String(), ln: ln, opts: opts, conns: make(chan *rawPeer, 16), done: make(chan struct{})}
	s.wg.Add(1)
	go s.serve(t)
	t.Cleanup(func() {
		close(s.done)
		ln.Close()
		s.mu.Lock()
		for _, c := range s.open {
			c.Close()
		}
		s.mu.Unlock()
		s.wg.Wait()
	})
	return s
}

func (s *rawServer) serve(t *testing.T) {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		s.open = append(s.open, c)
		s.mu.Unlock()
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			if p := s.handshake(t, c); p != nil {
				select {
				case s.conns <- p:
				case <-s.done:
				}
			}
		}()
	}
}

func (s *rawServer) handshake(t *testing.T, c net.Conn) *rawPeer {
	c.SetReadDeadline(time.Now().Add(ioWait))
	br := bufio.NewReader(c)
	req, err := http.ReadRequest(br)
	if err != nil {
		c.Close()
		return nil
	}
	status := s.opts.Status
	if status == "" {
		status = "101 Switching Protocols"
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "HTTP/1.1 %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n",
		status, acceptKey(req.Header.Get("Sec-WebSocket-Key")))
	if s.opts.Extensions != "" {
		fmt.Fprintf(&b, "Sec-WebSocket-Extensions: %s\r\n", s.opts.Extensions)
	}
	s.opts.Header.Write(&b)
	b.WriteString("\r\n")
	b.Write(s.opts.Pipelined)
	c.SetWriteDeadline(time.Now().Add(ioWait))
	if _, err := c.Write(b.Bytes()); err != nil {
		c.Close()
		return nil
	}
	return &rawPeer{t: t, conn: c, br: br, req: req}
}

// accept returns the next connection the server took.
func (s *rawServer) accept(t *testing.T) *rawPeer {
	t.Helper()
	select {
	case p := <-s.conns:
		p.t = t
		return p
	case <-time.After(ioWait):
		t.Fatal("the server got no connection")
		return nil
	}
}

// upgradeRequest is a client's upgrade request for path on host.
func upgradeRequest(host, path string, hdr http.Header) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n", path, host)
	if hdr.Get("Sec-WebSocket-Key") == "" {
		b.WriteString("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n")
	}
	if hdr.Get("Sec-WebSocket-Version") == "" {
		b.WriteString("Sec-WebSocket-Version: 13\r\n")
	}
	hdr.Write(&b)
	b.WriteString("\r\n")
	return b.Bytes()
}

// dialRaw connects a raw client to the proxy at proxyURL (http://…),
// requests path with the extra headers hdr, and writes pipelined right
// behind the request, in the same write. It fails the test unless the
// answer is a 101.
func dialRaw(t *testing.T, proxyURL, path string, hdr http.Header, pipelined []byte) *rawPeer {
	t.Helper()
	p, resp := dialRawResponse(t, proxyURL, path, hdr, pipelined)
	if resp.StatusCode != http.StatusSwitchingProtocols {
		body, _ := io.ReadAll(resp.Body)
		t.Fatalf("upgrade answered %s: %s", resp.Status, body)
	}
	return p
}

// dialRawResponse is dialRaw that returns whatever the answer is.
func dialRawResponse(t *testing.T, proxyURL, path string, hdr http.Header, pipelined []byte) (*rawPeer, *http.Response) {
	t.Helper()
	host := strings.TrimPrefix(proxyURL, "http://")
	c, err := net.DialTimeout("tcp", host, ioWait)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(ioWait))
	if _, err := c.Write(append(upgradeRequest(host, path, hdr), pipelined...)); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("read the upgrade response: %v", err)
	}
	c.SetDeadline(time.Time{})
	return &rawPeer{t: t, conn: c, br: br, client: true, resp: resp}, resp
}

// hangUp ends a raw connection pair after a complete close handshake:
// the server closes TCP first (RFC 6455 §7.1.1), the client sees the end
// of the stream and closes too.
func hangUp(t *testing.T, c, s *rawPeer) {
	t.Helper()
	s.conn.Close()
	c.expectEOF()
	c.conn.Close()
}

// closeHandshake runs a clean close started by the client with code 1000.
func closeHandshake(t *testing.T, c, s *rawPeer) {
	t.Helper()
	s.expect(c.send(true, 0, ws.OpClose, closeBody(1000, "")))
	c.expect(s.send(true, 0, ws.OpClose, closeBody(1000, "")))
	hangUp(t, c, s)
}

// endSink is a capture.Writer that reports each connection's End record.
type endSink struct {
	*capture.Writer
	ended chan capture.ConnID
}

func (s *endSink) Append(r capture.Record) error {
	err := s.Writer.Append(r)
	if e, ok := r.(*capture.End); ok {
		s.ended <- e.Conn
	}
	return err
}

// matrix is a recording proxy under test, served on loopback.
type matrix struct {
	p    *Proxy
	srv  *httptest.Server
	URL  string // http://127.0.0.1:port
	sink *endSink
	path string
	once sync.Once
	r    *capture.Reader
}

// newMatrix starts a proxy with opts that records into a fresh capture.
func newMatrix(t *testing.T, opts Options) *matrix {
	t.Helper()
	return newMatrixCapture(t, opts, capture.Options{})
}

// newMatrixCapture is newMatrix with the capture writer's options.
func newMatrixCapture(t *testing.T, opts Options, copts capture.Options) *matrix {
	t.Helper()
	m := &matrix{path: filepath.Join(t.TempDir(), "matrix.wstap")}
	w, err := capture.Create(m.path, copts)
	if err != nil {
		t.Fatal(err)
	}
	m.sink = &endSink{Writer: w, ended: make(chan capture.ConnID, 4096)}
	opts.Sink = m.sink
	if m.p, err = New(opts); err != nil {
		t.Fatal(err)
	}
	m.srv = httptest.NewServer(m.p)
	m.URL = m.srv.URL
	t.Cleanup(func() { m.finish(t) })
	return m
}

// waitEnds waits until n more connections have ended, and returns their IDs.
func (m *matrix) waitEnds(t *testing.T, n int) []capture.ConnID {
	t.Helper()
	var ids []capture.ConnID
	timeout := time.After(3 * ioWait)
	for len(ids) < n {
		select {
		case id := <-m.sink.ended:
			ids = append(ids, id)
		case <-timeout:
			t.Fatalf("%d of %d connections ended; the proxy still relays %d", len(ids), n, m.p.Counters().Open.Load())
		}
	}
	return ids
}

// finish stops the proxy, closes the capture and opens it for reading.
func (m *matrix) finish(t *testing.T) *capture.Reader {
	t.Helper()
	m.once.Do(func() {
		m.srv.Close()
		// Cleanup may call finish after t.Context() is done.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(t.Context()), ioWait)
		defer cancel()
		if err := m.p.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		if err := m.sink.Close(); err != nil {
			t.Fatalf("capture Close: %v", err)
		}
		if err := m.p.Err(); err != nil {
			t.Errorf("proxy sink error: %v", err)
		}
		r, err := capture.Open(m.path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { r.Close() })
		m.r = r
	})
	return m.r
}

// captured is what a capture holds of one connection.
type captured struct {
	open   *capture.ConnOpen
	frames []*capture.Frame
	msgs   []*capture.Message
	closes []*capture.Close
	events []*capture.Event
	end    *capture.End
}

// readConn reads the records of conn, with messages assembled (Data capped
// at maxData bytes when maxData > 0).
func readConn(t *testing.T, r *capture.Reader, conn capture.ConnID, maxData int) *captured {
	t.Helper()
	c := &captured{}
	for rec, err := range r.Messages(capture.Filter{Conn: conn}, capture.AssembleOptions{Frames: true, MaxData: maxData}) {
		if err != nil {
			t.Fatalf("read capture: %v", err)
		}
		switch rec := rec.(type) {
		case *capture.ConnOpen:
			c.open = rec
		case *capture.Frame:
			c.frames = append(c.frames, rec)
		case *capture.Message:
			c.msgs = append(c.msgs, rec)
		case *capture.Close:
			c.closes = append(c.closes, rec)
		case *capture.Event:
			c.events = append(c.events, rec)
		case *capture.End:
			c.end = rec
		}
	}
	if c.open == nil {
		t.Fatalf("capture has no open record for connection %d", conn)
	}
	return c
}

// connByPath finds the connection whose URL ends in path.
func connByPath(t *testing.T, r *capture.Reader, path string) capture.ConnID {
	t.Helper()
	var found []capture.ConnID
	for _, cs := range r.Conns() {
		if strings.HasSuffix(cs.URL, path) {
			found = append(found, cs.Conn)
		}
	}
	if len(found) != 1 {
		t.Fatalf("capture has %d connections for %s, want 1", len(found), path)
	}
	return found[0]
}

// dir returns the messages sent in direction d.
func (c *captured) dir(d capture.Direction) []*capture.Message {
	var out []*capture.Message
	for _, m := range c.msgs {
		if m.Dir == d {
			out = append(out, m)
		}
	}
	return out
}

// violations returns the details of the violation events.
func (c *captured) violations() []string {
	var out []string
	for _, e := range c.events {
		if e.Kind == capture.EventViolation {
			out = append(out, e.Detail)
		}
	}
	return out
}

// wantMsg describes a message the capture should hold.
type wantMsg struct {
	dir        capture.Direction
	op         capture.Opcode
	data       []byte
	compressed bool
}

// checkMsgs compares the captured messages of the given directions with
// want, in order.
func checkMsgs(t *testing.T, c *captured, want []wantMsg) {
	t.Helper()
	var got []*capture.Message
	for _, m := range c.msgs {
		if m.Dir == capture.ClientToServer || m.Dir == capture.ServerToClient {
			got = append(got, m)
		}
	}
	if len(got) != len(want) {
		for i, m := range got {
			t.Logf("captured message %d: %v %v %d bytes %q", i, m.Dir, m.Opcode, m.Size, m.Data[:min(len(m.Data), 40)])
		}
		t.Fatalf("capture has %d messages, want %d", len(got), len(want))
	}
	for i, w := range want {
		g := got[i]
		if g.Dir != w.dir || g.Opcode != w.op || !bytes.Equal(g.Data, w.data) || g.Compressed != w.compressed ||
			g.Incomplete || g.Truncated || g.Size != int64(len(w.data)) {
			t.Errorf("captured message %d = %v %v %d bytes %q (compressed %v, incomplete %v, truncated %v), want %v %v %d bytes %q (compressed %v)",
				i, g.Dir, g.Opcode, g.Size, g.Data[:min(len(g.Data), 40)], g.Compressed, g.Incomplete, g.Truncated,
				w.dir, w.op, len(w.data), w.data[:min(len(w.data), 40)], w.compressed)
		}
	}
}

func deadline() time.Time { return time.Now().Add(ioWait) }

// readAllBytes reads what is left on a peer's stream until its end.
func readAllBytes(t *testing.T, p *rawPeer) []byte {
	t.Helper()
	p.conn.SetReadDeadline(deadline())
	b, err := io.ReadAll(p.br)
	if err != nil && !isReset(err) {
		t.Fatalf("read to the end of the stream: %v", err)
	}
	return b
}

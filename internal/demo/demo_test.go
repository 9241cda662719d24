package demo

import (
	"bufio"
	"bytes"
	"compress/flate"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/gorilla/websocket"
	"github.com/vmihailenco/msgpack/v5"
)

// TestSessionOnTheWire runs the client against the server through a TCP
// forwarder that keeps both byte streams, then checks the frames on the
// wire: one message of every kind the package doc promises.
func TestSessionOnTheWire(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	srv := httptest.NewServer(NewServer())
	defer srv.Close()
	fwd := startForwarder(t, ctx, strings.TrimPrefix(srv.URL, "http://"))

	n, err := RunClient(ctx, ClientOptions{URL: "ws://" + fwd.addr + "/chat", Dialer: &websocket.Dialer{}})
	if err != nil {
		t.Fatalf("RunClient: %v", err)
	}
	if n <= 0 {
		t.Errorf("RunClient received %d messages, want > 0", n)
	}
	c2s, s2c := fwd.wait(t, ctx)

	reqHeader, c2sFrames := splitHandshake(t, "client", c2s)
	respHeader, s2cFrames := splitHandshake(t, "server", s2c)
	req, resp := reqHeader.Get("Sec-WebSocket-Extensions"), respHeader.Get("Sec-WebSocket-Extensions")
	if !strings.HasPrefix(req, "permessage-deflate") || !strings.HasPrefix(resp, "permessage-deflate") {
		t.Fatalf("permessage-deflate not negotiated: offered %q, accepted %q", req, resp)
	}
	if got := respHeader.Get("Sec-WebSocket-Protocol"); got != Subprotocol {
		t.Errorf("subprotocol = %q, want %q", got, Subprotocol)
	}
	fromClient := assemble(t, "client", parseFrames(t, "client", c2sFrames, true))
	fromServer := assemble(t, "server", parseFrames(t, "server", s2cFrames, false))
	for _, m := range fromClient {
		t.Logf("client→server %s", m)
	}
	for _, m := range fromServer {
		t.Logf("server→client %s", m)
	}

	t.Run("client", func(t *testing.T) {
		var texts, jsonTexts, plain, compressed, opaque int
		var pings, pongs []string
		for _, m := range fromClient {
			switch m.op {
			case opText:
				texts++
				if json.Valid(m.payload) {
					jsonTexts++
				} else {
					plain++
				}
				if m.compressed {
					compressed++
				}
			case opBinary:
				if isOpaque(m.payload) {
					opaque++
				}
			case opPing:
				pings = append(pings, string(m.payload))
			case opPong:
				pongs = append(pongs, string(m.payload))
			}
		}
		if texts != len(Script) || jsonTexts != len(Script)-1 || plain != 1 || compressed != 1 || opaque != 1 {
			t.Errorf("client sent %d texts (%d JSON, %d plain, %d compressed) and %d opaque binaries; want %d (%d, 1, 1) and 1",
				texts, jsonTexts, plain, compressed, opaque, len(Script), len(Script)-1)
		}
		if !slices.Equal(pings, []string{"client-ping"}) {
			t.Errorf("client pings = %q, want [client-ping]", pings)
		}
		if !slices.Contains(pongs, "hb-0") {
			t.Errorf("client pongs = %q, want hb-0 among them", pongs)
		}
		last := fromClient[len(fromClient)-1]
		if last.op != opClose || len(last.payload) < 2 || binary.BigEndian.Uint16(last.payload) != 1000 || string(last.payload[2:]) != "demo done" {
			t.Errorf("client's last message = %s, want close 1000 \"demo done\"", last)
		}
	})

	t.Run("server", func(t *testing.T) {
		var greeting, echoPlain, jsonTexts, fragmented, compressed, opaque int
		var snapshot map[string]any
		var pings, pongs []string
		for _, m := range fromServer {
			switch m.op {
			case opText:
				switch {
				case string(m.payload) == Greeting:
					greeting++
				case strings.HasPrefix(string(m.payload), "echo: "):
					echoPlain++
				case json.Valid(m.payload):
					jsonTexts++
				}
				if m.frames >= 2 && !m.compressed && json.Valid(m.payload) && bytes.Contains(m.payload, []byte(`"catalog"`)) {
					fragmented++
				}
				if m.compressed && json.Valid(m.payload) && bytes.Contains(m.payload, []byte(`"history"`)) {
					compressed++
				}
			case opBinary:
				if isOpaque(m.payload) {
					opaque++
					continue
				}
				if snapshot == nil {
					if err := msgpack.Unmarshal(m.payload, &snapshot); err != nil {
						t.Errorf("binary %s: msgpack: %v", m, err)
					}
				}
			case opPing:
				pings = append(pings, string(m.payload))
			case opPong:
				pongs = append(pongs, string(m.payload))
			}
		}
		if greeting != 1 || json.Valid([]byte(Greeting)) || !utf8.ValidString(Greeting) {
			t.Errorf("server sent the greeting %d times, want once as plain text", greeting)
		}
		if echoPlain != 1 {
			t.Errorf("server sent %d plain echoes, want 1", echoPlain)
		}
		// History, catalog and the echoes of the JSON lines at least.
		if want := 2 + len(Script) - 1; jsonTexts < want {
			t.Errorf("server sent %d JSON texts, want >= %d", jsonTexts, want)
		}
		if fragmented != 1 {
			t.Errorf("server sent %d fragmented catalogs, want 1", fragmented)
		}
		if compressed != 1 {
			t.Errorf("server sent %d compressed histories, want 1", compressed)
		}
		if snapshot["type"] != "snapshot" || snapshot["symbol"] != "WSTP" {
			t.Errorf("msgpack snapshot = %v, want type snapshot, symbol WSTP", snapshot)
		}
		if _, ok := snapshot["time"].(time.Time); !ok {
			t.Errorf("snapshot time = %T, want a msgpack timestamp", snapshot["time"])
		}
		if _, ok := snapshot["digest"].([]byte); !ok {
			t.Errorf("snapshot digest = %T, want msgpack bin", snapshot["digest"])
		}
		if bids, ok := snapshot["bids"].([]any); !ok || len(bids) == 0 {
			t.Errorf("snapshot bids = %v, want a nested array", snapshot["bids"])
		} else if level, ok := bids[0].([]any); !ok || len(level) != 2 {
			t.Errorf("snapshot bids[0] = %v, want [price, size]", bids[0])
		} else if _, ok := level[0].(float64); !ok {
			t.Errorf("snapshot bids[0][0] = %T, want float64", level[0])
		}
		// The opaque quote comes every fourth tick, so it is not checked
		// here: the timing is the ticker's, not the script's.
		t.Logf("server sent %d opaque binary quotes", opaque)
		if !slices.Contains(pings, "hb-0") {
			t.Errorf("server pings = %q, want hb-0 among them", pings)
		}
		if !slices.Equal(pongs, []string{"client-ping"}) {
			t.Errorf("server pongs = %q, want [client-ping]", pongs)
		}
		last := fromServer[len(fromServer)-1]
		if last.op != opClose || len(last.payload) < 2 || binary.BigEndian.Uint16(last.payload) != 1000 {
			t.Errorf("server's last message = %s, want close 1000", last)
		}
	})
}

// TestRunClientTLS runs the session over wss:// with ListenTLS, as wstap demo
// does (without the proxy).
func TestRunClientTLS(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	// httptest's certificate covers 127.0.0.1.
	ts := httptest.NewUnstartedServer(http.NotFoundHandler())
	ts.StartTLS()
	defer ts.Close()
	roots := x509.NewCertPool()
	roots.AddCert(ts.Certificate())

	addr, stop, err := ListenTLS(NewServer(), &tls.Config{Certificates: ts.TLS.Certificates})
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	n, err := RunClient(ctx, ClientOptions{
		URL:    "wss://" + addr + "/chat",
		Dialer: &websocket.Dialer{TLSClientConfig: &tls.Config{RootCAs: roots}},
		Pause:  10 * time.Millisecond,
	})
	if err != nil {
		t.Fatalf("RunClient: %v", err)
	}
	// Greeting, history, snapshot, an echo per line and the catalog: the
	// server answers the close only after them.
	if want := 3 + len(Script) + 1; n < want {
		t.Errorf("RunClient received %d messages, want >= %d", n, want)
	}
}

func TestServerNotFound(t *testing.T) {
	t.Parallel()
	rec := httptest.NewRecorder()
	NewServer().ServeHTTP(rec, httptest.NewRequest("GET", "/other", nil))
	if rec.Code != http.StatusNotFound {
		t.Errorf("GET /other = %d, want 404", rec.Code)
	}
}

// isOpaque reports whether p is one of the demo's opaque binary messages,
// and checks it decodes as no msgpack value.
func isOpaque(p []byte) bool {
	if !bytes.HasPrefix(p, opaqueMagic) || len(p) < 32 {
		return false
	}
	var v any
	return msgpack.Unmarshal(p, &v) != nil && !utf8.Valid(p)
}

// forwarder relays one TCP connection and keeps a copy of each direction.
type forwarder struct {
	addr     string
	c2s, s2c bytes.Buffer
	done     chan struct{} // closed when both directions have ended
}

func startForwarder(t *testing.T, ctx context.Context, upstream string) *forwarder {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &forwarder{addr: ln.Addr().String(), done: make(chan struct{})}
	go func() {
		defer close(f.done)
		defer ln.Close()
		client, err := ln.Accept()
		if err != nil {
			return
		}
		defer client.Close()
		server, err := net.Dial("tcp", upstream)
		if err != nil {
			return
		}
		defer server.Close()
		stop := context.AfterFunc(ctx, func() { client.Close(); server.Close() })
		defer stop()
		half := make(chan struct{}, 2)
		relay := func(dst, src net.Conn, keep *bytes.Buffer) {
			io.Copy(dst, io.TeeReader(src, keep))
			dst.(*net.TCPConn).CloseWrite()
			half <- struct{}{}
		}
		go relay(server, client, &f.c2s)
		go relay(client, server, &f.s2c)
		<-half
		<-half
	}()
	context.AfterFunc(ctx, func() { ln.Close() })
	return f
}

// wait returns the two byte streams once the connection has ended.
func (f *forwarder) wait(t *testing.T, ctx context.Context) (c2s, s2c []byte) {
	t.Helper()
	select {
	case <-f.done:
	case <-ctx.Done():
		<-f.done
		t.Fatalf("the connection did not end: %v", ctx.Err())
	}
	return f.c2s.Bytes(), f.s2c.Bytes()
}

// splitHandshake parses the HTTP head at the start of b (a request from the
// client, a 101 response from the server) and returns its header and the
// bytes after it.
func splitHandshake(t *testing.T, who string, b []byte) (http.Header, []byte) {
	t.Helper()
	i := bytes.Index(b, []byte("\r\n\r\n"))
	if i < 0 {
		t.Fatalf("%s: no HTTP head in %d bytes", who, len(b))
	}
	r := bufio.NewReader(bytes.NewReader(b[:i+4]))
	if who == "server" {
		resp, err := http.ReadResponse(r, nil)
		if err != nil {
			t.Fatalf("%s: handshake response: %v", who, err)
		}
		if resp.StatusCode != http.StatusSwitchingProtocols {
			t.Fatalf("%s: handshake status %d, want 101", who, resp.StatusCode)
		}
		return resp.Header, b[i+4:]
	}
	req, err := http.ReadRequest(r)
	if err != nil {
		t.Fatalf("%s: handshake request: %v", who, err)
	}
	return req.Header, b[i+4:]
}

// RFC 6455 opcodes.
const (
	opContinuation = 0x0
	opText         = 0x1
	opBinary       = 0x2
	opClose        = 0x8
	opPing         = 0x9
	opPong         = 0xa
)

type frame struct {
	fin, rsv1 bool
	op        byte
	payload   []byte
}

// parseFrames reads b as a sequence of RFC 6455 frames (section 5.2),
// unmasking their payloads. masked says whether every frame must be masked
// (client to server) or none (server to client).
func parseFrames(t *testing.T, who string, b []byte, masked bool) []frame {
	t.Helper()
	var fs []frame
	for len(b) > 0 {
		if len(b) < 2 {
			t.Fatalf("%s: %d stray bytes after %d frames", who, len(b), len(fs))
		}
		f := frame{fin: b[0]&0x80 != 0, rsv1: b[0]&0x40 != 0, op: b[0] & 0x0f}
		if b[0]&0x30 != 0 {
			t.Fatalf("%s: frame %d has RSV2 or RSV3 set", who, len(fs))
		}
		isMasked := b[1]&0x80 != 0
		if isMasked != masked {
			t.Fatalf("%s: frame %d masked = %v, want %v", who, len(fs), isMasked, masked)
		}
		n, hdr := uint64(b[1]&0x7f), 2
		switch n {
		case 126:
			if len(b) < 4 {
				t.Fatalf("%s: short header", who)
			}
			n, hdr = uint64(binary.BigEndian.Uint16(b[2:])), 4
		case 127:
			if len(b) < 10 {
				t.Fatalf("%s: short header", who)
			}
			n, hdr = binary.BigEndian.Uint64(b[2:]), 10
		}
		var key []byte
		if masked {
			if len(b) < hdr+4 {
				t.Fatalf("%s: short header", who)
			}
			key, hdr = b[hdr:hdr+4], hdr+4
		}
		if uint64(len(b)-hdr) < n {
			t.Fatalf("%s: frame %d wants %d payload bytes, %d left", who, len(fs), n, len(b)-hdr)
		}
		f.payload = append([]byte(nil), b[hdr:hdr+int(n)]...)
		for i := range f.payload {
			if masked {
				f.payload[i] ^= key[i%4]
			}
		}
		b = b[hdr+int(n):]
		fs = append(fs, f)
	}
	return fs
}

// message is one reassembled message: a data message with its frame count,
// or a control frame.
type message struct {
	op         byte
	frames     int
	compressed bool
	payload    []byte // decompressed
	wire       int    // payload bytes on the wire
}

func (m message) String() string {
	kind := map[byte]string{opText: "text", opBinary: "binary", opClose: "close", opPing: "ping", opPong: "pong"}[m.op]
	s := fmt.Sprintf("%-6s %5d bytes in %d frame(s)", kind, len(m.payload), m.frames)
	if m.compressed {
		s += fmt.Sprintf(", compressed to %d", m.wire)
	}
	p := m.payload
	if len(p) > 40 {
		p = p[:40]
	}
	if m.op == opBinary {
		return s + fmt.Sprintf(" % x", p)
	}
	return s + fmt.Sprintf(" %q", p)
}

// assemble joins frames into messages (RFC 6455, section 5.4) and inflates
// compressed ones (RFC 7692, section 7.2.2).
func assemble(t *testing.T, who string, fs []frame) []message {
	t.Helper()
	var ms []message
	var cur *message
	for i, f := range fs {
		switch {
		case f.op >= opClose:
			if !f.fin || f.rsv1 || len(f.payload) > 125 {
				t.Fatalf("%s: bad control frame %d", who, i)
			}
			ms = append(ms, message{op: f.op, frames: 1, payload: f.payload, wire: len(f.payload)})
			continue
		case f.op == opContinuation:
			if cur == nil || f.rsv1 {
				t.Fatalf("%s: unexpected continuation frame %d", who, i)
			}
		case f.op == opText || f.op == opBinary:
			if cur != nil {
				t.Fatalf("%s: frame %d starts a message inside another", who, i)
			}
			cur = &message{op: f.op, compressed: f.rsv1}
		default:
			t.Fatalf("%s: frame %d has reserved opcode %#x", who, i, f.op)
		}
		cur.frames++
		cur.payload = append(cur.payload, f.payload...)
		cur.wire += len(f.payload)
		if !f.fin {
			continue
		}
		if cur.compressed {
			cur.payload = inflate(t, who, cur.payload)
		}
		if cur.op == opText && !utf8.Valid(cur.payload) {
			t.Errorf("%s: text message %d is not UTF-8", who, len(ms))
		}
		ms = append(ms, *cur)
		cur = nil
	}
	if cur != nil {
		t.Fatalf("%s: unfinished message at the end", who)
	}
	return ms
}

func inflate(t *testing.T, who string, p []byte) []byte {
	t.Helper()
	// The sender stripped the 00 00 ff ff tail; a final empty stored block
	// ends the stream.
	r := flate.NewReader(io.MultiReader(bytes.NewReader(p), strings.NewReader("\x00\x00\xff\xff\x01\x00\x00\xff\xff")))
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("%s: inflate: %v", who, err)
	}
	return b
}

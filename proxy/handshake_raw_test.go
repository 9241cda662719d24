package proxy

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/wstap/wstap/capture"
)

// The tests of this file check that a handshake crosses the proxy byte for
// byte (DESIGN.md section 2; issue 7): the client's upgrade request reaches
// the server with its lines in the client's order and case, duplicates and
// Host where the client put them, and the server's answer, 101 or refusal,
// reaches the client as the server wrote it. Both peers are raw TCP, so
// nothing between them and the proxy rewrites a byte.

// newListenerMatrix is newMatrix with the proxy served through
// Proxy.Listener, as wstap record serves it.
func newListenerMatrix(t *testing.T, opts Options) *matrix {
	t.Helper()
	m := &matrix{path: filepath.Join(t.TempDir(), "raw.wstap")}
	w, err := capture.Create(m.path, capture.Options{})
	if err != nil {
		t.Fatal(err)
	}
	m.sink = &endSink{Writer: w, ended: make(chan capture.ConnID, 64)}
	opts.Sink = m.sink
	if m.p, err = New(opts); err != nil {
		t.Fatal(err)
	}
	m.srv = httptest.NewUnstartedServer(m.p)
	m.srv.Listener = m.p.Listener(m.srv.Listener)
	m.srv.Start()
	m.URL = m.srv.URL
	t.Cleanup(func() { m.finish(t) })
	return m
}

// rawUpstream is a server on loopback that hands the test the bytes of the
// request head it received, and the bytes that followed it, and answers
// with a canned response.
type rawUpstream struct {
	addr  string
	heads chan []byte // each connection's request head
	after chan []byte // the afterLen bytes that followed it
}

// newRawUpstream answers each connection with response once it has read a
// request head, then reads afterLen more bytes and waits for the client to
// hang up. With cfg, it speaks TLS.
func newRawUpstream(t *testing.T, response string, afterLen int, cfg *tls.Config) *rawUpstream {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if cfg != nil {
		ln = tls.NewListener(ln, cfg)
	}
	u := &rawUpstream{addr: ln.Addr().String(), heads: make(chan []byte, 4), after: make(chan []byte, 4)}
	done := make(chan struct{})
	t.Cleanup(func() { ln.Close(); <-done })
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			func() {
				defer c.Close()
				c.SetDeadline(time.Now().Add(ioWait))
				br := bufio.NewReader(c)
				var head []byte
				for !bytes.HasSuffix(head, []byte("\r\n\r\n")) {
					line, err := br.ReadSlice('\n')
					head = append(head, line...)
					if err != nil {
						return
					}
				}
				u.heads <- head
				io.WriteString(c, response)
				after := make([]byte, afterLen)
				n, _ := io.ReadFull(br, after)
				u.after <- after[:n]
				io.Copy(io.Discard, br) // until the proxy hangs up
			}()
		}
	}()
	return u
}

// received returns what the upstream got: the head, and what followed.
func (u *rawUpstream) received(t *testing.T) (head, after []byte) {
	t.Helper()
	for _, ch := range []chan []byte{u.heads, u.after} {
		select {
		case b := <-ch:
			if head == nil {
				head = b
			} else {
				after = b
			}
		case <-time.After(ioWait):
			t.Fatal("the upstream received no request")
		}
	}
	return head, after
}

// requestLines are the client's header lines: mixed case, an unusual
// order, a duplicate split around Host, Host neither first nor last, and a
// header meant for the proxy.
func requestLines(host string) []string {
	return []string{
		"user-agent: rawclient/1.0",
		"SEC-WEBSOCKET-KEY: dGhlIHNhbXBsZSBub25jZQ==",
		"X-Dup: first",
		"hOST: " + host,
		"x-dup: second",
		"Proxy-Connection: keep-alive",
		"connection: Upgrade",
		"upgrade: websocket",
		"Cookie: a=1",
		"sec-websocket-version: 13",
	}
}

func head(line string, fields []string) string {
	return line + "\r\n" + strings.Join(fields, "\r\n") + "\r\n\r\n"
}

// withHost replaces the value of the Host line, keeping its name's case.
func withHost(fields []string, host string) []string {
	out := slices.Clone(fields)
	for i, f := range out {
		if strings.HasPrefix(strings.ToLower(f), "host:") {
			out[i] = f[:len("host:")] + " " + host
		}
	}
	return out
}

func without(fields []string, name string) []string {
	return slices.DeleteFunc(slices.Clone(fields), func(f string) bool {
		return strings.HasPrefix(strings.ToLower(f), strings.ToLower(name)+":")
	})
}

// asList turns header lines into the capture's list.
func asList(fields []string) []capture.HeaderField {
	var out []capture.HeaderField
	for _, f := range fields {
		name, value, _ := strings.Cut(f, ":")
		out = append(out, capture.HeaderField{Name: name, Value: strings.TrimSpace(value)})
	}
	return out
}

// switching is a 101 with odd-case names, a duplicate and an extension
// header, as some servers write it.
var switchingLines = []string{
	"upgrade: WebSocket",
	"CONNECTION: upgrade",
	"sec-websocket-accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=",
	"X-Served-By: raw",
	"x-served-by: again",
	"Date: Mon, 01 Jan 2024 00:00:00 GMT",
}

var refusalLines = []string{
	"x-reason: Nope",
	"Transfer-Encoding: chunked",
	"content-TYPE: text/plain",
}

const refusalBody = "5\r\nnope!\r\n3\r\n...\r\n0\r\n\r\n"

// handshakeMode is one way an upgrade reaches the proxy.
type handshakeMode struct {
	name string
	tls  bool
	// dial connects a raw client to the proxy for the upstream at addr,
	// through a CONNECT tunnel when the mode has one, and returns it with
	// the request line it sends and the host its Host line names.
	dial func(t *testing.T, m *matrix, addr string, ca *tls.Config) (c net.Conn, line, host string)
	// forwarded is the request line and the Host the upstream must get.
	forwarded func(addr string) (line, host string)
	upstream  func(addr string) string // Options.Upstream, for reverse mode
}

func dialProxy(t *testing.T, m *matrix) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", strings.TrimPrefix(m.URL, "http://"), ioWait)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(ioWait))
	return c
}

// connectTunnel opens a CONNECT tunnel to addr through the proxy, with TLS
// inside when ca is set.
func connectTunnel(t *testing.T, m *matrix, addr string, ca *tls.Config) net.Conn {
	t.Helper()
	c := dialProxy(t, m)
	fmt.Fprintf(c, "CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n", addr, addr)
	want := "HTTP/1.1 200 Connection established\r\n\r\n"
	got := make([]byte, len(want))
	if _, err := io.ReadFull(c, got); err != nil || string(got) != want {
		t.Fatalf("CONNECT answered %q, %v", got, err)
	}
	if ca == nil {
		return c
	}
	tc := tls.Client(c, ca)
	if err := tc.Handshake(); err != nil {
		t.Fatalf("TLS inside the tunnel: %v", err)
	}
	return tc
}

var handshakeModes = []handshakeMode{
	{name: "explicit",
		dial: func(t *testing.T, m *matrix, addr string, _ *tls.Config) (net.Conn, string, string) {
			return dialProxy(t, m), "GET ws://" + addr + "/chat?room=1&x=%41 HTTP/1.1", addr
		},
		forwarded: func(addr string) (string, string) { return "GET /chat?room=1&x=%41 HTTP/1.1", addr }},
	{name: "connect",
		dial: func(t *testing.T, m *matrix, addr string, ca *tls.Config) (net.Conn, string, string) {
			return connectTunnel(t, m, addr, nil), "GET /chat?room=1&x=%41 HTTP/1.1", addr
		},
		forwarded: func(addr string) (string, string) { return "GET /chat?room=1&x=%41 HTTP/1.1", addr }},
	{name: "connect-tls", tls: true,
		dial: func(t *testing.T, m *matrix, addr string, ca *tls.Config) (net.Conn, string, string) {
			return connectTunnel(t, m, addr, ca), "GET /chat?room=1&x=%41 HTTP/1.1", addr
		},
		forwarded: func(addr string) (string, string) { return "GET /chat?room=1&x=%41 HTTP/1.1", addr }},
	{name: "reverse",
		dial: func(t *testing.T, m *matrix, _ string, _ *tls.Config) (net.Conn, string, string) {
			// The client takes wstap for the server: its Host names wstap.
			return dialProxy(t, m), "GET /chat?room=1&x=%41 HTTP/1.1", strings.TrimPrefix(m.URL, "http://")
		},
		forwarded: func(addr string) (string, string) { return "GET /base/chat?room=1&x=%41 HTTP/1.1", addr },
		upstream:  func(addr string) string { return "ws://" + addr + "/base" }},
}

// setup starts an upstream answering response and a proxy in front of it
// for mode, and returns them with the client's TLS configuration.
func (mode handshakeMode) setup(t *testing.T, response string, afterLen int) (*matrix, *rawUpstream, *tls.Config) {
	t.Helper()
	var opts Options
	var upCfg, clientCfg *tls.Config
	if mode.tls {
		ca := testCA(t)
		opts.GetCertificate = ca.GetCertificate
		opts.UpstreamTLS = &tls.Config{RootCAs: ca.Pool()}
		clientCfg = &tls.Config{RootCAs: ca.Pool(), ServerName: "127.0.0.1"}
		upCfg = &tls.Config{GetCertificate: func(h *tls.ClientHelloInfo) (*tls.Certificate, error) {
			hh := *h
			hh.ServerName = "127.0.0.1" // no SNI for an IP address
			return ca.GetCertificate(&hh)
		}}
	}
	up := newRawUpstream(t, response, afterLen, upCfg)
	if mode.upstream != nil {
		opts.Upstream = mode.upstream(up.addr)
	}
	opts.Redact = []string{"Cookie"}
	return newListenerMatrix(t, opts), up, clientCfg
}

// TestHandshakeForwardedAsSent relays a 101 with a frame behind it each
// way and checks every byte of both handshakes, and what the capture
// keeps of them.
func TestHandshakeForwardedAsSent(t *testing.T) {
	for _, mode := range handshakeModes {
		t.Run(mode.name, func(t *testing.T) {
			serverFrame := wireFrame(true, 0, ws.OpText, nil, []byte("from the server"))
			clientFrame := wireFrame(true, 0, ws.OpText, &[4]byte{1, 2, 3, 4}, []byte("pipelined: GET / HTTP/1.1\r\n\r\n"))
			response := head("HTTP/1.1 101 Switching Protocols", switchingLines)
			m, up, ca := mode.setup(t, response+string(serverFrame), len(clientFrame))
			c, line, host := mode.dial(t, m, up.addr, ca)
			fields := requestLines(host)
			// The frame rides in the same write as the request.
			if _, err := c.Write(append([]byte(head(line, fields)), clientFrame...)); err != nil {
				t.Fatal(err)
			}
			gotHead, after := up.received(t)
			wantLine, wantHost := mode.forwarded(up.addr)
			if want := head(wantLine, without(withHost(fields, wantHost), "Proxy-Connection")); string(gotHead) != want {
				t.Errorf("upstream received\n%q\nwant\n%q", gotHead, want)
			}
			if !bytes.Equal(after, clientFrame) {
				t.Errorf("upstream received % x after the head, want the client's frame % x", after, clientFrame)
			}
			want := response + string(serverFrame)
			got := make([]byte, len(want))
			if _, err := io.ReadFull(c, got); err != nil || string(got) != want {
				t.Errorf("client received\n%q (%v)\nwant\n%q", got, err, want)
			}
			// What follows the handshake is frames, or a tunnel: the
			// client's connection no longer records.
			m.p.heads.Range(func(_, v any) bool {
				hc := v.(*headConn)
				hc.mu.Lock()
				defer hc.mu.Unlock()
				if !hc.stopped.Load() {
					t.Errorf("the client's connection still records (%d bytes) after the handshake", len(hc.buf))
				}
				return true
			})
			c.Close()
			m.waitEnds(t, 1)
			r := m.finish(t)
			o := readConn(t, r, connByPath(t, r, "/chat?room=1&x=%41"), 0).open
			wantList := asList(without(fields, "Proxy-Connection"))
			for i, f := range wantList {
				if f.Name == "Cookie" {
					wantList[i].Value = capture.Redaction
				}
			}
			if !slices.Equal(o.RequestHeaderList, wantList) {
				t.Errorf("RequestHeaderList\n%q\nwant what the client sent\n%q", o.RequestHeaderList, wantList)
			}
			if want := asList(switchingLines); !slices.Equal(o.ResponseHeaderList, want) {
				t.Errorf("ResponseHeaderList\n%q\nwant\n%q", o.ResponseHeaderList, want)
			}
			if o.RequestHeaders.Get("X-Dup") != "first" || len(o.RequestHeaders["X-Dup"]) != 2 || o.Status != 101 {
				t.Errorf("RequestHeaders %v, status %d", o.RequestHeaders, o.Status)
			}
		})
	}
}

// TestRefusalForwardedAsSent checks that a refusal, chunked, reaches the
// client byte for byte, and is recorded decoded.
func TestRefusalForwardedAsSent(t *testing.T) {
	for _, mode := range handshakeModes {
		t.Run(mode.name, func(t *testing.T) {
			response := head("HTTP/1.1 403 Forbidden", refusalLines) + refusalBody
			m, up, ca := mode.setup(t, response, 0)
			c, line, host := mode.dial(t, m, up.addr, ca)
			if _, err := io.WriteString(c, head(line, requestLines(host))); err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(c)
			if err != nil || string(got) != response {
				t.Errorf("client received\n%q (%v)\nwant\n%q", got, err, response)
			}
			c.Close()
			r := m.finish(t)
			got2 := readConn(t, r, connByPath(t, r, "/chat?room=1&x=%41"), 0)
			if o := got2.open; o.Status != 403 || string(o.ResponseBody) != "nope!..." || !slices.Equal(o.ResponseHeaderList, asList(refusalLines)) {
				t.Errorf("recorded %d, body %q, headers %q", o.Status, o.ResponseBody, o.ResponseHeaderList)
			}
			if got2.end == nil || got2.end.Error != "refused: 403 Forbidden" {
				t.Errorf("end %+v, want refused: 403 Forbidden", got2.end)
			}
		})
	}
}

// TestHandshakeFallbackCanonical: served without Proxy.Listener, the proxy
// has no bytes of the request head; it forwards and records net/http's
// form, Host first.
func TestHandshakeFallbackCanonical(t *testing.T) {
	response := head("HTTP/1.1 101 Switching Protocols", switchingLines)
	up := newRawUpstream(t, response, 0, nil)
	m := newMatrix(t, Options{})
	c := dialProxy(t, m)
	io.WriteString(c, head("GET ws://"+up.addr+"/fallback HTTP/1.1", requestLines(up.addr)))
	gotHead, _ := up.received(t)
	if !strings.HasPrefix(string(gotHead), "GET /fallback HTTP/1.1\r\nHost: "+up.addr+"\r\n") ||
		!strings.Contains(string(gotHead), "\r\nX-Dup: first\r\nX-Dup: second\r\n") || strings.Contains(string(gotHead), "Proxy-Connection") {
		t.Errorf("upstream received %q, want the canonical form", gotHead)
	}
	got := make([]byte, len(response))
	if _, err := io.ReadFull(c, got); err != nil || string(got) != response {
		t.Errorf("client received %q (%v), want the server's 101 as sent", got, err)
	}
	c.Close()
	m.waitEnds(t, 1)
	r := m.finish(t)
	o := readConn(t, r, connByPath(t, r, "/fallback"), 0).open
	if len(o.RequestHeaderList) == 0 || o.RequestHeaderList[0] != (capture.HeaderField{Name: "Host", Value: up.addr}) ||
		!slices.Contains(o.RequestHeaderList, capture.HeaderField{Name: "Sec-Websocket-Key", Value: "dGhlIHNhbXBsZSBub25jZQ=="}) {
		t.Errorf("RequestHeaderList %q, want Host first, then canonical names", o.RequestHeaderList)
	}
}

// TestHandshakeAsSentKeepsWstapCredentials: in reverse mode with
// ProxyAuth, the client's Authorization is wstap's: it goes neither
// upstream nor into the capture, whatever its case.
func TestHandshakeAsSentKeepsWstapCredentials(t *testing.T) {
	response := head("HTTP/1.1 101 Switching Protocols", switchingLines)
	up := newRawUpstream(t, response, 0, nil)
	m := newListenerMatrix(t, Options{Upstream: "ws://" + up.addr, ProxyAuth: testCreds})
	c := dialProxy(t, m)
	host := strings.TrimPrefix(m.URL, "http://")
	fields := append(requestLines(host), "AUTHORIZATION: "+basic(testCreds))
	io.WriteString(c, head("GET /creds HTTP/1.1", fields))
	gotHead, _ := up.received(t)
	if want := head("GET /creds HTTP/1.1", without(without(withHost(fields, up.addr), "Proxy-Connection"), "Authorization")); string(gotHead) != want {
		t.Errorf("upstream received\n%q\nwant\n%q", gotHead, want)
	}
	got := make([]byte, len(response))
	if _, err := io.ReadFull(c, got); err != nil || string(got) != response {
		t.Errorf("client received %q (%v)", got, err)
	}
	c.Close()
	m.waitEnds(t, 1)
	r := m.finish(t)
	o := readConn(t, r, connByPath(t, r, "/creds"), 0).open
	if want := asList(without(without(fields, "Proxy-Connection"), "Authorization")); !slices.Equal(o.RequestHeaderList, want) {
		t.Errorf("RequestHeaderList\n%q\nwant\n%q", o.RequestHeaderList, want)
	}
}

package proxy

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"runtime/debug"
	"strings"
	"time"

	"github.com/gobwas/httphead"
	"github.com/gobwas/ws/wsflate"
	"github.com/wstap/wstap/capture"
	"github.com/wstap/wstap/internal/tlsfacts"
)

// proxyOnlyHeaders are meant for the proxy and are not forwarded.
var proxyOnlyHeaders = []string{"Proxy-Connection", "Proxy-Authorization", "Proxy-Authenticate"}

// isUpgrade reports whether r asks for a WebSocket upgrade (RFC 6455 §4.2.1).
func isUpgrade(r *http.Request) bool {
	return headerHasToken(r.Header, "Connection", "upgrade") && headerHasToken(r.Header, "Upgrade", "websocket")
}

func headerHasToken(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for t := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

// target is where an upgrade goes and how it was asked for.
type target struct {
	url       *url.URL // ws:// or wss:// URL dialled
	host      string   // Host header sent upstream
	mode      string   // "explicit", "connect" or "reverse"
	clientTLS *tls.ConnectionState
	uri       string    // the request target sent upstream, in origin form
	head      []byte    // the client's request head as it sent it; nil when unknown
	conn      *headConn // the client's connection, when it records heads
}

// relayUpgrade forwards a client's upgrade request to the target as the
// client sent it, and the server's answer back as the server sent it. On a
// 101 it takes over both connections and relays frames until they end.
func (p *Proxy) relayUpgrade(w http.ResponseWriter, r *http.Request, t target) {
	if !p.reserve() {
		http.Error(w, "wstap: shutting down", http.StatusServiceUnavailable)
		return
	}
	running := false // once the session runs, its goroutine holds the reservation
	defer func() {
		if !running {
			p.release()
		}
	}()
	start := time.Now()
	open := &capture.ConnOpen{Time: start, URL: t.url.String(), Mode: t.mode, ClientAddr: r.RemoteAddr,
		RequestHeaders: r.Header.Clone(), ClientTLS: tlsfacts.Info(t.clientTLS, false)}
	for _, h := range proxyOnlyHeaders {
		open.RequestHeaders.Del(h)
	}
	var head *rawHead
	if t.head != nil {
		head, _ = parseHead(t.head)
	}
	if head != nil {
		open.RequestHeaderList = head.list(p.wstapHeader)
	} else {
		open.RequestHeaderList = canonicalList(r.Host, open.RequestHeaders)
	}
	open.Redacted = p.redact(open.RequestHeaders, open.RequestHeaderList, nil)

	ctx, cancel := context.WithTimeout(r.Context(), p.opts.HandshakeTimeout)
	defer cancel()
	up, err := p.dialUpstream(ctx, t.url)
	if err != nil {
		p.badGateway(w, open, fmt.Sprintf("cannot reach upstream %s: %v", t.url.Host, err))
		return
	}
	open.ServerAddr = up.RemoteAddr().String()
	if tc, ok := up.(*tls.Conn); ok {
		st := tc.ConnectionState()
		open.ServerTLS = tlsfacts.Info(&st, true)
		if p.opts.UpstreamTLS != nil && p.opts.UpstreamTLS.InsecureSkipVerify {
			open.ServerTLS.Verified = "not verified (verification disabled by --insecure)"
		}
	}

	req := upstreamRequest(r, t)
	if deadline, ok := ctx.Deadline(); ok {
		up.SetDeadline(deadline)
	}
	if head != nil {
		_, err = up.Write(head.upstreamRequest(t.uri, t.host, p.wstapHeader))
	} else {
		err = req.Write(up)
	}
	if err != nil {
		up.Close()
		p.badGateway(w, open, fmt.Sprintf("send the upgrade request to %s: %v", t.url.Host, err))
		return
	}
	ur := &upstreamResponse{rec: &readRecorder{r: up, on: true, max: maxHeadWindow}}
	ur.br = bufio.NewReaderSize(ur.rec, ioBufSize)
	resp, err := http.ReadResponse(ur.br, req)
	if err != nil {
		up.Close()
		p.badGateway(w, open, fmt.Sprintf("read the upgrade response from %s: %v", t.url.Host, err))
		return
	}
	up.SetDeadline(time.Time{})
	var respHead *rawHead
	if !ur.rec.cut {
		ur.head = ur.rec.take(ur.br.Buffered())
		if respHead, _ = parseHead(ur.head); respHead == nil {
			ur.head = nil
		}
	}
	ur.rec.max = 0
	open.Status = resp.StatusCode
	open.ResponseHeaders = resp.Header.Clone()
	if respHead != nil {
		open.ResponseHeaderList = respHead.list(func(string) bool { return false })
	} else {
		open.ResponseHeaderList = canonicalList("", resp.Header)
	}
	open.Redacted = p.redact(open.ResponseHeaders, open.ResponseHeaderList, open.Redacted)
	open.Subprotocol = resp.Header.Get("Sec-WebSocket-Protocol")
	open.Extensions = strings.Join(resp.Header.Values("Sec-WebSocket-Extensions"), ", ")

	if resp.StatusCode != http.StatusSwitchingProtocols {
		p.refused(w, open, resp, ur, t.conn)
		up.Close()
		return
	}
	ur.rec.stop()

	hj, ok := w.(http.Hijacker)
	if !ok {
		up.Close()
		p.badGateway(w, open, "the client connection cannot be taken over")
		return
	}
	client, brw, err := hj.Hijack()
	if err != nil {
		up.Close()
		p.failed(open, "take over the client connection: "+err.Error())
		return
	}
	t.conn.stop() // frames follow
	s := &session{p: p, client: newLeg(client, brw.Reader), server: newLeg(up, ur.br), closesSent: make(chan struct{})}
	s.deflate = negotiatedDeflate(resp.Header)
	s.id = p.open(open) // recorded before the client learns of the 101

	if ur.head == nil {
		var b bytes.Buffer
		fmt.Fprintf(&b, "HTTP/%d.%d %s\r\n", resp.ProtoMajor, resp.ProtoMinor, resp.Status)
		resp.Header.Write(&b)
		b.WriteString("\r\n")
		ur.head = b.Bytes()
	}
	if _, err := client.Write(ur.head); err != nil {
		client.Close()
		up.Close()
		p.counters.Failed.Add(1)
		p.record(&capture.End{Conn: s.id, Time: time.Now(), Error: "write the 101 to the client: " + err.Error()})
		return
	}
	// A Shutdown that began during the handshake did not see this session:
	// it closes itself, as Shutdown would have.
	if !p.register(s) {
		s.closeBoth()
	}
	// The session runs on goroutines of its own, and the handler returns:
	// the HTTP server's state for the connection (its buffers, the
	// handler's deep stack) is not held for as long as the WebSocket lives.
	running = true
	go func() {
		defer p.release()
		defer p.unregister(s)
		defer func() {
			// As net/http does for a handler: one connection's fault
			// never takes the others down.
			if v := recover(); v != nil {
				s.client.conn.Close()
				s.server.conn.Close()
				p.logf("wstap: connection %d: internal error: %v\n%s", s.id, v, debug.Stack())
			}
		}()
		s.run()
	}()
}

// upstreamResponse is the server's answer to an upgrade request as it
// arrived: the reader the response was parsed from, and the bytes of its
// head (nil when unknown).
type upstreamResponse struct {
	rec  *readRecorder
	br   *bufio.Reader // over rec
	head []byte
}

// wstapHeader reports whether a request header was meant for wstap, not
// the server: the proxy-only headers, and in reverse mode with ProxyAuth,
// Authorization (see admit). Such headers are neither forwarded nor
// recorded.
func (p *Proxy) wstapHeader(name string) bool {
	for _, h := range proxyOnlyHeaders {
		if strings.EqualFold(name, h) {
			return true
		}
	}
	return p.upstream != nil && p.opts.ProxyAuth != "" && strings.EqualFold(name, "Authorization")
}

// upstreamRequest is the client's upgrade request as it goes to the server:
// the same method, path, query and headers, minus what was meant for the
// proxy.
func upstreamRequest(r *http.Request, t target) *http.Request {
	req := &http.Request{
		Method:     r.Method,
		URL:        &url.URL{Path: t.url.Path, RawPath: t.url.RawPath, RawQuery: t.url.RawQuery},
		Proto:      "HTTP/1.1",
		ProtoMajor: 1,
		ProtoMinor: 1,
		Header:     r.Header.Clone(),
		Host:       t.host,
	}
	if req.URL.Path == "" {
		req.URL.Path = "/"
	}
	for _, h := range proxyOnlyHeaders {
		req.Header.Del(h)
	}
	if _, ok := req.Header["User-Agent"]; !ok {
		req.Header["User-Agent"] = []string{""} // Request.Write would add Go's own
	}
	return req
}

// negotiatedDeflate returns the permessage-deflate parameters the server
// accepted, or nil.
func negotiatedDeflate(h http.Header) *wsflate.Parameters {
	for _, v := range h.Values("Sec-WebSocket-Extensions") {
		opts, ok := httphead.ParseOptions([]byte(v), nil)
		if !ok {
			continue
		}
		for _, o := range opts {
			if string(o.Name) != wsflate.ExtensionName {
				continue
			}
			var p wsflate.Parameters
			if p.Parse(o) == nil {
				return &p
			}
		}
	}
	return nil
}

// refused forwards a handshake refusal to the client as the server sent it,
// and records it with a prefix of its body.
func (p *Proxy) refused(w http.ResponseWriter, open *capture.ConnOpen, resp *http.Response, ur *upstreamResponse, cc *headConn) {
	defer resp.Body.Close()
	var prefix limitedBuffer
	prefix.max = p.opts.MaxRefusalBody
	var err error
	if client := hijackForRefusal(w, ur); client != nil {
		cc.stop()
		err = relayRefusal(client, resp, ur, &prefix)
		lingeringClose(client)
	} else {
		ur.rec.stop()
		for k, vs := range resp.Header {
			w.Header()[k] = append([]string(nil), vs...)
		}
		w.WriteHeader(resp.StatusCode)
		_, err = io.Copy(w, io.TeeReader(resp.Body, &prefix))
	}
	open.ResponseBody = prefix.b
	id := p.open(open)
	detail := fmt.Sprintf("server refused the upgrade: %s", resp.Status)
	if len(prefix.b) > 0 {
		detail += ": " + strings.TrimSpace(string(bytes.ToValidUTF8(prefix.b[:min(len(prefix.b), 200)], nil)))
	}
	if err != nil {
		detail += fmt.Sprintf(" (body cut short: %v)", err)
	}
	p.record(&capture.Event{Conn: id, Time: time.Now(), Kind: capture.EventRefused, Detail: detail})
	p.counters.Failed.Add(1)
	p.record(&capture.End{Conn: id, Time: time.Now(), Error: "refused: " + resp.Status})
}

// hijackForRefusal takes over the client's connection so that a refusal
// can go back byte for byte, or returns nil when it cannot (the head's
// bytes are unknown, the connection cannot be taken over).
func hijackForRefusal(w http.ResponseWriter, ur *upstreamResponse) net.Conn {
	hj, ok := w.(http.Hijacker)
	if !ok || ur.head == nil {
		return nil
	}
	client, _, err := hj.Hijack()
	if err != nil {
		return nil
	}
	return client
}

// relayRefusal writes a refusal to the client as it came: its head, then
// the bytes the body reader consumed (chunked framing and all), while the
// decoded body goes to prefix.
func relayRefusal(client net.Conn, resp *http.Response, ur *upstreamResponse, prefix *limitedBuffer) error {
	if _, err := client.Write(ur.head); err != nil {
		return err
	}
	buf := make([]byte, 32<<10)
	for {
		n, err := resp.Body.Read(buf)
		prefix.Write(buf[:n])
		if raw := ur.rec.take(ur.br.Buffered()); len(raw) > 0 {
			if _, werr := client.Write(raw); werr != nil {
				return werr
			}
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// lingerTime bounds how long a refused client's connection stays half
// open after the refusal, as net/http's own server does (rstAvoidanceDelay).
const lingerTime = 500 * time.Millisecond

// lingeringClose closes a connection after a response without losing the
// response: closing a socket with unread bytes would send a reset, and the
// client could lose what it had not read yet. It sends a FIN and reads
// what the client still sends, a bounded while, first.
func lingeringClose(c net.Conn) {
	if closeWrite(c) == nil {
		c.SetReadDeadline(time.Now().Add(lingerTime))
		io.Copy(io.Discard, io.LimitReader(c, 1<<20))
	}
	c.Close()
}

// badGateway answers 502 with a body that says why, and records it.
func (p *Proxy) badGateway(w http.ResponseWriter, open *capture.ConnOpen, msg string) {
	open.Status = 0
	p.failed(open, msg)
	http.Error(w, "wstap: "+msg, http.StatusBadGateway)
}

// failed records an upgrade that went wrong before the relay began: its
// open record, an error event and the end, all saying msg.
func (p *Proxy) failed(open *capture.ConnOpen, msg string) {
	id := p.open(open)
	p.record(&capture.Event{Conn: id, Time: time.Now(), Kind: capture.EventError, Detail: msg})
	p.counters.Failed.Add(1)
	p.record(&capture.End{Conn: id, Time: time.Now(), Error: msg})
	p.logf("conn %d: %s", id, msg)
}

// limitedBuffer keeps the first max bytes written to it.
type limitedBuffer struct {
	b   []byte
	max int
}

func (l *limitedBuffer) Write(p []byte) (int, error) {
	if room := l.max - len(l.b); room > 0 {
		l.b = append(l.b, p[:min(room, len(p))]...)
	}
	return len(p), nil
}

// dialUpstream opens the TCP (and, for wss, TLS) connection to u.
func (p *Proxy) dialUpstream(ctx context.Context, u *url.URL) (net.Conn, error) {
	host := u.Hostname()
	port := u.Port()
	if port == "" {
		port = "80"
		if u.Scheme == "wss" {
			port = "443"
		}
	}
	d := net.Dialer{Timeout: p.opts.DialTimeout}
	c, err := d.DialContext(ctx, "tcp", net.JoinHostPort(host, port))
	if err != nil {
		return nil, err
	}
	if u.Scheme != "wss" {
		return c, nil
	}
	cfg := &tls.Config{}
	if p.opts.UpstreamTLS != nil {
		cfg = p.opts.UpstreamTLS.Clone()
	}
	if cfg.ServerName == "" {
		cfg.ServerName = host
	}
	cfg.NextProtos = []string{"http/1.1"}
	tc := tls.Client(c, cfg)
	if err := tc.HandshakeContext(ctx); err != nil {
		c.Close()
		return nil, tlsfacts.Explain(err, host)
	}
	return tc, nil
}

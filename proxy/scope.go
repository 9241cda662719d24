package proxy

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/elazarl/goproxy"
	"github.com/wstap/wstap/capture"
)

// compileIgnoreHosts checks the patterns of Options.IgnoreHosts and
// returns them in the form hostIgnored matches: trimmed and lower-case.
func compileIgnoreHosts(patterns []string) ([]string, error) {
	out := make([]string, 0, len(patterns))
	for _, pat := range patterns {
		p := strings.ToLower(strings.TrimSpace(pat))
		if strings.HasPrefix(p, "[") && strings.HasSuffix(p, "]") && strings.Contains(p, ":") {
			p = p[1 : len(p)-1] // an IPv6 address in brackets, not a character class
		}
		switch {
		case p == "":
			return nil, fmt.Errorf("proxy: ignore-hosts pattern %q is empty", pat)
		case strings.Contains(p, "/"):
			return nil, fmt.Errorf("proxy: ignore-hosts pattern %q contains '/'; patterns match host names, like *.example.test", pat)
		}
		if h, port, err := net.SplitHostPort(p); err == nil && port != "" {
			return nil, fmt.Errorf("proxy: ignore-hosts pattern %q has a port; patterns match host names only (try %q)", pat, h)
		}
		if _, err := path.Match(p, ""); err != nil {
			return nil, fmt.Errorf("proxy: ignore-hosts pattern %q is malformed (glob syntax: * ? [a-z]): %w", pat, err)
		}
		out = append(out, p)
	}
	return out, nil
}

// hostIgnored reports whether hostport (a CONNECT target, host:port) is
// one of the hosts not to intercept. The host is compared without its port,
// brackets or trailing dot, case-insensitively.
func (p *Proxy) hostIgnored(hostport string) bool {
	if len(p.opts.IgnoreHosts) == 0 {
		return false
	}
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		host = strings.Trim(hostport, "[]")
	}
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	for _, pat := range p.opts.IgnoreHosts {
		if ok, _ := path.Match(pat, host); ok {
			return true
		}
	}
	return false
}

// ignoredConnect selects the CONNECT requests that tunnelConnect serves.
func (p *Proxy) ignoredConnect(r *http.Request, _ *goproxy.ProxyCtx) bool {
	return p.hostIgnored(r.URL.Host)
}

// tunnelConnect serves a CONNECT to a host the user chose not to intercept
// (Options.IgnoreHosts): it dials the host and copies bytes both ways
// untouched, so apps that pin certificates keep working. It does the
// tunnelling itself rather than with goproxy's ConnectAccept, which would
// replay the bytes keepBuffered already hands over (a pipelined
// ClientHello) a second time, and so that Shutdown can end the tunnel.
func (p *Proxy) tunnelConnect(req *http.Request, client net.Conn, _ *goproxy.ProxyCtx) {
	defer client.Close()
	addr := req.URL.Host
	if _, _, err := net.SplitHostPort(addr); err != nil {
		addr = net.JoinHostPort(strings.Trim(addr, "[]"), "443")
	}
	ctx, cancel := context.WithTimeout(context.Background(), p.opts.HandshakeTimeout)
	up, err := (&net.Dialer{Timeout: p.opts.DialTimeout}).DialContext(ctx, "tcp", addr)
	cancel()
	if err != nil {
		msg := fmt.Sprintf("cannot reach %s for an uninspected tunnel (--ignore-hosts): %v", addr, err)
		p.record(&capture.Event{Time: time.Now(), Kind: capture.EventError, Detail: msg})
		p.logf("%s", msg)
		writeRawError(client, http.StatusBadGateway, "wstap: "+msg)
		return
	}
	defer up.Close()
	if !p.tunnels.add(client, up) {
		writeRawError(client, http.StatusServiceUnavailable, "wstap: shutting down")
		return
	}
	defer p.tunnels.remove(client, up)
	if _, err := io.WriteString(client, "HTTP/1.1 200 Connection established\r\n\r\n"); err != nil {
		return
	}
	p.record(&capture.Event{Time: time.Now(), Kind: capture.EventTunnel,
		Detail: fmt.Sprintf("tunnelled %s without interception (--ignore-hosts)", addr)})
	var wg sync.WaitGroup
	wg.Go(func() { pumpTunnel(up, client) })
	pumpTunnel(client, up)
	wg.Wait()
}

// pumpTunnel copies src to dst until src ends, then half-closes dst so the
// peer sees the end of the stream while the other direction goes on. A
// failure on either side cuts both.
func pumpTunnel(dst, src net.Conn) {
	if _, err := io.Copy(dst, src); err != nil || closeWrite(dst) != nil {
		dst.Close()
		src.Close()
	}
}

// writeRawError answers a hijacked CONNECT with an HTTP error.
func writeRawError(c net.Conn, status int, msg string) {
	c.SetWriteDeadline(time.Now().Add(5 * time.Second))
	fmt.Fprintf(c, "HTTP/1.1 %d %s\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s\n",
		status, http.StatusText(status), len(msg)+1, msg)
}

// tunnelSet holds the live uninspected tunnels, so that Shutdown can cut
// them and wait until their pumps have returned.
type tunnelSet struct {
	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	closed bool
	wg     sync.WaitGroup
}

// add registers a tunnel's two connections; it reports false once the
// proxy is shutting down.
func (s *tunnelSet) add(a, b net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	if s.conns == nil {
		s.conns = map[net.Conn]struct{}{}
	}
	s.conns[a], s.conns[b] = struct{}{}, struct{}{}
	s.wg.Add(1)
	return true
}

func (s *tunnelSet) remove(a, b net.Conn) {
	s.mu.Lock()
	delete(s.conns, a)
	delete(s.conns, b)
	s.mu.Unlock()
	s.wg.Done()
}

// closeAll cuts every live tunnel (their bytes are opaque: there is no
// clean way to end them), refuses new ones, and waits for their pumps.
func (s *tunnelSet) closeAll() {
	s.mu.Lock()
	s.closed = true
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

package proxy

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/elazarl/goproxy"
	"github.com/wstap/wstap/capture"
	"github.com/wstap/wstap/internal/tlsfacts"
)

// Plain HTTP exchanges (everything that is not a WebSocket upgrade) are
// recorded as capture.HTTP records while they stream: each body is teed
// into a buffer bounded by Options.MaxBody as it passes, and the record is
// written when the response body reaches its end or is closed. Nothing is
// held whole.
//
// The response body is wrapped inside the round trip (goproxy's per-request
// RoundTripper, the ReverseProxy's Transport), before goproxy or the
// ReverseProxy see it: goproxy drops Content-Length when a response
// handler swaps the body, which would change what the client receives.

// defaultMaxBody is Options.MaxBody's default.
const defaultMaxBody = 1 << 20

// maxRecordBody bounds each body a record keeps, whatever Options.MaxBody
// says: a record holds at most capture.MaxRecord bytes, request and
// response bodies and headers together, and the capture refuses a bigger
// one (capture.ErrTooLarge). The margin is for the headers and the
// encoding.
const maxRecordBody = capture.MaxRecord/2 - 64<<10

// exchangeKey carries an *exchange in a reverse-mode request's context.
type exchangeKey struct{}

// exchange is one plain HTTP exchange being relayed: its record under
// construction and bounded copies of both bodies.
type exchange struct {
	p    *Proxy
	ctx  context.Context // the client's request's: done once the client has gone
	once sync.Once

	mu       sync.Mutex // the request body is read by the transport's goroutine
	rec      capture.HTTP
	req      limitedBuffer
	resp     limitedBuffer
	reqSize  int64
	respSize int64
	done     bool
}

// newExchange starts the record of r, going to url, and tees r's body.
func (p *Proxy) newExchange(r *http.Request, url string) *exchange {
	h := r.Header.Clone()
	for _, name := range proxyOnlyHeaders {
		h.Del(name)
	}
	x := &exchange{p: p, ctx: r.Context(), rec: capture.HTTP{Time: time.Now(), Method: r.Method, URL: url, RequestHeaders: h,
		ClientAddr: r.RemoteAddr, Redacted: p.redact(h, nil, nil)}}
	x.req.max, x.resp.max = p.bodyCap(), p.bodyCap()
	// An empty body stays http.NoBody: the transport would send any other
	// reader with chunked encoding.
	if r.Body != nil && r.Body != http.NoBody {
		r.Body = &teeBody{ReadCloser: r.Body, x: x}
	}
	return x
}

// bodyCap is how much of each body the capture keeps.
func (p *Proxy) bodyCap() int {
	if p.opts.MaxBody < 0 {
		return 0
	}
	return int(min(p.opts.MaxBody, maxRecordBody))
}

func (x *exchange) setURL(u string) {
	x.mu.Lock()
	x.rec.URL = u
	x.mu.Unlock()
}

// response notes the upstream's response and tees its body; the exchange
// is recorded when the body ends. A response without a body (or a 101,
// whose body is the upgraded connection) is recorded at once.
func (x *exchange) response(resp *http.Response) {
	h := resp.Header.Clone()
	x.mu.Lock()
	x.rec.Status = resp.StatusCode
	x.rec.ResponseHeaders = h
	x.rec.Redacted = x.p.redact(h, nil, x.rec.Redacted)
	x.mu.Unlock()
	if resp.Body == nil || resp.Body == http.NoBody || resp.StatusCode == http.StatusSwitchingProtocols {
		x.finish("")
		return
	}
	resp.Body = &teeBody{ReadCloser: resp.Body, x: x, response: true}
}

// took accounts for body bytes that passed through the proxy.
func (x *exchange) took(response bool, b []byte) {
	if len(b) == 0 {
		return
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.done {
		return
	}
	if response {
		x.resp.Write(b)
		x.respSize += int64(len(b))
	} else {
		x.req.Write(b)
		x.reqSize += int64(len(b))
	}
}

// finish records the exchange, once; errMsg says why it failed, if it did.
func (x *exchange) finish(errMsg string) {
	x.once.Do(func() {
		x.mu.Lock()
		x.done = true
		rec := x.rec
		rec.Duration = time.Since(rec.Time)
		rec.RequestBody, rec.RequestSize = x.req.b, x.reqSize
		rec.ResponseBody, rec.ResponseSize = x.resp.b, x.respSize
		rec.Error = errMsg
		x.mu.Unlock()
		x.p.recordHTTP(&rec)
	})
}

// recordHTTP counts an exchange and hands it to the sink.
func (p *Proxy) recordHTTP(rec *capture.HTTP) {
	p.counters.HTTP.Add(1)
	if p.opts.Sink == nil {
		return
	}
	_, err := p.opts.Sink.HTTP(rec)
	if errors.Is(err, capture.ErrTooLarge) {
		// Huge headers on top of the bodies: keep the exchange without
		// its bodies (the sizes still say how big they were).
		p.sinkWarn(err)
		lean := *rec
		lean.RequestBody, lean.ResponseBody = nil, nil
		_, err = p.opts.Sink.HTTP(&lean)
	}
	if err != nil {
		p.sinkError(err)
	}
}

// teeBody is a request or response body whose bytes are accounted to an
// exchange as they are read. A response body records the exchange when it
// reaches its end or is closed.
type teeBody struct {
	io.ReadCloser
	x        *exchange
	response bool
}

func (b *teeBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.x.took(b.response, p[:n])
	if b.response && err != nil {
		switch {
		case errors.Is(err, io.EOF):
			b.x.finish("")
		case b.x.ctx.Err() != nil:
			b.x.finish("the response was cut short: the client went away")
		default:
			b.x.finish("read the response body: " + err.Error())
		}
	}
	return n, err
}

func (b *teeBody) Close() error {
	err := b.ReadCloser.Close()
	if b.response {
		b.x.finish("the response was cut short: the client went away or stopped reading")
	}
	return err
}

// upstreamFailure says in words why an exchange got no response.
func upstreamFailure(r *http.Request, err error) string {
	if r.Context().Err() != nil {
		return "the client went away before the response"
	}
	if err == nil {
		return "no response from upstream " + r.URL.Host
	}
	var verr *tls.CertificateVerificationError
	if errors.As(err, &verr) {
		host, _, splitErr := net.SplitHostPort(r.URL.Host)
		if splitErr != nil {
			host = r.URL.Host
		}
		err = tlsfacts.Explain(err, host)
	}
	return fmt.Sprintf("cannot reach upstream %s: %v", r.URL.Host, err)
}

// recordGoproxyHTTP records what goproxy relays: absolute-form requests to
// the explicit proxy and requests inside intercepted CONNECT tunnels.
func (p *Proxy) recordGoproxyHTTP() {
	p.gp.OnRequest().DoFunc(func(r *http.Request, ctx *goproxy.ProxyCtx) (*http.Request, *http.Response) {
		x := p.newExchange(r, r.URL.String())
		ctx.UserData = x
		ctx.RoundTripper = goproxy.RoundTripperFunc(func(req *http.Request, ctx *goproxy.ProxyCtx) (*http.Response, error) {
			resp, err := ctx.Proxy.Tr.RoundTrip(req)
			if err == nil {
				x.response(resp)
			}
			return resp, err
		})
		return r, nil
	})
	// goproxy itself would answer a failed round trip with a 500 whose
	// body is the bare error; answer 502 saying why, as for upgrades.
	p.gp.OnResponse().DoFunc(func(resp *http.Response, ctx *goproxy.ProxyCtx) *http.Response {
		x, ok := ctx.UserData.(*exchange)
		if resp != nil || !ok {
			return resp
		}
		msg := upstreamFailure(ctx.Req, ctx.Error)
		x.finish(msg)
		p.logf("%s %s: %s", ctx.Req.Method, ctx.Req.URL, msg)
		return goproxy.NewResponse(ctx.Req, "text/plain; charset=utf-8", http.StatusBadGateway, "wstap: "+msg+"\n")
	})
}

// serveReverseHTTP relays a plain HTTP request in reverse mode and records
// it.
func (p *Proxy) serveReverseHTTP(w http.ResponseWriter, r *http.Request) {
	x := p.newExchange(r, "")
	defer x.finish("no response")
	p.rp.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), exchangeKey{}, x)))
}

// recordingTransport is the reverse mode's transport: it notes the URL
// each exchange goes to and tees the response body.
type recordingTransport struct{ base http.RoundTripper }

func (t recordingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	x, _ := req.Context().Value(exchangeKey{}).(*exchange)
	if x != nil {
		x.setURL(req.URL.String())
	}
	resp, err := t.base.RoundTrip(req)
	if err == nil && x != nil {
		x.response(resp)
	}
	return resp, err
}

// reverseError answers a reverse-mode exchange that got no response with a
// 502 that says why, and records it.
func (p *Proxy) reverseError(w http.ResponseWriter, r *http.Request, err error) {
	msg := upstreamFailure(r, err)
	if x, ok := r.Context().Value(exchangeKey{}).(*exchange); ok {
		x.finish(msg)
	}
	p.logf("%s %s: %s", r.Method, r.URL, msg)
	http.Error(w, "wstap: "+msg, http.StatusBadGateway)
}

// flushingWriter flushes each write of a response relayed by goproxy, so a
// streamed response (chunked, long polling) reaches the client as the
// server sends it: goproxy flushes by itself only for text/event-stream,
// and a small write would otherwise wait in the server's buffer. It stays
// an http.Hijacker.
type flushingWriter struct{ http.ResponseWriter }

func (f flushingWriter) Write(p []byte) (int, error) {
	n, err := f.ResponseWriter.Write(p)
	if err == nil {
		f.Flush()
	}
	return n, err
}

// Flush sends what is buffered to the client.
func (f flushingWriter) Flush() { http.NewResponseController(f.ResponseWriter).Flush() }

// Hijack hands over the client's connection (goproxy's upgrade path).
func (f flushingWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return http.NewResponseController(f.ResponseWriter).Hijack()
}

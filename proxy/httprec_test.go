package proxy

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/gobwas/ws"
	"github.com/wstap/wstap/capture"
)

// httpRecords returns the plain HTTP exchanges a capture holds.
func httpRecords(t *testing.T, r *capture.Reader) []*capture.HTTP {
	t.Helper()
	var out []*capture.HTTP
	for rec, err := range r.Records(capture.Filter{}) {
		if err != nil {
			t.Fatalf("read capture: %v", err)
		}
		if h, ok := rec.(*capture.HTTP); ok {
			out = append(out, h)
		}
	}
	return out
}

// exchangeFor finds the one exchange with method and URL.
func exchangeFor(t *testing.T, recs []*capture.HTTP, method, u string) *capture.HTTP {
	t.Helper()
	var found []*capture.HTTP
	for _, h := range recs {
		if h.Method == method && h.URL == u {
			found = append(found, h)
		}
	}
	if len(found) != 1 {
		for _, h := range recs {
			t.Logf("recorded: %s %s %d %q", h.Method, h.URL, h.Status, h.Error)
		}
		t.Fatalf("capture has %d exchanges %s %s, want 1", len(found), method, u)
	}
	return found[0]
}

// httpMode is one way plain HTTP reaches the proxy.
type httpMode struct {
	name string
	// start serves h as the upstream and starts a recording proxy with
	// opts.
	start func(t *testing.T, opts Options, h http.Handler) *httpSetup
}

// httpSetup is an upstream and a recording proxy in front of it.
type httpSetup struct {
	m        *matrix
	up       *httptest.Server
	c        *http.Client // goes through the proxy
	base     string       // the URL the client requests
	recorded string       // the URL the capture names
}

func proxyClient(t *testing.T, proxyURL string, roots *tls.Config) *http.Client {
	pu, _ := url.Parse(proxyURL)
	tr := &http.Transport{Proxy: http.ProxyURL(pu), TLSClientConfig: roots}
	if proxyURL == "" {
		tr.Proxy = nil
	}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 3 * ioWait}
}

var httpModes = []httpMode{
	{"explicit", func(t *testing.T, opts Options, h http.Handler) *httpSetup {
		up := httptest.NewServer(h)
		t.Cleanup(up.Close)
		m := newMatrix(t, opts)
		return &httpSetup{m, up, proxyClient(t, m.URL, nil), up.URL, up.URL}
	}},
	{"connect-mitm", func(t *testing.T, opts Options, h http.Handler) *httpSetup {
		up := httptest.NewTLSServer(h)
		up.Config.ErrorLog = log.New(io.Discard, "", 0)
		t.Cleanup(up.Close)
		ca := testCA(t)
		opts.GetCertificate = ca.GetCertificate
		opts.UpstreamTLS = &tls.Config{RootCAs: serverPool(up)}
		m := newMatrix(t, opts)
		return &httpSetup{m, up, proxyClient(t, m.URL, &tls.Config{RootCAs: ca.Pool()}), up.URL, up.URL}
	}},
	{"reverse", func(t *testing.T, opts Options, h http.Handler) *httpSetup {
		up := httptest.NewServer(h)
		t.Cleanup(up.Close)
		opts.Upstream = wsURL(up.URL)
		m := newMatrix(t, opts)
		return &httpSetup{m, up, proxyClient(t, "", nil), m.URL, up.URL}
	}},
}

// pageHandler is the upstream of the HTTP tests.
func pageHandler(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/page":
		w.Header().Set("Set-Cookie", "sid=42")
		w.Header().Set("X-Reply", "yes")
		fmt.Fprintf(w, "page %s", r.URL.RawQuery)
	case "/echo":
		b, _ := io.ReadAll(r.Body) // HTTP/1 handlers read the body before answering
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Write(b)
	case "/head":
		w.Header().Set("Content-Length", "1234")
	default:
		http.NotFound(w, r)
	}
}

func do(t *testing.T, c *http.Client, method, u string, body []byte, hdr http.Header) (*http.Response, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, u, rd)
	if err != nil {
		t.Fatal(err)
	}
	for k, vs := range hdr {
		req.Header[k] = vs
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", method, u, err)
	}
	return resp, b
}

// TestHTTPExchangesRecorded relays GET, POST and HEAD through each mode and
// checks what the capture holds: method, absolute URL, status, headers
// (redacted where asked), bodies up to MaxBody with their whole sizes, the
// client's address and a duration.
func TestHTTPExchangesRecorded(t *testing.T) {
	for _, mode := range httpModes {
		t.Run(mode.name, func(t *testing.T) {
			st := mode.start(t, Options{MaxBody: 1000, Redact: []string{"cookie", "Set-Cookie", "X-Absent"}}, http.HandlerFunc(pageHandler))
			m, c, base, recorded := st.m, st.c, st.base, st.recorded
			resp, body := do(t, c, "GET", base+"/page?x=1", nil, http.Header{"Cookie": {"a=1"}, "X-Req": {"r1"}})
			if string(body) != "page x=1" || resp.Header.Get("Set-Cookie") != "sid=42" {
				t.Errorf("GET answered %q, Set-Cookie %q: redaction must not touch the wire", body, resp.Header.Get("Set-Cookie"))
			}
			if _, body := do(t, c, "POST", base+"/echo", []byte("hello"), nil); string(body) != "hello" {
				t.Errorf("POST echo %q", body)
			}
			large := bytes.Repeat([]byte("0123456789"), 500)
			if _, body := do(t, c, "PUT", base+"/echo", large, nil); !bytes.Equal(body, large) {
				t.Errorf("PUT echo of %d bytes came back as %d bytes", len(large), len(body))
			}
			// The response's Content-Length reaches the client as the server
			// sent it, even without a body.
			if resp, _ := do(t, c, "HEAD", base+"/head", nil, nil); resp.ContentLength != 1234 {
				t.Errorf("HEAD Content-Length %d, want 1234", resp.ContentLength)
			}
			if got := m.p.Counters().HTTP.Load(); got != 4 {
				t.Errorf("Counters.HTTP = %d, want 4", got)
			}
			recs := httpRecords(t, m.finish(t))
			if len(recs) != 4 {
				t.Fatalf("capture has %d exchanges, want 4", len(recs))
			}

			get := exchangeFor(t, recs, "GET", recorded+"/page?x=1")
			if get.Status != 200 || string(get.ResponseBody) != "page x=1" || get.ResponseSize != 8 || get.Error != "" ||
				get.RequestSize != 0 || get.Duration <= 0 || !strings.HasPrefix(get.ClientAddr, "127.0.0.1:") {
				t.Errorf("GET recorded as %d %q (%d bytes) error %q, request %d bytes, %v, client %q",
					get.Status, get.ResponseBody, get.ResponseSize, get.Error, get.RequestSize, get.Duration, get.ClientAddr)
			}
			if get.RequestHeaders.Get("Cookie") != "[redacted]" || get.RequestHeaders.Get("X-Req") != "r1" {
				t.Errorf("GET request headers recorded as %v", get.RequestHeaders)
			}
			if get.ResponseHeaders.Get("Set-Cookie") != "[redacted]" || get.ResponseHeaders.Get("X-Reply") != "yes" {
				t.Errorf("GET response headers recorded as %v", get.ResponseHeaders)
			}
			// The record says which values are the placeholder: those that
			// were present, canonical and sorted (issue 7).
			if !slices.Equal(get.Redacted, []string{"Cookie", "Set-Cookie"}) {
				t.Errorf("GET recorded Redacted %q, want [Cookie Set-Cookie]", get.Redacted)
			}
			if post := exchangeFor(t, recs, "POST", recorded+"/echo"); post.Redacted != nil {
				t.Errorf("POST, with nothing to redact, recorded Redacted %q", post.Redacted)
			}
			for _, h := range []string{"Proxy-Connection", "Proxy-Authorization"} {
				if _, ok := get.RequestHeaders[h]; ok {
					t.Errorf("GET recorded with %s", h)
				}
			}

			post := exchangeFor(t, recs, "POST", recorded+"/echo")
			if string(post.RequestBody) != "hello" || post.RequestSize != 5 || string(post.ResponseBody) != "hello" || post.ResponseSize != 5 {
				t.Errorf("POST recorded with request %q (%d), response %q (%d)", post.RequestBody, post.RequestSize, post.ResponseBody, post.ResponseSize)
			}
			put := exchangeFor(t, recs, "PUT", recorded+"/echo")
			if !bytes.Equal(put.RequestBody, large[:1000]) || put.RequestSize != 5000 ||
				!bytes.Equal(put.ResponseBody, large[:1000]) || put.ResponseSize != 5000 {
				t.Errorf("PUT recorded with %d of %d request bytes, %d of %d response bytes; want 1000 of 5000 each",
					len(put.RequestBody), put.RequestSize, len(put.ResponseBody), put.ResponseSize)
			}
			head := exchangeFor(t, recs, "HEAD", recorded+"/head")
			if head.Status != 200 || head.ResponseSize != 0 || head.Error != "" {
				t.Errorf("HEAD recorded as %d, %d bytes, error %q", head.Status, head.ResponseSize, head.Error)
			}
		})
	}
}

// TestHTTPStreamedResponse checks that a long chunked response streams
// through every mode: the client reads its beginning while the server
// still waits to send the rest, and the capture keeps exactly MaxBody
// bytes (the default, 1 MiB) of its 20 MiB.
func TestHTTPStreamedResponse(t *testing.T) {
	const first = "first line\n"
	const rest = 20 << 20
	block := bytes.Repeat([]byte("0123456789abcdef"), 2048) // 32 KiB
	for _, mode := range httpModes {
		t.Run(mode.name, func(t *testing.T) {
			release := make(chan struct{})
			h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				io.WriteString(w, first)
				w.(http.Flusher).Flush()
				select {
				case <-release:
				case <-r.Context().Done():
					return
				}
				for n := 0; n < rest; n += len(block) {
					if _, err := w.Write(block); err != nil {
						return
					}
				}
			})
			st := mode.start(t, Options{}, h)
			m, c, base, recorded := st.m, st.c, st.base, st.recorded
			resp, err := c.Get(base + "/stream")
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			br := bufio.NewReader(resp.Body)
			// A proxy that held the response would never deliver this line:
			// the server sends nothing more until the client has it.
			line, err := br.ReadString('\n')
			if err != nil || line != first {
				t.Fatalf("first line %q, %v", line, err)
			}
			close(release)
			n, err := io.Copy(io.Discard, br)
			if err != nil || n != rest {
				t.Fatalf("read %d bytes after the first line, %v; want %d", n, err, rest)
			}
			resp.Body.Close()
			recs := httpRecords(t, m.finish(t))
			x := exchangeFor(t, recs, "GET", recorded+"/stream")
			if x.ResponseSize != int64(len(first)+rest) || len(x.ResponseBody) != defaultMaxBody ||
				!bytes.HasPrefix(x.ResponseBody, []byte(first)) || x.Error != "" {
				t.Errorf("recorded %d of %d bytes, error %q; want %d of %d", len(x.ResponseBody), x.ResponseSize, x.Error,
					defaultMaxBody, len(first)+rest)
			}
		})
	}
}

// TestHTTPNoBodiesKept records sizes only with a negative MaxBody.
func TestHTTPNoBodiesKept(t *testing.T) {
	st := httpModes[0].start(t, Options{MaxBody: -1}, http.HandlerFunc(pageHandler))
	m, c, base, recorded := st.m, st.c, st.base, st.recorded
	do(t, c, "POST", base+"/echo", []byte("secret payload"), nil)
	x := exchangeFor(t, httpRecords(t, m.finish(t)), "POST", recorded+"/echo")
	if len(x.RequestBody) != 0 || len(x.ResponseBody) != 0 || x.RequestSize != 14 || x.ResponseSize != 14 {
		t.Errorf("recorded bodies %q/%q, sizes %d/%d; want none, 14/14", x.RequestBody, x.ResponseBody, x.RequestSize, x.ResponseSize)
	}
}

// TestHTTPUnreachableUpstream answers 502 saying why when the upstream
// cannot be reached, in every mode, and records the exchange with the
// error and no status.
func TestHTTPUnreachableUpstream(t *testing.T) {
	for _, mode := range httpModes {
		t.Run(mode.name, func(t *testing.T) {
			st := mode.start(t, Options{}, http.NotFoundHandler())
			m, c, base := st.m, st.c, st.base
			st.up.Close() // its address now refuses connections
			resp, body := do(t, c, "GET", base+"/gone", nil, nil)
			if resp.StatusCode != http.StatusBadGateway || !strings.Contains(string(body), "cannot reach upstream") {
				t.Errorf("answer %s %q, want 502 saying the upstream cannot be reached", resp.Status, body)
			}
			recs := httpRecords(t, m.finish(t))
			if len(recs) != 1 || recs[0].Status != 0 || !strings.Contains(recs[0].Error, "cannot reach upstream") ||
				!strings.HasSuffix(recs[0].URL, "/gone") {
				for _, h := range recs {
					t.Logf("recorded %s %s %d %q", h.Method, h.URL, h.Status, h.Error)
				}
				t.Errorf("want one exchange recorded with the error")
			}
		})
	}
}

// TestHTTPUpstreamTLSExplained answers 502 in words a user can act on
// when an intercepted https upstream's certificate does not verify.
func TestHTTPUpstreamTLSExplained(t *testing.T) {
	up := httptest.NewTLSServer(http.HandlerFunc(pageHandler))
	up.Config.ErrorLog = log.New(io.Discard, "", 0)
	t.Cleanup(up.Close)
	ca := testCA(t)
	m := newMatrix(t, Options{GetCertificate: ca.GetCertificate}) // the system roots do not know httptest's CA
	c := proxyClient(t, m.URL, &tls.Config{RootCAs: ca.Pool()})
	resp, body := do(t, c, "GET", up.URL+"/page", nil, nil)
	if resp.StatusCode != http.StatusBadGateway || !strings.Contains(string(body), "--upstream-ca") {
		t.Errorf("answer %s %q, want 502 naming --upstream-ca", resp.Status, body)
	}
	x := exchangeFor(t, httpRecords(t, m.finish(t)), "GET", up.URL+"/page")
	if x.Status != 0 || !strings.Contains(x.Error, "--insecure") {
		t.Errorf("recorded %d %q, want no status and the explanation", x.Status, x.Error)
	}
}

// TestHTTPResponseCutShort records the error of a response body the
// upstream ends before its Content-Length.
func TestHTTPResponseCutShort(t *testing.T) {
	addr := cannedServer(t, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort")
	m := newMatrix(t, Options{})
	c := proxyClient(t, m.URL, nil)
	u := "http://" + addr + "/short"
	if resp, err := c.Get(u); err == nil {
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err == nil {
			t.Errorf("the client read %q and a clean end, want the cut to show", b)
		}
	}
	x := exchangeFor(t, httpRecords(t, m.finish(t)), "GET", u)
	if x.Status != 200 || string(x.ResponseBody) != "short" || !strings.Contains(x.Error, "read the response body") {
		t.Errorf("recorded %d %q error %q, want the body read so far and the error", x.Status, x.ResponseBody, x.Error)
	}
}

// TestHTTPClientGoesAway records an exchange whose client left: before the
// response (explicit and reverse), and in the middle of a streamed body.
func TestHTTPClientGoesAway(t *testing.T) {
	for _, mode := range []httpMode{httpModes[0], httpModes[2]} {
		t.Run(mode.name+"/before-response", func(t *testing.T) {
			arrived := make(chan struct{})
			st := mode.start(t, Options{}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				close(arrived)
				<-r.Context().Done()
			}))
			ctx, cancel := context.WithCancel(t.Context())
			go func() {
				<-arrived
				cancel()
			}()
			req, _ := http.NewRequestWithContext(ctx, "GET", st.base+"/slow", nil)
			if resp, err := st.c.Do(req); err == nil {
				resp.Body.Close()
				t.Fatal("the request succeeded")
			}
			x := exchangeFor(t, httpRecords(t, st.m.finish(t)), "GET", st.recorded+"/slow")
			if x.Status != 0 || x.Error != "the client went away before the response" {
				t.Errorf("recorded %d %q, want the client's leaving", x.Status, x.Error)
			}
		})
	}
	t.Run("explicit/mid-body", func(t *testing.T) {
		block := bytes.Repeat([]byte("x"), 32<<10)
		st := httpModes[0].start(t, Options{}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			for {
				if _, err := w.Write(block); err != nil {
					return
				}
			}
		}))
		resp, err := st.c.Get(st.base + "/endless")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(resp.Body, make([]byte, 1000)); err != nil {
			t.Fatal(err)
		}
		resp.Body.Close() // drops the connection: the body has no end
		x := exchangeFor(t, httpRecords(t, st.m.finish(t)), "GET", st.recorded+"/endless")
		if x.Status != 200 || x.ResponseSize < 1000 || !strings.Contains(x.Error, "cut short") {
			t.Errorf("recorded %d, %d bytes, error %q; want the cut", x.Status, x.ResponseSize, x.Error)
		}
	})
}

// TestFlushingWriterHijack hands goproxy the connection underneath when
// there is one, and the error when there is none.
func TestFlushingWriterHijack(t *testing.T) {
	if _, _, err := (flushingWriter{httptest.NewRecorder()}).Hijack(); err == nil {
		t.Error("Hijack of a ResponseRecorder succeeded")
	}
}

// TestHTTPSinkTroubleKeepsTraffic relays plain HTTP when the capture fails
// or there is none, and counts the exchanges.
func TestHTTPSinkTroubleKeepsTraffic(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(pageHandler))
	t.Cleanup(up.Close)
	for _, tc := range []struct {
		name    string
		sink    Sink
		wantErr bool
	}{{"failing", failingSink{}, true}, {"none", nil, false}} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := New(Options{Sink: tc.sink})
			if err != nil {
				t.Fatal(err)
			}
			srv := httptest.NewServer(p)
			t.Cleanup(srv.Close)
			if _, body := do(t, proxyClient(t, srv.URL, nil), "GET", up.URL+"/page?x=2", nil, nil); string(body) != "page x=2" {
				t.Errorf("body %q", body)
			}
			srv.Close()
			p.Shutdown(t.Context())
			if err := p.Err(); (err != nil) != tc.wantErr {
				t.Errorf("Err() = %v, want an error: %v", err, tc.wantErr)
			}
			if n := p.Counters().HTTP.Load(); n != 1 {
				t.Errorf("Counters.HTTP = %d, want 1", n)
			}
		})
	}
}

// TestHTTPBigBodyRecordedCut relays a 20 MiB response with MaxBody 32 MiB
// into a real capture: a record holds at most capture.MaxRecord, so the
// body is kept cut, with its whole size, and the capture goes on (issue 7).
func TestHTTPBigBodyRecordedCut(t *testing.T) {
	const size = 20 << 20
	big := bytes.Repeat([]byte("0123456789abcdef"), size/16)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Write(big[:len(big)-len(b)])
	}))
	t.Cleanup(up.Close)
	m := newMatrix(t, Options{MaxBody: 32 << 20})
	upload := bytes.Repeat([]byte("u"), 12<<20)
	_, body := do(t, proxyClient(t, m.URL, nil), "POST", up.URL+"/big", upload, nil)
	if len(body) != size-len(upload) || !bytes.Equal(body, big[:len(body)]) {
		t.Fatalf("client got %d bytes, want the %d the server sent", len(body), size-len(upload))
	}
	_, body = do(t, proxyClient(t, m.URL, nil), "GET", up.URL+"/big", nil, nil)
	if len(body) != size {
		t.Fatalf("client got %d bytes, want %d", len(body), size)
	}
	r := m.finish(t) // fails the test if the proxy reported a capture error
	if err := m.p.Err(); err != nil {
		t.Errorf("Err() = %v, want nil: a big body is no failed capture", err)
	}
	recs := httpRecords(t, r)
	if len(recs) != 2 {
		t.Fatalf("capture has %d exchanges, want 2", len(recs))
	}
	for _, x := range recs {
		if x.RequestSize+x.ResponseSize != size || len(x.ResponseBody)+len(x.RequestBody) >= capture.MaxRecord {
			t.Errorf("%s: sizes %d+%d, bodies kept %d+%d; want the whole sizes and bodies cut under %d",
				x.Method, x.RequestSize, x.ResponseSize, len(x.RequestBody), len(x.ResponseBody), capture.MaxRecord)
		}
		if n := min(x.ResponseSize, capture.MaxRecord/2-64<<10); int64(len(x.ResponseBody)) != n || !bytes.Equal(x.ResponseBody, big[:n]) {
			t.Errorf("%s: kept %d bytes of the response, want its first %d", x.Method, len(x.ResponseBody), n)
		}
	}
}

// tooLargeSink is a capture that refuses one kind of record as too large.
type tooLargeSink struct {
	*endSink
	kind capture.Kind
}

func (s tooLargeSink) Open(o *capture.ConnOpen) (capture.ConnID, error) {
	if s.kind == capture.KindOpen && o.ResponseHeaders != nil { // what the headers would not make too large is kept
		return 0, fmt.Errorf("%w: open record of 17 MiB", capture.ErrTooLarge)
	}
	return s.endSink.Open(o)
}

func (s tooLargeSink) Append(r capture.Record) error {
	if r.Type() == s.kind {
		return fmt.Errorf("%w: %v record of 17 MiB", capture.ErrTooLarge, r.Type())
	}
	return s.endSink.Append(r)
}

func (s tooLargeSink) HTTP(x *capture.HTTP) (uint64, error) {
	if s.kind == capture.KindHTTP && x.ResponseBody != nil { // what the bodies would not make too large is kept
		return 0, fmt.Errorf("%w: http record of 17 MiB", capture.ErrTooLarge)
	}
	return s.endSink.HTTP(x)
}

// TestTooLargeRecordIsAWarning checks that a record the capture refuses as
// too large, from any of the Sink's methods, is logged and counted, and is
// no failed capture: the records after it are kept.
func TestTooLargeRecordIsAWarning(t *testing.T) {
	for _, kind := range []capture.Kind{capture.KindOpen, capture.KindChunk, capture.KindHTTP} {
		t.Run(kind.String(), func(t *testing.T) {
			up := newRawServer(t, rawServerOptions{})
			page := httptest.NewServer(http.HandlerFunc(pageHandler))
			t.Cleanup(page.Close)
			var logs lockedBuffer
			m := newMatrix(t, Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
			m.p.opts.Sink = tooLargeSink{m.sink, kind}
			do(t, proxyClient(t, m.URL, nil), "GET", page.URL+"/page?x=1", nil, nil)
			c, _ := dialRawResponse(t, m.URL, up.URL+"/big", nil, nil)
			s := up.accept(t)
			s.expect(c.send(true, 0, ws.OpText, []byte("hello")))
			closeHandshake(t, c, s)
			m.waitEnds(t, 1)
			do(t, proxyClient(t, m.URL, nil), "GET", page.URL+"/page?x=2", nil, nil)
			r := m.finish(t)
			if err := m.p.Err(); err != nil {
				t.Errorf("Err() = %v, want nil", err)
			}
			if n := m.p.Counters().TooLarge.Load(); n == 0 {
				t.Error("Counters().TooLarge = 0, want the refused records counted")
			}
			if !strings.Contains(logs.String(), "too large") || strings.Contains(logs.String(), "capture failed") {
				t.Errorf("log %q, want a warning about a record too large and no failed capture", logs.String())
			}
			xs := httpRecords(t, r)
			if len(xs) != 2 {
				t.Fatalf("capture has %d exchanges, want 2", len(xs))
			}
			for _, x := range xs {
				if (x.ResponseBody == nil) != (kind == capture.KindHTTP) || x.ResponseSize != 8 {
					t.Errorf("exchange %s kept body %q of %d bytes; want it left out only when too large", x.URL, x.ResponseBody, x.ResponseSize)
				}
			}
			got := readConn(t, r, connByPath(t, r, "/big"), 0)
			if got.end == nil || (kind != capture.KindChunk && len(got.msgs) != 1) {
				t.Errorf("connection recorded with %d messages, end %+v; want the messages and the end", len(got.msgs), got.end)
			}
			if kind == capture.KindOpen && (len(got.events) != 1 || !strings.Contains(got.events[0].Detail, "too large")) {
				t.Errorf("events %+v, want a note that the handshake was left out", got.events)
			}
		})
	}
}

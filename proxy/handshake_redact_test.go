package proxy

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/gobwas/ws"
	"github.com/wstap/wstap/capture"
)

// TestHandshakeRedactedMarked checks that an upgrade's redacted headers are
// named in the open record (canonical, sorted, only those present), and
// that no secret reaches the record: not the header maps, not the header
// lists (issue 7).
func TestHandshakeRedactedMarked(t *testing.T) {
	up := newRawServer(t, rawServerOptions{Header: http.Header{"Set-Cookie": {"sid=server-secret"}, "X-Reply": {"yes"},
		"A-Token": {"server-secret"}, "X-Both": {"server-secret"}}})
	m := newMatrix(t, Options{Upstream: up.URL, Redact: []string{"set-cookie", "AUTHORIZATION", "X-Absent", "Cookie", "a-token", "x-both"}})
	c := dialRaw(t, m.URL, "/redact", http.Header{"Authorization": {"Bearer client-secret"}, "Cookie": {"a=client-secret", "b=client-secret"},
		"X-Req": {"r1"}, "X-Both": {"client-secret"}}, nil)
	if got := c.resp.Header.Get("Set-Cookie"); got != "sid=server-secret" {
		t.Errorf("client got Set-Cookie %q: redaction must not touch the wire", got)
	}
	s := up.accept(t)
	if got := s.req.Header.Get("Authorization"); got != "Bearer client-secret" {
		t.Errorf("server got Authorization %q: redaction must not touch the wire", got)
	}
	closeHandshake(t, c, s)
	m.waitEnds(t, 1)
	r := m.finish(t)
	o := readConn(t, r, connByPath(t, r, "/redact"), 0).open
	if want := []string{"A-Token", "Authorization", "Cookie", "Set-Cookie", "X-Both"}; !slices.Equal(o.Redacted, want) {
		t.Errorf("Redacted = %q, want %q", o.Redacted, want)
	}
	if o.RequestHeaders.Get("Authorization") != capture.Redaction || o.ResponseHeaders.Get("Set-Cookie") != capture.Redaction ||
		o.RequestHeaders.Get("X-Req") != "r1" || o.ResponseHeaders.Get("X-Reply") != "yes" {
		t.Errorf("headers recorded as %v and %v", o.RequestHeaders, o.ResponseHeaders)
	}
	if len(o.RequestHeaderList) == 0 || len(o.ResponseHeaderList) == 0 {
		t.Fatalf("header lists %v and %v, want both", o.RequestHeaderList, o.ResponseHeaderList)
	}
	for _, list := range [][]capture.HeaderField{o.RequestHeaderList, o.ResponseHeaderList} {
		for _, f := range list {
			if strings.Contains(f.Value, "secret") {
				t.Errorf("header list holds %s: %s", f.Name, f.Value)
			}
			if capture.IsRedacted(o.Redacted, f.Name) != (f.Value == capture.Redaction) {
				t.Errorf("header list: %s: %q, Redacted %q", f.Name, f.Value, o.Redacted)
			}
		}
	}
	// Without anything to redact, the record names nothing.
	m2 := newMatrix(t, Options{Upstream: up.URL, Redact: []string{"X-Absent"}})
	c = dialRaw(t, m2.URL, "/plain", nil, nil)
	s = up.accept(t)
	s.expect(c.send(true, 0, ws.OpText, []byte("hi")))
	closeHandshake(t, c, s)
	m2.waitEnds(t, 1)
	r = m2.finish(t)
	if o := readConn(t, r, connByPath(t, r, "/plain"), 0).open; o.Redacted != nil {
		t.Errorf("Redacted = %q, want none", o.Redacted)
	}
}

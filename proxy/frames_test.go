package proxy

import (
	"bytes"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/gobwas/ws"
	"github.com/wstap/wstap/capture"
)

// frameFacts is what a Frame record says of a frame.
type frameFacts struct {
	dir    capture.Direction
	fin    bool
	rsv    uint8
	op     capture.Opcode
	masked bool
	length int64
}

func factsOf(fs []*capture.Frame) []frameFacts {
	var out []frameFacts
	for _, f := range fs {
		out = append(out, frameFacts{f.Dir, f.Fin, f.RSV, f.Opcode, f.Masked, f.Length})
	}
	return out
}

// TestFragmentsArriveAsSent checks that a fragmented message, with a ping
// between its fragments, reaches the other peer as the same frames, byte
// for byte (the client's masks included: the relay never re-masks), and
// that the capture holds the assembled message, the ping, and the facts
// of every frame.
func TestFragmentsArriveAsSent(t *testing.T) {
	up := newRawServer(t, rawServerOptions{})
	m := newMatrix(t, Options{Upstream: up.URL})
	c := dialRaw(t, m.URL, "/frag", nil, nil)
	s := up.accept(t)

	big := bytes.Repeat([]byte("0123456789abcdef"), 100<<10/16) // crosses the relay's 32 KiB pieces
	type frame struct {
		fin     bool
		op      ws.OpCode
		payload []byte
	}
	fromClient := []frame{
		{false, ws.OpText, []byte("Hello, ")},
		{false, ws.OpContinuation, []byte("wörld")},
		{true, ws.OpPing, []byte("between")},
		{true, ws.OpContinuation, []byte("!")},
	}
	fromServer := []frame{
		{false, ws.OpBinary, []byte{0, 1, 2}},
		{false, ws.OpContinuation, big},
		{true, ws.OpPong, []byte("between")},
		{false, ws.OpContinuation, nil},
		{true, ws.OpContinuation, []byte{0xff}},
	}
	send := func(from, to *rawPeer, frames []frame) {
		t.Helper()
		for _, f := range frames {
			sent := from.send(f.fin, 0, f.op, f.payload)
			got := to.expect(sent)
			if got.h.Fin != f.fin || got.h.OpCode != f.op || got.h.Length != int64(len(f.payload)) ||
				got.h.Masked != from.client || !bytes.Equal(got.payload, f.payload) {
				t.Errorf("received %+v with payload %q…, want fin %v op %v length %d masked %v", got.h,
					got.payload[:min(len(got.payload), 16)], f.fin, f.op, len(f.payload), from.client)
			}
		}
	}
	send(c, s, fromClient)
	send(s, c, fromServer)
	closeHandshake(t, c, s)
	m.waitEnds(t, 1)

	r := m.finish(t)
	got := readConn(t, r, connByPath(t, r, "/frag"), 0)
	bin := append(append([]byte{0, 1, 2}, big...), 0xff)
	checkMsgs(t, got, []wantMsg{
		{capture.ClientToServer, capture.OpPing, []byte("between"), false},
		{capture.ClientToServer, capture.OpText, []byte("Hello, wörld!"), false},
		{capture.ServerToClient, capture.OpPong, []byte("between"), false},
		{capture.ServerToClient, capture.OpBinary, bin, false},
	})
	var want []frameFacts
	for _, f := range fromClient {
		want = append(want, frameFacts{capture.ClientToServer, f.fin, 0, capture.Opcode(f.op), true, int64(len(f.payload))})
	}
	for _, f := range fromServer {
		want = append(want, frameFacts{capture.ServerToClient, f.fin, 0, capture.Opcode(f.op), false, int64(len(f.payload))})
	}
	want = append(want, frameFacts{capture.ClientToServer, true, 0, capture.OpClose, true, 2},
		frameFacts{capture.ServerToClient, true, 0, capture.OpClose, false, 2})
	if g := factsOf(got.frames); !reflect.DeepEqual(g, want) {
		t.Errorf("frame records:\n got %+v\nwant %+v", g, want)
	}
	if v := got.violations(); len(v) > 0 {
		t.Errorf("violations %q, want none", v)
	}
	if got.end == nil || got.end.Error != "" {
		t.Errorf("end = %+v, want a clean end", got.end)
	}
}

// TestPingPongForwarded checks that each peer's own pings and pongs reach
// the other peer untouched, and that the proxy answers none of them.
func TestPingPongForwarded(t *testing.T) {
	up := newRawServer(t, rawServerOptions{})
	m := newMatrix(t, Options{Upstream: up.URL})
	c := dialRaw(t, m.URL, "/ping", nil, nil)
	s := up.accept(t)

	long := bytes.Repeat([]byte{'p'}, 125)
	var want []wantMsg
	for _, payload := range [][]byte{[]byte("client ping"), nil, long} {
		s.expect(c.send(true, 0, ws.OpPing, payload))
		// Were the proxy to answer the ping, its pong would reach the
		// client before the server's text.
		c.expect(s.send(true, 0, ws.OpText, []byte("before the pong")))
		c.expect(s.send(true, 0, ws.OpPong, payload))
		want = append(want, wantMsg{capture.ClientToServer, capture.OpPing, payload, false},
			wantMsg{capture.ServerToClient, capture.OpText, []byte("before the pong"), false},
			wantMsg{capture.ServerToClient, capture.OpPong, payload, false})
	}
	c.expect(s.send(true, 0, ws.OpPing, []byte("server ping")))
	s.expect(c.send(true, 0, ws.OpText, []byte("before the pong")))
	s.expect(c.send(true, 0, ws.OpPong, []byte("server ping")))
	s.expect(c.send(true, 0, ws.OpPong, []byte("unsolicited")))
	c.expect(s.send(true, 0, ws.OpPong, []byte("unsolicited too")))
	want = append(want, wantMsg{capture.ServerToClient, capture.OpPing, []byte("server ping"), false},
		wantMsg{capture.ClientToServer, capture.OpText, []byte("before the pong"), false},
		wantMsg{capture.ClientToServer, capture.OpPong, []byte("server ping"), false},
		wantMsg{capture.ClientToServer, capture.OpPong, []byte("unsolicited"), false},
		wantMsg{capture.ServerToClient, capture.OpPong, []byte("unsolicited too"), false})
	closeHandshake(t, c, s)
	m.waitEnds(t, 1)

	r := m.finish(t)
	got := readConn(t, r, connByPath(t, r, "/ping"), 0)
	checkMsgs(t, got, want)
	for _, msg := range got.msgs {
		if msg.Dir > capture.ServerToClient {
			t.Errorf("the proxy sent %v %q, want nothing of its own", msg.Opcode, msg.Data)
		}
	}
}

// TestCloseCodes checks that close frames reach the other peer byte for
// byte, whoever starts the close, and are recorded with code, reason and
// side; 1014 is sent by raw peers because gorilla refuses to receive it.
func TestCloseCodes(t *testing.T) {
	up := newRawServer(t, rawServerOptions{})
	m := newMatrix(t, Options{Upstream: up.URL})
	cases := []struct {
		name   string
		body   []byte
		code   int
		reason string
	}{
		{"normal", closeBody(1000, ""), 1000, ""},
		{"going-away", closeBody(1001, ""), 1001, ""},
		{"app-4000", closeBody(4000, ""), 4000, ""},
		{"app-4999", closeBody(4999, "last private code"), 4999, "last private code"},
		{"bad-gateway-1014", closeBody(1014, ""), 1014, ""},
		{"reason", closeBody(1000, "done for today ✓"), 1000, "done for today ✓"},
		{"max-reason", closeBody(1000, strings.Repeat("r", 123)), 1000, strings.Repeat("r", 123)},
		{"empty", nil, 1005, ""},
	}
	type run struct {
		path      string
		initiator capture.Direction
		code      int
		reason    string
	}
	var runs []run
	for _, tc := range cases {
		for _, initiator := range []capture.Direction{capture.ClientToServer, capture.ServerToClient} {
			path := fmt.Sprintf("/close/%s/%s", tc.name, initiator.From())
			t.Run(tc.name+"/from-"+initiator.From(), func(t *testing.T) {
				c := dialRaw(t, m.URL, path, nil, nil)
				s := up.accept(t)
				first, second := c, s
				if initiator == capture.ServerToClient {
					first, second = s, c
				}
				first.expect(second.send(true, 0, ws.OpText, []byte("last words")))
				second.expect(first.send(true, 0, ws.OpClose, tc.body))
				first.expect(second.send(true, 0, ws.OpClose, tc.body))
				hangUp(t, c, s)
				m.waitEnds(t, 1)
			})
			runs = append(runs, run{path, initiator, tc.code, tc.reason})
		}
	}
	t.Run("tcp-drop", func(t *testing.T) {
		c := dialRaw(t, m.URL, "/close/drop", nil, nil)
		s := up.accept(t)
		s.expect(c.send(true, 0, ws.OpText, []byte("and then silence")))
		c.conn.Close()
		s.expectEOF()
		s.conn.Close()
		m.waitEnds(t, 1)
	})
	t.Run("tcp-drop-mid-frame", func(t *testing.T) {
		c := dialRaw(t, m.URL, "/close/drop-mid-frame", nil, nil)
		s := up.accept(t)
		f := c.build(true, 0, ws.OpBinary, bytes.Repeat([]byte{7}, 1000))
		c.write(f[:100])
		c.conn.Close()
		// The server sees what the client sent, then the client's FIN, as
		// it would without the proxy.
		s.conn.SetReadDeadline(deadline())
		rest := readAllBytes(t, s)
		if !bytes.Equal(rest, f[:100]) {
			t.Errorf("server received %d bytes, want the %d the client sent", len(rest), 100)
		}
		s.conn.Close()
		m.waitEnds(t, 1)
	})

	r := m.finish(t)
	for _, rn := range runs {
		got := readConn(t, r, connByPath(t, r, rn.path), 0)
		responder := capture.ServerToClient + capture.ClientToServer - rn.initiator
		want := []capture.Close{{Dir: rn.initiator, Code: rn.code, Reason: rn.reason},
			{Dir: responder, Code: rn.code, Reason: rn.reason}}
		if g := closeFacts(got.closes); !reflect.DeepEqual(g, want) {
			t.Errorf("%s: closes = %+v, want %+v", rn.path, g, want)
		}
		if v := got.violations(); len(v) > 0 {
			t.Errorf("%s: violations %q, want none", rn.path, v)
		}
		if got.end == nil {
			t.Errorf("%s: no end record", rn.path)
		}
	}
	for _, path := range []string{"/close/drop", "/close/drop-mid-frame"} {
		got := readConn(t, r, connByPath(t, r, path), 0)
		if len(got.closes) == 0 || got.closes[0].Dir != capture.ClientToServer || got.closes[0].Code != 1006 {
			t.Errorf("%s: closes = %+v, want 1006 for the client first", path, closeFacts(got.closes))
		}
		for _, cl := range got.closes {
			if cl.Dir > capture.ServerToClient {
				t.Errorf("%s: the proxy sent close %d, want none", path, cl.Code)
			}
		}
		if got.end == nil {
			t.Errorf("%s: no end record", path)
		}
	}
	got := readConn(t, r, connByPath(t, r, "/close/drop-mid-frame"), 0)
	const hdrLen = 8 // 2 bytes, a 16-bit length, a mask
	if ms := got.dir(capture.ClientToServer); len(ms) != 1 || !ms[0].Incomplete || ms[0].Size != 100-hdrLen {
		t.Errorf("the cut message is recorded as %+v, want one incomplete message of %d bytes", ms, 100-hdrLen)
	}
}

func closeFacts(cs []*capture.Close) []capture.Close {
	var out []capture.Close
	for _, c := range cs {
		out = append(out, capture.Close{Dir: c.Dir, Code: c.Code, Reason: c.Reason})
	}
	return out
}

// TestHandshakeHeadersForwarded checks that the upgrade request reaches the
// server with the client's headers unchanged, and the server's 101 reaches
// the client with its status line and headers unchanged.
func TestHandshakeHeadersForwarded(t *testing.T) {
	respHdr := http.Header{
		"Sec-Websocket-Protocol": {"chat"},
		"X-Server":               {"yes"},
		"Set-Cookie":             {"a=1; Path=/", "b=2; HttpOnly"},
		"Server":                 {"raw/1.0"},
	}
	up := newRawServer(t, rawServerOptions{Header: respHdr, Status: "101 Web Socket Protocol Handshake",
		Extensions: "permessage-deflate; client_max_window_bits=10"})
	m := newMatrix(t, Options{Upstream: up.URL})
	reqHdr := http.Header{
		"Sec-Websocket-Key":        {"AQIDBAUGBwgJCgsMDQ4PEA=="},
		"Sec-Websocket-Version":    {"13"},
		"Sec-Websocket-Extensions": {"permessage-deflate; client_max_window_bits", "x-webkit-deflate-frame"},
		"Sec-Websocket-Protocol":   {"chat, superchat", "v2.example"},
		"Cookie":                   {"session=s3cr3t; theme=dark"},
		"Authorization":            {"Bearer abc.def"},
		"Origin":                   {"https://app.example.test"},
		"User-Agent":               {"raw-test/1"},
		"X-Custom":                 {"one", "two"},
		"X-Empty":                  {""},
	}
	c := dialRaw(t, m.URL, "/hdr/path?q=1&r=%2F", reqHdr, nil)
	s := up.accept(t)

	got := s.req.Header.Clone()
	for _, h := range []string{"Upgrade", "Connection"} {
		if got.Get(h) == "" {
			t.Errorf("server saw no %s header", h)
		}
		got.Del(h)
	}
	if !reflect.DeepEqual(got, reqHdr) {
		t.Errorf("server saw headers\n%v\nwant\n%v", got, reqHdr)
	}
	if s.req.RequestURI != "/hdr/path?q=1&r=%2F" {
		t.Errorf("server saw request URI %q, want the client's", s.req.RequestURI)
	}

	if c.resp.Status != "101 Web Socket Protocol Handshake" {
		t.Errorf("client saw status %q, want the server's", c.resp.Status)
	}
	want := respHdr.Clone()
	want["Upgrade"] = []string{"websocket"}
	want["Connection"] = []string{"Upgrade"}
	want["Sec-Websocket-Accept"] = []string{acceptKey("AQIDBAUGBwgJCgsMDQ4PEA==")}
	want["Sec-Websocket-Extensions"] = []string{"permessage-deflate; client_max_window_bits=10"}
	if !reflect.DeepEqual(c.resp.Header, want) {
		t.Errorf("client saw headers\n%v\nwant\n%v", c.resp.Header, want)
	}
	closeHandshake(t, c, s)
	m.waitEnds(t, 1)

	r := m.finish(t)
	open := readConn(t, r, connByPath(t, r, "/hdr/path?q=1&r=%2F"), 0).open
	if open.Subprotocol != "chat" || open.Extensions != "permessage-deflate; client_max_window_bits=10" || open.Status != 101 {
		t.Errorf("recorded subprotocol %q, extensions %q, status %d", open.Subprotocol, open.Extensions, open.Status)
	}
	if !reflect.DeepEqual(open.ResponseHeaders, want) {
		t.Errorf("recorded response headers %v, want %v", open.ResponseHeaders, want)
	}
	for k, vs := range reqHdr {
		if !reflect.DeepEqual(open.RequestHeaders[k], vs) {
			t.Errorf("recorded request header %s = %q, want %q", k, open.RequestHeaders[k], vs)
		}
	}
}

// TestProxyOnlyHeadersStayBehind checks that the headers meant for the
// proxy itself are not forwarded, and Redact hides values in the capture
// but not on the wire.
func TestProxyOnlyHeadersStayBehind(t *testing.T) {
	up := newRawServer(t, rawServerOptions{})
	m := newMatrix(t, Options{Upstream: up.URL, Redact: []string{"authorization", "X-Absent"}})
	c := dialRaw(t, m.URL, "/proxy-only", http.Header{"Proxy-Authorization": {"Basic cHJveHk6cHc="},
		"Proxy-Connection": {"keep-alive"}, "Authorization": {"Bearer real"}}, nil)
	s := up.accept(t)
	for _, h := range []string{"Proxy-Authorization", "Proxy-Connection"} {
		if v := s.req.Header.Get(h); v != "" {
			t.Errorf("server saw %s: %q, want it kept by the proxy", h, v)
		}
	}
	if v := s.req.Header.Get("Authorization"); v != "Bearer real" {
		t.Errorf("server saw Authorization %q, want the client's", v)
	}
	closeHandshake(t, c, s)
	m.waitEnds(t, 1)
	r := m.finish(t)
	open := readConn(t, r, connByPath(t, r, "/proxy-only"), 0).open
	if v := open.RequestHeaders.Get("Authorization"); v != "[redacted]" {
		t.Errorf("capture holds Authorization %q, want it redacted", v)
	}
	if _, ok := open.RequestHeaders["X-Absent"]; ok {
		t.Errorf("capture holds a redacted header the client never sent")
	}
	if v := open.RequestHeaders.Get("Proxy-Authorization"); v != "" {
		t.Errorf("capture holds Proxy-Authorization %q", v)
	}
}

// TestPipelinedFrames checks that frames a server writes together with its
// 101, and frames a client writes right behind its upgrade request, are
// relayed and recorded.
func TestPipelinedFrames(t *testing.T) {
	fromServer := append(wireFrame(true, 0, ws.OpText, nil, []byte("hello from the server")),
		wireFrame(true, 0, ws.OpPing, nil, []byte("p"))...)
	up := newRawServer(t, rawServerOptions{Pipelined: fromServer})
	m := newMatrix(t, Options{Upstream: up.URL})
	mask := [4]byte{1, 2, 3, 4}
	fromClient := wireFrame(true, 0, ws.OpBinary, &mask, []byte("right behind the request"))
	c := dialRaw(t, m.URL, "/pipelined", nil, fromClient)
	s := up.accept(t)
	s.expect(fromClient)
	c.expect(fromServer[:len(fromServer)-3])
	c.expect(fromServer[len(fromServer)-3:])
	closeHandshake(t, c, s)
	m.waitEnds(t, 1)

	r := m.finish(t)
	got := readConn(t, r, connByPath(t, r, "/pipelined"), 0)
	var gotMsgs []wantMsg
	for _, msg := range got.msgs {
		gotMsgs = append(gotMsgs, wantMsg{msg.Dir, msg.Opcode, msg.Data, msg.Compressed})
	}
	for _, w := range []wantMsg{
		{capture.ClientToServer, capture.OpBinary, []byte("right behind the request"), false},
		{capture.ServerToClient, capture.OpText, []byte("hello from the server"), false},
		{capture.ServerToClient, capture.OpPing, []byte("p"), false},
	} {
		found := false
		for _, g := range gotMsgs {
			found = found || reflect.DeepEqual(g, w)
		}
		if !found {
			t.Errorf("capture lacks %v %v %q; has %+v", w.dir, w.op, w.data, gotMsgs)
		}
	}
}

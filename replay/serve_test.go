package replay

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/wstap/wstap/capture"
	"github.com/wstap/wstap/internal/peertest"
	"github.com/wstap/wstap/internal/sessiondiff"
)

// mockMsg is one message of a recording the mock tests serve, at ms after
// the open.
type mockMsg struct {
	ms   int
	dir  capture.Direction
	op   capture.Opcode // default text
	data []byte
}

func mc(ms int, data string) mockMsg {
	return mockMsg{ms: ms, dir: capture.ClientToServer, data: []byte(data)}
}
func ms(ms int, data string) mockMsg {
	return mockMsg{ms: ms, dir: capture.ServerToClient, data: []byte(data)}
}

// mockRec is a recorded connection for the mock tests.
type mockRec struct {
	url        string // default ws://recorded.example/chat?room=1
	proto      string
	extensions string
	msgs       []mockMsg
	close      *capture.Close // Time is set after the last message
}

// mockScript writes rec as a capture, the way the proxy would, and loads
// it back as a script.
func mockScript(t *testing.T, rec mockRec) *Script {
	t.Helper()
	path := filepath.Join(t.TempDir(), "mock.wstap")
	w, err := capture.Create(path, capture.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	if rec.url == "" {
		rec.url = "ws://recorded.example/chat?room=1"
	}
	h := http.Header{}
	if rec.proto != "" {
		h.Set("Sec-WebSocket-Protocol", "other, "+rec.proto)
	}
	id, err := w.Open(&capture.ConnOpen{Time: t0, URL: rec.url, Mode: "reverse", Status: 101, RequestHeaders: h,
		Subprotocol: rec.proto, Extensions: rec.extensions})
	if err != nil {
		t.Fatal(err)
	}
	last := 0
	for _, m := range rec.msgs {
		op := m.op
		if op == 0 {
			op = capture.OpText
		}
		if err := w.Append(&capture.Chunk{Conn: id, Time: at(m.ms), Dir: m.dir, Opcode: op, First: true, Last: true, Data: m.data}); err != nil {
			t.Fatal(err)
		}
		last = m.ms
	}
	if rec.close != nil {
		c := *rec.close
		c.Conn, c.Time = id, at(last+1)
		if err := w.Append(&c); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Append(&capture.End{Conn: id, Time: at(last + 2)}); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	r, err := capture.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	s, err := Load(r, id)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// startMock serves s and returns the server and the ws:// URL of its
// recorded path. The cleanup shuts it down and checks that every session
// ended.
func startMock(t *testing.T, s *Script, opts ServeOptions) (*Server, string) {
	t.Helper()
	if opts.Timeout == 0 {
		opts.Timeout = 5 * time.Second
	}
	srv, err := NewServer(s, opts)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	t.Cleanup(func() {
		hs.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		if live := srv.Summary().Live; live != 0 {
			t.Errorf("%d sessions still live after Shutdown", live)
		}
	})
	return srv, "ws" + strings.TrimPrefix(hs.URL, "http") + s.RequestURI()
}

func dialMock(t *testing.T, url string, d *websocket.Dialer) *websocket.Conn {
	t.Helper()
	if d == nil {
		d = &websocket.Dialer{}
	}
	c, _, err := d.Dial(url, nil)
	if err != nil {
		t.Fatalf("dial %s: %v", url, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// readN reads n messages, failing the test after a generous deadline.
func readN(t *testing.T, c *websocket.Conn, n int) []string {
	t.Helper()
	var out []string
	for range n {
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, p, err := c.ReadMessage()
		if err != nil {
			t.Fatalf("after %q: read: %v", out, err)
		}
		out = append(out, string(p))
	}
	return out
}

func send(t *testing.T, c *websocket.Conn, op int, data string) {
	t.Helper()
	c.SetWriteDeadline(time.Now().Add(10 * time.Second))
	if err := c.WriteMessage(op, []byte(data)); err != nil {
		t.Fatalf("send %q: %v", data, err)
	}
}

// closeMock closes c with 1000 and waits for the mock's answer.
func closeMock(t *testing.T, c *websocket.Conn) {
	t.Helper()
	c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(1000, "bye"), time.Now().Add(5*time.Second))
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		if _, _, err := c.ReadMessage(); err != nil {
			var ce *websocket.CloseError
			if !errors.As(err, &ce) || ce.Code != 1000 {
				t.Errorf("after our close: %v, want the mock's 1000", err)
			}
			return
		}
	}
}

// nextSession waits for a session to end.
func nextSession(t *testing.T, srv *Server) SessionResult {
	t.Helper()
	select {
	case r := <-srv.Sessions():
		return r
	case <-time.After(15 * time.Second):
		t.Fatal("no session ended within 15s")
	}
	return SessionResult{}
}

// chatRec is a chat session: two greetings before the client's first
// message, two replies to the join (one binary), one to the message.
func chatRec() mockRec {
	return mockRec{proto: "chat.v1", msgs: []mockMsg{
		ms(1, `{"type":"hello"}`),
		ms(2, `{"type":"motd","text":"be nice"}`),
		mc(10, `{"type":"join","user":"ann"}`),
		ms(11, `{"type":"joined","user":"ann"}`),
		{ms: 12, dir: capture.ServerToClient, op: capture.OpBinary, data: []byte{0, 1, 2, 0xff}},
		mc(20, `{"type":"say","text":"hi"}`),
		ms(21, `{"type":"said","text":"hi"}`),
	}, close: &capture.Close{Dir: capture.ClientToServer, Code: 1000}}
}

func TestServePlaysTheServerSide(t *testing.T) {
	s := mockScript(t, chatRec())
	var mu sync.Mutex
	var mism []Mismatch
	srv, url := startMock(t, s, ServeOptions{OnMismatch: func(m Mismatch) { mu.Lock(); mism = append(mism, m); mu.Unlock() }})
	if !strings.HasSuffix(url, "/chat?room=1") {
		t.Errorf("RequestURI gave %s, want the recorded /chat?room=1", url)
	}
	c := dialMock(t, url, &websocket.Dialer{Subprotocols: []string{"nope", "chat.v1"}})
	if c.Subprotocol() != "chat.v1" {
		t.Errorf("subprotocol %q, want the recorded chat.v1", c.Subprotocol())
	}
	if got := readN(t, c, 2); !slices.Equal(got, []string{`{"type":"hello"}`, `{"type":"motd","text":"be nice"}`}) {
		t.Errorf("before the first message: %q", got)
	}
	send(t, c, websocket.TextMessage, `{"user":"ann","type":"join"}`) // the same JSON, keys in another order
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, p, err := c.ReadMessage(); err != nil || string(p) != `{"type":"joined","user":"ann"}` {
		t.Errorf("reply 1 = %q, %v", p, err)
	}
	if op, p, err := c.ReadMessage(); err != nil || op != websocket.BinaryMessage || !bytes.Equal(p, []byte{0, 1, 2, 0xff}) {
		t.Errorf("reply 2 = %d %x, %v; want the recorded binary message", op, p, err)
	}
	send(t, c, websocket.TextMessage, `{"type":"say","text":"hi"}`)
	if got := readN(t, c, 1); got[0] != `{"type":"said","text":"hi"}` {
		t.Errorf("reply 3 = %q", got)
	}
	closeMock(t, c)

	r := nextSession(t, srv)
	if r.Client != 1 || r.Received != 2 || r.Sent != 5 || r.Expected != 2 || !r.Complete || r.Differing != 0 || r.Err != nil {
		t.Errorf("session %+v: want client 1, 2 received of 2, 5 sent, complete, no mismatch", r)
	}
	if r.Close == nil || r.Close.Dir != capture.ClientToServer || r.Close.Code != 1000 || r.Ended() != "the client closed (1000 bye)" {
		t.Errorf("ended %q (%+v), want the client's 1000", r.Ended(), r.Close)
	}
	if r.Subprotocol != "chat.v1" || r.URI != "/chat?room=1" || len(r.Notes) != 0 {
		t.Errorf("session %q %q notes %q", r.Subprotocol, r.URI, r.Notes)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(mism) != 0 {
		t.Errorf("mismatches %+v for a client that sent what was recorded", mism)
	}
	sum := srv.Summary()
	if sum.Clients != 1 || sum.Live != 0 || sum.Received != 2 || sum.Sent != 5 || sum.Differing != 0 {
		t.Errorf("summary %+v", sum)
	}
}

func TestServeWithoutTheSubprotocol(t *testing.T) {
	s := mockScript(t, chatRec())
	srv, url := startMock(t, s, ServeOptions{})
	c := dialMock(t, strings.Replace(url, "/chat?room=1", "/elsewhere", 1), nil)
	if c.Subprotocol() != "" {
		t.Errorf("subprotocol %q for a client that offered none", c.Subprotocol())
	}
	readN(t, c, 2)
	closeMock(t, c)
	r := nextSession(t, srv)
	if r.Subprotocol != "" || r.URI != "/elsewhere" || len(r.Notes) != 1 || !strings.Contains(r.Notes[0], "/chat?room=1") {
		t.Errorf("session %q at %q, notes %q: want no subprotocol and a note of the recorded path", r.Subprotocol, r.URI, r.Notes)
	}
	if r.Received != 0 || r.Sent != 2 || r.Complete {
		t.Errorf("session %+v: want the two greetings sent and playback left incomplete", r)
	}
}

func TestServeReportsMismatchesAndGoesOn(t *testing.T) {
	s := mockScript(t, chatRec())
	got := make(chan Mismatch, 10)
	srv, url := startMock(t, s, ServeOptions{OnMismatch: func(m Mismatch) { got <- m }})
	c := dialMock(t, url, nil)
	readN(t, c, 2)
	send(t, c, websocket.TextMessage, `{"type":"join","user":"bob"}`)
	if r := readN(t, c, 2); r[0] != `{"type":"joined","user":"ann"}` {
		t.Errorf("after a differing message the mock sent %q, want the recorded reply", r)
	}
	m := <-got
	if m.Client != 1 || m.N != 1 || m.Unexpected || len(m.Changes) != 1 || m.Changes[0].Path != "user" ||
		m.Changes[0].A != `"ann"` || m.Changes[0].B != `"bob"` || m.Remote == "" {
		t.Errorf("mismatch %+v, want message 1's user \"ann\" → \"bob\"", m)
	}
	send(t, c, websocket.TextMessage, `{"type":"say","text":"hi"}`)
	readN(t, c, 1)
	send(t, c, websocket.BinaryMessage, "one too many")
	if m := <-got; !m.Unexpected || m.N != 3 {
		t.Errorf("mismatch %+v, want message 3 unexpected", m)
	}
	closeMock(t, c)
	r := nextSession(t, srv)
	if r.Differing != 2 || len(r.Mismatches) != 2 || r.Received != 3 || r.Sent != 5 {
		t.Errorf("session %+v: want 2 mismatches, 3 received, 5 sent", r)
	}
	if sum := srv.Summary(); sum.Differing != 2 || len(sum.Mismatches) != 2 {
		t.Errorf("summary: %d mismatches %+v", sum.Differing, sum.Mismatches)
	}
}

func TestServeIgnore(t *testing.T) {
	s := mockScript(t, chatRec())
	srv, url := startMock(t, s, ServeOptions{Ignore: []sessiondiff.Path{sessiondiff.MustParsePath("user")}})
	c := dialMock(t, url, nil)
	readN(t, c, 2)
	send(t, c, websocket.TextMessage, `{"type":"join","user":"bob"}`)
	readN(t, c, 2)
	closeMock(t, c)
	if r := nextSession(t, srv); r.Differing != 0 {
		t.Errorf("with --ignore user: %+v", r.Mismatches)
	}
}

// idRec is a session in which the client picks request ids and the server
// echoes them back.
func idRec() mockRec {
	return mockRec{msgs: []mockMsg{
		ms(1, `{"type":"ready"}`),
		mc(10, `{"id":"req-abcdef","op":"get","user":"ann"}`),
		ms(11, `{"re":"req-abcdef","ok":true,"note":"for req-abcdef","who":"x"}`),
		mc(20, `{"id":"req-ghijkl","op":"put"}`),
		ms(21, `{"re":"req-ghijkl"}`),
	}}
}

func TestServeCorrelatesTheClientsIDs(t *testing.T) {
	s := mockScript(t, idRec())
	ex, err := ParseExtract("rid=id")
	if err != nil {
		t.Fatal(err)
	}
	user, _ := ParseExtract("user=user")
	set, err := ParseSet(`who="${user}"`)
	if err != nil {
		t.Fatal(err)
	}
	srv, url := startMock(t, s, ServeOptions{Extract: []Extract{ex, user}, Edits: &Edits{Sets: []Set{set}},
		Ignore: []sessiondiff.Path{sessiondiff.MustParsePath("id"), sessiondiff.MustParsePath("user")}})
	c := dialMock(t, url, nil)
	readN(t, c, 1)
	send(t, c, websocket.TextMessage, `{"id":"req-zzzzzz","op":"get","user":"bob"}`)
	if got := readN(t, c, 1)[0]; got != `{"re":"req-zzzzzz","ok":true,"note":"for req-zzzzzz","who":"bob"}` {
		t.Errorf("reply to req-zzzzzz = %s, want the id echoed and who set from the extraction", got)
	}
	send(t, c, websocket.TextMessage, `{"id":"req-yyyyyy","op":"put"}`)
	if got := readN(t, c, 1)[0]; got != `{"re":"req-yyyyyy"}` {
		t.Errorf("reply to req-yyyyyy = %s", got)
	}
	closeMock(t, c)
	if r := nextSession(t, srv); r.Differing != 0 || len(r.Notes) != 0 {
		t.Errorf("session: mismatches %+v, notes %q", r.Mismatches, r.Notes)
	}
}

func TestServeSkipsAnEditNotExtractedYet(t *testing.T) {
	s := mockScript(t, idRec())
	ex, _ := ParseExtract("rid=id")
	set, _ := ParseSet(`ok="${rid}"`)
	srv, url := startMock(t, s, ServeOptions{Extract: []Extract{ex}, Edits: &Edits{Sets: []Set{set}}})
	c := dialMock(t, url, nil)
	if got := readN(t, c, 1)[0]; got != `{"type":"ready"}` {
		t.Errorf("greeting %s", got)
	}
	send(t, c, websocket.TextMessage, `{"op":"get"}`) // no id: ${rid} stays unset
	if got := readN(t, c, 1)[0]; got != `{"re":"req-abcdef","ok":true,"note":"for req-abcdef","who":"x"}` {
		t.Errorf("reply %s, want it as recorded", got)
	}
	closeMock(t, c)
	if r := nextSession(t, srv); len(r.Notes) != 1 || !strings.Contains(r.Notes[0], "${rid}") {
		t.Errorf("notes %q, want the skipped edit", r.Notes)
	}
}

func TestServeClientsHaveTheirOwnSessions(t *testing.T) {
	s := mockScript(t, idRec())
	ex, _ := ParseExtract("rid=id")
	srv, url := startMock(t, s, ServeOptions{Extract: []Extract{ex}, Ignore: []sessiondiff.Path{sessiondiff.MustParsePath("id")}})
	a := dialMock(t, url, nil)
	b := dialMock(t, url, nil)
	readN(t, a, 1)
	readN(t, b, 1)
	send(t, a, websocket.TextMessage, `{"id":"req-aaaaaa","op":"get","user":"ann"}`)
	send(t, b, websocket.TextMessage, `{"id":"req-bbbbbb","op":"get","user":"ann"}`)
	if got := readN(t, b, 1)[0]; !strings.HasPrefix(got, `{"re":"req-bbbbbb"`) {
		t.Errorf("b got %s", got)
	}
	if got := readN(t, a, 1)[0]; !strings.HasPrefix(got, `{"re":"req-aaaaaa"`) {
		t.Errorf("a got %s", got)
	}
	send(t, b, websocket.TextMessage, `{"id":"req-bbbbbb","op":"put"}`)
	if got := readN(t, b, 1)[0]; got != `{"re":"req-bbbbbb"}` {
		t.Errorf("b's second reply %s", got)
	}
	closeMock(t, b)
	closeMock(t, a)
	r1, r2 := nextSession(t, srv), nextSession(t, srv)
	if r1.Client == r2.Client || r1.Client+r2.Client != 3 {
		t.Errorf("clients numbered %d and %d, want 1 and 2", r1.Client, r2.Client)
	}
	sum := srv.Summary()
	if sum.Clients != 2 || sum.Received != 3 || sum.Sent != 5 {
		t.Errorf("summary %+v: want 2 clients, 3 received, 5 sent", sum)
	}
	if sum.Differing != 0 {
		t.Errorf("mismatches %+v", sum.Mismatches)
	}
}

func TestServeRecordedPace(t *testing.T) {
	s := mockScript(t, mockRec{msgs: []mockMsg{
		ms(200, `first`),
		mc(300, `ask`),
		ms(700, `answer`),
		ms(900, `more`),
	}})
	_, url := startMock(t, s, ServeOptions{Pace: Recorded, Speed: 2})
	start := time.Now()
	c := dialMock(t, url, nil)
	readN(t, c, 1)
	if d := time.Since(start); d < 100*time.Millisecond {
		t.Errorf("the first message came %v after dialling, want at least 200ms/2", d)
	}
	sent := time.Now()
	send(t, c, websocket.TextMessage, "ask")
	readN(t, c, 1)
	if d := time.Since(sent); d < 200*time.Millisecond {
		t.Errorf("the answer came %v after the question, want at least 400ms/2", d)
	}
	readN(t, c, 1)
	// The mock measures the next gap from when it sent the answer, which
	// the client cannot see: measure both gaps from the question.
	if d := time.Since(sent); d < 300*time.Millisecond {
		t.Errorf("the message after the answer came %v after the question, want at least (400ms+200ms)/2", d)
	}
}

func TestServeClosesAsRecorded(t *testing.T) {
	rec := chatRec()
	rec.close = &capture.Close{Dir: capture.ServerToClient, Code: 4001, Reason: "session over"}
	s := mockScript(t, rec)
	srv, url := startMock(t, s, ServeOptions{})
	c := dialMock(t, url, nil)
	readN(t, c, 2)
	send(t, c, websocket.TextMessage, `{"type":"join","user":"ann"}`)
	readN(t, c, 2)
	send(t, c, websocket.TextMessage, `{"type":"say","text":"hi"}`)
	readN(t, c, 1)
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, _, err := c.ReadMessage()
	var ce *websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != 4001 || ce.Text != "session over" {
		t.Fatalf("after the last reply: %v, want the recorded close 4001", err)
	}
	r := nextSession(t, srv)
	if r.Close == nil || r.Close.Dir != capture.ServerToClient || r.Close.Code != 4001 || r.Err != nil {
		t.Errorf("session ended %q, %v", r.Ended(), r.Err)
	}
}

func TestServeWaitsForTheClientBeforeClosing(t *testing.T) {
	rec := chatRec()
	rec.close = &capture.Close{Dir: capture.ServerToClient, Code: 4001}
	srv, url := startMock(t, mockScript(t, rec), ServeOptions{})
	c := dialMock(t, url, nil)
	readN(t, c, 2)
	send(t, c, websocket.TextMessage, `{"type":"join","user":"ann"}`)
	readN(t, c, 2)
	// One recorded client message is still to come: the mock must not close.
	closeMock(t, c)
	if r := nextSession(t, srv); r.Close == nil || r.Close.Dir != capture.ClientToServer || r.Complete {
		t.Errorf("session ended %q, complete %v; want the client's close, playback incomplete", r.Ended(), r.Complete)
	}
}

func TestServeClientLeavesMidPlayback(t *testing.T) {
	rec := mockRec{msgs: []mockMsg{mc(1, "go")}}
	for i := range 500 {
		rec.msgs = append(rec.msgs, ms(2+i, strings.Repeat("x", 1000)))
	}
	srv, url := startMock(t, mockScript(t, rec), ServeOptions{})
	c := dialMock(t, url, nil)
	send(t, c, websocket.TextMessage, "go")
	readN(t, c, 1)
	closeMock(t, c)
	r := nextSession(t, srv)
	// Whether the mock had sent everything by then depends on the
	// machine; either way the session ended by the client's close.
	if r.Err != nil || r.Close == nil || r.Close.Dir != capture.ClientToServer {
		t.Errorf("session ended %q; want the client's close, and no error", r.Ended())
	}
}

func TestServeBigAndBinaryMessages(t *testing.T) {
	big := bytes.Repeat([]byte("0123456789abcdef"), 12<<20/16) // 12 MiB
	bin := make([]byte, 300)
	for i := range bin {
		bin[i] = byte(i)
	}
	s := mockScript(t, mockRec{msgs: []mockMsg{
		{ms: 1, dir: capture.ClientToServer, op: capture.OpBinary, data: bin},
		{ms: 2, dir: capture.ServerToClient, op: capture.OpBinary, data: big},
		{ms: 3, dir: capture.ClientToServer, op: capture.OpText, data: big},
		{ms: 4, dir: capture.ServerToClient, op: capture.OpText, data: []byte("got it")},
	}})
	srv, url := startMock(t, s, ServeOptions{})
	c := dialMock(t, url, nil)
	send(t, c, websocket.BinaryMessage, string(bin))
	c.SetReadDeadline(time.Now().Add(30 * time.Second))
	op, p, err := c.ReadMessage()
	if err != nil || op != websocket.BinaryMessage || !bytes.Equal(p, big) {
		t.Fatalf("the 12 MiB reply: op %d, %d bytes, %v", op, len(p), err)
	}
	c.SetWriteDeadline(time.Now().Add(30 * time.Second))
	if err := c.WriteMessage(websocket.TextMessage, big); err != nil {
		t.Fatal(err)
	}
	if got := readN(t, c, 1)[0]; got != "got it" {
		t.Errorf("reply %q", got)
	}
	closeMock(t, c)
	if r := nextSession(t, srv); r.Differing != 0 || r.Received != 2 || !r.Complete {
		t.Errorf("session %+v", r)
	}
}

func TestServeDeflate(t *testing.T) {
	rec := chatRec()
	rec.extensions = "permessage-deflate; client_no_context_takeover; server_no_context_takeover"
	_, url := startMock(t, mockScript(t, rec), ServeOptions{})
	d := &websocket.Dialer{EnableCompression: true}
	c, resp, err := d.Dial(url, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if ext := resp.Header.Get("Sec-WebSocket-Extensions"); !strings.Contains(ext, "permessage-deflate") {
		t.Errorf("extensions %q, want permessage-deflate as recorded", ext)
	}
	if got := readN(t, c, 2); got[1] != `{"type":"motd","text":"be nice"}` {
		t.Errorf("got %q", got)
	}
	closeMock(t, c)

	// A recording without it does not negotiate it.
	_, url = startMock(t, mockScript(t, chatRec()), ServeOptions{})
	c, resp, err = d.Dial(url, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if ext := resp.Header.Get("Sec-WebSocket-Extensions"); ext != "" {
		t.Errorf("extensions %q for a recording without any", ext)
	}
}

func TestServeShutdown(t *testing.T) {
	srv, err := NewServer(mockScript(t, chatRec()), ServeOptions{Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	defer hs.Close()
	url := "ws" + strings.TrimPrefix(hs.URL, "http") + "/chat"
	c := dialMock(t, url, nil)
	readN(t, c, 2)
	closed := make(chan error, 1)
	go func() {
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, _, err := c.ReadMessage()
		closed <- err
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	var ce *websocket.CloseError
	if err := <-closed; !errors.As(err, &ce) || ce.Code != websocket.CloseGoingAway {
		t.Errorf("the client saw %v, want 1001", err)
	}
	sum := srv.Summary()
	if sum.Live != 0 || sum.Clients != 1 || sum.Sessions[0].Close == nil || sum.Sessions[0].Close.Code != 1001 {
		t.Errorf("after Shutdown: %+v", sum)
	}
	if _, resp, err := websocket.DefaultDialer.Dial(url, nil); err == nil || resp == nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("a client after Shutdown: %v, %v; want 503", resp, err)
	}
	// A client that never answers the close is dropped when ctx ends.
	srv2, err := NewServer(mockScript(t, chatRec()), ServeOptions{Timeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	hs2 := httptest.NewServer(srv2)
	defer hs2.Close()
	c2 := dialMock(t, "ws"+strings.TrimPrefix(hs2.URL, "http"), nil)
	readN(t, c2, 2) // and no more reading: the close is never answered
	ctx2, cancel2 := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel2()
	if err := srv2.Shutdown(ctx2); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Shutdown with a silent client: %v, want the deadline", err)
	}
	if live := srv2.Summary().Live; live != 0 {
		t.Errorf("%d sessions live after a forced Shutdown", live)
	}
}

func TestServeRefusesPlainHTTP(t *testing.T) {
	_, url := startMock(t, mockScript(t, chatRec()), ServeOptions{})
	resp, err := http.Get("http" + strings.TrimPrefix(url, "ws"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("plain GET: %s, want 400", resp.Status)
	}
}

// TestServePythonClient plays the mock to a client written with Python's
// websockets library (replay/testdata/serve_client.py).
func TestServePythonClient(t *testing.T) {
	python := findPythonWebsockets(t)
	rec := chatRec()
	rec.close = &capture.Close{Dir: capture.ServerToClient, Code: 4001, Reason: "over"}
	srv, url := startMock(t, mockScript(t, rec), ServeOptions{})
	plan := map[string]any{
		"url":          url,
		"subprotocols": []string{"chat.v1"},
		"actions": []map[string]any{
			{"recv": 2},
			{"send": `{"type":"join","user":"ann"}`},
			{"recv": 2},
			{"send": `{"type":"say","text":"bye"}`},
			{"recv": 1},
		},
		"end": "wait",
	}
	planPath := filepath.Join(t.TempDir(), "plan.json")
	b, _ := json.Marshal(plan)
	if err := os.WriteFile(planPath, b, 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, python, "testdata/serve_client.py", planPath)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("serve_client.py: %v\n%s", err, stderr.String())
	}
	var got struct {
		Subprotocol string
		Received    []struct{ Type, Text, Base64 string }
		CloseCode   int    `json:"close_code"`
		CloseReason string `json:"close_reason"`
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("serve_client.py printed %q: %v", out, err)
	}
	var texts []string
	for _, m := range got.Received {
		if m.Type == "binary" {
			raw, _ := base64.StdEncoding.DecodeString(m.Base64)
			texts = append(texts, "bin:"+string(raw))
			continue
		}
		texts = append(texts, m.Text)
	}
	want := []string{`{"type":"hello"}`, `{"type":"motd","text":"be nice"}`, `{"type":"joined","user":"ann"}`,
		"bin:" + string([]byte{0, 1, 2, 0xff}), `{"type":"said","text":"hi"}`}
	if !slices.Equal(texts, want) {
		t.Errorf("python received %q, want %q", texts, want)
	}
	if got.Subprotocol != "chat.v1" || got.CloseCode != 4001 || got.CloseReason != "over" {
		t.Errorf("python: subprotocol %q, close %d %q; want chat.v1, 4001 over", got.Subprotocol, got.CloseCode, got.CloseReason)
	}
	r := nextSession(t, srv)
	if r.Differing != 1 || r.Mismatches[0].N != 2 || r.Mismatches[0].Changes[0].Path != "text" {
		t.Errorf("mismatches %+v, want message 2's text", r.Mismatches)
	}
}

// findPythonWebsockets returns a python3 that can import websockets. It
// skips the test without one, and fails it when CI is "true": CI installs
// it and must not skip silently.
func findPythonWebsockets(t *testing.T) string {
	t.Helper()
	path, v := peertest.Python()
	if path == "" {
		peertest.SkipOrFail(t, "no python3 can import websockets; install Debian's python3-websockets")
	}
	t.Logf("python client: %s, websockets %s", path, v)
	return path
}

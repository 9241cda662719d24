package proxy

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gobwas/ws"
	"github.com/gorilla/websocket"
	"github.com/klauspost/compress/flate"
	"github.com/wstap/wstap/capture"
)

// deflater compresses messages as a permessage-deflate peer does: one
// flate.Writer, flushed after each message, with the trailing 00 00 ff ff
// stripped (RFC 7692 §7.2.1). With context takeover the writer is kept
// across messages, so later messages refer back into earlier ones.
type deflater struct {
	t        *testing.T
	buf      bytes.Buffer
	fw       *flate.Writer
	takeover bool
}

func newDeflater(t *testing.T, takeover bool) *deflater {
	d := &deflater{t: t, takeover: takeover}
	fw, err := flate.NewWriter(&d.buf, flate.BestSpeed)
	if err != nil {
		t.Fatal(err)
	}
	d.fw = fw
	return d
}

func (d *deflater) compress(p []byte) []byte {
	d.t.Helper()
	d.buf.Reset()
	if !d.takeover {
		d.fw.Reset(&d.buf)
	}
	if _, err := d.fw.Write(p); err != nil {
		d.t.Fatal(err)
	}
	if err := d.fw.Flush(); err != nil {
		d.t.Fatal(err)
	}
	out := d.buf.Bytes()
	if !bytes.HasSuffix(out, []byte{0, 0, 0xff, 0xff}) {
		d.t.Fatalf("flushed deflate data ends in % x, want 00 00 ff ff", out[max(0, len(out)-4):])
	}
	return bytes.Clone(out[:len(out)-4])
}

// inflateAlone inflates one compressed message with no dictionary.
func inflateAlone(p []byte) ([]byte, error) {
	fr := flate.NewReader(io.MultiReader(bytes.NewReader(p), bytes.NewReader([]byte{0, 0, 0xff, 0xff, 1, 0, 0, 0xff, 0xff})))
	return io.ReadAll(fr)
}

// jsonMessage is a message like the ones apps send: similar from one to
// the next, so context takeover pays.
func jsonMessage(seq int) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, `{"type":"update","seq":%d,"user":{"name":"Ada Lovelace","roles":["admin","editor"]},"items":[`, seq)
	for i := range 12 {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"id":%d,"title":"item number %d of the catalogue","price":%d.%02d,"tags":["new","sale"]}`, i, i, 10+i, seq%100)
	}
	b.WriteString(`]}`)
	return []byte(b.String())
}

// bigText is n bytes of varied JSON lines.
func bigText(n int) []byte {
	var b bytes.Buffer
	for i := 0; b.Len() < n; i++ {
		fmt.Fprintf(&b, `{"line":%d,"hash":"%08x","msg":"row %d of a long export"}`+"\n", i, uint32(i)*2654435761, i*7)
	}
	return b.Bytes()[:n]
}

// sendCompressed sends a sequence of messages from one raw peer to the
// other, checks the other receives the exact frames, and returns what the
// capture should hold of them.
func sendCompressed(t *testing.T, from, to *rawPeer, dir capture.Direction, d *deflater) []wantMsg {
	t.Helper()
	var want []wantMsg
	pass := func(b []byte) { to.expect(b) }
	one := func(op ws.OpCode, plain []byte) {
		t.Helper()
		pass(from.send(true, 4, op, d.compress(plain)))
		want = append(want, wantMsg{dir, capture.Opcode(op), plain, true})
	}

	first, second := jsonMessage(1), jsonMessage(2)
	c1 := d.compress(first)
	pass(from.send(true, 4, ws.OpText, c1))
	c2 := d.compress(second)
	pass(from.send(true, 4, ws.OpText, c2))
	want = append(want, wantMsg{dir, capture.OpText, first, true}, wantMsg{dir, capture.OpText, second, true})
	if d.takeover {
		// The second message really refers back into the first: it is a
		// fraction of its size and means nothing alone.
		if len(c2)*3 > len(c1) {
			t.Errorf("with context takeover the second message compresses to %d bytes, the first to %d; want a fraction", len(c2), len(c1))
		}
		if p, err := inflateAlone(c2); err == nil && bytes.Equal(p, second) {
			t.Errorf("the second message inflates without the first; the test does not exercise context takeover")
		}
	}

	plain := []byte("an uncompressed message in between")
	pass(from.send(true, 0, ws.OpText, plain))
	want = append(want, wantMsg{dir, capture.OpText, plain, false})

	bin := append(bytes.Repeat([]byte{0xde, 0xad, 0xbe, 0xef, 0}, 400), jsonMessage(3)...)
	one(ws.OpBinary, bin)

	// A fragmented compressed message: RSV1 on the first frame only, and a
	// ping between the fragments.
	frag := append(jsonMessage(4), jsonMessage(5)...)
	cf := d.compress(frag)
	a, b := len(cf)/3, 2*len(cf)/3
	pass(from.send(false, 4, ws.OpText, cf[:a]))
	pass(from.send(false, 0, ws.OpContinuation, cf[a:b]))
	pass(from.send(true, 0, ws.OpPing, []byte("mid-message")))
	pass(from.send(true, 0, ws.OpContinuation, cf[b:]))
	want = append(want, wantMsg{dir, capture.OpPing, []byte("mid-message"), false}, wantMsg{dir, capture.OpText, frag, true})

	big := bigText(300 << 10)
	one(ws.OpText, big)
	one(ws.OpText, jsonMessage(6))
	one(ws.OpText, nil)
	one(ws.OpText, jsonMessage(7))
	return want
}

// TestPermessageDeflateRaw relays permessage-deflate with and without
// context takeover between raw peers: the peers get the exact compressed
// frames, the capture holds the plaintext.
func TestPermessageDeflateRaw(t *testing.T) {
	cases := []struct {
		name                       string
		extensions                 string
		clientTakeover, srvTakever bool
	}{
		{"context-takeover", "permessage-deflate", true, true},
		{"server-no-context-takeover", "permessage-deflate; server_no_context_takeover", true, false},
		{"no-context-takeover", "permessage-deflate; server_no_context_takeover; client_no_context_takeover", false, false},
		{"client-max-window-bits", "permessage-deflate; client_max_window_bits=15; server_max_window_bits=15", true, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			up := newRawServer(t, rawServerOptions{Extensions: tc.extensions})
			m := newMatrix(t, Options{Upstream: up.URL})
			c := dialRaw(t, m.URL, "/deflate", http.Header{"Sec-WebSocket-Extensions": {"permessage-deflate; client_max_window_bits"}}, nil)
			s := up.accept(t)
			want := sendCompressed(t, c, s, capture.ClientToServer, newDeflater(t, tc.clientTakeover))
			want = append(want, sendCompressed(t, s, c, capture.ServerToClient, newDeflater(t, tc.srvTakever))...)
			closeHandshake(t, c, s)
			m.waitEnds(t, 1)

			r := m.finish(t)
			got := readConn(t, r, connByPath(t, r, "/deflate"), 0)
			checkMsgs(t, got, want)
			if v := got.violations(); len(v) > 0 {
				t.Errorf("violations %q, want none", v)
			}
			if got.open.Extensions != tc.extensions {
				t.Errorf("recorded extensions %q, want %q", got.open.Extensions, tc.extensions)
			}
			var rsv1 int
			for _, f := range got.frames {
				if f.RSV == 4 {
					rsv1++
				}
			}
			if rsv1 != 2*8 {
				t.Errorf("%d frame records with RSV1, want 16", rsv1)
			}
		})
	}
}

// TestPermessageDeflateSmallWindow inflates with the window size the
// server asked for (server_max_window_bits).
func TestPermessageDeflateSmallWindow(t *testing.T) {
	up := newRawServer(t, rawServerOptions{Extensions: "permessage-deflate; server_max_window_bits=9"})
	m := newMatrix(t, Options{Upstream: up.URL})
	c := dialRaw(t, m.URL, "/window", http.Header{"Sec-WebSocket-Extensions": {"permessage-deflate; server_max_window_bits=9"}}, nil)
	s := up.accept(t)
	d := newDeflater(t, true)
	var want []wantMsg
	for i := range 5 {
		// Short messages: every back-reference stays within 512 bytes.
		msg := fmt.Appendf(nil, `{"seq":%d,"note":"a short message, much like the one before"}`, i)
		c.expect(s.send(true, 4, ws.OpText, d.compress(msg)))
		want = append(want, wantMsg{capture.ServerToClient, capture.OpText, msg, true})
	}
	closeHandshake(t, c, s)
	m.waitEnds(t, 1)
	r := m.finish(t)
	got := readConn(t, r, connByPath(t, r, "/window"), 0)
	checkMsgs(t, got, want)
	if v := got.violations(); len(v) > 0 {
		t.Errorf("violations %q, want none", v)
	}
}

// TestPermessageDeflateBroken records a compressed message that does not
// inflate as a violation and still forwards it; the connection goes on.
func TestPermessageDeflateBroken(t *testing.T) {
	up := newRawServer(t, rawServerOptions{Extensions: "permessage-deflate; server_no_context_takeover; client_no_context_takeover"})
	m := newMatrix(t, Options{Upstream: up.URL})
	c := dialRaw(t, m.URL, "/broken", nil, nil)
	s := up.accept(t)
	s.expect(c.send(true, 4, ws.OpText, []byte{0xff, 0xff, 0xff, 0xff, 0xff}))
	d := newDeflater(t, false)
	s.expect(c.send(true, 4, ws.OpText, d.compress([]byte("fine again"))))
	// RSV1 belongs on a compressed message's first frame only.
	s.expect(c.send(false, 0, ws.OpText, []byte("plain, ")))
	s.expect(c.send(true, 4, ws.OpContinuation, []byte("with RSV1 on the continuation")))
	// A compressed message cut short by the end of the stream.
	cut := d.compress(bigText(64 << 10))
	f := c.build(true, 4, ws.OpText, cut)
	c.write(f[:len(f)/2])
	c.conn.Close()
	if got := readAllBytes(t, s); !bytes.Equal(got, f[:len(f)/2]) {
		t.Errorf("server received %d bytes of the cut frame, want %d", len(got), len(f)/2)
	}
	s.conn.Close()
	m.waitEnds(t, 1)
	r := m.finish(t)
	got := readConn(t, r, connByPath(t, r, "/broken"), 0)
	v := got.violations()
	if len(v) != 2 || !strings.Contains(v[0], "client: RFC 7692 §6.2: compressed message does not inflate") ||
		!strings.Contains(v[1], "client: RFC 7692 §6: RSV1 set on a control frame or a continuation frame") {
		t.Errorf("violations %q, want the message that does not inflate and the misplaced RSV1", v)
	}
	ms := got.dir(capture.ClientToServer)
	if len(ms) != 4 || string(ms[1].Data) != "fine again" || string(ms[2].Data) != "plain, with RSV1 on the continuation" ||
		ms[2].Compressed || !ms[3].Incomplete || !ms[3].Compressed {
		for _, msg := range ms {
			t.Logf("message %+v", msg)
		}
		t.Errorf("want the broken message, %q, the plain one, and an incomplete compressed message", "fine again")
	}
}

// TestPermessageDeflateGorilla relays gorilla's permessage-deflate (no
// context takeover) both ways and records the plaintext.
func TestPermessageDeflateGorilla(t *testing.T) {
	upgrader := websocket.Upgrader{EnableCompression: true}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := upgrader.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		for {
			mt, p, err := c.ReadMessage()
			if err != nil {
				return
			}
			if err := c.WriteMessage(mt, p); err != nil {
				return
			}
		}
	}))
	t.Cleanup(srv.Close)
	m := newMatrix(t, Options{Upstream: wsURL(srv.URL)})
	d := websocket.Dialer{EnableCompression: true}
	c, resp, err := d.DialContext(t.Context(), wsURL(m.URL)+"/gorilla-deflate", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if ext := resp.Header.Get("Sec-WebSocket-Extensions"); !strings.Contains(ext, "permessage-deflate") {
		t.Fatalf("negotiated extensions %q, want permessage-deflate", ext)
	}
	msgs := []struct {
		mt       int
		data     []byte
		compress bool
	}{
		{websocket.TextMessage, jsonMessage(1), true},
		{websocket.TextMessage, jsonMessage(2), true},
		{websocket.BinaryMessage, bytes.Repeat([]byte{1, 2, 3, 250}, 1000), true},
		{websocket.TextMessage, []byte("sent uncompressed"), false},
		{websocket.TextMessage, bigText(300 << 10), true},
	}
	var want []wantMsg
	for _, msg := range msgs {
		c.EnableWriteCompression(msg.compress)
		c.SetWriteDeadline(deadline())
		if err := c.WriteMessage(msg.mt, msg.data); err != nil {
			t.Fatal(err)
		}
		c.SetReadDeadline(deadline())
		mt, p, err := c.ReadMessage()
		if err != nil {
			t.Fatal(err)
		}
		if mt != msg.mt || !bytes.Equal(p, msg.data) {
			t.Errorf("echo = %d, %d bytes; want %d, %d bytes", mt, len(p), msg.mt, len(msg.data))
		}
		op := capture.Opcode(msg.mt)
		want = append(want, wantMsg{capture.ClientToServer, op, msg.data, msg.compress},
			wantMsg{capture.ServerToClient, op, msg.data, true})
	}
	c.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""))
	c.SetReadDeadline(deadline())
	if _, _, err := c.ReadMessage(); !websocket.IsCloseError(err, websocket.CloseNormalClosure) {
		t.Errorf("after the close: %v, want the server's close 1000", err)
	}
	c.Close()
	m.waitEnds(t, 1)

	r := m.finish(t)
	got := readConn(t, r, connByPath(t, r, "/gorilla-deflate"), 0)
	checkMsgs(t, got, want)
	if v := got.violations(); len(v) > 0 {
		t.Errorf("violations %q, want none", v)
	}
	if !strings.Contains(got.open.Extensions, "client_no_context_takeover") {
		t.Errorf("recorded extensions %q", got.open.Extensions)
	}
}

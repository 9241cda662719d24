package proxy

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/gobwas/ws"
	"github.com/wstap/wstap/capture"
)

// rawFrame is one frame a violation case sends.
type rawFrame struct {
	fin     bool
	rsv     byte
	op      ws.OpCode
	payload []byte
	mask    int // 0: as the sender would (client masked, server not); 1: force a mask; -1: force none
}

func (f rawFrame) bytes(from *rawPeer) []byte {
	switch {
	case f.mask > 0 || (f.mask == 0 && from.client):
		m := ws.NewMask()
		return wireFrame(f.fin, f.rsv, f.op, &m, f.payload)
	default:
		return wireFrame(f.fin, f.rsv, f.op, nil, f.payload)
	}
}

func text(fin bool, p string) rawFrame { return rawFrame{fin: fin, op: ws.OpText, payload: []byte(p)} }
func cont(fin bool, p string) rawFrame {
	return rawFrame{fin: fin, op: ws.OpContinuation, payload: []byte(p)}
}
func closeFrame(body []byte) rawFrame       { return rawFrame{fin: true, op: ws.OpClose, payload: body} }
func pingFrame(fin bool, p []byte) rawFrame { return rawFrame{fin: fin, op: ws.OpPing, payload: p} }

// TestViolationsRecordedAndForwarded sends frames that break RFC 6455 and
// checks that each is recorded as a violation naming the rule, that the
// other peer still receives exactly what was sent, that valid traffic is
// not flagged, and that a second connection is undisturbed throughout.
func TestViolationsRecordedAndForwarded(t *testing.T) {
	cases := []struct {
		name       string
		fromServer bool
		frames     []rawFrame
		want       []string // substrings of the violations, in order
	}{
		{name: "unmasked-client-frame", frames: []rawFrame{{fin: true, op: ws.OpText, payload: []byte("naked"), mask: -1}},
			want: []string{"client: RFC 6455 §5.1: client frame is not masked"}},
		{name: "masked-server-frame", fromServer: true, frames: []rawFrame{{fin: true, op: ws.OpText, payload: []byte("veiled"), mask: 1}},
			want: []string{"server: RFC 6455 §5.1: server frame is masked"}},
		{name: "reserved-opcode", frames: []rawFrame{{fin: true, op: 0x3, payload: []byte("what am I")}},
			want: []string{"RFC 6455 §5.2: reserved opcode 0x3"}},
		{name: "reserved-control-opcode", fromServer: true, frames: []rawFrame{{fin: true, op: 0xb, payload: []byte("?")}},
			want: []string{"server: RFC 6455 §5.2: reserved opcode 0xb"}},
		{name: "oversized-control", frames: []rawFrame{pingFrame(true, bytes.Repeat([]byte{'!'}, 200))},
			want: []string{"RFC 6455 §5.5: control frame payload of 200 bytes"}},
		{name: "huge-control", fromServer: true, frames: []rawFrame{{fin: true, op: ws.OpPong, payload: bytes.Repeat([]byte{'p'}, 70000)}},
			want: []string{"server: RFC 6455 §5.5: control frame payload of 70000 bytes"}},
		{name: "fragmented-control", frames: []rawFrame{pingFrame(false, []byte("half")), pingFrame(true, []byte("ping"))},
			want: []string{"RFC 6455 §5.5: control frame is fragmented"}},
		{name: "rsv2-without-extension", frames: []rawFrame{{fin: true, rsv: 2, op: ws.OpText, payload: []byte("r")}},
			want: []string{"RFC 6455 §5.2: RSV bits 010"}},
		{name: "rsv1-without-extension", fromServer: true, frames: []rawFrame{{fin: true, rsv: 4, op: ws.OpBinary, payload: []byte{1}}},
			want: []string{"server: RFC 6455 §5.2: RSV bits 100"}},
		{name: "close-1005-on-the-wire", frames: []rawFrame{closeFrame(closeBody(1005, ""))},
			want: []string{"RFC 6455 §7.4.1: close code 1005 may not be sent"}},
		{name: "close-1006-on-the-wire", fromServer: true, frames: []rawFrame{closeFrame(closeBody(1006, "x"))},
			want: []string{"server: RFC 6455 §7.4.1: close code 1006"}},
		{name: "close-999", frames: []rawFrame{closeFrame(closeBody(999, ""))},
			want: []string{"RFC 6455 §7.4.1: close code 999"}},
		{name: "close-2000", frames: []rawFrame{closeFrame(closeBody(2000, "x"))},
			want: []string{"RFC 6455 §7.4.1: close code 2000"}},
		{name: "close-1015", frames: []rawFrame{closeFrame(closeBody(1015, ""))},
			want: []string{"RFC 6455 §7.4.1: close code 1015"}},
		{name: "close-5000", frames: []rawFrame{closeFrame(closeBody(5000, ""))},
			want: []string{"RFC 6455 §7.4.1: close code 5000"}},
		{name: "close-1-byte", frames: []rawFrame{closeFrame([]byte{3})},
			want: []string{"RFC 6455 §5.5.1: close frame payload of 1 byte"}},
		{name: "close-reason-not-utf8", frames: []rawFrame{closeFrame(closeBody(1000, "\xff\xfe"))},
			want: []string{"RFC 6455 §5.5.1: close reason is not valid UTF-8"}},
		{name: "text-not-utf8", frames: []rawFrame{text(true, "ok \xff no")},
			want: []string{"client: RFC 6455 §8.1: text message is not valid UTF-8"}},
		{name: "server-text-not-utf8", fromServer: true, frames: []rawFrame{text(true, "\xc0\xaf")},
			want: []string{"server: RFC 6455 §8.1"}},
		{name: "text-not-utf8-across-fragments", frames: []rawFrame{text(false, "ab\xe2\x82"), cont(true, "(")},
			want: []string{"RFC 6455 §8.1"}},
		{name: "surrogate-across-fragments", frames: []rawFrame{text(false, "\xed"), cont(false, "\xa0"), cont(true, "\x80")},
			want: []string{"RFC 6455 §8.1"}},
		{name: "text-ends-mid-rune", frames: []rawFrame{text(false, "price: "), cont(true, "\xe2\x82")},
			want: []string{"RFC 6455 §8.1"}},
		{name: "text-bad-after-split-rune", frames: []rawFrame{text(false, "\xe2"), cont(false, "\x82\xac"), cont(true, "\xff")},
			want: []string{"RFC 6455 §8.1"}},
		{name: "valid-rune-split-byte-by-byte", frames: []rawFrame{text(false, "price: \xe2"), cont(false, "\x82"),
			pingFrame(true, []byte("mid-rune")), cont(true, "\xac!")}},
		{name: "valid-4-byte-rune-split", frames: []rawFrame{text(false, "\xf0\x9f"), cont(false, "\x98"), cont(true, "\x80 ok")}},
		{name: "valid-runes-every-split", frames: []rawFrame{text(false, "é"), cont(false, "€\xf0"), cont(false, "\x9f\x98\x80"),
			cont(false, ""), cont(true, "ü")}},
		{name: "continuation-without-start", frames: []rawFrame{cont(true, "orphan")},
			want: []string{"RFC 6455 §5.4: continuation frame without a message to continue"}},
		{name: "new-message-inside-fragmented", fromServer: true, frames: []rawFrame{text(false, "first half"), text(true, "another")},
			want: []string{"server: RFC 6455 §5.4: new data frame while a fragmented message is unfinished"}},
	}

	up := newRawServer(t, rawServerOptions{})
	m := newMatrix(t, Options{Upstream: up.URL})
	// The bystander: a well-behaved connection open throughout.
	bc := dialRaw(t, m.URL, "/bystander", nil, nil)
	bs := up.accept(t)
	var bystander []wantMsg
	chat := func(i int) {
		t.Helper()
		q, a := fmt.Appendf(nil, "question %d", i), fmt.Appendf(nil, "answer %d", i)
		bs.expect(bc.send(true, 0, ws.OpText, q))
		bc.expect(bs.send(true, 0, ws.OpText, a))
		bystander = append(bystander, wantMsg{capture.ClientToServer, capture.OpText, q, false},
			wantMsg{capture.ServerToClient, capture.OpText, a, false})
	}

	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := dialRaw(t, m.URL, "/violation/"+tc.name, nil, nil)
			s := up.accept(t)
			from, to := c, s
			if tc.fromServer {
				from, to = s, c
			}
			for _, f := range tc.frames {
				b := f.bytes(from)
				from.write(b)
				to.expect(b)
			}
			// The traffic goes on after the violation.
			to.expect(from.send(true, 0, ws.OpBinary, []byte("still here")))
			c.conn.Close()
			s.expectEOF()
			s.conn.Close()
			m.waitEnds(t, 1)
		})
		chat(i)
	}
	closeHandshake(t, bc, bs)
	m.waitEnds(t, 1)

	r := m.finish(t)
	for _, tc := range cases {
		got := readConn(t, r, connByPath(t, r, "/violation/"+tc.name), 0).violations()
		ok := len(got) == len(tc.want)
		for i := 0; ok && i < len(got); i++ {
			ok = strings.Contains(got[i], tc.want[i])
		}
		if !ok {
			t.Errorf("%s: violations %q, want %q", tc.name, got, tc.want)
		}
	}
	// The capture keeps a bounded prefix of an oversized control frame.
	huge := readConn(t, r, connByPath(t, r, "/violation/huge-control"), 0).dir(capture.ServerToClient)
	if len(huge) == 0 || huge[0].Opcode != capture.OpPong || !huge[0].Truncated || huge[0].Size != maxControlCapture {
		t.Errorf("huge pong recorded as %+v, want a truncated pong of %d bytes", huge, maxControlCapture)
	}
	b := readConn(t, r, connByPath(t, r, "/bystander"), 0)
	if v := b.violations(); len(v) > 0 {
		t.Errorf("bystander: violations %q, want none", v)
	}
	checkMsgs(t, b, bystander)
	if len(b.closes) != 2 || b.closes[0].Code != 1000 || b.closes[1].Code != 1000 {
		t.Errorf("bystander: closes %+v, want 1000 both ways", closeFacts(b.closes))
	}
}

// TestSplitRuneRecordedWhole checks that a valid text message split
// mid-rune is recorded whole and unflagged.
func TestSplitRuneRecordedWhole(t *testing.T) {
	up := newRawServer(t, rawServerOptions{})
	m := newMatrix(t, Options{Upstream: up.URL})
	c := dialRaw(t, m.URL, "/runes", nil, nil)
	s := up.accept(t)
	msg := []byte("naïve café – 😀 – ünïcödé")
	for i := range msg { // one byte a frame
		op := ws.OpContinuation
		if i == 0 {
			op = ws.OpText
		}
		s.expect(c.send(i == len(msg)-1, 0, op, msg[i:i+1]))
	}
	closeHandshake(t, c, s)
	m.waitEnds(t, 1)
	r := m.finish(t)
	got := readConn(t, r, connByPath(t, r, "/runes"), 0)
	checkMsgs(t, got, []wantMsg{{capture.ClientToServer, capture.OpText, msg, false}})
	if v := got.violations(); len(v) > 0 {
		t.Errorf("violations %q, want none", v)
	}
}

// TestUnparsableLengthPassesThrough sends a header whose 64-bit length has
// its most significant bit set (RFC 6455 §5.2): the proxy cannot frame
// what follows, so it records the violation and passes the bytes through
// unchanged, leaving the verdict to the server, as without the proxy.
func TestUnparsableLengthPassesThrough(t *testing.T) {
	up := newRawServer(t, rawServerOptions{})
	m := newMatrix(t, Options{Upstream: up.URL})
	c := dialRaw(t, m.URL, "/msb", nil, nil)
	s := up.accept(t)
	s.expect(c.send(true, 0, ws.OpText, []byte("before")))
	bad := []byte{0x82, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 1, 1, 2, 3, 4, 'a', 'b', 'c'}
	c.write(bad)
	c.write([]byte("more"))
	want := append(bad, "more"...)
	got := make([]byte, len(want))
	s.conn.SetReadDeadline(deadline())
	if _, err := io.ReadFull(s.br, got); err != nil || !bytes.Equal(got, want) {
		t.Fatalf("server received % x (%v), want % x", got, err, want)
	}
	// The server's verdict still reaches the client.
	c.expect(s.send(true, 0, ws.OpClose, closeBody(1002, "bad length")))
	c.conn.Close()
	s.expectEOF()
	s.conn.Close()
	m.waitEnds(t, 1)
	r := m.finish(t)
	rec := readConn(t, r, connByPath(t, r, "/msb"), 0)
	if v := rec.violations(); len(v) != 1 || !strings.Contains(v[0], "client: RFC 6455 §5.2: invalid payload length") {
		t.Errorf("violations %q, want the invalid length", v)
	}
	if rec.end == nil {
		t.Errorf("no end record")
	}
}

package codegen

import (
	"bytes"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wstap/wstap/capture"
	"github.com/wstap/wstap/replay"
)

var allLangs = []string{"python", "js", "go"}

// exchange is a client message and the server's echo of it.
type exchange struct {
	op   capture.Opcode
	data string
}

func text(s string) exchange    { return exchange{capture.OpText, s} }
func binary(b ...byte) exchange { return exchange{capture.OpBinary, string(b)} }
func binaryS(s string) exchange { return exchange{capture.OpBinary, s} }
func fields(kv ...string) []capture.HeaderField {
	var out []capture.HeaderField
	for i := 0; i < len(kv); i += 2 {
		out = append(out, capture.HeaderField{Name: kv[i], Value: kv[i+1]})
	}
	return out
}

var t0 = time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)

// echoScript builds a recorded session in which the server echoed each
// client message, gap apart.
func echoScript(url string, headers []capture.HeaderField, gap time.Duration, msgs ...exchange) *replay.Script {
	h := http.Header{}
	for _, f := range headers {
		h.Add(f.Name, f.Value)
	}
	s := &replay.Script{Open: &capture.ConnOpen{
		Conn: 1, Time: t0, URL: url, Mode: "reverse", Status: 101,
		RequestHeaders: h, RequestHeaderList: headers,
	}}
	at := t0
	for i, m := range msgs {
		at = at.Add(gap)
		s.Steps = append(s.Steps,
			replay.Step{Dir: capture.ClientToServer, Opcode: m.op, Time: at, Data: []byte(m.data), N: i + 1, After: i},
			replay.Step{Dir: capture.ServerToClient, Opcode: m.op, Time: at.Add(time.Millisecond), Data: []byte(m.data), N: i + 1, After: i + 1})
	}
	s.End = at.Add(time.Second)
	return s
}

// showLine is how a script prints a received message.
func showLine(op capture.Opcode, data []byte) string {
	if op == capture.OpText {
		return "< text " + strings.NewReplacer("\n", `\n`, "\r", `\r`).Replace(string(data))
	}
	head, more := data, ""
	if len(head) > 32 {
		head, more = head[:32], "…"
	}
	return strings.TrimSuffix(fmt.Sprintf("< binary %d bytes %x%s", len(data), head, more), " ")
}

// libraryHeaders are those the WebSocket libraries make themselves.
var libraryHeaders = []string{"host", "upgrade", "connection", "sec-websocket-key", "sec-websocket-version", "sec-websocket-protocol"}

// want is what a run must have delivered to the server.
type want struct {
	script    *replay.Script
	env       map[string]string // values of the secrets, by header name
	closeCode int
	closeText string
	reactive  bool // check the pacing: each message waited for the replies before it
}

// check compares what the server received with the recording.
func (w want) check(t *testing.T, lang string, got *received, res result) {
	t.Helper()
	s := w.script
	if got.Target != s.RequestURI() {
		t.Errorf("request target = %q, want %q", got.Target, s.RequestURI())
	}
	// The handshake's headers: the recorded end-to-end ones, the offer
	// apart, with the secrets' values, in order (Go's net/http sorts
	// them), and nothing the library added but its own.
	var wantH, gotH [][2]string
	offer := ""
	for _, h := range replay.RecordedHeaders(s.Open) {
		if strings.EqualFold(h.Name, "Sec-WebSocket-Protocol") {
			offer = h.Value
			continue
		}
		v := h.Value
		for name, ev := range w.env {
			if strings.EqualFold(name, h.Name) {
				v = ev
			}
		}
		wantH = append(wantH, [2]string{h.Name, v})
	}
	gotOffer := ""
	for _, f := range got.Headers {
		if strings.EqualFold(f[0], "Sec-WebSocket-Protocol") {
			gotOffer = f[1]
		}
		if !slices.Contains(libraryHeaders, strings.ToLower(f[0])) {
			gotH = append(gotH, f)
		}
	}
	if lang == "go" {
		cmp := func(a, b [2]string) int { return strings.Compare(a[0]+"\x00"+a[1], b[0]+"\x00"+b[1]) }
		slices.SortStableFunc(wantH, cmp)
		slices.SortStableFunc(gotH, cmp)
	}
	if !slices.Equal(gotH, wantH) {
		t.Errorf("headers:\n got %q\nwant %q", gotH, wantH)
	}
	if gotOffer != offer {
		t.Errorf("Sec-WebSocket-Protocol = %q, want %q", gotOffer, offer)
	}
	// The messages, byte for byte, in order.
	client := s.Client()
	var wantM []serverMsg
	var wantOut []string
	for _, st := range client {
		wantM = append(wantM, serverMsg{int(st.Opcode), st.Data})
		wantOut = append(wantOut, showLine(st.Opcode, st.Data))
	}
	if len(got.Messages) != len(wantM) {
		t.Errorf("the server got %d messages, want %d", len(got.Messages), len(wantM))
	}
	for i := range min(len(got.Messages), len(wantM)) {
		if g, w := got.Messages[i], wantM[i]; g.Op != w.Op || !bytes.Equal(g.Data, w.Data) {
			t.Errorf("message %d = %d %q, want %d %q", i+1, g.Op, trim(g.Data), w.Op, trim(w.Data))
		}
		if w.reactive && got.Before[i] < client[i].After {
			t.Errorf("message %d came after %d replies, want %d: the script did not wait", i+1, got.Before[i], client[i].After)
		}
	}
	switch {
	case got.Close == nil:
		t.Errorf("the script did not close the connection")
	case got.Close.Code != w.closeCode || got.Close.Text != w.closeText:
		t.Errorf("close = %d %q, want %d %q", got.Close.Code, got.Close.Text, w.closeCode, w.closeText)
	}
	// Its output: one line a reply.
	lines := strings.Split(strings.TrimSuffix(res.stdout, "\n"), "\n")
	if res.stdout == "" {
		lines = nil
	}
	if !slices.Equal(lines, wantOut) {
		t.Errorf("stdout: %d lines, want %d; first difference:\n%s", len(lines), len(wantOut), firstDiff(lines, wantOut))
	}
	if res.code != 0 {
		t.Errorf("exit status %d, want 0; stderr:\n%s", res.code, res.stderr)
	}
}

func trim(b []byte) []byte {
	if len(b) > 64 {
		return b[:64]
	}
	return b
}

func firstDiff(got, want []string) string {
	for i := range max(len(got), len(want)) {
		var g, w string
		if i < len(got) {
			g = got[i]
		}
		if i < len(want) {
			w = want[i]
		}
		if g != w {
			return fmt.Sprintf("line %d:\n got %.200q\nwant %.200q", i+1, g, w)
		}
	}
	return "(none)"
}

// tricky are text messages that test the literals' escaping.
var tricky = []exchange{
	text(`{"a":1}`),
	text(`quotes " ' """ ''' and \ backslashes \\ \n (not a newline)`),
	text("real newlines\nand\r\nreturns, a tab\t, a NUL \x00, a bell \a, DEL \x7f, an escape \x1b[0m"),
	text("unicode: héllo wörld ✓ Ελληνικά 日本語 🚀 \u2028 \u2029 \ufeff \u0085 \U0001F600"),
	text("</script><script>alert(1)</script> <!-- ${not.a.template} `backticks` #{ruby} %s %d {0}"),
	text(""),
	binary(0x00, 0xff, 0x00, 0xfe, 0x80, 0x7f),
	binary(),
	binaryS(allBytes()),
}

func allBytes() string {
	b := make([]byte, 256)
	for i := range b {
		b[i] = byte(i)
	}
	return string(b)
}

// TestRun generates each session in each language, runs the script
// against a recording server and checks that the server got the
// recording, byte for byte.
func TestRun(t *testing.T) {
	p := findPeers(t)
	caFile, leaf := testCA(t)

	type session struct {
		name   string
		addr   string // where the server listens
		tls    bool
		script func(server string) *replay.Script
		opts   Options
		env    map[string]string // header → value, set as WSTAP_… variables
		args   func(server string) []string
		delay  time.Duration
		close  [2]any // code, reason the server must get
		after  func(t *testing.T, lang string, prog *program, w want, res result)
	}
	secrets := map[string]string{"Authorization": "Bearer s3cr3t", "Cookie": "sid=abc; theme=dark", "X-Api-Key": "key-123"}
	sessions := []session{{
		// Encoded slash, encoded unicode, repeated keys, secrets, a
		// redacted header, two subprotocols, tricky text and binary, and
		// the client's close code.
		name: "complex",
		addr: "127.0.0.1:0",
		script: func(string) *replay.Script {
			s := echoScript("ws://app.example.com:8080/a%2Fb/caf%C3%A9/x?k=1&k=2&q=%E2%9C%93&sp=a+b%20c&empty=",
				fields(
					"Host", "app.example.com:8080",
					"Upgrade", "websocket",
					"Connection", "Upgrade",
					"User-Agent", "Mozilla/5.0 (X11; Linux x86_64) wstap-test/1.0",
					"Origin", "https://app.example.com",
					"Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==",
					"Sec-WebSocket-Version", "13",
					"Sec-WebSocket-Protocol", "chat.v2, chat.v1",
					"Authorization", "Bearer recorded-token",
					"Cookie", "sid=recorded",
					"x-api-key", capture.Redaction,
					"x-trace-id", "trace \"quoted\" \\ back",
					"X-Multi", "one",
					"X-Multi", "two",
					"X-Name", "Zoë ✓",
					"Accept-Language", "en-GB,en;q=0.9",
				), 5*time.Millisecond, tricky...)
			s.Open.Redacted = []string{"X-Api-Key"}
			s.Open.Subprotocol = "chat.v2"
			s.Close = &capture.Close{Conn: 1, Time: s.End, Dir: capture.ClientToServer, Code: 4001, Reason: "bye ✓"}
			return s
		},
		env:   secrets,
		args:  func(server string) []string { return []string{"--url", server} },
		delay: 10 * time.Millisecond,
		close: [2]any{4001, "bye ✓"},
		after: func(t *testing.T, lang string, prog *program, w want, res result) {
			// Without a secret, the script stops before dialling, with a
			// one-line message naming the variable.
			env := []string{"WSTAP_COOKIE=x", "WSTAP_X_API_KEY=y"}
			miss := prog.run(t, env, "--url", "ws://127.0.0.1:1")
			if miss.code != 2 || strings.Count(strings.TrimSpace(miss.stderr), "\n") != 0 || !strings.Contains(miss.stderr, "WSTAP_AUTHORIZATION") {
				t.Errorf("without WSTAP_AUTHORIZATION: exit %d, stderr %q; want 2 and one line naming it", miss.code, miss.stderr)
			}
		},
	}, {
		// A raw (not percent-encoded) unicode path and query, and an
		// empty query, as a client sent them; the server closed.
		name: "raw-unicode",
		addr: "127.0.0.1:0",
		script: func(string) *replay.Script {
			s := echoScript("ws://example.com/café/ü/naïve?", nil, time.Millisecond, text("raw ✓"), binary(1, 2, 3))
			s.Close = &capture.Close{Conn: 1, Time: s.End, Dir: capture.ServerToClient, Code: 1000}
			return s
		},
		args:  func(server string) []string { return []string{"--url", server + "/"} },
		close: [2]any{1000, ""},
	}, {
		// An IPv6 literal with a non-default port, dialled as recorded
		// (no --url), at the recorded pace.
		name: "ipv6",
		addr: "[::1]:0",
		script: func(server string) *replay.Script {
			return echoScript(server+"/v6/%2F?x=1&x=2", fields("Origin", "http://[::1]"), 20*time.Millisecond, text("one"), text("two"), binary(0xff))
		},
		args:  func(string) []string { return []string{"--pace", "recorded"} },
		close: [2]any{1000, ""},
	}, {
		// wss, trusting a test CA through the runtime's standard variable.
		name: "wss",
		addr: "127.0.0.1:0",
		tls:  true,
		script: func(string) *replay.Script {
			s := echoScript("wss://secure.example.com/feed?since=0", fields("Sec-WebSocket-Protocol", "v1.feed"), time.Millisecond, text(`{"sub":"ticks"}`), binary(0, 255))
			s.Open.Subprotocol = "v1.feed"
			return s
		},
		args:  func(server string) []string { return []string{"--url", server} },
		close: [2]any{1000, ""},
	}, {
		// A session too large to hold inline: its messages go into a data file.
		name: "large",
		addr: "127.0.0.1:0",
		script: func(string) *replay.Script {
			var msgs []exchange
			for i := range 300 {
				if i%3 == 2 {
					msgs = append(msgs, binary(byte(i), 0, 0xff))
				} else {
					msgs = append(msgs, text(fmt.Sprintf(`{"seq":%d,"s":"\"ü\"\n"}`, i)))
				}
			}
			return echoScript("ws://bulk.example.com/bulk", nil, time.Millisecond, msgs...)
		},
		opts:  Options{KeepSecrets: true},
		args:  func(server string) []string { return []string{"--url", server} },
		close: [2]any{1000, ""},
	}, {
		// The recording had two replies a message; this server sends one:
		// the script notes each wait that times out and goes on.
		name: "timeout",
		addr: "127.0.0.1:0",
		script: func(string) *replay.Script {
			s := echoScript("ws://slow.example.com/", nil, time.Millisecond, text("a"), text("b"))
			// s1 is the echo of c1; add s2 after it, and renumber.
			var steps []replay.Step
			ns := 0
			for _, st := range s.Steps {
				if st.Dir == capture.ClientToServer {
					st.After = ns
					steps = append(steps, st)
					continue
				}
				for range 2 {
					ns++
					st.N = ns
					steps = append(steps, st)
				}
			}
			s.Steps = steps
			return s
		},
		opts: Options{Timeout: 300 * time.Millisecond},
		args: func(server string) []string { return []string{"--url", server} },
		after: func(t *testing.T, lang string, prog *program, w want, res result) {
			if n := strings.Count(res.stderr, "note:"); n != 2 {
				t.Errorf("stderr has %d notes, want 2 (a timed-out wait before message 2 and before closing):\n%s", n, res.stderr)
			}
		},
		close: [2]any{1000, ""},
	}}

	for _, sess := range sessions {
		t.Run(sess.name, func(t *testing.T) {
			var cert *tls.Certificate
			if sess.tls {
				cert = leaf
			}
			if strings.HasPrefix(sess.addr, "[") {
				ln, err := net.Listen("tcp", sess.addr)
				if err != nil {
					t.Skipf("no IPv6 loopback: %v", err)
				}
				ln.Close()
			}
			srv := newTestServer(t, sess.addr, cert)
			srv.Delay = sess.delay
			s := sess.script(srv.URL)
			var env []string
			for name, v := range sess.env {
				env = append(env, envName(name, map[string]bool{})+"="+v)
			}
			if sess.tls {
				env = append(env, "SSL_CERT_FILE="+caFile, "NODE_EXTRA_CA_CERTS="+caFile)
			}
			w := want{script: s, env: sess.env, closeCode: sess.close[0].(int), closeText: sess.close[1].(string),
				reactive: sess.delay > 0}
			for _, lang := range allLangs {
				t.Run(lang, func(t *testing.T) {
					p.need(t, lang)
					opts := sess.opts
					opts.Lang = lang
					g, err := Generate(s, opts)
					if err != nil {
						t.Fatal(err)
					}
					if (g.Data != nil) != (len(s.Client()) > maxInlineMessages) {
						t.Errorf("data file: %v, want it only beyond %d messages", g.Data != nil, maxInlineMessages)
					}
					prog := p.prepare(t, lang, g)
					res := prog.run(t, env, sess.args(srv.URL)...)
					if res.code != 0 {
						t.Fatalf("exit status %d; stderr:\n%s", res.code, res.stderr)
					}
					w.check(t, lang, srv.next(t), res)
					if sess.after != nil {
						sess.after(t, lang, prog, w, res)
					}
				})
			}
		})
	}
}

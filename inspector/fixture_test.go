package inspector

import (
	"bytes"
	"flag"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
	"github.com/wstap/wstap/capture"
)

// updating reports whether -update was given (the flag is x/exp/golden's,
// which teatest brings in).
func updating() bool {
	f := flag.Lookup("update")
	return f != nil && f.Value.String() == "true"
}

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func at(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }

// msgpackSnapshot is {"bids":[[101.5,2]],"sym":"ACME"} in msgpack.
var msgpackSnapshot = []byte{0x82, 0xa4, 'b', 'i', 'd', 's', 0x91, 0x92, 0xcb, 0x40, 0x59, 0x60, 0, 0, 0, 0, 0, 0x02,
	0xa3, 's', 'y', 'm', 0xa4, 'A', 'C', 'M', 'E'}

// rawBinary decodes as nothing: read it as hex.
var rawBinary = []byte{0xde, 0xad, 0xbe, 0xef, 0x13, 0x37, 0xc0, 0xff, 0xee, 0x00, 0x99, 0x88, 0x77, 0x66, 0x55, 0x44, 0x01}

type chunkSpec struct {
	ms     int
	dir    capture.Direction
	op     capture.Opcode
	data   string
	frames []int // fragment sizes; nil: one frame
	z      bool
	drop   bool
}

// writeFixture writes a capture of two WebSocket connections and one plain
// HTTP exchange. Conn 1 holds every kind of message the inspector shows;
// conn 2 was refused.
func writeFixture(t testing.TB, dir string) string {
	t.Helper()
	path := filepath.Join(dir, "fixture.wstap")
	w, err := capture.Create(path, capture.Options{})
	if err != nil {
		t.Fatal(err)
	}
	c, err := w.Open(&capture.ConnOpen{Time: at(0), URL: "wss://chat.example.test/ws?room=1", Mode: "explicit",
		ClientAddr: "127.0.0.1:50001", ServerAddr: "127.0.0.1:8443",
		RequestHeaderList: []capture.HeaderField{{Name: "Host", Value: "chat.example.test"}, {Name: "Sec-WebSocket-Protocol", Value: "jsonrpc, chat"},
			{Name: "Cookie", Value: "[redacted]"}},
		RequestHeaders:     http.Header{"Sec-Websocket-Protocol": {"jsonrpc, chat"}, "Cookie": {"[redacted]"}},
		ResponseHeaderList: []capture.HeaderField{{Name: "Upgrade", Value: "websocket"}, {Name: "Sec-WebSocket-Protocol", Value: "jsonrpc"}},
		ResponseHeaders:    http.Header{"Sec-Websocket-Protocol": {"jsonrpc"}},
		Redacted:           []string{"Cookie"},
		Status:             101, Subprotocol: "jsonrpc", Extensions: "permessage-deflate",
		ClientTLS: &capture.TLSInfo{Version: "TLS 1.3", Cipher: "TLS_AES_128_GCM_SHA256", ALPN: "http/1.1", SNI: "chat.example.test"},
		ServerTLS: &capture.TLSInfo{Version: "TLS 1.3", Chain: []capture.CertInfo{{Subject: "CN=chat.example.test", Issuer: "CN=wstap test CA",
			NotAfter: at(86_400_000)}}, Verified: "ok"},
	})
	if err != nil {
		t.Fatal(err)
	}
	specs := []chunkSpec{
		{ms: 10, dir: capture.ServerToClient, op: capture.OpText, data: "welcome to the fixture server"},
		{ms: 20, dir: capture.ClientToServer, op: capture.OpText, data: `{"jsonrpc":"2.0","id":7,"method":"subscribe","params":{"channel":"trades"}}`},
		{ms: 30, dir: capture.ServerToClient, op: capture.OpBinary, data: string(msgpackSnapshot)},
		{ms: 40, dir: capture.ServerToClient, op: capture.OpText, data: `{"type":"trade","sym":"ACME","px":101.25,"qty":3}`},
		{ms: 50, dir: capture.ServerToClient, op: capture.OpText, data: `{"jsonrpc":"2.0","id":7,"result":{"ok":true}}`},
		{ms: 60, dir: capture.ClientToServer, op: capture.OpBinary, data: string(rawBinary)},
		{ms: 70, dir: capture.ServerToClient, op: capture.OpPing, data: "hb-1"},
		{ms: 71, dir: capture.ClientToServer, op: capture.OpPong, data: "hb-1"},
		{ms: 80, dir: capture.ProxyToServer, op: capture.OpPing, data: "wstap-hb"},
		{ms: 81, dir: capture.ServerToClient, op: capture.OpPong, data: "wstap-hb", drop: true},
		{ms: 90, dir: capture.ServerToClient, op: capture.OpText, data: `{"type":"catalog","items":["` + strings.Repeat("instrument-", 30) + `"]}`, frames: []int{100, 100, 150}},
		{ms: 100, dir: capture.ServerToClient, op: capture.OpText, data: `{"type":"history","lines":["` + strings.Repeat("hello ", 40) + `"]}`, z: true},
		{ms: 110, dir: capture.ServerToClient, op: capture.OpText, data: `{"type":"trade","sym":"BETA","px":7.5,"qty":100}`},
	}
	for _, s := range specs {
		appendMessage(t, w, c, s)
	}
	for _, r := range []capture.Record{
		&capture.Close{Conn: c, Time: at(120), Dir: capture.ClientToServer, Code: 1000, Reason: "done"},
		&capture.Close{Conn: c, Time: at(121), Dir: capture.ServerToClient, Code: 1000, Reason: "done"},
		&capture.End{Conn: c, Time: at(122)},
	} {
		if err := w.Append(r); err != nil {
			t.Fatal(err)
		}
	}
	c2, err := w.Open(&capture.ConnOpen{Time: at(200), URL: "ws://feed.example.test/v1/stream", Mode: "reverse",
		ClientAddr: "127.0.0.1:50002", RequestHeaders: http.Header{"User-Agent": {"fixture/1"}}, Status: 403,
		ResponseBody: []byte("forbidden")})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range []capture.Record{
		&capture.Event{Conn: c2, Time: at(200), Kind: capture.EventRefused, Detail: "403 Forbidden"},
		&capture.End{Conn: c2, Time: at(201)},
	} {
		if err := w.Append(r); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := w.HTTP(&capture.HTTP{Time: at(300), Method: "POST", URL: "https://api.example.test/login", Status: 200,
		RequestHeaders: http.Header{"Content-Type": {"application/json"}}, ResponseHeaders: http.Header{"Set-Cookie": {"s=1"}},
		RequestBody: []byte(`{"user":"u"}`), RequestSize: 12, ResponseBody: []byte(`{"ok":true}`), ResponseSize: 11,
		Duration: 12 * time.Millisecond, ClientAddr: "127.0.0.1:50003"}); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

func appendMessage(t testing.TB, w *capture.Writer, c capture.ConnID, s chunkSpec) {
	t.Helper()
	data := []byte(s.data)
	sizes := s.frames
	if sizes == nil {
		sizes = []int{len(data)}
	}
	off := 0
	for i, n := range sizes {
		if i == len(sizes)-1 {
			n = len(data) - off
		}
		op := s.op
		if i > 0 {
			op = capture.OpContinuation
		}
		var rsv uint8
		if s.z && i == 0 {
			rsv = 4
		}
		f := &capture.Frame{Conn: c, Time: at(s.ms + i), Dir: s.dir, Fin: i == len(sizes)-1, RSV: rsv, Opcode: op,
			Masked: s.dir == capture.ClientToServer, Length: int64(n), Dropped: s.drop}
		if s.z {
			f.Length = int64(n / 3)
		}
		ch := &capture.Chunk{Conn: c, Time: at(s.ms + i), Dir: s.dir, Opcode: s.op, First: i == 0, Last: i == len(sizes)-1,
			Compressed: s.z, Dropped: s.drop, Data: data[off : off+n], Frame: f}
		if err := w.Append(ch); err != nil {
			t.Fatal(err)
		}
		off += n
	}
}

func openFixture(t testing.TB) *capture.Reader {
	t.Helper()
	r, err := capture.Open(writeFixture(t, t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// newTestModel returns a model over src at 100×30, without colour.
func newTestModel(t testing.TB, src Source, opts Options) *Model {
	t.Helper()
	if opts.Title == "" {
		opts.Title = "fixture.wstap"
	}
	m := New(src, opts)
	t.Cleanup(m.Close)
	m.Update(tea.WindowSizeMsg{Width: 100, Height: 30})
	return m
}

// do feeds msg to the model and runs the commands it returns, and theirs,
// except the tick, which settle stands in for. It returns what it ran into
// that the model did not take (a tea.QuitMsg, a clipboard write).
func do(t testing.TB, m *Model, msg tea.Msg) []tea.Msg {
	t.Helper()
	_, cmd := m.Update(msg)
	return runCmd(t, m, cmd)
}

func runCmd(t testing.TB, m *Model, cmd tea.Cmd) []tea.Msg {
	t.Helper()
	if cmd == nil {
		return nil
	}
	var out []tea.Msg
	switch msg := cmd().(type) {
	case nil:
	case tea.BatchMsg:
		for _, c := range msg {
			out = append(out, runCmd(t, m, c)...)
		}
	case tickMsg:
	case detailMsg, framesMsg, partnerMsg, factsMsg, payloadMsg, statusMsg, editedMsg, resentMsg:
		out = append(out, do(t, m, msg)...)
	default:
		out = append(out, msg)
	}
	return out
}

// press sends keys: each string is one key ("enter", "esc", "j", "G").
func press(t testing.TB, m *Model, ks ...string) []tea.Msg {
	t.Helper()
	var out []tea.Msg
	for _, k := range ks {
		out = append(out, do(t, m, keyMsg(k))...)
	}
	return out
}

func keyMsg(k string) tea.KeyPressMsg {
	switch k {
	case "enter":
		return tea.KeyPressMsg{Code: tea.KeyEnter}
	case "esc":
		return tea.KeyPressMsg{Code: tea.KeyEscape}
	case "tab":
		return tea.KeyPressMsg{Code: tea.KeyTab}
	case "up":
		return tea.KeyPressMsg{Code: tea.KeyUp}
	case "down":
		return tea.KeyPressMsg{Code: tea.KeyDown}
	case "end":
		return tea.KeyPressMsg{Code: tea.KeyEnd}
	case "home":
		return tea.KeyPressMsg{Code: tea.KeyHome}
	case "pgdown":
		return tea.KeyPressMsg{Code: tea.KeyPgDown}
	case "pgup":
		return tea.KeyPressMsg{Code: tea.KeyPgUp}
	case "backspace":
		return tea.KeyPressMsg{Code: tea.KeyBackspace}
	case "ctrl+c":
		return tea.KeyPressMsg{Code: 'c', Mod: tea.ModCtrl}
	}
	r := []rune(k)
	if len(r) != 1 {
		panic("keyMsg: " + k)
	}
	return tea.KeyPressMsg{Code: r[0], Text: k}
}

// typeText types s into the input bar, one key per character.
func typeText(t testing.TB, m *Model, s string) {
	t.Helper()
	for _, r := range s {
		if r == ' ' {
			do(t, m, tea.KeyPressMsg{Code: tea.KeySpace, Text: " "})
			continue
		}
		do(t, m, keyMsg(string(r)))
	}
}

// settle ticks the model until every loader and job has finished, as the
// program's tick would.
func settle(t testing.TB, m *Model) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		m.Update(tickMsg{})
		if m.idle() {
			return
		}
		time.Sleep(2 * time.Millisecond)
	}
	t.Fatal("the model did not settle in 20 s")
}

// screen is the view as the terminal shows it, without styles.
func screen(m *Model) string { return ansi.Strip(m.View().Content) }

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if updating() {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(want, []byte(got)) {
		t.Errorf("%s differs from the golden file (go test -update rewrites it):\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}

func windowSize(w, h int) tea.WindowSizeMsg { return tea.WindowSizeMsg{Width: w, Height: h} }

// lastEdit finds the file the editor was handed.
func (m *Model) lastEdit(t testing.TB) string {
	t.Helper()
	matches, _ := filepath.Glob(filepath.Join(os.TempDir(), "wstap-edit-*"))
	if len(matches) == 0 {
		t.Fatal("no edit file")
	}
	newest := matches[0]
	for _, p := range matches {
		a, _ := os.Stat(p)
		b, _ := os.Stat(newest)
		if a.ModTime().After(b.ModTime()) {
			newest = p
		}
	}
	return newest
}

func runEditor(editor, path string) error { return exec.Command(editor, path).Run() }

// idle reports whether no loader or job of an opened connection is still
// running.
func (m *Model) idle() bool {
	for _, cs := range m.open {
		if !cs.done {
			return false
		}
		if cs.fjob != nil && (!cs.fjob.finished() || cs.fjob.hi < cs.st.len()) {
			return false
		}
		if cs.sjob != nil && (!cs.sjob.finished() || cs.sjob.hi < cs.st.len()) {
			return false
		}
	}
	return true
}

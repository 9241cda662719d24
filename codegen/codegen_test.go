package codegen

import (
	"bytes"
	"encoding/json"
	"flag"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wstap/wstap/capture"
	"github.com/wstap/wstap/replay"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// goldenScript writes a small recorded session to a capture and loads it
// back, as `wstap export` does.
func goldenScript(t *testing.T) *replay.Script {
	t.Helper()
	path := filepath.Join(t.TempDir(), "golden.wstap")
	w, err := capture.Create(path, capture.Options{})
	if err != nil {
		t.Fatal(err)
	}
	list := fields(
		"Host", "api.example.com",
		"Upgrade", "websocket",
		"Connection", "Upgrade",
		"Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==",
		"Sec-WebSocket-Version", "13",
		"Origin", "https://app.example.com",
		"User-Agent", "ExampleApp/2.1",
		"Sec-WebSocket-Protocol", "graphql-transport-ws, graphql-ws",
		"Authorization", "Bearer eyJhbGciOi.recorded",
		"X-Api-Key", capture.Redaction,
	)
	h := http.Header{}
	for _, f := range list {
		h.Add(f.Name, f.Value)
	}
	open := &capture.ConnOpen{Time: t0, URL: "wss://api.example.com/v1/stream%2Flive?room=a&room=b&q=%E2%9C%93", Mode: "reverse",
		RequestHeaders: h, RequestHeaderList: list, Redacted: []string{"X-Api-Key"}, Status: 101, Subprotocol: "graphql-transport-ws"}
	conn, err := w.Open(open)
	if err != nil {
		t.Fatal(err)
	}
	at := t0
	msg := func(dir capture.Direction, op capture.Opcode, data string) {
		at = at.Add(25 * time.Millisecond)
		if err := w.Append(&capture.Chunk{Conn: conn, Time: at, Dir: dir, Opcode: op, First: true, Last: true, Data: []byte(data)}); err != nil {
			t.Fatal(err)
		}
	}
	msg(capture.ServerToClient, capture.OpText, `{"type":"hello"}`)
	msg(capture.ClientToServer, capture.OpText, `{"type":"connection_init","payload":{"note":"quote \" backslash \\ </script> ${x}"}}`)
	msg(capture.ServerToClient, capture.OpText, `{"type":"connection_ack"}`)
	msg(capture.ClientToServer, capture.OpText, "multi\nline ✓ \u2028")
	msg(capture.ClientToServer, capture.OpBinary, "\x00\x01\xfe\xff")
	msg(capture.ServerToClient, capture.OpBinary, "\x00\x01\xfe\xff")
	at = at.Add(time.Second)
	if err := w.Append(&capture.Close{Conn: conn, Time: at, Dir: capture.ClientToServer, Code: 4000, Reason: "done"}); err != nil {
		t.Fatal(err)
	}
	if err := w.Append(&capture.End{Conn: conn, Time: at}); err != nil {
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
	s, err := replay.Load(r, conn)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestGolden checks each language's script for a fixed session against
// testdata/client.*.golden (go test -run TestGolden -update rewrites them).
func TestGolden(t *testing.T) {
	s := goldenScript(t)
	for _, lang := range allLangs {
		t.Run(lang, func(t *testing.T) {
			opts := Options{Lang: lang, Capture: "session.wstap"}
			g, err := Generate(s, opts)
			if err != nil {
				t.Fatal(err)
			}
			again, err := Generate(s, opts)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(g.Script, again.Script) {
				t.Error("Generate is not deterministic")
			}
			if g.Data != nil {
				t.Errorf("a session of %d messages has a data file", len(s.Client()))
			}
			file := filepath.Join("testdata", "client"+langs[lang]+".golden")
			if *update {
				if err := os.WriteFile(file, g.Script, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(file)
			if err != nil {
				t.Fatalf("%v (go test -run TestGolden -update writes it)", err)
			}
			if !bytes.Equal(g.Script, want) {
				t.Errorf("Generate(%s) differs from %s (go test -run TestGolden -update rewrites it):\n%s", lang, file, lineDiff(g.Script, want))
			}
			for _, secret := range []string{"eyJhbGciOi", capture.Redaction} {
				if bytes.Contains(g.Script, []byte(secret)) {
					t.Errorf("the script holds %q: secrets must come from the environment", secret)
				}
			}
			for _, v := range []string{"WSTAP_AUTHORIZATION", "WSTAP_X_API_KEY"} {
				if !bytes.Contains(g.Script, []byte(v)) {
					t.Errorf("the script does not read %s", v)
				}
			}
		})
	}
}

func lineDiff(got, want []byte) string {
	g, w := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
	return firstDiff(g, w)
}

func TestKeepSecrets(t *testing.T) {
	s := goldenScript(t)
	for _, lang := range allLangs {
		g, err := Generate(s, Options{Lang: lang, KeepSecrets: true})
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(g.Script, []byte("Bearer eyJhbGciOi.recorded")) {
			t.Errorf("%s: KeepSecrets: the Authorization value is not in the script", lang)
		}
		if bytes.Contains(g.Script, []byte("WSTAP_AUTHORIZATION")) {
			t.Errorf("%s: KeepSecrets: the script still reads WSTAP_AUTHORIZATION", lang)
		}
		if bytes.Contains(g.Script, []byte(capture.Redaction)) || !bytes.Contains(g.Script, []byte("WSTAP_X_API_KEY")) {
			t.Errorf("%s: KeepSecrets: a redacted header must still come from WSTAP_X_API_KEY", lang)
		}
	}
}

func TestGenerateErrors(t *testing.T) {
	ok := func() *replay.Script { return echoScript("ws://example.com/", nil, time.Millisecond, text("hi")) }
	tests := []struct {
		name string
		s    func() *replay.Script
		opts Options
		want string
	}{
		{"userinfo", func() *replay.Script { return echoScript("ws://user:pass@example.com/x", nil, time.Millisecond) }, Options{Lang: "python"}, "credentials"},
		{"user only", func() *replay.Script { return echoScript("wss://token@example.com/", nil, time.Millisecond) }, Options{Lang: "go"}, "credentials"},
		{"language", ok, Options{Lang: "ruby"}, "unknown language"},
		{"no handshake", func() *replay.Script { return &replay.Script{} }, Options{Lang: "js"}, "no handshake"},
		{"bad text", func() *replay.Script { return echoScript("ws://example.com/", nil, time.Millisecond, text("\xff\xfe")) }, Options{Lang: "js"}, "not valid UTF-8"},
		{"scheme", func() *replay.Script { return echoScript("ftp://example.com/", nil, time.Millisecond) }, Options{Lang: "go"}, "ws://"},
		{"data file dir", func() *replay.Script { return bigScript(201, 1) }, Options{Lang: "python", DataFile: "../x.json"}, "without a directory"},
		{"data file embed", func() *replay.Script { return bigScript(201, 1) }, Options{Lang: "go", DataFile: "_x.json"}, "go:embed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g, err := Generate(tt.s(), tt.opts)
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "codegen: ") {
				t.Errorf("Generate = %v, %v; want an error with %q", g, err, tt.want)
			}
		})
	}
}

func bigScript(n, size int) *replay.Script {
	var msgs []exchange
	for range n {
		msgs = append(msgs, text(strings.Repeat("x", size)))
	}
	return echoScript("ws://example.com/", nil, time.Millisecond, msgs...)
}

// TestDataFile checks when messages go into a data file, its name and its
// content.
func TestDataFile(t *testing.T) {
	tests := []struct {
		name   string
		s      *replay.Script
		opts   Options
		inline bool
		file   string
	}{
		{"200 messages", bigScript(200, 10), Options{Lang: "python"}, true, ""},
		{"201 messages", bigScript(201, 10), Options{Lang: "python"}, false, "client.messages.json"},
		{"256 KiB", bigScript(4, 64<<10), Options{Lang: "js"}, true, ""},
		{"over 256 KiB", bigScript(4, 64<<10+1), Options{Lang: "js"}, false, "client.messages.json"},
		{"script name", bigScript(201, 1), Options{Lang: "go", ScriptName: "out/replay.go"}, false, "replay.messages.json"},
		{"named", bigScript(201, 1), Options{Lang: "go", DataFile: "msgs.json"}, false, "msgs.json"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g, err := Generate(tt.s, tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			if tt.inline {
				if g.Data != nil || g.DataName != "" {
					t.Errorf("Generate = data file %q, want the messages inline", g.DataName)
				}
				return
			}
			if g.DataName != tt.file {
				t.Errorf("DataName = %q, want %q", g.DataName, tt.file)
			}
			if !bytes.Contains(g.Script, []byte(tt.file)) {
				t.Errorf("the script does not name %s", tt.file)
			}
			var msgs []struct {
				T       int64  `json:"t"`
				Type    string `json:"type"`
				Data    string `json:"data"`
				Replies int    `json:"replies"`
			}
			if err := json.Unmarshal(g.Data, &msgs); err != nil {
				t.Fatal(err)
			}
			client := tt.s.Client()
			if len(msgs) != len(client) {
				t.Fatalf("the data file has %d messages, want %d", len(msgs), len(client))
			}
			for i, m := range msgs {
				st := client[i]
				if m.Type != "text" || m.Data != string(st.Data) || m.Replies != st.After || m.T != st.Time.Sub(t0).Milliseconds() {
					t.Errorf("message %d = %+v, want text %q, replies %d, t %d", i+1, m, st.Data, st.After, st.Time.Sub(t0).Milliseconds())
				}
			}
		})
	}
}

func TestEnvName(t *testing.T) {
	taken := map[string]bool{}
	for _, tt := range []struct{ header, want string }{
		{"Authorization", "WSTAP_AUTHORIZATION"},
		{"x-api-key", "WSTAP_X_API_KEY"},
		{"Cookie", "WSTAP_COOKIE"},
		{"Cookie", "WSTAP_COOKIE_2"},
		{"X.Api_Key", "WSTAP_X_API_KEY_2"},
	} {
		if got := envName(tt.header, taken); got != tt.want {
			t.Errorf("envName(%q) = %q, want %q", tt.header, got, tt.want)
		}
	}
}

func TestDataFileName(t *testing.T) {
	for in, want := range map[string]string{"gen.py": "gen.messages.json", "dir/client.go": "client.messages.json", `C:\x\a.js`: "a.messages.json", "noext": "noext.messages.json"} {
		if got := DataFileName(in); got != want {
			t.Errorf("DataFileName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestCloseCode(t *testing.T) {
	for _, tt := range []struct {
		close *capture.Close
		want  string
	}{
		{nil, "1000"},
		{&capture.Close{Dir: capture.ClientToServer, Code: 4001, Reason: "bye"}, "4001"},
		{&capture.Close{Dir: capture.ClientToServer, Code: 1005}, "1000"}, // no code on the wire: not sendable
		{&capture.Close{Dir: capture.ServerToClient, Code: 4002}, "1000"},
	} {
		s := echoScript("ws://example.com/", nil, time.Millisecond, text("x"))
		s.Close = tt.close
		g, err := Generate(s, Options{Lang: "python"})
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(g.Script, []byte("CLOSE_CODE, CLOSE_REASON = "+tt.want+",")) {
			t.Errorf("close %+v: the script does not close with %s", tt.close, tt.want)
		}
	}
}

package sessiondiff

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/wstap/wstap/capture"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

// goldenCase is one pair of sessions rendered into testdata.
type goldenCase struct {
	name   string
	a, b   *Session
	ignore []string
}

func goldenCases() []goldenCase {
	withTS := func(ts int, rest string) Message {
		return c(`{"type":"say","ts":` + strconv.Itoa(ts) + `,` + rest + `}`)
	}
	long := strings.Repeat("all work and no play makes jack a dull boy ", 5)
	bin := make([]byte, 40)
	for i := range bin {
		bin[i] = byte(i)
	}
	bin2 := append([]byte(nil), bin...)
	bin2[17] = 0xff
	bin2 = append(bin2, 0x99)

	hsA := session("a.wstap#1", c(`{"type":"hello"}`))
	hsB := session("b.wstap#2", c(`{"type":"hello"}`))
	hsA.RequestHeaders = http.Header{"User-Agent": {"app/1.0"}, "Sec-Websocket-Key": {"abc"}}
	hsB.RequestHeaders = http.Header{"User-Agent": {"app/1.1"}, "Sec-Websocket-Key": {"xyz"}}
	hsB.ResponseHeaders = http.Header{"X-Trace": {"t-1"}}
	hsB.Subprotocol = "chat.v2"

	return []goldenCase{
		{name: "same",
			a: session("a.wstap#1", c(`{"type":"hello","user":"ann"}`), s(`{"type":"welcome"}`), sb(1, 2, 3)),
			b: session("b.wstap#1", c(`{"user":"ann","type":"hello"}`), s(`{"type":"welcome"}`), sb(1, 2, 3))},
		{name: "changed",
			a: session("a.wstap#1", c(`{"type":"hello","user":{"name":"ann","age":31}}`), s(`{"type":"welcome","n":1}`),
				c(`{"type":"say","text":"hi","tags":["a","b"],"n":1.0}`)),
			b: session("b.wstap#1", c(`{"type":"hello","user":{"name":"bob","age":31}}`), s(`{"type":"welcome","n":1}`),
				c(`{"type":"say","text":"hey","tags":["a"],"n":1,"new":true}`))},
		{name: "ignored",
			a:      session("a.wstap#1", withTS(1, `"text":"hi"`), withTS(2, `"text":"there"`), withTS(3, `"text":"bye"`)),
			b:      session("b.wstap#1", withTS(7, `"text":"hi"`), withTS(8, `"text":"where"`), withTS(9, `"text":"bye"`)),
			ignore: []string{"ts"}},
		{name: "inserted",
			a: session("a.wstap#1", c(`{"type":"join"}`), s(`{"type":"joined"}`), c(`{"type":"leave"}`)),
			b: session("b.wstap#1", c(`{"type":"join"}`), s(`{"type":"joined"}`), c(`{"type":"ping","payload":"`+long+`"}`),
				s("line one\nline two\x00"), c(`{"type":"leave"}`))},
		{name: "missing",
			a: session("a.wstap#1", c(`{"type":"join"}`), c(`{"type":"typing"}`), s(`{"type":"joined"}`), c(`{"type":"leave"}`)),
			b: session("b.wstap#1", c(`{"type":"join"}`), s(`{"type":"joined"}`), c(`{"type":"leave"}`))},
		{name: "reordered",
			a: session("a.wstap#1", c(`{"type":"a"}`), c(`{"type":"b"}`), c(`{"type":"c"}`), c(`{"type":"d"}`)),
			b: session("b.wstap#1", c(`{"type":"a"}`), c(`{"type":"c"}`), c(`{"type":"d"}`), c(`{"type":"b"}`))},
		{name: "binary",
			a: session("a.wstap#1", sb(bin...), c("plain text that is not json")),
			b: session("b.wstap#1", sb(bin2...), c("plain text that is not JSON"))},
		{name: "handshake", a: hsA, b: hsB},
		{name: "many",
			a: session("a.wstap#1", c(`{"a":1,"b":2,"c":3,"d":4,"e":5,"f":6,"g":7,"h":8,"i":9,"j":10}`)),
			b: session("b.wstap#1", c(`{"a":0,"b":0,"c":0,"d":0,"e":0,"f":0,"g":0,"h":0,"i":0,"j":0}`))},
	}
}

var ansi = regexp.MustCompile("\x1b\\[[0-9;]*m")

func TestGolden(t *testing.T) {
	for _, tc := range goldenCases() {
		t.Run(tc.name, func(t *testing.T) {
			res := Diff(tc.a, tc.b, Options{Ignore: paths(tc.ignore...)})
			var plain, color, jsonl bytes.Buffer
			if err := res.WriteText(&plain, false); err != nil {
				t.Fatal(err)
			}
			if err := res.WriteText(&color, true); err != nil {
				t.Fatal(err)
			}
			if err := res.WriteJSONL(&jsonl); err != nil {
				t.Fatal(err)
			}
			golden(t, tc.name+".txt.golden", plain.Bytes())
			golden(t, tc.name+".color.golden", color.Bytes())
			golden(t, tc.name+".jsonl.golden", jsonl.Bytes())

			if got := ansi.ReplaceAllString(color.String(), ""); got != plain.String() {
				t.Errorf("the coloured text without its escapes differs from the plain text:\n%s\n---\n%s", got, plain.String())
			}
			if bytes.Contains(plain.Bytes(), []byte("\x1b")) {
				t.Error("the plain text has escapes")
			}
			if !bytes.Contains(color.Bytes(), []byte("\x1b[")) {
				t.Error("the coloured text has no colour")
			}
			for i, line := range strings.Split(strings.TrimSuffix(plain.String(), "\n"), "\n") {
				if n := utf8.RuneCountInString(line); n > 100 {
					t.Errorf("line %d is %d columns: %q", i+1, n, line)
				}
			}
			checkJSONL(t, jsonl.Bytes(), res)
			last := lastLine(plain.String())
			if res.Same() != (last == "sessions are the same") {
				t.Errorf("Same() = %v, last line %q", res.Same(), last)
			}
		})
	}
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSuffix(s, "\n"), "\n")
	return lines[len(lines)-1]
}

// checkJSONL checks that every line is a JSON object with a type, that
// the message lines count what the result has, and the summary.
func checkJSONL(t *testing.T, p []byte, res *Result) {
	t.Helper()
	lines := strings.Split(strings.TrimSuffix(string(p), "\n"), "\n")
	messages := 0
	var summary map[string]any
	for i, line := range lines {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("line %d: %v: %s", i+1, err, line)
		}
		switch m["type"] {
		case "message":
			messages++
		case "summary":
			summary = m
		case "sessions", "handshake", "timing":
		default:
			t.Errorf("line %d: type %v", i+1, m["type"])
		}
	}
	if summary == nil || lines[len(lines)-1] != lastJSON(lines) || summary["same"] != res.Same() {
		t.Errorf("summary = %v, Same() = %v", summary, res.Same())
	}
	cc, sc := Count(res.Client), Count(res.Server)
	if want := len(res.Client) + len(res.Server) - cc.Same - sc.Same; messages != want {
		t.Errorf("%d message lines, want %d", messages, want)
	}
}

func lastJSON(lines []string) string {
	for i := len(lines) - 1; i >= 0; i-- {
		if strings.Contains(lines[i], `"type":"summary"`) {
			return lines[i]
		}
	}
	return ""
}

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs (go test -update rewrites it):\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

func TestWriteOps(t *testing.T) {
	rec := texts(capture.ServerToClient, `{"v":1}`, `{"v":2}`, `{"v":3}`)
	got := texts(capture.ServerToClient, `{"v":1}`, `{"v":5}`)
	ops := Check(rec, got, Options{})
	var b bytes.Buffer
	if err := WriteOps(&b, "server→client", ops, false); err != nil {
		t.Fatal(err)
	}
	want := "server→client: 3 vs 2 messages: 1 same, 1 changed, 1 missing\n" +
		"  ~ #2 ↔ #2  v: 2 → 5\n" +
		"  - #3 only in A: {\"v\":3}\n"
	if b.String() != want {
		t.Errorf("WriteOps =\n%s\nwant\n%s", b.String(), want)
	}
	b.Reset()
	if err := WriteOps(&b, "", ops, true); err != nil {
		t.Fatal(err)
	}
	if want := "\x1b[33m  ~ #2 ↔ #2  v: 2 → 5\x1b[0m\n\x1b[31m  - #3 only in A: {\"v\":3}\x1b[0m\n"; b.String() != want {
		t.Errorf("WriteOps without a heading, in colour = %q, want %q", b.String(), want)
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestWriteErrors(t *testing.T) {
	res := Diff(session("a", c("x")), session("b", c("y")), Options{})
	if err := res.WriteText(failWriter{}, false); err == nil {
		t.Error("WriteText to a failing writer: no error")
	}
	if err := res.WriteJSONL(failWriter{}); err == nil {
		t.Error("WriteJSONL to a failing writer: no error")
	}
	if err := WriteOps(failWriter{}, "x", res.Client, false); err == nil {
		t.Error("WriteOps to a failing writer: no error")
	}
}

func TestPreview(t *testing.T) {
	for _, tt := range []struct {
		m     Message
		width int
		want  string
	}{
		{c(""), 10, "(empty)"},
		{c("hello"), 10, "hello"},
		{c("hello world"), 8, "hello w…"},
		{c("a\nb\x00c\u200bd\xffe"), 40, `a\nb\x00c\u200bd\xffe`},
		{c("ab\ncd"), 3, "ab…"}, // an escape is never split
		{cb(1, 2, 3), 20, "01 02 03"},
		{cb(1, 2, 3, 4, 5, 6), 10, "01 02 03 …"},
		{cb(1, 2, 3, 4), 11, "01 02 03 04"},
	} {
		if got := preview(&tt.m, tt.width); got != tt.want {
			t.Errorf("preview(%q, %d) = %q, want %q", tt.m.Data, tt.width, got, tt.want)
		}
		if n := utf8.RuneCountInString(preview(&tt.m, tt.width)); n > max(tt.width, 7) {
			t.Errorf("preview(%q, %d) is %d columns", tt.m.Data, tt.width, n)
		}
	}
}

func TestDuration(t *testing.T) {
	for _, tt := range []struct {
		d    string
		want string
	}{{"1234567us", "1.235s"}, {"72ms", "72ms"}, {"1500ns", "2µs"}, {"0s", "0s"}} {
		d, _ := parseDur(tt.d)
		if got := duration(d); got != tt.want {
			t.Errorf("duration(%s) = %q, want %q", tt.d, got, tt.want)
		}
	}
}

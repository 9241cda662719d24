package filter

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/wstap/wstap/capture"
)

// corpus is the set of messages the table tests match against. Each test
// row lists the names of the messages its expression must match; it must
// match none of the others.
var corpus = []struct {
	name string
	msg  Msg
}{
	{"hello", text(capture.ClientToServer, `Hello, World`)},
	{"sub", text(capture.ClientToServer, `{"type":"subscribe","id":1,"user":{"name":"ann"},"items":[1,2,3],"ok":true,"note":null,"price":1.0,"code":"1","big":12345678901234567890,"path":"a/b"}`)},
	{"reply", func() Msg {
		m := text(capture.ServerToClient, `{"type":"message","id":"1","user":{"name":"Bob Smith"},"items":[],"ok":false,"price":2.5,"text":"say \"hi\"\n"}`)
		m.Compressed = true
		return m
	}()},
	{"torn", func() Msg {
		m := text(capture.ServerToClient, `{"type":"subscribe","id":1`)
		m.Incomplete, m.Dropped = true, true
		return m
	}()},
	{"path", text(capture.ClientToServer, `GET /api/v1 "quoted" a\b`)},
	{"bin", Msg{Dir: capture.ServerToClient, Opcode: capture.OpBinary, Size: 3, Data: []byte{0x00, 0xff, 'Q'}}},
	{"big", Msg{Dir: capture.ServerToClient, Opcode: capture.OpBinary, Size: 1536, Data: []byte("ERROR\nbig")}},
	{"kib", Msg{Dir: capture.ServerToClient, Opcode: capture.OpText, Size: 1024, Data: []byte("[1,2]")}},
	{"ping", Msg{Dir: capture.ProxyToServer, Opcode: capture.OpPing}},
	{"pong", Msg{Dir: capture.ServerToClient, Opcode: capture.OpPong, Size: 2, Data: []byte("hb")}},
	{"close", Msg{Dir: capture.ProxyToClient, Opcode: capture.OpClose, Size: 2, Data: []byte{0x03, 0xe8}}},
	{"cont", Msg{Dir: capture.ClientToServer, Opcode: capture.OpContinuation, Dropped: true}},
}

func text(d capture.Direction, s string) Msg {
	return Msg{Dir: d, Opcode: capture.OpText, Size: int64(len(s)), Data: []byte(s)}
}

var all = []string{"hello", "sub", "reply", "torn", "path", "bin", "big", "kib", "ping", "pong", "close", "cont"}

// except returns the corpus names not in names.
func except(names ...string) []string {
	return slices.DeleteFunc(slices.Clone(all), func(n string) bool { return slices.Contains(names, n) })
}

// matching returns the names of the corpus messages e matches.
func matching(e *Expr) []string {
	var got []string
	for _, c := range corpus {
		if e.Match(&c.msg) {
			got = append(got, c.name)
		}
	}
	return got
}

var matchTests = []struct {
	expr string
	want []string
}{
	// Empty.
	{"", all},
	{"   \t ", all},

	// from:
	{"from:client", []string{"hello", "sub", "path", "cont"}},
	{"from:c", []string{"hello", "sub", "path", "cont"}},
	{"FROM:Client", []string{"hello", "sub", "path", "cont"}},
	{"from:server", []string{"reply", "torn", "bin", "big", "kib", "pong"}},
	{"from:s", []string{"reply", "torn", "bin", "big", "kib", "pong"}},
	{"from:proxy", []string{"ping", "close"}},
	{"from:p", []string{"ping", "close"}},
	{"-from:proxy", except("ping", "close")},

	// op:
	{"op:text", []string{"hello", "sub", "reply", "torn", "path", "kib"}},
	{"op:binary", []string{"bin", "big"}},
	{"op:ping", []string{"ping"}},
	{"op:pong", []string{"pong"}},
	{"op:close", []string{"close"}},
	{"op:control", []string{"ping", "pong", "close"}},
	{"op:data", []string{"hello", "sub", "reply", "torn", "path", "kib", "bin", "big"}},
	{"op:continuation", []string{"cont"}},
	{"op:reserved-3", nil},
	{"Op:PING", []string{"ping"}},
	{"-op:control", except("ping", "pong", "close")},

	// is:
	{"is:dropped", []string{"torn", "cont"}},
	{"is:incomplete", []string{"torn"}},
	{"is:compressed", []string{"reply"}},
	{"-is:dropped", except("torn", "cont")},

	// size
	{"size>1k", []string{"big"}},
	{"size>=1k", []string{"big", "kib"}},
	{"size<1k", except("big", "kib")},
	{"size<=1k", except("big")},
	{"size=1k", []string{"kib"}},
	{"size!=1k", except("kib")},
	{"size=1024", []string{"kib"}},
	{"size=1024b", []string{"kib"}},
	{"size=1KB", []string{"kib"}},
	{"size=1KiB", []string{"kib"}},
	{"size=1.5k", []string{"big"}},
	{"size=.5k", nil},
	{"size=1.5kb", []string{"big"}},
	{"size>=0.0014m", []string{"big"}}, // 1468.0064 bytes
	{"size<1m", all},
	{"size<1mb", all},
	{"size<1MiB", all},
	{"size<1g", all},
	{"size<1GB", all},
	{"size<1gib", all},
	{"size=0", []string{"ping", "cont"}},
	{"size>0", except("ping", "cont")},
	{"size=2", []string{"pong", "close"}},
	{"size=2.0", []string{"pong", "close"}},
	{"size=1.999", nil},
	{"size>1.999", except("ping", "cont")},
	{"size<2.001", []string{"ping", "pong", "close", "cont"}},
	{"-size>1k", except("big")},
	{"SIZE>1K", []string{"big"}},

	// Words.
	{"hello", []string{"hello"}},
	{"HELLO", []string{"hello"}},
	{"wOrLd", []string{"hello"}},
	{"hello world", []string{"hello"}}, // two words, both present
	{"hello planet", nil},
	{`"hello, world"`, []string{"hello"}},
	{`"Hello,"`, []string{"hello"}},
	{"error", []string{"big"}},
	{"q", []string{"path", "bin"}},
	{"subscribe", []string{"sub", "torn"}},
	{"-subscribe", except("sub", "torn")},
	{"subscribe -is:dropped", []string{"sub"}},
	{`"say \\\"hi\\\""`, []string{"reply"}},
	{`a\b`, []string{"path"}},
	{`"a\b"`, []string{"path"}},
	{`"a\\b"`, []string{"path"}},
	{`"quoted"`, []string{"path"}},
	{`"\"quoted\""`, []string{"path"}},
	{`"/api/v1"`, []string{"path"}},
	{`"-"`, nil},
	{`""`, all},
	{`-""`, nil},
	{"frm:client", nil},  // unknown keywords are plain words…
	{"from", nil},        // …and so is a keyword without its colon
	{"size", []string{}}, // "size" without a comparison
	{"sizes", nil},
	{"size!x", nil},
	{`"from:client"`, nil},
	{"hb", []string{"pong"}},
	{"bbb", nil},
	{"\xff", []string{"bin"}},
	{"\xffq", []string{"bin"}},
	{"1,2", []string{"sub", "kib"}},
	{`type":"subscribe`, []string{"sub", "torn"}},

	// Regexps.
	{"/^Hello/", []string{"hello"}},
	{"/^hello/", nil},
	{"/^hello/i", []string{"hello"}},
	{"/^HELLO, world$/i", []string{"hello"}},
	{`/\/api\/v\d/`, []string{"path"}},
	{`/"id":\d/`, []string{"sub", "torn"}},
	{`/a\\b/`, []string{"path"}},
	{`/ERROR.big/`, nil},
	{`/ERROR.big/s`, []string{"big"}},
	{`/^big/`, nil},
	{`/^big/m`, []string{"big"}},
	{`/^BIG$/im`, []string{"big"}},
	{`/^BIG$/ims`, []string{"big"}},
	{`"ERROR big"`, nil},
	{`/"say \\"hi/`, []string{"reply"}},
	{"/x.y/", nil},
	{"/^.$/s", nil},
	{"/^$/", []string{"ping", "cont"}},
	{"/world$/im", []string{"hello"}},
	{"/world$/mi", []string{"hello"}},
	{"/world$/iii", []string{"hello"}},
	{"-/^{/", except("sub", "reply", "torn")},
	{`/hi\\"\\n/`, []string{"reply"}},
	{`/hi\\"\\n"}$/`, []string{"reply"}},

	// JSON.
	{"json:type", []string{"sub", "reply"}},
	{"json:type=subscribe", []string{"sub"}},
	{`json:type="subscribe"`, []string{"sub"}},
	{"json:type=Subscribe", nil},
	{"json:type!=subscribe", []string{"reply"}},
	{"-json:type=subscribe", except("sub")},
	{"json:id=1", []string{"sub"}},
	{"json:id=1.0", []string{"sub"}},
	{"json:id=1e0", []string{"sub"}},
	{"json:id=10e-1", []string{"sub"}},
	{`json:id="1"`, []string{"reply"}},
	{"json:id!=1", []string{"reply"}},
	{"json:id=2", nil},
	{"json:code=1", nil},
	{`json:code="1"`, []string{"sub"}},
	{"json:price=1", []string{"sub"}},
	{"json:price=2.5", []string{"reply"}},
	{"json:price=2.50", []string{"reply"}},
	{"json:big=12345678901234567890", []string{"sub"}},
	{"json:big=12345678901234567891", nil}, // the same float64, a different integer
	{"json:big=1.2345678901234567890e19", []string{"sub"}},
	{"json:ok=true", []string{"sub"}},
	{"json:ok=false", []string{"reply"}},
	{`json:ok="true"`, nil},
	{"json:ok!=true", []string{"reply"}},
	{"json:note=null", []string{"sub"}},
	{"json:note", []string{"sub"}},
	{"json:note!=null", nil},
	{"json:ok=null", nil},
	{"json:missing", nil},
	{"json:missing=null", nil},
	{"json:missing!=1", nil},
	{"-json:missing", all},
	{"json:user.name=ann", []string{"sub"}},
	{`json:user.name="Bob Smith"`, []string{"reply"}},
	{`json:user.name="bob smith"`, nil},
	{"json:user.name", []string{"sub", "reply"}},
	{"json:user.age", nil},
	{"json:items.#=3", []string{"sub"}},
	{"json:items.#=0", []string{"reply"}},
	{"json:items.1=2", []string{"sub"}},
	{"json:#=2", []string{"kib"}},
	{"json:1=2", []string{"kib"}},
	{"json:items.#(==2)", []string{"sub"}},
	{`json:user.#(name=="Bob Smith")`, nil},
	{`json:text="say \"hi\"\n"`, []string{"reply"}},
	{`json:text=say`, nil},
	{`json:path=a/b`, []string{"sub"}},
	{`json:path="a\/b"`, []string{"sub"}},
	{"json:user~^an", nil}, // the object's JSON text starts with {
	{"json:user~ann", []string{"sub"}},
	{"json:user.name~^an", []string{"sub"}},
	{"json:user.name~/^AN/i", []string{"sub"}},
	{"json:user.name~/^AN/", nil},
	{"json:user.name~/b smith$/i", []string{"reply"}},
	{"json:user.name~smith", nil},
	{"json:id~^1$", []string{"sub", "reply"}},
	{"json:ok~true", []string{"sub"}},
	{"json:user~/\"name\"/", []string{"sub", "reply"}},
	{"json:user.name~a\\/b", nil},
	{"json:path~a\\/b", []string{"sub"}},
	{"json:path~/a\\/b/", []string{"sub"}},
	{"-json:user.name~^an", except("sub")},
	{"json:type=subscribe from:server", nil},
	{"JSON:type=subscribe", []string{"sub"}},

	// AND of several.
	{"from:server op:text", []string{"reply", "torn", "kib"}},
	{"from:server op:text -is:dropped", []string{"reply", "kib"}},
	{"from:server op:text -is:dropped size>=1k", []string{"kib"}},
	{"from:server op:text -is:dropped size>=1k 1,2", []string{"kib"}},
	{"from:server op:text -is:dropped size>=1k 1,3", nil},
	{"op:data -json:type /i/", []string{"torn", "path", "big"}},
	{"json:type json:id=1 json:user.name=ann", []string{"sub"}},
	{"json:type json:id=1 json:user.name=bob", nil},
	{"subscribe json:type", []string{"sub"}},
	{"  from:client\t\top:text\n", []string{"hello", "sub", "path"}},
}

func TestMatch(t *testing.T) {
	for _, tt := range matchTests {
		e, err := Parse(tt.expr)
		if err != nil {
			t.Errorf("Parse(%q): %v", tt.expr, err)
			continue
		}
		got, want := matching(e), slices.Sorted(slices.Values(tt.want))
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("Parse(%q) matches %v, want %v", tt.expr, got, want)
		}
	}
}

var errorTests = []struct {
	expr string
	want string
}{
	{"size>", `filter: size>: want a number after "size>"`},
	{"ping size>", `filter: size>: want a number after "size>" (at 6)`},
	{"size>=", `filter: size>=: want a number after "size>="`},
	{"size<k", `filter: size<k: want a number after "size<"`},
	{"size<1.", `filter: size<1.: want a number after "size<"`},
	{"size<.", `filter: size<.: want a number after "size<"`},
	{"size=-1", `filter: size=-1: want a number after "size="`},
	{"Size>x", `filter: Size>x: want a number after "Size>"`},
	{"size>1x", `filter: size>1x: unknown unit "x" (want b, k, m, g)`},
	{"size>1.5.5", `filter: size>1.5.5: unknown unit ".5" (want b, k, m, g)`},
	{"size>1tb", `filter: size>1tb: unknown unit "tb" (want b, k, m, g)`},
	{"size>8589934593g", `filter: size>8589934593g: size too large (the most is 8 EiB)`},
	{"size>" + strings.Repeat("9", 400), `filter: size>` + strings.Repeat("9", 400) + `: size too large (the most is 8 EiB)`},
	{"op:foo", `filter: op:foo: unknown opcode "foo" (want text, binary, ping, pong, close, control, data)`},
	{"op:", `filter: op:: want an opcode after "op:" (text, binary, ping, pong, close, control, data)`},
	{"-op:Foo", `filter: -op:Foo: unknown opcode "Foo" (want text, binary, ping, pong, close, control, data)`},
	{"from:x", `filter: from:x: unknown sender "x" (want client, server, proxy)`},
	{"from:", `filter: from:: want a sender after "from:" (client, server, proxy)`},
	{"is:cut", `filter: is:cut: unknown flag "cut" (want dropped, incomplete, compressed)`},
	{"is:", `filter: is:: want a flag after "is:" (dropped, incomplete, compressed)`},
	{"/ab(/", `filter: /ab(/: bad regexp: missing closing )`},
	{"a /ab(/i", `filter: /ab(/i: bad regexp: missing closing ) (at 3)`},
	{"/a**/", `filter: /a**/: bad regexp: invalid nested repetition operator`},
	{"/a/x", `filter: /a/x: unknown regexp flag "x" (want i, m, s)`},
	{"/api/v1/", `filter: /api/v1/: unknown regexp flag "v" (want i, m, s)`},
	{"/a/iÄ", `filter: /a/iÄ: unknown regexp flag "Ä" (want i, m, s)`},
	{"/abc", `filter: unterminated /`},
	{`/abc\/`, `filter: unterminated /`},
	{`/abc\`, `filter: unterminated /`},
	{`x /abc`, `filter: unterminated / (at 3)`},
	{`"abc`, `filter: unterminated "`},
	{`"abc\"`, `filter: unterminated "`},
	{`ok "abc`, `filter: unterminated " (at 4)`},
	{`é "abc`, `filter: unterminated " (at 3)`},
	{`"ab"cd`, `filter: "ab"cd: want a space after the closing "`},
	{"-", `filter: -: want a term after "-"`},
	{"a - b", `filter: -: want a term after "-" (at 3)`},
	{"a -", `filter: -: want a term after "-" (at 3)`},
	{"json:", `filter: json:: want a path after "json:"`},
	{"json:=1", `filter: json:=1: want a path after "json:"`},
	{"json:~x", `filter: json:~x: want a path after "json:"`},
	{"json:a=", `filter: json:a=: want a value after "=" (use "" for the empty string)`},
	{"json:a!= b", `filter: json:a!=: want a value after "!=" (use "" for the empty string)`},
	{"json:a~", `filter: json:a~: want a regexp after "~"`},
	{"json:a~(", `filter: json:a~(: bad regexp: missing closing )`},
	{"json:a~/(/", `filter: json:a~/(/: bad regexp: missing closing )`},
	{"json:a~/x", `filter: unterminated /`},
	{"json:a~/x/q", `filter: json:a~/x/q: unknown regexp flag "q" (want i, m, s)`},
	{`json:a="x`, `filter: unterminated "`},
	{`json:a="x"y`, `filter: json:a="x"y: want a space after the closing "`},
	{`json:a="\x"`, `filter: json:a="\x": bad JSON string`},
	{"json:a=[1]", `filter: json:a=[1]: cannot compare with an array or object after "="; use a path into it`},
	{"json:a!={}", `filter: json:a!={}: cannot compare with an array or object after "!="; use a path into it`},
	{"json:a.#(b==1", `filter: json:a.#(b==1: unclosed ( in path`},
	{"json:a.#(b == 1", `filter: json:a.#(b: unclosed ( in path`},
	{`json:"a`, `filter: unterminated "`},
	{"json:a=\"\n", `filter: unterminated "`},
	{"json:a=\"\t\"", `filter: "json:a=\"\t\"": bad JSON string`},
	{"\"x\"y\x01", `filter: "\"x\"y\x01": want a space after the closing "`},
}

func TestParseErrors(t *testing.T) {
	for _, tt := range errorTests {
		e, err := Parse(tt.expr)
		if err == nil {
			t.Errorf("Parse(%q) = %q, want error %q", tt.expr, e, tt.want)
			continue
		}
		if err.Error() != tt.want {
			t.Errorf("Parse(%q) error = %q, want %q", tt.expr, err, tt.want)
		}
		if e != nil {
			t.Errorf("Parse(%q) = %v with its error, want nil", tt.expr, e)
		}
		var se *SyntaxError
		if !errors.As(err, &se) {
			t.Errorf("Parse(%q) error is a %T, want *SyntaxError", tt.expr, err)
		}
	}
}

func TestSyntaxErrorFields(t *testing.T) {
	_, err := Parse("from:client  -op:foo")
	var se *SyntaxError
	if !errors.As(err, &se) {
		t.Fatalf("Parse error = %v, want a *SyntaxError", err)
	}
	want := SyntaxError{Col: 14, Term: "-op:foo", Reason: `unknown opcode "foo" (want text, binary, ping, pong, close, control, data)`}
	if *se != want {
		t.Errorf("SyntaxError = %+v, want %+v", *se, want)
	}
}

var stringTests = []struct {
	expr string
	want string
}{
	{"", ""},
	{"  ", ""},
	{"FROM:C  op:PING\tIs:Dropped", "from:client op:ping is:dropped"},
	{"from:s -from:p", "from:server -from:proxy"},
	{"op:CONTROL op:Data op:continuation op:reserved-11", "op:control op:data op:continuation op:reserved-11"},
	{"size>1.50K size>=1024B size<2MiB size<=3gb size=007 size!=0.25kb", "size>1.5k size>=1024 size<2m size<=3g size=7 size!=0.25k"},
	{"size>.5m", "size>0.5m"},
	{"Hello", "Hello"},
	{`"hello"`, "hello"},
	{`"hello world"`, `"hello world"`},
	{`"-x"`, `"-x"`},
	{`"/x"`, `"/x"`},
	{`"from:client"`, `"from:client"`},
	{`"SIZE>1"`, `"SIZE>1"`},
	{`"json:a"`, `"json:a"`},
	{`"size"`, "size"},
	{`"a\"b"`, `a"b`},
	{`"\"a"`, `"\"a"`},
	{`"a\\b c"`, `"a\\b c"`},
	{`""`, `""`},
	{`a\b`, `a\b`},
	{"/a/", "/a/"},
	{"/a/smi", "/a/ims"},
	{"/a/ii", "/a/i"},
	{`/a\/b/`, `/a\/b/`},
	{`/a\\/`, `/a\\/`},
	{`/\d/`, `/\d/`},
	{"//", "//"},
	{"json:a", "json:a"},
	{"JSON:a.b", "json:a.b"},
	{`json:a="x"`, "json:a=x"},
	{`json:a="x y"`, `json:a="x y"`},
	{`json:a="1"`, `json:a="1"`},
	{`json:a="true"`, `json:a="true"`},
	{`json:a="[1]"`, `json:a="[1]"`},
	{`json:a=""`, `json:a=""`},
	{`json:a="\u0041\n\u0001\"\\\t\r\/"`, `json:a="A\n\u0001\"\\\t\r/"`},
	{`json:a="/x"`, "json:a=/x"},
	{"json:a=1.0", "json:a=1.0"},
	{"json:a=-0", "json:a=-0"},
	{"json:a=true json:b=false json:c=null", "json:a=true json:b=false json:c=null"},
	{"json:a!=x", "json:a!=x"},
	{"json:a~^x", "json:a~/^x/"},
	{"json:a~a/b", `json:a~/a\/b/`},
	{"json:a~/x/si", "json:a~/x/is"},
	{`json:a.#(b=="x y")`, `json:a.#(b=="x y")`},
	{`json:a.#(b == 1)=2`, `json:a.#(b == 1)=2`},
	{`json:a\=b=1`, `json:a\=b=1`},
	{`json:a!`, `json:a!`},
	{`json:a!!=1`, `json:a!!=1`},
	{`json:a==1`, `json:a==1`},
	{"--x", `-"-x"`},
	{"-hello -/x/ -json:a", "-hello -/x/ -json:a"},
}

func TestString(t *testing.T) {
	for _, tt := range stringTests {
		e, err := Parse(tt.expr)
		if err != nil {
			t.Errorf("Parse(%q): %v", tt.expr, err)
			continue
		}
		if got := e.String(); got != tt.want {
			t.Errorf("Parse(%q).String() = %q, want %q", tt.expr, got, tt.want)
		}
	}
}

// TestRoundTrip checks that the canonical form reads back as an expression
// with the same canonical form that matches the same messages.
func TestRoundTrip(t *testing.T) {
	var exprs []string
	for _, tt := range matchTests {
		exprs = append(exprs, tt.expr)
	}
	for _, tt := range stringTests {
		exprs = append(exprs, tt.expr)
	}
	for _, s := range exprs {
		e, err := Parse(s)
		if err != nil {
			continue // the error tables cover these
		}
		checkRoundTrip(t, s, e)
	}
}

func checkRoundTrip(t *testing.T, s string, e *Expr) {
	t.Helper()
	c := e.String()
	e2, err := Parse(c)
	if err != nil {
		t.Fatalf("Parse(%q).String() = %q, which does not parse: %v", s, c, err)
	}
	if c2 := e2.String(); c2 != c {
		t.Errorf("Parse(%q).String() = %q, whose String is %q", s, c, c2)
	}
	if e2.NeedsPayload() != e.NeedsPayload() || e2.Empty() != e.Empty() {
		t.Errorf("Parse(%q) and Parse(%q) differ in NeedsPayload or Empty", s, c)
	}
	for _, m := range corpus {
		if a, b := e.Match(&m.msg), e2.Match(&m.msg); a != b {
			t.Errorf("Parse(%q).Match(%s) = %v but Parse(%q).Match(%s) = %v", s, m.name, a, c, m.name, b)
		}
	}
}

func TestNeedsPayload(t *testing.T) {
	tests := []struct {
		expr string
		want bool
	}{
		{"", false},
		{"from:client op:text -is:dropped size>1k size<=1m", false},
		{"from:client hello", true},
		{"-hello", true},
		{`""`, true},
		{"/x/", true},
		{"-/x/", true},
		{"json:a", true},
		{"op:text -json:a=1", true},
	}
	for _, tt := range tests {
		e, err := Parse(tt.expr)
		if err != nil {
			t.Fatalf("Parse(%q): %v", tt.expr, err)
		}
		if got := e.NeedsPayload(); got != tt.want {
			t.Errorf("Parse(%q).NeedsPayload() = %v, want %v", tt.expr, got, tt.want)
		}
	}
}

// TestFactsIgnorePayload checks that when NeedsPayload is false, Match
// does not look at Data: the caller may leave it nil.
func TestFactsIgnorePayload(t *testing.T) {
	e, err := Parse("from:server op:text -is:dropped size>=1k")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range corpus {
		m := c.msg
		m.Data = nil
		if a, b := e.Match(&c.msg), e.Match(&m); a != b {
			t.Errorf("Match(%s) = %v with Data, %v without", c.name, a, b)
		}
	}
}

func TestEmpty(t *testing.T) {
	var zero Expr
	var nilExpr *Expr
	empty, err := Parse(" ")
	if err != nil {
		t.Fatal(err)
	}
	m := corpus[0].msg
	for name, e := range map[string]*Expr{"zero": &zero, "nil": nilExpr, "Parse(\" \")": empty} {
		if !e.Empty() || !e.Match(&m) || !e.Match(nil) || e.NeedsPayload() || e.String() != "" {
			t.Errorf("%s Expr: Empty %v, Match %v, Match(nil) %v, NeedsPayload %v, String %q; want true, true, true, false, \"\"",
				name, e.Empty(), e.Match(&m), e.Match(nil), e.NeedsPayload(), e.String())
		}
	}
	e, err := Parse("x")
	if err != nil {
		t.Fatal(err)
	}
	if e.Empty() || e.Match(nil) {
		t.Errorf(`Parse("x"): Empty %v, Match(nil) %v; want false, false`, e.Empty(), e.Match(nil))
	}
}

// TestUnknownDirection checks that facts outside the defined range match
// no from: or op: term rather than wrapping around.
func TestUnknownDirection(t *testing.T) {
	for _, s := range []string{"from:client", "from:server", "from:proxy", "op:continuation", "op:control", "op:data"} {
		e, err := Parse(s)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range []Msg{{Dir: 16, Opcode: 16}, {Dir: 255, Opcode: 255}, {Dir: 4, Opcode: 17}} {
			if e.Match(&m) {
				t.Errorf("Parse(%q).Match(dir %d, op %d) = true, want false", s, m.Dir, m.Opcode)
			}
		}
	}
}

func TestContainsFold(t *testing.T) {
	tests := []struct {
		h, needle string
		want      bool
	}{
		{"", "a", false},
		{"a", "", true},
		{"A", "a", true},
		{"xxA", "a", true},
		{"bA", "ab", false},
		{"aaaaaaaaaaB", "ab", true},
		{"AAAAAAAAAAB", "ab", true},
		{"aAaAaAb", "aab", true},
		{"AaAaAaX", "aab", false},
		{"xyz1Ab", "1ab", true},
		{"xyz1Ac", "1ab", false},
		{"Hello, World", "o, w", true},
		{"ÄÖÜ", "äöü", false},
		{"ab", "abc", false},
		{"Abxax", "ab", true}, // the earlier candidate of two cases matches
		{"abxAx", "ab", true},
	}
	for _, tt := range tests {
		if got := containsFold([]byte(tt.h), lowerASCII(tt.needle)); got != tt.want {
			t.Errorf("containsFold(%q, %q) = %v, want %v", tt.h, tt.needle, got, tt.want)
		}
	}
}

func TestIntText(t *testing.T) {
	for s, want := range map[string]string{"0": "0", "-0": "0", "12": "12", "-12": "-12", "1.0": "", "1e3": "", "-": "", "": ""} {
		if got := intText(s); got != want {
			t.Errorf("intText(%q) = %q, want %q", s, got, want)
		}
	}
}

func TestOneLine(t *testing.T) {
	for s, want := range map[string]string{"abc": "abc", "a b": "a b", "a\nb": `"a\nb"`, "\xff": `"\xff"`, "é": "é"} {
		if got := oneLine(s); got != want {
			t.Errorf("oneLine(%q) = %q, want %q", s, got, want)
		}
	}
}

// TestConcurrentMatch matches one Expr from many goroutines; run with -race.
func TestConcurrentMatch(t *testing.T) {
	e, err := Parse(`from:server -is:dropped /i/ json:type hello "x y" size<1m`)
	if err != nil {
		t.Fatal(err)
	}
	want := matching(e)
	var wg sync.WaitGroup
	errs := make(chan string, 8)
	for range 8 {
		wg.Go(func() {
			for range 100 {
				if got := matching(e); !slices.Equal(got, want) {
					errs <- fmt.Sprintf("concurrent matching = %v, want %v", got, want)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for msg := range errs {
		t.Error(msg)
	}
}

func TestMatchFactsDoesNotAllocate(t *testing.T) {
	e, err := Parse("from:server op:text -is:dropped -is:incomplete -is:compressed size>=1k size<1m")
	if err != nil {
		t.Fatal(err)
	}
	m := corpus[7].msg // kib
	if !e.Match(&m) {
		t.Fatal("Match(kib) = false, want true")
	}
	if n := testing.AllocsPerRun(1000, func() { e.Match(&m) }); n != 0 {
		t.Errorf("Match allocates %v times per call, want 0", n)
	}
	w, err := Parse("op:data error")
	if err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(1000, func() { w.Match(&m) }); n != 0 {
		t.Errorf("Match with a word allocates %v times per call, want 0", n)
	}
}

// TestEvaluationOrder checks that facts are tested before the payload: a
// message that fails a fact term never reaches a json term.
func TestEvaluationOrder(t *testing.T) {
	e, err := Parse("json:type /x/ word from:proxy")
	if err != nil {
		t.Fatal(err)
	}
	var kinds []kind
	for _, t := range e.eval {
		kinds = append(kinds, t.kind)
	}
	if want := []kind{kindFrom, kindWord, kindRegexp, kindJSON}; !slices.Equal(kinds, want) {
		t.Errorf("evaluation order %v, want %v", kinds, want)
	}
	if got, want := e.String(), "json:type /x/ word from:proxy"; got != want {
		t.Errorf("String() = %q, want %q (the order written)", got, want)
	}
}

// TestDocClaims checks what the package documentation promises, each on
// a message of its own.
func TestDocClaims(t *testing.T) {
	tests := []struct {
		expr string
		data string
		want bool
	}{
		{`/\d+\/\d+/`, "12/34", true},
		{`/\d+\/\d+/`, "12-34", false},
		{"json:id=1", `{"id":1}`, true},
		{"json:id=1", `{"id":1.0}`, true},
		{"json:id=1", `{"id":"1"}`, false},
		{`json:id="1"`, `{"id":"1"}`, true},
		{`json:id="1"`, `{"id":1}`, false},
		{"json:ok=true", `{"ok":true}`, true},
		{"json:ok=true", `{"ok":"true"}`, false},
		{"json:user.name=ann", `{"user":{"name":"ann"}}`, true},
		{`json:user.name="ann"`, `{"user":{"name":"ann"}}`, true},
		{"json:user.name~^an", `{"user":{"name":"ann"}}`, true},
		{"json:user.name~/^AN/i", `{"user":{"name":"ann"}}`, true},
		{"json:n~^42$", `{"n":42}`, true},
		{`json:o~^{"a":1}$`, `{"o":{"a":1}}`, true},
		{"json:items.#(id==3).name=c", `{"items":[{"id":1,"name":"a"},{"id":3,"name":"c"}]}`, true},
		{"json:items.#(id == 3).name=c", `{"items":[{"id":1,"name":"a"},{"id":3,"name":"c"}]}`, true},
		{`json:items.#(name=="c d").id=3`, `{"items":[{"id":1,"name":"a"},{"id":3,"name":"c d"}]}`, true},
		{`json:a\=b=1`, `{"a=b":1}`, true},
		{`json:a\.b=1`, `{"a.b":1}`, true},
		{"json:channels.#=3", `{"channels":["a","b","c"]}`, true},
		{"-json:type=ping", "\x00\x01binary", true},
		{"json:a!=1", `{"b":1}`, false},
		{"-json:a=1", `{"b":1}`, true},
		{"json:a=1", `{"a":1`, false}, // cut short
		{"json:a=1", `x {"a":1}`, false},
		{"ERROR", "an error", true},
		{"Ä", "ä", false},
		{`type":"ping`, `{"type":"ping"}`, true},
		{`"say \"hi\""`, `they say "hi"`, true},
		{`"user not found"`, "User Not Found", true},
		{"size>0.1k", string(make([]byte, 103)), true},
		{"size>0.1k", string(make([]byte, 102)), false},
		{"size=0.1k", string(make([]byte, 102)), false},
		{"size=0.1k", string(make([]byte, 103)), false},
	}
	for _, tt := range tests {
		e, err := Parse(tt.expr)
		if err != nil {
			t.Errorf("Parse(%q): %v", tt.expr, err)
			continue
		}
		m := text(capture.ServerToClient, tt.data)
		if got := e.Match(&m); got != tt.want {
			t.Errorf("Parse(%q).Match(%q) = %v, want %v", tt.expr, tt.data, got, tt.want)
		}
	}
}

package sessiondiff

import (
	"fmt"
	"net/http"
	"reflect"
	"testing"
	"time"

	"github.com/wstap/wstap/capture"
)

func TestDiffAlignment(t *testing.T) {
	cl := capture.ClientToServer
	for _, tt := range []struct {
		name   string
		a, b   []string
		ignore []string
		want   string
	}{
		{"same", []string{"a", "b"}, []string{"a", "b"}, nil, "=1:1 =2:2"},
		{"inserted", []string{"a", "b", "c"}, []string{"a", "x", "b", "c"}, nil, "=1:1 +:2 =2:3 =3:4"},
		{"missing", []string{"a", "b", "c"}, []string{"a", "c"}, nil, "=1:1 -2: =3:2"},
		{"inserted at the end", []string{"a"}, []string{"a", "b"}, nil, "=1:1 +:2"},
		{"missing at the start", []string{"a", "b"}, []string{"b"}, nil, "-1: =2:1"},
		{"reordered", []string{"a", "b", "c", "d"}, []string{"a", "c", "d", "b"}, nil, "=1:1 ↕2:4 =3:2 =4:3"},
		{"changed JSON", []string{`{"type":"a","v":1}`, `{"type":"b","v":1}`}, []string{`{"type":"a","v":2}`, `{"type":"b","v":1}`}, nil,
			"~1:1 =2:2"},
		{"changed only when the same kind", []string{`{"type":"a","v":1}`, "end"}, []string{`{"type":"b","v":1}`, "end"}, nil,
			"-1: +:1 =2:2"},
		{"kinds pair in order", []string{`{"type":"x","n":1}`, `{"type":"y","n":1}`, "end"},
			[]string{`{"type":"y","n":2}`, `{"type":"x","n":2}`, "end"}, nil, "~1:2 ~2:1 =3:3"},
		{"key sets without a discriminator", []string{`{"a":1}`, `{"b":1}`, "z"}, []string{`{"b":2}`, "z"}, nil, "-1: ~2:1 =3:2"},
		{"plain text pairs in order", []string{"hello", "world"}, []string{"hullo", "wurld"}, nil, "~1:1 ~2:2"},
		{"ignored fields align as same", []string{`{"ts":1,"v":"a"}`, `{"ts":2,"v":"b"}`}, []string{`{"ts":7,"v":"a"}`, `{"ts":8,"v":"b"}`},
			[]string{"ts"}, "=1:1 =2:2"},
		{"ignored fields do not hide others", []string{`{"ts":1,"v":"a"}`}, []string{`{"ts":7,"v":"b"}`}, []string{"ts"}, "~1:1"},
		{"empty", nil, nil, nil, ""},
		{"all inserted", nil, []string{"a", "b"}, nil, "+:1 +:2"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			a := &Session{Name: "a", Messages: texts(cl, tt.a...)}
			b := &Session{Name: "b", Messages: texts(cl, tt.b...)}
			res := Diff(a, b, Options{Ignore: paths(tt.ignore...)})
			if got := opString(res.Client); got != tt.want {
				t.Errorf("Diff(%q, %q) = %s, want %s", tt.a, tt.b, got, tt.want)
			}
			if len(res.Server) != 0 {
				t.Errorf("Diff of client messages has server ops %s", opString(res.Server))
			}
			if same := tt.want == "" || !containsAny(tt.want, "~+-↕"); res.Same() != same {
				t.Errorf("Same() = %v, want %v", res.Same(), same)
			}
		})
	}
}

func containsAny(s, chars string) bool {
	for _, r := range s {
		for _, c := range chars {
			if r == c {
				return true
			}
		}
	}
	return false
}

func TestDiffChanges(t *testing.T) {
	a := session("a", c(`{"type":"hello","user":{"name":"ann"}}`), s(`{"ok":true}`), sb(1, 2, 3))
	b := session("b", c(`{"type":"hello","user":{"name":"bob"}}`), s(`{"ok":true}`), sb(1, 9, 3, 4))
	res := Diff(a, b, Options{})
	if len(res.Client) != 1 || res.Client[0].Kind != Changed ||
		!reflect.DeepEqual(res.Client[0].Changes, []Change{{Path: "user.name", Kind: KindChanged, A: `"ann"`, B: `"bob"`}}) {
		t.Errorf("client ops = %+v", res.Client)
	}
	if opString(res.Server) != "=1:1 ~2:2" || res.Server[1].Changes[0].Kind != KindBinary || res.Server[1].Changes[0].Offset != 1 {
		t.Errorf("server ops = %s %+v", opString(res.Server), res.Server)
	}
	// The ops point into the sessions.
	if res.Client[0].A != &a.Messages[0] || res.Server[0].B != &b.Messages[1] {
		t.Error("ops do not point at the sessions' messages")
	}
	if res.Same() {
		t.Error("Same() = true")
	}
}

// TestDiffPairsEqualAfterAll checks that a repeated JSON key, whose later
// values GJSON's lookups never see, does not make messages differ.
func TestDiffPairsEqualAfterAll(t *testing.T) {
	a := session("a", c(`{"a":1,"a":2}`))
	b := session("b", c(`{"a":1,"a":3}`))
	if res := Diff(a, b, Options{}); opString(res.Client) != "=1:1" || !res.Same() {
		t.Errorf("Diff = %s", opString(res.Client))
	}
}

func TestDiffBoundedFallsBackToPosition(t *testing.T) {
	var as, bs []string
	for i := range 50 {
		as = append(as, fmt.Sprintf(`{"type":"t","n":%d}`, i))
		bs = append(bs, fmt.Sprintf(`{"type":"t","n":%d}`, i+1000))
	}
	a := &Session{Messages: texts(capture.ClientToServer, as...)}
	b := &Session{Messages: texts(capture.ClientToServer, bs...)}
	res := Diff(a, b, Options{MaxDistance: 4})
	c := Count(res.Client)
	if c.Changed != 50 || c.A != 50 || c.B != 50 {
		t.Errorf("bounded Diff counts %+v, want 50 changed", c)
	}
	for i, op := range res.Client {
		if op.A.Index != i+1 || op.B.Index != i+1 {
			t.Fatalf("op %d pairs #%d with #%d, want by position", i, op.A.Index, op.B.Index)
		}
	}
}

func TestCheck(t *testing.T) {
	rec := texts(capture.ServerToClient, `{"v":1}`, `{"v":2}`, `{"v":3}`)
	got := texts(capture.ServerToClient, `{"v":1}`, `{"v":3}`)
	ops := Check(rec, got, Options{})
	// By position: no realignment, #2 changed, #3 missing.
	if s := opString(ops); s != "=1:1 ~2:2 -3:" {
		t.Errorf("Check = %s", s)
	}
	if ops[1].Changes[0].Path != "v" {
		t.Errorf("Check changes = %+v", ops[1].Changes)
	}
	if s := opString(Check(got, rec, Options{})); s != "=1:1 ~2:2 +:3" {
		t.Errorf("Check (more got) = %s", s)
	}
	if s := opString(Check(rec[:1], texts(capture.ServerToClient, `{"v":1.0,"ts":5}`), Options{Ignore: paths("ts")})); s != "=1:1" {
		t.Errorf("Check with ignore = %s", s)
	}
	if ops := Check(nil, nil, Options{}); len(ops) != 0 {
		t.Errorf("Check(nil, nil) = %v", ops)
	}
}

func TestHandshake(t *testing.T) {
	a := session("a")
	b := session("b")
	a.URL, b.URL = "wss://one.example.test/ws?room=1", "wss://two.example.test:8443/ws?room=1"
	a.RequestHeaders = http.Header{"User-Agent": {"app/1"}, "Sec-Websocket-Key": {"k1"}, "Origin": {"https://x"},
		"X-Gone": {"1"}, "x-lower": {"a"}}
	b.RequestHeaders = http.Header{"User-Agent": {"app/2"}, "Sec-Websocket-Key": {"k2"}, "Origin": {"https://x"},
		"X-Lower": {"a"}}
	a.ResponseHeaders = http.Header{"Date": {"Mon"}, "Sec-Websocket-Accept": {"x"}}
	b.ResponseHeaders = http.Header{"Date": {"Tue"}, "Sec-Websocket-Accept": {"y"}, "X-Trace": {"abc"}}
	if res := Diff(a, b, Options{}); !reflect.DeepEqual(res.Handshake, []Change{
		{Path: "request.User-Agent", Kind: KindChanged, A: `"app/1"`, B: `"app/2"`},
		{Path: "request.X-Gone", Kind: KindRemoved, A: `"1"`},
		{Path: "response.X-Trace", Kind: KindAdded, B: `"abc"`},
	}) {
		t.Errorf("Handshake = %+v", res.Handshake)
	}
	b.Subprotocol, b.Status, b.Extensions, b.URL = "v2", 403, "permessage-deflate", "wss://one.example.test/ws?room=2"
	res := Diff(a, b, Options{Ignore: paths("request.user-agent", "request.X-*", "response")})
	if !reflect.DeepEqual(res.Handshake, []Change{
		{Path: "url", Kind: KindChanged, A: `"/ws?room=1"`, B: `"/ws?room=2"`},
		{Path: "status", Kind: KindChanged, A: "101", B: "403"},
		{Path: "subprotocol", Kind: KindChanged, A: `"chat"`, B: `"v2"`},
		{Path: "extensions", Kind: KindChanged, A: `""`, B: `"permessage-deflate"`},
	}) {
		t.Errorf("Handshake = %+v", res.Handshake)
	}
	if res.Same() {
		t.Error("a handshake difference leaves Same() true")
	}
	res = Diff(a, b, Options{Ignore: paths("request", "response", "url", "status", "subprotocol", "extensions")})
	if len(res.Handshake) != 0 || !res.Same() {
		t.Errorf("everything ignored: Handshake = %+v", res.Handshake)
	}
	if got := requestURI("%zz"); got != "%zz" {
		t.Errorf("requestURI of a bad URL = %q", got)
	}
}

func TestTiming(t *testing.T) {
	ms := []Message{c("1"), s("2"), c("3"), s("4"), c("5")}
	for i, ms0 := range []int{0, 100, 400, 450, 1450} {
		ms[i].Time = at(ms0)
	}
	a := session("a", ms...)
	a.End = at(2000)
	b := session("b", ms...)
	b.Start = time.Time{}
	res := Diff(a, b, Options{})
	ta := res.Timing.A
	if ta.Duration != 2*time.Second || ta.Client.Messages != 3 || ta.Server.Messages != 2 || ta.Client.Rate != 1.5 || ta.Server.Rate != 1 {
		t.Errorf("Timing.A = %+v", ta)
	}
	// Gaps: 0→100ms, 100→400ms, 400→450ms, 450→1450ms; the three longest.
	want := []Gap{
		{time.Second, Ref{capture.ServerToClient, 2}, Ref{capture.ClientToServer, 3}},
		{300 * time.Millisecond, Ref{capture.ServerToClient, 1}, Ref{capture.ClientToServer, 2}},
		{100 * time.Millisecond, Ref{capture.ClientToServer, 1}, Ref{capture.ServerToClient, 1}},
	}
	if !reflect.DeepEqual(ta.Gaps, want) {
		t.Errorf("Gaps = %+v, want %+v", ta.Gaps, want)
	}
	if res.Timing.B.Duration != 0 || res.Timing.B.Client.Rate != 0 {
		t.Errorf("Timing.B without a start = %+v", res.Timing.B)
	}
	if !res.Same() {
		t.Error("timing made sessions differ")
	}
}

func TestOpKindString(t *testing.T) {
	for k, want := range map[OpKind]string{Same: "same", Changed: "changed", Inserted: "inserted", Missing: "missing",
		Reordered: "reordered", OpKind(9): "opkind(9)"} {
		if got := k.String(); got != want {
			t.Errorf("OpKind(%d).String() = %q, want %q", int(k), got, want)
		}
	}
}

// TestDiffLarge diffs sessions of 100,000 messages a side.
func TestDiffLarge(t *testing.T) {
	if testing.Short() {
		t.Skip("large input")
	}
	var ms []Message
	for i := range 100_000 {
		if i%2 == 0 {
			ms = append(ms, c(fmt.Sprintf(`{"type":"req","id":%d,"ts":%d}`, i, i*7)))
		} else {
			ms = append(ms, s(fmt.Sprintf(`{"type":"res","id":%d,"ok":true}`, i)))
		}
	}
	a := session("a", ms...)
	ms2 := append([]Message(nil), ms...)
	ms2[5000] = s(`{"type":"res","id":5000,"ok":false}`)
	ms2 = append(ms2[:70000], ms2[70001:]...)
	b := session("b", ms2...)
	start := time.Now()
	res := Diff(a, b, Options{Ignore: paths("ts")})
	t.Logf("100k messages: %v", time.Since(start))
	// ms2[5000] replaced a client message with a server one, and a
	// client message is gone.
	cc, sc := Count(res.Client), Count(res.Server)
	if cc.Missing != 2 || cc.Changed+cc.Inserted+cc.Reordered != 0 || sc.Inserted != 1 || sc.Changed+sc.Missing+sc.Reordered != 0 {
		t.Errorf("client %+v, server %+v; want 2 client messages missing, 1 server message inserted", cc, sc)
	}
}

func BenchmarkDiff(b *testing.B) {
	var ms []Message
	for i := range 100_000 {
		ms = append(ms, c(fmt.Sprintf(`{"type":"req","id":%d,"ts":%d,"body":{"x":[1,2,3],"y":"hello"}}`, i, i*7)))
	}
	x := session("a", ms...)
	ms2 := append([]Message(nil), ms...)
	ms2[500] = c(`{"type":"req","id":-1}`)
	y := session("b", ms2...)
	opts := Options{Ignore: paths("ts")}
	for b.Loop() {
		Diff(x, y, opts)
	}
}

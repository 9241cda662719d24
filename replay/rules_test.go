package replay

import (
	"encoding/json"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/wstap/wstap/capture"
)

func vals(kv ...string) lookup {
	m := map[string]Value{}
	for i := 0; i+1 < len(kv); i += 2 {
		if json.Valid([]byte(kv[i+1])) {
			var s string
			if json.Unmarshal([]byte(kv[i+1]), &s) == nil {
				m[kv[i]] = Value{Str: s, Raw: kv[i+1]}
				continue
			}
			m[kv[i]] = Value{Str: kv[i+1], Raw: kv[i+1]}
			continue
		}
		m[kv[i]] = stringValue(kv[i+1])
	}
	return func(n string) (Value, bool) { v, ok := m[n]; return v, ok }
}

func TestParseExtract(t *testing.T) {
	e, err := ParseExtract("sid=data.session.id")
	if err != nil || e.Name != "sid" || e.Path != "data.session.id" || e.Re != nil {
		t.Fatalf("ParseExtract = %+v, %v", e, err)
	}
	e, err = ParseExtract(`tok=/token=(\w+)/`)
	if err != nil || e.Re == nil || e.Path != "" {
		t.Fatalf("regex form = %+v, %v", e, err)
	}
	if v, ok := e.From([]byte("a token=abc123 b")); !ok || v.Str != "abc123" || v.Raw != `"abc123"` {
		t.Errorf("From = %+v, %v", v, ok)
	}
	if _, ok := e.From([]byte("nothing")); ok {
		t.Error("a regex that does not match extracted something")
	}
	for _, bad := range []string{"", "noequals", "=path", "1x=path", "a-b=p", "x=", `x=/(a/`, `x=/abc/`, `x=/(a)(b)/`} {
		if _, err := ParseExtract(bad); err == nil {
			t.Errorf("ParseExtract(%q) accepted", bad)
		}
	}
}

func TestExtractFrom(t *testing.T) {
	e, _ := ParseExtract("n=a.n")
	for data, want := range map[string]Value{
		`{"a":{"n":5}}`:      {Str: "5", Raw: "5"},
		`{"a":{"n":"x y"}}`:  {Str: "x y", Raw: `"x y"`},
		`{"a":{"n":[1,2]}}`:  {Str: "[1,2]", Raw: "[1,2]"},
		`{"a":{"n":"x\"y"}}`: {Str: `x"y`, Raw: `"x\"y"`},
	} {
		if v, ok := e.From([]byte(data)); !ok || v != want {
			t.Errorf("From(%s) = %+v, %v; want %+v", data, v, ok, want)
		}
	}
	for _, data := range []string{`{"a":{}}`, `not json {"a":{"n":1}}`, ``} {
		if v, ok := e.From([]byte(data)); ok {
			t.Errorf("From(%s) = %+v", data, v)
		}
	}
}

func TestParseSet(t *testing.T) {
	s, err := ParseSet(`user.name="bob"`)
	if err != nil || s.Path != "user.name" || s.Value != `"bob"` {
		t.Fatalf("ParseSet = %+v, %v", s, err)
	}
	s, err = ParseSet(`a\=b=1`)
	if err != nil || s.Path != `a\=b` || s.Value != "1" {
		t.Errorf("escaped = in the path: %+v, %v", s, err)
	}
	if _, err := ParseSet(`sid=${sid}`); err != nil {
		t.Errorf("a bare ${NAME} value: %v", err)
	}
	if _, err := ParseSet(`sid="s-${sid}"`); err != nil {
		t.Errorf("${NAME} inside a string: %v", err)
	}
	for _, bad := range []string{"", "novalue", "=1", `a=bob`, `a={`, `a=`} {
		if _, err := ParseSet(bad); err == nil {
			t.Errorf("ParseSet(%q) accepted", bad)
		}
	}
	if _, err := ParseSet("name=bob"); err == nil || !strings.Contains(err.Error(), `name="bob"`) {
		t.Errorf("an unquoted string: %v; want a hint to quote it", err)
	}
}

func TestSetApply(t *testing.T) {
	cases := []struct {
		set, in, want string
		get           lookup
	}{
		{`user.name="bob"`, `{"user":{"name":"ann","id":1}}`, `{"user":{"name":"bob","id":1}}`, nil},
		{`items.1.id=9`, `{"items":[{"id":1},{"id":2}]}`, `{"items":[{"id":1},{"id":9}]}`, nil},
		{`missing=1`, `{"a":1}`, `{"a":1}`, nil}, // only messages that have the path
		{`a=1`, `not json`, `not json`, nil},
		{`sid=${sid}`, `{"sid":"old"}`, `{"sid":"new"}`, vals("sid", "new")},
		{`n=${n}`, `{"n":0}`, `{"n":42}`, vals("n", "42")},                          // a number stays a number
		{`sid="x-${sid}"`, `{"sid":"old"}`, `{"sid":"x-a\"b"}`, vals("sid", `a"b`)}, // escaped inside a string
	}
	for _, c := range cases {
		s, err := ParseSet(c.set)
		if err != nil {
			t.Fatal(err)
		}
		get := c.get
		if get == nil {
			get = vals()
		}
		out, _, err := s.apply([]byte(c.in), get)
		if err != nil || string(out) != c.want {
			t.Errorf("--set %s on %s = %s, %v; want %s", c.set, c.in, out, err, c.want)
		}
	}
	s, _ := ParseSet(`sid=${sid}`)
	if _, _, err := s.apply([]byte(`{"sid":1}`), vals()); err == nil {
		t.Error("an unset ${sid} applied")
	}
}

func TestSubApply(t *testing.T) {
	s, err := ParseSub(`user=(\w+)=>user=$1-x`)
	if err != nil {
		t.Fatal(err)
	}
	if out, ch, _ := s.apply([]byte("user=ann&user=bo"), vals()); string(out) != "user=ann-x&user=bo-x" || !ch {
		t.Errorf("sub = %s, %v", out, ch)
	}
	// An extracted value's $ is literal text.
	s, _ = ParseSub(`tok=\w+=>tok=${t}`)
	if out, _, _ := s.apply([]byte("tok=old"), vals("t", "a$1b")); string(out) != "tok=a$1b" {
		t.Errorf("sub with ${t} = %s", out)
	}
	if _, _, err := s.apply([]byte("tok=old"), vals()); err == nil {
		t.Error("an unset ${t} applied")
	}
	for _, bad := range []string{"", "a", "=>b", "(=>b"} {
		if _, err := ParseSub(bad); err == nil {
			t.Errorf("ParseSub(%q) accepted", bad)
		}
	}
}

func TestEditsApply(t *testing.T) {
	set, _ := ParseSet(`sid=${sid}`)
	set2, _ := ParseSet(`n=2`)
	sub, _ := ParseSub(`2=>3`)
	e := &Edits{Sets: []Set{set, set2}, Subs: []Sub{sub}}
	out, changed, skipped, err := e.Apply([]byte(`{"sid":"a","n":1}`), capture.OpText, vals())
	if err != nil || string(out) != `{"sid":"a","n":3}` || !changed || len(skipped) != 1 || !strings.Contains(skipped[0], "${sid}") {
		t.Errorf("Apply = %s, %v, %q, %v", out, changed, skipped, err)
	}
	if out, changed, _, _ := e.Apply([]byte(`{"n":1}`), capture.OpBinary, vals()); string(out) != `{"n":1}` || changed {
		t.Errorf("a binary message was edited: %s", out)
	}
	if got := e.Names(); !slices.Equal(got, []string{"sid"}) {
		t.Errorf("Names = %q", got)
	}
	var none *Edits
	if out, _, _, _ := none.Apply([]byte("x"), capture.OpText, vals()); string(out) != "x" || !none.Sends(3) || none.Names() != nil {
		t.Error("nil Edits is not a no-op")
	}
}

func TestRanges(t *testing.T) {
	r, err := ParseRanges("1,3-5,9-")
	if err != nil {
		t.Fatal(err)
	}
	e := &Edits{Only: r, Drop: []Range{{4, 4}}}
	var sent []int
	for n := 1; n <= 12; n++ {
		if e.Sends(n) {
			sent = append(sent, n)
		}
	}
	if !slices.Equal(sent, []int{1, 3, 5, 9, 10, 11, 12}) {
		t.Errorf("sends %v", sent)
	}
	for _, bad := range []string{"", "0", "a", "3-1", "1,,2", "-3", "1-x"} {
		if _, err := ParseRanges(bad); err == nil {
			t.Errorf("ParseRanges(%q) accepted", bad)
		}
	}
}

func TestCorrelate(t *testing.T) {
	old, cur := stringValue("s-000001"), stringValue("s-999")
	if got := correlate([]byte(`{"session":"s-000001","x":"s-000001"}`), old, cur); string(got) != `{"session":"s-999","x":"s-999"}` {
		t.Errorf("correlate = %s", got)
	}
	if got := correlate([]byte(`id=s-000001`), old, cur); string(got) != `id=s-999` {
		t.Errorf("text correlate = %s", got)
	}
	// Short values are never replaced: "1" would hit unrelated fields.
	if got := correlate([]byte(`{"id":1,"n":1}`), Value{Str: "1", Raw: "1"}, Value{Str: "2", Raw: "2"}); string(got) != `{"id":1,"n":1}` {
		t.Errorf("a short value was replaced: %s", got)
	}
	// In JSON the value is matched as it is escaped there.
	old, cur = stringValue(`a"b/cdef`), stringValue(`x"y`)
	if got := correlate([]byte(`{"t":"a\"b/cdef"}`), old, cur); string(got) != `{"t":"x\"y"}` {
		t.Errorf("escaped correlate = %s", got)
	}
}

func TestVars(t *testing.T) {
	v := NewVars()
	w := v.wait()
	v.Set("a", stringValue("1"))
	select {
	case <-w:
	default:
		t.Error("Set did not wake a waiter")
	}
	v.Set("a", stringValue("2"))
	if got, _ := v.Get("a"); got.Str != "2" || v.Matched("a") != 2 || !slices.Equal(v.Names(), []string{"a"}) {
		t.Errorf("a = %+v after 2 sets (%d)", got, v.Matched("a"))
	}
}

func FuzzParseSet(f *testing.F) {
	for _, s := range []string{`a="b"`, `a.b.0=1`, `a\=b={"x":[1]}`, `x=${y}`, `x="${y}-${z}"`, "=", ""} {
		f.Add(s, `{"a":{"b":[1,2]},"x":"q"}`)
	}
	f.Fuzz(func(t *testing.T, s, msg string) {
		set, err := ParseSet(s)
		if err != nil {
			return
		}
		out, _, err := set.apply([]byte(msg), vals("y", "v", "z", "5"))
		if err == nil && json.Valid([]byte(msg)) && !json.Valid(out) {
			t.Errorf("--set %q turned valid JSON %q into %q", s, msg, out)
		}
	})
}

func FuzzParseSub(f *testing.F) {
	for _, s := range []string{`a=>b`, `(\d+)=>n$1`, `x=>${t}`, `=>`, `a=>b=>c`} {
		f.Add(s, "a1 x22")
	}
	f.Fuzz(func(t *testing.T, s, msg string) {
		sub, err := ParseSub(s)
		if err != nil {
			return
		}
		if _, err := regexp.Compile(sub.Re.String()); err != nil {
			t.Fatal(err)
		}
		sub.apply([]byte(msg), vals("t", "$$v"))
	})
}

func FuzzParseExtract(f *testing.F) {
	for _, s := range []string{`a=b.c`, `t=/x=(\d+)/`, `a=#.id`, `a=//`, `a=/(/`} {
		f.Add(s, `{"b":{"c":1},"x":"x=12"}`)
	}
	f.Fuzz(func(t *testing.T, s, msg string) {
		e, err := ParseExtract(s)
		if err != nil {
			return
		}
		if !nameRE.MatchString(e.Name) || (e.Re == nil) == (e.Path == "") {
			t.Fatalf("ParseExtract(%q) = %+v", s, e)
		}
		if v, ok := e.From([]byte(msg)); ok && !json.Valid([]byte(v.Raw)) && e.Re != nil {
			t.Errorf("a regex extraction's Raw %q is not JSON", v.Raw)
		}
	})
}

func FuzzParseRanges(f *testing.F) {
	for _, s := range []string{"1", "2-5", "7-", "1,3-5", "0", "-"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		rs, err := ParseRanges(s)
		if err != nil {
			return
		}
		for _, r := range rs {
			if r.From < 1 || (r.To != 0 && r.To < r.From) || !r.has(r.From) {
				t.Fatalf("ParseRanges(%q) = %+v", s, rs)
			}
		}
	})
}

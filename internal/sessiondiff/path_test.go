package sessiondiff

import (
	"errors"
	"strings"
	"testing"
)

func TestParsePathErrors(t *testing.T) {
	for _, tt := range []struct{ path, reason string }{
		{"", "empty path"},
		{"a..b", "empty segment between two dots"},
		{".a", "empty segment at the start"},
		{"a.", "empty segment at the end"},
		{`a\`, "trailing backslash"},
		{"a|b", "pipes"},
		{"items.#(id==1).name", "queries"},
		{"@reverse", "modifiers"},
		{"a.@this", "modifiers"},
		{"[a,b]", "multipaths"},
		{"{a}", "multipaths"},
	} {
		_, err := ParsePath(tt.path)
		var pe *PathError
		if !errors.As(err, &pe) || !strings.Contains(pe.Reason, tt.reason) || pe.Path != tt.path {
			t.Errorf("ParsePath(%q) error = %v, want a *PathError saying %q", tt.path, err, tt.reason)
			continue
		}
		if msg := err.Error(); !strings.HasPrefix(msg, "sessiondiff: path ") {
			t.Errorf("ParsePath(%q) error %q, want the package prefix", tt.path, msg)
		}
	}
}

func TestPathMatch(t *testing.T) {
	for _, tt := range []struct {
		path   string
		fields []string
		want   bool
	}{
		{"ts", []string{"ts"}, true},
		{"ts", []string{"tsx"}, false},
		{"ts", []string{"t"}, false},
		{"user", []string{"user", "name"}, true}, // a prefix covers what is under it
		{"user.name", []string{"user"}, false},   // but not what it is under
		{"user.name", []string{"user", "name"}, true},
		{"user.name", []string{"user", "age"}, false},
		{"items.#.id", []string{"items", "3", "id"}, true},
		{"items.#.id", []string{"items", "x", "id"}, false}, // # is an array index
		{"items.#.id", []string{"items", "3", "name"}, false},
		{"items.#", []string{"items", "0"}, true},
		{"items.3", []string{"items", "3", "id"}, true},
		{"items.3", []string{"items", "4"}, false},
		{"us*", []string{"user"}, true},
		{"us*", []string{"us"}, true},
		{"us*", []string{"u"}, false},
		{"*", []string{"anything", "below"}, true},
		{"*.id", []string{"a", "id"}, true},
		{"*.id", []string{"a", "ids"}, false},
		{"u?er", []string{"user"}, true},
		{"u?er", []string{"uer"}, false},
		{"u?er", []string{"uüer"}, true}, // ? is one rune
		{"a*c*e", []string{"abcde"}, true},
		{"a*c*e", []string{"abcdf"}, false},
		{`a\.b`, []string{"a.b"}, true},
		{`a\.b`, []string{"a", "b"}, false},
		{`a\*`, []string{"a*"}, true},
		{`a\*`, []string{"ab"}, false},
		{`a\?`, []string{"ab"}, false},
		{`a\\b`, []string{`a\b`}, true},
		{`\#`, []string{"#"}, true},
		{`\#`, []string{"0"}, false},
		{"#x", []string{"#x"}, true},
		{"x*\\*", []string{"xyz*"}, true},
		{"x*\\*", []string{"xyz"}, false},
	} {
		p, err := ParsePath(tt.path)
		if err != nil {
			t.Fatalf("ParsePath(%q): %v", tt.path, err)
		}
		if got := p.Match(tt.fields); got != tt.want {
			t.Errorf("ParsePath(%q).Match(%q) = %v, want %v", tt.path, tt.fields, got, tt.want)
		}
		if p.String() != tt.path {
			t.Errorf("ParsePath(%q).String() = %q", tt.path, p.String())
		}
	}
	if (Path{}).Match([]string{"a"}) {
		t.Error("the zero Path matches a field")
	}
}

func TestMustParsePathPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("MustParsePath(\"\") did not panic")
		}
	}()
	MustParsePath("")
}

func TestIgnoredField(t *testing.T) {
	ps := paths("request.user-agent", "response.X-*", "status")
	for _, tt := range []struct {
		section, name string
		want          bool
	}{
		{"request", "User-Agent", true}, // header names match without regard to case
		{"request", "Origin", false},
		{"response", "X-Trace", true},
		{"response", "x-request-id", true},
		{"response", "Server", false},
		{"status", "", true},
		{"url", "", false},
		{"request", "", false},
	} {
		if got := ignoredField(ps, tt.section, tt.name); got != tt.want {
			t.Errorf("ignoredField(%q, %q) = %v, want %v", tt.section, tt.name, got, tt.want)
		}
	}
	if !ignoredField(paths("request"), "request", "Anything") {
		t.Error(`"request" does not cover every request header`)
	}
}

package filter

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/tidwall/gjson"
)

// FuzzParse checks that Parse never panics, that its errors are one line
// and that whatever parses has a canonical form that reads back the same.
func FuzzParse(f *testing.F) {
	for _, tt := range matchTests {
		f.Add(tt.expr)
	}
	for _, tt := range errorTests {
		f.Add(tt.expr)
	}
	for _, tt := range stringTests {
		f.Add(tt.expr)
	}
	f.Fuzz(func(t *testing.T, s string) {
		e, err := Parse(s)
		if err != nil {
			if e != nil {
				t.Errorf("Parse(%q) = %v and error %v, want nil with an error", s, e, err)
			}
			msg := err.Error()
			if strings.ContainsAny(msg, "\n\r") || !strings.HasPrefix(msg, "filter: ") {
				t.Errorf("Parse(%q) error %q, want one line starting with \"filter: \"", s, msg)
			}
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("Parse(%q) error is a %T, want *SyntaxError", s, err)
			}
			if se.Col < 1 || se.Col > utf8.RuneCountInString(s) {
				t.Errorf("Parse(%q) error column %d, want 1…%d", s, se.Col, utf8.RuneCountInString(s))
			}
			return
		}
		checkRoundTrip(t, s, e)
	})
}

// FuzzMatchPayload matches fixed expressions against any payload: Match
// must not panic, a json term must not match what is not JSON, and a word
// must match as a reference implementation of ASCII case folding does.
func FuzzMatchPayload(f *testing.F) {
	for _, c := range corpus {
		f.Add(c.msg.Data, "hello")
	}
	f.Add([]byte(`{"a":1}`), "A")
	f.Add([]byte("aAaAb"), "aab")
	jsonTerms := []*Expr{}
	for _, s := range []string{"json:a", "json:a=1", "json:a!=1", "json:a~.", "json:a.b=x", "json:#", "json:@this"} {
		e, err := Parse(s)
		if err != nil {
			f.Fatal(err)
		}
		jsonTerms = append(jsonTerms, e)
	}
	f.Fuzz(func(t *testing.T, data []byte, word string) {
		m := Msg{Data: data, Size: int64(len(data))}
		if !gjson.ValidBytes(data) {
			for _, e := range jsonTerms {
				if e.Match(&m) {
					t.Errorf("Parse(%q).Match(%q) = true for a payload that is not JSON", e, data)
				}
			}
		}
		want := bytes.Contains(lowerASCII(string(data)), lowerASCII(word))
		if got := containsFold(data, lowerASCII(word)); got != want {
			t.Errorf("containsFold(%q, %q) = %v, want %v", data, word, got, want)
		}
		e, err := Parse(canonWord(word))
		if err != nil {
			t.Fatalf("Parse(canonWord(%q)) = %q: %v", word, canonWord(word), err)
		}
		if got := e.Match(&m); got != want {
			t.Errorf("Parse(%q).Match(%q) = %v, want %v", canonWord(word), data, got, want)
		}
	})
}

package filter

import (
	"strconv"

	"github.com/tidwall/gjson"
)

// literal is the VALUE of json:PATH=VALUE and json:PATH!=VALUE.
type literal struct {
	typ gjson.Type // Null, False, Number, String or True
	str string     // String: the unescaped string
	raw string     // Number: the number as written, a valid JSON number
	num float64    // Number: its value
	int string     // Number: the integer as written when it is one ("-0" as "0"), else ""
}

// parseLiteral reads a VALUE. quoted says that v began with a double quote;
// the caller has checked it is a valid JSON string. ok is false for an
// array or object.
func parseLiteral(v string, quoted bool) (l literal, ok bool) {
	if quoted {
		return literal{typ: gjson.String, str: gjson.Parse(v).Str}, true
	}
	if v[0] == '[' || v[0] == '{' {
		return literal{}, false
	}
	if !gjson.Valid(v) { // a bare word
		return literal{typ: gjson.String, str: v}, true
	}
	r := gjson.Parse(v)
	l = literal{typ: r.Type}
	if r.Type == gjson.Number {
		l.raw, l.num, l.int = v, r.Num, intText(v)
	}
	return l, true
}

// intText returns the JSON number s when it is written as an integer, with
// "-0" as "0", and "" otherwise. JSON allows no leading zeros, so two
// integers written this way are equal exactly when their texts are.
func intText(s string) string {
	d := s
	if len(d) > 0 && d[0] == '-' {
		d = d[1:]
	}
	if d == "" {
		return ""
	}
	for i := 0; i < len(d); i++ {
		if d[i] < '0' || d[i] > '9' {
			return ""
		}
	}
	if d == "0" {
		return d
	}
	return s
}

// equal reports whether the JSON value r equals l. Values of different
// JSON types are never equal: the string "1" is not the number 1.
func (l *literal) equal(r gjson.Result) bool {
	if r.Type != l.typ {
		return false
	}
	switch l.typ {
	case gjson.String:
		return r.Str == l.str
	case gjson.Number:
		if l.int != "" {
			if ri := intText(r.Raw); ri != "" {
				return ri == l.int // exact beyond float64's 2⁵³
			}
		}
		return r.Num == l.num
	default: // null, true, false
		return true
	}
}

// String returns l as it is written in canonical form: a number as
// written, a string bare when it reads back as the same string, and
// JSON-quoted otherwise.
func (l *literal) String() string {
	switch l.typ {
	case gjson.Number:
		return l.raw
	case gjson.True:
		return "true"
	case gjson.False:
		return "false"
	case gjson.Null:
		return "null"
	}
	if bareValue(l.str) {
		return l.str
	}
	return string(appendJSONString(nil, l.str))
}

// bareValue reports whether s, written bare after "=", reads back as the
// string s.
func bareValue(s string) bool {
	if s == "" || s[0] == '"' || s[0] == '[' || s[0] == '{' || gjson.Valid(s) {
		return false
	}
	for i := 0; i < len(s); i++ {
		if isSpace(s[i]) {
			return false
		}
	}
	return true
}

// appendJSONString appends s as a JSON string. Bytes from 0x80 up are
// copied unchanged, even when they are not valid UTF-8, because gjson
// copies them unchanged when it reads the string back.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c == '\n':
			b = append(b, '\\', 'n')
		case c == '\t':
			b = append(b, '\\', 't')
		case c == '\r':
			b = append(b, '\\', 'r')
		case c < ' ':
			b = append(b, `\u00`...)
			b = append(b, "0123456789abcdef"[c>>4], "0123456789abcdef"[c&0xf])
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}

// formatNumber writes a size's number without redundant digits; it reads
// back as the same float64.
func formatNumber(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

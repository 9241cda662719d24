package sessiondiff

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Path is a parsed ignore path in GJSON path syntax
// (https://github.com/tidwall/gjson/blob/master/SYNTAX.md), the subset that
// names fields:
//
//	ts            the field ts of the top-level object
//	user.name     a nested field
//	items.3.id    an array element by index (or an object key "3")
//	items.#.id    # stands for every index of an array
//	us*.n?me      * matches any run of characters within one key, ? one character
//	a\.b          a backslash makes the next character literal: the key "a.b"
//
// A path covers everything under it: ignoring "user" ignores "user.name".
// GJSON's queries (#(…)), modifiers (@…), pipes (|) and multipaths ([…],
// {…}) select values rather than name fields, and are refused.
//
// The handshake's fields are named "url", "status", "subprotocol",
// "extensions", "request.NAME" and "response.NAME" (a header, matched
// without regard to case), so the same Options.Ignore leaves them out too.
type Path struct {
	text string
	segs []segment
}

// segment is one dot-separated part of a Path.
type segment struct {
	lit  string // the key, unescaped (literal segments)
	pat  string // the glob pattern: literal * ? and \ escaped with \ (wild segments)
	wild bool   // has an unescaped * or ?
	any  bool   // the segment is "#": any array index
}

// PathError is a path that ParsePath refused, and why.
type PathError struct {
	Path   string
	Reason string
}

func (e *PathError) Error() string { return fmt.Sprintf("sessiondiff: path %q: %s", e.Path, e.Reason) }

// ParsePath parses s as an ignore path (see Path). It refuses an empty path,
// an empty segment ("a..b", ".a", "a."), a trailing backslash and the GJSON
// syntax that does not name a field.
func ParsePath(s string) (Path, error) {
	bad := func(format string, a ...any) (Path, error) {
		return Path{}, &PathError{Path: s, Reason: fmt.Sprintf(format, a...)}
	}
	if s == "" {
		return bad("empty path")
	}
	p := Path{text: s}
	var lit, pat strings.Builder
	seg := segment{}
	start := 0 // byte offset where the current segment began
	raw := func(i int) string { return s[start:i] }
	end := func(i int) error {
		switch {
		case i == start:
			what := "between two dots"
			if i == 0 {
				what = "at the start"
			} else if i == len(s) {
				what = "at the end"
			}
			return &PathError{Path: s, Reason: "empty segment " + what}
		case raw(i) == "#":
			seg = segment{any: true}
		default:
			seg.lit, seg.pat = lit.String(), pat.String()
		}
		p.segs = append(p.segs, seg)
		seg = segment{}
		lit.Reset()
		pat.Reset()
		return nil
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if i == start {
			switch c {
			case '@':
				return bad("modifiers (@…) are not supported; write \\@ for a key that starts with @")
			case '[', '{':
				return bad("multipaths are not supported")
			case '#':
				if i+1 < len(s) && s[i+1] == '(' {
					return bad("queries (#(…)) are not supported; use # for every element")
				}
			}
		}
		switch c {
		case '\\':
			if i+1 == len(s) {
				return bad("trailing backslash")
			}
			i++
			lit.WriteByte(s[i])
			if s[i] == '*' || s[i] == '?' || s[i] == '\\' {
				pat.WriteByte('\\')
			}
			pat.WriteByte(s[i])
		case '.':
			if err := end(i); err != nil {
				return Path{}, err
			}
			start = i + 1
		case '|':
			return bad("pipes (|) are not supported; write \\| for a literal one")
		case '*', '?':
			seg.wild = true
			lit.WriteByte(c)
			pat.WriteByte(c)
		default:
			lit.WriteByte(c)
			pat.WriteByte(c)
		}
	}
	if err := end(len(s)); err != nil {
		return Path{}, err
	}
	return p, nil
}

// MustParsePath is ParsePath for paths known to be good; it panics on an
// error. It is for tests and constants.
func MustParsePath(s string) Path {
	p, err := ParsePath(s)
	if err != nil {
		panic(err)
	}
	return p
}

// String returns the path as it was written.
func (p Path) String() string { return p.text }

// Match reports whether the concrete field path fields (keys and array
// indices, such as ["items", "3", "id"]) is covered by p: p names it or one
// of the fields it is inside. A field of digits only counts as an array
// index for "#".
func (p Path) Match(fields []string) bool {
	if len(p.segs) == 0 || len(fields) < len(p.segs) {
		return false
	}
	for i, s := range p.segs {
		if !s.match(fields[i], isIndex(fields[i]), false) {
			return false
		}
	}
	return true
}

func isIndex(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// match reports whether the segment matches key k (an array index when
// index is set); fold ignores ASCII case, for header names.
func (s segment) match(k string, index, fold bool) bool {
	switch {
	case s.any:
		return index
	case s.wild:
		if fold {
			return glob(strings.ToLower(s.pat), strings.ToLower(k))
		}
		return glob(s.pat, k)
	case fold:
		return strings.EqualFold(s.lit, k)
	}
	return s.lit == k
}

// glob matches s against pattern pat: * any run of bytes, ? one rune, \x
// the byte x. It backtracks only to the last *, so it runs in
// O(len(pat)·len(s)).
func glob(pat, s string) bool {
	px, sx := 0, 0
	starP, starS := -1, 0
	for sx < len(s) {
		if px < len(pat) {
			switch c := pat[px]; c {
			case '*':
				starP, starS = px, sx
				px++
				continue
			case '?':
				px++
				_, n := utf8.DecodeRuneInString(s[sx:])
				sx += n
				continue
			case '\\':
				if px+1 < len(pat) && pat[px+1] == s[sx] {
					px += 2
					sx++
					continue
				}
			default:
				if c == s[sx] {
					px++
					sx++
					continue
				}
			}
		}
		if starP < 0 {
			return false
		}
		starS++
		px, sx = starP+1, starS
	}
	for px < len(pat) && pat[px] == '*' {
		px++
	}
	return px == len(pat)
}

// ignorer tracks, while a JSON value is walked, which ignore paths still
// match the field path so far.
type ignorer struct {
	paths []Path
	all   live // every path: the live set at the top of a value
}

func newIgnorer(paths []Path) *ignorer {
	ig := &ignorer{paths: paths}
	for i := range paths {
		ig.all = append(ig.all, i)
	}
	return ig
}

// live is the set of paths (indices into ignorer.paths) whose first depth
// segments match the current field path; nil means none. Live sets are
// never modified, so they may be shared.
type live []int

// root returns the live set at the top of a value.
func (ig *ignorer) root() live { return ig.all }

// step descends from the live set at depth into key k. It reports whether
// the field is ignored, and the live set below it.
func (ig *ignorer) step(l live, depth int, k string, index bool) (ignored bool, next live) {
	for _, i := range l {
		p := ig.paths[i]
		if !p.segs[depth].match(k, index, false) {
			continue
		}
		if len(p.segs) == depth+1 {
			return true, nil
		}
		next = append(next, i)
	}
	return false, next
}

// ignoredField reports whether a path covers the handshake field
// section.name (section "request" or "response"), header names without
// regard to case; or, with name "", the handshake field section itself.
func ignoredField(paths []Path, section, name string) bool {
	for _, p := range paths {
		if !p.segs[0].match(section, false, false) {
			continue
		}
		if len(p.segs) == 1 {
			return true
		}
		if name != "" && len(p.segs) == 2 && p.segs[1].match(name, false, true) {
			return true
		}
	}
	return false
}

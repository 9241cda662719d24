package filter

import (
	"errors"
	"fmt"
	"regexp"
	"regexp/syntax"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/tidwall/gjson"

	"github.com/wstap/wstap/capture"
)

// SyntaxError is the error Parse returns for a bad expression. Its text is
// one line: "filter: ", the term as written, what is wrong with it, and the
// term's column when the term does not start the input.
type SyntaxError struct {
	Col    int    // 1-based column, in characters, where the bad term starts (its "-" included)
	Term   string // the term as written, or "" for an unterminated quote or regexp
	Reason string // what is wrong, such as `unknown opcode "foo" (want …)`
}

// Error returns the one-line message, such as
// `filter: size>: want a number after "size>" (at 6)`.
func (e *SyntaxError) Error() string {
	var b strings.Builder
	b.WriteString("filter: ")
	if e.Term != "" {
		b.WriteString(oneLine(e.Term))
		b.WriteString(": ")
	}
	b.WriteString(oneLine(e.Reason))
	if e.Col > 1 {
		fmt.Fprintf(&b, " (at %d)", e.Col)
	}
	return b.String()
}

// oneLine returns s, Go-quoted when it holds a character that is not
// printable (a newline, a tab, invalid UTF-8), so that an error stays on
// one line and cannot upset the terminal.
func oneLine(s string) string {
	if !utf8.ValidString(s) || strings.IndexFunc(s, func(r rune) bool { return !unicode.IsPrint(r) }) >= 0 {
		return strconv.Quote(s)
	}
	return s
}

// named is a value of from:, op: or is: with its canonical name.
type named struct {
	name string
	mask uint16
}

var (
	// senders maps each sender capture.Direction.From names, and its first
	// letter, to the directions it covers.
	senders, senderList = func() (map[string]named, string) {
		m := map[string]named{}
		var order []string
		for d := capture.Direction(0); d.Valid(); d++ {
			n, ok := m[d.From()]
			if !ok {
				order = append(order, d.From())
			}
			m[d.From()] = named{d.From(), n.mask | 1<<d}
		}
		for _, name := range order {
			if _, taken := m[name[:1]]; !taken {
				m[name[:1]] = m[name]
			}
		}
		return m, strings.Join(order, ", ")
	}()

	// opcodes maps every capture.Opcode.String spelling, and the groups
	// control and data, to the opcodes it covers.
	opcodes = func() map[string]named {
		m := map[string]named{}
		var control uint16
		for o := capture.Opcode(0); o < 16; o++ {
			m[o.String()] = named{o.String(), 1 << o}
			if o.IsControl() {
				control |= 1 << o
			}
		}
		m["control"] = named{"control", control}
		m["data"] = named{"data", 1<<capture.OpText | 1<<capture.OpBinary}
		return m
	}()
)

const opcodeList = "text, binary, ping, pong, close, control, data"

// flags maps the names of is: to the facts they test.
var flags = map[string]flag{"dropped": flagDropped, "incomplete": flagIncomplete, "compressed": flagCompressed}

const flagList = "dropped, incomplete, compressed"

// unit is a size unit: its multiplier and its canonical spelling.
type unit struct {
	mult float64
	name string
}

var units = map[string]unit{
	"": {1, ""}, "b": {1, ""},
	"k": {1 << 10, "k"}, "kb": {1 << 10, "k"}, "kib": {1 << 10, "k"},
	"m": {1 << 20, "m"}, "mb": {1 << 20, "m"}, "mib": {1 << 20, "m"},
	"g": {1 << 30, "g"}, "gb": {1 << 30, "g"}, "gib": {1 << 30, "g"},
}

// maxSize is the largest size a term may name: 2⁶³ bytes.
const maxSize = 1 << 63

// Parse parses a filter expression (see the package documentation for the
// language). An empty expression, or one of white space only, matches
// everything. A bad expression gives a *SyntaxError.
func Parse(s string) (*Expr, error) {
	p := parser{s: s}
	e := &Expr{}
	for {
		for p.i < len(s) && isSpace(s[p.i]) {
			p.i++
		}
		if p.i == len(s) {
			break
		}
		t, canon, err := p.term()
		if err != nil {
			return nil, err
		}
		e.eval = append(e.eval, t)
		e.canon = append(e.canon, canon)
		e.payload = e.payload || t.kind >= kindWord
	}
	slices.SortStableFunc(e.eval, func(a, b term) int { return int(a.kind) - int(b.kind) })
	return e, nil
}

// parser reads one expression, a term at a time.
type parser struct {
	s     string
	i     int // the next byte to read
	start int // where the current term starts, its "-" included
}

// fail returns a SyntaxError for the current term, which ends at end.
// lookup finds the value after a term's key (tok[:keyLen]) in table, or
// says that it is missing or unknown, naming what it wants ("a sender").
func (p *parser) lookup(table map[string]named, tok string, keyLen int, what, list string, end int) (named, error) {
	v := tok[keyLen:]
	n, ok := table[string(lowerASCII(v))]
	switch {
	case ok:
		return n, nil
	case v == "":
		return named{}, p.fail(end, fmt.Sprintf(`want %s %s after %q (%s)`, article(what), what, tok, list))
	default:
		return named{}, p.fail(end, fmt.Sprintf("unknown %s %q (want %s)", what, v, list))
	}
}

// article is "a" or "an" for a word.
func article(word string) string {
	if strings.ContainsRune("aeiou", rune(word[0])) {
		return "an"
	}
	return "a"
}

func (p *parser) fail(end int, reason string) error {
	return &SyntaxError{Col: p.col(), Term: p.s[p.start:max(end, p.start)], Reason: reason}
}

// unterminated returns the error for a quote or regexp the input ends in.
func (p *parser) unterminated(c byte) error {
	return &SyntaxError{Col: p.col(), Reason: "unterminated " + string(c)}
}

// col returns the current term's 1-based column in characters.
func (p *parser) col() int { return utf8.RuneCountInString(p.s[:p.start]) + 1 }

// wordEnd returns the index of the first white space at or after i, or
// len(p.s).
func (p *parser) wordEnd(i int) int {
	for i < len(p.s) && !isSpace(p.s[i]) {
		i++
	}
	return i
}

// term reads the term at p.i and returns it with its canonical text.
func (p *parser) term() (t term, canon string, err error) {
	s := p.s
	p.start = p.i
	if s[p.i] == '-' {
		t.neg = true
		p.i++
		if p.i == len(s) || isSpace(s[p.i]) {
			return t, "", p.fail(p.i, `want a term after "-"`)
		}
	}
	switch {
	case s[p.i] == '"':
		canon, err = p.phrase(&t)
	case s[p.i] == '/':
		canon, err = p.regexpTerm(&t)
	case hasPrefixFold(s[p.i:], "json:"):
		canon, err = p.jsonTerm(&t)
	default:
		canon, err = p.bare(&t)
	}
	if t.neg {
		canon = "-" + canon
	}
	return t, canon, err
}

// phrase reads a double-quoted word, in which \" is a quote and \\ a
// backslash; any other backslash stands for itself.
func (p *parser) phrase(t *term) (string, error) {
	s := p.s
	var b []byte
	j := p.i + 1
	for {
		if j == len(s) {
			return "", p.unterminated('"')
		}
		c := s[j]
		if c == '\\' && j+1 < len(s) && (s[j+1] == '"' || s[j+1] == '\\') {
			b = append(b, s[j+1])
			j += 2
			continue
		}
		j++
		if c == '"' {
			break
		}
		b = append(b, c)
	}
	if j < len(s) && !isSpace(s[j]) {
		return "", p.fail(p.wordEnd(j), `want a space after the closing "`)
	}
	p.i = j
	w := string(b)
	setWord(t, w)
	return canonWord(w), nil
}

// setWord makes t a substring match for w.
func setWord(t *term, w string) {
	t.kind = kindWord
	t.needle = lowerASCII(w)
	t.fold = strings.IndexFunc(w, func(r rune) bool { return r < utf8.RuneSelf && isLetter(byte(r)) }) >= 0
}

// canonWord writes the word w bare when it reads back as the same word,
// and quoted otherwise.
func canonWord(w string) string {
	if bareWord(w) {
		return w
	}
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(w); i++ {
		if w[i] == '"' || w[i] == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(w[i])
	}
	b.WriteByte('"')
	return b.String()
}

// bareWord reports whether w, written bare, reads back as the word w.
func bareWord(w string) bool {
	if w == "" || w[0] == '"' || w[0] == '/' || w[0] == '-' || keyword(w) || hasPrefixFold(w, "json:") {
		return false
	}
	for i := 0; i < len(w); i++ {
		if isSpace(w[i]) {
			return false
		}
	}
	return true
}

// keyword reports whether the bare token w starts with from:, op:, is: or
// size and a comparison, and so is no word.
func keyword(w string) bool {
	return hasPrefixFold(w, "from:") || hasPrefixFold(w, "op:") || hasPrefixFold(w, "is:") || sizeTerm(w)
}

// sizeTerm reports whether w starts with size and a comparison.
func sizeTerm(w string) bool {
	if len(w) < 5 || !hasPrefixFold(w, "size") {
		return false
	}
	switch w[4] {
	case '<', '>', '=':
		return true
	case '!':
		return len(w) > 5 && w[5] == '='
	}
	return false
}

// regexpTerm reads /pattern/flags.
func (p *parser) regexpTerm(t *term) (string, error) {
	pat, fl, end, err := p.slashed(p.i)
	if err != nil {
		return "", err
	}
	if t.re, err = p.compile(pat, fl, end); err != nil {
		return "", err
	}
	t.kind = kindRegexp
	p.i = end
	return "/" + escapeSlash(pat) + "/" + fl, nil
}

// slashed reads /pattern/flags at i. It returns the pattern with each \/
// turned into /, the flags in canonical order, and the index after them.
func (p *parser) slashed(i int) (pat, fl string, end int, err error) {
	s := p.s
	var b []byte
	j := i + 1
	for {
		if j == len(s) {
			return "", "", 0, p.unterminated('/')
		}
		c := s[j]
		if c == '\\' {
			if j+1 == len(s) {
				return "", "", 0, p.unterminated('/')
			}
			if s[j+1] == '/' {
				b = append(b, '/')
			} else {
				b = append(b, c, s[j+1])
			}
			j += 2
			continue
		}
		j++
		if c == '/' {
			break
		}
		b = append(b, c)
	}
	var set [3]bool // i, m, s
	for ; j < len(s) && !isSpace(s[j]); j++ {
		k := strings.IndexByte("ims", s[j])
		if k < 0 {
			r, _ := utf8.DecodeRuneInString(s[j:])
			return "", "", 0, p.fail(p.wordEnd(j), fmt.Sprintf("unknown regexp flag %q (want i, m, s)", string(r)))
		}
		set[k] = true
	}
	for k, on := range set {
		if on {
			fl += "ims"[k : k+1]
		}
	}
	return string(b), fl, j, nil
}

// compile compiles a regexp of a term that ends at end.
func (p *parser) compile(pat, fl string, end int) (*regexp.Regexp, error) {
	expr := pat
	if fl != "" {
		expr = "(?" + fl + ")" + pat
	}
	re, err := regexp.Compile(expr)
	if err != nil {
		reason := err.Error()
		if se := (*syntax.Error)(nil); errors.As(err, &se) {
			reason = string(se.Code)
		}
		return nil, p.fail(end, "bad regexp: "+reason)
	}
	return re, nil
}

// escapeSlash writes a pattern for between slashes: each / becomes \/, and
// a backslash keeps the byte after it.
func escapeSlash(pat string) string {
	var b strings.Builder
	for i := 0; i < len(pat); i++ {
		switch c := pat[i]; {
		case c == '\\' && i+1 < len(pat):
			b.WriteByte(c)
			i++
			b.WriteByte(pat[i])
		case c == '/':
			b.WriteString(`\/`)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// jsonTerm reads json:PATH, json:PATH=VALUE, json:PATH!=VALUE and
// json:PATH~REGEXP.
func (p *parser) jsonTerm(t *term) (string, error) {
	s := p.s
	t.kind = kindJSON
	pathStart := p.i + len("json:")
	j := pathStart
	depth, opener := 0, byte(0)
	rel, relLen := cmpExists, 0
scan:
	for j < len(s) {
		switch c := s[j]; {
		case c == '\\': // gjson's escape: the next byte is part of the path
			j += 2
			continue
		case c == '"':
			k, ok := skipQuoted(s, j)
			if !ok {
				return "", p.unterminated('"')
			}
			j = k
			continue
		case c == '(' || c == '[' || c == '{':
			if depth == 0 {
				opener = c
			}
			depth++
		case c == ')' || c == ']' || c == '}':
			if depth > 0 {
				depth--
			}
		case depth > 0:
		case isSpace(c):
			break scan
		case c == '=':
			rel, relLen = cmpEq, 1
			break scan
		case c == '~':
			rel, relLen = cmpRe, 1
			break scan
		case c == '!' && j+1 < len(s) && s[j+1] == '=':
			rel, relLen = cmpNe, 2
			break scan
		}
		j++
	}
	j = min(j, len(s))
	if depth > 0 {
		return "", p.fail(p.wordEnd(p.start), fmt.Sprintf("unclosed %c in path", opener))
	}
	t.path = s[pathStart:j]
	if t.path == "" {
		return "", p.fail(p.wordEnd(j), `want a path after "json:"`)
	}
	t.cmp = rel
	canon := "json:" + t.path
	if rel == cmpExists {
		p.i = j
		return canon, nil
	}
	relText := s[j : j+relLen]
	j += relLen
	if rel == cmpRe {
		if j == len(s) || isSpace(s[j]) {
			return "", p.fail(j, `want a regexp after "~"`)
		}
		var pat, fl string
		if s[j] == '/' {
			var err error
			if pat, fl, j, err = p.slashed(j); err != nil {
				return "", err
			}
		} else {
			k := p.wordEnd(j)
			pat, j = s[j:k], k
		}
		var err error
		if t.re, err = p.compile(pat, fl, j); err != nil {
			return "", err
		}
		p.i = j
		return canon + "~/" + escapeSlash(pat) + "/" + fl, nil
	}
	if j == len(s) || isSpace(s[j]) {
		return "", p.fail(j, fmt.Sprintf(`want a value after %q (use "" for the empty string)`, relText))
	}
	quoted := s[j] == '"'
	var v string
	if quoted {
		k, ok := skipQuoted(s, j)
		if !ok {
			return "", p.unterminated('"')
		}
		if k < len(s) && !isSpace(s[k]) {
			return "", p.fail(p.wordEnd(k), `want a space after the closing "`)
		}
		if v = s[j:k]; !gjson.Valid(v) {
			return "", p.fail(k, "bad JSON string")
		}
		j = k
	} else {
		k := p.wordEnd(j)
		v, j = s[j:k], k
	}
	lit, ok := parseLiteral(v, quoted)
	if !ok {
		return "", p.fail(j, fmt.Sprintf("cannot compare with an array or object after %q; use a path into it", relText))
	}
	t.lit = lit
	p.i = j
	return canon + relText + lit.String(), nil
}

// skipQuoted returns the index after the double-quoted string at i, in
// which a backslash escapes the next byte. ok is false when it is not
// closed.
func skipQuoted(s string, i int) (end int, ok bool) {
	for j := i + 1; j < len(s); j++ {
		switch s[j] {
		case '\\':
			j++
		case '"':
			return j + 1, true
		}
	}
	return 0, false
}

// bare reads a term that is a run of bytes up to white space: from:, op:,
// is:, size, or a word.
func (p *parser) bare(t *term) (string, error) {
	end := p.wordEnd(p.i)
	tok := p.s[p.i:end]
	var canon string
	switch {
	case hasPrefixFold(tok, "from:"):
		n, err := p.lookup(senders, tok, len("from:"), "sender", senderList, end)
		if err != nil {
			return "", err
		}
		t.kind, t.mask, canon = kindFrom, n.mask, "from:"+n.name
	case hasPrefixFold(tok, "op:"):
		n, err := p.lookup(opcodes, tok, len("op:"), "opcode", opcodeList, end)
		if err != nil {
			return "", err
		}
		t.kind, t.mask, canon = kindOp, n.mask, "op:"+n.name
	case hasPrefixFold(tok, "is:"):
		v := tok[len("is:"):]
		name := string(lowerASCII(v))
		f, ok := flags[name]
		if !ok {
			if v == "" {
				return "", p.fail(end, fmt.Sprintf(`want a flag after %q (%s)`, tok, flagList))
			}
			return "", p.fail(end, fmt.Sprintf("unknown flag %q (want %s)", v, flagList))
		}
		t.kind, t.flag, canon = kindFlag, f, "is:"+name
	case sizeTerm(tok):
		var err error
		if canon, err = p.size(t, tok, end); err != nil {
			return "", err
		}
	default:
		setWord(t, tok)
		canon = canonWord(tok)
	}
	p.i = end
	return canon, nil
}

// size reads size followed by a comparison, a number and a unit.
func (p *parser) size(t *term, tok string, end int) (string, error) {
	r := tok[len("size"):]
	var rel cmp
	for _, c := range [...]cmp{cmpGe, cmpLe, cmpNe, cmpGt, cmpLt, cmpEq} { // two-byte ones first
		if strings.HasPrefix(r, cmpText[c]) {
			rel = c
			break
		}
	}
	head := tok[:len("size")+len(cmpText[rel])]
	num := r[len(cmpText[rel]):]
	k := 0
	for k < len(num) && isDigit(num[k]) {
		k++
	}
	digits := k
	if k < len(num) && num[k] == '.' {
		k++
		frac := k
		for k < len(num) && isDigit(num[k]) {
			k++
		}
		if k == frac {
			digits = 0 // "1." and "." are no numbers
		} else {
			digits += k - frac
		}
	}
	if digits == 0 {
		return "", p.fail(end, fmt.Sprintf("want a number after %q", head))
	}
	n, err := strconv.ParseFloat(num[:k], 64)
	u, ok := units[string(lowerASCII(num[k:]))]
	switch {
	case !ok:
		return "", p.fail(end, fmt.Sprintf("unknown unit %q (want b, k, m, g)", num[k:]))
	case err != nil || n*u.mult > maxSize: // ParseFloat fails only on overflow here
		return "", p.fail(end, "size too large (the most is 8 EiB)")
	}
	t.kind, t.cmp, t.num = kindSize, rel, n*u.mult
	return "size" + cmpText[rel] + formatNumber(n) + u.name, nil
}

// isSpace reports whether c separates terms.
func isSpace(c byte) bool {
	switch c {
	case ' ', '\t', '\n', '\r', '\v', '\f':
		return true
	}
	return false
}

// isDigit reports whether c is an ASCII digit.
func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// hasPrefixFold reports whether s starts with the lower-case ASCII prefix,
// with ASCII case folded.
func hasPrefixFold(s, prefix string) bool {
	if len(s) < len(prefix) {
		return false
	}
	for i := 0; i < len(prefix); i++ {
		if lower[s[i]] != prefix[i] {
			return false
		}
	}
	return true
}

package decode

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/alecthomas/chroma/v2"
	"github.com/alecthomas/chroma/v2/lexers"
)

// maxJSONDepth is the deepest nesting accepted, as in encoding/json.
const maxJSONDepth = 10000

// Lexer contexts of a pretty-printed JSON line: what chroma's JSON lexer
// must have seen before the line for its first token to come out right.
const (
	ctxValue    = iota // a value in an array or at the top: "["
	ctxKey             // a member of an object: "{"
	ctxCloseObj        // "}" ending an object: "[{"
	ctxCloseArr        // "]" ending an array: "[["
)

var ctxPrefix = [4]string{"[", "{", "[{", "[["}

// errJSONEnd is the error when data ends before the JSON value does.
type errJSONEnd struct{ at int }

func (e *errJSONEnd) Error() string {
	return fmt.Sprintf("decode: json: unexpected end at byte %d", e.at)
}

// jsonPrinter validates JSON and, when b is not nil, pretty-prints it to b
// with one member or element per line. It follows the grammar of RFC 8259
// as encoding/json does: strings may hold invalid UTF-8 (shown as U+FFFD),
// nesting is limited to 10000 levels. It walks with an explicit stack, so
// deep input cannot exhaust the goroutine stack.
type jsonPrinter struct {
	b     *builder
	data  []byte
	pos   int
	stack []byte
	ctx   context.Context
	next  int
}

// strSafe marks the bytes a JSON string holds as they are.
var strSafe = func() (t [256]bool) {
	for c := 0x20; c < 0x7f; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

var jsonSpace = [256]bool{' ': true, '\t': true, '\n': true, '\r': true}

func (p *jsonPrinter) put(s []byte) {
	if p.b != nil {
		put(p.b, Plain, s)
	}
}

func (p *jsonPrinter) puts(s string) {
	if p.b != nil {
		put(p.b, Plain, s)
	}
}

func (p *jsonPrinter) putByte(c byte) {
	if p.b != nil {
		p.b.putByte(Plain, c)
	}
}

func (p *jsonPrinter) newline(ctx uint8) {
	if p.b != nil {
		p.b.newline(len(p.stack), ctx)
	}
}

func (p *jsonPrinter) ws() {
	for p.pos < len(p.data) && jsonSpace[p.data[p.pos]] {
		p.pos++
	}
}

func (p *jsonPrinter) errAt(what string) error {
	if p.pos >= len(p.data) {
		return &errJSONEnd{p.pos}
	}
	return fmt.Errorf("decode: json: invalid character %q %s at byte %d", p.data[p.pos], what, p.pos)
}

// run reads one value and the whitespace around it.
func (p *jsonPrinter) run() error {
	p.ws()
	for {
		if p.ctx != nil && p.pos >= p.next {
			if err := p.ctx.Err(); err != nil {
				return fmt.Errorf("decode: json: %w", err)
			}
			p.next = p.pos + checkEvery
		}
		opened, err := p.value()
		if err != nil {
			return err
		}
		if opened {
			continue
		}
	closing:
		for {
			p.ws()
			if len(p.stack) == 0 {
				if p.pos < len(p.data) {
					return p.errAt("after top-level value")
				}
				return nil
			}
			if p.pos >= len(p.data) {
				return &errJSONEnd{p.pos}
			}
			c, top := p.data[p.pos], p.stack[len(p.stack)-1]
			switch {
			case c == ',':
				p.pos++
				p.putByte(',')
				if top == '{' {
					p.newline(ctxKey)
					if err := p.key(); err != nil {
						return err
					}
				} else {
					p.newline(ctxValue)
					p.ws()
				}
				break closing
			case c == '}' && top == '{', c == ']' && top == '[':
				p.pos++
				p.stack = p.stack[:len(p.stack)-1]
				if c == '}' {
					p.newline(ctxCloseObj)
					p.putByte('}')
				} else {
					p.newline(ctxCloseArr)
					p.putByte(']')
				}
			default:
				return p.errAt("after " + map[byte]string{'{': "object member", '[': "array element"}[top])
			}
		}
	}
}

// value reads a value. For a non-empty object or array it reads the
// opening (and the first key) and reports opened.
func (p *jsonPrinter) value() (opened bool, err error) {
	if p.pos >= len(p.data) {
		return false, &errJSONEnd{p.pos}
	}
	switch c := p.data[p.pos]; c {
	case '{', '[':
		closer := byte('}')
		if c == '[' {
			closer = ']'
		}
		p.pos++
		p.ws()
		if p.pos < len(p.data) && p.data[p.pos] == closer {
			p.pos++
			p.putByte(c)
			p.putByte(closer)
			return false, nil
		}
		if len(p.stack) >= maxJSONDepth {
			return false, fmt.Errorf("decode: json: nesting deeper than %d at byte %d", maxJSONDepth, p.pos)
		}
		p.putByte(c)
		p.stack = append(p.stack, c)
		if c == '{' {
			p.newline(ctxKey)
			return true, p.key()
		}
		p.newline(ctxValue)
		return true, nil
	case '"':
		return false, p.str()
	case 't':
		return false, p.literal("true")
	case 'f':
		return false, p.literal("false")
	case 'n':
		return false, p.literal("null")
	default:
		if c == '-' || (c >= '0' && c <= '9') {
			return false, p.number()
		}
		return false, p.errAt("looking for a value")
	}
}

// key reads an object key and its colon.
func (p *jsonPrinter) key() error {
	p.ws()
	if p.pos >= len(p.data) || p.data[p.pos] != '"' {
		return p.errAt("looking for an object key")
	}
	if err := p.str(); err != nil {
		return err
	}
	p.ws()
	if p.pos >= len(p.data) || p.data[p.pos] != ':' {
		return p.errAt("after object key")
	}
	p.pos++
	p.puts(": ")
	p.ws()
	return nil
}

func (p *jsonPrinter) literal(word string) error {
	for k := 0; k < len(word); k++ {
		if p.pos >= len(p.data) || p.data[p.pos] != word[k] {
			return p.errAt("in literal " + word)
		}
		p.pos++
	}
	p.puts(word)
	return nil
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func (p *jsonPrinter) number() error {
	d := p.data
	start := p.pos
	digits := func() error {
		if p.pos >= len(d) || !isDigit(d[p.pos]) {
			return p.errAt("in number")
		}
		for p.pos < len(d) && isDigit(d[p.pos]) {
			p.pos++
		}
		return nil
	}
	if d[p.pos] == '-' {
		p.pos++
	}
	if p.pos < len(d) && d[p.pos] == '0' {
		p.pos++
	} else if err := digits(); err != nil {
		return err
	}
	if p.pos < len(d) && d[p.pos] == '.' {
		p.pos++
		if err := digits(); err != nil {
			return err
		}
	}
	if p.pos < len(d) && (d[p.pos] == 'e' || d[p.pos] == 'E') {
		p.pos++
		if p.pos < len(d) && (d[p.pos] == '+' || d[p.pos] == '-') {
			p.pos++
		}
		if err := digits(); err != nil {
			return err
		}
	}
	p.put(d[start:p.pos])
	return nil
}

func isHex(c byte) bool { return isDigit(c) || (c|0x20 >= 'a' && c|0x20 <= 'f') }

// str reads a string, copying its escapes as they are and making invalid
// UTF-8, DEL, C1 controls and bidirectional controls visible.
func (p *jsonPrinter) str() error {
	d := p.data
	run := p.pos
	p.pos++
	for {
		i := p.pos
		for i < len(d) && strSafe[d[i]] {
			i++
		}
		p.pos = i
		if i >= len(d) {
			return &errJSONEnd{i}
		}
		switch c := d[i]; {
		case c == '"':
			p.pos++
			p.put(d[run:p.pos])
			return nil
		case c == '\\':
			if i+1 >= len(d) {
				return &errJSONEnd{i + 1}
			}
			switch d[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				p.pos = i + 2
			case 'u':
				for k := i + 2; k < i+6; k++ {
					if k >= len(d) {
						return &errJSONEnd{k}
					}
					if !isHex(d[k]) {
						p.pos = k
						return p.errAt("in \\u escape")
					}
				}
				p.pos = i + 6
			default:
				p.pos = i + 1
				return p.errAt("in string escape")
			}
		case c < 0x20:
			return p.errAt("in string")
		case c == 0x7f:
			p.put(d[run:i])
			p.puts(`\u007f`)
			p.pos = i + 1
			run = p.pos
		default:
			r, size := utf8.DecodeRune(d[i:])
			switch {
			case r == utf8.RuneError && size == 1:
				p.put(d[run:i])
				p.puts("\uFFFD")
			case escapeRune(r):
				p.put(d[run:i])
				var e [6]byte
				p.put(appendU16(e[:0], r))
			default:
				p.pos = i + size
				continue
			}
			p.pos = i + size
			run = p.pos
		}
	}
}

// validJSON reports whether data is one JSON value. With prefix, data may
// end before the value does.
func validJSON(data []byte, prefix bool) bool {
	p := jsonPrinter{data: data}
	err := p.run()
	if err == nil {
		return true
	}
	var end *errJSONEnd
	return prefix && errors.As(err, &end) && end.at == len(data)
}

// formatJSON pretty-prints data, coloured by chroma when lines are read.
func formatJSON(ctx context.Context, data []byte, opts Options) (*lineDoc, error) {
	b := newBuilder(opts, false)
	b.adjust = jsonAdjust
	b.d.buf = make([]byte, 0, len(data)+len(data)/8+16)
	// A pretty-printed line ends at most commas and brackets; a string may
	// hold some too, which only makes the guess generous.
	lines := bytes.Count(data, []byte{','}) + 2*(bytes.Count(data, []byte{'{'})+bytes.Count(data, []byte{'['})) + 1
	b.d.starts = make([]uint32, 0, lines)
	b.d.info = make([]uint32, 0, lines)
	b.open = true
	p := jsonPrinter{b: b, data: data, ctx: ctx}
	if err := p.run(); err != nil {
		return nil, err
	}
	return b.doc(&jsonStyler{})
}

// isWordByte reports whether c can be part of a JSON number or literal.
func isWordByte(c byte) bool {
	return isDigit(c) || (c|0x20 >= 'a' && c|0x20 <= 'z') || c == '.' || c == '-' || c == '+'
}

// jsonAdjust moves a cut of a pretty-printed line back so that it does not
// split a number or literal, nor leave half an escape at the end of the
// visible string.
func jsonAdjust(line []byte, c int) int {
	in, esc := false, false
	for i := 0; i < c; i++ {
		switch {
		case esc:
			esc = false
		case !in:
			in = line[i] == '"'
		case line[i] == '\\':
			esc = true
		case line[i] == '"':
			in = false
		}
	}
	if in {
		if esc {
			return c - 1
		}
		return c
	}
	for c > 0 && c < len(line) && isWordByte(line[c-1]) && isWordByte(line[c]) {
		c--
	}
	return c
}

// jsonLexer is chroma's JSON lexer.
var jsonLexer = sync.OnceValue(func() chroma.Lexer { return lexers.Get("json") })

// jsonStyler colours pretty-printed JSON with chroma's JSON lexer, one
// logical line at a time: it lexes the line after a prefix that puts the
// lexer in the line's context (ctxPrefix), and keeps the spans of recent
// lines for the display lines a long line wraps into. Strings and numbers
// longer than shrinkOver bytes are lexed as a short stand-in, so that a
// line of 64 KiB costs as little as a short one.
type jsonStyler struct {
	mu    sync.Mutex
	cache [64]jsonCacheEntry
}

type jsonCacheEntry struct {
	first int    // first display line of the logical line, +1 (0: empty)
	spans []Span // relative to the start of the logical line
}

const shrinkOver = 64

func (j *jsonStyler) spans(d *lineDoc, i, s, e int, dst []Span) []Span {
	first := i
	for first > 0 && d.info[first]&infoCont != 0 {
		first--
	}
	last := i
	for last+1 < len(d.info) && d.info[last+1]&infoCont != 0 {
		last++
	}
	L, _ := d.bounds(first)
	_, E := d.bounds(last)

	slot := &j.cache[first%len(j.cache)]
	j.mu.Lock()
	var spans []Span
	if slot.first == first+1 {
		spans = slot.spans
	}
	j.mu.Unlock()
	if spans == nil {
		spans = lexJSONLine(d.buf[L:E], uint8(d.info[first]>>infoCtxShift&3), d.cuts[last] > 0)
		if hasError(spans) {
			// The text is valid JSON, so an error token means that one of
			// chroma's regular expressions ran out of time (250 ms, on a
			// machine too busy to give it any): lex once more.
			spans = lexJSONLine(d.buf[L:E], uint8(d.info[first]>>infoCtxShift&3), d.cuts[last] > 0)
		}
		j.mu.Lock()
		slot.first, slot.spans = first+1, spans
		j.mu.Unlock()
	}
	lo, hi := s-L, e-L
	for _, sp := range spans {
		a, b := max(sp.Start, lo), min(sp.End, hi)
		if a < b {
			dst = append(dst, Span{a - lo, b - lo, sp.Class})
		}
	}
	return dst
}

// lexJSONLine lexes one pretty-printed line in context ctx; cut tells that
// the line was cut, perhaps inside a string. The spans are relative to line.
func lexJSONLine(line []byte, ctx uint8, cut bool) (spans []Span) {
	lx := jsonLexer()
	if lx == nil {
		return []Span{}
	}
	prefix := ctxPrefix[ctx&3]
	var sb strings.Builder
	sb.Grow(len(prefix) + min(len(line), 4*shrinkOver) + 2)
	sb.WriteString(prefix)
	type shift struct{ at, delta int }
	var shifts []shift
	for i := 0; i < len(line); {
		if line[i] != '"' {
			j := i
			for j < len(line) && line[j] != '"' && !isWordByte(line[j]) {
				j++
			}
			k := j
			for k < len(line) && isWordByte(line[k]) {
				k++
			}
			sb.Write(line[i:j])
			if k-j > shrinkOver { // a long number: lex a short one
				sb.WriteByte('0')
				shifts = append(shifts, shift{sb.Len(), k - j - 1})
			} else {
				sb.Write(line[j:k])
			}
			i = k
			continue
		}
		j, esc := i+1, false
		for ; j < len(line); j++ {
			c := line[j]
			if esc {
				esc = false
			} else if c == '\\' {
				esc = true
			} else if c == '"' {
				break
			}
		}
		closed := j < len(line)
		interior := line[i+1 : j]
		sb.WriteByte('"')
		if len(interior) > shrinkOver {
			sb.WriteString("xxxxxxxx")
			shifts = append(shifts, shift{sb.Len(), len(interior) - 8})
		} else {
			sb.Write(interior)
		}
		if closed || cut {
			sb.WriteByte('"')
		}
		i = j + 1
	}
	orig := func(p int) int {
		p -= len(prefix)
		for _, s := range shifts {
			if p+len(prefix) >= s.at {
				p += s.delta
			}
		}
		return min(max(p, 0), len(line))
	}
	defer func() {
		if recover() != nil {
			spans = []Span{}
		}
	}()
	it, err := lx.Tokenise(&chroma.TokeniseOptions{State: "root", Nested: true}, sb.String())
	if err != nil {
		return []Span{}
	}
	spans = []Span{}
	pos := 0
	for tok := it(); tok != chroma.EOF; tok = it() {
		a, b := orig(pos), orig(pos+len(tok.Value))
		pos += len(tok.Value)
		if c := chromaClass(tok.Type); c != Plain && a < b {
			if n := len(spans); n > 0 && spans[n-1].End == a && spans[n-1].Class == c {
				spans[n-1].End = b
			} else {
				spans = append(spans, Span{a, b, c})
			}
		}
	}
	return spans
}

func hasError(spans []Span) bool {
	for _, s := range spans {
		if s.Class == Error {
			return true
		}
	}
	return false
}

// chromaClass maps a chroma token type to a Class.
func chromaClass(t chroma.TokenType) Class {
	switch {
	case t == chroma.NameTag:
		return Key
	case t == chroma.KeywordConstant:
		return Literal
	case t.InSubCategory(chroma.LiteralString):
		return String
	case t.InSubCategory(chroma.LiteralNumber):
		return Number
	case t == chroma.Punctuation:
		return Punct
	case t == chroma.Error:
		return Error
	}
	return Plain
}

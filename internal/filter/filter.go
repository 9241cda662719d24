package filter

import (
	"regexp"
	"strings"

	"github.com/tidwall/gjson"

	"github.com/wstap/wstap/capture"
)

// Msg is what a filter looks at: one message's facts and its payload.
type Msg struct {
	Dir        capture.Direction // who sent it (from:)
	Opcode     capture.Opcode    // the message's opcode (op:)
	Size       int64             // payload bytes (size); Data may hold fewer
	Data       []byte            // the payload (whole when the caller could read it; see NeedsPayload)
	Dropped    bool              // the proxy did not forward it (is:dropped)
	Incomplete bool              // it never finished, or its start was lost (is:incomplete)
	Compressed bool              // it was compressed on the wire (is:compressed)
}

// Expr is a parsed filter. The zero value and Parse("") match everything. An
// Expr is never modified after Parse, so it is safe for concurrent use by
// many goroutines (the inspector matches in parallel off its UI loop).
type Expr struct {
	eval    []term   // the terms, cheapest first
	canon   []string // each term's canonical text, in the order written
	payload bool     // some term reads Msg.Data
}

// Match reports whether m matches every term of e. A nil e matches every
// message; a nil m matches only an empty e.
func (e *Expr) Match(m *Msg) bool {
	if e == nil || len(e.eval) == 0 {
		return true
	}
	if m == nil {
		return false
	}
	var st matchState
	for i := range e.eval {
		t := &e.eval[i]
		if t.match(m, &st) == t.neg {
			return false
		}
	}
	return true
}

// NeedsPayload reports whether some term reads Data (regex, json, words);
// when false, Match looks only at the facts and the caller need not read
// payloads.
func (e *Expr) NeedsPayload() bool { return e != nil && e.payload }

// String returns e in canonical form (see the package documentation). It is
// re-parseable: Parse(e.String()) has the same String and matches the same
// messages. The empty expression is "".
func (e *Expr) String() string {
	if e == nil {
		return ""
	}
	return strings.Join(e.canon, " ")
}

// Empty reports whether e has no terms, and so matches everything.
func (e *Expr) Empty() bool { return e == nil || len(e.eval) == 0 }

// kind is the type of a term. The order is the order of evaluation: facts
// first, then the payload terms from cheapest to dearest.
type kind uint8

const (
	kindFrom   kind = iota // mask over capture.Direction
	kindOp                 // mask over capture.Opcode
	kindFlag               // flag
	kindSize               // cmp, num
	kindWord               // needle
	kindRegexp             // re
	kindJSON               // path, cmp, lit or re
)

// cmp is a comparison operator of a size or json term.
type cmp uint8

const (
	cmpExists cmp = iota // json:PATH
	cmpEq                // =
	cmpNe                // !=
	cmpLt                // <
	cmpLe                // <=
	cmpGt                // >
	cmpGe                // >=
	cmpRe                // ~ (json only)
)

var cmpText = [...]string{cmpExists: "", cmpEq: "=", cmpNe: "!=", cmpLt: "<", cmpLe: "<=", cmpGt: ">", cmpGe: ">=", cmpRe: "~"}

// flag names a boolean fact of a Msg, for is: terms.
type flag uint8

const (
	flagDropped flag = iota
	flagIncomplete
	flagCompressed
)

// term is one parsed term. Only the fields of its kind are set.
type term struct {
	kind   kind
	neg    bool
	cmp    cmp
	flag   flag
	fold   bool    // kindWord: needle holds an ASCII letter, so matching folds case
	mask   uint16  // kindFrom, kindOp: bit 1<<Dir or 1<<Opcode for each value that matches
	num    float64 // kindSize: bytes
	needle []byte  // kindWord: the word, ASCII lower-cased
	path   string  // kindJSON
	lit    literal // kindJSON with cmpEq, cmpNe
	re     *regexp.Regexp
}

// matchState carries what one Match call learns about the payload, so that
// several json terms validate it once.
type matchState struct {
	json int8 // 0 not yet known, 1 valid JSON, -1 not JSON
}

// match reports whether m satisfies t, ignoring t.neg.
func (t *term) match(m *Msg, st *matchState) bool {
	switch t.kind {
	case kindFrom:
		return t.mask&(1<<m.Dir) != 0 // a shift of 16 or more gives 0: no match
	case kindOp:
		return t.mask&(1<<m.Opcode) != 0
	case kindFlag:
		switch t.flag {
		case flagDropped:
			return m.Dropped
		case flagIncomplete:
			return m.Incomplete
		default:
			return m.Compressed
		}
	case kindSize:
		return compare(t.cmp, float64(m.Size), t.num)
	case kindWord:
		if !t.fold {
			return len(t.needle) == 0 || indexBytes(m.Data, t.needle)
		}
		return containsFold(m.Data, t.needle)
	case kindRegexp:
		return t.re.Match(m.Data)
	default:
		return t.matchJSON(m.Data, st)
	}
}

// compare reports whether a op b holds.
func compare(op cmp, a, b float64) bool {
	switch op {
	case cmpEq:
		return a == b
	case cmpNe:
		return a != b
	case cmpLt:
		return a < b
	case cmpLe:
		return a <= b
	case cmpGt:
		return a > b
	default:
		return a >= b
	}
}

// matchJSON evaluates a json term on a payload. The path is looked up and
// the value compared first: most payloads lack the path or fail the
// comparison, and then validating them is wasted work. A payload that is
// not valid JSON matches no json term, even where gjson would find the path
// in it (a truncated message, a JSON-like fragment).
func (t *term) matchJSON(data []byte, st *matchState) bool {
	r := gjson.GetBytes(data, t.path)
	if !r.Exists() {
		return false
	}
	var ok bool
	switch t.cmp {
	case cmpEq:
		ok = t.lit.equal(r)
	case cmpNe:
		ok = !t.lit.equal(r)
	case cmpRe:
		if r.Type == gjson.String {
			ok = t.re.MatchString(r.Str)
		} else {
			ok = t.re.MatchString(r.Raw)
		}
	default:
		ok = true
	}
	if !ok {
		return false
	}
	if st.json == 0 {
		st.json = -1
		if gjson.ValidBytes(data) {
			st.json = 1
		}
	}
	return st.json > 0
}

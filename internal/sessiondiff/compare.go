package sessiondiff

import (
	"bytes"
	"encoding/json"
	"fmt"
	"hash/maphash"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/tidwall/gjson"

	"github.com/wstap/wstap/capture"
)

// Options configures Compare, Fingerprint, Diff and Check. The zero value
// compares everything.
type Options struct {
	// Ignore lists the fields left out of every comparison: JSON fields of
	// text messages, and handshake fields (see Path). Default: none.
	Ignore []Path
	// MaxDistance bounds the alignment work of Diff: when a direction needs
	// more than MaxDistance insertions and deletions to turn A into B, the
	// part that differs is paired by position instead. 0 means 4096.
	MaxDistance int
}

// Change kinds.
const (
	KindChanged = "changed" // the value differs
	KindAdded   = "added"   // the field is only in B
	KindRemoved = "removed" // the field is only in A
	KindType    = "type"    // the JSON types differ (string and number, object and array …)
	KindText    = "text"    // non-JSON text differs (Offset is the first differing byte)
	KindBinary  = "binary"  // a binary payload differs (Offset is the first differing byte)
	KindOpcode  = "opcode"  // one message is text, the other binary
)

// Change is one difference inside a message, or in the handshake.
type Change struct {
	// Path names the field in GJSON syntax ("user.name", "items.2",
	// "request.User-Agent"); "" for the whole message.
	Path string
	// Kind is one of the Kind* constants.
	Kind string
	// A and B are the values as compact JSON text (changed, type; one of
	// them is "" for added and removed), or a short description: an
	// excerpt from Offset for text, the size and a hex excerpt from Offset
	// for binary, the opcode's name for opcode.
	A, B string
	// Offset is the first differing byte, for text and binary.
	Offset int
}

// maxDepth is how deep into nested JSON values Compare and Fingerprint go
// field by field; deeper values are compared as whole texts.
const maxDepth = 200

// seed keys the fingerprint hash. Fingerprints are comparable within one
// process only.
var seed = maphash.MakeSeed()

// Compare compares two messages. When both are text and valid JSON, it
// compares field by field: objects by key in any order, arrays by index,
// numbers by value (1.0 equals 1), strings after unescaping, leaving out
// opts.Ignore; one Change per differing field, objects' keys in A's order,
// then the keys only in B. Other text is equal or one Change of kind text
// at the first differing byte, with an excerpt of each side; binary
// payloads give one Change of kind binary with their sizes and the first
// differing byte. Messages of different opcodes give an opcode Change, and
// a binary one when their bytes differ too. Compare returns nil when the
// messages are equal.
func Compare(a, b Message, opts Options) []Change {
	return newComparer(opts).compare(&a, &b)
}

// Fingerprint hashes a message for alignment: its opcode and payload, with
// JSON payloads canonicalised (keys sorted, numbers by value, strings
// unescaped) and the ignored paths removed. Messages that Compare finds
// equal have equal fingerprints; messages with equal fingerprints are equal
// but for a hash collision (one in 2⁶⁴). Fingerprints are comparable only
// within one process.
func Fingerprint(m Message, opts Options) uint64 {
	return newComparer(opts).fingerprint(&m)
}

// comparer holds what Compare and Fingerprint derive from Options.
type comparer struct {
	ig *ignorer
}

func newComparer(opts Options) *comparer {
	return &comparer{ig: newIgnorer(opts.Ignore)}
}

func (c *comparer) compare(a, b *Message) []Change {
	if a.Opcode != b.Opcode {
		out := []Change{{Kind: KindOpcode, A: a.Opcode.String(), B: b.Opcode.String()}}
		if !bytes.Equal(a.Data, b.Data) {
			out = append(out, binaryChange(a.Data, b.Data))
		}
		return out
	}
	if bytes.Equal(a.Data, b.Data) {
		return nil
	}
	if a.Opcode != capture.OpText {
		return []Change{binaryChange(a.Data, b.Data)}
	}
	if gjson.ValidBytes(a.Data) && gjson.ValidBytes(b.Data) {
		w := walk{ig: c.ig}
		w.value(c.ig.root(), gjson.ParseBytes(a.Data), gjson.ParseBytes(b.Data))
		return w.out
	}
	return []Change{textChange(a.Data, b.Data)}
}

// walk compares two JSON values field by field.
type walk struct {
	ig     *ignorer
	fields []string // the field path of the values being compared
	out    []Change
}

func (w *walk) add(kind string, a, b gjson.Result) {
	c := Change{Path: joinPath(w.fields), Kind: kind}
	if a.Exists() {
		c.A = compact(a.Raw)
	}
	if b.Exists() {
		c.B = compact(b.Raw)
	}
	w.out = append(w.out, c)
}

// value compares a and b, which are at w.fields; l is the live ignore set
// there.
func (w *walk) value(l live, a, b gjson.Result) {
	ta, tb := jsonType(a), jsonType(b)
	if ta != tb {
		w.add(KindType, a, b)
		return
	}
	if len(w.fields) >= maxDepth {
		if compact(a.Raw) != compact(b.Raw) {
			w.add(KindChanged, a, b)
		}
		return
	}
	switch ta {
	case "boolean":
		if a.Type != b.Type {
			w.add(KindChanged, a, b)
		}
	case "number":
		if canonNumber(a.Raw) != canonNumber(b.Raw) {
			w.add(KindChanged, a, b)
		}
	case "string":
		if a.Str != b.Str {
			w.add(KindChanged, a, b)
		}
	case "object":
		am, bm := members(a), members(b)
		bi := make(map[string]int, len(bm))
		for i, m := range bm {
			bi[m.key] = i
		}
		seen := make(map[string]bool, len(am))
		for _, m := range am {
			seen[m.key] = true
			ignored, next := w.ig.step(l, len(w.fields), m.key, false)
			if ignored {
				continue
			}
			w.fields = append(w.fields, m.key)
			if i, ok := bi[m.key]; ok {
				w.value(next, m.val, bm[i].val)
			} else {
				w.add(KindRemoved, m.val, gjson.Result{})
			}
			w.fields = w.fields[:len(w.fields)-1]
		}
		for _, m := range bm {
			if seen[m.key] {
				continue
			}
			if ignored, _ := w.ig.step(l, len(w.fields), m.key, false); ignored {
				continue
			}
			w.fields = append(w.fields, m.key)
			w.add(KindAdded, gjson.Result{}, m.val)
			w.fields = w.fields[:len(w.fields)-1]
		}
	case "array":
		aa, ba := a.Array(), b.Array()
		for i := range max(len(aa), len(ba)) {
			k := strconv.Itoa(i)
			ignored, next := w.ig.step(l, len(w.fields), k, true)
			if ignored {
				continue
			}
			w.fields = append(w.fields, k)
			switch {
			case i >= len(ba):
				w.add(KindRemoved, aa[i], gjson.Result{})
			case i >= len(aa):
				w.add(KindAdded, gjson.Result{}, ba[i])
			default:
				w.value(next, aa[i], ba[i])
			}
			w.fields = w.fields[:len(w.fields)-1]
		}
	}
}

// member is one key of a JSON object.
type member struct {
	key string
	val gjson.Result
}

// members returns the keys of an object in order, each once: a repeated
// key keeps its first value, as GJSON's lookups do.
func members(o gjson.Result) []member {
	var ms []member
	var seen map[string]bool // for large objects; small ones are searched
	o.ForEach(func(k, v gjson.Result) bool {
		if len(ms) == 16 && seen == nil {
			seen = make(map[string]bool, 32)
			for _, m := range ms {
				seen[m.key] = true
			}
		}
		if seen != nil {
			if seen[k.Str] {
				return true
			}
			seen[k.Str] = true
		} else if slices.ContainsFunc(ms, func(m member) bool { return m.key == k.Str }) {
			return true
		}
		ms = append(ms, member{k.Str, v})
		return true
	})
	return ms
}

// jsonType names the JSON type of a value.
func jsonType(r gjson.Result) string {
	switch r.Type {
	case gjson.Null:
		return "null"
	case gjson.True, gjson.False:
		return "boolean"
	case gjson.Number:
		return "number"
	case gjson.String:
		return "string"
	}
	if r.IsArray() {
		return "array"
	}
	return "object"
}

// typeOfText names the JSON type of compact JSON text, by its first byte.
func typeOfText(s string) string {
	if s == "" {
		return ""
	}
	switch s[0] {
	case 'n':
		return "null"
	case 't', 'f':
		return "boolean"
	case '"':
		return "string"
	case '{':
		return "object"
	case '[':
		return "array"
	}
	return "number"
}

// compact returns JSON text without insignificant white space.
func compact(raw string) string {
	var b bytes.Buffer
	if err := json.Compact(&b, []byte(raw)); err != nil {
		return strings.TrimSpace(raw) // not reached: the text was validated
	}
	return b.String()
}

// joinPath writes a field path in GJSON syntax.
func joinPath(fields []string) string {
	var b strings.Builder
	for i, f := range fields {
		if i > 0 {
			b.WriteByte('.')
		}
		b.WriteString(gjson.Escape(f))
	}
	return b.String()
}

// canonNumber returns a canonical form of a JSON number's text, so that two
// numbers of the same value have the same form however they are written:
// "1", "1.0", "1e0", "10E-1" and "0.1e1" are all "1e0"; "-0" is "0". It is
// exact: no float rounding.
func canonNumber(raw string) string {
	s := raw
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	mant, exp := s, ""
	if i := strings.IndexAny(s, "eE"); i >= 0 {
		mant, exp = s[:i], s[i+1:]
	}
	intPart, frac, _ := strings.Cut(mant, ".")
	digits := strings.TrimLeft(intPart+frac, "0")
	e := -len(frac)
	if exp != "" {
		x, err := strconv.Atoi(exp)
		if err != nil || x > 1<<40 || x < -1<<40 {
			return raw // an exponent beyond any real use: compare as written
		}
		e += x
	}
	if digits == "" {
		return "0"
	}
	trimmed := strings.TrimRight(digits, "0")
	e += len(digits) - len(trimmed)
	sign := ""
	if neg {
		sign = "-"
	}
	return sign + trimmed + "e" + strconv.Itoa(e)
}

// textChange describes two texts that differ, at their first differing
// byte.
func textChange(a, b []byte) Change {
	off := firstDiff(a, b)
	return Change{Kind: KindText, A: excerpt(a, off), B: excerpt(b, off), Offset: off}
}

// binaryChange describes two binary payloads that differ: their sizes and
// a few bytes from the first that differs.
func binaryChange(a, b []byte) Change {
	off := firstDiff(a, b)
	return Change{Kind: KindBinary, A: hexExcerpt(a, off), B: hexExcerpt(b, off), Offset: off}
}

func firstDiff(a, b []byte) int {
	n := min(len(a), len(b))
	for i := range n {
		if a[i] != b[i] {
			return i
		}
	}
	return n
}

// excerpt is the text around byte off, escaped: up to 8 bytes before it
// and 16 from it, with "…" where it is cut.
func excerpt(p []byte, off int) string {
	lo, hi := max(0, off-8), min(len(p), off+16)
	for lo > 0 && !utf8.RuneStart(p[lo]) {
		lo--
	}
	for hi < len(p) && !utf8.RuneStart(p[hi]) {
		hi++
	}
	s := escape(string(p[lo:hi]), 1<<30)
	if lo > 0 {
		s = "…" + s
	}
	if hi < len(p) {
		s += "…"
	}
	return s
}

// hexExcerpt is "N bytes", and up to 4 bytes from off in hex.
func hexExcerpt(p []byte, off int) string {
	if off >= len(p) {
		return fmt.Sprintf("%d bytes, ending there", len(p))
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d bytes: ", len(p))
	end := min(len(p), off+4)
	for i, c := range p[off:end] {
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%02x", c)
	}
	if end < len(p) {
		b.WriteString(" …")
	}
	return b.String()
}

// fingerprint hashes m (see Fingerprint).
func (c *comparer) fingerprint(m *Message) uint64 {
	var h maphash.Hash
	h.SetSeed(seed)
	h.WriteByte(byte(m.Opcode))
	if m.Opcode == capture.OpText && gjson.ValidBytes(m.Data) {
		h.WriteByte('j')
		c.hashValue(&h, c.ig.root(), 0, gjson.ParseBytes(m.Data))
	} else {
		h.WriteByte('r')
		h.Write(m.Data)
	}
	return h.Sum64()
}

// hashString writes s with its length, so that concatenations cannot
// collide.
func hashString(h *maphash.Hash, s string) {
	var n [binaryLen]byte
	putLen(n[:], len(s))
	h.Write(n[:])
	h.WriteString(s)
}

const binaryLen = 8

func putLen(b []byte, n int) {
	for i := range binaryLen {
		b[i] = byte(n >> (8 * i))
	}
}

// hashValue writes the canonical form of v, at depth with live set l, into
// h. It mirrors walk.value: what the walk finds equal hashes alike.
func (c *comparer) hashValue(h *maphash.Hash, l live, depth int, v gjson.Result) {
	t := jsonType(v)
	hashString(h, t)
	if depth >= maxDepth {
		hashString(h, compact(v.Raw))
		return
	}
	switch t {
	case "boolean":
		h.WriteByte(byte(v.Type))
	case "number":
		hashString(h, canonNumber(v.Raw))
	case "string":
		hashString(h, v.Str)
	case "object":
		ms := members(v)
		slices.SortFunc(ms, func(a, b member) int { return strings.Compare(a.key, b.key) })
		for _, m := range ms {
			ignored, next := c.ig.step(l, depth, m.key, false)
			if ignored {
				continue
			}
			h.WriteByte(':')
			hashString(h, m.key)
			c.hashValue(h, next, depth+1, m.val)
		}
		h.WriteByte('}')
	case "array":
		i := 0
		v.ForEach(func(_, e gjson.Result) bool {
			k := strconv.Itoa(i)
			i++
			ignored, next := c.ig.step(l, depth, k, true)
			if ignored {
				return true
			}
			h.WriteByte(',')
			hashString(h, k)
			c.hashValue(h, next, depth+1, e)
			return true
		})
		h.WriteByte(']')
	}
}

// discriminators are the keys that usually say what kind of message a JSON
// object is, in the order they are looked for.
var discriminators = []string{"type", "op", "event", "method", "action", "kind", "cmd"}

// kindKey says what kind of message m is, for pairing deletions with
// insertions as Changed: its opcode and, for a JSON object, the value of
// its first discriminator key, or else its set of keys.
func kindKey(m *Message) string {
	key := m.Opcode.String()
	if m.Opcode != capture.OpText || !gjson.ValidBytes(m.Data) {
		return key
	}
	v := gjson.ParseBytes(m.Data)
	if !v.IsObject() {
		return key
	}
	ms := members(v)
	for _, d := range discriminators {
		for _, m := range ms {
			if m.key == d && !m.val.IsObject() && !m.val.IsArray() {
				return key + "\x00" + d + "=" + compact(m.val.Raw)
			}
		}
	}
	keys := make([]string, len(ms))
	for i, m := range ms {
		keys[i] = m.key
	}
	slices.Sort(keys)
	return key + "\x00{" + strings.Join(keys, "\x00")
}

package replay

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/tidwall/gjson"
	"github.com/tidwall/sjson"

	"github.com/wstap/wstap/capture"
)

// Value is what an extraction took from a message.
type Value struct {
	Str string // the value as text: a JSON string's contents, a number's digits
	Raw string // the value as JSON: a string quoted, a number or object as it was
}

// Vars holds the values extracted in one run, by name. The connections of
// a run share them: a token one connection receives may be used by the
// next one's handshake. It is safe for concurrent use.
type Vars struct {
	mu      sync.Mutex
	vals    map[string]Value
	matched map[string]int
	changed chan struct{} // closed and replaced on every change
}

// NewVars returns an empty set of values.
func NewVars() *Vars {
	return &Vars{vals: map[string]Value{}, matched: map[string]int{}, changed: make(chan struct{})}
}

// Get returns the newest value of name.
func (v *Vars) Get(name string) (Value, bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	val, ok := v.vals[name]
	return val, ok
}

// Set records a new value of name.
func (v *Vars) Set(name string, val Value) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.vals[name] = val
	v.matched[name]++
	close(v.changed)
	v.changed = make(chan struct{})
}

// Matched says how many times name was extracted.
func (v *Vars) Matched(name string) int {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.matched[name]
}

// Names returns the names that have a value, sorted.
func (v *Vars) Names() []string {
	v.mu.Lock()
	defer v.mu.Unlock()
	return slices.Sorted(maps.Keys(v.vals))
}

// wait returns a channel that is closed at the next change.
func (v *Vars) wait() <-chan struct{} {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.changed
}

// lookup is how templates read values: a map in tests, Vars.Get in a run.
type lookup func(name string) (Value, bool)

// Extract takes a value from messages, by gjson path or by a regular
// expression with one group: NAME=PATH or NAME=/REGEX/.
type Extract struct {
	Name string
	Path string         // a gjson path; "" when Re is set
	Re   *regexp.Regexp // the /REGEX/ form
}

var nameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// ParseExtract parses NAME=PATH, where PATH is a gjson path or /REGEX/.
func ParseExtract(s string) (Extract, error) {
	name, path, ok := strings.Cut(s, "=")
	if !ok {
		return Extract{}, fmt.Errorf("--extract %q: want NAME=PATH (a gjson path or /regex/ with one group)", s)
	}
	if !nameRE.MatchString(name) {
		return Extract{}, fmt.Errorf("--extract %q: the name %q must be letters, digits and _, not starting with a digit", s, name)
	}
	if path == "" {
		return Extract{}, fmt.Errorf("--extract %q: the path is empty", s)
	}
	e := Extract{Name: name}
	if len(path) >= 2 && path[0] == '/' && path[len(path)-1] == '/' {
		re, err := regexp.Compile(path[1 : len(path)-1])
		if err != nil {
			return Extract{}, fmt.Errorf("--extract %q: %w", s, err)
		}
		if re.NumSubexp() != 1 {
			return Extract{}, fmt.Errorf("--extract %q: the regular expression must have exactly one (group), it has %d", s, re.NumSubexp())
		}
		e.Re = re
		return e, nil
	}
	e.Path = path
	return e, nil
}

// From applies the extraction to one message's payload.
func (e Extract) From(data []byte) (Value, bool) {
	if e.Re != nil {
		m := e.Re.FindSubmatch(data)
		if m == nil || m[1] == nil {
			return Value{}, false
		}
		return stringValue(string(m[1])), true
	}
	if !gjson.ValidBytes(data) {
		return Value{}, false
	}
	r := gjson.GetBytes(data, e.Path)
	if !r.Exists() {
		return Value{}, false
	}
	return Value{Str: r.String(), Raw: r.Raw}, true
}

func stringValue(s string) Value {
	raw, _ := json.Marshal(s)
	return Value{Str: s, Raw: string(raw)}
}

// varRE finds ${NAME} in templates.
var varRE = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)

// TemplateNames lists the ${NAME}s a template uses.
func TemplateNames(t string) []string {
	var out []string
	for _, m := range varRE.FindAllStringSubmatch(t, -1) {
		if !slices.Contains(out, m[1]) {
			out = append(out, m[1])
		}
	}
	return out
}

// errUnset is returned when a template uses a value not extracted yet.
type errUnset struct{ name string }

func (e *errUnset) Error() string { return "${" + e.name + "} has not been extracted yet" }

// expand replaces each ${NAME} of t with esc(value).
func expand(t string, get lookup, esc func(Value) string) (string, error) {
	var err error
	out := varRE.ReplaceAllStringFunc(t, func(m string) string {
		name := m[2 : len(m)-1]
		v, ok := get(name)
		if !ok {
			if err == nil {
				err = &errUnset{name}
			}
			return m
		}
		return esc(v)
	})
	return out, err
}

// Set replaces the value at an sjson path with a JSON literal, in every
// message that has the path: PATH=JSON.
type Set struct {
	Path  string
	Value string // JSON, possibly with ${NAME}s
}

// ParseSet parses PATH=JSON. The first = not escaped by a backslash ends
// the path.
func ParseSet(s string) (Set, error) {
	i := 0
	for ; i < len(s); i++ {
		if s[i] == '\\' {
			i++
			continue
		}
		if s[i] == '=' {
			break
		}
	}
	if i >= len(s) {
		return Set{}, fmt.Errorf("--set %q: want PATH=JSON, for example user.name=\"ann\"", s)
	}
	set := Set{Path: s[:i], Value: s[i+1:]}
	if set.Path == "" {
		return Set{}, fmt.Errorf("--set %q: the path is empty", s)
	}
	// Check the literal now, with every ${NAME} standing in for a string.
	probe, _ := expand(set.Value, func(string) (Value, bool) { return stringValue("x"), true }, setEscape(set.Value))
	if !json.Valid([]byte(probe)) {
		return Set{}, fmt.Errorf("--set %q: %s is not a JSON value (quote strings: %s=%q)", s, set.Value, set.Path, set.Value)
	}
	return set, nil
}

// setEscape says how a value goes into a --set literal: a template that is
// exactly ${NAME} takes the value as it was (a number stays a number);
// inside a literal, ${NAME} stands for the text, escaped for a JSON string.
func setEscape(t string) func(Value) string {
	if m := varRE.FindStringIndex(t); m != nil && m[0] == 0 && m[1] == len(t) {
		return func(v Value) string { return v.Raw }
	}
	return func(v Value) string {
		q, _ := json.Marshal(v.Str)
		return string(q[1 : len(q)-1])
	}
}

// apply sets the path in data, if data is JSON that has it.
func (s Set) apply(data []byte, get lookup) ([]byte, bool, error) {
	if !gjson.ValidBytes(data) || !gjson.GetBytes(data, s.Path).Exists() {
		return data, false, nil
	}
	val, err := expand(s.Value, get, setEscape(s.Value))
	if err != nil {
		return data, false, err
	}
	if !json.Valid([]byte(val)) {
		return data, false, fmt.Errorf("--set %s=%s: with the extracted values it reads %s, which is not JSON", s.Path, s.Value, val)
	}
	out, err := sjson.SetRawBytes(slices.Clone(data), s.Path, []byte(val))
	if err != nil {
		return data, false, fmt.Errorf("--set %s: %w", s.Path, err)
	}
	return out, !bytes.Equal(out, data), nil
}

// Sub replaces every match of a regular expression in text messages:
// REGEX=>REPL, where REPL may use $1 and ${NAME}.
type Sub struct {
	Re   *regexp.Regexp
	Repl string
}

// ParseSub parses REGEX=>REPL, split at the first =>.
func ParseSub(s string) (Sub, error) {
	pat, repl, ok := strings.Cut(s, "=>")
	if !ok {
		return Sub{}, fmt.Errorf("--sub %q: want 'REGEX=>REPLACEMENT'", s)
	}
	if pat == "" {
		return Sub{}, fmt.Errorf("--sub %q: the regular expression is empty", s)
	}
	re, err := regexp.Compile(pat)
	if err != nil {
		return Sub{}, fmt.Errorf("--sub %q: %w", s, err)
	}
	return Sub{Re: re, Repl: repl}, nil
}

// apply substitutes in data. A value from ${NAME} is literal text: its $
// signs are not group references.
func (s Sub) apply(data []byte, get lookup) ([]byte, bool, error) {
	if !s.Re.Match(data) {
		return data, false, nil
	}
	repl, err := expand(s.Repl, get, func(v Value) string { return strings.ReplaceAll(v.Str, "$", "$$") })
	if err != nil {
		return data, false, err
	}
	out := s.Re.ReplaceAll(data, []byte(repl))
	return out, !bytes.Equal(out, data), nil
}

// Range is a span of message numbers, From to To inclusive (To 0: no end).
type Range struct{ From, To int }

// ParseRanges parses a list of numbers and spans: "3", "2-5", "7-", "1,3-5".
func ParseRanges(s string) ([]Range, error) {
	var out []Range
	for part := range strings.SplitSeq(s, ",") {
		part = strings.TrimSpace(part)
		lo, hi, span := strings.Cut(part, "-")
		a, err := strconv.Atoi(lo)
		if err != nil || a < 1 {
			return nil, fmt.Errorf("%q: want message numbers from 1, like 3, 2-5, 7- or 1,3-5", s)
		}
		r := Range{From: a, To: a}
		if span {
			r.To = 0
			if hi != "" {
				b, err := strconv.Atoi(hi)
				if err != nil || b < a {
					return nil, fmt.Errorf("%q: %q is not a span of message numbers (want N-M with M ≥ N)", s, part)
				}
				r.To = b
			}
		}
		out = append(out, r)
	}
	return out, nil
}

func (r Range) has(n int) bool { return n >= r.From && (r.To == 0 || n <= r.To) }

// Edits are the changes a replay makes to the client's messages (a mock
// server: to its own).
type Edits struct {
	Sets []Set
	Subs []Sub
	Drop []Range // messages not sent
	Only []Range // when set, only these are sent
}

// Sends reports whether message n (1-based among its side's steps) is sent.
func (e *Edits) Sends(n int) bool {
	if e == nil {
		return true
	}
	if len(e.Only) > 0 && !slices.ContainsFunc(e.Only, func(r Range) bool { return r.has(n) }) {
		return false
	}
	return !slices.ContainsFunc(e.Drop, func(r Range) bool { return r.has(n) })
}

// Names lists the ${NAME}s the edits use.
func (e *Edits) Names() []string {
	if e == nil {
		return nil
	}
	var out []string
	for _, s := range e.Sets {
		out = append(out, TemplateNames(s.Value)...)
	}
	for _, s := range e.Subs {
		out = append(out, TemplateNames(s.Repl)...)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// Apply runs the --set and --sub edits over one payload. Sets apply to
// JSON text messages that have the path, subs to text messages. An edit
// that needs a value not extracted yet is skipped, and said in skipped.
func (e *Edits) Apply(data []byte, op capture.Opcode, get lookup) (out []byte, changed bool, skipped []string, err error) {
	out = data
	if e == nil || op != capture.OpText {
		return out, false, nil, nil
	}
	note := func(err error) error {
		var u *errUnset
		if errors.As(err, &u) {
			skipped = append(skipped, err.Error())
			return nil
		}
		return err
	}
	for _, s := range e.Sets {
		next, ch, err := s.apply(out, get)
		if err = note(err); err != nil {
			return data, false, skipped, err
		}
		out, changed = next, changed || ch
	}
	for _, s := range e.Subs {
		next, ch, err := s.apply(out, get)
		if err = note(err); err != nil {
			return data, false, skipped, err
		}
		out, changed = next, changed || ch
	}
	return out, changed, skipped, nil
}

// correlate replaces, in a message, the value an extraction had in the
// recording with the value it has in this run: the session id the
// recorded client sent back becomes the one the new server handed out.
// Only values of minCorrelate characters or more are replaced, so that a
// short value ("1", "ok") never changes an unrelated field. In JSON text
// the value is matched and replaced JSON-escaped.
func correlate(data []byte, old, cur Value) []byte {
	if len(old.Str) < minCorrelate || old.Str == cur.Str {
		return data
	}
	from, to := []byte(old.Str), []byte(cur.Str)
	if gjson.ValidBytes(data) {
		f, _ := json.Marshal(old.Str)
		t, _ := json.Marshal(cur.Str)
		from, to = f[1:len(f)-1], t[1:len(t)-1]
	}
	return bytes.ReplaceAll(data, from, to)
}

// minCorrelate is the shortest recorded value correlate replaces.
const minCorrelate = 6

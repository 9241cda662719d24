package sessiondiff

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/wstap/wstap/capture"
)

// Text layout.
const (
	lineWidth  = 80 // columns an entry line is cut to fit
	valueWidth = 40 // columns of one value in a change
	maxShown   = 8  // changes listed under one message; the rest are counted
)

// ANSI colours, used only when asked for.
const (
	ansiReset  = "\x1b[0m"
	ansiBold   = "\x1b[1m"
	ansiRed    = "\x1b[31m"
	ansiGreen  = "\x1b[32m"
	ansiYellow = "\x1b[33m"
)

// printer writes lines, coloured or not, and remembers the first error.
type printer struct {
	w     *bufio.Writer
	color bool
}

func newPrinter(w io.Writer, color bool) *printer {
	return &printer{w: bufio.NewWriter(w), color: color}
}

// line writes s and a newline, wrapped in the colour code when colour is
// on. The text is the same with colour off, without the escapes.
func (p *printer) line(code, s string) {
	if p.color && code != "" {
		p.w.WriteString(code + s + ansiReset + "\n")
		return
	}
	p.w.WriteString(s + "\n")
}

func (p *printer) flush() error { return p.w.Flush() }

// WriteText writes the result as a diff for people: a header naming A and
// B, the handshake's differences (only if there are any), then for each
// direction a line of counts and one entry for each message that is not the
// same:
//
//	~ #3 ↔ #3  user.name: "ann" → "bob"     changed (more changes go on lines below)
//	+ #7 only in B: {"type":"ping"}         inserted
//	- #5 only in A: {"type":"pong"}         missing
//	↕ #4 → #6 reordered: {"type":"join"}    the same message, elsewhere
//
// then the timing of both sessions (each gap is named by the message that
// came after it), and a last line that says whether they
// differ. With color, lines carry ANSI colours (red A, green B, yellow
// changed, bold headings); without, the text is the same, byte for byte,
// without the escapes.
func (r *Result) WriteText(w io.Writer, color bool) error {
	p := newPrinter(w, color)
	p.line(ansiBold+ansiRed, "--- "+sessionTitle(r.A))
	p.line(ansiBold+ansiGreen, "+++ "+sessionTitle(r.B))
	if len(r.Handshake) > 0 {
		p.line(ansiBold, fmt.Sprintf("handshake: %s", plural(len(r.Handshake), "difference")))
		for _, c := range r.Handshake {
			code, mark := ansiYellow, "~"
			switch c.Kind {
			case KindAdded:
				code, mark = ansiGreen, "+"
			case KindRemoved:
				code, mark = ansiRed, "-"
			}
			p.line(code, "  "+mark+" "+formatChange(c))
		}
	}
	p.ops("client→server", r.Client)
	p.ops("server→client", r.Server)
	p.timing(&r.Timing)
	total := Count(r.Client).add(Count(r.Server))
	if r.Same() {
		p.line(ansiBold, "sessions are the same")
	} else {
		s := fmt.Sprintf("sessions differ: %d changed, %d inserted, %d missing, %d reordered",
			total.Changed, total.Inserted, total.Missing, total.Reordered)
		if len(r.Handshake) > 0 {
			s += ", handshake"
		}
		p.line(ansiBold, s)
	}
	return p.flush()
}

// WriteOps writes the entries of the ops that are not Same, as WriteText
// does, after a line of counts headed dir ("server→client") unless dir is
// "". replay --check prints the messages that diverged with it.
func WriteOps(w io.Writer, dir string, ops []Op, color bool) error {
	p := newPrinter(w, color)
	if dir != "" {
		p.ops(dir, ops)
	} else {
		p.entries(ops)
	}
	return p.flush()
}

func sessionTitle(s *Session) string {
	t := s.Name
	if s.URL != "" {
		t += "  " + escape(s.URL, lineWidth)
	}
	return t
}

// ops writes a direction's count line and entries.
func (p *printer) ops(dir string, ops []Op) {
	c := Count(ops)
	parts := []string{fmt.Sprintf("%d same", c.Same)}
	for _, n := range []struct {
		n    int
		what string
	}{{c.Changed, "changed"}, {c.Inserted, "inserted"}, {c.Missing, "missing"}, {c.Reordered, "reordered"}} {
		if n.n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n.n, n.what))
		}
	}
	p.line(ansiBold, fmt.Sprintf("%s: %d vs %d messages: %s", dir, c.A, c.B, strings.Join(parts, ", ")))
	p.entries(ops)
}

// entries writes one entry for each op that is not Same.
func (p *printer) entries(ops []Op) {
	for _, op := range ops {
		switch op.Kind {
		case Changed:
			head := fmt.Sprintf("  ~ #%d ↔ #%d  ", op.A.Index, op.B.Index)
			if len(op.Changes) == 1 {
				p.line(ansiYellow, head+formatChange(op.Changes[0]))
				continue
			}
			p.line(ansiYellow, head+plural(len(op.Changes), "change"))
			for i, c := range op.Changes {
				if i == maxShown {
					p.line(ansiYellow, fmt.Sprintf("      … %d more", len(op.Changes)-maxShown))
					break
				}
				p.line(ansiYellow, "      "+formatChange(c))
			}
		case Inserted:
			p.line(ansiGreen, withPreview(fmt.Sprintf("  + #%d only in B: ", op.B.Index), op.B))
		case Missing:
			p.line(ansiRed, withPreview(fmt.Sprintf("  - #%d only in A: ", op.A.Index), op.A))
		case Reordered:
			p.line(ansiYellow, withPreview(fmt.Sprintf("  ↕ #%d → #%d reordered: ", op.A.Index, op.B.Index), op.A))
		}
	}
}

// withPreview appends a preview of m's payload to head, cut so that the
// line fits lineWidth columns.
func withPreview(head string, m *Message) string {
	return head + preview(m, max(20, lineWidth-utf8.RuneCountInString(head)))
}

// preview shows a payload in at most width columns: text escaped, binary
// as hex.
func preview(m *Message, width int) string {
	if len(m.Data) == 0 {
		return "(empty)"
	}
	if m.Opcode == capture.OpText {
		return escape(string(m.Data), width)
	}
	var b strings.Builder
	n := 0
	for i, c := range m.Data {
		piece := fmt.Sprintf("%02x", c)
		if i > 0 {
			piece = " " + piece
		}
		// A cut preview ends in " …": leave room for it unless this is
		// the last byte.
		last := i == len(m.Data)-1
		if n+len(piece) > width || (!last && n+len(piece) > width-2) {
			b.WriteString(" …")
			break
		}
		b.WriteString(piece)
		n += len(piece)
	}
	return b.String()
}

// formatChange writes one change on one line.
func formatChange(c Change) string {
	path := c.Path
	if path == "" {
		path = "(root)"
	}
	a, b := escape(c.A, valueWidth), escape(c.B, valueWidth)
	switch c.Kind {
	case KindAdded:
		return path + ": added " + b
	case KindRemoved:
		return path + ": removed " + a
	case KindType:
		return fmt.Sprintf("%s: %s → %s (%s → %s)", path, a, b, typeOfText(c.A), typeOfText(c.B))
	case KindText:
		return fmt.Sprintf("text at byte %d: \"%s\" → \"%s\"", c.Offset, a, b)
	case KindBinary:
		return fmt.Sprintf("binary at byte %d: %s → %s", c.Offset, a, b)
	case KindOpcode:
		return "opcode: " + a + " → " + b
	}
	return path + ": " + a + " → " + b
}

// timing writes the timing section.
func (p *printer) timing(t *Timing) {
	p.line(ansiBold, "timing:")
	p.line("", fmt.Sprintf("  duration: %s → %s", duration(t.A.Duration), duration(t.B.Duration)))
	p.line("", fmt.Sprintf("  client→server: %s → %s", rate(t.A.Client), rate(t.B.Client)))
	p.line("", fmt.Sprintf("  server→client: %s → %s", rate(t.A.Server), rate(t.B.Server)))
	for _, side := range []struct {
		name string
		gaps []Gap
	}{{"A", t.A.Gaps}, {"B", t.B.Gaps}} {
		if len(side.gaps) == 0 {
			continue
		}
		parts := make([]string, len(side.gaps))
		for i, g := range side.gaps {
			parts[i] = fmt.Sprintf("%s before %s", duration(g.Length), g.Before)
		}
		p.line("", fmt.Sprintf("  largest gaps in %s: %s", side.name, strings.Join(parts, ", ")))
	}
}

// String names the message as the text output does: "client #3" for the
// third message the client sent, "server #3" for the server's third.
func (r Ref) String() string { return r.Dir.From() + " #" + strconv.Itoa(r.Index) }

func rate(d DirTiming) string {
	return fmt.Sprintf("%s (%.1f/s)", plural(d.Messages, "message"), d.Rate)
}

// duration rounds d for reading: to the millisecond from 1ms, to the
// microsecond below.
func duration(d time.Duration) string {
	if d >= time.Millisecond || d <= -time.Millisecond {
		return d.Round(time.Millisecond).String()
	}
	return d.Round(time.Microsecond).String()
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

// escape returns s with control characters, other non-printable runes and
// invalid UTF-8 escaped as Go's %q does (\n, \x00, \u200b …), but without
// quotes and leaving quotes and backslashes alone, at most max runes long;
// a longer one is cut and ends in "…". An escape is never split.
func escape(s string, max int) string {
	var b strings.Builder
	n := 0
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		var piece string
		switch {
		case r == utf8.RuneError && size == 1:
			piece = fmt.Sprintf(`\x%02x`, s[i])
		case strconv.IsPrint(r):
			piece = s[i : i+size]
		default:
			q := strconv.QuoteRune(r)
			piece = q[1 : len(q)-1]
		}
		w := utf8.RuneCountInString(piece)
		rest := i+size < len(s)
		if n+w > max || (rest && n+w == max) {
			b.WriteString("…")
			break
		}
		b.WriteString(piece)
		n += w
		i += size
	}
	return b.String()
}

// jsonString returns s as a JSON string literal, without the HTML escapes
// of encoding/json.
func jsonString(s string) string {
	var b bytes.Buffer
	e := json.NewEncoder(&b)
	e.SetEscapeHTML(false)
	e.Encode(s)
	return strings.TrimSuffix(b.String(), "\n")
}

// JSON lines.

type jsonSession struct {
	Name     string `json:"name"`
	URL      string `json:"url"`
	Start    string `json:"start,omitempty"`
	Messages int    `json:"messages"`
}

type jsonChange struct {
	Type   string          `json:"type,omitempty"`
	Path   string          `json:"path"`
	Kind   string          `json:"kind"`
	A      json.RawMessage `json:"a,omitempty"`
	B      json.RawMessage `json:"b,omitempty"`
	Offset *int            `json:"offset,omitempty"`
}

type jsonOp struct {
	Type    string       `json:"type"`
	Dir     string       `json:"dir"`
	Op      string       `json:"op"`
	A       *int         `json:"a,omitempty"`
	B       *int         `json:"b,omitempty"`
	Changes []jsonChange `json:"changes,omitempty"`
}

type jsonRef struct {
	Dir   string `json:"dir"`
	Index int    `json:"index"`
}

type jsonGap struct {
	LengthNS int64   `json:"length_ns"`
	After    jsonRef `json:"after"`
	Before   jsonRef `json:"before"`
}

type jsonDir struct {
	Messages int     `json:"messages"`
	Rate     float64 `json:"rate"`
}

type jsonSide struct {
	DurationNS int64     `json:"duration_ns"`
	Client     jsonDir   `json:"client"`
	Server     jsonDir   `json:"server"`
	Gaps       []jsonGap `json:"gaps"`
}

type jsonSummary struct {
	Type      string `json:"type"`
	Same      bool   `json:"same"`
	Changed   int    `json:"changed"`
	Inserted  int    `json:"inserted"`
	Missing   int    `json:"missing"`
	Reordered int    `json:"reordered"`
	Handshake int    `json:"handshake"`
}

// WriteJSONL writes the result as JSON lines, one object a line, each with
// a "type":
//
//	{"type":"sessions","a":{"name":…,"url":…,"start":…,"messages":N},"b":{…}}
//	{"type":"handshake","path":"subprotocol","kind":"changed","a":"chat","b":"v2"}
//	{"type":"message","dir":"client"|"server","op":"changed"|"inserted"|"missing"|"reordered","a":INDEX,"b":INDEX,"changes":[{"path":…,"kind":…,"a":…,"b":…}]}
//	{"type":"timing","a":{"duration_ns":N,"client":{"messages":N,"rate":R},"server":{…},"gaps":[{"length_ns":N,"after":{"dir":…,"index":N},"before":{…}}]},"b":{…}}
//	{"type":"summary","same":bool,"changed":N,"inserted":N,"missing":N,"reordered":N,"handshake":N}
//
// Only messages that are not the same get a line; "a" or "b" is left out
// on the side a message is absent from. A change's "a" and "b" are JSON
// values for the kinds changed, added, removed and type (left out on the
// side the field is absent from), and strings describing the payload for
// text, binary (with "offset", the first differing byte) and opcode.
func (r *Result) WriteJSONL(w io.Writer) error {
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	session := func(s *Session) jsonSession {
		js := jsonSession{Name: s.Name, URL: s.URL, Messages: len(s.Messages)}
		if !s.Start.IsZero() {
			js.Start = capture.JSONTime(s.Start)
		}
		return js
	}
	enc.Encode(struct {
		Type string      `json:"type"`
		A    jsonSession `json:"a"`
		B    jsonSession `json:"b"`
	}{"sessions", session(r.A), session(r.B)})
	for _, c := range r.Handshake {
		jc := changeJSON(c)
		jc.Type = "handshake"
		enc.Encode(jc)
	}
	for _, d := range []struct {
		dir string
		ops []Op
	}{{"client", r.Client}, {"server", r.Server}} {
		for _, op := range d.ops {
			if op.Kind == Same {
				continue
			}
			jo := jsonOp{Type: "message", Dir: d.dir, Op: op.Kind.String()}
			if op.A != nil {
				jo.A = &op.A.Index
			}
			if op.B != nil {
				jo.B = &op.B.Index
			}
			for _, c := range op.Changes {
				jo.Changes = append(jo.Changes, changeJSON(c))
			}
			enc.Encode(jo)
		}
	}
	enc.Encode(struct {
		Type string   `json:"type"`
		A    jsonSide `json:"a"`
		B    jsonSide `json:"b"`
	}{"timing", sideJSON(r.Timing.A), sideJSON(r.Timing.B)})
	total := Count(r.Client).add(Count(r.Server))
	enc.Encode(jsonSummary{Type: "summary", Same: r.Same(), Changed: total.Changed, Inserted: total.Inserted,
		Missing: total.Missing, Reordered: total.Reordered, Handshake: len(r.Handshake)})
	return bw.Flush()
}

func changeJSON(c Change) jsonChange {
	jc := jsonChange{Path: c.Path, Kind: c.Kind}
	value := func(s string) json.RawMessage {
		switch {
		case s == "":
			return nil
		case c.Kind == KindText || c.Kind == KindBinary || c.Kind == KindOpcode || !json.Valid([]byte(s)):
			return json.RawMessage(jsonString(s))
		}
		return json.RawMessage(s)
	}
	jc.A, jc.B = value(c.A), value(c.B)
	if c.Kind == KindText || c.Kind == KindBinary {
		jc.Offset = &c.Offset
	}
	return jc
}

func sideJSON(t SideTiming) jsonSide {
	js := jsonSide{DurationNS: int64(t.Duration), Gaps: []jsonGap{},
		Client: jsonDir{t.Client.Messages, round3(t.Client.Rate)}, Server: jsonDir{t.Server.Messages, round3(t.Server.Rate)}}
	for _, g := range t.Gaps {
		js.Gaps = append(js.Gaps, jsonGap{int64(g.Length), jsonRef{g.After.Dir.From(), g.After.Index},
			jsonRef{g.Before.Dir.From(), g.Before.Index}})
	}
	return js
}

// round3 rounds a rate to three decimals, so the output does not carry
// float noise.
func round3(f float64) float64 {
	v, _ := strconv.ParseFloat(strconv.FormatFloat(f, 'f', 3, 64), 64)
	return v
}

package inspector

import (
	"context"
	"fmt"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
	"github.com/wstap/wstap/decode"
	"github.com/wstap/wstap/internal/present"
	"github.com/wstap/wstap/internal/sessiondiff"
)

// DiffModel is the inspector's side-by-side view of two sessions (`wstap
// inspect A B`): one row per aligned pair of messages, A on the left, B on
// the right, both directions merged in time order.
type DiffModel struct {
	res  *sessiondiff.Result
	opts Options
	th   theme
	ctx  context.Context
	stop context.CancelFunc
	hint decode.Hint

	width, height int
	help          bool
	helpTop       int
	status        string

	rows      []*sessiondiff.Op // every pair, in time order
	diffs     []int32           // the rows that are not the same, ascending
	counts    sessiondiff.Counts
	onlyDiffs bool     // d: the list shows only diffs
	cur, top  int      // positions in the list shown
	pane      diffPane // what is shown over the list, if anything
	det       *pairDetail
	hsTop     int // the handshake pane's first line
}

type diffPane uint8

const (
	paneList      diffPane = iota
	panePair               // enter: the pair's changes and payloads
	paneHandshake          // h: the handshake's differences
)

// pairDetail is one pair opened (enter): its changes, then both payloads
// formatted, one above the other.
type pairDetail struct {
	gen     int
	row     int
	op      *sessiondiff.Op
	changes []string
	docA    decode.Doc
	docB    decode.Doc
	kindA   decode.Kind
	kindB   decode.Kind
	docW    int
	loading bool
	top     int
	cancel  context.CancelFunc
}

type pairDocsMsg struct {
	gen          int
	docA, docB   decode.Doc
	kindA, kindB decode.Kind
	width        int
}

// NewDiff returns the diff view of res. Options.Title names what is
// compared and Options.Color enables colours; the other options do not
// apply.
func NewDiff(res *sessiondiff.Result, opts Options) *DiffModel {
	ctx, stop := context.WithCancel(context.Background())
	d := &DiffModel{res: res, opts: opts, th: newTheme(opts.Color), ctx: ctx, stop: stop, width: 80, height: 24,
		hint: decode.Hint{Subprotocol: res.A.Subprotocol, URL: res.A.URL}}
	d.rows = mergeOps(res)
	for i, op := range d.rows {
		if op.Kind != sessiondiff.Same {
			d.diffs = append(d.diffs, int32(i))
		}
	}
	d.counts = sessiondiff.Count(d.res.Client)
	s := sessiondiff.Count(d.res.Server)
	d.counts.Same += s.Same
	d.counts.Changed += s.Changed
	d.counts.Inserted += s.Inserted
	d.counts.Missing += s.Missing
	d.counts.Reordered += s.Reordered
	d.counts.A += s.A
	d.counts.B += s.B
	return d
}

// mergeOps merges the client's and the server's alignments into one list
// in time order: by A's offset from its start, or B's from its start for
// a message only in B. Each direction keeps its own order.
func mergeOps(res *sessiondiff.Result) []*sessiondiff.Op {
	// The ops of a direction are in A's order, a message only in B where
	// B has it.
	key := func(op *sessiondiff.Op) time.Duration {
		if op.A != nil {
			return op.A.Time.Sub(res.A.Start)
		}
		if op.B != nil {
			return op.B.Time.Sub(res.B.Start)
		}
		return 0
	}
	out := make([]*sessiondiff.Op, 0, len(res.Client)+len(res.Server))
	c, s := res.Client, res.Server
	i, j := 0, 0
	for i < len(c) || j < len(s) {
		if j >= len(s) || (i < len(c) && key(&c[i]) <= key(&s[j])) {
			out = append(out, &c[i])
			i++
		} else {
			out = append(out, &s[j])
			j++
		}
	}
	return out
}

// Close stops the view's background work.
func (d *DiffModel) Close() { d.stop() }

// Init implements tea.Model.
func (d *DiffModel) Init() tea.Cmd { return nil }

// Update implements tea.Model.
func (d *DiffModel) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		d.width, d.height = max(msg.Width, 20), max(msg.Height, 6)
		if d.pane == panePair && d.det != nil && d.det.docW != d.docWidth() {
			return d, d.formatPair()
		}
	case tea.KeyPressMsg:
		return d, d.onKey(msg)
	case tea.MouseWheelMsg:
		switch msg.Button {
		case tea.MouseWheelUp:
			d.move(-3)
		case tea.MouseWheelDown:
			d.move(3)
		}
	case pairDocsMsg:
		if p := d.det; p != nil && p.gen == msg.gen {
			p.docA, p.docB, p.kindA, p.kindB, p.docW, p.loading = msg.docA, msg.docB, msg.kindA, msg.kindB, msg.width, false
		}
	}
	return d, nil
}

// count is the length of the list shown.
func (d *DiffModel) count() int {
	if d.onlyDiffs {
		return len(d.diffs)
	}
	return len(d.rows)
}

// rowAt maps a position of the list shown to a row (-1: none).
func (d *DiffModel) rowAt(p int) int {
	if p < 0 || p >= d.count() {
		return -1
	}
	if d.onlyDiffs {
		return int(d.diffs[p])
	}
	return p
}

// posOf maps a row to the position of the list shown at or after it.
func (d *DiffModel) posOf(r int) int {
	if !d.onlyDiffs {
		return r
	}
	lo, hi := 0, len(d.diffs)
	for lo < hi {
		mid := (lo + hi) / 2
		if int(d.diffs[mid]) < r {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	return lo
}

var diffKeys = struct {
	Bottom, NextDiff, PrevDiff, OnlyDiffs, Open, Handshake, Back key.Binding
}{
	Bottom:    b([]string{"end", "G"}, "G/end", "last"),
	NextDiff:  b([]string{"n"}, "n/N", "next/previous difference"),
	PrevDiff:  b([]string{"N"}, "N", "previous difference"),
	OnlyDiffs: b([]string{"d"}, "d", "only the differences / all"),
	Open:      b([]string{"enter"}, "enter", "the pair's changes and payloads"),
	Handshake: b([]string{"h"}, "h", "the handshake's differences"),
	Back:      b([]string{"esc", "backspace", "left"}, "esc", "back"),
}

func (d *DiffModel) onKey(k tea.KeyPressMsg) tea.Cmd {
	if k.String() == "ctrl+c" {
		return d.quit()
	}
	if d.help {
		if helpKey(k, diffKeys.Back, &d.help, &d.helpTop) {
			return d.quit()
		}
		return nil
	}
	d.status = ""
	switch {
	case key.Matches(k, keys.Quit):
		return d.quit()
	case key.Matches(k, keys.Help):
		d.help = true
	case key.Matches(k, keys.Up):
		d.move(-1)
	case key.Matches(k, keys.Down):
		d.move(1)
	case key.Matches(k, keys.PageUp):
		d.move(-d.page())
	case key.Matches(k, keys.PageDown):
		d.move(d.page())
	case key.Matches(k, keys.Top):
		d.move(-1 << 40)
	case key.Matches(k, keys.Bottom):
		d.move(1 << 40)
	case key.Matches(k, diffKeys.Back):
		if d.pane == panePair && d.det != nil {
			d.det.cancel()
		}
		d.pane = paneList
	case d.pane != paneList:
		// The panes scroll; the list's keys wait for esc.
	case key.Matches(k, diffKeys.NextDiff), key.Matches(k, diffKeys.PrevDiff):
		d.nextDiff(key.Matches(k, diffKeys.PrevDiff))
	case key.Matches(k, diffKeys.OnlyDiffs):
		r := d.rowAt(d.cur)
		d.onlyDiffs = !d.onlyDiffs
		if r >= 0 {
			d.cur = min(d.posOf(r), max(d.count()-1, 0))
		}
		if d.onlyDiffs && len(d.diffs) == 0 {
			d.status = "no differences"
		}
	case key.Matches(k, diffKeys.Open):
		return d.openPair()
	case key.Matches(k, diffKeys.Handshake):
		d.pane, d.hsTop = paneHandshake, 0
	}
	return nil
}

func (d *DiffModel) quit() tea.Cmd {
	d.Close()
	return tea.Quit
}

func (d *DiffModel) page() int { return max(d.height-7, 1) }

func (d *DiffModel) move(delta int) {
	switch d.pane {
	case paneList:
		d.cur = max(min(d.cur+delta, d.count()-1), 0)
	case panePair:
		d.det.top = max(min(d.det.top+delta, d.pairLen()-(d.height-4)), 0)
	case paneHandshake:
		d.hsTop = max(min(d.hsTop+delta, len(d.handshakeText())-(d.height-4)), 0)
	}
}

// nextDiff moves to the next (or previous) difference, wrapping around.
func (d *DiffModel) nextDiff(back bool) {
	if len(d.diffs) == 0 {
		d.status = "no differences: the sessions are the same"
		return
	}
	r := d.rowAt(d.cur)
	i := d.posOfDiff(r, back)
	if i < 0 || i >= len(d.diffs) {
		if back {
			i = len(d.diffs) - 1
		} else {
			i = 0
		}
		d.status = "wrapped around"
	}
	d.cur = d.posOf(int(d.diffs[i]))
}

// posOfDiff is the index in diffs of the first difference after row r
// (the last before it when back); out of range when there is none.
func (d *DiffModel) posOfDiff(r int, back bool) int {
	lo, hi := 0, len(d.diffs)
	for lo < hi { // the first diff > r
		mid := (lo + hi) / 2
		if int(d.diffs[mid]) <= r {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	if !back {
		return lo
	}
	i := lo - 1
	if i >= 0 && int(d.diffs[i]) == r {
		i--
	}
	return i
}

// openPair shows the selected pair's changes and formats both payloads in
// a Cmd.
func (d *DiffModel) openPair() tea.Cmd {
	r := d.rowAt(d.cur)
	if r < 0 {
		return nil
	}
	gen := 1
	if d.det != nil {
		gen = d.det.gen + 1
		d.det.cancel()
	}
	op := d.rows[r]
	p := &pairDetail{gen: gen, row: r, op: op, cancel: func() {}}
	p.changes = append([]string{d.pairTitle(op)}, changeLines(op, "A", "B")...)
	d.det, d.pane = p, panePair
	return d.formatPair()
}

func (d *DiffModel) docWidth() int { return max(d.width-1, 16) }

func (d *DiffModel) formatPair() tea.Cmd {
	p := d.det
	p.cancel()
	ctx, cancel := context.WithCancel(d.ctx)
	p.cancel, p.loading = cancel, true
	p.gen++
	gen, op, hint, width := p.gen, p.op, d.hint, d.docWidth()
	return func() tea.Msg {
		out := pairDocsMsg{gen: gen, width: width}
		format := func(m *sessiondiff.Message) (decode.Doc, decode.Kind) {
			if m == nil {
				return nil, 0
			}
			k := decode.Kinds(hint, m.Opcode, m.Data)[0]
			doc, err := decode.Format(ctx, k, m.Data, decode.Options{Width: width})
			if err != nil { // what was sniffed does not read: show the bytes
				k = decode.Hex
				doc, _ = decode.Format(ctx, k, m.Data, decode.Options{Width: width})
			}
			return doc, k
		}
		out.docA, out.kindA = format(op.A)
		out.docB, out.kindB = format(op.B)
		return out
	}
}

// pairTitle names a pair: its direction, each side's number, its kind.
func (d *DiffModel) pairTitle(op *sessiondiff.Op) string {
	m := op.A
	if m == nil {
		m = op.B
	}
	side := func(m *sessiondiff.Message) string {
		if m == nil {
			return "-"
		}
		return fmt.Sprintf("#%d", m.Index)
	}
	return fmt.Sprintf("%s %s: A %s, B %s: %s", present.Arrow(m.Dir), m.Dir, side(op.A), side(op.B), kindName(op.Kind))
}

// The pair pane is one list of lines: the changes, a heading and A's
// payload, a heading and B's payload.

func docLen(doc decode.Doc) int {
	if doc == nil {
		return 0
	}
	return doc.Len()
}

func (d *DiffModel) pairLen() int {
	p := d.det
	return len(p.changes) + 2 + max(docLen(p.docA), 1) + 2 + max(docLen(p.docB), 1)
}

func (d *DiffModel) pairLine(i int) string {
	p := d.det
	w := d.width
	if i < len(p.changes) {
		if i == 0 {
			return d.th.header.Render(fit(p.changes[0], w))
		}
		return fit(p.changes[i], w)
	}
	i -= len(p.changes)
	for _, side := range []struct {
		name string
		s    *sessiondiff.Session
		m    *sessiondiff.Message
		doc  decode.Doc
		kind decode.Kind
	}{{"A", d.res.A, p.op.A, p.docA, p.kindA}, {"B", d.res.B, p.op.B, p.docB, p.kindB}} {
		n := 2 + max(docLen(side.doc), 1)
		if i >= n {
			i -= n
			continue
		}
		switch {
		case i == 0:
			return ""
		case i == 1:
			head := "── " + side.name + " " + side.s.Name
			if side.m != nil {
				head += fmt.Sprintf(" %s #%d  %s  %s", present.Arrow(side.m.Dir), side.m.Index, opName(side.m.Opcode),
					present.Bytes(int64(len(side.m.Data))))
				if side.doc != nil {
					head += "  as " + side.kind.String()
				}
			}
			return d.th.header.Render(fit(ansi.Truncate(head+" "+strings.Repeat("─", w), w, ""), w))
		case side.m == nil:
			return d.th.dim.Render(fit(fmt.Sprintf("  (not in %s)", side.name), w))
		case side.doc == nil:
			return d.th.dim.Render(fit("  formatting…", w))
		}
		return d.th.spanLine(side.doc.Line(i-2), w)
	}
	return ""
}

// handshakeText lists the handshakes' differences, after both sides'
// facts.
func (d *DiffModel) handshakeText() []string {
	a, bs := d.res.A, d.res.B
	out := []string{
		fmt.Sprintf("A %s  %s  status %s  %s", a.Name, a.URL, present.HTTPStatus(a.Status), orDash(a.Subprotocol)),
		fmt.Sprintf("B %s  %s  status %s  %s", bs.Name, bs.URL, present.HTTPStatus(bs.Status), orDash(bs.Subprotocol)),
		"",
	}
	if len(d.res.Handshake) == 0 {
		return append(out, "the handshakes are the same (but for Sec-WebSocket-Key, Sec-WebSocket-Accept and Date)")
	}
	out = append(out, plural(len(d.res.Handshake), "difference", "differences")+":")
	for _, c := range d.res.Handshake {
		out = append(out, "  "+changeText(c))
	}
	return out
}

// View implements tea.Model. It draws only the rows on screen.
func (d *DiffModel) View() tea.View { return fullScreen(d.render(), d.opts.Title) }

func (d *DiffModel) render() string {
	bodyH := d.height - 3
	var body []string
	switch {
	case d.help:
		body = d.helpLines(bodyH)
	case d.pane == panePair:
		body = d.pairLines(bodyH)
	case d.pane == paneHandshake:
		body = d.handshakeLines(bodyH)
	default:
		body = d.listLines(bodyH)
	}
	title := "wstap"
	if d.opts.Title != "" {
		title += " · " + d.opts.Title
	}
	if d.res.Same() {
		title += " · the sessions are the same"
	} else {
		title += " · the sessions differ"
	}
	return compose(d.th, d.width, d.height, title, body, d.statusLine(), d.hints())
}

func (d *DiffModel) summary() string {
	c := d.counts
	hs := "handshake same"
	if len(d.res.Handshake) > 0 {
		hs = "handshake differs (h)"
	}
	return fmt.Sprintf("%s same · %s changed · %s inserted · %s missing · %s reordered · %s",
		count(c.Same), count(c.Changed), count(c.Inserted), count(c.Missing), count(c.Reordered), hs)
}

func (d *DiffModel) listLines(h int) []string {
	a, bs := d.res.A, d.res.B
	out := []string{
		fit(d.summary(), d.width),
		d.th.pairHead("A "+a.Name+"  "+a.URL, "B "+bs.Name+"  "+bs.URL, d.width),
	}
	n := d.count()
	if n == 0 {
		msg := "  no messages on either side"
		if d.onlyDiffs {
			msg = "  no differences (d shows every pair)"
		}
		return append(out, d.th.dim.Render(fit(msg, d.width)))
	}
	d.cur = max(min(d.cur, n-1), 0)
	lh := h - len(out)
	d.top = window(d.cur, d.top, lh, n)
	for p := d.top; p < n && len(out) < h; p++ {
		out = append(out, d.th.pairLine(d.rows[d.rowAt(p)], p == d.cur, a.Start, bs.Start, true, d.width))
	}
	return out
}

func (d *DiffModel) pairLines(h int) []string {
	p := d.det
	n := d.pairLen()
	p.top = max(min(p.top, n-h), 0)
	var out []string
	for i := p.top; i < n && len(out) < h; i++ {
		out = append(out, d.pairLine(i))
	}
	return out
}

func (d *DiffModel) handshakeLines(h int) []string {
	lines := d.handshakeText()
	d.hsTop = max(min(d.hsTop, len(lines)-h), 0)
	out := []string{}
	for i := d.hsTop; i < len(lines) && len(out) < h; i++ {
		l := fit(lines[i], d.width)
		if i < 2 {
			l = d.th.header.Render(l)
		}
		out = append(out, l)
	}
	return out
}

func (d *DiffModel) statusLine() string {
	if d.status != "" {
		return d.th.status.Render(fit(d.status, d.width))
	}
	switch d.pane {
	case panePair:
		if d.det.loading {
			return fit("formatting…", d.width)
		}
		return fit(fmt.Sprintf("pair %s of %s", count(d.det.row+1), count(len(d.rows))), d.width)
	case paneHandshake:
		return fit("", d.width)
	}
	s := fmt.Sprintf("pair %s of %s · %s", count(d.rowAt(d.cur)+1), count(len(d.rows)), plural(len(d.diffs), "difference", "differences"))
	if d.onlyDiffs {
		s += " · showing only the differences (d: all)"
	}
	return fit(s, d.width)
}

func (d *DiffModel) hints() string {
	switch {
	case d.help:
		return "esc/? close help · q quit"
	case d.pane != paneList:
		return "↑/↓ scroll · esc back · q quit"
	}
	return "n/N next/prev difference · d only differences · enter changes · h handshake · ? help · q quit"
}

func (d *DiffModel) helpLines(h int) []string {
	k := keys
	bind := []key.Binding{k.Up, k.Down, k.PageUp, k.PageDown, k.Top, diffKeys.Bottom, diffKeys.NextDiff, diffKeys.OnlyDiffs,
		diffKeys.Open, diffKeys.Handshake, diffKeys.Back, k.Help, k.Quit}
	out := []string{d.th.header.Render(fit("Comparing two sessions", d.width))}
	for _, b := range bind {
		hp := b.Help()
		out = append(out, fit(fmt.Sprintf("  %-8s %s", hp.Key, hp.Desc), d.width))
	}
	out = append(out, "",
		fit("markers: = same  ~ changed  + only in B (inserted)  - only in A (missing)  ↕ reordered", d.width),
		fit("each side's time is its offset from its session's start; client and server pairs are merged in time order", d.width))
	d.helpTop = max(min(d.helpTop, len(out)-h), 0)
	out = out[d.helpTop:]
	if len(out) > h {
		out = out[:h]
	}
	return out
}

package inspector

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
	"github.com/wstap/wstap/capture"
	"github.com/wstap/wstap/internal/present"
)

// View implements tea.Model. It builds only the lines on screen, whatever
// the number of messages or the size of the one shown.
func (m *Model) View() tea.View { return fullScreen(m.render(), m.opts.Title) }

// fullScreen is how every inspector model shows itself: full screen, with the
// mouse, titled after what is inspected.
func fullScreen(content, title string) tea.View {
	v := tea.NewView(content)
	v.AltScreen = true
	v.MouseMode = tea.MouseModeCellMotion
	v.WindowTitle = "wstap inspect " + title
	return v
}

// render draws the screen: a title line, the body, a status line and a
// line of key hints.
func (m *Model) render() string {
	bodyH := m.height - 3
	var body []string
	switch {
	case m.help:
		body = m.helpLines(bodyH)
	case m.view == viewConns:
		body = m.connLines(bodyH)
	case m.view == viewHTTP:
		body = m.httpLines(bodyH)
	case m.view == viewMessages:
		body = m.messageLines(bodyH)
	case m.view == viewDetail:
		body = m.detailLines(bodyH)
	case m.view == viewFacts:
		body = m.factLines(bodyH)
	case m.view == viewEdit:
		body = m.editLines(bodyH)
	case m.view == viewResent:
		body = m.resentLines(bodyH)
	}
	return compose(m.th, m.width, m.height, m.titleText(), body, m.statusLine(), m.hints())
}

// compose lays out a screen of every inspector model: the title line, the
// body (height-3 lines, padded), the status line and the key hints.
func compose(th theme, width, height int, title string, body []string, status, hints string) string {
	var b strings.Builder
	b.Grow(width * height * 2)
	b.WriteString(th.title.Render(fit(title, width)))
	for i := range height - 3 {
		b.WriteByte('\n')
		if i < len(body) {
			b.WriteString(body[i])
		}
	}
	b.WriteByte('\n')
	b.WriteString(status)
	b.WriteByte('\n')
	b.WriteString(th.dim.Render(fit(hints, width)))
	return b.String()
}

// fit cuts s (plain or styled) to w cells, ending a cut with "…", and pads
// it with spaces to exactly w.
func fit(s string, w int) string {
	if w <= 0 {
		return ""
	}
	s = ansi.Truncate(s, w, "…")
	if n := ansi.StringWidth(s); n < w {
		s += strings.Repeat(" ", w-n)
	}
	return s
}

func (m *Model) titleText() string {
	t := "wstap"
	if m.opts.Title != "" {
		t += " · " + m.opts.Title
	}
	switch m.view {
	case viewConns:
		t += fmt.Sprintf(" · %d connections", len(m.conns))
	case viewHTTP:
		t += fmt.Sprintf(" · %d HTTP exchanges", len(m.http))
	case viewMessages, viewDetail, viewFacts, viewEdit, viewResent:
		if m.cs != nil {
			t += " · " + present.ConnLabel(m.cs.id)
		}
	}
	switch {
	case m.live && m.paused:
		t += " · live, paused (p)"
	case m.live:
		t += " · live"
	}
	return t
}

func (m *Model) hints() string {
	switch {
	case m.help:
		return "esc/? close help · q quit"
	case m.input != inputNone:
		return "enter apply · esc cancel"
	}
	switch m.view {
	case viewConns:
		return "enter messages · i facts · tab HTTP · ? help · q quit"
	case viewHTTP:
		return "enter exchange · tab WebSocket · ? help · q quit"
	case viewMessages:
		return "enter open · f filter · / search · : time · m mark · i facts · esc back · ? help"
	case viewDetail:
		return "d/D decoder · f frames · p partner · [ ] prev/next · c copy · w save · e/E edit · esc back · ? help"
	case viewEdit:
		return "ctrl+s send · esc cancel"
	case viewResent:
		return "↑/↓ select · enter open the reply now · esc back to the messages · ? help · q quit"
	}
	return "esc back · ? help · q quit"
}

func (m *Model) statusLine() string {
	w := m.width
	switch m.input {
	case inputFilter, inputSearch, inputJump, inputSave:
		prompt := map[inputMode]string{inputFilter: "filter: ", inputSearch: "search: ", inputJump: "time: ", inputSave: "save to: "}[m.input]
		line := prompt + m.ti.View()
		switch {
		case m.input == inputFilter && m.cs != nil && m.cs.fltErr != "":
			line += "  " + m.th.errText.Render("✗ "+m.cs.fltErr)
		case m.input == inputFilter && m.cs != nil:
			line += "  " + m.th.dim.Render(m.cs.filterCount())
		}
		return fit(line, w)
	}
	if m.status != "" {
		st := m.th.status
		if m.statusErr {
			st = m.th.errText
		}
		return st.Render(fit(m.status, w))
	}
	if m.resending {
		return m.th.status.Render(fit("resending…", w))
	}
	if m.srcErr != nil {
		return m.th.errText.Render(fit(m.srcErr.Error(), w))
	}
	if (m.view == viewMessages || m.view == viewDetail) && m.cs != nil {
		return fit(m.cs.summary(), w)
	}
	return fit("", w)
}

// summary tells what the list holds: the filter and search in force and
// how far their jobs got.
func (cs *connState) summary() string {
	var parts []string
	total := cs.st.len()
	if cs.flt != nil {
		parts = append(parts, "filter "+cs.fltText+": "+cs.filterCount())
	} else {
		s := count(total) + " messages"
		if !cs.done {
			s += " (loading)"
		}
		parts = append(parts, s)
	}
	if cs.search != nil {
		s := fmt.Sprintf("search %s: %s hits", cs.search, count(len(cs.hits)))
		if !cs.sjob.finished() {
			s += " …"
		}
		parts = append(parts, s)
	}
	if len(cs.marks) > 0 {
		parts = append(parts, fmt.Sprintf("%d marked", len(cs.marks)))
	}
	if cs.err != nil {
		parts = append(parts, "read error: "+cs.err.Error())
	}
	return strings.Join(parts, " · ")
}

// filterCount tells how many rows pass the filter, and how far its job got.
func (cs *connState) filterCount() string {
	total := cs.st.len()
	if cs.flt == nil {
		return count(total) + " messages"
	}
	s := count(len(cs.vis)) + " of " + count(total)
	if !cs.fjob.finished() {
		s += fmt.Sprintf(" (scanning %d%%)", percent(cs.scanned, total))
	}
	return s
}

func percent(a, b int) int {
	if b == 0 {
		return 100
	}
	return a * 100 / b
}

// count writes n with thousands separators.
func count(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// window returns the first line to show so that cur is on a page of h
// lines that starts at top or as near it as possible.
func window(cur, top, h, n int) int {
	if h <= 0 {
		return 0
	}
	if cur < top {
		top = cur
	}
	if cur >= top+h {
		top = cur - h + 1
	}
	return max(min(top, n-h), 0)
}

func (m *Model) line(cursor bool, s string) string {
	if cursor {
		return m.th.cursor.Render(fit(s, m.width))
	}
	return fit(s, m.width)
}

// badges names what is wrong or unusual about a connection.
func badges(c capture.ConnSummary) string {
	var b []string
	if c.Ghost {
		b = append(b, "GHOST")
	}
	if c.Violations > 0 {
		b = append(b, fmt.Sprintf("VIOLATION×%d", c.Violations))
	}
	if c.Status != 0 && c.Status != 101 {
		b = append(b, "REFUSED")
	}
	if c.Status == 0 || c.Error != "" {
		b = append(b, "FAILED")
	}
	if !c.Ended {
		b = append(b, "open")
	}
	return strings.Join(b, " ")
}

func closeText(c capture.ConnSummary) string {
	if c.CloseCode == 0 {
		return "-"
	}
	s := strconv.Itoa(c.CloseCode)
	if c.CloseFrom != "" {
		s += " " + c.CloseFrom
	}
	return s
}

func (m *Model) connLines(h int) []string {
	out := []string{m.th.header.Render(fit(fmt.Sprintf("  %-5s %-10s %4s %7s %7s %9s %8s %-12s %s",
		"conn", "proto", "st", "↑msgs", "↓msgs", "bytes", "duration", "close", "url"), m.width))}
	if len(m.conns) == 0 {
		return append(out, m.th.dim.Render(fit("  no WebSocket connections in this capture"+m.liveNote()+"; tab shows HTTP", m.width)))
	}
	m.connTop = window(m.connCur, m.connTop, h-1, len(m.conns))
	for i := m.connTop; i < len(m.conns) && len(out) < h; i++ {
		c := m.conns[i]
		gut := "  "
		if i == m.connCur {
			gut = "> "
		}
		proto := c.Subprotocol
		if proto == "" {
			proto = "-"
		}
		s := fmt.Sprintf("%s%-5s %-10s %4s %7s %7s %9s %8s %-12s %s", gut, present.ConnLabel(c.Conn), present.Cut(proto, 10),
			present.HTTPStatus(c.Status), count(int(c.Messages[0])), count(int(c.Messages[1])),
			present.Bytes(c.Bytes[0]+c.Bytes[1]+c.Bytes[2]), present.Duration(c.Duration()), present.Cut(closeText(c), 12), c.URL)
		if bd := badges(c); bd != "" {
			s += "  " + m.th.badge.Render(bd)
		}
		out = append(out, m.line(i == m.connCur, s))
	}
	return out
}

func (m *Model) liveNote() string {
	if m.live {
		return " yet"
	}
	return ""
}

func (m *Model) httpLines(h int) []string {
	out := []string{m.th.header.Render(fit(fmt.Sprintf("  %-5s %-12s %-7s %4s %9s %9s %8s %s",
		"id", "time", "method", "st", "req", "resp", "duration", "url"), m.width))}
	if len(m.http) == 0 {
		return append(out, m.th.dim.Render(fit("  no plain HTTP exchanges in this capture"+m.liveNote(), m.width)))
	}
	m.httpTop = window(m.httpCur, m.httpTop, h-1, len(m.http))
	for i := m.httpTop; i < len(m.http) && len(out) < h; i++ {
		x := m.http[i]
		gut := "  "
		if i == m.httpCur {
			gut = "> "
		}
		s := fmt.Sprintf("%s%-5s %-12s %-7s %4s %9s %9s %8s %s", gut, "#"+strconv.FormatUint(x.ID, 10), present.Clock(x.Time),
			present.Cut(x.Method, 7), present.HTTPStatus(x.Status), present.Bytes(x.RequestSize), present.Bytes(x.ResponseSize),
			present.Duration(x.Duration), x.URL)
		out = append(out, m.line(i == m.httpCur, s))
	}
	return out
}

func opName(op capture.Opcode) string {
	if op == capture.OpContinuation {
		return "cont"
	}
	return op.String()
}

// messageLines draws the connection's header, its stats strip and the
// visible page of the message list.
func (m *Model) messageLines(h int) []string {
	cs := m.cs
	c := m.connSummary(cs.id)
	st := &cs.st
	head := fmt.Sprintf("%s %s  %s  status %s", present.ConnLabel(c.Conn), c.URL, orDash(c.Subprotocol), present.HTTPStatus(c.Status))
	if bd := badges(c); bd != "" {
		head += "  " + m.th.badge.Render(bd)
	}
	sw := max(min((m.width-66)/2, 30), 4)
	sp := cs.sparklines(sw)
	largest := "-"
	if st.len() > 0 {
		largest = present.Bytes(st.largest)
	}
	stats := fmt.Sprintf("→ %s %s  ← %s %s  %s · largest %s · violations %d · ghost %s",
		m.th.client.Render(sp[0]), count(int(st.counts[0])), m.th.server.Render(sp[1]), count(int(st.counts[1])),
		present.Bytes(st.bytes[0]+st.bytes[1]+st.bytes[2]), largest, c.Violations, yesNo(c.Ghost))
	timeHead := "time"
	if m.relTime {
		timeHead = "offset"
	}
	out := []string{
		fit(head, m.width),
		m.th.dim.Render(fit(stats, m.width)),
		m.th.header.Render(fit(fmt.Sprintf("   %-12s %-2s %-6s %9s  %s", timeHead, "", "op", "size", "payload"), m.width)),
	}
	lh := h - len(out)
	n := cs.count()
	if n == 0 {
		msg := "  no messages"
		switch {
		case cs.flt != nil && !cs.fjob.finished():
			msg = "  filtering…"
		case cs.flt != nil:
			msg = "  no message passes the filter"
		case !cs.done:
			msg = "  loading…"
		}
		return append(out, m.th.dim.Render(fit(msg, m.width)))
	}
	cs.cur = min(cs.cur, n-1)
	cs.top = window(cs.cur, cs.top, lh, n)
	var first int64
	if st.len() > 0 {
		first = st.at(0).t
	}
	pw := max(m.width-35, 8)
	for p := cs.top; p < n && len(out) < h; p++ {
		ri := cs.rowAt(p)
		r := st.at(ri)
		mark := ' '
		switch {
		case cs.marks[int32(ri)]:
			mark = '*'
		case cs.search != nil && contains(cs.hits, ri):
			mark = '•'
		}
		gut := ' '
		if p == cs.cur {
			gut = '>'
		}
		ts := present.Clock(time.Unix(0, r.t))
		if m.relTime {
			ts = present.Offset(time.Duration(r.t - first))
		}
		msg := st.message(ri, cs.id)
		pre := present.Payload(&msg, pw)
		if tags := present.MessageTags(&msg); tags != "" {
			pre = tags + " " + pre
		}
		if !r.crossed() {
			if r.has(flagDropped) {
				pre = "(dropped) " + pre
			} else {
				pre = "(wstap heartbeat) " + pre
			}
		}
		s := fmt.Sprintf("%c%c %-12s %-2s %-6s %9s  %s", gut, mark, ts, present.Arrow(r.dir), opName(r.op), present.Bytes(r.size), pre)
		switch {
		case p == cs.cur:
			out = append(out, m.th.cursor.Render(fit(s, m.width)))
		case !r.crossed():
			out = append(out, m.th.dim.Render(fit(s, m.width)))
		case r.dir == capture.ServerToClient:
			out = append(out, m.th.server.Render(fit(s, m.width)))
		default:
			out = append(out, fit(s, m.width))
		}
	}
	return out
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// helpLines lists every key, by where it works: in three columns on a
// wide screen, one under the other (scrolled with j/k) on a narrow one.
func (m *Model) helpLines(h int) []string {
	sections := []string{"Everywhere", "Message list", "Message detail"}
	var cols [][]string
	for i, g := range helpGroups() {
		col := []string{m.th.header.Render(sections[i])}
		for _, k := range g {
			hp := k.Help()
			col = append(col, fmt.Sprintf("  %-8s %s", hp.Key, hp.Desc))
		}
		cols = append(cols, col)
	}
	colW := m.width / 3
	var out []string
	if colW >= 32 {
		for r := 0; ; r++ {
			line, any := "", false
			for _, col := range cols {
				cell := ""
				if r < len(col) {
					cell, any = col[r], true
				}
				line += fit(cell, colW)
			}
			if !any {
				break
			}
			out = append(out, fit(line, m.width))
		}
	} else {
		for i, col := range cols {
			if i > 0 {
				out = append(out, "")
			}
			for _, l := range col {
				out = append(out, fit(l, m.width))
			}
		}
	}
	out = append(out, "",
		fit("edit and resend a client message: e in $EDITOR, E here (ctrl+s sends, esc cancels);", m.width),
		fit("  the replies, recorded beside now (= same ~ changed + only now - only recorded): enter opens one", m.width),
		fit("mouse: the wheel scrolls; a click selects a row, a second click opens it", m.width),
		fit("filter terms: from:client|server|proxy  op:text|binary|ping|pong|close  size>1k  /regex/", m.width),
		fit("  json:path=value (gjson)  is:dropped|incomplete|compressed  words  \"a phrase\"  -term (not)", m.width))
	m.helpTop = max(min(m.helpTop, len(out)-h), 0)
	out = out[m.helpTop:]
	if len(out) > h {
		out = out[:h]
	}
	return out
}

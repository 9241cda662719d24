package inspector

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/wstap/wstap/internal/filter"
)

// helpKey handles a key while the help overlay is shown: ? or back closes
// it, up and down scroll it. It reports whether the key asks to quit.
func helpKey(k tea.KeyPressMsg, back key.Binding, shown *bool, top *int) (quit bool) {
	switch {
	case key.Matches(k, keys.Help, back):
		*shown = false
	case key.Matches(k, keys.Quit):
		return true
	case key.Matches(k, keys.Down):
		*top++
	case key.Matches(k, keys.Up):
		*top = max(*top-1, 0)
	}
	return false
}

func (m *Model) onKey(k tea.KeyPressMsg) tea.Cmd {
	if m.input != inputNone {
		return m.onInputKey(k)
	}
	if k.String() == "ctrl+c" {
		return m.quit()
	}
	if m.help {
		if helpKey(k, keys.Back, &m.help, &m.helpTop) {
			return m.quit()
		}
		return nil
	}
	m.status, m.statusErr = "", false
	switch {
	case key.Matches(k, keys.Quit):
		return m.quit()
	case key.Matches(k, keys.Help):
		m.help = true
		return nil
	case key.Matches(k, keys.Up):
		return m.move(-1)
	case key.Matches(k, keys.Down):
		return m.move(1)
	case key.Matches(k, keys.PageUp):
		return m.move(-m.page())
	case key.Matches(k, keys.PageDown):
		return m.move(m.page())
	case key.Matches(k, keys.Top):
		return m.move(-1 << 40)
	case key.Matches(k, keys.Bottom):
		return m.move(1 << 40)
	}
	switch m.view {
	case viewConns, viewHTTP:
		return m.onListKey(k)
	case viewMessages:
		return m.onMessagesKey(k)
	case viewDetail:
		return m.onDetailKey(k)
	case viewFacts:
		if key.Matches(k, keys.Back) {
			m.view = m.facts.back
		}
	case viewResent:
		return m.onResentKey(k)
	}
	return nil
}

func (m *Model) quit() tea.Cmd {
	m.Close()
	return tea.Quit
}

func (m *Model) page() int { return max(m.height-8, 1) }

// move moves the cursor of the list shown (or scrolls a page) by delta.
func (m *Model) move(delta int) tea.Cmd {
	clamp := func(v, n int) int { return max(min(v, n-1), 0) }
	switch m.view {
	case viewConns:
		m.connCur = clamp(m.connCur+delta, len(m.conns))
	case viewHTTP:
		m.httpCur = clamp(m.httpCur+delta, len(m.http))
	case viewMessages:
		cs := m.cs
		n := cs.count()
		cs.cur = clamp(cs.cur+delta, n)
		cs.follow = n > 0 && cs.cur == n-1 && (m.live || delta > 0)
		cs.anchor = -1
	case viewDetail:
		if d := m.det; d != nil {
			d.top = max(min(d.top+delta, m.detailLen()-m.detailBodyLines()), 0)
		}
	case viewFacts:
		if f := m.facts; f != nil {
			f.top = max(min(f.top+delta, len(f.lines)-(m.height-4)), 0)
		}
	case viewResent:
		m.rs.cur = clamp(m.rs.cur+delta, len(m.rs.ops))
	}
	return nil
}

func (m *Model) onListKey(k tea.KeyPressMsg) tea.Cmd {
	switch {
	case key.Matches(k, keys.Tab):
		if m.view == viewConns {
			m.view = viewHTTP
		} else {
			m.view = viewConns
		}
	case key.Matches(k, keys.Open):
		if m.view == viewConns && m.connCur < len(m.conns) {
			m.openConn(m.conns[m.connCur].Conn)
		}
		if m.view == viewHTTP && m.httpCur < len(m.http) {
			return m.httpFacts(m.http[m.httpCur])
		}
	case key.Matches(k, keys.Facts):
		if m.view == viewConns && m.connCur < len(m.conns) {
			return m.connFacts(m.conns[m.connCur].Conn)
		}
	}
	return nil
}

func (m *Model) onMessagesKey(k tea.KeyPressMsg) tea.Cmd {
	cs := m.cs
	switch {
	case key.Matches(k, keys.Open):
		return m.openDetail(cs.rowAt(cs.cur))
	case key.Matches(k, keys.Back):
		m.view = viewConns
	case key.Matches(k, keys.Filter):
		return m.startInput(inputFilter, cs.fltText)
	case key.Matches(k, keys.Search):
		text := ""
		if cs.search != nil {
			text = cs.search.String()
		}
		return m.startInput(inputSearch, text)
	case key.Matches(k, keys.Jump):
		return m.startInput(inputJump, "")
	case key.Matches(k, keys.Next), key.Matches(k, keys.Prev):
		if cs.search == nil {
			m.setStatus(nil, "no search: press / first")
			return nil
		}
		r := cs.nextIn(cs.hits, cs.rowAt(cs.cur), key.Matches(k, keys.Prev))
		if r < 0 {
			m.setStatus(nil, "no visible hit")
			return nil
		}
		cs.cur, cs.follow = cs.posOf(r), false
	case key.Matches(k, keys.Mark):
		if ri := cs.rowAt(cs.cur); ri >= 0 {
			if cs.marks[int32(ri)] {
				delete(cs.marks, int32(ri))
			} else {
				cs.marks[int32(ri)] = true
			}
		}
	case key.Matches(k, keys.NextMark):
		marks := make([]int32, 0, len(cs.marks))
		for r := range cs.marks {
			marks = append(marks, r)
		}
		slices.Sort(marks)
		r := cs.nextIn(marks, cs.rowAt(cs.cur), false)
		if r < 0 {
			m.setStatus(nil, "no visible mark: m marks the message under the cursor")
			return nil
		}
		cs.cur, cs.follow = cs.posOf(r), false
	case key.Matches(k, keys.Time):
		m.relTime = !m.relTime
	case key.Matches(k, keys.Pause):
		m.paused = !m.paused
		if !m.paused && cs.follow {
			cs.cur = max(cs.count()-1, 0)
		}
	default:
		return m.onMessageAction(k)
	}
	return nil
}

func (m *Model) onDetailKey(k tea.KeyPressMsg) tea.Cmd {
	d := m.det
	switch {
	case key.Matches(k, keys.Back):
		d.cancel()
		if d.loading {
			d.loading = false
			m.setStatus(nil, "cancelled")
		}
		m.view = d.back
	case key.Matches(k, keys.Decoder):
		return m.cycleKind(1)
	case key.Matches(k, keys.DecoderBack):
		return m.cycleKind(-1)
	case d.title != "" && key.Matches(k, keys.Frames, keys.Partner, keys.PrevMsg, keys.NextMsg):
		m.setStatus(nil, "this reply came from the resend, not the capture: esc goes back to the replies")
	case key.Matches(k, keys.Frames):
		return m.toggleFrames()
	case key.Matches(k, keys.Partner):
		return m.findPartner()
	case key.Matches(k, keys.PrevMsg):
		return m.moveDetail(-1)
	case key.Matches(k, keys.NextMsg):
		return m.moveDetail(1)
	default:
		return m.onMessageAction(k)
	}
	return nil
}

// onMessageAction answers the keys the message list and the detail view
// share: they act on the message under the cursor or shown (see target).
func (m *Model) onMessageAction(k tea.KeyPressMsg) tea.Cmd {
	switch {
	case key.Matches(k, keys.Facts):
		return m.connFacts(m.cs.id)
	case key.Matches(k, keys.Copy):
		return m.act(actCopy, "")
	case key.Matches(k, keys.Save):
		return m.startInput(inputSave, m.defaultSavePath())
	case key.Matches(k, keys.Edit):
		return m.startEdit(false)
	case key.Matches(k, keys.InlineEdit):
		return m.startEdit(true)
	}
	return nil
}

func (m *Model) startInput(mode inputMode, value string) tea.Cmd {
	m.input = mode
	m.ti.SetValue(value)
	m.ti.CursorEnd()
	m.inputChanged()
	return m.ti.Focus()
}

func (m *Model) onInputKey(k tea.KeyPressMsg) tea.Cmd {
	cs := m.cs
	switch k.String() {
	case "esc":
		if m.input == inputFilter && cs.fltErr != "" {
			cs.fltErr = ""
		}
		m.input = inputNone
		m.ti.Blur()
		return nil
	case "enter":
		mode := m.input
		m.input = inputNone
		m.ti.Blur()
		return m.applyInput(mode, m.ti.Value())
	}
	var cmd tea.Cmd
	m.ti, cmd = m.ti.Update(k)
	return tea.Batch(cmd, m.inputChanged())
}

// inputChanged applies the filter as it is typed: a good expression takes
// effect at once, a bad one shows its error and leaves the last good
// filter in force.
func (m *Model) inputChanged() tea.Cmd {
	// The bar is as wide as its text, so that an error fits beside it.
	m.ti.SetWidth(min(max(len([]rune(m.ti.Value()))+1, 20), m.width-12))
	if m.input != inputFilter || m.cs == nil {
		return nil
	}
	cs := m.cs
	text := m.ti.Value()
	e, err := filter.Parse(text)
	if err != nil {
		cs.fltErr = err.Error()
		return nil
	}
	cs.fltErr = ""
	if e.String() == exprString(cs.flt) {
		cs.fltText = text
		return nil
	}
	cs.setFilter(m, e, text)
	return nil
}

func exprString(e *filter.Expr) string {
	if e == nil {
		return ""
	}
	return e.String()
}

func (m *Model) applyInput(mode inputMode, text string) tea.Cmd {
	cs := m.cs
	switch mode {
	case inputFilter:
		if cs.fltErr != "" {
			m.setStatus(nil, "kept the last good filter: "+cs.fltErr)
			cs.fltErr = ""
		}
	case inputSearch:
		e, err := filter.Parse(text)
		if err != nil {
			m.setStatus(err, "")
			return nil
		}
		cs.setSearch(m, e)
	case inputJump:
		t, err := m.parseJump(text)
		if err != nil {
			m.setStatus(err, "")
			return nil
		}
		cs.jumpTime(t)
	case inputSave:
		if strings.TrimSpace(text) == "" {
			return nil
		}
		return m.act(actSave, text)
	}
	return nil
}

var clockRE = regexp.MustCompile(`^(\d{1,2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?$`)

// parseJump reads a time to jump to: a clock time HH:MM[:SS[.mmm]] (UTC, as
// the list shows it) on the day of the connection's first message, or an
// offset from that message such as +1.5s or +2m.
func (m *Model) parseJump(text string) (int64, error) {
	text = strings.TrimSpace(text)
	if m.cs.st.len() == 0 {
		return 0, fmt.Errorf("no messages to jump in")
	}
	first := m.cs.st.at(0).t
	if rest, ok := strings.CutPrefix(text, "+"); ok {
		d, err := time.ParseDuration(rest)
		if err != nil {
			return 0, fmt.Errorf("bad offset %q: want a duration such as +1.5s or +2m", text)
		}
		return first + int64(d), nil
	}
	g := clockRE.FindStringSubmatch(text)
	if g == nil {
		return 0, fmt.Errorf("bad time %q: want HH:MM:SS[.mmm] (UTC) or +offset", text)
	}
	h, _ := strconv.Atoi(g[1])
	mi, _ := strconv.Atoi(g[2])
	s, _ := strconv.Atoi(g[3])
	ns := 0
	if g[4] != "" {
		ns, _ = strconv.Atoi((g[4] + "000000000")[:9])
	}
	if h > 23 || mi > 59 || s > 59 {
		return 0, fmt.Errorf("bad time %q: out of range", text)
	}
	day := time.Unix(0, first).UTC().Truncate(24 * time.Hour)
	return day.Add(time.Duration(h)*time.Hour + time.Duration(mi)*time.Minute + time.Duration(s)*time.Second + time.Duration(ns)).UnixNano(), nil
}

// click selects the list row on screen line y; a click on the row already
// selected opens it, as a double click would.
func (m *Model) click(y int) tea.Cmd {
	if m.help || m.input != inputNone {
		return nil
	}
	pick := func(cur *int, top, first, n int) bool {
		p := top + y - first
		if y < first || p < 0 || p >= n {
			return false
		}
		again := p == *cur
		*cur = p
		return again
	}
	switch m.view {
	case viewConns:
		if pick(&m.connCur, m.connTop, 2, len(m.conns)) {
			m.openConn(m.conns[m.connCur].Conn)
		}
	case viewHTTP:
		if pick(&m.httpCur, m.httpTop, 2, len(m.http)) {
			return m.httpFacts(m.http[m.httpCur])
		}
	case viewMessages:
		cs := m.cs
		if pick(&cs.cur, cs.top, 4, cs.count()) {
			return m.openDetail(cs.rowAt(cs.cur))
		}
		cs.follow, cs.anchor = false, -1
	case viewResent:
		rs := m.rs
		if pick(&rs.cur, rs.top, 3, len(rs.ops)) && rs.ops[rs.cur].B != nil {
			return m.openReply(rs.ops[rs.cur].B)
		}
	}
	return nil
}

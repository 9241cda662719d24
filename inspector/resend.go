package inspector

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/textarea"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	"github.com/wstap/wstap/capture"
	"github.com/wstap/wstap/decode"
	"github.com/wstap/wstap/internal/present"
	"github.com/wstap/wstap/internal/sessiondiff"
)

// Limits of the inline editor (E), which holds and draws the whole text:
// bigger payloads go to $EDITOR (e).
const (
	inlineMaxBytes = 64 << 10
	inlineMaxLines = 5000
)

// inlineEdit is the payload being edited in the inspector (E).
type inlineEdit struct {
	ta   textarea.Model
	msg  capture.Message
	old  []byte
	from view // where esc goes back to
}

// resentState is the resent view: the server's replies to a resent client
// message, recorded beside now, aligned by position.
type resentState struct {
	res    *Resent
	url    string
	orig   capture.Message // the client message, as recorded
	hint   decode.Hint
	old    []sessiondiff.Message
	new    []sessiondiff.Message
	ops    []sessiondiff.Op
	differ int
	baseA  time.Time // the recorded client message's time
	baseB  time.Time // when the edited one was sent
	cur    int
	top    int
}

type resentMsg struct {
	orig capture.Message
	res  *Resent
	err  error
}

// startEdit checks that the message under the cursor (or shown) can be
// resent before its payload is read for an editor: $EDITOR, or the
// inline one.
func (m *Model) startEdit(inline bool) tea.Cmd {
	if m.opts.Resend == nil {
		m.setStatus(nil, "edit and resend is not available here")
		return nil
	}
	msg, _, ok := m.target()
	if !ok {
		return nil
	}
	if msg.Dir != capture.ClientToServer || msg.Opcode.IsControl() || !msg.Crossed() {
		m.setStatus(nil, "only a client→server text or binary message can be resent")
		return nil
	}
	if inline && msg.Opcode != capture.OpText {
		m.setStatus(nil, "E edits text messages; e opens this one in $EDITOR")
		return nil
	}
	if inline && msg.Size > inlineMaxBytes {
		m.setStatus(nil, fmt.Sprintf("%s is too big for the inline editor; e opens $EDITOR", present.Bytes(msg.Size)))
		return nil
	}
	if m.resending {
		m.setStatus(nil, "a resend is already running")
		return nil
	}
	if inline {
		return m.act(actInline, "")
	}
	return m.act(actEdit, "")
}

// openInline opens the payload in the inline editor.
func (m *Model) openInline(p payloadMsg) tea.Cmd {
	if !utf8.Valid(p.data) || bytes.Count(p.data, []byte{'\n'}) >= inlineMaxLines {
		m.setStatus(nil, "this payload does not fit the inline editor; e opens $EDITOR")
		return nil
	}
	ta := textarea.New()
	ta.Prompt = ""
	ta.MaxHeight, ta.MaxWidth, ta.CharLimit = 0, 0, 0
	st := textarea.DefaultDarkStyles()
	if !m.opts.Color {
		plain := textarea.StyleState{Base: lipgloss.NewStyle(), Text: lipgloss.NewStyle(), LineNumber: lipgloss.NewStyle(),
			CursorLineNumber: lipgloss.NewStyle(), CursorLine: lipgloss.NewStyle(), EndOfBuffer: lipgloss.NewStyle(),
			Placeholder: lipgloss.NewStyle(), Prompt: lipgloss.NewStyle()}
		st.Focused, st.Blurred = plain, plain
	}
	st.Cursor.Blink = false // a steady cursor: no timer while editing
	ta.SetStyles(st)
	ta.SetValue(string(p.data))
	if ta.Value() != string(p.data) {
		// The textarea turns tabs into spaces and drops \r and other
		// control characters: editing there would change more than the
		// user typed.
		m.setStatus(nil, "this payload has tabs or control characters the inline editor would change; e opens $EDITOR")
		return nil
	}
	ta.MoveToBegin()
	from := m.view
	m.ed = &inlineEdit{ta: ta, msg: p.msg, old: p.data, from: from}
	m.view = viewEdit
	m.sizeEditor()
	return m.ed.ta.Focus()
}

// sizeEditor fits the inline editor to the screen, under its header.
func (m *Model) sizeEditor() {
	if m.ed == nil {
		return
	}
	m.ed.ta.SetWidth(m.width)
	m.ed.ta.SetHeight(max(m.height-3-1, 1))
}

var (
	sendKey   = key.NewBinding(key.WithKeys("ctrl+s"), key.WithHelp("ctrl+s", "send the edit"))
	cancelKey = key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "cancel the edit"))
)

func (m *Model) onEditKey(k tea.Msg) tea.Cmd {
	ed := m.ed
	if kp, ok := k.(tea.KeyPressMsg); ok {
		switch {
		case key.Matches(kp, sendKey):
			data := []byte(ed.ta.Value())
			m.view, m.ed = ed.from, nil
			if bytes.Equal(data, ed.old) {
				m.setStatus(nil, "unchanged; nothing resent")
				return nil
			}
			return m.resend(ed.msg, data)
		case key.Matches(kp, cancelKey):
			m.view, m.ed = ed.from, nil
			m.setStatus(nil, "edit cancelled")
			return nil
		case kp.String() == "ctrl+c":
			return m.quit()
		}
	}
	var cmd tea.Cmd
	ed.ta, cmd = ed.ta.Update(k)
	return cmd
}

func (m *Model) editLines(h int) []string {
	ed := m.ed
	head := fmt.Sprintf("editing client message at %s of %s  %s  line %d of %d", present.Clock(ed.msg.Time),
		present.ConnLabel(ed.msg.Conn), present.Bytes(int64(ed.ta.Length())), ed.ta.Line()+1, ed.ta.LineCount())
	out := []string{m.th.header.Render(fit(head, m.width))}
	for l := range strings.SplitSeq(ed.ta.View(), "\n") {
		if len(out) >= h {
			break
		}
		out = append(out, fit(l, m.width))
	}
	return out
}

// resend hands the edited message to Options.Resend off the UI loop.
func (m *Model) resend(orig capture.Message, data []byte) tea.Cmd {
	resend := m.opts.Resend
	ed := Edited{Conn: orig.Conn, Seq: orig.Seq, Dir: orig.Dir, Opcode: orig.Opcode, Data: data}
	m.resending = true
	m.setStatus(nil, "resending…")
	ctx := m.ctx
	return m.bg.cmd(func() tea.Msg {
		res, err := resend(ctx, ed)
		return resentMsg{orig: orig, res: res, err: err}
	})
}

// onResent opens the resent view on what came back; an error shows in
// the status line, on one line.
func (m *Model) onResent(r resentMsg) {
	m.resending = false
	if r.err != nil && errors.Is(r.err, context.Canceled) && m.ctx.Err() != nil {
		return
	}
	m.setStatus(nil, "")
	if r.err != nil {
		m.setStatus(fmt.Errorf("resend: %s", strings.Join(strings.Fields(r.err.Error()), " ")), "")
	}
	if r.res == nil {
		if r.err == nil {
			m.setStatus(nil, "resent; no result came back")
		}
		return
	}
	rs := &resentState{res: r.res, url: r.res.URL, orig: r.orig, old: replyMessages(r.res.Old), new: replyMessages(r.res.New),
		baseA: r.orig.Time, baseB: r.res.Sent}
	if rs.url == "" {
		rs.url = m.connSummary(r.orig.Conn).URL
	}
	if m.cs != nil {
		rs.hint = m.cs.hint
	}
	if rs.baseB.IsZero() && len(rs.new) > 0 {
		rs.baseB = rs.new[0].Time
	}
	rs.ops = sessiondiff.Check(rs.old, rs.new, sessiondiff.Options{})
	for i := range rs.ops {
		if rs.ops[i].Kind != sessiondiff.Same {
			rs.differ++
		}
	}
	m.rs = rs
	m.view = viewResent
}

func replyMessages(rs []Reply) []sessiondiff.Message {
	out := make([]sessiondiff.Message, len(rs))
	for i, r := range rs {
		out[i] = sessiondiff.Message{Index: i + 1, Dir: r.Dir, Opcode: r.Opcode, Time: r.Time, Data: r.Data}
	}
	return out
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%s %s", count(n), many)
}

// resentLines draws the resent view: its header, the aligned replies
// (only the rows on screen), and the selected row's changes.
func (m *Model) resentLines(h int) []string {
	rs := m.rs
	head := fmt.Sprintf("client message %d resent to %s: %s, %s now, %s", rs.res.N, rs.url,
		plural(len(rs.old), "recorded reply", "recorded replies"), count(len(rs.new)), plural(rs.differ, "differs", "differ"))
	out := []string{m.th.header.Render(fit(head, m.width)), m.th.pairHead("recorded", "now", m.width)}
	if len(rs.ops) == 0 {
		return append(out, m.th.dim.Render(fit("  no replies, recorded or now", m.width)))
	}
	rs.cur = max(min(rs.cur, len(rs.ops)-1), 0)
	op := &rs.ops[rs.cur]
	changes := changeLines(op, "recorded", "now")
	ch := min(len(changes), max((h-3)/3, 1))
	lh := max(h-len(out)-1-ch, 1)
	rs.top = window(rs.cur, rs.top, lh, len(rs.ops))
	for i := rs.top; i < len(rs.ops) && i < rs.top+lh; i++ {
		out = append(out, m.th.pairLine(&rs.ops[i], i == rs.cur, rs.baseA, rs.baseB, false, m.width))
	}
	for len(out) < h-1-ch {
		out = append(out, "")
	}
	title := fmt.Sprintf("reply %d: %s", rs.cur+1, kindName(op.Kind))
	if len(op.Changes) > ch {
		title += fmt.Sprintf(" (%d changes, %d shown)", len(op.Changes), ch)
	}
	out = append(out, m.th.dim.Render(fit(title, m.width)))
	for _, c := range changes[:ch] {
		out = append(out, fit(c, m.width))
	}
	return out
}

func kindName(k sessiondiff.OpKind) string {
	return map[sessiondiff.OpKind]string{sessiondiff.Same: "same", sessiondiff.Changed: "changed", sessiondiff.Inserted: "only now", sessiondiff.Missing: "only recorded",
		sessiondiff.Reordered: "reordered"}[k]
}

func (m *Model) onResentKey(k tea.KeyPressMsg) tea.Cmd {
	rs := m.rs
	switch {
	case key.Matches(k, keys.Back):
		m.view = viewMessages
	case key.Matches(k, keys.Open):
		if rs.cur < len(rs.ops) && rs.ops[rs.cur].B != nil {
			return m.openReply(rs.ops[rs.cur].B)
		}
		m.setStatus(nil, "nothing came back in its place now")
	}
	return nil
}

// openReply shows a reply of the new run in the detail view.
func (m *Model) openReply(r *sessiondiff.Message) tea.Cmd {
	gen := 1
	if m.det != nil {
		gen = m.det.gen + 1
		m.det.cancel()
	}
	ctx, cancel := context.WithCancel(m.ctx)
	rs := m.rs
	msg := capture.Message{Conn: rs.orig.Conn, Dir: r.Dir, Opcode: r.Opcode, Time: r.Time, Size: int64(len(r.Data)), Data: r.Data}
	d := &detail{gen: gen, msg: msg, cancel: cancel, loading: true, back: viewResent,
		title: fmt.Sprintf("reply %d now, to client message %d of %s", r.Index, rs.res.N, present.ConnLabel(rs.orig.Conn))}
	m.det = d
	m.view = viewDetail
	hint, width, data := rs.hint, m.docWidth(), r.Data
	return m.bg.cmd(func() tea.Msg {
		out := detailMsg{gen: gen, width: width, data: data}
		out.kinds = decode.Kinds(hint, msg.Opcode, data)
		out.kind = out.kinds[0]
		out.doc, out.fmtErr = decode.Format(ctx, out.kind, data, decode.Options{Width: width})
		return out
	})
}

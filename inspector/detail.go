package inspector

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
	"github.com/wstap/wstap/capture"
	"github.com/wstap/wstap/decode"
	"github.com/wstap/wstap/internal/present"
)

// maxOpen caps the payload bytes the detail view reads of one message.
const maxOpen = 256 << 20

// detail is the message shown in the detail view: its payload, once read,
// formatted by one decoder at the screen's width.
type detail struct {
	gen    int
	row    int
	msg    capture.Message // the summary; Data is the preview
	cancel context.CancelFunc

	data    []byte // the payload, once read
	partial bool   // data holds only the first maxOpen bytes
	kinds   []decode.Kind
	kind    decode.Kind
	doc     decode.Doc
	docW    int
	fmtErr  error
	loading bool
	top     int

	frames     []string // the frames' facts, once read
	showFrames bool

	back  view   // where esc goes
	title string // the header of a message not in the capture (a reply of a resend)
}

type detailMsg struct {
	gen     int
	data    []byte
	partial bool
	kinds   []decode.Kind
	kind    decode.Kind
	doc     decode.Doc
	width   int
	err     error // reading failed
	fmtErr  error // formatting as kind failed
}

// openDetail shows row ri of the current connection, reading and formatting
// its payload in a Cmd.
func (m *Model) openDetail(ri int) tea.Cmd {
	cs := m.cs
	if ri < 0 {
		return nil
	}
	gen := 1
	if m.det != nil {
		gen = m.det.gen + 1
		m.det.cancel()
	}
	ctx, cancel := context.WithCancel(m.ctx)
	d := &detail{gen: gen, row: ri, msg: cs.st.message(ri, cs.id), cancel: cancel, loading: true, back: viewMessages}
	m.det = d
	m.view = viewDetail
	src, hint, width := m.src, cs.hint, m.docWidth()
	msg := d.msg
	whole := cs.st.at(ri).whole()
	if whole {
		msg.Data = slices.Clone(msg.Data)
	}
	return m.bg.cmd(func() tea.Msg {
		out := detailMsg{gen: gen, width: width}
		if whole {
			out.data = msg.Data
		} else {
			out.data, out.partial, out.err = readPayload(ctx, src, msg.Conn, msg.Seq)
			if out.err != nil {
				return out
			}
		}
		out.kinds = decode.Kinds(hint, msg.Opcode, out.data)
		out.kind = out.kinds[0]
		out.doc, out.fmtErr = decode.Format(ctx, out.kind, out.data, decode.Options{Width: width})
		return out
	})
}

// readPayload reads a message's payload whole, up to maxOpen bytes.
func readPayload(ctx context.Context, src Source, conn capture.ConnID, seq uint64) ([]byte, bool, error) {
	rc, err := src.OpenMessageAt(conn, seq)
	if err != nil {
		return nil, false, err
	}
	defer rc.Close()
	var buf []byte
	chunk := make([]byte, 256<<10)
	for len(buf) < maxOpen {
		if ctx.Err() != nil {
			return nil, false, ctx.Err()
		}
		n, err := rc.Read(chunk)
		buf = append(buf, chunk[:n]...)
		if errors.Is(err, io.EOF) {
			return buf, false, nil
		}
		if err != nil {
			return buf, false, err
		}
	}
	return buf[:maxOpen], true, nil
}

func (m *Model) docWidth() int { return max(m.width-1, 16) }

func (m *Model) onDetail(msg detailMsg) {
	d := m.det
	if d == nil || msg.gen != d.gen {
		return
	}
	d.loading = false
	if msg.err != nil {
		if !errors.Is(msg.err, context.Canceled) {
			m.setStatus(fmt.Errorf("reading message: %w", msg.err), "")
		}
		return
	}
	if msg.data != nil {
		d.data, d.partial, d.kinds = msg.data, msg.partial, msg.kinds
	}
	d.kind, d.docW, d.fmtErr = msg.kind, msg.width, msg.fmtErr
	if msg.fmtErr == nil {
		d.doc = msg.doc
	}
}

// reformat formats the shown payload again: as another kind, or at a new
// width after a resize. The old lines stay on screen until the new ones
// are ready.
func (m *Model) reformatAs(k decode.Kind) tea.Cmd {
	d := m.det
	if d == nil || d.data == nil {
		return nil
	}
	d.cancel()
	ctx, cancel := context.WithCancel(m.ctx)
	d.cancel = cancel
	d.gen++
	d.loading = true
	gen, data, width := d.gen, d.data, m.docWidth()
	if k != d.kind {
		d.top = 0
	}
	return m.bg.cmd(func() tea.Msg {
		doc, err := decode.Format(ctx, k, data, decode.Options{Width: width})
		return detailMsg{gen: gen, kind: k, doc: doc, fmtErr: err, width: width}
	})
}

func (m *Model) reformat() tea.Cmd {
	if m.view != viewDetail || m.det == nil || m.det.data == nil || m.det.docW == m.docWidth() {
		return nil
	}
	return m.reformatAs(m.det.kind)
}

// cycleKind switches to the next (or previous) decoder that can read the
// payload.
func (m *Model) cycleKind(step int) tea.Cmd {
	d := m.det
	if d == nil || len(d.kinds) == 0 {
		return nil
	}
	i := slices.Index(d.kinds, d.kind)
	i = ((i+step)%len(d.kinds) + len(d.kinds)) % len(d.kinds)
	d.showFrames = false
	return m.reformatAs(d.kinds[i])
}

// detailBodyLines is how many lines of the payload fit under the header.
func (m *Model) detailBodyLines() int { return max(m.height-3-2, 1) }

func (m *Model) detailLen() int {
	d := m.det
	switch {
	case d.showFrames:
		return len(d.frames)
	case d.doc != nil:
		return d.doc.Len()
	}
	return 0
}

func (m *Model) detailLines(h int) []string {
	d := m.det
	msg := &d.msg
	what := fmt.Sprintf("message %d of %s", d.row+1, present.ConnLabel(msg.Conn))
	if d.title != "" {
		what = d.title
	}
	head := fmt.Sprintf("%s  %s %s %s  %s  %s", what, present.Arrow(msg.Dir),
		msg.Dir, opName(msg.Opcode), present.Bytes(msg.Size), present.Clock(msg.Time))
	if tags := present.MessageTags(msg); tags != "" {
		head += "  " + tags
	}
	if !msg.Crossed() {
		head += "  (did not cross: wstap's own or dropped)"
	}
	var kinds []string
	for _, k := range d.kinds {
		s := k.String()
		if k == d.kind {
			s = "[" + s + "]"
		}
		kinds = append(kinds, s)
	}
	sub := "decoder " + strings.Join(kinds, " ") + "  (d/D)"
	switch {
	case d.loading:
		sub = fmt.Sprintf("reading and formatting %s… (esc cancels)", present.Bytes(msg.Size))
	case d.showFrames:
		sub = fmt.Sprintf("%d frames  (f: back to the payload)", len(d.frames))
	case d.fmtErr != nil:
		sub += "  " + m.th.errText.Render("cannot read as "+d.kind.String()+": "+d.fmtErr.Error())
	}
	if d.partial {
		sub += fmt.Sprintf("  showing the first %s", present.Bytes(maxOpen))
	}
	bh := h - 2
	n := m.detailLen()
	d.top = max(min(d.top, n-bh), 0)
	if n > bh {
		pos := fmt.Sprintf("lines %d–%d of %d", d.top+1, min(d.top+bh, n), n)
		sub = fit(sub, max(m.width-len([]rune(pos))-1, 0)) + " " + pos
	}
	out := []string{m.th.header.Render(fit(head, m.width)), m.th.dim.Render(fit(sub, m.width))}
	for i := d.top; i < n && len(out) < h; i++ {
		if d.showFrames {
			out = append(out, fit(d.frames[i], m.width))
			continue
		}
		out = append(out, m.spanLine(d.doc.Line(i)))
	}
	return out
}

// spanLine styles the part of a formatted line that fits the screen.
func (m *Model) spanLine(l decode.Line) string { return m.th.spanLine(l, m.width) }

// spanLine styles the part of a formatted line that fits in w cells.
func (th *theme) spanLine(l decode.Line, w int) string {
	text := ansi.Truncate(l.Text, w, "…")
	cutAt := len(text)
	if strings.HasSuffix(text, "…") && text != l.Text {
		cutAt -= len("…")
	}
	var b strings.Builder
	at := 0
	for _, sp := range l.Spans {
		if sp.Start >= cutAt {
			break
		}
		end := min(sp.End, cutAt)
		if sp.Start > at {
			b.WriteString(text[at:sp.Start])
		}
		b.WriteString(th.class[sp.Class].Render(text[sp.Start:end]))
		at = end
	}
	b.WriteString(text[at:])
	return b.String()
}

// moveDetail goes to the previous or next message of the list.
func (m *Model) moveDetail(step int) tea.Cmd {
	cs := m.cs
	p := cs.posOf(m.det.row) + step
	if p < 0 || p >= cs.count() {
		return nil
	}
	cs.cur, cs.follow = p, false
	return m.openDetail(cs.rowAt(p))
}

type framesMsg struct {
	gen    int
	frames []string
	err    error
}

// toggleFrames shows the frames that carried the message: each header's
// facts, as the proxy saw them.
func (m *Model) toggleFrames() tea.Cmd {
	d := m.det
	if d.showFrames || d.frames != nil {
		d.showFrames = !d.showFrames
		d.top = 0
		return nil
	}
	src, msg, gen, ctx := m.src, d.msg, d.gen, m.ctx
	return m.bg.cmd(func() tea.Msg {
		var lines []string
		opts := capture.AssembleOptions{Frames: true, MaxData: 1}
		seen := 0
		// A frame record that is not folded into its chunk is written just
		// before it: start one record early.
		for rec, err := range capture.Assemble(src.RecordsFrom(capture.Filter{Conn: msg.Conn}, max(msg.Seq, 1)-1), opts) {
			if err != nil {
				return framesMsg{gen: gen, err: err}
			}
			if seen++; seen > 1_000_000 || ctx.Err() != nil {
				break
			}
			switch r := rec.(type) {
			case *capture.Frame:
				if r.Dir == msg.Dir && r.Opcode.IsControl() == msg.Opcode.IsControl() {
					lines = append(lines, fmt.Sprintf("%4d  %s  %s", len(lines)+1, present.FrameFacts(r), present.Offset(r.Time.Sub(msg.Time))))
				}
			case *capture.Message:
				if r.Seq == msg.Seq {
					if len(lines) == 0 {
						lines = append(lines, "the capture holds no frame facts for this message")
					}
					return framesMsg{gen: gen, frames: lines}
				}
			}
		}
		return framesMsg{gen: gen, frames: append(lines, "(the message's end was not found)")}
	})
}

func (m *Model) onFrames(msg framesMsg) {
	if m.det == nil || m.det.gen != msg.gen {
		return
	}
	if msg.err != nil {
		m.setStatus(fmt.Errorf("reading frames: %w", msg.err), "")
		return
	}
	m.det.frames, m.det.showFrames, m.det.top = msg.frames, true, 0
}

type partnerMsg struct {
	gen int
	seq uint64
	ok  bool
	why string
}

// findPartner looks for the request of a response, or the response of a
// request (JSON-RPC 2.0, graphql-transport-ws), in the other direction.
func (m *Model) findPartner() tea.Cmd {
	d := m.det
	if d.data == nil {
		return nil
	}
	cs := m.cs
	p, ok := decode.Pair(cs.hint, d.data)
	if !ok {
		m.setStatus(nil, "no partner: this is not a JSON-RPC or GraphQL message with an id")
		return nil
	}
	src, msg, gen, hint, ctx := m.src, d.msg, d.gen, cs.hint, m.ctx
	m.setStatus(nil, "looking for the partner…")
	return m.bg.cmd(func() tea.Msg {
		var found uint64
		opts := capture.AssembleOptions{MaxData: 1 << 20}
		from := uint64(0) // a response's request came before it
		if p.Role == decode.Request {
			from = msg.Seq
		}
		for rec, err := range capture.Assemble(src.RecordsFrom(capture.Filter{Conn: msg.Conn}, from), opts) {
			if err != nil || ctx.Err() != nil {
				break
			}
			o, isMsg := rec.(*capture.Message)
			if !isMsg || o.Dir == msg.Dir || o.Seq == msg.Seq {
				continue
			}
			q, ok := decode.Pair(hint, o.Data)
			if !ok || !p.Partner(q) {
				continue
			}
			if p.Role == decode.Request {
				if o.Seq > msg.Seq {
					return partnerMsg{gen: gen, seq: o.Seq, ok: true}
				}
				continue
			}
			if o.Seq < msg.Seq {
				found = o.Seq // the last request before the response
				continue
			}
			break
		}
		if found != 0 {
			return partnerMsg{gen: gen, seq: found, ok: true}
		}
		return partnerMsg{gen: gen, why: fmt.Sprintf("no partner found for %s id %s", p.Protocol, p.Key)}
	})
}

func (m *Model) onPartner(msg partnerMsg) tea.Cmd {
	if m.det == nil || m.det.gen != msg.gen {
		return nil
	}
	if !msg.ok {
		m.setStatus(nil, msg.why)
		return nil
	}
	cs := m.cs
	for i := range cs.st.len() {
		if cs.st.at(i).seq == msg.seq {
			m.setStatus(nil, "")
			if cs.flt != nil && !contains(cs.vis, i) {
				m.setStatus(nil, "the partner is hidden by the filter; showing it anyway")
			}
			cs.cur, cs.follow = cs.posOf(i), false
			return m.openDetail(i)
		}
	}
	m.setStatus(nil, "the partner is not loaded yet")
	return nil
}

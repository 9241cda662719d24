package inspector

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"
	"github.com/wstap/wstap/capture"
)

// Options configure the inspector.
type Options struct {
	// Title names what is inspected, usually the file's path.
	Title string
	// Follow keeps reading the file as it grows, until its writer closes
	// it. It is implied for a file that is not complete.
	Follow bool
	// Color enables colours; false honours NO_COLOR and colourless
	// terminals.
	Color bool
	// Resend sends an edited client message (the `e` and `E` keys) to the
	// server in place of the recorded one and returns the server's replies
	// to it beside the recorded ones, shown in the resent view. It runs
	// off the UI loop; ctx ends when the inspector does. A result that
	// comes with an error is shown, and the error too. Nil shows that
	// resending is not available.
	Resend func(ctx context.Context, e Edited) (*Resent, error)
	// Editor is the command that edits a payload (default $VISUAL, $EDITOR,
	// then vi).
	Editor string
}

// Edited is a message the user edited, with where it came from.
type Edited struct {
	Conn   capture.ConnID
	Seq    uint64 // the original message's position in the capture
	Dir    capture.Direction
	Opcode capture.Opcode
	Data   []byte
}

// Resent is what resending an edited client message brought back.
type Resent struct {
	N int // the client message's number among the client's messages, 1, 2, 3 …
	// URL is where the message went (empty: the recorded URL).
	URL string
	// Sent is when the edited message was sent (zero: unknown; the new
	// replies' offsets then count from the first of them).
	Sent time.Time
	// Old and New are the server messages that followed the client
	// message: in the recording, and now.
	Old, New []Reply
}

// Reply is one server message that followed a resent client message.
type Reply struct {
	Dir    capture.Direction
	Opcode capture.Opcode
	Time   time.Time
	Data   []byte
}

type view uint8

const (
	viewConns view = iota
	viewHTTP
	viewMessages
	viewDetail
	viewFacts
	viewEdit   // the inline editor (E)
	viewResent // the replies to a resent message
)

type inputMode uint8

const (
	inputNone inputMode = iota
	inputFilter
	inputSearch
	inputJump
	inputSave
)

// Model is the inspector's bubbletea model.
type Model struct {
	src  Source
	opts Options
	th   theme
	ctx  context.Context
	stop context.CancelFunc

	width, height int
	view          view
	help          bool
	helpTop       int
	status        string
	statusErr     bool

	live    bool // the file is still being written
	paused  bool // p: the list does not follow new messages
	relTime bool
	conns   []capture.ConnSummary
	http    []capture.HTTPSummary
	connCur int
	connTop int
	httpCur int
	httpTop int
	srcErr  error

	open map[capture.ConnID]*connState
	cs   *connState // the connection shown

	input inputMode
	ti    textinput.Model
	det   *detail
	facts *facts
	ed    *inlineEdit  // the inline editor, while open
	rs    *resentState // the last resend's replies
	// resending is set while Options.Resend runs.
	resending bool
	bg        guard // the loaders, jobs and commands that read src
}

// New returns an inspector over src.
func New(src Source, opts Options) *Model {
	ctx, stop := context.WithCancel(context.Background())
	ti := textinput.New()
	ti.Prompt = ""
	st := ti.Styles()
	st.Cursor.Blink = false // a steady cursor: no timer while the bar is open
	ti.SetStyles(st)
	m := &Model{
		src: src, opts: opts, th: newTheme(opts.Color), ctx: ctx, stop: stop,
		width: 80, height: 24, open: map[capture.ConnID]*connState{}, ti: ti,
		live: opts.Follow || !src.Complete(),
	}
	m.conns = src.Conns()
	m.http = src.HTTP()
	return m
}

// Close stops the inspector's background work.
func (m *Model) Close() {
	m.stop()
	for _, cs := range m.open {
		cs.close()
	}
	m.bg.close()
}

type tickMsg struct {
	conns []capture.ConnSummary
	http  []capture.HTTPSummary
	live  bool
	err   error
}

// tick polls the file (when live) off the UI loop and wakes the model to
// take in what its loaders and jobs found: at most 20 times a second.
func (m *Model) tick() tea.Cmd {
	src, live := m.src, m.live
	return tea.Tick(pollInterval, func(time.Time) tea.Msg {
		if !live {
			return tickMsg{}
		}
		msg := tickMsg{live: true}
		if _, err := src.Refresh(); err != nil {
			msg.err = err
		}
		msg.conns, msg.http = src.Conns(), src.HTTP()
		msg.live = !src.Complete()
		return msg
	})
}

// Init implements tea.Model.
func (m *Model) Init() tea.Cmd {
	return m.tick()
}

// Update implements tea.Model.
func (m *Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.width, m.height = max(msg.Width, 20), max(msg.Height, 6)
		m.sizeEditor()
		return m, m.reformat()
	case tickMsg:
		return m, m.onTick(msg)
	case tea.KeyPressMsg:
		if m.view == viewEdit && !m.help {
			return m, m.onEditKey(msg)
		}
		return m, m.onKey(msg)
	case tea.MouseWheelMsg:
		switch msg.Button {
		case tea.MouseWheelUp:
			return m, m.move(-3)
		case tea.MouseWheelDown:
			return m, m.move(3)
		}
	case tea.MouseClickMsg:
		if msg.Button == tea.MouseLeft {
			return m, m.click(msg.Y)
		}
	case tea.PasteMsg:
		if m.view == viewEdit {
			return m, m.onEditKey(msg)
		}
		if m.input != inputNone {
			var cmd tea.Cmd
			m.ti, cmd = m.ti.Update(msg)
			return m, tea.Batch(cmd, m.inputChanged())
		}
	case detailMsg:
		m.onDetail(msg)
	case framesMsg:
		m.onFrames(msg)
	case partnerMsg:
		return m, m.onPartner(msg)
	case factsMsg:
		m.onFacts(msg)
	case payloadMsg:
		return m, m.onPayload(msg)
	case editedMsg:
		return m, m.onEdited(msg)
	case resentMsg:
		m.onResent(msg)
	case statusMsg:
		m.setStatus(msg.err, msg.text)
	}
	return m, nil
}

func (m *Model) onTick(msg tickMsg) tea.Cmd {
	if msg.conns != nil {
		m.conns = msg.conns
		m.http = msg.http
	}
	if msg.err != nil && !errors.Is(msg.err, context.Canceled) {
		m.srcErr = msg.err
	}
	if msg.conns != nil && !msg.live {
		m.live = false
	}
	for _, cs := range m.open {
		cs.pump(m)
	}
	return m.tick()
}

func (m *Model) setStatus(err error, text string) {
	if err != nil {
		m.status, m.statusErr = err.Error(), true
		return
	}
	m.status, m.statusErr = text, false
}

// connSummary returns the listed summary of connection id (only its id
// while the list does not have it yet).
func (m *Model) connSummary(id capture.ConnID) capture.ConnSummary {
	if i := slices.IndexFunc(m.conns, func(c capture.ConnSummary) bool { return c.Conn == id }); i >= 0 {
		return m.conns[i]
	}
	return capture.ConnSummary{Conn: id}
}

// openConn shows the messages of the connection at the list's cursor,
// loading them in the background the first time.
func (m *Model) openConn(id capture.ConnID) {
	cs := m.open[id]
	if cs == nil {
		cs = newConnState(m, id)
		m.open[id] = cs
	}
	m.cs = cs
	m.view = viewMessages
}

type statusMsg struct {
	text string
	err  error
}

func statusf(format string, a ...any) tea.Msg { return statusMsg{text: fmt.Sprintf(format, a...)} }

package inspector

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"
	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/exp/teatest/v2"
	"github.com/wstap/wstap/capture"
)

// fakeResend stands in for the replay: it keeps what it was handed and
// answers with canned replies, or err.
type fakeResend struct {
	sent []Edited
	res  *Resent
	err  error
}

func (f *fakeResend) resend(_ context.Context, e Edited) (*Resent, error) {
	f.sent = append(f.sent, e)
	return f.res, f.err
}

var sentAt = time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)

func reply(ms int, data string) Reply {
	return Reply{Dir: capture.ServerToClient, Opcode: capture.OpText, Time: t0.Add(time.Duration(ms) * time.Millisecond), Data: []byte(data)}
}

func newReply(ms int, data string) Reply {
	r := reply(ms, data)
	r.Time = sentAt.Add(time.Duration(ms) * time.Millisecond)
	return r
}

// cannedResent is what resending the subscription (client message 1,
// recorded at 20 ms) brings back: the same ack, a changed result, a reply
// only now.
func cannedResent() *Resent {
	return &Resent{N: 1, URL: "ws://127.0.0.1:9/ws", Sent: sentAt,
		Old: []Reply{reply(30, `{"type":"ack","id":7}`), reply(50, `{"jsonrpc":"2.0","id":7,"result":{"ok":true}}`)},
		New: []Reply{newReply(4, `{"type":"ack","id":7}`), newReply(9, `{"jsonrpc":"2.0","id":7,"result":{"ok":false}}`),
			newReply(15, `{"type":"trade","sym":"NEW"}`)},
	}
}

var ctrlS = tea.KeyPressMsg{Code: 's', Mod: tea.ModCtrl}

func TestResendOnlyClientMessages(t *testing.T) {
	f := &fakeResend{res: cannedResent()}
	m := openMessages(t, Options{Resend: f.resend, Editor: "false"})
	for _, c := range []struct {
		keys []string
		want string
	}{
		{[]string{"g", "e"}, "only a client→server"},                           // the server's welcome
		{[]string{"g", "E"}, "only a client→server"},                           // the same, inline
		{[]string{"G", "k", "k", "k", "k", "k", "e"}, "only a client→server"},  // the client's pong
		{[]string{"g", "j", "j", "j", "j", "j", "E"}, "E edits text messages"}, // the client's binary
	} {
		out := press(t, m, c.keys...)
		if len(out) != 0 || m.view != viewMessages || !strings.Contains(m.status, c.want) {
			t.Errorf("%v: view %d, ran %v, status %q; want %q and no editor", c.keys, m.view, out, m.status, c.want)
		}
	}
	// From the detail view of a server message too.
	press(t, m, "g", "enter", "e")
	if !strings.Contains(m.status, "only a client→server") {
		t.Errorf("e in the detail of a server message: %q", m.status)
	}
	if len(f.sent) != 0 {
		t.Errorf("resent %v", f.sent)
	}
}

func TestInlineEditAndResend(t *testing.T) {
	f := &fakeResend{res: cannedResent()}
	m := openMessages(t, Options{Resend: f.resend})
	press(t, m, "j", "E")
	if m.view != viewEdit || !strings.Contains(screen(m), `"method":"subscribe"`) {
		t.Fatalf("E did not open the payload in the inline editor:\n%s", screen(m))
	}
	golden(t, "inline_edit", screen(m))
	// Keys that mean something elsewhere are text here.
	press(t, m, "end", "q", "?", "j")
	if m.view != viewEdit || m.help {
		t.Fatalf("q ? j left the editor: view %d, help %v", m.view, m.help)
	}
	_, cmd := m.Update(ctrlS)
	if !m.resending || !strings.Contains(screen(m), "resending…") {
		t.Errorf("no resending… while the replay runs:\n%s", screen(m))
	}
	press(t, m, "j") // a key meanwhile does not hide it
	if !strings.Contains(screen(m), "resending…") {
		t.Errorf("resending… gone after a key:\n%s", screen(m))
	}
	runCmd(t, m, cmd)
	if len(f.sent) != 1 {
		t.Fatalf("resent %d messages", len(f.sent))
	}
	e := f.sent[0]
	if e.Conn != 1 || e.Seq == 0 || e.Dir != capture.ClientToServer || e.Opcode != capture.OpText ||
		!strings.HasSuffix(string(e.Data), `}}q?j`) {
		t.Errorf("handed %+v (%s)", e, e.Data)
	}
	if m.view != viewResent || m.resending {
		t.Fatalf("view %d, resending %v after the reply", m.view, m.resending)
	}
	head := strings.Split(screen(m), "\n")[1]
	if !strings.Contains(head, "client message 1 resent to ws://127.0.0.1:9/ws: 2 recorded replies, 3 now, 2 differ") {
		t.Errorf("header %q", head)
	}
	golden(t, "resent", screen(m))
	// The changed row shows its change under the list.
	press(t, m, "j")
	if !strings.Contains(screen(m), "reply 2: changed") || !strings.Contains(screen(m), "result.ok: true → false") {
		t.Errorf("the changed row's change is not shown:\n%s", screen(m))
	}
	golden(t, "resent_changed", screen(m))
	press(t, m, "j")
	if !strings.Contains(screen(m), "reply 3: only now") {
		t.Errorf("the inserted row:\n%s", screen(m))
	}
	// Enter opens the reply now in the detail view; esc comes back.
	press(t, m, "enter")
	if m.view != viewDetail || !strings.Contains(screen(m), `"sym": "NEW"`) || !strings.Contains(screen(m), "reply 3 now") {
		t.Fatalf("enter did not open the new reply:\n%s", screen(m))
	}
	press(t, m, "f")
	if !strings.Contains(m.status, "came from the resend") {
		t.Errorf("f on a reply: %q", m.status)
	}
	press(t, m, "esc")
	if m.view != viewResent {
		t.Fatalf("esc from the reply: view %d", m.view)
	}
	press(t, m, "esc")
	if m.view != viewMessages {
		t.Errorf("esc from the replies: view %d", m.view)
	}
}

func TestInlineEditCancelAndUnchanged(t *testing.T) {
	f := &fakeResend{res: cannedResent()}
	m := openMessages(t, Options{Resend: f.resend})
	press(t, m, "j", "enter", "E", "x", "esc")
	if m.view != viewDetail || !strings.Contains(m.status, "cancelled") {
		t.Errorf("esc: view %d, status %q", m.view, m.status)
	}
	press(t, m, "E")
	do(t, m, tea.PasteMsg{Content: "pasted"})
	if !strings.HasPrefix(m.ed.ta.Value(), "pasted") {
		t.Errorf("a paste went elsewhere: %q", m.ed.ta.Value())
	}
	press(t, m, "backspace", "backspace", "backspace", "backspace", "backspace", "backspace")
	do(t, m, ctrlS)
	if !strings.Contains(m.status, "unchanged") || len(f.sent) != 0 {
		t.Errorf("an unchanged edit: status %q, sent %d", m.status, len(f.sent))
	}
	if m.view != viewDetail {
		t.Errorf("after ctrl+s: view %d", m.view)
	}
}

func TestInlineEditRefusesWhatItWouldChange(t *testing.T) {
	f := &fakeResend{res: cannedResent()}
	m := openMessages(t, Options{Resend: f.resend})
	msg := m.cs.st.message(1, 1)
	for _, data := range []string{"a\tb", "line\r\n", "nul\x00", "bad \xff utf-8", strings.Repeat("\n", inlineMaxLines)} {
		m.setStatus(nil, "")
		do(t, m, payloadMsg{act: actInline, msg: msg, data: []byte(data)})
		if m.view != viewMessages || !strings.Contains(m.status, "e opens $EDITOR") {
			t.Errorf("inline edit of %q: view %d, status %q", data, m.view, m.status)
		}
	}
	big := msg
	big.Size = inlineMaxBytes + 1
	m.cs.st.at(1).size = big.Size
	press(t, m, "j", "E")
	if !strings.Contains(m.status, "too big for the inline editor") {
		t.Errorf("E on a big message: %q", m.status)
	}
}

func TestResendErrors(t *testing.T) {
	f := &fakeResend{err: errors.New("dial ws://127.0.0.1:9/ws:\nconnection refused")}
	m := openMessages(t, Options{Resend: f.resend})
	press(t, m, "j", "E", "end", "x")
	do(t, m, ctrlS)
	if !m.statusErr || m.status != "resend: dial ws://127.0.0.1:9/ws: connection refused" || m.view != viewMessages {
		t.Errorf("a failed resend: view %d, status %q", m.view, m.status)
	}
	lines := strings.Split(screen(m), "\n")
	if st := lines[len(lines)-2]; !strings.Contains(st, "connection refused") {
		t.Errorf("status line %q", st)
	}
	// A result with an error shows both.
	f.res, f.err = cannedResent(), errors.New("the server closed the connection")
	press(t, m, "E", "end", "x")
	do(t, m, ctrlS)
	if m.view != viewResent || !strings.Contains(m.status, "server closed") {
		t.Errorf("a result with an error: view %d, status %q", m.view, m.status)
	}
	// A second resend while one runs is refused.
	press(t, m, "esc", "E", "end", "x")
	_, cmd := m.Update(ctrlS)
	press(t, m, "E")
	if !strings.Contains(m.status, "already running") {
		t.Errorf("a second resend: %q", m.status)
	}
	runCmd(t, m, cmd)
}

func TestResentViewFollowsResizesAndScrolls(t *testing.T) {
	res := &Resent{N: 1, Sent: sentAt}
	for i := range 10_000 {
		res.Old = append(res.Old, reply(30+i, fmt.Sprintf(`{"i":%d}`, i)))
		d := i
		if i%1000 == 999 {
			d = -i
		}
		res.New = append(res.New, newReply(i, fmt.Sprintf(`{"i":%d}`, d)))
	}
	f := &fakeResend{res: res}
	m := openMessages(t, Options{Resend: f.resend})
	press(t, m, "j", "E", "end", "x")
	do(t, m, ctrlS)
	if !strings.Contains(screen(m), "10,000 recorded replies, 10,000 now") || m.rs.differ != 10 {
		t.Errorf("header:\n%s", screen(m))
	}
	press(t, m, "G")
	if m.rs.cur != 9999 || !strings.Contains(screen(m), `{"i":-9999}`) {
		t.Errorf("G: cursor %d\n%s", m.rs.cur, screen(m))
	}
	for _, sz := range [][2]int{{60, 15}, {133, 40}, {20, 6}} {
		do(t, m, windowSize(sz[0], sz[1]))
		lines := strings.Split(screen(m), "\n")
		if len(lines) != sz[1] {
			t.Errorf("%dx%d: %d lines", sz[0], sz[1], len(lines))
		}
		for i, l := range lines {
			if n := len([]rune(l)); n > sz[0] {
				t.Errorf("%dx%d: line %d is %d cells: %q", sz[0], sz[1], i, n, l)
			}
		}
		if !strings.Contains(screen(m), ">") {
			t.Errorf("%dx%d: the cursor row is off screen:\n%s", sz[0], sz[1], screen(m))
		}
	}
	do(t, m, windowSize(100, 30))
	press(t, m, "g")
	screen(m) // the program draws after every update; the click lands on what was drawn
	do(t, m, tea.MouseClickMsg{Button: tea.MouseLeft, Y: 4})
	if m.rs.cur != 1 {
		t.Errorf("a click on the second reply: cursor %d", m.rs.cur)
	}
	do(t, m, tea.MouseClickMsg{Button: tea.MouseLeft, Y: 4})
	if m.view != viewDetail {
		t.Errorf("a second click did not open the reply: view %d", m.view)
	}
}

// BenchmarkResentView draws the resent view of 100,000 replies a side: only
// the rows on screen are formatted.
func BenchmarkResentView(b *testing.B) {
	res := &Resent{N: 1, Sent: sentAt}
	for i := range 100_000 {
		res.Old = append(res.Old, reply(i, fmt.Sprintf(`{"i":%d}`, i)))
		res.New = append(res.New, newReply(i, fmt.Sprintf(`{"i":%d}`, i^1)))
	}
	m := newTestModel(b, openFixture(b), Options{})
	m.onResent(resentMsg{orig: capture.Message{Conn: 1, Time: t0}, res: res})
	b.ResetTimer()
	for range b.N {
		_ = m.View()
	}
}

// TestProgramInlineResend edits and resends a message under bubbletea's own
// loop: the textarea takes the keys, the resend runs as a command, and the
// resent view is what the program ends on.
func TestProgramInlineResend(t *testing.T) {
	f := &fakeResend{res: cannedResent()}
	m := New(openFixture(t), Options{Title: "fixture.wstap", Resend: f.resend})
	tm := teatest.NewTestModel(t, m, teatest.WithInitialTermSize(100, 30),
		teatest.WithProgramOptions(tea.WithColorProfile(colorprofile.ASCII)))
	var seen bytes.Buffer
	wait := func(s string) {
		t.Helper()
		teatest.WaitFor(t, io.TeeReader(tm.Output(), &seen), func([]byte) bool {
			return strings.Contains(ansi.Strip(seen.String()), s)
		}, teatest.WithDuration(10*time.Second), teatest.WithCheckInterval(5*time.Millisecond))
	}
	tm.Send(keyMsg("enter"))
	wait("BETA")
	tm.Send(keyMsg("j"))
	tm.Send(keyMsg("E"))
	wait("editing client message")
	tm.Send(keyMsg("end"))
	tm.Send(keyMsg("!"))
	tm.Send(ctrlS)
	wait("2 recorded replies")
	tm.Send(keyMsg("q"))
	final := tm.FinalModel(t, teatest.WithFinalTimeout(10*time.Second)).(*Model)
	golden(t, "resent", screen(final))
	if len(f.sent) != 1 || !strings.HasSuffix(string(f.sent[0].Data), "}}!") {
		t.Errorf("resent %v", f.sent)
	}
}

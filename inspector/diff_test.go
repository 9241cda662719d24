package inspector

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
	"github.com/wstap/wstap/capture"
	"github.com/wstap/wstap/internal/sessiondiff"
)

type spec struct {
	ms   int
	dir  capture.Direction
	data string
}

func session(name, proto string, start time.Time, specs ...spec) *sessiondiff.Session {
	s := &sessiondiff.Session{Name: name, URL: "wss://chat.example.test/ws", Status: 101, Subprotocol: proto,
		RequestHeaders: http.Header{"User-Agent": {"app/" + proto}}, Start: start}
	for _, sp := range specs {
		op := capture.OpText
		if strings.HasPrefix(sp.data, "\x00") {
			op = capture.OpBinary
		}
		s.Messages = append(s.Messages, sessiondiff.Message{Dir: sp.dir, Opcode: op, Time: start.Add(time.Duration(sp.ms) * time.Millisecond),
			Data: []byte(sp.data)})
	}
	sessiondiff.Number(s.Messages)
	if n := len(s.Messages); n > 0 {
		s.End = s.Messages[n-1].Time
	}
	return s
}

const (
	c2s = capture.ClientToServer
	s2c = capture.ServerToClient
)

// diffFixture is two sessions that differ in every way the view shows: a
// changed field, a message only in B, one only in A, two swapped, and the
// handshake's subprotocol.
func diffFixture() *sessiondiff.Result {
	a := session("a.wstap#1", "chat", t0,
		spec{10, c2s, `{"type":"hello","user":"ann"}`},
		spec{20, s2c, `{"type":"welcome","v":1}`},
		spec{30, c2s, `{"type":"sub","ch":"alpha"}`},
		spec{40, s2c, `{"type":"data","ch":"alpha","px":1}`},
		spec{50, c2s, `{"type":"sub","ch":"beta"}`},
		spec{60, s2c, `{"type":"data","ch":"beta","px":2}`},
		spec{70, c2s, `{"type":"bye"}`},
	)
	b := session("b.wstap#1", "chat.v2", t0.Add(time.Hour),
		spec{12, c2s, `{"type":"hello","user":"bob","v":2}`},
		spec{22, s2c, `{"type":"welcome","v":1}`},
		spec{32, c2s, `{"type":"sub","ch":"beta"}`},
		spec{42, s2c, `{"type":"data","ch":"alpha","px":1}`},
		spec{52, c2s, `{"type":"sub","ch":"alpha"}`},
		spec{62, s2c, `{"type":"data","ch":"beta","px":2}`},
		spec{65, s2c, `{"type":"notice","text":"maintenance at noon"}`},
	)
	return sessiondiff.Diff(a, b, sessiondiff.Options{})
}

func newDiffModel(t testing.TB, res *sessiondiff.Result) *DiffModel {
	t.Helper()
	d := NewDiff(res, Options{Title: "a.wstap ↔ b.wstap"})
	t.Cleanup(d.Close)
	d.Update(windowSize(100, 24))
	return d
}

// dpress sends keys to the diff view and runs what they return.
func dpress(t testing.TB, d *DiffModel, ks ...string) []tea.Msg {
	t.Helper()
	var out []tea.Msg
	for _, k := range ks {
		out = append(out, drun(t, d, keyMsg(k))...)
	}
	return out
}

func drun(t testing.TB, d *DiffModel, msg tea.Msg) []tea.Msg {
	t.Helper()
	_, cmd := d.Update(msg)
	if cmd == nil {
		return nil
	}
	switch m := cmd().(type) {
	case nil:
	case pairDocsMsg:
		return drun(t, d, m)
	default:
		return []tea.Msg{m}
	}
	return nil
}

func dscreen(d *DiffModel) string { return ansi.Strip(d.View().Content) }

func TestDiffScreens(t *testing.T) {
	res := diffFixture()
	d := newDiffModel(t, res)
	kinds := map[sessiondiff.OpKind]int{}
	for _, op := range d.rows {
		kinds[op.Kind]++
	}
	for _, k := range []sessiondiff.OpKind{sessiondiff.Same, sessiondiff.Changed, sessiondiff.Inserted, sessiondiff.Missing, sessiondiff.Reordered} {
		if kinds[k] == 0 {
			t.Errorf("the fixture has no %s pair: %v", k, kinds)
		}
	}
	golden(t, "diff", dscreen(d))
	dpress(t, d, "h")
	golden(t, "diff_handshake", dscreen(d))
	dpress(t, d, "esc", "g", "enter")
	golden(t, "diff_pair_changed", dscreen(d))
	dpress(t, d, "esc", "n", "enter")
	golden(t, "diff_pair_reordered", dscreen(d))
	dpress(t, d, "esc", "d")
	golden(t, "diff_only", dscreen(d))
	dpress(t, d, "?")
	golden(t, "diff_help", dscreen(d))
}

func TestDiffKeys(t *testing.T) {
	d := newDiffModel(t, diffFixture())
	kindAt := func() sessiondiff.OpKind { return d.rows[d.rowAt(d.cur)].Kind }
	// n visits every difference in order, then wraps; N goes back.
	if len(d.diffs) != 4 || d.diffs[0] != 0 {
		t.Fatalf("differences at rows %v; want 4, the first at row 0", d.diffs)
	}
	dpress(t, d, "j")
	want := append(append([]int32{}, d.diffs[1:]...), d.diffs[0])
	for i, w := range want {
		dpress(t, d, "n")
		if got := d.rowAt(d.cur); got != int(w) || kindAt() == sessiondiff.Same {
			t.Errorf("n #%d went to row %d, want %d", i+1, got, w)
		}
	}
	if !strings.Contains(d.status, "wrapped") {
		t.Errorf("n past the last difference: status %q", d.status)
	}
	dpress(t, d, "N")
	if got := d.rowAt(d.cur); got != int(d.diffs[3]) {
		t.Errorf("N from the first difference went to row %d, want the last, %d", got, d.diffs[3])
	}
	dpress(t, d, "N")
	if got := d.rowAt(d.cur); got != int(d.diffs[2]) {
		t.Errorf("N went to row %d, want %d", got, d.diffs[2])
	}
	// d shows only the differences, keeping the cursor on its row.
	row := d.rowAt(d.cur)
	dpress(t, d, "d")
	if d.count() != len(d.diffs) || d.rowAt(d.cur) != row {
		t.Errorf("d: %d rows shown, cursor on row %d; want %d and row %d", d.count(), d.rowAt(d.cur), len(d.diffs), row)
	}
	if strings.Contains(dscreen(d), " = ") {
		t.Errorf("only differences, but a same row is shown:\n%s", dscreen(d))
	}
	dpress(t, d, "G", "d")
	if d.count() != len(d.rows) || d.rowAt(d.cur) != int(d.diffs[len(d.diffs)-1]) {
		t.Errorf("d again: %d rows, cursor on row %d", d.count(), d.rowAt(d.cur))
	}
	// Enter on a changed pair shows its field change and both payloads.
	dpress(t, d, "g")
	for kindAt() != sessiondiff.Changed {
		dpress(t, d, "n")
	}
	dpress(t, d, "enter")
	s := dscreen(d)
	if d.pane != panePair || !strings.Contains(s, `user: "ann" → "bob"`) || !strings.Contains(s, `"user": "ann"`) || !strings.Contains(s, `"user": "bob"`) {
		t.Errorf("enter on the changed pair:\n%s", s)
	}
	dpress(t, d, "j", "n", "d") // the pane scrolls; the list's keys wait
	if d.pane != panePair || d.onlyDiffs {
		t.Errorf("keys in the pair pane acted on the list")
	}
	dpress(t, d, "esc", "h")
	if d.pane != paneHandshake || !strings.Contains(dscreen(d), `subprotocol: "chat" → "chat.v2"`) {
		t.Errorf("h:\n%s", dscreen(d))
	}
	dpress(t, d, "esc")
	if d.pane != paneList {
		t.Errorf("esc from the handshake: pane %d", d.pane)
	}
	dpress(t, d, "?", "j", "k", "?")
	if d.help {
		t.Errorf("? did not close the help")
	}
	out := dpress(t, d, "q")
	if len(out) != 1 {
		t.Fatalf("q: %v", out)
	}
	if _, ok := out[0].(tea.QuitMsg); !ok {
		t.Errorf("q returned %T", out[0])
	}
}

func TestChangeText(t *testing.T) {
	for _, c := range []struct {
		c    sessiondiff.Change
		want string
	}{
		{sessiondiff.Change{Path: "user", Kind: sessiondiff.KindChanged, A: `"ann"`, B: `"bob"`}, `user: "ann" → "bob"`},
		{sessiondiff.Change{Path: "v", Kind: sessiondiff.KindAdded, B: "2"}, `v: (absent) → 2  (added)`},
		{sessiondiff.Change{Path: "w", Kind: sessiondiff.KindRemoved, A: "[1]"}, `w: [1] → (absent)  (removed)`},
		{sessiondiff.Change{Kind: sessiondiff.KindText, A: "ab\nc ", B: "abd", Offset: 2}, `payload (from byte 2): ab\nc → abd  (text)`},
		{sessiondiff.Change{Kind: sessiondiff.KindOpcode, A: "text", B: "binary"}, `payload: text → binary  (opcode)`},
	} {
		if got := changeText(c.c); got != c.want {
			t.Errorf("changeText(%+v) = %q, want %q", c.c, got, c.want)
		}
	}
}

func TestDiffOfSameSessions(t *testing.T) {
	a := session("a#1", "chat", t0, spec{10, c2s, "hi"}, spec{20, s2c, "\x00\x01"})
	b := session("b#1", "chat", t0.Add(time.Minute), spec{11, c2s, "hi"}, spec{22, s2c, "\x00\x01"})
	d := newDiffModel(t, sessiondiff.Diff(a, b, sessiondiff.Options{}))
	dpress(t, d, "n")
	if !strings.Contains(d.status, "no differences") || !strings.Contains(dscreen(d), "the sessions are the same") {
		t.Errorf("n on the same sessions: %q\n%s", d.status, dscreen(d))
	}
	dpress(t, d, "d")
	if !strings.Contains(dscreen(d), "no differences (d shows every pair)") {
		t.Errorf("d on the same sessions:\n%s", dscreen(d))
	}
	dpress(t, d, "d", "G", "enter")
	if !strings.Contains(dscreen(d), "00000000  00 01") {
		t.Errorf("a binary pair is not shown as hex:\n%s", dscreen(d))
	}
	dpress(t, d, "esc", "h")
	if !strings.Contains(dscreen(d), "the handshakes are the same") {
		t.Errorf("h:\n%s", dscreen(d))
	}
}

func TestDiffFollowsResizes(t *testing.T) {
	d := newDiffModel(t, diffFixture())
	for _, sz := range [][2]int{{20, 6}, {57, 12}, {133, 40}} {
		drun(t, d, windowSize(sz[0], sz[1]))
		for _, pane := range []string{"", "enter", "h"} {
			if pane != "" {
				dpress(t, d, pane)
			}
			lines := strings.Split(dscreen(d), "\n")
			if len(lines) != sz[1] {
				t.Errorf("%dx%d %q: %d lines", sz[0], sz[1], pane, len(lines))
			}
			for i, l := range lines {
				if n := ansi.StringWidth(l); n > sz[0] {
					t.Errorf("%dx%d %q: line %d is %d cells: %q", sz[0], sz[1], pane, i, n, l)
				}
			}
			dpress(t, d, "esc")
		}
	}
	// A pair open across a resize is formatted again at the new width.
	dpress(t, d, "enter")
	drun(t, d, windowSize(40, 20))
	if d.det.docW != 39 {
		t.Errorf("the pair was not formatted again: width %d", d.det.docW)
	}
	dpress(t, d, "esc")
	drun(t, d, tea.MouseWheelMsg{Button: tea.MouseWheelDown})
	if d.cur != 3 {
		t.Errorf("the wheel down: cursor %d, want 3", d.cur)
	}
	drun(t, d, tea.MouseWheelMsg{Button: tea.MouseWheelUp})
	if d.cur != 0 {
		t.Errorf("the wheel up: cursor %d, want 0", d.cur)
	}
}

func TestDiffColourOnlyWhenEnabled(t *testing.T) {
	for _, color := range []bool{false, true} {
		d := NewDiff(diffFixture(), Options{Color: color})
		d.Update(windowSize(100, 24))
		d.Update(keyMsg("G")) // the cursor's style is not the rows'
		has := strings.Contains(d.View().Content, "\x1b[38;")
		if has != color {
			t.Errorf("color %v: foreground colours present = %v", color, has)
		}
		// Each kind of difference has its colour; the same rows none.
		msg := &sessiondiff.Message{Dir: c2s, Opcode: capture.OpText, Time: t0, Data: []byte("x")}
		for _, k := range []sessiondiff.OpKind{sessiondiff.Same, sessiondiff.Changed, sessiondiff.Inserted, sessiondiff.Missing, sessiondiff.Reordered} {
			line := d.th.pairLine(&sessiondiff.Op{Kind: k, A: msg, B: msg}, false, t0, t0, true, 80)
			if want := color && k != sessiondiff.Same; strings.Contains(line, "\x1b[38;") != want {
				t.Errorf("color %v: a %s row coloured = %v", color, k, !want)
			}
		}
		d.Close()
	}
}

func TestRunDiffOnAPipe(t *testing.T) {
	inR, inW := io.Pipe()
	defer inW.Close()
	out := &syncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- RunDiff(ctx, diffFixture(), Options{Title: "pipe"}, inR, out) }()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(ansi.Strip(out.String()), "the sessions differ") {
		if time.Now().After(deadline) {
			t.Fatalf("no first screen in 10 s: %q", out.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("RunDiff after its context ended: %v", err)
	}
}

// bigDiff is two sessions of n messages a side, every 1000th pair changed.
func bigDiff(n int) *sessiondiff.Result {
	mk := func(name string, start time.Time, odd bool) *sessiondiff.Session {
		s := &sessiondiff.Session{Name: name, URL: "ws://x/", Status: 101, Start: start}
		s.Messages = make([]sessiondiff.Message, 0, n)
		for i := range n {
			dir := c2s
			if i%2 == 1 {
				dir = s2c
			}
			v := i
			if odd && i%1000 == 999 {
				v = -i
			}
			s.Messages = append(s.Messages, sessiondiff.Message{Dir: dir, Opcode: capture.OpText,
				Time: start.Add(time.Duration(i) * time.Millisecond), Data: fmt.Appendf(nil, `{"type":"tick","i":%d}`, v)})
		}
		sessiondiff.Number(s.Messages)
		return s
	}
	return sessiondiff.Diff(mk("a#1", t0, false), mk("b#1", t0, true), sessiondiff.Options{})
}

func TestDiffBig(t *testing.T) {
	d := newDiffModel(t, bigDiff(20_000))
	drun(t, d, windowSize(160, 24))
	if len(d.rows) != 20_000 || len(d.diffs) != 20 {
		t.Fatalf("%d rows, %d differences; want 20,000 and 20", len(d.rows), len(d.diffs))
	}
	dpress(t, d, "G")
	if !strings.Contains(dscreen(d), `{"type":"tick","i":-19999}`) {
		t.Errorf("G does not show the last pair:\n%s", dscreen(d))
	}
	dpress(t, d, "pgup", "N")
	if d.rowAt(d.cur) != 18_999 {
		t.Errorf("N from the last page: row %d, want 18999", d.rowAt(d.cur))
	}
}

// BenchmarkDiffFirstScreen opens the diff view of two sessions of 100,000
// messages a side and draws its first screen: the cost is the merge of the
// alignments, not the rows, which are formatted only when on screen.
func BenchmarkDiffFirstScreen(b *testing.B) {
	res := bigDiff(100_000)
	b.ResetTimer()
	for range b.N {
		d := NewDiff(res, Options{})
		d.Update(windowSize(120, 40))
		_ = d.View()
	}
}

// BenchmarkDiffScroll draws the screen after each page down over the same
// sessions: constant in the number of rows.
func BenchmarkDiffScroll(b *testing.B) {
	d := NewDiff(bigDiff(100_000), Options{})
	d.Update(windowSize(120, 40))
	b.ResetTimer()
	for range b.N {
		d.Update(keyMsg("pgdown"))
		_ = d.View()
	}
}

package inspector

import (
	"context"
	"encoding/base64"
	"errors"
	"io"
	"iter"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
	"github.com/wstap/wstap/capture"
)

// openMessages opens conn 1 of the fixture and waits for its rows.
func openMessages(t *testing.T, opts Options) *Model {
	t.Helper()
	m := newTestModel(t, openFixture(t), opts)
	press(t, m, "enter")
	settle(t, m)
	if m.view != viewMessages || m.cs.count() != 13 {
		t.Fatalf("view %d with %d rows, want the messages view with 13", m.view, m.cs.count())
	}
	return m
}

// cursorPayload is the preview of the message under the cursor.
func cursorPayload(m *Model) string {
	ri := m.cs.rowAt(m.cs.cur)
	if ri < 0 {
		return ""
	}
	return string(m.cs.st.preview(m.cs.st.at(ri)))
}

func TestFilterAsYouType(t *testing.T) {
	m := openMessages(t, Options{})
	press(t, m, "f")
	typeText(t, m, "from:server json:type=trade")
	settle(t, m)
	if got := m.cs.count(); got != 2 {
		t.Fatalf("filter passes %d messages, want the 2 trades", got)
	}
	if !strings.Contains(screen(m), `"sym":"ACME"`) || strings.Contains(screen(m), "welcome") {
		t.Errorf("the list does not show just the trades:\n%s", screen(m))
	}
	// A bad expression shows its error and keeps the last good filter.
	do(t, m, tea.PasteMsg{Content: " size>"})
	settle(t, m)
	if m.cs.fltErr == "" || !strings.Contains(screen(m), "✗") {
		t.Errorf("no error shown for a bad term:\n%s", screen(m))
	}
	if got := m.cs.count(); got != 2 {
		t.Errorf("a bad expression changed the filter: %d rows", got)
	}
	press(t, m, "enter")
	if m.input != inputNone || !strings.Contains(m.status, "kept the last good filter") {
		t.Errorf("enter on a bad expression: input %d, status %q", m.input, m.status)
	}
	if m.cs.fltText != "from:server json:type=trade" {
		t.Errorf("filter text %q", m.cs.fltText)
	}
	// Clearing the filter shows every row again, cursor kept on its row.
	press(t, m, "j")
	want := cursorPayload(m)
	press(t, m, "f")
	for range len(m.ti.Value()) {
		press(t, m, "backspace")
	}
	press(t, m, "enter")
	settle(t, m)
	if m.cs.count() != 13 || cursorPayload(m) != want {
		t.Errorf("after clearing: %d rows, cursor on %q, want 13 and %q", m.cs.count(), cursorPayload(m), want)
	}
}

func TestFilterReadsPayloadsBeyondThePreview(t *testing.T) {
	m := openMessages(t, Options{})
	// "instrument-" appears in the catalog only after the preview's 64 bytes.
	press(t, m, "f")
	typeText(t, m, "/instrument-instrument-instrument-instrument-instrument-instrument-instrument-/")
	settle(t, m)
	if m.cs.count() != 1 || !strings.Contains(cursorPayload(m), "catalog") {
		t.Fatalf("regex over the whole payload found %d rows (cursor on %q), want the catalog", m.cs.count(), cursorPayload(m))
	}
	press(t, m, "esc")
	if m.cs.count() != 1 {
		t.Errorf("esc dropped the filter that was in force")
	}
}

func TestFilterNothingPasses(t *testing.T) {
	m := openMessages(t, Options{})
	press(t, m, "f")
	typeText(t, m, "op:close")
	settle(t, m)
	if m.cs.count() != 0 || !strings.Contains(screen(m), "no message passes the filter") {
		t.Errorf("empty result not shown:\n%s", screen(m))
	}
	press(t, m, "j", "enter", "m", "c")
	if m.view != viewMessages {
		t.Errorf("keys on an empty list left the view")
	}
}

func TestSearchNextPrev(t *testing.T) {
	m := openMessages(t, Options{})
	press(t, m, "n")
	if !strings.Contains(m.status, "no search") {
		t.Errorf("n without a search: status %q", m.status)
	}
	press(t, m, "/")
	typeText(t, m, "trade")
	press(t, m, "enter")
	settle(t, m)
	if len(m.cs.hits) != 3 { // the subscription's params mention trades too
		t.Fatalf("%d hits, want 3", len(m.cs.hits))
	}
	var seen []int
	for range 4 {
		press(t, m, "n")
		seen = append(seen, m.cs.cur)
	}
	if seen[0] != 1 || seen[1] != 3 || seen[2] != 12 || seen[3] != 1 {
		t.Errorf("n visits rows %v, want 1 3 12 1 (wrapping)", seen)
	}
	press(t, m, "N")
	if m.cs.cur != 12 {
		t.Errorf("N from row 1 went to %d, want 12", m.cs.cur)
	}
	if !strings.Contains(screen(m), "•") || !strings.Contains(screen(m), "search trade: 3 hits") {
		t.Errorf("hits not marked in the gutter or the status line:\n%s", screen(m))
	}
	// Under a filter, n skips hits the filter hides.
	press(t, m, "f")
	typeText(t, m, "from:server")
	press(t, m, "enter")
	settle(t, m)
	press(t, m, "g", "n")
	if p := cursorPayload(m); !strings.Contains(p, "ACME") {
		t.Errorf("n under a filter landed on %q", p)
	}
	press(t, m, "/")
	m.ti.SetValue("")
	typeText(t, m, "json:[")
	press(t, m, "enter")
	if !m.statusErr {
		t.Errorf("a bad search expression gave no error")
	}
}

func TestMarks(t *testing.T) {
	m := openMessages(t, Options{})
	press(t, m, "M")
	if !strings.Contains(m.status, "no visible mark") {
		t.Errorf("M without marks: %q", m.status)
	}
	press(t, m, "j", "j", "m", "j", "j", "j", "m", "g", "M")
	if m.cs.cur != 2 {
		t.Errorf("M went to %d, want 2", m.cs.cur)
	}
	press(t, m, "M")
	if m.cs.cur != 5 {
		t.Errorf("second M went to %d, want 5", m.cs.cur)
	}
	press(t, m, "M")
	if m.cs.cur != 2 {
		t.Errorf("M did not wrap: %d", m.cs.cur)
	}
	if !strings.Contains(screen(m), "2 marked") {
		t.Errorf("marks not counted:\n%s", screen(m))
	}
	press(t, m, "m")
	if len(m.cs.marks) != 1 {
		t.Errorf("m did not toggle the mark off")
	}
}

func TestJumpToTime(t *testing.T) {
	m := openMessages(t, Options{})
	for _, c := range []struct {
		in   string
		want int
	}{
		{"03:04:05.060", 5},
		{"+35ms", 4},
		{"03:04", 0},
		{"23:59:59", 12},
	} {
		press(t, m, ":")
		typeText(t, m, c.in)
		press(t, m, "enter")
		if m.statusErr || m.cs.cur != c.want {
			t.Errorf("jump to %q: cursor %d (status %q), want %d", c.in, m.cs.cur, m.status, c.want)
		}
	}
	for _, bad := range []string{"25:00", "noon", "+soon"} {
		press(t, m, ":")
		typeText(t, m, bad)
		press(t, m, "enter")
		if !m.statusErr {
			t.Errorf("jump to %q gave no error", bad)
		}
	}
}

func TestDetailDecodersAndNavigation(t *testing.T) {
	m := openMessages(t, Options{})
	press(t, m, "j", "j", "enter")
	if m.det.kind.String() != "msgpack" || !strings.Contains(screen(m), `"sym": "ACME"`) {
		t.Fatalf("the msgpack message opened as %s:\n%s", m.det.kind, screen(m))
	}
	press(t, m, "d")
	if m.det.kind.String() != "hex" || !strings.Contains(screen(m), "00000000  82 a4 62 69") {
		t.Errorf("d did not switch to hex:\n%s", screen(m))
	}
	press(t, m, "D")
	if m.det.kind.String() != "msgpack" {
		t.Errorf("D did not switch back: %s", m.det.kind)
	}
	press(t, m, "]", "]", "]")
	if m.det.msg.Opcode != capture.OpBinary || m.det.kind.String() != "hex" {
		t.Errorf("] ] ] opened %s as %s, want the raw binary as hex", m.det.msg.Opcode, m.det.kind)
	}
	if !strings.Contains(screen(m), "|.....7......wfUD|") {
		t.Errorf("hex dump has no ASCII column:\n%s", screen(m))
	}
	press(t, m, "[")
	if m.det.row != 4 {
		t.Errorf("[ went to row %d, want 4", m.det.row)
	}
	press(t, m, "esc")
	if m.view != viewMessages || m.cs.cur != 4 {
		t.Errorf("esc: view %d, cursor %d", m.view, m.cs.cur)
	}
}

func TestPartner(t *testing.T) {
	m := openMessages(t, Options{})
	press(t, m, "j", "enter", "p")
	if m.det.row != 4 || !strings.Contains(string(m.det.data), `"result"`) {
		t.Fatalf("p on the request opened row %d (%q), want the response", m.det.row, m.det.data)
	}
	press(t, m, "p")
	if m.det.row != 1 {
		t.Errorf("p on the response opened row %d, want the request", m.det.row)
	}
	press(t, m, "esc", "g", "enter", "p")
	if !strings.Contains(m.status, "no partner") {
		t.Errorf("p on plain text: %q", m.status)
	}
}

func TestCopySaveEdit(t *testing.T) {
	m := openMessages(t, Options{})
	out := press(t, m, "j", "c")
	if len(out) != 1 {
		t.Fatalf("c returned %v, want one clipboard write", out)
	}
	if !strings.Contains(m.status, "copied 75 B") {
		t.Errorf("status %q", m.status)
	}
	// Binary goes as base64, from the detail view.
	out = press(t, m, "j", "enter", "c")
	if len(out) != 1 || !strings.Contains(m.status, "as base64") {
		t.Fatalf("copy of binary: %v, status %q", out, m.status)
	}
	press(t, m, "esc", "k", "w")
	if !strings.HasSuffix(m.ti.Value(), ".json") {
		t.Errorf("default name for JSON: %q", m.ti.Value())
	}
	press(t, m, "esc", "j", "enter")
	dir := t.TempDir()
	path := filepath.Join(dir, "snap.bin")
	press(t, m, "w")
	if m.input != inputSave || !strings.HasPrefix(m.ti.Value(), "wstap-conn1-seq") {
		t.Fatalf("w: input %d, default %q", m.input, m.ti.Value())
	}
	m.ti.SetValue(path)
	press(t, m, "enter")
	got, err := os.ReadFile(path)
	if err != nil || string(got) != string(msgpackSnapshot) {
		t.Fatalf("saved %q, %v", got, err)
	}
	press(t, m, "w")
	m.ti.SetValue(path)
	press(t, m, "enter")
	if !m.statusErr || !strings.Contains(m.status, "not overwritten") {
		t.Errorf("saving over a file: %q", m.status)
	}
	press(t, m, "e")
	if !strings.Contains(m.status, "not available") {
		t.Errorf("e without a resend seam: %q", m.status)
	}
	_ = base64.StdEncoding
}

func TestEditAndResend(t *testing.T) {
	var sent []Edited
	editor := filepath.Join(t.TempDir(), "ed.sh")
	if err := os.WriteFile(editor, []byte("#!/bin/sh\nprintf 'edited' > \"$1\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	fail := false
	m := openMessages(t, Options{Editor: editor, Resend: func(_ context.Context, e Edited) (*Resent, error) {
		if fail {
			return nil, errors.New("server gone")
		}
		sent = append(sent, e)
		return &Resent{N: 1}, nil
	}})
	out := press(t, m, "j", "e")
	if len(out) != 1 {
		t.Fatalf("e returned %v, want the editor's exec", out)
	}
	// Run what tea.ExecProcess would, then hand back its result.
	p := m.lastEdit(t)
	if err := runEditor(editor, p); err != nil {
		t.Fatal(err)
	}
	do(t, m, editedMsg{msg: m.cs.st.message(1, 1), path: p, old: []byte("x")})
	if len(sent) != 1 || string(sent[0].Data) != "edited" || sent[0].Seq == 0 || sent[0].Dir != capture.ClientToServer {
		t.Fatalf("resent %+v", sent)
	}
	if m.view != viewResent || !strings.Contains(screen(m), "client message 1 resent") {
		t.Errorf("no resent view after a resend:\n%s", screen(m))
	}
	press(t, m, "esc")
	fail = true
	os.WriteFile(p, []byte("again"), 0o600)
	do(t, m, editedMsg{msg: m.cs.st.message(1, 1), path: p, old: []byte("x")})
	if !m.statusErr || !strings.Contains(m.status, "server gone") {
		t.Errorf("a failed resend: %q", m.status)
	}
	os.WriteFile(p, []byte("same"), 0o600)
	do(t, m, editedMsg{msg: m.cs.st.message(1, 1), path: p, old: []byte("same")})
	if !strings.Contains(m.status, "unchanged") {
		t.Errorf("an unchanged edit: %q", m.status)
	}
}

func TestKeysEverywhere(t *testing.T) {
	m := newTestModel(t, openFixture(t), Options{})
	press(t, m, "j", "j", "k")
	if m.connCur != 0 {
		t.Errorf("j j k: cursor %d", m.connCur)
	}
	press(t, m, "end")
	if m.connCur != 1 {
		t.Errorf("end: %d", m.connCur)
	}
	press(t, m, "i")
	if m.view != viewFacts || !strings.Contains(strings.Join(m.facts.lines, "\n"), "403") {
		t.Errorf("facts of the refused connection: %v", m.facts.lines)
	}
	press(t, m, "esc", "home", "enter")
	settle(t, m)
	do(t, m, tea.MouseWheelMsg{Button: tea.MouseWheelDown})
	if m.cs.cur != 3 {
		t.Errorf("wheel down: cursor %d, want 3", m.cs.cur)
	}
	do(t, m, tea.MouseWheelMsg{Button: tea.MouseWheelUp})
	press(t, m, "pgdown")
	if m.cs.cur != 12 {
		t.Errorf("pgdown: %d", m.cs.cur)
	}
	press(t, m, "pgup", "?")
	if !m.help || !strings.Contains(screen(m), "Message detail") {
		t.Errorf("? shows no help")
	}
	press(t, m, "?", "q")
	out := press(t, m, "q")
	if len(out) != 1 {
		t.Fatalf("q: %v", out)
	}
	if _, ok := out[0].(tea.QuitMsg); !ok {
		t.Errorf("q returned %T", out[0])
	}
}

func TestColourOnlyWhenEnabled(t *testing.T) {
	for _, color := range []bool{false, true} {
		m := openMessages(t, Options{Color: color})
		press(t, m, "j", "enter")
		v := m.View().Content
		has := strings.Contains(v, "\x1b[38;")
		if has != color {
			t.Errorf("color %v: foreground colours present = %v", color, has)
		}
	}
}

func TestResizeReformats(t *testing.T) {
	m := openMessages(t, Options{})
	press(t, m, "G", "k", "k", "enter")
	wide := m.det.doc.Len()
	do(t, m, windowSize(40, 20))
	if m.det.docW != 39 || m.det.doc.Len() <= wide {
		t.Errorf("after a resize to 40: width %d, %d lines (was %d)", m.det.docW, m.det.doc.Len(), wide)
	}
	for _, l := range strings.Split(screen(m), "\n") {
		if len([]rune(l)) > 40 {
			t.Errorf("line wider than 40: %q", l)
		}
	}
}

func TestRunOnAPipe(t *testing.T) {
	src := openFixture(t)
	inR, inW := io.Pipe()
	defer inW.Close()
	out := &syncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, src, Options{Title: "pipe"}, inR, out) }()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(ansi.Strip(out.String()), "2 connections") {
		if time.Now().After(deadline) {
			t.Fatalf("no first screen in 10 s: %q", out.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run after its context ended: %v", err)
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestEditorChoice(t *testing.T) {
	m := &Model{}
	t.Setenv("VISUAL", "")
	t.Setenv("EDITOR", "nano -w")
	if got := m.editor(); strings.Join(got, " ") != "nano -w" {
		t.Errorf("editor %q", got)
	}
	t.Setenv("VISUAL", "code --wait")
	if got := m.editor(); got[0] != "code" {
		t.Errorf("VISUAL not first: %q", got)
	}
	t.Setenv("VISUAL", "")
	t.Setenv("EDITOR", "")
	if got := m.editor(); got[0] != "vi" {
		t.Errorf("default %q", got)
	}
}

// brokenSource is a capture whose payload and record reads fail after the
// summaries loaded, as a file truncated under the inspector would.
type brokenSource struct {
	*capture.Reader
	broken bool
}

var errBroken = errors.New("disk on fire")

func (b *brokenSource) OpenMessageAt(c capture.ConnID, seq uint64) (io.ReadCloser, error) {
	if b.broken {
		return nil, errBroken
	}
	return b.Reader.OpenMessageAt(c, seq)
}

func (b *brokenSource) RecordsFrom(f capture.Filter, seq uint64) iter.Seq2[capture.Record, error] {
	if !b.broken {
		return b.Reader.RecordsFrom(f, seq)
	}
	return func(yield func(capture.Record, error) bool) { yield(nil, errBroken) }
}

func TestReadErrorsAreShown(t *testing.T) {
	src := &brokenSource{Reader: openFixture(t)}
	m := newTestModel(t, src, Options{})
	press(t, m, "enter")
	settle(t, m)
	src.broken = true
	// The catalog is longer than its preview: opening it reads the file.
	press(t, m, "G", "k", "k", "enter")
	if !m.statusErr || !strings.Contains(m.status, "disk on fire") {
		t.Errorf("a failed read: status %q", m.status)
	}
	press(t, m, "esc", "i")
	if !strings.Contains(strings.Join(m.facts.lines, "\n"), "error: disk on fire") {
		t.Errorf("facts of a broken file: %q", m.facts.lines)
	}
	press(t, m, "esc", "f")
	typeText(t, m, "/never/")
	settle(t, m)
	if m.cs.count() != 0 {
		t.Errorf("a filter over an unreadable file passed %d rows", m.cs.count())
	}
	src.broken = false
	m.ti.SetValue("")
	press(t, m, "backspace", "enter")
	settle(t, m)
	press(t, m, "g", "j", "enter")
	src.broken = true
	press(t, m, "f")
	if !strings.Contains(m.status, "disk on fire") {
		t.Errorf("frames of a broken file: %q", m.status)
	}
	press(t, m, "p")
	if !strings.Contains(m.status, "no partner found") {
		t.Errorf("partner in a broken file: %q", m.status)
	}
	press(t, m, "esc", "tab", "enter")
	if !strings.Contains(strings.Join(m.facts.lines, "\n"), "disk on fire") {
		t.Errorf("HTTP facts of a broken file: %q", m.facts.lines)
	}
}

func TestMouseClicks(t *testing.T) {
	m := newTestModel(t, openFixture(t), Options{})
	do(t, m, tea.MouseClickMsg{Button: tea.MouseLeft, Y: 3})
	if m.connCur != 1 || m.view != viewConns {
		t.Fatalf("a click on the second connection: cursor %d, view %d", m.connCur, m.view)
	}
	do(t, m, tea.MouseClickMsg{Button: tea.MouseLeft, Y: 2})
	do(t, m, tea.MouseClickMsg{Button: tea.MouseLeft, Y: 2})
	settle(t, m)
	if m.view != viewMessages {
		t.Fatalf("a second click did not open the connection: view %d", m.view)
	}
	do(t, m, tea.MouseClickMsg{Button: tea.MouseLeft, Y: 6})
	if m.cs.cur != 2 {
		t.Errorf("a click on the third message: cursor %d", m.cs.cur)
	}
	do(t, m, tea.MouseClickMsg{Button: tea.MouseLeft, Y: 29})
	if m.cs.cur != 2 {
		t.Errorf("a click below the rows moved the cursor to %d", m.cs.cur)
	}
	do(t, m, tea.MouseClickMsg{Button: tea.MouseLeft, Y: 6})
	if m.view != viewDetail || m.det.kind.String() != "msgpack" {
		t.Errorf("a second click did not open the msgpack message: view %d", m.view)
	}
}

func TestHelpOnANarrowScreen(t *testing.T) {
	m := newTestModel(t, openFixture(t), Options{})
	do(t, m, windowSize(60, 20))
	press(t, m, "?")
	if strings.Contains(screen(m), "edit and resend") {
		t.Fatalf("the whole help fits 60×20?\n%s", screen(m))
	}
	for range 40 {
		press(t, m, "j")
	}
	if !strings.Contains(screen(m), "edit and resend") || !strings.Contains(screen(m), "filter terms") {
		t.Errorf("j does not scroll the help to its end:\n%s", screen(m))
	}
	press(t, m, "k", "esc")
	if m.help {
		t.Errorf("esc did not close the help")
	}
}

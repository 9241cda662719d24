package inspector

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wstap/wstap/capture"
)

// liveTick runs the program's tick as the runtime would: it polls the file
// and the model takes in what arrived.
func liveTick(t *testing.T, m *Model) {
	t.Helper()
	msg := m.tick()()
	m.Update(msg)
}

// waitRows ticks until the shown connection has n rows.
func waitRows(t *testing.T, m *Model, n int) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for m.cs == nil || m.cs.st.len() < n {
		if time.Now().After(deadline) {
			got := -1
			if m.cs != nil {
				got = m.cs.st.len()
			}
			t.Fatalf("%d rows after 20 s, want %d", got, n)
		}
		liveTick(t, m)
	}
}

func TestFollowGrowingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "live.wstap")
	w, err := capture.Create(path, capture.Options{FlushInterval: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	r, err := capture.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() }) // after the model's Close (cleanups run last first), which waits for its readers
	m := newTestModel(t, r, Options{})
	if !m.live || !strings.Contains(screen(m), "no WebSocket connections in this capture yet") {
		t.Fatalf("an empty live file:\n%s", screen(m))
	}
	c, err := w.Open(&capture.ConnOpen{Time: at(0), URL: "ws://live.example.test/", Status: 101})
	if err != nil {
		t.Fatal(err)
	}
	send := func(from, to int) {
		for i := from; i < to; i++ {
			appendMessage(t, w, c, chunkSpec{ms: i, dir: capture.ServerToClient, op: capture.OpText, data: fmt.Sprintf(`{"n":%d}`, i)})
		}
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	send(0, 10)
	for len(m.conns) == 0 {
		liveTick(t, m)
	}
	press(t, m, "enter")
	waitRows(t, m, 10)
	if !m.cs.follow || m.cs.cur != 9 {
		t.Fatalf("a live list starts following: follow %v, cursor %d", m.cs.follow, m.cs.cur)
	}
	if !strings.Contains(screen(m), "· live") {
		t.Errorf("title does not say live:\n%s", screen(m))
	}
	send(10, 20)
	waitRows(t, m, 20)
	if m.cs.cur != 19 {
		t.Errorf("at the bottom the cursor follows: %d, want 19", m.cs.cur)
	}
	// Moved up, it stays put.
	press(t, m, "k", "k")
	send(20, 30)
	waitRows(t, m, 30)
	if m.cs.cur != 17 {
		t.Errorf("moved up, the cursor went to %d, want 17", m.cs.cur)
	}
	// End follows again; p pauses and resumes.
	press(t, m, "G")
	send(30, 40)
	waitRows(t, m, 40)
	if m.cs.cur != 39 {
		t.Errorf("after G: cursor %d, want 39", m.cs.cur)
	}
	press(t, m, "p")
	send(40, 50)
	waitRows(t, m, 50)
	if m.cs.cur != 39 || !strings.Contains(screen(m), "paused") {
		t.Errorf("paused: cursor %d\n%s", m.cs.cur, screen(m))
	}
	press(t, m, "p")
	if m.cs.cur != 49 {
		t.Errorf("resumed: cursor %d, want 49", m.cs.cur)
	}
	// A filter keeps up with new rows.
	press(t, m, "f")
	typeText(t, m, `/"n":(4[6-9]|5[0-4])}/`)
	press(t, m, "enter")
	send(50, 55)
	waitRows(t, m, 55)
	deadline := time.Now().Add(10 * time.Second)
	for m.cs.count() != 9 && time.Now().Before(deadline) {
		liveTick(t, m)
	}
	if m.cs.count() != 9 {
		t.Errorf("the filter over a live list passes %d, want 9 (46 to 54)", m.cs.count())
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); (m.live || !m.cs.done) && time.Now().Before(deadline); {
		liveTick(t, m)
	}
	if m.live || !m.cs.done || strings.Contains(screen(m), "· live") {
		t.Errorf("after the writer closed: live %v, loaded %v", m.live, m.cs.done)
	}
}

// TestFollowUnderLoad follows a file written as fast as the writer goes:
// every message reaches the list, in batches, and the writer is never held
// up by the reader (they share nothing but the file).
func TestFollowUnderLoad(t *testing.T) {
	path := filepath.Join(t.TempDir(), "load.wstap")
	w, err := capture.Create(path, capture.Options{})
	if err != nil {
		t.Fatal(err)
	}
	r, err := capture.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() }) // after the model's Close (cleanups run last first), which waits for its readers
	c, err := w.Open(&capture.ConnOpen{Time: at(0), URL: "ws://load.example.test/", Status: 101})
	if err != nil {
		t.Fatal(err)
	}
	m := newTestModel(t, r, Options{Follow: true})
	for len(m.conns) == 0 {
		liveTick(t, m)
	}
	press(t, m, "enter")
	const n = 20000
	done := make(chan error, 1)
	go func() {
		for i := range n {
			err := w.Append(&capture.Chunk{Conn: c, Time: at(i), Dir: capture.Direction(i % 2), Opcode: capture.OpText,
				First: true, Last: true, Data: fmt.Appendf(nil, `{"n":%d,"pad":"%0100d"}`, i, i)})
			if err != nil {
				done <- err
				return
			}
		}
		done <- w.Close()
	}()
	ticks := 0
	for deadline := time.Now().Add(60 * time.Second); m.cs.st.len() < n && time.Now().Before(deadline); ticks++ {
		liveTick(t, m)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if m.cs.st.len() != n {
		t.Fatalf("%d rows reached the list, want %d", m.cs.st.len(), n)
	}
	// Rows and previews span several blocks of the store: each row still
	// has its own.
	for i := range n {
		want := fmt.Sprintf(`{"n":%d,"pad":`, i)
		if got := string(m.cs.st.preview(m.cs.st.at(i))); !strings.HasPrefix(got, want) || m.cs.st.at(i).size != int64(len(want)+103) {
			t.Fatalf("row %d: preview %q, size %d", i, got, m.cs.st.at(i).size)
		}
	}
	if ticks > n/10 {
		t.Errorf("%d ticks for %d messages: rows do not arrive in batches", ticks, n)
	}
	if m.cs.cur != n-1 {
		t.Errorf("the cursor did not follow: %d", m.cs.cur)
	}
	// A payload filter reads the messages beyond their previews, in one
	// pass, and a newer filter cancels the one running.
	press(t, m, "f")
	typeText(t, m, "json:n=12")
	if !strings.Contains(screen(m), "scanning") && m.cs.fjob.finished() == false {
		t.Errorf("a running filter shows no progress:\n%s", screen(m))
	}
	typeText(t, m, "345")
	press(t, m, "enter")
	settle(t, m)
	if m.cs.count() != 1 || !strings.Contains(cursorPayload(m), `"n":12345`) {
		t.Errorf("json:n=12345 passes %d rows, cursor on %q", m.cs.count(), cursorPayload(m))
	}
	press(t, m, "/")
	m.ti.SetValue("")
	press(t, m, "enter")
	if m.cs.search != nil {
		t.Errorf("an empty search did not clear it")
	}
}

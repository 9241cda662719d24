package inspector

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
	"github.com/wstap/wstap/capture"
	"github.com/wstap/wstap/decode"
)

// The inspector's performance targets, over a capture of one connection of
// 1,000,000 messages of about 1 KiB and three of 10 MiB (benchdata_test.go):
//
//	FirstScreen    open the file and the connection: a full first page < 1 s
//	KeyEnd         G (jump to the last message) + View < 50 ms
//	KeyFilter      one keystroke in the filter bar + View < 50 ms (the filter runs off the UI loop)
//	FilterAll      how long the filter job takes over every row (facts-ms, payload-ms)
//	Open10MiB/*    enter on a 10 MiB message until its formatted view is drawn < 300 ms
//	Memory         the heap once every row is loaded < 300 MB (heap-MB); also the
//	               heap's peak while loading and the longest tick (max-tick-ms)
//
//	go test -run=NONE -bench=Inspector -benchtime=3x ./inspector
//
// Memory's sys-MB is the most the process got from the OS so far: run
// -bench=Inspector/Memory alone to see it for the loaded list only.
func BenchmarkInspector(b *testing.B) {
	if testing.Short() {
		b.Skip("1 GiB capture")
	}
	path := benchCapture(b)
	if fi, err := os.Stat(path); err == nil {
		b.Logf("capture: %s, %d MiB", path, fi.Size()>>20)
	}
	b.Run("FirstScreen", func(b *testing.B) { benchFirstScreen(b, path) })
	b.Run("KeyEnd", func(b *testing.B) { benchKeyEnd(b, path) })
	b.Run("KeyFilter", func(b *testing.B) { benchKeyFilter(b, path) })
	b.Run("FilterAll", func(b *testing.B) { benchFilterAll(b, path) })
	b.Run("Open10MiB", func(b *testing.B) {
		b.Run("json", func(b *testing.B) { benchOpenBig(b, path, 2) })
		b.Run("oneline", func(b *testing.B) { benchOpenBig(b, path, 1) })
		b.Run("binary", func(b *testing.B) { benchOpenBig(b, path, 0) })
	})
	b.Run("Memory", func(b *testing.B) { benchMemory(b, path) })
}

// showScreen logs a screen a benchmark checked, when WSTAP_BENCH_SCREENS
// is set: to see what is measured.
func showScreen(b *testing.B, name, s string) {
	if os.Getenv("WSTAP_BENCH_SCREENS") != "" {
		b.Logf("%s:\n%s", name, s)
	}
}

func reportMS(b *testing.B) {
	b.ReportMetric(float64(b.Elapsed())/float64(b.N)/1e6, "ms/op")
}

func openBench(b *testing.B, path string) *capture.Reader {
	b.Helper()
	r, err := capture.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	if !r.Complete() {
		b.Fatal("the benchmark capture is not complete")
	}
	return r
}

// benchOpts are the options of every benchmark model: the title
// newTestModel would set.
func benchOpts() Options { return Options{Title: "bench.wstap"} }

// waitLoaded ticks m until every row of the connection shown is loaded and
// its jobs are done, and checks that they are all there.
func waitLoaded(b *testing.B, m *Model) {
	b.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for !m.idle() {
		if time.Now().After(deadline) {
			b.Fatalf("not loaded after 2 minutes: %d rows", m.cs.st.len())
		}
		m.Update(tickMsg{})
		time.Sleep(time.Millisecond)
	}
	m.Update(tickMsg{})
	if m.cs == nil || m.cs.err != nil || m.cs.st.len() != benchRows {
		var n int
		var err error
		if m.cs != nil {
			n, err = m.cs.st.len(), m.cs.err
		}
		b.Fatalf("loaded %d rows (error %v), want %d", n, err, benchRows)
	}
}

// loadedModel is a model at 100×30 showing the benchmark's connection with
// every row loaded.
func loadedModel(b *testing.B, path string) *Model {
	b.Helper()
	r := openBench(b, path)
	b.Cleanup(func() { r.Close() })
	m := newTestModel(b, r, benchOpts())
	press(b, m, "enter")
	if m.view != viewMessages || m.cs == nil {
		b.Fatalf("enter did not open the connection: view %d", m.view)
	}
	waitLoaded(b, m)
	return m
}

// waitLoaderGone waits for the (cancelled) loader of cs to return, so that
// it does not eat the next run's CPU.
func waitLoaderGone(cs *connState) {
	for range 5000 {
		cs.ld.mu.Lock()
		done := cs.ld.done
		cs.ld.mu.Unlock()
		if done {
			return
		}
		time.Sleep(time.Millisecond)
	}
}

// listLines are the message rows on screen (the lines after the list's
// header, up to the status line).
func listLines(s string) []string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		if strings.HasPrefix(strings.TrimSpace(l), "time") && strings.Contains(l, "payload") {
			end := len(lines) - 2
			var out []string
			for _, r := range lines[i+1 : end] {
				if strings.TrimSpace(r) != "" {
					out = append(out, r)
				}
			}
			return out
		}
	}
	return nil
}

func benchFirstScreen(b *testing.B, path string) {
	rows := 30 - 3 - 3 // the screen's height less title, status and hints, less the list's head
	for b.Loop() {
		r := openBench(b, path)
		m := New(r, benchOpts())
		m.Update(windowSize(100, 30))
		do(b, m, keyMsg("enter"))
		if m.view != viewMessages || m.cs == nil {
			b.Fatalf("enter did not open the connection: view %d", m.view)
		}
		deadline := time.Now().Add(time.Minute)
		for m.cs.count() < 30 {
			if time.Now().After(deadline) || m.cs.err != nil {
				b.Fatalf("%d rows after a minute (error %v)", m.cs.count(), m.cs.err)
			}
			time.Sleep(100 * time.Microsecond)
			m.Update(tickMsg{})
		}
		v := m.View()
		b.StopTimer()
		s := ansi.Strip(v.Content)
		showScreen(b, "first screen", s)
		ll := listLines(s)
		if len(ll) != rows || !strings.HasPrefix(ll[0], ">") || !strings.Contains(ll[0], `"seq":0,`) ||
			!strings.Contains(ll[rows-1], fmt.Sprintf(`"seq":%d,`, rows-1)) {
			b.Fatalf("the first screen does not show messages 0 to %d (%d list lines):\n%s", rows-1, len(ll), s)
		}
		cs := m.cs
		m.Close()
		waitLoaderGone(cs)
		r.Close()
		b.StartTimer()
	}
	reportMS(b)
}

func benchKeyEnd(b *testing.B, path string) {
	m := loadedModel(b, path)
	for b.Loop() {
		m.Update(keyMsg("G"))
		v := m.View()
		b.StopTimer()
		s := ansi.Strip(v.Content)
		showScreen(b, "after G", s)
		ll := listLines(s)
		if m.cs.cur != benchRows-1 || len(ll) == 0 || !strings.HasPrefix(ll[len(ll)-1], ">") ||
			!strings.Contains(ll[len(ll)-1], "binary") || !strings.Contains(ll[len(ll)-1], "10 MiB") {
			b.Fatalf("G: cursor on %d, want the last message (%d) on the last line:\n%s", m.cs.cur, benchRows-1, s)
		}
		m.Update(keyMsg("g"))
		if m.cs.cur != 0 {
			b.Fatalf("g: cursor on %d", m.cs.cur)
		}
		b.StartTimer()
	}
	reportMS(b)
}

func benchKeyFilter(b *testing.B, path string) {
	m := loadedModel(b, path)
	const long = "from:server json:type=trade"
	short := long[:len(long)-1]
	press(b, m, "f")
	typeText(b, m, short)
	if m.input != inputFilter || exprString(m.cs.flt) == "" {
		b.Fatalf("the filter bar is not open on %q (input %d, filter %q)", short, m.input, exprString(m.cs.flt))
	}
	i := 0
	for b.Loop() {
		// Each key changes the expression: "…type=trad" ⇄ "…type=trade".
		k, want := "e", long
		if i%2 == 1 {
			k, want = "backspace", short
		}
		i++
		before := m.cs.fjob
		m.Update(keyMsg(k))
		v := m.View()
		b.StopTimer()
		s := ansi.Strip(v.Content)
		showScreen(b, "after "+k, s)
		e := exprString(m.cs.flt)
		if m.ti.Value() != want || !strings.Contains(e, "json:type=") || m.cs.fjob == nil || m.cs.fjob == before ||
			!strings.Contains(s, "filter: "+want) {
			b.Fatalf("after %q: text %q, filter %q, new job %v, want %q:\n%s", k, m.ti.Value(), e, m.cs.fjob != before, want, s)
		}
		b.StartTimer()
	}
	reportMS(b)
}

// setFilterText replaces the filter bar's text with text and applies it,
// as a user would: f, ctrl+u, paste, enter.
func setFilterText(b *testing.B, m *Model, text string) {
	b.Helper()
	do(b, m, keyMsg("f"))
	do(b, m, tea.KeyPressMsg{Code: 'u', Mod: tea.ModCtrl})
	if m.ti.Value() != "" {
		b.Fatalf("ctrl+u left %q in the filter bar", m.ti.Value())
	}
	do(b, m, tea.PasteMsg{Content: text})
	do(b, m, keyMsg("enter"))
	if m.input != inputNone || m.cs.fltText != text {
		b.Fatalf("filter %q not applied: input %d, text %q, error %q", text, m.input, m.cs.fltText, m.cs.fltErr)
	}
}

func benchFilterAll(b *testing.B, path string) {
	m := loadedModel(b, path)
	server, trades := benchExpect()
	cases := []struct {
		expr string
		want int
		took time.Duration
	}{{"from:server", server, 0}, {"json:type=trade", trades, 0}}
	for b.Loop() {
		for i := range cases {
			c := &cases[i]
			setFilterText(b, m, "")
			if m.cs.flt != nil || m.cs.count() != benchRows {
				b.Fatalf("clearing the filter left %d rows", m.cs.count())
			}
			start := time.Now()
			setFilterText(b, m, c.expr)
			deadline := start.Add(2 * time.Minute)
			for !m.idle() {
				if time.Now().After(deadline) {
					b.Fatalf("%s: not done after 2 minutes (%d rows scanned)", c.expr, m.cs.scanned)
				}
				time.Sleep(time.Millisecond)
				m.Update(tickMsg{})
			}
			m.Update(tickMsg{})
			c.took += time.Since(start)
			if m.cs.fjob.err != nil {
				b.Fatalf("%s: %v", c.expr, m.cs.fjob.err)
			}
			if got := m.cs.count(); got != c.want {
				b.Fatalf("%s passes %d messages, want %d", c.expr, got, c.want)
			}
			s := screen(m)
			showScreen(b, c.expr, s)
			if !strings.Contains(s, fmt.Sprintf("filter %s: %s of %s", c.expr, count(c.want), count(benchRows))) {
				b.Fatalf("%s: the status line does not tell the count:\n%s", c.expr, s)
			}
		}
	}
	b.ReportMetric(float64(cases[0].took)/float64(b.N)/1e6, "facts-ms")
	b.ReportMetric(float64(cases[1].took)/float64(b.N)/1e6, "payload-ms")
}

// benchOpenBig times enter on one of the three 10 MiB messages: back rows
// up from the last (0 the binary, 1 the one-line JSON, 2 the pretty JSON).
func benchOpenBig(b *testing.B, path string, back int) {
	m := loadedModel(b, path)
	press(b, m, "G")
	for range back {
		press(b, m, "k")
	}
	ri := m.cs.rowAt(m.cs.cur)
	if ri != benchRows-1-back || m.cs.st.at(ri).size < benchBig-8192 {
		b.Fatalf("cursor on row %d (%d bytes), want %d, a 10 MiB one", ri, m.cs.st.at(ri).size, benchRows-1-back)
	}
	wantKind, wantText := decode.JSON, `"type": "snapshot"`
	switch back {
	case 1:
		wantText = `"type": "history"`
	case 0:
		wantKind, wantText = decode.Hex, "de ad be ef"
	}
	for b.Loop() {
		do(b, m, keyMsg("enter"))
		v := m.View()
		b.StopTimer()
		d := m.det
		s := ansi.Strip(v.Content)
		showScreen(b, "detail", s)
		if m.view != viewDetail || d == nil || d.row != ri || d.loading || d.doc == nil || d.fmtErr != nil {
			b.Fatalf("the detail view is not ready: view %d, detail %+v", m.view, d)
		}
		if d.kind != wantKind || d.doc.Len() < 1000 || len(d.data) != int(m.cs.st.at(ri).size) || !strings.Contains(s, wantText) {
			b.Fatalf("detail as %s with %d lines of %d bytes, want %s showing %q:\n%s", d.kind, d.doc.Len(), len(d.data), wantKind, wantText, s)
		}
		press(b, m, "esc")
		if m.view != viewMessages {
			b.Fatalf("esc: view %d", m.view)
		}
		b.StartTimer()
	}
	reportMS(b)
}

func benchMemory(b *testing.B, path string) {
	var heap, sys, peak uint64
	var slowest time.Duration
	for b.Loop() {
		r := openBench(b, path)
		m := New(r, benchOpts())
		m.Update(windowSize(100, 30))
		do(b, m, keyMsg("enter"))
		// The heap's peak while loading, sampled at every tick, and the
		// longest tick (the UI loop's stall while rows are taken in).
		var ms runtime.MemStats
		for !m.idle() {
			time.Sleep(time.Millisecond)
			start := time.Now()
			m.Update(tickMsg{})
			slowest = max(slowest, time.Since(start))
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapInuse)
		}
		waitLoaded(b, m)
		b.StopTimer()
		if !strings.Contains(screen(m), "1,000,003 messages") {
			b.Fatalf("the status line does not count every message:\n%s", screen(m))
		}
		runtime.GC()
		runtime.ReadMemStats(&ms)
		heap, sys = max(heap, ms.HeapInuse), max(sys, ms.Sys)
		runtime.KeepAlive(m)
		cs := m.cs
		m.Close()
		waitLoaderGone(cs)
		r.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(heap)/1e6, "heap-MB")
	b.ReportMetric(float64(sys)/1e6, "sys-MB")
	b.ReportMetric(float64(peak)/1e6, "peak-heap-MB")
	b.ReportMetric(float64(slowest)/1e6, "max-tick-ms")
}

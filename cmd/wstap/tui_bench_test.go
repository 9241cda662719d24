package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/wstap/wstap/inspector"
)

// BenchmarkRecordTUI measures what the live inspector costs the relay:
// round trips through `record` and through `record --tui` (the inspector
// following the capture and drawing 80×24 frames), in interleaved rounds,
// at full speed (32 in flight) and paced at 5,000 messages a second.
//
//	go test -run=NONE -bench=RecordTUI -benchtime=3x ./cmd/wstap
func BenchmarkRecordTUI(b *testing.B) {
	b.Setenv("WSTAP_HOME", b.TempDir())
	up := echoUpstream(b)
	oldTerm, oldRun := terminal, runInspector
	b.Cleanup(func() { terminal, runInspector = oldTerm, oldRun })
	terminal = func(io.Writer) bool { return true }
	runInspector = func(ctx context.Context, src inspector.Source, opts inspector.Options) error {
		inR, inW := io.Pipe()
		defer inW.Close()
		return inspector.Run(ctx, src, opts, inR, io.Discard)
	}
	const n = 20000
	rates := map[string][]float64{}
	for b.Loop() {
		for _, tui := range []bool{false, true} {
			for _, paced := range []bool{false, true} {
				rate := recordRound(b, up, tui, paced, n)
				rates[fmt.Sprintf("tui=%v/paced=%v", tui, paced)] = append(rates[fmt.Sprintf("tui=%v/paced=%v", tui, paced)], rate)
			}
		}
	}
	med := func(k string) float64 {
		v := slices.Clone(rates[k])
		slices.Sort(v)
		return v[len(v)/2]
	}
	b.ReportMetric(med("tui=false/paced=false"), "plain-msgs/s")
	b.ReportMetric(med("tui=true/paced=false"), "tui-msgs/s")
	b.ReportMetric(med("tui=true/paced=false")/med("tui=false/paced=false"), "tui/plain")
	b.ReportMetric(med("tui=false/paced=true"), "plain-paced-msgs/s")
	b.ReportMetric(med("tui=true/paced=true"), "tui-paced-msgs/s")
	b.ReportMetric(med("tui=true/paced=true")/med("tui=false/paced=true"), "tui/plain-paced")
}

// recordRound runs one recorder, sends n messages through it and returns
// the echoes received per second.
func recordRound(b *testing.B, up string, tui, paced bool, n int) float64 {
	b.Helper()
	stdout, stderr := newSyncBuffer(), newSyncBuffer()
	g := &globalOptions{stdout: stdout, stderr: stderr}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	path := filepath.Join(b.TempDir(), "bench.wstap")
	go func() {
		done <- runRecord(ctx, g, &recordOptions{listen: "127.0.0.1:0", output: path, upstream: up, tui: tui}, nil)
	}()
	addr := waitListening(b, stdout)
	c, _, err := websocket.DefaultDialer.Dial("ws://"+addr+"/bench", nil)
	if err != nil {
		b.Fatal(err)
	}
	payload := []byte(`{"type":"tick","symbol":"WSTP","price":101.25,"seq":0000000}`)
	window := make(chan struct{}, 32)
	start := time.Now()
	go func() {
		for i := range n {
			window <- struct{}{}
			if paced {
				if d := time.Until(start.Add(time.Duration(i) * time.Second / 5000)); d > 0 {
					time.Sleep(d)
				}
			}
			if err := c.WriteMessage(websocket.TextMessage, payload); err != nil {
				return
			}
		}
	}()
	c.SetReadDeadline(time.Now().Add(2 * time.Minute))
	for i := range n {
		if _, _, err := c.ReadMessage(); err != nil {
			b.Fatalf("echo %d: %v", i, err)
		}
		<-window
	}
	rate := float64(n) / time.Since(start).Seconds()
	c.Close()
	cancel()
	if err := <-done; err != nil {
		b.Fatalf("record (tui %v): %v\n%s", tui, err, stderr.String())
	}
	return rate
}

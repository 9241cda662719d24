package proxy

import (
	"bytes"
	"context"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/gobwas/ws"
	"github.com/wstap/wstap/capture"
)

// countSink is a Sink that keeps nothing: it counts the records and the
// payload bytes handed to it.
type countSink struct {
	records, bytes atomic.Int64
}

func (c *countSink) Open(*capture.ConnOpen) (capture.ConnID, error) { return 1, nil }
func (c *countSink) HTTP(*capture.HTTP) (uint64, error)             { return 1, nil }
func (c *countSink) Append(r capture.Record) error {
	c.records.Add(1)
	if ch, ok := r.(*capture.Chunk); ok {
		c.bytes.Add(int64(len(ch.Data)))
	}
	return nil
}

// TestPumpAllocs pins the relay's hot path at no allocation per frame:
// each case pumps many frames from memory through one direction, records
// every one, and may allocate only a handful of times in all (the
// decoder, its first buffers, a pooled read buffer). Allocation counts are
// deterministic where timings are not.
func TestPumpAllocs(t *testing.T) {
	if raceOn { // .ci/run runs the tests once more without -race, for coverage: they count there
		t.Skip("the race detector's sync.Pool drops items at random: allocation counts mean nothing")
	}
	for _, tc := range []struct {
		name   string
		dir    capture.Direction
		frame  ws.Frame
		frames int
	}{
		{"128B-masked-text", capture.ClientToServer, ws.MaskFrame(ws.NewTextFrame(benchPayload(128))), 2000},
		{"128B-server-text", capture.ServerToClient, ws.NewTextFrame(benchPayload(128)), 2000},
		{"4KiB-masked-binary", capture.ClientToServer, ws.MaskFrame(ws.NewBinaryFrame(benchPayload(4 << 10))), 500},
		{"ping", capture.ServerToClient, ws.NewPingFrame([]byte("are you there")), 2000},
		{"1MiB-masked-text", capture.ClientToServer, ws.MaskFrame(ws.NewTextFrame(benchPayload(1 << 20))), 20},
		{"1MiB-server-binary", capture.ServerToClient, ws.NewBinaryFrame(benchPayload(1 << 20)), 20},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var frame bytes.Buffer
			if err := ws.WriteFrame(&frame, tc.frame); err != nil {
				t.Fatal(err)
			}
			sink := &countSink{}
			p, err := New(Options{Sink: sink})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { p.Shutdown(context.Background()) })
			run := func(frames int) {
				s := &session{p: p, id: 1}
				src := &memConn{src: &frameStream{frame: frame.Bytes(), left: frames}}
				idle := &memConn{src: strings.NewReader("")}
				if tc.dir == capture.ClientToServer {
					s.client, s.server = newLeg(src, nil), newLeg(idle, nil)
					err = s.pumpClientToServer()
				} else {
					s.server, s.client = newLeg(src, nil), newLeg(idle, nil)
					err = s.pumpServerToClient()
				}
				if err != nil {
					t.Fatal(err)
				}
			}
			run(1) // the decoder's buffers and the pool, once
			base := testing.AllocsPerRun(3, func() { run(1) })
			all := testing.AllocsPerRun(3, func() { run(tc.frames) })
			if perFrame := (all - base) / float64(tc.frames-1); perFrame > 0.01 {
				t.Errorf("%.0f allocations for %d frames against %.0f for one: %.3f per frame, want none",
					all, tc.frames, base, perFrame)
			}
			// AllocsPerRun runs its function once more than asked, to warm up.
			want := int64(len(tc.frame.Payload)) * int64(1+4*1+4*tc.frames)
			if got := sink.bytes.Load(); got != want {
				t.Errorf("sink got %d payload bytes, want %d: the frames were not all recorded", got, want)
			}
		})
	}
}

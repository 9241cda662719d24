package main

import (
	"context"
	"sync/atomic"
	"testing"
	"time"
)

// TestIdleReclaim: memory is given back twice after traffic stops, never
// while it flows or before any traffic, and again after the next burst.
func TestIdleReclaim(t *testing.T) {
	r := newIdleReclaim(7)
	var got []bool
	for _, n := range []int64{7, 7, 7, 8, 9, 10, 10, 10, 10, 10, 10, 11, 11, 11, 11} {
		got = append(got, r.check(n))
	}
	want := []bool{false, false, false, false, false, false, false, true, true, false, false, false, false, true, true}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("checks say free %v, want %v", got, want)
		}
	}
}

// TestReclaimWhenIdleRuns: the loop frees once traffic has stopped, and
// returns when its context ends.
func TestReclaimWhenIdleRuns(t *testing.T) {
	var traffic, frees atomic.Int64
	traffic.Store(1)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		first := true
		reclaimWhenIdle(ctx, time.Millisecond, func() int64 {
			if first { // the starting count, then one burst
				first = false
				return 0
			}
			return traffic.Load()
		}, func() { frees.Add(1) })
	}()
	for end := time.Now().Add(5 * time.Second); frees.Load() < 2; {
		if time.Now().After(end) {
			t.Fatalf("freed %d times in 5 s of idling, want 2", frees.Load())
		}
		time.Sleep(time.Millisecond)
	}
	cancel()
	<-done
}

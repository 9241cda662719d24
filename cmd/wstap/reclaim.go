package main

import (
	"context"
	"time"
)

// reclaimWhenIdle gives memory back to the operating system once traffic
// stops: after a burst, the buffers the relay pooled and the capture
// writer's batches are garbage, but the Go runtime returns freed memory
// only slowly, and a sync.Pool keeps its contents through a collection.
// Every interval it reads activity (a count that grows with traffic) and
// runs free (debug.FreeOSMemory in wstap record) when idleReclaim says so.
// It returns when ctx is done.
func reclaimWhenIdle(ctx context.Context, every time.Duration, activity func() int64, free func()) {
	t := time.NewTicker(every)
	defer t.Stop()
	r := newIdleReclaim(activity())
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if r.check(activity()) {
				free()
			}
		}
	}
}

// idleReclaim decides when to give memory back: once activity has not
// moved for two checks in a row, at that check and the next (the second
// empties what the pools kept through the first), then not again until
// traffic has come and gone again.
type idleReclaim struct {
	last         int64
	quiet, freed int
}

func newIdleReclaim(start int64) *idleReclaim {
	return &idleReclaim{last: start, freed: 2} // nothing to give back before the first traffic
}

// check takes the activity count now and reports whether to free.
func (r *idleReclaim) check(now int64) bool {
	if now != r.last {
		r.last, r.quiet, r.freed = now, 0, 0
		return false
	}
	r.quiet++
	if r.quiet >= 2 && r.freed < 2 {
		r.freed++
		return true
	}
	return false
}

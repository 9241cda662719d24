package inspector

import (
	"context"
	"errors"
	"sync"

	"github.com/wstap/wstap/capture"
	"github.com/wstap/wstap/internal/filter"
)

// jobData caps the payload bytes a filter reads of one message: a regexp
// runs over the first 64 MiB of a bigger one.
const jobData = 64 << 20

// job matches an expression against rows[lo:hi] of a connection, off the
// UI loop. Facts, and payloads that the rows hold whole, are matched in
// memory; other payloads are read from the file in one pass. Hits stream
// to the model on its tick, in row order; cancel stops the job early.
type job struct {
	expr   *filter.Expr
	lo, hi int
	cancel context.CancelFunc

	mu      sync.Mutex
	hits    []int32
	scanned int
	done    bool
	err     error
}

func startJob(ctx context.Context, g *guard, src Source, conn capture.ConnID, st *store, lo, hi int, expr *filter.Expr) *job {
	ctx, cancel := context.WithCancel(ctx)
	j := &job{expr: expr, lo: lo, hi: hi, cancel: cancel}
	snap := *st
	j.done = true
	if g.enter() {
		j.done = false
		go func() {
			defer g.leave()
			j.run(ctx, src, conn, &snap)
		}()
	}
	return j
}

func (j *job) run(ctx context.Context, src Source, conn capture.ConnID, st *store) {
	var hits []int32
	flush := func(scanned int) {
		j.mu.Lock()
		j.hits = append(j.hits, hits...)
		j.scanned = scanned
		j.mu.Unlock()
		hits = hits[:0]
	}
	match := func(i int, data []byte) {
		r := st.at(i)
		fm := filter.Msg{Dir: r.dir, Opcode: r.op, Size: r.size, Data: data,
			Dropped: r.has(flagDropped), Incomplete: r.has(flagIncomplete), Compressed: r.has(flagCompressed)}
		if j.expr.Match(&fm) {
			hits = append(hits, int32(i))
		}
	}
	preview := func(i int) []byte { return st.preview(st.at(i)) }
	var err error
	if !j.expr.NeedsPayload() || allWhole(st, j.lo, j.hi) {
		for i := j.lo; i < j.hi; i++ {
			match(i, preview(i))
			if i&4095 == 4095 {
				if ctx.Err() != nil {
					break
				}
				flush(i + 1 - j.lo)
			}
		}
	} else {
		err = j.scan(ctx, src, conn, st, match, preview, flush)
	}
	flush(j.hi - j.lo)
	j.mu.Lock()
	j.done, j.err = true, err
	j.mu.Unlock()
}

// scan reads the payloads of rows[lo:hi] in one pass over the file from
// the earliest of their positions. Messages come in the order the rows
// were loaded in (both are completion order), so a cursor walks the rows
// in step, skipping messages that are not in the range.
func (j *job) scan(ctx context.Context, src Source, conn capture.ConnID, st *store,
	match func(int, []byte), preview func(int) []byte, flush func(int)) error {
	minSeq := st.at(j.lo).seq
	for i := j.lo; i < j.hi; i++ {
		minSeq = min(minSeq, st.at(i).seq)
	}
	i := j.lo
	n := 0
	opts := capture.AssembleOptions{MaxData: jobData}
	for rec, err := range capture.Assemble(src.RecordsFrom(capture.Filter{Conn: conn}, minSeq), opts) {
		if err != nil {
			var de *capture.DamageError
			if errors.As(err, &de) {
				continue
			}
			return err
		}
		m, ok := rec.(*capture.Message)
		if !ok {
			continue
		}
		// A row the file does not yield (damage) is matched on its preview;
		// look a few rows ahead before giving up on a message.
		k := -1
		for d := i; d < min(i+8, j.hi); d++ {
			if st.at(d).seq == m.Seq {
				k = d
				break
			}
		}
		if k < 0 {
			continue
		}
		for ; i < k; i++ {
			match(i, preview(i))
		}
		match(i, m.Data)
		i++
		if n++; n&1023 == 0 {
			if ctx.Err() != nil {
				return nil
			}
			flush(i - j.lo)
		}
		if i >= j.hi {
			return nil
		}
	}
	for ; i < j.hi; i++ {
		match(i, preview(i))
	}
	return nil
}

func allWhole(st *store, lo, hi int) bool {
	for i := lo; i < hi; i++ {
		if !st.at(i).whole() {
			return false
		}
	}
	return true
}

// take returns the hits found since the last call, the rows scanned so far
// and whether the job is done.
func (j *job) take() (hits []int32, scanned int, done bool, err error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	hits, j.hits = j.hits, nil
	return hits, j.scanned, j.done, j.err
}

// finished reports whether the job is done and the model has taken all
// its hits.
func (j *job) finished() bool {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.done && len(j.hits) == 0
}

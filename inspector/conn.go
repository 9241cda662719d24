package inspector

import (
	"sort"

	"github.com/wstap/wstap/capture"
	"github.com/wstap/wstap/decode"
	"github.com/wstap/wstap/internal/filter"
)

// connState is the message list of one opened connection: its rows, the
// filter and search over them, the cursor and the marks.
type connState struct {
	id   capture.ConnID
	hint decode.Hint
	st   store
	ld   *loader
	done bool // every row is loaded (the loader finished)
	err  error

	cur, top int  // cursor and first shown line, as positions in the visible list
	follow   bool // the cursor stays on the last row as rows arrive

	flt     *filter.Expr // the filter in force (nil: every row)
	fltText string
	fltErr  string
	fjob    *job
	vis     []int32 // rows that pass the filter, ascending
	anchor  int     // a row the cursor goes back to once the filter reaches it (-1: none)

	search  *filter.Expr
	sjob    *job
	hits    []int32 // rows that match the search, ascending
	scanned int     // rows the filter has looked at

	marks map[int32]bool

	spark sparkCache
}

func newConnState(m *Model, id capture.ConnID) *connState {
	c := m.connSummary(id)
	cs := &connState{
		id:     id,
		hint:   decode.Hint{Subprotocol: c.Subprotocol, URL: c.URL},
		marks:  map[int32]bool{},
		follow: m.live,
		anchor: -1,
	}
	cs.ld = startLoader(m.ctx, &m.bg, m.src, id, m.live)
	cs.pump(m)
	return cs
}

func (cs *connState) close() {
	cs.ld.cancel()
	if cs.fjob != nil {
		cs.fjob.cancel()
	}
	if cs.sjob != nil {
		cs.sjob.cancel()
	}
}

// pump takes in what the loader and the jobs found since the last tick.
func (cs *connState) pump(m *Model) {
	for range 4 {
		bs, done, err := cs.ld.take()
		for i := range bs {
			cs.st.append(&bs[i])
		}
		cs.done, cs.err = done, err
		if len(bs) == 0 {
			break
		}
	}
	if cs.flt != nil {
		cs.fjob, cs.vis, cs.scanned = cs.pumpJob(m, cs.fjob, cs.flt, cs.vis)
		if cs.anchor >= 0 {
			p := sort.Search(len(cs.vis), func(i int) bool { return int(cs.vis[i]) >= cs.anchor })
			if p < len(cs.vis) || cs.fjob.finished() {
				cs.cur, cs.anchor = min(p, max(len(cs.vis)-1, 0)), -1
			}
		}
	}
	if cs.search != nil {
		cs.sjob, cs.hits, _ = cs.pumpJob(m, cs.sjob, cs.search, cs.hits)
	}
	if cs.follow && !m.paused && cs.anchor < 0 {
		cs.cur = max(cs.count()-1, 0)
	}
}

// pumpJob collects a job's hits into acc and, once it is done, starts the
// next job over the rows that arrived meanwhile.
func (cs *connState) pumpJob(m *Model, j *job, e *filter.Expr, acc []int32) (*job, []int32, int) {
	hits, scanned, done, _ := j.take()
	acc = append(acc, hits...)
	scanned += j.lo
	if done && j.hi < cs.st.len() {
		j = startJob(m.ctx, &m.bg, m.src, cs.id, &cs.st, j.hi, cs.st.len(), e)
	}
	return j, acc, scanned
}

// count is the number of rows in the visible list.
func (cs *connState) count() int {
	if cs.flt != nil {
		return len(cs.vis)
	}
	return cs.st.len()
}

// rowAt maps a position in the visible list to a row index (-1: none).
func (cs *connState) rowAt(p int) int {
	if p < 0 || p >= cs.count() {
		return -1
	}
	if cs.flt != nil {
		return int(cs.vis[p])
	}
	return p
}

// posOf maps a row to the first visible position at or after it.
func (cs *connState) posOf(r int) int {
	if cs.flt == nil {
		return r
	}
	return sort.Search(len(cs.vis), func(i int) bool { return int(cs.vis[i]) >= r })
}

// setFilter puts e in force (nil: none), keeping the cursor on the row it
// was on, or the next one that passes.
func (cs *connState) setFilter(m *Model, e *filter.Expr, text string) {
	if cs.fjob != nil {
		cs.fjob.cancel()
		cs.fjob = nil
	}
	anchor := cs.rowAt(cs.cur)
	cs.fltText = text
	if e == nil || e.Empty() {
		cs.flt, cs.vis = nil, nil
		if anchor >= 0 {
			cs.cur = anchor
		}
		cs.anchor = -1
		return
	}
	cs.flt, cs.vis = e, nil
	cs.anchor = max(anchor, 0)
	cs.cur = 0
	cs.fjob = startJob(m.ctx, &m.bg, m.src, cs.id, &cs.st, 0, cs.st.len(), e)
}

// setSearch starts a search for e (nil clears it).
func (cs *connState) setSearch(m *Model, e *filter.Expr) {
	if cs.sjob != nil {
		cs.sjob.cancel()
		cs.sjob = nil
	}
	cs.hits = nil
	if e == nil || e.Empty() {
		cs.search = nil
		return
	}
	cs.search = e
	cs.sjob = startJob(m.ctx, &m.bg, m.src, cs.id, &cs.st, 0, cs.st.len(), e)
}

func contains(s []int32, r int) bool {
	i := sort.Search(len(s), func(i int) bool { return int(s[i]) >= r })
	return i < len(s) && int(s[i]) == r
}

// nextIn returns the first row of s after row r (before it when back),
// that is visible, wrapping around; -1 when there is none.
func (cs *connState) nextIn(s []int32, r int, back bool) int {
	ok := func(x int32) bool { return cs.flt == nil || contains(cs.vis, int(x)) }
	n := len(s)
	if n == 0 {
		return -1
	}
	i := sort.Search(n, func(i int) bool { return int(s[i]) > r })
	if back {
		i = sort.Search(n, func(i int) bool { return int(s[i]) >= r }) - 1
	}
	for k := 0; k < n; k++ {
		var x int32
		if back {
			x = s[((i-k)%n+n)%n]
		} else {
			x = s[(i+k)%n]
		}
		if ok(x) {
			return int(x)
		}
	}
	return -1
}

// jumpTime puts the cursor on the first visible row at or after t (Unix
// nanoseconds). Rows are in completion order, whose start times rise but
// for interleaved long messages, so a binary search lands within a few.
func (cs *connState) jumpTime(t int64) {
	r := sort.Search(cs.st.len(), func(i int) bool { return cs.st.at(i).t >= t })
	cs.cur = min(cs.posOf(r), max(cs.count()-1, 0))
	cs.follow = false
}

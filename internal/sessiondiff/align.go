package sessiondiff

// edit is one step of an edit script that turns sequence A into B.
type edit struct {
	op   editOp
	i, j int // positions in A (match, del) and B (match, ins)
}

type editOp uint8

const (
	eMatch editOp = iota
	eDel          // A[i] is not in B
	eIns          // B[j] is not in A
)

// defaultMaxDistance is Options.MaxDistance's default.
const defaultMaxDistance = 4096

// align returns an edit script from a to b that keeps a longest common
// subsequence of the two, found with Myers' O(ND) algorithm in linear space
// (section 4b of "An O(ND) Difference Algorithm and Its Variations",
// 1986): the middle snake of each part, recursively. When more than
// maxDist edits would be needed, the part between the common head and tail
// is paired by position instead (equal pairs match, the others are a
// deletion and an insertion), so the work stays within O((N+M)·maxDist).
func align(a, b []uint64, maxDist int) []edit {
	if maxDist <= 0 {
		maxDist = defaultMaxDistance
	}
	m := &myers{a: a, b: b, limit: (maxDist + 1) / 2}
	m.script = make([]edit, 0, max(len(a), len(b)))
	lo, ahi, bhi := m.trim()
	if !m.diff(lo, ahi, lo, bhi, true) {
		m.byPosition(lo, ahi, lo, bhi)
	}
	for k := range len(a) - ahi {
		m.script = append(m.script, edit{eMatch, ahi + k, bhi + k})
	}
	return m.script
}

type myers struct {
	a, b   []uint64
	limit  int // the most steps d of a middle-snake search (each side)
	vf, vb []int
	script []edit
}

// trim emits the matches of the common head of a and b and returns its
// length, and where the common tail begins in each, without emitting it.
func (m *myers) trim() (head, ahi, bhi int) {
	a1, b1 := len(m.a), len(m.b)
	for head < a1 && head < b1 && m.a[head] == m.b[head] {
		m.script = append(m.script, edit{eMatch, head, head})
		head++
	}
	for a1 > head && b1 > head && m.a[a1-1] == m.b[b1-1] {
		a1--
		b1--
	}
	return head, a1, b1
}

// diff emits an edit script for a[a0:a1] → b[b0:b1]. With top set, it
// gives up (and returns false, having emitted nothing) when the distance
// exceeds the limit.
func (m *myers) diff(a0, a1, b0, b1 int, top bool) bool {
	// The common head and tail.
	for a0 < a1 && b0 < b1 && m.a[a0] == m.b[b0] {
		m.script = append(m.script, edit{eMatch, a0, b0})
		a0++
		b0++
	}
	tail := 0
	for a1-tail > a0 && b1-tail > b0 && m.a[a1-tail-1] == m.b[b1-tail-1] {
		tail++
	}
	a1, b1 = a1-tail, b1-tail
	switch {
	case a0 == a1:
		for j := b0; j < b1; j++ {
			m.script = append(m.script, edit{eIns, 0, j})
		}
	case b0 == b1:
		for i := a0; i < a1; i++ {
			m.script = append(m.script, edit{eDel, i, 0})
		}
	default:
		x, y, u, v, ok := m.middleSnake(a0, a1, b0, b1)
		if !ok {
			if top {
				return false
			}
			m.byPosition(a0, a1, b0, b1) // not reached: parts are closer than the whole
		} else if (x == a1 && y == b1) || (u == a0 && v == b0) {
			m.byPosition(a0, a1, b0, b1) // no progress: cannot happen for a trimmed part; be safe
		} else {
			m.diff(a0, x, b0, y, false)
			for k := range u - x {
				m.script = append(m.script, edit{eMatch, x + k, y + k})
			}
			m.diff(u, a1, v, b1, false)
		}
	}
	for k := range tail {
		m.script = append(m.script, edit{eMatch, a1 + k, b1 + k})
	}
	return true
}

// byPosition pairs a[a0:a1] with b[b0:b1] by position.
func (m *myers) byPosition(a0, a1, b0, b1 int) {
	n := min(a1-a0, b1-b0)
	for k := range n {
		if m.a[a0+k] == m.b[b0+k] {
			m.script = append(m.script, edit{eMatch, a0 + k, b0 + k})
		} else {
			m.script = append(m.script, edit{eDel, a0 + k, 0}, edit{eIns, 0, b0 + k})
		}
	}
	for i := a0 + n; i < a1; i++ {
		m.script = append(m.script, edit{eDel, i, 0})
	}
	for j := b0 + n; j < b1; j++ {
		m.script = append(m.script, edit{eIns, 0, j})
	}
}

// middleSnake finds the middle snake of an optimal path from (a0, b0) to
// (a1, b1): the diagonal run (x, y)–(u, v), in absolute positions, that the
// forward and the backward searches meet on. ok is false when that takes
// more than m.limit steps.
func (m *myers) middleSnake(a0, a1, b0, b1 int) (x, y, u, v int, ok bool) {
	n, mm := a1-a0, b1-b0
	delta := n - mm
	odd := delta&1 != 0
	dmax := (n + mm + 1) / 2
	steps := min(dmax, m.limit)
	// Diagonals k run from -(steps+1) to steps+1; off shifts them to indices.
	off := steps + 1
	size := 2*off + 1
	if cap(m.vf) < size {
		m.vf, m.vb = make([]int, size), make([]int, size)
	}
	vf, vb := m.vf[:size], m.vb[:size]
	vf[off+1], vb[off+1] = 0, 0
	a, b := m.a, m.b
	for d := 0; d <= steps; d++ {
		// Forward: vf[k] is the furthest x reached on diagonal k = x-y.
		for k := -d; k <= d; k += 2 {
			var px int
			if k == -d || (k != d && vf[off+k-1] < vf[off+k+1]) {
				px = vf[off+k+1] // down: an insertion
			} else {
				px = vf[off+k-1] + 1 // right: a deletion
			}
			py := px - k
			sx, sy := px, py
			for px < n && py < mm && a[a0+px] == b[b0+py] {
				px++
				py++
			}
			vf[off+k] = px
			if c := delta - k; odd && c >= -(d-1) && c <= d-1 && vf[off+k]+vb[off+c] >= n {
				return a0 + sx, b0 + sy, a0 + px, b0 + py, true
			}
		}
		// Backward, on the reversed sequences: vb[c] is the furthest
		// distance from the end reached on reversed diagonal c, which is
		// diagonal delta-c forwards.
		for c := -d; c <= d; c += 2 {
			var rx int
			if c == -d || (c != d && vb[off+c-1] < vb[off+c+1]) {
				rx = vb[off+c+1]
			} else {
				rx = vb[off+c-1] + 1
			}
			ry := rx - c
			sx, sy := rx, ry
			for rx < n && ry < mm && a[a1-1-rx] == b[b1-1-ry] {
				rx++
				ry++
			}
			vb[off+c] = rx
			if k := delta - c; !odd && k >= -d && k <= d && vf[off+k]+vb[off+c] >= n {
				return a1 - rx, b1 - ry, a1 - sx, b1 - sy, true
			}
		}
	}
	return 0, 0, 0, 0, false
}

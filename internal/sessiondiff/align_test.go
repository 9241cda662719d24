package sessiondiff

import (
	"math/rand/v2"
	"testing"
	"time"
)

// lcsLength is the textbook O(N·M) longest common subsequence length.
func lcsLength(a, b []uint64) int {
	prev, cur := make([]int, len(b)+1), make([]int, len(b)+1)
	for i := range a {
		for j := range b {
			if a[i] == b[j] {
				cur[j+1] = prev[j] + 1
			} else {
				cur[j+1] = max(cur[j], prev[j+1])
			}
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// checkScript checks that script turns a into b: every element of each
// consumed once, in order, matches on equal elements. It returns the
// number of matches.
func checkScript(t *testing.T, a, b []uint64, script []edit) int {
	t.Helper()
	i, j, matches := 0, 0, 0
	for _, e := range script {
		switch e.op {
		case eMatch:
			if e.i != i || e.j != j || a[e.i] != b[e.j] {
				t.Fatalf("align(%v, %v): bad match %+v at (%d, %d)", a, b, e, i, j)
			}
			i++
			j++
			matches++
		case eDel:
			if e.i != i {
				t.Fatalf("align(%v, %v): deletion of %d at %d", a, b, e.i, i)
			}
			i++
		case eIns:
			if e.j != j {
				t.Fatalf("align(%v, %v): insertion of %d at %d", a, b, e.j, j)
			}
			j++
		}
	}
	if i != len(a) || j != len(b) {
		t.Fatalf("align(%v, %v): script ends at (%d, %d)", a, b, i, j)
	}
	return matches
}

func randSeq(r *rand.Rand, n, alphabet int) []uint64 {
	s := make([]uint64, n)
	for i := range s {
		s[i] = uint64(r.IntN(alphabet))
	}
	return s
}

// TestAlignIsLongest checks Myers against the O(N·M) LCS on many small
// random inputs: the script is valid and keeps a longest common
// subsequence.
func TestAlignIsLongest(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for n := range 3000 {
		a := randSeq(r, r.IntN(14), 1+n%5)
		b := randSeq(r, r.IntN(14), 1+n%5)
		if n%3 == 0 { // b close to a: a few edits
			b = append([]uint64(nil), a...)
			for range r.IntN(4) {
				if len(b) > 0 {
					k := r.IntN(len(b))
					b = append(b[:k], b[k+1:]...)
				}
				k := r.IntN(len(b) + 1)
				b = append(b[:k], append([]uint64{uint64(r.IntN(7))}, b[k:]...)...)
			}
		}
		got := checkScript(t, a, b, align(a, b, 0))
		if want := lcsLength(a, b); got != want {
			t.Fatalf("align(%v, %v) keeps %d matches, the LCS has %d", a, b, got, want)
		}
	}
	// Longer ones, where the recursion goes deeper.
	for n := range 200 {
		a := randSeq(r, r.IntN(300), 2+n%6)
		b := randSeq(r, r.IntN(300), 2+n%6)
		got := checkScript(t, a, b, align(a, b, 0))
		if want := lcsLength(a, b); got != want {
			t.Fatalf("align of %d and %d elements keeps %d matches, the LCS has %d", len(a), len(b), got, want)
		}
	}
}

func TestAlignEdges(t *testing.T) {
	for _, tt := range []struct{ a, b []uint64 }{
		{nil, nil}, {[]uint64{1}, nil}, {nil, []uint64{1, 2}}, {[]uint64{1, 2, 3}, []uint64{1, 2, 3}},
		{[]uint64{1, 2, 3}, []uint64{4, 5, 6}}, {[]uint64{1, 1, 1}, []uint64{1}}, {[]uint64{1}, []uint64{2, 1, 2}},
	} {
		got := checkScript(t, tt.a, tt.b, align(tt.a, tt.b, 0))
		if want := lcsLength(tt.a, tt.b); got != want {
			t.Errorf("align(%v, %v) keeps %d matches, want %d", tt.a, tt.b, got, want)
		}
	}
}

// TestAlignBounded checks the fallback: beyond the distance limit, the
// middle is paired by position, and the script stays valid.
func TestAlignBounded(t *testing.T) {
	a := []uint64{1, 2, 3, 4, 5, 6, 7, 8, 9}
	b := []uint64{1, 12, 13, 14, 5, 16, 17, 9}
	script := align(a, b, 2)
	checkScript(t, a, b, script)
	// The head and the tail still match; so does 5, which the position
	// pairing finds in place.
	var matched []uint64
	for _, e := range script {
		if e.op == eMatch {
			matched = append(matched, a[e.i])
		}
	}
	if len(matched) != 3 || matched[0] != 1 || matched[1] != 5 || matched[2] != 9 {
		t.Errorf("align with a limit matched %v, want [1 5 9]", matched)
	}
	// Within the limit, the same input aligns exactly.
	if got := checkScript(t, a, b, align(a, b, 100)); got != lcsLength(a, b) {
		t.Errorf("align within the limit keeps %d matches, want %d", got, lcsLength(a, b))
	}
	r := rand.New(rand.NewPCG(3, 4))
	for range 300 {
		a, b := randSeq(r, r.IntN(40), 3), randSeq(r, r.IntN(40), 3)
		checkScript(t, a, b, align(a, b, 1+r.IntN(10)))
	}
}

// TestAlignLarge aligns 100,000 messages a side that differ in a few
// hundred places, and two that have nothing in common; both must be quick
// and the first exact.
func TestAlignLarge(t *testing.T) {
	if testing.Short() {
		t.Skip("large input")
	}
	r := rand.New(rand.NewPCG(5, 6))
	a := randSeq(r, 100_000, 1<<30)
	b := append([]uint64(nil), a...)
	for range 300 {
		k := r.IntN(len(b))
		switch r.IntN(3) {
		case 0:
			b = append(b[:k], b[k+1:]...)
		case 1:
			b = append(b[:k], append([]uint64{uint64(r.Uint32())}, b[k:]...)...)
		default:
			b[k] = uint64(r.Uint32())
		}
	}
	start := time.Now()
	script := align(a, b, 0)
	took := time.Since(start)
	got := checkScript(t, a, b, script)
	if got < len(a)-600 {
		t.Errorf("align kept %d of %d messages", got, len(a))
	}
	t.Logf("100k, ~300 edits: %v", took)

	c := randSeq(r, 100_000, 1<<30)
	start = time.Now()
	script = align(a, c, 0)
	t.Logf("100k, nothing in common: %v", time.Since(start))
	checkScript(t, a, c, script)
}

func BenchmarkAlign(b *testing.B) {
	r := rand.New(rand.NewPCG(7, 8))
	x := randSeq(r, 100_000, 1<<30)
	y := append([]uint64(nil), x...)
	for range 100 {
		y[r.IntN(len(y))] = uint64(r.Uint32())
	}
	for b.Loop() {
		align(x, y, 0)
	}
}

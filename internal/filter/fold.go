package filter

import "bytes"

// lower maps each byte to its ASCII lower case; other bytes map to
// themselves.
var lower = func() (t [256]byte) {
	for i := range t {
		t[i] = byte(i)
		if 'A' <= i && i <= 'Z' {
			t[i] = byte(i) + 'a' - 'A'
		}
	}
	return t
}()

// isLetter reports whether c is an ASCII letter.
func isLetter(c byte) bool { return lower[c] >= 'a' && lower[c] <= 'z' }

// lowerASCII returns s with ASCII letters lower-cased, as a new slice.
func lowerASCII(s string) []byte {
	b := []byte(s)
	for i, c := range b {
		b[i] = lower[c]
	}
	return b
}

// indexBytes reports whether needle occurs in h.
func indexBytes(h, needle []byte) bool { return bytes.Contains(h, needle) }

// containsFold reports whether needle, which is ASCII lower case and starts
// a search that must fold case, occurs in h with ASCII case folded. It finds
// candidates with bytes.IndexByte for both cases of the first byte,
// remembering the next hit of each so that no stretch of h is scanned twice.
func containsFold(h, needle []byte) bool {
	n := len(needle)
	if n == 0 {
		return true
	}
	if n > len(h) {
		return false
	}
	c0 := needle[0]
	c1 := c0
	if isLetter(c0) {
		c1 = c0 - 'a' + 'A'
	}
	rest := needle[1:]
	end := len(h) - n + 1  // candidates start before end
	next0, next1 := -2, -2 // -2 unknown, -1 none left
	if c1 == c0 {
		next1 = -1 // not a letter: one case to look for
	}
	for i := 0; i < end; {
		if next0 != -1 && next0 < i {
			next0 = indexFrom(h[:end], i, c0)
		}
		if next1 != -1 && next1 < i {
			next1 = indexFrom(h[:end], i, c1)
		}
		j := next0
		if j < 0 || (next1 >= 0 && next1 < j) {
			j = next1
		}
		if j < 0 {
			return false
		}
		if equalFold(h[j+1:j+n], rest) {
			return true
		}
		i = j + 1
	}
	return false
}

// indexFrom returns the index of the first c in h at or after i, or -1.
func indexFrom(h []byte, i int, c byte) int {
	if k := bytes.IndexByte(h[i:], c); k >= 0 {
		return i + k
	}
	return -1
}

// equalFold reports whether a equals the lower-case b with ASCII case
// folded. len(a) == len(b).
func equalFold(a, b []byte) bool {
	for i, c := range b {
		if lower[a[i]] != c {
			return false
		}
	}
	return true
}

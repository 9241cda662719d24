package decode

import (
	"unicode/utf8"
)

// Terminal cell widths, rune by rune. The table errs on the wide side: a
// line built from it never takes more cells than counted, though a grapheme
// cluster (an emoji ZWJ sequence, a flag) may take fewer.

// wideRanges are East Asian Wide and Fullwidth code points and emoji shown
// in emoji presentation, sorted.
var wideRanges = [...][2]rune{
	{0x1100, 0x115F}, {0x231A, 0x231B}, {0x2329, 0x232A}, {0x23E9, 0x23EC},
	{0x23F0, 0x23F0}, {0x23F3, 0x23F3}, {0x25FD, 0x25FE}, {0x2614, 0x2615}, {0x2630, 0x2637},
	{0x2648, 0x2653}, {0x267F, 0x267F}, {0x268A, 0x268F}, {0x2693, 0x2693}, {0x26A1, 0x26A1},
	{0x26AA, 0x26AB}, {0x26BD, 0x26BE}, {0x26C4, 0x26C5}, {0x26CE, 0x26CE},
	{0x26D4, 0x26D4}, {0x26EA, 0x26EA}, {0x26F2, 0x26F3}, {0x26F5, 0x26F5},
	{0x26FA, 0x26FA}, {0x26FD, 0x26FD}, {0x2705, 0x2705}, {0x270A, 0x270B},
	{0x2728, 0x2728}, {0x274C, 0x274C}, {0x274E, 0x274E}, {0x2753, 0x2755},
	{0x2757, 0x2757}, {0x2795, 0x2797}, {0x27B0, 0x27B0}, {0x27BF, 0x27BF},
	{0x2B1B, 0x2B1C}, {0x2B50, 0x2B50}, {0x2B55, 0x2B55}, {0x2E80, 0x303E},
	{0x3041, 0x33FF}, {0x3400, 0x4DFF}, {0x4E00, 0x9FFF}, {0xA000, 0xA4CF},
	{0xA960, 0xA97F}, {0xAC00, 0xD7A3}, {0xF900, 0xFAFF}, {0xFE10, 0xFE19},
	{0xFE30, 0xFE6F}, {0xFF00, 0xFF60}, {0xFFE0, 0xFFE6}, {0x16FE0, 0x16FFF},
	{0x17000, 0x18D08}, {0x1AFF0, 0x1B2FF}, {0x1D300, 0x1D376}, {0x1F004, 0x1F004}, {0x1F0CF, 0x1F0CF},
	{0x1F18E, 0x1F18E}, {0x1F191, 0x1F19A}, {0x1F1E6, 0x1F202}, {0x1F210, 0x1F23B},
	{0x1F240, 0x1F248}, {0x1F250, 0x1F251}, {0x1F260, 0x1F265}, {0x1F300, 0x1F64F},
	{0x1F680, 0x1F6FF}, {0x1F7E0, 0x1F7EB}, {0x1F7F0, 0x1F7F0}, {0x1F90C, 0x1F9FF},
	{0x1FA70, 0x1FAFF}, {0x20000, 0x2FFFD}, {0x30000, 0x3FFFD},
}

// zeroRanges are combining marks and joiners that take no cell of their own.
var zeroRanges = [...][2]rune{
	{0x0300, 0x036F}, {0x0483, 0x0489}, {0x0591, 0x05BD}, {0x0610, 0x061A},
	{0x064B, 0x065F}, {0x1AB0, 0x1AFF}, {0x1DC0, 0x1DFF}, {0x200B, 0x200D},
	{0x20D0, 0x20FF}, {0xFE00, 0xFE0E}, {0xFE20, 0xFE2F}, {0xE0100, 0xE01EF},
}

func inRanges(r rune, t [][2]rune) bool {
	lo, hi := 0, len(t)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		switch {
		case r < t[m][0]:
			hi = m
		case r > t[m][1]:
			lo = m + 1
		default:
			return true
		}
	}
	return false
}

// runeWidth returns the cells r takes in a terminal: 0, 1 or 2. Text given
// to it has been sanitised, so control characters do not occur.
func runeWidth(r rune) int {
	switch {
	case r < 0x300:
		return 1
	case r < 0x1100:
		if inRanges(r, zeroRanges[:]) {
			return 0
		}
		return 1
	case inRanges(r, wideRanges[:]):
		return 2
	case inRanges(r, zeroRanges[:]):
		return 0
	}
	return 1
}

// cellWidth returns the cells s takes.
func cellWidth(s []byte) int {
	n := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			n++
			i++
			continue
		}
		r, size := utf8.DecodeRune(s[i:])
		n += runeWidth(r)
		i += size
	}
	return n
}

// wrap splits line into segments of at most avail cells, never inside a rune
// and never before a zero-width rune. A rune wider than avail gets a segment
// of its own. extra is the width of a suffix that must fit after the last
// segment; if it does not, wrap adds an empty last segment for it. It calls
// emit with each segment's end offset, in order.
func wrap(line []byte, avail, extra int, emit func(end int)) {
	if len(line)+extra <= avail { // cells never exceed bytes
		emit(len(line))
		return
	}
	w := 0 // cells in the current segment
	i := 0
	for i < len(line) {
		c := line[i]
		rw, size := 1, 1
		if c >= utf8.RuneSelf {
			var r rune
			r, size = utf8.DecodeRune(line[i:])
			rw = runeWidth(r)
		}
		if w+rw > avail && w > 0 && rw > 0 {
			emit(i)
			w = 0
		}
		w += rw
		i += size
	}
	if extra > 0 && w+extra > avail && w > 0 {
		emit(len(line))
		w = 0
	}
	emit(len(line))
}

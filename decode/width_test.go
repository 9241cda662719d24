package decode

import (
	"slices"
	"strings"
	"testing"
	"unicode"

	"github.com/charmbracelet/x/ansi"
)

// TestRuneWidthNeverUnder checks the cell table against the width the
// inspector's terminal library (charmbracelet/x/ansi, as lipgloss uses)
// gives each printable rune: never fewer cells, so a wrapped line never
// overflows.
func TestRuneWidthNeverUnder(t *testing.T) {
	for _, tbl := range [][][2]rune{wideRanges[:], zeroRanges[:]} {
		if !slices.IsSortedFunc(tbl, func(a, b [2]rune) int { return int(a[0] - b[0]) }) {
			t.Fatal("range table not sorted")
		}
		for i, r := range tbl {
			if r[0] > r[1] || i > 0 && tbl[i-1][1] >= r[0] {
				t.Fatalf("range %X overlaps or is empty", r)
			}
		}
	}
	under := 0
	for r := rune(0x20); r < 0x40000; r++ {
		if r >= 0xd800 && r < 0xe000 || r >= 0x7f && r < 0xa0 || !unicode.IsPrint(r) && !unicode.Is(unicode.Mn, r) {
			continue
		}
		if m, a := runeWidth(r), ansi.StringWidth(string(r)); m < a {
			if under++; under < 10 {
				t.Errorf("runeWidth(%U) = %d, ansi.StringWidth = %d", r, m, a)
			}
		}
	}
}

func TestCellWidth(t *testing.T) {
	tests := []struct {
		s    string
		want int
	}{
		{"", 0},
		{"abc", 3},
		{"日本語", 6},
		{"한국어", 6},
		{"ｆｕｌｌ", 8},
		{"🎉🚀", 4},
		{"e\u0301", 1},
		{"café", 4},
		{"❤\ufe0f", 2}, // VS16 asks for emoji presentation: two cells
		{"␀␛", 2},
		{"\ufffd", 1},
	}
	for _, tc := range tests {
		if got := cellWidth([]byte(tc.s)); got != tc.want {
			t.Errorf("cellWidth(%q) = %d, want %d", tc.s, got, tc.want)
		}
		if a := ansi.StringWidth(tc.s); cellWidth([]byte(tc.s)) < a {
			t.Errorf("cellWidth(%q) = %d is under ansi.StringWidth %d", tc.s, cellWidth([]byte(tc.s)), a)
		}
	}
}

func TestWrap(t *testing.T) {
	tests := []struct {
		s            string
		avail, extra int
		want         []string
	}{
		{"", 10, 0, []string{""}},
		{"abcdef", 3, 0, []string{"abc", "def"}},
		{"abcdefg", 3, 0, []string{"abc", "def", "g"}},
		{"日本語", 4, 0, []string{"日本", "語"}},
		{"日本語", 3, 0, []string{"日", "本", "語"}},
		{"日本語", 1, 0, []string{"日", "本", "語"}}, // a rune too wide stands alone
		{"ab🎉cd", 3, 0, []string{"ab", "🎉c", "d"}},
		{"abc\u0301d", 3, 0, []string{"abc\u0301", "d"}}, // a combining mark stays with its base
		{"abcd", 5, 2, []string{"abcd", ""}},             // the suffix does not fit
		{"abc", 5, 2, []string{"abc"}},
	}
	for _, tc := range tests {
		var got []string
		start := 0
		wrap([]byte(tc.s), tc.avail, tc.extra, func(end int) {
			got = append(got, tc.s[start:end])
			start = end
		})
		if !slices.Equal(got, tc.want) {
			t.Errorf("wrap(%q, %d, %d) = %q, want %q", tc.s, tc.avail, tc.extra, got, tc.want)
		}
	}
}

// TestWrapWidths formats CJK and emoji text at many widths and checks that
// no line is wider than asked, by this package's count and by ansi's.
func TestWrapWidths(t *testing.T) {
	text := strings.Repeat("日本語のテキスト🎉 mixed ascii 한국어 ｆｕｌｌ e\u0301 ", 6)
	for w := minWidth; w <= 50; w++ {
		for _, k := range []Kind{Text, JSON} {
			data := []byte(text)
			if k == JSON {
				data = []byte(`{"` + text + `":["` + text + `"]}`)
			}
			d, err := formatKind(k, data, Options{Width: w})
			if err != nil {
				t.Fatal(err)
			}
			checkDoc(t, d, w)
			var joined strings.Builder
			for i := range d.Len() {
				l := d.Line(i).Text
				if a := ansi.StringWidth(l); a > w {
					t.Errorf("%s width %d: Line(%d) = %q is %d cells by ansi", k, w, i, l, a)
				}
				joined.WriteString(strings.TrimLeft(l, " "))
			}
			if k == Text && joined.String() != strings.ReplaceAll(text, " ", "") && strings.ReplaceAll(joined.String(), " ", "") != strings.ReplaceAll(text, " ", "") {
				t.Errorf("width %d: wrapped text lost characters", w)
			}
		}
	}
}

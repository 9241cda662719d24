package inspector

import (
	"charm.land/lipgloss/v2"
	"github.com/wstap/wstap/decode"
)

// theme holds the styles of every screen. Without colour (NO_COLOR, a
// terminal that has none, the golden tests) it keeps only bold and reverse,
// so the cursor and headings still stand out.
type theme struct {
	title, header, cursor, dim, badge, errText, status, bar lipgloss.Style
	client, server, proxy, mark, hit                        lipgloss.Style
	changed, inserted, missing, reordered                   lipgloss.Style // the rows of a side-by-side diff
	class                                                   [decode.Error + 1]lipgloss.Style
}

func newTheme(color bool) theme {
	s := lipgloss.NewStyle
	t := theme{
		title:  s().Bold(true),
		header: s().Bold(true),
		cursor: s().Reverse(true),
		bar:    s().Reverse(true),
	}
	if !color {
		return t
	}
	t.title = s().Bold(true).Foreground(lipgloss.Color("#7dcfff"))
	t.header = s().Bold(true).Foreground(lipgloss.Color("#c0caf5"))
	t.dim = s().Foreground(lipgloss.Color("#737aa2"))
	t.badge = s().Bold(true).Foreground(lipgloss.Color("#ff9e64"))
	t.errText = s().Foreground(lipgloss.Color("#f7768e"))
	t.status = s().Foreground(lipgloss.Color("#9ece6a"))
	t.client = s().Foreground(lipgloss.Color("#7aa2f7"))
	t.server = s().Foreground(lipgloss.Color("#bb9af7"))
	t.proxy = s().Foreground(lipgloss.Color("#737aa2"))
	t.mark = s().Bold(true).Foreground(lipgloss.Color("#e0af68"))
	t.hit = s().Bold(true).Foreground(lipgloss.Color("#9ece6a"))
	t.changed = s().Foreground(lipgloss.Color("#e0af68"))
	t.inserted = s().Foreground(lipgloss.Color("#9ece6a"))
	t.missing = s().Foreground(lipgloss.Color("#f7768e"))
	t.reordered = s().Foreground(lipgloss.Color("#7dcfff"))
	t.class[decode.Key] = s().Foreground(lipgloss.Color("#7aa2f7"))
	t.class[decode.String] = s().Foreground(lipgloss.Color("#9ece6a"))
	t.class[decode.Number] = s().Foreground(lipgloss.Color("#ff9e64"))
	t.class[decode.Literal] = s().Foreground(lipgloss.Color("#bb9af7"))
	t.class[decode.Punct] = s().Foreground(lipgloss.Color("#737aa2"))
	t.class[decode.Offset] = s().Foreground(lipgloss.Color("#565f89"))
	t.class[decode.Meta] = s().Foreground(lipgloss.Color("#e0af68"))
	t.class[decode.Error] = s().Foreground(lipgloss.Color("#f7768e"))
	return t
}

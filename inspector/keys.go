package inspector

import "charm.land/bubbles/v2/key"

// keyMap is every binding the inspector answers, with the words `?` shows.
type keyMap struct {
	Up, Down, PageUp, PageDown, Top, Bottom key.Binding
	Open, Back, Quit, Help, Tab             key.Binding

	Filter, Search, Next, Prev, Jump, Mark, NextMark, Time, Pause, Facts key.Binding

	Decoder, DecoderBack, Frames, Partner, PrevMsg, NextMsg key.Binding
	Copy, Save, Edit, InlineEdit                            key.Binding
}

func b(keys []string, k, desc string) key.Binding {
	return key.NewBinding(key.WithKeys(keys...), key.WithHelp(k, desc))
}

var keys = keyMap{
	Up:       b([]string{"up", "k"}, "↑/k", "up"),
	Down:     b([]string{"down", "j"}, "↓/j", "down"),
	PageUp:   b([]string{"pgup", "ctrl+b", "ctrl+u"}, "pgup", "page up"),
	PageDown: b([]string{"pgdown", "ctrl+f", "ctrl+d", "space"}, "pgdn", "page down"),
	Top:      b([]string{"home", "g"}, "g/home", "first"),
	Bottom:   b([]string{"end", "G"}, "G/end", "last (follow)"),
	Open:     b([]string{"enter"}, "enter", "open"),
	Back:     b([]string{"esc", "backspace", "h", "left"}, "esc", "back"),
	Quit:     b([]string{"q", "ctrl+c"}, "q", "quit"),
	Help:     b([]string{"?"}, "?", "help"),
	Tab:      b([]string{"tab"}, "tab", "websocket / http list"),

	Filter:   b([]string{"f"}, "f", "filter"),
	Search:   b([]string{"/"}, "/", "search"),
	Next:     b([]string{"n"}, "n/N", "next/prev hit"),
	Prev:     b([]string{"N"}, "N", "previous hit"),
	Jump:     b([]string{":"}, ":", "jump to time"),
	Mark:     b([]string{"m"}, "m", "mark"),
	NextMark: b([]string{"M"}, "M", "next mark"),
	Time:     b([]string{"t"}, "t", "absolute/relative time"),
	Pause:    b([]string{"p"}, "p", "pause following"),
	Facts:    b([]string{"i"}, "i", "connection facts"),

	Decoder:     b([]string{"d"}, "d/D", "next/prev decoder"),
	DecoderBack: b([]string{"D"}, "D", "previous decoder"),
	Frames:      b([]string{"f"}, "f", "frames"),
	Partner:     b([]string{"p"}, "p", "request ⇄ response"),
	PrevMsg:     b([]string{"["}, "[", "previous message"),
	NextMsg:     b([]string{"]"}, "]", "next message"),

	Copy:       b([]string{"c"}, "c", "copy payload"),
	Save:       b([]string{"w"}, "w", "save payload"),
	Edit:       b([]string{"e"}, "e", "edit ($EDITOR), resend"),
	InlineEdit: b([]string{"E"}, "E", "edit here, resend"),
}

// helpGroups is the key map as `?` shows it, one group per column.
func helpGroups() [][]key.Binding {
	k := keys
	return [][]key.Binding{
		{k.Up, k.Down, k.PageUp, k.PageDown, k.Top, k.Bottom, k.Open, k.Back, k.Tab, k.Help, k.Quit},
		{k.Filter, k.Search, k.Next, k.Jump, k.Mark, k.NextMark, k.Time, k.Pause, k.Facts},
		{k.Decoder, k.Frames, k.Partner, k.PrevMsg, k.NextMsg, k.Copy, k.Save, k.Edit, k.InlineEdit},
	}
}

package inspector

import (
	"strings"
	"testing"
)

// TestScreens walks the fixture as a newcomer would and keeps each screen
// as a golden file.
func TestScreens(t *testing.T) {
	m := newTestModel(t, openFixture(t), Options{})
	golden(t, "conns", screen(m))
	press(t, m, "tab")
	golden(t, "http", screen(m))
	press(t, m, "enter")
	golden(t, "http_facts", screen(m))
	press(t, m, "esc", "tab", "enter")
	settle(t, m)
	golden(t, "messages", screen(m))
	press(t, m, "t")
	golden(t, "messages_relative", screen(m))
	press(t, m, "t", "?")
	golden(t, "help", screen(m))
	press(t, m, "esc", "i")
	golden(t, "conn_facts", screen(m))
	press(t, m, "esc", "j", "enter")
	golden(t, "detail_json", screen(m))
	press(t, m, "d")
	golden(t, "detail_json_as_hex", screen(m))
	press(t, m, "esc", "j", "enter")
	golden(t, "detail_msgpack", screen(m))
	press(t, m, "esc", "G")
	press(t, m, "k", "k")
	press(t, m, "enter")
	golden(t, "detail_fragmented", screen(m))
	press(t, m, "f")
	golden(t, "detail_frames", screen(m))
}

func TestScreenFitsWidth(t *testing.T) {
	m := newTestModel(t, openFixture(t), Options{})
	press(t, m, "enter")
	settle(t, m)
	for _, w := range []int{20, 57, 80, 133} {
		do(t, m, windowSize(w, 12))
		lines := strings.Split(screen(m), "\n")
		if len(lines) != 12 {
			t.Errorf("width %d: %d lines, want 12", w, len(lines))
		}
		for i, l := range lines {
			if n := len([]rune(l)); n > w {
				t.Errorf("width %d: line %d is %d cells: %q", w, i, n, l)
			}
		}
	}
}

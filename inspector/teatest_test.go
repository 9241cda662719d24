package inspector

import (
	"bytes"
	"io"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"
	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/exp/teatest/v2"
)

// TestProgramScreens runs the inspector as a real program (teatest, an
// ASCII colour profile, 100×30) through key presses, and checks that each
// view it ends on is the golden screen TestScreens keeps: the model under
// bubbletea's own loop, ticks and commands draws what the unit tests see.
func TestProgramScreens(t *testing.T) {
	type step struct {
		keys string // typed one key at a time; "\r" is enter, "\x1b" esc, "\t" tab
		wait string // shown once the keys took effect
	}
	flows := []struct {
		golden string
		steps  []step
	}{
		{"conns", []step{{"", "2 connections"}}},
		{"http", []step{{"\t", "HTTP exchanges"}}},
		{"http_facts", []step{{"\t", "HTTP exchanges"}, {"\r", "response body"}}},
		{"messages", []step{{"\r", "BETA"}}},
		{"help", []step{{"\r", "BETA"}, {"?", "Message detail"}}},
		{"conn_facts", []step{{"\r", "BETA"}, {"i", "server leg TLS"}}},
		{"detail_msgpack", []step{{"\r", "BETA"}, {"jj\r", `"bids"`}}},
		{"detail_frames", []step{{"\r", "BETA"}, {"Gkk\r", `"catalog"`}, {"f", "3 frames"}}},
	}
	for _, f := range flows {
		t.Run(f.golden, func(t *testing.T) {
			m := New(openFixture(t), Options{Title: "fixture.wstap"})
			tm := teatest.NewTestModel(t, m, teatest.WithInitialTermSize(100, 30),
				teatest.WithProgramOptions(tea.WithColorProfile(colorprofile.ASCII)))
			var seen bytes.Buffer
			for _, s := range f.steps {
				for _, r := range s.keys {
					tm.Send(programKey(r))
				}
				teatest.WaitFor(t, io.TeeReader(tm.Output(), &seen), func(b []byte) bool {
					return strings.Contains(ansi.Strip(seen.String()), s.wait)
				}, teatest.WithDuration(10*time.Second), teatest.WithCheckInterval(5*time.Millisecond))
			}
			tm.Send(programKey('q'))
			final := tm.FinalModel(t, teatest.WithFinalTimeout(10*time.Second)).(*Model)
			golden(t, f.golden, screen(final))
		})
	}
}

// programKey is keyMsg for the one-rune spelling of the flows.
func programKey(r rune) tea.KeyPressMsg {
	if name, ok := map[rune]string{'\r': "enter", '\x1b': "esc", '\t': "tab"}[r]; ok {
		return keyMsg(name)
	}
	return keyMsg(string(r))
}

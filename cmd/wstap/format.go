package main

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/wstap/wstap/capture"
)

// Output helpers shared by the read-side commands (ls, show). They only
// format; the capture package does the reading.

// readStatusHelp is the EXIT STATUS section of commands that read captures.
const readStatusHelp = exitStatusHelp + `
A capture whose tail is torn (the recorder crashed, or is still writing) is
printed up to the damage, followed by a warning on stderr; that is not an
error and the exit status stays 0. A capture written by a newer wstap is an
error (1).
`

// warnTornTail prints the one-line warning for a torn capture tail, if err
// is one. Everything before the tail has been printed by then.
func warnTornTail(g *globalOptions, path string, err error) {
	var te *capture.TailError
	switch {
	case errors.As(err, &te):
		fmt.Fprintf(g.stderr, "wstap: warning: %s: torn tail at offset %d (%s); records before it are intact\n",
			path, te.Offset, te.Reason)
	case errors.Is(err, capture.ErrTornTail):
		fmt.Fprintf(g.stderr, "wstap: warning: %s: torn tail; records before it are intact\n", path)
	}
}

// errWriter remembers the first write error, so formatting code can print
// freely and check once.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	n, err := e.w.Write(p)
	if err != nil {
		e.err = fmt.Errorf("write output: %w", err)
	}
	return n, e.err
}

// humanBytes formats n as "512 B", "1.2 KiB", "3.0 MiB" ….
func humanBytes(n int64) string {
	if n < 1024 {
		return strconv.FormatInt(n, 10) + " B"
	}
	v, unit := float64(n)/1024, "KiB"
	for _, next := range []string{"MiB", "GiB", "TiB"} {
		if v < 1024 {
			break
		}
		v, unit = v/1024, next
	}
	if v < 10 {
		return fmt.Sprintf("%.1f %s", v, unit)
	}
	return fmt.Sprintf("%.0f %s", v, unit)
}

// humanDuration formats d compactly: "0s", "850µs", "12ms", "1.53s",
// "2m05s", "3h02m".
func humanDuration(d time.Duration) string {
	switch {
	case d <= 0:
		return "0s"
	case d < time.Millisecond:
		return d.Round(time.Microsecond).String()
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	case d < 10*time.Second:
		return strconv.FormatFloat(d.Round(10*time.Millisecond).Seconds(), 'f', 2, 64) + "s"
	case d < time.Minute:
		return strconv.FormatFloat(d.Round(100*time.Millisecond).Seconds(), 'f', 1, 64) + "s"
	case d < time.Hour:
		d = d.Round(time.Second)
		return fmt.Sprintf("%dm%02ds", int(d/time.Minute), int(d%time.Minute/time.Second))
	}
	d = d.Round(time.Minute)
	return fmt.Sprintf("%dh%02dm", int(d/time.Hour), int(d%time.Hour/time.Minute))
}

// escapeText returns s with control characters, other non-printable runes
// and invalid UTF-8 escaped as Go's %q does (\n, \t, \x00, \u200b …), but
// without surrounding quotes and leaving quotes and backslashes alone. The
// result is at most max runes long; a longer one is cut and ends in "…".
func escapeText(s string, max int) string {
	p := previewer{max: max, ellipsis: "…"}
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		var piece string
		switch {
		case r == utf8.RuneError && size == 1:
			piece = fmt.Sprintf(`\x%02x`, s[i])
		case strconv.IsPrint(r):
			piece = s[i : i+size]
		default:
			q := strconv.QuoteRune(r)
			piece = q[1 : len(q)-1]
		}
		if !p.add(piece) {
			break
		}
		i += size
	}
	return p.String()
}

// hexPreview returns data as space-separated hex bytes, "00 01 02", at most
// max runes long; a longer one is cut and ends in " …".
func hexPreview(data []byte, max int) string {
	p := previewer{max: max, ellipsis: " …"}
	for i, c := range data {
		piece := fmt.Sprintf("%02x", c)
		if i > 0 {
			piece = " " + piece
		}
		if !p.add(piece) {
			break
		}
	}
	return p.String()
}

// previewer builds a one-line preview out of pieces that are never split
// (an escape sequence, a hex byte), within a budget of max runes.
type previewer struct {
	max      int
	ellipsis string // ends a cut preview
	b        strings.Builder
	n        int  // runes in b
	fit      int  // length of b at the last piece boundary that leaves room for the ellipsis
	full     bool // a piece did not fit: the preview is cut
}

func (p *previewer) add(piece string) bool {
	w := utf8.RuneCountInString(piece)
	if p.n+w > p.max {
		p.full = true
		return false
	}
	p.b.WriteString(piece)
	p.n += w
	if p.n+utf8.RuneCountInString(p.ellipsis) <= p.max {
		p.fit = p.b.Len()
	}
	return true
}

func (p *previewer) String() string {
	if !p.full {
		return p.b.String()
	}
	return strings.TrimRight(p.b.String()[:p.fit], " ") + p.ellipsis
}

// cutRunes shortens s to at most max runes, ending it with "…" when it was longer.
func cutRunes(s string, max int) string {
	if utf8.RuneCountInString(s) <= max {
		return s
	}
	r := []rune(s)
	return string(r[:max-1]) + "…"
}

// clockTime formats t as HH:MM:SS.mmm in UTC.
func clockTime(t time.Time) string { return t.UTC().Format("15:04:05.000") }

// closeCodeNames are the status codes of RFC 6455, section 7.4.1, and the
// IANA registry, as short words.
var closeCodeNames = map[int]string{
	1000: "normal",
	1001: "going away",
	1002: "protocol error",
	1003: "unsupported data",
	1005: "no status",
	1006: "abnormal",
	1007: "invalid payload",
	1008: "policy violation",
	1009: "too big",
	1010: "mandatory extension",
	1011: "internal error",
	1012: "service restart",
	1013: "try again later",
	1014: "bad gateway",
	1015: "TLS handshake",
}

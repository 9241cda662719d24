package main

import (
	"testing"
	"time"
)

func TestHumanBytes(t *testing.T) {
	tests := []struct {
		n    int64
		want string
	}{
		{0, "0 B"},
		{1023, "1023 B"},
		{1024, "1.0 KiB"},
		{1234, "1.2 KiB"},
		{10 << 10, "10 KiB"},
		{1536 << 10, "1.5 MiB"},
		{5 << 30, "5.0 GiB"},
		{3 << 50, "3072 TiB"},
	}
	for _, tt := range tests {
		if got := humanBytes(tt.n); got != tt.want {
			t.Errorf("humanBytes(%d) = %q, want %q", tt.n, got, tt.want)
		}
	}
}

func TestHumanDuration(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want string
	}{
		{0, "0s"},
		{850 * time.Microsecond, "850µs"},
		{72 * time.Millisecond, "72ms"},
		{1534 * time.Millisecond, "1.53s"},
		{42 * time.Second, "42.0s"},
		{125 * time.Second, "2m05s"},
		{3*time.Hour + 2*time.Minute + 10*time.Second, "3h02m"},
	}
	for _, tt := range tests {
		if got := humanDuration(tt.d); got != tt.want {
			t.Errorf("humanDuration(%v) = %q, want %q", tt.d, got, tt.want)
		}
	}
}

func TestEscapeText(t *testing.T) {
	tests := []struct {
		s    string
		max  int
		want string
	}{
		{"plain", 10, "plain"},
		{"tab\there", 20, `tab\there`},
		{"nul\x00 bell\a del\x7f", 30, `nul\x00 bell\a del\x7f`},
		{"zero\u200bwidth", 30, `zero\u200bwidth`},
		{"bad\xffutf8", 30, `bad\xffutf8`},
		{`"quotes" and \backslash`, 30, `"quotes" and \backslash`},
		{"wörld ✓ 你好", 20, "wörld ✓ 你好"},
		{"exactly10!", 10, "exactly10!"},
		{"eleven runes", 10, "eleven ru…"},
		{"ab\x00\x00", 5, `ab…`}, // an escape is never split
		{"ab\x00", 6, `ab\x00`},
	}
	for _, tt := range tests {
		if got := escapeText(tt.s, tt.max); got != tt.want {
			t.Errorf("escapeText(%q, %d) = %q, want %q", tt.s, tt.max, got, tt.want)
		}
	}
}

func TestHexPreview(t *testing.T) {
	tests := []struct {
		p    []byte
		max  int
		want string
	}{
		{nil, 10, ""},
		{[]byte{0, 1, 0xff}, 8, "00 01 ff"},
		{[]byte{0, 1, 2, 3}, 8, "00 01 …"},
		{[]byte{0, 1, 2, 3}, 11, "00 01 02 03"},
	}
	for _, tt := range tests {
		if got := hexPreview(tt.p, tt.max); got != tt.want {
			t.Errorf("hexPreview(% x, %d) = %q, want %q", tt.p, tt.max, got, tt.want)
		}
	}
}

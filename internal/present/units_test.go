package present

import (
	"testing"
	"time"
)

func TestBytes(t *testing.T) {
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
		{3 << 40, "3.0 TiB"},
		{3 << 50, "3072 TiB"},
	}
	for _, tt := range tests {
		if got := Bytes(tt.n); got != tt.want {
			t.Errorf("Bytes(%d) = %q, want %q", tt.n, got, tt.want)
		}
	}
}

func TestDuration(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want string
	}{
		{-time.Second, "0s"},
		{0, "0s"},
		{850 * time.Microsecond, "850µs"},
		{1500 * time.Nanosecond, "2µs"},
		{72 * time.Millisecond, "72ms"},
		{1534 * time.Millisecond, "1.53s"},
		{42 * time.Second, "42.0s"},
		{125 * time.Second, "2m05s"},
		{3*time.Hour + 2*time.Minute + 10*time.Second, "3h02m"},
		{50 * time.Hour, "50h00m"},
	}
	for _, tt := range tests {
		if got := Duration(tt.d); got != tt.want {
			t.Errorf("Duration(%v) = %q, want %q", tt.d, got, tt.want)
		}
	}
}

func TestOffset(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want string
	}{
		{0, "+0s"},
		{300 * time.Microsecond, "+300µs"},
		{12 * time.Millisecond, "+12ms"},
		{-2 * time.Millisecond, "-2ms"},
		{-1534 * time.Millisecond, "-1.53s"},
	}
	for _, tt := range tests {
		if got := Offset(tt.d); got != tt.want {
			t.Errorf("Offset(%v) = %q, want %q", tt.d, got, tt.want)
		}
	}
}

func TestClock(t *testing.T) {
	tests := []struct {
		t    time.Time
		want string
	}{
		{time.Date(2026, 11, 26, 12, 0, 0, 123_456_789, time.UTC), "12:00:00.123"},
		{time.Date(2026, 11, 26, 23, 59, 59, 999_999_999, time.UTC), "23:59:59.999"}, // cut, not rounded
		{time.Date(2026, 11, 26, 14, 30, 5, 0, time.FixedZone("CET", 3600)), "13:30:05.000"},
	}
	for _, tt := range tests {
		if got := Clock(tt.t); got != tt.want {
			t.Errorf("Clock(%v) = %q, want %q", tt.t, got, tt.want)
		}
	}
}

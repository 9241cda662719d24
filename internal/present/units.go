package present

import (
	"fmt"
	"strconv"
	"time"
)

// Bytes formats a size: "512 B", "1.2 KiB", "30 MiB" … up to TiB.
func Bytes(n int64) string {
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

// Duration formats d compactly: "0s", "850µs", "12ms", "1.53s", "2m05s",
// "3h02m". A negative d is "0s".
func Duration(d time.Duration) string {
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

// Offset formats d, a time relative to another, with its sign: "+0s",
// "+300µs", "+12ms", "-2ms", in Duration's units.
func Offset(d time.Duration) string {
	if d < 0 {
		return "-" + Duration(-d)
	}
	return "+" + Duration(d)
}

// Clock formats t as HH:MM:SS.mmm in UTC, the time column of `show`.
func Clock(t time.Time) string { return t.UTC().Format("15:04:05.000") }

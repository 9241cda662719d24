package present

import (
	"testing"

	"github.com/wstap/wstap/capture"
)

func TestCloseCodeName(t *testing.T) {
	tests := []struct {
		code int
		want string
	}{
		{0, ""},
		{999, ""},
		{1000, "normal"},
		{1001, "going away"},
		{1002, "protocol error"},
		{1003, "unsupported data"},
		{1004, "reserved"},
		{1005, "no status"},
		{1006, "abnormal"},
		{1007, "invalid payload"},
		{1008, "policy violation"},
		{1009, "too big"},
		{1010, "mandatory extension"},
		{1011, "internal error"},
		{1012, "service restart"},
		{1013, "try again later"},
		{1014, "bad gateway"},
		{1015, "TLS handshake"},
		{1016, ""},
		{3000, ""},
		{4001, ""},
	}
	for _, tt := range tests {
		if got := CloseCodeName(tt.code); got != tt.want {
			t.Errorf("CloseCodeName(%d) = %q, want %q", tt.code, got, tt.want)
		}
	}
	// Every code of the range has a name of its own.
	seen := map[string]int{}
	for code := 1000; code <= 1015; code++ {
		name := CloseCodeName(code)
		if prev, dup := seen[name]; dup || name == "" {
			t.Errorf("CloseCodeName(%d) = %q, also the name of %d", code, name, prev)
		}
		seen[name] = code
	}
}

func TestArrow(t *testing.T) {
	tests := []struct {
		d    capture.Direction
		want string
	}{
		{capture.ClientToServer, "→"},
		{capture.ServerToClient, "←"},
		{capture.ProxyToServer, "⇢"},
		{capture.ProxyToClient, "⇠"},
		{capture.Direction(99), "?"},
	}
	for _, tt := range tests {
		if got := Arrow(tt.d); got != tt.want {
			t.Errorf("Arrow(%v) = %q, want %q", tt.d, got, tt.want)
		}
	}
}

func TestConnLabel(t *testing.T) {
	tests := []struct {
		c    capture.ConnID
		want string
	}{
		{0, "*"},
		{1, "#1"},
		{123456, "#123456"},
	}
	for _, tt := range tests {
		if got := ConnLabel(tt.c); got != tt.want {
			t.Errorf("ConnLabel(%d) = %q, want %q", tt.c, got, tt.want)
		}
	}
}

func TestHTTPStatus(t *testing.T) {
	tests := []struct {
		code int
		want string
	}{
		{0, "-"},
		{101, "101"},
		{403, "403"},
	}
	for _, tt := range tests {
		if got := HTTPStatus(tt.code); got != tt.want {
			t.Errorf("HTTPStatus(%d) = %q, want %q", tt.code, got, tt.want)
		}
	}
}

func TestMessageTags(t *testing.T) {
	tests := []struct {
		m    capture.Message
		want string
	}{
		{capture.Message{}, ""},
		{capture.Message{Compressed: true}, "[z]"},
		{capture.Message{Truncated: true}, "[truncated]"},
		{capture.Message{Incomplete: true}, "[incomplete]"},
		{capture.Message{Compressed: true, Truncated: true, Incomplete: true}, "[z] [truncated] [incomplete]"},
		{capture.Message{Cut: true}, ""}, // a preview's cap is not the capture's
	}
	for _, tt := range tests {
		if got := MessageTags(&tt.m); got != tt.want {
			t.Errorf("MessageTags(%+v) = %q, want %q", tt.m, got, tt.want)
		}
	}
}

func TestConnFlags(t *testing.T) {
	tests := []struct {
		c    capture.ConnSummary
		want string
	}{
		{capture.ConnSummary{Ended: true}, "-"},
		{capture.ConnSummary{}, "open"},
		{capture.ConnSummary{Ended: true, Ghost: true}, "ghost"},
		{capture.ConnSummary{Ended: true, Violations: 3}, "violations=3"},
		{capture.ConnSummary{Ghost: true, Violations: 1}, "ghost,violations=1,open"},
	}
	for _, tt := range tests {
		if got := ConnFlags(tt.c); got != tt.want {
			t.Errorf("ConnFlags(ghost=%t violations=%d ended=%t) = %q, want %q", tt.c.Ghost, tt.c.Violations,
				tt.c.Ended, got, tt.want)
		}
	}
}

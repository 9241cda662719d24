package certs

import (
	"errors"
	"net"
	"net/netip"
	"strings"
	"testing"
)

func TestParseHost(t *testing.T) {
	tests := []struct {
		in       string
		wildcard bool
		want     string // "" for an error
		ip       bool
	}{
		{"example.test", false, "example.test", false},
		{"Example.TEST.", false, "example.test", false},
		{"example.test:443", false, "example.test", false},
		{"example.test.:443", false, "example.test", false},
		{"my_host-1.example.test", false, "my_host-1.example.test", false},
		{"localhost", false, "localhost", false},
		{"xn--bcher-kva.test", false, "xn--bcher-kva.test", false},
		{"127.0.0.1", false, "127.0.0.1", true},
		{"127.0.0.1.", false, "127.0.0.1", true},
		{"127.0.0.1:8080", false, "127.0.0.1", true},
		{"::1", false, "::1", true},
		{"0:0::1", false, "::1", true},
		{"[::1]", false, "::1", true},
		{"[::1]:443", false, "::1", true},
		{"[fe80::1%eth0]:443", false, "fe80::1", true},
		{"fe80::1%eth0", false, "fe80::1", true},
		{"::ffff:127.0.0.1", false, "::ffff:127.0.0.1", true},
		{"*.example.test", true, "*.example.test", false},
		{"*.EXAMPLE.test", true, "*.example.test", false},
		{"*.example.test", false, "", false},
		{"", false, "", false},
		{".", false, "", false},
		{"..", false, "", false},
		{"a..b", false, "", false},
		{".example.test", false, "", false},
		{"example.test..", false, "", false},
		{"*", true, "", false},
		{"*.", true, "", false},
		{"a.*.test", true, "", false},
		{"f*o.test", true, "", false},
		{"**.test", true, "", false},
		{"a b", false, "", false},
		{"a/b", false, "", false},
		{"ünïcode.test", false, "", false},
		{"\u212a.test", false, "", false}, // Kelvin sign, which lower-cases to ASCII k
		{"example.test:", false, "", false},
		{"example.test:http", false, "", false},
		{"example.test:65536", false, "", false},
		{"example.test:-1", false, "", false},
		{"[::1", false, "", false},
		{"[::1]x", false, "", false},
		{"[::1]:", false, "", false},
		{"[127.0.0.1]", false, "", false},
		{"[example.test]", false, "", false},
		{":443", false, "", false},
		{"1:2:3", false, "", false},
		{strings.Repeat("a", 63) + ".test", false, strings.Repeat("a", 63) + ".test", false},
		{strings.Repeat("a", 64) + ".test", false, "", false},
		{strings.Repeat("a.", 126) + "a", false, strings.Repeat("a.", 126) + "a", false}, // 253 characters
		{strings.Repeat("a.", 126) + "ab", false, "", false},
		{strings.Repeat("a.", 126) + "a.", false, strings.Repeat("a.", 126) + "a", false},
	}
	for _, tt := range tests {
		h, err := parseHost(tt.in, tt.wildcard)
		if tt.want == "" {
			if !errors.Is(err, ErrInvalidHost) {
				t.Errorf("parseHost(%q, %v) = %q, %v; want ErrInvalidHost", tt.in, tt.wildcard, h.name, err)
			}
			continue
		}
		if err != nil || h.name != tt.want || (h.ip != nil) != tt.ip {
			t.Errorf("parseHost(%q, %v) = %q (IP %v), %v; want %q (IP %v)", tt.in, tt.wildcard, h.name, h.ip, err, tt.want, tt.ip)
		}
	}
}

func FuzzParseHost(f *testing.F) {
	for _, s := range []string{"example.test", "Example.TEST.:443", "*.example.test", "127.0.0.1:80", "[::1]:443",
		"fe80::1%eth0", "a..b", "[::1", "ünïcode.test", "1.2.3.4.", "::ffff:1.2.3.4"} {
		f.Add(s, true)
		f.Add(s, false)
	}
	f.Fuzz(func(t *testing.T, in string, wildcard bool) {
		h, err := parseHost(in, wildcard)
		if err != nil {
			if !errors.Is(err, ErrInvalidHost) {
				t.Fatalf("parseHost(%q) error %v does not wrap ErrInvalidHost", in, err)
			}
			return
		}
		if h.name == "" {
			t.Fatalf("parseHost(%q) = empty name", in)
		}
		if h.ip != nil {
			addr, err := netip.ParseAddr(h.name)
			if err != nil || addr.String() != h.name || !net.IP(addr.AsSlice()).Equal(h.ip) {
				t.Fatalf("parseHost(%q) = %q with IP %v: the two disagree", in, h.name, h.ip)
			}
		} else {
			for _, c := range []byte(h.name) {
				if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' || c == '*') {
					t.Fatalf("parseHost(%q) = %q holds %q", in, h.name, c)
				}
			}
			if strings.HasSuffix(h.name, ".") || len(h.name) > 253 {
				t.Fatalf("parseHost(%q) = %q: trailing dot or too long", in, h.name)
			}
			if !wildcard && strings.Contains(h.name, "*") {
				t.Fatalf("parseHost(%q, false) = %q holds a wildcard", in, h.name)
			}
		}
		// Normalising is idempotent.
		again, err := parseHost(h.name, wildcard)
		if err != nil || again.name != h.name || !again.ip.Equal(h.ip) {
			t.Fatalf("parseHost(%q) = %q, but parseHost(%q) = %q, %v", in, h.name, h.name, again.name, err)
		}
	})
}

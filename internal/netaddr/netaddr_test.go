package netaddr

import "testing"

func TestIsLoopback(t *testing.T) {
	for _, tc := range []struct {
		host string
		want bool
	}{
		{"127.0.0.1", true},
		{"127.1.2.3", true},
		{"127.0.0.1:8080", true},
		{"::1", true},
		{"[::1]", true},
		{"[::1]:80", true},
		{"::ffff:127.0.0.1", true},
		{"[::ffff:127.0.0.1]:80", true},
		{"localhost", true},
		{"LOCALHOST", true},
		{"localhost:0", true},
		{"LocalHost:8080", true},
		{"0.0.0.0", false},
		{"0.0.0.0:8080", false},
		{"::", false},
		{"[::]:8080", false},
		{"", false},
		{":8080", false},
		{"10.0.0.1", false},
		{"10.0.0.1:443", false},
		{"192.0.2.1:1234", false},
		{"2001:db8::1", false},
		{"example.test", false},
		{"example.test:80", false},
		{"localhost.example.test", false},
		{"app.localhost", false},
		{"127.0.0.1.example.test", false},
		{"not an address", false},
	} {
		if got := IsLoopback(tc.host); got != tc.want {
			t.Errorf("IsLoopback(%q) = %v, want %v", tc.host, got, tc.want)
		}
	}
}

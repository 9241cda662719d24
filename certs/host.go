package certs

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
)

// ErrInvalidHost is wrapped by the errors for hosts that cannot be named in
// a certificate: empty, malformed, or with characters a DNS name cannot hold.
var ErrInvalidHost = errors.New("certs: invalid host")

// hostName is a host normalised for a certificate: a DNS name (lower-case,
// no trailing dot, possibly "*.name" where wildcards are allowed) or an IP
// address, which then is in ip as well.
type hostName struct {
	name string // the DNS name, or the IP address in canonical form
	ip   net.IP // nil for a DNS name
}

func invalidHost(host, reason string) error {
	return fmt.Errorf("%w %q: %s", ErrInvalidHost, host, reason)
}

// parseHost normalises host for use in a certificate. It accepts a DNS name,
// an IPv4 address, an IPv6 address bare or in brackets, each optionally
// followed by ":port", which is dropped, as is an IPv6 zone. DNS names are
// lower-cased and lose one trailing dot. They hold ASCII letters, digits,
// '-' and '_' (internationalised names must be given in their xn-- form).
// A leading "*." label is allowed only when wildcard is true.
func parseHost(host string, wildcard bool) (hostName, error) {
	if host == "" {
		return hostName{}, invalidHost(host, "empty")
	}
	s := host
	if strings.HasPrefix(s, "[") {
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return hostName{}, invalidHost(host, "missing ]")
		}
		if rest := s[end+1:]; rest != "" {
			if rest[0] != ':' || !validPort(rest[1:]) {
				return hostName{}, invalidHost(host, "bad port after ]")
			}
		}
		addr, err := netip.ParseAddr(s[1:end])
		if err != nil || !addr.Is6() {
			return hostName{}, invalidHost(host, "brackets hold no IPv6 address")
		}
		return ipHost(addr), nil
	}
	switch strings.Count(s, ":") {
	case 0:
	case 1:
		h, port, _ := strings.Cut(s, ":")
		if !validPort(port) {
			return hostName{}, invalidHost(host, "bad port")
		}
		s = h
	default:
		addr, err := netip.ParseAddr(s)
		if err != nil {
			return hostName{}, invalidHost(host, "not an IPv6 address (write [addr]:port for a port)")
		}
		return ipHost(addr), nil
	}
	s = strings.TrimSuffix(s, ".")
	if addr, err := netip.ParseAddr(s); err == nil {
		return ipHost(addr), nil
	}
	if s == "" {
		return hostName{}, invalidHost(host, "empty name")
	}
	if len(s) > 253 {
		return hostName{}, invalidHost(host, "longer than 253 characters")
	}
	b := []byte(s)
	for i, c := range b {
		switch {
		case c >= 'A' && c <= 'Z':
			b[i] = c + 'a' - 'A'
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '-', c == '_', c == '.', c == '*':
		case c >= 0x80:
			return hostName{}, invalidHost(host, "non-ASCII name (use its xn-- form)")
		default:
			return hostName{}, invalidHost(host, fmt.Sprintf("character %q not allowed", c))
		}
	}
	s = string(b)
	labels := strings.Split(s, ".")
	for i, label := range labels {
		switch {
		case label == "":
			return hostName{}, invalidHost(host, "empty label")
		case len(label) > 63:
			return hostName{}, invalidHost(host, "label longer than 63 characters")
		case label == "*" && i == 0 && len(labels) > 1:
			if !wildcard {
				return hostName{}, invalidHost(host, "wildcards are not allowed here")
			}
		case strings.Contains(label, "*"):
			return hostName{}, invalidHost(host, "a wildcard must be the whole first label, as in *.example.test")
		}
	}
	return hostName{name: s}, nil
}

func ipHost(addr netip.Addr) hostName {
	addr = addr.WithZone("")
	return hostName{name: addr.String(), ip: net.IP(addr.AsSlice())}
}

// validPort reports whether s is a decimal port number, 0 to 65535.
func validPort(s string) bool {
	if s == "" || len(s) > 5 {
		return false
	}
	n := 0
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return false
		}
		n = n*10 + int(c-'0')
	}
	return n <= 65535
}

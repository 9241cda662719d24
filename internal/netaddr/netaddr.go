package netaddr

import (
	"net"
	"net/netip"
	"strings"
)

// IsLoopback reports whether host, an address as a listener or a
// connection names it ("127.0.0.1", "[::1]:8080", "localhost:0", the
// RemoteAddr of an http.Request), is a loopback address: an IPv4 address
// in 127.0.0.0/8, ::1, an IPv4-mapped form of either, or the name
// "localhost" in any case. The name is taken at its word and nothing is
// resolved: RFC 6761 (section 6.3) reserves it for loopback, and asking a
// resolver would make the answer depend on the machine's configuration.
// Any other name, the unspecified addresses (0.0.0.0, ::) and an empty
// host (every interface) are not loopback.
func IsLoopback(host string) bool {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	} else if strings.HasPrefix(host, "[") && strings.HasSuffix(host, "]") {
		host = host[1 : len(host)-1]
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Unmap().IsLoopback()
}

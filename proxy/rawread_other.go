//go:build !unix

package proxy

import "net"

// waitable returns nil: without unix read(2) semantics the leg keeps its
// buffer while it waits.
func waitable(net.Conn) rawReader { return nil }

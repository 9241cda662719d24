// Package proxy is wstap's recording man-in-the-middle for WebSocket: the
// explicit HTTP proxy (absolute-form ws:// and CONNECT with TLS
// interception), reverse mode, and the frame-exact relay that forwards every
// frame unchanged while handing a decoded copy to a Sink.
//
// # Serving
//
// Proxy is an http.Handler. Serve it on Proxy.Listener(ln): connections
// accepted through it keep the bytes of each request head, so an upgrade
// request goes upstream in the client's order and case, Host included, and
// is recorded so (capture.ConnOpen.RequestHeaderList); the server's answer,
// 101 or refusal, goes back as the server wrote it. Served on a bare
// listener, headers are forwarded canonicalised.
//
// # Concurrency
//
// Each relayed connection has one goroutine per direction
// (pumpClientToServer, pumpServerToClient); a leg's writer is locked for a
// whole frame, so frames the proxy originates never land inside a peer's.
// One connection's trouble never stalls another. See docs/architecture.md.
//
// # Imports
//
// proxy must not import replay, inspector, certs or cmd/wstap. It uses the
// record types of capture (the leaf), takes leaf certificates through a
// stdlib-typed GetCertificate function, and writes through the Sink it
// declares, which *capture.Writer satisfies.
package proxy

// Package proxy is wstap's recording man-in-the-middle for WebSocket: the
// explicit HTTP proxy (absolute-form ws:// and CONNECT with TLS
// interception), reverse mode, and the frame-exact relay that forwards every
// frame unchanged while handing a decoded copy to a Sink.
//
// The relay itself arrives with issue 3; this package holds its place in the
// layout of DESIGN.md.
//
// # Imports
//
// proxy must not import replay, inspector or cmd/wstap. It takes leaf
// certificates through a stdlib-typed GetCertificate function rather than
// importing certs.
package proxy

// Package tlsfacts holds what the relay and the replay both say about TLS:
// the facts of a leg that a capture keeps (capture.TLSInfo), and the words
// that turn a certificate verification failure into something a user can
// act on, naming the flag to pass.
//
// It imports the standard library and capture only; never proxy, replay,
// inspector or cmd/wstap.
package tlsfacts

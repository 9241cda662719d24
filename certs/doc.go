// Package certs manages wstap's certificate authority and the leaf
// certificates the proxy presents when it intercepts TLS.
//
// Work on it arrives with the relay (issue 3); this package holds its place
// in the layout of DESIGN.md.
//
// # Imports
//
// certs uses the standard library only and imports nothing from wstap.
package certs

// Package wstap holds the repository-wide tests (import boundaries). The
// program lives in cmd/wstap; see README.md.
package wstap

// Package netaddr holds wstap's rules about network addresses that more
// than one package applies, so that they give one answer: today, which
// addresses are loopback (the --listen check of wstap record and the
// proxy's refusal of remote clients).
//
// # Imports
//
// netaddr imports the standard library only, and nothing of wstap.
package netaddr

package proxy

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"net/http"
	"strings"

	"github.com/wstap/wstap/internal/netaddr"
)

// realm is the Basic authentication realm wstap announces.
const realm = `Basic realm="wstap"`

// checkProxyAuth validates Options.ProxyAuth.
func checkProxyAuth(creds string) error {
	if creds != "" && !strings.Contains(creds, ":") {
		return errors.New("proxy: the proxy credentials (--proxy-auth) must be user:pass")
	}
	return nil
}

// admit applies the checks every request that reaches the proxy's listener
// goes through: clients on other machines are refused unless AllowRemote,
// and the credentials of ProxyAuth are required when set. It answers a
// refused request itself and reports false. The credentials are removed
// from the request, so they reach neither the upstream nor the capture.
func (p *Proxy) admit(w http.ResponseWriter, r *http.Request) bool {
	if !p.opts.AllowRemote && !netaddr.IsLoopback(r.RemoteAddr) {
		p.logf("refused a client at %s: not a loopback address and remote clients are not allowed", r.RemoteAddr)
		http.Error(w, "wstap: this proxy serves clients on its own machine only; restart it with --allow-remote "+
			"(and --proxy-auth user:pass) to serve other machines", http.StatusForbidden)
		return false
	}
	defer r.Header.Del("Proxy-Authorization")
	if p.opts.ProxyAuth == "" {
		return true
	}
	if p.upstream != nil {
		// Reverse mode: clients take wstap for the server, so they
		// authenticate as to a server. The header is wstap's, not the
		// upstream's.
		ok := basicMatches(r.Header.Get("Authorization"), p.opts.ProxyAuth)
		r.Header.Del("Authorization")
		if ok {
			return true
		}
		w.Header().Set("WWW-Authenticate", realm)
		http.Error(w, "wstap: authentication required (Authorization: Basic, the credentials of --proxy-auth)", http.StatusUnauthorized)
		return false
	}
	if basicMatches(r.Header.Get("Proxy-Authorization"), p.opts.ProxyAuth) {
		return true
	}
	w.Header().Set("Proxy-Authenticate", realm)
	http.Error(w, "wstap: proxy authentication required (Proxy-Authorization: Basic, the credentials of --proxy-auth)", http.StatusProxyAuthRequired)
	return false
}

// basicMatches reports whether header is "Basic " followed by the base64 of
// creds (RFC 7617). The comparison takes the same time whatever the
// header holds.
func basicMatches(header, creds string) bool {
	scheme, token, _ := strings.Cut(strings.TrimSpace(header), " ")
	got, err := base64.StdEncoding.DecodeString(strings.TrimSpace(token))
	if err != nil || !strings.EqualFold(scheme, "Basic") {
		got = nil
	}
	a, b := sha256.Sum256(got), sha256.Sum256([]byte(creds))
	return subtle.ConstantTimeCompare(a[:], b[:]) == 1 && got != nil
}

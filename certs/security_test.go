package certs

import (
	"crypto/x509"
	"encoding/pem"
	"testing"
	"time"
)

// browserLimit is the longest validity browsers accept of a certificate
// from a public CA (Apple, Chrome, Mozilla: 398 days); MaxServerValidity is
// the most Apple platforms accept from a user-installed CA.
const browserLimit = 398 * 24 * time.Hour

// TestLeafValidityWithinBrowserLimits: the proxy's leaves and the default
// certificate of IssueServer (wstap cert) stay within 398 days counted
// from NotBefore, backdating included; an explicit validity stays within
// MaxServerValidity, and more is refused (issue 12, item 12).
func TestLeafValidityWithinBrowserLimits(t *testing.T) {
	a, _, err := LoadOrCreate(t.TempDir(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := a.Leaf("example.test")
	if err != nil {
		t.Fatal(err)
	}
	if d := leaf.Leaf.NotAfter.Sub(leaf.Leaf.NotBefore); d > browserLimit || d > 8*24*time.Hour {
		t.Errorf("proxy leaf valid for %v, want at most a week and the backdating", d)
	}
	for _, tc := range []struct {
		validity, max time.Duration
	}{{0, browserLimit}, {browserLimit - backdate, browserLimit}, {MaxServerValidity, MaxServerValidity}} {
		certPEM, _, err := a.IssueServer([]string{"example.test"}, tc.validity)
		if err != nil {
			t.Fatalf("IssueServer(%v): %v", tc.validity, err)
		}
		blk, _ := pem.Decode(certPEM)
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		if d := c.NotAfter.Sub(c.NotBefore); d > tc.max {
			t.Errorf("IssueServer(%v): valid for %v (%.2f days), want at most %v", tc.validity, d, d.Hours()/24, tc.max)
		}
	}
	if _, _, err := a.IssueServer([]string{"example.test"}, MaxServerValidity+time.Hour); err == nil {
		t.Errorf("IssueServer(%v) issued a certificate, want a refusal", MaxServerValidity+time.Hour)
	}
}

package codegen

import (
	"fmt"
	"strings"
	"text/template"
)

// jsModel adds to the model what only the Node script needs.
type jsModel struct {
	*model
	// Headers groups the handshake headers by name: Node takes them as an
	// object, one key a name, several values as an array.
	Headers []jsHeader
	// Latin1 says a header value, the target or a value from the
	// environment may hold non-ASCII characters: Node writes the request
	// head as latin1, so they go as their UTF-8 bytes, one a character.
	Latin1 bool
}

type jsHeader struct {
	Name   string
	Values []header
}

func javascript(m *model) ([]byte, error) {
	jm := &jsModel{model: m, Latin1: !isPrintASCII(m.Target) || len(m.Env) > 0}
	at := map[string]int{}
	for _, h := range m.Headers {
		key := strings.ToLower(h.Name)
		i, ok := at[key]
		if !ok {
			i = len(jm.Headers)
			at[key] = i
			jm.Headers = append(jm.Headers, jsHeader{Name: h.Name})
		}
		jm.Headers[i].Values = append(jm.Headers[i].Values, h)
		if h.Env == "" && !isPrintASCII(h.Value) {
			jm.Latin1 = true
		}
	}
	return render("js.js.tmpl", template.FuncMap{
		"js":      jsString,
		"comment": comment,
		"wire":    func(s string) string { return jsWire(s, jm.Latin1) },
	}, m, "NODE_EXTRA_CA_CERTS", jm)
}

// isPrintASCII reports whether s is printable ASCII, space and tab
// included (header values hold those).
func isPrintASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if (s[i] < 0x20 && s[i] != '\t') || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// jsWire is a string literal for the request head: wrapped in latin1(),
// the script's helper, when it holds non-ASCII characters.
func jsWire(s string, helper bool) string {
	if helper && !isPrintASCII(s) {
		return "latin1(" + jsString(s) + ")"
	}
	return jsString(s)
}

// jsString returns s as a JavaScript string literal (double-quoted, never
// a template). Printable non-ASCII characters are kept; the rest, and "</"
// and "<!--" (harmless here, but not if the code is ever pasted into an
// HTML page), are escaped.
func jsString(s string) string {
	return quote(s, func(r rune) string { return fmt.Sprintf(`\u{%x}`, r) }, func(rest string) (string, bool) {
		if strings.HasPrefix(rest, "</") || strings.HasPrefix(rest, "<!--") {
			return `\x3c`, true
		}
		return "", false
	})
}

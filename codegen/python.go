package codegen

import (
	"fmt"
	"strconv"
	"strings"
	"text/template"
	"time"
)

// pythonModel adds to the model what only the Python script needs.
type pythonModel struct {
	*model
	// RawTarget says websockets would not send Target as it is: it
	// percent-encodes a URL holding non-ASCII characters (every "%"
	// included), and drops an empty query's "?".
	RawTarget bool
}

func python(m *model) ([]byte, error) {
	pm := &pythonModel{model: m, RawTarget: !isASCII(m.URL) || websocketsResource(m.Target) != m.Target}
	return render("python.py.tmpl", template.FuncMap{
		"py":      pyString,
		"comment": comment,
		"seconds": pySeconds,
	}, m, "SSL_CERT_FILE", pm)
}

// websocketsResource is the request target websockets (any version) sends
// for an ASCII URL with this path and query: its parse_uri splits them
// with urllib and joins them back as resource_name.
func websocketsResource(target string) string {
	p, q, _ := strings.Cut(target, "?")
	if p == "" {
		p = "/"
	}
	if q != "" {
		p += "?" + q
	}
	return p
}

// pyString returns s as a Python string literal. Printable non-ASCII
// characters are kept as they are (the script is UTF-8); the rest are
// escaped.
func pyString(s string) string {
	return quote(s, func(r rune) string { return fmt.Sprintf(`\U%08x`, r) }, nil)
}

// pySeconds writes a duration as a Python float of seconds.
func pySeconds(d time.Duration) string {
	s := strconv.FormatFloat(d.Seconds(), 'f', -1, 64)
	if !strings.Contains(s, ".") {
		s += ".0"
	}
	return s
}

package codegen

import (
	"fmt"
	"go/format"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"text/template"
	"time"
)

// goModel adds to the model what only the Go program needs.
type goModel struct {
	*model
	Server string // the recorded URL's scheme://host
	// RawTarget says net/url, which gorilla parses the URL with, would
	// not give back Target as the request target (it percent-encodes raw
	// non-ASCII bytes in a path, for one).
	RawTarget bool
	// Headers are the handshake headers as http.Header keys: a recorded
	// User-Agent under its canonical name, which net/http writes itself.
	Headers []header
	// UserAgent says the recording has a User-Agent; without one the
	// program sends none, where net/http would send its own.
	UserAgent bool
	Embed     string // the go:embed pattern naming the data file
}

func golang(m *model) ([]byte, error) {
	gm := &goModel{model: m, Server: strings.TrimSuffix(m.URL, m.Target)}
	u, err := url.Parse(m.URL)
	gm.RawTarget = err != nil || u.RequestURI() != m.Target
	for _, h := range m.Headers {
		if canonical(h.Name) == "User-Agent" {
			h.Name = "User-Agent"
			gm.UserAgent = true
		}
		gm.Headers = append(gm.Headers, h)
	}
	if m.DataName != "" {
		gm.Embed = m.DataName
		if !regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`).MatchString(m.DataName) {
			gm.Embed = strconv.Quote(m.DataName)
		}
	}
	src, err := render("go.go.tmpl", template.FuncMap{
		"gostr":    strconv.Quote,
		"comment":  comment,
		"duration": goDuration,
	}, m, "SSL_CERT_FILE", gm)
	if err != nil {
		return nil, err
	}
	out, err := format.Source(src)
	if err != nil {
		return nil, fmt.Errorf("codegen: the Go program does not parse: %w", err)
	}
	return out, nil
}

// goDuration writes d as a Go expression.
func goDuration(d time.Duration) string {
	switch {
	case d%time.Second == 0:
		return fmt.Sprintf("%d * time.Second", d/time.Second)
	case d%time.Millisecond == 0:
		return fmt.Sprintf("%d * time.Millisecond", d/time.Millisecond)
	}
	return fmt.Sprintf("time.Duration(%d)", int64(d))
}

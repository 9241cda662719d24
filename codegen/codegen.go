package codegen

import (
	"bytes"
	"embed"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"path"
	"strings"
	"text/template"
	"time"
	"unicode/utf8"

	"github.com/wstap/wstap/capture"
	"github.com/wstap/wstap/replay"
)

// Options configure Generate. Only Lang is required.
type Options struct {
	// Lang is "python", "js" or "go".
	Lang string
	// KeepSecrets puts the recorded values of Authorization, Cookie and
	// Proxy-Authorization in the script instead of reading them from the
	// environment. A header the capture redacted is read from the
	// environment even then: the capture does not hold its value.
	KeepSecrets bool
	// DataFile is the base name of the data file written beside the script
	// when the session is too large to hold inline (see Generated.Data).
	// Default: derived from ScriptName by DataFileName.
	DataFile string
	// Timeout is the generated script's wait for each server message it
	// expects, and for its handshake. Default 10s.
	Timeout time.Duration
	// ScriptName is the file name the script will have, as its comments
	// show it ("python3 client.py …"). Default "client" with the
	// language's extension.
	ScriptName string
	// Capture names the capture file in the script's header comment.
	// Default: none.
	Capture string
}

// Generated is the script, and a data file when the messages do not
// belong in the script.
type Generated struct {
	Script []byte
	// Data is the JSON data file holding the client's messages, nil when
	// they are inline. The script reads it from beside itself, as
	// DataName.
	Data     []byte
	DataName string
}

// Limits beyond which the client's messages go into a data file.
const (
	maxInlineMessages = 200
	maxInlineBytes    = 256 << 10
)

// Langs are the languages Generate writes, with their file extensions.
var langs = map[string]string{"python": ".py", "js": ".js", "go": ".go"}

// DataFileName returns the data file name that goes with a script file:
// client.py → client.messages.json.
func DataFileName(script string) string {
	base := path.Base(strings.ReplaceAll(script, `\`, "/"))
	return strings.TrimSuffix(base, path.Ext(base)) + ".messages.json"
}

//go:embed templates/*.tmpl
var templateFS embed.FS

// Generate writes a client program in opts.Lang that replays the client
// side of s. It refuses a recorded URL with credentials in it, and a text
// message that is not valid UTF-8 (no library sends one).
func Generate(s *replay.Script, opts Options) (*Generated, error) {
	ext, ok := langs[opts.Lang]
	if !ok {
		return nil, fmt.Errorf("codegen: unknown language %q (want python, js or go)", opts.Lang)
	}
	if opts.ScriptName == "" {
		opts.ScriptName = "client" + ext
	}
	if opts.DataFile == "" {
		opts.DataFile = DataFileName(opts.ScriptName)
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 10 * time.Second
	}
	m, err := newModel(s, opts)
	if err != nil {
		return nil, err
	}
	var data []byte
	if m.DataName != "" {
		if data, err = dataFile(m.Messages); err != nil {
			return nil, err
		}
	}
	var script []byte
	switch opts.Lang {
	case "python":
		script, err = python(m)
	case "js":
		script, err = javascript(m)
	case "go":
		script, err = golang(m)
	}
	if err != nil {
		return nil, err
	}
	g := &Generated{Script: script}
	if data != nil {
		g.Data, g.DataName = data, m.DataName
	}
	return g, nil
}

// model is what every language's template needs from a script.
type model struct {
	Prog     string // the script's file name
	Capture  string // the capture file, or ""
	Conn     capture.ConnID
	Recorded string // when the connection opened, or ""

	URL    string // the recorded URL: scheme://host and Target
	Target string // the request target: path and query as the client sent them

	Subprotocols []string // the offer, split on commas
	Offer        string   // the Sec-WebSocket-Protocol value as recorded
	Headers      []header // the end-to-end headers but the offer, in order
	Env          []envVar // the environment variables the script reads
	Compression  bool     // permessage-deflate was negotiated

	Messages []message // the client's messages
	DataName string    // set when the messages go into a data file
	Replies  int       // the server's messages in the recording

	CloseCode   int
	CloseReason string
	Timeout     time.Duration
}

// header is one handshake header: its value is Value, or, when Env is set,
// that environment variable's.
type header struct {
	Name, Value, Env string
}

// envVar is an environment variable a script reads.
type envVar struct {
	Name   string
	Header string // the header it holds the value of
	Why    string // "a secret" or "redacted in the capture"
}

// message is one client message, as the scripts and the data file hold it.
type message struct {
	T       int64  `json:"t"`       // milliseconds since the handshake
	Type    string `json:"type"`    // "text" or "binary"
	Data    string `json:"data"`    // the text, or the payload in base64
	Replies int    `json:"replies"` // server messages before it in the recording
}

// secretHeaders hold credentials: their values are read from the
// environment unless Options.KeepSecrets.
var secretHeaders = []string{"Authorization", "Cookie", "Proxy-Authorization"}

func newModel(s *replay.Script, opts Options) (*model, error) {
	if s == nil || s.Open == nil {
		return nil, errors.New("codegen: the script has no handshake")
	}
	open := s.Open
	u, err := recordedURL(open.URL, s.RequestURI())
	if err != nil {
		return nil, err
	}
	m := &model{
		Prog:        opts.ScriptName,
		Capture:     opts.Capture,
		Conn:        open.Conn,
		URL:         u,
		Target:      s.RequestURI(),
		Compression: strings.Contains(open.Extensions, "permessage-deflate"),
		Timeout:     opts.Timeout,
		CloseCode:   1000,
	}
	if !open.Time.IsZero() {
		m.Recorded = open.Time.UTC().Format("2006-01-02 15:04:05 UTC")
	}
	if !utf8.ValidString(m.Target) {
		return nil, fmt.Errorf("codegen: the recorded request target %q is not valid UTF-8; the libraries cannot send it", m.Target)
	}
	envNames := map[string]bool{}
	var offers []string
	for _, h := range replay.RecordedHeaders(open) {
		if strings.EqualFold(h.Name, "Sec-WebSocket-Protocol") {
			offers = append(offers, h.Value)
			continue
		}
		redacted := capture.IsRedacted(open.Redacted, h.Name)
		if !redacted && !utf8.ValidString(h.Value) {
			return nil, fmt.Errorf("codegen: the recorded %s header is not valid UTF-8; the libraries cannot send it", h.Name)
		}
		secret := !opts.KeepSecrets && containsFold(secretHeaders, h.Name)
		if !redacted && !secret {
			m.Headers = append(m.Headers, header{Name: h.Name, Value: h.Value})
			continue
		}
		name := envName(h.Name, envNames)
		why := "a secret, kept out of this file"
		if redacted {
			why = "redacted in the capture"
		}
		m.Env = append(m.Env, envVar{Name: name, Header: h.Name, Why: why})
		m.Headers = append(m.Headers, header{Name: h.Name, Env: name})
	}
	m.Offer = strings.Join(offers, ", ")
	for p := range strings.SplitSeq(m.Offer, ",") {
		if p = strings.TrimSpace(p); p != "" {
			m.Subprotocols = append(m.Subprotocols, p)
		}
	}
	if len(m.Subprotocols) == 0 {
		m.Offer = ""
	}

	size := 0
	for _, st := range s.Steps {
		if st.Dir == capture.ServerToClient {
			m.Replies++
			continue
		}
		if st.Dir != capture.ClientToServer {
			continue
		}
		msg := message{T: max(0, st.Time.Sub(open.Time).Milliseconds()), Replies: st.After}
		switch st.Opcode {
		case capture.OpText:
			if !utf8.Valid(st.Data) {
				return nil, fmt.Errorf("codegen: client message %d is text that is not valid UTF-8; no WebSocket library sends that", st.N)
			}
			msg.Type, msg.Data = "text", string(st.Data)
		case capture.OpBinary:
			msg.Type, msg.Data = "binary", base64.StdEncoding.EncodeToString(st.Data)
		default:
			return nil, fmt.Errorf("codegen: client message %d is a %s message; only text and binary ones are sent", st.N, st.Opcode)
		}
		size += len(st.Data)
		m.Messages = append(m.Messages, msg)
	}
	if len(m.Messages) > maxInlineMessages || size > maxInlineBytes {
		if err := checkDataName(opts.DataFile, opts.Lang); err != nil {
			return nil, err
		}
		m.DataName = opts.DataFile
	}
	if c := s.Close; c != nil && c.Dir == capture.ClientToServer && sendableCode(c.Code) {
		m.CloseCode, m.CloseReason = c.Code, c.Reason
	}
	return m, nil
}

// recordedURL checks the recorded URL and returns it as scheme://host and
// the request target.
func recordedURL(raw, target string) (string, error) {
	scheme, rest, ok := strings.Cut(raw, "://")
	switch scheme = strings.ToLower(scheme); {
	case !ok:
		return "", fmt.Errorf("codegen: recorded URL %q is not absolute", raw)
	case scheme == "http":
		scheme = "ws"
	case scheme == "https":
		scheme = "wss"
	case scheme != "ws" && scheme != "wss":
		return "", fmt.Errorf("codegen: recorded URL %q: want ws:// or wss://", raw)
	}
	host := rest
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		host = rest[:i]
	}
	if strings.Contains(host, "@") {
		return "", fmt.Errorf("codegen: recorded URL %q has credentials in it; a client sends them in an Authorization header, which it lacks", raw)
	}
	if host == "" {
		return "", fmt.Errorf("codegen: recorded URL %q names no host", raw)
	}
	return scheme + "://" + host + target, nil
}

// envName returns the environment variable for a header: WSTAP_ and the
// name in upper case, non-alphanumerics as _ (X-Api-Key →
// WSTAP_X_API_KEY), with _2, _3 … when taken.
func envName(header string, taken map[string]bool) string {
	var b strings.Builder
	b.WriteString("WSTAP_")
	for _, c := range []byte(strings.ToUpper(header)) {
		if c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
			b.WriteByte(c)
		} else {
			b.WriteByte('_')
		}
	}
	name := b.String()
	for i := 2; taken[name]; i++ {
		name = fmt.Sprintf("%s_%d", b.String(), i)
	}
	taken[name] = true
	return name
}

func containsFold(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}

// sendableCode reports whether a client may send close code c: the
// libraries refuse the rest. See RFC 6455, section 7.4.
func sendableCode(c int) bool {
	return c >= 1000 && c <= 1014 && c != 1004 && c != 1005 && c != 1006 || c >= 3000 && c <= 4999
}

// checkDataName refuses a data file name a script could not find beside
// itself (or a Go program could not embed).
func checkDataName(name, lang string) error {
	if name == "" || name == "." || name == ".." || strings.ContainsAny(name, `/\`+"\x00") {
		return fmt.Errorf("codegen: data file %q: want a file name, without a directory", name)
	}
	if lang == "go" && (name[0] == '.' || name[0] == '_') {
		return fmt.Errorf("codegen: data file %q: go:embed ignores names that start with . or _", name)
	}
	return nil
}

// dataFile encodes the messages as the data file: a JSON array, one
// message a line.
func dataFile(msgs []message) ([]byte, error) {
	var b bytes.Buffer
	b.WriteString("[\n")
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	for i, msg := range msgs {
		if err := enc.Encode(msg); err != nil {
			return nil, fmt.Errorf("codegen: data file: %w", err)
		}
		if i < len(msgs)-1 {
			b.Truncate(b.Len() - 1)
			b.WriteString(",\n")
		}
	}
	b.WriteString("]\n")
	return b.Bytes(), nil
}

// render executes the named template with the model and the language's
// functions, and pad, which aligns the environment variables listed in
// the header comment (tlsVar among them).
func render(name string, funcs template.FuncMap, m *model, tlsVar string, data any) ([]byte, error) {
	width := len(tlsVar)
	for _, e := range m.Env {
		width = max(width, len(e.Name))
	}
	funcs["pad"] = func(s string) string { return s + strings.Repeat(" ", max(0, width-len(s))) }
	t, err := template.New(name).Funcs(funcs).ParseFS(templateFS, "templates/"+name)
	if err != nil {
		return nil, fmt.Errorf("codegen: %w", err)
	}
	var b bytes.Buffer
	if err := t.Execute(&b, data); err != nil {
		return nil, fmt.Errorf("codegen: %w", err)
	}
	return b.Bytes(), nil
}

// comment makes s safe inside a one-line comment: no line breaks, no
// control characters.
func comment(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == utf8.RuneError, r < 0x20, r == 0x7f, r >= 0x80 && r < 0xa0, r == 0x2028, r == 0x2029:
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// isASCII reports whether s is printable ASCII.
func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// canonical is the canonical form of a header name.
func canonical(name string) string { return http.CanonicalHeaderKey(name) }

package inspector

import (
	"fmt"
	"net/http"
	"slices"
	"strings"

	tea "charm.land/bubbletea/v2"
	"github.com/wstap/wstap/capture"
	"github.com/wstap/wstap/internal/present"
)

// facts is a scrollable page of facts: a connection's handshakes and TLS,
// or one plain HTTP exchange.
type facts struct {
	title string
	lines []string
	top   int
	back  view
	gen   int
}

type factsMsg struct {
	gen   int
	lines []string
	err   error
}

func (m *Model) openFacts(title string, back view, load func() ([]string, error)) tea.Cmd {
	gen := 1
	if m.facts != nil {
		gen = m.facts.gen + 1
	}
	m.facts = &facts{title: title, back: back, gen: gen, lines: []string{"reading…"}}
	m.view = viewFacts
	return m.bg.cmd(func() tea.Msg {
		lines, err := load()
		return factsMsg{gen: gen, lines: lines, err: err}
	})
}

func (m *Model) onFacts(msg factsMsg) {
	if m.facts == nil || m.facts.gen != msg.gen {
		return
	}
	m.facts.lines = msg.lines
	if msg.err != nil {
		m.facts.lines = append(m.facts.lines, "", "error: "+msg.err.Error())
	}
}

// connFacts reads the connection's open record: both handshakes as
// recorded and the TLS facts of both legs.
func (m *Model) connFacts(id capture.ConnID) tea.Cmd {
	src, c := m.src, m.connSummary(id)
	return m.openFacts(present.ConnLabel(id)+" facts", m.view, func() ([]string, error) {
		lines := []string{
			"connection " + present.ConnLabel(id) + "  " + c.URL,
			fmt.Sprintf("  mode %s  client %s  status %s  subprotocol %s  extensions %s", orDash(c.Mode), orDash(c.ClientAddr),
				present.HTTPStatus(c.Status), orDash(c.Subprotocol), orDash(c.Extensions)),
			fmt.Sprintf("  opened %s  last %s  duration %s", c.First.UTC().Format("2006-01-02 15:04:05.000"), present.Clock(c.Last), present.Duration(c.Duration())),
			fmt.Sprintf("  messages client %d  server %d  proxy %d   bytes %s / %s / %s", c.Messages[0], c.Messages[1], c.Messages[2],
				present.Bytes(c.Bytes[0]), present.Bytes(c.Bytes[1]), present.Bytes(c.Bytes[2])),
		}
		if c.CloseCode != 0 {
			lines = append(lines, fmt.Sprintf("  close %d %s from %s %q", c.CloseCode, present.CloseCodeName(c.CloseCode), c.CloseFrom, c.CloseReason))
		}
		if c.Error != "" {
			lines = append(lines, "  error "+c.Error)
		}
		if c.Events > 0 || c.Ghost {
			lines = append(lines, fmt.Sprintf("  events %d  violations %d  ghost %s", c.Events, c.Violations, yesNo(c.Ghost)))
		}
		for rec, err := range src.RecordsFrom(capture.Filter{Conn: id}, 0) {
			if err != nil {
				return lines, err
			}
			if o, ok := rec.(*capture.ConnOpen); ok {
				return append(lines, openFacts(o)...), nil
			}
		}
		return append(lines, "", "the capture holds no open record for this connection"), nil
	})
}

func openFacts(o *capture.ConnOpen) []string {
	var l []string
	if o.ServerAddr != "" {
		l = append(l, "  server address "+o.ServerAddr)
	}
	if len(o.Redacted) > 0 {
		l = append(l, "  redacted in this capture: "+strings.Join(o.Redacted, ", "))
	}
	l = append(l, "", "request headers (as the client sent them)")
	l = append(l, headerLines(o.RequestHeaderList, o.RequestHeaders)...)
	l = append(l, "", fmt.Sprintf("response headers (status %s)", present.HTTPStatus(o.Status)))
	l = append(l, headerLines(o.ResponseHeaderList, o.ResponseHeaders)...)
	if len(o.ResponseBody) > 0 {
		l = append(l, "", "response body (prefix)", "  "+present.Escape(string(o.ResponseBody), 200))
	}
	l = append(l, "", "client leg TLS (client ⇄ wstap)")
	l = append(l, tlsLines(o.ClientTLS)...)
	l = append(l, "", "server leg TLS (wstap ⇄ server)")
	l = append(l, tlsLines(o.ServerTLS)...)
	return l
}

func headerLines(list []capture.HeaderField, h http.Header) []string {
	var l []string
	if list != nil {
		for _, f := range list {
			l = append(l, "  "+f.Name+": "+present.Escape(f.Value, 400))
		}
		return l
	}
	names := make([]string, 0, len(h))
	for k := range h {
		names = append(names, k)
	}
	slices.Sort(names)
	for _, k := range names {
		for _, v := range h[k] {
			l = append(l, "  "+k+": "+present.Escape(v, 400))
		}
	}
	if len(l) == 0 {
		l = append(l, "  (none)")
	}
	return l
}

func tlsLines(t *capture.TLSInfo) []string {
	if t == nil {
		return []string{"  none (plain ws)"}
	}
	l := []string{fmt.Sprintf("  %s  %s  ALPN %s  SNI %s", orDash(t.Version), orDash(t.Cipher), orDash(t.ALPN), orDash(t.SNI))}
	if t.Verified != "" {
		l = append(l, "  verified: "+t.Verified)
	}
	for i, c := range t.Chain {
		l = append(l, fmt.Sprintf("  cert %d  subject %s  issuer %s  expires %s", i, c.Subject, c.Issuer, c.NotAfter.UTC().Format("2006-01-02")))
	}
	return l
}

// httpFacts reads one plain HTTP exchange, found by its time.
func (m *Model) httpFacts(x capture.HTTPSummary) tea.Cmd {
	src, ctx := m.src, m.ctx
	return m.openFacts(fmt.Sprintf("HTTP #%d", x.ID), viewHTTP, func() ([]string, error) {
		seen := 0
		for rec, err := range src.RecordsFrom(capture.Filter{}, src.SeekTime(x.Time)) {
			if err != nil {
				return nil, err
			}
			if h, ok := rec.(*capture.HTTP); ok && h.ID == x.ID {
				return httpLines(h), nil
			}
			if seen++; seen > 1_000_000 || ctx.Err() != nil {
				break
			}
		}
		return []string{"the exchange's record was not found"}, nil
	})
}

func httpLines(h *capture.HTTP) []string {
	l := []string{fmt.Sprintf("%s %s", h.Method, h.URL),
		fmt.Sprintf("  status %s  duration %s  client %s  at %s", present.HTTPStatus(h.Status), present.Duration(h.Duration),
			orDash(h.ClientAddr), h.Time.UTC().Format("2006-01-02 15:04:05.000"))}
	if h.Error != "" {
		l = append(l, "  error "+h.Error)
	}
	if len(h.Redacted) > 0 {
		l = append(l, "  redacted in this capture: "+strings.Join(h.Redacted, ", "))
	}
	l = append(l, "", "request headers")
	l = append(l, headerLines(nil, h.RequestHeaders)...)
	l = append(l, bodyLines("request body", h.RequestBody, h.RequestSize)...)
	l = append(l, "", "response headers")
	l = append(l, headerLines(nil, h.ResponseHeaders)...)
	l = append(l, bodyLines("response body", h.ResponseBody, h.ResponseSize)...)
	return l
}

func bodyLines(title string, body []byte, size int64) []string {
	if size == 0 {
		return nil
	}
	l := []string{"", fmt.Sprintf("%s (%s, %s recorded)", title, present.Bytes(size), present.Bytes(int64(len(body))))}
	for line := range strings.SplitSeq(string(body[:min(len(body), 16<<10)]), "\n") {
		l = append(l, "  "+present.Escape(line, 400))
		if len(l) > 200 {
			l = append(l, "  …")
			break
		}
	}
	return l
}

func (m *Model) factLines(h int) []string {
	f := m.facts
	out := []string{m.th.header.Render(fit(f.title, m.width))}
	f.top = max(min(f.top, len(f.lines)-(h-1)), 0)
	for i := f.top; i < len(f.lines) && len(out) < h; i++ {
		out = append(out, fit(f.lines[i], m.width))
	}
	return out
}

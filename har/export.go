package har

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/wstap/wstap/capture"
)

// ExportOptions configures Export. The zero value works.
type ExportOptions struct {
	// Creator is log.creator.name. Default "wstap".
	Creator string
	// Version is log.creator.version, the version of the program that
	// exports. Default "devel".
	Version string
}

// Export writes the capture r reads as a HAR 1.2 file to w: indented JSON,
// the same bytes for the same capture and options.
//
// With conns nil it exports every WebSocket connection and every plain
// HTTP exchange; otherwise only those connections (which must exist) and
// no HTTP exchange. Entries are sorted by their start time. A connection's
// entry holds, in _webSocketMessages, every complete message that crossed
// the proxy (capture.Message.Crossed): wstap's own heartbeats, the pongs
// answering them, frames it dropped and messages that never finished are
// left out, as are close frames, which Chrome's format has no place for.
// A message the capture kept only a prefix of (Truncated) has that prefix;
// a text message that is not valid UTF-8 (a protocol violation the proxy
// relayed) has its invalid bytes replaced by U+FFFD.
//
// Damage in the middle of the capture and a torn tail are passed over: the
// HAR holds every record that could be read. Reader.Tail and Reader.Damage
// tell a caller whether there was any.
func Export(w io.Writer, r *capture.Reader, conns []capture.ConnID, opts ExportOptions) error {
	if opts.Creator == "" {
		opts.Creator = "wstap"
	}
	if opts.Version == "" {
		opts.Version = "devel"
	}
	for _, c := range conns {
		if _, ok := r.Conn(c); !ok {
			return fmt.Errorf("har: the capture has no connection %d", c)
		}
	}
	col := &collector{conns: map[capture.ConnID]*connRecords{}}
	if conns == nil {
		if err := col.read(r, capture.Filter{}); err != nil {
			return err
		}
	} else {
		for _, c := range conns {
			if col.conns[c] != nil {
				continue // named twice
			}
			if err := col.read(r, capture.Filter{Conn: c}); err != nil {
				return err
			}
		}
	}

	type timed struct {
		at    time.Time
		entry Entry
	}
	var entries []timed
	for _, c := range col.order {
		cr := col.conns[c]
		// The duration counts from startedDateTime as written, to the
		// millisecond, so that it ends where the connection ended.
		var dur time.Duration
		if sum, ok := r.Conn(c); ok {
			dur = max(0, sum.Last.Sub(cr.open.Time.Truncate(time.Millisecond)))
		}
		entries = append(entries, timed{cr.open.Time, wsEntry(cr.open, dur, cr.msgs)})
	}
	for _, x := range col.http {
		entries = append(entries, timed{x.Time, httpEntry(x)})
	}
	slices.SortStableFunc(entries, func(a, b timed) int { return a.at.Compare(b.at) })

	doc := HAR{Log: Log{Version: "1.2", Creator: Creator{Name: opts.Creator, Version: opts.Version},
		Pages: []Page{}, Entries: make([]Entry, len(entries))}}
	for i, e := range entries {
		doc.Log.Entries[i] = e.entry
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(doc); err != nil {
		return fmt.Errorf("har: write: %w", err)
	}
	return nil
}

// connRecords is what Export keeps of one connection.
type connRecords struct {
	open *capture.ConnOpen
	msgs []*capture.Message
}

// collector gathers the records Export needs, in file order.
type collector struct {
	conns map[capture.ConnID]*connRecords
	order []capture.ConnID // connections in the order their open records came
	http  []*capture.HTTP
}

func (c *collector) read(r *capture.Reader, f capture.Filter) error {
	for rec, err := range r.Messages(f, capture.AssembleOptions{}) {
		if err != nil {
			if capture.IsDamage(err) {
				continue
			}
			if errors.Is(err, capture.ErrTornTail) {
				break
			}
			return fmt.Errorf("har: read capture: %w", err)
		}
		switch x := rec.(type) {
		case *capture.ConnOpen:
			if c.conns[x.Conn] == nil {
				c.order = append(c.order, x.Conn)
				c.conns[x.Conn] = &connRecords{open: x}
			}
		case *capture.Message:
			cr := c.conns[x.Conn]
			if cr != nil && x.Crossed() && !x.Incomplete {
				cr.msgs = append(cr.msgs, x)
			}
		case *capture.HTTP:
			if f.Conn == 0 {
				c.http = append(c.http, x)
			}
		}
	}
	return nil
}

// chromeTime is how Chrome writes startedDateTime: Date.toJSON, in UTC
// to the millisecond.
const chromeTime = "2006-01-02T15:04:05.000Z07:00"

// wsEntry is a connection's entry, in the shape Chrome writes for a
// WebSocket (Log.ts, Entry.build): the handshake, zero timings but for the
// connection's lifetime, which Chrome counts as receive, and the messages.
func wsEntry(o *capture.ConnOpen, dur time.Duration, msgs []*capture.Message) Entry {
	ms := millis(dur)
	ip, port := splitAddr(o.ServerAddr)
	e := Entry{
		Initiator:    Initiator{Type: "other"},
		ResourceType: "websocket",
		Redacted:     o.Redacted,
		Connection:   port,
		Request: Request{
			Method:      http.MethodGet,
			URL:         stripFragment(o.URL),
			HTTPVersion: "HTTP/1.1",
			Headers:     headerList(o.RequestHeaderList, o.RequestHeaders),
			QueryString: queryString(o.URL),
			Cookies:     []Cookie{},
			HeadersSize: -1,
		},
		Response: Response{
			Status:       o.Status,
			StatusText:   http.StatusText(o.Status),
			HTTPVersion:  "HTTP/1.1",
			Headers:      headerList(o.ResponseHeaderList, o.ResponseHeaders),
			Cookies:      []Cookie{},
			Content:      Content{Size: int64(len(o.ResponseBody)), MimeType: "x-unknown"},
			HeadersSize:  -1,
			BodySize:     int64(len(o.ResponseBody)),
			TransferSize: int64(len(o.ResponseBody)),
		},
		ServerIPAddress: ip,
		StartedDateTime: o.Time.UTC().Format(chromeTime),
		Time:            ms,
		Timings:         Timings{Blocked: -1, DNS: -1, SSL: -1, Connect: -1, Receive: ms, BlockedQueueing: -1},
	}
	if o.Status == 0 {
		e.Response.HTTPVersion = ""
		reason := "the upstream was unreachable"
		e.Response.Error = &reason
	}
	if len(o.ResponseBody) > 0 {
		e.Response.Content = bodyContent(o.ResponseBody, int64(len(o.ResponseBody)), o.ResponseHeaders)
	}
	out := make([]WebSocketMessage, 0, len(msgs))
	for _, m := range msgs {
		wm := WebSocketMessage{Type: "send", Time: epochSeconds(m.Time), Opcode: int(m.Opcode)}
		if m.Dir == capture.ServerToClient {
			wm.Type = "receive"
		}
		if m.Opcode == capture.OpText {
			wm.Data = string(m.Data)
		} else {
			wm.Data = base64.StdEncoding.EncodeToString(m.Data)
		}
		out = append(out, wm)
	}
	e.WebSocketMessages = &out
	return e
}

// httpEntry is a plain HTTP exchange's entry.
func httpEntry(x *capture.HTTP) Entry {
	ms := millis(x.Duration)
	e := Entry{
		Initiator: Initiator{Type: "other"},
		Redacted:  x.Redacted,
		Request: Request{
			Method:      x.Method,
			URL:         stripFragment(x.URL),
			HTTPVersion: "HTTP/1.1",
			Headers:     headerList(nil, x.RequestHeaders),
			QueryString: queryString(x.URL),
			Cookies:     []Cookie{},
			HeadersSize: -1,
			BodySize:    max(x.RequestSize, int64(len(x.RequestBody))),
		},
		Response: Response{
			Status:      x.Status,
			StatusText:  http.StatusText(x.Status),
			HTTPVersion: "HTTP/1.1",
			Headers:     headerList(nil, x.ResponseHeaders),
			Cookies:     []Cookie{},
			Content:     bodyContent(x.ResponseBody, max(x.ResponseSize, int64(len(x.ResponseBody))), x.ResponseHeaders),
			RedirectURL: x.ResponseHeaders.Get("Location"),
			HeadersSize: -1,
			BodySize:    max(x.ResponseSize, int64(len(x.ResponseBody))),
		},
		StartedDateTime: x.Time.UTC().Format(chromeTime),
		Time:            ms,
		Timings:         Timings{Blocked: -1, DNS: -1, SSL: -1, Connect: -1, Wait: ms, BlockedQueueing: -1},
	}
	e.Response.TransferSize = e.Response.BodySize
	if x.Status == 0 {
		e.Response.HTTPVersion = ""
		e.Response.BodySize, e.Response.TransferSize = -1, 0
	}
	if x.Error != "" {
		reason := x.Error
		e.Response.Error = &reason
	}
	if len(x.RequestBody) > 0 {
		size := max(x.RequestSize, int64(len(x.RequestBody)))
		if utf8.Valid(x.RequestBody) {
			e.Request.PostData = &PostData{MimeType: mimeType(x.RequestHeaders, "application/octet-stream"),
				Text: string(x.RequestBody)}
		} else {
			c := bodyContent(x.RequestBody, size, x.RequestHeaders)
			e.Request.Content = &c
		}
	}
	return e
}

// bodyContent is a body as HAR content: text as is when it is valid UTF-8,
// base64 otherwise; size is the whole body's, which may be more than the
// capture kept.
func bodyContent(body []byte, size int64, h http.Header) Content {
	c := Content{Size: size, MimeType: mimeType(h, "x-unknown")}
	if len(body) == 0 {
		return c
	}
	if utf8.Valid(body) {
		c.Text = string(body)
	} else {
		c.Text, c.Encoding = base64.StdEncoding.EncodeToString(body), "base64"
	}
	if size > int64(len(body)) {
		c.Comment = fmt.Sprintf("wstap kept the first %d bytes of %d", len(body), size)
	}
	return c
}

// mimeType is the media type of a body with headers h: its Content-Type
// header as sent, or def.
func mimeType(h http.Header, def string) string {
	if ct := h.Get("Content-Type"); ct != "" {
		return ct
	}
	return def
}

// headerList is a record's headers as HAR header lines: the list as it
// crossed the wire when the capture has it, else the header map with names
// sorted (the map has no order) and each name's values in order.
func headerList(list []capture.HeaderField, h http.Header) []Header {
	out := []Header{}
	if list != nil {
		for _, f := range list {
			out = append(out, Header{Name: f.Name, Value: f.Value})
		}
		return out
	}
	for _, name := range slices.Sorted(maps.Keys(h)) {
		for _, v := range h[name] {
			out = append(out, Header{Name: name, Value: v})
		}
	}
	return out
}

// queryString is a URL's query as decoded name/value pairs, in order (as
// Chrome's request.queryString; url.Values would lose the order).
func queryString(raw string) []QueryParam {
	out := []QueryParam{}
	u, err := url.Parse(raw)
	if err != nil || u.RawQuery == "" {
		return out
	}
	for part := range strings.SplitSeq(u.RawQuery, "&") {
		if part == "" {
			continue
		}
		name, value, _ := strings.Cut(part, "=")
		out = append(out, QueryParam{Name: unescape(name), Value: unescape(value)})
	}
	return out
}

func unescape(s string) string {
	if u, err := url.QueryUnescape(s); err == nil {
		return u
	}
	return s
}

func stripFragment(u string) string {
	u, _, _ = strings.Cut(u, "#")
	return u
}

// splitAddr splits a "host:port" address into Chrome's serverIPAddress and
// connection (the port). IPv6 addresses lose their brackets, as in Chrome.
func splitAddr(addr string) (ip, port string) {
	if addr == "" {
		return "", ""
	}
	if h, p, err := net.SplitHostPort(addr); err == nil {
		return h, p
	}
	return strings.Trim(addr, "[]"), ""
}

// millis is d in milliseconds, to the microsecond.
func millis(d time.Duration) float64 {
	return float64(d.Microseconds()) / 1000
}

// epochSeconds is t in seconds since 1970 to the microsecond, written as
// an exact decimal (a float64 cannot hold today's times to the
// microsecond and print them back unchanged).
func epochSeconds(t time.Time) json.Number {
	us := t.UnixMicro()
	sign := ""
	if us < 0 {
		sign, us = "-", -us
	}
	return json.Number(fmt.Sprintf("%s%d.%06d", sign, us/1e6, us%1e6))
}

package har

import (
	"bytes"
	"container/heap"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/wstap/wstap/capture"
)

// Stats counts what Import added to a capture.
type Stats struct {
	Connections int // WebSocket entries, now connections
	Messages    int // their messages (close frames are not counted)
	HTTP        int // the other entries, now plain HTTP exchanges
}

// FormatError is a HAR that Import cannot read: what is wrong, and where.
// Its text names the entry and the field, for example
//
//	har: entry 3 (wss://x/ws): _webSocketMessages[2].time: not a number
//
// Entries are counted from 1, as a person counts them; the indices in
// Field are JSON array indices, from 0.
type FormatError struct {
	Entry  int    // the entry of log.entries, from 1; 0 when the error is not in an entry
	URL    string // the entry's request.url, when it has a usable one
	Field  string // the field's path within the entry (or the HAR): "request.headers[2].name"
	Value  string // the offending value, quoted, when showing it helps
	Reason string // what is wrong: "missing", "not a number" …
}

func (e *FormatError) Error() string {
	var b strings.Builder
	b.WriteString("har: ")
	if e.Entry > 0 {
		fmt.Fprintf(&b, "entry %d", e.Entry)
		if e.URL != "" {
			fmt.Fprintf(&b, " (%s)", e.URL)
		}
		b.WriteString(": ")
	}
	if e.Field != "" {
		b.WriteString(e.Field)
		if e.Value != "" {
			b.WriteString(" " + e.Value)
		}
		b.WriteString(": ")
	}
	b.WriteString(e.Reason)
	return b.String()
}

// Limits of Import.
const (
	// maxBody bounds each HTTP body kept, so that an exchange stays well
	// within capture.MaxRecord; the record's sizes still count every byte.
	maxBody = 4 << 20
	// maxRefusalBody bounds the body of a refused handshake kept in its
	// ConnOpen (a prefix, as the proxy keeps).
	maxRefusalBody = 64 << 10
)

// Import reads a HAR file (data) and appends its entries to the capture w
// writes, at the times the HAR gives. It accepts the HARs of Chrome and
// Edge, Firefox, HTTP Toolkit, mitmproxy and wstap. Connections are
// numbered in the order they started; the records of all entries are
// merged in time order, while each connection's keep the order its entry
// lists them in.
//
// A WebSocket entry (_resourceType "websocket", _webSocketMessages, a
// ws:// or wss:// URL, or a 101 response) becomes a connection: a
// ConnOpen (mode "import"; http and https URLs become ws and wss) with the
// handshake's headers, status, subprotocol and extensions; one whole-message
// Chunk for each of its messages, "send" from the client and "receive" from
// the server; a Close for a close frame (opcode 8); and an End when the
// connection's last record, its duration or HTTP Toolkit's
// _webSocketClose says it ended. Any other entry becomes a plain HTTP
// exchange with its bodies (each up to 4 MiB), sizes and duration.
//
// The whole HAR is checked before anything is written: a malformed one
// returns a *FormatError and leaves w as it was. Unknown fields are
// ignored. Import does not close w.
func Import(data []byte, w *capture.Writer) (Stats, error) {
	entries, err := decodeEntries(data)
	if err != nil {
		return Stats{}, err
	}
	var st Stats
	plans := make([]*plan, 0, len(entries))
	for i, raw := range entries {
		p := &entryParser{n: i + 1}
		pl, err := p.parse(raw)
		if err != nil {
			return Stats{}, err
		}
		if pl.open != nil {
			st.Connections++
			for _, rec := range pl.recs {
				if _, ok := rec.(*capture.Chunk); ok {
					st.Messages++
				}
			}
		} else {
			st.HTTP++
		}
		plans = append(plans, pl)
	}
	if err := writePlans(plans, w); err != nil {
		return Stats{}, err
	}
	return st, nil
}

// decodeEntries parses data as JSON, numbers kept as written, and returns
// log.entries.
func decodeEntries(data []byte) ([]any, error) {
	// Unmarshal checks the whole input first and says where it breaks.
	if err := json.Unmarshal(data, new(json.RawMessage)); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			line, col := position(data, se.Offset)
			return nil, &FormatError{Reason: fmt.Sprintf("not a HAR file: invalid JSON at byte %d (line %d, column %d): %v",
				se.Offset, line, col, se)}
		}
		return nil, &FormatError{Reason: "not a HAR file: " + err.Error()}
	}
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	var root any
	if err := d.Decode(&root); err != nil {
		return nil, &FormatError{Reason: "not a HAR file: " + err.Error()}
	}
	top, ok := root.(map[string]any)
	if !ok {
		return nil, &FormatError{Reason: "not a HAR file: the top level is not an object"}
	}
	logv, ok := top["log"]
	if !ok || logv == nil {
		return nil, &FormatError{Reason: `not a HAR file: it has no "log"`}
	}
	log, ok := logv.(map[string]any)
	if !ok {
		return nil, &FormatError{Field: "log", Reason: "not an object"}
	}
	ev, ok := log["entries"]
	if !ok || ev == nil {
		return nil, &FormatError{Field: "log.entries", Reason: "missing"}
	}
	entries, ok := ev.([]any)
	if !ok {
		return nil, &FormatError{Field: "log.entries", Reason: "not an array"}
	}
	return entries, nil
}

// position is the line and column (from 1) of the byte a JSON syntax error
// reports: the one read last, at offset-1.
func position(data []byte, offset int64) (line, col int) {
	i := int(min(max(offset-1, 0), int64(len(data))))
	line = 1 + bytes.Count(data[:i], []byte("\n"))
	col = i - bytes.LastIndexByte(data[:i], '\n')
	return line, col
}

// plan is one entry made into records, waiting to be written: a
// connection (open, then recs) or an exchange (http).
type plan struct {
	entry int
	url   string
	open  *capture.ConnOpen
	http  *capture.HTTP
	recs  []capture.Record // the connection's Chunk, Close, Event and End records, in order

	next int            // records written so far, the open or exchange counting as one
	id   capture.ConnID // assigned when the open is written
}

// head is the time of the plan's next record.
func (p *plan) head() time.Time {
	switch {
	case p.next > 0:
		return p.recs[p.next-1].At()
	case p.open != nil:
		return p.open.Time
	}
	return p.http.Time
}

func (p *plan) done() bool { return p.next > len(p.recs) }

// planHeap orders plans by the time of their next record, then by entry,
// so that the capture's records come in time order while each
// connection's keep the order the HAR lists them in.
type planHeap []*plan

func (h planHeap) Len() int { return len(h) }
func (h planHeap) Less(i, j int) bool {
	if c := h[i].head().Compare(h[j].head()); c != 0 {
		return c < 0
	}
	return h[i].entry < h[j].entry
}
func (h planHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *planHeap) Push(x any)   { *h = append(*h, x.(*plan)) }
func (h *planHeap) Pop() any {
	old := *h
	p := old[len(old)-1]
	*h = old[:len(old)-1]
	return p
}

// writePlans merges the plans' records by time into w.
func writePlans(plans []*plan, w *capture.Writer) error {
	h := planHeap(slices.Clone(plans))
	heap.Init(&h)
	for h.Len() > 0 {
		p := h[0]
		var err error
		switch {
		case p.next == 0 && p.open != nil:
			p.id, err = w.Open(p.open)
		case p.next == 0:
			_, err = w.HTTP(p.http)
		default:
			rec := p.recs[p.next-1]
			setConn(rec, p.id)
			err = w.Append(rec)
		}
		if err != nil {
			return fmt.Errorf("har: entry %d (%s): %w", p.entry, p.url, err)
		}
		p.next++
		if p.done() {
			heap.Pop(&h)
		} else {
			heap.Fix(&h, 0)
		}
	}
	return nil
}

func setConn(rec capture.Record, id capture.ConnID) {
	switch r := rec.(type) {
	case *capture.Chunk:
		r.Conn = id
	case *capture.Close:
		r.Conn = id
	case *capture.Event:
		r.Conn = id
	case *capture.End:
		r.Conn = id
	}
}

// obj is a JSON object of an entry and its path within the entry ("" for
// the entry itself).
type obj struct {
	m    map[string]any
	path string
}

// at is the path of the object's field key.
func (o obj) at(key string) string {
	if o.path == "" {
		return key
	}
	return o.path + "." + key
}

// get returns the value of key; null counts as absent, as tools write
// null for what they do not know.
func (o obj) get(key string) (any, bool) {
	v := o.m[key]
	return v, v != nil
}

// entryParser reads one entry, and names it in its errors.
type entryParser struct {
	n   int
	url string
}

func (p *entryParser) fail(field, value, reason string) error {
	return &FormatError{Entry: p.n, URL: p.url, Field: field, Value: value, Reason: reason}
}

func (p *entryParser) object(o obj, key string, required bool) (obj, bool, error) {
	v, ok := o.get(key)
	if !ok {
		if required {
			return obj{}, false, p.fail(o.at(key), "", "missing")
		}
		return obj{}, false, nil
	}
	m, isObj := v.(map[string]any)
	if !isObj {
		return obj{}, false, p.fail(o.at(key), "", "not an object")
	}
	return obj{m, o.at(key)}, true, nil
}

func (p *entryParser) str(o obj, key string, required bool) (string, bool, error) {
	v, ok := o.get(key)
	if !ok {
		if required {
			return "", false, p.fail(o.at(key), "", "missing")
		}
		return "", false, nil
	}
	s, isStr := v.(string)
	if !isStr {
		return "", false, p.fail(o.at(key), "", "not a string")
	}
	return s, true, nil
}

func (p *entryParser) num(o obj, key string, required bool) (json.Number, bool, error) {
	v, ok := o.get(key)
	if !ok {
		if required {
			return "", false, p.fail(o.at(key), "", "missing")
		}
		return "", false, nil
	}
	n, isNum := v.(json.Number)
	if !isNum {
		return "", false, p.fail(o.at(key), "", "not a number")
	}
	return n, true, nil
}

// float reads an optional number; 0 when absent.
func (p *entryParser) float(o obj, key string) (float64, bool, error) {
	n, ok, err := p.num(o, key, false)
	if !ok {
		return 0, false, err
	}
	f, err := strconv.ParseFloat(string(n), 64)
	if err != nil || math.IsInf(f, 0) {
		return 0, false, p.fail(o.at(key), string(n), "out of range")
	}
	return f, true, nil
}

// integer reads an optional integer in [lo, hi].
func (p *entryParser) integer(o obj, key string, required bool, lo, hi int64, what string) (int64, bool, error) {
	n, ok, err := p.num(o, key, required)
	if !ok {
		return 0, false, err
	}
	i, err := strconv.ParseInt(string(n), 10, 64)
	if err != nil { // 101.0 and 1e2 are integers too
		f, ferr := strconv.ParseFloat(string(n), 64)
		if ferr != nil || f != math.Trunc(f) || math.Abs(f) > 1<<53 {
			return 0, false, p.fail(o.at(key), string(n), "not an integer")
		}
		i = int64(f)
	}
	if i < lo || i > hi {
		return 0, false, p.fail(o.at(key), string(n), "not "+what)
	}
	return i, true, nil
}

func (p *entryParser) array(o obj, key string) ([]any, bool, error) {
	v, ok := o.get(key)
	if !ok {
		return nil, false, nil
	}
	a, isArr := v.([]any)
	if !isArr {
		return nil, false, p.fail(o.at(key), "", "not an array")
	}
	return a, true, nil
}

// headers reads a list of {name, value} header lines, in order.
func (p *entryParser) headers(o obj, key string) ([]capture.HeaderField, error) {
	list, _, err := p.array(o, key)
	if err != nil {
		return nil, err
	}
	var out []capture.HeaderField
	for i, v := range list {
		path := fmt.Sprintf("%s[%d]", o.at(key), i)
		m, ok := v.(map[string]any)
		if !ok {
			return nil, p.fail(path, "", "not an object")
		}
		h := obj{m, path}
		name, _, err := p.str(h, "name", true)
		if err != nil {
			return nil, err
		}
		value, _, err := p.str(h, "value", false)
		if err != nil {
			return nil, err
		}
		out = append(out, capture.HeaderField{Name: name, Value: value})
	}
	return out, nil
}

// names reads an optional list of header names (_wstapRedacted), in
// canonical case, sorted, without repeats.
func (p *entryParser) names(o obj, key string) ([]string, error) {
	list, _, err := p.array(o, key)
	if err != nil {
		return nil, err
	}
	var out []string
	for i, v := range list {
		s, ok := v.(string)
		if !ok {
			return nil, p.fail(fmt.Sprintf("%s[%d]", o.at(key), i), "", "not a string")
		}
		out = append(out, http.CanonicalHeaderKey(s))
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// timeOf reads a required time in seconds since 1970.
func (p *entryParser) timeOf(o obj, key string) (time.Time, error) {
	n, _, err := p.num(o, key, true)
	if err != nil {
		return time.Time{}, err
	}
	t, ok := parseEpoch(n)
	if !ok || !inRange(t) {
		return time.Time{}, p.fail(o.at(key), string(n), "out of range (wstap keeps times from 1970 to 2242, in seconds)")
	}
	return t, nil
}

// parseEpoch reads seconds since 1970 exactly: a HAR's times are decimals
// such as 1733227200.123456, which a float64 holds only to about a quarter
// of a microsecond. Digits beyond the nanosecond are dropped.
func parseEpoch(n json.Number) (time.Time, bool) {
	s := string(n)
	if strings.ContainsAny(s, "eE") {
		f, err := strconv.ParseFloat(s, 64)
		if err != nil || math.Abs(f) > 1<<40 {
			return time.Time{}, false
		}
		return time.UnixMicro(int64(math.Round(f * 1e6))), true
	}
	neg := strings.HasPrefix(s, "-")
	whole, frac, _ := strings.Cut(strings.TrimPrefix(s, "-"), ".")
	sec, err := strconv.ParseInt(whole, 10, 64)
	if err != nil || sec > 1<<40 {
		return time.Time{}, false
	}
	ns, _ := strconv.ParseInt((frac + "000000000")[:9], 10, 64)
	if neg {
		sec, ns = -sec, -ns
	}
	return time.Unix(sec, ns), true
}

// inRange reports whether a capture can hold t: it stores times as
// nanoseconds since 1970, and 0 means no time.
func inRange(t time.Time) bool {
	return t.Unix() >= 0 && t.Unix() < 1<<33 && t.UnixNano() > 0
}

// parseStarted reads startedDateTime: RFC 3339 (Chrome, Firefox, HTTP
// Toolkit and mitmproxy all write it), or ISO 8601 with a +hhmm offset.
func parseStarted(s string) (time.Time, bool) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999Z0700"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// quote shows a value in an error, cut to a readable length.
func quote(s string) string {
	if len(s) > 60 {
		cut := 60
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	return strconv.Quote(s)
}

// shortURL is an entry's URL as its errors name it.
func shortURL(s string) string {
	if len(s) <= 80 {
		return s
	}
	cut := 80
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// parse reads one entry of log.entries.
func (p *entryParser) parse(raw any) (*plan, error) {
	m, ok := raw.(map[string]any)
	if !ok {
		return nil, p.fail("", "", "not an object")
	}
	e := obj{m: m}
	req, _, err := p.object(e, "request", true)
	if err != nil {
		return nil, err
	}
	rawURL, _, err := p.str(req, "url", true)
	if err != nil {
		return nil, err
	}
	u, err := url.Parse(rawURL)
	if err != nil || !u.IsAbs() {
		return nil, p.fail("request.url", quote(rawURL), "not an absolute URL")
	}
	p.url = shortURL(rawURL)

	startText, _, err := p.str(e, "startedDateTime", true)
	if err != nil {
		return nil, err
	}
	start, ok := parseStarted(startText)
	if !ok {
		return nil, p.fail("startedDateTime", quote(startText), "not an RFC 3339 time")
	}
	if !inRange(start) {
		return nil, p.fail("startedDateTime", quote(startText), "out of range (wstap keeps times from 1970 to 2242)")
	}
	ms, _, err := p.float(e, "time")
	if err != nil {
		return nil, err
	}
	dur := msDuration(ms)

	method, _, err := p.str(req, "method", false)
	if err != nil {
		return nil, err
	}
	if method == "" {
		method = http.MethodGet
	}
	reqHeaders, err := p.headers(req, "headers")
	if err != nil {
		return nil, err
	}
	resp, _, err := p.object(e, "response", true)
	if err != nil {
		return nil, err
	}
	status, _, err := p.integer(resp, "status", false, 0, 999, "an HTTP status")
	if err != nil {
		return nil, err
	}
	respHeaders, err := p.headers(resp, "headers")
	if err != nil {
		return nil, err
	}
	resourceType, _, err := p.str(e, "_resourceType", false)
	if err != nil {
		return nil, err
	}
	msgs, hasMsgs, err := p.array(e, "_webSocketMessages")
	if err != nil {
		return nil, err
	}
	redacted, err := p.names(e, "_wstapRedacted")
	if err != nil {
		return nil, err
	}
	h := entryHead{e: e, req: req, resp: resp, u: u, rawURL: rawURL, start: start, dur: dur, method: method,
		status: int(status), reqHeaders: reqHeaders, respHeaders: respHeaders, redacted: redacted}
	scheme := strings.ToLower(u.Scheme)
	if strings.EqualFold(resourceType, "websocket") || hasMsgs || scheme == "ws" || scheme == "wss" ||
		(status == http.StatusSwitchingProtocols && upgradesToWebSocket(reqHeaders, respHeaders)) {
		return p.conn(h, msgs)
	}
	return p.exchange(h)
}

// entryHead is what every entry has, read.
type entryHead struct {
	e, req, resp            obj
	u                       *url.URL
	rawURL                  string // request.url as the HAR wrote it
	start                   time.Time
	dur                     time.Duration
	method                  string
	status                  int
	reqHeaders, respHeaders []capture.HeaderField
	redacted                []string
}

// msDuration is a HAR duration in milliseconds; negative ones (-1: not
// known) are 0.
func msDuration(ms float64) time.Duration {
	if !(ms > 0) {
		return 0
	}
	return time.Duration(min(ms*1e6, float64(100*365*24*time.Hour)))
}

// upgradesToWebSocket reports whether a 101 answered an upgrade to
// WebSocket: the Upgrade header says so, or neither side names another
// protocol (Firefox's entries may lack the header).
func upgradesToWebSocket(lists ...[]capture.HeaderField) bool {
	named := false
	for _, list := range lists {
		for _, f := range list {
			if strings.EqualFold(f.Name, "Upgrade") {
				if strings.Contains(strings.ToLower(f.Value), "websocket") {
					return true
				}
				named = true
			}
		}
	}
	return !named
}

func toHeader(list []capture.HeaderField) http.Header {
	h := http.Header{}
	for _, f := range list {
		h.Add(f.Name, f.Value)
	}
	return h
}

// headerValues joins the values of header name (any case) in a list with
// ", ", as RFC 9110, section 5.3 allows for list-valued headers.
func headerValues(list []capture.HeaderField, name string) string {
	var vs []string
	for _, f := range list {
		if strings.EqualFold(f.Name, name) {
			vs = append(vs, f.Value)
		}
	}
	return strings.Join(vs, ", ")
}

// serverAddr is the server's address from serverIPAddress and Chrome's and
// Firefox's connection (the port, when it is one).
func (p *entryParser) serverAddr(e obj) (string, error) {
	ip, _, err := p.str(e, "serverIPAddress", false)
	if err != nil || ip == "" {
		return "", err
	}
	// connection is a port in Chrome and Firefox, a connection id in older
	// Chrome: only a port makes an address.
	conn, _, _ := p.str(e, "connection", false)
	if port, err := strconv.Atoi(conn); err == nil && port > 0 && port < 1<<16 {
		return net.JoinHostPort(strings.Trim(ip, "[]"), conn), nil
	}
	return ip, nil
}

// conn makes a WebSocket entry into a connection's records.
func (p *entryParser) conn(h entryHead, msgs []any) (*plan, error) {
	u := *h.u
	switch strings.ToLower(u.Scheme) {
	case "ws", "http":
		u.Scheme = "ws"
	case "wss", "https":
		u.Scheme = "wss"
	default:
		return nil, p.fail("request.url", quote(h.u.String()), "not a WebSocket URL (want ws, wss, http or https)")
	}
	if u.Host == "" {
		return nil, p.fail("request.url", quote(h.u.String()), "no host")
	}
	u.Fragment, u.RawFragment = "", ""
	addr, err := p.serverAddr(h.e)
	if err != nil {
		return nil, err
	}
	open := &capture.ConnOpen{
		Time: h.start, URL: u.String(), Mode: "import", ServerAddr: addr,
		RequestHeaders: toHeader(h.reqHeaders), ResponseHeaders: toHeader(h.respHeaders), Status: h.status,
		Subprotocol:       headerValues(h.respHeaders, "Sec-WebSocket-Protocol"),
		Extensions:        headerValues(h.respHeaders, "Sec-WebSocket-Extensions"),
		RequestHeaderList: h.reqHeaders, ResponseHeaderList: h.respHeaders, Redacted: h.redacted,
	}
	// As in the proxy's records, the map leaves Host to the list (net/http's
	// Header never holds it).
	open.RequestHeaders.Del("Host")
	pl := &plan{entry: p.n, url: p.url, open: open}
	refused := h.status != http.StatusSwitchingProtocols && h.status != 0
	if refused {
		body, _, err := p.content(h.resp, "content", maxRefusalBody)
		if err != nil {
			return nil, err
		}
		open.ResponseBody = body
		pl.recs = append(pl.recs, &capture.Event{Time: h.start, Kind: capture.EventRefused,
			Detail: fmt.Sprintf("the server answered %d %s", h.status, http.StatusText(h.status))})
	}
	end := h.start.Add(h.dur)
	for i, v := range msgs {
		rec, err := p.message(v, i)
		if err != nil {
			return nil, err
		}
		pl.recs = append(pl.recs, rec)
		if t := rec.At(); t.After(end) {
			end = t
		}
	}
	endErr := ""
	if refused {
		endErr = "handshake refused"
	}
	closed, closedAt, aborted, err := p.httpToolkitClose(h.e)
	if err != nil {
		return nil, err
	}
	if closedAt.After(end) {
		end = closedAt
	}
	if closed != "" {
		if closedAt.IsZero() {
			closedAt = end
		}
		pl.recs = append(pl.recs, &capture.Event{Time: closedAt, Kind: capture.EventNote, Detail: closed})
	}
	if aborted {
		endErr = "aborted"
	}
	pl.recs = append(pl.recs, &capture.End{Time: end, Error: endErr})
	return pl, nil
}

// message reads _webSocketMessages[i] into a whole-message Chunk, or a
// Close for a close frame.
func (p *entryParser) message(v any, i int) (capture.Record, error) {
	path := fmt.Sprintf("_webSocketMessages[%d]", i)
	m, ok := v.(map[string]any)
	if !ok {
		return nil, p.fail(path, "", "not an object")
	}
	o := obj{m, path}
	typ, _, err := p.str(o, "type", true)
	if err != nil {
		return nil, err
	}
	var dir capture.Direction
	switch typ {
	case "send":
		dir = capture.ClientToServer
	case "receive":
		dir = capture.ServerToClient
	default:
		return nil, p.fail(o.at("type"), quote(typ), `not "send" or "receive"`)
	}
	at, err := p.timeOf(o, "time")
	if err != nil {
		return nil, err
	}
	op, _, err := p.integer(o, "opcode", true, 0, 15, "an opcode")
	if err != nil {
		return nil, err
	}
	data, _, err := p.str(o, "data", false)
	if err != nil {
		return nil, err
	}
	opcode := capture.Opcode(op)
	switch opcode {
	case capture.OpText:
		return &capture.Chunk{Time: at, Dir: dir, Opcode: opcode, First: true, Last: true, Data: []byte(data)}, nil
	case capture.OpBinary, capture.OpPing, capture.OpPong, capture.OpClose:
	default:
		return nil, p.fail(o.at("opcode"), strconv.Itoa(int(op)), "not a message opcode (want 1, 2, 8, 9 or 10)")
	}
	payload, ok := decodeBase64(data)
	if !ok {
		return nil, p.fail(o.at("data"), "", fmt.Sprintf("not base64 (a message of opcode %d carries its payload in base64)", op))
	}
	if opcode == capture.OpClose {
		c := &capture.Close{Time: at, Dir: dir, Code: 1005} // RFC 6455, section 7.1.5: no status code
		if len(payload) >= 2 {
			c.Code = int(binary.BigEndian.Uint16(payload))
			c.Reason = string(payload[2:])
		}
		return c, nil
	}
	return &capture.Chunk{Time: at, Dir: dir, Opcode: opcode, First: true, Last: true, Data: payload}, nil
}

// httpToolkitClose reads HTTP Toolkit's _webSocketClose: {code, reason,
// timestamp}, or "aborted". It does not say which side closed, so the
// close becomes a note (detail) rather than a Close record.
func (p *entryParser) httpToolkitClose(e obj) (detail string, at time.Time, aborted bool, err error) {
	v, ok := e.get("_webSocketClose")
	if !ok {
		return "", time.Time{}, false, nil
	}
	if s, isStr := v.(string); isStr {
		if s != "aborted" {
			return "", time.Time{}, false, p.fail("_webSocketClose", quote(s), `not an object or "aborted"`)
		}
		return "", time.Time{}, true, nil
	}
	c, _, err := p.object(e, "_webSocketClose", false)
	if err != nil {
		return "", time.Time{}, false, err
	}
	code, hasCode, err := p.integer(c, "code", false, 0, 65535, "a close code")
	if err != nil {
		return "", time.Time{}, false, err
	}
	reason, _, err := p.str(c, "reason", false)
	if err != nil {
		return "", time.Time{}, false, err
	}
	if _, ok := c.get("timestamp"); ok {
		if at, err = p.timeOf(c, "timestamp"); err != nil {
			return "", time.Time{}, false, err
		}
	}
	detail = "the connection was closed without a status code"
	if hasCode {
		detail = fmt.Sprintf("the connection was closed with code %d", code)
	}
	if reason != "" {
		detail += fmt.Sprintf(" %q", reason)
	}
	return detail + " (HTTP Toolkit does not record which side closed it)", at, false, nil
}

// decodeBase64 decodes standard base64, padded or not.
func decodeBase64(s string) ([]byte, bool) {
	if b, err := base64.StdEncoding.DecodeString(s); err == nil {
		return b, true
	}
	if b, err := base64.RawStdEncoding.DecodeString(s); err == nil {
		return b, true
	}
	return nil, false
}

// content reads a body object (response.content, request._content):
// text, decoded when encoding is "base64", at most limit bytes of it, and
// the whole body's size (the larger of its length and the size field).
func (p *entryParser) content(o obj, key string, limit int) ([]byte, int64, error) {
	c, ok, err := p.object(o, key, false)
	if !ok {
		return nil, 0, err
	}
	text, _, err := p.str(c, "text", false)
	if err != nil {
		return nil, 0, err
	}
	body, err := p.decodeText(c, text)
	if err != nil {
		return nil, 0, err
	}
	size := int64(len(body))
	if f, ok, err := p.float(c, "size"); err != nil {
		return nil, 0, err
	} else if ok && f > float64(size) && f < 1<<53 {
		size = int64(f)
	}
	if len(body) > limit {
		body = body[:limit]
	}
	return body, size, nil
}

// decodeText decodes a body's text by the object's encoding field.
func (p *entryParser) decodeText(c obj, text string) ([]byte, error) {
	enc, _, err := p.str(c, "encoding", false)
	if err != nil {
		return nil, err
	}
	switch strings.ToLower(enc) {
	case "":
		return []byte(text), nil
	case "base64":
		b, ok := decodeBase64(text)
		if !ok {
			return nil, p.fail(c.at("text"), "", "not base64 (its encoding says base64)")
		}
		return b, nil
	}
	return nil, p.fail(c.at("encoding"), quote(enc), "not a known encoding (want base64 or none)")
}

// exchange makes any other entry into a plain HTTP exchange.
func (p *entryParser) exchange(h entryHead) (*plan, error) {
	x := &capture.HTTP{Time: h.start, Method: h.method, URL: h.rawURL, Status: h.status,
		RequestHeaders: toHeader(h.reqHeaders), ResponseHeaders: toHeader(h.respHeaders), Duration: h.dur,
		Redacted: h.redacted}
	body, err := p.requestBody(h.req)
	if err != nil {
		return nil, err
	}
	x.RequestSize = int64(len(body))
	if len(body) > maxBody {
		body = body[:maxBody]
	}
	x.RequestBody = body
	if x.ResponseBody, x.ResponseSize, err = p.content(h.resp, "content", maxBody); err != nil {
		return nil, err
	}
	if x.Error, _, err = p.str(h.resp, "_error", false); err != nil {
		return nil, err
	}
	return &plan{entry: p.n, url: p.url, http: x}, nil
}

// requestBody reads a request's body: postData.text, or its params when
// it has no text, or HTTP Toolkit's _content for a body that is not text.
func (p *entryParser) requestBody(req obj) ([]byte, error) {
	if c, ok, err := p.object(req, "_content", false); err != nil {
		return nil, err
	} else if ok {
		text, _, err := p.str(c, "text", false)
		if err != nil {
			return nil, err
		}
		return p.decodeText(c, text)
	}
	pd, ok, err := p.object(req, "postData", false)
	if !ok {
		return nil, err
	}
	text, hasText, err := p.str(pd, "text", false)
	if err != nil {
		return nil, err
	}
	if hasText {
		return p.decodeText(pd, text)
	}
	params, _, err := p.array(pd, "params")
	if err != nil {
		return nil, err
	}
	var form []string
	for i, v := range params {
		path := fmt.Sprintf("%s[%d]", pd.at("params"), i)
		m, ok := v.(map[string]any)
		if !ok {
			return nil, p.fail(path, "", "not an object")
		}
		po := obj{m, path}
		name, _, err := p.str(po, "name", true)
		if err != nil {
			return nil, err
		}
		value, _, err := p.str(po, "value", false)
		if err != nil {
			return nil, err
		}
		form = append(form, url.QueryEscape(name)+"="+url.QueryEscape(value))
	}
	return []byte(strings.Join(form, "&")), nil
}

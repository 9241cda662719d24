package replay

import (
	"crypto/tls"
	"maps"
	"net/http"
	"slices"
	"time"

	"github.com/gorilla/websocket"

	"github.com/wstap/wstap/capture"
	"github.com/wstap/wstap/internal/tlsfacts"
)

// The new run is recorded with the record model of the proxy: an open, a
// chunk for each message, the closes and an end. A replay is its own
// client, so there is no client leg: the open's ServerTLS is the only TLS.

func (p *player) recordOpen(at time.Time, resp *http.Response, conn *websocket.Conn) {
	w := p.opts.Capture
	if w == nil {
		return
	}
	o := &capture.ConnOpen{Time: at, URL: p.url, Mode: "replay", ClientAddr: conn.LocalAddr().String(),
		ServerAddr: conn.RemoteAddr().String(), Status: resp.StatusCode, ResponseHeaders: resp.Header,
		Subprotocol: conn.Subprotocol(), Extensions: resp.Header.Get("Sec-WebSocket-Extensions")}
	if resp.Request != nil {
		o.RequestHeaders, o.RequestHeaderList = headerRecord(resp.Request.Header)
		if o.RequestHeaders.Get("Host") == "" {
			o.RequestHeaderList = append([]capture.HeaderField{{Name: "Host", Value: resp.Request.Host}}, o.RequestHeaderList...)
		}
	}
	if tc, ok := conn.NetConn().(*tls.Conn); ok {
		st := tc.ConnectionState()
		o.ServerTLS = tlsfacts.Info(&st, true)
	}
	p.newConn = p.openRecord(o)
}

func (p *player) recordRefusal(at time.Time, h http.Header, resp *http.Response, err error) {
	w := p.opts.Capture
	if w == nil {
		return
	}
	o := &capture.ConnOpen{Time: at, URL: p.url, Mode: "replay"}
	o.RequestHeaders, o.RequestHeaderList = headerRecord(h)
	if resp != nil {
		o.Status, o.ResponseHeaders = resp.StatusCode, resp.Header
	}
	if p.newConn = p.openRecord(o); p.newConn == 0 {
		return
	}
	kind := capture.EventError
	if resp != nil {
		kind = capture.EventRefused
	}
	w.Append(&capture.Event{Conn: p.newConn, Time: time.Now(), Kind: kind, Detail: err.Error()})
	w.Append(&capture.End{Conn: p.newConn, Time: time.Now(), Error: err.Error()})
}

// headerRecord returns the headers as a capture keeps them: canonical
// names in the Header, and the lines as written, in the order net/http
// writes them (sorted by name), in the list.
func headerRecord(h http.Header) (http.Header, []capture.HeaderField) {
	canon := http.Header{}
	names := slices.Sorted(maps.Keys(h))
	var list []capture.HeaderField
	for _, name := range names {
		for _, v := range h[name] {
			canon.Add(name, v)
			list = append(list, capture.HeaderField{Name: name, Value: v})
		}
	}
	return canon, list
}

func (p *player) openRecord(o *capture.ConnOpen) capture.ConnID {
	id, err := p.opts.Capture.Open(o)
	if err != nil {
		return 0
	}
	p.res.NewConn = id
	return id
}

func (p *player) record(dir capture.Direction, op capture.Opcode, at time.Time, data []byte) {
	if p.opts.Capture == nil || p.newConn == 0 {
		return
	}
	p.opts.Capture.Append(&capture.Chunk{Conn: p.newConn, Time: at, Dir: dir, Opcode: op, First: true, Last: true, Data: data})
}

func (p *player) recordClose(c *capture.Close) {
	if p.opts.Capture == nil || p.newConn == 0 {
		return
	}
	c.Conn = p.newConn
	p.opts.Capture.Append(c)
}

func (p *player) recordEnd() {
	if p.opts.Capture == nil || p.newConn == 0 {
		return
	}
	e := &capture.End{Conn: p.newConn, Time: time.Now()}
	if p.res.Err != nil {
		e.Error = p.res.Err.Error()
	}
	p.opts.Capture.Append(e)
}

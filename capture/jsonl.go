package capture

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"
	"unicode/utf8"
)

// JSONEncoder writes records as JSON lines, the stable machine interface of
// `wstap show --format jsonl` (DESIGN section 4). Feed it the output of
// Reader.Messages so chunks arrive as whole messages; a bare *Chunk is
// rendered as a one-chunk message.
type JSONEncoder struct {
	enc *json.Encoder
}

// NewJSONEncoder returns an encoder writing to w.
func NewJSONEncoder(w io.Writer) *JSONEncoder {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return &JSONEncoder{enc: enc}
}

// JSONTime formats t as the JSONL schema does: RFC 3339 in UTC with
// nanoseconds, trailing zeros trimmed.
func JSONTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

type jsonOpen struct {
	Type            string              `json:"type"`
	Conn            ConnID              `json:"conn"`
	Time            string              `json:"time"`
	URL             string              `json:"url"`
	Subprotocol     string              `json:"subprotocol"`
	Extensions      string              `json:"extensions"`
	RequestHeaders  map[string][]string `json:"request_headers"`
	Status          int                 `json:"status"`
	Mode            string              `json:"mode,omitempty"`
	ClientAddr      string              `json:"client_addr,omitempty"`
	ServerAddr      string              `json:"server_addr,omitempty"`
	ResponseHeaders map[string][]string `json:"response_headers,omitempty"`
	ResponseBody    string              `json:"response_body,omitempty"`
	ClientTLS       *TLSInfo            `json:"client_tls,omitempty"`
	ServerTLS       *TLSInfo            `json:"server_tls,omitempty"`
	RequestList     [][2]string         `json:"request_header_list,omitempty"`
	ResponseList    [][2]string         `json:"response_header_list,omitempty"`
	Redacted        []string            `json:"redacted,omitempty"`
}

func jsonHeaderList(fs []HeaderField) [][2]string {
	if len(fs) == 0 {
		return nil
	}
	out := make([][2]string, len(fs))
	for i, f := range fs {
		out[i] = [2]string{f.Name, f.Value}
	}
	return out
}

type jsonMessage struct {
	Type       string  `json:"type"`
	Conn       ConnID  `json:"conn"`
	From       string  `json:"from"`
	Opcode     string  `json:"opcode"`
	Time       string  `json:"time"`
	Size       int64   `json:"size"`
	Text       *string `json:"text,omitempty"`   // text messages that are valid UTF-8, even when empty
	Base64     *string `json:"base64,omitempty"` // everything else
	Truncated  bool    `json:"truncated,omitempty"`
	Compressed bool    `json:"compressed,omitempty"`
	Incomplete bool    `json:"incomplete,omitempty"`
	Dropped    bool    `json:"dropped,omitempty"`
}

type jsonClose struct {
	Type    string `json:"type"`
	Conn    ConnID `json:"conn"`
	From    string `json:"from"`
	Code    int    `json:"code"`
	Reason  string `json:"reason"`
	Time    string `json:"time"`
	Dropped bool   `json:"dropped,omitempty"`
}

type jsonEvent struct {
	Type   string `json:"type"`
	Conn   ConnID `json:"conn"`
	Kind   string `json:"kind"`
	Detail string `json:"detail"`
	Time   string `json:"time"`
}

type jsonEnd struct {
	Type  string `json:"type"`
	Conn  ConnID `json:"conn"`
	Time  string `json:"time"`
	Error string `json:"error,omitempty"`
}

type jsonFrame struct {
	Type    string `json:"type"`
	Conn    ConnID `json:"conn"`
	From    string `json:"from"`
	Time    string `json:"time"`
	Fin     bool   `json:"fin"`
	RSV     uint8  `json:"rsv"`
	Opcode  string `json:"opcode"`
	Masked  bool   `json:"masked"`
	Length  int64  `json:"length"`
	Dropped bool   `json:"dropped,omitempty"`
}

type jsonHTTP struct {
	Type                 string              `json:"type"`
	ID                   uint64              `json:"id"`
	Time                 string              `json:"time"`
	Method               string              `json:"method"`
	URL                  string              `json:"url"`
	Status               int                 `json:"status"`
	RequestHeaders       map[string][]string `json:"request_headers,omitempty"`
	ResponseHeaders      map[string][]string `json:"response_headers,omitempty"`
	RequestSize          int64               `json:"request_size"`
	ResponseSize         int64               `json:"response_size"`
	RequestBody          string              `json:"request_body,omitempty"`
	RequestBodyBase64    string              `json:"request_body_base64,omitempty"`
	RequestBodyTruncated bool                `json:"request_body_truncated,omitempty"`
	ResponseBody         string              `json:"response_body,omitempty"`
	ResponseBodyBase64   string              `json:"response_body_base64,omitempty"`
	ResponseTruncated    bool                `json:"response_body_truncated,omitempty"`
	DurationMS           float64             `json:"duration_ms"`
	Error                string              `json:"error,omitempty"`
	Redacted             []string            `json:"redacted,omitempty"`
}

// textOrBase64 returns p as text when it is valid UTF-8, else as base64, so
// no byte is lost to a replacement character.
func textOrBase64(p []byte) (text, b64 string) {
	if utf8.Valid(p) {
		return string(p), ""
	}
	return "", base64.StdEncoding.EncodeToString(p)
}

func headersOrNil(h http.Header) map[string][]string {
	if len(h) == 0 {
		return nil
	}
	return h
}

// Encode writes one record as one line.
func (e *JSONEncoder) Encode(rec Record) error {
	var v any
	switch r := rec.(type) {
	case *ConnOpen:
		hdr := map[string][]string(r.RequestHeaders)
		if hdr == nil {
			hdr = map[string][]string{}
		}
		v = jsonOpen{Type: "open", Conn: r.Conn, Time: JSONTime(r.Time), URL: r.URL, Subprotocol: r.Subprotocol,
			Extensions: r.Extensions, RequestHeaders: hdr, Status: r.Status, Mode: r.Mode,
			ClientAddr: r.ClientAddr, ServerAddr: r.ServerAddr, ResponseHeaders: headersOrNil(r.ResponseHeaders),
			ResponseBody: validText(string(r.ResponseBody)), ClientTLS: r.ClientTLS, ServerTLS: r.ServerTLS,
			RequestList: jsonHeaderList(r.RequestHeaderList), ResponseList: jsonHeaderList(r.ResponseHeaderList),
			Redacted: r.Redacted}
	case *Message:
		m := jsonMessage{Type: "message", Conn: r.Conn, From: r.Dir.From(), Opcode: r.Opcode.String(),
			Time: JSONTime(r.Time), Size: r.Size, Truncated: r.Truncated || r.Cut, Compressed: r.Compressed,
			Incomplete: r.Incomplete, Dropped: r.Dropped}
		if text, b64 := textOrBase64(r.Data); r.Opcode == OpText && b64 == "" {
			m.Text = &text
		} else {
			b64 = base64.StdEncoding.EncodeToString(r.Data)
			m.Base64 = &b64
		}
		v = m
	case *Chunk:
		return e.Encode(&Message{Conn: r.Conn, Dir: r.Dir, Opcode: r.Opcode, Time: r.Time, Size: int64(len(r.Data)),
			Data: r.Data, Truncated: r.Truncated, Compressed: r.Compressed, Incomplete: !(r.First && r.Last),
			Dropped: r.Dropped})
	case *Close:
		v = jsonClose{Type: "close", Conn: r.Conn, From: r.Dir.From(), Code: r.Code, Reason: validText(r.Reason),
			Time: JSONTime(r.Time), Dropped: r.Dropped}
	case *Event:
		v = jsonEvent{Type: "event", Conn: r.Conn, Kind: r.Kind, Detail: r.Detail, Time: JSONTime(r.Time)}
	case *End:
		v = jsonEnd{Type: "end", Conn: r.Conn, Time: JSONTime(r.Time), Error: r.Error}
	case *Frame:
		v = jsonFrame{Type: "frame", Conn: r.Conn, From: r.Dir.From(), Time: JSONTime(r.Time), Fin: r.Fin,
			RSV: r.RSV, Opcode: r.Opcode.String(), Masked: r.Masked, Length: r.Length, Dropped: r.Dropped}
	case *HTTP:
		h := jsonHTTP{Type: "http", ID: r.ID, Time: JSONTime(r.Time), Method: r.Method, URL: r.URL, Status: r.Status,
			RequestHeaders: headersOrNil(r.RequestHeaders), ResponseHeaders: headersOrNil(r.ResponseHeaders),
			RequestSize: r.RequestSize, ResponseSize: r.ResponseSize,
			RequestBodyTruncated: r.RequestSize > int64(len(r.RequestBody)),
			ResponseTruncated:    r.ResponseSize > int64(len(r.ResponseBody)),
			DurationMS:           float64(r.Duration.Microseconds()) / 1000, Error: r.Error, Redacted: r.Redacted}
		h.RequestBody, h.RequestBodyBase64 = textOrBase64(r.RequestBody)
		h.ResponseBody, h.ResponseBodyBase64 = textOrBase64(r.ResponseBody)
		v = h
	default:
		return fmt.Errorf("capture: cannot encode %T as JSON", rec)
	}
	return e.enc.Encode(v)
}

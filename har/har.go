package har

import "encoding/json"

// HAR is the top level of a HAR file, the shape Export writes. Field names
// and order follow Chrome DevTools' exporter (front_end/models/har/Log.ts),
// whose importer reads the same shape back.
type HAR struct {
	Log Log `json:"log"`
}

// Log is a HAR's log object.
type Log struct {
	Version string  `json:"version"` // "1.2"
	Creator Creator `json:"creator"`
	Pages   []Page  `json:"pages"` // always empty: a capture knows no page loads
	Entries []Entry `json:"entries"`
}

// Creator names the program that wrote a HAR.
type Creator struct {
	Name    string `json:"name"`
	Version string `json:"version"`
}

// Page is a page load a HAR groups entries under. Export writes none.
type Page struct {
	ID              string `json:"id"`
	Title           string `json:"title"`
	StartedDateTime string `json:"startedDateTime"`
}

// Entry is one request: a WebSocket handshake with its messages, or a plain
// HTTP exchange. The fields with a leading underscore are Chrome's
// extensions, except _wstapRedacted, which is wstap's.
type Entry struct {
	Initiator    Initiator `json:"_initiator"`
	Priority     *string   `json:"_priority"`               // null: wstap does not know the browser's priority
	ResourceType string    `json:"_resourceType,omitempty"` // "websocket" for a connection, absent otherwise
	// WebSocketMessages is the connection's messages in capture order;
	// nil (absent) for a plain HTTP exchange, empty for a connection
	// without messages.
	WebSocketMessages *[]WebSocketMessage `json:"_webSocketMessages,omitempty"`
	// Redacted names the headers whose values are the placeholder
	// "[redacted]" rather than what was sent (capture.ConnOpen.Redacted).
	Redacted        []string `json:"_wstapRedacted,omitempty"`
	Cache           struct{} `json:"cache"`
	Connection      string   `json:"connection"` // the server's port, as Chrome writes it; "" when unknown
	Request         Request  `json:"request"`
	Response        Response `json:"response"`
	ServerIPAddress string   `json:"serverIPAddress"` // "" when unknown
	StartedDateTime string   `json:"startedDateTime"` // RFC 3339 in UTC, to the millisecond
	Time            float64  `json:"time"`            // milliseconds: the connection's or exchange's duration
	Timings         Timings  `json:"timings"`
}

// Initiator says what started a request. Export writes type "other":
// a proxy does not see the script that opened a connection.
type Initiator struct {
	Type string `json:"type"`
}

// Request is an entry's request: for a connection, the upgrade request.
type Request struct {
	Method      string       `json:"method"`
	URL         string       `json:"url"` // ws:// or wss:// for a connection, as Chrome writes it
	HTTPVersion string       `json:"httpVersion"`
	Headers     []Header     `json:"headers"` // in the order they were sent
	QueryString []QueryParam `json:"queryString"`
	Cookies     []Cookie     `json:"cookies"`
	HeadersSize int64        `json:"headersSize"` // -1: not recorded
	BodySize    int64        `json:"bodySize"`
	PostData    *PostData    `json:"postData,omitempty"` // a body that is valid UTF-8
	// Content holds a body that is not valid UTF-8, in base64, as HTTP
	// Toolkit writes it (HAR's postData has no encoding).
	Content *Content `json:"_content,omitempty"`
}

// Response is an entry's response: for a connection, the handshake's answer.
type Response struct {
	Status       int      `json:"status"`
	StatusText   string   `json:"statusText"`
	HTTPVersion  string   `json:"httpVersion"`
	Headers      []Header `json:"headers"`
	Cookies      []Cookie `json:"cookies"`
	Content      Content  `json:"content"`
	RedirectURL  string   `json:"redirectURL"`
	HeadersSize  int64    `json:"headersSize"`
	BodySize     int64    `json:"bodySize"`
	TransferSize int64    `json:"_transferSize"`
	// Error says why no response arrived, in the capture's words; null
	// when one did.
	Error                   *string `json:"_error"`
	FetchedViaServiceWorker bool    `json:"_fetchedViaServiceWorker"`
}

// Header is one header line.
type Header struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// QueryParam is one name=value pair of a URL's query, decoded.
type QueryParam struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// Cookie is a cookie. Export writes none: the headers carry them.
type Cookie struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// PostData is a request body that is text.
type PostData struct {
	MimeType string `json:"mimeType"`
	Text     string `json:"text"`
}

// Content is a body: a response's (response.content) or a binary request
// body (request._content).
type Content struct {
	Size     int64  `json:"size"` // the whole body's size, even when Text holds only a prefix
	MimeType string `json:"mimeType,omitempty"`
	Text     string `json:"text,omitempty"`
	Encoding string `json:"encoding,omitempty"` // "base64" when Text is base64
	Comment  string `json:"comment,omitempty"`
}

// Timings are an entry's phases in milliseconds, -1 where not recorded.
type Timings struct {
	Blocked         float64 `json:"blocked"`
	DNS             float64 `json:"dns"`
	SSL             float64 `json:"ssl"`
	Connect         float64 `json:"connect"`
	Send            float64 `json:"send"`
	Wait            float64 `json:"wait"`
	Receive         float64 `json:"receive"`
	BlockedQueueing float64 `json:"_blocked_queueing"`
}

// WebSocketMessage is one message of Entry.WebSocketMessages, in Chrome's
// shape.
type WebSocketMessage struct {
	Type   string      `json:"type"`   // "send" (client to server) or "receive"
	Time   json.Number `json:"time"`   // seconds since 1970, to the microsecond: 1733227200.123456
	Opcode int         `json:"opcode"` // 1 text, 2 binary, 9 ping, 10 pong (RFC 6455, section 11.8)
	Data   string      `json:"data"`   // text as is; any other payload in base64
}

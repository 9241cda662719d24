// Package demo is wstap's built-in demo: a small WebSocket chat-and-ticker
// server and a scripted client that talks to it, so `wstap demo` can show a
// real recording without anything else installed.
//
// # The session
//
// One demo run is one connection on /chat, subprotocol [Subprotocol], with
// permessage-deflate negotiated (RFC 7692). It lasts about two seconds and
// holds one example of every kind of message the inspector can show:
//
//   - JSON text: the client's chat lines (a [ChatMessage] each), the server's
//     echoes with a server_time, and a [Tick] every 200 ms.
//   - Plain text that is not JSON: the server's greeting line on connect
//     (see [Greeting]), the client's second script line, and the server's
//     "echo: …" of it.
//   - A msgpack binary message: the server's [Snapshot] of the order book,
//     sent on connect (a map with string keys, nested arrays, floats, a
//     msgpack timestamp and a bin field).
//   - Opaque binary that decodes as nothing: the client sends 32 bytes and
//     the server every fourth tick sends 40 bytes, both starting
//     0xde 0xad 0xbe 0xef and otherwise high-entropy. Read them as hex.
//   - Pings and pongs both ways: the server pings on connect ("hb-0") and
//     every fifth tick ("hb-5", "hb-10"); the client pings once
//     ("client-ping"); each side's pong answers with the same payload.
//   - A fragmented message: the server answers the client's "/catalog" line
//     with a JSON [Catalog] of about 6 KiB in 1 KiB frames (a text frame with
//     FIN clear, then continuation frames).
//   - Compressed messages: the server's JSON [History] of earlier chat (about
//     4 KiB, sent on connect) and the client's fifth script line go out with
//     permessage-deflate (RSV1 set); everything else is sent uncompressed.
//
// The client closes with 1000 "demo done" and the server answers the close
// after whatever it had queued.
//
// It uses gorilla/websocket for both roles and msgpack for the snapshot. It
// imports nothing from wstap.
package demo

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"github.com/vmihailenco/msgpack/v5"
)

// Subprotocol is the subprotocol the demo server speaks.
const Subprotocol = "wstap-demo.v1"

// Greeting is the plain-text line the server sends first on every connection.
const Greeting = "welcome to the wstap demo server! say something, or send /catalog for the instrument list"

// CatalogCommand is the chat text the server answers with a [Catalog].
const CatalogCommand = "/catalog"

// fragmentSize is the demo server's write buffer, and so the payload size of
// each frame of a fragmented message: gorilla starts a new frame whenever its
// write buffer fills.
const fragmentSize = 1024

// opaqueMagic starts both opaque binary messages. As a first byte 0xde is a
// msgpack map16 far longer than the message, a reserved CBOR tag and a
// protobuf key with the invalid wire type 6, so no decoder takes it.
var opaqueMagic = []byte{0xde, 0xad, 0xbe, 0xef}

// Server is the demo server: it accepts WebSocket connections on /chat,
// speaking Subprotocol, with permessage-deflate offered.
//
// On connect it sends, in this order: [Greeting] as plain text; a JSON
// [History] of about 4 KiB, compressed; a msgpack [Snapshot] as binary; and a
// ping "hb-0".
//
// It echoes each JSON chat message with a server timestamp (answering
// [CatalogCommand] also with a JSON [Catalog] of about 6 KiB, fragmented into
// 1 KiB frames), and echoes other text as plain text prefixed "echo: ". It
// ignores the client's binary messages and answers its pings.
//
// Every 200 ms it pushes a JSON [Tick], except every fourth tick, which is an
// opaque 40-byte binary quote (0xdeadbeef, the sequence number, then 32 bytes
// of hash), and every fifth, which is a ping "hb-<seq>".
//
// It answers the client's close with the same code once it has written
// everything it queued before the close arrived.
type Server struct {
	up websocket.Upgrader
}

// NewServer returns the demo server handler.
func NewServer() *Server {
	return &Server{up: websocket.Upgrader{
		Subprotocols:      []string{Subprotocol},
		CheckOrigin:       func(*http.Request) bool { return true },
		EnableCompression: true,
		WriteBufferSize:   fragmentSize,
	}}
}

// ChatMessage is what the client sends and the server echoes.
type ChatMessage struct {
	Type   string    `json:"type"`
	User   string    `json:"user"`
	Text   string    `json:"text"`
	Seq    int       `json:"seq"`
	Server time.Time `json:"server_time,omitzero"`
}

// Tick is the server's periodic market update.
type Tick struct {
	Type   string  `json:"type"`
	Symbol string  `json:"symbol"`
	Price  float64 `json:"price"`
	Seq    int     `json:"seq"`
}

// History is the chat backlog the server sends, compressed, on connect.
type History struct {
	Type     string        `json:"type"` // "history"
	Messages []ChatMessage `json:"messages"`
}

// Catalog is the server's answer to [CatalogCommand]; it is large enough to
// go out in several frames.
type Catalog struct {
	Type        string       `json:"type"` // "catalog"
	Instruments []Instrument `json:"instruments"`
}

// Instrument is one entry of a [Catalog].
type Instrument struct {
	Symbol   string   `json:"symbol"`
	Name     string   `json:"name"`
	Venue    string   `json:"venue"`
	Currency string   `json:"currency"`
	TickSize float64  `json:"tick_size"`
	LotSize  int      `json:"lot_size"`
	Tags     []string `json:"tags"`
}

// Snapshot is the order book the server sends as msgpack on connect. The
// struct's field order is the encoded map's key order.
type Snapshot struct {
	Type   string    `msgpack:"type"` // "snapshot"
	Symbol string    `msgpack:"symbol"`
	Time   time.Time `msgpack:"time"` // a msgpack timestamp (extension -1)
	Last   float64   `msgpack:"last"`
	Bids   []Level   `msgpack:"bids"`
	Asks   []Level   `msgpack:"asks"`
	Seq    int       `msgpack:"seq"`
	Digest []byte    `msgpack:"digest"` // a msgpack bin
}

// Level is one price level of a [Snapshot], encoded as the array [price, size].
type Level struct {
	_msgpack struct{} `msgpack:",as_array"`
	Price    float64
	Size     int
}

// errClosed ends the server's writer after it has answered the close.
var errClosed = errors.New("demo: close answered")

// ServeHTTP serves the session described on [Server] on /chat and 404 on
// any other path. It returns when the connection has ended and its
// goroutines have stopped.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/chat" {
		http.NotFound(w, r)
		return
	}
	c, err := s.up.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	var wg sync.WaitGroup
	defer wg.Wait() // after the close below ends the reader
	defer c.Close()
	// gorilla compresses every message once deflate is negotiated; the demo
	// compresses only the history.
	c.EnableWriteCompression(false)
	if greet(c) != nil {
		return
	}
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	out := make(chan func(*websocket.Conn) error, 16)
	c.SetCloseHandler(func(code int, _ string) error {
		// Queue the answer behind the echoes already queued, so the client
		// gets them before the close.
		reply := websocket.FormatCloseMessage(code, "")
		select {
		case out <- func(c *websocket.Conn) error {
			c.WriteControl(websocket.CloseMessage, reply, time.Now().Add(time.Second))
			return errClosed
		}:
		case <-ctx.Done():
		}
		return nil
	})
	wg.Go(func() { s.push(ctx, out) })
	readDone := make(chan struct{})
	wg.Go(func() { // pumpClientToServer: the only reader of c
		defer close(readDone)
		s.read(ctx, c, out)
	})
	for { // pumpServerToClient: the only writer of c
		select {
		case f := <-out:
			if f(c) != nil {
				return
			}
		case <-readDone:
			// Write what is queued, up to the close answer if the client
			// closed; if it went away instead, the writes fail.
			for {
				select {
				case f := <-out:
					if f(c) != nil {
						return
					}
				default:
					return
				}
			}
		case <-ctx.Done():
			return
		}
	}
}

// greet sends the connect-time messages: the greeting, the compressed
// history, the msgpack snapshot and a ping.
func greet(c *websocket.Conn) error {
	if err := c.WriteMessage(websocket.TextMessage, []byte(Greeting)); err != nil {
		return err
	}
	now := time.Now().UTC()
	h, _ := json.Marshal(history(now))
	c.EnableWriteCompression(true)
	err := c.WriteMessage(websocket.TextMessage, h)
	c.EnableWriteCompression(false)
	if err != nil {
		return err
	}
	snap, err := msgpack.Marshal(snapshot(now))
	if err != nil {
		return err
	}
	if err := c.WriteMessage(websocket.BinaryMessage, snap); err != nil {
		return err
	}
	return c.WriteControl(websocket.PingMessage, []byte("hb-0"), time.Now().Add(time.Second))
}

// read echoes what the client sends until the connection ends.
func (s *Server) read(ctx context.Context, c *websocket.Conn, out chan<- func(*websocket.Conn) error) {
	send := func(f func(*websocket.Conn) error) bool {
		select {
		case out <- f:
			return true
		case <-ctx.Done():
			return false
		}
	}
	for {
		mt, p, err := c.ReadMessage()
		if err != nil {
			return
		}
		if mt != websocket.TextMessage {
			continue
		}
		var m ChatMessage
		if json.Unmarshal(p, &m) != nil {
			b := append([]byte("echo: "), p...)
			if !send(func(c *websocket.Conn) error { return c.WriteMessage(websocket.TextMessage, b) }) {
				return
			}
			continue
		}
		m.Server = time.Now().UTC()
		b, _ := json.Marshal(m)
		if !send(func(c *websocket.Conn) error { return c.WriteMessage(websocket.TextMessage, b) }) {
			return
		}
		if m.Text == CatalogCommand {
			cat, _ := json.Marshal(catalog())
			if !send(func(c *websocket.Conn) error { return writeFragmented(c, websocket.TextMessage, cat) }) {
				return
			}
		}
	}
}

// writeFragmented writes p as one message in frames of fragmentSize bytes.
// It writes through NextWriter in chunks no larger than the write buffer:
// gorilla's server sends a larger single Write as one frame.
func writeFragmented(c *websocket.Conn, messageType int, p []byte) error {
	w, err := c.NextWriter(messageType)
	if err != nil {
		return err
	}
	for len(p) > 0 {
		n := min(len(p), fragmentSize)
		if _, err := w.Write(p[:n]); err != nil {
			return err
		}
		p = p[n:]
	}
	return w.Close()
}

// push feeds the connection's writer with ticks, opaque binary quotes and
// pings.
func (s *Server) push(ctx context.Context, out chan<- func(*websocket.Conn) error) {
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	seq, price := 0, 101.25
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		seq++
		price = math.Round((price+float64(seq%7-3)*0.05)*100) / 100
		var f func(c *websocket.Conn) error
		switch {
		case seq%5 == 0:
			payload := []byte(fmt.Sprintf("hb-%d", seq))
			f = func(c *websocket.Conn) error {
				return c.WriteControl(websocket.PingMessage, payload, time.Now().Add(time.Second))
			}
		case seq%4 == 0:
			b := opaqueQuote(seq, price)
			f = func(c *websocket.Conn) error { return c.WriteMessage(websocket.BinaryMessage, b) }
		default:
			b, _ := json.Marshal(Tick{Type: "tick", Symbol: "WSTP", Price: price, Seq: seq})
			f = func(c *websocket.Conn) error { return c.WriteMessage(websocket.TextMessage, b) }
		}
		select {
		case out <- f:
		case <-ctx.Done():
			return
		}
	}
}

// opaqueQuote is the server's binary quote: opaqueMagic, the big-endian
// sequence number and 32 bytes that look random (a hash of the quote).
func opaqueQuote(seq int, price float64) []byte {
	q := make([]byte, 12)
	binary.BigEndian.PutUint32(q, uint32(seq))
	binary.BigEndian.PutUint64(q[4:], uint64(price*100))
	sum := sha256.Sum256(q)
	b := append([]byte(nil), opaqueMagic...)
	b = binary.BigEndian.AppendUint32(b, uint32(seq))
	return append(b, sum[:]...)
}

// history is the chat backlog: repetitive, so it compresses well.
func history(now time.Time) History {
	users := []string{"alice", "bob", "carol"}
	texts := []string{
		"good morning, everyone",
		"WSTP is moving again",
		"anyone watching the order book?",
		"bid at 101.20, ask at 101.30",
		"the ticker looks steady today",
		"see you after lunch",
	}
	const n = 36
	h := History{Type: "history", Messages: make([]ChatMessage, n)}
	for i := range h.Messages {
		h.Messages[i] = ChatMessage{
			Type:   "chat",
			User:   users[i%len(users)],
			Text:   texts[i%len(texts)],
			Seq:    i + 1,
			Server: now.Add(-time.Duration(n-i) * time.Minute).Truncate(time.Second),
		}
	}
	return h
}

// catalog is the instrument list, about 6 KiB of JSON.
func catalog() Catalog {
	venues := []string{"XDEMO", "XTEST", "XLOOP"}
	currencies := []string{"EUR", "USD", "GBP", "CHF"}
	tags := [][]string{{"equity"}, {"equity", "dividend"}, {"etf"}, {"bond", "green"}}
	const n = 44
	c := Catalog{Type: "catalog", Instruments: make([]Instrument, n)}
	for i := range c.Instruments {
		c.Instruments[i] = Instrument{
			Symbol:   fmt.Sprintf("WS%02d", i+1),
			Name:     fmt.Sprintf("wstap demo instrument %d", i+1),
			Venue:    venues[i%len(venues)],
			Currency: currencies[i%len(currencies)],
			TickSize: []float64{0.01, 0.05, 0.5}[i%3],
			LotSize:  []int{1, 10, 100}[i%3],
			Tags:     tags[i%len(tags)],
		}
	}
	return c
}

// snapshot is the order book sent on connect.
func snapshot(now time.Time) Snapshot {
	sum := sha256.Sum256([]byte("wstap demo book"))
	return Snapshot{
		Type:   "snapshot",
		Symbol: "WSTP",
		Time:   now.Truncate(time.Millisecond),
		Last:   101.25,
		Bids:   []Level{{Price: 101.2, Size: 300}, {Price: 101.15, Size: 1200}, {Price: 101.1, Size: 50}},
		Asks:   []Level{{Price: 101.3, Size: 250}, {Price: 101.35, Size: 800}, {Price: 101.4, Size: 75}},
		Digest: sum[:8],
	}
}

// Script is the demo client's conversation. Each line goes out as a JSON
// [ChatMessage], except the second, which goes out as the bare plain text.
var Script = []string{
	"hello from the wstap demo 👋",
	"this line travels as plain text, not JSON",
	CatalogCommand,
	"and a decoded copy lands in the capture",
	`{"nested":{"json":[1,2,3]},"unicode":"✓ ünïcødé"}`,
	"bye!",
}

// The indexes in Script of the lines RunClient treats specially.
const (
	plainLine      = 1 // sent as plain text, not wrapped in JSON
	binaryAfter    = 3 // followed by the binary message and the ping
	compressedLine = 4 // sent with permessage-deflate
)

// ClientOptions configures RunClient.
type ClientOptions struct {
	URL    string            // ws:// or wss:// URL of the demo server's /chat
	Dialer *websocket.Dialer // default websocket.DefaultDialer; RunClient sets Subprotocols and EnableCompression on a copy
	Pause  time.Duration     // between script lines; default 350ms
}

// RunClient talks to the demo server, offering permessage-deflate. It sends
// Script as JSON chat messages (reading what arrives meanwhile), except
// Script[1] as plain text and Script[4] compressed; after Script[3] it sends
// a 32-byte opaque binary message and a ping "client-ping". Then it closes
// with 1000 "demo done". It returns how many messages it received.
func RunClient(ctx context.Context, o ClientOptions) (int, error) {
	if o.Pause <= 0 {
		o.Pause = 350 * time.Millisecond
	}
	d := o.Dialer
	if d == nil {
		d = websocket.DefaultDialer
	}
	dd := *d
	dd.Subprotocols = []string{Subprotocol}
	dd.EnableCompression = true
	c, _, err := dd.DialContext(ctx, o.URL, http.Header{"Origin": {"http://demo.wstap.test"}})
	if err != nil {
		return 0, fmt.Errorf("demo: dial %s: %w", o.URL, err)
	}
	defer c.Close()
	c.EnableWriteCompression(false)
	received := make(chan int, 1)
	go func() { // pumpServerToClient: the only reader of c
		n := 0
		for {
			if _, _, err := c.ReadMessage(); err != nil {
				received <- n
				return
			}
			n++
		}
	}()
	deadline := time.Now().Add(5 * time.Second)
	for i, text := range Script {
		var err error
		switch i {
		case plainLine:
			err = c.WriteMessage(websocket.TextMessage, []byte(text))
		case compressedLine:
			c.EnableWriteCompression(true)
			err = writeChat(c, i, text)
			c.EnableWriteCompression(false)
		default:
			err = writeChat(c, i, text)
		}
		if err != nil {
			return 0, fmt.Errorf("demo: send: %w", err)
		}
		if i == binaryAfter {
			if err := c.WriteMessage(websocket.BinaryMessage, opaqueUpload()); err != nil {
				return 0, fmt.Errorf("demo: send: %w", err)
			}
			if err := c.WriteControl(websocket.PingMessage, []byte("client-ping"), deadline); err != nil {
				return 0, fmt.Errorf("demo: ping: %w", err)
			}
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(o.Pause):
		}
	}
	c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, "demo done"), deadline)
	select {
	case n := <-received:
		return n, nil
	case <-ctx.Done():
		return 0, ctx.Err()
	case <-time.After(3 * time.Second):
		return 0, errors.New("demo: the server did not answer the close")
	}
}

func writeChat(c *websocket.Conn, i int, text string) error {
	b, _ := json.Marshal(ChatMessage{Type: "chat", User: "demo", Text: text, Seq: i + 1})
	return c.WriteMessage(websocket.TextMessage, b)
}

// opaqueUpload is the client's binary message: opaqueMagic and 28 bytes that
// look random.
func opaqueUpload() []byte {
	sum := sha256.Sum256([]byte("wstap demo upload"))
	return append(append([]byte(nil), opaqueMagic...), sum[:28]...)
}

// ListenTLS starts the demo server with TLS on a loopback port and returns
// its address and a function that stops it.
func ListenTLS(h http.Handler, cfg *tls.Config) (addr string, stop func(), err error) {
	ln, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	return ln.Addr().String(), func() { srv.Close() }, nil
}

// Package demo is wstap's built-in demo: a small WebSocket chat-and-ticker
// server and a scripted client that talks to it, so `wstap demo` can show a
// real recording without anything else installed.
//
// It uses gorilla/websocket for both roles. It imports nothing from wstap.
package demo

import (
	"context"
	"crypto/tls"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"time"

	"github.com/gorilla/websocket"
)

// Subprotocol is the subprotocol the demo server speaks.
const Subprotocol = "wstap-demo.v1"

// Server is the demo server: it accepts WebSocket connections on /chat,
// speaking Subprotocol; it echoes chat messages with a server timestamp,
// pushes a JSON ticker every 200 ms and a binary quote every second, and
// pings the client every 500 ms.
type Server struct {
	up websocket.Upgrader
}

// NewServer returns the demo server handler.
func NewServer() *Server {
	return &Server{up: websocket.Upgrader{
		Subprotocols: []string{Subprotocol},
		CheckOrigin:  func(*http.Request) bool { return true },
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

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/chat" {
		http.NotFound(w, r)
		return
	}
	c, err := s.up.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	defer c.Close()
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	out := make(chan func(*websocket.Conn) error, 16)
	go s.push(ctx, out)
	go func() {
		defer cancel()
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
				continue
			}
			m.Server = time.Now().UTC()
			b, _ := json.Marshal(m)
			select {
			case out <- func(c *websocket.Conn) error { return c.WriteMessage(websocket.TextMessage, b) }:
			case <-ctx.Done():
				return
			}
		}
	}()
	for {
		select {
		case f := <-out: // the only writer of c
			if f(c) != nil {
				return
			}
		case <-ctx.Done():
			return
		}
	}
}

// push feeds the connection's writer with ticks, binary quotes and pings.
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
			b := make([]byte, 12)
			binary.BigEndian.PutUint32(b, uint32(seq))
			binary.BigEndian.PutUint64(b[4:], uint64(price*100))
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

// Script is the demo client's conversation.
var Script = []string{
	"hello from the wstap demo 👋",
	"this message travels through the proxy unchanged",
	"and a decoded copy lands in the capture",
	`{"nested":{"json":[1,2,3]},"unicode":"✓ ünïcødé"}`,
	"bye!",
}

// ClientOptions configures RunClient.
type ClientOptions struct {
	URL    string // ws:// or wss:// URL of the demo server's /chat
	Dialer *websocket.Dialer
	Pause  time.Duration // between chat messages; default 400ms
}

// RunClient talks to the demo server: it sends Script as JSON chat messages
// (reading what arrives meanwhile), a binary message and a ping, then closes
// with 1000. It returns how many messages it received.
func RunClient(ctx context.Context, o ClientOptions) (int, error) {
	if o.Pause <= 0 {
		o.Pause = 400 * time.Millisecond
	}
	d := o.Dialer
	if d == nil {
		d = websocket.DefaultDialer
	}
	dd := *d
	dd.Subprotocols = []string{Subprotocol}
	c, _, err := dd.DialContext(ctx, o.URL, http.Header{"Origin": {"http://demo.wstap.test"}})
	if err != nil {
		return 0, fmt.Errorf("demo: dial %s: %w", o.URL, err)
	}
	defer c.Close()
	received := make(chan int, 1)
	go func() {
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
		b, _ := json.Marshal(ChatMessage{Type: "chat", User: "demo", Text: text, Seq: i + 1})
		if err := c.WriteMessage(websocket.TextMessage, b); err != nil {
			return 0, fmt.Errorf("demo: send: %w", err)
		}
		if i == 2 {
			c.WriteMessage(websocket.BinaryMessage, []byte{0xde, 0xad, 0xbe, 0xef, 0x00, 0x01})
			c.WriteControl(websocket.PingMessage, []byte("client-ping"), deadline)
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
	case <-time.After(3 * time.Second):
		return 0, errors.New("demo: the server did not answer the close")
	}
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

package loadtest

import (
	"encoding/binary"
	"errors"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/gorilla/websocket"
)

// PushHeader is the size of the header of a pushed message: a big-endian
// uint64 sequence number and an int64 Unix time in nanoseconds.
const PushHeader = 16

// Server is the built-in bench server; its zero value is ready to use.
//
//	/echo                          echoes every message with its opcode
//	/push?rate=N&size=S&count=C    pushes C binary messages of S bytes at
//	                               N a second (0: as fast as it can), then
//	                               closes with 1000
//
// The defaults are rate=0, size=128 and count=1000; size is at least
// PushHeader.
type Server struct{}

var upgrader = websocket.Upgrader{
	// A load tool's server answers any page; it listens on loopback unless told otherwise.
	CheckOrigin:  func(*http.Request) bool { return true },
	Subprotocols: nil,
}

// ServeHTTP upgrades /echo and /push and answers 404 to anything else.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/echo":
		c, err := upgrade(w, r)
		if err != nil {
			return
		}
		defer c.Close()
		Echo(c, nil)
	case "/push":
		q := r.URL.Query()
		rate, err1 := intParam(q.Get("rate"), 0)
		size, err2 := intParam(q.Get("size"), 128)
		count, err3 := intParam(q.Get("count"), 1000)
		if err := errors.Join(err1, err2, err3); err != nil {
			http.Error(w, "bench: "+err.Error(), http.StatusBadRequest)
			return
		}
		c, err := upgrade(w, r)
		if err != nil {
			return
		}
		defer c.Close()
		push(c, rate, max(size, PushHeader), count, nil)
	default:
		http.NotFound(w, r)
	}
}

// upgrade accepts the handshake, agreeing to the client's first subprotocol.
func upgrade(w http.ResponseWriter, r *http.Request) (*websocket.Conn, error) {
	var h http.Header
	if p := websocket.Subprotocols(r); len(p) > 0 {
		h = http.Header{"Sec-Websocket-Protocol": {p[0]}}
	}
	return upgrader.Upgrade(w, r, h)
}

func intParam(s string, def int) (int, error) {
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0, errors.New("want a whole number ≥ 0, got " + strconv.Quote(s))
	}
	return n, nil
}

// Echo echoes every message on c with its opcode, streaming it so a big
// message is never held whole, until c fails or closes. mangle, when not
// nil, may change each message before it goes back (tests use it to corrupt
// echoes).
func Echo(c *websocket.Conn, mangle func([]byte) []byte) error {
	for {
		mt, r, err := c.NextReader()
		if err != nil {
			return err
		}
		w, err := c.NextWriter(mt)
		if err != nil {
			return err
		}
		if mangle != nil {
			p, err := io.ReadAll(r)
			if err != nil {
				return err
			}
			_, err = w.Write(mangle(p))
		} else {
			_, err = io.Copy(w, r)
		}
		if err != nil {
			return err
		}
		if err := w.Close(); err != nil {
			return err
		}
	}
}

// push sends count messages; skip, when not nil, says which sequence
// numbers to leave out (tests use it to make gaps).
func push(c *websocket.Conn, rate, size, count int, skip func(uint64) bool) {
	readerDone := make(chan struct{})
	go func() { // drainPushClient: answers pings and sees the client's close
		defer close(readerDone)
		for {
			if _, _, err := c.NextReader(); err != nil {
				return
			}
		}
	}()
	p := make([]byte, size)
	for i := PushHeader; i < size; i++ {
		p[i] = 'a' + byte(i%26)
	}
	start := time.Now()
	for seq := uint64(1); seq <= uint64(count); seq++ {
		if rate > 0 {
			if d := time.Until(start.Add(time.Duration(seq-1) * time.Second / time.Duration(rate))); d > 0 {
				select {
				case <-time.After(d):
				case <-readerDone:
					return
				}
			}
		}
		if skip != nil && skip(seq) {
			continue
		}
		binary.BigEndian.PutUint64(p[0:8], seq)
		binary.BigEndian.PutUint64(p[8:16], uint64(time.Now().UnixNano()))
		if err := c.WriteMessage(websocket.BinaryMessage, p); err != nil {
			return
		}
	}
	c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, "done"), time.Now().Add(5*time.Second))
	select {
	case <-readerDone:
	case <-time.After(5 * time.Second):
	}
}

package main

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// idleDialers is how many idle connections are dialled at once.
const idleDialers = 32

// openIdle opens n WebSocket connections to url and returns them; when any
// dial fails it closes those it opened and returns the first error.
func openIdle(ctx context.Context, url string, n int, timeout time.Duration) ([]*websocket.Conn, error) {
	d := websocket.Dialer{HandshakeTimeout: timeout, ReadBufferSize: 1024, WriteBufferSize: 1024}
	conns := make([]*websocket.Conn, n)
	errs := make([]error, n)
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(idleDialers, n) {
		wg.Add(1)
		go func() { // dialIdle
			defer wg.Done()
			for i := range next {
				c, _, err := d.DialContext(ctx, url, nil)
				conns[i], errs[i] = c, err
			}
		}()
	}
feed:
	for i := range n {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	failed := 0
	var first error
	for i, err := range errs {
		if err == nil && conns[i] == nil { // never dialled: ctx ended
			err = ctx.Err()
		}
		if err != nil {
			failed++
			first = cmpErr(first, err)
		}
	}
	if failed > 0 {
		closeIdle(conns)
		return nil, fmt.Errorf("%d of %d connections could not connect: %v", failed, n, first)
	}
	return conns, nil
}

// closeIdle closes the connections with 1000 (going away would be as
// good; the echo server does not care), several at a time.
func closeIdle(conns []*websocket.Conn) {
	next := make(chan *websocket.Conn)
	var wg sync.WaitGroup
	for range min(idleDialers, max(len(conns), 1)) {
		wg.Add(1)
		go func() { // closeIdleConns
			defer wg.Done()
			for c := range next {
				c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""),
					time.Now().Add(time.Second))
				c.Close()
			}
		}()
	}
	for _, c := range conns {
		if c != nil {
			next <- c
		}
	}
	close(next)
	wg.Wait()
}

// cmpErr keeps the first error.
func cmpErr(first, err error) error {
	if first != nil {
		return first
	}
	return err
}

// warmUp sends one message through url and reads its echo, so that what a
// proxy allocates once (on its first connection and first message) is part
// of its idle RSS rather than of the measurement that follows.
func warmUp(ctx context.Context, url string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	d := websocket.Dialer{HandshakeTimeout: timeout}
	c, _, err := d.DialContext(ctx, url, nil)
	if err != nil {
		return fmt.Errorf("warm-up: %w", err)
	}
	defer closeIdle([]*websocket.Conn{c})
	deadline, _ := ctx.Deadline()
	c.SetWriteDeadline(deadline)
	c.SetReadDeadline(deadline)
	msg := []byte("compare warm-up message, 48 bytes long.........")
	if err := c.WriteMessage(websocket.TextMessage, msg); err != nil {
		return fmt.Errorf("warm-up: %w", err)
	}
	if _, got, err := c.ReadMessage(); err != nil || string(got) != string(msg) {
		return fmt.Errorf("warm-up: echo %q, %v", got, err)
	}
	return nil
}

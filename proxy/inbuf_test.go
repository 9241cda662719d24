package proxy

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"
)

// tcpPair returns the two ends of a loopback TCP connection.
func tcpPair(t *testing.T) (a, b net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	acc := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		acc <- c
	}()
	a, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	b = <-acc
	if b == nil {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { a.Close(); b.Close() })
	return a, b
}

// waitHeld waits (boundedly) until in holds a read buffer, or none.
func waitHeld(t *testing.T, in *inbuf, held bool, what string) {
	t.Helper()
	for end := time.Now().Add(5 * time.Second); in.held.Load() != held; {
		if time.Now().After(end) {
			t.Fatalf("%s: the leg holds a read buffer: %v, want %v", what, in.held.Load(), held)
		}
		runtime.Gosched()
		time.Sleep(time.Millisecond)
	}
}

// TestInbufIdleHoldsNoBuffer: a TCP leg waiting for bytes holds no read
// buffer; bytes that arrive are read into one taken from the pool, and it
// goes back once they are consumed and the leg waits again.
func TestInbufIdleHoldsNoBuffer(t *testing.T) {
	peer, c := tcpPair(t)
	in := &inbuf{}
	in.init(c, nil)
	if in.raw == nil {
		t.Skip("no raw reads on this platform")
	}
	got := make(chan []byte)
	errs := make(chan error, 1)
	read := func() {
		if _, err := in.more(); err != nil {
			errs <- err
			return
		}
		b := bytes.Clone(in.buffered())
		in.discard(len(b))
		got <- b
	}
	go read()
	waitHeld(t, in, false, "waiting before any byte")
	if _, err := peer.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	select {
	case b := <-got:
		if string(b) != "hello" {
			t.Fatalf("read %q, want hello", b)
		}
	case err := <-errs:
		t.Fatal(err)
	}
	if !in.held.Load() {
		t.Fatal("after a read the leg holds no buffer")
	}
	go read()
	waitHeld(t, in, false, "waiting again once the bytes are consumed")
	peer.Close()
	select {
	case b := <-got:
		t.Fatalf("read %q after the peer closed", b)
	case err := <-errs:
		if !errors.Is(err, io.EOF) {
			t.Fatalf("after the peer closed: %v, want EOF", err)
		}
	}
	in.close()
	if in.held.Load() {
		t.Fatal("after close the leg still holds a buffer")
	}
}

// TestInbufKeepsPartialFrame: a buffer that still holds unread bytes (a
// frame not yet whole) is kept while the leg waits for the rest.
func TestInbufKeepsPartialFrame(t *testing.T) {
	peer, c := tcpPair(t)
	in := &inbuf{}
	in.init(c, nil)
	defer in.close()
	if _, err := peer.Write([]byte("ab")); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- in.ensure(4) }()
	waitHeld(t, in, true, "reading the first 2 bytes")
	time.Sleep(20 * time.Millisecond) // ensure waits for more meanwhile
	if !in.held.Load() {
		t.Fatal("waiting with 2 unread bytes, the leg holds no buffer")
	}
	peer.Write([]byte("cd"))
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := string(in.buffered()); got != "abcd" {
		t.Fatalf("buffered %q, want abcd", got)
	}
}

// TestInbufHandshakeLeftovers: bytes the handshake's reader already holds
// come first, then the connection's.
func TestInbufHandshakeLeftovers(t *testing.T) {
	peer, c := tcpPair(t)
	pre := bufio.NewReader(io.MultiReader(strings.NewReader("early"), c))
	if _, err := pre.Peek(5); err != nil {
		t.Fatal(err)
	}
	in := &inbuf{}
	in.init(c, pre)
	defer in.close()
	peer.Write([]byte("late"))
	if err := in.ensure(9); err != nil {
		t.Fatal(err)
	}
	if got := string(in.buffered()); got != "earlylate" {
		t.Fatalf("read %q, want earlylate", got)
	}
}

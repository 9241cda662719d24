package proxy

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gorilla/websocket"
	"github.com/wstap/wstap/capture"
)

// streamDigest is the size and SHA-256 of a stream.
type streamDigest struct {
	size int64
	sum  [32]byte
}

func (d streamDigest) String() string { return fmt.Sprintf("%d bytes, sha256 %x", d.size, d.sum[:8]) }

// heapWatch samples the heap every few milliseconds and remembers the
// peak.
type heapWatch struct {
	base uint64
	peak atomic.Uint64
	stop chan struct{}
	done chan struct{}
}

func watchHeap() *heapWatch {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	h := &heapWatch{base: ms.HeapAlloc, stop: make(chan struct{}), done: make(chan struct{})}
	h.peak.Store(ms.HeapAlloc)
	go func() {
		defer close(h.done)
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-h.stop:
				return
			case <-tick.C:
				runtime.ReadMemStats(&ms)
				if ms.HeapAlloc > h.peak.Load() {
					h.peak.Store(ms.HeapAlloc)
				}
			}
		}
	}()
	return h
}

// growth stops the sampling and returns the peak growth over the base.
func (h *heapWatch) growth() uint64 {
	close(h.stop)
	<-h.done
	return h.peak.Load() - h.base
}

// TestHugeMessageBoundedMemory relays a 64 MiB message each way (the
// client's as one frame, the server's as gorilla's stream of fragments)
// while the heap stays bounded: every peer streams, and so must the
// proxy and the capture.
func TestHugeMessageBoundedMemory(t *testing.T) {
	const size = 64 << 20
	received := make(chan streamDigest, 1)
	sent := make(chan streamDigest, 1)
	upgrader := websocket.Upgrader{WriteBufferSize: 64 << 10}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := upgrader.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		for {
			_, rd, err := c.NextReader()
			if err != nil {
				return
			}
			h := sha256.New()
			n, _ := io.Copy(h, rd)
			if n < size {
				c.WriteMessage(websocket.TextMessage, []byte("warm"))
				continue
			}
			var d streamDigest
			d.size, d.sum = n, [32]byte(h.Sum(nil))
			received <- d
			wr, err := c.NextWriter(websocket.BinaryMessage)
			if err != nil {
				return
			}
			h.Reset()
			n, err = io.Copy(io.MultiWriter(wr, h), io.LimitReader(rand.NewChaCha8([32]byte{2}), size))
			if err != nil {
				return
			}
			wr.Close()
			d.size, d.sum = n, [32]byte(h.Sum(nil))
			sent <- d
		}
	}))
	t.Cleanup(srv.Close)
	// The capture writer queues up to QueueSize bytes for the disk by
	// design; a small queue keeps the measure on the relay itself.
	m := newMatrixCapture(t, Options{Upstream: wsURL(srv.URL)}, capture.Options{QueueSize: 2 << 20})
	c := dialRaw(t, m.URL, "/huge", nil, nil)
	// Warm up: the proxy's buffers and the capture's batches and encoder
	// exist before the baseline is taken.
	warm := make([]byte, 4<<20)
	rand.NewChaCha8([32]byte{3}).Read(warm)
	c.send(true, 0, ws.OpBinary, warm)
	if f := c.read(); string(f.payload) != "warm" {
		t.Fatalf("warm-up answer %q", f.payload)
	}
	warm = nil

	watch := watchHeap()
	// Client to server: one frame of 64 MiB, generated and masked piece by
	// piece.
	mask := ws.NewMask()
	c.conn.SetWriteDeadline(time.Now().Add(6 * ioWait))
	if err := ws.WriteHeader(c.conn, ws.Header{Fin: true, OpCode: ws.OpBinary, Length: size, Masked: true, Mask: mask}); err != nil {
		t.Fatal(err)
	}
	gen, h := rand.NewChaCha8([32]byte{1}), sha256.New()
	piece := make([]byte, 64<<10)
	for off := 0; off < size; off += len(piece) {
		gen.Read(piece)
		h.Write(piece)
		ws.Cipher(piece, mask, off)
		if _, err := c.conn.Write(piece); err != nil {
			t.Fatal(err)
		}
	}
	up := streamDigest{size, [32]byte(h.Sum(nil))}

	// Server to client: gorilla's fragments, hashed as they arrive.
	h.Reset()
	var down streamDigest
	c.conn.SetReadDeadline(time.Now().Add(6 * ioWait))
	for down.size < size {
		fh, err := ws.ReadHeader(c.br)
		if err == nil && fh.Masked {
			t.Fatalf("server frame %+v is masked", fh)
		}
		if err == nil {
			_, err = io.CopyBuffer(h, io.LimitReader(c.br, fh.Length), piece)
		}
		if err != nil {
			t.Fatalf("client read after %d bytes: %v", down.size, err)
		}
		down.size += fh.Length
		if fh.Fin {
			break
		}
	}
	down.sum = [32]byte(h.Sum(nil))
	growth := watch.growth()
	t.Logf("heap grew by at most %.1f MiB while relaying 2 × 64 MiB", float64(growth)/(1<<20))
	if growth > 32<<20 {
		t.Errorf("heap grew by %d MiB while relaying, want under 32 MiB", growth>>20)
	}

	select {
	case got := <-received:
		if got != up {
			t.Errorf("server received %v, want %v", got, up)
		}
	case <-time.After(ioWait):
		t.Fatal("the server never reported the message")
	}
	want := <-sent
	if down != want {
		t.Errorf("client received %v, want %v", down, want)
	}
	closeRaw(t, c)
	m.waitEnds(t, 1)

	r := m.finish(t)
	conn := connByPath(t, r, "/huge")
	var huge []*capture.Message
	for rec, err := range r.Messages(capture.Filter{Conn: conn}, capture.AssembleOptions{MaxData: 1024}) {
		if err != nil {
			t.Fatal(err)
		}
		if msg, ok := rec.(*capture.Message); ok && msg.Size >= size {
			huge = append(huge, msg)
		}
	}
	if len(huge) != 2 {
		t.Fatalf("capture has %d messages of 64 MiB, want 2", len(huge))
	}
	for i, wantD := range []streamDigest{up, want} {
		msg := huge[i]
		if msg.Opcode != capture.OpBinary || !msg.Cut || len(msg.Data) != 1024 || msg.Incomplete || msg.Truncated {
			t.Errorf("message %d: %v, cut %v, %d bytes kept, incomplete %v, truncated %v", i, msg.Opcode, msg.Cut, len(msg.Data), msg.Incomplete, msg.Truncated)
		}
		rc, err := r.OpenMessage(msg)
		if err != nil {
			t.Fatal(err)
		}
		hh := sha256.New()
		n, err := io.Copy(hh, rc)
		rc.Close()
		if got := (streamDigest{n, [32]byte(hh.Sum(nil))}); err != nil || got != wantD {
			t.Errorf("captured message %d: %v (%v), want %v", i, got, err, wantD)
		}
	}
}

// closeRaw closes a raw client's connection through the proxy to a gorilla
// server: close, the server's answer, the end of the stream.
func closeRaw(t *testing.T, c *rawPeer) {
	t.Helper()
	c.send(true, 0, ws.OpClose, closeBody(1000, ""))
	for {
		f, err := c.next()
		if err != nil {
			t.Fatalf("waiting for the server's close: %v", err)
		}
		if f.h.OpCode == ws.OpClose {
			break
		}
	}
	c.expectEOF()
	c.conn.Close()
}

// TestManyConnectionsNoCrossTalk runs 200 connections at once, each with
// its own traffic: every message comes back to its own client, and the
// capture attributes every message to its own connection, in order.
func TestManyConnectionsNoCrossTalk(t *testing.T) {
	const conns, msgs = 200, 20
	es := newEchoServer(t, false)
	m := newMatrix(t, Options{Upstream: wsURL(es.URL)})
	var wg sync.WaitGroup
	for id := range conns {
		wg.Go(func() {
			c, _, err := websocket.DefaultDialer.DialContext(t.Context(), fmt.Sprintf("%s/c/%d", wsURL(m.URL), id), nil)
			if err != nil {
				t.Errorf("conn %d: dial: %v", id, err)
				return
			}
			defer c.Close()
			c.SetReadDeadline(time.Now().Add(3 * ioWait))
			for seq := range msgs {
				want := fmt.Sprintf("conn %d msg %d %s", id, seq, strings.Repeat("x", (id*seq)%300))
				if err := c.WriteMessage(websocket.TextMessage, []byte(want)); err != nil {
					t.Errorf("conn %d: write: %v", id, err)
					return
				}
				_, p, err := c.ReadMessage()
				if err != nil || string(p) != want {
					t.Errorf("conn %d: echo %q, %v; want %q", id, p, err, want)
					return
				}
			}
			c.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""))
			if _, _, err := c.ReadMessage(); !websocket.IsCloseError(err, websocket.CloseNormalClosure) {
				t.Errorf("conn %d: after close: %v", id, err)
			}
		})
	}
	wg.Wait()
	m.waitEnds(t, conns)

	r := m.finish(t)
	ids := map[capture.ConnID]int{}
	for _, cs := range r.Conns() {
		var id int
		if _, err := fmt.Sscanf(cs.URL[strings.LastIndex(cs.URL, "/c/"):], "/c/%d", &id); err != nil {
			t.Fatalf("connection URL %q: %v", cs.URL, err)
		}
		ids[cs.Conn] = id
	}
	if len(ids) != conns {
		t.Fatalf("capture has %d connections, want %d", len(ids), conns)
	}
	got := map[capture.ConnID][]*capture.Message{}
	for rec, err := range r.Messages(capture.Filter{}, capture.AssembleOptions{}) {
		if err != nil {
			t.Fatal(err)
		}
		if msg, ok := rec.(*capture.Message); ok {
			got[msg.Conn] = append(got[msg.Conn], msg)
		}
	}
	for conn, id := range ids {
		ms := got[conn]
		if len(ms) != 2*msgs {
			t.Errorf("connection %d (client %d) has %d messages, want %d", conn, id, len(ms), 2*msgs)
			continue
		}
		for i, msg := range ms {
			prefix := fmt.Sprintf("conn %d msg %d ", id, i/2)
			dir := capture.Direction(i % 2)
			if msg.Dir != dir || !bytes.HasPrefix(msg.Data, []byte(prefix)) {
				t.Errorf("connection %d message %d = %v %q…, want %v %q…", conn, i, msg.Dir, msg.Data[:min(len(msg.Data), 30)], dir, prefix)
				break
			}
		}
	}
}

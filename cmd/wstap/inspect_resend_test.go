package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gorilla/websocket"
	"github.com/wstap/wstap/capture"
	"github.com/wstap/wstap/inspector"
)

// quoteServer answers each {"type":"ask","qty":N} with a quote of 3×N.
func quoteServer(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := (&websocket.Upgrader{}).Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		for {
			_, p, err := c.ReadMessage()
			if err != nil {
				return
			}
			var ask struct{ Qty int }
			json.Unmarshal(p, &ask)
			c.WriteMessage(websocket.TextMessage, fmt.Appendf(nil, `{"type":"quote","total":%d}`, 3*ask.Qty))
		}
	}))
	t.Cleanup(srv.Close)
	return "ws" + strings.TrimPrefix(srv.URL, "http")
}

// writeQuoteCapture records, by hand, a session with the quote server at
// url: two asks, each answered.
func writeQuoteCapture(t *testing.T, url string) string {
	t.Helper()
	msg := func(ms int, dir capture.Direction, data string) *capture.Chunk {
		return &capture.Chunk{Conn: 1, Time: fixtureAt(ms), Dir: dir, Opcode: capture.OpText, First: true, Last: true, Data: []byte(data)}
	}
	path := filepath.Join(t.TempDir(), "quote.wstap")
	if err := writeCapture(path, []capture.Record{
		&capture.ConnOpen{Conn: 1, Time: fixtureAt(0), URL: url + "/quote", Mode: "reverse", ClientAddr: "127.0.0.1:50001", Status: 101},
		msg(10, capture.ClientToServer, `{"type":"ask","qty":1}`),
		msg(12, capture.ServerToClient, `{"type":"quote","total":3}`),
		msg(20, capture.ClientToServer, `{"type":"ask","qty":2}`),
		msg(22, capture.ServerToClient, `{"type":"quote","total":6}`),
		&capture.Close{Conn: 1, Time: fixtureAt(30), Dir: capture.ClientToServer, Code: 1000},
		&capture.Close{Conn: 1, Time: fixtureAt(31), Dir: capture.ServerToClient, Code: 1000},
		&capture.End{Conn: 1, Time: fixtureAt(32)},
	}); err != nil {
		t.Fatal(err)
	}
	return path
}

// seqs returns the capture positions of connection 1's messages, by
// direction.
func seqs(t *testing.T, path string) (client, server []uint64) {
	t.Helper()
	r, err := capture.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for m, err := range r.Summaries(capture.Filter{Conn: 1}) {
		if err != nil {
			t.Fatal(err)
		}
		if m.Dir == capture.ClientToServer {
			client = append(client, m.Seq)
		} else {
			server = append(server, m.Seq)
		}
	}
	return client, server
}

// TestInspectResend drives the Resend that `wstap inspect` hands the
// inspector, as the e key does, against a real server: the replay runs up
// to the edited message and the replies come back beside the recorded ones.
func TestInspectResend(t *testing.T) {
	url := quoteServer(t)
	path := writeQuoteCapture(t, "ws://127.0.0.1:1") // recorded elsewhere; --target sends it to the server
	var opts inspector.Options
	fakeTerminal(t, func(_ context.Context, _ inspector.Source, o inspector.Options) error {
		opts = o
		return nil
	})
	if code, _, errOut := runCmd("inspect", path, "--target", url); code != exitOK {
		t.Fatalf("inspect: exit %d: %s", code, errOut)
	}
	if opts.Resend == nil {
		t.Fatal("inspect passed no Resend")
	}
	client, server := seqs(t, path)
	res, err := opts.Resend(t.Context(), inspector.Edited{Conn: 1, Seq: client[1], Dir: capture.ClientToServer, Opcode: capture.OpText,
		Data: []byte(`{"type":"ask","qty":7}`)})
	if err != nil {
		t.Fatal(err)
	}
	if res.N != 2 || len(res.Old) != 1 || len(res.New) != 1 {
		t.Fatalf("resent client message %d: %d recorded replies, %d now; want message 2, one each", res.N, len(res.Old), len(res.New))
	}
	if string(res.Old[0].Data) != `{"type":"quote","total":6}` || string(res.New[0].Data) != `{"type":"quote","total":21}` {
		t.Errorf("recorded %s, now %s", res.Old[0].Data, res.New[0].Data)
	}
	if res.Old[0].Dir != capture.ServerToClient || res.New[0].Opcode != capture.OpText || !res.Old[0].Time.Equal(fixtureAt(22)) {
		t.Errorf("replies %+v, %+v", res.Old[0], res.New[0])
	}
	if !strings.HasPrefix(res.URL, url) || res.Sent.IsZero() || res.New[0].Time.Before(res.Sent) {
		t.Errorf("sent to %q at %v, reply at %v", res.URL, res.Sent, res.New[0].Time)
	}
	// Only what the client sent can be resent.
	if _, err := opts.Resend(t.Context(), inspector.Edited{Conn: 1, Seq: server[0], Data: []byte("x")}); err == nil ||
		!strings.Contains(err.Error(), "only what the client sent") {
		t.Errorf("resending a server message: %v", err)
	}
	// Without --target the recorded address is dialled, and refuses.
	fakeTerminal(t, func(_ context.Context, _ inspector.Source, o inspector.Options) error { opts = o; return nil })
	if code, _, errOut := runCmd("inspect", path); code != exitOK {
		t.Fatalf("inspect: exit %d: %s", code, errOut)
	}
	if _, err := opts.Resend(t.Context(), inspector.Edited{Conn: 1, Seq: client[0], Data: []byte(`{"qty":1}`)}); err == nil {
		t.Errorf("resending to the recorded address 127.0.0.1:1 worked")
	}
}

func TestInspectResendFlags(t *testing.T) {
	path := writeQuoteCapture(t, "ws://127.0.0.1:1")
	fakeTerminal(t, func(context.Context, inspector.Source, inspector.Options) error { return nil })
	if code, _, errOut := runCmd("inspect", path, "--upstream-ca", filepath.Join(t.TempDir(), "none.pem")); code != exitError ||
		!strings.Contains(errOut, "--upstream-ca") {
		t.Errorf("a missing --upstream-ca: exit %d, %q", code, errOut)
	}
	if code, _, errOut := runCmd("inspect", path, "--insecure", "--target", "wss://127.0.0.1:1"); code != exitOK {
		t.Errorf("--insecure: exit %d, %q", code, errOut)
	}
	if code, _, errOut := runCmd("inspect", path, "--conn-a", "1"); code != exitUsage || !strings.Contains(errOut, "second file") {
		t.Errorf("--conn-a with one file: exit %d, %q", code, errOut)
	}
}

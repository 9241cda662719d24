package main

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wstap/wstap/capture"
	"github.com/wstap/wstap/internal/demo"
)

func TestDemo(t *testing.T) {
	if testing.Short() {
		t.Skip("the demo talks for a few seconds")
	}
	t.Setenv("WSTAP_HOME", t.TempDir())
	path := filepath.Join(t.TempDir(), "demo.wstap")
	var out, errOut bytes.Buffer
	g := &globalOptions{stdout: &out, stderr: &errOut}
	if err := runDemo(t.Context(), g, &demoOptions{noTUI: true, output: path}, nil); err != nil {
		t.Fatalf("runDemo: %v\nstderr: %s", err, errOut.String())
	}
	for _, want := range []string{"capture      " + path, "SUBPROTOCOL", demo.Subprotocol, "1000 client"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("demo output lacks %q:\n%s", want, out.String())
		}
	}
	r, err := capture.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	cs := r.Conns()
	if len(cs) != 1 || cs[0].Subprotocol != demo.Subprotocol || cs[0].Status != 101 || cs[0].Mode != "connect" ||
		!strings.HasPrefix(cs[0].URL, "wss://127.0.0.1:") {
		t.Fatalf("conns = %+v", cs)
	}
	var chats, binaries, pings int
	for rec, err := range r.Messages(capture.Filter{}, capture.AssembleOptions{}) {
		if err != nil {
			t.Fatal(err)
		}
		m, ok := rec.(*capture.Message)
		if !ok || m.Dir != capture.ClientToServer {
			continue
		}
		switch m.Opcode {
		case capture.OpText:
			chats++
		case capture.OpBinary:
			binaries++
		case capture.OpPing:
			pings++
		}
	}
	if chats != len(demo.Script) || binaries != 1 || pings != 1 {
		t.Errorf("client sent %d chats, %d binaries, %d pings; want %d, 1, 1", chats, binaries, pings, len(demo.Script))
	}
}

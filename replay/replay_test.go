package replay

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tidwall/gjson"

	"github.com/wstap/wstap/capture"
)

func mustRun(t *testing.T, conns []Conn, opts Options) *Result {
	t.Helper()
	if opts.Timeout == 0 {
		opts.Timeout = 5 * time.Second
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	res, err := Run(ctx, conns, opts)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func gotData(c *ConnResult) []string {
	var out []string
	for _, st := range c.Got {
		out = append(out, string(st.Data))
	}
	return out
}

func TestLoadKeepsWhatCrossed(t *testing.T) {
	a := newApp(t, nil)
	rec := appSession(a.url("/ws"))
	rec.msgs = append(rec.msgs, fxMsg{ms: 25, dir: capture.ServerToClient, op: capture.OpPong, data: "wstap-heartbeat", drop: true},
		fxMsg{ms: 26, dir: capture.ClientToServer, data: `{"late":true}`, drop: true})
	s := fxLoad(t, fxWrite(t, rec))[0].Script
	var dirs []string
	for _, st := range s.Steps {
		dirs = append(dirs, st.Dir.From()+":"+string(st.Data[:10]))
	}
	if len(s.Steps) != 5 {
		t.Fatalf("steps %q: want the 5 messages that crossed, not the heartbeat ping or the dropped ones", dirs)
	}
	c := s.Client()
	if c[0].N != 1 || c[1].N != 2 || c[1].After != 2 {
		t.Errorf("client steps numbered %+v", c)
	}
	sv := s.Server()
	if sv[0].After != 0 || sv[1].After != 1 || sv[2].After != 2 {
		t.Errorf("server steps follow %d %d %d, want 0 1 2", sv[0].After, sv[1].After, sv[2].After)
	}
	if s.Close == nil || s.Close.Code != 1000 || s.Close.Dir != capture.ClientToServer {
		t.Errorf("close %+v", s.Close)
	}
}

func TestReplaySameServer(t *testing.T) {
	a := newApp(t, nil)
	conns := fxLoad(t, fxWrite(t, appSession(a.url("/ws?room=1&room=2&q=%2Fa%20b"))))
	res := mustRun(t, conns, Options{})
	c := res.Conns[0]
	if c.Err != nil {
		t.Fatal(c.Err)
	}
	if c.Sent != 2 || c.Total != 2 || c.Timeouts != 0 {
		t.Errorf("sent %d of %d, %d timeouts; want 2 of 2, none", c.Sent, c.Total, c.Timeouts)
	}
	if got := gotData(c); len(got) != 3 || !strings.Contains(got[2], `"value":5`) {
		t.Errorf("server said %q", got)
	}
	if len(c.Expected) != 3 {
		t.Errorf("expected %d recorded replies, want 3", len(c.Expected))
	}
	if c.Subprotocol != "app.v1" {
		t.Errorf("subprotocol %q", c.Subprotocol)
	}
	uris, hs, _ := a.handshakes()
	h := hs[0]
	if got := h.Get("Sec-WebSocket-Protocol"); got != "app.v2, app.v1" {
		t.Errorf("offer %q, want the recorded one as it was", got)
	}
	if h.Get("Origin") != "http://app.example" || h.Get("X-Trace") != "abc" || h.Get("Cookie") != "c=1" {
		t.Errorf("end-to-end headers not sent as recorded: %v", h)
	}
	if h.Get("Sec-WebSocket-Key") == "dGhlIHNhbXBsZSBub25jZQ==" {
		t.Error("the recorded Sec-WebSocket-Key was resent; it must be new")
	}
	if got := uris[0]; got != "/ws?room=1&room=2&q=%2Fa%20b" {
		t.Errorf("request URI %q, want the recorded path and query byte for byte", got)
	}
	if got := a.received(); len(got) != 2 || got[0] != `{"type":"echo","session":"s-000001","text":"hello"}` {
		t.Errorf("the server received %q", got)
	}
}

func TestReplayTarget(t *testing.T) {
	a := newApp(t, nil)
	conns := fxLoad(t, fxWrite(t, appSession("wss://prod.example:8443/ws?v=1")))
	res := mustRun(t, conns, Options{Target: a.url("")})
	if err := res.Err(); err != nil {
		t.Fatal(err)
	}
	if uris, _, _ := a.handshakes(); uris[0] != "/ws?v=1" {
		t.Errorf("uri %q: the target names no path, so the recorded one is kept", uris[0])
	}
	res = mustRun(t, conns, Options{Target: a.url("/other?x")})
	if err := res.Err(); err != nil {
		t.Fatal(err)
	}
	if uris, _, _ := a.handshakes(); uris[1] != "/other?x" {
		t.Errorf("uri %q: the target names a path", uris[1])
	}
	for _, bad := range []string{"ftp://x", "ws://", "ws://u:p@h/", "::"} {
		if _, err := Run(t.Context(), conns, Options{Target: bad}); err == nil {
			t.Errorf("--target %q accepted", bad)
		}
	}
}

func TestReplayHeaders(t *testing.T) {
	a := newApp(t, nil)
	rec := appSession(a.url("/ws"))
	rec.headers = append(rec.headers, capture.HeaderField{Name: "Authorization", Value: capture.Redaction})
	rec.redacted = []string{"Authorization"}
	conns := fxLoad(t, fxWrite(t, rec))

	_, err := Run(t.Context(), conns, Options{})
	if err == nil || !strings.Contains(err.Error(), "Authorization") || !strings.Contains(err.Error(), "--header 'Authorization: …'") {
		t.Fatalf("a redacted header: %v; want a refusal naming it and the --header that supplies it", err)
	}
	res := mustRun(t, conns, Options{DropRedacted: true})
	if err := res.Err(); err != nil {
		t.Fatal(err)
	}
	_, hs, _ := a.handshakes()
	if v, ok := hs[0]["Authorization"]; ok {
		t.Errorf("--drop-redacted sent Authorization %q", v)
	}
	res = mustRun(t, conns, Options{Headers: []Header{{"Authorization", "Bearer t0k"}, {"X-Trace", "new"}}})
	if err := res.Err(); err != nil {
		t.Fatal(err)
	}
	_, hs, _ = a.handshakes()
	if h := hs[1]; h.Get("Authorization") != "Bearer t0k" || len(h.Values("X-Trace")) != 1 || h.Get("X-Trace") != "new" {
		t.Errorf("overrides: %v", h)
	}
	if _, err := Run(t.Context(), conns, Options{DropRedacted: true, Headers: []Header{{"Sec-WebSocket-Key", "x"}}}); err == nil {
		t.Error("--header Sec-WebSocket-Key accepted")
	}
	for _, bad := range []string{"NoColon", ": v", "A B: v", "A: v\r\nB: w"} {
		if _, err := ParseHeader(bad); err == nil {
			t.Errorf("ParseHeader(%q) accepted", bad)
		}
	}
	if h, err := ParseHeader(" X-A :  b c "); err != nil || h != (Header{"X-A", "b c"}) {
		t.Errorf("ParseHeader = %+v, %v", h, err)
	}
}

func TestReplayEdits(t *testing.T) {
	a := newApp(t, nil)
	conns := fxLoad(t, fxWrite(t, appSession(a.url("/ws"))))
	set, err := ParseSet(`text="bye"`)
	if err != nil {
		t.Fatal(err)
	}
	set2, _ := ParseSet(`a=40`)
	sub, err := ParseSub(`"session":"s-0+(\d)"=>"session":"s-00000$1"`)
	if err != nil {
		t.Fatal(err)
	}
	res := mustRun(t, conns, Options{Edits: &Edits{Sets: []Set{set, set2}, Subs: []Sub{sub}}})
	if err := res.Err(); err != nil {
		t.Fatal(err)
	}
	got := a.received()
	if got[0] != `{"type":"echo","session":"s-000001","text":"bye"}` {
		t.Errorf("--set text: the server received %s", got[0])
	}
	if got[1] != `{"type":"add","session":"s-000001","a":40,"b":3}` {
		t.Errorf("--set a: the server received %s", got[1])
	}
	if v := gjson.Get(gotData(res.Conns[0])[2], "value").Int(); v != 43 {
		t.Errorf("sum %d, want 43", v)
	}

	// --only and --drop select by the client's message numbers.
	res = mustRun(t, conns, Options{Edits: &Edits{Drop: []Range{{1, 1}}}})
	if res.Conns[0].Sent != 1 || a.received()[2] != `{"type":"add","session":"s-000001","a":2,"b":3}` {
		t.Errorf("--drop 1 sent %d: %q", res.Conns[0].Sent, a.received())
	}
	if n := len(res.Conns[0].Expected); n != 2 {
		t.Errorf("with message 1 dropped, %d replies are expected; want 2 (the welcome and the sum)", n)
	}
	res = mustRun(t, conns, Options{Edits: &Edits{Only: []Range{{1, 1}}}})
	if res.Conns[0].Sent != 1 || a.received()[3] != `{"type":"echo","session":"s-000001","text":"hello"}` {
		t.Errorf("--only 1 sent %d: %q", res.Conns[0].Sent, a.received())
	}
}

// TestReplayFreshSession replays against a server that hands out a new
// session id and rejects stale ones: it fails as recorded, and passes
// with --extract.
func TestReplayFreshSession(t *testing.T) {
	a := newApp(t, func(a *app) { a.strict, a.fresh = true, true })
	conns := fxLoad(t, fxWrite(t, appSession(a.url("/ws"))))

	res := mustRun(t, conns, Options{})
	if got := gotData(res.Conns[0]); !strings.Contains(got[1], "stale session") {
		t.Fatalf("without --extract the stale id was accepted: %q", got)
	}

	ex, err := ParseExtract("sid=session")
	if err != nil {
		t.Fatal(err)
	}
	res = mustRun(t, conns, Options{Extract: []Extract{ex}})
	c := res.Conns[0]
	if got := gotData(c); len(got) != 3 || strings.Contains(strings.Join(got, ""), "stale") {
		t.Fatalf("with --extract sid=session: %q", got)
	}
	if c.Correlated != 2 || len(res.Unmatched) != 0 {
		t.Errorf("correlated %d messages, unmatched %q; want 2 and none", c.Correlated, res.Unmatched)
	}
	if v, _ := res.Vars.Get("sid"); v.Str == "s-000001" || !strings.HasPrefix(v.Str, "s-99999") {
		t.Errorf("sid = %q", v.Str)
	}

	// The same through an explicit ${sid}, with a regex extraction.
	ex, _ = ParseExtract(`tok=/"session":"([^"]+)"/`)
	set, _ := ParseSet(`session="${tok}"`)
	res = mustRun(t, conns, Options{Extract: []Extract{ex}, Edits: &Edits{Sets: []Set{set}}})
	if got := gotData(res.Conns[0]); strings.Contains(strings.Join(got, ""), "stale") {
		t.Fatalf("with --set session=${tok}: %q", got)
	}

	// An extraction that never matches is reported by name.
	ex, _ = ParseExtract("nope=no.such.path")
	res = mustRun(t, conns, Options{Extract: []Extract{ex}})
	if !slices.Equal(res.Unmatched, []string{"nope"}) {
		t.Errorf("unmatched %q", res.Unmatched)
	}
}

// TestReplayHeaderFromAnotherConn: a token the first connection receives
// goes into the second's handshake.
func TestReplayHeaderFromAnotherConn(t *testing.T) {
	a := newApp(t, func(a *app) { a.fresh = true })
	c1, c2 := appSession(a.url("/one")), appSession(a.url("/two"))
	c2.at = 50
	conns := fxLoad(t, fxWrite(t, c1, c2))
	ex, _ := ParseExtract("sid=session")
	res := mustRun(t, conns, Options{Extract: []Extract{ex}, Headers: []Header{{"X-Session", "${sid}"}}})
	if err := res.Err(); err != nil {
		t.Fatal(err)
	}
	var withSid int
	_, hs, _ := a.handshakes()
	for _, h := range hs {
		if strings.HasPrefix(h.Get("X-Session"), "s-99999") {
			withSid++
		}
	}
	if withSid != 1 {
		t.Errorf("%d handshakes carried an extracted X-Session, want 1 (the second): %v", withSid, a.headers)
	}
}

func TestReplayManyConnsOverlap(t *testing.T) {
	a := newApp(t, nil)
	c1, c2 := appSession(a.url("/one")), appSession(a.url("/two"))
	// The first connection is open for 400 ms; the second opens 200 ms in.
	c1.msgs = append(c1.msgs, cs(400, `{"type":"echo","session":"s-000001","text":"late"}`), sc(401, `{"type":"echo","text":"late"}`))
	c1.closeMS = 410
	c2.at = 200
	conns := fxLoad(t, fxWrite(t, c1, c2))
	res := mustRun(t, conns, Options{Pace: Recorded})
	if err := res.Err(); err != nil {
		t.Fatal(err)
	}
	sp := map[string][2]time.Time{}
	for range 100 { // the server notes a span's end after the client left
		uris, _, spans := a.handshakes()
		for i, u := range uris {
			sp[u] = spans[i]
		}
		if !sp["/one"][1].IsZero() && !sp["/two"][1].IsZero() {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	one, two := sp["/one"], sp["/two"]
	if !two[0].After(one[0]) || !two[0].Before(one[1]) {
		t.Errorf("the connections do not overlap as recorded: /one %v–%v, /two %v–%v", one[0], one[1], two[0], two[1])
	}
	if d := two[0].Sub(one[0]); d < 150*time.Millisecond {
		t.Errorf("/two opened %v after /one; the recording has 200 ms", d)
	}
}

func TestReplayRecordedPace(t *testing.T) {
	a := newApp(t, nil)
	rec := appSession(a.url("/ws"))
	rec.msgs[4].ms = 300 // the add, 290 ms after the echo
	conns := fxLoad(t, fxWrite(t, rec))
	start := time.Now()
	res := mustRun(t, conns, Options{Pace: Recorded})
	if err := res.Err(); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 250*time.Millisecond {
		t.Errorf("recorded pace took %v; the recording spans 300 ms", d)
	}
}

func TestReplayReactiveTimeout(t *testing.T) {
	a := newApp(t, func(a *app) { a.silent = true })
	conns := fxLoad(t, fxWrite(t, appSession(a.url("/ws"))))
	res := mustRun(t, conns, Options{Timeout: 200 * time.Millisecond})
	c := res.Conns[0]
	if c.Err != nil {
		t.Fatal(c.Err)
	}
	// The first wait (for the welcome) runs out; the deficit carries, so
	// the second message does not wait again, but the end does.
	if c.Sent != 2 || c.Timeouts != 3 {
		t.Errorf("sent %d with %d timeouts; want 2 with 3 (the welcome, the echo's reply, the sum's)", c.Sent, c.Timeouts)
	}
	res = mustRun(t, conns, Options{Pace: ASAP, Timeout: 200 * time.Millisecond})
	if c := res.Conns[0]; c.Sent != 2 || c.Timeouts != 1 {
		t.Errorf("asap: sent %d with %d timeouts, want 2 with 1 (the end)", c.Sent, c.Timeouts)
	}
}

func TestReplayServerCloses(t *testing.T) {
	a := newApp(t, nil)
	rec := appSession(a.url("/ws"))
	rec.msgs = append(rec.msgs, cs(25, `{"type":"bye","session":"s-000001"}`))
	rec.close = &capture.Close{Dir: capture.ServerToClient, Code: 4000, Reason: "bye"}
	conns := fxLoad(t, fxWrite(t, rec))
	res := mustRun(t, conns, Options{})
	c := res.Conns[0]
	if c.Err != nil {
		t.Fatal(c.Err)
	}
	if c.Close == nil || c.Close.Code != 4000 {
		t.Errorf("close %+v, want the server's 4000", c.Close)
	}
}

func TestReplayRefused(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "no", http.StatusForbidden)
	}))
	defer srv.Close()
	conns := fxLoad(t, fxWrite(t, appSession("ws"+strings.TrimPrefix(srv.URL, "http")+"/ws")))
	out := filepath.Join(t.TempDir(), "new.wstap")
	w, err := capture.Create(out, capture.Options{})
	if err != nil {
		t.Fatal(err)
	}
	res := mustRun(t, conns, Options{Capture: w})
	w.Close()
	if err := res.Err(); err == nil || !strings.Contains(err.Error(), "403") {
		t.Errorf("err %v, want the refusal's status", err)
	}
	r, err := capture.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if cs := r.Conns(); len(cs) != 1 || cs[0].Status != 403 {
		t.Errorf("the new capture has %+v, want the refused connection", cs)
	}
}

func TestReplayTLS(t *testing.T) {
	a := &app{}
	srv := httptest.NewTLSServer(a)
	defer srv.Close()
	url := "wss" + strings.TrimPrefix(srv.URL, "https") + "/ws"
	conns := fxLoad(t, fxWrite(t, appSession(url)))
	res := mustRun(t, conns, Options{})
	if err := res.Err(); err == nil || !strings.Contains(err.Error(), "--upstream-ca") {
		t.Errorf("an untrusted certificate: %v; want words naming --upstream-ca", err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(srv.Certificate())
	res = mustRun(t, conns, Options{TLS: &tls.Config{RootCAs: pool}})
	if err := res.Err(); err != nil {
		t.Fatal(err)
	}
	res = mustRun(t, conns, Options{TLS: &tls.Config{InsecureSkipVerify: true}})
	if err := res.Err(); err != nil {
		t.Fatal(err)
	}
}

// TestReplayRecordsTheRun: -o writes a capture of the new run, which
// loads as a script again.
func TestReplayRecordsTheRun(t *testing.T) {
	a := newApp(t, nil)
	rec := appSession(a.url("/ws"))
	big := strings.Repeat("x", 3<<20)
	rec.msgs = append(rec.msgs, fxMsg{ms: 22, dir: capture.ClientToServer, op: capture.OpBinary, data: big})
	conns := fxLoad(t, fxWrite(t, rec))
	out := filepath.Join(t.TempDir(), "new.wstap")
	w, err := capture.Create(out, capture.Options{})
	if err != nil {
		t.Fatal(err)
	}
	res := mustRun(t, conns, Options{Capture: w})
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := res.Err(); err != nil {
		t.Fatal(err)
	}
	again := fxLoad(t, out)
	if len(again) != 1 {
		t.Fatalf("%d connections in the new capture", len(again))
	}
	s := again[0].Script
	if s.Open.Mode != "replay" || s.Open.Subprotocol != "app.v1" || s.Open.RequestHeaders.Get("Sec-WebSocket-Key") == "" ||
		s.Open.RequestHeaderList[0].Name != "Host" {
		t.Errorf("open %+v", s.Open)
	}
	var got []string
	for _, st := range s.Steps {
		got = append(got, st.Dir.From()+" "+strings.Repeat("…", min(1, len(st.Data)/1000))+string(st.Data[:min(len(st.Data), 12)]))
	}
	if len(s.Client()) != 3 || len(s.Server()) != 4 || len(s.Client()[2].Data) != len(big) {
		t.Errorf("the new capture holds %q", got)
	}
	if s.Close == nil || s.Close.Dir != capture.ClientToServer || s.Close.Code != 1000 || s.Close.Reason != "done" {
		t.Errorf("close %+v, want the client's 1000 done as recorded", s.Close)
	}
}

func TestParsePace(t *testing.T) {
	for s, want := range map[string]Pace{"": Reactive, "reactive": Reactive, "recorded": Recorded, "asap": ASAP} {
		if p, err := ParsePace(s); err != nil || p != want {
			t.Errorf("ParsePace(%q) = %v, %v", s, p, err)
		}
		if want.String() != s && s != "" {
			t.Errorf("%v.String() = %q", want, want.String())
		}
	}
	if _, err := ParsePace("fast"); err == nil {
		t.Error("ParsePace(fast) accepted")
	}
}

func TestResend(t *testing.T) {
	a := newApp(t, nil)
	conns := fxLoad(t, fxWrite(t, appSession(a.url("/ws"))))
	c := conns[0]
	add := c.Script.Client()[1]
	res, err := Resend(t.Context(), c, add.Seq, []byte(`{"type":"add","session":"s-000001","a":10,"b":3}`), Options{Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if res.N != 2 || len(res.Old) != 1 || len(res.New) != 1 || res.Sent.IsZero() {
		t.Fatalf("resent message %d: %d old replies, %d new; want message 2, one each", res.N, len(res.Old), len(res.New))
	}
	if gjson.GetBytes(res.Old[0].Data, "value").Int() != 5 || gjson.GetBytes(res.New[0].Data, "value").Int() != 13 {
		t.Errorf("old %s, new %s", res.Old[0].Data, res.New[0].Data)
	}
	if got := a.received(); len(got) != 2 {
		t.Errorf("the server received %q; want the echo and the edited add", got)
	}
	// Only up to the edited message: resending the first sends only it.
	res, err = Resend(t.Context(), c, c.Script.Client()[0].Seq, []byte(`{"type":"echo","session":"s-000001","text":"again"}`), Options{Timeout: 5 * time.Second})
	if err != nil || res.N != 1 || len(res.New) != 1 || !strings.Contains(string(res.New[0].Data), "again") {
		t.Fatalf("resend of message 1: %+v, %v", res, err)
	}
	if got := a.received(); len(got) != 3 {
		t.Errorf("the server received %d messages in all, want 3", len(got))
	}
	if _, err := Resend(t.Context(), c, c.Script.Server()[0].Seq, []byte("x"), Options{}); err == nil {
		t.Error("a server message was resent")
	}
}

// TestReplayReactiveWaits: a reactive replay holds the first message until
// the welcome that preceded it in the recording has arrived; asap does not.
func TestReplayReactiveWaits(t *testing.T) {
	a := newApp(t, func(a *app) { a.slow = 300 * time.Millisecond })
	conns := fxLoad(t, fxWrite(t, appSession(a.url("/ws"))))
	order := func() (welcomedFirst bool) {
		a.mu.Lock()
		defer a.mu.Unlock()
		return !a.firstAt.Before(a.welcomed)
	}
	if res := mustRun(t, conns, Options{}); res.Err() != nil || res.Conns[0].Timeouts != 0 {
		t.Fatalf("reactive: %v, %d timeouts", res.Err(), res.Conns[0].Timeouts)
	}
	if !order() {
		t.Error("reactive: the first client message reached the server before the welcome was sent")
	}
	if res := mustRun(t, conns, Options{Pace: ASAP}); res.Err() != nil {
		t.Fatal(res.Err())
	}
	if order() {
		t.Error("asap: the first client message waited for the welcome")
	}
}

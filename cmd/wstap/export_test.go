package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestExportFormats(t *testing.T) {
	s := &shop{}
	path, _ := recordShop(t, s)
	dir := t.TempDir()

	// jsonl is show's stable interface.
	_, show, _ := runCmd("show", path, "--format", "jsonl")
	code, out, errOut := runCmd("export", path, "--format", "jsonl")
	if code != exitOK || out != show || out == "" {
		t.Errorf("export --format jsonl: exit %d, %q; want show --format jsonl's output\n%s", code, errOut, out)
	}

	// har: a HAR 1.2 log with one websocket entry.
	harPath := filepath.Join(dir, "s.har")
	if code, _, errOut := runCmd("export", path, "--format", "har", "-o", harPath); code != exitOK {
		t.Fatalf("export --format har: exit %d: %s", code, errOut)
	}
	var h struct {
		Log struct {
			Version string
			Entries []struct {
				ResourceType string `json:"_resourceType"`
				Messages     []struct {
					Type string
					Data string
				} `json:"_webSocketMessages"`
			}
		}
	}
	b, _ := os.ReadFile(harPath)
	if err := json.Unmarshal(b, &h); err != nil || h.Log.Version != "1.2" || len(h.Log.Entries) != 1 ||
		h.Log.Entries[0].ResourceType != "websocket" || len(h.Log.Entries[0].Messages) != 5 {
		t.Fatalf("the HAR: %v %+v", err, h)
	}
	if fi, _ := os.Stat(harPath); fi.Mode().Perm() != 0o600 {
		t.Errorf("the HAR's mode is %v, want 0600 like a capture", fi.Mode().Perm())
	}
	// It imports, replays and diffs like the original.
	back := filepath.Join(dir, "back.wstap")
	if code, _, errOut := runCmd("import", harPath, "-o", back); code != exitOK {
		t.Fatalf("import: exit %d: %s", code, errOut)
	}
	if code, out, _ := runCmd("diff", path, back); code != exitOK {
		t.Errorf("diff of the capture and its HAR round trip: exit %d\n%s", code, out)
	}

	// Code: to stdout, or to -o with a note.
	for _, lang := range []string{"python", "js", "go"} {
		code, out, errOut := runCmd("export", path, "--format", lang)
		if code != exitOK || !strings.Contains(out, "shop.v1") || !strings.Contains(out, `pear`) {
			t.Errorf("export --format %s: exit %d, %s\n%s", lang, code, errOut, out)
		}
	}
	script := filepath.Join(dir, "gen.py")
	if code, _, errOut := runCmd("export", path, "--format", "python", "-o", script); code != exitOK || !strings.Contains(errOut, "wrote "+script) {
		t.Errorf("export -o: exit %d, %q", code, errOut)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 3 {
		t.Errorf("the directory holds %d files; a temporary file was left behind?", len(entries))
	}
}

func TestExportUsage(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.wstap")
	if err := writeFixture("multi", path, t.TempDir()); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{},
		{"--format", "xml"},
		{"--format", "har", "--keep-secrets"},
		{"--format", "python"}, // two connections: which?
		{"--format", "jsonl", "--conn", "1,2"},
	} {
		code, _, errOut := runCmd(append([]string{"export", path}, args...)...)
		if code != exitUsage || strings.Count(strings.TrimSpace(errOut), "\n") != 0 {
			t.Errorf("export %q: exit %d, %q; want 2 and one line", args, code, errOut)
		}
	}
	if code, _, _ := runCmd("export", path, "--format", "har", "--conn", "7"); code != exitError {
		t.Errorf("--conn 7: exit %d", code)
	}
}

// TestChromeHARReplayable: a HAR in the shape DevTools saves imports into a
// capture that replay and diff accept.
func TestChromeHARReplayable(t *testing.T) {
	out := filepath.Join(t.TempDir(), "chrome.wstap")
	if code, _, errOut := runCmd("import", "../../har/testdata/chrome.har", "-o", out); code != exitOK {
		t.Fatalf("import: exit %d: %s", code, errOut)
	}
	code, ls, _ := runCmd("ls", out)
	if code != exitOK {
		t.Fatalf("ls: exit %d", code)
	}
	conn := ""
	for _, line := range strings.Split(ls, "\n") {
		if f := strings.Fields(line); len(f) > 4 && f[3] == "101" {
			conn = f[0]
			break
		}
	}
	if conn == "" {
		t.Fatalf("no established connection in\n%s", ls)
	}
	if code, out, errOut := runCmd("replay", out, "--conn", conn, "--dry-run"); code != exitOK || !strings.Contains(out, "connection "+conn+" → ws") {
		t.Errorf("replay --dry-run of the imported HAR: exit %d %s\n%s", code, errOut, out)
	}
	if code, _, errOut := runCmd("diff", out, out, "--conn-a", conn, "--conn-b", conn); code != exitOK {
		t.Errorf("diff of the imported HAR with itself: exit %d %s", code, errOut)
	}
}

// TestRecordNoCapture: --no-capture relays and writes nothing, the way a
// benchmark measures what recording costs.
func TestRecordNoCapture(t *testing.T) {
	t.Setenv("WSTAP_HOME", t.TempDir())
	dir := t.TempDir()
	t.Chdir(dir)
	stdout, stderr := newSyncBuffer(), newSyncBuffer()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- runRecord(ctx, &globalOptions{stdout: stdout, stderr: stderr},
			&recordOptions{listen: "127.0.0.1:0", upstream: echoUpstream(t), noCapture: true}, nil)
	}()
	addr := waitListening(t, stdout)
	c := talk(t, addr, 10)
	c.Close()
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("record --no-capture: %v\n%s", err, stderr.String())
	}
	if out := stdout.String(); !strings.Contains(out, "capture    none (--no-capture)") || !strings.Contains(out, "relayed 1 WebSocket connection(s), 20 message(s)") {
		t.Errorf("stdout:\n%s", out)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("--no-capture wrote %d files", len(entries))
	}
	for _, args := range [][]string{{"-o", "x.wstap"}, {"--tui"}} {
		if code, _, errOut := runCmd(append([]string{"record", "--no-capture"}, args...)...); code != exitUsage {
			t.Errorf("record --no-capture %q: exit %d, %q", args, code, errOut)
		}
	}
}

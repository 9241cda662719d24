package main

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/wstap/wstap/capture"
)

// runImportCLI runs `wstap import ARGS…` as main's run does: the command
// under a root with the same error handling, its exit status mapped by
// exitCode.
func runImportCLI(args ...string) (code int, stderr string) {
	var out, errOut bytes.Buffer
	g := &globalOptions{stdout: &out, stderr: &errOut}
	root := &cobra.Command{Use: "wstap", SilenceUsage: true, SilenceErrors: true}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &usageError{err} })
	root.AddCommand(newImportCommand(g))
	root.SetArgs(append([]string{"import"}, args...))
	root.SetOut(&out)
	root.SetErr(&errOut)
	err := root.Execute()
	if err != nil {
		errOut.WriteString("wstap: " + err.Error() + "\n")
	}
	return exitCode(err), errOut.String()
}

// dirNames lists a directory's entries.
func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

func TestImportCommand(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "chrome.wstap")
	code, stderr := runImportCLI(filepath.Join("..", "..", "har", "testdata", "chrome.har"), "-o", out)
	if code != exitOK {
		t.Fatalf("import: exit %d: %s", code, stderr)
	}
	if want := "imported 1 connection, 4 messages and 2 HTTP exchanges into " + out + "\n"; stderr != want {
		t.Errorf("stderr = %q, want %q", stderr, want)
	}
	if names := dirNames(t, dir); !slices.Equal(names, []string{"chrome.wstap"}) {
		t.Errorf("the directory holds %q, want only the capture", names)
	}
	r, err := capture.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if !r.Complete() {
		t.Error("the capture was not closed cleanly")
	}
	conns := r.Conns()
	if len(conns) != 1 || conns[0].URL != "wss://chat.example.test/ws?room=1" || conns[0].Subprotocol != "chat" ||
		conns[0].Messages != [3]int64{2, 2, 0} || len(r.HTTP()) != 2 {
		t.Errorf("capture: connections %+v, %d exchanges", conns, len(r.HTTP()))
	}
	if fi, err := os.Stat(out); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("capture mode = %v, %v; want 0600 (captures hold secrets)", fi.Mode(), err)
	}

	// A second import never replaces the first.
	before, _ := os.ReadFile(out)
	code, stderr = runImportCLI(filepath.Join("..", "..", "har", "testdata", "mitmproxy.har"), "-o", out)
	if code != exitError || stderr != "wstap: "+out+" exists; choose a new output file\n" {
		t.Errorf("import onto an existing file: exit %d, %q", code, stderr)
	}
	if after, _ := os.ReadFile(out); !bytes.Equal(before, after) {
		t.Error("the existing capture changed")
	}
}

func TestImportCommandErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	malformed := write("bad.har", `{"log": {"entries": [{"startedDateTime": "2024-12-03T12:00:00Z",
		"request": {"url": "wss://x/ws"}, "response": {"status": 101},
		"_webSocketMessages": [{"type": "send", "time": "soon", "opcode": 1, "data": "a"}]}]}}`)
	notJSON := write("notjson.har", "<html>")
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string // the whole of stderr
	}{
		{"malformed", []string{malformed, "-o", filepath.Join(dir, "out.wstap")}, exitError,
			"wstap: " + malformed + ": har: entry 1 (wss://x/ws): _webSocketMessages[0].time: not a number\n"},
		{"not JSON", []string{notJSON, "-o", filepath.Join(dir, "out.wstap")}, exitError,
			"wstap: " + notJSON + ": har: not a HAR file: invalid JSON at byte 1 (line 1, column 1): invalid character '<' looking for beginning of value\n"},
		{"no input", []string{filepath.Join(dir, "missing.har"), "-o", filepath.Join(dir, "out.wstap")}, exitError,
			"wstap: open " + filepath.Join(dir, "missing.har") + ": no such file or directory\n"},
		{"no -o", []string{malformed}, exitUsage,
			"wstap: wstap import needs -o FILE.wstap, the capture to write (see wstap import --help)\n"},
		{"two files", []string{malformed, notJSON, "-o", filepath.Join(dir, "out.wstap")}, exitUsage,
			"wstap: wstap import takes 1 argument(s), got 2 (see wstap import --help)\n"},
		{"unknown flag", []string{malformed, "--force"}, exitUsage, "wstap: unknown flag: --force\n"},
		{"no directory", []string{filepath.Join("..", "..", "har", "testdata", "chrome.har"), "-o", filepath.Join(dir, "nodir", "out.wstap")},
			exitError, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, stderr := runImportCLI(tc.args...)
			if code != tc.code || (tc.want != "" && stderr != tc.want) {
				t.Errorf("import %q: exit %d, stderr %q;\nwant exit %d, %q", tc.args, code, stderr, tc.code, tc.want)
			}
			if strings.Count(stderr, "\n") != 1 {
				t.Errorf("the error is not one line: %q", stderr)
			}
			// Nothing new in the directory: no capture, no temporary file.
			if names := dirNames(t, dir); !slices.Equal(names, []string{"bad.har", "notjson.har"}) {
				t.Errorf("the directory holds %q after a failed import", names)
			}
		})
	}
}

func TestImportCommandHelp(t *testing.T) {
	long := newImportCommand(&globalOptions{}).Long
	for _, want := range []string{"Chrome", "Firefox", "HTTP Toolkit", "mitmproxy", "_webSocketMessages", "EXIT STATUS"} {
		if !strings.Contains(long, want) {
			t.Errorf("wstap import --help does not mention %s", want)
		}
	}
}

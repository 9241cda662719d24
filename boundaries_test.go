package wstap_test

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// TestImportBoundaries enforces the dependency direction of DESIGN.md
// section 1 and STYLE.md section 1.
func TestImportBoundaries(t *testing.T) {
	const mod = "github.com/wstap/wstap"
	forbid := map[string][]string{
		"capture":   {mod + "/proxy", mod + "/replay", mod + "/inspector", mod + "/certs", mod + "/cmd", "goproxy", "bubbletea", "gorilla"},
		"certs":     {mod + "/proxy", mod + "/replay", mod + "/inspector", mod + "/capture", mod + "/cmd"},
		"proxy":     {mod + "/replay", mod + "/inspector", mod + "/cmd", mod + "/certs"},
		"replay":    {mod + "/proxy", mod + "/inspector", mod + "/cmd"},
		"inspector": {mod + "/proxy", mod + "/replay", mod + "/cmd", "goproxy", "gorilla"},
		// Payload decoders, shared by the inspector, show, diff and export: capture only.
		"decode": {mod + "/proxy", mod + "/replay", mod + "/inspector", mod + "/certs", mod + "/cmd", mod + "/internal",
			"goproxy", "bubbletea", "lipgloss", "gorilla"},
		"internal/filter": {mod + "/proxy", mod + "/replay", mod + "/inspector", mod + "/certs", mod + "/cmd", "goproxy",
			"bubbletea", "gorilla"},
		// The load tool of wstap bench: gorilla and the standard library only.
		"loadtest": {mod + "/proxy", mod + "/replay", mod + "/inspector", mod + "/certs", mod + "/cmd", mod + "/capture",
			"goproxy", "bubbletea"},
		// The comparison drives the wstap binary from outside, as a user would.
		"bench/compare": {mod + "/proxy", mod + "/replay", mod + "/inspector", mod + "/certs", mod + "/capture",
			mod + "/loadtest", mod + "/internal", "goproxy", "bubbletea"},
		// Finds the third-party peers of the tests: the standard library only.
		"internal/peertest": {mod + "/capture", mod + "/proxy", mod + "/replay", mod + "/inspector", mod + "/cmd", "gorilla"},
		// HAR in and out: capture and the standard library only.
		"har": {mod + "/proxy", mod + "/replay", mod + "/inspector", mod + "/certs", mod + "/cmd", mod + "/internal",
			"goproxy", "bubbletea", "gorilla"},
		// Client code generation: capture and replay's script (gorilla comes with replay).
		"codegen": {mod + "/proxy", mod + "/inspector", mod + "/certs", mod + "/cmd", "goproxy", "bubbletea"},
		// Shared by the relay and the replay: capture and the standard library only.
		"internal/tlsfacts": {mod + "/proxy", mod + "/replay", mod + "/inspector", mod + "/certs", mod + "/cmd", "goproxy",
			"bubbletea", "gorilla"},
		// Shared by replay --check, diff and the inspector's diff view.
		"internal/sessiondiff": {mod + "/proxy", mod + "/replay", mod + "/inspector", mod + "/certs", mod + "/cmd", "goproxy",
			"bubbletea", "gorilla"},
		// Shared by cmd/wstap and the inspector: capture and the standard library only.
		"internal/present": {mod + "/proxy", mod + "/replay", mod + "/inspector", mod + "/certs", mod + "/cmd", "goproxy",
			"bubbletea", "gorilla"},
	}
	for pkg, bad := range forbid {
		out, err := exec.Command("go", "list", "-deps", "./"+pkg).Output()
		if err != nil {
			t.Fatalf("go list -deps ./%s: %v", pkg, err)
		}
		for dep := range strings.FieldsSeq(string(out)) {
			if slices.ContainsFunc(bad, func(b string) bool { return strings.Contains(dep, b) }) {
				t.Errorf("%s must not import %s (DESIGN.md section 1)", pkg, dep)
			}
		}
	}
}

// Package peertest finds the third-party WebSocket peers that tests run
// against: a Python with the websockets library (Debian's
// python3-websockets) and Node with the ws package (installed by .ci/run
// into .ci/node). Locally a test without them is skipped; in CI, which
// installs them, it fails instead of skipping silently.
//
// It is for tests only and imports the standard library alone.
package peertest

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// SkipOrFail skips the test, or fails it when CI is "true": CI installs
// the peers and must not skip silently.
func SkipOrFail(t testing.TB, msg string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// probe runs a command and returns its trimmed output, if it succeeded.
func probe(extraEnv []string, name string, args ...string) (string, bool) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), extraEnv...)
	out, err := cmd.Output()
	return strings.TrimSpace(string(out)), err == nil
}

var python struct {
	once          sync.Once
	path, version string
}

// Python returns a python3 that can import websockets, and the library's
// version; "" when there is none. $WSTAP_PYTHON is tried first (one with a
// newer websockets, say), then Debian's /usr/bin/python3, then python3.
func Python() (path, version string) {
	python.once.Do(func() {
		for _, name := range []string{os.Getenv("WSTAP_PYTHON"), "/usr/bin/python3", "python3"} {
			if name == "" {
				continue
			}
			p, err := exec.LookPath(name)
			if err != nil {
				continue
			}
			if v, ok := probe(nil, p, "-c", "import websockets; print(websockets.__version__)"); ok {
				python.path, python.version = p, v
				return
			}
		}
	})
	return python.path, python.version
}

var node struct {
	once                   sync.Once
	path, modules, version string
}

// Node returns node, a node_modules directory that holds ws, and ws's
// version. The directory is $WSTAP_NODE_MODULES, else .ci/node/node_modules
// of the repository, whose root is root (relative to the test's package,
// "..", say). path is "" without node, modules "" without ws.
func Node(root string) (path, modules, version string) {
	node.once.Do(func() {
		p, err := exec.LookPath("node")
		if err != nil {
			return
		}
		node.path = p
		dirs := []string{os.Getenv("WSTAP_NODE_MODULES")}
		if d, err := filepath.Abs(filepath.Join(root, ".ci", "node", "node_modules")); err == nil {
			dirs = append(dirs, d)
		}
		for _, d := range dirs {
			if d == "" {
				continue
			}
			if v, ok := probe([]string{"NODE_PATH=" + d}, p, "-e", "console.log(require('ws/package.json').version)"); ok {
				node.modules, node.version = d, v
				return
			}
		}
	})
	return node.path, node.modules, node.version
}

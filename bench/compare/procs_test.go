package main

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestProcStop(t *testing.T) {
	dir := t.TempDir()
	p, err := startProc("sleeper", []string{"sleep", "60"}, nil, filepath.Join(dir, "log"))
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	p.stop()
	p.stop() // a second stop is a no-op
	select {
	case <-p.done:
	default:
		t.Fatal("stop returned with the process still running")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("stop took %v, want SIGTERM to end sleep at once", d)
	}
}

func TestWaitListening(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()

	// A process that exits before it listens: the error has its output.
	p, err := startProc("failing", []string{"sh", "-c", "echo cannot listen >&2; exit 3"}, nil, filepath.Join(dir, "fail.log"))
	if err != nil {
		t.Fatal(err)
	}
	ports, err := freePorts(2)
	if err != nil {
		t.Fatal(err)
	}
	if ports[0] == ports[1] {
		t.Errorf("freePorts gave %v twice", ports[0])
	}
	addr := "127.0.0.1:" + strconv.Itoa(ports[0])
	err = waitListening(ctx, p, addr, 10*time.Second)
	if err == nil || !strings.Contains(err.Error(), "exited before listening") || !strings.Contains(err.Error(), "cannot listen") {
		t.Errorf("waitListening(exited) = %v", err)
	}

	// A listener that is there.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	sleeper, err := startProc("sleeper", []string{"sleep", "60"}, nil, filepath.Join(dir, "sleep.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer sleeper.stop()
	if err := waitListening(ctx, sleeper, ln.Addr().String(), 10*time.Second); err != nil {
		t.Errorf("waitListening(listening) = %v", err)
	}
	// Nobody listening: bounded by the limit.
	start := time.Now()
	if err := waitListening(ctx, sleeper, addr, 300*time.Millisecond); err == nil || !strings.Contains(err.Error(), "did not listen") {
		t.Errorf("waitListening(nobody) = %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("waitListening took %v past a 300ms limit", d)
	}
}

func TestProcStatus(t *testing.T) {
	pid := os.Getpid()
	if err := resetPeak(pid); err != nil {
		t.Logf("resetPeak: %v (not every kernel allows it)", err)
	}
	got, err := procStatus(pid, "VmRSS", "VmHWM")
	if err != nil {
		t.Fatal(err)
	}
	if got["VmRSS"] <= 0 || got["VmHWM"] < got["VmRSS"] {
		t.Errorf("procStatus = %v, want VmHWM ≥ VmRSS > 0", got)
	}
	if _, err := procStatus(pid, "VmNothing"); err == nil {
		t.Error("procStatus(VmNothing): want an error")
	}
}

func TestMitmproxyVersion(t *testing.T) {
	bin := fakeWstap(t, "echo 'Mitmproxy: 8.1.1'; echo 'Python:    3.11.2'")
	if got := mitmproxyVersion(context.Background(), bin); got != "8.1.1" {
		t.Errorf("mitmproxyVersion = %q, want 8.1.1", got)
	}
	if got := mitmproxyVersion(context.Background(), fakeWstap(t, "exit 1")); got != "unknown" {
		t.Errorf("mitmproxyVersion(failing) = %q, want unknown", got)
	}
}

func TestMachineInfo(t *testing.T) {
	m := machineInfo(context.Background(), filepath.Join("..", ".."), "go1.x", "8.1.1", 2)
	if m.Go != "go1.x" || m.Cores != 2 || m.Mitmproxy != "8.1.1" || m.CPU == "" || m.Kernel == "" || m.Commit == "" {
		t.Errorf("machineInfo = %+v", m)
	}
}

var burn int

// TestCPUTicks reads this process's CPU time, which grows with work.
func TestCPUTicks(t *testing.T) {
	pid := os.Getpid()
	before, ok := cpuTicks(pid)
	if !ok {
		t.Skip("no /proc/PID/stat")
	}
	for end := time.Now().Add(5 * time.Second); time.Now().Before(end); {
		if now, _ := cpuTicks(pid); now > before {
			return
		}
		for i := range 1 << 20 { // burn CPU
			burn += i * i
		}
	}
	t.Fatal("CPU ticks did not grow in 5 s of work")
}

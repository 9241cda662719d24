package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// proc is a long-running process compare started: the echo server or a
// proxy. It is stopped by its PID.
type proc struct {
	name string
	argv []string // the command line, binary first
	log  string   // the file its stdout and stderr go to
	cmd  *exec.Cmd
	done chan struct{} // closed when it has exited
	err  error         // its exit, once done is closed
	once sync.Once
}

// startProc starts argv with its output in logPath and env added to
// compare's environment.
func startProc(name string, argv, env []string, logPath string) (*proc, error) {
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer logf.Close() // the child holds its own copy
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Env = append(os.Environ(), env...)
	cmd.SysProcAttr = childAttr()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &proc{name: name, argv: argv, log: logPath, cmd: cmd, done: make(chan struct{})}
	go func() { // waitProc
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

func (p *proc) pid() int {
	if p.cmd == nil || p.cmd.Process == nil {
		return 0
	}
	return p.cmd.Process.Pid
}

// stop sends SIGTERM to the process, waits up to 5 s, then kills it. It is
// safe to call more than once.
func (p *proc) stop() {
	p.once.Do(func() {
		select {
		case <-p.done:
			return
		default:
		}
		p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
			return
		case <-time.After(5 * time.Second):
		}
		p.cmd.Process.Kill()
		select {
		case <-p.done:
		case <-time.After(5 * time.Second):
		}
	})
}

// logTail is the last lines of the process's output, for error messages.
func (p *proc) logTail() string {
	b, err := os.ReadFile(p.log)
	if err != nil || len(bytes.TrimSpace(b)) == 0 {
		return ""
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	return strings.Join(lines[max(0, len(lines)-3):], " / ")
}

// waitListening polls addr until it accepts a TCP connection, the process
// exits, ctx ends or limit passes.
func waitListening(ctx context.Context, p *proc, addr string, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		c, err := net.DialTimeout("tcp", addr, 250*time.Millisecond)
		if err == nil {
			c.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s did not listen on %s within %v", p.name, addr, limit)
		}
		select {
		case <-p.done:
			msg := fmt.Sprintf("%s exited before listening on %s: %v", p.name, addr, p.err)
			if t := p.logTail(); t != "" {
				msg += ": " + t
			}
			return errors.New(msg)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// freePorts finds n distinct free TCP ports on 127.0.0.1. Another process
// could take one before it is used; the start then fails and says so.
func freePorts(n int) ([]int, error) {
	var lns []net.Listener
	defer func() {
		for _, ln := range lns {
			ln.Close()
		}
	}()
	ports := make([]int, 0, n)
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("find a free port: %w", err)
		}
		lns = append(lns, ln)
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// procStatus reads fields of /proc/PID/status in KiB (VmRSS, VmHWM).
func procStatus(pid int, fields ...string) (map[string]float64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	got := map[string]float64{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		name, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		for _, want := range fields {
			if name == want {
				v := strings.Fields(rest) // "  1234 kB"
				if len(v) >= 1 {
					if n, err := strconv.ParseFloat(v[0], 64); err == nil {
						got[name] = n
					}
				}
			}
		}
	}
	for _, want := range fields {
		if _, ok := got[want]; !ok {
			return nil, fmt.Errorf("/proc/%d/status has no %s", pid, want)
		}
	}
	return got, sc.Err()
}

// resetPeak resets the process's VmHWM to its current RSS (clear_refs 5,
// Linux 4.0 and later), so the next VmHWM is the peak from now on.
func resetPeak(pid int) error {
	return os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0)
}

// findMitmdump looks for mitmdump on PATH and, as root with apt-get,
// installs Debian's mitmproxy (updating the package lists if the first
// install fails). It returns the path, or why there is none.
func findMitmdump(ctx context.Context, log func(string, ...any)) (string, string) {
	if p, err := exec.LookPath("mitmdump"); err == nil {
		return p, ""
	}
	if os.Geteuid() != 0 {
		return "", "mitmdump is not on PATH (not root, so apt-get install mitmproxy was not tried)"
	}
	if _, err := exec.LookPath("apt-get"); err != nil {
		return "", "mitmdump is not on PATH and there is no apt-get to install it"
	}
	apt := func(args ...string) error {
		ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
		defer cancel()
		log("compare: apt-get %s", strings.Join(args, " "))
		cmd := exec.CommandContext(ctx, "apt-get", args...)
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		out, err := cmd.CombinedOutput()
		if err != nil {
			return fmt.Errorf("apt-get %s: %v: %s", strings.Join(args, " "), err, lastLine(string(out)))
		}
		return nil
	}
	err := apt("install", "-y", "mitmproxy")
	if err != nil {
		if uerr := apt("update"); uerr == nil {
			err = apt("install", "-y", "mitmproxy")
		}
	}
	if p, lerr := exec.LookPath("mitmdump"); lerr == nil {
		return p, ""
	}
	if err == nil {
		err = errors.New("mitmdump still not on PATH")
	}
	return "", "mitmdump is not on PATH and installing Debian's mitmproxy did not work: " + err.Error()
}

// mitmproxyVersion is the version mitmdump --version prints ("8.1.1").
func mitmproxyVersion(ctx context.Context, mitmdump string) string {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, mitmdump, "--version").Output()
	if err != nil {
		return "unknown"
	}
	for line := range strings.SplitSeq(string(out), "\n") {
		if v, ok := strings.CutPrefix(line, "Mitmproxy:"); ok {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}

// machineInfo describes this machine; mitm is the mitmproxy version.
func machineInfo(ctx context.Context, root, goVersion, mitm string, cores int) Machine {
	m := Machine{CPU: "unknown", Cores: cores, Kernel: "unknown", Go: goVersion, Commit: "unknown", Mitmproxy: mitm}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.SplitSeq(string(b), "\n") {
			if name, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(name) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if out, err := exec.CommandContext(ctx, "uname", "-sr").Output(); err == nil {
		m.Kernel = strings.TrimSpace(string(out))
	}
	git := exec.CommandContext(ctx, "git", "rev-parse", "--short", "HEAD")
	git.Dir = root
	if out, err := git.Output(); err == nil {
		m.Commit = strings.TrimSpace(string(out))
	}
	return m
}

// cpuTicks is the CPU time process pid has used, user and system, in
// clock ticks (/proc/PID/stat); ok is false when it cannot be read.
func cpuTicks(pid int) (int64, bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, false
	}
	// The command name, in parentheses, may hold spaces: count after it.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0, false
	}
	u, err1 := strconv.ParseInt(f[11], 10, 64)
	k, err2 := strconv.ParseInt(f[12], 10, 64)
	return u + k, err1 == nil && err2 == nil
}

// settle waits until the processes are quiet: together they used at most
// 2 ticks of CPU (20 ms) over 200 ms, or limit passed. A proxy that fell
// behind (mitmproxy, at its worst) goes on working off its backlog after
// the load stopped; the next measurement must not share the CPU with it.
func settle(ctx context.Context, pids []int, limit time.Duration) {
	sum := func() (n int64) {
		for _, pid := range pids {
			t, _ := cpuTicks(pid)
			n += t
		}
		return n
	}
	end := time.Now().Add(limit)
	prev := sum()
	for time.Now().Before(end) && ctx.Err() == nil {
		time.Sleep(200 * time.Millisecond)
		now := sum()
		if now-prev <= 2 {
			return
		}
		prev = now
	}
}

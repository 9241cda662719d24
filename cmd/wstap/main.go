package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"
)

func main() {
	// WSTAP_CPUPROFILE=FILE writes a CPU profile of the whole run to FILE,
	// for `go tool pprof` (docs/performance.md says how it was used).
	if path := os.Getenv("WSTAP_CPUPROFILE"); path != "" {
		if f, err := os.Create(path); err == nil && pprof.StartCPUProfile(f) == nil {
			code := run(os.Args[1:], os.Stdout, os.Stderr)
			pprof.StopCPUProfile()
			f.Close()
			os.Exit(code)
		}
		fmt.Fprintf(os.Stderr, "wstap: cannot write the CPU profile %s\n", path)
	}
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run executes one wstap invocation and returns its exit status.
func run(args []string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cmd := newRootCommand(&globalOptions{stdout: stdout, stderr: stderr})
	cmd.SetArgs(args)
	cmd.SetOut(stdout)
	cmd.SetErr(stderr)
	err := cmd.ExecuteContext(ctx)
	code := exitCode(err)
	if err != nil && code != exitDifferent {
		fmt.Fprintf(stderr, "wstap: %v\n", err)
	}
	return code
}

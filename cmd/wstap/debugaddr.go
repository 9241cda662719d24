package main

import (
	"expvar"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"runtime"
	"time"

	"github.com/wstap/wstap/internal/netaddr"
)

// debugVars is what --debug-addr serves at /debug/vars besides Go's own
// memstats and cmdline: the proxy's counters, the capture writer's
// statistics and the process's goroutines and file descriptors, so that a
// soak run can watch all of them over time.
type debugVars struct {
	counters func() map[string]int64 // the proxy's Counters
	capture  func() map[string]int64 // the capture writer's Stats; nil with --no-capture
}

// serveDebug serves pprof and expvar on addr, which must be a loopback
// address: the profiles show what the proxy holds, payloads included. It
// returns the listener (closed by the caller) once it listens.
func serveDebug(addr string, vars debugVars) (net.Listener, error) {
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return nil, usagef("--debug-addr %q: %v", addr, err)
	}
	if !netaddr.IsLoopback(addr) {
		return nil, usagef("--debug-addr %s is not a loopback address: the profiles it serves show payloads", addr)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("--debug-addr: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	mux.Handle("/debug/vars", expvarHandler(vars))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	return ln, nil
}

// expvarHandler serves expvar's variables with wstap's own added under
// "wstap". They are computed at each request, not published globally, so
// that tests (and the demo) can run several recorders in one process.
func expvarHandler(vars debugVars) http.Handler {
	wstap := expvar.Func(func() any {
		m := map[string]any{
			"goroutines": runtime.NumGoroutine(),
			"fds":        openFDs(),
		}
		if vars.counters != nil {
			m["proxy"] = vars.counters()
		}
		if vars.capture != nil {
			m["capture"] = vars.capture()
		}
		return m
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		fmt.Fprintf(w, "{\n%q: %s", "wstap", wstap.String())
		expvar.Do(func(kv expvar.KeyValue) {
			fmt.Fprintf(w, ",\n%q: %s", kv.Key, kv.Value)
		})
		fmt.Fprintf(w, "\n}\n")
	})
}

// openFDs counts the process's open file descriptors, -1 where /proc is
// not there to say.
func openFDs() int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return -1
	}
	return len(ents)
}

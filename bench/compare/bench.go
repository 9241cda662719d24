package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"time"
)

// benchReport is one line of `wstap bench MODE … --format json`: mode,
// url, params, results and ok, with failures when a check did not hold.
type benchReport struct {
	Mode     string         `json:"mode"`
	URL      string         `json:"url"`
	Params   map[string]any `json:"params"`
	Results  map[string]any `json:"results"`
	OK       bool           `json:"ok"`
	Failures []string       `json:"failures"`
}

// parseBenchJSON reads the last JSON object in out, which is what
// `wstap bench --format json` prints on stdout.
func parseBenchJSON(out []byte) (*benchReport, error) {
	lines := bytes.Split(bytes.TrimSpace(out), []byte("\n"))
	for i := len(lines) - 1; i >= 0; i-- {
		line := bytes.TrimSpace(lines[i])
		if len(line) == 0 || line[0] != '{' {
			continue
		}
		var r benchReport
		if err := json.Unmarshal(line, &r); err != nil {
			return nil, fmt.Errorf("compare: wstap bench printed bad JSON: %w", err)
		}
		if r.Mode == "" || r.Results == nil {
			return nil, errors.New("compare: wstap bench printed JSON without mode or results")
		}
		return &r, nil
	}
	return nil, errors.New("compare: wstap bench printed no JSON")
}

// numbers are the numeric results of a report; strings and booleans
// (hashes, intact) are left out.
func (r *benchReport) numbers() map[string]float64 {
	m := make(map[string]float64, len(r.Results))
	for k, v := range r.Results {
		if f, ok := v.(float64); ok {
			m[k] = f
		}
	}
	return m
}

// reason says why a report did not pass.
func (r *benchReport) reason() string {
	if len(r.Failures) == 0 {
		return "a check did not hold"
	}
	return strings.Join(r.Failures, "; ")
}

// runBench runs `wstap bench MODE URL ARGS… --format json` and returns its
// numeric results. It fails when the command does not finish within
// limit, exits without JSON, or reports a check that did not hold.
func runBench(ctx context.Context, wstap string, limit time.Duration, mode, url string, args ...string) (map[string]float64, error) {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	argv := benchArgs(mode, url, args...)
	cmd := exec.CommandContext(ctx, wstap, argv...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.WaitDelay = 5 * time.Second
	cmd.SysProcAttr = childAttr()
	runErr := cmd.Run()
	if ctx.Err() == context.DeadlineExceeded {
		return nil, fmt.Errorf("timed out after %v", limit.Round(time.Second))
	}
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	rep, perr := parseBenchJSON(stdout.Bytes())
	if perr != nil {
		if msg := lastLine(stderr.String()); msg != "" {
			return nil, errors.New(strings.TrimPrefix(msg, "wstap: "))
		}
		if runErr != nil {
			return nil, fmt.Errorf("wstap bench %s: %w", mode, runErr)
		}
		return nil, perr
	}
	if !rep.OK {
		return nil, errors.New(rep.reason())
	}
	return rep.numbers(), nil
}

// benchArgs is the argument list of one `wstap bench` run.
func benchArgs(mode, url string, args ...string) []string {
	return append(append([]string{"bench", mode, url}, args...), "--format", "json")
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}

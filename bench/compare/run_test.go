package main

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"testing"
)

func TestRunRounds(t *testing.T) {
	var calls []string
	pt := func(workload string, value int64, fail string) point {
		return point{workload: workload, value: value, label: fmt.Sprint(value),
			run: func(_ context.Context, tg *target, round int) (map[string]float64, error) {
				calls = append(calls, fmt.Sprintf("%d %s %d %s", round, workload, value, tg.name))
				if tg.name == fail {
					return map[string]float64{valMsgsPerS: 1}, errors.New("boom")
				}
				return map[string]float64{valMsgsPerS: float64(round)}, nil
			}}
	}
	idle := pt(workIdle, 5, "")
	idle.skip = func(tg *target) bool { return tg.proc == nil }
	targets := []*target{{name: pathDirect}, {name: pathRecord, proc: &proc{}}, {name: pathMitmproxy, proc: &proc{}}}
	r := &runner{cfg: &config{rounds: 3}, log: func(string, ...any) {}}
	res := &Results{}
	if err := r.runRounds(context.Background(), res, []point{pt(workRTT, 128, pathMitmproxy), idle}, targets); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"1 rtt 128 direct", "1 rtt 128 record", "1 rtt 128 mitmproxy", "1 idle 5 record", "1 idle 5 mitmproxy",
		"2 rtt 128 record", "2 rtt 128 mitmproxy", "2 rtt 128 direct", "2 idle 5 record", "2 idle 5 mitmproxy",
		"3 rtt 128 mitmproxy", "3 rtt 128 direct", "3 rtt 128 record", "3 idle 5 mitmproxy", "3 idle 5 record",
	}
	if !reflect.DeepEqual(calls, want) {
		t.Errorf("runs in the order\n%q\nwant (every point on every path each round, the paths rotated)\n%q", calls, want)
	}
	if len(res.Samples) != len(want) {
		t.Fatalf("%d samples, want %d", len(res.Samples), len(want))
	}
	for _, s := range res.Samples {
		failed := s.Workload == workRTT && s.Path == pathMitmproxy
		if failed != (s.Err == "boom") || failed != (s.Values == nil) {
			t.Errorf("sample %+v: a failed run keeps its error and no values; others their values", s)
		}
	}

	// An interrupt stops the rounds.
	ctx, cancel := context.WithCancel(context.Background())
	stopper := point{workload: workRTT, value: 16, run: func(context.Context, *target, int) (map[string]float64, error) {
		cancel()
		return nil, context.Canceled
	}}
	res = &Results{}
	if err := r.runRounds(ctx, res, []point{stopper}, targets); !errors.Is(err, context.Canceled) || len(res.Samples) != 0 {
		t.Errorf("runRounds after an interrupt = %v with %d samples, want context.Canceled and none", err, len(res.Samples))
	}
}

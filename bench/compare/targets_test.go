package main

import (
	"strings"
	"testing"
)

// fullConfig is the default run's settings.
func fullConfig() Config {
	return Config{Rounds: 3, Duration: "2s", Sizes: []int64{16, 128, 1 << 10, 16 << 10, 128 << 10, 1 << 20, 16 << 20},
		Conns: []int{1, 10, 100, 1000}, Messages: 50, Rate: latencyRate, BigSize: 64 << 20, Idle: 1000,
		Workloads: allWorkloads}
}

// threeRounds is three samples of one value, spread so that the median
// (v) differs from the mean and from the first round.
func threeRounds(workload string, point int64, path, name string, v float64) []Sample {
	var out []Sample
	for i, f := range []float64{0.5, 1, 1.1} {
		out = append(out, Sample{Round: i + 1, Workload: workload, Point: point, Path: path,
			Values: map[string]float64{name: v * f}})
	}
	return out
}

func resultsOf(samples ...[]Sample) *Results {
	res := &Results{Config: fullConfig(), Paths: allPaths}
	for _, s := range samples {
		res.Samples = append(res.Samples, s...)
	}
	return res
}

// target finds a target result by the start of its name.
func findTarget(t *testing.T, rs []targetResult, prefix string) targetResult {
	t.Helper()
	for _, r := range rs {
		if strings.HasPrefix(r.Name, prefix) {
			return r
		}
	}
	t.Fatalf("no target %q in %+v", prefix, rs)
	return targetResult{}
}

func TestTargets(t *testing.T) {
	rtt := func(size int64, direct, record, mitm float64) []Sample {
		return append(append(threeRounds(workRTT, size, pathDirect, valMsgsPerS, direct),
			threeRounds(workRTT, size, pathRecord, valMsgsPerS, record)...),
			threeRounds(workRTT, size, pathMitmproxy, valMsgsPerS, mitm)...)
	}
	latency := func(direct, record float64) []Sample {
		return append(threeRounds(workLatency, latencyRate, pathDirect, valP99, direct),
			threeRounds(workLatency, latencyRate, pathRecord, valP99, record)...)
	}
	tests := []struct {
		name    string
		res     *Results
		target  string
		verdict string
		detail  string // a part of the detail
	}{
		// 128 B: 0.8× direct and 25× mitmproxy, both needed.
		{"128 met", resultsOf(rtt(128, 1000, 850, 30)), "128 B", verdictMet, "0.85× direct"},
		{"128 just met", resultsOf(rtt(128, 1000, 800, 32)), "128 B", verdictMet, "25.0× mitmproxy"},
		{"128 slow against direct", resultsOf(rtt(128, 1000, 700, 10)), "128 B", verdictNotMet, "0.70× direct"},
		{"128 slow against mitmproxy", resultsOf(rtt(128, 1000, 900, 40)), "128 B", verdictNotMet, "22.5× mitmproxy"},
		// A fast mitmproxy: the ratio is wstap over mitmproxy, not the other way round.
		{"128 mitmproxy faster", resultsOf(rtt(128, 1000, 900, 900*25)), "128 B", verdictNotMet, "0.04× mitmproxy"},
		{"1 MiB met", resultsOf(rtt(1<<20, 100, 75, 20)), "1 MiB", verdictMet, "3.75× mitmproxy"},
		{"1 MiB not met", resultsOf(rtt(1<<20, 100, 65, 20)), "1 MiB", verdictNotMet, "0.65× direct"},
		{"1 MiB not measured", resultsOf(rtt(128, 1000, 850, 30)), "1 MiB", verdictNotMeasured, "was not run on"},
		{"latency met", resultsOf(latency(0.2, 0.45)), "paced", verdictMet, "+0.250 ms added"},
		{"latency not met", resultsOf(latency(0.2, 0.55)), "paced", verdictNotMet, "+0.350 ms added"},
		{"big met", resultsOf(threeRounds(workBig, 64<<20, pathRecord, valRSSAboveIdle, 20*1024)), "64 MiB", verdictMet, "20.0 MiB above idle"},
		{"big not met", resultsOf(threeRounds(workBig, 64<<20, pathRecord, valRSSAboveIdle, 40*1024)), "64 MiB", verdictNotMet, "40.0 MiB"},
		{"idle met", resultsOf(threeRounds(workIdle, 1000, pathRecord, valRSSPerConn, 20)), "idle", verdictMet, "20.0 KiB per connection"},
		{"idle not met", resultsOf(threeRounds(workIdle, 1000, pathRecord, valRSSPerConn, 40)), "idle", verdictNotMet, "40.0 KiB"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := findTarget(t, newDoc(tt.res).checkTargets(), tt.target)
			if got.Verdict != tt.verdict || !strings.Contains(got.Detail, tt.detail) {
				t.Errorf("target %q = %s, %q; want %s, with %q", got.Name, got.Verdict, got.Detail, tt.verdict, tt.detail)
			}
		})
	}
}

func TestTargetsNotMeasured(t *testing.T) {
	// mitmproxy skipped: the direct half of a target does not make it met.
	res := resultsOf(threeRounds(workRTT, 128, pathDirect, valMsgsPerS, 1000), threeRounds(workRTT, 128, pathRecord, valMsgsPerS, 900))
	res.Paths = []string{pathDirect, pathRecord}
	res.Skipped = []Skip{{pathMitmproxy, "mitmdump is not on PATH"}}
	got := findTarget(t, newDoc(res).checkTargets(), "128 B")
	if got.Verdict != verdictNotMeasured || !strings.Contains(got.Detail, "0.90× direct") || !strings.Contains(got.Detail, "mitmdump is not on PATH") {
		t.Errorf("128 B without mitmproxy = %s, %q", got.Verdict, got.Detail)
	}

	// A quick run's big message is not the 64 MiB of the target.
	res = resultsOf(threeRounds(workBig, 4<<20, pathRecord, valRSSAboveIdle, 1024))
	res.Config.BigSize = 4 << 20
	got = findTarget(t, newDoc(res).checkTargets(), "64 MiB")
	if got.Verdict != verdictNotMeasured || !strings.Contains(got.Detail, "4 MiB, not 64 MiB") {
		t.Errorf("64 MiB after a 4 MiB run = %s, %q", got.Verdict, got.Detail)
	}

	// A failed point is not measured, and says why.
	res = resultsOf([]Sample{{Round: 1, Workload: workIdle, Point: 1000, Path: pathRecord, Err: "700 of 1000 connections could not connect"}})
	got = findTarget(t, newDoc(res).checkTargets(), "idle")
	if got.Verdict != verdictNotMeasured || !strings.Contains(got.Detail, "record failed: 700 of 1000") {
		t.Errorf("idle after a failure = %s, %q", got.Verdict, got.Detail)
	}

	// A point outside the run's settings.
	res = resultsOf()
	res.Config.Sizes = []int64{16}
	got = findTarget(t, newDoc(res).checkTargets(), "128 B")
	if got.Verdict != verdictNotMeasured || !strings.Contains(got.Detail, "128 B was not among this run's points") {
		t.Errorf("128 B outside -sizes = %s, %q", got.Verdict, got.Detail)
	}
}

func TestTargetsUseMedians(t *testing.T) {
	// Record's rounds: 900, 100, 850 (median 850, mean 617, first 900).
	// Direct's: 1000 each. Only the median gives 0.85× (met); the mean
	// gives 0.62× and the first round 0.90×.
	var samples []Sample
	for i, v := range []float64{900, 100, 850} {
		samples = append(samples,
			Sample{Round: i + 1, Workload: workRTT, Point: 128, Path: pathDirect, Values: map[string]float64{valMsgsPerS: 1000}},
			Sample{Round: i + 1, Workload: workRTT, Point: 128, Path: pathRecord, Values: map[string]float64{valMsgsPerS: v}},
			Sample{Round: i + 1, Workload: workRTT, Point: 128, Path: pathMitmproxy, Values: map[string]float64{valMsgsPerS: 30}})
	}
	got := findTarget(t, newDoc(resultsOf(samples)).checkTargets(), "128 B")
	if got.Verdict != verdictMet || !strings.Contains(got.Detail, "0.85× direct") {
		t.Errorf("128 B = %s, %q; want met at 0.85× direct (the median round)", got.Verdict, got.Detail)
	}
}

package main

import (
	"fmt"
	"strings"
)

// The verdicts of a target.
const (
	verdictMet         = "met"
	verdictNotMet      = "not met"
	verdictNotMeasured = "not measured"
)

// targetResult is one target checked against the measured numbers.
type targetResult struct {
	Name    string
	Verdict string // met, not met or not measured
	Detail  string // the numbers it was decided on
}

// condState is how one condition of a target came out.
type condState int

const (
	condMet condState = iota
	condNotMet
	condUnmeasured
)

type condition struct {
	state condState
	text  string
}

// verdict combines conditions: not met when any is not met, not measured
// when any could not be measured, met when all hold.
func verdict(conds []condition) (string, string) {
	v := verdictMet
	texts := make([]string, 0, len(conds))
	for _, c := range conds {
		texts = append(texts, c.text)
		switch {
		case c.state == condNotMet:
			v = verdictNotMet
		case c.state == condUnmeasured && v == verdictMet:
			v = verdictNotMeasured
		}
	}
	return v, strings.Join(texts, "; ")
}

// checkTargets checks the targets of the document against the medians.
func (d *doc) checkTargets() []targetResult {
	var out []targetResult
	add := func(name string, conds ...condition) {
		v, detail := verdict(conds)
		out = append(out, targetResult{name, v, detail})
	}
	add("128 B round trips with recording: ≥ 0.8× direct and ≥ 25× mitmproxy",
		d.rttRatio(128, pathDirect, 0.8), d.rttRatio(128, pathMitmproxy, 25))
	add("1 MiB round trips with recording: ≥ 0.7× direct and ≥ 3× mitmproxy",
		d.rttRatio(1<<20, pathDirect, 0.7), d.rttRatio(1<<20, pathMitmproxy, 3))
	add("paced 1000 msg/s: p99 added by recording < 0.3 ms", d.addedP99(0.3))
	add("64 MiB message: recording proxy's peak RSS < 32 MiB above idle", d.bigRSS(64<<20, 32))
	add("idle connections: recording proxy's RSS < 32 KiB each", d.idleRSS(32))
	return out
}

// rttRatio checks record's rtt throughput at size against over's, at least
// least times.
func (d *doc) rttRatio(size int64, over string, least float64) condition {
	what := "÷ " + over
	if why := d.missing(workRTT, size, pathRecord, over); why != "" {
		return condition{condUnmeasured, what + " not measured: " + why}
	}
	r, _ := d.ratio(workRTT, size, pathRecord, over, valMsgsPerS)
	rec, _ := d.cell(workRTT, size, pathRecord).value(valMsgsPerS)
	oth, _ := d.cell(workRTT, size, over).value(valMsgsPerS)
	text := fmt.Sprintf("%s %s (%s against %s msgs/s; needs ≥ %s)", fmtRatio(r), over, fmtNum(rec), fmtNum(oth), fmtRatio(least))
	if r >= least {
		return condition{condMet, text}
	}
	return condition{condNotMet, text}
}

// addedP99 checks the p99 the record path adds over direct at the paced
// rate.
func (d *doc) addedP99(lessMS float64) condition {
	rate := int64(d.res.Config.Rate)
	if rate != latencyRate {
		return condition{condUnmeasured, fmt.Sprintf("this run paced %d msg/s, not %d", rate, latencyRate)}
	}
	if why := d.missing(workLatency, rate, pathRecord, pathDirect); why != "" {
		return condition{condUnmeasured, why}
	}
	rec, _ := d.cell(workLatency, rate, pathRecord).value(valP99)
	dir, _ := d.cell(workLatency, rate, pathDirect).value(valP99)
	added := rec - dir
	text := fmt.Sprintf("p99 %s ms recording, %s ms direct: %s ms added (needs < %s ms)",
		fmtNum(rec), fmtNum(dir), fmtSigned(added), fmtNum(lessMS))
	if added < lessMS {
		return condition{condMet, text}
	}
	return condition{condNotMet, text}
}

// bigRSS checks the record proxy's peak RSS above idle for a message of
// size, under lessMiB.
func (d *doc) bigRSS(size int64, lessMiB float64) condition {
	if d.res.Config.BigSize != size {
		return condition{condUnmeasured, fmt.Sprintf("this run's big message was %s, not %s",
			formatSize(d.res.Config.BigSize), formatSize(size))}
	}
	if why := d.missing(workBig, size, pathRecord); why != "" {
		return condition{condUnmeasured, why}
	}
	kib, ok := d.cell(workBig, size, pathRecord).value(valRSSAboveIdle)
	if !ok {
		return condition{condUnmeasured, "record: no RSS measured"}
	}
	mib := kib / 1024
	text := fmt.Sprintf("%s MiB above idle (needs < %s MiB)", fmtNum(mib), fmtNum(lessMiB))
	if mib < lessMiB {
		return condition{condMet, text}
	}
	return condition{condNotMet, text}
}

// idleRSS checks the record proxy's RSS per idle connection, under lessKiB.
func (d *doc) idleRSS(lessKiB float64) condition {
	n := int64(d.res.Config.Idle)
	if why := d.missing(workIdle, n, pathRecord); why != "" {
		return condition{condUnmeasured, why}
	}
	kib, ok := d.cell(workIdle, n, pathRecord).value(valRSSPerConn)
	if !ok {
		return condition{condUnmeasured, "record: no RSS measured"}
	}
	text := fmt.Sprintf("%s KiB per connection over %d connections (needs < %s KiB)", fmtNum(kib), n, fmtNum(lessKiB))
	if kib < lessKiB {
		return condition{condMet, text}
	}
	return condition{condNotMet, text}
}

package capture

import (
	"runtime"
	"time"
)

// cpuSampleEvery is the shortest window over which the machine's idle CPU
// is measured: /proc/stat counts in ticks of 10 ms.
const cpuSampleEvery = 200 * time.Millisecond

// minIdleCores is the idle CPU, in cores, below which the machine has no
// headroom for compression: compressing would take the CPU from the
// traffic being recorded (the relay, the peers on the same machine).
const minIdleCores = 0.5

// cpuHeadroom measures the machine's idle CPU between samples.
type cpuHeadroom struct {
	read      func() (idle, total uint64, ok bool)
	ncpu      float64
	at        time.Time
	idle, tot uint64
	cores     float64 // idle cores over the last window; -1 until measured
}

// cpuTimes reads the machine's CPU times; the tests replace it.
var cpuTimes = readCPUTimes

func newCPUHeadroom() *cpuHeadroom {
	h := &cpuHeadroom{read: cpuTimes, ncpu: float64(runtime.NumCPU()), cores: -1}
	h.idle, h.tot, _ = h.read()
	h.at = time.Now()
	return h
}

// idleCores returns the idle CPU in cores over the last window of at least
// cpuSampleEvery, sampling again when that much time has passed; -1 when
// it is not known.
func (h *cpuHeadroom) idleCores(now time.Time) float64 {
	if now.Sub(h.at) < cpuSampleEvery {
		return h.cores
	}
	idle, tot, ok := h.read()
	if !ok {
		return -1
	}
	if tot > h.tot {
		h.cores = float64(idle-h.idle) / float64(tot-h.tot) * h.ncpu
	}
	h.idle, h.tot, h.at = idle, tot, now
	return h.cores
}

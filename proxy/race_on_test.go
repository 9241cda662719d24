//go:build race

package proxy

// raceOn says the race detector is on: its sync.Pool drops items at
// random, so allocation counts mean nothing.
const raceOn = true

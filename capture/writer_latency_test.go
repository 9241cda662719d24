package capture

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// lossBound is DESIGN's bound on how long a record stays in memory after
// its Append returned: a killed process loses nothing older. The default
// FlushInterval (75ms) is meant to keep it.
const lossBound = 100 * time.Millisecond

// TestWriterIdleLatency: a lone record on an idle writer is in the file,
// readable as a record, within lossBound of its Append's return. At low
// rates only the flush timer seals a batch, so this is the test of the
// timer; TestCrashSafety exercises the bound at saturation only.
//
// The machine may be busy, and a late scheduler makes the record late, never
// early: so the test passes if any of a few attempts meets the bound. A
// writer whose timer is systematically slow (say it seals at
// 4×FlushInterval, 300ms) fails every attempt.
func TestWriterIdleLatency(t *testing.T) {
	const attempts = 3
	var lags []string
	for i := range attempts {
		lag, ok := idleLag(t, filepath.Join(t.TempDir(), "idle.wstap"))
		if ok {
			t.Logf("attempt %d: the record was in the file %v after Append returned", i+1, lag)
			return
		}
		lags = append(lags, "none within "+lag.String())
	}
	t.Fatalf("in %d attempts the lone record never reached the file within %v of its Append (%s); "+
		"is the flush timer late?", attempts, lossBound, strings.Join(lags, ", "))
}

// idleLag appends one record to an idle writer with default options at path
// and polls the file every 2ms. It returns how long after Append returned
// the poll that found the record began, and whether one did so within
// lossBound. A poll reads the file after it begins, so the record may have
// arrived during it: the test allows the bound plus one poll (a millisecond
// or so: a stat, and opening the file only once it has grown).
func idleLag(t *testing.T, path string) (time.Duration, bool) {
	t.Helper()
	w, err := Create(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	c := mustOpen(t, w, &ConnOpen{Time: at(0), URL: "ws://idle.example.test/"})
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	size0 := fi.Size()
	// Idle: the flush timer armed for the open has fired and found nothing.
	<-time.After(2 * Options{}.withDefaults().FlushInterval)

	rec := textChunk(c, 1, "the lone record")
	if err := w.Append(rec); err != nil {
		t.Fatal(err)
	}
	returned := time.Now()
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	for {
		began := time.Since(returned)
		if began > lossBound {
			return lossBound, false
		}
		if inFile(t, path, size0, rec) {
			return began, true
		}
		<-tick.C
	}
}

// inFile reports whether the capture at path, once grown past size0 bytes,
// holds rec as its second record.
func inFile(t *testing.T, path string, size0 int64, rec *Chunk) bool {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Size() <= size0 {
		return false
	}
	r, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	recs, err := readAll(t, r, Filter{})
	if err != nil {
		t.Fatalf("reading the live file: %v", err)
	}
	if len(recs) < 2 {
		return false
	}
	got, ok := recs[1].(*Chunk)
	if !ok || !bytes.Equal(got.Data, rec.Data) || len(recs) != 2 {
		t.Fatalf("the live file holds %d records, the second %#v; want the open and %q", len(recs), recs[1], rec.Data)
	}
	return true
}

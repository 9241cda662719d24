package capture

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// The crash test runs a child process (this test binary, re-executed with
// crashChildEnv set) that appends records to a capture as fast as it can and
// reports each on stdout the moment Append returns. The parent kills it with
// SIGKILL and checks DESIGN section 3's promise: every record reported at
// least crashBound before the kill reads back, in order and intact.
const (
	crashChildEnv = "WSTAP_CRASH_CHILD" // the capture's path, for the child
	crashPerConn  = 40                  // records per connection, the first being its open
	crashBound    = 100 * time.Millisecond
)

// crashRecord is the record the child appends as number seq. Connections
// open every crashPerConn records; in between come messages of varied
// sizes: mostly small, some of several chunk records, and some single
// chunks over MaxChunk that the writer splits.
func crashRecord(seq int) Record {
	conn := ConnID(seq/crashPerConn + 1)
	when := at(seq)
	if seq%crashPerConn == 0 {
		return &ConnOpen{Conn: conn, Time: when, URL: fmt.Sprintf("wss://crash.example.test/%d", seq), Status: 101}
	}
	rng := rand.New(rand.NewPCG(uint64(seq), 7))
	var size int
	first, last := true, true
	switch k := seq % crashPerConn; {
	case k >= 10 && k <= 12: // one message in three chunk records
		size = 40<<10 + rng.IntN(60<<10)
		first, last = k == 10, k == 12
	case seq%97 == 5: // split by the writer
		size = MaxChunk + 1 + rng.IntN(MaxChunk)
	default:
		size = rng.IntN(3000)
	}
	var data []byte // a reader hands back an empty payload as nil
	if size > 0 {
		data = make([]byte, size)
	}
	for i := 0; i+8 <= len(data); i += 8 {
		binary.LittleEndian.PutUint64(data[i:], rng.Uint64()&0x3f3f3f3f3f3f3f3f) // compressible, a little
	}
	for i := 0; i < len(data); i += 512 {
		copy(data[i:], fmt.Sprintf("seq %d ", seq))
	}
	return &Chunk{Conn: conn, Time: when, Dir: Direction(seq % 2), Opcode: OpBinary, First: first, Last: last, Data: data}
}

// crashRecordsOnDisk is how crashRecord(seq) reads back: as written, or
// split into chunks of MaxChunk.
func crashRecordsOnDisk(seq int) []Record {
	r := crashRecord(seq)
	c, ok := r.(*Chunk)
	if !ok || len(c.Data) <= MaxChunk {
		return []Record{r}
	}
	var out []Record
	for data := c.Data; len(data) > 0; {
		n := min(len(data), MaxChunk)
		part := *c
		part.Data, data = data[:n], data[n:]
		part.First = c.First && len(out) == 0
		part.Last = c.Last && len(data) == 0
		out = append(out, &part)
	}
	return out
}

// TestCrashChild is the child half of TestCrashSafety; it does nothing in an
// ordinary run.
func TestCrashChild(t *testing.T) {
	path := os.Getenv(crashChildEnv)
	if path == "" {
		t.Skip("the child of TestCrashSafety")
	}
	w, err := Create(path, Options{})
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	deadline := time.Now().Add(time.Minute) // in case the parent never kills
	for seq := 0; time.Now().Before(deadline); seq++ {
		if err := appendAny(w, crashRecord(seq)); err != nil {
			fmt.Println("error", err)
			os.Exit(1)
		}
		// Unbuffered: the parent must hear of the record at once.
		if _, err := fmt.Fprintf(os.Stdout, "rec %d\n", seq); err != nil {
			os.Exit(1)
		}
	}
	os.Exit(2)
}

func TestCrashSafety(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a child process")
	}
	if os.Getenv(crashChildEnv) != "" {
		t.Skip("in the child")
	}
	path := filepath.Join(t.TempDir(), "crash.wstap")
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+path)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	killed := false
	defer func() {
		if !killed {
			cmd.Process.Kill()
			cmd.Wait()
		}
	}()

	// Collect the child's reports with the time each arrived.
	type report struct {
		seq int
		at  time.Time
	}
	var (
		mu      sync.Mutex
		reports []report
		bad     string
	)
	firstc := make(chan struct{})
	enough := make(chan struct{})
	readerDone := make(chan struct{})
	go func() {
		defer close(readerDone)
		sc := bufio.NewScanner(out)
		for n := 0; sc.Scan(); n++ {
			now := time.Now()
			line := sc.Text()
			seq, err := strconv.Atoi(strings.TrimPrefix(line, "rec "))
			mu.Lock()
			if err != nil || !strings.HasPrefix(line, "rec ") || seq != n {
				if bad == "" {
					bad = fmt.Sprintf("child said %q after %d records", line, n)
				}
				mu.Unlock()
				return
			}
			reports = append(reports, report{seq, now})
			mu.Unlock()
			switch n {
			case 0:
				close(firstc)
			case 2000:
				close(enough)
			}
		}
	}()
	select {
	case <-firstc:
	case <-readerDone:
		t.Fatalf("the child stopped before its first record: %s", bad)
	case <-time.After(60 * time.Second):
		t.Fatal("no record from the child within a minute")
	}
	// The deliberate wait: until the child has reported 2000 records, but at
	// least 300ms (so that some records are older than crashBound), and at
	// most 2s.
	minWait := time.After(300 * time.Millisecond)
	maxWait := time.After(2 * time.Second)
	select {
	case <-minWait:
	case <-readerDone:
	}
	select {
	case <-enough:
	case <-maxWait:
	case <-readerDone:
	}
	mu.Lock()
	kill := time.Now()
	if err := cmd.Process.Kill(); err != nil { // SIGKILL, to this child only
		mu.Unlock()
		t.Fatal(err)
	}
	got := slices.Clone(reports)
	whyStopped := bad
	mu.Unlock()
	killed = true
	werr := cmd.Wait()
	<-readerDone
	if whyStopped != "" {
		t.Fatal(whyStopped)
	}
	var exit *exec.ExitError
	if !errors.As(werr, &exit) || exit.Exited() {
		t.Fatalf("child ended with %v, want death by SIGKILL", werr)
	}
	mustHave := -1 // the last sequence number reported at least crashBound before the kill
	for _, r := range got {
		if kill.Sub(r.at) >= crashBound {
			mustHave = r.seq
		}
	}
	t.Logf("child reported %d records; %d of them at least %v before the kill", len(got), mustHave+1, crashBound)
	if mustHave < 0 {
		t.Fatalf("no record was reported %v before the kill", crashBound)
	}

	r, err := Open(path)
	if err != nil {
		t.Fatalf("Open after the crash: %v", err)
	}
	defer r.Close()
	if r.Complete() {
		t.Error("Complete() = true for a killed writer's file")
	}
	if tail := r.Tail(); tail != nil {
		var te *TailError
		if !errors.Is(tail, ErrTornTail) || !errors.As(tail, &te) || te.Offset <= 0 {
			t.Errorf("Tail() = %v, want nil or a *TailError matching ErrTornTail", tail)
		}
		t.Logf("tail: %v", tail)
	}
	var want []Record
	seqOf := []int{} // seqOf[i] is the child's number for record i on disk
	i := 0
	lastSeq := -1
	var tailErr error
	for rec, err := range r.Records(Filter{}) {
		if err != nil {
			tailErr = err
			break
		}
		for i >= len(want) {
			lastSeq++
			for _, w := range crashRecordsOnDisk(lastSeq) {
				want = append(want, w)
				seqOf = append(seqOf, lastSeq)
			}
		}
		if !sameRecord(rec, want[i]) {
			t.Fatalf("record %d (child's #%d) differs:\n got %.300v\nwant %.300v", i, seqOf[i], rec, want[i])
		}
		i++
	}
	complete := -1 // the last child record read back whole
	if i > 0 {
		complete = seqOf[i-1]
		if i < len(want) && seqOf[i] == complete {
			complete-- // only part of a split record made it
		}
	}
	if tailErr != nil {
		var te *TailError
		if !errors.As(tailErr, &te) || !errors.Is(tailErr, ErrTornTail) {
			t.Errorf("Records ended with %v, want a *TailError", tailErr)
		}
	}
	t.Logf("read back %d records on disk, the child's #0..#%d", i, complete)
	if complete < mustHave {
		t.Errorf("read back the child's records up to #%d; #%d was reported %v or more before the kill and is lost",
			complete, mustHave, crashBound)
	}
	conns := r.Conns()
	if wantConns := complete/crashPerConn + 1; len(conns) < wantConns {
		t.Errorf("Conns() = %d entries, want at least %d", len(conns), wantConns)
	}
}

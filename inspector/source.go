package inspector

import (
	"context"
	"io"
	"iter"
	"sync"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/wstap/wstap/capture"
)

// Source is what the inspector reads. *capture.Reader satisfies it; every
// method may be called from several goroutines at once.
type Source interface {
	Conns() []capture.ConnSummary
	HTTP() []capture.HTTPSummary
	Complete() bool
	Refresh() (bool, error)
	Summaries(f capture.Filter) iter.Seq2[*capture.Message, error]
	RecordsFrom(f capture.Filter, seq uint64) iter.Seq2[capture.Record, error]
	FollowFrom(ctx context.Context, f capture.Filter, seq uint64, interval time.Duration) iter.Seq2[capture.Record, error]
	OpenMessageAt(conn capture.ConnID, seq uint64) (io.ReadCloser, error)
	SeekTime(t time.Time) uint64
}

var _ Source = (*capture.Reader)(nil)

// pollInterval is how often a followed file is checked for growth, and how
// often the model takes in what its loaders found: at most 20 updates a
// second, whatever the traffic.
const pollInterval = 50 * time.Millisecond

// maxBatch bounds the rows a loader hands over at once, so that one tick
// never stalls the UI loop on a copy.
const maxBatch = 1 << 14

// loader reads the message summaries of one connection in a goroutine and
// queues them for the model, which takes them on its tick. It never blocks
// on the model: rows pile up in its queue until taken.
type loader struct {
	conn   capture.ConnID
	cancel context.CancelFunc

	mu   sync.Mutex
	q    []batch
	cur  batch
	done bool
	err  error
}

func startLoader(ctx context.Context, g *guard, src Source, conn capture.ConnID, follow bool) *loader {
	ctx, cancel := context.WithCancel(ctx)
	l := &loader{conn: conn, cancel: cancel, done: true}
	if g.enter() {
		l.done = false
		go func() {
			defer g.leave()
			l.run(ctx, src, follow)
		}()
	}
	return l
}

func (l *loader) run(ctx context.Context, src Source, follow bool) {
	f := capture.Filter{Conn: l.conn}
	var err error
	if follow {
		opts := capture.AssembleOptions{MaxData: previewMax}
		for rec, e := range capture.Assemble(src.FollowFrom(ctx, f, 0, pollInterval), opts) {
			if e != nil {
				if _, damage := e.(*capture.DamageError); damage {
					continue
				}
				err = e
				break
			}
			if m, ok := rec.(*capture.Message); ok {
				l.add(m)
			}
		}
	} else {
		for m, e := range src.Summaries(f) {
			if ctx.Err() != nil {
				break
			}
			if e != nil {
				if _, damage := e.(*capture.DamageError); damage {
					continue
				}
				err = e
				break
			}
			l.add(m)
		}
	}
	l.mu.Lock()
	if ctx.Err() == nil {
		l.err = err
	}
	l.done = true
	l.mu.Unlock()
}

func (l *loader) add(m *capture.Message) {
	l.mu.Lock()
	l.cur.add(m)
	if len(l.cur.rows) >= maxBatch {
		l.q = append(l.q, l.cur)
		l.cur = batch{}
	}
	l.mu.Unlock()
}

// take returns what the loader found since the last call (at most one full
// batch plus the one being filled), and whether it has finished.
func (l *loader) take() (b []batch, done bool, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.q) > 0 {
		b, l.q = l.q[:1], l.q[1:]
	} else if len(l.cur.rows) > 0 {
		b = []batch{l.cur}
		l.cur = batch{}
	}
	return b, l.done && len(l.q) == 0 && len(l.cur.rows) == 0, l.err
}

// guard tracks the inspector's background work, so that Close returns only
// once nothing reads the Source any more and the caller may close it.
type guard struct {
	mu     sync.Mutex
	closed bool
	wg     sync.WaitGroup
}

// enter registers one piece of work; false once the guard is closed.
func (g *guard) enter() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return false
	}
	g.wg.Add(1)
	return true
}

func (g *guard) leave() { g.wg.Done() }

// close refuses new work and waits for the running work to end.
func (g *guard) close() {
	g.mu.Lock()
	g.closed = true
	g.mu.Unlock()
	g.wg.Wait()
}

// cmd wraps a command that reads the Source: it does nothing once the
// guard is closed.
func (g *guard) cmd(f func() tea.Msg) tea.Cmd {
	return func() tea.Msg {
		if !g.enter() {
			return nil
		}
		defer g.leave()
		return f()
	}
}

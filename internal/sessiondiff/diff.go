package sessiondiff

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/wstap/wstap/capture"
)

// OpKind says how a message of one session relates to the other's.
type OpKind int

// Op kinds.
const (
	Same      OpKind = iota // in both, equal (after Options.Ignore)
	Changed                 // in both, paired, with differences
	Inserted                // only in B
	Missing                 // only in A
	Reordered               // in both, equal, at different places
)

// String returns the kind's name as the JSON lines output spells it: "same",
// "changed", "inserted", "missing" or "reordered".
func (k OpKind) String() string {
	switch k {
	case Same:
		return "same"
	case Changed:
		return "changed"
	case Inserted:
		return "inserted"
	case Missing:
		return "missing"
	case Reordered:
		return "reordered"
	}
	return fmt.Sprintf("opkind(%d)", int(k))
}

// Op is one step of an alignment: a message of A, of B, or a pair.
type Op struct {
	Kind    OpKind
	A, B    *Message // nil on the side where it is absent
	Changes []Change // for Changed
}

// Result is what Diff found.
type Result struct {
	A, B *Session
	// Handshake lists the differences in the URL's path and query ("url"),
	// the status, the subprotocol, the extensions and the request and
	// response headers ("request.User-Agent", "response.Set-Cookie"), but
	// for the headers that differ on every connection: Sec-WebSocket-Key,
	// Sec-WebSocket-Accept and Date.
	Handshake []Change
	Client    []Op // client→server alignment
	Server    []Op // server→client alignment
	Timing    Timing
}

// Same reports whether the sessions have no message and no handshake
// differences. Timing never makes sessions differ.
func (r *Result) Same() bool {
	return len(r.Handshake) == 0 && !Count(r.Client).Differ() && !Count(r.Server).Differ()
}

// Counts counts the ops of an alignment by kind.
type Counts struct {
	Same, Changed, Inserted, Missing, Reordered int
	A, B                                        int // messages of A and of B
}

// Differ reports whether any op was not Same.
func (c Counts) Differ() bool { return c.Changed+c.Inserted+c.Missing+c.Reordered > 0 }

// add sums two counts.
func (c Counts) add(d Counts) Counts {
	return Counts{c.Same + d.Same, c.Changed + d.Changed, c.Inserted + d.Inserted, c.Missing + d.Missing,
		c.Reordered + d.Reordered, c.A + d.A, c.B + d.B}
}

// Count counts ops by kind.
func Count(ops []Op) Counts {
	var c Counts
	for _, op := range ops {
		switch op.Kind {
		case Same:
			c.Same++
		case Changed:
			c.Changed++
		case Inserted:
			c.Inserted++
		case Missing:
			c.Missing++
		case Reordered:
			c.Reordered++
		}
		if op.A != nil {
			c.A++
		}
		if op.B != nil {
			c.B++
		}
	}
	return c
}

// Timing compares the pace of the two sessions.
type Timing struct {
	A, B SideTiming
}

// SideTiming is the pace of one session.
type SideTiming struct {
	Duration       time.Duration // from the open record to the last record
	Client, Server DirTiming
	Gaps           []Gap // the largest gaps between consecutive messages (both directions), longest first, at most 3
}

// DirTiming is the pace of one direction of a session.
type DirTiming struct {
	Messages int
	Rate     float64 // messages a second over the session's duration; 0 when it lasted no time
}

// Gap is the time between two consecutive messages of a session.
type Gap struct {
	Length        time.Duration
	After, Before Ref // the messages before and after the gap
}

// Ref names a message of a session: its direction and Index.
type Ref struct {
	Dir   capture.Direction
	Index int
}

// Diff compares two sessions: their handshakes, each direction's messages
// aligned on their own (see the package documentation), and their timing.
// Each direction's ops are in A's order, with the messages only in B where
// they fall between A's; a Changed or Reordered op stands where its A
// message was.
func Diff(a, b *Session, opts Options) *Result {
	c := newComparer(opts)
	ac, as := byDir(a.Messages)
	bc, bs := byDir(b.Messages)
	return &Result{
		A: a, B: b,
		Handshake: handshake(a, b, opts.Ignore),
		Client:    c.alignOps(ac, bc, opts.MaxDistance),
		Server:    c.alignOps(as, bs, opts.MaxDistance),
		Timing:    Timing{A: timing(a), B: timing(b)},
	}
}

// Check pairs recorded[i] with got[i], for replay --check: Same or Changed,
// then Missing for the recorded messages beyond the end of got and
// Inserted for the new ones beyond the end of recorded. Pass it one
// direction's messages.
func Check(recorded, got []Message, opts Options) []Op {
	c := newComparer(opts)
	ops := make([]Op, 0, max(len(recorded), len(got)))
	for i := range max(len(recorded), len(got)) {
		switch {
		case i >= len(got):
			ops = append(ops, Op{Kind: Missing, A: &recorded[i]})
		case i >= len(recorded):
			ops = append(ops, Op{Kind: Inserted, B: &got[i]})
		default:
			a, b := &recorded[i], &got[i]
			if ch := c.compare(a, b); ch != nil {
				ops = append(ops, Op{Kind: Changed, A: a, B: b, Changes: ch})
			} else {
				ops = append(ops, Op{Kind: Same, A: a, B: b})
			}
		}
	}
	return ops
}

func byDir(ms []Message) (client, server []*Message) {
	for i := range ms {
		if ms[i].Dir == capture.ClientToServer {
			client = append(client, &ms[i])
		} else {
			server = append(server, &ms[i])
		}
	}
	return client, server
}

// alignOps aligns one direction's messages and turns the edit script into
// ops.
func (c *comparer) alignOps(as, bs []*Message, maxDist int) []Op {
	fa, fb := make([]uint64, len(as)), make([]uint64, len(bs))
	for i, m := range as {
		fa[i] = c.fingerprint(m)
	}
	for j, m := range bs {
		fb[j] = c.fingerprint(m)
	}
	script := align(fa, fb, maxDist)
	// Within each run between two matches, the deletions first, as a text
	// diff lists them: any order of a run's edits is a valid script.
	for lo := 0; lo < len(script); lo++ {
		hi := lo
		for hi < len(script) && script[hi].op != eMatch {
			hi++
		}
		slices.SortStableFunc(script[lo:hi], func(x, y edit) int { return int(x.op) - int(y.op) })
		lo = hi
	}

	// partner[e] is the script index of the edit paired with edit e (a
	// deletion with an insertion), -1 for none; kind says how.
	partner := make([]int, len(script))
	kinds := make([]OpKind, len(script))
	for e := range partner {
		partner[e] = -1
	}
	pair := func(d, i int, k OpKind) {
		partner[d], partner[i] = i, d
		kinds[d], kinds[i] = k, k
	}

	// A deletion and an insertion of equal messages anywhere in the
	// direction: the message moved.
	ins := map[uint64][]int{}
	for e, ed := range script {
		if ed.op == eIns {
			ins[fb[ed.j]] = append(ins[fb[ed.j]], e)
		}
	}
	for e, ed := range script {
		if ed.op != eDel {
			continue
		}
		if q := ins[fa[ed.i]]; len(q) > 0 {
			pair(e, q[0], Reordered)
			ins[fa[ed.i]] = q[1:]
		}
	}

	// Within each run between two matches, the deletions and insertions
	// of the same kind of message, in order: the message changed.
	for lo := 0; lo < len(script); {
		if script[lo].op == eMatch {
			lo++
			continue
		}
		hi := lo
		for hi < len(script) && script[hi].op != eMatch {
			hi++
		}
		queue := map[string][]int{}
		for e := lo; e < hi; e++ {
			if script[e].op == eIns && partner[e] < 0 {
				k := kindKey(bs[script[e].j])
				queue[k] = append(queue[k], e)
			}
		}
		if len(queue) > 0 {
			for e := lo; e < hi; e++ {
				if script[e].op != eDel || partner[e] >= 0 {
					continue
				}
				k := kindKey(as[script[e].i])
				if q := queue[k]; len(q) > 0 {
					pair(e, q[0], Changed)
					queue[k] = q[1:]
				}
			}
		}
		lo = hi
	}

	// One op for each edit, and for each pair at the place of its
	// deletion: in A's order.
	ops := make([]Op, 0, max(len(as), len(bs)))
	for e, ed := range script {
		p := partner[e]
		switch {
		case ed.op == eMatch:
			ops = append(ops, Op{Kind: Same, A: as[ed.i], B: bs[ed.j]})
		case p >= 0 && ed.op == eIns:
			// emitted with its deletion
		case p >= 0:
			op := Op{Kind: kinds[e], A: as[ed.i], B: bs[script[p].j]}
			if op.Kind == Changed {
				op.Changes = c.compare(op.A, op.B)
				if op.Changes == nil { // equal after all (a repeated JSON key)
					op.Kind = Same
				}
			}
			ops = append(ops, op)
		case ed.op == eDel:
			ops = append(ops, Op{Kind: Missing, A: as[ed.i]})
		default:
			ops = append(ops, Op{Kind: Inserted, B: bs[ed.j]})
		}
	}
	return ops
}

// volatileHeaders differ on every connection, by design.
var volatileHeaders = []string{"Sec-Websocket-Key", "Sec-Websocket-Accept", "Date"}

// handshake compares the handshakes of two sessions.
func handshake(a, b *Session, ignore []Path) []Change {
	var out []Change
	field := func(path, av, bv string) {
		if av != bv && !ignoredField(ignore, path, "") {
			out = append(out, Change{Path: path, Kind: KindChanged, A: av, B: bv})
		}
	}
	field("url", jsonString(requestURI(a.URL)), jsonString(requestURI(b.URL)))
	field("status", strconv.Itoa(a.Status), strconv.Itoa(b.Status))
	field("subprotocol", jsonString(a.Subprotocol), jsonString(b.Subprotocol))
	field("extensions", jsonString(a.Extensions), jsonString(b.Extensions))
	out = append(out, headers("request", a.RequestHeaders, b.RequestHeaders, ignore)...)
	out = append(out, headers("response", a.ResponseHeaders, b.ResponseHeaders, ignore)...)
	return out
}

// requestURI is the path and query of a URL: what a session's URL says
// about the conversation wherever the server runs.
func requestURI(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return s
	}
	return u.RequestURI()
}

func headers(section string, a, b http.Header, ignore []Path) []Change {
	names := map[string]bool{}
	for n := range a {
		names[http.CanonicalHeaderKey(n)] = true
	}
	for n := range b {
		names[http.CanonicalHeaderKey(n)] = true
	}
	sorted := make([]string, 0, len(names))
	for n := range names {
		if !slices.Contains(volatileHeaders, n) && !ignoredField(ignore, section, n) {
			sorted = append(sorted, n)
		}
	}
	slices.Sort(sorted)
	var out []Change
	for _, n := range sorted {
		av, aok := headerValue(a, n)
		bv, bok := headerValue(b, n)
		path := section + "." + joinPath([]string{n})
		switch {
		case aok && !bok:
			out = append(out, Change{Path: path, Kind: KindRemoved, A: jsonString(av)})
		case bok && !aok:
			out = append(out, Change{Path: path, Kind: KindAdded, B: jsonString(bv)})
		case av != bv:
			out = append(out, Change{Path: path, Kind: KindChanged, A: jsonString(av), B: jsonString(bv)})
		}
	}
	return out
}

// headerValue joins the values of header name (canonical), whatever the
// case of the map's key.
func headerValue(h http.Header, name string) (string, bool) {
	var vs []string
	found := false
	for k, v := range h {
		if http.CanonicalHeaderKey(k) == name {
			vs = append(vs, v...)
			found = true
		}
	}
	return strings.Join(vs, ", "), found
}

// timing measures the pace of a session.
func timing(s *Session) SideTiming {
	var t SideTiming
	if !s.Start.IsZero() && s.End.After(s.Start) {
		t.Duration = s.End.Sub(s.Start)
	}
	for i := range s.Messages {
		m := &s.Messages[i]
		if m.Dir == capture.ClientToServer {
			t.Client.Messages++
		} else {
			t.Server.Messages++
		}
		if i == 0 {
			continue
		}
		p := &s.Messages[i-1]
		g := Gap{Length: m.Time.Sub(p.Time), After: Ref{p.Dir, p.Index}, Before: Ref{m.Dir, m.Index}}
		// Keep the 3 longest, the earlier first among equals.
		at := len(t.Gaps)
		for at > 0 && t.Gaps[at-1].Length < g.Length {
			at--
		}
		if at < 3 {
			t.Gaps = slices.Insert(t.Gaps, at, g)
			if len(t.Gaps) > 3 {
				t.Gaps = t.Gaps[:3]
			}
		}
	}
	if secs := t.Duration.Seconds(); secs > 0 {
		t.Client.Rate = float64(t.Client.Messages) / secs
		t.Server.Rate = float64(t.Server.Messages) / secs
	}
	return t
}

package sessiondiff

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/wstap/wstap/capture"
)

// FuzzParsePath checks that ParsePath never panics, that its errors are
// *PathError of one line, and that a path without wildcards matches the
// fields it names.
func FuzzParsePath(f *testing.F) {
	for _, s := range []string{"ts", "user.name", "items.#.id", `a\.b`, "a..b", `a\`, "us*r.?", "#(x)", "@this", "a|b", "[a]", "#", `\#`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParsePath(s)
		if err != nil {
			var pe *PathError
			if !errors.As(err, &pe) || strings.ContainsAny(err.Error(), "\n\r") && !strings.ContainsAny(s, "\n\r") {
				t.Fatalf("ParsePath(%q) error %v (%T)", s, err, err)
			}
			return
		}
		if p.String() != s {
			t.Errorf("ParsePath(%q).String() = %q", s, p.String())
		}
		fields := make([]string, 0, len(p.segs))
		for _, seg := range p.segs {
			switch {
			case seg.any:
				fields = append(fields, "0")
			case seg.wild:
				return
			default:
				fields = append(fields, seg.lit)
			}
		}
		if !p.Match(fields) || !p.Match(append(fields, "below")) {
			t.Errorf("ParsePath(%q) does not match %q", s, fields)
		}
		// The path written from the fields reads back as the same path.
		if !p.Match(fields) {
			return
		}
		if q, err := ParsePath(joinPath(fields)); err == nil && !q.Match(fields) {
			t.Errorf("ParsePath(joinPath(%q)) = %q does not match", fields, joinPath(fields))
		}
	})
}

// FuzzCompare checks that Compare never panics, finds a message equal to
// itself, is symmetric in whether it finds differences, and agrees with
// Fingerprint.
func FuzzCompare(f *testing.F) {
	for _, p := range [][2]string{
		{`{"a":1}`, `{"a":1.0}`}, {`{"a":[1,{"b":2}]}`, `{"a":[1,{"b":3}],"c":null}`}, {`"x"`, `"\u0078"`},
		{"plain", "plainer"}, {`{"a":1,"a":2}`, `{"a":1}`}, {`[[[]]]`, `[[{}]]`}, {`1e5`, `100000`}, {"", "\x00"},
	} {
		f.Add([]byte(p[0]), []byte(p[1]), true, false)
	}
	f.Fuzz(func(t *testing.T, a, b []byte, text, binary bool) {
		op := func(text bool) capture.Opcode {
			if text {
				return capture.OpText
			}
			return capture.OpBinary
		}
		ma := Message{Dir: capture.ClientToServer, Opcode: op(text), Data: a}
		mb := Message{Dir: capture.ClientToServer, Opcode: op(text != binary), Data: b}
		opts := Options{Ignore: paths("ts", "a.#.b")}
		if ch := Compare(ma, ma, opts); ch != nil {
			t.Fatalf("Compare(a, a) = %+v for %q", ch, a)
		}
		ab, ba := Compare(ma, mb, opts), Compare(mb, ma, opts)
		if (ab == nil) != (ba == nil) {
			t.Fatalf("Compare(%q, %q) = %+v but the other way %+v", a, b, ab, ba)
		}
		if Fingerprint(ma, opts) == Fingerprint(mb, opts) && ab != nil {
			t.Fatalf("Compare(%q, %q) = %+v, yet their fingerprints are equal", a, b, ab)
		}
		if ab == nil && !bytes.Equal(a, b) && ma.Opcode != capture.OpText {
			t.Fatalf("Compare(%q, %q) of binary payloads = nil", a, b)
		}
		for _, c := range ab {
			formatChange(c) // never panics
		}
	})
}

// FuzzDiff checks that Diff never panics, that a session is the same as
// itself, and that every message of each side is in exactly one op.
func FuzzDiff(f *testing.F) {
	f.Add([]byte("a\nb\nc"), []byte("a\nc\nb\nd"))
	f.Add([]byte(`{"type":"x","n":1}`+"\n"+`{"type":"y"}`), []byte(`{"type":"y"}`+"\n"+`{"type":"x","n":2}`))
	f.Add([]byte("\x01\x02\n\n\n"), []byte(""))
	f.Fuzz(func(t *testing.T, a, b []byte) {
		sa, sb := fuzzSession("a", a), fuzzSession("b", b)
		if res := Diff(sa, sa, Options{}); !res.Same() {
			t.Fatalf("Diff(s, s) is not the same for %q", a)
		}
		for _, opts := range []Options{{}, {MaxDistance: 2, Ignore: paths("n")}} {
			res := Diff(sa, sb, opts)
			for _, d := range []struct {
				ops  []Op
				dir  capture.Direction
				a, b *Session
			}{{res.Client, capture.ClientToServer, sa, sb}, {res.Server, capture.ServerToClient, sa, sb}} {
				seenA, seenB := map[*Message]int{}, map[*Message]int{}
				for _, op := range d.ops {
					if op.A != nil {
						seenA[op.A]++
					}
					if op.B != nil {
						seenB[op.B]++
					}
					if (op.Kind == Same || op.Kind == Reordered) && Compare(*op.A, *op.B, opts) != nil {
						t.Fatalf("%v op of unequal messages %q, %q", op.Kind, op.A.Data, op.B.Data)
					}
					if op.Kind == Changed && len(op.Changes) == 0 {
						t.Fatal("a Changed op without changes")
					}
				}
				for _, s := range []struct {
					sess *Session
					seen map[*Message]int
				}{{d.a, seenA}, {d.b, seenB}} {
					for i := range s.sess.Messages {
						m := &s.sess.Messages[i]
						if m.Dir == d.dir && s.seen[m] != 1 {
							t.Fatalf("message %q is in %d ops", m.Data, s.seen[m])
						}
					}
				}
			}
			var out bytes.Buffer
			if err := res.WriteText(&out, true); err != nil {
				t.Fatal(err)
			}
			if err := res.WriteJSONL(&out); err != nil {
				t.Fatal(err)
			}
		}
	})
}

// fuzzSession makes a session of the lines of p: a line that starts with
// "<" is the server's, one with a 0x01 byte binary.
func fuzzSession(name string, p []byte) *Session {
	var ms []Message
	for line := range bytes.SplitSeq(p, []byte("\n")) {
		m := c(string(line))
		if bytes.HasPrefix(line, []byte("<")) {
			m = s(string(line[1:]))
		}
		if bytes.IndexByte(line, 1) >= 0 {
			m.Opcode = capture.OpBinary
		}
		ms = append(ms, m)
	}
	return session(name, ms...)
}

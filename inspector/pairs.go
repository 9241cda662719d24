package inspector

import (
	"fmt"
	"strings"
	"time"

	"github.com/wstap/wstap/capture"
	"github.com/wstap/wstap/internal/present"
	"github.com/wstap/wstap/internal/sessiondiff"
)

// The side-by-side lists (the replies to a resent message, the diff of two
// sessions) draw one aligned pair a line: the left message, a marker, the
// right message.

// marker is the character between the halves of a pair.
func marker(k sessiondiff.OpKind) string {
	switch k {
	case sessiondiff.Same:
		return "="
	case sessiondiff.Changed:
		return "~"
	case sessiondiff.Inserted:
		return "+"
	case sessiondiff.Missing:
		return "-"
	case sessiondiff.Reordered:
		return "↕"
	}
	return "?"
}

// halves splits the width w into the gutter (1), the left half, the
// marker column (3) and the right half.
func halves(w int) (left, right int) {
	left = max((w-4)/2, 1)
	return left, max(w-4-left, 1)
}

// pairCell is one half of a pair: the message's offset from base, its
// direction (when arrow), opcode, size and a preview, in w cells.
func pairCell(msg *sessiondiff.Message, base time.Time, arrow bool, w int) string {
	if msg == nil {
		return fit("", w)
	}
	s := fmt.Sprintf("%-8s ", present.Offset(msg.Time.Sub(base)))
	if arrow {
		s += present.Arrow(msg.Dir) + " "
	}
	s += fmt.Sprintf("%-6s %7s  ", opName(msg.Opcode), present.Bytes(int64(len(msg.Data))))
	pw := max(w-len([]rune(s)), 4)
	cm := capture.Message{Opcode: msg.Opcode, Data: msg.Data}
	if len(cm.Data) > 4*pw+16 {
		cm.Data = cm.Data[:4*pw+16] // a preview never needs more
	}
	return fit(s+present.Payload(&cm, pw), w)
}

// pairLine draws one aligned pair at the width w, styled by its kind.
func (th *theme) pairLine(op *sessiondiff.Op, cursor bool, baseA, baseB time.Time, arrow bool, w int) string {
	lw, rw := halves(w)
	gut := " "
	if cursor {
		gut = ">"
	}
	s := gut + pairCell(op.A, baseA, arrow, lw) + " " + marker(op.Kind) + " " + pairCell(op.B, baseB, arrow, rw)
	s = fit(s, w)
	switch {
	case cursor:
		return th.cursor.Render(s)
	case op.Kind == sessiondiff.Changed:
		return th.changed.Render(s)
	case op.Kind == sessiondiff.Inserted:
		return th.inserted.Render(s)
	case op.Kind == sessiondiff.Missing:
		return th.missing.Render(s)
	case op.Kind == sessiondiff.Reordered:
		return th.reordered.Render(s)
	}
	return s
}

// pairHead is the heading over the two halves.
func (th *theme) pairHead(left, right string, w int) string {
	lw, _ := halves(w)
	return th.header.Render(fit(" "+fit(left, lw)+"   "+right, w))
}

// changeLines lists what differs in a pair: one line per field change,
// "path: A → B", or what is missing. The lines are not cut to a width.
func changeLines(op *sessiondiff.Op, leftName, rightName string) []string {
	var out []string
	switch op.Kind {
	case sessiondiff.Same:
		return []string{"  the same in " + leftName + " and " + rightName}
	case sessiondiff.Inserted:
		return []string{"  only " + rightName}
	case sessiondiff.Missing:
		return []string{"  only " + leftName}
	case sessiondiff.Reordered:
		out = append(out, "  the same message, at another place in the order")
	}
	for _, c := range op.Changes {
		out = append(out, "  "+changeText(c))
	}
	if len(out) == 0 {
		out = append(out, "  differs")
	}
	return out
}

// changeText is one field change: "path: A → B" (the payload itself when
// the path is empty, with the offset where bytes first differ).
func changeText(c sessiondiff.Change) string {
	path := c.Path
	if path == "" {
		path = "payload"
		if c.Offset > 0 {
			path += fmt.Sprintf(" (from byte %d)", c.Offset)
		}
	}
	a, b := oneLine(c.A), oneLine(c.B)
	switch {
	case c.A == "" && c.B != "":
		a = "(absent)"
	case c.B == "" && c.A != "":
		b = "(absent)"
	}
	s := path + ": " + a + " → " + b
	if c.Kind != "" && c.Kind != "changed" {
		s += "  (" + c.Kind + ")"
	}
	return s
}

// oneLine escapes s onto one line, cut at 200 runes.
func oneLine(s string) string {
	return present.Escape(strings.TrimSpace(s), 200)
}

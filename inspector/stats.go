package inspector

import "strings"

var sparkRunes = []rune("▁▂▃▄▅▆▇█")

// sparkCache keeps the last sparklines drawn, so that a redraw with no new
// rows costs nothing whatever the connection's length.
type sparkCache struct {
	rows, width int
	lines       [2]string
}

// sparklines draws the message rate of the client and of the server over
// the connection's life in width cells each, on one shared scale.
func (cs *connState) sparklines(width int) [2]string {
	c := &cs.spark
	if c.rows == cs.st.len() && c.width == width && c.rows > 0 {
		return c.lines
	}
	c.rows, c.width = cs.st.len(), width
	n := max(len(cs.st.rate[0]), len(cs.st.rate[1]))
	cells := min(width, max(n, 1))
	var sums [2][]int64
	var peak int64
	for k := range 2 {
		sums[k] = make([]int64, cells)
		for sec, v := range cs.st.rate[k] {
			cell := sec * cells / max(n, 1)
			sums[k][cell] += int64(v)
			peak = max(peak, sums[k][cell])
		}
	}
	for k := range 2 {
		var b strings.Builder
		for _, v := range sums[k] {
			switch {
			case v == 0:
				b.WriteByte(' ')
			default:
				b.WriteRune(sparkRunes[int(v*int64(len(sparkRunes)-1)/max(peak, 1))])
			}
		}
		c.lines[k] = b.String() + strings.Repeat(" ", width-cells)
	}
	return c.lines
}

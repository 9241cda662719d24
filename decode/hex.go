package decode

// hexDoc is a hex dump computed line by line from the payload, in the
// layout of hexdump -C:
//
//	00000000  de ad be ef 00 01 02 03  04 05 06 07 08 09 0a 0b  |................|
//
// The offset has 8 hex digits, or more when the payload is 4 GiB or more.
// Spans: Offset for the offset, Punct for the bars, Meta for the ASCII
// column; the bytes are Plain.
type hexDoc struct {
	data   []byte
	digits int
}

func newHexDoc(data []byte) *hexDoc {
	digits := 8
	for n := uint64(len(data)) >> 32; n > 0; n >>= 4 {
		digits++
	}
	return &hexDoc{data: data, digits: digits}
}

func (h *hexDoc) Len() int { return (len(h.data) + 15) / 16 }

func (h *hexDoc) Line(i int) Line {
	if i < 0 || i >= h.Len() {
		return Line{}
	}
	const hexd = "0123456789abcdef"
	off := i * 16
	row := h.data[off:min(off+16, len(h.data))]
	b := make([]byte, 0, h.digits+70)
	for k := h.digits - 1; k >= 0; k-- {
		b = append(b, hexd[uint64(off)>>(4*k)&15])
	}
	b = append(b, ' ', ' ')
	for k := range 16 {
		if k == 8 {
			b = append(b, ' ')
		}
		if k < len(row) {
			b = append(b, hexd[row[k]>>4], hexd[row[k]&15], ' ')
		} else {
			b = append(b, ' ', ' ', ' ')
		}
	}
	bar := len(b) + 1
	b = append(b, ' ', '|')
	for _, c := range row {
		if !printable[c] {
			c = '.'
		}
		b = append(b, c)
	}
	b = append(b, '|')
	return Line{Text: string(b), Spans: []Span{
		{0, h.digits, Offset},
		{bar, bar + 1, Punct},
		{bar + 1, len(b) - 1, Meta},
		{len(b) - 1, len(b), Punct},
	}}
}

package capture

import (
	"cmp"
	"fmt"
	"io"
	"os"
	"slices"
)

// Report is what Verify found in a capture.
type Report struct {
	Size     int64          // bytes in the file
	Chunks   int            // chunks whose header checks out
	Records  uint64         // records in the chunks that read back whole
	Damage   []*DamageError // every damaged range and inconsistency, in file order
	Tail     *TailError     // the torn tail, if the file ends in one
	Complete bool           // the file ends in a valid footer
}

// Intact reports whether Verify found nothing wrong.
func (rep *Report) Intact() bool { return len(rep.Damage) == 0 && rep.Tail == nil }

// VerifyFile is Verify of the file at path.
func VerifyFile(path string) (*Report, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("capture: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("capture: %w", err)
	}
	rep, err := Verify(f, fi.Size())
	if err != nil {
		return nil, fmt.Errorf("verify capture %s: %w", path, err)
	}
	return rep, nil
}

// Verify checks every frame head and checksum of a capture, decodes every
// record, and reports each damaged range: bytes that fail their checks, a
// chunk whose record count disagrees with its header, records missing
// between chunks (a gap in seq0), and a footer whose checkpoint chain does
// not hold. It walks the frames rather than trusting the index, and never
// stops at damage. The error is for a file that is not a capture at all.
func Verify(ra io.ReaderAt, size int64) (*Report, error) {
	r, err := newReader(ra, size, true)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	rep := &Report{Size: size, Chunks: len(r.chunks), Complete: r.final, Tail: r.tail}
	damage := append([]*DamageError(nil), r.damage...)
	cur := r.cursor()
	next := uint64(0) // the seq0 the next chunk should have
	for i := range r.chunks {
		e := r.chunks[i]
		if e.Seq0 > next {
			if d := endingAt(damage, e.Offset); d != nil { // the damage explains the gap
				d.Reason += fmt.Sprintf("; records %d–%d lost", next, e.Seq0-1)
			} else {
				damage = append(damage, &DamageError{Offset: e.Offset, End: e.Offset,
					Reason: fmt.Sprintf("records %d–%d are missing (the chunk's seq0 is %d, %d was next)", next, e.Seq0-1, e.Seq0, next)})
			}
		} else if e.Seq0 < next {
			damage = append(damage, &DamageError{Offset: e.Offset, End: e.Offset,
				Reason: fmt.Sprintf("the chunk's seq0 %d goes back (%d was next)", e.Seq0, next)})
		}
		next = e.Seq0 + uint64(e.NRec)
		if r.bad[e.Offset] {
			continue // found while opening, and in r.damage already
		}
		cur.scratch.reset()
		if _, err := r.decodeChunk(&e, size, cur, &cur.scratch); err != nil {
			damage = append(damage, &DamageError{Offset: e.Offset, End: chunkEnd(&e), Reason: err.Error()})
			continue
		}
		if cur.disk != int(e.NRec) {
			damage = append(damage, &DamageError{Offset: e.Offset, End: chunkEnd(&e),
				Reason: fmt.Sprintf("the chunk holds %d records, its header says %d", cur.disk, e.NRec)})
		}
		rep.Records += uint64(cur.disk)
	}
	cps, state := r.footerChain()
	for _, cp := range cps { // the index a reader trusts must name the chunks the walk found
		for _, ce := range cp.Chunks {
			if inDamage(damage, ce.Offset) {
				continue // reported already
			}
			if i, ok := r.chunkAt(ce.Offset); !ok || r.chunks[i].CLen != ce.CLen || r.chunks[i].Seq0 != ce.Seq0 ||
				r.chunks[i].NRec != ce.NRec {
				damage = append(damage, &DamageError{Offset: ce.Offset, End: ce.Offset,
					Reason: "the index names a chunk here that the file does not hold (a reader using the index misses records)"})
			}
		}
	}
	if state == badFooter {
		off := size - frameHeadSize - footerSize
		damage = append(damage, &DamageError{Offset: off, End: size,
			Reason: "the footer's checkpoint chain does not hold (the records are all indexed by walking the frames)"})
	}
	slices.SortStableFunc(damage, func(a, b *DamageError) int { return cmp.Compare(a.Offset, b.Offset) })
	rep.Damage = damage
	return rep, nil
}

// inDamage reports whether off lies in one of the damaged ranges.
func inDamage(damage []*DamageError, off int64) bool {
	for _, d := range damage {
		if off >= d.Offset && off < max(d.End, d.Offset+1) {
			return true
		}
	}
	return false
}

// endingAt returns the damaged range that ends at off, if any.
func endingAt(damage []*DamageError, off int64) *DamageError {
	for _, d := range damage {
		if d.End == off {
			return d
		}
	}
	return nil
}

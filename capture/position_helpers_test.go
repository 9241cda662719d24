package capture

import "reflect"

// sameRecord is reflect.DeepEqual for records, ignoring a read chunk's
// position in its file (Chunk.seq), which a written record does not have.
func sameRecord(a, b Record) bool {
	ca, okA := a.(*Chunk)
	cb, okB := b.(*Chunk)
	if okA && okB {
		x, y := *ca, *cb
		x.seq, y.seq = 0, 0
		return reflect.DeepEqual(&x, &y)
	}
	return reflect.DeepEqual(a, b)
}

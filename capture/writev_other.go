//go:build !(darwin || linux || openbsd)

package capture

// writeVec writes the pieces of vec to f in order and returns how many
// bytes it wrote.
func writeVec(f file, vec [][]byte) (int, error) { return writeEach(f, vec) }

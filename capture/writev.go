package capture

// writeEach writes the pieces of vec to f one Write each, and returns how
// many bytes it wrote: writeVec where there is no vectored write.
func writeEach(f file, vec [][]byte) (int, error) {
	total := 0
	for _, p := range vec {
		n, err := f.Write(p)
		total += n
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

// advance drops the first n bytes from vec, which holds n or more, and the
// empty pieces that would come first then.
func advance(vec [][]byte, n int) [][]byte {
	for len(vec) > 0 && n >= len(vec[0]) {
		n -= len(vec[0])
		vec = vec[1:]
	}
	if n > 0 {
		vec[0] = vec[0][n:]
	}
	return vec
}

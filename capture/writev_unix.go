//go:build darwin || linux || openbsd

package capture

import (
	"os"

	"golang.org/x/sys/unix"
)

// writeVec writes the pieces of vec to f in order and returns how many
// bytes it wrote. To a file of the system it makes one writev(2) for them,
// more only when the kernel takes less than all (a full disk), so a raw
// chunk goes out straight from its batch without being copied into one
// buffer first.
func writeVec(f file, vec [][]byte) (int, error) {
	of, ok := f.(*os.File)
	if !ok {
		return writeEach(f, vec)
	}
	rc, err := of.SyscallConn()
	if err != nil {
		return writeEach(f, vec)
	}
	total := 0
	for vec = advance(vec, 0); len(vec) > 0; {
		var n int
		var werr error
		if err := rc.Write(func(fd uintptr) bool {
			n, werr = unix.Writev(int(fd), vec)
			return werr != unix.EAGAIN
		}); err != nil {
			// Closed, most likely: let os say so as it does for Write.
			m, err := writeEach(f, vec)
			return total + m, err
		}
		if werr == unix.EINTR {
			continue
		}
		if werr != nil {
			return total, &os.PathError{Op: "write", Path: of.Name(), Err: werr}
		}
		if n == 0 {
			return total, &os.PathError{Op: "write", Path: of.Name(), Err: unix.EIO}
		}
		total += n
		vec = advance(vec, n)
	}
	return total, nil
}

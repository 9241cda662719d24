package capture

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// RepairStats says what Repair salvaged.
type RepairStats struct {
	Records  uint64 // records written to the new file
	Damage   int    // damaged ranges passed over
	Torn     bool   // the source ended in a torn tail
	SrcBytes int64  // size of the source
	DstBytes int64  // size of the new file
}

// Repair writes every readable record of the capture at src into a new
// capture at dst, which must not exist: in the same order, with the same
// connection and exchange IDs and times, behind a fresh index and a footer.
// It walks src's frames rather than trusting its index, reads on past
// damage and never writes to src. dst appears only once it is complete
// (written beside it, synced, then linked into place), as restic's repair
// does. Every chunk of dst is compressed (CompressAlways), so Repair also
// compresses a capture that a writer behind on its work stored raw.
func Repair(src, dst string) (RepairStats, error) {
	var st RepairStats
	if same, err := sameFile(src, dst); err != nil || same {
		if err == nil {
			err = errors.New("the output is the input; repair never rewrites a capture in place")
		}
		return st, fmt.Errorf("capture: repair %s: %w", src, err)
	}
	if _, err := os.Lstat(dst); err == nil {
		return st, fmt.Errorf("capture: repair: %s exists; choose a new output file", dst)
	}
	f, err := os.Open(src)
	if err != nil {
		return st, fmt.Errorf("capture: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return st, fmt.Errorf("capture: %w", err)
	}
	st.SrcBytes = fi.Size()
	r, err := newReader(f, fi.Size(), true)
	if err != nil {
		return st, fmt.Errorf("repair capture %s: %w", src, err)
	}
	defer r.Close()

	err = CreateNew(dst, Options{Tool: r.Header().Tool, Compression: CompressAlways}, func(w *Writer) error {
		var held *Frame // a frame whose chunk may take it back in (see Chunk.Frame)
		flush := func() error {
			if held == nil {
				return nil
			}
			f := held
			held = nil
			st.Records++
			return w.restore(f)
		}
		for rec, err := range r.Records(Filter{}) {
			switch {
			case IsDamage(err):
				st.Damage++
				continue
			case errors.Is(err, ErrTornTail):
				st.Torn = true
				continue
			case err != nil:
				return fmt.Errorf("repair capture %s: %w", src, err)
			}
			if c, ok := rec.(*Chunk); ok && held != nil && foldable(held, c) {
				cc := *c
				cc.Frame, held = held, nil
				st.Records++
				if err := w.restore(&cc); err != nil {
					return err
				}
				continue
			}
			if err := flush(); err != nil {
				return err
			}
			if f, ok := rec.(*Frame); ok {
				held = f
				continue
			}
			st.Records++
			if err := w.restore(rec); err != nil {
				return err
			}
		}
		return flush()
	})
	if err != nil {
		return st, err
	}
	fi, err = os.Stat(dst)
	if err != nil {
		return st, fmt.Errorf("capture: %w", err)
	}
	st.DstBytes = fi.Size()
	return st, nil
}

// CreateNew writes a new capture at path with fill. The capture is written
// beside path under a temporary name and linked into place once fill and
// the writer's Close succeeded: path appears complete or not at all, and an
// existing file is never replaced.
func CreateNew(path string, opts Options, fill func(*Writer) error) error {
	if _, err := os.Lstat(path); err == nil {
		return fmt.Errorf("%s exists; choose a new output file", path)
	}
	var suffix [6]byte
	rand.Read(suffix[:])
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".tmp-"+hex.EncodeToString(suffix[:]))
	w, err := Create(tmp, opts)
	if err != nil {
		return err
	}
	defer os.Remove(tmp)
	err = fill(w)
	if cerr := w.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if err := os.Link(tmp, path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("%s exists; choose a new output file", path)
		}
		// A file system without hard links: rename, which replaces, once
		// more making sure there is nothing to replace.
		if _, serr := os.Lstat(path); !errors.Is(serr, fs.ErrNotExist) {
			return fmt.Errorf("capture: %w", err)
		}
		if err := os.Rename(tmp, path); err != nil {
			return fmt.Errorf("capture: %w", err)
		}
	}
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// foldable reports whether frame f is exactly the one frame that carried
// chunk c's whole message, so the writer keeps them in one record again,
// as the original writer did.
func foldable(f *Frame, c *Chunk) bool {
	return f.Conn == c.Conn && f.Dir == c.Dir && f.Time.Equal(c.Time) && c.First && c.Last && f.Fin &&
		f.Opcode == c.Opcode && f.Length == int64(len(c.Data)) && f.Dropped == c.Dropped
}

func sameFile(a, b string) (bool, error) {
	fa, err := os.Stat(a)
	if err != nil {
		return false, err
	}
	fb, err := os.Stat(b)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return os.SameFile(fa, fb), nil
}

// restore writes a record read from another capture as it was: a ConnOpen
// or HTTP keeps its ID, and records of a connection whose open record was
// lost are kept too. Records must come in their file order.
func (w *Writer) restore(rec Record) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.usable(); err != nil {
		return err
	}
	switch x := rec.(type) {
	case *ConnOpen:
		w.nextConn = max(w.nextConn, x.Conn)
	case *HTTP:
		w.nextHTTP = max(w.nextHTTP, x.ID)
	default:
		w.nextConn = max(w.nextConn, rec.ConnID())
	}
	return w.appendLocked(rec)
}

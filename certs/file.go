package certs

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"syscall"
)

// WriteFile writes data to path with mode perm so that path never holds
// part of it: the data goes to a temporary file in the same directory,
// which is synced and then renamed (overwrite) or hard-linked (no
// overwrite) to path, and the directory is synced, in restic's order.
//
// Unless overwrite is set, an existing path is left alone and the error
// wraps fs.ErrExist; the link fails rather than replace a file another
// process put there first. On a file system without hard links, an
// exclusive create of path takes the link's place, which a concurrent
// reader might see half-written.
func WriteFile(path string, data []byte, perm fs.FileMode, overwrite bool) error {
	fail := func(err error) error { return fmt.Errorf("certs: write %s: %w", path, unwrapPath(err)) }
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fail(err)
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	if err := writeSync(f, data, perm); err != nil {
		return fail(err)
	}
	if overwrite {
		err = os.Rename(tmp, path)
	} else {
		err = link(tmp, path, data, perm)
	}
	if err != nil {
		return fail(err)
	}
	if err := syncDir(dir); err != nil {
		return fail(err)
	}
	return nil
}

// link gives the synced temporary file tmp the name path unless path
// exists, in which case the error wraps fs.ErrExist.
func link(tmp, path string, data []byte, perm fs.FileMode) error {
	err := os.Link(tmp, path)
	if err == nil || errors.Is(err, fs.ErrExist) {
		return unwrapPath(err)
	}
	// No hard links here: an exclusive create refuses to replace too.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	if err := writeSync(f, data, perm); err != nil {
		os.Remove(path)
		return err
	}
	return nil
}

// writeSync writes data to f, sets its mode, syncs and closes it.
func writeSync(f *os.File, data []byte, perm fs.FileMode) error {
	_, err := f.Write(data)
	if err == nil {
		err = f.Chmod(perm)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// syncDir makes the entries of dir durable. Windows cannot sync a directory
// and needs not to; file systems that cannot are forgiven too.
func syncDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, errors.ErrUnsupported) && !errors.Is(err, syscall.EINVAL) {
		return err
	}
	return nil
}

// unwrapPath drops the *fs.PathError or *os.LinkError around err, whose
// path the caller's message already names.
func unwrapPath(err error) error {
	if pe, ok := errors.AsType[*fs.PathError](err); ok {
		return pe.Err
	}
	if le, ok := errors.AsType[*os.LinkError](err); ok {
		return le.Err
	}
	return err
}

package main

import "syscall"

// childAttr makes a child die with compare (SIGKILL when compare's thread
// that started it ends), so that a killed compare leaves no proxy behind.
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}

// raiseNoFile raises the soft limit on open files to at least want (up to
// the hard limit) and returns the limit in force. Setting it explicitly
// also makes the children inherit it (Go restores the original limit in
// children only when the program never set it).
func raiseNoFile(want uint64) (uint64, error) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0, err
	}
	lim.Cur = max(lim.Cur, min(want, lim.Max))
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0, err
	}
	return lim.Cur, nil
}

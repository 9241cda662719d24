//go:build !linux

package main

import (
	"errors"
	"syscall"
)

func childAttr() *syscall.SysProcAttr { return nil }

func raiseNoFile(uint64) (uint64, error) {
	return 0, errors.New("compare: raising RLIMIT_NOFILE is implemented for Linux only")
}

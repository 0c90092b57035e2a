// Package statelock keeps two gatewayd processes from writing one state
// directory: each would acknowledge blocklist changes and bans the other
// then overwrites (two pushes both "applied" as the same version, one of
// them lost at the next restart). The lock is flock(2) on a file in the
// directory, held for the life of the process and released by the kernel
// when it exits, crash included; an upgrade hands the locked file to the
// successor (the lock belongs to the open file, which both then share).
package statelock

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// FileName is the lock file in the state directory.
const FileName = "gatewayd.lock"

// Acquire locks dir for this process and returns the locked file, to keep
// open as long as the process uses dir. inherited, when not nil, is the
// lock file a predecessor handed over (already locked): it is returned as
// it is. Another live process holding the lock is an error naming its pid.
func Acquire(dir string, inherited *os.File) (*os.File, error) {
	path := filepath.Join(dir, FileName)
	if inherited != nil {
		// The predecessor's lock, if it is this directory's (the new
		// config may name another state_dir: then lock that one).
		if sameFile(inherited, path) {
			writePid(inherited)
			return inherited, nil
		}
		inherited.Close()
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("lock state directory: %w", err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock state directory: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		defer f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			b, _ := os.ReadFile(path)
			holder := strings.TrimSpace(string(b))
			if _, perr := strconv.Atoi(holder); perr != nil {
				holder = "unknown"
			}
			return nil, fmt.Errorf("management.state_dir %s is in use by another gatewayd (pid %s): two processes writing one blocklist and ban state would lose each other's changes; give each its own state_dir", dir, holder)
		}
		return nil, fmt.Errorf("lock state directory %s: %w", dir, err)
	}
	writePid(f)
	return f, nil
}

// writePid records the holder's pid, for the message of a refused
// Acquire (not for locking).
func writePid(f *os.File) {
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
}

// sameFile reports whether f is the file at path.
func sameFile(f *os.File, path string) bool {
	a, err := f.Stat()
	if err != nil {
		return false
	}
	b, err := os.Stat(path)
	return err == nil && os.SameFile(a, b)
}

// Dup returns a second descriptor of the locked file, to hand to a
// successor: it shares the lock, and closing it after the hand-over leaves
// this process's own.
func Dup(f *os.File) (*os.File, error) {
	// Close-on-exec: only the hand-over passes it on, not any process
	// the successor (or a wrapper script) starts.
	fd, err := unix.FcntlInt(f.Fd(), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("hand over state lock: %w", err)
	}
	return os.NewFile(uintptr(fd), f.Name()), nil
}

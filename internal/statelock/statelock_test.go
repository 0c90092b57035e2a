package statelock

import (
	"os"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func TestOneHolderAtATime(t *testing.T) {
	dir := t.TempDir()
	first, err := Acquire(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = Acquire(dir, nil)
	if err == nil || !strings.Contains(err.Error(), "in use by another gatewayd (pid "+strconv.Itoa(os.Getpid())+")") {
		t.Fatalf("second Acquire: %v", err)
	}
	// A successor's copy shares the lock: closing the first keeps it held.
	dup, err := Dup(first)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := Acquire(dir, dup); err != nil || got != dup {
		t.Fatalf("inherited lock: %v", err)
	}
	first.Close()
	if _, err := Acquire(dir, nil); err == nil {
		t.Fatal("lock free while the successor's copy is open")
	}
	dup.Close()
	again, err := Acquire(dir, nil)
	if err != nil {
		t.Fatalf("after both closed: %v", err)
	}
	again.Close()
}

// TestInheritedLockOfAnotherDirectory: a predecessor's lock on another
// state_dir (the new config names a new one) is dropped and the new
// directory locked.
func TestInheritedLockOfAnotherDirectory(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	la, err := Acquire(a, nil)
	if err != nil {
		t.Fatal(err)
	}
	dup, err := Dup(la)
	if err != nil {
		t.Fatal(err)
	}
	lb, err := Acquire(b, dup)
	if err != nil || lb == dup {
		t.Fatalf("Acquire(b, lock of a) = %v, %v: want a new lock on b", lb, err)
	}
	defer lb.Close()
	if _, err := Acquire(b, nil); err == nil {
		t.Fatal("b not locked")
	}
	la.Close() // the dup was closed by Acquire: a is free now
	if l, err := Acquire(a, nil); err != nil {
		t.Fatalf("a still locked: %v", err)
	} else {
		l.Close()
	}
}

// TestDupIsCloseOnExec: the descriptor handed to the successor is not
// inherited by whatever the successor starts.
func TestDupIsCloseOnExec(t *testing.T) {
	l, err := Acquire(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	d, err := Dup(l)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	flags, err := unix.FcntlInt(d.Fd(), unix.F_GETFD, 0)
	if err != nil || flags&unix.FD_CLOEXEC == 0 {
		t.Fatalf("F_GETFD = %#x, %v: want FD_CLOEXEC", flags, err)
	}
}

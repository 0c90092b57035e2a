package statelock

import (
	"os"
	"strconv"
	"strings"
	"testing"
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

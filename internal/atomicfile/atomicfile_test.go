package atomicfile

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
)

func TestWrite(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "state")
	for _, tc := range []struct {
		name, write string
		fail        error
		want        string
	}{
		{"creates", "one", nil, "one"},
		{"replaces", "two", nil, "two"},
		{"a failed fill keeps the old file", "three", errors.New("disk on fire"), "two"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := Write(path, func(w io.Writer) error {
				if _, err := io.WriteString(w, tc.write); err != nil {
					return err
				}
				return tc.fail
			})
			if !errors.Is(err, tc.fail) || (tc.fail == nil) != (err == nil) {
				t.Fatalf("Write = %v, want %v", err, tc.fail)
			}
			if b, _ := os.ReadFile(path); string(b) != tc.want {
				t.Fatalf("file holds %q, want %q", b, tc.want)
			}
			if ents, _ := os.ReadDir(dir); len(ents) != 1 {
				t.Fatalf("temporary files left behind: %v", ents)
			}
		})
	}
	// A rename that cannot happen (a directory in the way) fails and cleans up.
	blocked := filepath.Join(dir, "blocked")
	if err := os.MkdirAll(filepath.Join(blocked, "x"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := Write(blocked, func(w io.Writer) error { return nil }); err == nil {
		t.Fatal("Write over a non-empty directory succeeded")
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 2 {
		t.Fatalf("after a failed rename: %v", ents)
	}
}

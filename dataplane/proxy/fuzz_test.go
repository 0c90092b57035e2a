package proxy

import (
	"bytes"
	"testing"
)

// FuzzStripPrefix checks the invariants the upstream request line relies
// on: a path that starts with '/' still does after stripping, and the result
// is the path itself, a '/'-led suffix of it, or "/".
func FuzzStripPrefix(f *testing.F) {
	f.Fuzz(func(t *testing.T, path, prefix string, fold bool) {
		in := []byte(path)
		got := stripPrefix(in, prefix, fold)
		if len(path) > 0 && path[0] == '/' && (len(got) == 0 || got[0] != '/') {
			t.Fatalf("stripPrefix(%q, %q) = %q lost the leading '/'", path, prefix, got)
		}
		if string(got) != "/" && !bytes.HasSuffix(in, got) {
			t.Fatalf("stripPrefix(%q, %q) = %q is not a suffix", path, prefix, got)
		}
		if !bytes.Equal(in, []byte(path)) {
			t.Fatalf("stripPrefix modified its input")
		}
	})
}

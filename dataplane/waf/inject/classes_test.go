package inject

import (
	"bytes"
	"testing"
)

// naiveIndexFold is indexFold by definition: the first i where v[i:]
// starts with lower, ignoring ASCII case.
func naiveIndexFold(v []byte, lower string) int {
	for i := 0; i+len(lower) <= len(v); i++ {
		if hasPrefixFold(v, i, lower) {
			return i
		}
	}
	return -1
}

// TestIndexFold checks the vectorized candidate search against the
// definition, with both cases of the first letter interleaved.
func TestIndexFold(t *testing.T) {
	tests := []struct{ v, word string }{
		{"", "union"}, {"uni", "union"}, {"union", "union"}, {"UNION", "union"}, {"uNiOn", "union"},
		{"a union b", "union"}, {"U u Uu uni UNIO UNION", "union"}, {"uuuuunion", "union"},
		{"UUUUUNION", "union"}, {"uUuUunIon", "union"}, {"xunio", "union"}, {"unionunion", "union"},
		{"see ../a", "../"}, {"./../", "../"}, {"....", "../"}, {"a:/b://c", "://"},
		{"Gopher://x", "gopher://"}, {"gophe GOPHER://", "gopher://"}, {"ééunion", "union"},
	}
	for _, tc := range tests {
		if got, want := indexFold([]byte(tc.v), tc.word), naiveIndexFold([]byte(tc.v), tc.word); got != want {
			t.Errorf("indexFold(%q, %q) = %d, want %d", tc.v, tc.word, got, want)
		}
	}
}

func FuzzIndexFold(f *testing.F) {
	f.Add([]byte("a Union uNION union"), "union")
	f.Add([]byte("../..//"), "../")
	f.Fuzz(func(t *testing.T, v []byte, word string) {
		lower := string(bytes.ToLower([]byte(word)))
		if len(lower) == 0 || lower[0] >= 'A' && lower[0] <= 'Z' {
			return
		}
		if got, want := indexFold(v, lower), naiveIndexFold(v, lower); got != want {
			t.Fatalf("indexFold(%q, %q) = %d, want %d", v, lower, got, want)
		}
	})
}

//go:build !race

package pathnorm

import "testing"

func TestNormalizeAllocs(t *testing.T) {
	for _, raw := range []string{
		"/api/v1/users/42",
		"//a/./b/../%61%3a/",
		"/api/%2e%2e/admin", // error path
		"/%zz",
	} {
		dst := make([]byte, 0, len(raw))
		in := []byte(raw)
		if n := testing.AllocsPerRun(100, func() {
			dst, _ = Normalize(dst[:0], in)
		}); n != 0 {
			t.Errorf("Normalize(%q) allocates %v times per run; want 0", raw, n)
		}
	}
}

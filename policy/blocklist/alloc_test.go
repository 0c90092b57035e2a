//go:build !race

package blocklist

import "testing"

// TestParseEntryIPv4DoesNotAllocate: IPv4 entries, most of every real
// feed, are parsed without allocating.
func TestParseEntryIPv4DoesNotAllocate(t *testing.T) {
	for _, s := range []string{"203.0.113.7", "10.0.0.0/8", "198.51.100.0/24"} {
		b := []byte(s)
		if n := testing.AllocsPerRun(100, func() {
			if _, reason := parseEntry(b); reason != "" {
				t.Fatal(reason)
			}
		}); n != 0 {
			t.Errorf("parseEntry(%s) allocates %.0f times", s, n)
		}
	}
}

package tune

import (
	"strings"
	"testing"
)

func TestChecks(t *testing.T) {
	cases := []struct {
		name   string
		c      check
		fields []int64
		ok     bool
	}{
		{"at least, above", atLeast(4096), []int64{8192}, true},
		{"at least, equal", atLeast(4096), []int64{4096}, true},
		{"at least, below", atLeast(4096), []int64{128}, false},
		{"at least, unparsable", atLeast(4096), nil, false},
		{"equals", equals(1), []int64{1}, true},
		{"equals, other", equals(1), []int64{2}, false},
		{"triple max", tripleMax(16 << 20), []int64{4096, 131072, 16 << 20}, true},
		{"triple max, low", tripleMax(16 << 20), []int64{4096, 131072, 6 << 20}, false},
		{"triple max, short", tripleMax(16 << 20), []int64{16 << 20}, false},
		{"port range", portRange(28000), []int64{32768, 60999}, true},
		{"port range, narrow", portRange(28000), []int64{50000, 60999}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.c.ok(tc.fields); got != tc.ok {
				t.Errorf("%s on %v: %v, want %v", tc.c.text, tc.fields, got, tc.ok)
			}
		})
	}
}

// TestWrite reads this host's real settings and interfaces.
func TestWrite(t *testing.T) {
	var out strings.Builder
	bad := Write(&out, []string{"lo", "nosuch0"})
	for _, want := range []string{
		"net.core.somaxconn", "net.ipv4.tcp_max_syn_backlog", "net.ipv4.tcp_syncookies", "net.core.rmem_max",
		"net.core.wmem_max", "RLIMIT_NOFILE", "lo XDP", "lo rx queues", "lo mtu", "nosuch0", "does not exist",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, out.String())
		}
	}
	// At least: nosuch0 missing, lo without native XDP.
	if bad < 2 || strings.Count(out.String(), "\n!") != bad {
		t.Errorf("%d settings counted below the recommendation, report marks %d:\n%s", bad, strings.Count(out.String(), "\n!"), out.String())
	}
}

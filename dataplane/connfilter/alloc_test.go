//go:build !race

package connfilter

import (
	"net/netip"
	"testing"
	"time"

	"github.com/edgeguard/edgeguard/bpf/enforce"
)

func TestCheckDoesNotAllocate(t *testing.T) {
	f := New()
	f.ReplaceBlocklist(prefixes("10.0.0.0/8", "2001:db8::/32"))
	f.ReplaceAllowlist(prefixes("10.1.0.0/16"))
	f.Ban(enforce.Host(netip.MustParseAddr("192.0.2.1")), time.Now().Add(time.Hour))
	f.Ban(netip.MustParsePrefix("2001:db9:1:2::/64"), time.Now().Add(time.Hour))
	for _, s := range []string{"10.2.3.4", "10.1.2.3", "192.0.2.1", "192.0.2.2", "2001:db8::1", "2001:db9::1", "2001:db9:1:2::1"} {
		a := netip.MustParseAddr(s)
		if n := testing.AllocsPerRun(100, func() { f.Check(a) }); n != 0 {
			t.Errorf("Check(%s) allocates %.0f times", s, n)
		}
	}
}

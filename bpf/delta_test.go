package bpf

import (
	"net/netip"
	"testing"

	"github.com/edgeguard/edgeguard/bpf/internal/dir24"
	"github.com/edgeguard/edgeguard/bpf/xdptest"
)

// TestDeltaManyScatteredPages applies deltas that touch more first-level
// pages than one gathered batch holds (one host in each of 1500 pages, so
// every page is a run of its own), and takes them out again, on the batch
// and on the per-element path, checking each host's verdict and its
// neighbour's after both steps.
func TestDeltaManyScatteredPages(t *testing.T) {
	const n = batchPages + batchPages/2
	hosts := make([]netip.Prefix, n)
	for i := range hosts {
		idx := uint32(i) * (dir24.Tbl24Pages / n) * dir24.PageWords // a /24 in page i*(16384/n)
		a := idx<<8 | 7
		hosts[i] = netip.PrefixFrom(netip.AddrFrom4([4]byte{byte(a >> 24), byte(a >> 16), byte(a >> 8), byte(a)}), 32)
	}
	for _, tc := range []struct {
		name    string
		noBatch bool
	}{{"batch", false}, {"one by one", true}} {
		t.Run(tc.name, func(t *testing.T) {
			x := openTest(t)
			if err := x.ReplaceBlocklist(prefixes("10.0.0.1/32")); err != nil {
				t.Fatal(err)
			}
			x.noBatch = tc.noBatch
			before, _ := x.Stats()
			table := x.dirMap
			for step, add := range []bool{true, false} {
				var err error
				if add {
					err = x.ApplyBlocklistDelta(hosts, nil)
				} else {
					err = x.ApplyBlocklistDelta(nil, hosts)
				}
				if err != nil {
					t.Fatalf("step %d: %v", step, err)
				}
				want := uint32(ActionPass)
				if add {
					want = ActionDrop
				}
				for _, h := range hosts {
					a := h.Addr()
					if got := testRun(t, x, xdptest.TCP(a, a)); got != want {
						t.Fatalf("step %d: %v: action %d, want %d", step, a, got, want)
					}
					if got := testRun(t, x, xdptest.TCP(a.Next(), a)); got != ActionPass {
						t.Fatalf("step %d: %v: action %d, want pass", step, a.Next(), got)
					}
				}
			}
			if x.dirMap != table {
				t.Fatal("the deltas rebuilt the table instead of writing pages in place")
			}
			st, _ := x.Stats()
			batch, elem := st.BatchWrites-before.BatchWrites, st.ElementWrites-before.ElementWrites
			if total := batch + elem; total < 2*n {
				t.Fatalf("%d page writes for two deltas of %d pages each", total, n)
			}
			if tc.noBatch != (batch == 0) {
				t.Fatalf("writes batch/element = %d/%d with noBatch %v", batch, elem, tc.noBatch)
			}
		})
	}
}

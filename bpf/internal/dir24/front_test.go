package dir24

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/edgeguard/edgeguard/bpf/cidrset"
)

// slotsUsed counts a valid record's slots in use (nonzero code).
func slotsUsed(rec Record) int {
	n := 0
	for i := range FrontSlots {
		if rec[8+i/2]>>(i%2*16)&0xffff != 0 {
			n++
		}
	}
	return n
}

func isOverflow(rec Record) bool {
	var want Record
	setSlot(&want, 0, 0, 0, FrontSum)
	return rec == want
}

// TestFrontRecords checks the record of one /17 (10.2.0.0/17) for lists
// that fill it to the edge of its slots and past it, and that every address
// of the /17 and its neighbours reads as the reference says.
func TestFrontRecords(t *testing.T) {
	hosts := func(n int) []string {
		var out []string
		for i := range n {
			out = append(out, fmt.Sprintf("10.2.%d.9/32", 2*i))
		}
		return out
	}
	tests := []struct {
		name     string
		prefixes []string
		slots    int // slots in use; -1: the overflow record
	}{
		{"empty", nil, 0},
		{"whole /17", []string{"10.2.0.0/17"}, 1},
		{"wider than the /17", []string{"10.0.0.0/8"}, 1},
		{"run of /24s cut into aligned blocks", []string{"10.2.1.0/24", "10.2.2.0/23", "10.2.4.0/23", "10.2.6.0/24"}, 4},
		{"one CIDR, a chunk, a full /24", []string{"10.2.3.64/26", "10.2.9.1/32", "10.2.9.7/32", "10.2.127.0/24"}, 3},
		{"fifteen ranges: every slot", hosts(15), 15},
		{"sixteen ranges: overflow", hosts(16), -1},
		{"sixty-four ranges: overflow", hosts(64), -1},
		{"upper /17 only", []string{"10.2.128.0/17", "10.2.5.5/32"}, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var ps []cidrset.Prefix
			for _, s := range tc.prefixes {
				ps = append(ps, pfx(s))
			}
			tbl := Build(toDir(cidrset.New(ps).Cover()), 0)
			rec := tbl.Record(addr("10.2.0.0") >> 15)
			if tc.slots < 0 {
				if !isOverflow(rec) {
					t.Fatalf("record %x, want the overflow record", rec)
				}
			} else if got := slotsUsed(rec); got != tc.slots || isOverflow(rec) {
				t.Fatalf("record uses %d slots (%x), want %d", got, rec, tc.slots)
			}
			for a := addr("10.1.255.0"); a <= addr("10.3.0.255"); a++ {
				if got, want := tbl.Lookup(a), refBlocked(ps, a); got != want {
					t.Fatalf("Lookup(%08x) = %v, want %v", a, got, want)
				}
			}
		})
	}
}

// TestFrontInvalidReadsSummary marks every record of a dense random table
// invalid, as the owner does while rewriting live records: lookups must
// answer as before, from the summary.
func TestFrontInvalidReadsSummary(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	var ps []cidrset.Prefix
	for i := range 20_000 {
		// Dense in 10.0.0.0/14 (records overflow), sparse elsewhere.
		a, bits := 0x0a000000|r.Uint32N(1<<18), 28+r.IntN(5)
		if i%4 == 0 {
			a, bits = r.Uint32(), 20+r.IntN(13)
		}
		ps = append(ps, pfx(fmt.Sprintf("%d.%d.%d.%d/%d", a>>24, a>>16&0xff, a>>8&0xff, a&0xff, bits)))
	}
	set := cidrset.New(ps)
	tbl := Build(toDir(set.Cover()), 0)
	probes := probeAddrs(r, set.Cover(), 20_000)
	valid, overflow := 0, 0
	for rec := range uint32(FrontRecords) {
		switch got := tbl.Record(rec); {
		case isOverflow(got):
			overflow++
		case slotsUsed(got) > 0:
			valid++
		}
	}
	if valid == 0 || overflow == 0 {
		t.Fatalf("%d records with slots, %d overflowing: the list should make both", valid, overflow)
	}
	for _, a := range probes {
		if got, want := tbl.Lookup(a), set.Contains(cidrset.AddrFromV4(a)); got != want {
			t.Fatalf("Lookup(%08x) = %v, want %v", a, got, want)
		}
	}
	for r := range uint32(FrontRecords) {
		tbl.record(r)[15] |= FrontInvalid << 16
	}
	for _, a := range probes {
		if got, want := tbl.Lookup(a), set.Contains(cidrset.AddrFromV4(a)); got != want {
			t.Fatalf("Lookup(%08x) with the front invalid = %v, want %v", a, got, want)
		}
	}
}

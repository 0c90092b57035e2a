package dir24

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"

	"github.com/edgeguard/edgeguard/bpf/cidrset"
)

func v4(p cidrset.Prefix) Prefix {
	a, b := p.V4()
	return Prefix{a, b}
}

func toDir(ps []cidrset.Prefix) []Prefix {
	out := make([]Prefix, len(ps))
	for i, p := range ps {
		out[i] = v4(p)
	}
	return out
}

func pfx(s string) cidrset.Prefix {
	p, _ := cidrset.PrefixFrom(netip.MustParsePrefix(s))
	return p
}

// refBlocked is the reference: does any prefix of raw cover a?
func refBlocked(raw []cidrset.Prefix, a uint32) bool {
	for _, p := range raw {
		n, bits := p.V4()
		if bits == 0 || a>>(32-bits) == n>>(32-bits) {
			return true
		}
	}
	return false
}

// kernel simulates the inner map: the pages written through Dirty runs.
type kernel map[uint32]Page

func (k kernel) write(runs []Run) {
	for _, r := range runs {
		for i := range r.Pages {
			k[r.First+uint32(i)] = r.Pages[i]
		}
	}
}

func (k kernel) equal(t *testing.T, tbl *Table) {
	t.Helper()
	for i := range tbl.tbl24 {
		if k[uint32(i)] != tbl.tbl24[i] {
			t.Fatalf("kernel first-level page %d differs from the mirror", i)
		}
	}
	for i := range tbl.sum {
		if k[uint32(Tbl24Pages+i)] != tbl.sum[i] {
			t.Fatalf("kernel summary page %d differs from the mirror", i)
		}
	}
	for idx := uint32(0); idx < 1<<24; idx++ {
		e := tbl.tbl24[idx/PageWords][idx%PageWords]
		if got := tbl.sum[idx/SumWords][idx%SumWords/2] >> (idx & 1 * 16) & 0xffff; got != summary(e) {
			t.Fatalf("/24 index %#x: summary word %#x, entry %#x wants %#x", idx, got, e, summary(e))
		}
	}
	for i := range tbl.chunks {
		if k[uint32(ChunkBase+i)] != tbl.chunks[i] {
			t.Fatalf("kernel chunk page %d differs from the mirror", i)
		}
	}
	for i := range tbl.front {
		if k[uint32(FrontBase+i)] != tbl.front[i] {
			t.Fatalf("kernel front page %d differs from the mirror", i)
		}
	}
	for r := range uint32(FrontRecords) {
		if got, want := *tbl.record(r), tbl.frontRecordOf(r); got != want {
			t.Fatalf("front record %#x is %x, the entries make %x", r, got, want)
		}
	}
}

// checkChunkOwners verifies no chunk serves two /24s over the table's life.
func checkChunkOwners(t *testing.T, tbl *Table, owner map[uint32]uint32) {
	t.Helper()
	for idx := uint32(0); idx < 1<<24; idx++ {
		e := tbl.tbl24[idx/PageWords][idx%PageWords]
		if e&ChunkFlag == 0 {
			continue
		}
		c := e &^ ChunkFlag
		if o, ok := owner[c]; ok && o != idx {
			t.Fatalf("chunk %d reused: /24 index %d, earlier %d", c, idx, o)
		}
		owner[c] = idx
	}
}

func TestBuildTable(t *testing.T) {
	tests := []struct {
		name    string
		prefix  []string
		blocked []string
		passed  []string
	}{
		{"empty", nil, nil, []string{"0.0.0.0", "10.0.0.1", "255.255.255.255"}},
		{"slash 8", []string{"10.0.0.0/8"}, []string{"10.0.0.0", "10.255.255.255"}, []string{"9.255.255.255", "11.0.0.0"}},
		{"slash 24", []string{"192.0.2.0/24"}, []string{"192.0.2.0", "192.0.2.255"}, []string{"192.0.1.255", "192.0.3.0"}},
		{"host", []string{"192.0.2.77/32"}, []string{"192.0.2.77"}, []string{"192.0.2.76", "192.0.2.78"}},
		{"one slash 27", []string{"192.0.2.32/27"}, []string{"192.0.2.32", "192.0.2.63"}, []string{"192.0.2.31", "192.0.2.64"}},
		{"one slash 25", []string{"192.0.2.128/25"}, []string{"192.0.2.128", "192.0.2.255"}, []string{"192.0.2.127", "192.0.3.0"}},
		{"slash 25 and 31", []string{"192.0.2.128/25", "192.0.2.4/31"}, []string{"192.0.2.128", "192.0.2.255", "192.0.2.4", "192.0.2.5"}, []string{"192.0.2.127", "192.0.2.6", "192.0.2.3"}},
		{"default route", []string{"0.0.0.0/0"}, []string{"0.0.0.0", "255.255.255.255"}, nil},
		{"top host", []string{"255.255.255.255/32"}, []string{"255.255.255.255"}, []string{"255.255.255.254"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var ps []cidrset.Prefix
			for _, s := range tc.prefix {
				ps = append(ps, pfx(s))
			}
			tbl := Build(toDir(cidrset.New(ps).Cover()), 0)
			for _, s := range tc.blocked {
				if !tbl.Lookup(addr(s)) {
					t.Errorf("%s not blocked", s)
				}
			}
			for _, s := range tc.passed {
				if tbl.Lookup(addr(s)) {
					t.Errorf("%s blocked", s)
				}
			}
			k := kernel{}
			k.write(append(tbl.Dirty(), tbl.FrontDirty()...))
			k.equal(t, tbl)
		})
	}
}

func addr(s string) uint32 {
	b := netip.MustParseAddr(s).As4()
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

func randV4(r *rand.Rand) cidrset.Prefix {
	// Clustered in 10.0.0.0/14 with mostly long prefixes, so that /24s fill
	// with chunks, chunks merge into full /24s, and deltas split them again;
	// a third in 10.0.0.0/22, so that /24s hold several long prefixes and
	// go between one (held in the first-level entry) and a chunk.
	a := 0x0a000000 | r.Uint32N(1<<18)
	bits := 14 + r.IntN(19)
	if r.IntN(3) == 0 {
		a, bits = 0x0a000000|r.Uint32N(1<<10), 25+r.IntN(8)
	}
	if r.IntN(10) == 0 {
		a, bits = r.Uint32(), r.IntN(33)
	}
	p, _ := cidrset.PrefixFrom(netip.PrefixFrom(netip.AddrFrom4([4]byte{byte(a >> 24), byte(a >> 16), byte(a >> 8), byte(a)}), bits))
	return p
}

func probeAddrs(r *rand.Rand, ps []cidrset.Prefix, n int) []uint32 {
	var out []uint32
	for _, p := range ps {
		a, bits := p.V4()
		last := a
		if bits < 32 {
			last = a | ^uint32(0)>>bits
		}
		out = append(out, a, a-1, last, last+1, a+(last-a)/2)
	}
	for range n {
		out = append(out, 0x0a000000|r.Uint32N(1<<18), r.Uint32())
	}
	return out
}

// TestDeltasAgainstReference applies random deltas to one live table and
// checks lookups against the reference, the simulated kernel copy against
// the mirror, and that chunks are never handed to another /24.
func TestDeltasAgainstReference(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	set := cidrset.New(nil)
	tbl := Build(nil, 4096)
	k := kernel{}
	k.write(append(tbl.Dirty(), tbl.FrontDirty()...))
	tbl.ClearDirty()
	owner := map[uint32]uint32{}
	for step := range 60 {
		var add, remove []cidrset.Prefix
		for range r.IntN(40) {
			add = append(add, randV4(r))
		}
		raw := set.Prefixes()
		for range r.IntN(20) {
			if len(raw) > 0 {
				remove = append(remove, raw[r.IntN(len(raw))])
			}
		}
		next, added, removed := set.Apply(add, remove)
		if err := tbl.Update(toDir(next.Cover()), toDir(append(added, removed...))); err != nil {
			t.Fatalf("step %d: %v", step, err)
		}
		k.write(append(tbl.Dirty(), tbl.FrontDirty()...))
		tbl.ClearDirty()
		set = next
		for _, a := range probeAddrs(r, append(append(add, remove...), set.Cover()...), 200) {
			if got, want := tbl.Lookup(a), refBlocked(set.Prefixes(), a); got != want {
				t.Fatalf("step %d: Lookup(%08x) = %v, want %v", step, a, got, want)
			}
		}
		if step%10 == 9 {
			k.equal(t, tbl)
			checkChunkOwners(t, tbl, owner)
		}
	}
	if tbl.ChunksUsed() == 0 {
		t.Fatal("test never used a chunk")
	}
}

func TestUpdateFull(t *testing.T) {
	tbl := Build(nil, 0)
	next := cidrset.New([]cidrset.Prefix{pfx("192.0.2.1/32"), pfx("192.0.2.9/32")})
	err := tbl.Update(toDir(next.Cover()), toDir(next.Cover()))
	if !errors.Is(err, ErrFull) {
		t.Fatalf("Update with no chunk left: err = %v, want ErrFull", err)
	}
}

func TestRetiredChunkNotReused(t *testing.T) {
	// Headroom of exactly one page of chunks; /24 A gets a chunk, a delta
	// turns it into a full /24, then /24 B needs a chunk: it must get a new
	// one, not A's.
	a := cidrset.New([]cidrset.Prefix{pfx("192.0.2.1/32"), pfx("192.0.2.9/32")})
	tbl := Build(toDir(a.Cover()), 0)
	if tbl.ChunksFree() != ChunksPerPage-1 {
		t.Fatalf("ChunksFree = %d, want %d", tbl.ChunksFree(), ChunksPerPage-1)
	}
	b, added, removed := a.Apply([]cidrset.Prefix{pfx("192.0.2.0/24"), pfx("198.51.100.7/32"), pfx("198.51.100.9/32")}, nil)
	if err := tbl.Update(toDir(b.Cover()), toDir(append(added, removed...))); err != nil {
		t.Fatal(err)
	}
	idx := addr("198.51.100.7") >> 8
	if got := tbl.tbl24[idx/PageWords][idx%PageWords]; got != ChunkFlag|1 {
		t.Fatalf("198.51.100.0/24 entry = %#x, want chunk 1", got)
	}
}

// TestRecycledChunksAreReused runs far more deltas through a table with one
// page of spare chunks than that page holds: with Recycle between deltas
// (the caller's grace period) it never runs out, every lookup matches the
// reference, the kernel copy matches the mirror, and no chunk serves two
// /24s between two recycles.
func TestRecycledChunksAreReused(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	set := cidrset.New([]cidrset.Prefix{pfx("10.0.0.1/32"), pfx("10.0.0.9/32")})
	tbl := Build(toDir(set.Cover()), 0)
	spare := tbl.ChunksFree()
	k := kernel{}
	k.write(append(tbl.Dirty(), tbl.FrontDirty()...))
	tbl.ClearDirty()
	var placed []cidrset.Prefix
	handedOut := 0
	owner := map[uint32]uint32{}
	for step := range 60 {
		// Take every host added last step out, and put new ones in fresh /24s:
		// each delta needs about spare/4 chunks and retires as many; recycling
		// every third step keeps about 3/4 of the spare chunks in flight.
		// Two hosts per /24: one alone is held in the first-level entry.
		add := make([]cidrset.Prefix, 0, spare/2)
		for range spare / 4 {
			a := netip.AddrFrom4([4]byte{byte(11 + r.IntN(100)), byte(r.IntN(256)), byte(r.IntN(256)), byte(1 + r.IntN(127))})
			b := a.As4()
			b[3] += 128
			add = append(add, pfx(netip.PrefixFrom(a, 32).String()), pfx(netip.PrefixFrom(netip.AddrFrom4(b), 32).String()))
		}
		next, added, removed := set.Apply(add, placed)
		before := tbl.ChunksFree()
		if err := tbl.Update(toDir(next.Cover()), toDir(append(added, removed...))); err != nil {
			t.Fatalf("step %d: %v (free %d, retired %d)", step, err, tbl.ChunksFree(), tbl.ChunksRetired())
		}
		handedOut += before - tbl.ChunksFree()
		k.write(append(tbl.Dirty(), tbl.FrontDirty()...))
		tbl.ClearDirty()
		// Between recycles a chunk belongs to one /24 only.
		checkChunkOwners(t, tbl, owner)
		set, placed = next, add
		for _, a := range probeAddrs(r, append(append([]cidrset.Prefix{}, add...), removed...), 100) {
			if got, want := tbl.Lookup(a), refBlocked(set.Prefixes(), a); got != want {
				t.Fatalf("step %d: Lookup(%08x) = %v, want %v", step, a, got, want)
			}
		}
		if step > 0 && tbl.ChunksRetired() == 0 {
			t.Fatalf("step %d: removing hosts retired no chunk", step)
		}
		if step%3 == 2 {
			tbl.Recycle()
			clear(owner)
		}
	}
	k.equal(t, tbl)
	if handedOut < 4*spare {
		t.Fatalf("handed out %d chunks with %d spare: recycling never exercised", handedOut, spare)
	}
}

func TestRetiredChunkWaitsForRecycle(t *testing.T) {
	a := cidrset.New([]cidrset.Prefix{pfx("192.0.2.1/32"), pfx("192.0.2.9/32")})
	tbl := Build(toDir(a.Cover()), 0)
	// Unlink 192.0.2.0/24's chunk (the /24 becomes fully blocked) ...
	b, added, removed := a.Apply([]cidrset.Prefix{pfx("192.0.2.0/24")}, nil)
	if err := tbl.Update(toDir(b.Cover()), toDir(append(added, removed...))); err != nil {
		t.Fatal(err)
	}
	if tbl.ChunksRetired() != 1 {
		t.Fatalf("retired = %d, want 1", tbl.ChunksRetired())
	}
	old := tbl.ChunksFree()
	tbl.Recycle()
	if tbl.ChunksFree() != old+1 || tbl.ChunksRetired() != 0 {
		t.Fatalf("after Recycle: free %d (was %d), retired %d", tbl.ChunksFree(), old, tbl.ChunksRetired())
	}
	// ... and after Recycle the next /24 that needs a chunk gets it back.
	c, added, removed := b.Apply([]cidrset.Prefix{pfx("198.51.100.7/32"), pfx("198.51.100.9/32")}, nil)
	if err := tbl.Update(toDir(c.Cover()), toDir(append(added, removed...))); err != nil {
		t.Fatal(err)
	}
	idx := addr("198.51.100.7") >> 8
	if got := tbl.tbl24[idx/PageWords][idx%PageWords]; got != ChunkFlag|0 {
		t.Fatalf("198.51.100.0/24 entry = %#x, want the recycled chunk 0", got)
	}
	if !tbl.Lookup(addr("198.51.100.7")) || tbl.Lookup(addr("198.51.100.8")) || !tbl.Lookup(addr("192.0.2.200")) {
		t.Fatal("lookups wrong after reusing a chunk")
	}
}

func TestDirtyOrder(t *testing.T) {
	tbl := Build(toDir(cidrset.New([]cidrset.Prefix{pfx("192.0.2.1/32"), pfx("192.0.2.9/32"), pfx("10.0.0.0/8")}).Cover()), 0)
	runs := tbl.Dirty()
	if len(runs) < 3 || runs[0].First < ChunkBase {
		t.Fatalf("first run starts at key %d: chunk pages must come first", runs[0].First)
	}
	// Then first-level pages, then summary pages.
	kind := func(key uint32) int {
		switch {
		case key >= ChunkBase:
			return 0
		case key < Tbl24Pages:
			return 1
		}
		return 2
	}
	for i, r := range runs[1:] {
		if kind(r.First) < kind(runs[i].First) {
			t.Fatalf("run at key %d after one at key %d: want chunks, first level, summary", r.First, runs[i].First)
		}
	}
	if kind(runs[len(runs)-1].First) != 2 {
		t.Fatal("no summary run last")
	}
}

// equalPages compares the simulated kernel with the mirror on the pages the
// fuzz domain can touch: first-level page 0x280 (10.0.0.0/14) and all chunks.
func (k kernel) equalPages(t *testing.T, tbl *Table) {
	t.Helper()
	const page = 0x0a0000 / PageWords
	if k[page] != tbl.tbl24[page] {
		t.Fatalf("kernel first-level page %#x differs from the mirror", page)
	}
	const sumPage = 0x0a0000 / SumWords
	if k[Tbl24Pages+sumPage] != tbl.sum[sumPage] {
		t.Fatalf("kernel summary page %#x differs from the mirror", sumPage)
	}
	for i := range tbl.chunks {
		if k[uint32(ChunkBase+i)] != tbl.chunks[i] {
			t.Fatalf("kernel chunk page %d differs from the mirror", i)
		}
	}
}

func FuzzBuildDelta(f *testing.F) {
	f.Add([]byte{0, 0, 0, 0, 18 | 0x80, 1, 2, 3})
	f.Add([]byte{11, 0, 2, 0, 11, 0, 2, 128, 11 | 0x80, 0, 2, 0})
	f.Add([]byte{0, 3, 255, 255, 18, 3, 255, 255, 17, 3, 255, 254})
	f.Fuzz(func(t *testing.T, data []byte) {
		// Each 4-byte record is a prefix inside 10.0.0.0/14: byte 0 holds
		// the length (14 + low 5 bits mod 19) and, in bit 7, "remove";
		// bytes 1-3 the low 18 address bits. Records are applied in deltas
		// of four; the table starts with little headroom so that deltas
		// also run out of chunks and force a rebuild.
		if len(data) > 4*64 {
			return
		}
		set := cidrset.New(nil)
		tbl := Build(nil, 16)
		k := kernel{}
		for len(data) >= 4 {
			var add, remove []cidrset.Prefix
			for i := 0; i < 4 && len(data) >= 4; i++ {
				rec := data[:4]
				data = data[4:]
				a := netip.AddrFrom4([4]byte{10, rec[1] & 3, rec[2], rec[3]})
				p, _ := cidrset.PrefixFrom(netip.PrefixFrom(a, 14+int(rec[0]&0x1f)%19))
				if rec[0]&0x80 != 0 {
					remove = append(remove, p)
				} else {
					add = append(add, p)
				}
			}
			next, added, removed := set.Apply(add, remove)
			err := tbl.Update(toDir(next.Cover()), toDir(append(added, removed...)))
			set = next
			if errors.Is(err, ErrFull) {
				tbl = Build(toDir(set.Cover()), 16)
				k = kernel{}
			} else if err != nil {
				t.Fatal(err)
			}
			k.write(append(tbl.Dirty(), tbl.FrontDirty()...))
			tbl.ClearDirty()
			for _, a := range probeAddrs(rand.New(rand.NewPCG(1, 1)), append(append(add, remove...), set.Cover()...), 0) {
				if got, want := tbl.Lookup(a), refBlocked(set.Prefixes(), a); got != want {
					t.Fatalf("Lookup(%08x) = %v, want %v", a, got, want)
				}
			}
			k.equalPages(t, tbl)
		}
	})
}

func BenchmarkBuild1M(b *testing.B) {
	r := rand.New(rand.NewPCG(3, 4))
	ps := make([]cidrset.Prefix, 1_000_000)
	for i := range ps {
		bits := 32
		if i%4 == 0 {
			bits = 16 + r.IntN(17)
		}
		a := r.Uint32()
		ps[i], _ = cidrset.PrefixFrom(netip.PrefixFrom(netip.AddrFrom4([4]byte{byte(a >> 24), byte(a >> 16), byte(a >> 8), byte(a)}), bits))
	}
	cover := toDir(cidrset.New(ps).Cover())
	b.ReportAllocs()
	for b.Loop() {
		Build(cover, 1024)
	}
}

// coverIn is the part of s's cover that overlaps Blocks(changed), as the
// XDP owner passes it to Update.
func coverIn(s *cidrset.Set, changed []Prefix) []Prefix {
	var out []cidrset.Prefix
	for _, b := range Blocks(changed) {
		out = s.AppendCover(out, cidrset.AddrFromV4(b.First<<8), cidrset.AddrFromV4(b.Last<<8|0xff))
	}
	return toDir(out)
}

func TestBlocks(t *testing.T) {
	tests := []struct {
		name    string
		changed []string
		want    []Block
	}{
		{"none", nil, []Block{}},
		{"one /32", []string{"10.0.0.1/32"}, []Block{{0x0a0000, 0x0a0000}}},
		{"/16", []string{"10.1.0.0/16"}, []Block{{0x0a0100, 0x0a01ff}}},
		{"same block twice", []string{"10.0.0.1/32", "10.0.0.128/25"}, []Block{{0x0a0000, 0x0a0000}}},
		{"adjacent blocks merge", []string{"10.0.1.1/32", "10.0.0.1/32"}, []Block{{0x0a0000, 0x0a0001}}},
		{"nested", []string{"10.0.5.0/24", "10.0.0.0/16"}, []Block{{0x0a0000, 0x0a00ff}}},
		{"apart", []string{"10.0.2.0/24", "10.0.0.0/24"}, []Block{{0x0a0000, 0x0a0000}, {0x0a0002, 0x0a0002}}},
		{"whole space", []string{"0.0.0.0/0", "10.0.0.0/8"}, []Block{{0, 1<<24 - 1}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var ps []cidrset.Prefix
			for _, s := range tc.changed {
				ps = append(ps, pfx(s))
			}
			if got := Blocks(toDir(ps)); !slices.Equal(got, tc.want) {
				t.Fatalf("Blocks = %v, want %v", got, tc.want)
			}
		})
	}
}

// TestUpdateWithPartialCover checks that Update given only the cover CIDRs
// overlapping the changed blocks writes exactly what it writes given the
// whole cover.
func TestUpdateWithPartialCover(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	var start []cidrset.Prefix
	for range 5000 {
		start = append(start, randV4(r))
	}
	set := cidrset.New(start)
	full := Build(toDir(set.Cover()), 4096)
	part := Build(toDir(set.Cover()), 4096)
	full.ClearDirty()
	part.ClearDirty()
	for step := range 40 {
		var add, remove []cidrset.Prefix
		for range r.IntN(60) {
			add = append(add, randV4(r))
		}
		held := set.Prefixes()
		for range r.IntN(60) {
			remove = append(remove, held[r.IntN(len(held))])
		}
		next, added, removed := set.Apply(add, remove)
		changed := toDir(append(added, removed...))
		if err := full.Update(toDir(next.Cover()), changed); err != nil {
			t.Fatalf("step %d: full cover: %v", step, err)
		}
		if err := part.Update(coverIn(next, changed), changed); err != nil {
			t.Fatalf("step %d: partial cover: %v", step, err)
		}
		if !slices.Equal(full.tbl24, part.tbl24) || !slices.Equal(full.chunks, part.chunks) ||
			!slices.Equal(full.dirty24, part.dirty24) || !slices.Equal(full.dirtyChunk, part.dirtyChunk) {
			t.Fatalf("step %d: tables differ", step)
		}
		full.ClearDirty()
		part.ClearDirty()
		set = next
	}
}

// BenchmarkUpdate1k applies a 1000-prefix delta to a table built from a
// 1M-prefix list, alternately adding and removing it, with the partial
// cover the XDP owner passes, and collects the dirty pages.
func BenchmarkUpdate1k(b *testing.B) {
	r := rand.New(rand.NewPCG(3, 4))
	gen := func(n int) []cidrset.Prefix {
		ps := make([]cidrset.Prefix, n)
		for i := range ps {
			bits := 32
			if i%4 == 0 {
				bits = 16 + r.IntN(17)
			}
			a := r.Uint32()
			ps[i], _ = cidrset.PrefixFrom(netip.PrefixFrom(netip.AddrFrom4([4]byte{byte(a >> 24), byte(a >> 16), byte(a >> 8), byte(a)}), bits))
		}
		return ps
	}
	set := cidrset.New(gen(1_000_000))
	next, added, removed := set.Apply(gen(1000), nil)
	changed := toDir(append(added, removed...))
	steps := [2][]Prefix{coverIn(next, changed), coverIn(set, changed)}
	tbl := Build(toDir(set.Cover()), 1<<16)
	tbl.ClearDirty()
	pages, i := 0, 0
	b.ReportAllocs()
	for b.Loop() {
		if err := tbl.Update(steps[i%2], changed); err != nil {
			b.Fatal(err)
		}
		for _, run := range tbl.Dirty() {
			pages += len(run.Pages)
		}
		tbl.ClearDirty()
		i++
	}
	b.ReportMetric(float64(pages)/float64(i), "pages/op")
}

// TestReload reloads one table with lists that share nothing, part, or
// everything with the one it holds: each time the pages marked dirty bring
// a kernel copy of the previous content to the new one, lookups match the
// reference, and the table matches a fresh Build's lookups. An identical
// list marks nothing dirty; one that needs more chunks than the table has
// is refused with the table unchanged.
func TestReload(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	gen := func(n int) *cidrset.Set {
		ps := make([]cidrset.Prefix, n)
		for i := range ps {
			ps[i] = randV4(r)
		}
		return cidrset.New(ps)
	}
	first := gen(3000)
	tbl := Build(toDir(first.Cover()), 64)
	k := kernel{}
	k.write(append(tbl.Dirty(), tbl.FrontDirty()...))
	tbl.ClearDirty()
	prev := first
	for _, tc := range []struct {
		name string
		next func() *cidrset.Set
	}{
		{"unrelated", func() *cidrset.Set { return gen(2500) }},
		{"half kept", func() *cidrset.Set {
			held := prev.Prefixes()
			next, _, _ := prev.Apply(gen(500).Prefixes(), held[:len(held)/2])
			return next
		}},
		{"same", func() *cidrset.Set { return prev }},
		{"empty", func() *cidrset.Set { return cidrset.New(nil) }},
		{"unrelated again", func() *cidrset.Set { return gen(2000) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			next := tc.next()
			if err := tbl.Reload(toDir(next.Cover()), 64); err != nil {
				t.Fatal(err)
			}
			dirty := 0
			for _, run := range tbl.Dirty() {
				dirty += len(run.Pages)
			}
			if next == prev && dirty != 0 {
				t.Fatalf("reloading the same list marked %d pages dirty", dirty)
			}
			k.write(append(tbl.Dirty(), tbl.FrontDirty()...))
			tbl.ClearDirty()
			k.equal(t, tbl)
			fresh := Build(toDir(next.Cover()), 64)
			for _, a := range probeAddrs(r, append(next.Cover(), prev.Cover()...), 2000) {
				want := refBlocked(next.Prefixes(), a)
				if got := tbl.Lookup(a); got != want {
					t.Fatalf("Lookup(%08x) = %v, want %v", a, got, want)
				}
				if got := fresh.Lookup(a); got != want {
					t.Fatalf("fresh Build: Lookup(%08x) = %v, want %v", a, got, want)
				}
			}
			prev = next
		})
	}
	t.Run("too many chunks", func(t *testing.T) {
		// Two hosts in each of 5000 /24s: a chunk each.
		var ps []cidrset.Prefix
		for i := range uint32(5000) {
			a := 0x0b000000 | i<<8
			ps = append(ps, cidrset.Prefix{Addr: cidrset.AddrFromV4(a | 1), Bits: 128},
				cidrset.Prefix{Addr: cidrset.AddrFromV4(a | 9), Bits: 128})
		}
		big := cidrset.New(ps)
		before := slices.Clone(tbl.tbl24)
		used := tbl.ChunksUsed()
		if err := tbl.Reload(toDir(big.Cover()), 64); !errors.Is(err, ErrFull) {
			t.Fatalf("Reload beyond capacity: err = %v, want ErrFull", err)
		}
		if !slices.Equal(before, tbl.tbl24) || tbl.ChunksUsed() != used || len(tbl.Dirty()) != 0 {
			t.Fatal("a refused Reload changed the table")
		}
	})
}

// BenchmarkReload1M reloads a table between two unrelated 1M-prefix lists
// (what a replace does with its spare) against Build of a fresh table.
func BenchmarkReload1M(b *testing.B) {
	r := rand.New(rand.NewPCG(3, 4))
	gen := func(n int) []Prefix {
		ps := make([]cidrset.Prefix, n)
		for i := range ps {
			bits := 32
			if i%4 == 0 {
				bits = 16 + r.IntN(17)
			}
			a := r.Uint32()
			ps[i], _ = cidrset.PrefixFrom(netip.PrefixFrom(netip.AddrFrom4([4]byte{byte(a >> 24), byte(a >> 16), byte(a >> 8), byte(a)}), bits))
		}
		return toDir(cidrset.New(ps).Cover())
	}
	covers := [2][]Prefix{gen(1_000_000), gen(1_000_000)}
	b.Run("reload", func(b *testing.B) {
		tbl := Build(covers[0], 1024)
		i := 1
		b.ReportAllocs()
		for b.Loop() {
			if err := tbl.Reload(covers[i%2], 1024); err != nil {
				b.Fatal(err)
			}
			tbl.ClearDirty()
			i++
		}
	})
	b.Run("build", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			Build(covers[0], 1024)
		}
	})
}

// record returns front record r of the simulated kernel.
func (k kernel) record(r uint32) *Record {
	pg := k[uint32(FrontBase)+r/FrontRecordsPerPage]
	off := r % FrontRecordsPerPage * FrontRecordWords
	return (*Record)(pg[off : off+FrontRecordWords])
}

// setRecord writes front record r of the simulated kernel.
func (k kernel) setRecord(r uint32, rec Record) {
	key := uint32(FrontBase) + r/FrontRecordsPerPage
	pg := k[key]
	copy(pg[r%FrontRecordsPerPage*FrontRecordWords:], rec[:])
	k[key] = pg
}

// lookup reads the simulated kernel as the XDP program reads the map.
func (k kernel) lookup(addr uint32) bool {
	idx := addr >> 8
	s, ok := frontCode(k.record(addr>>15), idx)
	if ok && s == entryNone {
		return false
	}
	if !ok || s == FrontSum {
		sp := k[Tbl24Pages+idx/SumWords]
		s = sp[idx%SumWords/2] >> (idx & 1 * 16) & 0xffff
	}
	if s&SumOne != 0 {
		shift := 8 - s>>8&0xf
		return addr&0xff>>shift == s&0xff>>shift
	}
	if s != SumChunk {
		return s&1 != 0
	}
	p := k[idx/PageWords]
	e := p[idx%PageWords]
	if e&OneFlag != 0 {
		shift := 8 - e>>8&0xf
		return addr&0xff>>shift == e&0xff>>shift
	}
	if e&ChunkFlag == 0 {
		return e&1 != 0
	}
	c := e &^ ChunkFlag
	cp := k[ChunkBase+c/ChunksPerPage]
	return cp[c%ChunksPerPage*ChunkWords+(addr&0xff)>>5]>>(addr&31)&1 != 0
}

// TestDeltaPageByPage writes each delta's pages to a simulated kernel one at
// a time, in Dirty's order, and checks after every page that each address
// of the /16 the lists live in reads as it did before the delta or as it
// does after: summary words, entries and chunks never disagree in a way a
// reader could see.
func TestDeltaPageByPage(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	draw := func() cidrset.Prefix {
		a := 0x0a0b0000 | r.Uint32N(1<<16)
		bits := 23 + r.IntN(10)
		p, _ := cidrset.PrefixFrom(netip.PrefixFrom(netip.AddrFrom4([4]byte{byte(a >> 24), byte(a >> 16), byte(a >> 8), byte(a)}), bits).Masked())
		return p
	}
	set := cidrset.New(nil)
	tbl := Build(nil, 64)
	k := kernel{}
	k.write(append(tbl.Dirty(), tbl.FrontDirty()...))
	tbl.ClearDirty()
	for step := range 40 {
		var add, remove []cidrset.Prefix
		for range r.IntN(30) {
			add = append(add, draw())
		}
		raw := set.Prefixes()
		for range r.IntN(20) {
			if len(raw) > 0 {
				remove = append(remove, raw[r.IntN(len(raw))])
			}
		}
		next, added, removed := set.Apply(add, remove)
		if err := tbl.Update(toDir(next.Cover()), toDir(append(added, removed...))); err != nil {
			t.Fatalf("step %d: %v", step, err)
		}
		check := func(what string) {
			t.Helper()
			for a := uint32(0x0a0b0000); a < 0x0a0c0000; a++ {
				ca := cidrset.AddrFromV4(a)
				if got := k.lookup(a); got != set.Contains(ca) && got != next.Contains(ca) {
					t.Fatalf("step %d, after %s: %08x reads %v, neither before nor after", step, what, a, got)
				}
			}
		}
		for _, run := range tbl.Dirty() {
			for i := range run.Pages {
				k.write([]Run{{run.First + uint32(i), run.Pages[i : i+1]}})
				check(fmt.Sprintf("page %d", run.First+uint32(i)))
			}
		}
		// The front as the owner writes a live table's: each changed
		// record marked invalid, then each rewritten (its state last).
		for _, r := range tbl.FrontChanged() {
			rec := *k.record(r)
			rec[15] |= FrontInvalid << 16
			k.setRecord(r, rec)
			check(fmt.Sprintf("invalidating record %#x", r))
		}
		for _, r := range tbl.FrontChanged() {
			rec := tbl.Record(r)
			k.setRecord(r, rec)
			check(fmt.Sprintf("rewriting record %#x", r))
		}
		tbl.ClearDirty()
		tbl.Recycle() // the grace period the caller waits for
		set = next
	}
	k.equal(t, tbl)
	if tbl.ChunksUsed() == 0 {
		t.Fatal("test never used a chunk")
	}
}

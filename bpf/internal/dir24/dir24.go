// Package dir24 builds and incrementally updates the DIR-24-8 table that the
// XDP program reads for IPv4 blocklists (see struct dir_page in
// bpf/xdp/filter.c for the layout). It works on a user-space mirror of the
// table and reports which pages changed; writing them to the kernel is the
// caller's job.
//
// Invariant the kernel side relies on: a second-level chunk is never handed
// to another /24 while a reader may still hold an entry that pointed at it.
// Chunks a delta unlinks are retired; once the caller has written the
// delta and waited for an RCU grace period (no program run that started
// before the write is still going), Recycle makes them free for reuse. When
// no fresh or free chunk is left, Update returns ErrFull so the caller
// builds a new table and swaps it in atomically.
//
// The package must never touch the kernel.
package dir24

import (
	"cmp"
	"errors"
	"slices"
)

// Layout shared with bpf/xdp/filter.c.
const (
	PageWords     = 1024                // __u32 words per map value (4 KiB)
	Tbl24Pages    = 1 << 24 / PageWords // first-level pages: keys [0, Tbl24Pages)
	ChunkWords    = 8                   // one chunk: a 256-bit bitmap
	ChunksPerPage = PageWords / ChunkWords
	ChunkFlag     = 1 << 31 // first-level entry points at a chunk
	// OneFlag marks a first-level entry that holds the only CIDR of 25-32
	// bits in its /24 itself: (length-24)<<8 | the CIDR's last octet. A
	// lookup then reads no chunk: in a sparse list most such /24s hold
	// one CIDR (a single address, typically).
	OneFlag = 1 << 30

	// The summary: one 16-bit word per /24, two per __u32 (little-endian:
	// /24 index i is the low half of word i/2 when i is even), in SumPages
	// pages at keys [Tbl24Pages, ChunkBase). A packet reads its /24's
	// summary word alone unless it is SumChunk: half the memory of the
	// first level, so a source the caches have not seen costs a cheaper
	// miss.
	SumWords = 2 * PageWords // summary words per page
	SumPages = 1 << 24 / SumWords
	// Then the front (front.go), then chunk pages.
	ChunkBase = FrontBase + FrontPages
	// SumOne marks a summary word holding a OneFlag entry's low 12 bits;
	// SumChunk one whose entry points at a chunk. Other words are
	// entryNone or entryBlocked, as the entry.
	SumOne   = 1 << 15
	SumChunk = 2

	entryNone    = 0
	entryBlocked = 1
)

// ErrFull means the table has no fresh chunk left for an update.
var ErrFull = errors.New("dir24: no free chunk")

// Page is one map value.
type Page [PageWords]uint32

// Prefix is an IPv4 prefix: network address (host order, host bits zero)
// and length.
type Prefix struct {
	Addr uint32
	Bits uint8
}

func (p Prefix) last() uint32 {
	if p.Bits == 0 {
		return ^uint32(0)
	}
	return p.Addr | (^uint32(0) >> p.Bits)
}

// Table is the user-space mirror of one DIR-24-8 inner map.
type Table struct {
	tbl24  []Page // Tbl24Pages pages of first-level entries
	sum    []Page // SumPages pages of summary words, two per uint32
	front  []Page // FrontPages pages of front records
	chunks []Page // chunk pages (capacity)
	used   uint32 // chunks handed out from the fresh range so far

	retired []uint32 // unlinked since the last Recycle: readers may hold them
	free    []uint32 // recycled: safe to hand to any /24

	dirty24    []uint64 // bitset over tbl24 pages
	dirtySum   []uint64 // bitset over sum pages
	dirtyChunk []uint64 // bitset over chunk pages

	frontStale   []uint64 // bitset over front records to rebuild
	dirtyFront   []uint64 // bitset over front pages
	frontChanged []uint32 // records changed since ClearDirty
}

// Build returns a table for cover, which must be sorted by address and
// disjoint (cidrset's cover is). For later updates the table has room for a
// quarter more chunks than the build needs, and at least minHeadroom more.
func Build(cover []Prefix, minHeadroom int) *Table {
	need := chunksNeeded(cover)
	headroom := max(need/4, minHeadroom)
	pages := (need + headroom + ChunksPerPage - 1) / ChunksPerPage
	t := &Table{
		tbl24:      make([]Page, Tbl24Pages),
		sum:        make([]Page, SumPages),
		front:      make([]Page, FrontPages),
		chunks:     make([]Page, pages),
		dirty24:    make([]uint64, Tbl24Pages/64),
		dirtySum:   make([]uint64, SumPages/64),
		dirtyChunk: make([]uint64, (pages+63)/64),
		frontStale: make([]uint64, FrontRecords/64),
		dirtyFront: make([]uint64, FrontPages/64),
	}
	// A fresh table is all zero: skip writing "none" so that untouched pages
	// are never even faulted in, and every page written is marked dirty.
	if err := t.rebuild(0, 1<<24-1, cover, true); err != nil {
		panic("dir24: build ran out of chunks it sized: " + err.Error())
	}
	t.refreshFront()
	return t
}

// chunksNeeded counts the chunks cover takes: one for every /24 holding two
// or more CIDRs longer than /24.
func chunksNeeded(cover []Prefix) int {
	need := 0
	last, n := int64(-1), 0
	for _, p := range cover {
		if p.Bits <= 24 {
			continue
		}
		if int64(p.Addr>>8) != last {
			last, n = int64(p.Addr>>8), 0
		}
		if n++; n == 2 {
			need++
		}
	}
	return need
}

// Reload rewrites the whole table for cover (sorted, disjoint) in the
// memory it has, marking dirty only the pages whose content changes: a
// table reused for an unrelated list is written without allocating,
// zeroing or freeing anything, here or in the kernel. Chunks are handed
// out afresh whoever held them, so call it only on a table that no reader
// can see (one swapped out, after the grace period of its swap). It
// returns ErrFull, leaving the table as it was, when cover would leave
// fewer spare chunks than an eighth of those it uses and minHeadroom:
// deltas would soon run out.
func (t *Table) Reload(cover []Prefix, minHeadroom int) error {
	need := chunksNeeded(cover)
	if need+max(need/8, minHeadroom) > len(t.chunks)*ChunksPerPage {
		return ErrFull
	}
	t.used, t.free, t.retired = 0, t.free[:0], t.retired[:0]
	var old Page
	j := 0
	for pg := range t.tbl24 {
		lo, hi := uint32(pg)*PageWords, uint32(pg+1)*PageWords-1
		// The CIDRs overlapping this page start at j (a CIDR wider than a
		// page also overlaps the next ones).
		for j < len(cover) && cover[j].last()>>8 < lo {
			j++
		}
		k := j
		for k < len(cover) && cover[k].Addr>>8 <= hi {
			k++
		}
		// Build the page on zero, as Build does (no entry left to retire a
		// chunk), then keep it dirty only if it differs from what the
		// kernel holds.
		old = t.tbl24[pg]
		clear(t.tbl24[pg][:])
		if err := t.rebuild(lo, hi, cover[j:k], true); err != nil {
			panic("dir24: reload ran out of chunks it counted: " + err.Error())
		}
		if t.tbl24[pg] == old {
			t.dirty24[pg/64] &^= 1 << (pg % 64)
		} else {
			t.dirty24[pg/64] |= 1 << (pg % 64)
			for r := lo >> 7; r <= hi>>7; r++ {
				t.markFront(r << 7)
			}
			// Summary words follow the entries rebuild wrote; those of
			// entries it left at zero (skipped as fresh) are cleared here.
			for i, e := range old {
				if e != entryNone && t.tbl24[pg][i] == entryNone {
					t.setSum(lo+uint32(i), entryNone)
				}
			}
		}
	}
	t.refreshFront()
	return nil
}

// MaxEntries is the number of map entries (pages) the table needs.
func (t *Table) MaxEntries() uint32 { return uint32(ChunkBase + len(t.chunks)) }

// ChunksUsed and ChunksFree report chunk capacity.
func (t *Table) ChunksUsed() int { return int(t.used) }

// ChunksFree is how many chunks updates can still take (fresh or recycled).
func (t *Table) ChunksFree() int {
	return len(t.chunks)*ChunksPerPage - int(t.used) + len(t.free)
}

// ChunksRetired is how many unlinked chunks wait for Recycle.
func (t *Table) ChunksRetired() int { return len(t.retired) }

// Recycle makes the retired chunks free for reuse. Call it only after the
// pages of every Update so far are written to the kernel and an RCU grace
// period has passed since (e.g. an ARRAY_OF_MAPS update from user space,
// which waits for one): from then on no reader can still hold an entry
// that pointed at a retired chunk.
func (t *Table) Recycle() {
	t.free = append(t.free, t.retired...)
	t.retired = t.retired[:0]
}

// Block is a run of first-level entries (/24 blocks): indexes First to Last.
type Block struct {
	First, Last uint32
}

// Blocks returns the /24 blocks that changed prefixes touch, as sorted,
// disjoint, non-adjacent runs: what Update rewrites.
func Blocks(changed []Prefix) []Block {
	bs := make([]Block, 0, len(changed))
	for _, p := range changed {
		bs = append(bs, Block{p.Addr >> 8, p.last() >> 8})
	}
	slices.SortFunc(bs, func(a, b Block) int { return cmp.Compare(a.First, b.First) })
	out := bs[:0]
	for _, b := range bs {
		if n := len(out); n > 0 && b.First <= out[n-1].Last+1 {
			out[n-1].Last = max(out[n-1].Last, b.Last)
			continue
		}
		out = append(out, b)
	}
	return out
}

// Update rewrites the parts of the table that changed prefixes touch, from
// cover, the new cover (sorted, disjoint). changed must hold every CIDR
// that is in the old cover or the new one but not both. cover need hold
// only the CIDRs that overlap Blocks(changed): a caller with a large list
// passes that part alone. On ErrFull the table is inconsistent and must be
// discarded.
func (t *Table) Update(cover, changed []Prefix) error {
	for _, b := range Blocks(changed) {
		if err := t.rebuild(b.First, b.Last, cover, false); err != nil {
			return err
		}
	}
	t.refreshFront()
	return nil
}

// rebuild sets first-level entries [i0, i1] (and their chunks) from cover.
// fresh means the entries are known to be zero.
func (t *Table) rebuild(i0, i1 uint32, cover []Prefix, fresh bool) error {
	none := func(a, b uint32) {
		if !fresh {
			t.fill(a, b, entryNone)
		}
	}
	lo, hi := i0<<8, i1<<8|0xff
	j, _ := slices.BinarySearchFunc(cover, lo, func(p Prefix, a uint32) int {
		if p.last() < a {
			return -1
		}
		return 1
	})
	pos := i0
	for j < len(cover) && cover[j].Addr <= hi {
		p := cover[j]
		if p.Bits <= 24 {
			a, b := max(p.Addr>>8, i0), min(p.last()>>8, i1)
			none(pos, a)
			t.fill(a, b+1, entryBlocked)
			pos = b + 1
			j++
			continue
		}
		idx := p.Addr >> 8
		none(pos, idx)
		if j+1 == len(cover) || cover[j+1].Addr>>8 != idx {
			t.fill(idx, idx+1, OneFlag|uint32(p.Bits-24)<<8|p.Addr&0xff)
			j++
			pos = idx + 1
			continue
		}
		var bm [ChunkWords]uint32
		for ; j < len(cover) && cover[j].Addr>>8 == idx; j++ {
			setBits(&bm, uint8(cover[j].Addr), uint8(cover[j].last()))
		}
		if err := t.setChunk(idx, &bm); err != nil {
			return err
		}
		pos = idx + 1
	}
	none(pos, i1+1)
	return nil
}

// setBits sets bits [a, b] of a chunk bitmap.
func setBits(bm *[ChunkWords]uint32, a, b uint8) {
	for i := uint(a); i <= uint(b); i++ {
		bm[i>>5] |= 1 << (i & 31)
	}
}

// fill sets entries [a, b) to v (entryNone, entryBlocked or a OneFlag
// entry).
func (t *Table) fill(a, b, v uint32) {
	first, last := uint32(1<<24), uint32(0) // the /24s that changed
	for idx := a; idx < b; idx++ {
		e := &t.tbl24[idx/PageWords][idx%PageWords]
		if *e != v {
			if *e&ChunkFlag != 0 {
				// Readers may still follow the old entry to this chunk.
				t.retired = append(t.retired, *e&^ChunkFlag)
			}
			*e = v
			t.dirty24[idx/PageWords/64] |= 1 << (idx / PageWords % 64)
			t.setSum(idx, v)
			first, last = min(first, idx), idx
		}
	}
	for r := first >> 7; first <= last && r <= last>>7; r++ {
		t.markFront(r << 7)
	}
}

// summary is the summary word of first-level entry e.
func summary(e uint32) uint32 {
	switch {
	case e&ChunkFlag != 0:
		return SumChunk
	case e&OneFlag != 0:
		return SumOne | e&0xfff
	}
	return e
}

// setSum sets the summary word of /24 index idx for entry e.
func (t *Table) setSum(idx, e uint32) {
	pg, i := idx/SumWords, idx%SumWords
	w := &t.sum[pg][i/2]
	shift := i & 1 * 16
	if v := *w&^(0xffff<<shift) | summary(e)<<shift; v != *w {
		*w = v
		t.dirtySum[pg/64] |= 1 << (pg % 64)
	}
}

func (t *Table) setChunk(idx uint32, bm *[ChunkWords]uint32) error {
	e := &t.tbl24[idx/PageWords][idx%PageWords]
	var c uint32
	if *e&ChunkFlag != 0 {
		// Rewriting the same /24's chunk in place is safe: a reader sees the
		// old or the new word.
		c = *e &^ ChunkFlag
	} else if n := len(t.free); n > 0 {
		c = t.free[n-1]
		t.free = t.free[:n-1]
	} else {
		if int(t.used) == len(t.chunks)*ChunksPerPage {
			return ErrFull
		}
		c = t.used
		t.used++
	}
	words := t.chunkWords(c)
	if *words != *bm {
		*words = *bm
		pg := c / ChunksPerPage
		t.dirtyChunk[pg/64] |= 1 << (pg % 64)
	}
	if v := ChunkFlag | c; *e != v {
		*e = v
		t.dirty24[idx/PageWords/64] |= 1 << (idx / PageWords % 64)
		t.setSum(idx, v)
		t.markFront(idx)
	}
	return nil
}

func (t *Table) chunkWords(c uint32) *[ChunkWords]uint32 {
	pg := &t.chunks[c/ChunksPerPage]
	off := c % ChunksPerPage * ChunkWords
	return (*[ChunkWords]uint32)(pg[off : off+ChunkWords])
}

// Lookup reports whether addr (host order) is blocked, reading the table
// exactly as the XDP program does.
func (t *Table) Lookup(addr uint32) bool {
	idx := addr >> 8
	s, ok := frontCode(t.record(addr>>15), idx)
	if ok && s == entryNone {
		return false
	}
	if !ok || s == FrontSum {
		s = t.sum[idx/SumWords][idx%SumWords/2] >> (idx & 1 * 16) & 0xffff
	}
	if s&SumOne != 0 {
		shift := 8 - s>>8&0xf
		return addr&0xff>>shift == s&0xff>>shift
	}
	if s != SumChunk {
		return s&1 != 0
	}
	e := t.tbl24[idx/PageWords][idx%PageWords]
	if e&OneFlag != 0 {
		shift := 8 - e>>8&0xf
		return addr&0xff>>shift == e&0xff>>shift
	}
	if e&ChunkFlag == 0 {
		return e&1 != 0
	}
	c := e &^ ChunkFlag
	w := t.chunks[c/ChunksPerPage][c%ChunksPerPage*ChunkWords+(addr&0xff)>>5]
	return w>>(addr&31)&1 != 0
}

// Run is a run of consecutive pages to write: map keys First, First+1, ...
// with values Pages (which alias the table: write them before changing it).
type Run struct {
	First uint32
	Pages []Page
}

// Dirty returns the pages changed since Build or the last ClearDirty (after
// Build: every page that is not all zero), front pages aside (FrontDirty,
// FrontChanged), as runs: chunk pages first, then
// first-level pages, then summary pages, so that no entry points at a
// chunk before the chunk holds its bitmap. A reader then sees, for each
// /24, the state before or after: a summary word it answers from is one or
// the other, and one that sends it on (SumChunk) finds the entry before or
// after, and the chunk that entry names intact (chunks are not reused while
// readers may hold them). TestDeltaPageByPage checks this page by page.
func (t *Table) Dirty() []Run {
	runs := appendRuns(nil, t.dirtyChunk, t.chunks, ChunkBase)
	runs = appendRuns(runs, t.dirty24, t.tbl24, 0)
	return appendRuns(runs, t.dirtySum, t.sum, Tbl24Pages)
}

// ClearDirty forgets which pages changed.
func (t *Table) ClearDirty() {
	clear(t.dirty24)
	clear(t.dirtySum)
	clear(t.dirtyChunk)
	clear(t.dirtyFront)
	t.frontChanged = t.frontChanged[:0]
}

func appendRuns(runs []Run, dirty []uint64, pages []Page, base uint32) []Run {
	start := -1
	for i := range pages {
		d := dirty[i/64]&(1<<(i%64)) != 0
		if d && start < 0 {
			start = i
		}
		if !d && start >= 0 {
			runs = append(runs, Run{base + uint32(start), pages[start:i]})
			start = -1
		}
	}
	if start >= 0 {
		runs = append(runs, Run{base + uint32(start), pages[start:]})
	}
	return runs
}

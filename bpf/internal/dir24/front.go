package dir24

import "math/bits"

// The front is what a packet reads first: one 64-byte record per /17 (2^17
// records, 8 MiB), which answers for the /24s of its /17 from one cache
// line. A source the caches have not seen pays one read in a table, and
// that read costs more the larger the table (4 KiB pages: a TLB miss and a
// cache miss; bench/xdp BenchmarkColdRead: ~70 ns less in 8 MiB than in the
// 32 MiB summary here), so the 8 MiB front spares most packets the summary.
//
// A record (16 little-endian words, as struct dir_front in filter.c) holds
// up to FrontSlots slots, each a range of /24s and what the range holds:
//
//	bytes  0-15  key of slot i: the third octet of the range's first /24
//	bytes 16-31  mask of slot i: the third-octet bits the range fixes
//	bytes 32-63  code of slot i (uint16): a summary word (entryBlocked,
//	             SumOne|..., SumChunk), or FrontSum: read the summary
//
// A source's third octet x is in slot i when x&mask[i] == key[i]; a reader
// takes the lowest such slot (all eight of a word at once: the zero-byte
// trick over x*0x0101010101010101&masks^keys). Slots in use come first and
// are disjoint; unused slots are zero, so they match anything with code 0
// (not blocked): a source in no range of the record ends at the first
// unused slot, or at slot 15, whose key and mask are always zero: slot 15
// means "in no range" (its code is the state, which may change meanwhile). A /17
// with more ranges than slots gets the record {slot 0: key 0, mask 0, code
// FrontSum}, which sends every source on to the summary.
//
// Code 15 (the high half of word 15) is the record's state instead:
// FrontInvalid while user space rewrites a live record, which readers then
// skip for the summary (see FrontChanged). It reads as code 0 when valid.
const (
	FrontBase           = Tbl24Pages + SumPages
	FrontRecordWords    = 16
	FrontRecordsPerPage = PageWords / FrontRecordWords
	FrontRecords        = 1 << 17
	FrontPages          = FrontRecords / FrontRecordsPerPage
	FrontSlots          = 15
	// FrontSum is a slot code that sends the reader to the summary word.
	FrontSum = 3
	// FrontInvalid in a record's state marks it as being rewritten.
	FrontInvalid = 0xffff
)

// Record is one front record.
type Record [FrontRecordWords]uint32

// frontRecordOf builds the record of /17 r from the first-level entries.
func (t *Table) frontRecordOf(r uint32) Record {
	var rec Record
	n := 0
	add := func(third uint32, mask uint8, code uint32) {
		if n < FrontSlots {
			setSlot(&rec, n, uint8(third)&mask, mask, code)
		}
		n++
	}
	base := r << 7
	off := base % PageWords
	es := t.tbl24[base/PageWords][off : off+128]
	for i := uint32(0); i < 128; {
		e := es[i]
		switch e {
		case entryNone:
			i++
		case entryBlocked:
			j := i + 1
			for j < 128 && es[j] == entryBlocked {
				j++
			}
			// The run [i, j) as aligned blocks of /24s, largest first.
			for i < j {
				size := uint32(1)
				for size < 128 && i%(2*size) == 0 && i+2*size <= j {
					size *= 2
				}
				add(base+i, ^uint8(size-1), entryBlocked)
				i += size
			}
		default:
			add(base+i, 0xff, summary(e))
			i++
		}
	}
	if n > FrontSlots {
		rec = Record{}
		setSlot(&rec, 0, 0, 0, FrontSum)
	}
	return rec
}

func setSlot(rec *Record, i int, key, mask uint8, code uint32) {
	rec[i/4] |= uint32(key) << (i % 4 * 8)
	rec[4+i/4] |= uint32(mask) << (i % 4 * 8)
	rec[8+i/2] |= code << (i % 2 * 16)
}

// frontCode returns the code the record gives the third octet x, reading
// it as the XDP program does: ok is false when the record is invalid.
func frontCode(rec *Record, x uint32) (code uint32, ok bool) {
	if rec[15]>>16 != 0 {
		return 0, false
	}
	xs := uint64(x&0xff) * 0x0101010101010101
	for w := range 2 {
		keys := uint64(rec[2*w]) | uint64(rec[2*w+1])<<32
		masks := uint64(rec[4+2*w]) | uint64(rec[4+2*w+1])<<32
		v := xs&masks ^ keys
		z := (v - 0x0101010101010101) & ^v & 0x8080808080808080
		if z != 0 {
			i := uint32((z&-z)>>7*0x0001020304050607>>56) + uint32(8*w)
			if i >= FrontSlots {
				return 0, true // slot 15 is the state: in no range
			}
			return rec[8+i/2] >> (i % 2 * 16) & 0xffff, true
		}
	}
	return 0, true
}

// markFront notes that /24 index idx changed: its record must be rebuilt.
func (t *Table) markFront(idx uint32) {
	r := idx >> 7
	t.frontStale[r/64] |= 1 << (r % 64)
}

// refreshFront rebuilds the records marked stale, noting those that change.
func (t *Table) refreshFront() {
	for wi, w := range t.frontStale {
		for w != 0 {
			r := uint32(wi)*64 + uint32(bits.TrailingZeros64(w))
			w &= w - 1
			rec := t.frontRecordOf(r)
			cur := t.record(r)
			if *cur != rec {
				*cur = rec
				pg := r / FrontRecordsPerPage
				t.dirtyFront[pg/64] |= 1 << (pg % 64)
				t.frontChanged = append(t.frontChanged, r)
			}
		}
		t.frontStale[wi] = 0
	}
}

func (t *Table) record(r uint32) *Record {
	pg := &t.front[r/FrontRecordsPerPage]
	off := r % FrontRecordsPerPage * FrontRecordWords
	return (*Record)(pg[off : off+FrontRecordWords])
}

// FrontChanged returns the records changed since Build or the last
// ClearDirty, and Record their content. A live table's records are not
// written with the other pages (Dirty): a reader could see a record half
// written. The owner marks each changed record FrontInvalid in place,
// waits for an RCU grace period (no reader still in an old record), writes
// the records with their state last, after the other pages of the delta.
// A reader meanwhile skips an invalid record for the summary, and an old
// valid record answers as before the delta or sends the reader on to the
// entry, which is before or after.
func (t *Table) FrontChanged() []uint32 { return t.frontChanged }

// Record returns record r of the front.
func (t *Table) Record(r uint32) Record { return *t.record(r) }

// FrontDirty returns the front pages changed since Build or the last
// ClearDirty, as runs: for a table no packet reads yet (built, reloaded
// or patched aside), written with Dirty in any order.
func (t *Table) FrontDirty() []Run {
	return appendRuns(nil, t.dirtyFront, t.front, FrontBase)
}

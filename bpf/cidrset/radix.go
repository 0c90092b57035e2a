package cidrset

import (
	"math/bits"
	"slices"
)

// radixMaxPasses is the most byte passes sortPrefixes makes; keys that
// differ in more bytes (random IPv6 /128s differ in all 17) sort faster by
// comparison.
const radixMaxPasses = 6

// sortPrefixes sorts ps by compare, in place. A list whose prefixes differ
// in few key bytes (any IPv4 list: the address's low four bytes and the
// length) is sorted by an LSD radix sort, one pass per varying byte, which
// is faster than comparing; large others by bucketSort, small ones by
// pdqsort.
func sortPrefixes(ps []Prefix) {
	// Lists read from files often come sorted (FireHOL's do).
	if slices.IsSortedFunc(ps, compare) {
		return
	}
	if len(ps) < 1024 {
		slices.SortFunc(ps, compare)
		return
	}
	// A key byte is worth a pass only where some prefixes differ. Key
	// bytes, least significant first: the length, Lo's bytes, Hi's bytes.
	andHi, andLo, andBits := ^uint64(0), ^uint64(0), uint8(0xff)
	var orHi, orLo uint64
	var orBits uint8
	for _, p := range ps {
		andHi &= p.Addr.Hi
		orHi |= p.Addr.Hi
		andLo &= p.Addr.Lo
		orLo |= p.Addr.Lo
		andBits &= p.Bits
		orBits |= p.Bits
	}
	var passes []int // key byte numbers
	if andBits != orBits {
		passes = append(passes, 0)
	}
	for i, diff := range [2]uint64{andLo ^ orLo, andHi ^ orHi} {
		for j := range 8 {
			if diff>>(8*j)&0xff != 0 {
				passes = append(passes, 1+8*i+j)
			}
		}
	}
	if orHi == 0 && andLo>>32 == 0xffff && orLo>>32 == 0xffff {
		sortV4(ps, passes)
		return
	}
	if len(passes) > radixMaxPasses {
		if len(ps) < bucketSortMin {
			slices.SortFunc(ps, compare)
		} else {
			bucketSort(ps, andHi^orHi, andLo^orLo)
		}
		return
	}
	// One read for every pass's histogram.
	counts := make([][256]int, len(passes))
	for _, p := range ps {
		for k, i := range passes {
			counts[k][keyByte(p, i)]++
		}
	}
	buf := make([]Prefix, len(ps))
	src, dst := ps, buf
	for k, i := range passes {
		var next [256]int
		sum := 0
		for b, n := range counts[k] {
			next[b] = sum
			sum += n
		}
		switch {
		case i == 0:
			for _, p := range src {
				dst[next[p.Bits]] = p
				next[p.Bits]++
			}
		case i <= 8:
			shift := 8 * (i - 1)
			for _, p := range src {
				b := byte(p.Addr.Lo >> shift)
				dst[next[b]] = p
				next[b]++
			}
		default:
			shift := 8 * (i - 9)
			for _, p := range src {
				b := byte(p.Addr.Hi >> shift)
				dst[next[b]] = p
				next[b]++
			}
		}
		src, dst = dst, src
	}
	if len(passes)%2 == 1 {
		copy(ps, src)
	}
}

// sortV4 radix sorts an all-IPv4 list over passes (key bytes 0-4: the
// length, then the address from its low byte), as 8-byte keys (address <<
// 8 | length, ordered as compare orders the prefixes) rather than 24-byte
// prefixes: a third of the memory each pass reads and writes.
func sortV4(ps []Prefix, passes []int) {
	keys := make([]uint64, len(ps))
	for i, p := range ps {
		keys[i] = uint64(uint32(p.Addr.Lo))<<8 | uint64(p.Bits)
	}
	counts := make([][256]int, len(passes))
	for _, k := range keys {
		for j, i := range passes {
			counts[j][byte(k>>(8*i))]++
		}
	}
	src, dst := keys, make([]uint64, len(keys))
	for j, i := range passes {
		var next [256]int
		sum := 0
		for b, n := range counts[j] {
			next[b] = sum
			sum += n
		}
		shift := uint(8 * i)
		for _, k := range src {
			b := byte(k >> shift)
			dst[next[b]] = k
			next[b]++
		}
		src, dst = dst, src
	}
	for i, k := range src {
		ps[i] = Prefix{Addr: AddrFromV4(uint32(k >> 8)), Bits: uint8(k)}
	}
}

// bucketBits is the width of bucketSort's key: 65536 buckets.
const bucketBits = 16

// bucketSortMin is the length from which bucketSort beats pdqsort.
const bucketSortMin = 1 << 14

// bucketSort sorts ps by compare, for keys that differ in too many bytes
// for a radix sort (random IPv6 prefixes). One counting pass on the
// bucketBits address bits below the highest bit that varies (diffHi and
// diffLo: the bits of Hi and Lo that vary) spreads ps over buckets in key
// order; pdqsort then sorts each bucket, a handful of prefixes for a
// random list instead of log2(n) levels of comparisons over all of them.
func bucketSort(ps []Prefix, diffHi, diffLo uint64) {
	hi, diff := true, diffHi
	if diff == 0 {
		hi, diff = false, diffLo
	}
	// Bits above the highest varying one are equal in every prefix, so
	// ordering by the bits below it orders by address.
	shift := uint(max(63-bits.LeadingZeros64(diff)-(bucketBits-1), 0))
	key := func(p Prefix) int {
		w := p.Addr.Lo
		if hi {
			w = p.Addr.Hi
		}
		return int(w>>shift) & (1<<bucketBits - 1)
	}
	start := make([]int, 1<<bucketBits+1)
	for _, p := range ps {
		start[key(p)+1]++
	}
	for b := 1; b < len(start); b++ {
		start[b] += start[b-1]
	}
	next := slices.Clone(start[:1<<bucketBits])
	buf := make([]Prefix, len(ps))
	for _, p := range ps {
		k := key(p)
		buf[next[k]] = p
		next[k]++
	}
	for b := range 1 << bucketBits {
		if bucket := buf[start[b]:start[b+1]]; len(bucket) > 1 {
			slices.SortFunc(bucket, compare)
		}
	}
	copy(ps, buf)
}

// keyByte returns byte i of p's sort key, least significant first.
func keyByte(p Prefix, i int) byte {
	switch {
	case i == 0:
		return p.Bits
	case i <= 8:
		return byte(p.Addr.Lo >> (8 * (i - 1)))
	}
	return byte(p.Addr.Hi >> (8 * (i - 9)))
}

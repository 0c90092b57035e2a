// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
//
// filter.c is edgeguard's XDP fast path. For every frame it reads the source
// address (Ethernet, up to two VLAN tags, IPv4 or IPv6) and decides:
//
//   source in the allowlist            -> XDP_PASS (allow wins over everything;
//                                         looked up only when a list would drop)
//   source in the blocklist            -> XDP_DROP
//   source banned, ban not yet expired -> XDP_DROP (an address, or for IPv6
//                                         also a network: bans_net6)
//   source over a hard burst           -> XDP_DROP, and the program bans it
//                                         itself (see "Burst meter" below)
//   otherwise                          -> XDP_PASS
//
// Frames it cannot parse (too short, bad version, a third VLAN tag) and
// non-IP frames are passed to the kernel: this program only ever drops what
// a list names or what the burst meter bans. Every verdict is counted per
// reason (packets and bytes).
//
// Lists are replaced atomically by user space: each list lives in an inner
// map that sits in the single slot of an ARRAY_OF_MAPS, and a whole new inner
// map is swapped in. An empty slot means an empty list. No blocklist lookup
// walks a trie: IPv4 reads a flat DIR-24-8 table, IPv6 a hash table of /32
// nodes (see struct v6_node), each behind a front that answers most
// sources from one cache line of a few MiB (struct dir_front, struct
// v6_front_set): a source the caches have not seen costs one memory read
// where the table would cost two or three. Tries remain for the
// allowlists, which are consulted only when a packet would be dropped.
//
// Every key and value layout below is mirrored in Go by bpf2go (-type) and
// checked by bpf/layout_test.go; change both together.

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/in.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "burst.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

// enum reason indexes the stats map. Its numbering is stable API: Go mirrors
// it as enforce.Reason and metrics use its names.
enum reason {
	REASON_PASS = 0,       // no list matched
	REASON_PASS_ALLOWLIST, // would be dropped, but the source is allowlisted
	REASON_PASS_NOT_IP,    // neither IPv4 nor IPv6 (ARP, LLDP, ...)
	REASON_PASS_MALFORMED, // too short or unparsable: the kernel decides
	REASON_DROP_BLOCKLIST, // source in the blocklist
	REASON_DROP_BANNED,    // source banned until a time not yet reached
	REASON_DROP_BURST,     // source over a hard burst: dropped and banned here
	REASON_MAX,
};

// struct counter is one stats slot: per CPU, summed by user space.
struct counter {
	__u64 packets;
	__u64 bytes; // frame length as seen by XDP, L2 header included
};

// LPM trie keys: prefix length in bits, then the address in network order.
struct lpm_v4_key {
	__u32 prefixlen;
	__u8 addr[4];
};

struct lpm_v6_key {
	__u32 prefixlen;
	__u8 addr[16];
};

// struct ban_key is an IPv6 address in network order; IPv4 sources are
// stored IPv4-mapped (::ffff:a.b.c.d) so one map serves both families.
struct ban_key {
	__u8 addr[16];
};

// DIR-24-8 table for the IPv4 blocklist, in one ARRAY map of 4 KiB pages.
//
// Keys [0, DIR_TBL24_PAGES) hold the first level: 2^24 __u32 entries indexed
// by the top 24 bits of the source, 1024 per page. An entry is
//   0                        not blocked
//   1                        blocked (a prefix of length <= 24 covers the /24)
//   DIR_CHUNK_FLAG | c       look at chunk c
//   DIR_ONE_FLAG | (len - 24) << 8 | octet
//                            the /24's only CIDR longer than /24 (25-32
//                            bits, last octet of its network): no chunk to
//                            read, the common case in a sparse list
// Keys [DIR_TBL24_PAGES, DIR_CHUNK_BASE) hold a summary of the first level,
// one __u16 per /24 (2048 per page), which is what a packet reads first:
//   0 / 1                    as the entry
//   DIR_SUM_ONE | (len - 24) << 8 | octet
//                            as a DIR_ONE_FLAG entry
//   DIR_SUM_CHUNK            the entry points at a chunk: read it
// Half the memory of the first level means a cheaper miss for a source the
// caches have not seen (bench/xdp BenchmarkColdRead: one read in a 32 MiB
// table costs ~40-60 ns less than in a 64 MiB one here). A reader sent on
// to the entry finds it before or after a delta, either a state of the /24;
// user space writes a delta's chunks, then entries, then summary words.
// Keys [DIR_FRONT_BASE, DIR_CHUNK_BASE) hold the front, which a packet
// reads before the summary: one struct dir_front (64 bytes) per /17 that
// answers most sources from one line of an 8 MiB table, where the summary's
// 32 MiB cost a cold packet ~70 ns more (BenchmarkColdRead). See
// bpf/internal/dir24/front.go for its encoding and how user space rewrites
// a live record.
// Keys from DIR_CHUNK_BASE on hold the second level: chunk c is a 256-bit
// bitmap (8 words, bit i of word j = address j*32+i in the /24) at page
// DIR_CHUNK_BASE + c / DIR_CHUNKS_PER_PAGE. User space never reuses a chunk
// for another /24 while the table is live, so a reader that saw an old entry
// still reads a bitmap that belonged to that entry.
#define DIR_PAGE_WORDS 1024
#define DIR_TBL24_PAGES (1u << 14)
#define DIR_SUM_PAGES (1u << 13)
#define DIR_SUM_WORDS (2 * DIR_PAGE_WORDS)
#define DIR_FRONT_BASE (DIR_TBL24_PAGES + DIR_SUM_PAGES)
#define DIR_FRONT_PAGES (1u << 11)
#define DIR_FRONT_PER_PAGE 64
#define DIR_FRONT_SUM 3u
#define DIR_CHUNK_BASE (DIR_FRONT_BASE + DIR_FRONT_PAGES)
#define DIR_CHUNK_WORDS 8
#define DIR_CHUNKS_PER_PAGE (DIR_PAGE_WORDS / DIR_CHUNK_WORDS)
#define DIR_CHUNK_FLAG 0x80000000u
#define DIR_ONE_FLAG 0x40000000u
#define DIR_SUM_ONE 0x8000u
#define DIR_SUM_CHUNK 2u

struct dir_page {
	__u32 w[DIR_PAGE_WORDS];
};

// struct dir_front is one /17's front record: slot i covers the /24s whose
// third octet x has x & masks[i] == keys[i] and holds code[i], a summary
// word or DIR_FRONT_SUM (read the summary). Unused slots are zero (code 0:
// not blocked); code[15] is the record's state instead: nonzero while user
// space rewrites the record, which is then skipped.
struct dir_front {
	__u64 keys[2];
	__u64 masks[2];
	__u16 code[16];
};

// dep_zero returns zero computed from v: loads whose addresses add it are
// ordered after the load of v, by an address dependency, on CPUs that may
// reorder loads (arm64 honours such a dependency; x86 never reorders
// loads). The asm hides the value from clang, which would otherwise fold
// the dependency away; the verifier sees the and, so it knows the zero.
static __always_inline __u64 dep_zero(__u64 v)
{
	asm volatile("%[v] &= 0" : [v] "+r"(v));
	return v;
}

// front_slot returns the lowest slot of the word whose key matches the
// third octet xs (broadcast to every byte), or 8: the zero-byte trick finds
// the lowest zero byte of xs & masks ^ keys exactly.
static __always_inline __u32 front_slot(__u64 xs, __u64 keys, __u64 masks)
{
	__u64 v = (xs & masks) ^ keys;
	__u64 z = (v - 0x0101010101010101ULL) & ~v & 0x8080808080808080ULL;

	if (!z)
		return 8;
	// The lowest set bit is bit 8i+7: byte i of the multiplier's top.
	return (((z & -z) >> 7) * 0x0001020304050607ULL) >> 56;
}

// Inner map templates, written inline in each __array() so that BTF carries
// their full definition. BPF_F_INNER_MAP lets the real DIR-24-8 arrays have a
// different max_entries (number of chunk pages) than the template;
// BPF_F_MMAPABLE lets user space copy a whole table into one that no packet
// reads yet instead of writing it page by page through syscalls.
#define DIR_INNER                                                  \
	struct {                                                   \
		__uint(type, BPF_MAP_TYPE_ARRAY);                  \
		__uint(max_entries, 1);                            \
		__uint(map_flags, BPF_F_INNER_MAP | BPF_F_MMAPABLE); \
		__type(key, __u32);                                \
		__type(value, struct dir_page);                    \
	}

#define LPM_INNER(keytype)                                \
	struct {                                          \
		__uint(type, BPF_MAP_TYPE_LPM_TRIE);      \
		__uint(max_entries, 1);                   \
		__uint(map_flags, BPF_F_NO_PREALLOC);     \
		__type(key, keytype);                     \
		__type(value, __u8);                      \
	}

// Hash table for the IPv6 blocklist (layout built by bpf/internal/v6tab).
//
// struct v6_key tags an address (network order):
//   tag V6_TAG_NODE  the /32 in addr[0..3], rest zero -> struct v6_node
//   tag 0-128        a CIDR of that length, host bits zero -> zero v6_node
// Every /32 that holds a CIDR of 33 bits or more, or that a CIDR of up to
// 32 bits covers (user space spreads those over their /32s down to a
// length it chooses), has a node. The cover user space loads is disjoint,
// so a source whose /32 has a node is blocked by that node's CIDRs or not
// at all; a source without a node is looked up by the short lengths in
// block_v6_short. A packet costs one hash lookup in the common case (one
// CIDR per /32, held inline), whatever the list size.
#define V6_TAG_NODE 0x100u

struct v6_key {
	__u32 tag;
	__u8 addr[16];
};

struct v6_node {
	__u64 lens_lo;        // further CIDRs of 33-96 bits under this /32: bit len-33
	__u32 lens_hi;        // further CIDRs of 97-128 bits: bit len-97
	__u8 covered;         // nonzero: one CIDR of 32 bits or fewer covers the /32
	__u8 inline_len;      // 0, or the length (33-128) of the CIDR in inline_addr
	__u16 pad;
	__u8 inline_addr[16]; // one CIDR under this /32, host bits zero
};

// The front of the IPv6 table (layout built by bpf/internal/v6front): an
// array of 2^bits sets of 64 bytes, a DIR_INNER map of pages, that holds
// per /32 what its node says when that is "covered" or one CIDR, and knows
// for most /32s that they have no node: most hits and misses cost one read
// of a few MiB instead of a hash lookup. Used only while block_v6_short
// gives its bits (user space clears them while the front and the table
// may belong to different lists). state is nonzero in its high half while
// user space rewrites the set; bit 0 says a /32 of the set is not in it.
#define V6_FRONT_PER_PAGE 64
#define V6_FRONT_MUL 0x9e3779b1u
#define V6_FRONT_LEN_TABLE 255
#define V6_FRONT_INCOMPLETE 1u
#define V6_FRONT_BITS_SHIFT 32

struct v6_front_way {
	__u32 key;     // the /32: address word 0 as loaded
	__u32 len;     // 0 empty, 32 covered, 33-128 the one CIDR, 255: ask the table
	__u32 addr[3]; // address words 1-3 of the CIDR, host bits zero
};

struct v6_front_set {
	struct v6_front_way way[3];
	__u32 state;
};

// Preallocated (no BPF_F_NO_PREALLOC): the elements come from one
// allocation at creation, so filling a table takes no per-element kmalloc
// and two writers scale (with per-element allocation on 6.x kernels a
// second writer slowed the fill down); deltas have headroom anyway.
#define V6_INNER                                          \
	struct {                                          \
		__uint(type, BPF_MAP_TYPE_HASH);          \
		__uint(max_entries, 1);                   \
		__uint(map_flags, 0);                     \
		__type(key, struct v6_key);               \
		__type(value, struct v6_node);            \
	}

// Clang emits only a forward declaration for a struct reached solely through
// an __array() inner map definition, which loaders cannot size. These tiny
// template maps make BTF carry the full key and value types; user space never
// uses them.
DIR_INNER tmpl_dir SEC(".maps");
V6_INNER tmpl_v6 SEC(".maps");
LPM_INNER(struct lpm_v4_key) tmpl_lpm_v4 SEC(".maps");
LPM_INNER(struct lpm_v6_key) tmpl_lpm_v6 SEC(".maps");

// Outer maps: key 0 -> inner map, or empty for an empty list.
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 1);
	__type(key, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
	__array(values, DIR_INNER);
} block_v4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 1);
	__type(key, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
	__array(values, V6_INNER);
} block_v6 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 1);
	__type(key, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
	__array(values, DIR_INNER);
} block_v6_front SEC(".maps");

// block_v6_short: key 0 -> in the low word the bitmap of the CIDR lengths
// below 32 (bit len) that have tagged entries in block_v6's table, in the
// high word the bits of the live front (0: do not use it). User space widens it to
// cover both tables before a swap and narrows it after, so a packet never
// misses a length of the table it reads.
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} block_v6_short SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 1);
	__type(key, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
	__array(values, LPM_INNER(struct lpm_v4_key));
} allow_v4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 1);
	__type(key, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
	__array(values, LPM_INNER(struct lpm_v6_key));
} allow_v6 SEC(".maps");

// lists_disjoint: key 0 -> nonzero while no allowlisted address is in the
// blocklist, the usual case: a blocklist hit then drops without an
// allowlist lookup (a trie walk, a call into the kernel: ~10-15 ns of the
// ~45 a hit costs here). User space turns it off before any list change
// after which the lists may meet, and on again once they are known apart;
// zero, as a fresh map is, always consults the allowlist. Bans still do.
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} lists_disjoint SEC(".maps");

// bans: source -> ban expiry in bpf_ktime_get_ns() time (CLOCK_MONOTONIC).
// Expired entries are ignored here and removed by user space. The bucket
// array is allocated in full (16 bytes per entry) and every packet that no
// list names probes it, so it is sized for cache reach rather than for the
// largest conceivable attack; the blocklist is the tool for more sources.
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1 << 17);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct ban_key);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} bans SEC(".maps");

// bans_net6: IPv6 network -> ban expiry, as in bans. A host can rotate
// through the 2^64 addresses of its /64, so the rate limiter bans IPv6
// offenders by the network it counts them by; user space accepts /32 and
// longer. Probed only for IPv6 sources no list or address ban names.
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 1 << 16);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct lpm_v6_key);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} bans_net6 SEC(".maps");

// net_bans_on: key 0 -> nonzero while bans_net6 may hold a ban. An array
// lookup is inlined and costs next to nothing, while walking even an empty
// trie costs ~10 ns per IPv6 packet; user space clears it when the last
// network ban goes.
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} net_bans_on SEC(".maps");

// stats: enum reason -> counter, per CPU.
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, REASON_MAX);
	__type(key, enum reason);
	__type(value, struct counter);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} stats SEC(".maps");

// layout: key 0 -> fingerprint of the inner map layouts, written by user
// space. The kernel fixes an outer map's inner layout when the outer map is
// created, so a daemon re-opening pinned maps compares it before re-using
// them. Not read by the program.
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} layout SEC(".maps");

// Burst meter. Packets that pass every list are metered per source: an
// IPv4 address, or an IPv6 network of burst_cfg.v6_prefix bits (the rate
// limiter's rate_limit.ipv6_prefix). Two GCRA buckets per source (burst.h):
// new TCP connections (SYN without ACK, any port) and the other packets to
// the metered ports (TCP and UDP: the data listeners' ports); a packet draws
// on one bucket at most. A source over a burst is banned by the program
// itself, in bans (an address) or bans_net6 (an IPv6 network), until now +
// ban_ns, so its next packets cost one lookup; an event on burst_events
// tells gatewayd, which persists the ban like any other. The allowlist is
// consulted only when the meter would ban: allowlisted sources are never
// dropped or banned by it. IPv6 extension headers and later IPv4 fragments
// are not followed: such packets are not metered.
//
// Buckets are shared by all CPUs and updated with atomic adds, not kept per
// CPU. A flood from one source with varying ports spreads over every RX
// queue the NIC hashes it to, so per-CPU buckets would need the limits
// divided by the CPUs that see the source (unknowable here, and unfair to a
// client whose few connections land on one CPU) or would multiply them by
// the CPU count. The atomic costs ~3 ns per packet uncontended; contention
// (one source on several CPUs at once) costs more, but lasts only until the
// source is banned, after which it never reaches the meter again.
// bench/xdp BenchmarkMeter and BenchmarkMeterBuckets measure both.

// enum burst_bucket names a bucket; events carry the one that overflowed.
enum burst_bucket {
	BURST_SYN = 1, // new TCP connections
	BURST_PKT = 2, // packets to the metered ports
};

// struct burst_cfg is the meter's settings, written whole by user space (a
// packet may see a reload half applied: old rate, new burst; harmless).
struct burst_cfg {
	__u64 syn_interval;  // ns per new connection at the sustained rate; 0: SYNs not metered
	__u64 syn_tolerance; // (SYN burst - 1) * syn_interval
	__u64 pkt_interval;  // ns per packet at the sustained rate; 0: packets not metered
	__u64 pkt_tolerance; // (packet burst - 1) * pkt_interval
	__u64 ban_ns;        // how long an offender stays banned
	__u64 jiffy_ns;      // ns per jiffy (the coarse clock's resolution): the meter's clock unit
	__u32 on;            // 0: the meter is off
	__u32 v6_prefix;     // IPv6 sources are metered and banned per network of this length (32-128)
	__u64 ports[1024];   // metered destination ports: bit p % 64 of word p / 64
};

// struct meter is one source's buckets (burst.h): theoretical arrival
// times in the meter's clock (ns, see burst_meter).
struct meter {
	__u64 syn_tat;
	__u64 pkt_tat;
};

// struct meter_way is one slot of the meter table: a source (struct
// ban_key as two words; all zero while the slot is empty) and its buckets.
struct meter_way {
	__u64 key[2];
	struct meter m;
};

// struct meter_set is what one hash of a source selects: METER_WAYS slots,
// two cache lines. A source new to the table takes the slot of the one
// least recently active (the lowest latest tat), so a flood of spoofed
// sources, each seen once, evicts its own kind first and never a source
// that keeps sending faster than its rate (whose tat runs ahead of now).
#define METER_WAYS 4

struct meter_set {
	struct meter_way way[METER_WAYS];
};

// struct burst_event tells user space that the program banned a source.
struct burst_event {
	__u8 addr[16];   // the source as metered: IPv4-mapped address, IPv6 address or network
	__u64 until;     // ban expiry, bpf_ktime_get_ns() time
	__u32 prefixlen; // 128 for an address (IPv4 included), else the IPv6 network's length
	enum burst_bucket bucket; // the bucket that overflowed (4 bytes)
};

// enum burst_counter indexes burst_stats.
enum burst_counter {
	BURST_BANS = 0,      // bans the program wrote
	BURST_BAN_FAILED,    // bans it could not write (ban map full): the packet is still dropped
	BURST_EVENTS_LOST,   // bans written whose event did not fit in the ring buffer
	BURST_COUNTER_MAX,
};

// burst: key 0 -> settings. Not pinned: each program gets its own, set
// by the daemon that loads it (off until then).
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct burst_cfg);
} burst SEC(".maps");

// meters: set index -> struct meter_set, the sources being metered (as
// struct ban_key, IPv6 networks with host bits clear). A fixed table, so
// spoofed sources cannot exhaust memory, set-associative with the eviction
// rule of struct meter_set; an offender's ban lives in bans, which the
// table never touches. A plain array rather than an LRU hash map: the
// verifier inlines an array lookup, while a hash lookup is a call into the
// kernel (and a second one to compare keys), and calls are dear here: the
// LRU cost ~35 ns per metered packet in this KVM guest, the table ~5.
// Sized by xdp.burst.max_sources at load (meter_mask + 1 sets, a power of
// two); not pinned (a restart starts with full buckets).
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, struct meter_set);
} meters SEC(".maps");

// Set by user space at load: meters has meter_mask + 1 entries, and
// meter_seed (random per load) keys the hash that picks a source's set,
// so that nobody outside can aim sources at one set.
volatile const __u32 meter_mask = 16383;
volatile const __u64 meter_seed = 0;

// burst_events: struct burst_event per ban, read by the daemon.
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} burst_events SEC(".maps");

// A ring buffer has no value type: this puts struct burst_event in BTF for
// bpf2go (the cilium/ebpf ringbuffer example's idiom).
const struct burst_event *unused_burst_event __attribute__((unused));

// burst_stats: enum burst_counter -> count, per CPU.
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, BURST_COUNTER_MAX);
	__type(key, enum burst_counter);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} burst_stats SEC(".maps");

// The UAPI headers do not define a VLAN header.
struct vlan_hdr {
	__be16 tci;
	__be16 encapsulated_proto;
};

static __always_inline int verdict(struct xdp_md *ctx, __u32 reason, int action)
{
	struct counter *c = bpf_map_lookup_elem(&stats, &reason);

	if (c) {
		c->packets++;
		c->bytes += ctx->data_end - ctx->data;
	}
	return action;
}

// dir_blocked reports whether the DIR-24-8 table marks the IPv4 source
// (host order) as blocked.
static __always_inline int dir_blocked(__u32 a)
{
	__u32 key = 0;
	void *tbl = bpf_map_lookup_elem(&block_v4, &key);
	if (!tbl)
		return 0;

	__u32 idx = a >> 8, r = a >> 15;
	key = DIR_FRONT_BASE + r / DIR_FRONT_PER_PAGE;
	struct dir_page *p = bpf_map_lookup_elem(tbl, &key);
	if (!p)
		return 0;
	struct dir_front *f = (struct dir_front *)p->w + (r & (DIR_FRONT_PER_PAGE - 1));
	__u32 state = *(volatile __u16 *)&f->code[15];
	__u64 dep = dep_zero(state); // the slots are read after the state
	__u32 s = DIR_FRONT_SUM;
	if (!state) {
		f = (void *)f + dep;
		__u64 xs = (idx & 0xff) * 0x0101010101010101ULL;
		__u32 i = front_slot(xs, f->keys[0], f->masks[0]);
		if (i == 8)
			i += front_slot(xs, f->keys[1], f->masks[1]);
		// Slot 15 is the state, not a range (its key and mask are zero):
		// ending there means no range holds the source. Its code is not
		// read again, as user space may be marking the record meanwhile.
		if (i >= 15)
			return 0;
		s = f->code[i];
		if (!s)
			return 0;
	}
	if (s == DIR_FRONT_SUM) {
		key = DIR_TBL24_PAGES + idx / DIR_SUM_WORDS;
		p = bpf_map_lookup_elem(tbl, &key);
		if (!p)
			return 0;
		s = ((__u16 *)p->w)[idx & (DIR_SUM_WORDS - 1)];
	}
	if (s & DIR_SUM_ONE) {
		__u32 shift = (8 - ((s >> 8) & 0xf)) & 7;
		return ((a & 0xff) >> shift) == ((s & 0xff) >> shift);
	}
	if (s != DIR_SUM_CHUNK)
		return s & 1;

	// The entry: a chunk, or (written meanwhile) anything.
	key = idx / DIR_PAGE_WORDS;
	p = bpf_map_lookup_elem(tbl, &key);
	if (!p)
		return 0;
	__u32 e = p->w[idx & (DIR_PAGE_WORDS - 1)];
	if (e & DIR_ONE_FLAG) {
		__u32 shift = (8 - ((e >> 8) & 0xf)) & 7;
		return ((a & 0xff) >> shift) == ((e & 0xff) >> shift);
	}
	if (!(e & DIR_CHUNK_FLAG))
		return e & 1;

	__u32 c = e & ~DIR_CHUNK_FLAG;
	key = DIR_CHUNK_BASE + c / DIR_CHUNKS_PER_PAGE;
	p = bpf_map_lookup_elem(tbl, &key);
	if (!p)
		return 0;
	__u32 w = (c % DIR_CHUNKS_PER_PAGE) * DIR_CHUNK_WORDS + ((a & 0xff) >> 5);
	return (p->w[w & (DIR_PAGE_WORDS - 1)] >> (a & 31)) & 1;
}

// mask_v6 clears the bits of an IPv6 address past the first bits.
static __always_inline void mask_v6(__u32 *w, __u32 bits)
{
#pragma unroll
	for (int i = 0; i < 4; i++) {
		if (bits >= 32 * (i + 1))
			continue;
		__u32 keep = bits > 32 * i ? bits - 32 * i : 0;
		w[i] &= keep ? bpf_htonl(~0u << (32 - keep)) : 0;
	}
}

// low_bit_index returns the index of the lowest set bit of m (m != 0),
// without branches: the bits below it, counted (SWAR popcount).
static __always_inline __u32 low_bit_index(__u64 m)
{
	__u64 x = (m & -m) - 1;

	x = x - ((x >> 1) & 0x5555555555555555ULL);
	x = (x & 0x3333333333333333ULL) + ((x >> 2) & 0x3333333333333333ULL);
	x = (x + (x >> 4)) & 0x0f0f0f0f0f0f0f0fULL;
	return (x * 0x0101010101010101ULL) >> 56;
}

// v6_probe_lens looks up src masked to each length base + i for the bits i
// set in lens, and reports whether one is an entry of tbl. k is scratch.
static __always_inline int v6_probe_lens(void *tbl, struct v6_key *k, const __u32 *src, __u64 lens, __u32 base)
{
	for (int i = 0; i < 64 && lens; i++) {
		__u32 len = base + low_bit_index(lens);
		lens &= lens - 1;
		__u32 *w = (__u32 *)k->addr;
		k->tag = len;
		w[0] = src[0];
		w[1] = src[1];
		w[2] = src[2];
		w[3] = src[3];
		mask_v6(w, len);
		if (bpf_map_lookup_elem(tbl, k))
			return 1;
	}
	return 0;
}

// Answers of v6_front besides 0 and 1 (the node's verdict).
#define V6_ASK_TABLE -1 // look the source's /32 up in the table
#define V6_NO_NODE -2   // the /32 has no node: probe the short lengths

// v6_front looks the source (network order) up in the front of bits.
static __always_inline int v6_front(const __u32 *src, __u32 bits)
{
	__u32 key = 0;
	void *fr = bpf_map_lookup_elem(&block_v6_front, &key);
	if (!fr)
		return V6_ASK_TABLE;
	__u32 set = (src[0] * V6_FRONT_MUL) >> (32 - bits);
	key = set / V6_FRONT_PER_PAGE;
	struct dir_page *p = bpf_map_lookup_elem(fr, &key);
	if (!p)
		return V6_ASK_TABLE;
	struct v6_front_set *s = (struct v6_front_set *)p->w + (set & (V6_FRONT_PER_PAGE - 1));
	__u32 state = *(volatile __u32 *)&s->state;
	__u64 dep = dep_zero(state); // the ways are read after the state
	if (state >> 16)
		return V6_ASK_TABLE;
	s = (void *)s + dep;
#pragma unroll
	for (int i = 0; i < 3; i++) {
		struct v6_front_way *w = &s->way[i];
		__u32 len = w->len;
		if (!len || w->key != src[0])
			continue;
		if (len == V6_FRONT_LEN_TABLE)
			return V6_ASK_TABLE;
		if (len <= 32)
			return 1;
		__u32 m[4] = { 0, src[1], src[2], src[3] };
		mask_v6(m, len);
		return m[1] == w->addr[0] && m[2] == w->addr[1] && m[3] == w->addr[2];
	}
	return state & V6_FRONT_INCOMPLETE ? V6_ASK_TABLE : V6_NO_NODE;
}

// v6_blocked reports whether the IPv6 blocklist table names the source
// (network order, 4-byte aligned).
static __always_inline int v6_blocked(const __u32 *src)
{
	__u32 zero = 0;
	__u64 *shp = bpf_map_lookup_elem(&block_v6_short, &zero);
	__u64 word = shp ? *(volatile __u64 *)shp : 0;
	__u32 sh = word, bits = word >> V6_FRONT_BITS_SHIFT;
	int f = V6_ASK_TABLE;
	if (bits >= 6 && bits <= 24) {
		f = v6_front(src, bits);
		if (f >= 0)
			return f;
	}

	void *tbl = bpf_map_lookup_elem(&block_v6, &zero);
	if (!tbl)
		return 0;

	struct v6_key k __attribute__((aligned(8))) = { .tag = V6_TAG_NODE };
	__u32 *w = (__u32 *)k.addr;
	if (f == V6_NO_NODE)
		return sh && v6_probe_lens(tbl, &k, src, sh, 0);
	w[0] = src[0];
	struct v6_node *n = bpf_map_lookup_elem(tbl, &k);
	if (n) {
		if (n->covered)
			return 1;
		__u32 len = n->inline_len;
		if (len) {
			__u32 m[4] = { src[0], src[1], src[2], src[3] };
			mask_v6(m, len);
			__u32 *in = (__u32 *)n->inline_addr;
			if (m[0] == in[0] && m[1] == in[1] && m[2] == in[2] && m[3] == in[3])
				return 1;
		}
		if (n->lens_lo && v6_probe_lens(tbl, &k, src, n->lens_lo, 33))
			return 1;
		return n->lens_hi && v6_probe_lens(tbl, &k, src, n->lens_hi, 97);
	}
	return sh && v6_probe_lens(tbl, &k, src, sh, 0);
}

static __always_inline int banned(struct ban_key *k)
{
	__u64 *until = bpf_map_lookup_elem(&bans, k);

	return until && bpf_ktime_get_ns() < *until;
}

// net_banned reports whether a network ban covers the IPv6 source in k
// (prefixlen 128).
static __always_inline int net_banned(struct lpm_v6_key *k)
{
	__u32 zero = 0;
	__u32 *on = bpf_map_lookup_elem(&net_bans_on, &zero);
	if (!on || !*on)
		return 0;

	__u64 *until = bpf_map_lookup_elem(&bans_net6, k);

	return until && bpf_ktime_get_ns() < *until;
}

static __always_inline void burst_count(__u32 c)
{
	__u64 *n = bpf_map_lookup_elem(&burst_stats, &c);

	if (n)
		*n += 1;
}

// burst_settings returns the meter's settings, or NULL while it is off.
static __always_inline struct burst_cfg *burst_settings(void)
{
	__u32 zero = 0;
	struct burst_cfg *cfg = bpf_map_lookup_elem(&burst, &zero);

	return cfg && cfg->on ? cfg : NULL;
}

// burst_bucket_of returns the bucket (enum burst_bucket) a packet with
// this transport header draws on; 0 when it is not metered.
static __always_inline __u32 burst_bucket_of(struct burst_cfg *cfg, __u8 proto, void *l4, void *end)
{
	__be16 dport;

	if (proto == IPPROTO_TCP) {
		struct tcphdr *th = l4;
		if ((void *)(th + 1) > end)
			return 0;
		// A new connection draws on the SYN bucket alone: it is the far
		// stricter one, and one bucket per packet is one atomic add.
		if (th->syn && !th->ack && cfg->syn_interval)
			return BURST_SYN;
		dport = th->dest;
	} else if (proto == IPPROTO_UDP) {
		struct udphdr *uh = l4;
		if ((void *)(uh + 1) > end)
			return 0;
		dport = uh->dest;
	} else {
		return 0;
	}
	__u16 p = bpf_ntohs(dport);
	if (cfg->pkt_interval && ((cfg->ports[p >> 6] >> (p & 63)) & 1))
		return BURST_PKT;
	return 0;
}

// meter_set_of returns the set of the meter table a source (struct
// ban_key as two words) lives in: a multiply-xorshift hash keyed by
// meter_seed, over both words (IPv4 sources differ only in the second,
// IPv6 networks of up to 64 bits only in the first).
static __always_inline __u32 meter_set_of(__u64 k0, __u64 k1)
{
	__u64 h = (k0 ^ meter_seed) * 0x9e3779b97f4a7c15ULL;

	h ^= h >> 32;
	h = (h ^ (k1 >> 32 | k1 << 32)) * 0xd6e8feb86659fd93ULL;
	h ^= h >> 32;
	return h & meter_mask;
}

// meter_insert gives a source new to the table the slot of the least
// recently active source of its set, with one token of bucket taken.
//
// Two CPUs may write one slot at once (two new sources, or a new one and
// the previous owner drawing a token): each writes fresh buckets, so the
// slot ends up with some source's key and buckets that admit it, at worst
// a token or two short. What must never happen is a source's key showing
// with another source's buckets, which could be far ahead of now and get
// the new source banned: the buckets are written first, with exchanges
// (ordered), and the key after them.
static __always_inline void meter_insert(struct burst_cfg *cfg, struct meter_set *s, __u64 *k, __u32 bucket,
					 __u64 now)
{
	__u32 victim = 0;
	__u64 oldest = ~0ULL;

#pragma unroll
	for (int i = 0; i < METER_WAYS; i++) {
		// The latest time a packet of the slot's source was due: tat less
		// one interval, so that buckets of different rates compare.
		__u64 a = s->way[i].m.syn_tat, b = s->way[i].m.pkt_tat;
		a = a > cfg->syn_interval ? a - cfg->syn_interval : 0;
		b = b > cfg->pkt_interval ? b - cfg->pkt_interval : 0;
		__u64 last = a > b ? a : b;
		if (last < oldest) {
			oldest = last;
			victim = i;
		}
	}
	struct meter_way *w = &s->way[victim & (METER_WAYS - 1)];
	__u64 syn = 0, pkt = 0;
	if (bucket == BURST_SYN)
		syn = now + cfg->syn_interval;
	else
		pkt = now + cfg->pkt_interval;
	__sync_lock_test_and_set(&w->m.syn_tat, syn);
	__sync_lock_test_and_set(&w->m.pkt_tat, pkt);
	w->key[0] = k[0];
	w->key[1] = k[1];
}

// burst_meter takes a token from the bucket of the source in key and
// reports whether the source is over its burst.
//
// The clock is the kernel tick count, bpf_jiffies64(), times the tick's
// length in ns (user space reads it as the coarse clock's resolution): a
// bucket refills in steps of one tick (1-10 ms), which user space allows
// for by refusing bursts shorter than 10 ms of their rate. The verifier
// inlines bpf_jiffies64() into one load; any clock helper is a call, and
// calls are dear here (measured: bpf_ktime_get_coarse_ns() ~19 ns per
// packet in this KVM guest, the precise clock ~14 ns more). jiffies_64
// starts at 2^32 - 300 * HZ, so the product cannot wrap for centuries.
static __always_inline int burst_meter(struct burst_cfg *cfg, struct ban_key *key, __u32 bucket)
{
	__u64 now = bpf_jiffies64() * cfg->jiffy_ns;
	__u64 k[2];

	__builtin_memcpy(k, key->addr, 16);
	__u32 idx = meter_set_of(k[0], k[1]);
	struct meter_set *s = bpf_map_lookup_elem(&meters, &idx);
	if (!s)
		return 0;

	struct meter *m = NULL;
#pragma unroll
	for (int i = 0; i < METER_WAYS; i++) {
		if (s->way[i].key[0] == k[0] && s->way[i].key[1] == k[1]) {
			m = &s->way[i].m;
			break;
		}
	}
	if (!m) {
		meter_insert(cfg, s, k, bucket, now);
		return 0;
	}

	__u64 *tat = &m->pkt_tat, interval = cfg->pkt_interval, tolerance = cfg->pkt_tolerance;
	if (bucket == BURST_SYN) {
		tat = &m->syn_tat;
		interval = cfg->syn_interval;
		tolerance = cfg->syn_tolerance;
	}
	if (!burst_over(tat, now, interval, tolerance, 1))
		return 0;
	// Confirm with an ordered read before banning: the key matched above
	// was read before it, and meter_insert writes a slot's buckets before
	// its key, so this sees this source's buckets, never those of the
	// source whose slot it took (on CPUs that reorder loads).
	__u64 t = __sync_fetch_and_or(tat, 0);
	return t > now && t - now > tolerance;
}

// burst_ban bans the source in key (an address when prefixlen is 128, else
// an IPv6 network) for cfg->ban_ns and tells user space.
static __always_inline void burst_ban(struct burst_cfg *cfg, struct ban_key *key, __u32 prefixlen, __u32 bucket)
{
	__u64 until = bpf_ktime_get_ns() + cfg->ban_ns;
	long err;

	if (prefixlen >= 128) {
		err = bpf_map_update_elem(&bans, key, &until, BPF_ANY);
	} else {
		struct lpm_v6_key nk = { .prefixlen = prefixlen };
		__builtin_memcpy(nk.addr, key->addr, 16);
		err = bpf_map_update_elem(&bans_net6, &nk, &until, BPF_ANY);
		if (!err) {
			__u32 zero = 0;
			__u32 *on = bpf_map_lookup_elem(&net_bans_on, &zero);
			if (on)
				*on = 1;
		}
	}
	if (err) {
		burst_count(BURST_BAN_FAILED);
		return;
	}
	burst_count(BURST_BANS);
	struct burst_event *e = bpf_ringbuf_reserve(&burst_events, sizeof(*e), 0);
	if (!e) {
		burst_count(BURST_EVENTS_LOST);
		return;
	}
	__builtin_memcpy(e->addr, key->addr, 16);
	e->until = until;
	e->prefixlen = prefixlen;
	e->bucket = bucket;
	bpf_ringbuf_submit(e, 0);
}

static __always_inline int allowed_v4(__be32 saddr)
{
	__u32 zero = 0;
	void *allow = bpf_map_lookup_elem(&allow_v4, &zero);
	if (!allow)
		return 0;
	struct lpm_v4_key k = { .prefixlen = 32 };
	__builtin_memcpy(k.addr, &saddr, 4);
	return bpf_map_lookup_elem(allow, &k) != NULL;
}

static __always_inline int allowed_v6(struct lpm_v6_key *k)
{
	__u32 zero = 0;
	void *allow = bpf_map_lookup_elem(&allow_v6, &zero);

	return allow && bpf_map_lookup_elem(allow, k);
}

// allow_may_save reports whether the allowlist could save a packet about
// to be dropped for reason: always for a ban, for a blocklist hit only
// while lists_disjoint is off.
static __always_inline int allow_may_save(__u32 reason)
{
	if (reason != REASON_DROP_BLOCKLIST)
		return 1;
	__u32 zero = 0;
	__u32 *disjoint = bpf_map_lookup_elem(&lists_disjoint, &zero);
	return !disjoint || !*disjoint;
}

// The allowlist only changes the fate of packets a list would drop, so it is
// consulted only for those: the common path (no list names the source) pays
// for the blocklist and ban lookups alone, and a blocklist hit skips it too
// while the lists are disjoint. REASON_PASS_ALLOWLIST therefore counts
// packets the allowlist saved from a drop.
// check_v4 decides for an IPv4 source (network order): proto and l4 are
// the transport protocol and header, later_frag a later IPv4 fragment
// (no ports).
static __always_inline int check_v4(struct xdp_md *ctx, __be32 saddr, __u8 proto, void *l4, void *end,
				    int later_frag)
{
	__u32 reason = REASON_PASS;
	struct ban_key bk = {};

	bk.addr[10] = 0xff;
	bk.addr[11] = 0xff;
	__builtin_memcpy(&bk.addr[12], &saddr, 4);
	if (dir_blocked(bpf_ntohl(saddr)))
		reason = REASON_DROP_BLOCKLIST;
	else if (banned(&bk))
		reason = REASON_DROP_BANNED;
	if (reason != REASON_PASS) {
		if (allow_may_save(reason) && allowed_v4(saddr))
			return verdict(ctx, REASON_PASS_ALLOWLIST, XDP_PASS);
		return verdict(ctx, reason, XDP_DROP);
	}

	struct burst_cfg *cfg = burst_settings();
	if (!cfg || later_frag)
		return verdict(ctx, REASON_PASS, XDP_PASS);
	__u32 bucket = burst_bucket_of(cfg, proto, l4, end);
	if (!bucket || !burst_meter(cfg, &bk, bucket))
		return verdict(ctx, REASON_PASS, XDP_PASS);
	if (allowed_v4(saddr))
		return verdict(ctx, REASON_PASS_ALLOWLIST, XDP_PASS);
	burst_ban(cfg, &bk, 128, bucket);
	return verdict(ctx, REASON_DROP_BURST, XDP_DROP);
}

static __always_inline int check_v6(struct xdp_md *ctx, struct ipv6hdr *ip6, void *end)
{
	__u32 reason = REASON_PASS;
	struct lpm_v6_key k __attribute__((aligned(8))) = { .prefixlen = 128 };
	__builtin_memcpy(k.addr, &ip6->saddr, 16);

	// An IPv4-mapped source (::ffff:a.b.c.d) is also the IPv4 address
	// a.b.c.d to the lists, as gatewayctl and the rate limiter see it; its
	// bans are keyed so already, and it is metered as one address.
	__u32 *w = (__u32 *)k.addr;
	int mapped = w[0] == 0 && w[1] == 0 && w[2] == bpf_htonl(0xffff);

	if (v6_blocked(w) || (mapped && dir_blocked(bpf_ntohl(w[3]))))
		reason = REASON_DROP_BLOCKLIST;
	else if (banned((struct ban_key *)k.addr) || net_banned(&k)) // ban_key: same layout as k.addr
		reason = REASON_DROP_BANNED;
	if (reason != REASON_PASS) {
		if (allow_may_save(reason) && (allowed_v6(&k) || (mapped && allowed_v4(w[3]))))
			return verdict(ctx, REASON_PASS_ALLOWLIST, XDP_PASS);
		return verdict(ctx, reason, XDP_DROP);
	}

	// Extension headers are not followed: such packets are not metered.
	struct burst_cfg *cfg = burst_settings();
	if (!cfg)
		return verdict(ctx, REASON_PASS, XDP_PASS);
	__u32 bucket = burst_bucket_of(cfg, ip6->nexthdr, ip6 + 1, end);
	if (!bucket)
		return verdict(ctx, REASON_PASS, XDP_PASS);
	__u32 bits = mapped ? 128 : cfg->v6_prefix;
	struct ban_key mk __attribute__((aligned(8)));
	__builtin_memcpy(mk.addr, k.addr, 16);
	mask_v6((__u32 *)mk.addr, bits);
	if (!burst_meter(cfg, &mk, bucket))
		return verdict(ctx, REASON_PASS, XDP_PASS);
	if (allowed_v6(&k) || (mapped && allowed_v4(w[3])))
		return verdict(ctx, REASON_PASS_ALLOWLIST, XDP_PASS);
	burst_ban(cfg, &mk, bits, bucket);
	return verdict(ctx, REASON_DROP_BURST, XDP_DROP);
}

SEC("xdp")
int xdp_filter(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;

	if ((void *)(eth + 1) > end)
		return verdict(ctx, REASON_PASS_MALFORMED, XDP_PASS);

	__be16 proto = eth->h_proto;
	void *cur = eth + 1;

	// Up to two tags: 802.1Q, or 802.1ad (S-tag) followed by 802.1Q (C-tag).
#pragma unroll
	for (int i = 0; i < 2; i++) {
		if (proto != bpf_htons(ETH_P_8021Q) && proto != bpf_htons(ETH_P_8021AD))
			break;
		struct vlan_hdr *vlan = cur;
		if ((void *)(vlan + 1) > end)
			return verdict(ctx, REASON_PASS_MALFORMED, XDP_PASS);
		proto = vlan->encapsulated_proto;
		cur = vlan + 1;
	}

	if (proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip = cur;
		if ((void *)(ip + 1) > end || ip->version != 4 || ip->ihl < 5)
			return verdict(ctx, REASON_PASS_MALFORMED, XDP_PASS);
		return check_v4(ctx, ip->saddr, ip->protocol, (void *)ip + ip->ihl * 4, end,
				ip->frag_off & bpf_htons(0x1fff));
	}
	if (proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = cur;
		if ((void *)(ip6 + 1) > end || ip6->version != 6)
			return verdict(ctx, REASON_PASS_MALFORMED, XDP_PASS);
		return check_v6(ctx, ip6, end);
	}
	if (proto == bpf_htons(ETH_P_8021Q) || proto == bpf_htons(ETH_P_8021AD))
		return verdict(ctx, REASON_PASS_MALFORMED, XDP_PASS); // a third tag
	return verdict(ctx, REASON_PASS_NOT_IP, XDP_PASS);
}

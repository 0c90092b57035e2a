// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
//
// memread.c: what one read of a table too large for the caches costs an XDP
// program (bench/xdp BenchmarkColdRead). The same 2^24 first-level entries
// as the IPv4 table (one per /24 of the source), held in one large array
// (vmalloc, 4 KiB pages: a TLB miss besides the cache miss) or in 8192
// small arrays behind an ARRAY_OF_MAPS (kmalloc, the direct map's large
// pages), and a program that reads no table at all. Smaller arrays (2, 8
// and 32 MiB, indexed by the top bits of the source) show how the cost of
// one read grows with the size of the table it falls in.

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>
char LICENSE[] SEC("license") = "Dual BSD/GPL";

// flat: /24 index -> entry, in one array (128 MiB: values are 8 bytes apart).
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1 << 24);
	__type(key, __u32);
	__type(value, __u32);
} flat SEC(".maps");

// sized_<n>m: 8-byte entries indexed by the top bits of the source, n MiB.
#define SIZED(name, bits)                     \
	struct {                              \
		__uint(type, BPF_MAP_TYPE_ARRAY); \
		__uint(max_entries, 1 << (bits)); \
		__type(key, __u32);               \
		__type(value, __u64);             \
	} name SEC(".maps")

SIZED(sized_2m, 18);
SIZED(sized_8m, 20);
SIZED(sized_32m, 22);

// inner: one of split's arrays (16 KiB); also the template user space
// creates them from.
struct inner_t {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2048);
	__type(key, __u32);
	__type(value, __u32);
} inner SEC(".maps");

// split: /24 index >> 11 -> array of the next 2048 entries.
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 8192);
	__type(key, __u32);
	__array(values, struct inner_t);
} split SEC(".maps");

static __always_inline int src(struct xdp_md *ctx, __u32 *a)
{
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = (void *)(eth + 1);
	if ((void *)(ip + 1) > end)
		return -1;
	*a = bpf_ntohl(ip->saddr);
	return 0;
}

SEC("xdp") int flat_prog(struct xdp_md *ctx)
{
	__u32 a;
	if (src(ctx, &a)) return XDP_ABORTED;
	__u32 idx = a >> 8;
	__u32 *v = bpf_map_lookup_elem(&flat, &idx);
	return v && *v ? XDP_DROP : XDP_PASS;
}

SEC("xdp") int split_prog(struct xdp_md *ctx)
{
	__u32 a;
	if (src(ctx, &a)) return XDP_ABORTED;
	__u32 idx = a >> 8, o = idx >> 11, i = idx & 2047;
	void *in = bpf_map_lookup_elem(&split, &o);
	if (!in) return XDP_PASS;
	__u32 *v = bpf_map_lookup_elem(in, &i);
	return v && *v ? XDP_DROP : XDP_PASS;
}

SEC("xdp") int none_prog(struct xdp_md *ctx)
{
	__u32 a;
	if (src(ctx, &a)) return XDP_ABORTED;
	return a ? XDP_DROP : XDP_PASS;
}

#define SIZED_PROG(name, map, bits)                               \
	SEC("xdp") int name(struct xdp_md *ctx)                   \
	{                                                         \
		__u32 a;                                          \
		if (src(ctx, &a))                                 \
			return XDP_ABORTED;                       \
		__u32 idx = a >> (32 - (bits));                   \
		__u64 *v = bpf_map_lookup_elem(&map, &idx);       \
		return v && *v ? XDP_DROP : XDP_PASS;             \
	}

SIZED_PROG(sized_2m_prog, sized_2m, 18)
SIZED_PROG(sized_8m_prog, sized_8m, 20)
SIZED_PROG(sized_32m_prog, sized_32m, 22)

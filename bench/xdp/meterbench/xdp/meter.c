// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
//
// meter.c compares the two ways the burst meter could keep its buckets
// (bench/xdp BenchmarkMeterBuckets); it is not part of the product. Each
// program parses Ethernet + IPv4 + TCP like filter.c, keys the source as
// filter.c does, reads the coarse clock and takes a token from one bucket
// (burst.h), as filter.c does per packet:
//
//   meter_shared  one bucket per source for all CPUs (LRU_HASH), atomic adds
//                 (what filter.c does)
//   meter_percpu  one bucket per source per CPU (LRU_PERCPU_HASH), plain adds
//   meter_none    the parsing and keying alone, as the baseline

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/in.h>
#include <linux/tcp.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "../../../../bpf/xdp/burst.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

struct key {
	__u8 addr[16];
};

struct meter {
	__u64 syn_tat;
	__u64 pkt_tat;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct key);
	__type(value, struct meter);
} shared SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_PERCPU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct key);
	__type(value, struct meter);
} percpu SEC(".maps");

// Intervals of 1 ns and a huge tolerance: the benchmark never goes over.
#define INTERVAL 1
#define TOLERANCE (1ull << 40)

static __always_inline int parse(struct xdp_md *ctx, struct key *k)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = (void *)(eth + 1);

	if ((void *)(ip + 1) > end || eth->h_proto != bpf_htons(ETH_P_IP))
		return -1;
	struct tcphdr *th = (void *)ip + ip->ihl * 4;
	if ((void *)(th + 1) > end || !th->syn)
		return -1;
	__builtin_memset(k, 0, sizeof(*k));
	k->addr[10] = 0xff;
	k->addr[11] = 0xff;
	__builtin_memcpy(&k->addr[12], &ip->saddr, 4);
	return 0;
}

static __always_inline int meter(void *map, struct key *k, const int is_shared)
{
	__u64 now = bpf_ktime_get_coarse_ns();
	struct meter *m = bpf_map_lookup_elem(map, k);
	if (!m) {
		struct meter fresh = { now + INTERVAL, now + INTERVAL };
		bpf_map_update_elem(map, k, &fresh, BPF_NOEXIST);
		return XDP_PASS;
	}
	return burst_over(&m->syn_tat, now, INTERVAL, TOLERANCE, is_shared) ? XDP_DROP : XDP_PASS;
}

SEC("xdp")
int meter_shared(struct xdp_md *ctx)
{
	struct key k;
	if (parse(ctx, &k))
		return XDP_ABORTED;
	return meter(&shared, &k, 1);
}

SEC("xdp")
int meter_percpu(struct xdp_md *ctx)
{
	struct key k;
	if (parse(ctx, &k))
		return XDP_ABORTED;
	return meter(&percpu, &k, 0);
}

SEC("xdp")
int meter_none(struct xdp_md *ctx)
{
	struct key k;
	if (parse(ctx, &k))
		return XDP_ABORTED;
	return bpf_ktime_get_coarse_ns() ? XDP_PASS : XDP_DROP; // the clock read, as the others
}

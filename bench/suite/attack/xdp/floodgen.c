// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
//
// floodgen.c is the flood generator of the XDP benchmark, not part of the
// product. User space runs it with BPF_PROG_TEST_RUN in live-frame mode
// (BPF_F_TEST_XDP_LIVE_FRAMES) on the sender's veth: every run rewrites the
// template frame's IPv4 source with the next address of the sources map,
// fixes the header checksum (ip_rcv drops frames with a bad one before any
// filter could see them) and returns XDP_TX, which live-frame mode turns
// into a transmission out of that veth, to the receiver.

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

// sources: index -> IPv4 source address in network order. User space fills
// the first nsources slots; nsources is a power of two.
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1 << 20);
	__type(key, __u32);
	__type(value, __u32);
} sources SEC(".maps");

// seq: key 0 -> frames generated on this CPU (also the next source index).
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} seq SEC(".maps");

// nsources_mask is nsources - 1, set by user space before loading.
volatile const __u32 nsources_mask = 0;

SEC("xdp")
int floodgen(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = (void *)(eth + 1);

	if ((void *)(ip + 1) > data_end)
		return XDP_ABORTED;

	__u32 zero = 0;
	__u64 *n = bpf_map_lookup_elem(&seq, &zero);
	if (!n)
		return XDP_ABORTED;
	__u32 idx = (__u32)*n & nsources_mask;
	*n += 1;
	__u32 *src = bpf_map_lookup_elem(&sources, &idx);
	if (!src)
		return XDP_ABORTED;

	ip->saddr = *src;
	ip->check = 0;
	__u16 *w = (__u16 *)ip;
	__u32 sum = 0;
#pragma unroll
	for (int i = 0; i < 10; i++)
		sum += w[i];
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	ip->check = ~sum & 0xffff;
	return XDP_TX;
}

// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
//
// burst.h is the per-source hard-burst meter's arithmetic, shared by
// filter.c and the benchmark in bench/xdp that compares bucket kinds.
//
// A bucket is one __u64: the GCRA "theoretical arrival time" (tat) in ns of
// a monotonic clock. A bucket of rate 1/interval and burst B admits a
// packet when tat - now <= tolerance, tolerance = (B-1) * interval, and then
// moves tat to max(tat, now) + interval. One word per bucket means one
// atomic add per admitted packet; no lock, no second word to keep in step.
//
// The meter does not need the exactness of the L7 limiter: a source over
// its hard burst is banned, so a rejected packet never needs its token back.

#ifndef EDGEGUARD_BURST_H
#define EDGEGUARD_BURST_H

#include <linux/types.h>

// burst_over reports whether the bucket at tat is over its burst at now,
// and takes a token when it is not. Shared buckets (one per source for all
// CPUs) take it with an atomic add; per-CPU buckets pass shared = 0 and
// take it with a plain one.
//
// The refill of an idle bucket is a plain store: two CPUs refilling the
// same idle source at the same instant may each grant the first token, an
// overshoot of at most one token per CPU, once per idle period. Every other
// grant is an atomic add, exact under contention (the check before the add
// may let both CPUs pass at the very edge of the burst: again one token per
// CPU at most).
static __always_inline int burst_over(__u64 *tat, __u64 now, __u64 interval, __u64 tolerance,
				      const int shared)
{
	__u64 t = *(volatile __u64 *)tat;

	if (t <= now) {
		*(volatile __u64 *)tat = now + interval;
		return 0;
	}
	if (t - now > tolerance)
		return 1;
	if (shared)
		__sync_fetch_and_add(tat, interval);
	else
		*tat = t + interval;
	return 0;
}

#endif

// Package xdp holds the benchmarks of the XDP fast path (package bpf): cost
// per packet through BPF_PROG_TEST_RUN at growing blocklist sizes, what the
// burst meter adds per packet (BenchmarkMeter) and shared against per-CPU
// meter buckets (BenchmarkMeterBuckets, programs in meterbench/), what a
// packet from a source the caches have not seen costs, piece by piece
// (BenchmarkCold), what one read of a table larger than the caches costs
// (BenchmarkColdRead, programs in membench/), and the time to replace or
// patch a 1M-entry blocklist live. They need root and skip otherwise. Run
// with:
//
//	go test -run '^$' -bench . -benchtime 20x ./bench/xdp/
//
// The package contains no code used by the product.
package xdp

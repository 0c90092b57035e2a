// Package ratelimit benchmarks the gateway's rate limiter (package
// dataplane/ratelimit) side by side with golang.org/x/time/rate used the
// way Go services usually do it: one *rate.Limiter per key in a map behind
// a sync.Mutex, or in a sync.Map. It measures the check single-threaded and
// under b.RunParallel with one hot key and with 1M keys, reports the
// speed-up in the same run (BenchmarkSpeedup), and the memory each tracked
// key costs. Run with:
//
//	go test -run '^$' -bench . -benchtime 2s ./bench/ratelimit/
//
// The package contains no code used by the product.
package ratelimit

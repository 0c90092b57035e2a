// Package meterbench holds the BPF programs that compare per-CPU with
// shared burst meter buckets for bench/xdp. It is not part of the product.
package meterbench

// The object and bindings are committed; regenerate with `go generate
// ./bench/xdp/...` after editing xdp/meter.c or bpf/xdp/burst.h.

//go:generate sh -c "go tool bpf2go -target bpfel -output-stem meter -cflags \"-O2 -g -Wall -Werror -I/usr/include/$(clang -print-multiarch 2>/dev/null || echo x86_64-linux-gnu)\" meter xdp/meter.c"

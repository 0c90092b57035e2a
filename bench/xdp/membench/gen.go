// Package membench holds the BPF programs that measure what one read of a
// table too large for the caches costs, for bench/xdp. It is not part of
// the product.
package membench

// The object and bindings are committed; regenerate with `go generate
// ./bench/xdp/...` after editing xdp/memread.c.

//go:generate sh -c "go tool bpf2go -target bpfel -output-stem memread -cflags \"-O2 -g -Wall -Werror -I/usr/include/$(clang -print-multiarch 2>/dev/null || echo x86_64-linux-gnu)\" memread xdp/memread.c"

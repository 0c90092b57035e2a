package attack

// The flood generator's object and Go bindings are generated and committed,
// so building needs no clang. After editing xdp/floodgen.c run
// `go generate ./bench/suite/attack/`.

//go:generate go tool bpf2go -target bpfel -output-stem floodgen -cflags "-O2 -g -Wall -Werror -I/usr/include/x86_64-linux-gnu" floodgen xdp/floodgen.c

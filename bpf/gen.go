package bpf

// The XDP object and its Go bindings are generated and committed, so building
// and testing need no clang. After editing xdp/*.c run `go generate ./bpf/...`
// (or bpf/generate.sh); TestObjectFresh fails until you do.

//go:generate sh generate.sh

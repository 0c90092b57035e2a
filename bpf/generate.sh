#!/bin/sh
# generate.sh compiles the XDP program (xdp/*.c) into the committed
# filter_bpfel.o, regenerates its Go bindings (filter_bpfel.go) with bpf2go, and
# records the SHA-256 of the C sources in filter.sha256 so that a test fails
# when the committed object is stale. `go generate ./bpf/...` runs it.
#
# Needs: clang, llvm (llvm-strip), libbpf-dev (bpf/bpf_helpers.h) and the
# kernel UAPI headers (linux-libc-dev).
set -eu
cd "$(dirname "$0")"

for tool in clang llvm-strip; do
	command -v "$tool" >/dev/null 2>&1 || {
		echo "generate.sh: $tool not found (apt-get install --no-install-recommends clang llvm libbpf-dev)" >&2
		exit 1
	}
done

# asm/types.h lives under the multiarch include directory on Debian.
multiarch=$(clang -print-multiarch 2>/dev/null || echo x86_64-linux-gnu)

GOPACKAGE=${GOPACKAGE:-bpf} go tool bpf2go \
	-target bpfel \
	-output-stem filter \
	-type reason -type counter -type lpm_v4_key -type lpm_v6_key -type ban_key -type dir_page -type v6_key -type v6_node \
	-type burst_cfg -type meter -type meter_set -type burst_event -type burst_bucket -type burst_counter \
	-cflags "-O2 -g -Wall -Werror -I/usr/include/$multiarch" \
	filter xdp/filter.c

sha256sum xdp/* >filter.sha256

// Package blocklist holds the end-to-end benchmarks of the management
// plane's blocklist path: a push or delta sent by the management client (or
// the gatewayctl binary) over HTTP on loopback, parsed and normalized by the
// store, persisted to a state directory on disk, and applied to the
// enforcer, until it is live (checked with BPF_PROG_TEST_RUN for XDP). The
// XDP variants need root and skip otherwise. Run with:
//
//	go test -run '^$' -bench . -benchtime 5x ./bench/blocklist/
//
// The package contains no code used by the product.
package blocklist

// Package bpf is edgeguard's kernel fast path: it owns the XDP program in
// xdp/filter.c and its maps, attaches it to the data interfaces (native mode,
// generic as a fallback, always reporting which), pins everything under a
// bpffs directory so that filtering continues while the daemon restarts, and
// exposes typed operations for the control plane (see enforce.Enforcer).
//
// IPv4 blocklists live in a flat DIR-24-8 table built in user space, IPv6
// blocklists in a hash table of /32 nodes (bpf/internal/v6tab: usually one
// hash lookup at any list size); each has a front (dir24's per-/17 records,
// bpf/internal/v6front's sets) that answers most sources from one cache
// line, since a read outside the caches is what a packet from a flood of
// sources pays for. Both allowlists, consulted only for packets a list
// would drop, are LPM tries. Whole lists are swapped atomically through
// ARRAY_OF_MAPS slots, so no packet ever sees a half-filled list; live
// front lines are rewritten invalid first (writeLive).
//
// The package must never parse list files or configuration, and must never
// drop a packet that no list names: unparsable frames pass to the kernel.
package bpf

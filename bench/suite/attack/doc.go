// Package attack runs the attack scenarios of the benchmark suite against
// the real gatewayd binary, inside network namespaces it creates and
// removes itself:
//
//   - XDPFlood: a flood of frames from many spoofed IPv4 sources, all in a
//     large blocklist, dropped by edgeguard's XDP program (list pushed
//     through gatewayd's management API) versus the same list in an
//     nftables set on a netdev ingress hook.
//   - Throttle: one client at three times its rate limit, and the
//     graduated answers it gets over time: passed, delayed, 429 with
//     Retry-After, then its connection closed and its packets dropped at
//     the NIC by an XDP ban.
//
// Both need root, ip(8) and, for the flood, nft(8) and ethtool(8); without
// them they return a result whose Skipped field says why. Traffic never
// leaves the namespaces. The package must never touch the host's own
// interfaces, firewall or BPF pins other than those it creates.
package attack

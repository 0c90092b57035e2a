// Package enforce defines what the control plane needs from whatever enforces
// the blocklist, allowlist and bans on the data path: the XDP program (package
// bpf) or, where XDP cannot load, the accept-time filter (dataplane/connfilter).
// Both implement Enforcer, so control-plane code and its tests do not care
// which one runs.
//
// The package holds only the contract (interface, value types, verdict
// reasons) and the metrics that expose it. It must never depend on an
// implementation, on eBPF, or on configuration.
package enforce

import (
	"fmt"
	"net/netip"
	"strings"
	"time"
)

// Enforcer applies lists and bans to traffic. Implementations serialize
// control operations internally; all methods are safe for concurrent use.
//
// Semantics shared by all implementations: a source in the allowlist always
// passes; otherwise a source in the blocklist, or banned until a time not yet
// reached, is dropped; everything else passes. Prefixes may mix IPv4 and
// IPv6; IPv4-mapped IPv6 prefixes (::ffff:0:0/96 and longer) count as IPv4.
type Enforcer interface {
	// ReplaceBlocklist atomically replaces the whole blocklist: traffic sees
	// the old list or the new one, never a mix (per address family).
	ReplaceBlocklist(prefixes []netip.Prefix) error
	// ApplyBlocklistDelta adds and removes prefixes (removals are applied
	// after additions). Removing a prefix that is not in the list is a
	// no-op; addresses it covered stay blocked if another prefix covers them.
	ApplyBlocklistDelta(add, remove []netip.Prefix) error
	// ReplaceAllowlist atomically replaces the whole allowlist.
	ReplaceAllowlist(prefixes []netip.Prefix) error
	// Ban drops traffic from src until the given time; a time in the past
	// lifts the ban. Banning again moves the expiry. src is one address
	// (/32, /128) or an IPv6 network (see BanSource); implementations
	// refuse anything BanSource refuses.
	Ban(src netip.Prefix, until time.Time) error
	// Unban lifts the ban of exactly src (lifting a network's ban leaves
	// bans of addresses inside it); lifting a ban that does not exist is
	// not an error.
	Unban(src netip.Prefix) error
	// Bans lists the bans that have not expired, in no particular order.
	Bans() ([]Ban, error)
	// Stats reads the verdict counters.
	Stats() (Stats, error)
	// Mode names where enforcement happens: ModeNative, ModeGeneric,
	// ModeMixed, ModeUnattached or ModeUserspace.
	Mode() string
	// Close releases the enforcer's resources. For XDP it leaves the program
	// attached and pinned, so that filtering continues across restarts.
	Close() error
}

// Modes reported by Enforcer.Mode.
const (
	// ModeNative is XDP in the driver on every interface.
	ModeNative = "native"
	// ModeGeneric is XDP in the generic (skb) path on every interface.
	ModeGeneric = "generic"
	// ModeMixed is XDP native on some interfaces and generic on others.
	ModeMixed = "mixed"
	// ModeUnattached is XDP loaded with maps but attached to no interface
	// (tests and benchmarks).
	ModeUnattached = "unattached"
	// ModeUserspace is the fallback: connections are checked when accepted.
	ModeUserspace = "userspace"
)

// Ban is one active ban.
type Ban struct {
	Source netip.Prefix // as BanSource returns it
	Until  time.Time
}

// MinNetBanBits is the widest IPv6 network a ban may cover. A host gets
// 2^64 addresses to rotate through, so bans of IPv6 sources cover the
// network the rate limiter counts them by (/64 by default); anything wider
// than a /32 belongs in the blocklist, where it is versioned and reviewed.
const MinNetBanBits = 32

// Host is the ban source for one address.
func Host(a netip.Addr) netip.Prefix {
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen())
}

// FormatSource writes a ban source for people: a single address bare, a
// network as a CIDR.
func FormatSource(p netip.Prefix) string {
	if p.IsSingleIP() {
		return p.Addr().String()
	}
	return p.String()
}

// ParseBanSource reads a ban source as people write it: an address
// ("192.0.2.7", "2001:db8::9") or an IPv6 network ("2001:db8:1:2::/64"),
// and checks it with BanSource.
func ParseBanSource(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("ban source %q: not an address or CIDR", s)
		}
		return BanSource(p)
	}
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return netip.Prefix{}, fmt.Errorf("ban source %q: not an address or CIDR", s)
	}
	return BanSource(Host(a))
}

// BanSource checks and normalizes what a ban covers: one IPv4 or IPv6
// address (as /32 or /128; IPv4-mapped IPv6 counts as IPv4), or an IPv6
// network of /MinNetBanBits or longer (host bits cleared). IPv4 bans are
// per address: an IPv4 attacker has few to rotate through.
func BanSource(p netip.Prefix) (netip.Prefix, error) {
	if !p.IsValid() || p.Addr().Zone() != "" {
		return netip.Prefix{}, fmt.Errorf("ban source %v: not an address or CIDR", p)
	}
	a, bits := p.Addr(), p.Bits()
	if a.Is4In6() {
		if bits < 96 {
			return netip.Prefix{}, fmt.Errorf("ban source %v: IPv4-mapped prefix shorter than /96", p)
		}
		a, bits = a.Unmap(), bits-96
	}
	if a.Is4() {
		if bits != 32 {
			return netip.Prefix{}, fmt.Errorf("ban source %v: IPv4 bans are per address (/32); use the blocklist for networks", p)
		}
		return netip.PrefixFrom(a, 32), nil
	}
	if bits < MinNetBanBits {
		return netip.Prefix{}, fmt.Errorf("ban source %v: IPv6 bans cover /%d or longer; use the blocklist for wider networks", p, MinNetBanBits)
	}
	return netip.PrefixFrom(a, bits).Masked(), nil
}

// Reason is why a packet (or connection) got its verdict. The numbering
// mirrors enum reason in bpf/xdp/filter.c and is stable.
type Reason uint8

const (
	// ReasonPass: no list matched.
	ReasonPass Reason = iota
	// ReasonPassAllowlist: the blocklist or a ban would drop it, but the
	// source is in the allowlist. Allowlisted sources that nothing would
	// drop count as ReasonPass: the allowlist is only consulted for
	// would-be drops, which keeps it off the common path.
	ReasonPassAllowlist
	// ReasonPassNotIP: neither IPv4 nor IPv6 (XDP only).
	ReasonPassNotIP
	// ReasonPassMalformed: too short or unparsable, passed to the kernel (XDP only).
	ReasonPassMalformed
	// ReasonDropBlocklist: the source is in the blocklist.
	ReasonDropBlocklist
	// ReasonDropBanned: the source is banned.
	ReasonDropBanned
	// ReasonDropBurst: the source went over a hard burst of the XDP burst
	// meter; the packet is dropped and the source banned (XDP only).
	ReasonDropBurst
	// NumReasons is the number of reasons.
	NumReasons
)

var reasonNames = [NumReasons]string{
	ReasonPass:          "pass",
	ReasonPassAllowlist: "pass_allowlist",
	ReasonPassNotIP:     "pass_not_ip",
	ReasonPassMalformed: "pass_malformed",
	ReasonDropBlocklist: "drop_blocklist",
	ReasonDropBanned:    "drop_banned",
	ReasonDropBurst:     "drop_burst",
}

// String returns the stable name used in metrics, e.g. "drop_blocklist".
func (r Reason) String() string {
	if r < NumReasons {
		return reasonNames[r]
	}
	return "unknown"
}

// Drop reports whether the reason is a drop verdict.
func (r Reason) Drop() bool {
	return r == ReasonDropBlocklist || r == ReasonDropBanned || r == ReasonDropBurst
}

// Counter counts one reason. For XDP, Packets are frames and Bytes their
// length including the L2 header; for the user-space fallback, Packets are
// connections and Bytes stays zero.
type Counter struct {
	Packets uint64
	Bytes   uint64
}

// Stats is a snapshot of an enforcer's counters.
type Stats struct {
	Mode     string
	Verdicts [NumReasons]Counter

	// BatchWrites and ElementWrites count map elements written by batch
	// syscalls and one by one (the fallback when batching is refused). Both
	// stay zero for the user-space fallback.
	BatchWrites   uint64
	ElementWrites uint64

	// Burst meter (XDP only): bans the kernel wrote itself, bans it could
	// not write (ban map full; the packets are dropped all the same), and
	// bans whose event did not reach user space (ring buffer full).
	BurstBans        uint64
	BurstBanFailures uint64
	BurstEventsLost  uint64
}

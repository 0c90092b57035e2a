package ratelimit

import (
	"crypto/rand"
	"encoding/binary"
	"hash/maphash"
	"math/bits"
	"net/netip"

	"github.com/edgeguard/edgeguard/dataplane/pipeline"
)

// Keys. A limit is keyed on a 64-bit keyed hash of the client's identity,
// so a key costs no allocation and a fixed 8 bytes. Two identities whose
// hashes collide share buckets: with secret per-process seeds an attacker
// cannot aim for a collision, and among a million tracked keys the chance
// that any two collide is about 3e-8 (n²/2^65). The effect of a collision
// would be two clients sharing one quota, never a client escaping its own.
//
// Principals hash their RateKey (already prefixed with its kind, so an API
// key id never equals a JWT subject) with maphash; client IPs hash their
// prefix-masked bits with a two-round multiply-mix (a few ns); RateKeys and
// addresses go to the same tables only through different hash functions.

type keySeed struct {
	str            maphash.Seed
	k0, k1, k2, k3 uint64
}

func newKeySeed() keySeed {
	var b [32]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never returns an error (it panics instead)
	return keySeed{
		str: maphash.MakeSeed(),
		k0:  binary.LittleEndian.Uint64(b[0:]),
		k1:  binary.LittleEndian.Uint64(b[8:]),
		k2:  binary.LittleEndian.Uint64(b[16:]),
		k3:  binary.LittleEndian.Uint64(b[24:]),
	}
}

func mix(a, b uint64) uint64 {
	hi, lo := bits.Mul64(a, b)
	return hi ^ lo
}

// Key returns the identity key of a request: the principal's RateKey when
// authenticated, else the client IP (IPv6 masked to v6bits).
func (s *Store) Key(r *pipeline.Request, v6bits int) uint64 {
	if p := r.Principal; p != nil && p.RateKey != "" {
		return s.StringKey(p.RateKey)
	}
	return s.IPKey(r.ClientIP, v6bits)
}

// StringKey hashes an identity string (e.g. a RateKey or a login account).
func (s *Store) StringKey(id string) uint64 {
	return maphash.String(s.keys.str, id)
}

// FoldedKey hashes b with ASCII letters folded to lower case (login
// account names: "Admin" and "admin" must share a lockout).
func (s *Store) FoldedKey(b []byte) uint64 {
	var h maphash.Hash
	h.SetSeed(s.keys.str)
	var buf [64]byte
	for len(b) > 0 {
		n := copy(buf[:], b)
		for i, c := range buf[:n] {
			if c >= 'A' && c <= 'Z' {
				buf[i] = c + 'a' - 'A'
			}
		}
		_, _ = h.Write(buf[:n]) // never fails
		b = b[n:]
	}
	return h.Sum64()
}

// IPKey hashes a client address. IPv4 (and IPv4-mapped IPv6) addresses
// are keyed whole; IPv6 addresses are masked to their first v6bits bits so
// that one host cannot escape its limit by hopping within its /64.
func (s *Store) IPKey(a netip.Addr, v6bits int) uint64 {
	a = a.Unmap()
	var hi, lo uint64
	if a.Is4() {
		v := a.As4()
		lo = uint64(binary.BigEndian.Uint32(v[:]))
	} else {
		v := a.As16()
		hi, lo = maskHigh(binary.BigEndian.Uint64(v[:8]), binary.BigEndian.Uint64(v[8:]), v6bits)
	}
	// The address length enters the last round: 10.0.0.1 and ::a00:1 differ.
	k := &s.keys
	return mix(mix(hi^k.k0, lo^k.k1)^k.k2, k.k3^uint64(a.BitLen()))
}

// maskHigh keeps the first n bits of the 128-bit value hi:lo.
func maskHigh(hi, lo uint64, n int) (uint64, uint64) {
	switch {
	case n <= 0:
		return 0, 0
	case n < 64:
		return hi &^ (^uint64(0) >> n), 0
	case n < 128:
		return hi, lo &^ (^uint64(0) >> (n - 64))
	}
	return hi, lo
}

package mgmt

import (
	"sync/atomic"

	"github.com/edgeguard/edgeguard/policy"
)

// perPolicy holds a value built from the running policy (the authenticator,
// the TLS configuration) and rebuilds it when a reload has published a new
// policy version, so that what it is built from takes effect without a
// restart. Reads are one atomic load when nothing changed.
type perPolicy[T any] struct {
	cur atomic.Pointer[versioned[T]]
}

type versioned[T any] struct {
	version uint64
	v       T
}

// set stores v as built from policy version.
func (c *perPolicy[T]) set(version uint64, v T) { c.cur.Store(&versioned[T]{version, v}) }

// get returns the value for h's running policy, building it from the
// policy (and the previous value) when the version moved. Without a holder
// the stored value stays.
func (c *perPolicy[T]) get(h *policy.Holder, build func(p *policy.Policy, prev T) T) T {
	cur := c.cur.Load()
	if h == nil {
		return cur.v
	}
	p := h.Current()
	if p.Version == cur.version {
		return cur.v
	}
	next := &versioned[T]{p.Version, build(p, cur.v)}
	c.cur.CompareAndSwap(cur, next) // a racing rebuild from the same version is equivalent
	return next.v
}

package ratelimit

import (
	"sync/atomic"
	"time"
)

// idleGrace is how long every word of a bucket must have been back at full
// before the bucket may be dropped as idle (see keytable's package doc).
const idleGrace = int64(time.Second)

// meter is one window's state for one key: each word is a GCRA theoretical
// arrival time. grant is the quota; reject meters refused requests, to spot
// a client that keeps pushing far past the limit (burst protection). The
// reject word is only touched on refusals, off the common path.
type meter struct {
	grant  atomic.Int64
	reject atomic.Int64
}

// bucket is one key's state in one limit: a meter per window slot.
type bucket struct {
	m [NumWindows]meter
}

// IdleAt implements keytable.State: once every word is in the past (plus
// a grace period) the bucket equals a fresh one.
func (b *bucket) IdleAt() int64 {
	var at int64
	for i := range b.m {
		at = max(at, b.m[i].grant.Load(), b.m[i].reject.Load())
	}
	return at + idleGrace
}

// Package mpsc is a bounded multi-producer, single-consumer queue of fixed
// slots (Dmitry Vyukov's bounded queue) for hand-offs from the request path
// to one background goroutine: a producer claims a slot with one CAS, fills
// it in place and publishes it with a store. Nothing is allocated after New
// and no producer ever waits: when every slot is taken, Claim fails at once
// and the caller drops (and counts) what it had.
package mpsc

import "sync/atomic"

// Ring holds values of T in place. Claim and Publish may be called from any
// goroutine; Take and Release from one consumer only.
type Ring[T any] struct {
	slots []slot[T]
	mask  uint64
	_     [56]byte      // keep tail off the cache line of the fields above
	tail  atomic.Uint64 // next position producers claim
	_     [56]byte
	head  uint64 // next position the consumer takes
}

type slot[T any] struct {
	// seq is pos when the slot is free for the producer of pos, pos+1 once
	// that producer published it, and pos+len once the consumer released it.
	seq atomic.Uint64
	val T
}

// New returns a ring of at least n slots (rounded up to a power of two).
func New[T any](n int) *Ring[T] {
	size := 1
	for size < n {
		size <<= 1
	}
	q := &Ring[T]{slots: make([]slot[T], size), mask: uint64(size - 1)}
	for i := range q.slots {
		q.slots[i].seq.Store(uint64(i))
	}
	return q
}

// Cap is the number of slots.
func (q *Ring[T]) Cap() int { return len(q.slots) }

// Claim reserves the next slot for the caller to fill, or returns nil when
// the ring is full. The slot holds whatever its last value was.
func (q *Ring[T]) Claim() (*T, uint64) {
	for {
		pos := q.tail.Load()
		s := &q.slots[pos&q.mask]
		switch d := int64(s.seq.Load() - pos); {
		case d == 0:
			if q.tail.CompareAndSwap(pos, pos+1) {
				return &s.val, pos
			}
		case d < 0:
			return nil, 0 // the consumer has not released this slot yet
		}
		// d > 0: another producer claimed pos first; try the next one.
	}
}

// Publish hands the slot claimed at pos to the consumer.
func (q *Ring[T]) Publish(pos uint64) { q.slots[pos&q.mask].seq.Store(pos + 1) }

// Take returns the next published value, or nil when there is none yet.
// The value stays valid until Release.
func (q *Ring[T]) Take() *T {
	s := &q.slots[q.head&q.mask]
	if s.seq.Load() != q.head+1 {
		return nil
	}
	return &s.val
}

// Release gives the slot Take returned back to the producers.
func (q *Ring[T]) Release() {
	q.slots[q.head&q.mask].seq.Store(q.head + q.mask + 1)
	q.head++
}

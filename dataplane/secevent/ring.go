package secevent

import (
	"net/netip"
	"sync/atomic"
)

// ring is a bounded multi-producer, single-consumer queue of fixed slots
// (Dmitry Vyukov's bounded queue): a producer claims a position with one
// CAS, fills the slot in place and publishes it with a store; nothing is
// allocated and no producer ever waits on another. When every slot is
// claimed the ring is full and claim fails at once.
type ring struct {
	slots []slot
	mask  uint64
	_     [56]byte      // keep tail off the line of the slice header
	tail  atomic.Uint64 // next position producers claim
	_     [56]byte
	head  uint64 // next position the consumer takes; consumer only
}

type slot struct {
	// seq is pos when the slot is free for the producer of pos, pos+1 once
	// that producer published it, and pos+len when the consumer released it.
	seq atomic.Uint64
	rec record
}

func newRing(n int) *ring {
	size := 1
	for size < n {
		size <<= 1
	}
	q := &ring{slots: make([]slot, size), mask: uint64(size - 1)}
	for i := range q.slots {
		q.slots[i].seq.Store(uint64(i))
	}
	return q
}

// claim reserves the next slot, or returns nil when the ring is full.
func (q *ring) claim() (*slot, uint64) {
	for {
		pos := q.tail.Load()
		s := &q.slots[pos&q.mask]
		switch d := int64(s.seq.Load() - pos); {
		case d == 0:
			if q.tail.CompareAndSwap(pos, pos+1) {
				return s, pos
			}
		case d < 0:
			return nil, 0 // the consumer has not released this slot yet
		}
		// d > 0: another producer claimed pos first; try the next one.
	}
}

// publish hands a filled slot to the consumer.
func (q *ring) publish(s *slot, pos uint64) { s.seq.Store(pos + 1) }

// take returns the next published slot, or nil when there is none yet.
func (q *ring) take() *slot {
	s := &q.slots[q.head&q.mask]
	if s.seq.Load() != q.head+1 {
		return nil
	}
	return s
}

// release gives a taken slot back to the producers.
func (q *ring) release(s *slot) {
	s.seq.Store(q.head + q.mask + 1)
	q.head++
}

// record is an Event as a slot holds it: byte slices copied inline, so that
// the caller may reuse its buffers as soon as Emit returns.
type record struct {
	typ      Type
	status   int32
	reqIDLen uint8
	locLen   uint8
	traceLen uint8
	time     int64 // Unix nanoseconds
	until    int64 // Unix nanoseconds; 0: none
	entries  int64
	version  uint64
	client   netip.Addr
	identity string
	route    string
	reason   string
	detail   string
	source   string
	by       string
	action   string
	result   string
	reqID    [MaxRequestID]byte
	traceID  [32]byte
	loc      [MaxLocation]byte
}

func (r *record) set(e *Event) {
	r.typ = e.Type
	r.status = int32(e.Status)
	r.time = e.Time.UnixNano()
	r.until = 0
	if !e.Until.IsZero() {
		r.until = e.Until.UnixNano()
	}
	r.entries = int64(e.Entries)
	r.version = e.Version
	r.client = e.ClientIP
	r.identity, r.route, r.reason, r.detail = e.Identity, e.Route, e.Reason, e.Detail
	r.source, r.by, r.action, r.result = e.Source, e.By, e.Action, e.Result
	r.reqIDLen = uint8(copy(r.reqID[:], e.RequestID))
	r.locLen = uint8(copy(r.loc[:], e.Location))
	r.traceLen = uint8(copy(r.traceID[:], e.TraceID))
}

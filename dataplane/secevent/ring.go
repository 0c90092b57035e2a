package secevent

import "net/netip"

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

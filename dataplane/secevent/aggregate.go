package secevent

import "net/netip"

// aggKey is what makes two request events "the same": the rest of the
// event (request ID, identity, detail, time) is taken from the latest.
type aggKey struct {
	typ    Type
	client netip.Addr
	route  string
	reason string
}

// entry is one key of the window: the latest occurrence and how many were
// not written yet.
type entry struct {
	key     aggKey
	last    record
	first   int64 // time of the first occurrence not written yet
	pending int64
}

// aggregator is the writer goroutine's table of recent keys, at most
// MaxKeys of them. Its map and slice are reused across windows.
type aggregator struct {
	index   map[aggKey]int32
	entries []entry
}

func (a *aggregator) init() {
	a.index = make(map[aggKey]int32, MaxKeys)
	a.entries = make([]entry, 0, MaxKeys)
}

func keyOf(r *record) aggKey {
	return aggKey{typ: r.typ, client: r.client, route: r.route, reason: r.reason}
}

func (a *aggregator) get(r *record) *entry {
	if i, ok := a.index[keyOf(r)]; ok {
		return &a.entries[i]
	}
	return nil
}

func (a *aggregator) full() bool { return len(a.entries) >= MaxKeys }

// add records the key of r, whose occurrence was just written.
func (a *aggregator) add(r *record) {
	k := keyOf(r)
	a.index[k] = int32(len(a.entries))
	a.entries = append(a.entries, entry{key: k})
}

// sweep calls write for every entry with pending occurrences, then keeps
// those entries (unless all) and forgets the rest.
func (a *aggregator) sweep(all bool, write func(*entry)) {
	kept := a.entries[:0]
	for i := range a.entries {
		e := &a.entries[i]
		if e.pending == 0 {
			continue
		}
		write(e)
		e.pending = 0
		if !all {
			kept = append(kept, *e)
		}
	}
	clear(a.index)
	if all {
		kept = kept[:0]
	}
	for i := range kept {
		a.index[kept[i].key] = int32(i)
	}
	a.entries = kept
}

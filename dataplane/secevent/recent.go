package secevent

import (
	"encoding/json"
	"strings"
	"sync"
)

// RecentLines is how many written lines a Log keeps for Recent.
const RecentLines = 64

// recent is the tail of the stream as written, for the operator's live
// view: the writer goroutine copies each line in (reusing the buffers),
// the management API copies them out. Never touched by the request path.
type recent struct {
	mu    sync.Mutex
	lines [RecentLines][]byte
	next  int
	n     int
}

// keep copies line in, unless it is a successful read-only management call
// (gatewayctl top polling would otherwise fill the tail with itself).
func (t *recent) keep(r *record, line []byte) {
	if r.typ == MgmtCall && r.result == "ok" && strings.HasPrefix(r.action, "GET ") {
		return
	}
	t.mu.Lock()
	t.lines[t.next] = append(t.lines[t.next][:0], line...)
	t.next = (t.next + 1) % RecentLines
	t.n = min(t.n+1, RecentLines)
	t.mu.Unlock()
}

// Recent returns up to n of the last lines written, newest first, each one
// JSON object (without its newline). Read-only management calls that
// succeeded are left out.
func (l *Log) Recent(n int) []json.RawMessage {
	if l == nil {
		return nil
	}
	t := &l.recent
	t.mu.Lock()
	defer t.mu.Unlock()
	n = max(0, min(n, t.n))
	out := make([]json.RawMessage, 0, n)
	for i := range n {
		line := t.lines[(t.next-1-i+RecentLines)%RecentLines]
		out = append(out, json.RawMessage(strings.TrimRight(string(line), "\n")))
	}
	return out
}

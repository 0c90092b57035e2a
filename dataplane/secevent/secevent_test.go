package secevent

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/edgeguard/edgeguard/dataplane/pipeline"
	"github.com/edgeguard/edgeguard/internal/testclock"
)

// syncBuffer is an io.Writer that tests read while the writer writes.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// lines decodes every line written so far.
func (b *syncBuffer) lines(t *testing.T) []map[string]any {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	return decodeLines(t, b.buf.Bytes())
}

func decodeLines(t *testing.T, data []byte) []map[string]any {
	t.Helper()
	var out []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("line %q is not JSON: %v", sc.Bytes(), err)
		}
		out = append(out, m)
	}
	return out
}

var t0 = time.Date(2026, 12, 3, 7, 0, 0, 0, time.UTC)

func openTest(t *testing.T, o Options) (*Log, *syncBuffer, *testclock.Clock) {
	t.Helper()
	clk := testclock.New(t0)
	buf := &syncBuffer{}
	if o.Writer == nil && o.Path == "" {
		o.Writer = buf
	}
	o.Now = clk.Now
	l, err := Open(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	return l, buf, clk
}

func TestEventLine(t *testing.T) {
	l, buf, _ := openTest(t, Options{})
	l.Emit(&Event{
		Type: WAFDetection, Time: t0, ClientIP: netip.MustParseAddr("2001:db8::7"), Identity: "key:ops\"1",
		Route: "api", RequestID: []byte("req-1"), TraceID: []byte("4bf92f3577b34da6a3ce929d0e0e4736"),
		Reason: "waf_blocked", Detail: "sqli", Status: 403,
		Location: []byte("query.q\x01"),
	})
	l.Emit(&Event{
		Type: BanChange, Time: t0, Source: "198.51.100.0/24", Until: t0.Add(time.Hour), By: "ops",
		Action: "ban", Result: "ok", Reason: "banned",
	})
	l.Emit(&Event{Type: BlocklistChange, Time: t0, By: "ops", Action: "blocklist_replace", Result: "ok", Entries: 12, Version: 3})
	l.Sync()
	got := buf.lines(t)
	want := []map[string]any{
		{"ts": "2026-12-03T07:00:00Z", "type": "waf_detection", "client_ip": "2001:db8::7", "identity": "key:ops\"1",
			"route": "api", "request_id": "req-1", "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736", "reason": "waf_blocked", "detail": "sqli", "status": 403.0,
			"location": "query.q\x01", "count": 1.0},
		{"ts": "2026-12-03T07:00:00Z", "type": "ban_change", "client_ip": "", "identity": "", "route": "", "request_id": "",
			"reason": "banned", "source": "198.51.100.0/24", "until": "2026-12-03T08:00:00Z", "by": "ops",
			"action": "ban", "result": "ok", "count": 1.0},
		{"ts": "2026-12-03T07:00:00Z", "type": "blocklist_change", "client_ip": "", "identity": "", "route": "", "request_id": "",
			"reason": "", "by": "ops", "action": "blocklist_replace", "result": "ok", "entries": 12.0, "version": 3.0, "count": 1.0},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d lines, want %d: %v", len(got), len(want), got)
	}
	for i := range want {
		if fmt.Sprint(got[i]) != fmt.Sprint(want[i]) {
			t.Errorf("line %d:\n got %v\nwant %v", i, got[i], want[i])
		}
	}
}

// An event emitted without a time is stamped with the log's clock.
func TestEventWithoutTime(t *testing.T) {
	l, buf, clk := openTest(t, Options{})
	clk.Add(90 * time.Second)
	l.Emit(&Event{Type: RateLimitClusterFallback, Route: "shared", Reason: "fallback"})
	l.Sync()
	got := buf.lines(t)
	if len(got) != 1 || got[0]["ts"] != "2026-12-03T07:01:30Z" {
		t.Fatalf("got %v, want one line stamped 2026-12-03T07:01:30Z", got)
	}
}

func TestAggregation(t *testing.T) {
	l, buf, clk := openTest(t, Options{Window: time.Second})
	a, b := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2")
	ev := func(client netip.Addr, id string) *Event {
		return &Event{Type: AuthFailure, Time: clk.Now(), ClientIP: client, Route: "login", Reason: "unauthenticated",
			Detail: "bad_password", Status: 401, RequestID: []byte(id)}
	}
	l.Emit(ev(a, "r0")) // written at once
	l.Sync()
	if n := len(buf.lines(t)); n != 1 {
		t.Fatalf("first event: %d lines, want 1", n)
	}
	for i := 1; i <= 5; i++ {
		clk.Add(100 * time.Millisecond)
		l.Emit(ev(a, fmt.Sprintf("r%d", i)))
	}
	l.Emit(ev(b, "b0")) // another client: its own line at once
	l.Sync()
	lines := buf.lines(t)
	if len(lines) != 2 || lines[1]["client_ip"] != "192.0.2.2" {
		t.Fatalf("within the window: %v", lines)
	}
	clk.Add(time.Second)
	l.Sync() // the window ends: one line for the five repeats
	lines = buf.lines(t)
	if len(lines) != 3 {
		t.Fatalf("after the window: %d lines, want 3: %v", len(lines), lines)
	}
	rep := lines[2]
	if rep["count"] != 5.0 || rep["request_id"] != "r5" || rep["first_ts"] != "2026-12-03T07:00:00.1Z" ||
		rep["ts"] != "2026-12-03T07:00:00.5Z" || rep["client_ip"] != "192.0.2.1" {
		t.Errorf("aggregated line = %v", rep)
	}
	// A busy key stays in the table: the next window's repeats are one line
	// too, not a count-1 line first.
	l.Emit(ev(a, "r6"))
	l.Emit(ev(a, "r7"))
	clk.Add(time.Second)
	l.Sync()
	lines = buf.lines(t)
	if len(lines) != 4 || lines[3]["count"] != 2.0 {
		t.Fatalf("second window: %v", lines[3:])
	}
	// A quiet window forgets it: the next event is written at once.
	clk.Add(time.Second)
	l.Sync()
	l.Emit(ev(a, "r8"))
	l.Sync()
	lines = buf.lines(t)
	if len(lines) != 5 || lines[4]["count"] != 1.0 || lines[4]["request_id"] != "r8" {
		t.Fatalf("after a quiet window: %v", lines[4:])
	}
	// Control-plane events are never aggregated.
	for range 3 {
		l.Emit(&Event{Type: MgmtCall, Time: clk.Now(), By: "ops", Action: "reload", Result: "ok"})
	}
	l.Sync()
	if n := len(buf.lines(t)); n != 8 {
		t.Fatalf("management calls: %d lines, want 8", n)
	}
}

// TestAggregationBounded: more distinct clients than MaxKeys keep the table
// at MaxKeys, and no occurrence is lost from the counts.
func TestAggregationBounded(t *testing.T) {
	l, buf, clk := openTest(t, Options{Window: time.Minute, Buffer: 1 << 16})
	const clients = MaxKeys + 500
	emitted := 0
	for round := range 3 {
		for i := range clients {
			ip := netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
			l.Emit(&Event{Type: LimitRefused, Time: clk.Now(), ClientIP: ip, Route: "api", Reason: "rate_limited"})
			emitted++
		}
		l.Sync()
		if n := len(l.agg.entries); n > MaxKeys {
			t.Fatalf("round %d: %d keys, over %d", round, n, MaxKeys)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	total := 0.0
	for _, m := range buf.lines(t) {
		total += m["count"].(float64)
	}
	if int(total)+int(l.Dropped()) != emitted || l.Dropped() != 0 {
		t.Fatalf("counts add up to %v, dropped %d, emitted %d", total, l.Dropped(), emitted)
	}
}

func TestForReason(t *testing.T) {
	for _, r := range pipeline.Reasons() {
		typ := ForReason(r)
		switch r {
		case pipeline.ReasonUpstreamUnavailable, pipeline.ReasonUpstreamTimeout, pipeline.ReasonUpstreamError,
			pipeline.ReasonShuttingDown, pipeline.ReasonBlocked:
			if typ != TypeNone {
				t.Errorf("%s: %s, want no event", r, typ)
			}
		default:
			if typ == TypeNone || !typ.aggregates() {
				t.Errorf("%s: no request event type", r)
			}
		}
	}
}

// blockedWriter blocks every Write until release is closed.
type blockedWriter struct {
	entered chan struct{}
	release chan struct{}
	once    sync.Once
	buf     syncBuffer
}

func (w *blockedWriter) Write(p []byte) (int, error) {
	w.once.Do(func() { close(w.entered) })
	<-w.release
	return w.buf.Write(p)
}

// TestDropsWhenWriterBlocked: with the writer stuck in a write (a full pipe
// to journald, a hung disk), Emit returns at once and counts what the ring
// cannot hold.
func TestDropsWhenWriterBlocked(t *testing.T) {
	w := &blockedWriter{entered: make(chan struct{}), release: make(chan struct{})}
	l, _, clk := openTest(t, Options{Writer: w, Buffer: 16})
	before := droppedTotal.Get()
	ev := &Event{Type: MgmtCall, Time: clk.Now(), Action: "status", Result: "ok"}
	l.Emit(ev)
	select {
	case <-w.entered:
	case <-time.After(5 * time.Second):
		t.Fatal("writer never wrote")
	}
	start := time.Now()
	for range 100 {
		l.Emit(ev)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("100 emits with the writer blocked took %v", d)
	}
	if got := l.Dropped(); got != 100-16 {
		t.Errorf("dropped %d, want %d", got, 100-16)
	}
	if got := droppedTotal.Get() - before; got != 100-16 {
		t.Errorf("edgeguard_security_events_dropped_total grew by %d, want %d", got, 100-16)
	}
	close(w.release)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if n := len(decodeLines(t, w.buf.buf.Bytes())); n != 1+16 {
		t.Errorf("%d lines written, want %d", n, 1+16)
	}
	l.Emit(ev) // after Close: dropped, not blocked
	if l.Dropped() != 100-16+1 {
		t.Errorf("emit after close not dropped")
	}
}

func TestConcurrentEmit(t *testing.T) {
	l, buf, clk := openTest(t, Options{Buffer: 1 << 12})
	var wg sync.WaitGroup
	const goroutines, each = 8, 2000
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				l.Emit(&Event{Type: MgmtCall, Time: clk.Now(), Action: "x", RequestID: fmt.Appendf(nil, "g%d-%d", g, i)})
			}
		}()
	}
	wg.Wait()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	lines := buf.lines(t)
	seen := map[string]bool{}
	for _, m := range lines {
		id := m["request_id"].(string)
		if seen[id] || !strings.HasPrefix(id, "g") {
			t.Fatalf("bad or repeated request id %q", id)
		}
		seen[id] = true
	}
	if len(lines)+int(l.Dropped()) != goroutines*each {
		t.Fatalf("%d written + %d dropped != %d", len(lines), l.Dropped(), goroutines*each)
	}
}

func TestRotateBySize(t *testing.T) {
	path := filepath.Join(t.TempDir(), "events.jsonl")
	l, _, clk := openTest(t, Options{Path: path, MaxSize: 1000, MaxAge: time.Hour, MaxFiles: 3})
	const n = 60
	for i := range n {
		l.Emit(&Event{Type: MgmtCall, Time: clk.Now(), Action: "status", Result: "ok", RequestID: fmt.Appendf(nil, "%03d", i)})
		if i%7 == 0 {
			clk.Add(time.Millisecond)
			l.Sync() // several batches, several rotations
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	rotated, err := Rotated(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(rotated) != 3 {
		t.Fatalf("rotated files %v, want the 3 newest", rotated)
	}
	var ids []string
	for _, f := range append(rotated, path) {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if len(data) > 1000 {
			t.Errorf("%s: %d bytes, over max_size", f, len(data))
		}
		for _, m := range decodeLines(t, data) {
			ids = append(ids, m["request_id"].(string))
		}
	}
	// Oldest files removed, the rest in order and complete up to the last.
	if len(ids) == 0 || ids[len(ids)-1] != fmt.Sprintf("%03d", n-1) {
		t.Fatalf("ids %v", ids)
	}
	for i := 1; i < len(ids); i++ {
		if ids[i] <= ids[i-1] {
			t.Fatalf("ids out of order: %v", ids)
		}
		if a, b := ids[i-1], ids[i]; b != fmt.Sprintf("%03d", atoi(t, a)+1) {
			t.Fatalf("gap between %s and %s: %v", a, b, ids)
		}
	}
}

func atoi(t *testing.T, s string) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestRotateByAge(t *testing.T) {
	path := filepath.Join(t.TempDir(), "events.jsonl")
	l, _, clk := openTest(t, Options{Path: path, MaxSize: 1 << 20, MaxAge: time.Hour, MaxFiles: 5})
	l.Emit(&Event{Type: ConfigReload, Time: clk.Now(), Action: "SIGHUP", Result: "ok", Version: 2})
	l.Sync()
	clk.Add(59 * time.Minute)
	l.Sync()
	if r, _ := Rotated(path); len(r) != 0 {
		t.Fatalf("rotated before max_age: %v", r)
	}
	clk.Add(time.Minute)
	l.Sync() // idle, but past its age: rotated
	r, _ := Rotated(path)
	if len(r) != 1 || !strings.HasSuffix(r[0], ".20261203T080000.000000000Z") {
		t.Fatalf("rotated %v, want one named for 08:00", r)
	}
	l.Emit(&Event{Type: ConfigReload, Time: clk.Now(), Action: "SIGHUP", Result: "ok", Version: 3})
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	old, _ := os.ReadFile(r[0])
	cur, _ := os.ReadFile(path)
	if o, c := decodeLines(t, old), decodeLines(t, cur); len(o) != 1 || o[0]["version"] != 2.0 || len(c) != 1 || c[0]["version"] != 3.0 {
		t.Fatalf("old %s, current %s", old, cur)
	}
	// An empty file is never rotated, however old.
	clk.Add(10 * time.Hour)
	l2, err := Open(Options{Path: path + ".2", MaxSize: 1 << 20, MaxAge: time.Hour, MaxFiles: 5, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	clk.Add(2 * time.Hour)
	l2.Sync()
	if err := l2.Close(); err != nil {
		t.Fatal(err)
	}
	if r, _ := Rotated(path + ".2"); len(r) != 0 {
		t.Fatalf("empty file rotated: %v", r)
	}
}

func TestOff(t *testing.T) {
	for _, p := range []string{"", "off"} {
		l, err := Open(Options{Path: p})
		if err != nil || l != nil {
			t.Fatalf("Open(%q) = %v, %v; want nil, nil", p, l, err)
		}
		l.Emit(&Event{Type: MgmtCall}) // a nil Log emits nothing
		l.Sync()
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := Open(Options{Path: filepath.Join(t.TempDir(), "no", "such", "dir", "e.jsonl")}); err == nil ||
		!strings.Contains(err.Error(), "open security events") {
		t.Fatalf("bad path: %v", err)
	}
}

// TestReopenAfterRename: after an outside rotation renames the file,
// Reopen writes on into a new file at the path; the renamed one keeps
// what was written before, and nothing is lost.
func TestReopenAfterRename(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "events.jsonl")
	l, _, clk := openTest(t, Options{Path: path})
	l.Emit(&Event{Type: MgmtCall, Time: clk.Now(), Action: "status", Result: "ok", RequestID: []byte("before")})
	l.Sync()
	moved := filepath.Join(dir, "events.jsonl.1")
	if err := os.Rename(path, moved); err != nil {
		t.Fatal(err)
	}
	l.Emit(&Event{Type: MgmtCall, Time: clk.Now(), Action: "status", Result: "ok", RequestID: []byte("queued")})
	if err := l.Reopen(); err != nil {
		t.Fatal(err)
	}
	l.Emit(&Event{Type: MgmtCall, Time: clk.Now(), Action: "status", Result: "ok", RequestID: []byte("after")})
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	ids := func(f string) (out []string) {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range decodeLines(t, data) {
			out = append(out, m["request_id"].(string))
		}
		return out
	}
	if got := ids(moved); strings.Join(got, ",") != "before,queued" {
		t.Errorf("renamed file holds %v, want before and queued", got)
	}
	if got := ids(path); strings.Join(got, ",") != "after" {
		t.Errorf("new file holds %v, want after", got)
	}
	// Stdout and a nil Log have nothing to reopen.
	var none *Log
	if err := none.Reopen(); err != nil {
		t.Error(err)
	}
}

package policy

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/edgeguard/edgeguard/bpf/enforce"
	"github.com/edgeguard/edgeguard/dataplane/connfilter"
	"github.com/edgeguard/edgeguard/dataplane/secevent"
	"github.com/edgeguard/edgeguard/policy/banstore"
)

// fakeMeter is an enforcer with a burst meter: the user-space filter, plus
// the settings it was given and bans a test hands it as if the kernel had
// written them.
type fakeMeter struct {
	*connfilter.Filter
	mu     sync.Mutex
	sets   []enforce.Burst
	events chan enforce.BurstBan
	closed chan struct{}
	once   sync.Once
}

var _ enforce.BurstMeter = (*fakeMeter)(nil)

func newFakeMeter() *fakeMeter {
	return &fakeMeter{Filter: connfilter.New(), events: make(chan enforce.BurstBan), closed: make(chan struct{})}
}

func (f *fakeMeter) SetBurst(b enforce.Burst) error {
	if err := b.Validate(); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sets = append(f.sets, b)
	return nil
}

func (f *fakeMeter) settings() []enforce.Burst {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]enforce.Burst(nil), f.sets...)
}

// ReadBurstBan returns what the test sends; the kernel would have banned
// the source already, so the fake does too.
func (f *fakeMeter) ReadBurstBan() (enforce.BurstBan, error) {
	select {
	case b := <-f.events:
		return b, f.Filter.Ban(b.Source, b.Until)
	case <-f.closed:
		return enforce.BurstBan{}, os.ErrClosed
	}
}

func (f *fakeMeter) Close() error {
	f.once.Do(func() { close(f.closed) })
	return f.Filter.Close()
}

// TestBurstAppliedAtStartAndReload: xdp.burst reaches the meter at start,
// with the data listeners' ports and the rate limiter's IPv6 prefix, and
// again only when a reload changes it.
func TestBurstAppliedAtStartAndReload(t *testing.T) {
	a := upstreamAddr(t)
	base := "listeners:\n  - {name: a, address: 127.0.0.1:18443}\n  - {name: b, address: \"[::1]:18080\"}\n" +
		doc("  - name: a\n    targets: ["+a+"]\n", "  - name: r\n    path: /\n    upstream: a\n")
	m := newFakeMeter()
	src := &source{}
	src.set(base)
	h, err := NewHolder(src.load, Options{Enforcer: &Enforcement{Enforcer: m}}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	sets := m.settings()
	if len(sets) != 1 {
		t.Fatalf("%d SetBurst calls at start, want 1", len(sets))
	}
	want := enforce.Burst{On: true, SYNRate: 200, SYNBurst: 1000, PacketRate: 100000, PacketBurst: 200000,
		Ports: []uint16{18443, 18080}, BanFor: 10 * time.Minute, IPv6Prefix: 64, MaxSources: 65536}
	if got := sets[0]; got.On != want.On || got.SYNRate != want.SYNRate || got.PacketBurst != want.PacketBurst ||
		got.BanFor != want.BanFor || got.IPv6Prefix != want.IPv6Prefix || got.MaxSources != want.MaxSources ||
		len(got.Ports) != 2 || got.Ports[0] != 18443 || got.Ports[1] != 18080 {
		t.Errorf("at start: %+v, want %+v", got, want)
	}

	src.set(base + "rate_limit:\n  ipv6_prefix: 56\nxdp:\n  burst: {syn_rate: 20, ban_duration: 1h}\n")
	if res, err := h.Reload("test"); err != nil || !res.Swapped || len(res.RestartRequired) != 0 {
		t.Fatalf("reload = %+v %v, want swapped with no restart", res, err)
	}
	sets = m.settings()
	if len(sets) != 2 || sets[1].SYNRate != 20 || sets[1].BanFor != time.Hour || sets[1].IPv6Prefix != 56 {
		t.Fatalf("after reload: %+v", sets)
	}

	src.set(base + "rate_limit:\n  ipv6_prefix: 56\nxdp:\n  burst: {syn_rate: 20, ban_duration: 1h}\nheaders:\n  request_id_header: X-Req\n")
	if _, err := h.Reload("test"); err != nil {
		t.Fatal(err)
	}
	if n := len(m.settings()); n != 2 {
		t.Errorf("a reload that left xdp.burst alone set it again (%d calls)", n)
	}

	src.set(base + "xdp:\n  burst: {enabled: false}\n")
	if _, err := h.Reload("test"); err != nil {
		t.Fatal(err)
	}
	if sets = m.settings(); len(sets) != 3 || sets[2].On {
		t.Errorf("off not applied: %+v", sets)
	}

	src.set(base + "xdp:\n  burst: {syn_burst: -1}\n")
	if _, err := h.Reload("test"); err == nil || !strings.Contains(err.Error(), "xdp.burst.syn_burst") {
		t.Fatalf("bad burst: %v", err)
	}
	if n := len(m.settings()); n != 3 {
		t.Errorf("a rejected reload reached the meter")
	}
}

// TestWatchBurstBans: a ban the meter reports is counted, persisted in
// bans.state through the ban store and restored from it by the next start,
// and recorded as a burst_ban security event.
func TestWatchBurstBans(t *testing.T) {
	dir := t.TempDir()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	m := newFakeMeter()
	e := &Enforcement{Enforcer: m}
	if err := e.PersistBans(dir, log); err != nil {
		t.Fatal(err)
	}
	var events bytes.Buffer
	ev, err := secevent.Open(secevent.Options{Writer: &events})
	if err != nil {
		t.Fatal(err)
	}
	done := e.WatchBurstBans(log, ev)
	before := burstBansSYN.Get()

	src := netip.MustParsePrefix("2001:db8:7:8::/64")
	m.events <- enforce.BurstBan{Source: src, Until: time.Now().Add(time.Hour), Bucket: enforce.BucketSYN}
	deadline := time.Now().Add(5 * time.Second)
	for e.BanStore.Len() != 1 {
		if time.Now().After(deadline) {
			t.Fatal("the burst ban never reached the ban store")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if got := burstBansSYN.Get() - before; got != 1 {
		t.Errorf("edgeguard_xdp_burst_bans_total{bucket=\"syn\"} moved by %d, want 1", got)
	}
	if err := e.Close(); err != nil { // flushes the store, closes the meter
		t.Fatal(err)
	}
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the watcher did not stop when the enforcer closed")
	}
	if err := ev.Close(); err != nil {
		t.Fatal(err)
	}
	var line map[string]any
	if err := json.Unmarshal(events.Bytes(), &line); err != nil {
		t.Fatalf("event %q: %v", events.Bytes(), err)
	}
	if line["type"] != "burst_ban" || line["client_ip"] != "2001:db8:7:8::" || line["source"] != "2001:db8:7:8::/64" ||
		line["reason"] != "syn_burst" || line["result"] != "ok" || line["until"] == nil {
		t.Errorf("burst ban event %v", line)
	}

	// A reboot: a fresh enforcer with empty maps gets the ban back.
	fresh := connfilter.New()
	_, rep, err := banstore.Open(banstore.Options{Dir: dir, Enforcer: fresh, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Restored != 1 || fresh.Check(netip.MustParseAddr("2001:db8:7:8::99")) != enforce.ReasonDropBanned {
		t.Fatalf("restore after reboot: %+v", rep)
	}
}

// TestWatchBurstBansWithoutMeter: the user-space fallback has no meter.
func TestWatchBurstBansWithoutMeter(t *testing.T) {
	e := &Enforcement{Enforcer: connfilter.New()}
	select {
	case <-e.WatchBurstBans(slog.New(slog.NewTextHandler(io.Discard, nil)), nil):
	default:
		t.Fatal("watching a fallback enforcer did not return at once")
	}
	if err := e.SetBurst(enforce.Burst{}); err != nil {
		t.Fatalf("SetBurst on the fallback: %v", err)
	}
}

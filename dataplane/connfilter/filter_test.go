package connfilter

import (
	"cmp"
	"errors"
	"io"
	"net"
	"net/netip"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/edgeguard/edgeguard/bpf/enforce"
	"github.com/edgeguard/edgeguard/internal/testclock"
)

func prefixes(ss ...string) []netip.Prefix {
	out := make([]netip.Prefix, len(ss))
	for i, s := range ss {
		out[i] = netip.MustParsePrefix(s)
	}
	return out
}

func TestCheck(t *testing.T) {
	clk := testclock.New(time.Unix(1_700_000_000, 0))
	f := New(WithClock(clk.Now))
	if err := f.ReplaceBlocklist(prefixes("198.51.100.0/24", "203.0.113.7/32", "10.0.0.0/8",
		"2001:db8:bad::/48", "2001:db8:1::1/128", "::ffff:192.0.2.128/121")); err != nil {
		t.Fatal(err)
	}
	if err := f.ReplaceAllowlist(prefixes("198.51.100.10/32", "2001:db8:bad:1::/64", "192.0.2.99/32")); err != nil {
		t.Fatal(err)
	}
	f.Ban(enforce.Host(netip.MustParseAddr("192.0.2.33")), clk.Now().Add(time.Minute))
	f.Ban(enforce.Host(netip.MustParseAddr("2001:db8:2::2")), clk.Now().Add(time.Minute))
	f.Ban(enforce.Host(netip.MustParseAddr("198.51.100.10")), clk.Now().Add(time.Minute))

	tests := []struct {
		name string
		addr string
		want enforce.Reason
	}{
		{"v4 unlisted", "192.0.2.34", enforce.ReasonPass},
		{"v4 blocked /24", "198.51.100.77", enforce.ReasonDropBlocklist},
		{"v4 blocked /24 first", "198.51.100.0", enforce.ReasonDropBlocklist},
		{"v4 blocked /24 last", "198.51.100.255", enforce.ReasonDropBlocklist},
		{"v4 after /24", "198.51.101.0", enforce.ReasonPass},
		{"v4 blocked host", "203.0.113.7", enforce.ReasonDropBlocklist},
		{"v4 next to host", "203.0.113.6", enforce.ReasonPass},
		{"v4 blocked via mapped prefix", "192.0.2.200", enforce.ReasonDropBlocklist},
		{"v4-mapped source", "::ffff:198.51.100.77", enforce.ReasonDropBlocklist},
		{"v4 allowlisted and banned", "198.51.100.10", enforce.ReasonPassAllowlist},
		{"v4 banned", "192.0.2.33", enforce.ReasonDropBanned},
		{"v4 allowlisted, nothing to override", "192.0.2.99", enforce.ReasonPass},
		{"v4-mapped banned", "::ffff:192.0.2.33", enforce.ReasonDropBanned},
		{"v6 unlisted", "2001:db8:3::1", enforce.ReasonPass},
		{"v6 blocked /48", "2001:db8:bad:2::1", enforce.ReasonDropBlocklist},
		{"v6 blocked host", "2001:db8:1::1", enforce.ReasonDropBlocklist},
		{"v6 allowlisted", "2001:db8:bad:1::5", enforce.ReasonPassAllowlist},
		{"v6 banned", "2001:db8:2::2", enforce.ReasonDropBanned},
		{"v6 zone", "2001:db8:2::2%eth0", enforce.ReasonDropBanned},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := f.Check(netip.MustParseAddr(tc.addr)); got != tc.want {
				t.Fatalf("Check(%s) = %s, want %s", tc.addr, got, tc.want)
			}
		})
	}
}

func TestDeltaAndBans(t *testing.T) {
	clk := testclock.New(time.Unix(1_700_000_000, 0))
	f := New(WithClock(clk.Now))
	check := func(addr string, want enforce.Reason) {
		t.Helper()
		if got := f.Check(netip.MustParseAddr(addr)); got != want {
			t.Fatalf("Check(%s) = %s, want %s", addr, got, want)
		}
	}
	steps := []struct {
		name string
		do   func() error
		addr string
		want enforce.Reason
	}{
		{"delta adds", func() error { return f.ApplyBlocklistDelta(prefixes("10.0.0.0/8", "10.1.0.0/16"), nil) }, "10.1.2.3", enforce.ReasonDropBlocklist},
		{"removing nested keeps covering", func() error { return f.ApplyBlocklistDelta(nil, prefixes("10.1.0.0/16")) }, "10.1.2.3", enforce.ReasonDropBlocklist},
		{"removing covering unblocks", func() error { return f.ApplyBlocklistDelta(nil, prefixes("10.0.0.0/8")) }, "10.1.2.3", enforce.ReasonPass},
		{"removing absent is a no-op", func() error { return f.ApplyBlocklistDelta(nil, prefixes("10.9.0.0/16")) }, "10.1.2.3", enforce.ReasonPass},
		{"ban", func() error { return f.Ban(enforce.Host(netip.MustParseAddr("10.1.2.3")), clk.Now().Add(time.Second)) }, "10.1.2.3", enforce.ReasonDropBanned},
		{"ban expires", func() error { clk.Add(time.Second); return nil }, "10.1.2.3", enforce.ReasonPass},
		{"ban again", func() error { return f.Ban(enforce.Host(netip.MustParseAddr("10.1.2.3")), clk.Now().Add(time.Hour)) }, "10.1.2.3", enforce.ReasonDropBanned},
		{"unban", func() error { return f.Unban(enforce.Host(netip.MustParseAddr("10.1.2.3"))) }, "10.1.2.3", enforce.ReasonPass},
		{"ban in the past", func() error { return f.Ban(enforce.Host(netip.MustParseAddr("10.1.2.3")), clk.Now().Add(-time.Second)) }, "10.1.2.3", enforce.ReasonPass},
		{"replace", func() error { return f.ReplaceBlocklist(prefixes("2001:db8::/32")) }, "2001:db8::1", enforce.ReasonDropBlocklist},
		{"allowlist wins", func() error { return f.ReplaceAllowlist(prefixes("2001:db8::1/128")) }, "2001:db8::1", enforce.ReasonPassAllowlist},
		{"blocklist replace keeps allowlist", func() error { return f.ReplaceBlocklist(prefixes("2001:db8::/32")) }, "2001:db8::1", enforce.ReasonPassAllowlist},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			if err := s.do(); err != nil {
				t.Fatal(err)
			}
			check(s.addr, s.want)
		})
	}

	f.Ban(enforce.Host(netip.MustParseAddr("192.0.2.1")), clk.Now().Add(time.Minute))
	f.Ban(enforce.Host(netip.MustParseAddr("2001:db8::9")), clk.Now().Add(2*time.Minute))
	f.Ban(enforce.Host(netip.MustParseAddr("192.0.2.2")), clk.Now().Add(time.Millisecond))
	clk.Add(time.Millisecond)
	bans, _ := f.Bans()
	slices.SortFunc(bans, func(a, b enforce.Ban) int { return a.Source.Addr().Compare(b.Source.Addr()) })
	want := []enforce.Ban{
		{Source: netip.MustParsePrefix("192.0.2.1/32"), Until: clk.Now().Add(time.Minute - time.Millisecond)},
		{Source: netip.MustParsePrefix("2001:db8::9/128"), Until: clk.Now().Add(2*time.Minute - time.Millisecond)},
	}
	if len(bans) != len(want) {
		t.Fatalf("Bans = %v, want %v", bans, want)
	}
	for i := range want {
		if bans[i].Source != want[i].Source || !bans[i].Until.Equal(want[i].Until) {
			t.Fatalf("Bans[%d] = %v, want %v", i, bans[i], want[i])
		}
	}
}

func TestInvalidInput(t *testing.T) {
	f := New()
	tests := []struct {
		name string
		op   func() error
	}{
		{"blocklist", func() error { return f.ReplaceBlocklist([]netip.Prefix{{}}) }},
		{"allowlist", func() error { return f.ReplaceAllowlist([]netip.Prefix{{}}) }},
		{"delta add", func() error { return f.ApplyBlocklistDelta([]netip.Prefix{{}}, nil) }},
		{"delta remove", func() error { return f.ApplyBlocklistDelta(nil, []netip.Prefix{{}}) }},
		{"ban", func() error { return f.Ban(netip.Prefix{}, time.Now().Add(time.Hour)) }},
		{"unban", func() error { return f.Unban(netip.Prefix{}) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.op(); err == nil {
				t.Fatal("no error")
			}
		})
	}
}

// acceptAll runs Accept in a goroutine and delivers accepted connections.
func acceptAll(t *testing.T, ln net.Listener) <-chan net.Conn {
	ch := make(chan net.Conn, 16)
	go func() {
		defer close(ch)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			ch <- c
		}
	}()
	t.Cleanup(func() { ln.Close() })
	return ch
}

// dialAndRead connects and reports whether the server closed the connection
// on us (read error or EOF) within the deadline.
func dialAndRead(t *testing.T, addr string) (closedByServer bool) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if errors.Is(err, syscall.ECONNRESET) {
		return true // on loopback the reset can beat connect's return
	}
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	_, err = c.Read(make([]byte, 1))
	var nerr net.Error
	if errors.As(err, &nerr) && nerr.Timeout() {
		return false
	}
	return err != nil
}

// TestListener drives real TCP connections over loopback through the
// wrapped listener: rejected ones are reset before the server reads, the
// next good one is returned, and every verdict is counted.
func TestListener(t *testing.T) {
	for _, network := range []struct{ name, addr, self, prefix string }{
		{"ipv4", "127.0.0.1:0", "127.0.0.1", "127.0.0.0/8"},
		{"ipv6", "[::1]:0", "::1", "::1/128"},
	} {
		t.Run(network.name, func(t *testing.T) {
			clk := testclock.New(time.Unix(1_700_000_000, 0))
			f := New(WithClock(clk.Now))
			raw, err := net.Listen("tcp", network.addr)
			if err != nil {
				t.Skipf("no %s loopback: %v", network.name, err)
			}
			accepted := acceptAll(t, Wrap(raw, f))
			addr := raw.Addr().String()
			self := netip.MustParseAddr(network.self)

			expectAccepted := func(want bool) {
				t.Helper()
				closed := dialAndRead(t, addr)
				if want {
					select {
					case c := <-accepted:
						c.Close()
					case <-time.After(2 * time.Second):
						t.Fatal("good connection not returned by Accept")
					}
					if closed {
						t.Fatal("good connection closed before the server used it")
					}
				} else if !closed {
					t.Fatal("rejected connection was not closed")
				}
			}

			f.ReplaceBlocklist(prefixes(network.prefix))
			expectAccepted(false)
			f.ReplaceAllowlist(prefixes(network.prefix))
			expectAccepted(true)
			f.ReplaceAllowlist(nil)
			f.ReplaceBlocklist(nil)
			expectAccepted(true)
			f.Ban(enforce.Host(self), clk.Now().Add(time.Minute))
			expectAccepted(false)
			clk.Add(time.Minute)
			expectAccepted(true)

			st, _ := f.Stats()
			want := [enforce.NumReasons]uint64{
				enforce.ReasonPass: 2, enforce.ReasonPassAllowlist: 1,
				enforce.ReasonDropBlocklist: 1, enforce.ReasonDropBanned: 1,
			}
			for r := range want {
				if st.Verdicts[r].Packets != want[r] {
					t.Errorf("%s = %d, want %d", enforce.Reason(r), st.Verdicts[r].Packets, want[r])
				}
			}
			if st.Mode != enforce.ModeUserspace || f.Mode() != enforce.ModeUserspace {
				t.Errorf("mode %q/%q, want userspace", st.Mode, f.Mode())
			}
		})
	}
}

func TestListenerPassesErrors(t *testing.T) {
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := Wrap(raw, New())
	ln.Close()
	if _, err := ln.Accept(); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Accept on closed listener: %v", err)
	}
	var _ io.Closer = ln
}

// TestConcurrentReadersAndWriters runs lookups while lists and bans change
// (run with -race).
func TestConcurrentReadersAndWriters(t *testing.T) {
	f := New()
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 2 {
		wg.Go(func() {
			a4, a6 := netip.MustParseAddr("10.1.2.3"), netip.MustParseAddr("2001:db8::1")
			for {
				select {
				case <-stop:
					return
				default:
					f.Check(a4)
					f.Check(a6)
				}
			}
		})
	}
	for i := range 200 {
		// Both families: the delta patches them on two goroutines.
		f.ApplyBlocklistDelta(prefixes("10.0.0.0/8", "2001:db8:1::/48"), nil)
		f.Ban(enforce.Host(netip.AddrFrom4([4]byte{10, 1, 2, byte(i)})), time.Now().Add(time.Minute))
		f.ApplyBlocklistDelta(nil, prefixes("10.0.0.0/8", "2001:db8:1::/48"))
		f.ReplaceAllowlist(prefixes("2001:db8::/32"))
	}
	close(stop)
	wg.Wait()
	if bans, _ := f.Bans(); len(bans) != 200 {
		t.Fatalf("%d bans, want 200", len(bans))
	}
}

// FuzzCheck compares Check with a reference on prefixes decoded from the
// input: every 5 bytes are an IPv4 prefix (4 address bytes, length mod 33,
// bit 7 of the length byte: allowlist instead of blocklist).
func FuzzCheck(f *testing.F) {
	f.Add([]byte{10, 0, 0, 0, 8, 10, 1, 2, 3, 32 | 0x80})
	f.Add([]byte{0, 0, 0, 0, 0, 255, 255, 255, 255, 32})
	f.Add([]byte{192, 0, 2, 0, 25, 192, 0, 2, 128, 25, 192, 0, 2, 64, 26 | 0x80})
	f.Fuzz(func(t *testing.T, data []byte) {
		var block, allow []netip.Prefix
		var probes []netip.Addr
		for ; len(data) >= 5; data = data[5:] {
			a := netip.AddrFrom4([4]byte{data[0], data[1], data[2], data[3]})
			p := netip.PrefixFrom(a, int(data[4]&0x3f)%33).Masked()
			if data[4]&0x80 != 0 {
				allow = append(allow, p)
			} else {
				block = append(block, p)
			}
			last := lastAddr(p)
			probes = append(probes, a, p.Addr(), p.Addr().Prev(), last, last.Next())
		}
		flt := New()
		flt.ReplaceBlocklist(block)
		flt.ReplaceAllowlist(allow)
		for _, a := range probes {
			if !a.IsValid() {
				continue
			}
			// The allowlist only shows when it overrides a drop.
			want := enforce.ReasonPass
			if slices.ContainsFunc(block, func(p netip.Prefix) bool { return p.Contains(a) }) {
				want = enforce.ReasonDropBlocklist
				if slices.ContainsFunc(allow, func(p netip.Prefix) bool { return p.Contains(a) }) {
					want = enforce.ReasonPassAllowlist
				}
			}
			if got := flt.Check(a); got != want {
				t.Fatalf("Check(%v) = %s, want %s", a, got, want)
			}
		}
	})
}

func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Addr().AsSlice()
	for i := p.Bits(); i < len(b)*8; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

func TestNetworkBans(t *testing.T) {
	clk := testclock.New(time.Unix(1_700_000_000, 0))
	f := New(WithClock(clk.Now))
	pfx := netip.MustParsePrefix
	check := func(step string, want map[string]enforce.Reason) {
		t.Helper()
		for a, r := range want {
			if got := f.Check(netip.MustParseAddr(a)); got != r {
				t.Errorf("%s: %s = %v, want %v", step, a, got, r)
			}
		}
	}
	if err := f.Ban(pfx("2001:db8:1:2:aaaa::1/64"), clk.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := f.Ban(pfx("2001:db8:9::/48"), clk.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	check("banned", map[string]enforce.Reason{
		"2001:db8:1:2::1":      enforce.ReasonDropBanned, // any address of the /64
		"2001:db8:1:2:ffff::9": enforce.ReasonDropBanned,
		"2001:db8:1:3::1":      enforce.ReasonPass, // the next /64
		"2001:db8:9:ffff::1":   enforce.ReasonDropBanned,
		"::ffff:32.1.13.184":   enforce.ReasonPass, // IPv4 never matches a network ban
	})
	bans, _ := f.Bans()
	if len(bans) != 2 || !slices.ContainsFunc(bans, func(b enforce.Ban) bool { return b.Source == pfx("2001:db8:1:2::/64") }) {
		t.Errorf("Bans = %v, want the /64 masked and the /48", bans)
	}
	clk.Add(2 * time.Minute) // the /64 expires
	check("expired", map[string]enforce.Reason{"2001:db8:1:2::1": enforce.ReasonPass, "2001:db8:9::1": enforce.ReasonDropBanned})
	if err := f.Unban(pfx("2001:db8:9::/48")); err != nil {
		t.Fatal(err)
	}
	check("unbanned", map[string]enforce.Reason{"2001:db8:9::1": enforce.ReasonPass})
	if bans, _ := f.Bans(); len(bans) != 0 {
		t.Errorf("Bans after expiry and unban = %v", bans)
	}
	for _, bad := range []string{"10.0.0.0/8", "2001:db8::/16"} {
		if err := f.Ban(pfx(bad), clk.Now().Add(time.Minute)); err == nil {
			t.Errorf("Ban(%s) accepted", bad)
		}
	}
}

// TestOpenConnectionFollowsVerdict keeps a real loopback connection open
// through changes of the lists and bans: a change that drops its source
// ends it at the server's next read with a reset, counted; a change that
// leaves it passing (another source banned, an allowlist cover) does not.
func TestOpenConnectionFollowsVerdict(t *testing.T) {
	self := netip.MustParseAddr("127.0.0.1")
	other := netip.MustParseAddr("127.0.0.9")
	until := time.Now().Add(time.Hour)
	for _, tc := range []struct {
		name   string
		change func(f *Filter)
		closed bool
		reason enforce.Reason
		listen string // "127.0.0.1:0" when empty
	}{
		{"nothing changes", func(*Filter) {}, false, 0, ""},
		{"another source banned", func(f *Filter) { _ = f.Ban(enforce.Host(other), until) }, false, 0, ""},
		{"blocklist replaced", func(f *Filter) { _ = f.ReplaceBlocklist(prefixes("127.0.0.0/8")) }, true, enforce.ReasonDropBlocklist, ""},
		{"blocklist delta", func(f *Filter) { _ = f.ApplyBlocklistDelta(prefixes("127.0.0.1/32"), nil) }, true, enforce.ReasonDropBlocklist, ""},
		{"source banned", func(f *Filter) { _ = f.Ban(enforce.Host(self), until) }, true, enforce.ReasonDropBanned, ""},
		{"IPv6 network banned", func(f *Filter) { _ = f.Ban(netip.MustParsePrefix("::/64"), until) }, true, enforce.ReasonDropBanned, "[::1]:0"},
		{"allowlisted source banned", func(f *Filter) {
			_ = f.ReplaceAllowlist(prefixes("127.0.0.1/32"))
			_ = f.Ban(enforce.Host(self), until)
		}, false, 0, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := New()
			listen := cmp.Or(tc.listen, "127.0.0.1:0")
			raw, err := net.Listen("tcp", listen)
			if err != nil {
				t.Skipf("no loopback at %s: %v", listen, err)
			}
			accepted := acceptAll(t, Wrap(raw, f))
			client, err := net.Dial("tcp", raw.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer client.Close()
			var server net.Conn
			select {
			case server = <-accepted:
			case <-time.After(2 * time.Second):
				t.Fatal("connection not accepted")
			}
			defer server.Close()
			_ = server.SetDeadline(time.Now().Add(5 * time.Second))
			_ = client.SetDeadline(time.Now().Add(5 * time.Second))
			echo := func() error {
				if _, err := client.Write([]byte("ping")); err != nil {
					return err
				}
				buf := make([]byte, 4)
				if _, err := io.ReadFull(server, buf); err != nil {
					return err
				}
				return nil
			}
			if err := echo(); err != nil {
				t.Fatalf("before the change: %v", err)
			}
			before, _ := f.Stats()
			tc.change(f)
			err = echo()
			if !tc.closed {
				if err != nil {
					t.Fatalf("after the change: %v, want the connection served", err)
				}
				return
			}
			if !errors.Is(err, ErrSourceDropped) {
				t.Fatalf("server read after the change: %v, want ErrSourceDropped", err)
			}
			if _, err := client.Read(make([]byte, 1)); !errors.Is(err, syscall.ECONNRESET) {
				t.Errorf("client read: %v, want a reset", err)
			}
			after, _ := f.Stats()
			if got := after.Verdicts[tc.reason].Packets - before.Verdicts[tc.reason].Packets; got != 1 {
				t.Errorf("%s counted %d times, want 1", tc.reason, got)
			}
		})
	}
}

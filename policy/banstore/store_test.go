package banstore

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/edgeguard/edgeguard/bpf/enforce"
	"github.com/edgeguard/edgeguard/dataplane/connfilter"
	"github.com/edgeguard/edgeguard/internal/testclock"
)

var t0 = time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)

// open opens a store in dir over a fresh user-space filter (the real
// fallback enforcer), as a restarted gatewayd would.
func open(t *testing.T, dir string, c *testclock.Clock) (*Store, *connfilter.Filter, Report) {
	t.Helper()
	f := connfilter.New(connfilter.WithClock(c.Now))
	s, rep, err := Open(Options{Dir: dir, Enforcer: f, Now: c.Now, FlushDelay: time.Hour})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return s, f, rep
}

func addr(s string) netip.Addr { return netip.MustParseAddr(s) }

func host(s string) netip.Prefix { return enforce.Host(addr(s)) }

func TestAddRemoveSurviveRestart(t *testing.T) {
	dir, c := t.TempDir(), testclock.New(t0)
	s, f, rep := open(t, dir, c)
	if rep != (Report{}) {
		t.Fatalf("fresh dir report = %+v", rep)
	}
	for _, a := range []string{"192.0.2.7", "2001:db8::9", "::ffff:198.51.100.1"} {
		if err := s.Add(host(a), t0.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Remove(host("2001:db8::9")); err != nil {
		t.Fatal(err)
	}
	if f.Check(addr("192.0.2.7")) != enforce.ReasonDropBanned {
		t.Fatal("ban not applied to the enforcer")
	}
	// No Close: Add and Remove must already be on disk (a crash here loses nothing).
	s2, f2, rep := open(t, dir, c)
	if rep.Restored != 2 || rep.Expired != 0 || rep.Damage != nil {
		t.Fatalf("report = %+v", rep)
	}
	for a, want := range map[string]enforce.Reason{
		"192.0.2.7":    enforce.ReasonDropBanned,
		"198.51.100.1": enforce.ReasonDropBanned, // stored unmapped
		"2001:db8::9":  enforce.ReasonPass,       // removed
		"192.0.2.8":    enforce.ReasonPass,
	} {
		if got := f2.Check(addr(a)); got != want {
			t.Errorf("after restart %s: %v, want %v", a, got, want)
		}
	}
	bans, _ := f2.Bans()
	for _, b := range bans {
		if !b.Until.Equal(t0.Add(time.Hour)) {
			t.Errorf("%s restored until %v, want %v", b.Source, b.Until, t0.Add(time.Hour))
		}
	}
	if s2.Len() != 2 {
		t.Errorf("Len = %d", s2.Len())
	}
}

func TestNetworkBansSurviveRestart(t *testing.T) {
	dir, c := t.TempDir(), testclock.New(t0)
	s, _, _ := open(t, dir, c)
	if err := s.Add(netip.MustParsePrefix("2001:db8:1:2:3::/64"), t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := s.Add(netip.MustParsePrefix("192.0.2.0/24"), t0.Add(time.Hour)); err == nil || !strings.Contains(err.Error(), "per address") {
		t.Fatalf("an IPv4 network ban = %v, want refused", err)
	}
	b, _ := os.ReadFile(filepath.Join(dir, FileName))
	if !bytes.Contains(b, []byte("\n2001:db8:1:2::/64 ")) {
		t.Errorf("state file does not hold the masked /64:\n%s", b)
	}
	_, f, rep := open(t, dir, c)
	if rep.Restored != 1 || f.Check(addr("2001:db8:1:2:ffff::1")) != enforce.ReasonDropBanned {
		t.Fatalf("network ban not restored: %+v", rep)
	}
}

func TestAsyncBansWrittenInBackgroundAndOnClose(t *testing.T) {
	dir, c := t.TempDir(), testclock.New(t0)
	f := connfilter.New(connfilter.WithClock(c.Now))
	s, _, err := Open(Options{Dir: dir, Enforcer: f, Now: c.Now, FlushDelay: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Ban(host("203.0.113.5"), t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		b, _ := os.ReadFile(filepath.Join(dir, FileName))
		if bytes.Contains(b, []byte("203.0.113.5 ")) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("background flush did not write the ban; file:\n%s", b)
		}
		time.Sleep(5 * time.Millisecond)
	}

	// A ban recorded just before Close is written by Close.
	s.delay = time.Hour
	if err := s.Ban(host("203.0.113.6"), t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := s.Unban(host("203.0.113.5")); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	_, f2, rep := open(t, dir, c)
	if rep.Restored != 1 || f2.Check(addr("203.0.113.6")) != enforce.ReasonDropBanned || f2.Check(addr("203.0.113.5")) != enforce.ReasonPass {
		t.Fatalf("after Close and reopen: report %+v", rep)
	}
}

func TestExpiredBansAreDroppedAtOpen(t *testing.T) {
	dir, c := t.TempDir(), testclock.New(t0)
	s, _, _ := open(t, dir, c)
	for i, d := range []time.Duration{time.Minute, time.Hour} {
		if err := s.Add(enforce.Host(netip.AddrFrom4([4]byte{192, 0, 2, byte(i + 1)})), t0.Add(d)); err != nil {
			t.Fatal(err)
		}
	}
	c.Add(10 * time.Minute)
	_, f, rep := open(t, dir, c)
	if rep.Restored != 1 || rep.Expired != 1 {
		t.Fatalf("report = %+v", rep)
	}
	if f.Check(addr("192.0.2.1")) != enforce.ReasonPass || f.Check(addr("192.0.2.2")) != enforce.ReasonDropBanned {
		t.Error("wrong bans restored")
	}
	b, _ := os.ReadFile(filepath.Join(dir, FileName))
	if bytes.Contains(b, []byte("192.0.2.1 ")) {
		t.Errorf("expired ban still in the file:\n%s", b)
	}
}

func TestEnforcerBansAreKept(t *testing.T) {
	// Pinned XDP maps keep bans the file may not have (issued within the
	// flush delay before a crash): they stay and join the file.
	dir, c := t.TempDir(), testclock.New(t0)
	f := connfilter.New(connfilter.WithClock(c.Now))
	_ = f.Ban(host("2001:db8::1"), t0.Add(time.Hour))
	s, rep, err := Open(Options{Dir: dir, Enforcer: f, Now: c.Now})
	if err != nil || rep.Kept != 1 || s.Len() != 1 {
		t.Fatalf("Open = %+v %v, Len %d", rep, err, s.Len())
	}
	_, f2, rep := open(t, dir, c)
	if rep.Restored != 1 || f2.Check(addr("2001:db8::1")) != enforce.ReasonDropBanned {
		t.Fatalf("kept ban not persisted: %+v", rep)
	}
}

func TestFailedPersistRollsBack(t *testing.T) {
	dir, c := t.TempDir(), testclock.New(t0)
	s, f, _ := open(t, dir, c)
	if err := s.Add(host("192.0.2.1"), t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	// A non-empty directory where the state file goes makes the rename fail
	// (permissions would not stop root).
	path := filepath.Join(dir, FileName)
	if err := os.Rename(path, path+".saved"); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(path, "blocker"), 0o700); err != nil {
		t.Fatal(err)
	}

	err := s.Add(host("192.0.2.2"), t0.Add(time.Hour))
	if err == nil || !strings.Contains(err.Error(), "ban 192.0.2.2: not persisted, ban withdrawn") {
		t.Fatalf("Add with a broken state dir = %v", err)
	}
	if f.Check(addr("192.0.2.2")) != enforce.ReasonPass {
		t.Error("a ban that could not be persisted is still enforced")
	}
	// Extending an existing ban that fails goes back to the old expiry.
	if err := s.Add(host("192.0.2.1"), t0.Add(48*time.Hour)); err == nil {
		t.Fatal("Add succeeded with a broken state dir")
	}
	if bans, _ := f.Bans(); len(bans) != 1 || !bans[0].Until.Equal(t0.Add(time.Hour)) {
		t.Errorf("after a failed extension: %+v", bans)
	}
	if err := s.Remove(host("192.0.2.1")); err == nil || !strings.Contains(err.Error(), "ban kept") {
		t.Fatalf("Remove with a broken state dir = %v", err)
	}
	if f.Check(addr("192.0.2.1")) != enforce.ReasonDropBanned {
		t.Error("an unban that could not be persisted was applied")
	}
	if s.Len() != 1 {
		t.Errorf("Len = %d, want 1", s.Len())
	}

	// Repaired, the next change writes the state as it is in memory.
	os.RemoveAll(path)
	if err := s.Add(host("192.0.2.3"), t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	_, f2, rep := open(t, dir, c)
	if rep.Restored != 2 || f2.Check(addr("192.0.2.2")) != enforce.ReasonPass {
		t.Errorf("after repair: %+v", rep)
	}
}

func TestDamagedFileIsSetAside(t *testing.T) {
	good := func(t *testing.T) []byte {
		dir, c := t.TempDir(), testclock.New(t0)
		s, _, _ := open(t, dir, c)
		_ = s.Add(host("192.0.2.1"), t0.Add(time.Hour))
		_ = s.Add(host("2001:db8::1"), t0.Add(time.Hour))
		b, err := os.ReadFile(filepath.Join(dir, FileName))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}(t)
	for _, tc := range []struct {
		name, want string
		damage     func([]byte) []byte
	}{
		{"truncated", "truncated", func(b []byte) []byte { return b[:len(b)-10] }},
		{"no footer", "no footer", func(b []byte) []byte { return b[:bytes.LastIndex(b, []byte("# end"))] }},
		{"flipped byte", "digest mismatch", func(b []byte) []byte { b[len(header)+2] ^= 1; return b }},
		{"no header", "line 1: missing header", func(b []byte) []byte { return b[1:] }},
		{"empty", "line 1: missing header", func([]byte) []byte { return nil }},
		{"bad footer", "bad footer", func(b []byte) []byte {
			return bytes.Replace(b, []byte("# end 2 "), []byte("# end x "), 1)
		}},
		{"count mismatch", "footer says 3 entries, file has 2", func(b []byte) []byte {
			return bytes.Replace(b, []byte("# end 2 "), []byte("# end 3 "), 1)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir, c := t.TempDir(), testclock.New(t0)
			if err := os.WriteFile(filepath.Join(dir, FileName), tc.damage(bytes.Clone(good)), 0o600); err != nil {
				t.Fatal(err)
			}
			f := connfilter.New(connfilter.WithClock(c.Now))
			_ = f.Ban(host("198.51.100.9"), t0.Add(time.Hour)) // held by the enforcer
			s, rep, err := Open(Options{Dir: dir, Enforcer: f, Now: c.Now})
			if err != nil {
				t.Fatalf("Open refused to start over a damaged file: %v", err)
			}
			if rep.Damage == nil || !strings.Contains(rep.Damage.Error(), tc.want) || !errors.Is(rep.Damage, errCorrupt) {
				t.Fatalf("damage = %v, want it to mention %q", rep.Damage, tc.want)
			}
			if _, err := os.Stat(filepath.Join(dir, rep.SetAside)); rep.SetAside == "" || err != nil {
				t.Fatalf("damaged file not kept aside: %q %v", rep.SetAside, err)
			}
			if s.SetAside() != rep.SetAside {
				t.Errorf("SetAside() = %q, want %q (for /status)", s.SetAside(), rep.SetAside)
			}
			if rep.Restored != 0 || s.Len() != 1 {
				t.Errorf("report %+v, Len %d", rep, s.Len())
			}
			// The new file holds what the enforcer had and reads back clean.
			if _, err := readFile(filepath.Join(dir, FileName)); err != nil {
				t.Errorf("rewritten file: %v", err)
			}
		})
	}
}

func TestParseNamesTheBadLine(t *testing.T) {
	for _, tc := range []struct{ name, body, want string }{
		{"no space", "192.0.2.1\n", "line 2: want \"<address or CIDR> <until>\""},
		{"bad address", "192.0.2.300 2026-11-24T12:00:00Z\n", "line 2: bad address \"192.0.2.300\""},
		{"zone", "fe80::1%eth0 2026-11-24T12:00:00Z\n", "line 2: bad source \"fe80::1%eth0\""},
		{"mapped", "::ffff:192.0.2.1 2026-11-24T12:00:00Z\n", "line 2: bad source"},
		{"ipv4 network", "192.0.2.0/24 2026-11-24T12:00:00Z\n", "line 2: bad source \"192.0.2.0/24\""},
		{"host bits", "2001:db8::1/64 2026-11-24T12:00:00Z\n", "line 2: bad source"},
		{"wide network", "2001::/16 2026-11-24T12:00:00Z\n", "line 2: bad source"},
		{"address as /128", "2001:db8::1/128 2026-11-24T12:00:00Z\n", "line 2: bad source"},
		{"bad time", "192.0.2.1 tomorrow\n", "line 2: bad time \"tomorrow\""},
		{"before 1970", "1000::1 0000-01-01T00:00:00+01:00\n", "line 2: bad time"},
		{"duplicate", "192.0.2.1 2026-11-24T12:00:00Z\n192.0.2.1 2026-11-24T13:00:00Z\n", "line 3: 192.0.2.1 listed twice"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parse(seal(tc.body))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("parse = %v, want %q", err, tc.want)
			}
		})
	}
}

// seal wraps entry lines in a header and a valid footer, as writeFile does.
func seal(body string) []byte {
	b := []byte(header + body)
	sum := sha256.Sum256(b)
	return append(b, footer(strings.Count(body, "\n"), sum[:])...)
}

// TestFailedBackgroundWriteIsRetried: a limiter's ban whose background
// write fails (a full or read-only disk) is written once the disk takes it
// again, without another ban to trigger it; before, it stayed unwritten
// and a restart let the source back early.
func TestFailedBackgroundWriteIsRetried(t *testing.T) {
	dir, c := t.TempDir(), testclock.New(t0)
	f := connfilter.New(connfilter.WithClock(c.Now))
	s, _, err := Open(Options{Dir: dir, Enforcer: f, Now: c.Now, FlushDelay: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	// A directory where the file goes: the atomic rename over it fails.
	block := filepath.Join(dir, FileName)
	os.Remove(block)
	if err := os.Mkdir(block, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := s.Ban(host("203.0.113.7"), t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond) // the first write has failed
	if err := os.Remove(block); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if b, _ := os.ReadFile(block); bytes.Contains(b, []byte("203.0.113.7 ")) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the failed write was not retried within 5 s")
		}
	}
}

// TestSetAsideNamesDoNotCollide: two damaged files set aside within one
// second keep both (names to the nanosecond).
func TestSetAsideNamesDoNotCollide(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, FileName)
	var names []string
	for i := range 2 {
		if err := os.WriteFile(path, []byte("damaged\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		n := setAside(path, t0.Add(time.Duration(i)*time.Millisecond))
		if n == "" {
			t.Fatalf("set aside %d failed", i)
		}
		names = append(names, n)
	}
	if names[0] == names[1] {
		t.Fatalf("both set aside as %q", names[0])
	}
	for _, n := range names {
		if _, err := os.Stat(filepath.Join(dir, n)); err != nil {
			t.Errorf("%s: %v", n, err)
		}
	}
}

// TestFrozenStoreWritesNothing: after an upgrade hands the file to the
// successor (Freeze), the draining process's bans change nothing on disk,
// not even at Close; Thaw (a failed upgrade) writes what changed.
func TestFrozenStoreWritesNothing(t *testing.T) {
	dir, c := t.TempDir(), testclock.New(t0)
	s, _, _ := open(t, dir, c)
	file := func() string { b, _ := os.ReadFile(filepath.Join(dir, FileName)); return string(b) }
	if err := s.Ban(host("203.0.113.1"), t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := s.Sync(); err != nil || !strings.Contains(file(), "203.0.113.1 ") {
		t.Fatalf("before Freeze: %v\n%s", err, file())
	}
	s.Freeze()
	_ = s.Ban(host("203.0.113.2"), t0.Add(time.Hour))
	if err := s.Sync(); err != nil || strings.Contains(file(), "203.0.113.2 ") {
		t.Fatalf("frozen store wrote: %v\n%s", err, file())
	}
	if err := s.Thaw(); err != nil || !strings.Contains(file(), "203.0.113.2 ") {
		t.Fatalf("after Thaw: %v\n%s", err, file())
	}
	s.Freeze()
	_ = s.Ban(host("203.0.113.3"), t0.Add(time.Hour))
	if err := s.Close(); err != nil || strings.Contains(file(), "203.0.113.3 ") {
		t.Fatalf("frozen store wrote at Close: %v\n%s", err, file())
	}
}

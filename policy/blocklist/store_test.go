package blocklist

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/edgeguard/edgeguard/bpf/cidrset"
	"github.com/edgeguard/edgeguard/bpf/enforce"
	"github.com/edgeguard/edgeguard/dataplane/connfilter"
)

func pfx(ss ...string) []cidrset.Prefix {
	out := make([]cidrset.Prefix, 0, len(ss))
	for _, s := range ss {
		p, reason := parseEntry([]byte(s))
		if reason != "" {
			panic(s + ": " + reason)
		}
		out = append(out, p)
	}
	return out
}

// flaky is the real user-space enforcer with switchable failures, to drive
// the store's rollback paths.
type flaky struct {
	*connfilter.Filter
	failReplace, failDelta atomic.Int32 // fail the next n calls
	replaces, deltas       atomic.Int32
}

var errInjected = errors.New("injected enforcer failure")

func (f *flaky) ReplaceBlocklist(ps []netip.Prefix) error {
	f.replaces.Add(1)
	if f.failReplace.Add(-1) >= 0 {
		return errInjected
	}
	return f.Filter.ReplaceBlocklist(ps)
}

func (f *flaky) ApplyBlocklistDelta(add, remove []netip.Prefix) error {
	f.deltas.Add(1)
	if f.failDelta.Add(-1) >= 0 {
		// Half-apply first, as a real enforcer failing midway might.
		_ = f.Filter.ApplyBlocklistDelta(add, nil)
		return errInjected
	}
	return f.Filter.ApplyBlocklistDelta(add, remove)
}

func newFlaky() *flaky { return &flaky{Filter: connfilter.New()} }

func openStore(t *testing.T, dir string, a Applier) *Store {
	t.Helper()
	s, err := Open(Options{Dir: dir, Applier: a, MaxEntries: 1000})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// blocked checks the enforcer's verdict for each address.
func blocked(t *testing.T, f *connfilter.Filter, want map[string]bool) {
	t.Helper()
	for a, w := range want {
		if got := f.Check(netip.MustParseAddr(a)) == enforce.ReasonDropBlocklist; got != w {
			t.Errorf("%s blocked = %v, want %v", a, got, w)
		}
	}
}

func TestReplaceVersions(t *testing.T) {
	f := newFlaky()
	s := openStore(t, t.TempDir(), f)
	steps := []struct {
		name      string
		version   uint64
		entries   []string
		wantErr   error
		unchanged bool
		current   uint64
	}{
		{"first", 5, []string{"10.0.0.0/8", "192.0.2.0/24"}, nil, false, 5},
		{"older is stale", 3, []string{"198.51.100.0/24"}, ErrStale, false, 5},
		{"same version same content is a no-op", 5, []string{"192.0.2.0/24", "10.0.0.0/8", "10.0.0.0/8"}, nil, true, 5},
		{"same version other content conflicts", 5, []string{"198.51.100.0/24"}, ErrConflict, false, 5},
		{"zero version", 0, []string{"198.51.100.0/24"}, ErrBadVersion, false, 5},
		{"version past MaxVersion", MaxVersion + 1, []string{"198.51.100.0/24"}, ErrBadVersion, false, 5},
		{"uint64 max", ^uint64(0), []string{"198.51.100.0/24"}, ErrBadVersion, false, 5},
		{"empty list", 9, []string{}, nil, false, 9},
		{"newer", 10, []string{"198.51.100.0/24", "2001:db8::/32"}, nil, false, 10},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			res, err := s.Replace(st.version, pfx(st.entries...))
			if !errors.Is(err, st.wantErr) || (st.wantErr == nil && err != nil) {
				t.Fatalf("err = %v, want %v", err, st.wantErr)
			}
			if res.Unchanged != st.unchanged {
				t.Errorf("unchanged = %v", res.Unchanged)
			}
			if v := s.Version(); v != st.current {
				t.Errorf("version = %d, want %d", v, st.current)
			}
		})
	}
	blocked(t, f.Filter, map[string]bool{"10.1.2.3": false, "198.51.100.9": true, "2001:db8::1": true})
	if in := s.Info(); in.AppliedVersion != 10 || in.Entries != 2 || in.IPv4 != 1 || in.IPv6 != 1 || in.LastError != "" || in.AppliedAt.IsZero() {
		t.Errorf("info = %+v", in)
	}
}

func TestReplaceNormalizes(t *testing.T) {
	s := openStore(t, t.TempDir(), newFlaky())
	res, err := s.Replace(1, pfx("10.0.0.0/8", "10.1.0.0/16", "10.0.0.0/8", "192.0.2.0/25", "192.0.2.128/25", "10.1.2.3", "2001:db8::/32", "2001:db8:1::/48", "::/0"))
	if err != nil {
		t.Fatal(err)
	}
	// 9 received, one duplicate, 10.1.0.0/16 and 10.1.2.3 inside 10/8,
	// 2001:db8::/32 and its /48 inside ::/0 (IPv4 is not inside ::/0).
	if res.Received != 9 || res.Duplicates != 1 || res.Covered != 4 || res.Entries != 8 {
		t.Errorf("result = %+v", res)
	}
	if got := s.Test(netip.MustParseAddr("10.1.2.3")); !slices.Equal(got, []netip.Prefix{
		netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("10.1.0.0/16"), netip.MustParsePrefix("10.1.2.3/32"),
	}) {
		t.Errorf("Test(10.1.2.3) = %v", got)
	}
	if got := s.Test(netip.MustParseAddr("::ffff:192.0.2.200")); !slices.Equal(got, []netip.Prefix{netip.MustParsePrefix("192.0.2.128/25")}) {
		t.Errorf("Test(mapped) = %v", got)
	}
	if got := s.Test(netip.MustParseAddr("2001:db8:1::5")); len(got) != 3 {
		t.Errorf("Test(2001:db8:1::5) = %v", got)
	}
	if got := s.Test(netip.MustParseAddr("203.0.113.1")); got != nil {
		t.Errorf("Test(203.0.113.1) = %v, want nothing (::/0 is IPv6 only)", got)
	}
}

// TestVersionsNeverWrap: at MaxVersion a delta without a version is
// refused rather than wrapping to 0, which would let any stale push in.
func TestVersionsNeverWrap(t *testing.T) {
	s := openStore(t, t.TempDir(), connfilter.New())
	if _, err := s.Replace(MaxVersion, pfx("10.0.0.0/8")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ApplyDelta(0, pfx("192.0.2.0/24"), nil); !errors.Is(err, ErrBadVersion) {
		t.Fatalf("delta at MaxVersion: %v, want ErrBadVersion", err)
	}
	if _, err := s.Replace(5, pfx("198.51.100.0/24")); !errors.Is(err, ErrStale) {
		t.Fatalf("old push after MaxVersion: %v, want ErrStale", err)
	}
	if got := s.Version(); got != MaxVersion {
		t.Fatalf("version %d, want %d", got, uint64(MaxVersion))
	}
}

func TestDelta(t *testing.T) {
	f := newFlaky()
	s := openStore(t, t.TempDir(), f)
	if _, err := s.Replace(100, pfx("10.0.0.0/8", "192.0.2.0/24")); err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		name                   string
		version                uint64
		add, remove            []string
		wantErr                error
		wantVersion            uint64
		added, removed, absent int
		unchanged              bool
	}{
		{"add and remove", 0, []string{"198.51.100.0/24", "10.0.0.0/8"}, []string{"192.0.2.0/24", "203.0.113.0/24"}, nil, 101, 1, 1, 1, false},
		{"explicit version", 200, []string{"2001:db8::/32"}, nil, nil, 200, 1, 0, 0, false},
		{"stale version", 150, []string{"203.0.113.0/24"}, nil, ErrStale, 200, 0, 0, 0, false},
		{"current version with another change is stale too", 200, []string{"203.0.113.0/24"}, nil, ErrStale, 200, 0, 0, 0, false},
		{"the current version's delta again is a no-op", 200, []string{"2001:db8::/32"}, nil, nil, 200, 0, 0, 0, true},
		{"nothing changes", 0, []string{"10.0.0.0/8"}, []string{"203.0.113.0/24"}, nil, 200, 0, 0, 1, true},
		{"added then removed in one delta", 0, []string{"203.0.113.0/24"}, []string{"203.0.113.0/24"}, nil, 200, 0, 0, 0, true},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			res, err := s.ApplyDelta(st.version, pfx(st.add...), pfx(st.remove...))
			if !errors.Is(err, st.wantErr) || (st.wantErr == nil && err != nil) {
				t.Fatalf("err = %v, want %v", err, st.wantErr)
			}
			if s.Version() != st.wantVersion || (err == nil && (res.Added != st.added || res.Removed != st.removed || res.Absent != st.absent || res.Unchanged != st.unchanged)) {
				t.Fatalf("version %d result %+v", s.Version(), res)
			}
		})
	}
	blocked(t, f.Filter, map[string]bool{"10.2.3.4": true, "192.0.2.1": false, "198.51.100.1": true, "2001:db8::1": true, "203.0.113.1": false})
}

func TestDeltaAgainstReference(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	gen := func(n int) []cidrset.Prefix {
		var out []cidrset.Prefix
		for range n {
			bits := 20 + r.IntN(13)
			a := netip.AddrFrom4([4]byte{10, byte(r.IntN(4)), byte(r.IntN(256)), byte(r.IntN(256))})
			p, _ := cidrset.PrefixFrom(netip.PrefixFrom(a, bits).Masked())
			out = append(out, p)
		}
		return out
	}
	for i := range 200 {
		cur := sortUnique(gen(r.IntN(50)))
		add, remove := gen(r.IntN(20)), gen(r.IntN(20))
		remove = append(remove, cur[:len(cur)/3]...)
		remove = append(remove, add[:len(add)/4]...)
		add, remove = sortUnique(add), sortUnique(remove)
		next, d := applyDelta(cur, add, remove)
		ref := map[cidrset.Prefix]bool{}
		for _, p := range cur {
			ref[p] = true
		}
		was := maps(ref)
		for _, p := range add {
			ref[p] = true
		}
		absent := 0
		for _, p := range remove {
			if !ref[p] {
				absent++
			}
			delete(ref, p)
		}
		var want []cidrset.Prefix
		for p := range ref {
			want = append(want, p)
		}
		want = sortUnique(want)
		if !slices.Equal(next, want) || d.absent != absent {
			t.Fatalf("case %d: next %v absent %d, want %v absent %d", i, next, d.absent, want, absent)
		}
		for _, p := range d.add {
			if was[p] || !ref[p] {
				t.Fatalf("case %d: %v reported added", i, p)
			}
		}
		for _, p := range d.remove {
			if !was[p] || ref[p] {
				t.Fatalf("case %d: %v reported removed", i, p)
			}
		}
		if len(d.add)-len(d.remove) != len(next)-len(cur) {
			t.Fatalf("case %d: effect %d-%d does not explain %d -> %d", i, len(d.add), len(d.remove), len(cur), len(next))
		}
	}
}

func maps(m map[cidrset.Prefix]bool) map[cidrset.Prefix]bool {
	out := make(map[cidrset.Prefix]bool, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func TestRestore(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir, newFlaky())
	mustReplace(t, s, 7, "10.0.0.0/8", "2001:db8::/32")
	mustDelta(t, s, pfx("192.0.2.0/24"), nil)
	mustDelta(t, s, nil, pfx("10.0.0.0/8"))
	mustDelta(t, s, pfx("198.51.100.7"), nil)
	want := s.cur.Load().entries
	s.Close()

	// A crash mid-write leaves a temporary file; it must be ignored and removed.
	if err := os.WriteFile(filepath.Join(dir, tmpPrefix+snapshotName+"-123"), []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	// The list was last changed an hour ago; the restart is now.
	changed := time.Now().Add(-time.Hour).Truncate(time.Second)
	files, _ := os.ReadDir(dir)
	for _, e := range files {
		if err := os.Chtimes(filepath.Join(dir, e.Name()), changed, changed); err != nil {
			t.Fatal(err)
		}
	}
	gaugeInSync.Store(0)
	f := newFlaky()
	s2 := openStore(t, dir, f)
	if !s2.Info().UpdatedAt.Equal(changed) || gaugeApplyAt.Load() != changed.Unix() {
		t.Errorf("after a restart: updated_at %v, last apply gauge %d, want the last change %v", s2.Info().UpdatedAt, gaugeApplyAt.Load(), changed)
	}
	if gaugeInSync.Load() != 1 {
		t.Error("edgeguard_blocklist_applied is 0 after the restored list was applied")
	}
	if s2.Version() != 10 || !slices.Equal(s2.cur.Load().entries, want) {
		t.Fatalf("restored version %d entries %v, want 10 %v", s2.Version(), s2.cur.Load().entries, want)
	}
	in := s2.Info()
	if in.Restore == nil || in.Restore.SnapshotVersion != 7 || in.Restore.Deltas != 3 || len(in.Restore.SetAside) != 0 || in.AppliedVersion != 10 {
		t.Errorf("info = %+v restore %+v", in, in.Restore)
	}
	blocked(t, f.Filter, map[string]bool{"10.1.1.1": false, "192.0.2.1": true, "198.51.100.7": true, "2001:db8::9": true})
	if _, err := os.Stat(filepath.Join(dir, tmpPrefix+snapshotName+"-123")); !os.IsNotExist(err) {
		t.Errorf("temporary file left behind: %v", err)
	}
}

func mustReplace(t *testing.T, s *Store, v uint64, entries ...string) {
	t.Helper()
	if _, err := s.Replace(v, pfx(entries...)); err != nil {
		t.Fatal(err)
	}
}

func mustDelta(t *testing.T, s *Store, add, remove []cidrset.Prefix) {
	t.Helper()
	if _, err := s.ApplyDelta(0, add, remove); err != nil {
		t.Fatal(err)
	}
}

func TestRestoreSetsAsideDamage(t *testing.T) {
	damage := map[string]func(b []byte) []byte{
		"truncated":       func(b []byte) []byte { return b[:len(b)-20] },
		"torn last line":  func(b []byte) []byte { return b[:len(b)-1] },
		"flipped entry":   func(b []byte) []byte { return bytes.Replace(b, []byte("10.0.0.0/8"), []byte("10.0.0.0/9"), 1) },
		"extra entry":     func(b []byte) []byte { return bytes.Replace(b, []byte("# end"), []byte("1.2.3.4/32\n# end"), 1) },
		"bad entry":       func(b []byte) []byte { return bytes.Replace(b, []byte("10.0.0.0/8"), []byte("10.0.0.0/x"), 1) },
		"empty":           func(b []byte) []byte { return nil },
		"not ours":        func(b []byte) []byte { return []byte("10.0.0.0/8\n") },
		"data after end":  func(b []byte) []byte { return append(b, "1.2.3.4\n"...) },
		"missing version": func(b []byte) []byte { return bytes.Replace(b, []byte("# version: "), []byte("# versio: "), 1) },
	}
	for name, spoil := range damage {
		t.Run("snapshot "+name, func(t *testing.T) {
			dir := t.TempDir()
			s := openStore(t, dir, newFlaky())
			mustReplace(t, s, 3, "10.0.0.0/8", "2001:db8::/32")
			mustDelta(t, s, pfx("192.0.2.0/24"), nil)
			s.Close()
			path := filepath.Join(dir, snapshotName)
			b, _ := os.ReadFile(path)
			if err := os.WriteFile(path, spoil(b), 0o600); err != nil {
				t.Fatal(err)
			}
			s2 := openStore(t, dir, newFlaky())
			rep := s2.Info().Restore
			// The snapshot and the delta built on it are set aside, not lost.
			if s2.Version() != 0 || len(rep.SetAside) != 2 || len(rep.Errors) != 2 || !strings.Contains(rep.Errors[0], "corrupt state file") {
				t.Fatalf("version %d, report %+v", s2.Version(), rep)
			}
			for _, f := range rep.SetAside {
				if _, err := os.Stat(filepath.Join(dir, f)); err != nil || !strings.Contains(f, corruptInfix) {
					t.Errorf("set-aside file %s: %v", f, err)
				}
			}
		})
	}
	t.Run("delta in the middle", func(t *testing.T) {
		dir := t.TempDir()
		s := openStore(t, dir, newFlaky())
		mustReplace(t, s, 3, "10.0.0.0/8")
		mustDelta(t, s, pfx("192.0.2.0/24"), nil)
		mustDelta(t, s, pfx("198.51.100.0/24"), nil)
		mustDelta(t, s, pfx("203.0.113.0/24"), nil)
		s.Close()
		path := filepath.Join(dir, deltaName(5))
		b, _ := os.ReadFile(path)
		if err := os.WriteFile(path, b[:len(b)/2], 0o600); err != nil {
			t.Fatal(err)
		}
		s2 := openStore(t, dir, newFlaky())
		rep := s2.Info().Restore
		if s2.Version() != 4 || rep.Deltas != 1 || len(rep.SetAside) != 2 {
			t.Fatalf("version %d report %+v", s2.Version(), rep)
		}
		// The next change continues from what was restored.
		mustDelta(t, s2, pfx("203.0.113.0/24"), nil)
		s2.Close()
		s3 := openStore(t, dir, newFlaky())
		if s3.Version() != 5 || len(s3.Test(netip.MustParseAddr("203.0.113.1"))) != 1 || len(s3.Info().Restore.SetAside) != 0 {
			t.Fatalf("after re-push: version %d, %+v", s3.Version(), s3.Info().Restore)
		}
	})
}

func TestRollback(t *testing.T) {
	t.Run("enforcer refuses a replace", func(t *testing.T) {
		f := newFlaky()
		dir := t.TempDir()
		s := openStore(t, dir, f)
		mustReplace(t, s, 1, "10.0.0.0/8")
		f.failReplace.Store(1)
		_, err := s.Replace(2, pfx("192.0.2.0/24"))
		if !errors.Is(err, ErrApply) || !errors.Is(err, errInjected) {
			t.Fatalf("err = %v", err)
		}
		if s.Version() != 1 || s.Info().LastError == "" || s.Info().AppliedVersion != 1 {
			t.Errorf("after refusal: %+v", s.Info())
		}
		blocked(t, f.Filter, map[string]bool{"10.0.0.1": true, "192.0.2.1": false})
		assertDirVersion(t, dir, 1)
		mustReplace(t, s, 2, "192.0.2.0/24") // the same push goes through once the enforcer takes it
		if s.Info().LastError != "" {
			t.Errorf("error not cleared: %+v", s.Info())
		}
	})
	t.Run("enforcer fails a delta halfway", func(t *testing.T) {
		f := newFlaky()
		dir := t.TempDir()
		s := openStore(t, dir, f)
		mustReplace(t, s, 1, "10.0.0.0/8")
		f.failDelta.Store(1)
		_, err := s.ApplyDelta(0, pfx("192.0.2.0/24"), pfx("10.0.0.0/8"))
		if !errors.Is(err, ErrApply) {
			t.Fatalf("err = %v", err)
		}
		blocked(t, f.Filter, map[string]bool{"10.0.0.1": true, "192.0.2.1": false})
		assertDirVersion(t, dir, 1)
	})
	t.Run("rollback fails too", func(t *testing.T) {
		f := newFlaky()
		s := openStore(t, t.TempDir(), f)
		mustReplace(t, s, 1, "10.0.0.0/8")
		f.failDelta.Store(2)
		f.failReplace.Store(1)
		if _, err := s.ApplyDelta(0, pfx("192.0.2.0/24"), nil); !errors.Is(err, ErrApply) || !strings.Contains(err.Error(), "rollback failed") {
			t.Fatalf("err = %v", err)
		}
		if in := s.Info(); in.AppliedVersion != 0 || !strings.Contains(in.LastError, "rollback") {
			t.Errorf("info = %+v", in)
		}
		// Out of sync: the next change replaces the whole list.
		r0 := f.replaces.Load()
		mustDelta(t, s, pfx("198.51.100.0/24"), nil)
		if f.replaces.Load() != r0+1 || s.Info().AppliedVersion != 2 {
			t.Errorf("resync: replaces %d->%d, info %+v", r0, f.replaces.Load(), s.Info())
		}
		blocked(t, f.Filter, map[string]bool{"10.0.0.1": true, "192.0.2.1": false, "198.51.100.1": true})
	})
	t.Run("state directory gone", func(t *testing.T) {
		f := newFlaky()
		dir := filepath.Join(t.TempDir(), "state")
		s := openStore(t, dir, f)
		mustReplace(t, s, 1, "10.0.0.0/8")
		if err := os.RemoveAll(dir); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dir, nil, 0o600); err != nil { // a file where the directory was
			t.Fatal(err)
		}
		_, err := s.Replace(2, pfx("192.0.2.0/24"))
		if !errors.Is(err, ErrPersist) {
			t.Fatalf("err = %v", err)
		}
		blocked(t, f.Filter, map[string]bool{"10.0.0.1": true, "192.0.2.1": false})
		if _, err := s.ApplyDelta(0, pfx("192.0.2.0/24"), nil); !errors.Is(err, ErrPersist) {
			t.Fatalf("delta err = %v", err)
		}
		blocked(t, f.Filter, map[string]bool{"192.0.2.1": false})
	})
}

// assertDirVersion checks what a restart would restore.
func assertDirVersion(t *testing.T, dir string, want uint64) {
	t.Helper()
	p := &persister{dir: dir}
	v, _, _, rep, err := p.restore(time.Now())
	if err != nil || v != want || len(rep.SetAside) != 0 {
		t.Errorf("state dir holds version %d (%v, %+v), want %d", v, err, rep, want)
	}
}

func TestNoStateDir(t *testing.T) {
	f := newFlaky()
	_ = f.Filter.ReplaceBlocklist([]netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")})
	s := openStore(t, "", f)
	blocked(t, f.Filter, map[string]bool{"10.0.0.1": false}) // Open makes the enforcer match the store
	if _, err := s.Replace(1, pfx("10.0.0.0/8")); !errors.Is(err, ErrNotPersistent) {
		t.Errorf("replace: %v", err)
	}
	if _, err := s.ApplyDelta(0, pfx("10.0.0.0/8"), nil); !errors.Is(err, ErrNotPersistent) {
		t.Errorf("delta: %v", err)
	}
	if in := s.Info(); in.Persistent || in.Restore != nil {
		t.Errorf("info = %+v", in)
	}
}

func TestMaxEntries(t *testing.T) {
	s, err := Open(Options{Dir: t.TempDir(), Applier: newFlaky(), MaxEntries: 2})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Replace(1, pfx("10.0.0.0/8", "10.0.0.0/8", "192.0.2.0/24")); err != nil {
		t.Fatalf("duplicates do not count: %v", err)
	}
	if _, err := s.ApplyDelta(0, pfx("198.51.100.0/24"), nil); !errors.Is(err, ErrTooManyEntries) {
		t.Fatalf("delta past the limit: %v", err)
	}
	if _, err := s.Replace(2, pfx("10.0.0.0/8", "192.0.2.0/24", "198.51.100.0/24")); !errors.Is(err, ErrTooManyEntries) {
		t.Fatalf("replace past the limit: %v", err)
	}
}

func TestExportIsAList(t *testing.T) {
	s := openStore(t, t.TempDir(), newFlaky())
	mustReplace(t, s, 42, "10.0.0.0/8", "2001:db8::/32", "192.0.2.1")
	var b bytes.Buffer
	v, err := s.Export(&b)
	if err != nil || v != 42 {
		t.Fatal(v, err)
	}
	l, err := ParseText(&b, Limits{})
	if err != nil || !slices.Equal(l.Entries, s.cur.Load().entries) {
		t.Fatalf("export does not parse back: %v %v", err, l)
	}
}

func TestCompaction(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir, newFlaky())
	mustReplace(t, s, 1, "10.0.0.0/8")
	for i := range compactDeltas {
		mustDelta(t, s, pfx(fmt.Sprintf("192.0.%d.0/24", i)), nil)
	}
	s.Close() // waits for the compaction
	p := &persister{dir: dir}
	deltas, _ := p.deltaFiles()
	v, entries, err := readSnapshot(filepath.Join(dir, snapshotName))
	if err != nil || v != compactDeltas+1 || len(entries) != compactDeltas+1 || len(deltas) != 0 {
		t.Fatalf("snapshot v%d (%d entries, %v), %d deltas left", v, len(entries), err, len(deltas))
	}
	s2 := openStore(t, dir, newFlaky())
	if s2.Version() != compactDeltas+1 || s2.Info().Restore.Deltas != 0 {
		t.Fatalf("after compaction: %+v", s2.Info())
	}
}

// TestCompactionAcrossRestarts: the deltas a start replays count towards
// the next compaction, so restarts between pushes do not pile them up.
func TestCompactionAcrossRestarts(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir, newFlaky())
	mustReplace(t, s, 1, "10.0.0.0/8")
	n := 0
	for round := range 3 {
		for range compactDeltas/2 + 1 {
			mustDelta(t, s, pfx(fmt.Sprintf("192.%d.%d.0/24", n/256, n%256)), nil)
			n++
		}
		s.Close()
		s = openStore(t, dir, newFlaky())
		s.Close() // waits for a compaction the start began
		deltas, _ := (&persister{dir: dir}).deltaFiles()
		if len(deltas) >= compactDeltas {
			t.Fatalf("round %d: %d delta files after %d deltas, compaction due at %d", round, len(deltas), n, compactDeltas)
		}
		if s.Version() != uint64(n+1) {
			t.Fatalf("round %d: version %d, want %d", round, s.Version(), n+1)
		}
	}
}

// TestCompactionAcrossRestartsByEntries: the entry lines of the deltas a
// start replays count towards the next compaction too.
func TestCompactionAcrossRestartsByEntries(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir, newFlaky())
	mustReplace(t, s, 1, "10.0.0.0/8")
	var batch []string
	for i := range 900 {
		batch = append(batch, fmt.Sprintf("172.16.%d.%d/32", i/256, i%256))
	}
	lines := 0
	for i := range 4 { // 3600 lines: under compactMinEntries
		if i%2 == 0 {
			mustDelta(t, s, pfx(batch...), nil)
		} else {
			mustDelta(t, s, nil, pfx(batch...))
		}
		lines += len(batch)
	}
	s.Close()
	s = openStore(t, dir, newFlaky())
	if got := s.Info().Restore.DeltaEntries; got != lines {
		t.Fatalf("restore counted %d delta entries, want %d", got, lines)
	}
	mustDelta(t, s, pfx(batch...), nil) // 4500 lines since the snapshot
	s.Close()
	if deltas, _ := (&persister{dir: dir}).deltaFiles(); len(deltas) != 0 {
		t.Fatalf("%d delta files left: the replayed entries did not count towards compaction", len(deltas))
	}
}

// TestApplyTimestampWithoutList: a gateway without a list exports 0 as the
// last apply time (the staleness alert skips it), not its start.
func TestApplyTimestampWithoutList(t *testing.T) {
	s := openStore(t, t.TempDir(), newFlaky())
	defer s.Close()
	if got := gaugeApplyAt.Load(); got != 0 {
		t.Errorf("last apply timestamp %d without a list, want 0", got)
	}
	mustReplace(t, s, 1, "10.0.0.0/8")
	if gaugeApplyAt.Load() == 0 {
		t.Error("last apply timestamp still 0 after a push")
	}
}

func TestConcurrentReadsAndWrites(t *testing.T) {
	s := openStore(t, t.TempDir(), newFlaky())
	mustReplace(t, s, 1, "10.0.0.0/8")
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 2 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				if len(s.Test(netip.MustParseAddr("10.1.1.1"))) != 1 {
					t.Error("10/8 vanished")
					return
				}
				_ = s.Info()
			}
		})
	}
	for i := range 50 {
		mustDelta(t, s, pfx(fmt.Sprintf("192.0.2.%d", i)), nil)
	}
	close(stop)
	wg.Wait()
}

// TestCrashLosesNoAcknowledgedUpdate kills a process applying a stream of
// changes at a random moment, many times over the same state directory, and
// checks that every restart restores at least the last acknowledged
// version, with exactly that version's content.
func TestCrashLosesNoAcknowledgedUpdate(t *testing.T) {
	if os.Getenv("BLOCKLIST_CRASH_CHILD") != "" {
		crashChild(os.Getenv("BLOCKLIST_CRASH_CHILD"))
		return
	}
	if testing.Short() {
		t.Skip("starts child processes")
	}
	dir := t.TempDir()
	r := rand.New(rand.NewPCG(7, 7))
	for round := range 6 {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashLosesNoAcknowledgedUpdate$")
		cmd.Env = append(os.Environ(), "BLOCKLIST_CRASH_CHILD="+dir)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(out)
		var acked uint64
		killAfter := 5 + r.IntN(40)
		for n := 0; sc.Scan(); n++ {
			if v, ok := strings.CutPrefix(sc.Text(), "acked "); ok {
				acked, _ = strconv.ParseUint(v, 10, 64)
			}
			if n == killAfter {
				_ = cmd.Process.Kill() // SIGKILL: no deferred clean-up runs
				break
			}
		}
		_ = cmd.Wait()
		if acked == 0 {
			t.Fatalf("round %d: the child acknowledged nothing", round)
		}
		f := newFlaky()
		s, err := Open(Options{Dir: dir, Applier: f})
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		v := s.Version()
		if v < acked {
			t.Fatalf("round %d: restored version %d, but %d was acknowledged", round, v, acked)
		}
		if got, want := s.cur.Load().entries, crashState(v); !slices.Equal(got, want) {
			t.Fatalf("round %d: version %d restored with %d entries, want %d", round, v, len(got), len(want))
		}
		if rep := s.Info().Restore; len(rep.SetAside) != 0 {
			t.Fatalf("round %d: files set aside after a crash: %+v", round, rep)
		}
		s.Close()
	}
}

// crashState is the content of version v in the crash test: version 1 is
// a replace with 2000 entries, each later version alternately replaces or
// adds one /24 and removes another.
func crashState(v uint64) []cidrset.Prefix {
	if v == 0 {
		return nil
	}
	var out []cidrset.Prefix
	for i := range 2000 {
		out = append(out, pfx(fmt.Sprintf("10.%d.%d.0/24", i/256, i%256))...)
	}
	for u := uint64(2); u <= v; u++ {
		add, remove := crashDelta(u)
		if u%10 == 0 {
			out = crashReplace(u)
			continue
		}
		out, _ = applyDelta(out, add, remove)
	}
	return sortUnique(out)
}

func crashDelta(u uint64) (add, remove []cidrset.Prefix) {
	return pfx(fmt.Sprintf("172.16.%d.0/24", u%256)), pfx(fmt.Sprintf("10.0.%d.0/24", u%256))
}

func crashReplace(u uint64) []cidrset.Prefix {
	var out []cidrset.Prefix
	for i := range 1000 + int(u) {
		out = append(out, pfx(fmt.Sprintf("10.%d.%d.0/24", i/256, i%256))...)
	}
	return sortUnique(out)
}

func crashChild(dir string) {
	s, err := Open(Options{Dir: dir, Applier: connfilter.New()})
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	for u := s.Version() + 1; ; u++ {
		var err error
		switch {
		case u == 1:
			_, err = s.Replace(1, crashState(1))
		case u%10 == 0:
			_, err = s.Replace(u, crashReplace(u))
		default:
			add, remove := crashDelta(u)
			_, err = s.ApplyDelta(u, add, remove)
		}
		if err != nil {
			fmt.Println("error", err)
			os.Exit(1)
		}
		fmt.Println("acked", u)
	}
}

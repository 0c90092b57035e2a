package anomaly

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/edgeguard/edgeguard/dataplane/secevent"
)

// restartable is a harness whose Detector keeps its state in a file and
// can be replaced by a new one reading it, as after a restart.
func (h *harness) restart(t *testing.T, path string) {
	t.Helper()
	if err := h.d.SaveState(); err != nil {
		t.Fatal(err)
	}
	h.d.Close()
	h.d = New(Options{Now: h.clk.now, Manual: true, Banner: h.ban, Log: quiet, StatePath: path})
	h.d.report = func(e *secevent.Event) {
		h.got = append(h.got, fmt.Sprintf("%s %s %v %s", e.Type, e.Route, e.ClientIP, e.Detail))
	}
	t.Cleanup(h.d.Close)
}

// TestStateSurvivesRestart: what the warm-ups learnt (admin sources,
// methods, baselines) is back after a restart, so that the first requests
// after it are judged at once: a known admin source and the usual methods
// stay quiet, a new admin source and a new method alert with no new
// warm-up. Without the file, the same traffic after a restart would be
// learnt as normal.
func TestStateSurvivesRestart(t *testing.T) {
	for _, keep := range []bool{true, false} {
		t.Run(fmt.Sprintf("state file %v", keep), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "anomaly.state")
			h := newHarness(t, nil)
			h.d.statePath = path
			admin, items := h.route("admin"), h.route("items")
			admin.Observe([]byte("GET"), 200, ip("192.0.2.1"), "ops", []byte("/admin/status"))
			items.Observe([]byte("GET"), 200, ip("192.0.2.1"), "", []byte("/items"))
			for range 180 { // three minutes of traffic: a baseline to keep
				for range 5 {
					items.Observe([]byte("GET"), 200, ip("192.0.2.1"), "", []byte("/items"))
				}
				h.step(time.Second)
			}
			before := h.d.routes["items"].rate[classTotal]
			if before < 1 {
				t.Fatalf("baseline %.2f/s after 3 minutes at 5/s", before)
			}
			if !keep {
				path = filepath.Join(t.TempDir(), "other.state")
			}
			h.restart(t, path)
			admin, items = h.route("admin"), h.route("items")
			if got := h.d.routes["items"].rate[classTotal]; keep && got != before {
				t.Errorf("baseline after restart %.3f/s, want %.3f/s", got, before)
			}
			admin.Observe([]byte("GET"), 200, ip("192.0.2.1"), "ops", []byte("/admin/status"))
			items.Observe([]byte("GET"), 200, ip("192.0.2.1"), "", []byte("/items"))
			admin.Observe([]byte("GET"), 200, ip("203.0.113.66"), "", []byte("/admin/users"))
			items.Observe([]byte("DELETE"), 200, ip("203.0.113.66"), "", []byte("/items/1"))
			h.step(time.Second)
			want := []string{"anomaly_admin_first_seen admin 203.0.113.66", "anomaly_unusual_method items 203.0.113.66 method DELETE"}
			if !keep {
				want = nil // learnt as normal in the new warm-up
			}
			if len(h.events()) != len(want) {
				t.Fatalf("events %q, want %q", h.events(), want)
			}
			for i, w := range want {
				if !strings.HasPrefix(h.events()[i], w) {
					t.Errorf("event %q, want %q", h.events()[i], w)
				}
			}
		})
	}
}

// TestStateSavedOnlyWhenObserved: a detector that saw nothing (a config
// check) never writes the file, so it cannot overwrite a running
// gateway's state with an older one.
func TestStateSavedOnlyWhenObserved(t *testing.T) {
	path := filepath.Join(t.TempDir(), "anomaly.state")
	h := newHarness(t, nil)
	h.d.statePath = path
	h.route("items")
	h.d.Step()
	if err := h.d.SaveState(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("state written without an observation: %v", err)
	}
	h.route("items").Observe([]byte("GET"), 200, ip("192.0.2.1"), "", []byte("/items"))
	h.d.Step()
	if err := h.d.SaveState(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("state not written after an observation: %v", err)
	}
}

// TestBadStateFile: a file that is not a whole, valid state is refused
// with an error naming the problem and set aside, and the detector starts
// fresh.
func TestBadStateFile(t *testing.T) {
	const born = `"born":"2026-01-02T03:04:05Z"`
	for _, tc := range []struct{ name, file, want string }{
		{"not JSON", `routes: []`, "not a state file"},
		{"truncated", `{"version":1,"routes":[{"name":"a",` + born, "not a state file"},
		{"version", `{"version":2,"routes":[]}`, "version 2"},
		{"unknown field", `{"version":1,"routes":[],"extra":1}`, `unknown field "extra"`},
		{"no name", `{"version":1,"routes":[{` + born + `}]}`, "route without a name"},
		{"no born", `{"version":1,"routes":[{"name":"a"}]}`, `route "a": no born time`},
		{"twice", `{"version":1,"routes":[{"name":"a",` + born + `},{"name":"a",` + born + `}]}`, `route "a" twice`},
		{"class", `{"version":1,"routes":[{"name":"a",` + born + `,"rates":{"6xx":1}}]}`, `unknown class "6xx"`},
		{"negative rate", `{"version":1,"routes":[{"name":"a",` + born + `,"rates":{"total":-1}}]}`, "rates.total: -1 is not a rate"},
		{"evaluations", `{"version":1,"routes":[{"name":"a",` + born + `,"evaluations":-3}]}`, "evaluations -3"},
		{"method", `{"version":1,"routes":[{"name":"a",` + born + `,"methods_seen":["get"]}]}`, `methods_seen: unknown method "get"`},
		{"admin", `{"version":1,"routes":[{"name":"a",` + born + `,"admin_sources":["fe80::1%eth0"]}]}`, "admin_sources: fe80::1%eth0 is not an address"},
		{"admin text", `{"version":1,"routes":[{"name":"a",` + born + `,"admin_sources":["host"]}]}`, "not a state file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "anomaly.state")
			if err := os.WriteFile(path, []byte(tc.file), 0o600); err != nil {
				t.Fatal(err)
			}
			d := New(Options{Manual: true, Log: quiet})
			defer d.Close()
			n, err := d.loadState(path)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), path) {
				t.Fatalf("loadState = %d, %v; want an error naming %s and %q", n, err, path, tc.want)
			}
			if len(d.routes) != 0 {
				t.Errorf("a refused file left %d routes", len(d.routes))
			}
			// Set aside whole for the operator, not left for the next
			// save to overwrite.
			if _, err := os.Stat(path); !os.IsNotExist(err) {
				t.Errorf("the damaged file is still in place: %v", err)
			}
			aside, _ := filepath.Glob(path + ".corrupt-*")
			if len(aside) != 1 || !strings.Contains(err.Error(), filepath.Base(aside[0])) {
				t.Fatalf("set aside as %v; error %v should name it", aside, err)
			}
			if kept, _ := os.ReadFile(aside[0]); string(kept) != tc.file {
				t.Errorf("set-aside file holds %q, want %q", kept, tc.file)
			}
		})
	}
}

// TestResizeKeepsNewest: changing a table's bound (a reload, or a
// restored table meeting its configured bound) keeps the newest keys.
func TestResizeKeepsNewest(t *testing.T) {
	tb := newTable[int, int](4)
	for k := range 6 { // wraps: 2..5 stay, 2 oldest
		v, _ := tb.get(k)
		*v = k * 10
	}
	for _, tc := range []struct {
		n    int
		want []int
	}{{4, []int{2, 3, 4, 5}}, {8, []int{2, 3, 4, 5}}, {2, []int{4, 5}}} {
		got := resize(tb, tc.n)
		var keys []int
		got.each(func(k int, v *int) {
			if *v != k*10 {
				t.Errorf("key %d lost its value: %d", k, *v)
			}
			keys = append(keys, k)
		})
		if fmt.Sprint(keys) != fmt.Sprint(tc.want) {
			t.Errorf("resize to %d: keys %v, want %v", tc.n, keys, tc.want)
		}
	}
}

func FuzzDecodeState(f *testing.F) {
	f.Add([]byte(`{"version":1,"saved":"2026-01-02T03:04:05Z","routes":[{"name":"a","born":"2026-01-02T03:04:05Z",` +
		`"rates":{"total":1.5,"auth_failure":0.1},"evaluations":9,"methods_seen":["GET","other"],"admin_sources":["192.0.2.1","2001:db8::1"]}]}`))
	f.Add([]byte(`{"version":1,"routes":[]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		routes, err := decodeState(strings.NewReader(string(b)))
		if err != nil {
			return
		}
		for _, rs := range routes {
			if rs.name == "" || rs.born.IsZero() || rs.evals < 0 {
				t.Fatalf("accepted a route without name, born time or with negative evaluations: %+v", rs)
			}
			for _, v := range rs.rate {
				if !(v >= 0) {
					t.Fatalf("accepted rate %v", v)
				}
			}
		}
	})
}

// TestFrozenStateIsNotWritten: while an upgrade's successor owns the state
// file, the draining process writes nothing; once thawed (the upgrade
// failed), what it observed meanwhile is written.
func TestFrozenStateIsNotWritten(t *testing.T) {
	path := filepath.Join(t.TempDir(), "anomaly.state")
	h := newHarness(t, nil)
	h.d.statePath = path
	h.d.SetFrozen(true)
	h.route("items").Observe([]byte("GET"), 200, ip("192.0.2.1"), "", []byte("/items"))
	h.d.Step()
	if err := h.d.SaveState(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("frozen detector wrote its state: %v", err)
	}
	h.d.SetFrozen(false)
	if err := h.d.SaveState(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("state not written once thawed: %v", err)
	}
}

package policy

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/edgeguard/edgeguard/policy/config"
)

// TestAnomalyCarriedOverReloads: the detector, and with it every baseline,
// outlives reloads; each policy's handles carry its own settings; turning
// every detector off leaves the routes without a hook, and turning them on
// again finds the same detector.
func TestAnomalyCarriedOverReloads(t *testing.T) {
	base := doc("  - {name: api, targets: ["+upstreamAddr(t)+"]}\n", "  - {name: Admin, path: /admin, upstream: api}\n")
	off := "anomaly: {credential_stuffing: {enabled: false}, enumeration: {enabled: false}, probing: {enabled: false}, admin_first_seen: {enabled: false}, unusual_methods: {enabled: false}}\n"
	h, src := newHolder(t, base+"anomaly: {probing: {threshold: 5}, unusual_methods: {declared: {admin: [GET]}}}\n")
	p1 := h.Current()
	det := p1.anomaly.det
	if det == nil || p1.UnroutedAnomaly == nil || routeOf(t, p1, "Admin").Anomaly == nil {
		t.Fatal("detection on by default, but no detector or hooks")
	}
	if got := p1.anomaly.cfg.Methods.Declared["Admin"]; len(got) != 1 {
		t.Errorf("declared methods of route Admin (viper lower-cases map keys): %v", p1.anomaly.cfg.Methods.Declared)
	}

	steps := []struct {
		doc       string
		on        bool
		threshold int
	}{
		{base + "anomaly: {probing: {threshold: 7}}\n", true, 7},
		{base + off, false, 0},
		{base, true, 50},
	}
	for i, s := range steps {
		src.set(s.doc)
		if res, err := h.Reload("test"); err != nil || !res.Swapped {
			t.Fatalf("step %d: reload %+v %v", i, res, err)
		}
		p := h.Current()
		if p.anomaly.det != det {
			t.Fatalf("step %d: a new detector: the baselines were lost", i)
		}
		if (p.UnroutedAnomaly != nil) != s.on || (routeOf(t, p, "Admin").Anomaly != nil) != s.on {
			t.Fatalf("step %d: hooks present %v, want %v", i, p.UnroutedAnomaly != nil, s.on)
		}
		if s.on && p.anomaly.cfg.Probing.Threshold != s.threshold {
			t.Errorf("step %d: probing threshold %d, want %d", i, p.anomaly.cfg.Probing.Threshold, s.threshold)
		}
	}
}

func routeOf(t *testing.T, p *Policy, name string) *Route {
	t.Helper()
	rt, got, _ := p.Routes.Match(nil, []byte("GET"), []byte("/admin"))
	if got != name {
		t.Fatalf("route %q, want %q", got, name)
	}
	return rt
}

// TestCheckLeavesStateAlone: check-config (Check) compiles the anomaly
// section without touching management.state_dir, which a running gatewayd
// owns: a damaged state file is neither set aside nor rewritten, and a
// good one is not overwritten when the checked policy closes.
func TestCheckLeavesStateAlone(t *testing.T) {
	for _, content := range []string{"garbage{", "not what check-config may write"} {
		dir := t.TempDir()
		path := filepath.Join(dir, anomalyStateFile)
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		cfg := doc("  - name: a\n    targets: ["+upstreamAddr(t)+"]\n", "  - name: r\n    path: /\n    upstream: a\n") +
			"management: {state_dir: " + dir + "}\nanomaly: {probing: {threshold: 5}}\n"
		l, err := config.Parse([]byte(cfg), "yaml", "test")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Check(l); err != nil {
			t.Fatalf("Check: %v", err)
		}
		entries, _ := os.ReadDir(dir)
		got, err := os.ReadFile(path)
		if err != nil || string(got) != content || len(entries) != 1 {
			t.Errorf("state dir after Check: %d entries, %s = %q (%v); want it untouched", len(entries), anomalyStateFile, got, err)
		}
	}
}

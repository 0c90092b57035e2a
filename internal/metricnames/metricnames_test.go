package metricnames

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestInCode(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"a/a.go":      "package a\nvar c = metrics.NewCounter(`edgeguard_a_total{route=\"x\"}`)\nvar g = metrics.NewGauge(\"edgeguard_b\", nil)\n",
		"a/a_test.go": "package a\nvar _ = \"edgeguard_only_in_tests_total\"\n",
		"bench/b.go":  "package b\nconst t = \"edgeguard_log\"\n",
		"c/c.go":      "package c\n// edgeguard_in_a_comment_total is not a literal\nvar p = `edgeguard_prefix_` + name\n",
	}
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := InCode(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for n := range got {
		names = append(names, n)
	}
	slices.Sort(names)
	if want := []string{"edgeguard_a_total", "edgeguard_b", "edgeguard_prefix"}; !slices.Equal(names, want) {
		t.Errorf("names %v, want %v", names, want)
	}
}

func TestExists(t *testing.T) {
	known := map[string]bool{"edgeguard_requests_total": true, "edgeguard_request_duration_seconds": true}
	cases := []struct {
		name string
		want bool
	}{
		{"edgeguard_requests_total", true},
		{"edgeguard_request_duration_seconds_bucket", true},
		{"edgeguard_request_duration_seconds_count", true},
		{"edgeguard_requests_total_bucket", true}, // the suffix rule does not know types
		{"edgeguard_request_total", false},
		{"edgeguard_nothing_sum", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := Exists(known, tc.name); got != tc.want {
				t.Errorf("Exists(%q) = %v", tc.name, got)
			}
		})
	}
}

func TestInExpr(t *testing.T) {
	got := InExpr(`sum(rate(edgeguard_a_total{x="edgeguard"}[5m])) / sum(rate(edgeguard_a_total[5m])) > on() edgeguard_b_seconds_bucket`)
	if want := []string{"edgeguard_a_total", "edgeguard_b_seconds_bucket"}; !slices.Equal(got, want) {
		t.Errorf("InExpr = %v, want %v", got, want)
	}
}

// TestRepository: the real tree yields the names the dashboard and alerts
// lean on most, so a change to the scan cannot empty it silently.
func TestRepository(t *testing.T) {
	root, err := ModuleRoot(".")
	if err != nil {
		t.Fatal(err)
	}
	known, err := InCode(root)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"edgeguard_requests_total", "edgeguard_request_duration_seconds", "edgeguard_xdp_packets_total", "edgeguard_enforcer_fallback_active"} {
		if !known[n] {
			t.Errorf("%s not found in the code (%d names found)", n, len(known))
		}
	}
	if known["edgeguard_log"] {
		t.Error("bench/ names count as metrics")
	}
}

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
		"a/a.go":      "package a\nvar c = metrics.NewCounter(`edgeguard_a_total{route=\"x\"}`)\nvar g = metrics.NewGauge(\"edgeguard_b\", nil)\nx := 1\n",
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
	if !got["edgeguard_a_total"]["route"] || len(got["edgeguard_b"]) != 0 {
		t.Errorf("labels %v", got)
	}
}

func TestCheck(t *testing.T) {
	known := Metrics{
		"edgeguard_requests_total":           {"route": true, "class": true},
		"edgeguard_request_duration_seconds": {"route": true},
		"edgeguard_fallback":                 {},
	}
	cases := []struct {
		name, expr string
		problems   []string
	}{
		{"plain", `sum(rate(edgeguard_requests_total[5m]))`, nil},
		{"labels and grouping", `sum by (instance, class) (rate(edgeguard_requests_total{instance=~"$instance",class="5xx"}[5m]))`, nil},
		{"histogram series", `histogram_quantile(0.99, sum by (le, route) (rate(edgeguard_request_duration_seconds_bucket{route!="x"}[5m])))`, nil},
		{"count of a histogram", `edgeguard_request_duration_seconds_count`, nil},
		{"unknown metric", `rate(edgeguard_request_total[5m])`, []string{"edgeguard_request_total is not exported by the code (renamed or removed?)"}},
		{"unknown label", `edgeguard_requests_total{status="500"}`, []string{`edgeguard_requests_total has no label "status"`}},
		{"label of a gauge without labels", `edgeguard_fallback{mode="x"} == 1`, []string{`edgeguard_fallback has no label "mode"`}},
		{"unknown grouping label", `sum by (pool) (edgeguard_requests_total)`, []string{`by (pool): no metric of the expression has label "pool"`}},
		{"quoted text is not a selector", `edgeguard_fallback == 1 and on() vector(1) > 0 # "edgeguard_nothing{x=1}"`, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := known.Check(tc.expr); !slices.Equal(got, tc.problems) {
				t.Errorf("Check(%s) = %q, want %q", tc.expr, got, tc.problems)
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
		if !known.Exists(n) {
			t.Errorf("%s not found in the code (%d names found)", n, len(known))
		}
	}
	if !known["edgeguard_requests_total"]["class"] || !known["edgeguard_ratelimit_requests_total"]["result"] {
		t.Errorf("labels written across concatenations not found: %v %v", known["edgeguard_requests_total"], known["edgeguard_ratelimit_requests_total"])
	}
	if known.Exists("edgeguard_log") {
		t.Error("bench/ names count as metrics")
	}
}

// Package prometheus_test checks the alert rules alerts.yml: their shape,
// that every metric they name is exported by gatewayd's code with the
// labels they use (so they cannot drift from it), that they cover what operators must hear about,
// and, where promtool is installed, promtool check rules.
package prometheus_test

import (
	"bytes"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/edgeguard/edgeguard/internal/metricnames"
)

type rule struct {
	Alert       string            `yaml:"alert"`
	Expr        string            `yaml:"expr"`
	For         string            `yaml:"for"`
	Labels      map[string]string `yaml:"labels"`
	Annotations map[string]string `yaml:"annotations"`
}

type ruleFile struct {
	Groups []struct {
		Name  string `yaml:"name"`
		Rules []rule `yaml:"rules"`
	} `yaml:"groups"`
}

// mustCover are the metrics an alert must watch: anomalies, blocklist
// staleness, fallback modes, upstream health, dropped lines and events.
var mustCover = []string{
	"edgeguard_anomalies_total",
	"edgeguard_blocklist_last_apply_timestamp_seconds",
	"edgeguard_enforcer_fallback_active",
	"edgeguard_ratelimit_cluster_fallback",
	"edgeguard_upstream_healthy_targets",
	"edgeguard_accesslog_dropped_total",
	"edgeguard_security_events_dropped_total",
}

var (
	promDuration = regexp.MustCompile(`^([0-9]+(ms|s|m|h|d|w|y))+$`)
	alertName    = regexp.MustCompile(`^Edgeguard[A-Z][A-Za-z0-9]+$`)
)

func TestAlertRules(t *testing.T) {
	b, err := os.ReadFile("alerts.yml")
	if err != nil {
		t.Fatal(err)
	}
	var f ruleFile
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		t.Fatalf("alerts.yml: %v", err)
	}
	root, err := metricnames.ModuleRoot(".")
	if err != nil {
		t.Fatal(err)
	}
	known, err := metricnames.InCode(root)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	var used []string
	for _, g := range f.Groups {
		if g.Name == "" || len(g.Rules) == 0 {
			t.Errorf("group %q: needs a name and rules", g.Name)
		}
		for _, r := range g.Rules {
			where := g.Name + "/" + r.Alert
			if !alertName.MatchString(r.Alert) || seen[r.Alert] {
				t.Errorf("%s: alert names are Edgeguard<CamelCase> and unique", where)
			}
			seen[r.Alert] = true
			if r.For != "" && !promDuration.MatchString(r.For) {
				t.Errorf("%s: for: %q is not a duration", where, r.For)
			}
			if s := r.Labels["severity"]; !slices.Contains([]string{"critical", "warning", "info"}, s) {
				t.Errorf("%s: severity %q, want critical, warning or info", where, s)
			}
			if r.Annotations["summary"] == "" || r.Annotations["description"] == "" {
				t.Errorf("%s: needs a summary and a description", where)
			}
			if !balanced(r.Expr) {
				t.Errorf("%s: unbalanced brackets in %s", where, r.Expr)
			}
			names := metricnames.InExpr(r.Expr)
			if len(names) == 0 {
				t.Errorf("%s: no edgeguard metric in %q", where, r.Expr)
			}
			for _, p := range known.Check(r.Expr) {
				t.Errorf("%s: %s", where, p)
			}
			// Annotations may name metrics too (where to look next).
			for _, a := range r.Annotations {
				for _, n := range metricnames.InExpr(a) {
					if !known.Exists(n) {
						t.Errorf("%s: annotation names %s, not exported by the code", where, n)
					}
					names = append(names, n)
				}
			}
			used = append(used, names...)
		}
	}
	for _, n := range mustCover {
		if !slices.Contains(used, n) {
			t.Errorf("no alert watches %s", n)
		}
	}
	t.Logf("%d alerts, %d metric uses checked against %d names in the code", len(seen), len(used), len(known))
}

// TestPromtoolCheckRules runs Prometheus's own checker where it is
// installed (Debian's prometheus package; .ci/run does not install it).
func TestPromtoolCheckRules(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Skip("promtool not installed (Debian: apt-get install prometheus): alerts.yml checked by TestAlertRules only, not by promtool check rules")
	}
	out, err := exec.Command(promtool, "check", "rules", "alerts.yml").CombinedOutput()
	if err != nil {
		t.Fatalf("promtool check rules: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "SUCCESS") {
		t.Fatalf("promtool check rules did not report success:\n%s", out)
	}
}

// balanced checks (), [] and {} pair up outside quoted strings.
func balanced(s string) bool {
	var stack []rune
	pair := map[rune]rune{')': '(', ']': '[', '}': '{'}
	quoted := false
	for _, r := range s {
		switch {
		case r == '"':
			quoted = !quoted
		case quoted:
		case r == '(' || r == '[' || r == '{':
			stack = append(stack, r)
		case pair[r] != 0:
			if len(stack) == 0 || stack[len(stack)-1] != pair[r] {
				return false
			}
			stack = stack[:len(stack)-1]
		}
	}
	return len(stack) == 0 && !quoted
}

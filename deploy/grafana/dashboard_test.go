// Package grafana_test checks the Grafana dashboard edgeguard.json: valid
// JSON that Grafana can import, and every metric its queries use exported
// by gatewayd's code with the labels it selects and groups by, so that the
// dashboard cannot drift from the code.
package grafana_test

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/edgeguard/edgeguard/internal/metricnames"
)

type target struct {
	RefID string `json:"refId"`
	Expr  string `json:"expr"`
}

type panel struct {
	ID      int      `json:"id"`
	Type    string   `json:"type"`
	Title   string   `json:"title"`
	Targets []target `json:"targets"`
	Grid    struct {
		H, W, X, Y int
	} `json:"gridPos"`
}

type dashboard struct {
	UID        string  `json:"uid"`
	Title      string  `json:"title"`
	Panels     []panel `json:"panels"`
	Templating struct {
		List []struct {
			Name, Type string
		} `json:"list"`
	} `json:"templating"`
	Annotations struct {
		List []struct {
			Expr string `json:"expr"`
		} `json:"list"`
	} `json:"annotations"`
}

func TestDashboard(t *testing.T) {
	b, err := os.ReadFile("edgeguard.json")
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	dec := json.NewDecoder(strings.NewReader(string(b)))
	if err := dec.Decode(&d); err != nil {
		t.Fatalf("edgeguard.json is not valid JSON: %v", err)
	}
	if d.UID == "" || d.Title == "" || len(d.Panels) == 0 {
		t.Fatalf("dashboard lacks uid, title or panels: %q %q %d", d.UID, d.Title, len(d.Panels))
	}
	vars := map[string]bool{}
	for _, v := range d.Templating.List {
		vars[v.Name] = true
	}
	if !vars["datasource"] || !vars["instance"] {
		t.Errorf("templating lacks datasource or instance: %v", vars)
	}
	root, err := metricnames.ModuleRoot(".")
	if err != nil {
		t.Fatal(err)
	}
	known, err := metricnames.InCode(root)
	if err != nil {
		t.Fatal(err)
	}
	exprs := map[string]string{} // expression: where
	ids := map[int]bool{}
	for _, p := range d.Panels {
		if ids[p.ID] {
			t.Errorf("panel id %d twice", p.ID)
		}
		ids[p.ID] = true
		if p.Grid.W <= 0 || p.Grid.H <= 0 || p.Grid.X+p.Grid.W > 24 {
			t.Errorf("panel %q: bad gridPos %+v", p.Title, p.Grid)
		}
		if p.Type == "row" {
			continue
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, tg := range p.Targets {
			exprs[tg.Expr] = "panel " + p.Title + " " + tg.RefID
			if !strings.Contains(tg.Expr, `instance=~"$instance"`) {
				t.Errorf("panel %q %s ignores the gateway selector: %s", p.Title, tg.RefID, tg.Expr)
			}
		}
	}
	for _, a := range d.Annotations.List {
		exprs[a.Expr] = "annotation"
	}
	used := 0
	for expr, where := range exprs {
		if !balanced(expr) {
			t.Errorf("%s: unbalanced brackets: %s", where, expr)
		}
		names := metricnames.InExpr(expr)
		if len(names) == 0 {
			t.Errorf("%s: no edgeguard metric in %q", where, expr)
		}
		used += len(names)
		for _, p := range known.Check(expr) {
			t.Errorf("%s: %s", where, p)
		}
	}
	t.Logf("%d panels, %d queries, %d metric uses checked against %d names in the code", len(d.Panels), len(exprs), used, len(known))
}

// TestDashboardPromtool has Prometheus's own parser read every query, as
// recording rules (Grafana's $__rate_interval as 5m), where promtool is
// installed.
func TestDashboardPromtool(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Skip("promtool not installed (Debian: apt-get install prometheus): queries checked by TestDashboard only, not parsed by promtool")
	}
	b, err := os.ReadFile("edgeguard.json")
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatal(err)
	}
	var rules strings.Builder
	rules.WriteString("groups:\n  - name: dashboard\n    rules:\n")
	n := 0
	for _, p := range d.Panels {
		for _, tg := range p.Targets {
			expr := strings.ReplaceAll(tg.Expr, "$__rate_interval", "5m")
			q, _ := json.Marshal(expr) // a JSON string is a YAML string
			fmt.Fprintf(&rules, "      - record: edgeguard_dashboard_query_%d\n        expr: %s\n", n, q)
			n++
		}
	}
	path := filepath.Join(t.TempDir(), "queries.yml")
	if err := os.WriteFile(path, []byte(rules.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(promtool, "check", "rules", path).CombinedOutput()
	if err != nil || !strings.Contains(string(out), fmt.Sprintf("SUCCESS: %d rules found", n)) {
		t.Fatalf("promtool check rules on the dashboard's %d queries: %v\n%s", n, err, out)
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

package main

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/edgeguard/edgeguard/policy/mgmt/api"
)

const viewerToken = "egt_integration-viewer-token"

// TestTop drives a real gatewayd with a known traffic pattern from
// distinct loopback sources and checks the live view: GET /v1/top with a
// read-only token (counts, busiest clients, deny reasons, enforcer drops,
// bans, upstreams, events, bounds), then gatewayctl top --once on it.
func TestTop(t *testing.T) {
	dir := t.TempDir()
	events := filepath.Join(dir, "events.jsonl")
	up := startUpstream(t, "api", nil)
	g := startGateway(t, `
listeners: [{name: public, address: "127.0.0.1:0"}]
management:
  address: 127.0.0.1:0
  public: none
  tokens:
    - {name: ops, hash: `+api.HashToken(mgmtTestToken)+`}
    - {name: viewer, hash: `+api.HashToken(viewerToken)+`, role: read}
  state_dir: `+filepath.Join(dir, "state")+`
access_log: {path: "off"}
security_events: {path: `+events+`}
server: {shutdown_grace: 5s}
xdp: {mode: "off"}
upstreams: [{name: api, targets: [`+up.addr()+`]}]
routes: [{name: app, path: /app, upstream: api}]
anomaly:
  interval: 100ms
  baseline: 1s
  probing: {threshold: 10, window: 10s}
  credential_stuffing: {enabled: false}
  enumeration: {enabled: false}
  admin_first_seen: {enabled: false}
  unusual_methods: {enabled: false}
`)
	pattern := []struct {
		src, path string
		n, status int
	}{
		{"127.0.0.2", "/app/a", 30, 200},
		{"127.0.0.3", "/app/b", 10, 200},
		{"127.0.0.4", "/admin", 12, 404},
	}
	for _, p := range pattern {
		for i := range p.n {
			if got := getFrom(t, g, p.src, p.path, fmt.Sprintf("top-%s-%d", p.src, i)); got != p.status {
				t.Fatalf("%s %s: %d, want %d", p.src, p.path, got, p.status)
			}
		}
	}
	mgmtDo(t, g, "POST", api.PathBans, "application/json", `{"ip": "198.51.100.7", "for": "1h"}`, 200)
	mgmtDo(t, g, "POST", api.PathBlocklistDelta, "application/json", `{"add": ["127.0.0.5/32"]}`, 200)
	if getFrom(t, g, "127.0.0.5", "/app/x", "top-blocked") != 0 {
		t.Fatal("a blocklisted source was served")
	}

	if code, _ := mgmtGet(t, g, api.PathTop, ""); code != 401 {
		t.Fatalf("unauthenticated top: %d, want 401", code)
	}
	if code, body := mgmtGet(t, g, api.PathTop+"?n=0", "Bearer "+viewerToken); code != 400 {
		t.Fatalf("top?n=0: %d %s, want 400", code, body)
	}
	var top api.Top
	get := func(query string) {
		t.Helper()
		code, body := mgmtGet(t, g, api.PathTop+query, "Bearer "+viewerToken)
		top = api.Top{}
		if code != 200 || json.Unmarshal([]byte(body), &top) != nil {
			t.Fatalf("top: %d %s", code, body)
		}
	}
	// The view counts an interval once it ends (every second).
	waitFor(t, "52 requests in the live view", func() bool { get(""); return top.Requests >= 52 })
	type client struct {
		Client           string
		Requests, Denied uint64
	}
	var clients []client
	for _, c := range top.Clients {
		clients = append(clients, client{c.Client, c.Requests, c.Denied})
		if c.Rate <= 0 || c.Rate > float64(c.Requests) {
			t.Errorf("client %s: rate %.2f/s for %d requests in %.1fs", c.Client, c.Rate, c.Requests, top.Window)
		}
	}
	want := []client{{"127.0.0.2", 30, 0}, {"127.0.0.4", 12, 12}, {"127.0.0.3", 10, 0}}
	if fmt.Sprint(clients) != fmt.Sprint(want) {
		t.Errorf("clients %v, want %v", clients, want)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"requests", top.Requests, uint64(52)},
		{"2xx", top.Classes["2xx"], uint64(40)},
		{"4xx", top.Classes["4xx"], uint64(12)},
		{"deny reasons", fmt.Sprint(top.Reasons[:1]), fmt.Sprintf("[{no_route 12 %v}]", top.Reasons[0].Rate)},
		{"distinct clients", top.DistinctClients > 0 && top.DistinctClients <= 3, true},
		{"enforcer drops a blocklisted connection", top.Enforcer != nil && top.Enforcer.Counters["drop_blocklist"] >= 1, true},
		{"bans", fmt.Sprint(top.BansTotal, len(top.Bans) > 0 && top.Bans[0].IP == "198.51.100.7"), "1 true"},
		{"blocklist", top.Blocklist != nil && top.Blocklist.Entries == 1, true},
		{"upstreams", fmt.Sprint(top.Upstreams), "[{api 1 1}]"},
		{"window", top.Window >= 1 && top.Window <= 12, true},
		{"rate", top.Rate > 0 && top.Rate <= 52, true},
	}
	for _, c := range checks {
		if fmt.Sprint(c.got) != fmt.Sprint(c.want) {
			t.Errorf("%s: %v, want %v", c.name, c.got, c.want)
		}
	}
	// The probe of /admin is a security event, and an anomaly (12 404s
	// from one source, threshold 10); the view's polling is not an event.
	for _, typ := range []string{"route_refused", "anomaly_probing"} {
		waitFor(t, typ+" of 127.0.0.4 in the view", func() bool {
			get("")
			for _, raw := range top.Events {
				if s := string(raw); strings.Contains(s, `"`+typ+`"`) && strings.Contains(s, `"127.0.0.4"`) {
					return true
				}
			}
			return false
		})
	}
	for _, raw := range top.Events {
		var ev struct{ Action, Result string }
		if err := json.Unmarshal(raw, &ev); err != nil {
			t.Fatalf("event %s: %v", raw, err)
		}
		if ev.Action == "GET "+api.PathTop && ev.Result == "ok" { // the refused calls above stay
			t.Errorf("the view's own polling is in its events: %s", raw)
		}
	}
	// Every list is bounded by ?n=.
	get("?n=1")
	if len(top.Clients) != 1 || len(top.Reasons) != 1 || len(top.Events) > 1 || len(top.Bans) != 1 {
		t.Errorf("?n=1: %d clients, %d reasons, %d events, %d bans", len(top.Clients), len(top.Reasons), len(top.Events), len(top.Bans))
	}

	// gatewayctl top --once: one plain frame with the same figures.
	code, out := runCtlToken(t, viewerToken, "top", "--once", "--target", g.mgmt)
	if code != 0 {
		t.Fatalf("top --once: exit %d\n%s", code, out)
	}
	for _, want := range []string{
		"edgeguard top " + g.mgmt, "requests ", "2xx ", "4xx ",
		"TOP CLIENTS", "127.0.0.2", "127.0.0.4", "TOP DENY REASONS", "no_route",
		"drops (total) drop_banned 0 drop_blocklist ", "upstreams  api 1/1 healthy", "BANS (1)", "198.51.100.7",
		"RECENT SECURITY EVENTS", "route_refused client_ip=127.0.0.4",
		"ANOMALIES\n", "anomaly_probing client_ip=127.0.0.4",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("top --once lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "\x1b[") {
		t.Errorf("top --once prints ANSI sequences:\n%q", out)
	}
	lines := strings.Split(out, "\n")
	for i, l := range lines {
		if strings.HasPrefix(l, "127.0.0.2 ") && !strings.Contains(lines[i+1], "127.0.0.4") {
			t.Errorf("clients not busiest first:\n%s", out)
		}
	}
	code, out = runCtlToken(t, viewerToken, "top", "--once", "--json", "--rows", "2", "--target", g.mgmt)
	var raw api.Top
	if err := json.Unmarshal([]byte(out), &raw); code != 0 || err != nil || len(raw.Clients) != 2 {
		t.Fatalf("top --once --json --rows 2: exit %d, %v, %d clients\n%s", code, err, len(raw.Clients), out)
	}
	if code, out = runCtlToken(t, "", "top", "--once", "--target", g.mgmt); code != 1 || !strings.Contains(out, "401") {
		t.Errorf("top without a token: exit %d\n%s", code, out)
	}
}

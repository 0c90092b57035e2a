package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// reqFrom sends one request from the loopback address src on a new
// connection and returns the status, 0 when the connection failed (a
// banned source's connection is closed at accept).
func reqFrom(src, method, uri string, hdr ...string) int {
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 2 * time.Second}
	c := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DialContext: d.DialContext, DisableKeepAlives: true}}
	req, _ := http.NewRequest(method, uri, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	return resp.StatusCode
}

// anomalyEvents counts the anomaly events by "type route client_ip".
func anomalyEvents(t *testing.T, path string) map[string]int {
	out := map[string]int{}
	for _, ev := range secEvents(t, path) {
		if typ, _ := ev["type"].(string); strings.HasPrefix(typ, "anomaly_") {
			out[fmt.Sprintf("%s %s %s", typ, ev["route"], ev["client_ip"])]++
		}
	}
	return out
}

// TestAnomalyDetection drives a real gatewayd with a benign traffic pattern
// and then an attack of the same volume for each detector: the benign
// phase raises nothing, each attack exactly one event (and a metric), and
// the probing detector, set to ban, bans its source through the enforcer.
func TestAnomalyDetection(t *testing.T) {
	dir := t.TempDir()
	key := "egk_anomaly-key-0123456789abcdef"
	events := filepath.Join(dir, "events.jsonl")
	up := startUpstream(t, "api", func(ctx *fasthttp.RequestCtx) {
		if strings.HasPrefix(string(ctx.Path()), "/acct/bad") {
			ctx.SetStatusCode(fasthttp.StatusUnauthorized)
		}
	})
	g := startGateway(t, `
listeners: [{name: public, address: "127.0.0.1:0"}]
management: {address: 127.0.0.1:0}
access_log: {path: "off"}
security_events: {path: `+events+`, aggregate_window: 100ms}
server: {shutdown_grace: 5s}
xdp: {mode: "off"}
upstreams: [{name: api, targets: [`+up.addr()+`]}]
routes:
  - {name: acct, path: /acct, upstream: api}
  - {name: customers, path: /customers, upstream: api}
  - {name: admin, path: /admin, upstream: api}
  - {name: items, path: /items, upstream: api}
  - {name: orders, path: /orders, upstream: api}
  - {name: accounts, path: /accounts, upstream: api, auth: {methods: [api_key]}}
auth:
  api_keys:
    keys: [{id: acme-1, client: acme, hash: "`+keyHash(key)+`"}]
anomaly:
  interval: 100ms
  baseline: 1m
  ban_duration: 1m
  credential_stuffing: {window: 2s, warmup: 2s, factor: 5, min_failures: 20}
  enumeration: {window: 30s, threshold: 40, patterns: ["/customers/{id}"]}
  probing: {window: 30s, threshold: 30, ban: true}
  admin_first_seen: {routes: [admin], warmup: 2s}
  unusual_methods: {warmup: 2s, declared: {orders: [GET]}}
`)
	start := time.Now()
	base := "http://" + g.data
	const n = 60 // requests per phase and detector
	send := func(src, method, path string, want int, hdr ...string) {
		t.Helper()
		if got := reqFrom(src, method, base+path, hdr...); got != want {
			t.Fatalf("%s %s from %s: %d, want %d", method, path, src, got, want)
		}
	}

	// Warm-up: the routes' usual traffic, methods and admin sources.
	for i := 0; i < 10; i++ {
		send("127.0.0.1", "POST", "/acct/login", 200)
		send("127.0.0.1", "GET", "/items", 200)
		send("127.0.0.1", "POST", "/items", 200)
	}
	send("127.0.0.1", "GET", "/admin/status", 200)
	time.Sleep(time.Until(start.Add(2200 * time.Millisecond))) // the warm-ups end: nothing to wait on but the clock

	// Benign traffic of the attacks' volume.
	for i := 0; i < n; i++ {
		send("127.0.0.1", "POST", "/acct/login", 200)                                     // logins that succeed
		send("127.0.0.1", "GET", fmt.Sprintf("/customers/%d", i%5), 200)                  // a few customers, again and again
		send("127.0.0.3", "GET", fmt.Sprintf("/items/%d", i%5), 200)                      // the would-be prober, finding things
		send("127.0.0.1", "GET", "/admin/status", 200)                                    // the known admin source
		send("127.0.0.1", []string{"GET", "POST"}[i%2], "/items", 200)                    // the methods seen in warm-up
		send("127.0.0.1", "GET", "/orders", 200)                                          // the declared method
		send("127.0.0.4", "GET", fmt.Sprintf("/accounts/%d", i%5), 200, "X-API-Key", key) // an API client's usual accounts
	}
	time.Sleep(500 * time.Millisecond) // five evaluations: an alert would be written by now
	if got := anomalyEvents(t, events); len(got) != 0 {
		t.Fatalf("benign traffic raised %v", got)
	}

	// The attacks.
	banned := 0
	for i := 0; i < n; i++ {
		send("127.0.0.1", "POST", "/acct/bad", 401)                         // credential stuffing
		send("127.0.0.1", "GET", fmt.Sprintf("/customers/%d", 1000+i), 200) // a walk through the IDs
		if reqFrom("127.0.0.3", "GET", fmt.Sprintf("%s/wp-%d.php", base, i)) == 0 {
			banned++ // 404 probing, banned once past the threshold
		}
		send("127.0.0.2", "GET", "/admin/users", 200) // a new admin source
		send("127.0.0.1", "DELETE", "/items/7", 200)  // never seen in warm-up
		send("127.0.0.1", "PUT", "/orders", 200)      // not declared
		// The same API key walking account IDs (an inferred pattern) from
		// two addresses: counted by its identity.
		send(fmt.Sprintf("127.0.0.%d", 4+i%2), "GET", fmt.Sprintf("/accounts/%d", 2000+i), 200, "X-API-Key", key)
	}
	want := map[string]int{
		"anomaly_credential_stuffing acct 127.0.0.1": 1,
		"anomaly_enumeration customers 127.0.0.1":    1,
		"anomaly_enumeration accounts 127.0.0.4":     1,
		"anomaly_probing  127.0.0.3":                 1,
		"anomaly_admin_first_seen admin 127.0.0.2":   1,
		"anomaly_unusual_method items 127.0.0.1":     1,
		"anomaly_unusual_method orders 127.0.0.1":    1,
	}
	waitFor(t, "one event per attack", func() bool { return len(anomalyEvents(t, events)) == len(want) })
	time.Sleep(300 * time.Millisecond) // three more evaluations: a repeat would show
	if got := anomalyEvents(t, events); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("events %v, want %v", got, want)
	}
	// The ban lands within a drain of the detector (20 ms) after the 30th
	// 404: a few more probes may still get theirs.
	if banned > n-30 || banned < n-40 {
		t.Errorf("%d probes refused after the ban, want about %d (those after the 30th 404)", banned, n-30)
	}
	if st := reqFrom("127.0.0.3", "GET", base+"/items/1"); st != 0 {
		t.Errorf("banned source served: %d", st)
	}
	send("127.0.0.1", "GET", "/items", 200) // everyone else still is
	probe := waitEvent(t, events, map[string]any{"type": "anomaly_probing", "client_ip": "127.0.0.3", "reason": "not_found_rate",
		"source": "127.0.0.3"})
	if _, ok := probe["until"]; !ok {
		t.Errorf("probing event without the ban's end: %v", probe)
	}
	for route, pattern := range map[string]string{"customers": "/customers/{id}", "accounts": "/accounts/{id}"} {
		enum := waitEvent(t, events, map[string]any{"type": "anomaly_enumeration", "route": route, "reason": "distinct_ids"})
		if d, _ := enum["detail"].(string); !strings.Contains(d, pattern) {
			t.Errorf("enumeration event does not name the pattern %s: %v", pattern, enum)
		}
		if route == "accounts" && enum["identity"] != "acme-1" {
			t.Errorf("enumeration by an API key without its identity: %v", enum)
		}
	}
	waitFor(t, "anomaly metrics", func() bool {
		m := g.metrics(t)
		return strings.Contains(m, `edgeguard_anomalies_total{detector="credential_stuffing",route="acct"} 1`) &&
			strings.Contains(m, `edgeguard_anomalies_total{detector="probing",route=""} 1`) &&
			strings.Contains(m, `edgeguard_anomaly_bans_total{detector="probing"} 1`)
	})
}

// TestAnomalyStateSurvivesRestart: what the detectors learnt is kept in
// management.state_dir across a restart. An admin source seen before the
// restart stays known, and a new one right after it alerts at once, the
// warm-up having run before; with a fresh state directory the same
// requests fall into a new warm-up and are learnt.
func TestAnomalyStateSurvivesRestart(t *testing.T) {
	up := startUpstream(t, "api", nil)
	stateDir := t.TempDir()
	cfg := func(events, dir string) string {
		return `
listeners: [{name: public, address: "127.0.0.1:0"}]
management: {address: 127.0.0.1:0, state_dir: ` + dir + `}
access_log: {path: "off"}
security_events: {path: ` + events + `}
server: {shutdown_grace: 5s}
xdp: {mode: "off"}
upstreams: [{name: api, targets: [` + up.addr() + `]}]
routes: [{name: admin, path: /admin, upstream: api}]
anomaly:
  interval: 100ms
  admin_first_seen: {routes: [admin], warmup: 2s}
`
	}
	g := startGateway(t, cfg(filepath.Join(t.TempDir(), "events.jsonl"), stateDir))
	if st := reqFrom("127.0.0.1", "GET", "http://"+g.data+"/admin/status"); st != 200 {
		t.Fatalf("admin request: %d", st)
	}
	time.Sleep(2200 * time.Millisecond) // the warm-up ends: nothing to wait on but the clock
	g.signal(syscall.SIGTERM)
	<-g.exited
	if _, err := os.Stat(filepath.Join(stateDir, "anomaly.state")); err != nil {
		t.Fatalf("no state written at shutdown: %v", err)
	}

	for _, tc := range []struct {
		name, dir string
		want      map[string]int
	}{
		{"restored", stateDir, map[string]int{"anomaly_admin_first_seen admin 127.0.0.2": 1}},
		{"fresh", t.TempDir(), map[string]int{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			events := filepath.Join(t.TempDir(), "events.jsonl")
			g := startGateway(t, cfg(events, tc.dir))
			for _, src := range []string{"127.0.0.1", "127.0.0.2"} {
				if st := reqFrom(src, "GET", "http://"+g.data+"/admin/users"); st != 200 {
					t.Fatalf("admin request from %s: %d", src, st)
				}
			}
			if len(tc.want) > 0 {
				waitFor(t, "the new admin source's event", func() bool { return len(anomalyEvents(t, events)) > 0 })
			} else {
				time.Sleep(500 * time.Millisecond) // five evaluations: an alert would be written by now
			}
			if got := anomalyEvents(t, events); fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("events %v, want %v", got, tc.want)
			}
			g.signal(syscall.SIGTERM)
			<-g.exited
		})
	}
}

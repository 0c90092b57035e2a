package main

import (
	"bufio"
	"bytes"
	"encoding/json"
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

	"github.com/edgeguard/edgeguard/policy/mgmt/api"
)

// secEvents reads the event file: every line must be JSON.
func secEvents(t *testing.T, path string) []map[string]any {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("event line %q: %v", sc.Bytes(), err)
		}
		out = append(out, m)
	}
	return out
}

// match reports whether ev has every field of want (compared as printed).
func match(ev, want map[string]any) bool {
	for k, v := range want {
		if fmt.Sprint(ev[k]) != fmt.Sprint(v) {
			return false
		}
	}
	return true
}

// waitEvent waits for an event with the fields of want and returns it.
func waitEvent(t *testing.T, path string, want map[string]any) map[string]any {
	t.Helper()
	var found map[string]any
	deadline := time.Now().Add(5 * time.Second)
	for found == nil && time.Now().Before(deadline) {
		for _, ev := range secEvents(t, path) {
			if match(ev, want) {
				found = ev
				break
			}
		}
		if found == nil {
			time.Sleep(20 * time.Millisecond)
		}
	}
	if found == nil {
		data, _ := os.ReadFile(path)
		t.Fatalf("no event with %v within 5s; events:\n%s", want, data)
	}
	for _, k := range []string{"ts", "type", "client_ip", "identity", "route", "request_id", "reason", "count"} {
		if _, ok := found[k]; !ok {
			t.Errorf("event %v lacks %q", found, k)
		}
	}
	return found
}

// countOf sums the counts of the events with the fields of want.
func countOf(t *testing.T, path string, want map[string]any) int {
	n := 0
	for _, ev := range secEvents(t, path) {
		if match(ev, want) {
			n += int(ev["count"].(float64))
		}
	}
	return n
}

// TestSecurityEvents drives a real gatewayd and checks the event stream:
// one event per kind of refusal with its client, identity, route, request
// ID and reason; repeats aggregated into counts that add up to what the
// client saw; management calls, ban and blocklist changes, and reloads.
func TestSecurityEvents(t *testing.T) {
	dir := t.TempDir()
	events := filepath.Join(dir, "events.jsonl")
	up := startUpstream(t, "api", nil)
	idp := startUpstream(t, "idp", func(ctx *fasthttp.RequestCtx) { ctx.SetStatusCode(fasthttp.StatusUnauthorized) })
	key := "egk_secevent-key-0123456789abcdef"
	doc := func(extraRoute string) string {
		return `
listeners: [{name: public, address: "127.0.0.1:0"}]
management:
  address: 127.0.0.1:0
  public: monitoring
  tokens: [{name: ops, hash: ` + api.HashToken(mgmtTestToken) + `}]
  state_dir: ` + filepath.Join(dir, "state") + `
access_log: {path: "off"}
security_events: {path: ` + events + `, aggregate_window: 300ms}
server: {shutdown_grace: 5s}
xdp: {mode: "off"}
upstreams: [{name: api, targets: [` + up.addr() + `]}, {name: idp, targets: [` + idp.addr() + `]}]
routes:
  - {name: keys, path: /keys, upstream: api, auth: {methods: [api_key]}, waf: {libinjection: block}}
  - {name: detect, path: /detect, upstream: api, waf: {libinjection: detect}}
  - {name: val, path: /val, upstream: api, validate: {max_uri_bytes: 100}}
  - {name: limited, path: /limited, upstream: api, rate_limit: {limits: [tight]}}
  - {name: login, path: /login, upstream: idp, rate_limit: {login: true}}
` + extraRoute + `
auth:
  api_keys:
    keys: [{id: acme-1, client: acme, hash: "` + keyHash(key) + `"}]
rate_limit:
  max_delay: 100ms
  ban_duration: 2s
  auth_failures: {enabled: false}
  limits:
    tight: {second: 5}
`
	}
	if err := os.MkdirAll(filepath.Join(dir, "state"), 0o700); err != nil {
		t.Fatal(err)
	}
	g := startGateway(t, doc(""))

	// Request events: each refusal once, with what identifies it.
	r := g.do(t, "GET", "/keys/1", "X-API-Key", "egk_wrong-key-0123456789abcdef", "X-Request-ID", "sec-auth-1")
	if r.status != 401 {
		t.Fatalf("bad key: %d %s", r.status, r.body)
	}
	waitEvent(t, events, map[string]any{"type": "auth_failure", "client_ip": "127.0.0.1", "route": "keys",
		"request_id": "sec-auth-1", "reason": "unauthenticated", "status": 401, "count": 1})

	r = g.do(t, "GET", "/keys/1?q=1'%20OR%20'1'='1", "X-API-Key", key, "X-Request-ID", "sec-waf-1")
	if r.status != 403 {
		t.Fatalf("SQLi: %d %s", r.status, r.body)
	}
	waitEvent(t, events, map[string]any{"type": "waf_detection", "identity": "acme-1", "route": "keys",
		"request_id": "sec-waf-1", "reason": "waf_blocked", "status": 403, "location": "query.q"})

	if r = g.do(t, "GET", "/detect/1?q=1'%20OR%20'1'='1", "X-Request-ID", "sec-detect-1"); r.status != 200 {
		t.Fatalf("detect mode: %d", r.status)
	}
	waitEvent(t, events, map[string]any{"type": "waf_detection", "route": "detect", "request_id": "sec-detect-1",
		"reason": "waf_detect_only", "status": 200})

	if r = g.do(t, "GET", "/val/"+strings.Repeat("a", 200), "X-Request-ID", "sec-val-1"); r.status != 414 {
		t.Fatalf("long URI: %d", r.status)
	}
	waitEvent(t, events, map[string]any{"type": "validation_refused", "route": "val", "request_id": "sec-val-1",
		"reason": "uri_too_long", "status": 414})

	if r = g.do(t, "GET", "/nothing", "X-Request-ID", "sec-probe-1"); r.status != 404 {
		t.Fatalf("no route: %d", r.status)
	}
	waitEvent(t, events, map[string]any{"type": "route_refused", "route": "", "request_id": "sec-probe-1", "reason": "no_route"})

	// A login the upstream refused is an authentication failure too.
	if r = g.do(t, "POST", "/login", "X-Request-ID", "sec-login-1"); r.status != 401 {
		t.Fatalf("login: %d", r.status)
	}
	waitEvent(t, events, map[string]any{"type": "auth_failure", "route": "login", "request_id": "sec-login-1",
		"reason": "login_failed", "status": 401})

	// Management: a refused call, a ban, a blocklist push, a reload.
	if code, _ := mgmtGet(t, g, api.PathBans, ""); code != 401 {
		t.Fatalf("unauthenticated call: %d", code)
	}
	waitEvent(t, events, map[string]any{"type": "mgmt_call", "client_ip": "127.0.0.1", "identity": "", "action": "GET " + api.PathBans,
		"result": "denied", "status": 401})
	mgmtDo(t, g, "POST", api.PathBans, "application/json", `{"ip": "198.51.100.7", "for": "1h"}`, 200)
	waitEvent(t, events, map[string]any{"type": "ban_change", "by": "ops", "action": "ban", "result": "ok",
		"client_ip": "198.51.100.7", "source": "198.51.100.7"})
	waitEvent(t, events, map[string]any{"type": "mgmt_call", "by": "ops", "route": "ban", "action": "POST " + api.PathBans,
		"result": "ok", "status": 200})
	mgmtDo(t, g, "DELETE", api.PathBans+"/198.51.100.7", "", "", 200)
	waitEvent(t, events, map[string]any{"type": "ban_change", "by": "ops", "action": "unban", "result": "ok"})
	mgmtDo(t, g, "PUT", api.PathBlocklist+"?version=4", "text/plain", "203.0.113.0/24\n192.0.2.0/25\n", 200)
	waitEvent(t, events, map[string]any{"type": "blocklist_change", "by": "ops", "action": "blocklist_replace",
		"result": "ok", "entries": 2, "version": 4})
	mgmtDo(t, g, "POST", api.PathReload, "", "", 200)
	waitEvent(t, events, map[string]any{"type": "config_reload", "action": "management API (ops)", "result": "unchanged", "version": 1})
	writeConfig(t, g.cfgPath, doc("  - {name: extra, path: /extra, upstream: api}"))
	g.signal(syscall.SIGHUP)
	waitEvent(t, events, map[string]any{"type": "config_reload", "action": "SIGHUP", "result": "applied", "version": 2})
	writeConfig(t, g.cfgPath, doc("  - {name: broken, path: /extra, upstream: nowhere}"))
	g.signal(syscall.SIGHUP)
	rej := waitEvent(t, events, map[string]any{"type": "config_reload", "action": "SIGHUP", "result": "rejected", "version": 2})
	if d, _ := rej["detail"].(string); !strings.Contains(d, "nowhere") {
		t.Errorf("rejected reload event does not say why: %v", rej)
	}

	// Rate limit from its own loopback address (its ban closes that
	// address's connections): refusals are aggregated, and their counts
	// add up to the 429s the client got.
	statuses := map[int]int{}
	for i := 0; i < 40; i++ {
		statuses[getFrom(t, g, "127.0.0.9", "/limited/x", fmt.Sprintf("sec-rl-%d", i))]++
	}
	if statuses[429] == 0 || statuses[0] == 0 {
		t.Fatalf("rate limit outcomes %v: want 429s and closed connections", statuses)
	}
	waitFor(t, "limit_refused counts", func() bool {
		return countOf(t, events, map[string]any{"type": "limit_refused", "client_ip": "127.0.0.9"}) == statuses[429]
	})
	lines := 0
	for _, ev := range secEvents(t, events) {
		if ev["type"] == "limit_refused" {
			lines++
			if ev["route"] != "limited" || ev["reason"] != "rate_limited" || ev["status"] != 429.0 {
				t.Errorf("limit_refused event %v", ev)
			}
		}
	}
	if statuses[429] > 2 && lines >= statuses[429] {
		t.Errorf("%d refusals written as %d lines: not aggregated", statuses[429], lines)
	}
	// The limit delays before it refuses (80-100% of the limit).
	waitEvent(t, events, map[string]any{"type": "limit_delay", "client_ip": "127.0.0.9", "route": "limited",
		"reason": "rate_limit_delayed", "status": 200})
	ban := waitEvent(t, events, map[string]any{"type": "limit_ban", "client_ip": "127.0.0.9", "route": "limited",
		"reason": "burst_banned"})
	if _, ok := ban["status"]; ok {
		t.Errorf("a ban closes the connection without a response: %v", ban)
	}

	// Every line is an object of the documented shape; nothing dropped.
	for _, ev := range secEvents(t, events) {
		if ts, _ := ev["ts"].(string); !strings.HasPrefix(ts, "20") || ev["type"] == "" {
			t.Errorf("event %v", ev)
		}
	}
	if m := g.metrics(t); !strings.Contains(m, "edgeguard_security_events_dropped_total 0") {
		t.Errorf("events dropped:\n%s", grepLines(m, "security_events"))
	}
}

// mgmtDo makes an authenticated management call and checks its status.
func mgmtDo(t *testing.T, g *gateway, method, path, ctype, body string, want int) {
	t.Helper()
	req, _ := http.NewRequest(method, "http://"+g.mgmt+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+mgmtTestToken)
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		t.Fatalf("%s %s: %d %s, want %d", method, path, resp.StatusCode, b, want)
	}
}

// getFrom sends one request on a new connection from the loopback source
// src and returns its status, 0 when the connection closed without one.
func getFrom(t *testing.T, g *gateway, src, path, id string) int {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 2 * time.Second}
	c := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DialContext: d.DialContext, DisableKeepAlives: true}}
	req, _ := http.NewRequest("GET", "http://"+g.data+path, nil)
	req.Header.Set("X-Request-ID", id)
	resp, err := c.Do(req)
	if err != nil {
		return 0
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	return resp.StatusCode
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

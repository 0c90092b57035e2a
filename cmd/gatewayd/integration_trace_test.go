package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// headerOf returns the value of header name in a recorder's body.
func headerOf(body, name string) string {
	for _, l := range strings.Split(body, "\n") {
		if k, v, ok := strings.Cut(l, ": "); ok && strings.EqualFold(k, name) {
			return v
		}
	}
	return ""
}

// TestTraceContextEndToEnd: through the real gatewayd, a valid traceparent
// is continued (same trace, the gateway's span as the upstream's parent,
// tracestate kept), an invalid one starts a new trace without tracestate,
// and the access log and security events name the trace.
func TestTraceContextEndToEnd(t *testing.T) {
	rec := startRecorder(t)
	dir := t.TempDir()
	access, events := filepath.Join(dir, "access.log"), filepath.Join(dir, "events.jsonl")
	doc := strings.Replace(baseConfig(`
  - name: rec
    targets: [`+rec.addr()+`]
`, `
  - {name: open, path: /open, upstream: rec}
`), `path: "off"`, "path: "+access, 1) + "security_events: {path: " + events + "}\n"
	g := startGateway(t, doc)
	const (
		traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
		parent  = "00f067aa0ba902b7"
	)
	continued := regexp.MustCompile(`^00-` + traceID + `-([0-9a-f]{16})-01$`)

	r := g.do(t, "GET", "/open/a", "traceparent", "00-"+traceID+"-"+parent+"-01", "tracestate", "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7",
		"X-Request-ID", "trace-1")
	up := headerOf(r.body, "Traceparent")
	m := continued.FindStringSubmatch(up)
	if m == nil || m[1] == parent {
		t.Fatalf("upstream traceparent %q, want trace %s continued with the gateway's span", up, traceID)
	}
	if got := headerOf(r.body, "Tracestate"); got != "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7" {
		t.Errorf("upstream tracestate %q", got)
	}
	if r.headers["Traceparent"] != up {
		t.Errorf("client got traceparent %q, upstream %q", r.headers["Traceparent"], up)
	}

	r = g.do(t, "GET", "/open/b", "traceparent", "00-"+strings.ToUpper(traceID)+"-"+parent+"-01", "tracestate", "congo=t61rcWkgMzE")
	if up := headerOf(r.body, "Traceparent"); strings.Contains(up, strings.ToLower(traceID)) || !reTraceparentNew.MatchString(up) {
		t.Errorf("invalid traceparent gave the upstream %q, want a new trace", up)
	}
	if got := headerOf(r.body, "Tracestate"); got != "" {
		t.Errorf("tracestate %q kept with an invalid traceparent", got)
	}

	// The access log line and a security event name the trace.
	if r = g.do(t, "GET", "/nothing", "traceparent", "00-"+traceID+"-"+parent+"-01", "X-Request-ID", "trace-404"); r.status != 404 {
		t.Fatalf("no route: %d", r.status)
	}
	waitEvent(t, events, map[string]any{"type": "route_refused", "request_id": "trace-404", "trace_id": traceID})
	waitFor(t, "access log line", func() bool {
		data, _ := os.ReadFile(access)
		for _, l := range strings.Split(string(data), "\n") {
			var e map[string]any
			if json.Unmarshal([]byte(l), &e) == nil && e["request_id"] == "trace-1" {
				return e["trace_id"] == traceID
			}
		}
		return false
	})
}

var reTraceparentNew = regexp.MustCompile(`^00-[0-9a-f]{32}-[0-9a-f]{16}-00$`)

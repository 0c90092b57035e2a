package main

import (
	"bytes"
	"compress/gzip"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestWAFTier1: tier 1 blocks by default, detects or is off where a route
// says so, inspects JSON bodies the validation parsed, lets benign
// look-alikes through, and logs where it matched.
func TestWAFTier1(t *testing.T) {
	rec := startRecorder(t)
	logPath := filepath.Join(t.TempDir(), "access.log")
	doc := strings.Replace(baseConfig(`
  - name: rec
    targets: [`+rec.addr()+`]
`, `
  - name: watched
    path: /watched
    upstream: rec
    waf: {libinjection: detect}
  - name: raw
    path: /raw
    upstream: rec
    waf: {libinjection: "off"}
  - name: orders
    path: /orders
    upstream: rec
    validate: {json: true}
  - name: open
    path: /
    upstream: rec
`), `path: "off"`, "path: "+logPath, 1)
	g := startGateway(t, doc)
	get := func(path, q string, headers ...string) string {
		return "GET " + path + "?q=" + url.QueryEscape(q) + " HTTP/1.1\r\nHost: gw.test\r\n" + strings.Join(headers, "") + "\r\n"
	}
	postJSON := func(body string) string {
		return "POST /orders HTTP/1.1\r\nHost: gw.test\r\nContent-Type: application/json\r\nContent-Length: " +
			strconv.Itoa(len(body)) + "\r\n\r\n" + body
	}
	for _, tc := range []struct {
		name, raw string
		status    int
	}{
		{"sqli in the query", get("/items", "1' OR '1'='1"), 403},
		{"xss in the query", get("/items", "<script>alert(1)</script>"), 403},
		{"xss in the user agent", get("/items", "x", "User-Agent: <img src=x onerror=alert(1)>\r\n"), 403},
		{"sqli base64-encoded", get("/items", "MScgT1IgJzEnPScx"), 403},
		{"sqli in a JSON value", postJSON(`{"items":[{"name":"x' UNION SELECT password FROM users--"}]}`), 403},
		{"detect mode passes", get("/watched", "1' OR '1'='1"), 200},
		{"off passes", get("/raw", "<script>alert(1)</script>"), 200},
		{"name with an apostrophe", get("/items", "D'Angelo"), 200},
		{"prose", get("/items", "the union of workers will select a drop-down menu"), 200},
		{"comparison", get("/items", "x < y and y > z"), 200},
		{"company", get("/items", "AT&T"), 200},
		{"benign JSON", postJSON(`{"items":[{"name":"Blue widget, large","note":"O'Brien's order -- signed, the team"}]}`), 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := rawDo(t, g.data, tc.raw)
			if r.status != tc.status {
				t.Fatalf("got %d %q, want %d", r.status, r.body, tc.status)
			}
			if tc.status == 403 && (!strings.Contains(r.body, `"reason":"waf_blocked"`) || strings.Contains(r.body, "script") || strings.Contains(r.body, "OR")) {
				t.Errorf("the refusal is not the generic waf_blocked one: %s", r.body)
			}
		})
	}
	for _, want := range []string{`"detail":"sqli","location":"query.q"`, `"location":"header.user-agent"`,
		`"location":"json./items/0/name"`, `"route":"watched"`} {
		waitFor(t, "access log with "+want, func() bool {
			data, _ := readFile(logPath)
			return strings.Contains(data, want)
		})
	}
	m := g.metrics(t)
	for _, want := range []string{
		`edgeguard_waf_detections_total{route="open",tier="1",kind="sqli",location_kind="query",mode="block"}`,
		`edgeguard_waf_detections_total{route="watched",tier="1",kind="sqli",location_kind="query",mode="detect"} 1`,
		`edgeguard_denied_total{reason="waf_blocked"}`,
	} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

// TestWAFTier1Truncated: a request with more values than tier 1 inspects
// is refused in block mode by default, so padding cannot push an attack
// past what tier 1 reads; waf.block_truncated: false lets it through
// (counted), and waf.max_values raises the budget.
func TestWAFTier1Truncated(t *testing.T) {
	rec := startRecorder(t)
	jsonValues := func(n int, last string) string {
		var b strings.Builder
		b.WriteString("{")
		for i := range n {
			b.WriteString(`"k` + strconv.Itoa(i) + `":"Value ` + strconv.Itoa(i) + `",`)
		}
		return b.String() + `"z":"` + last + `"}`
	}
	formValues := func(n int, last string) string {
		var b strings.Builder
		for i := range n {
			b.WriteString("k" + strconv.Itoa(i) + "=Value+" + strconv.Itoa(i) + "&")
		}
		return b.String() + "z=" + url.QueryEscape(last)
	}
	post := func(path, ct, body string) string {
		return "POST " + path + " HTTP/1.1\r\nHost: gw.test\r\nContent-Type: " + ct + "\r\nContent-Length: " +
			strconv.Itoa(len(body)) + "\r\n\r\n" + body
	}
	const sqli = "1' OR '1'='1"
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte(`{"z":"` + sqli + `"}`))
	zw.Close()
	postEncoded := func(fields, body string) string {
		return "POST /open HTTP/1.1\r\nHost: gw.test\r\nContent-Type: application/json\r\n" + fields +
			"Content-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body
	}
	utf16LE := func(s string) string {
		b := []byte{0xff, 0xfe}
		for _, c := range []byte(s) {
			b = append(b, c, 0)
		}
		return string(b)
	}
	routes := `
  - name: watched
    path: /watched
    upstream: rec
    waf: {libinjection: detect}
  - name: open
    path: /
    upstream: rec
`
	upstreams := "\n  - name: rec\n    targets: [" + rec.addr() + "]\n"
	for _, tc := range []struct {
		name, waf, raw string
		status         int
	}{
		{"json padded past the budget", "", post("/open", "application/json", jsonValues(600, sqli)), 403},
		{"form padded past the budget", "", post("/open", "application/x-www-form-urlencoded", formValues(600, sqli)), 403},
		{"multipart tier 1 cannot follow", "", post("/open", "multipart/form-data; boundary=YY; boundary=XX",
			"--XX\r\nContent-Disposition: form-data; name=\"z\"\r\n\r\n"+sqli+"\r\n--XX--\r\n"), 403},
		{"gzip body", "", postEncoded("Content-Encoding: gzip\r\n", gz.String()), 403},
		{"gzip in a second field after identity", "", postEncoded("Content-Encoding: identity\r\nContent-Encoding: gzip\r\n", gz.String()), 403},
		// Refused before the WAF: a respelt Content-Encoding is a framing header in another spelling (400).
		{"gzip spelt with an underscore", "", postEncoded("Content_Encoding: gzip\r\n", gz.String()), 400},
		{"utf-16 json (BOM): read transcoded", "", post("/open", "application/json", utf16LE(`{"z":"`+sqli+`"}`)), 403},
		{"utf-7 form: undecodable", "", post("/open", "application/x-www-form-urlencoded; charset=utf-7", "z=1%2BACc- OR %2BACc-1%2BACcAPQAn-1"), 403},
		{"utf-16 json benign", "", post("/open", "application/json; charset=utf-16", utf16LE(`{"z":"Blue widget, large"}`)), 200},
		{"latin-1 form benign", "", post("/open", "application/x-www-form-urlencoded; charset=ISO-8859-1", "name=Andr%E9"), 200},
		{"benign under the budget", "", post("/open", "application/json", jsonValues(100, "fine")), 200},
		{"detect mode passes", "", post("/watched", "application/json", jsonValues(600, sqli)), 200},
		{"block_truncated off passes", "waf: {block_truncated: false}\n", post("/open", "application/json", jsonValues(600, "fine")), 200},
		{"a larger budget inspects it all", "waf: {max_values: 2000}\n", post("/open", "application/json", jsonValues(600, sqli)), 403},
		{"a larger budget passes benign", "waf: {max_values: 2000}\n", post("/open", "application/json", jsonValues(600, "fine")), 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := startGateway(t, tc.waf+baseConfig(upstreams, routes))
			before := len(rec.requests())
			r := rawDo(t, g.data, tc.raw)
			if r.status != tc.status {
				t.Fatalf("got %d %q, want %d", r.status, r.body, tc.status)
			}
			if reached := len(rec.requests()) != before; reached != (tc.status == 200) {
				t.Errorf("upstream reached: %v", reached)
			}
		})
	}
}

// TestWAFTier2: a route with CRS blocks what tier 1 does not look for
// (here with tier 1 off, to see tier 2 alone), passes ordinary API
// traffic, detects without blocking in detect mode, and survives a reload
// that changes its settings.
func TestWAFTier2(t *testing.T) {
	rec := startRecorder(t)
	routes := func(paranoia string) string {
		return `
  - name: crs
    path: /crs
    upstream: rec
    waf: {libinjection: "off", crs: {mode: block, paranoia: ` + paranoia + `}}
  - name: crs-detect
    path: /watch
    upstream: rec
    waf: {libinjection: "off", crs: {mode: detect}}
  - name: crs-vendor
    path: /vendor
    upstream: rec
    validate: {content_types: [application/vnd.acme.v1+json, text/*]}
    waf: {libinjection: "off", crs: {mode: block}}
`
	}
	ups := "\n  - name: rec\n    targets: [" + rec.addr() + "]\n"
	logPath := filepath.Join(t.TempDir(), "access.log")
	g := startGateway(t, strings.Replace(baseConfig(ups, routes("1")), `path: "off"`, "path: "+logPath, 1))
	get := func(path, q string) string {
		return "GET " + path + "?q=" + url.QueryEscape(q) + " HTTP/1.1\r\nHost: gw.test\r\nAccept: application/json\r\nUser-Agent: test/1.0\r\n\r\n"
	}
	postJSON := func(path, body string) string {
		return "POST " + path + " HTTP/1.1\r\nHost: gw.test\r\nUser-Agent: test/1.0\r\nContent-Type: application/json\r\nContent-Length: " +
			strconv.Itoa(len(body)) + "\r\n\r\n" + body
	}
	for _, tc := range []struct {
		name, raw string
		status    int
	}{
		{"shell injection", get("/crs", ";cat /etc/passwd"), 403},
		{"path traversal", get("/crs", "../../../../etc/shadow"), 403},
		{"sqli in JSON", postJSON("/crs", `{"name":"1' UNION SELECT password FROM users--"}`), 403},
		{"ordinary query", get("/crs", "blue widget"), 200},
		{"ordinary JSON", postJSON("/crs", `{"name":"Blue widget, large","qty":2,"note":"O'Brien"}`), 200},
		{"detect mode passes", get("/watch", ";cat /etc/passwd"), 200},
		// The route's own media types are the allow-list, not CRS's.
		{"a media type the route takes", strings.Replace(postJSON("/vendor", `{"name":"widget","qty":2}`), "application/json", "application/vnd.acme.v1+json", 1), 200},
		{"a text type the route takes", strings.Replace(postJSON("/vendor", `hello`), "application/json", "text/csv", 1), 200},
		{"an attack in a media type the route takes", strings.Replace(postJSON("/vendor", `{"name":"1' UNION SELECT password FROM users--"}`), "application/json", "application/vnd.acme.v1+json", 1), 403},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := rawDo(t, g.data, tc.raw)
			if r.status != tc.status {
				t.Fatalf("got %d %q, want %d", r.status, r.body, tc.status)
			}
		})
	}
	if m := g.metrics(t); !strings.Contains(m, `edgeguard_waf_detections_total{route="crs-detect",tier="2",kind="crs",location_kind="request",mode="detect"} 1`) {
		t.Error("the detect-mode match is not counted")
	}
	// Every request to /crs cost one evaluation; the log names the rule
	// and where it matched.
	if m := g.metrics(t); !strings.Contains(m, `edgeguard_waf_evaluations_total{route="crs",tier="2"} 5`) {
		t.Errorf("evaluations of route crs:\n%s", grepLines(m, "edgeguard_waf_evaluations_total"))
	}
	for _, want := range []string{`"detail":"lfi","location":"crs.930120:query.q"`, `"detail":"sqli","location":"crs.942100:json.name"`} {
		waitFor(t, "access log with "+want, func() bool {
			data, _ := readFile(logPath)
			return strings.Contains(data, want)
		})
	}
	writeConfig(t, g.cfgPath, strings.Replace(baseConfig(ups, routes("2")), `path: "off"`, "path: "+logPath, 1))
	g.waitLog("config reloaded")
	if r := rawDo(t, g.data, get("/crs", ";cat /etc/passwd")); r.status != 403 {
		t.Fatalf("after the reload: %d", r.status)
	}
}

// TestWAFTier2AfterCheapStages: a request refused by authentication, rate
// limiting or validation never costs a CRS evaluation
// (edgeguard_waf_evaluations_total), even when it carries an attack.
func TestWAFTier2AfterCheapStages(t *testing.T) {
	rec := startRecorder(t)
	const key = "egk_tier2-order-key-0123456789abcdef"
	doc := baseConfig("\n  - name: rec\n    targets: ["+rec.addr()+"]\n", `
  - name: crs
    path: /crs
    upstream: rec
    auth: {methods: [api_key]}
    rate_limit: {limits: [api]}
    validate: {json: true}
    waf: {libinjection: "off", crs: {mode: block}}
`) + `
auth:
  api_keys:
    keys:
      - {id: k1, client: acme, hash: "` + keyHash(key) + `"}
rate_limit:
  auth_failures: {enabled: false}
  limits:
    api: {minute: 4}
`
	g := startGateway(t, doc)
	attack := `{"name":"1' UNION SELECT password FROM users--"}`
	post := func(ct, body string, headers ...string) string {
		return "POST /crs HTTP/1.1\r\nHost: gw.test\r\n" + strings.Join(headers, "") + "Content-Type: " + ct +
			"\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body
	}
	evaluations := func() string {
		return grepLines(g.metrics(t), `edgeguard_waf_evaluations_total{route="crs",tier="2"}`)
	}
	withKey := "X-API-Key: " + key + "\r\n"
	for _, tc := range []struct {
		name, raw string
		status    int
		evals     string
	}{
		{"no credential", post("application/json", attack), 401, " 0"},
		{"wrong credential", post("application/json", attack, "X-API-Key: egk_wrong\r\n"), 401, " 0"},
		{"not JSON", post("text/plain", "1' UNION SELECT password FROM users--", withKey), 415, " 0"},
		{"attack, authenticated", post("application/json", attack, withKey), 403, " 1"},
		{"clean, authenticated", post("application/json", `{"name":"O'Brien"}`, withKey), 200, " 2"},
		{"third in the minute", post("application/json", attack, withKey), 403, " 3"},
		{"over the limit", post("application/json", attack, withKey), 429, " 3"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if r := rawDo(t, g.data, tc.raw); r.status != tc.status {
				t.Fatalf("got %d %q, want %d", r.status, r.body, tc.status)
			}
			if got := evaluations(); !strings.HasSuffix(strings.TrimSpace(got), tc.evals) {
				t.Errorf("evaluations after: %q, want%s", got, tc.evals)
			}
		})
	}
}

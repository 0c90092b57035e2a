package policy

import (
	"crypto/tls"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/valyala/fasthttp"

	"github.com/edgeguard/edgeguard/bpf/enforce"
	"github.com/edgeguard/edgeguard/dataplane/auth/certauth/certtest"
	"github.com/edgeguard/edgeguard/dataplane/connfilter"
	"github.com/edgeguard/edgeguard/dataplane/headers"
	"github.com/edgeguard/edgeguard/dataplane/proxy"
	"github.com/edgeguard/edgeguard/dataplane/router"
	"github.com/edgeguard/edgeguard/dataplane/validate/jsonbody"
	"github.com/edgeguard/edgeguard/dataplane/waf/inject"
	"github.com/edgeguard/edgeguard/policy/config"
)

func upstreamAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) {}}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Shutdown() })
	return ln.Addr().String()
}

func doc(upstreams, routes string) string {
	return "upstreams:\n" + upstreams + "routes:\n" + routes
}

// source is a configuration the test rewrites between reloads.
type source struct{ doc atomic.Value }

func (s *source) set(d string) { s.doc.Store(d) }
func (s *source) load() (*config.Loaded, error) {
	return config.Parse([]byte(s.doc.Load().(string)), "yaml", "test")
}

func newHolder(t *testing.T, initial string) (*Holder, *source) {
	t.Helper()
	src := &source{}
	src.set(initial)
	h, err := NewHolder(src.load, Options{}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatalf("NewHolder: %v", err)
	}
	t.Cleanup(h.Close)
	return h, src
}

func TestReload(t *testing.T) {
	a, b := upstreamAddr(t), upstreamAddr(t)
	ups := "  - name: a\n    targets: [" + a + "]\n  - name: b\n    targets: [" + b + "]\n"
	route := func(up string) string { return "  - name: r\n    path: /\n    upstream: " + up + "\n" }
	h, src := newHolder(t, doc(ups, route("a")))
	first := h.Current()
	if first.Version != 1 {
		t.Fatalf("first version = %d", first.Version)
	}
	poolA := first.Pool("a")

	t.Run("unchanged file is a no-op", func(t *testing.T) {
		res, err := h.Reload("test")
		if err != nil || res.Swapped || h.Current() != first {
			t.Fatalf("res=%+v err=%v", res, err)
		}
	})

	t.Run("invalid file keeps the running policy", func(t *testing.T) {
		src.set(doc(ups, route("missing")))
		res, err := h.Reload("test")
		if err == nil || !strings.Contains(err.Error(), `routes[0].upstream: unknown upstream "missing"`) {
			t.Fatalf("err = %v", err)
		}
		if res.Swapped || h.Current() != first {
			t.Fatal("a rejected reload must not swap")
		}
	})

	t.Run("a file that validates but does not compile keeps the running policy", func(t *testing.T) {
		src.set(doc(ups, route("a")+"  - name: r2\n    path: /a/../b\n    upstream: a\n"))
		res, err := h.Reload("test")
		if err == nil || !strings.Contains(err.Error(), `route "r2": path "/a/../b": not normalized`) {
			t.Fatalf("err = %v", err)
		}
		if res.Swapped || h.Current() != first {
			t.Fatal("a rejected reload must not swap")
		}
	})

	t.Run("good file swaps and reuses unchanged pools", func(t *testing.T) {
		src.set(doc(ups, route("b")))
		res, err := h.Reload("test")
		if err != nil || !res.Swapped || res.Version != 2 {
			t.Fatalf("res=%+v err=%v", res, err)
		}
		next := h.Current()
		if next.Pool("a") != poolA {
			t.Error("pool a did not change and should be carried over")
		}
		if _, _, res := next.Routes.Match([]byte("x"), []byte("GET"), []byte("/")); res != router.Matched {
			t.Errorf("new routes do not match: %v", res)
		}
		// The old snapshot stays usable for requests that started on it.
		if v, _, _ := first.Routes.Match([]byte("x"), []byte("GET"), []byte("/")); v == nil || v.Name != "r" {
			t.Error("old snapshot must stay intact")
		}
	})

	t.Run("changed pool is rebuilt and restart-only sections are reported", func(t *testing.T) {
		src.set("server: {write_timeout: 3s}\n" + doc("  - name: a\n    targets: ["+a+"]\n    connect_timeout: 1s\n  - name: b\n    targets: ["+b+"]\n", route("a")))
		res, err := h.Reload("test")
		if err != nil || !res.Swapped {
			t.Fatalf("res=%+v err=%v", res, err)
		}
		if h.Current().Pool("a") == poolA {
			t.Error("pool a changed and must be rebuilt")
		}
		if !slices.Equal(res.RestartRequired, []string{"server.write_timeout"}) {
			t.Errorf("RestartRequired = %v, want [server.write_timeout]", res.RestartRequired)
		}
	})
}

func TestCompileErrors(t *testing.T) {
	a := upstreamAddr(t)
	cases := []struct {
		name, doc, want string
	}{
		{"demo upstream not running", doc("  - name: d\n    targets: [builtin:demo]\n", "  - name: r\n    path: /\n    upstream: d\n"), "demo upstream is not running"},
		{"route path not normalized", doc("  - name: a\n    targets: ["+a+"]\n", "  - name: r\n    path: /a/../b\n    upstream: a\n"), `route "r"`},
		{"duplicate route", doc("  - name: a\n    targets: ["+a+"]\n", "  - name: r\n    path: /x\n    upstream: a\n  - name: s\n    path: /x\n    upstream: a\n"), `"s"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			l, err := config.Parse([]byte(tc.doc), "yaml", "test")
			if err != nil {
				t.Fatalf("config should be valid before compile: %v", err)
			}
			_, err = Compile(l, nil, Options{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

// TestCompileReportsEveryProblem: independent compile problems (a
// listener's TLS files, the management TLS files, an upstream, two routes
// on one path) come in one report, as check-config promises.
func TestCompileReportsEveryProblem(t *testing.T) {
	dir := t.TempDir()
	d := "listeners: [{name: pub, address: 127.0.0.1:18080, tls: {cert_file: " + dir + "/pub.crt, key_file: " + dir + "/pub.key}}]\n" +
		"management: {address: 127.0.0.1:19901, tls_cert_file: " + dir + "/mgmt.crt, tls_key_file: " + dir + "/mgmt.key}\n" +
		doc("  - name: a\n    targets: ["+upstreamAddr(t)+"]\n", "  - name: r\n    path: /x\n    upstream: a\n  - name: s\n    path: /x\n    upstream: a\n")
	l, err := config.Parse([]byte(d), "yaml", "test")
	if err != nil {
		t.Fatalf("config should be valid before compile: %v", err)
	}
	_, err = Check(l)
	for _, want := range []string{"pub.crt", "mgmt.crt", `route "s"`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("err = %v; want it to name %s", err, want)
		}
	}
}

// TestAllowlistAppliedAtStartAndReload: xdp.allowlist reaches the enforcer
// when the holder starts and when a reload changes it, without a restart.
func TestAllowlistAppliedAtStartAndReload(t *testing.T) {
	a := upstreamAddr(t)
	base := doc("  - name: a\n    targets: ["+a+"]\n", "  - name: r\n    path: /\n    upstream: a\n")
	f := connfilter.New()
	if err := f.ReplaceBlocklist([]netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}); err != nil {
		t.Fatal(err)
	}
	src := &source{}
	src.set(base + "xdp:\n  allowlist: [10.1.0.0/16]\n")
	h, err := NewHolder(src.load, Options{Enforcer: f}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	check := func(step string, want map[string]enforce.Reason) {
		t.Helper()
		for addr, r := range want {
			if got := f.Check(netip.MustParseAddr(addr)); got != r {
				t.Errorf("%s: %s = %v, want %v", step, addr, got, r)
			}
		}
	}
	check("start", map[string]enforce.Reason{"10.1.2.3": enforce.ReasonPassAllowlist, "10.2.0.1": enforce.ReasonDropBlocklist})

	src.set(base + "xdp:\n  allowlist: [10.2.0.0/16, \"2001:db8::/32\"]\n")
	res, err := h.Reload("test")
	if err != nil || !res.Swapped || len(res.RestartRequired) != 0 {
		t.Fatalf("reload = %+v %v, want swapped with no restart needed", res, err)
	}
	check("reload", map[string]enforce.Reason{"10.1.2.3": enforce.ReasonDropBlocklist, "10.2.0.1": enforce.ReasonPassAllowlist})

	src.set(base + "xdp:\n  allowlist: [10.2.0.1/8]\n")
	if _, err := h.Reload("test"); err == nil || !strings.Contains(err.Error(), "xdp.allowlist[0]") || !strings.Contains(err.Error(), "host bits set") {
		t.Fatalf("bad allowlist: %v", err)
	}
	check("rejected", map[string]enforce.Reason{"10.2.0.1": enforce.ReasonPassAllowlist})
}

// TestListenerTLSFollowsTheListener: the TLS settings served on a socket
// are those of the listener with its name and address, whatever a reload
// does to the order of the listeners.
func TestListenerTLSFollowsTheListener(t *testing.T) {
	dir := t.TempDir()
	ca := certtest.NewCA(t, "ca")
	cert, key := ca.Server(t).WriteFiles(t, dir, "srv")
	caFile := ca.WriteFile(t, dir, "ca")
	a := upstreamAddr(t)
	listeners := func(order ...string) string {
		defs := map[string]string{
			"public":  `{name: public, address: "127.0.0.1:18443", tls: {cert_file: ` + cert + `, key_file: ` + key + `}}`,
			"partner": `{name: partner, address: "127.0.0.1:18444", tls: {cert_file: ` + cert + `, key_file: ` + key + `, client_ca_file: ` + caFile + `, client_auth: require}}`,
		}
		out := "listeners:\n"
		for _, n := range order {
			out += "  - " + defs[n] + "\n"
		}
		return out
	}
	base := doc("  - name: a\n    targets: ["+a+"]\n", "  - name: r\n    path: /\n    upstream: a\n")
	h, src := newHolder(t, listeners("public", "partner")+base)
	partner := h.ListenerTLS(1)
	served := func() tls.ClientAuthType {
		c, err := partner.GetConfigForClient(&tls.ClientHelloInfo{})
		if err != nil {
			t.Fatal(err)
		}
		return c.ClientAuth
	}
	if served() != tls.RequireAndVerifyClientCert {
		t.Fatalf("partner serves %v", served())
	}
	src.set(listeners("partner", "public") + base)
	if _, err := h.Reload("test"); err != nil {
		t.Fatal(err)
	}
	if served() != tls.RequireAndVerifyClientCert {
		t.Fatalf("after reordering the listeners, partner's socket serves %v", served())
	}
}

// TestExampleSpoofableListsAreTheDefaults keeps the example config, which
// documents every default, in step with the built-in header lists.
func TestExampleSpoofableListsAreTheDefaults(t *testing.T) {
	l, err := config.Load("../deploy/examples/gatewayd.yaml")
	if err != nil {
		t.Fatal(err)
	}
	h := l.Config.Headers
	if !slices.Equal(h.Spoofable, headers.DefaultSpoofable) {
		t.Errorf("example headers.spoofable = %v\nwant the default %v", h.Spoofable, headers.DefaultSpoofable)
	}
	if !slices.Equal(h.TrustedSpoofable, headers.DefaultTrustedSpoofable) {
		t.Errorf("example headers.trusted_spoofable = %v\nwant the default %v", h.TrustedSpoofable, headers.DefaultTrustedSpoofable)
	}
}

// TestConfigLimitsAreTheDataPlanes: limits the config states on behalf of
// data-plane packages (which it cannot import) are theirs.
func TestConfigLimitsAreTheDataPlanes(t *testing.T) {
	for _, tc := range []struct {
		name         string
		config, real int
	}{
		{"max_json_depth limit", config.MaxJSONDepthLimit, jsonbody.MaxDepthLimit},
		{"waf.max_values default", config.DefaultWAFMaxValues, inject.DefaultMaxValues},
		{"waf.max_bytes default", config.DefaultWAFMaxBytes, inject.DefaultMaxBytes},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.config != tc.real {
				t.Errorf("config says %d, the data plane %d", tc.config, tc.real)
			}
		})
	}
}

// TestStripPrefixFollowsRouteCase: a case_insensitive route strips its
// prefix in whatever case the path matched it, so the upstream gets the
// path the route's policy was applied for.
func TestStripPrefixFollowsRouteCase(t *testing.T) {
	ups := "  - name: a\n    targets: [" + upstreamAddr(t) + "]\n"
	for _, tc := range []struct {
		route string
		fold  bool
	}{
		{"  - {name: ci, path: /Ci/, case_insensitive: true, strip_prefix: /Ci, upstream: a}\n", true},
		{"  - {name: cs, path: /Ci/, strip_prefix: /Ci, upstream: a}\n", false},
	} {
		h, _ := newHolder(t, doc(ups, tc.route))
		v, _, res := h.Current().Routes.Match([]byte("x"), []byte("GET"), []byte("/Ci/x"))
		if res != router.Matched {
			t.Fatalf("%s: %v", tc.route, res)
		}
		var st *proxy.Stage
		for _, s := range v.Stages {
			if p, ok := s.(*proxy.Stage); ok {
				st = p
			}
		}
		if st == nil || st.StripPrefix != "/Ci" || st.FoldCase != tc.fold {
			t.Errorf("%s: proxy stage %+v, want strip /Ci fold %v", tc.route, st, tc.fold)
		}
	}
}

// TestOpenAPISecurityWarning: an OpenAPI document's security requirements
// are not enforced by validation; on a route without auth.methods that is
// said (check-config, start, reload), and not on a route with them.
func TestOpenAPISecurityWarning(t *testing.T) {
	dir := t.TempDir()
	file := dir + "/api.yaml"
	spec := "openapi: 3.0.3\ninfo: {title: t, version: '1'}\npaths:\n  /admin:\n    get:\n      security: [{key: []}]\n      responses: {'200': {description: ok}}\n" +
		"  /open:\n    get:\n      security: [{}]\n      responses: {'200': {description: ok}}\n" +
		"components: {securitySchemes: {key: {type: apiKey, in: header, name: X-Api-Key}}}\n"
	if err := os.WriteFile(file, []byte(spec), 0o600); err != nil {
		t.Fatal(err)
	}
	ups := "  - name: a\n    targets: [" + upstreamAddr(t) + "]\n"
	for _, tc := range []struct {
		route string
		warn  bool
	}{
		{"  - {name: api, path: /api, upstream: a, validate: {openapi_file: " + file + "}}\n", true},
		{"  - {name: api, path: /api, upstream: a, validate: {openapi_file: " + file + "}, auth: {methods: [api_key]}}\n", false},
	} {
		d := doc(ups, tc.route)
		if !tc.warn {
			d += "auth: {api_keys: {keys: [{id: k1, client: acme, hash: \"sha256:" + strings.Repeat("ab", 32) + "\", routes: [api]}]}}\n"
		}
		l, err := config.Parse([]byte(d), "yaml", "test")
		if err != nil {
			t.Fatal(err)
		}
		warnings, err := Check(l)
		if err != nil {
			t.Fatal(err)
		}
		got := strings.Join(warnings, "\n")
		if tc.warn != strings.Contains(got, `/paths/~1admin/get/security asks for credentials`) || strings.Contains(got, "~1open") {
			t.Errorf("%s: warnings %q", tc.route, warnings)
		}
	}
}

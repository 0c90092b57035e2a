package policy

import (
	"io"
	"log/slog"
	"net/netip"
	"os"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/edgeguard/edgeguard/dataplane/connfilter"
	"github.com/edgeguard/edgeguard/dataplane/pipeline"
	"github.com/edgeguard/edgeguard/dataplane/ratelimit/login"
	"github.com/edgeguard/edgeguard/internal/redistest"
	"github.com/edgeguard/edgeguard/policy/config"
)

func rateDoc(upstream, limits, routes string) string {
	return "upstreams:\n  - name: a\n    targets: [" + upstream + "]\n" +
		"rate_limit:\n  limits:\n" + limits + "routes:\n" + routes
}

const rateLimits = `    api:
      second: 3
    search:
      minute: 100
      scope: group
`

const rateRoutes = `  - name: users
    path: /users
    upstream: a
    rate_limit: {limits: [api, search]}
  - name: items
    path: /items
    upstream: a
    rate_limit: {limits: [search]}
  - name: login
    path: /login
    upstream: a
    rate_limit: {limits: [api], login: true}
  - name: free
    path: /
    upstream: a
`

func stageNames(rt *Route) []string {
	var n []string
	for _, s := range rt.Stages {
		n = append(n, s.Name())
	}
	return n
}

func route(t *testing.T, p *Policy, path string) *Route {
	t.Helper()
	rt, _, _ := p.Routes.Match([]byte("x"), []byte("GET"), []byte(path))
	if rt == nil {
		t.Fatalf("no route for %s", path)
	}
	return rt
}

func TestRateLimitStages(t *testing.T) {
	h, _ := newHolder(t, rateDoc(upstreamAddr(t), rateLimits, rateRoutes))
	p := h.Current()
	tests := []struct {
		path string
		want []string
	}{
		{"/users", []string{"rate_limit", "waf", "proxy"}},
		{"/items", []string{"rate_limit", "waf", "proxy"}},
		{"/login", []string{"login_protection", "rate_limit", "waf", "proxy"}},
		{"/other", []string{"waf", "proxy"}},
	}
	for _, tc := range tests {
		t.Run(tc.path, func(t *testing.T) {
			if got := stageNames(route(t, p, tc.path)); !slices.Equal(got, tc.want) {
				t.Fatalf("stages %v, want %v", got, tc.want)
			}
		})
	}
	ids := p.rate.store.TableIDs()
	sort.Strings(ids)
	// The login route is also charged the login limit (rate_limit.limits.login).
	want := []string{"api@login", "api@users", login.AccountTable, login.IPTable, "login@login", "search"}
	if !slices.Equal(ids, want) {
		t.Fatalf("tables %v, want %v (route scope per route, group scope shared)", ids, want)
	}
	if p.rate.banFor != config.DefaultBanDuration {
		t.Fatalf("ban duration %s, want xdp.ban_default", p.rate.banFor)
	}
}

// charge sends one request through a route's stages up to (not including)
// the proxy and returns the status the gateway would answer (0: passed).
func charge(t *testing.T, p *Policy, path string, at time.Time) int {
	t.Helper()
	rt := route(t, p, path)
	var ctx fasthttp.RequestCtx
	r := &pipeline.Request{Start: at, ClientIP: netip.MustParseAddr("192.0.2.77")}
	r.PeerIP = r.ClientIP
	for _, st := range rt.Stages {
		if st.Name() == "proxy" {
			return 0
		}
		if st.Handle(&ctx, r) != pipeline.Continue {
			return ctx.Response.StatusCode()
		}
	}
	return 0
}

func TestRateLimitStateSurvivesReload(t *testing.T) {
	up := upstreamAddr(t)
	h, src := newHolder(t, rateDoc(up, rateLimits, rateRoutes))
	at := time.Now()
	for i := 0; i < 3; i++ {
		if s := charge(t, h.Current(), "/users", at); s != 0 {
			t.Fatalf("request %d refused: %d", i, s)
		}
	}
	if s := charge(t, h.Current(), "/users", at); s != 429 {
		t.Fatalf("4th request: %d, want 429", s)
	}
	// Retune the limit and reload: the client's usage carries over.
	src.set(rateDoc(up, "    api:\n      second: 4\n"+rateLimits[len("    api:\n      second: 3\n"):], rateRoutes))
	if res, err := h.Reload("test"); err != nil || !res.Swapped {
		t.Fatalf("reload: %+v %v", res, err)
	}
	if s := charge(t, h.Current(), "/users", at); s != 429 {
		t.Fatalf("after reload: %d, want 429 (a reload must not hand out fresh quota)", s)
	}
	// Drop the login route and the search limit: their tables go, the rest stay.
	src.set(rateDoc(up, "    api:\n      second: 4\n", `  - name: users
    path: /users
    upstream: a
    rate_limit: {limits: [api]}
`))
	if _, err := h.Reload("test"); err != nil {
		t.Fatal(err)
	}
	ids := h.Current().rate.store.TableIDs()
	if !slices.Equal(ids, []string{"api@users"}) {
		t.Fatalf("tables after reload %v, want [api@users]", ids)
	}
	if s := charge(t, h.Current(), "/users", at); s != 429 {
		t.Fatalf("after second reload: %d, want 429", s)
	}
}

func TestRateLimitReleaseOnFailedCompile(t *testing.T) {
	l, err := config.Parse([]byte(rateDoc("127.0.0.1:1", rateLimits, rateRoutes)), "yaml", "test")
	if err != nil {
		t.Fatal(err)
	}
	prev, err := compileRateLimit(l.Config, nil, Options{}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := prev.routeStages(&l.Config.Routes[0]); err != nil {
		t.Fatal(err)
	}
	next, _ := compileRateLimit(l.Config, prev, Options{BanDefault: time.Minute}, nil, nil)
	if next.store != prev.store || next.banFor != time.Minute {
		t.Fatal("store not carried over, or ban default ignored")
	}
	for i := range l.Config.Routes {
		if _, _, err := next.routeStages(&l.Config.Routes[i]); err != nil {
			t.Fatal(err)
		}
	}
	// The new policy failed to compile: it releases what prev does not use.
	next.release(prev)
	ids := prev.store.TableIDs()
	sort.Strings(ids)
	if !slices.Equal(ids, []string{"api@users", "search"}) {
		t.Fatalf("tables after failed compile %v, want prev's [api@users search]", ids)
	}
	prev.release(nil)
	if len(prev.store.TableIDs()) != 0 {
		t.Fatal("release(nil) left tables")
	}
}

func TestRateLimitBanDuration(t *testing.T) {
	l, err := config.Parse([]byte(rateDoc("127.0.0.1:1", rateLimits, rateRoutes)+"xdp:\n  ban_default: 3m\n"), "yaml", "test")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		cfg    time.Duration
		opt    time.Duration
		expect time.Duration
	}{
		{"rate_limit.ban_duration wins", time.Minute, 2 * time.Minute, time.Minute},
		{"then the enforcer's default", 0, 2 * time.Minute, 2 * time.Minute},
		{"then xdp.ban_default", 0, 0, 3 * time.Minute},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := *l.Config
			c.RateLimit.BanDuration = tc.cfg
			rs, _ := compileRateLimit(&c, nil, Options{BanDefault: tc.opt}, nil, nil)
			if rs.banFor != tc.expect {
				t.Fatalf("ban duration %s, want %s", rs.banFor, tc.expect)
			}
		})
	}
}

// TestRateLimitCluster: two gateways compiled from the same config share a
// limit with span: cluster through a real Redis, and a reload keeps the
// Redis client unless rate_limit.cluster changes.
func TestRateLimitCluster(t *testing.T) {
	rs := redistest.Start(t)
	up := upstreamAddr(t)
	clusterDoc := func(prefix string) string {
		return "upstreams:\n  - name: a\n    targets: [" + up + "]\n" +
			"rate_limit:\n  cluster:\n    addresses: [\"" + rs.Addr() + "\"]\n    gateways: 2\n    timeout: 2s\n    key_prefix: \"" + prefix + "\"\n" +
			"  limits:\n    api:\n      minute: 6\n      span: cluster\n" +
			"routes:\n  - name: users\n    path: /users\n    upstream: a\n    rate_limit: {limits: [api]}\n"
	}
	h1, src := newHolder(t, clusterDoc("t1:"))
	h2, _ := newHolder(t, clusterDoc("t1:"))
	allowed := 0
	for i := range 10 {
		h := h1
		if i%2 == 1 {
			h = h2
		}
		if s := charge(t, h.Current(), "/users", time.Now()); s == 0 {
			allowed++
		} else if s != 429 {
			t.Fatalf("request %d: status %d", i, s)
		}
		time.Sleep(20 * time.Millisecond) // let each lease land: the count is then exact
	}
	if allowed != 6 {
		t.Fatalf("two gateways allowed %d, want the shared limit, 6", allowed)
	}
	c := h1.Current().rate.cluster
	if res, err := h1.Reload("test"); err != nil || c == nil || h1.Current().rate.cluster != c {
		t.Fatalf("reload with the same cluster section: %+v %v; client kept: %v", res, err, h1.Current().rate.cluster == c)
	}
	src.set(clusterDoc("t2:"))
	if _, err := h1.Reload("test"); err != nil || h1.Current().rate.cluster == c {
		t.Fatalf("reload with a new key prefix: %v; client replaced: %v", err, h1.Current().rate.cluster != c)
	}
}

// TestRateLimitClusterSharesBans: a burst offender banned by one gateway's
// limiter is banned at the other gateway's enforcer too, with its expiry.
func TestRateLimitClusterSharesBans(t *testing.T) {
	rs := redistest.Start(t)
	doc := "upstreams:\n  - name: a\n    targets: [" + upstreamAddr(t) + "]\n" +
		"rate_limit:\n  ban_duration: 1m\n  cluster:\n    addresses: [\"" + rs.Addr() + "\"]\n    gateways: 2\n    timeout: 2s\n    key_prefix: \"tb:\"\n" +
		"  limits:\n    api:\n      minute: 2\n      span: cluster\n" +
		"routes:\n  - name: users\n    path: /users\n    upstream: a\n    rate_limit: {limits: [api]}\n"
	holder := func() (*Holder, *connfilter.Filter) {
		f := connfilter.New()
		src := &source{}
		src.set(doc)
		h, err := NewHolder(src.load, Options{Enforcer: f}, slog.New(slog.NewTextHandler(io.Discard, nil)))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(h.Close)
		return h, f
	}
	h1, f1 := holder()
	_, f2 := holder()
	// charge's client goes on far past the limit on gateway 1 until banned.
	for i := 0; ; i++ {
		if bans, _ := f1.Bans(); len(bans) > 0 {
			break
		}
		if i == 100 {
			t.Fatal("client never banned")
		}
		charge(t, h1.Current(), "/users", time.Now())
		time.Sleep(2 * time.Millisecond)
	}
	t0 := time.Now()
	for {
		bans, err := f2.Bans()
		if err != nil {
			t.Fatal(err)
		}
		if len(bans) == 1 && bans[0].Source == netip.MustParsePrefix("192.0.2.77/32") {
			if d := time.Until(bans[0].Until); d < 50*time.Second || d > time.Minute+time.Second {
				t.Fatalf("shared ban lasts %s, want the limiter's minute", d)
			}
			break
		}
		if time.Since(t0) > time.Second {
			t.Fatalf("gateway 2 bans %v: the ban did not spread within a second", bans)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestRateLimitClusterPassword: rate_limit.cluster.password_file
// authenticates to Redis; a wrong password means fallback, and a missing
// file is a compile error naming the key.
func TestRateLimitClusterPassword(t *testing.T) {
	rs := redistest.Start(t, "--requirepass", "s3cret")
	dir := t.TempDir()
	write := func(name, content string) string {
		p := dir + "/" + name
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	doc := func(file string) string {
		return "upstreams:\n  - name: a\n    targets: [127.0.0.1:1]\n" +
			"rate_limit:\n  cluster:\n    addresses: [\"" + rs.Addr() + "\"]\n    gateways: 1\n    timeout: 2s\n    password_file: " + file + "\n" +
			"  limits:\n    api:\n      minute: 2\n      span: cluster\n" +
			"routes:\n  - name: users\n    path: /users\n    upstream: a\n    rate_limit: {limits: [api]}\n"
	}
	tests := []struct {
		name   string
		file   string
		wantUp bool
	}{
		{"right password", write("good", "s3cret\n"), true},
		{"wrong password", write("bad", "guess\n"), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h, _ := newHolder(t, doc(tc.file))
			c := h.Current().rate.cluster
			for deadline := time.Now().Add(3 * time.Second); ; time.Sleep(10 * time.Millisecond) {
				charge(t, h.Current(), "/users", time.Now())
				if c.Up() == tc.wantUp && (!tc.wantUp || c.Ops() > 1) {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("cluster up %v after 3s, want %v", c.Up(), tc.wantUp)
				}
			}
		})
	}
	l, err := config.Parse([]byte(doc(dir+"/missing")), "yaml", "test")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Compile(l, nil, Options{}); err == nil || !strings.Contains(err.Error(), "rate_limit.cluster.password_file") {
		t.Fatalf("missing password file: %v", err)
	}
}

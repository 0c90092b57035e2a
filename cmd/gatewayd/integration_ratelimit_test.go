package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/edgeguard/edgeguard/internal/netlab"
)

// rlOutcome is what a paced client saw for one request.
type rlOutcome struct {
	sent       time.Time
	latency    time.Duration
	status     int
	retryAfter string
	limitHdr   string
	err        error
}

func (o rlOutcome) String() string {
	if o.err != nil {
		return fmt.Sprintf("+%s err(%v)", o.latency.Round(time.Millisecond), o.err)
	}
	return fmt.Sprintf("+%s %d", o.latency.Round(time.Millisecond), o.status)
}

// rlPaced sends GET path at rate requests/s for at most dur, over lanes
// keep-alive connections made by dial (a lane whose connection fails
// reconnects for its next request). It stops early once stop returns true
// for the outcomes so far. Outcomes are returned in the order sent.
func rlPaced(dial func() (net.Conn, error), path string, rate, lanes int, dur time.Duration, stop func([]rlOutcome) bool) []rlOutcome {
	var mu sync.Mutex
	var out []rlOutcome
	done := make(chan struct{})
	var once sync.Once
	start := time.Now()
	interval := time.Duration(lanes) * time.Second / time.Duration(rate)
	var wg sync.WaitGroup
	for lane := 0; lane < lanes; lane++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var c net.Conn
			var br *bufio.Reader
			defer func() {
				if c != nil {
					c.Close()
				}
			}()
			next := start.Add(time.Duration(lane) * interval / time.Duration(lanes))
			for time.Since(start) < dur {
				select {
				case <-done:
					return
				default:
				}
				if d := time.Until(next); d > 0 {
					time.Sleep(d) // pacing, not waiting for a condition
				}
				next = next.Add(interval)
				o := rlOutcome{sent: time.Now()}
				if c == nil {
					var err error
					if c, err = dial(); err != nil {
						c = nil
						o.err, o.latency = fmt.Errorf("dial: %w", err), time.Since(o.sent)
					} else {
						br = bufio.NewReader(c)
					}
				}
				if c != nil {
					_ = c.SetDeadline(time.Now().Add(time.Second))
					resp, err := rlRoundTrip(c, br, path)
					o.latency = time.Since(o.sent)
					if err != nil {
						o.err = err
						c.Close()
						c = nil
					} else {
						o.status, o.retryAfter, o.limitHdr = resp.StatusCode, resp.Header.Get("Retry-After"), resp.Header.Get("X-Ratelimit-Limit")
					}
				}
				mu.Lock()
				out = append(out, o)
				if stop(out) {
					once.Do(func() { close(done) })
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	sort.Slice(out, func(i, j int) bool { return out[i].sent.Before(out[j].sent) })
	return out
}

func rlRoundTrip(c net.Conn, br *bufio.Reader, path string) (*http.Response, error) {
	if _, err := io.WriteString(c, "GET "+path+" HTTP/1.1\r\nHost: gw\r\n\r\n"); err != nil {
		return nil, err
	}
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return nil, err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp, err
}

// rlCheckGraduated checks the life of a client at 3x its limit: delayed
// successes first, then 429s with Retry-After, then its connections fail,
// and for the ban's duration every request fails.
func rlCheckGraduated(t *testing.T, out []rlOutcome, ban time.Duration) (firstErr time.Time) {
	t.Helper()
	first429, firstErrIdx := -1, -1
	delayed := 0
	for i, o := range out {
		switch {
		case o.err != nil && firstErrIdx < 0:
			firstErrIdx = i
		case o.err == nil && o.status == 429 && first429 < 0:
			first429 = i
			if n, err := strconv.Atoi(o.retryAfter); err != nil || n < 1 {
				t.Errorf("429 with Retry-After %q", o.retryAfter)
			}
		case o.err == nil && o.status == 200 && first429 < 0 && o.latency >= 50*time.Millisecond:
			delayed++
		}
	}
	if delayed == 0 || first429 < 0 || firstErrIdx < 0 || firstErrIdx < first429 {
		t.Fatalf("want delayed 200s, then 429s, then failed connections; got %d delayed, first 429 at #%d, first failure at #%d:\n%v",
			delayed, first429, firstErrIdx, out)
	}
	firstErr = out[firstErrIdx].sent
	banned := 0
	for _, o := range out {
		// Other lanes' keep-alive connections are each closed on their
		// next request; allow half a second for that.
		if o.sent.After(firstErr.Add(500*time.Millisecond)) && o.sent.Before(firstErr.Add(ban-500*time.Millisecond)) {
			if o.err == nil {
				t.Fatalf("request at +%s into the ban got %d:\n%v", o.sent.Sub(firstErr), o.status, out)
			}
			banned++
		}
	}
	if banned < 5 {
		t.Fatalf("only %d requests sent during the ban:\n%v", banned, out)
	}
	return firstErr
}

const rlLimits = `
rate_limit:
  max_delay: 200ms
  ban_duration: 3s
  limits:
    api:
      second: 10
`

const rlRoute = `
  - name: api
    path: /
    upstream: api
    rate_limit: {limits: [api], headers: true}
`

// TestRateLimitGraduatedUserspace drives the real gatewayd with a client
// at 3x its limit (30 requests/s against 10/s). Without XDP the ban is
// enforced by the user-space accept filter: the offender's connections are
// closed without a response, new ones are closed at accept until the ban
// expires, and then the client is served again.
func TestRateLimitGraduatedUserspace(t *testing.T) {
	up := startUpstream(t, "api", nil)
	g := startGateway(t, baseConfig("  - name: api\n    targets: ["+up.addr()+"]\n", rlRoute)+rlLimits)
	dial := func() (net.Conn, error) { return net.DialTimeout("tcp", g.data, time.Second) }
	out := rlPaced(dial, "/x", 30, 10, 8*time.Second, rlStopAfterBan(2500*time.Millisecond))
	firstErr := rlCheckGraduated(t, out, 3*time.Second)
	for _, o := range out {
		if o.status == 200 && o.limitHdr != "10" {
			t.Fatalf("X-RateLimit-Limit %q on a 200 of a route with headers on", o.limitHdr)
		}
	}

	// The ban expires: the client is served again.
	rlWaitServed(t, dial, firstErr.Add(2*time.Second))
	m := g.metrics(t)
	for _, want := range []string{
		`edgeguard_ratelimit_requests_total{route="api",limit="api",result="delayed"}`,
		`edgeguard_ratelimit_requests_total{route="api",limit="api",result="rejected"}`,
		`edgeguard_ratelimit_requests_total{route="api",limit="api",result="banned"}`,
		`edgeguard_denied_total{reason="burst_banned"}`,
		// Closed without a response: no status class, not a 200.
		`edgeguard_requests_total{route="api",class="other"}`,
	} {
		if !regexp.MustCompile(regexp.QuoteMeta(want) + ` [1-9]`).MatchString(m) {
			t.Errorf("metric %s missing or zero", want)
		}
	}
	if !strings.Contains(m, `edgeguard_ratelimit_bans_total{result="issued"} 1`) {
		t.Errorf("want exactly one ban issued:\n%s", rlGrep(m, "bans_total"))
	}
	if !strings.Contains(m, `edgeguard_ratelimit_tracked_keys{table="api@api"} 1`) {
		t.Errorf("tracked keys gauge:\n%s", rlGrep(m, "tracked_keys"))
	}
	g.waitLog("burst offender banned", `"client":"127.0.0.1"`, `"enforcer":"userspace"`)
}

// rlStopAfterBan stops a paced run once failures have lasted for d.
func rlStopAfterBan(d time.Duration) func([]rlOutcome) bool {
	var firstErr time.Time
	return func(out []rlOutcome) bool {
		o := out[len(out)-1]
		if o.err != nil && firstErr.IsZero() {
			firstErr = o.sent
		}
		return !firstErr.IsZero() && o.sent.Sub(firstErr) > d
	}
}

// rlWaitServed polls with fresh connections until a request succeeds; it
// fails if one succeeds before notBefore (the ban still runs) or none
// within 10s.
func rlWaitServed(t *testing.T, dial func() (net.Conn, error), notBefore time.Time) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		c, err := dial()
		if err == nil {
			_ = c.SetDeadline(time.Now().Add(time.Second))
			resp, err := rlRoundTrip(c, bufio.NewReader(c), "/x")
			c.Close()
			if err == nil && resp.StatusCode == 200 {
				if time.Now().Before(notBefore) {
					t.Fatalf("served %s before the ban could have expired", notBefore.Sub(time.Now()))
				}
				return
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatal("client not served again within 10s of the ban")
}

func rlGrep(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// TestRateLimitGraduatedXDP is the same client at 3x its limit, with
// gatewayd in a network namespace and XDP on its veth: after the ban, the
// client's packets are dropped at the NIC (counted by XDP as banned) until
// the ban expires.
func TestRateLimitGraduatedXDP(t *testing.T) {
	p := netlab.NewVethPair(t, []string{"10.200.0.2"}, nil)
	pin := "/sys/fs/bpf/edgeguard-test-rl-" + strconv.Itoa(os.Getpid())
	t.Cleanup(func() { _ = os.RemoveAll(pin) })
	doc := `
listeners: [{name: public, address: "10.200.0.1:8080"}]
management: {address: "127.0.0.1:9901"}
access_log: {path: "off"}
upstreams:
  - name: api
    targets: [builtin:demo]
routes:` + rlRoute + rlLimits + `
xdp:
  mode: native
  interfaces: [` + p.SrvIf + `]
  pin_path: ` + pin + `
`
	g := startGatewayWith(t, doc, "nsenter", "--net=/run/netns/"+p.Srv.Name)
	dial := func() (net.Conn, error) {
		var c net.Conn
		var err error
		if nerr := netlab.Enter(p.Cli.Name, func() { c, err = net.DialTimeout("tcp", "10.200.0.1:8080", netlab.ConnectTimeout) }); nerr != nil {
			return nil, nerr
		}
		return c, err
	}
	metrics := func() string {
		var c net.Conn
		var err error
		p.Srv.Do(t, func() { c, err = net.DialTimeout("tcp", "127.0.0.1:9901", time.Second) })
		if err != nil {
			t.Fatalf("dial management: %v", err)
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		io.WriteString(c, "GET /metrics HTTP/1.1\r\nHost: m\r\nConnection: close\r\n\r\n")
		b, _ := io.ReadAll(c)
		return string(b)
	}
	dropped := func(m string) int {
		s := regexp.MustCompile(`edgeguard_xdp_packets_total\{verdict="drop_banned"\} (\d+)`).FindStringSubmatch(m)
		if s == nil {
			return 0
		}
		n, _ := strconv.Atoi(s[1])
		return n
	}
	before := dropped(metrics())
	out := rlPaced(dial, "/x", 30, 10, 8*time.Second, rlStopAfterBan(2500*time.Millisecond))
	firstErr := rlCheckGraduated(t, out, 3*time.Second)
	for _, o := range out {
		if o.err != nil && o.sent.After(firstErr.Add(500*time.Millisecond)) && o.sent.Before(firstErr.Add(2500*time.Millisecond)) {
			var nerr net.Error
			if !errors.As(o.err, &nerr) || !nerr.Timeout() {
				t.Fatalf("during the XDP ban a request failed with %v, want a timeout (packets dropped, not refused)", o.err)
			}
		}
	}
	m := metrics()
	if n := dropped(m) - before; n < 5 {
		t.Fatalf("XDP counted %d banned packets during the ban, want the offender's packets:\n%s", n, rlGrep(m, "edgeguard_xdp_packets_total"))
	}
	rlWaitServed(t, dial, firstErr.Add(2*time.Second))
	g.waitLog("burst offender banned", `"client":"10.200.0.2"`, `"enforcer":"native"`)
}

// TestLoginLockoutAndReset: failed logins (upstream 401) are counted per
// client and account; the third locks the client out with 429
// login_locked and Retry-After; a success before that clears the count.
func TestLoginLockoutAndReset(t *testing.T) {
	up := startUpstream(t, "auth", func(ctx *fasthttp.RequestCtx) {
		if strings.Contains(string(ctx.PostBody()), `"password":"right"`) {
			ctx.SetStatusCode(200)
			return
		}
		ctx.SetStatusCode(401)
	})
	g := startGateway(t, baseConfig("  - name: auth\n    targets: ["+up.addr()+"]\n", `
  - name: login
    path: /login
    upstream: auth
    rate_limit: {login: true}
`)+`
rate_limit:
  limits:
    login: {second: 100}             # this test is about lockouts, not the login route's request rate
  login:
    max_failures: 3
    lockout: 2s
    delay_step: 20ms
    max_delay: 100ms
`)
	login := func(user, pw string) response {
		t.Helper()
		req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
		defer fasthttp.ReleaseRequest(req)
		defer fasthttp.ReleaseResponse(resp)
		req.Header.SetMethod("POST")
		req.SetRequestURI("http://" + g.data + "/login")
		req.Header.SetContentType("application/json")
		req.SetBodyString(`{"username":"` + user + `","password":"` + pw + `"}`)
		if err := (&fasthttp.Client{}).DoTimeout(req, resp, 5*time.Second); err != nil {
			t.Fatal(err)
		}
		return response{status: resp.StatusCode(), body: string(resp.Body()),
			headers: map[string]string{"Retry-After": string(resp.Header.Peek("Retry-After"))}}
	}
	steps := []struct {
		name, user, pw string
		want           int
	}{
		{"failure 1", "alice", "wrong", 401},
		{"failure 2", "alice", "wrong", 401},
		{"success resets", "alice", "right", 200},
		{"failure 1 again", "alice", "wrong", 401},
		{"failure 2 again", "alice", "wrong", 401},
		{"failure 3: lockout begins", "alice", "wrong", 401},
		{"locked even with the right password", "alice", "right", 429},
	}
	for _, s := range steps {
		r := login(s.user, s.pw)
		if r.status != s.want {
			t.Fatalf("%s: %d %q, want %d", s.name, r.status, r.body, s.want)
		}
		if r.status == 429 {
			if !strings.Contains(r.body, `"reason":"login_locked"`) || r.headers["Retry-After"] != "2" {
				t.Fatalf("%s: body %q Retry-After %q", s.name, r.body, r.headers["Retry-After"])
			}
		}
	}
	if up.count() != 6 {
		t.Fatalf("upstream saw %d attempts, want 6 (the locked one never reaches it)", up.count())
	}
	waitFor(t, "lockout to expire", func() bool { return login("alice", "right").status == 200 })
	m := g.metrics(t)
	for _, want := range []string{
		`edgeguard_login_attempts_total{route="login",result="failed"} 5`,
		`edgeguard_login_attempts_total{route="login",result="succeeded"} 2`,
		`edgeguard_login_attempts_total{route="login",result="locked_account"} [1-9]`,
		`edgeguard_denied_total{reason="login_locked"} [1-9]`,
	} {
		if !regexp.MustCompile(regexp.QuoteMeta(want[:strings.LastIndexByte(want, ' ')]) + want[strings.LastIndexByte(want, ' '):]).MatchString(m) {
			t.Errorf("metrics missing %s:\n%s", want, rlGrep(m, "login"))
		}
	}
}

// TestLoginRouteHasAStricterLimit: a route marked login is charged the
// login limit (3 a second by default) without any limit configured.
func TestLoginRouteHasAStricterLimit(t *testing.T) {
	up := startUpstream(t, "auth", func(ctx *fasthttp.RequestCtx) { ctx.SetStatusCode(200) })
	g := startGateway(t, baseConfig("  - name: auth\n    targets: ["+up.addr()+"]\n", `
  - name: login
    path: /login
    upstream: auth
    rate_limit: {login: true}
`))
	limited := 0
	for range 5 { // more would pass 200% of the limit: closed and banned
		r := g.do(t, "POST", "/login")
		switch {
		case r.status == 429 && strings.Contains(r.body, `"reason":"rate_limited"`):
			limited++
		case r.status != 200:
			t.Fatalf("unexpected %d %q", r.status, r.body)
		}
	}
	if limited == 0 {
		t.Fatal("5 immediate logins from one client were all served: no login limit")
	}
}

// TestRateLimitAllowlistedBurstGets429 drives an allowlisted client at 3x
// its limit through the real gatewayd: it gets 429s, never a closed
// connection or a ban (it was banned and its requests dropped for the
// ban period).
func TestRateLimitAllowlistedBurstGets429(t *testing.T) {
	up := startUpstream(t, "api", nil)
	g := startGateway(t, baseConfig("  - name: api\n    targets: ["+up.addr()+"]\n", rlRoute)+rlLimits+
		"xdp: {allowlist: [127.0.0.1/32]}\n")
	dial := func() (net.Conn, error) { return net.DialTimeout("tcp", g.data, time.Second) }
	out := rlPaced(dial, "/x", 30, 10, 3*time.Second, func([]rlOutcome) bool { return false })
	refused := 0
	for _, o := range out {
		if o.err != nil {
			t.Fatalf("request at +%s failed: %v (an allowlisted client is never cut off)", o.sent.Sub(out[0].sent), o.err)
		}
		if o.status == 429 {
			refused++
		}
	}
	if refused == 0 {
		t.Fatalf("no 429 in %d requests at 3x the limit", len(out))
	}
	m := g.metrics(t)
	if !strings.Contains(m, `edgeguard_ratelimit_bans_total{result="issued"} 0`) ||
		!regexp.MustCompile(`edgeguard_ratelimit_bans_total\{result="allowlisted"\} [1-9]`).MatchString(m) {
		t.Errorf("bans:\n%s", rlGrep(m, "bans_total"))
	}
}

// TestUnbanLiftsBurstBanAtOnce: an operator's unban of a burst-banned
// source serves it on its next connection, not only at the lifted ban's
// end (the limiter's own memo of the ban is cleared with it).
func TestUnbanLiftsBurstBanAtOnce(t *testing.T) {
	up := startUpstream(t, "api", nil)
	doc := mgmtConfig(up.addr(), t.TempDir(), "rate_limit:\n  ban_duration: 10m\n  limits:\n    api: {second: 5}\n")
	doc = strings.Replace(doc, "routes: [{name: r, path: /, upstream: api}]",
		"routes: [{name: r, path: /, upstream: api, rate_limit: {limits: [api]}}]", 1)
	g := startGateway(t, doc)
	const src = "127.0.0.7"
	dial := func() (net.Conn, error) {
		d := net.Dialer{Timeout: time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}
		return d.Dial("tcp", g.data)
	}
	out := rlPaced(dial, "/x", 100, 4, 5*time.Second, func(o []rlOutcome) bool { return o[len(o)-1].err != nil })
	if out[len(out)-1].err == nil {
		t.Fatalf("never banned:\n%v", out)
	}
	if requestFrom(t, g, src) {
		t.Fatal("served during the ban")
	}
	if code, out := runCtl(t, "--target", g.mgmt, "unban", src); code != 0 {
		t.Fatalf("unban: exit %d\n%s", code, out)
	}
	if !requestFrom(t, g, src) {
		t.Fatal("not served after the unban")
	}
}

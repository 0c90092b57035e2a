package login

import (
	"net/netip"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/edgeguard/edgeguard/dataplane/pipeline"
	"github.com/edgeguard/edgeguard/dataplane/ratelimit"
)

type fixture struct {
	t      *testing.T
	store  *ratelimit.Store
	st     *Stage
	now    time.Duration
	delays []time.Duration
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{t: t, store: ratelimit.NewStore(), now: time.Hour}
	t.Cleanup(f.store.Close)
	st, err := NewStage(f.store, Config{
		Route: "login", AccountFields: []string{"username"}, MaxFailures: 3,
		FailureWindow: 10 * time.Minute, Lockout: 5 * time.Minute,
		DelayStep: 100 * time.Millisecond, MaxDelay: 150 * time.Millisecond,
		MaxKeys: 1000, IPv6Prefix: 64,
		Sleep: func(d time.Duration) { f.delays = append(f.delays, d) },
	})
	if err != nil {
		t.Fatal(err)
	}
	f.st = st
	return f
}

type attempt struct {
	ip, user string
	upstream int             // what the upstream answers if the request gets there
	reason   pipeline.Reason // a gateway denial before the upstream (e.g. auth)
}

type result struct {
	status     int
	reason     pipeline.Reason
	detail     string
	retryAfter string
	delay      time.Duration
}

func (f *fixture) do(a attempt) result {
	f.t.Helper()
	f.delays = nil
	var ctx fasthttp.RequestCtx
	ctx.Request.Header.SetMethod(fasthttp.MethodPost)
	ctx.Request.Header.SetContentType("application/json")
	if a.user != "" {
		ctx.Request.SetBodyString(`{"username":"` + a.user + `","password":"pw"}`)
	}
	r := &pipeline.Request{Start: f.store.Epoch().Add(f.now), ClientIP: netip.MustParseAddr(a.ip)}
	r.PeerIP = r.ClientIP
	if f.st.Handle(&ctx, r) == pipeline.Continue {
		if a.reason != pipeline.ReasonNone {
			pipeline.Deny(&ctx, r, 401, a.reason) // a later stage refused (e.g. auth)
		} else {
			ctx.Response.SetStatusCode(a.upstream)
		}
	}
	f.st.ObserveResponse(&ctx, r)
	res := result{status: ctx.Response.StatusCode(), reason: r.Reason, detail: r.Detail,
		retryAfter: string(ctx.Response.Header.Peek("Retry-After"))}
	if len(f.delays) > 0 {
		res.delay = f.delays[0]
	}
	return res
}

func TestLockoutPerClientAndAccount(t *testing.T) {
	type step struct {
		name       string
		advance    time.Duration
		a          attempt
		wantStatus int
		wantDelay  time.Duration
		wantDetail string
		wantRetry  string
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"client locked out after 3 failures, progressive delay", []step{
			{"1st failure", 0, attempt{ip: "192.0.2.1", user: "alice", upstream: 401}, 401, 0, "", ""},
			{"2nd after 1 failure: 100ms", 0, attempt{ip: "192.0.2.1", user: "bob", upstream: 401}, 401, 100 * time.Millisecond, "", ""},
			{"3rd after 2: capped at 150ms", 0, attempt{ip: "192.0.2.1", user: "carol", upstream: 403}, 403, 150 * time.Millisecond, "", ""},
			{"locked: any account", time.Minute, attempt{ip: "192.0.2.1", user: "dave", upstream: 200}, 429, 0, "login_locked_client", "240"},
			{"other clients unaffected", 0, attempt{ip: "192.0.2.2", user: "erin", upstream: 200}, 200, 0, "", ""},
			{"lockout ends", 4 * time.Minute, attempt{ip: "192.0.2.1", user: "dave", upstream: 200}, 200, 150 * time.Millisecond, "", ""},
			// The failures were against other accounts: logging into one's
			// own does not wipe them. The next failure locks again.
			{"success for another account keeps them", 0, attempt{ip: "192.0.2.1", user: "eve", upstream: 401}, 401, 150 * time.Millisecond, "", ""},
			{"locked again", 0, attempt{ip: "192.0.2.1", user: "eve", upstream: 200}, 429, 0, "login_locked_client", "300"},
		}},
		{"own typos then success clear client and account", []step{
			{"1", 0, attempt{ip: "192.0.2.5", user: "alice", upstream: 401}, 401, 0, "", ""},
			{"2", 0, attempt{ip: "192.0.2.5", user: "Alice", upstream: 401}, 401, 100 * time.Millisecond, "", ""},
			{"success", 0, attempt{ip: "192.0.2.5", user: "alice", upstream: 200}, 200, 150 * time.Millisecond, "", ""},
			{"cleared", 0, attempt{ip: "192.0.2.5", user: "alice", upstream: 401}, 401, 0, "", ""},
		}},
		{"the login body must name the account once", []step{
			{"duplicate key", 0, attempt{ip: "192.0.2.6", user: `decoy","username":"alice`, upstream: 401}, 400, 0, "login_account_ambiguous", ""},
			{"nothing was counted", 0, attempt{ip: "192.0.2.6", user: "alice", upstream: 401}, 401, 0, "", ""},
		}},
		{"account locked out across clients, case-insensitively", []step{
			{"from a", 0, attempt{ip: "192.0.2.10", user: "admin", upstream: 401}, 401, 0, "", ""},
			{"from b", 0, attempt{ip: "192.0.2.11", user: "Admin", upstream: 401}, 401, 100 * time.Millisecond, "", ""},
			{"from c", 0, attempt{ip: "192.0.2.12", user: "ADMIN", upstream: 401}, 401, 150 * time.Millisecond, "", ""},
			{"from d: account locked", 0, attempt{ip: "192.0.2.13", user: "admin", upstream: 200}, 429, 0, "login_locked_account", "300"},
			{"d, other account: passes", 0, attempt{ip: "192.0.2.13", user: "root", upstream: 200}, 200, 0, "", ""},
		}},
		{"failures forgotten after the window", []step{
			{"1", 0, attempt{ip: "192.0.2.20", upstream: 401}, 401, 0, "", ""},
			{"2", 0, attempt{ip: "192.0.2.20", upstream: 401}, 401, 100 * time.Millisecond, "", ""},
			{"window passes", 10 * time.Minute, attempt{ip: "192.0.2.20", upstream: 401}, 401, 0, "", ""},
			{"count restarted at 1", 0, attempt{ip: "192.0.2.20", upstream: 401}, 401, 100 * time.Millisecond, "", ""},
		}},
		{"gateway auth failures count; other outcomes do not", []step{
			{"gateway 401", 0, attempt{ip: "192.0.2.30", reason: pipeline.ReasonUnauthenticated}, 401, 0, "", ""},
			{"upstream 500: neither", 0, attempt{ip: "192.0.2.30", upstream: 500}, 500, 100 * time.Millisecond, "", ""},
			{"rate limited: neither", 0, attempt{ip: "192.0.2.30", reason: pipeline.ReasonRateLimited}, 401, 100 * time.Millisecond, "", ""},
			{"upstream 404: neither", 0, attempt{ip: "192.0.2.30", upstream: 404}, 404, 100 * time.Millisecond, "", ""},
			{"gateway 401 again", 0, attempt{ip: "192.0.2.30", reason: pipeline.ReasonUnauthenticated}, 401, 100 * time.Millisecond, "", ""},
			{"upstream 401: third", 0, attempt{ip: "192.0.2.30", upstream: 401}, 401, 150 * time.Millisecond, "", ""},
			{"locked", 0, attempt{ip: "192.0.2.30", upstream: 200}, 429, 0, "login_locked_client", "300"},
		}},
		{"ipv6 clients aggregate to /64", []step{
			{"1", 0, attempt{ip: "2001:db8::1", upstream: 401}, 401, 0, "", ""},
			{"2", 0, attempt{ip: "2001:db8::2", upstream: 401}, 401, 100 * time.Millisecond, "", ""},
			{"3", 0, attempt{ip: "2001:db8::3", upstream: 401}, 401, 150 * time.Millisecond, "", ""},
			{"same /64 locked", 0, attempt{ip: "2001:db8::4", upstream: 200}, 429, 0, "login_locked_client", "300"},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			for _, s := range tc.steps {
				f.now += s.advance
				got := f.do(s.a)
				if got.status != s.wantStatus || got.delay != s.wantDelay || got.detail != s.wantDetail || got.retryAfter != s.wantRetry {
					t.Fatalf("%s: status %d delay %v detail %q Retry-After %q; want %d %v %q %q",
						s.name, got.status, got.delay, got.detail, got.retryAfter, s.wantStatus, s.wantDelay, s.wantDetail, s.wantRetry)
				}
				if (got.status == 429 && got.reason != pipeline.ReasonLoginLocked) || (got.status == 400 && got.reason != pipeline.ReasonLoginAmbiguous) {
					t.Fatalf("%s: reason %v", s.name, got.reason)
				}
			}
		})
	}
}

func TestStateSurvivesNewStage(t *testing.T) {
	f := newFixture(t)
	for i := 0; i < 3; i++ {
		f.do(attempt{ip: "192.0.2.40", upstream: 401})
	}
	// A reload compiles a new stage over the same store.
	st2, err := NewStage(f.store, Config{Route: "login", AccountFields: []string{"username"}, MaxFailures: 3,
		FailureWindow: time.Minute, Lockout: time.Minute, MaxKeys: 10, IPv6Prefix: 64})
	if err != nil {
		t.Fatal(err)
	}
	f.st = st2
	if got := f.do(attempt{ip: "192.0.2.40", upstream: 200}); got.status != 429 {
		t.Fatalf("after a reload the lockout is gone: %d", got.status)
	}
}

func TestStateIdle(t *testing.T) {
	f := newFixture(t)
	f.do(attempt{ip: "192.0.2.50", user: "x", upstream: 401})
	if n := f.store.Sweep(int64(f.now)); n != 0 {
		t.Fatalf("swept %d live failure records", n)
	}
	if n := f.store.Sweep(int64(f.now + 11*time.Minute)); n != 2 {
		t.Fatalf("swept %d, want the client and account records once forgotten", n)
	}
}

// TestConcurrentAttemptsCannotPassTheLimit: with 3 failures allowed, only
// 3 attempts can be in flight at once; when they fail, the client is locked.
func TestConcurrentAttemptsCannotPassTheLimit(t *testing.T) {
	f := newFixture(t)
	type inflight struct {
		ctx *fasthttp.RequestCtx
		r   *pipeline.Request
	}
	var started []inflight
	refused := 0
	for i := range 10 {
		ctx := new(fasthttp.RequestCtx)
		ctx.Request.Header.SetContentType("application/json")
		ctx.Request.SetBodyString(`{"username":"victim` + string(rune('a'+i)) + `"}`)
		r := &pipeline.Request{Start: f.store.Epoch().Add(f.now), ClientIP: netip.MustParseAddr("192.0.2.60")}
		r.PeerIP = r.ClientIP
		if f.st.Handle(ctx, r) == pipeline.Continue {
			started = append(started, inflight{ctx, r})
			continue
		}
		if r.Reason != pipeline.ReasonLoginLocked || r.Detail != "login_locked_client" || string(ctx.Response.Header.Peek("Retry-After")) != "1" {
			t.Fatalf("attempt %d refused with %v %q", i, r.Reason, r.Detail)
		}
		f.st.ObserveResponse(ctx, r)
		refused++
	}
	if len(started) != 3 || refused != 7 {
		t.Fatalf("%d attempts in flight, %d refused; want 3 and 7", len(started), refused)
	}
	for _, a := range started {
		a.ctx.Response.SetStatusCode(401)
		f.st.ObserveResponse(a.ctx, a.r)
	}
	if got := f.do(attempt{ip: "192.0.2.60", user: "other", upstream: 200}); got.status != 429 || got.retryAfter != "300" {
		t.Fatalf("after 3 concurrent failures: %+v, want locked for 300s", got)
	}
}

// TestAttemptsInFlightExpire: an attempt whose outcome is never observed
// stops holding a place after pendingTTL.
func TestAttemptsInFlightExpire(t *testing.T) {
	f := newFixture(t)
	for range 3 {
		ctx := new(fasthttp.RequestCtx)
		r := &pipeline.Request{Start: f.store.Epoch().Add(f.now), ClientIP: netip.MustParseAddr("192.0.2.61")}
		if f.st.Handle(ctx, r) != pipeline.Continue {
			t.Fatal("refused below the limit")
		}
	}
	if got := f.do(attempt{ip: "192.0.2.61", upstream: 200}); got.status != 429 {
		t.Fatalf("4th concurrent attempt: %d", got.status)
	}
	f.now += time.Duration(pendingTTL)
	if got := f.do(attempt{ip: "192.0.2.61", upstream: 200}); got.status != 200 {
		t.Fatalf("after pendingTTL: %d, want the stale attempts forgotten", got.status)
	}
}

// TestAttemptsInFlightSurviveASweep: the janitor must not drop a client
// whose attempts are in flight (they would stop counting).
func TestAttemptsInFlightSurviveASweep(t *testing.T) {
	f := newFixture(t)
	for range 3 {
		ctx := new(fasthttp.RequestCtx)
		r := &pipeline.Request{Start: f.store.Epoch().Add(f.now), ClientIP: netip.MustParseAddr("192.0.2.62")}
		if f.st.Handle(ctx, r) != pipeline.Continue {
			t.Fatal("refused below the limit")
		}
	}
	if n := f.store.Sweep(int64(f.now + time.Second)); n != 0 {
		t.Fatalf("swept %d entries with attempts in flight", n)
	}
	if got := f.do(attempt{ip: "192.0.2.62", upstream: 200}); got.status != 429 {
		t.Fatalf("4th concurrent attempt after a sweep: %d, want 429", got.status)
	}
}

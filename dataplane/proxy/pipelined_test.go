package proxy

import (
	"net"
	"strconv"
	"sync"
	"testing"

	"github.com/valyala/fasthttp"
)

// TestPipelined runs the pool's behaviour tests again with every pool
// pipelining: forwarding, failover, failures and their statuses, stale
// connections, balance and passive ejection must not change.
func TestPipelined(t *testing.T) {
	testPipelineConns = 2
	defer func() { testPipelineConns = 0 }()
	for name, test := range map[string]func(*testing.T){
		"Forward":                     TestForward,
		"StripPrefix":                 TestStripPrefix,
		"KeepAliveSidesIndependent":   TestKeepAliveSidesIndependent,
		"RoundRobinSpreadsEvenly":     TestRoundRobinSpreadsEvenly,
		"LeastConnPrefersIdleTarget":  TestLeastConnPrefersIdleTarget,
		"DialFailureFailsOver":        TestDialFailureFailsOver,
		"Failures":                    TestFailures,
		"StaleKeepAliveConnection":    TestStaleKeepAliveConnection,
		"ResponsesStayInStep":         TestResponsesStayInStep,
		"SwitchingProtocolsRefused":   TestSwitchingProtocolsRefused,
		"BadStatusRefused":            TestBadStatusRefused,
		"IdleAfterReadTimeout":        TestIdleAfterReadTimeout,
		"PassiveEjectionAndRecovery":  TestPassiveEjectionAndRecovery,
		"PassiveReejectsAfterOneFail": TestPassiveReejectsAfterOneFailure,
	} {
		t.Run(name, test)
	}
}

// TestPipelinedOnlyIdempotent: GETs share the pipelined connection, a POST
// never rides on it (if its connection failed it could not be sent
// again), and every request gets its own answer.
func TestPipelinedOnlyIdempotent(t *testing.T) {
	var mu sync.Mutex
	peers := map[string]map[string]bool{} // method -> client addresses seen
	up := startUpstream(t, func(ctx *fasthttp.RequestCtx) {
		mu.Lock()
		m := string(ctx.Method())
		if peers[m] == nil {
			peers[m] = map[string]bool{}
		}
		peers[m][ctx.RemoteAddr().String()] = true
		mu.Unlock()
		ctx.SetBody(ctx.Path())
	})
	p := newTestPool(t, PoolConfig{Targets: []string{up.addr}, PipelineConns: 1, PipelinePending: 64})
	g := startGateway(t, &Stage{Pool: p})

	var wg sync.WaitGroup
	for i := 0; i < 32; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
			defer fasthttp.ReleaseRequest(req)
			defer fasthttp.ReleaseResponse(resp)
			path := "/r" + strconv.Itoa(i)
			req.SetRequestURI("http://" + g.addr + path)
			if i%4 == 0 {
				req.Header.SetMethod("POST")
				req.SetBodyString("x")
			}
			c := &fasthttp.HostClient{Addr: g.addr}
			defer c.CloseIdleConnections()
			if err := c.Do(req, resp); err != nil || string(resp.Body()) != path {
				t.Errorf("%s: %q %v", path, resp.Body(), err)
			}
		}()
	}
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	if len(peers["GET"]) != 1 {
		t.Errorf("GETs came over %d connections, want the 1 pipelined one", len(peers["GET"]))
	}
	for a := range peers["POST"] {
		if peers["GET"][a] {
			t.Errorf("a POST rode on the pipelined connection %s", a)
		}
	}
}

// TestPipelinedOverflowUsesOrdinaryConnections: requests that find the
// pipelined connection full go over ordinary ones instead of failing.
func TestPipelinedOverflowUsesOrdinaryConnections(t *testing.T) {
	release := make(chan struct{})
	up := startUpstream(t, func(ctx *fasthttp.RequestCtx) {
		<-release
		ctx.SetBody(ctx.Path())
	})
	p := newTestPool(t, PoolConfig{Targets: []string{up.addr}, PipelineConns: 1, PipelinePending: 1})
	g := startGateway(t, &Stage{Pool: p})
	var wg sync.WaitGroup
	results := make(chan string, 4)
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := &fasthttp.HostClient{Addr: g.addr}
			defer c.CloseIdleConnections()
			status, body, err := c.Get(nil, "http://"+g.addr+"/o"+strconv.Itoa(i))
			if err != nil || status != 200 {
				t.Errorf("request %d: %d %v", i, status, err)
			}
			results <- string(body)
		}()
	}
	waitFor(t, "4 requests at the upstream", 2e9, func() bool { return up.hits.Load() == 4 })
	if n := up.accepts.Load(); n < 4 {
		t.Errorf("%d upstream connections for 4 requests with room for 1 pipelined: the rest waited", n)
	}
	close(release)
	wg.Wait()
	close(results)
	seen := map[string]bool{}
	for b := range results {
		seen[b] = true
	}
	if len(seen) != 4 {
		t.Errorf("answers %v, want 4 distinct", seen)
	}
}

var _ = net.Dial

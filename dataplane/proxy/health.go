package proxy

import (
	"log/slog"
	"time"

	"github.com/valyala/fasthttp"
)

// newHealthClient builds the client that checks t. It is separate from the
// traffic client so that a saturated pool (MaxConnsPerTarget reached) does
// not fail its own health checks, and it never retries: one check is one
// request.
func newHealthClient(t *target, hc *HealthCheck, idle time.Duration) *fasthttp.HostClient {
	return &fasthttp.HostClient{
		Addr:                          t.addr,
		Dial:                          t.dial,
		NoDefaultUserAgentHeader:      true,
		DisableHeaderNamesNormalizing: true,
		DisablePathNormalizing:        true,
		MaxConns:                      1,
		MaxIdleConnDuration:           idle,
		ReadTimeout:                   hc.Timeout,
		WriteTimeout:                  hc.Timeout,
		MaxResponseBodySize:           1 << 20,
		MaxIdemponentCallAttempts:     1,
	}
}

// healthLoop checks t at once and then every Interval until the pool is
// closed, moving it to unhealthy after UnhealthyThreshold failures in a row
// and back after HealthyThreshold successes in a row.
func (p *Pool) healthLoop(t *target) {
	defer p.wg.Done()
	hc := p.hc
	req := fasthttp.AcquireRequest()
	resp := fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.SetRequestURI(hc.Path)
	req.Header.SetMethod(fasthttp.MethodGet)
	if hc.Host != "" {
		req.Header.SetHost(hc.Host)
	} else {
		req.Header.SetHost(t.addr)
	}
	req.UseHostHeader = true

	ticker := time.NewTicker(hc.Interval)
	defer ticker.Stop()
	successes, failures := 0, 0
	for {
		if p.checkOnce(t, req, resp) {
			successes++
			failures = 0
			if !t.healthy.Load() && successes >= hc.HealthyThreshold {
				t.healthy.Store(true)
				slog.Info("upstream target healthy again", "pool", p.name, "target", t.addr, "checks_passed", successes)
			}
		} else {
			failures++
			successes = 0
			if t.healthy.Load() && failures >= hc.UnhealthyThreshold {
				t.healthy.Store(false)
				slog.Warn("upstream target unhealthy: taken out of rotation", "pool", p.name, "target", t.addr, "checks_failed", failures, "path", hc.Path)
			}
		}
		select {
		case <-p.stop:
			return
		case <-ticker.C:
		}
	}
}

// checkOnce sends one health check and reports whether it passed.
func (p *Pool) checkOnce(t *target, req *fasthttp.Request, resp *fasthttp.Response) bool {
	if err := t.health.DoTimeout(req, resp, p.hc.Timeout); err != nil {
		return false
	}
	status := resp.StatusCode()
	if want := p.hc.ExpectStatus; want != 0 {
		return status == want
	}
	return status >= 200 && status < 400
}

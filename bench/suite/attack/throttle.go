package attack

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"sync"
	"time"

	"github.com/edgeguard/edgeguard/bench/suite/results"
)

// ThrottleOptions configure Throttle. Zero values take the defaults shown.
type ThrottleOptions struct {
	// Gatewayd is the path of the gatewayd binary to measure.
	Gatewayd string
	// WorkDir holds the config and gatewayd's state; it must exist.
	WorkDir string
	// Quick shortens the run (5 s instead of 10 s, a 2 s ban instead of 4 s).
	Quick bool
	// Progress receives one line per step; nil discards them.
	Progress func(string)
	// Rate is the client's limit in requests per second (default 20).
	Rate int
	// Multiple is the offered load as a multiple of Rate (default 3).
	Multiple float64
	// Duration is the length of the run (default 10s; quick 5s).
	Duration time.Duration
	// Bucket is the width of a time bucket (default 250ms).
	Bucket time.Duration
	// Ban is rate_limit.ban_duration (default 4s; quick 2s).
	Ban time.Duration
	// MaxDelay is rate_limit.max_delay, the delay at 100% (default 500ms).
	MaxDelay time.Duration
	// DelayedAbove: a 200 slower than the fastest one by this much was
	// delayed on purpose (default 40ms). One slower than MaxDelay + 250ms
	// was held up by the ban: its packets were dropped at the NIC and
	// retransmitted until the ban ended; it counts as dropped ("stalled").
	DelayedAbove time.Duration
}

func (o *ThrottleOptions) defaults() {
	if o.Rate <= 0 {
		o.Rate = 20
	}
	if o.Multiple <= 0 {
		o.Multiple = 3
	}
	if o.Duration <= 0 {
		o.Duration = 10 * time.Second
		if o.Quick {
			o.Duration = 5 * time.Second
		}
	}
	if o.Bucket <= 0 {
		o.Bucket = 250 * time.Millisecond
	}
	if o.Ban <= 0 {
		o.Ban = 4 * time.Second
		if o.Quick {
			o.Ban = 2 * time.Second
		}
	}
	if o.MaxDelay <= 0 {
		o.MaxDelay = 500 * time.Millisecond
	}
	if o.DelayedAbove <= 0 {
		o.DelayedAbove = 40 * time.Millisecond
	}
	if o.Progress == nil {
		o.Progress = func(string) {}
	}
}

// connectTimeout bounds one connection attempt: a SYN dropped by the ban
// is only retransmitted after 1 s, so each failed attempt sends one SYN.
const connectTimeout = 500 * time.Millisecond

// Throttle runs one client at o.Multiple times its rate limit against
// gatewayd for o.Duration and buckets the answers it gets by the time each
// request was sent. gatewayd runs in a network namespace with XDP on its
// veth, the client in another, so the ban is a drop at the NIC.
//
// With a per-second limit the graduated limiter goes through its phases
// within about 1.5 s (a GCRA bucket of Rate requests: the first 80% pass,
// the rest up to 100% are delayed, then 429 until refusals fill a second
// bucket of Rate, then close and ban); the ban then lasts o.Ban, after
// which the cycle starts again. The client is open-loop: requests leave on
// schedule whatever happened to the earlier ones.
func Throttle(ctx context.Context, o ThrottleOptions) (*results.Throttle, error) {
	o.defaults()
	res := &results.Throttle{
		RatePerSecond:    float64(o.Rate),
		OfferedPerSecond: float64(o.Rate) * o.Multiple,
		BucketSeconds:    o.Bucket.Seconds(),
		BanSeconds:       o.Ban.Seconds(),
		MaxDelayMs:       float64(o.MaxDelay) / 1e6,
		DelayedAboveMs:   float64(o.DelayedAbove) / 1e6,
	}
	if why := throttleSkip(o); why != "" {
		res.Skipped = why
		return res, nil
	}
	o.Progress("throttle: setting up namespaces")
	l, err := newLab(ctx)
	if err != nil {
		return res, err
	}
	defer l.Close()
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	pinPath := pinPrefix + strconv.Itoa(os.Getpid()) + "-" + hex.EncodeToString(b)
	defer os.RemoveAll(pinPath)
	dir := filepath.Join(o.WorkDir, "throttle")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return res, fmt.Errorf("throttle: %w", err)
	}
	doc := `listeners: [{name: public, address: "` + srvIPv4 + `:8080"}]
management: {address: "127.0.0.1:9901", unix_socket: "{{SOCKET}}", state_dir: "{{STATE}}"}
access_log: {path: "off"}
upstreams: [{name: api, targets: ["builtin:demo"]}]
routes:
  - name: api
    path: /
    upstream: api
    rate_limit: {limits: [api]}
rate_limit:
  max_delay: ` + o.MaxDelay.String() + `
  ban_duration: ` + o.Ban.String() + `
  limits:
    api: {second: ` + strconv.Itoa(o.Rate) + `}
xdp: {mode: native, interfaces: [` + l.srvIf + `], pin_path: "{{PIN}}"}
`
	o.Progress("throttle: starting gatewayd")
	gw, err := startGatewayd(ctx, o.Gatewayd, dir, l.srv, doc, pinPath)
	if err != nil {
		return res, err
	}
	defer gw.Stop()
	if _, err := gw.counters(ctx); err != nil {
		return res, fmt.Errorf("throttle: %w\n%s", err, gw.Logs())
	}
	before, err := gw.metrics(ctx)
	if err != nil {
		return res, err
	}
	o.Progress(fmt.Sprintf("throttle: %.0f requests/s for %s against a limit of %d/s", res.OfferedPerSecond, o.Duration, o.Rate))
	out := offer(ctx, l, res.OfferedPerSecond, o.Duration, o.Ban+2*time.Second)
	after, err := gw.metrics(ctx)
	if err != nil {
		return res, err
	}
	res.Gateway = map[string]int64{}
	for k, v := range after {
		res.Gateway[k] = v - before[k]
	}
	bucketize(res, out, o)
	o.Progress(fmt.Sprintf("throttle: first passed %.2fs, delayed %.2fs, limited %.2fs, dropped %.2fs",
		res.FirstSeen["passed"], res.FirstSeen["delayed"], res.FirstSeen["limited"], res.FirstSeen["dropped"]))
	return res, ctx.Err()
}

func throttleSkip(o ThrottleOptions) string {
	if os.Geteuid() != 0 {
		return fmt.Sprintf("needs root (euid %d): network namespaces, XDP", os.Geteuid())
	}
	for _, tool := range []string{"ip", "ethtool", "nsenter"} {
		if _, err := exec.LookPath(tool); err != nil {
			return tool + " not installed"
		}
	}
	if _, err := os.Stat(o.Gatewayd); err != nil {
		return "no gatewayd binary: " + err.Error()
	}
	return ""
}

// outcome is what the client saw for one request.
type outcome struct {
	at         time.Duration // sent, since the start
	latency    time.Duration
	status     int
	retryAfter string
	drop       string // "", "closed", "connect_timeout" or "connect_error"
	deadline   time.Duration
}

// offer sends GET requests from the client namespace at rate per second
// for d, over keep-alive connections taken from a pool (a new one is
// dialled when none is idle), and returns every outcome.
func offer(ctx context.Context, l *lab, rate float64, d, deadline time.Duration) []outcome {
	total := int(math.Round(rate * d.Seconds()))
	interval := time.Duration(float64(time.Second) / rate)
	out := make([]outcome, total)
	idle := make(chan *clientConn, 512)
	sem := make(chan struct{}, 512) // bounds the requests in flight
	var wg sync.WaitGroup
	start := time.Now()
	for i := 0; i < total && ctx.Err() == nil; i++ {
		if w := time.Until(start.Add(time.Duration(i) * interval)); w > 0 {
			time.Sleep(w) // pacing an open-loop client, not waiting for a condition
		}
		sem <- struct{}{}
		wg.Add(1)
		go func(o *outcome) {
			defer wg.Done()
			defer func() { <-sem }()
			t0 := time.Now()
			o.at, o.deadline = t0.Sub(start), deadline
			request(l, idle, o)
			o.latency = time.Since(t0)
		}(&out[i])
	}
	wg.Wait()
	close(idle)
	for c := range idle {
		c.Close()
	}
	return out
}

type clientConn struct {
	net.Conn
	br *bufio.Reader
}

// request sends one request on an idle connection or a new one, fills o
// and returns the connection to the pool when it stays usable.
func request(l *lab, idle chan *clientConn, o *outcome) {
	var c *clientConn
	select {
	case c = <-idle:
	default:
		nc, err := dialIn(l.cli, srvIPv4+":8080", connectTimeout)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				o.drop = "connect_timeout"
			} else {
				o.drop = "connect_error"
			}
			return
		}
		c = &clientConn{Conn: nc, br: bufio.NewReader(nc)}
	}
	// Long enough for a request held up by the ban to be answered after
	// it (bucketize counts it as dropped, "stalled").
	_ = c.SetDeadline(time.Now().Add(o.deadline))
	if _, err := io.WriteString(c, "GET /hello HTTP/1.1\r\nHost: api\r\n\r\n"); err != nil {
		c.Close()
		o.drop = "closed"
		return
	}
	resp, err := http.ReadResponse(c.br, nil)
	if err == nil {
		_, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	if err != nil {
		c.Close()
		o.drop = "closed"
		return
	}
	o.status, o.retryAfter = resp.StatusCode, resp.Header.Get("Retry-After")
	if resp.Close {
		c.Close()
		return
	}
	select {
	case idle <- c:
	default:
		c.Close()
	}
}

// stallSlack is how much slower than max_delay an answer may be and still
// count as delayed rather than held up by the ban.
const stallSlack = 250 * time.Millisecond

// bucketize classifies the outcomes into res.Buckets.
func bucketize(res *results.Throttle, out []outcome, o ThrottleOptions) {
	fastest := time.Duration(math.MaxInt64)
	for _, x := range out {
		if x.drop == "" && x.status == 200 && x.latency < fastest {
			fastest = x.latency
		}
	}
	n := int((o.Duration + o.Bucket - 1) / o.Bucket)
	res.Buckets = make([]results.ThrottleBucket, n)
	for i := range res.Buckets {
		res.Buckets[i].T = (time.Duration(i) * o.Bucket).Seconds()
	}
	res.FirstSeen = map[string]float64{}
	res.DropKinds = map[string]int{}
	seen := func(kind string, at time.Duration) {
		if t, ok := res.FirstSeen[kind]; !ok || at.Seconds() < t {
			res.FirstSeen[kind] = at.Seconds()
		}
	}
	for _, x := range out {
		i := min(int(x.at/o.Bucket), n-1)
		b := &res.Buckets[i]
		switch {
		case x.drop != "":
			b.Dropped++
			res.DropKinds[x.drop]++
			seen("dropped", x.at)
		case x.status == http.StatusTooManyRequests:
			b.Limited++
			if s, err := strconv.Atoi(x.retryAfter); err != nil || s < 1 {
				res.RetryAfterMissing++
			}
			seen("limited", x.at)
		case x.latency-fastest > o.MaxDelay+stallSlack:
			// Far slower than any deliberate delay: sent on an open
			// connection during the ban, its packets were dropped at the
			// NIC and TCP retransmitted them until the ban ended.
			b.Dropped++
			res.DropKinds["stalled"]++
			seen("dropped", x.at)
		case x.status == http.StatusOK && x.latency-fastest >= o.DelayedAbove:
			b.Delayed++
			seen("delayed", x.at)
		case x.status == http.StatusOK:
			b.Passed++
			seen("passed", x.at)
		default:
			// Any other answer is a failure of the scenario, not a phase.
			res.DropKinds["status_"+strconv.Itoa(x.status)]++
		}
	}
}

var (
	reRateLimit = regexp.MustCompile(`(?m)^edgeguard_ratelimit_requests_total\{route="api",limit="api",result="(\w+)"\} (\d+)$`)
	reXDPBanned = regexp.MustCompile(`(?m)^edgeguard_xdp_packets_total\{verdict="drop_banned"\} (\d+)$`)
)

// metrics reads gatewayd's rate limiter results and XDP ban drops from its
// /metrics.
func (g *gatewayd) metrics(ctx context.Context) (map[string]int64, error) {
	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", g.mgmt.Target.Socket)
		},
	}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://unix/metrics", nil)
	if err != nil {
		return nil, fmt.Errorf("read gatewayd metrics: %w", err)
	}
	defer hc.CloseIdleConnections()
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("read gatewayd metrics: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil || resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("read gatewayd metrics: status %d: %v", resp.StatusCode, err)
	}
	m := map[string]int64{}
	for _, s := range reRateLimit.FindAllStringSubmatch(string(body), -1) {
		m[s[1]], _ = strconv.ParseInt(s[2], 10, 64)
	}
	if s := reXDPBanned.FindStringSubmatch(string(body)); s != nil {
		m["xdp_drop_banned"], _ = strconv.ParseInt(s[1], 10, 64)
	}
	return m, nil
}

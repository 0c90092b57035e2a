// Package proxy benchmarks requests per second through the gateway's data
// plane to a fasthttp upstream against the same upstream reached directly,
// both over keep-alive loopback connections, and reports the ratio.
package proxy

import (
	"bufio"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/edgeguard/edgeguard/dataplane/server"
	"github.com/edgeguard/edgeguard/policy"
	"github.com/edgeguard/edgeguard/policy/config"
)

var payload = []byte(`{"id":42,"name":"edgeguard","ok":true}`)

func startUpstream(b *testing.B) string {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	srv := &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) {
		ctx.SetContentType("application/json")
		ctx.SetBody(payload)
	}}
	go func() { _ = srv.Serve(ln) }()
	b.Cleanup(func() { _ = srv.Shutdown() })
	return ln.Addr().String()
}

func startGateway(b *testing.B, upstream string) string {
	doc := `
listeners: [{name: public, address: "127.0.0.1:0"}]
management: {address: "127.0.0.1:0"}
access_log: {path: "off"}
upstreams:
  - name: api
    targets: [` + upstream + `]
routes:
  - name: api
    path: /api
    upstream: api
`
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	holder, err := policy.NewHolder(func() (*config.Loaded, error) { return config.Parse([]byte(doc), "yaml", "bench") }, policy.Options{}, log)
	if err != nil {
		b.Fatal(err)
	}
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	srv := server.New(holder, nil, log)
	srv.Serve(ln)
	b.Cleanup(func() {
		_ = srv.Shutdown(b.Context())
		holder.Close()
	})
	return ln.Addr().String()
}

// load sends b.N GET requests from parallel keep-alive clients.
func load(b *testing.B, addr string) {
	hc := &fasthttp.HostClient{Addr: addr, MaxConns: 256, ReadTimeout: 5 * time.Second, WriteTimeout: 5 * time.Second}
	b.ReportAllocs()
	b.SetParallelism(8)
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
		defer fasthttp.ReleaseRequest(req)
		defer fasthttp.ReleaseResponse(resp)
		req.SetRequestURI("http://" + addr + "/api/items?id=42")
		for pb.Next() {
			if err := hc.Do(req, resp); err != nil || resp.StatusCode() != 200 {
				b.Errorf("request: %v status %d", err, resp.StatusCode())
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "req/s")
}

// BenchmarkDirect is the baseline: clients to the upstream with no gateway.
func BenchmarkDirect(b *testing.B) {
	load(b, startUpstream(b))
}

// BenchmarkGateway sends the same load through the gateway.
func BenchmarkGateway(b *testing.B) {
	load(b, startGateway(b, startUpstream(b)))
}

// BenchmarkRatio measures both in one run and reports gateway req/s as a
// fraction of direct req/s, so the figure comes from one machine state. Each
// iteration is one paired measurement (direct, then through the gateway).
func BenchmarkRatio(b *testing.B) {
	up := startUpstream(b)
	ratio(b, up, startGateway(b, up))
}

// ratio runs paired measurements, direct to up then through gw, and
// reports both rates and their ratio.
func ratio(b *testing.B, up, gw string) {
	for b.Loop() {
		direct := measure(b, up)
		through := measure(b, gw)
		b.ReportMetric(direct, "direct-req/s")
		b.ReportMetric(through, "gateway-req/s")
		b.ReportMetric(through/direct, "ratio")
	}
}

// measure runs 16 keep-alive clients against addr for one second (at most
// 500k requests) and returns requests per second.
func measure(b *testing.B, addr string) float64 {
	const clients, maxRequests, window = 16, 500_000, time.Second
	hc := &fasthttp.HostClient{Addr: addr, MaxConns: clients, ReadTimeout: 5 * time.Second, WriteTimeout: 5 * time.Second}
	var done atomic.Int64
	deadline := time.Now().Add(window)
	start := time.Now()
	var wg sync.WaitGroup
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
			defer fasthttp.ReleaseRequest(req)
			defer fasthttp.ReleaseResponse(resp)
			req.SetRequestURI("http://" + addr + "/api/items?id=42")
			for time.Now().Before(deadline) && done.Load() < maxRequests {
				if err := hc.Do(req, resp); err != nil || resp.StatusCode() != 200 {
					b.Errorf("request: %v status %d", err, resp.StatusCode())
					return
				}
				done.Add(1)
			}
		}()
	}
	wg.Wait()
	return float64(done.Load()) / time.Since(start).Seconds()
}

// startGatewayd builds and starts the real gatewayd binary in front of
// upstream, with the access log written to a file as in production, and
// returns its data address. The process is stopped when b ends.
func startGatewayd(b *testing.B, upstream string) string {
	dir := b.TempDir()
	bin := filepath.Join(dir, "gatewayd")
	if out, err := exec.Command("go", "build", "-o", bin, "../../cmd/gatewayd").CombinedOutput(); err != nil {
		b.Fatalf("build gatewayd: %v\n%s", err, out)
	}
	cfg := filepath.Join(dir, "gatewayd.yaml")
	doc := `
listeners: [{name: public, address: "127.0.0.1:0"}]
management: {address: "127.0.0.1:0"}
access_log: {path: "` + filepath.Join(dir, "access.log") + `"}
upstreams:
  - name: api
    targets: [` + upstream + `]
routes:
  - name: api
    path: /api
    upstream: api
`
	if err := os.WriteFile(cfg, []byte(doc), 0o600); err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command(bin, "--config", cfg)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	})
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			var rec struct{ Msg, Address string }
			if json.Unmarshal(sc.Bytes(), &rec) == nil && rec.Msg == "data listener started" {
				addr <- rec.Address
			}
		}
	}()
	select {
	case a := <-addr:
		return a
	case <-time.After(30 * time.Second):
		b.Fatal("gatewayd did not start")
	}
	return ""
}

// BenchmarkRatioBinary is BenchmarkRatio through the real gatewayd process
// (access log on, to a file) instead of the in-process server.
func BenchmarkRatioBinary(b *testing.B) {
	up := startUpstream(b)
	ratio(b, up, startGatewayd(b, up))
}

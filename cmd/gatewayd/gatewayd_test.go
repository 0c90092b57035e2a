package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// These tests build the real gatewayd binary and drive it over loopback
// against real upstream servers.

var gatewaydBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "gatewayd-test")
	if err != nil {
		panic(err)
	}
	gatewaydBin = filepath.Join(dir, "gatewayd")
	out, err := exec.Command("go", "build", "-o", gatewaydBin, ".").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "build gatewayd: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// upstream is a real HTTP backend on loopback that says who it is.
type upstream struct {
	name string
	ln   net.Listener
	srv  *fasthttp.Server
	mu   sync.Mutex
	hits int
}

func startUpstream(t *testing.T, name string, handler fasthttp.RequestHandler) *upstream {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u := &upstream{name: name, ln: ln}
	u.srv = &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) {
		if string(ctx.Path()) != "/healthz" {
			u.mu.Lock()
			u.hits++
			u.mu.Unlock()
		}
		ctx.Response.Header.Set("X-Upstream", name)
		ctx.Response.Header.Set("Server", "leaky/1.0")
		if handler != nil {
			handler(ctx)
			return
		}
		fmt.Fprintf(ctx, "%s %s %s?%s xff=%s rid=%s", name, ctx.Method(), ctx.Path(), ctx.QueryArgs().QueryString(),
			ctx.Request.Header.Peek("X-Forwarded-For"), ctx.Request.Header.Peek("X-Request-ID"))
	}}
	go func() { _ = u.srv.Serve(ln) }()
	t.Cleanup(func() { _ = u.srv.Shutdown() })
	return u
}

func (u *upstream) addr() string { return u.ln.Addr().String() }

func (u *upstream) count() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.hits
}

// gateway is a running gatewayd process.
type gateway struct {
	t        *testing.T
	cmd      *exec.Cmd
	cfgPath  string
	data     string
	mgmt     string
	mu       sync.Mutex
	logLines []string
	exited   chan error
}

func writeConfig(t *testing.T, path, doc string) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// startGateway runs gatewayd with doc as its config file. Listener addresses
// in doc should use port 0; the real ones are read from the startup log.
func startGateway(t *testing.T, doc string) *gateway {
	t.Helper()
	return startGatewayWith(t, doc)
}

// startGatewayWith runs gatewayd behind a command prefix, e.g.
// nsenter --net=/run/netns/X to start it inside a test's namespace.
func startGatewayWith(t *testing.T, doc string, prefix ...string) *gateway {
	t.Helper()
	return startGatewayBin(t, gatewaydBin, doc, prefix...)
}

// startGatewayBin is startGatewayWith for the gatewayd binary at bin.
func startGatewayBin(t *testing.T, bin, doc string, prefix ...string) *gateway {
	t.Helper()
	g := &gateway{t: t, cfgPath: filepath.Join(t.TempDir(), "gatewayd.yaml"), exited: make(chan error, 1)}
	writeConfig(t, g.cfgPath, doc)
	argv := append(append([]string{}, prefix...), bin, "--config", g.cfgPath)
	g.cmd = exec.Command(argv[0], argv[1:]...)
	stderr, err := g.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	g.cmd.Stdout = io.Discard
	if err := g.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stderr)
		signalled := false
		for sc.Scan() {
			line := sc.Text()
			g.mu.Lock()
			g.logLines = append(g.logLines, line)
			g.mu.Unlock()
			var rec map[string]any
			if json.Unmarshal([]byte(line), &rec) != nil {
				continue
			}
			switch rec["msg"] {
			case "data listener started":
				g.mu.Lock()
				g.data = rec["address"].(string)
				g.mu.Unlock()
			case "management listener started":
				g.mu.Lock()
				g.mgmt = rec["address"].(string)
				g.mu.Unlock()
				if !signalled {
					signalled = true
					close(ready)
				}
			}
		}
		g.exited <- g.cmd.Wait()
	}()
	t.Cleanup(func() {
		if g.cmd.ProcessState == nil {
			_ = g.cmd.Process.Kill()
		}
	})
	select {
	case <-ready:
	case err := <-g.exited:
		t.Fatalf("gatewayd exited during start: %v\n%s", err, g.logs())
	case <-time.After(10 * time.Second):
		t.Fatalf("gatewayd did not start within 10s\n%s", g.logs())
	}
	return g
}

func (g *gateway) logs() string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return strings.Join(g.logLines, "\n")
}

// waitLog waits until a log line contains every one of parts.
func (g *gateway) waitLog(parts ...string) {
	g.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		g.mu.Lock()
		for _, l := range g.logLines {
			all := true
			for _, p := range parts {
				all = all && strings.Contains(l, p)
			}
			if all {
				g.mu.Unlock()
				return
			}
		}
		g.mu.Unlock()
		time.Sleep(10 * time.Millisecond)
	}
	g.t.Fatalf("no log line with %q within 5s:\n%s", parts, g.logs())
}

func (g *gateway) signal(sig syscall.Signal) {
	g.t.Helper()
	if err := g.cmd.Process.Signal(sig); err != nil {
		g.t.Fatal(err)
	}
}

type response struct {
	status  int
	body    string
	headers map[string]string
}

func (g *gateway) do(t *testing.T, method, uri string, hdr ...string) response {
	t.Helper()
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.Header.SetMethod(method)
	req.SetRequestURI("http://" + g.data + uri)
	req.URI().DisablePathNormalizing = true
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	c := &fasthttp.Client{DisablePathNormalizing: true}
	if err := c.DoTimeout(req, resp, 5*time.Second); err != nil {
		t.Fatalf("%s %s: %v", method, uri, err)
	}
	r := response{status: resp.StatusCode(), body: string(resp.Body()), headers: map[string]string{}}
	for _, k := range resp.Header.PeekKeys() {
		r.headers[string(k)] = string(resp.Header.PeekBytes(k))
	}
	return r
}

func (g *gateway) metrics(t *testing.T) string {
	t.Helper()
	status, body, err := fasthttp.Get(nil, "http://"+g.mgmt+"/metrics")
	if err != nil || status != 200 {
		t.Fatalf("GET /metrics: %d %v", status, err)
	}
	checkExposition(t, string(body))
	return string(body)
}

// checkExposition holds every scrape to the Prometheus text format's
// rules that strict parsers (promtool) enforce: one HELP and one TYPE line
// per family, and a family's samples in one group after them.
func checkExposition(t *testing.T, m string) {
	t.Helper()
	seen := map[string]bool{}   // "HELP x", "TYPE x"
	closed := map[string]bool{} // families whose group has ended
	current := ""
	for _, line := range strings.Split(m, "\n") {
		if line == "" {
			continue
		}
		if kind, rest, ok := strings.Cut(line, " "); ok && kind == "#" {
			what, rest, _ := strings.Cut(rest, " ")
			family, _, _ := strings.Cut(rest, " ")
			if seen[what+" "+family] {
				t.Errorf("/metrics: a second %q line for %s", what, family)
			}
			seen[what+" "+family] = true
			if family != current {
				closed[current] = current != ""
				current = family
			}
			continue
		}
		name := line[:strings.IndexAny(line, "{ ")]
		family := name
		if !seen["TYPE "+family] {
			for _, suffix := range []string{"_bucket", "_sum", "_count"} {
				if f, ok := strings.CutSuffix(name, suffix); ok && seen["TYPE "+f] {
					family = f
				}
			}
		}
		if family != current {
			if closed[family] || seen["TYPE "+family] {
				t.Errorf("/metrics: %s appears outside its family's group", line)
			}
			closed[current] = current != ""
			current = family
		}
	}
}

// waitFor polls cond until it holds or 5s pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if cond() {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s", what)
}

func baseConfig(upstreams, routes string) string {
	return `
listeners:
  - name: public
    address: 127.0.0.1:0
management:
  address: 127.0.0.1:0
access_log:
  path: "off"
server:
  shutdown_grace: 5s
upstreams:
` + upstreams + `
routes:
` + routes
}

func readFile(path string) (string, error) {
	b, err := os.ReadFile(path)
	return string(b), err
}

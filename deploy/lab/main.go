// Command lab builds a one-machine edge lab out of network namespaces and
// veth pairs (internal/netlab.Lab), runs gatewayd in it with XDP on the data
// interface and the management listener on the management interface, and
// lets you push blocklists, ban, flood and watch. Run it as root:
//
//	make lab                        # builds bin/lab, bin/gatewayd, bin/gatewayctl
//	bin/lab up                      # topology, upstream, gatewayd (ready when it returns)
//	bin/lab curl /hello             # GET through the gateway from the client namespace
//	bin/lab ctl blocklist add 10.77.1.3
//	bin/lab curl --from 10.77.1.3 / # times out: dropped by XDP
//	bin/lab ctl ban 10.77.1.4 --for 5m
//	bin/lab flood --from 10.77.1.5  # SYNs past xdp.burst: banned in the kernel
//	bin/lab watch                   # XDP verdict counters each second
//	bin/lab upgrade                 # SIGUSR2: the binary now in --bin takes over, nothing dropped
//	bin/lab status
//	bin/lab down                    # removes everything (idempotent)
//
// It never changes the host's own interfaces: everything it makes is in
// namespaces named LAB-*, in /sys/fs/bpf/LAB and in the lab directory.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/edgeguard/edgeguard/internal/netlab"
)

const usage = `usage: lab [--name NAME] [--dir DIR] [--bin DIR] COMMAND [ARGS]

A one-machine edge lab (run as root):

  NAME-client  cli0 10.77.1.2-5 -- data0 10.77.1.1:8080 (XDP)  NAME-gw  up0 -- srv0 10.77.2.2:8081  NAME-upstream
                                   mgmt0 10.77.9.1:9901 -- ops0 10.77.9.2  NAME-ops

Commands:
  up                        build the lab, start the upstream and gatewayd; on failure remove it all
  down                      stop its processes, delete its namespaces, pins and directory (idempotent)
  status                    what exists, processes, XDP attachment, gatewayd status
  curl [--from IP] [--timeout D] PATH
                            GET PATH through the gateway from the client namespace (default from
                            10.77.1.2, within 2s: a dropped client times out)
  ctl ARGS...               gatewayctl ARGS in the ops namespace with the lab's target and token,
                            e.g. ctl blocklist push FILE, ctl blocklist add 10.77.1.3, ctl ban 10.77.1.4
  flood [--from IP] [--count N] [--rate R]
                            N connection attempts (default 400) at R per second (default 400) from IP
                            (default 10.77.1.5); past xdp.burst (100 at once, 50/s) the source is banned
  watch [--every D] [--count N]
                            XDP packets per verdict every D (default 1s), N times (default: until Ctrl-C)
  upgrade                   SIGUSR2 to gatewayd: the binary at its path takes over the sockets; waits
                            until the old process is gone and the new one ready
  exec ROLE CMD...          run CMD in a namespace: client, gw, ops or upstream
  upstream ADDR             (used by up) serve the demo application on ADDR

Flags:
  --name NAME   lab name: namespaces NAME-*, pins /sys/fs/bpf/NAME (default eglab)
  --dir DIR     configuration, token, state and logs (default /run/edgeguard-lab/NAME)
  --bin DIR     where gatewayd and gatewayctl are (default: beside this program)
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("lab", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	name := fs.String("name", "eglab", "")
	dir := fs.String("dir", "", "")
	bin := fs.String("bin", "", "")
	if err := fs.Parse(args); err != nil || fs.NArg() == 0 {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stdout, usage)
			return 0
		}
		fmt.Fprint(stderr, usage)
		return 2
	}
	cmd, rest := fs.Arg(0), fs.Args()[1:]
	if cmd == "help" {
		fmt.Fprint(stdout, usage)
		return 0
	}
	if cmd == "upstream" {
		return serveUpstream(rest, stderr)
	}
	if *dir == "" {
		*dir = "/run/edgeguard-lab/" + *name
	}
	self, err := os.Executable()
	if err != nil {
		fmt.Fprintln(stderr, "lab:", err)
		return 1
	}
	if *bin == "" {
		*bin = filepath.Dir(self)
	}
	l := &netlab.Lab{Name: *name, Dir: *dir, Log: stdout, Upstream: []string{self, "upstream"},
		Gatewayd: filepath.Join(*bin, "gatewayd"), Gatewayctl: filepath.Join(*bin, "gatewayctl")}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := dispatch(ctx, l, cmd, rest, stdout, stderr); err != nil {
		var exit exitCode
		if errors.As(err, &exit) {
			return int(exit)
		}
		fmt.Fprintln(stderr, "lab:", err)
		return 1
	}
	return 0
}

// exitCode passes a command's exit status through (ctl, exec).
type exitCode int

func (e exitCode) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

func dispatch(ctx context.Context, l *netlab.Lab, cmd string, args []string, stdout, stderr io.Writer) error {
	switch cmd {
	case "up":
		for _, b := range []string{l.Gatewayd, l.Gatewayctl} {
			if _, err := os.Stat(b); err != nil {
				return fmt.Errorf("up: %w (build with make lab, or pass --bin)", err)
			}
		}
		if err := l.Up(ctx); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "\nlab %s is up. Try:\n  lab curl /hello\n  lab ctl blocklist add %s && lab curl --from %s /\n  lab flood --from %s & lab watch --count 5\n  lab down\n",
			l.Name, netlab.ExtraClients[0], netlab.ExtraClients[0], netlab.ExtraClients[2])
		return nil
	case "down":
		return l.Down()
	case "upgrade":
		old, cur, err := l.Upgrade(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "gatewayd pid %d handed over to pid %d, which serves\n", old, cur)
		return nil
	case "status":
		return status(l, stdout)
	case "curl":
		fs := flag.NewFlagSet("curl", flag.ContinueOnError)
		from := fs.String("from", netlab.ClientIP.String(), "")
		timeout := fs.Duration("timeout", 2*time.Second, "")
		if err := fs.Parse(args); err != nil || fs.NArg() != 1 {
			return errors.New("usage: lab curl [--from IP] [--timeout D] PATH")
		}
		src, err := netip.ParseAddr(*from)
		if err != nil {
			return fmt.Errorf("curl --from: %w", err)
		}
		code, body, err := l.Get(src, fs.Arg(0), *timeout)
		if err != nil {
			return fmt.Errorf("curl from %s: %w", src, err)
		}
		fmt.Fprintf(stdout, "%d %s\n", code, strings.TrimSpace(body))
		return nil
	case "ctl":
		return runCmd(l.Ctl(args...), stdout, stderr)
	case "exec":
		if len(args) < 2 || !slices.Contains([]string{"client", "gw", "ops", "upstream"}, args[0]) {
			return errors.New("usage: lab exec client|gw|ops|upstream CMD...")
		}
		c := l.Command(args[0], args[1:]...)
		c.Stdin = os.Stdin
		return runCmd(c, stdout, stderr)
	case "flood":
		fs := flag.NewFlagSet("flood", flag.ContinueOnError)
		from := fs.String("from", netlab.ExtraClients[2].String(), "")
		count := fs.Int("count", 400, "")
		rate := fs.Int("rate", 400, "")
		if err := fs.Parse(args); err != nil || fs.NArg() != 0 {
			return errors.New("usage: lab flood [--from IP] [--count N] [--rate R]")
		}
		src, err := netip.ParseAddr(*from)
		if err != nil {
			return fmt.Errorf("flood --from: %w", err)
		}
		r, err := l.Flood(ctx, src, *count, *rate)
		fmt.Fprintf(stdout, "flood from %s: %d connected, %d timed out (dropped), %d refused\n", src, r.Connected, r.TimedOut, r.Refused)
		return err
	case "watch":
		fs := flag.NewFlagSet("watch", flag.ContinueOnError)
		every := fs.Duration("every", time.Second, "")
		count := fs.Int("count", 0, "")
		if err := fs.Parse(args); err != nil || fs.NArg() != 0 || *every <= 0 {
			return errors.New("usage: lab watch [--every D] [--count N]")
		}
		return watch(ctx, l, *every, *count, stdout)
	}
	return fmt.Errorf("unknown command %q (see lab help)", cmd)
}

func runCmd(c *exec.Cmd, stdout, stderr io.Writer) error {
	c.Stdout, c.Stderr = stdout, stderr
	err := c.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return exitCode(ee.ExitCode())
	}
	return err
}

func status(l *netlab.Lab, w io.Writer) error {
	st, err := l.Status()
	if err != nil {
		return err
	}
	switch {
	case st.Empty():
		fmt.Fprintf(w, "lab %s: down (nothing left)\n", l.Name)
		return nil
	case st.Up():
		fmt.Fprintf(w, "lab %s: up (%s)\n", l.Name, l.Dir)
	default:
		fmt.Fprintf(w, "lab %s: partly there: run lab down\n", l.Name)
	}
	for _, ns := range l.Namespaces() {
		pids, ok := st.Namespaces[ns]
		if !ok {
			fmt.Fprintf(w, "  %-20s missing\n", ns)
			continue
		}
		fmt.Fprintf(w, "  %-20s processes %v\n", ns, pids)
	}
	xdp := st.XDP
	if xdp == "" {
		xdp = "none"
	}
	fmt.Fprintf(w, "  XDP on %s: %s; pins %s: %v\n", netlab.DataIfname, xdp, l.PinPath(), st.PinPath)
	if code, body, err := l.MgmtGet("/status"); err != nil || code != http.StatusOK {
		fmt.Fprintf(w, "  gatewayd status: %d %v\n", code, err)
	} else {
		fmt.Fprintf(w, "  gatewayd status: %s\n", strings.TrimSpace(body))
	}
	return nil
}

func watch(ctx context.Context, l *netlab.Lab, every time.Duration, count int, w io.Writer) error {
	prev, err := l.Counters()
	if err != nil {
		return err
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for i := 0; count == 0 || i < count; i++ {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		cur, err := l.Counters()
		if err != nil {
			return err
		}
		keys := make([]string, 0, len(cur))
		for k := range cur {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var parts []string
		for _, k := range keys {
			parts = append(parts, fmt.Sprintf("%s %d (+%d)", k, cur[k], cur[k]-prev[k]))
		}
		fmt.Fprintf(w, "%s  %s\n", time.Now().Format("15:04:05"), strings.Join(parts, "  "))
		prev = cur
	}
	return nil
}

// serveUpstream is the lab's application: it answers every request with
// who it is, what it got and from whom (the gateway's X-Forwarded-For).
func serveUpstream(args []string, stderr io.Writer) int {
	if len(args) != 1 {
		fmt.Fprintln(stderr, "usage: lab upstream ADDR")
		return 2
	}
	srv := &http.Server{Addr: args[0], ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "lab upstream: %s %s from %s\n", r.Method, r.URL.RequestURI(), r.Header.Get("X-Forwarded-For"))
	})}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		fmt.Fprintln(stderr, "lab upstream:", err)
		return 1
	}
	return 0
}

package attack

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Names of everything the package creates start with these, followed by
// the creating process's id, so that a run killed before its cleanup can
// be swept by the next one (sweepStale).
const (
	netnsPrefix = "egb-"
	pinPrefix   = "/sys/fs/bpf/egbench-"
)

// The lab's fixed addresses: the receiver (gatewayd's side) and the sender.
const (
	srvMAC  = "02:00:00:00:02:01"
	cliMAC  = "02:00:00:00:02:02"
	srvIPv4 = "10.201.0.1"
	cliIPv4 = "10.201.0.2"
)

// lab is two network namespaces joined by a veth pair: srv holds the
// receiver (gatewayd, nftables), cli the sender.
type lab struct {
	srv, cli     string // namespace names
	srvIf, cliIf string
}

// run runs a command with a deadline and returns its combined output.
func run(ctx context.Context, name string, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	if err != nil {
		return out, fmt.Errorf("run %s %s: %w: %s", name, strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return out, nil
}

// newLab creates the namespaces and the veth pair. The receiver's veth has
// GRO on: frames transmitted by XDP into a veth vanish at a peer with
// neither XDP nor GRO.
func newLab(ctx context.Context) (l *lab, err error) {
	sweepStale()
	b := make([]byte, 2)
	if _, err := rand.Read(b); err != nil {
		return nil, fmt.Errorf("create lab: %w", err)
	}
	tag := strconv.Itoa(os.Getpid()) + "-" + hex.EncodeToString(b)
	l = &lab{srv: netnsPrefix + tag + "-s", cli: netnsPrefix + tag + "-c",
		srvIf: "egbs" + hex.EncodeToString(b), cliIf: "egbc" + hex.EncodeToString(b)}
	defer func() {
		if err != nil {
			l.Close()
		}
	}()
	steps := [][]string{
		{"ip", "netns", "add", l.srv},
		{"ip", "netns", "add", l.cli},
		{"ip", "link", "add", l.srvIf, "netns", l.srv, "address", srvMAC, "type", "veth",
			"peer", "name", l.cliIf, "netns", l.cli, "address", cliMAC},
		{"ip", "-n", l.srv, "link", "set", "lo", "up"},
		{"ip", "-n", l.cli, "link", "set", "lo", "up"},
		{"ip", "-n", l.srv, "addr", "add", srvIPv4 + "/24", "dev", l.srvIf},
		{"ip", "-n", l.cli, "addr", "add", cliIPv4 + "/24", "dev", l.cliIf},
		{"ip", "-n", l.srv, "neigh", "replace", cliIPv4, "lladdr", cliMAC, "dev", l.srvIf, "nud", "permanent"},
		{"ip", "-n", l.cli, "neigh", "replace", srvIPv4, "lladdr", srvMAC, "dev", l.cliIf, "nud", "permanent"},
		{"ip", "-n", l.srv, "link", "set", l.srvIf, "up"},
		{"ip", "-n", l.cli, "link", "set", l.cliIf, "up"},
		{"ip", "netns", "exec", l.srv, "ethtool", "-K", l.srvIf, "gro", "on"},
	}
	for _, s := range steps {
		if _, err := run(ctx, s[0], s[1:]...); err != nil {
			return l, fmt.Errorf("create lab: %w", err)
		}
	}
	return l, nil
}

// Close removes both namespaces, which removes the veth pair and detaches
// any XDP program from it.
func (l *lab) Close() {
	for _, ns := range []string{l.srv, l.cli} {
		_ = exec.Command("ip", "netns", "del", ns).Run()
	}
}

// srvExec runs a command inside the receiver's namespace.
func (l *lab) srvExec(ctx context.Context, name string, args ...string) ([]byte, error) {
	return run(ctx, "nsenter", append([]string{"--net=/run/netns/" + l.srv, name}, args...)...)
}

// sweepStale removes namespaces and BPF pins left by runs of this package
// whose process no longer exists (killed before their cleanup ran).
func sweepStale() {
	alive := func(name, prefix string) bool {
		pid, err := strconv.Atoi(strings.SplitN(strings.TrimPrefix(name, prefix), "-", 2)[0])
		if err != nil {
			return true // not ours to judge
		}
		return pid == os.Getpid() || syscall.Kill(pid, 0) == nil
	}
	if ents, err := os.ReadDir("/run/netns"); err == nil {
		for _, e := range ents {
			if strings.HasPrefix(e.Name(), netnsPrefix) && !alive(e.Name(), netnsPrefix) {
				_ = exec.Command("ip", "netns", "del", e.Name()).Run()
			}
		}
	}
	if pins, err := filepath.Glob(pinPrefix + "*"); err == nil {
		for _, p := range pins {
			if !alive(filepath.Base(p), filepath.Base(pinPrefix)) {
				_ = os.RemoveAll(p)
			}
		}
	}
}

// inNetns runs f on an OS thread that has entered namespace ns, then
// returns the thread to its own namespace. (A thread left to die instead
// would take with it the parent-death signal of any child it forked,
// such as gatewayd.)
func inNetns(ns string, f func() error) error {
	runtime.LockOSThread()
	orig, err := unix.Open(fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid()), unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("open current netns: %w", err)
	}
	defer unix.Close(orig)
	fd, err := unix.Open("/run/netns/"+ns, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("open netns %s: %w", ns, err)
	}
	defer unix.Close(fd)
	if err := unix.Setns(fd, unix.CLONE_NEWNET); err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("enter netns %s: %w", ns, err)
	}
	defer func() {
		if unix.Setns(orig, unix.CLONE_NEWNET) == nil {
			runtime.UnlockOSThread()
		} // else the thread stays locked and the runtime discards it
	}()
	return f()
}

// dialIn connects to addr over TCP from inside namespace ns.
func dialIn(ns, addr string, timeout time.Duration) (net.Conn, error) {
	var c net.Conn
	err := inNetns(ns, func() error {
		var err error
		c, err = net.DialTimeout("tcp", addr, timeout)
		return err
	})
	return c, err
}

// pin restricts thread (or process) pid to one CPU.
func pin(pid, cpu int) error {
	var set unix.CPUSet
	set.Set(cpu)
	if err := unix.SchedSetaffinity(pid, &set); err != nil {
		return fmt.Errorf("pin %d to cpu %d: %w", pid, cpu, err)
	}
	return nil
}

// softirqTime returns the time CPU cpu has spent serving softirqs since
// boot (/proc/stat, sampled at each tick).
func softirqTime(cpu int) (time.Duration, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, fmt.Errorf("read softirq time: %w", err)
	}
	name := "cpu" + strconv.Itoa(cpu)
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		// cpuN user nice system idle iowait irq softirq ...
		if len(f) > 7 && f[0] == name {
			n, err := strconv.ParseInt(f[7], 10, 64)
			if err != nil {
				return 0, fmt.Errorf("read softirq time: %w", err)
			}
			return time.Duration(n) * time.Second / clockTicks, nil
		}
	}
	return 0, fmt.Errorf("read softirq time: no %s in /proc/stat", name)
}

// clockTicks is USER_HZ, the unit of /proc's CPU times (100 on Linux).
const clockTicks = 100

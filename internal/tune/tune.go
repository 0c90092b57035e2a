// Package tune reports the host settings that matter to gatewayd (sysctls,
// limits, NIC XDP support, queues, MTU), what it recommends for each and
// why. It only reads (/proc/sys, /sys/class/net, rlimits) and never changes
// a setting: the operator applies what they agree with.
package tune

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Write prints the report to w: the sysctls and limits, then the XDP
// support, queues and MTU of each interface in ifaces (every interface
// backed by a device when ifaces is empty). It returns how many settings
// are below the recommendation.
func Write(w io.Writer, ifaces []string) int {
	t := &tuneReport{w: w}
	fmt.Fprintln(w, "SETTING                              NOW          RECOMMENDED  WHY")
	t.sysctl("net.core.somaxconn", atLeast(4096), "accept queue of each listener; bursts of new connections overflow a short one")
	t.sysctl("net.ipv4.tcp_max_syn_backlog", atLeast(8192), "half-open connections kept while SYN cookies are not yet needed")
	t.sysctl("net.ipv4.tcp_syncookies", equals(1), "SYN floods that pass XDP's burst meter cannot fill the SYN queue")
	t.sysctl("net.core.netdev_max_backlog", atLeast(16384), "packets queued per CPU between the NIC and the stack under load")
	t.sysctl("net.core.rmem_max", atLeast(16<<20), "largest receive buffer a socket may ask for")
	t.sysctl("net.core.wmem_max", atLeast(16<<20), "largest send buffer a socket may ask for")
	t.sysctl("net.ipv4.tcp_rmem", tripleMax(16<<20), "TCP receive autotuning ceiling (third value)")
	t.sysctl("net.ipv4.tcp_wmem", tripleMax(16<<20), "TCP send autotuning ceiling (third value)")
	t.sysctl("net.ipv4.ip_local_port_range", portRange(28000), "ephemeral ports for upstream connections (count)")
	t.sysctl("fs.file-max", atLeast(2<<20), "open files in the whole system")
	t.sysctl("net.core.bpf_jit_enable", equals(1), "XDP runs JIT-compiled; interpreted it is several times slower")
	var nofile unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &nofile); err == nil {
		t.row("RLIMIT_NOFILE (this shell)", strconv.FormatUint(nofile.Cur, 10), ">= 1048576", nofile.Cur >= 1<<20,
			"one descriptor per client and upstream connection (the unit sets LimitNOFILE=1048576)")
	}
	t.row("CPUs", strconv.Itoa(runtimeCPUs()), "-", true, "NIC queues beyond this add nothing")
	if len(ifaces) == 0 {
		ifaces = physicalInterfaces()
		fmt.Fprintln(w, "\n(no config given or no xdp.interfaces: showing every interface with a device)")
	}
	for _, name := range ifaces {
		t.nic(name)
	}
	if t.bad > 0 {
		fmt.Fprintf(w, "\n%d settings below the recommendation; persist changes in /etc/sysctl.d/90-edgeguard.conf.\n", t.bad)
	}
	return t.bad
}

type tuneReport struct {
	w   io.Writer
	bad int
}

func (t *tuneReport) row(name, now, rec string, ok bool, why string) {
	mark := " "
	if !ok {
		mark = "!"
		t.bad++
	}
	fmt.Fprintf(t.w, "%s %-34s %-12s %-12s %s\n", mark, name, now, rec, why)
}

// check reports whether a value read from /proc/sys meets a recommendation.
type check struct {
	text string
	ok   func(fields []int64) bool
}

func atLeast(n int64) check {
	return check{">= " + strconv.FormatInt(n, 10), func(f []int64) bool { return len(f) == 1 && f[0] >= n }}
}

func equals(n int64) check {
	return check{strconv.FormatInt(n, 10), func(f []int64) bool { return len(f) == 1 && f[0] == n }}
}

func tripleMax(n int64) check {
	return check{"max >= " + strconv.FormatInt(n>>20, 10) + "M", func(f []int64) bool { return len(f) == 3 && f[2] >= n }}
}

func portRange(n int64) check {
	return check{">= " + strconv.FormatInt(n, 10) + " ports", func(f []int64) bool { return len(f) == 2 && f[1]-f[0]+1 >= n }}
}

func (t *tuneReport) sysctl(name string, c check, why string) {
	b, err := os.ReadFile(filepath.Join("/proc/sys", strings.ReplaceAll(name, ".", "/")))
	if err != nil {
		t.row(name, "unreadable", c.text, true, why)
		return
	}
	now := strings.Join(strings.Fields(string(b)), " ")
	var fields []int64
	for _, f := range strings.Fields(now) {
		n, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			break
		}
		fields = append(fields, n)
	}
	t.row(name, now, c.text, c.ok(fields), why)
}

// nativeXDP are drivers with native (driver mode) XDP in mainline Linux;
// elsewhere gatewayd attaches in generic mode, which works but costs a
// socket buffer per packet before the verdict.
var nativeXDP = []string{"i40e", "ice", "ixgbe", "ixgbevf", "igb", "igc", "mlx4_en", "mlx4_core", "mlx5_core", "bnxt_en",
	"nfp", "qede", "thunder", "ena", "virtio_net", "veth", "tun", "sfc", "efx", "cpsw", "stmmac", "fec", "mvneta",
	"mvpp2", "dpaa2-eth", "netsec", "tsnep", "octeontx2", "lan966x-switch", "mtk_eth_soc", "hv_netvsc", "gve", "bond", "idpf"}

func (t *tuneReport) nic(name string) {
	dir := filepath.Join("/sys/class/net", name)
	if _, err := os.Stat(dir); err != nil {
		t.row(name, "missing", "-", false, "the interface does not exist on this host")
		return
	}
	driver := "none (virtual)"
	if d, err := os.Readlink(filepath.Join(dir, "device", "driver")); err == nil {
		driver = filepath.Base(d)
	} else if d, err := os.Readlink(filepath.Join(dir, "device")); err == nil {
		driver = filepath.Base(d)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "uevent")); err == nil && strings.Contains(string(b), "DEVTYPE=") {
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "DEVTYPE="); ok && driver == "none (virtual)" {
				driver = v
			}
		}
	}
	native := slices.Contains(nativeXDP, driver)
	mode := "generic"
	if native {
		mode = "native"
	}
	t.row(name+" XDP", mode, "native", native, "driver "+driver+": native mode drops before the kernel allocates anything")
	queues, _ := filepath.Glob(filepath.Join(dir, "queues", "rx-*"))
	t.row(name+" rx queues", strconv.Itoa(len(queues)), ">= "+strconv.Itoa(runtimeCPUs()), len(queues) >= runtimeCPUs(),
		"one queue per CPU spreads XDP and the stack over every core (ethtool -L "+name+" combined N)")
	if b, err := os.ReadFile(filepath.Join(dir, "mtu")); err == nil {
		mtu, _ := strconv.Atoi(strings.TrimSpace(string(b)))
		t.row(name+" mtu", strconv.Itoa(mtu), "<= 3498", mtu <= 3498, "native XDP on most drivers needs the frame in one page")
	}
}

// physicalInterfaces lists interfaces backed by a device.
func physicalInterfaces() []string {
	ents, _ := os.ReadDir("/sys/class/net")
	var out []string
	for _, e := range ents {
		if _, err := os.Stat(filepath.Join("/sys/class/net", e.Name(), "device")); err == nil {
			out = append(out, e.Name())
		}
	}
	return out
}

func runtimeCPUs() int {
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &set); err == nil {
		return set.Count()
	}
	return 1
}

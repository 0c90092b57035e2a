package attack

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"time"

	"golang.org/x/sys/unix"

	"github.com/edgeguard/edgeguard/bench/suite/results"
	"github.com/edgeguard/edgeguard/internal/genlist"
	"github.com/edgeguard/edgeguard/policy/blocklist"
)

var errNoFrames = errors.New("no frame reached the receiver")

// FloodOptions configure XDPFlood. Zero values take the defaults shown.
type FloodOptions struct {
	// Gatewayd is the path of the gatewayd binary to measure.
	Gatewayd string
	// WorkDir holds configs, lists and gatewayd's state; it must exist.
	WorkDir string
	// Quick shortens the run: a smaller list, fewer sources, shorter floods.
	Quick bool
	// Progress receives one line per step; nil discards them.
	Progress func(string)
	// Entries is the blocklist's size (default 1,000,000; quick 100,000).
	Entries int
	// Sources is the number of distinct spoofed sources, every one inside
	// the list, rounded down to a power of two (default 65536; quick 4096).
	Sources int
	// Duration is the length of one flood (default 10s; quick 3s).
	Duration time.Duration
	// Droppers to measure, in order: "xdp", "nftables" (default both).
	Droppers []string
}

func (o *FloodOptions) defaults() {
	if o.Entries <= 0 {
		o.Entries = 1_000_000
		if o.Quick {
			o.Entries = 100_000
		}
	}
	if o.Sources <= 0 {
		o.Sources = 65536
		if o.Quick {
			o.Sources = 4096
		}
	}
	o.Sources = powerOfTwoAtMost(min(o.Sources, o.Entries, 1<<20))
	if o.Duration <= 0 {
		o.Duration = 10 * time.Second
		if o.Quick {
			o.Duration = 3 * time.Second
		}
	}
	if len(o.Droppers) == 0 {
		o.Droppers = []string{"xdp", "nftables"}
	}
	if o.Progress == nil {
		o.Progress = func(string) {}
	}
}

// floodCPU is the CPU of the flood, sender and receiver alike: the
// generator's thread is pinned to it, and the receiver's veth NAPI runs
// there as a softirq each time the generator flushes a batch of frames
// (frames are handed over in the generator's context, so the receiver
// never falls behind and no frame is lost between them). The receiver's
// cost is that CPU's softirq time.
func floodCPU() int { return runtime.NumCPU() - 1 }

// xdpMethod describes edgeguard's dropper in the results.
const xdpMethod = "edgeguard XDP program in native mode on the receiver's veth (IPv4 blocklist in a DIR-24-8 table), " +
	"list pushed through gatewayd's management API (PUT /v1/blocklist)"

// XDPFlood floods a receiver with frames from o.Sources spoofed sources,
// all inside an o.Entries-entry blocklist, and measures how fast each
// dropper drops them, at what CPU cost, and that none gets through.
//
// For each dropper it builds a fresh lab: two network namespaces joined by
// a veth pair. The receiver's veth runs its NAPI in a kernel thread pinned
// to one CPU; the generator (xdp/floodgen.c in live-frame mode) runs on
// the other. A prerouting counter of flood frames is the pass check; a
// short control flood before the list is loaded must reach it.
func XDPFlood(ctx context.Context, o FloodOptions) (*results.XDPFlood, error) {
	o.defaults()
	res := &results.XDPFlood{}
	if why := floodSkip(o); why != "" {
		res.Skipped = why
		return res, nil
	}
	cpu := floodCPU()
	res.ReceiverCPU = cpu
	res.Generator = fmt.Sprintf("XDP live frames (BPF_PROG_TEST_RUN, XDP_TX) from the sender's veth, one thread pinned to cpu %d, "+
		"where the receiver's NAPI also runs (softirq); 64-byte UDP frames, IPv4 source rewritten per frame (header checksum fixed)", cpu)

	o.Progress(fmt.Sprintf("flood: drawing a %d-entry blocklist and %d sources", o.Entries, o.Sources))
	prefixes, sources := drawList(o.Entries, o.Sources)
	res.BlocklistEntries, res.Sources = len(prefixes), len(sources)
	textList := filepath.Join(o.WorkDir, "blocklist.txt")
	if err := writeTextList(textList, prefixes); err != nil {
		return res, err
	}
	nftList := filepath.Join(o.WorkDir, "blocklist.nft")
	if err := writeNftList(nftList, prefixes); err != nil {
		return res, err
	}
	for _, d := range o.Droppers {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		dir := filepath.Join(o.WorkDir, "flood-"+d)
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return res, fmt.Errorf("flood %s: %w", d, err)
		}
		fr, err := floodOne(ctx, o, d, dir, textList, nftList, sources, cpu)
		if err != nil {
			return res, fmt.Errorf("flood %s: %w", d, err)
		}
		res.Results = append(res.Results, *fr)
		o.Progress(fmt.Sprintf("flood %s: sent %.2f Mpps, dropped %.2f Mpps, %.0f ns/packet on the receiver, %d passed",
			d, fr.SentPPS/1e6, fr.DroppedPPS/1e6, fr.NsPerPacket, fr.PassedPackets))
	}
	return res, nil
}

// floodSkip returns why the flood cannot run here, or "".
func floodSkip(o FloodOptions) string {
	if os.Geteuid() != 0 {
		return fmt.Sprintf("needs root (euid %d): network namespaces, BPF", os.Geteuid())
	}
	for _, tool := range []string{"ip", "nft", "ethtool", "nsenter"} {
		if _, err := exec.LookPath(tool); err != nil {
			return tool + " not installed"
		}
	}
	for _, d := range o.Droppers {
		if d != "xdp" && d != "nftables" {
			return "unknown dropper " + strconv.Quote(d)
		}
		if d == "xdp" {
			if _, err := os.Stat(o.Gatewayd); err != nil {
				return "no gatewayd binary: " + err.Error()
			}
		}
	}
	return ""
}

// drawList draws n prefixes below 192.0.0.0 (genlist's mix: mostly /32 and
// /24) and nsrc distinct sources, each inside one of them, skipping 0/8,
// 10/8 and 127/8.
func drawList(n, nsrc int) ([]netip.Prefix, []netip.Addr) {
	r := mrand.New(mrand.NewPCG(2024, 7))
	prefixes := make([]netip.Prefix, 0, n)
	sources := make([]netip.Addr, 0, nsrc)
	seen := make(map[netip.Addr]bool, nsrc)
	for len(prefixes) < n {
		p, a := genlist.IPv4(r, 0xc0000000)
		if b := a.As4()[0]; b == 0 || b == 10 || b == 127 {
			continue
		}
		prefixes = append(prefixes, p)
		if len(sources) < nsrc && !seen[a] {
			seen[a] = true
			sources = append(sources, a)
		}
	}
	return prefixes, sources
}

func writeTextList(path string, prefixes []netip.Prefix) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("write blocklist: %w", err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	var b []byte
	for _, p := range prefixes {
		b = append(p.AppendTo(b[:0]), '\n')
		w.Write(b)
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return fmt.Errorf("write blocklist: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write blocklist: %w", err)
	}
	return nil
}

// flood counters read before and after a measurement.
type floodSample struct {
	at      time.Time
	dropped uint64        // by the dropper
	passed  uint64        // flood frames at prerouting
	softirq time.Duration // of the flood's CPU
}

// floodOne measures one dropper in a lab of its own.
func floodOne(ctx context.Context, o FloodOptions, dropper, dir, textList, nftList string, sources []netip.Addr, cpu int) (*results.FloodResult, error) {
	o.Progress("flood " + dropper + ": setting up namespaces")
	l, err := newLab(ctx)
	if err != nil {
		return nil, err
	}
	defer l.Close()
	if err := setupPassCheck(ctx, l, dir); err != nil {
		return nil, err
	}
	gen, err := newFloodGen(l, sources)
	if err != nil {
		return nil, err
	}
	defer gen.Close()

	fr := &results.FloodResult{Dropper: dropper}
	var gw *gatewayd
	if dropper == "xdp" {
		fr.Method = xdpMethod
		b := make([]byte, 3)
		_, _ = rand.Read(b)
		pinPath := pinPrefix + strconv.Itoa(os.Getpid()) + "-" + hex.EncodeToString(b)
		defer os.RemoveAll(pinPath)
		doc := `listeners: [{name: public, address: "` + srvIPv4 + `:8080"}]
management: {address: "127.0.0.1:9901", unix_socket: "{{SOCKET}}", state_dir: "{{STATE}}"}
access_log: {path: "off"}
upstreams: [{name: demo, targets: ["builtin:demo"]}]
routes: [{name: demo, path: /, upstream: demo}]
xdp: {mode: native, interfaces: [` + l.srvIf + `], pin_path: "{{PIN}}"}
`
		o.Progress("flood xdp: starting gatewayd")
		if gw, err = startGatewayd(ctx, o.Gatewayd, dir, l.srv, doc, pinPath); err != nil {
			return nil, err
		}
		defer gw.Stop()
		if _, err := gw.counters(ctx); err != nil {
			return nil, fmt.Errorf("%w\n%s", err, gw.Logs())
		}
	} else {
		fr.Method = nftMethod
	}

	// Control: before the list is loaded, flood frames reach prerouting.
	if _, err := gen.run(ctx, time.Second, 20000, cpu); err != nil {
		return nil, err
	}
	ctrl, err := settledCounter(ctx, l)
	if err != nil {
		return nil, err
	}
	if ctrl == 0 {
		return nil, fmt.Errorf("control flood: %w (the pass check would be blind)", errNoFrames)
	}
	fr.ControlPackets = int64(ctrl)

	o.Progress(fmt.Sprintf("flood %s: loading the blocklist", dropper))
	t0 := time.Now()
	if dropper == "xdp" {
		if err := pushList(ctx, gw, textList); err != nil {
			return nil, fmt.Errorf("%w\n%s", err, gw.Logs())
		}
	} else if err := loadNftDropper(ctx, l, dir, nftList); err != nil {
		return nil, err
	}
	fr.LoadSeconds = time.Since(t0).Seconds()

	sample := func() (floodSample, error) {
		s := floodSample{at: time.Now()}
		var err error
		if s.passed, err = nftCounter(l, unix.NFPROTO_IPV4, "egbench_check", "flood"); err != nil {
			return s, err
		}
		if dropper == "xdp" {
			c, err := gw.counters(ctx)
			if err != nil {
				return s, err
			}
			s.dropped = c["drop_blocklist"]
		} else if s.dropped, err = nftCounter(l, unix.NFPROTO_NETDEV, "egbench", "dropped"); err != nil {
			return s, err
		}
		s.softirq, err = softirqTime(cpu)
		return s, err
	}

	o.Progress(fmt.Sprintf("flood %s: %s of frames from %d sources", dropper, o.Duration, len(sources)))
	// Softirq time the flood's CPU spends on others' work, subtracted below.
	idle0, err := sample()
	if err != nil {
		return nil, err
	}
	time.Sleep(time.Second)
	before, err := sample()
	if err != nil {
		return nil, err
	}
	background := float64(before.softirq-idle0.softirq) / before.at.Sub(idle0.at).Seconds() // per second
	start := time.Now()
	sent, err := gen.run(ctx, o.Duration, 0, cpu)
	if err != nil {
		return nil, err
	}
	secs := time.Since(start).Seconds()
	// Let the receiver drain its ring (256 frames) before counting.
	time.Sleep(200 * time.Millisecond)
	after, err := sample()
	if err != nil {
		return nil, err
	}
	dropped := after.dropped - before.dropped
	fr.Seconds = secs
	fr.SentPPS = float64(sent) / secs
	fr.DroppedPPS = float64(dropped) / secs
	fr.PassedPackets = int64(after.passed - before.passed)
	if dropped > 0 {
		ns := float64(after.softirq-before.softirq) - background*after.at.Sub(before.at).Seconds()
		ns = max(ns, 0)
		fr.NsPerPacket = ns / float64(dropped)
		fr.CPUSecondsPerMillionPackets = ns / 1e9 / (float64(dropped) / 1e6)
	}
	return fr, nil
}

// settledCounter reads the pass check once it has stopped moving (frames
// still in the receiver's ring are counted), for at most 2 s.
func settledCounter(ctx context.Context, l *lab) (uint64, error) {
	var last uint64
	for i := 0; i < 20 && ctx.Err() == nil; i++ {
		time.Sleep(100 * time.Millisecond)
		n, err := nftCounter(l, unix.NFPROTO_IPV4, "egbench_check", "flood")
		if err != nil {
			return 0, err
		}
		if i > 0 && n == last {
			return n, nil
		}
		last = n
	}
	return last, nil
}

// pushList replaces gatewayd's blocklist with the list file, as an
// operator's gatewayctl blocklist push would.
func pushList(ctx context.Context, gw *gatewayd, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("push blocklist: %w", err)
	}
	defer f.Close()
	res, err := gw.mgmt.Push(ctx, f, blocklist.FormatText, uint64(time.Now().UnixMilli()))
	if err != nil {
		return fmt.Errorf("push blocklist: %w", err)
	}
	info, err := gw.mgmt.Info(ctx)
	if err != nil {
		return fmt.Errorf("push blocklist: %w", err)
	}
	if info.Version != res.Version || info.Entries == 0 {
		return errors.New("push blocklist: the pushed version is not live: " + fmt.Sprint(info))
	}
	return nil
}

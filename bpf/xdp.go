package bpf

import (
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"github.com/cilium/ebpf/ringbuf"
	"github.com/cilium/ebpf/rlimit"

	"github.com/edgeguard/edgeguard/bpf/cidrset"
	"github.com/edgeguard/edgeguard/bpf/enforce"
	"github.com/edgeguard/edgeguard/bpf/internal/dir24"
	"github.com/edgeguard/edgeguard/bpf/internal/v6front"
	"github.com/edgeguard/edgeguard/bpf/internal/v6tab"
)

// DefaultPinPath is where maps and links are pinned unless Options says otherwise.
const DefaultPinPath = "/sys/fs/bpf/edgeguard"

// Attach modes accepted in Options.Mode.
const (
	ModeAuto    = "auto"    // native, falling back to generic where refused
	ModeNative  = "native"  // native only: refusal is an error
	ModeGeneric = "generic" // generic (skb) only
	ModeOff     = "off"     // Open returns ErrDisabled
)

// XDP actions returned by TestRun.
const (
	ActionDrop = 1 // XDP_DROP
	ActionPass = 2 // XDP_PASS
)

var (
	// ErrDisabled is returned by Open for mode "off".
	ErrDisabled = errors.New("xdp disabled by configuration (mode off)")
	// ErrNoBaseline is returned by ApplyBlocklistDelta after Open re-used
	// pinned maps and before the first ReplaceBlocklist: the kernel keeps
	// enforcing the pinned list, but its exact prefixes are not known here.
	ErrNoBaseline = errors.New("blocklist not known since restart: replace the blocklist before applying a delta")
)

// Options configure Open.
type Options struct {
	// Interfaces to attach to; none loads the program and maps only.
	Interfaces []string
	// Mode is ModeAuto (also ""), ModeNative, ModeGeneric or ModeOff.
	Mode string
	// PinPath is a directory on (or to be mounted as) bpffs; default
	// DefaultPinPath.
	PinPath string
	// Logger receives attach decisions; default slog.Default().
	Logger *slog.Logger
	// BurstMaxSources sizes the burst meter (DefaultBurstMaxSources when
	// zero); SetBurst can change it later. The meter is off until SetBurst.
	BurstMaxSources int
}

// Attachment describes the program on one interface.
type Attachment struct {
	Interface string
	Ifindex   int
	Mode      string // ModeNative or ModeGeneric
}

// objects are the kernel objects the program needs; the tmpl_* maps in the
// ELF exist only to carry BTF and are never loaded.
type objects struct {
	Prog    *ebpf.Program `ebpf:"xdp_filter"`
	BlockV4 *ebpf.Map     `ebpf:"block_v4"`
	BlockV6 *ebpf.Map     `ebpf:"block_v6"`
	// BlockV6Short is the short-length bitmap of block_v6's table.
	BlockV6Short *ebpf.Map `ebpf:"block_v6_short"`
	// BlockV6Front is block_v6's front (v6front), new in a later version:
	// created beside older pins (empty: every IPv6 lookup takes the table).
	BlockV6Front *ebpf.Map `ebpf:"block_v6_front"`
	AllowV4      *ebpf.Map `ebpf:"allow_v4"`
	AllowV6      *ebpf.Map `ebpf:"allow_v6"`
	Bans         *ebpf.Map `ebpf:"bans"`
	// BansNet6 is new in a later version: a daemon upgraded over older
	// pins creates it beside them.
	BansNet6  *ebpf.Map `ebpf:"bans_net6"`
	NetBansOn *ebpf.Map `ebpf:"net_bans_on"`
	// ListsDisjoint is new in a later version, created beside older pins
	// (zero: the allowlist is consulted).
	ListsDisjoint *ebpf.Map `ebpf:"lists_disjoint"`
	Stats         *ebpf.Map `ebpf:"stats"`
	Layout        *ebpf.Map `ebpf:"layout"`
	// The burst meter's maps; only burst_stats is pinned (see filter.c).
	Burst       *ebpf.Map `ebpf:"burst"`
	Meters      *ebpf.Map `ebpf:"meters"`
	BurstEvents *ebpf.Map `ebpf:"burst_events"`
	BurstStats  *ebpf.Map `ebpf:"burst_stats"`
}

// pinnedMaps names the maps pinned under the pin path.
var pinnedMaps = []string{"block_v4", "block_v6", "block_v6_short", "block_v6_front", "allow_v4", "allow_v6", "bans", "bans_net6", "net_bans_on", "lists_disjoint", "stats", "layout", "burst_stats"}

type attached struct {
	Attachment
	link    link.Link
	fresh   bool // attached by this Open, not re-used from a previous run
	pending bool // still runs the previous version's program, until Activate
}

// XDP owns the loaded program, its maps and its links. It implements
// enforce.Enforcer. Control operations are serialized; Stats, Bans and Mode
// may run concurrently with them. After Close or Detach it must not be used.
type XDP struct {
	log     *slog.Logger
	pinPath string
	objs    objects
	reused  bool
	links   []attached
	// recreated: the pinned maps did not fit this program and were made
	// anew, empty; the previous version's program keeps filtering with the
	// old maps on re-used links until Activate swaps this one in, and the
	// new maps get their layout fingerprint only then.
	recreated   bool
	fingerprint uint64
	// grace and graceInner: a map-in-map no program reads, whose writes
	// wait for an RCU grace period (waitGrace; under mu).
	graceMu           sync.Mutex
	grace, graceInner *ebpf.Map
	events            *ringbuf.Reader // burst bans reported by the program

	meterSize int // entries of the meters map (x.mu)

	innerDir, innerV6, innerLPM4, innerLPM6 *ebpf.MapSpec

	mu         sync.Mutex // serializes list operations and guards the fields below
	block4     *cidrset.Set
	block6     *cidrset.Set
	allow4     *cidrset.Set
	allow6     *cidrset.Set
	baseline   bool         // block4/block6 are what the kernel holds
	allowKnown bool         // allow4/allow6 are what the kernel holds
	disjoint   bool         // lists_disjoint as last written or read
	dir        *dir24.Table // mirror of the live IPv4 table (nil: slot empty)
	dirMap     *dirMap      // live IPv4 block inner map
	tab6       *table6      // the live IPv6 table (nil: slots empty)
	allow4Map  *ebpf.Map
	allow6Map  *ebpf.Map
	pageBuf    []dir24.Page // writePages' gathered batch, kept between deltas
	spare4     *spare4      // blocklist tables the last replace swapped out (spare.go)
	spare6     *spare6

	banMu   sync.Mutex              // serializes ban writes with the expiry sweep
	netOwn  map[netip.Prefix]uint64 // network bans' own expiries (see bans.go); nil until first used
	netLens [129]int                // netOwn entries per prefix length

	recycling     atomic.Bool    // a chunk recycle is scheduled or running
	recycleWG     sync.WaitGroup // the running recycle (Close and tests wait)
	chunkRecycles atomic.Uint64
	dirRebuilds   atomic.Uint64            // deltas that had to build a new IPv4 table
	sparePatches  atomic.Uint64            // replace tables made by patching a spare (either family)
	spareReloads  atomic.Uint64            // IPv4 replace tables made by reloading the spare with an unrelated list
	frontWrites   atomic.Uint64            // IPv4 front records rewritten in a live table
	frontHook     func()                   // tests: called while a delta's front records are invalid
	failV6        func(stage string) error // tests: fail an IPv6 table operation ("build", "delete")

	noBatch       bool // tests: take the per-element path
	batchWrites   atomic.Uint64
	elementWrites atomic.Uint64
	closed        atomic.Bool
	detached      atomic.Bool
}

var _ enforce.Enforcer = (*XDP)(nil)

// Open loads the XDP program, re-using maps pinned under opts.PinPath when
// present (so bans, lists and counters survive a restart), and attaches it
// to opts.Interfaces. An interface that already carries the pinned link of a
// previous run gets the new program through link.Update, without a gap in
// filtering. Links pinned for interfaces no longer listed are detached.
//
// After re-using pinned maps the kernel keeps enforcing the previous lists,
// but ApplyBlocklistDelta returns ErrNoBaseline until ReplaceBlocklist has
// run once. Open fails when BPF is unavailable (not root, no bpffs, ...): the
// caller then falls back to dataplane/connfilter.
func Open(opts Options) (*XDP, error) {
	mode := opts.Mode
	switch mode {
	case "":
		mode = ModeAuto
	case ModeAuto, ModeNative, ModeGeneric:
	case ModeOff:
		return nil, ErrDisabled
	default:
		return nil, fmt.Errorf("open xdp: mode %q: must be auto, native, generic or off", opts.Mode)
	}
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	log = log.With("component", "xdp")
	pinPath := opts.PinPath
	if pinPath == "" {
		pinPath = DefaultPinPath
	}

	// Kernels before 5.11 charge BPF memory to RLIMIT_MEMLOCK; later ones
	// use memcg and this is a no-op.
	if err := rlimit.RemoveMemlock(); err != nil {
		log.Warn("raise memlock limit", "err", err)
	}
	mounted, err := ensurePinDir(pinPath)
	if err != nil {
		return nil, fmt.Errorf("open xdp: %w", err)
	}
	if mounted != "" {
		log.Info("mounted bpffs", "path", mounted)
	}

	x := &XDP{log: log, pinPath: pinPath, meterSize: opts.BurstMaxSources}
	if x.meterSize <= 0 {
		x.meterSize = DefaultBurstMaxSources
	}
	if err := x.load(); err != nil {
		return nil, err
	}
	if x.events, err = newEventReader(x.objs.BurstEvents); err != nil {
		x.Close()
		return nil, fmt.Errorf("open xdp: %w", err)
	}
	x.block4, x.block6, x.allow4, x.allow6 = cidrset.Empty, cidrset.Empty, cidrset.Empty, cidrset.Empty
	x.baseline = !x.reused
	x.allowKnown = !x.reused
	var disjoint uint32
	if err := x.objs.ListsDisjoint.Lookup(uint32(0), &disjoint); err != nil {
		x.Close()
		return nil, fmt.Errorf("open xdp: read list switch: %w", err)
	}
	x.disjoint = disjoint != 0

	if err := x.attachAll(opts.Interfaces, mode); err != nil {
		// Undo what this call attached; links re-used from a previous run
		// stay as they were.
		for _, l := range x.links {
			if l.fresh {
				l.link.Unpin()
			}
		}
		x.Close()
		return nil, err
	}
	if !x.Pending() {
		if err := x.markFilled(); err != nil {
			x.Close()
			return nil, fmt.Errorf("open xdp: %w", err)
		}
	}
	log.Info("xdp ready", "mode", x.Mode(), "pin_path", pinPath, "reused_pins", x.reused, "pending_activation", x.Pending())
	return x, nil
}

// Pending reports whether interfaces still run a previous version's
// program with its maps, because this one's maps had to be recreated:
// Activate swaps it in.
func (x *XDP) Pending() bool {
	for _, l := range x.links {
		if l.pending {
			return true
		}
	}
	return false
}

// Activate swaps this program into the links that kept a previous
// version's program when Open had to recreate the pinned maps. Call it once
// the bans and lists are restored into the new maps: until then the old
// program goes on filtering with the old ones, so an upgrade lets no
// blocklisted or banned source through while the state is reloaded. It then
// writes the maps' layout fingerprint, which marks them as filled: a start
// that fails before Activate leaves maps that the next Open recreates
// again. Without pending links it does nothing.
func (x *XDP) Activate() error {
	if !x.Pending() {
		return nil
	}
	x.mu.Lock() // a meter resize swaps x.objs.Prog under x.mu
	defer x.mu.Unlock()
	for i := range x.links {
		l := &x.links[i]
		if !l.pending {
			continue
		}
		start := time.Now()
		if err := l.link.Update(x.objs.Prog); err != nil {
			return fmt.Errorf("activate xdp on %s: %w", l.Interface, err)
		}
		l.pending = false
		x.log.Info("xdp program swapped in after the state was restored", "interface", l.Interface, "took", time.Since(start))
	}
	if err := x.markFilled(); err != nil {
		return fmt.Errorf("activate xdp: %w", err)
	}
	return nil
}

// markFilled writes the layout fingerprint of maps this Open created.
func (x *XDP) markFilled() error {
	if x.reused {
		return nil // written by the run that filled them
	}
	if err := x.objs.Layout.Update(uint32(0), x.fingerprint, ebpf.UpdateAny); err != nil {
		return fmt.Errorf("write layout fingerprint: %w", err)
	}
	return nil
}

func (x *XDP) load() error {
	spec, err := loadFilter()
	if err != nil {
		return fmt.Errorf("open xdp: %w", err)
	}
	x.innerDir = spec.Maps["block_v4"].InnerMap.Copy()
	x.innerLPM4 = spec.Maps["allow_v4"].InnerMap.Copy()
	x.innerV6 = spec.Maps["block_v6"].InnerMap.Copy()
	x.innerLPM6 = spec.Maps["allow_v6"].InnerMap.Copy()
	if err := sizeMeters(spec, x.meterSize); err != nil {
		return fmt.Errorf("open xdp: %w", err)
	}
	fingerprint := layoutFingerprint(x.innerDir, x.innerV6, x.innerLPM4, x.innerLPM6)

	_, statErr := os.Stat(filepath.Join(x.pinPath, "layout"))
	x.reused = statErr == nil
	opts := &ebpf.CollectionOptions{Maps: ebpf.MapOptions{PinPath: x.pinPath}}
	err = spec.LoadAndAssign(&x.objs, opts)
	if err == nil && x.reused {
		var got uint64
		if lerr := x.objs.Layout.Lookup(uint32(0), &got); lerr != nil || got != fingerprint {
			err = fmt.Errorf("layout fingerprint %#x, want %#x: %w", got, fingerprint, ebpf.ErrMapIncompatible)
			x.closeObjects()
		}
	}
	if errors.Is(err, ebpf.ErrMapIncompatible) {
		// A new program version with other map layouts (or maps a failed
		// start left unfilled): start from fresh maps. The old program
		// keeps running on the old maps until Activate, once the caller
		// has restored the lists and bans.
		x.log.Warn("pinned maps are incompatible with this program; recreating them (lists, bans and counters start empty; the running program filters with the old ones until they are restored)", "err", err)
		x.recreated = true
		for _, name := range pinnedMaps {
			if rerr := os.Remove(filepath.Join(x.pinPath, name)); rerr != nil && !os.IsNotExist(rerr) {
				return fmt.Errorf("open xdp: remove stale pin %s: %w", name, rerr)
			}
		}
		x.reused = false
		err = spec.LoadAndAssign(&x.objs, opts)
	}
	if err != nil {
		var verr *ebpf.VerifierError
		if errors.As(err, &verr) {
			return fmt.Errorf("open xdp: load program: %+v", verr)
		}
		return fmt.Errorf("open xdp: load objects: %w", err)
	}
	x.fingerprint = fingerprint // written once the maps are filled (markFilled)
	return nil
}

// layoutFingerprint identifies the inner map layouts, the DIR-24-8
// geometry and the IPv6 table's tags: what an existing outer map must have
// been created for.
func layoutFingerprint(specs ...*ebpf.MapSpec) uint64 {
	h := fnv.New64a()
	for _, s := range specs {
		fmt.Fprintf(h, "%s/%d/%d/%d;", s.Type, s.KeySize, s.ValueSize, s.Flags)
	}
	fmt.Fprintf(h, "dir24/%d/%d/%d/%#x/%#x", dir24.PageWords, dir24.Tbl24Pages, dir24.ChunkWords, uint32(dir24.ChunkFlag), uint32(dir24.OneFlag))
	fmt.Fprintf(h, ";sum/%d/%d/%#x/%#x", dir24.SumPages, dir24.ChunkBase, dir24.SumOne, dir24.SumChunk)
	fmt.Fprintf(h, ";front/%d/%d/%d/%d", dir24.FrontBase, dir24.FrontPages, dir24.FrontSum, dir24.FrontInvalid)
	fmt.Fprintf(h, ";front6/%d/%d/%d/%d/%#x/%d/%d", v6front.MinBits, v6front.SetWords, v6front.Ways, v6front.LenTable,
		uint32(v6front.Multiplier), v6front.ShortBitsShift, v6front.Incomplete)
	fmt.Fprintf(h, ";v6tab/%#x", v6tab.TagNode)
	return h.Sum64()
}

func linkPin(dir, mode, iface string) string {
	return filepath.Join(dir, "link_"+mode+"_"+iface)
}

// pinnedLinks maps interface name -> (mode, pin path) for links pinned by
// earlier runs.
func (x *XDP) pinnedLinks() (map[string][2]string, error) {
	entries, err := os.ReadDir(x.pinPath)
	if err != nil {
		return nil, fmt.Errorf("read pin directory: %w", err)
	}
	out := map[string][2]string{}
	for _, e := range entries {
		for _, mode := range []string{ModeNative, ModeGeneric} {
			if iface, ok := strings.CutPrefix(e.Name(), "link_"+mode+"_"); ok {
				out[iface] = [2]string{mode, filepath.Join(x.pinPath, e.Name())}
			}
		}
	}
	return out, nil
}

func (x *XDP) attachAll(ifaces []string, mode string) error {
	pinned, err := x.pinnedLinks()
	if err != nil {
		return fmt.Errorf("open xdp: %w", err)
	}
	want := map[string]bool{}
	for _, name := range ifaces {
		if want[name] {
			return fmt.Errorf("open xdp: interface %s listed twice", name)
		}
		want[name] = true
		if err := x.attach(name, mode, pinned[name]); err != nil {
			return fmt.Errorf("open xdp: attach %s: %w", name, err)
		}
	}
	for name, p := range pinned {
		if want[name] {
			continue
		}
		if err := unpinLink(p[1]); err != nil {
			return fmt.Errorf("open xdp: detach %s (no longer configured): %w", name, err)
		}
		x.log.Info("detached xdp from interface no longer configured", "interface", name)
	}
	return nil
}

// unpinLink detaches a pinned link: unpinned and closed, it goes away.
func unpinLink(path string) error {
	l, err := link.LoadPinnedLink(path, nil)
	if err != nil {
		// Not a loadable link any more: just drop the pin.
		if rerr := os.Remove(path); rerr != nil && !os.IsNotExist(rerr) {
			return rerr
		}
		return nil
	}
	defer l.Close()
	return l.Unpin()
}

func (x *XDP) attach(name, mode string, pinned [2]string) error {
	iface, err := net.InterfaceByName(name)
	if err != nil {
		return fmt.Errorf("find interface: %w", err)
	}
	if pinned[1] != "" {
		reuse, err := x.reusePinned(iface, mode, pinned[0], pinned[1])
		if err != nil || reuse {
			return err
		}
	}

	modes := map[string][]string{
		ModeAuto:    {ModeNative, ModeGeneric},
		ModeNative:  {ModeNative},
		ModeGeneric: {ModeGeneric},
	}[mode]
	var errs []error
	for _, m := range modes {
		flags := link.XDPDriverMode
		if m == ModeGeneric {
			flags = link.XDPGenericMode
		}
		l, err := link.AttachXDP(link.XDPOptions{Program: x.objs.Prog, Interface: iface.Index, Flags: flags})
		if err != nil {
			errs = append(errs, fmt.Errorf("%s mode: %w", m, err))
			if m == ModeNative && mode == ModeAuto {
				x.log.Warn("native xdp refused; falling back to generic mode", "interface", name, "err", err)
			}
			continue
		}
		if err := l.Pin(linkPin(x.pinPath, m, name)); err != nil {
			l.Close()
			return fmt.Errorf("pin link: %w", err)
		}
		x.links = append(x.links, attached{Attachment{name, iface.Index, m}, l, true, false})
		x.log.Info("attached xdp", "interface", name, "ifindex", iface.Index, "mode", m)
		return nil
	}
	return errors.Join(errs...)
}

// reusePinned swaps the new program into a link pinned by a previous run
// when it is still attached to this interface in an acceptable mode;
// otherwise it detaches the old link and reports false.
func (x *XDP) reusePinned(iface *net.Interface, mode, pinnedMode, path string) (bool, error) {
	l, err := link.LoadPinnedLink(path, nil)
	if err == nil {
		info, ierr := l.Info()
		ok := ierr == nil && info.XDP() != nil && int(info.XDP().Ifindex) == iface.Index &&
			(mode == ModeAuto || mode == pinnedMode)
		if ok && x.recreated {
			// The old program reads the old maps, which hold the lists and
			// bans; this one's are empty until the caller restores them.
			x.links = append(x.links, attached{Attachment{iface.Name, iface.Index, pinnedMode}, l, false, true})
			x.log.Info("re-used pinned xdp link; the running program stays until the state is restored", "interface", iface.Name,
				"mode", pinnedMode)
			return true, nil
		}
		if ok {
			start := time.Now()
			if err := l.Update(x.objs.Prog); err != nil {
				l.Close()
				return false, fmt.Errorf("update pinned link with new program: %w", err)
			}
			x.links = append(x.links, attached{Attachment{iface.Name, iface.Index, pinnedMode}, l, false, false})
			x.log.Info("re-used pinned xdp link; program updated in place", "interface", iface.Name,
				"mode", pinnedMode, "took", time.Since(start))
			return true, nil
		}
		l.Close()
	}
	x.log.Info("replacing pinned xdp link", "interface", iface.Name, "pinned_mode", pinnedMode, "mode", mode)
	return false, unpinLink(path)
}

// Mode reports where the program runs: enforce.ModeNative, ModeGeneric,
// ModeMixed, or ModeUnattached when attached to no interface.
func (x *XDP) Mode() string {
	if len(x.links) == 0 {
		return enforce.ModeUnattached
	}
	m := x.links[0].Mode
	for _, l := range x.links[1:] {
		if l.Mode != m {
			return enforce.ModeMixed
		}
	}
	return m
}

// Attachments lists the interfaces the program is attached to.
func (x *XDP) Attachments() []Attachment {
	out := make([]Attachment, len(x.links))
	for i, l := range x.links {
		out[i] = l.Attachment
	}
	return out
}

// ReusedPins reports whether Open found and re-used pinned maps.
func (x *XDP) ReusedPins() bool { return x.reused }

// PinPath is the bpffs directory holding the pins.
func (x *XDP) PinPath() string { return x.pinPath }

// TestRun runs the program on frame with BPF_PROG_TEST_RUN, repeat times
// (at least once), and returns the XDP action of the last run and the
// kernel-measured time per run. For tests and benchmarks.
func (x *XDP) TestRun(frame []byte, repeat uint32) (action uint32, perRun time.Duration, err error) {
	action, perRun, err = x.objs.Prog.Benchmark(frame, int(max(repeat, 1)), nil)
	if err != nil {
		return 0, 0, fmt.Errorf("test run xdp: %w", err)
	}
	return action, perRun, nil
}

// Close releases the program, maps and links held by this process. Pinned
// links stay attached and pinned maps keep their contents, so the kernel
// keeps filtering until a new Open takes over (or Detach is called).
func (x *XDP) Close() error {
	if x.closed.Swap(true) {
		return nil
	}
	var errs []error
	if x.events != nil {
		errs = append(errs, x.events.Close())
	}
	for _, l := range x.links {
		errs = append(errs, l.link.Close())
	}
	x.mu.Lock()
	if x.dirMap != nil {
		errs = append(errs, x.dirMap.Close())
	}
	errs = append(errs, x.tab6.close())
	x.tab6 = nil
	for _, m := range []*ebpf.Map{x.allow4Map, x.allow6Map} {
		if m != nil {
			errs = append(errs, m.Close())
		}
	}
	x.closeSpares()
	x.dir = nil
	x.graceMu.Lock()
	for _, m := range []*ebpf.Map{x.grace, x.graceInner} {
		if m != nil {
			errs = append(errs, m.Close())
		}
	}
	x.grace, x.graceInner = nil, nil
	x.graceMu.Unlock()
	x.mu.Unlock()
	x.recycleWG.Wait() // a recycle that took x.mu before us has finished; later ones see closed
	errs = append(errs, x.closeObjects())
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("close xdp: %w", err)
	}
	return nil
}

func (x *XDP) closeObjects() error {
	var errs []error
	if x.objs.Prog != nil {
		errs = append(errs, x.objs.Prog.Close())
	}
	for _, m := range []*ebpf.Map{x.objs.BlockV4, x.objs.BlockV6, x.objs.BlockV6Short, x.objs.AllowV4, x.objs.AllowV6,
		x.objs.Bans, x.objs.BansNet6, x.objs.NetBansOn, x.objs.ListsDisjoint, x.objs.Stats, x.objs.Layout,
		x.objs.Burst, x.objs.Meters, x.objs.BurstEvents, x.objs.BurstStats} {
		if m != nil {
			errs = append(errs, m.Close())
		}
	}
	x.objs = objects{}
	return errors.Join(errs...)
}

// Detach removes the program from every interface, deletes all pins (links
// and maps) and closes everything: the kernel state is gone afterwards.
func (x *XDP) Detach() error {
	if x.detached.Swap(true) {
		return nil
	}
	var errs []error
	for _, l := range x.links {
		if err := l.link.Unpin(); err != nil {
			errs = append(errs, fmt.Errorf("unpin link on %s: %w", l.Interface, err))
		}
	}
	pinned, err := x.pinnedLinks()
	if err == nil {
		for _, p := range pinned {
			errs = append(errs, unpinLink(p[1]))
		}
	}
	for _, name := range pinnedMaps {
		if err := os.Remove(filepath.Join(x.pinPath, name)); err != nil && !os.IsNotExist(err) {
			errs = append(errs, fmt.Errorf("remove pin %s: %w", name, err))
		}
	}
	errs = append(errs, x.Close())
	if err := os.Remove(x.pinPath); err != nil && !os.IsNotExist(err) {
		x.log.Warn("pin directory not removed", "path", x.pinPath, "err", err)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("detach xdp: %w", err)
	}
	for _, l := range x.links {
		x.log.Info("detached xdp", "interface", l.Interface)
	}
	return nil
}

package policy

import (
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/edgeguard/edgeguard/dataplane/secevent"
	"github.com/edgeguard/edgeguard/policy/config"
)

var (
	reloadsOK      = metrics.NewCounter(`edgeguard_config_reloads_total{result="ok"}`)
	reloadsFailed  = metrics.NewCounter(`edgeguard_config_reloads_total{result="failed"}`)
	reloadsNoop    = metrics.NewCounter(`edgeguard_config_reloads_total{result="unchanged"}`)
	lastReloadOK   atomic.Int64
	currentVersion atomic.Uint64
	_              = metrics.NewGauge(`edgeguard_config_version`, func() float64 { return float64(currentVersion.Load()) })
	_              = metrics.NewGauge(`edgeguard_config_last_reload_success_timestamp_seconds`, func() float64 { return float64(lastReloadOK.Load()) })
)

// Holder owns the running policy. Readers call Current on every request;
// Reload serializes writers and publishes a new snapshot with one atomic store,
// so a request sees either the old policy or the new one, never a mix, and
// in-flight requests finish on the snapshot they started with.
type Holder struct {
	cur atomic.Pointer[Policy]
	// started is the configuration the process started with: what the
	// restart-only keys are in effect (RestartPending).
	started *config.Config
	mu      sync.Mutex // serializes reloads
	opt     Options
	log     *slog.Logger
	load    func() (*config.Loaded, error)
}

// NewHolder compiles the first policy from load. load is called again on
// every Reload, so it should read the configuration source afresh.
func NewHolder(load func() (*config.Loaded, error), opt Options, log *slog.Logger) (*Holder, error) {
	l, err := load()
	if err != nil {
		return nil, err
	}
	p, err := Compile(l, nil, opt)
	if err != nil {
		return nil, err
	}
	h := &Holder{opt: opt, log: log, load: load, started: p.Config}
	// Always set at start: pinned XDP maps may hold a previous run's list.
	if err := h.applyAllowlist(nil, p, true); err != nil {
		p.Close()
		return nil, err
	}
	if err := h.applyBurst(nil, p); err != nil {
		p.Close()
		return nil, err
	}
	h.publish(p)
	return h, nil
}

// Current returns the running policy. It never returns nil once NewHolder succeeded.
func (h *Holder) Current() *Policy { return h.cur.Load() }

func (h *Holder) publish(p *Policy) {
	old := h.cur.Load()
	if old != nil {
		p.Version = old.Version + 1
	} else {
		p.Version = 1
	}
	h.cur.Store(p)
	currentVersion.Store(p.Version)
	lastReloadOK.Store(time.Now().Unix())
	for _, w := range p.Warnings {
		h.log.Warn("config: " + w)
	}
	if old != nil {
		old.release(p)
	}
}

// ReloadResult says what a reload did.
type ReloadResult struct {
	Swapped bool   // a new policy is running
	Version uint64 // the running policy's version after the reload
	// RestartRequired are the restart-only keys (RestartOnlyKeys) this
	// reload changed to a value not in effect; RestartPending are all those
	// whose configured value differs from the one in effect since the start.
	RestartRequired []string
	RestartPending  []string
}

// RestartPending lists the restart-only keys whose configured value is not
// the one in effect: a reload changed them and only a restart applies them.
func (h *Holder) RestartPending() []string {
	return restartOnly(h.started, h.Current().Config)
}

// Reload reads the configuration again and swaps in the compiled result. On
// any error the running policy stays, the failure is counted and logged, and
// the error names the problem. An unchanged file is a no-op.
func (h *Holder) Reload(trigger string) (ReloadResult, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	old := h.cur.Load()
	l, err := h.load()
	if err != nil {
		return h.failed(old, trigger, err)
	}
	if l.Digest == old.Digest {
		reloadsNoop.Inc()
		h.reloadEvent(trigger, "unchanged", old.Version, nil)
		h.log.Info("config unchanged, reload skipped", "trigger", trigger, "version", old.Version)
		return ReloadResult{Version: old.Version, RestartPending: h.RestartPending()}, nil
	}
	p, err := compileSafely(l, old, h.opt)
	if err != nil {
		return h.failed(old, trigger, err)
	}
	if err := h.applyAllowlist(old, p, false); err != nil {
		p.Close()
		return h.failed(old, trigger, err)
	}
	if err := h.applyBurst(old, p); err != nil {
		p.Close()
		return h.failed(old, trigger, err)
	}
	changed := restartOnly(old.Config, p.Config)
	h.logPublicChange(old.Config.Management.Public, p.Config.Management.Public)
	h.publish(p)
	reloadsOK.Inc()
	h.reloadEvent(trigger, "applied", p.Version, nil)
	h.log.Info("config reloaded", "trigger", trigger, "version", p.Version, "source", p.Source, "digest", p.Digest[:12])
	pending := h.RestartPending()
	// A key this reload changed back to the value in effect needs no
	// restart: only those still pending are reported.
	var restart []string
	for _, k := range changed {
		if slices.Contains(pending, k) {
			restart = append(restart, k)
		}
	}
	if len(restart) > 0 {
		h.log.Warn("config keys changed that take effect only after a restart: restart gatewayd to apply them", "keys", restart, "restart_pending", pending)
	}
	return ReloadResult{Swapped: true, Version: p.Version, RestartRequired: restart, RestartPending: pending}, nil
}

// logPublicChange says which management paths a reload closed to callers
// without credentials (adding the first token turns the default from status
// to health) or opened to them.
func (h *Holder) logPublicChange(old, next string) {
	if old == next {
		return
	}
	was, now := config.PublicPaths(old), config.PublicPaths(next)
	var closed, opened []string
	for _, p := range was {
		if !slices.Contains(now, p) {
			closed = append(closed, p)
		}
	}
	for _, p := range now {
		if !slices.Contains(was, p) {
			opened = append(opened, p)
		}
	}
	if len(closed) > 0 {
		h.log.Warn("management paths now need authentication", "paths", closed, "management.public", next, "was", old)
	}
	if len(opened) > 0 {
		h.log.Warn("management paths now served without authentication", "paths", opened, "management.public", next, "was", old)
	}
}

// applyAllowlist hands p's allowlist to the enforcer when it differs from
// old's (or always, at start).
func (h *Holder) applyAllowlist(old, p *Policy, always bool) error {
	if h.opt.Enforcer == nil || (!always && slices.Equal(old.Allowlist, p.Allowlist)) {
		return nil
	}
	if err := h.opt.Enforcer.ReplaceAllowlist(p.Allowlist); err != nil {
		return fmt.Errorf("apply xdp.allowlist: %w", err)
	}
	if len(p.Allowlist) > 0 || !always {
		h.log.Info("allowlist applied", "entries", len(p.Allowlist))
	}
	return nil
}

// Check compiles l the way gatewayd does at start (the data listeners' TLS
// material included) and releases what compiling started. It is what
// `gatewayd check-config` runs beyond validation.
func Check(l *config.Loaded) (warnings []string, err error) {
	opt := Options{CheckOnly: true}
	if UsesDemo(l.Config) {
		opt.DemoAddr = "127.0.0.1:1" // stands in for the demo upstream gatewayd would start
	}
	p, err := compileSafely(l, nil, opt)
	if err != nil {
		return nil, err
	}
	p.Close()
	return p.Warnings, nil
}

// compileSafely compiles like Compile, but turns a panic (a bug a config
// reached) into an error, so that a bad file can never take down a running
// gateway: the running policy stays.
func compileSafely(l *config.Loaded, old *Policy, opt Options) (p *Policy, err error) {
	defer func() {
		if r := recover(); r != nil {
			p, err = nil, fmt.Errorf("compile %s: internal error: %v", l.Source, r)
		}
	}()
	return Compile(l, old, opt)
}

func (h *Holder) failed(old *Policy, trigger string, err error) (ReloadResult, error) {
	reloadsFailed.Inc()
	h.reloadEvent(trigger, "rejected", old.Version, err)
	h.log.Error("config reload rejected, running policy kept", "trigger", trigger, "version", old.Version, "error", err)
	return ReloadResult{Version: old.Version, RestartPending: h.RestartPending()}, fmt.Errorf("reload config: %w", err)
}

// Events returns the security event stream of Options.Events (nil: none).
func (h *Holder) Events() *secevent.Log { return h.opt.Events }

// reloadEvent records a reload in the security event stream: result is
// "applied", "unchanged" or "rejected", version the running one after it.
func (h *Holder) reloadEvent(trigger, result string, version uint64, err error) {
	e := secevent.Event{Type: secevent.ConfigReload, Time: time.Now(), Reason: result, Action: trigger,
		Result: result, Version: version}
	if err != nil {
		e.Detail = err.Error()
	}
	h.opt.Events.Emit(&e)
}

// Close stops everything the running policy started.
// FreezeState stops (true) or resumes (false) the writes of the running
// policy's own state files (the anomaly detector's learnt state) while an
// upgrade's successor owns the state directory.
func (h *Holder) FreezeState(frozen bool) {
	if p := h.cur.Load(); p != nil && p.anomaly != nil {
		p.anomaly.det.SetFrozen(frozen)
	}
}

func (h *Holder) Close() {
	if p := h.cur.Load(); p != nil {
		p.Close()
	}
}

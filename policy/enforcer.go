package policy

import (
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/edgeguard/edgeguard/bpf"
	"github.com/edgeguard/edgeguard/bpf/enforce"
	"github.com/edgeguard/edgeguard/dataplane/connfilter"
	"github.com/edgeguard/edgeguard/dataplane/ratelimit"
	"github.com/edgeguard/edgeguard/policy/banstore"
	"github.com/edgeguard/edgeguard/policy/config"
)

// Enforcement is the source filter the daemon runs: the XDP program on the
// data interfaces, or, where XDP cannot be loaded or is off, the user-space
// filter that closes connections from blocked sources at accept time. Both
// take the same blocklist, allowlist and bans.
type Enforcement struct {
	enforce.Enforcer
	// Listener is set when the user-space fallback is active: data
	// listeners must be wrapped with connfilter.Wrap(ln, Listener).
	Listener *connfilter.Filter
	// Why says why the fallback is active ("" when XDP runs).
	Why string
	// BanStore persists bans once PersistBans ran (nil before, or without a
	// state directory). The Enforcer then is this store, so bans from every
	// caller (rate limiter included) are kept.
	BanStore *banstore.Store
	// fleet publishes this gateway's own bans and unbans to the others
	// (the cluster's ban stream) once a policy with cluster limits set it.
	fleet atomic.Pointer[BanPublisher]
	// limiter is the rate limiter's store, whose memo of recent bans every
	// unban must clear (ratelimit.Store.ForgetBans).
	limiter atomic.Pointer[ratelimit.Store]
}

// forgetBans tells the rate limiter that a ban was lifted.
func (e *Enforcement) forgetBans() {
	if s := e.limiter.Load(); s != nil {
		s.ForgetBans()
	}
}

// BanPublisher tells the other gateways of a ban or unban issued here.
type BanPublisher interface {
	PublishBan(src netip.Prefix, until time.Time)
	PublishUnban(src netip.Prefix)
}

// ShareBans makes every ban and unban issued here (rate limiter, burst
// meter, management API: all go through Ban, Unban, AddBan or RemoveBan)
// known to the fleet through p. Bans that came from the fleet enter through
// ApplyFleetBan and ApplyFleetUnban, which do not publish: no echo.
func (e *Enforcement) ShareBans(p BanPublisher) { e.fleet.Store(&p) }

// Ban bans src here and publishes it to the fleet.
func (e *Enforcement) Ban(src netip.Prefix, until time.Time) error {
	if err := e.Enforcer.Ban(src, until); err != nil {
		return err
	}
	if p := e.fleet.Load(); p != nil {
		(*p).PublishBan(src, until)
	}
	return nil
}

// Unban lifts src's ban here and, so that an operator's unban holds
// fleet-wide, at the other gateways too.
func (e *Enforcement) Unban(src netip.Prefix) error {
	if err := e.Enforcer.Unban(src); err != nil {
		return err
	}
	e.forgetBans()
	if p := e.fleet.Load(); p != nil {
		(*p).PublishUnban(src)
	}
	return nil
}

// AddBan is Ban acknowledged only once the ban is on disk (when bans are
// persisted), for the management API.
func (e *Enforcement) AddBan(src netip.Prefix, until time.Time) error {
	if e.BanStore == nil {
		if err := e.Ban(src, until); err != nil {
			return err
		}
		e.forgetBans()
		return nil
	}
	if err := e.BanStore.Add(src, until); err != nil {
		return err
	}
	e.forgetBans() // the ban may end earlier than the one it replaces
	if p := e.fleet.Load(); p != nil {
		(*p).PublishBan(src, until)
	}
	return nil
}

// RemoveBan is Unban acknowledged once on disk.
func (e *Enforcement) RemoveBan(src netip.Prefix) error {
	if e.BanStore == nil {
		return e.Unban(src)
	}
	if err := e.BanStore.Remove(src); err != nil {
		return err
	}
	e.forgetBans()
	if p := e.fleet.Load(); p != nil {
		(*p).PublishUnban(src)
	}
	return nil
}

// ApplyFleetBan applies a ban another gateway published, without
// publishing it again.
func (e *Enforcement) ApplyFleetBan(src netip.Prefix, until time.Time) error {
	if err := e.Enforcer.Ban(src, until); err != nil {
		return err
	}
	e.forgetBans() // it may end earlier than this gateway's own
	return nil
}

// ApplyFleetUnban lifts a ban another gateway lifted, without publishing.
func (e *Enforcement) ApplyFleetUnban(src netip.Prefix) error {
	if err := e.Enforcer.Unban(src); err != nil {
		return err
	}
	e.forgetBans()
	return nil
}

// PersistBans restores the bans kept in dir into the enforcer and, from
// then on, records every ban and unban there. It must run before the data
// listeners accept traffic. Without a dir bans live only as long as the
// enforcer does (XDP's pinned maps, or the process for the fallback).
func (e *Enforcement) PersistBans(dir string, log *slog.Logger) error {
	if dir == "" {
		log.Warn("bans are not persisted: no management.state_dir")
		return nil
	}
	st, rep, err := banstore.Open(banstore.Options{Dir: dir, Enforcer: e.Enforcer, Log: log})
	if err != nil {
		return err
	}
	log.Info("bans restored", "restored", rep.Restored, "expired", rep.Expired, "kept_from_enforcer", rep.Kept, "live", st.Len())
	e.Enforcer, e.BanStore = st, st
	return nil
}

// Unwrap returns the enforcer under the ban store, for status that only the
// implementation knows (XDP attachments).
func (e *Enforcement) Unwrap() enforce.Enforcer {
	if e.BanStore != nil {
		return e.BanStore.Enforcer
	}
	return e.Enforcer
}

// Activate tells an XDP filter whose pinned maps had to be recreated (an
// upgrade to another map layout) that the bans and lists are restored into
// the new maps: it swaps the new program onto the interfaces, which kept the
// previous one, filtering with the previous maps, until now
// (bpf.XDP.Activate). Otherwise it does nothing.
func (e *Enforcement) Activate() error {
	if x, ok := e.Unwrap().(*bpf.XDP); ok {
		return x.Activate()
	}
	return nil
}

// OpenEnforcement loads XDP as cfg asks, falling back to user space with a
// logged reason. It fails only when the operator demanded a specific XDP
// mode (native or generic) that could not be had: silently running without
// the NIC filter they asked for would be worse than not starting.
func OpenEnforcement(cfg config.XDP, log *slog.Logger) (*Enforcement, error) {
	var why string
	switch {
	case cfg.Mode == "off":
		why = "xdp.mode is off"
	case len(cfg.Interfaces) == 0:
		why = "no xdp.interfaces configured"
	default:
		x, err := bpf.Open(bpf.Options{Interfaces: cfg.Interfaces, Mode: cfg.Mode, PinPath: cfg.PinPath, Logger: log,
			BurstMaxSources: cfg.Burst.MaxSources})
		if err == nil {
			log.Info("XDP filter active", "mode", x.Mode(), "interfaces", cfg.Interfaces, "pin_path", cfg.PinPath, "reused_pins", x.ReusedPins())
			return register(&Enforcement{Enforcer: x}), nil
		}
		if cfg.Mode != "auto" && !errors.Is(err, bpf.ErrDisabled) {
			return nil, fmt.Errorf("load XDP (xdp.mode %s): %w", cfg.Mode, err)
		}
		why = "XDP unavailable: " + err.Error()
	}
	f := connfilter.New()
	log.Warn("user-space source filter active instead of XDP: blocked sources are closed at accept", "why", why)
	return register(&Enforcement{Enforcer: f, Listener: f, Why: why}), nil
}

func register(e *Enforcement) *Enforcement {
	set := metrics.NewSet()
	enforce.RegisterMetrics(set, e.Enforcer)
	metrics.RegisterSet(set)
	return e
}

package policy

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"reflect"
	"slices"
	"strconv"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/edgeguard/edgeguard/bpf/enforce"
	"github.com/edgeguard/edgeguard/dataplane/secevent"
	"github.com/edgeguard/edgeguard/internal/loggate"
	"github.com/edgeguard/edgeguard/policy/config"
)

var (
	burstBansSYN        = metrics.NewCounter(`edgeguard_xdp_burst_bans_total{bucket="syn"}`)
	burstBansPackets    = metrics.NewCounter(`edgeguard_xdp_burst_bans_total{bucket="packets"}`)
	burstPersistFailed  = metrics.NewCounter(`edgeguard_xdp_burst_bans_persist_failures_total`)
	burstLogsSuppressed = metrics.NewCounter(`edgeguard_xdp_burst_ban_logs_suppressed_total`)
)

// burstLogBurst is how many burst ban lines are logged per second, as for
// the rate limiter's bans: a flood from many sources bans each of them.
const burstLogBurst = 20

// burstSetter is what the Holder needs of an enforcer with a burst meter.
type burstSetter interface {
	SetBurst(enforce.Burst) error
}

// BurstOf compiles xdp.burst for the enforcer: the meter's packet bucket
// covers the data listeners' ports, its IPv6 sources are networks of
// rate_limit.ipv6_prefix, and its bans last xdp.burst.ban_duration (else
// xdp.ban_default).
func BurstOf(c *config.Config) enforce.Burst {
	b := c.XDP.Burst
	out := enforce.Burst{
		On:      b.On(),
		SYNRate: float64(b.SYNRate), SYNBurst: b.SYNBurst,
		PacketRate: float64(b.PacketRate), PacketBurst: b.PacketBurst,
		BanFor:     b.BanDuration,
		IPv6Prefix: c.RateLimit.IPv6Prefix,
		MaxSources: b.MaxSources,
	}
	if out.BanFor == 0 {
		out.BanFor = c.XDP.BanDefault
	}
	if out.IPv6Prefix < enforce.MinNetBanBits { // refused by validation while on
		out.IPv6Prefix = enforce.MinNetBanBits
	}
	for _, l := range c.Listeners {
		if _, port, err := net.SplitHostPort(l.Address); err == nil {
			if p, err := strconv.Atoi(port); err == nil && p > 0 && !slices.Contains(out.Ports, uint16(p)) {
				out.Ports = append(out.Ports, uint16(p))
			}
		}
	}
	return out
}

// applyBurst hands p's burst meter settings to the enforcer when it has a
// meter and they differ from old's (old nil: at start).
func (h *Holder) applyBurst(old, p *Policy) error {
	m, ok := h.opt.Enforcer.(burstSetter)
	if !ok {
		return nil
	}
	b := BurstOf(p.Config)
	if old != nil && reflect.DeepEqual(BurstOf(old.Config), b) {
		return nil
	}
	if err := m.SetBurst(b); err != nil {
		return fmt.Errorf("apply xdp.burst: %w", err)
	}
	if h.opt.Enforcer.Mode() == enforce.ModeUserspace {
		return nil // no meter: the settings were ignored
	}
	h.log.Info("xdp burst meter applied", "on", b.On, "syn_rate", b.SYNRate, "syn_burst", b.SYNBurst,
		"packet_rate", b.PacketRate, "packet_burst", b.PacketBurst, "ports", b.Ports, "ban", b.BanFor.String(),
		"ipv6_prefix", b.IPv6Prefix, "max_sources", b.MaxSources)
	return nil
}

// SetBurst applies the burst meter's settings where the enforcer has a
// meter (XDP); the user-space fallback has none and ignores them.
func (e *Enforcement) SetBurst(b enforce.Burst) error {
	if m, ok := e.Unwrap().(enforce.BurstMeter); ok {
		return m.SetBurst(b)
	}
	return nil
}

// WatchBurstBans takes over every ban the burst meter writes in the kernel:
// it logs it (at most burstLogBurst lines a second, the rest counted),
// records a burst_ban security event in events (nil: none), counts it per
// bucket and hands it to the enforcer's Ban, which persists it in
// bans.state when PersistBans ran. Call it after PersistBans. It stops when
// the enforcer is closed; the returned channel is closed then.
func (e *Enforcement) WatchBurstBans(log *slog.Logger, events *secevent.Log) <-chan struct{} {
	done := make(chan struct{})
	m, ok := e.Unwrap().(enforce.BurstMeter)
	if !ok {
		close(done)
		return done
	}
	ban := e.Ban // the ban store when bans are persisted, then the fleet
	gate := &loggate.Gate{Burst: burstLogBurst, Suppressed: burstLogsSuppressed.Inc}
	go func() {
		defer close(done)
		for {
			b, err := m.ReadBurstBan()
			if errors.Is(err, os.ErrClosed) {
				return
			}
			pass, suppressed := gate.Pass(time.Now().Unix())
			if err != nil {
				if pass {
					log.Error("xdp burst meter: read ban event", "error", err, "ban_lines_suppressed", suppressed)
				}
				continue
			}
			if b.Bucket == enforce.BucketSYN {
				burstBansSYN.Inc()
			} else {
				burstBansPackets.Inc()
			}
			err = ban(b.Source, b.Until)
			if err != nil {
				burstPersistFailed.Inc()
			}
			burstEvent(events, b, err)
			switch {
			case !pass:
			case err != nil:
				log.Error("xdp burst meter: source banned in the kernel, but not recorded", "source", enforce.FormatSource(b.Source),
					"bucket", b.Bucket, "until", b.Until, "error", err, "ban_lines_suppressed", suppressed)
			default:
				log.Warn("xdp burst meter: burst offender banned", "source", enforce.FormatSource(b.Source), "bucket", b.Bucket,
					"duration", time.Until(b.Until).Round(time.Second).String(), "enforcer", e.Mode(), "ban_lines_suppressed", suppressed)
			}
		}
	}()
	return done
}

// burstEvent records a burst ban; repeats for one source within the
// aggregation window share a line.
func burstEvent(events *secevent.Log, b enforce.BurstBan, err error) {
	ev := secevent.Event{Type: secevent.BurstBan, Time: time.Now(), ClientIP: b.Source.Addr(),
		Source: enforce.FormatSource(b.Source), Until: b.Until, Reason: "syn_burst", Action: "xdp_ban", Result: "ok"}
	if b.Bucket != enforce.BucketSYN {
		ev.Reason = "packet_burst"
	}
	if err != nil {
		ev.Result, ev.Detail = "not_recorded", err.Error()
	}
	events.Emit(&ev)
}

package cluster

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net/netip"
	"strconv"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/redis/go-redis/v9"
)

// Ban sharing. A ban one gateway issues (PublishBan) is appended to the
// Redis stream "<prefix>bans" by a background goroutine; every gateway
// reads the stream with a blocking XREAD and applies the other gateways'
// bans that have not expired, so a ban reaches the fleet within a round
// trip. A gateway that starts (or comes back after an outage) reads from
// CatchUp ago, so it applies every ban still running. An unban
// (PublishUnban) travels the same way, in order, so an operator's unban
// lifts the ban fleet-wide and a catch-up replays ban then unban. Entries
// carry the publishing gateway's id and are never applied by it, and what
// a gateway applies from the stream is not published again (the caller's
// apply and lift must not publish), so nothing echoes. The stream is
// capped (approximately) at maxBanEntries.

const (
	banStream     = "bans"
	maxBanEntries = 100_000
	banQueue      = 1024
	// banBlock is how long one XREAD waits for new bans; Close waits for
	// it at most once.
	banBlock = 200 * time.Millisecond
)

var (
	bansPublished = metrics.NewCounter(`edgeguard_ratelimit_cluster_bans_total{result="published"}`)
	bansApplied   = metrics.NewCounter(`edgeguard_ratelimit_cluster_bans_total{result="applied"}`)
	bansDropped   = metrics.NewCounter(`edgeguard_ratelimit_cluster_bans_total{result="dropped"}`)
)

type banMsg struct {
	src   netip.Prefix
	until time.Time
	unban bool
}

func newGatewayID() string {
	var b [8]byte
	_, _ = rand.Read(b[:]) // never fails
	return hex.EncodeToString(b[:])
}

// ShareBans starts sharing bans: those given to PublishBan and
// PublishUnban go to the stream, and the other gateways' bans and unbans
// on it go to apply and lift, from catchUp ago on. apply and lift must not
// publish. Call it at most once.
func (c *Client) ShareBans(apply func(src netip.Prefix, until time.Time) error, lift func(src netip.Prefix) error, catchUp time.Duration) {
	if !c.sharing.CompareAndSwap(false, true) {
		return
	}
	c.wg.Add(2)
	go c.publishBans()
	go c.followBans(apply, lift, catchUp)
}

// PublishUnban queues the lifting of src's ban for the other gateways, as
// PublishBan does.
func (c *Client) PublishUnban(src netip.Prefix) {
	c.queueBan(banMsg{src: src, unban: true})
}

// PublishBan queues a ban for the other gateways without blocking; while
// Redis is down the queue waits for it (a full queue drops new bans,
// counted).
func (c *Client) PublishBan(src netip.Prefix, until time.Time) {
	c.queueBan(banMsg{src: src, until: until})
}

func (c *Client) queueBan(m banMsg) {
	if !c.sharing.Load() || c.closed.Load() {
		return
	}
	select {
	case c.bans <- m:
	default:
		bansDropped.Inc()
	}
}

func (c *Client) publishBans() {
	defer c.wg.Done()
	key := c.cfg.KeyPrefix + banStream
	for {
		var m banMsg
		select {
		case <-c.stop:
			dropQueued(c.bans)
			return
		case m = <-c.bans:
		}
		values := []string{"src", m.src.String(), "until", strconv.FormatInt(m.until.UnixMilli(), 10), "gw", c.id}
		if m.unban {
			values = []string{"src", m.src.String(), "op", "unban", "gw", c.id}
		}
		// Redis down: the ban holds locally and is published once Redis
		// is back (in order: an unban after it waits too), unless it has
		// run out by then. Messages queued meanwhile wait in c.bans; a
		// full queue drops new ones, counted.
		for wait, logged := c.cfg.ProbeEvery, false; ; {
			ctx, cancel := context.WithTimeout(context.Background(), c.cfg.Timeout)
			err := c.rdb.XAdd(ctx, &redis.XAddArgs{
				Stream: key, MaxLen: maxBanEntries, Approx: true, Values: values,
			}).Err()
			cancel()
			if err == nil {
				bansPublished.Inc()
				if logged {
					c.log.Info("cluster ban sharing: Redis is back, queued bans published", "source", m.src.String())
				}
				break
			}
			if !m.unban && !time.Now().Before(m.until) {
				bansDropped.Inc() // over before anyone could learn of it
				break
			}
			if !logged {
				c.log.Warn("cluster ban sharing: Redis unavailable; bans hold on this gateway and are published when it is back",
					"source", m.src.String(), "unban", m.unban, "error", err)
				logged = true
			}
			select {
			case <-c.stop:
				bansDropped.Inc()
				dropQueued(c.bans)
				return
			case <-time.After(wait):
			}
			wait = min(2*wait, 5*time.Second)
		}
	}
}

// dropQueued counts the messages still queued when the client closes:
// they were never published.
func dropQueued(q chan banMsg) {
	for {
		select {
		case <-q:
			bansDropped.Inc()
		default:
			return
		}
	}
}

func (c *Client) followBans(apply func(netip.Prefix, time.Time) error, lift func(netip.Prefix) error, catchUp time.Duration) {
	defer c.wg.Done()
	key := c.cfg.KeyPrefix + banStream
	last := strconv.FormatInt(time.Now().Add(-catchUp).UnixMilli(), 10) + "-0"
	for {
		select {
		case <-c.stop:
			return
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), banBlock+c.cfg.Timeout)
		res, err := c.rdb.XRead(ctx, &redis.XReadArgs{Streams: []string{key, last}, Count: 512, Block: banBlock}).Result()
		cancel()
		if errors.Is(err, redis.Nil) {
			continue
		}
		if err != nil {
			// Redis down: try again later, from where we stopped.
			select {
			case <-c.stop:
				return
			case <-time.After(c.cfg.ProbeEvery):
			}
			continue
		}
		now := time.Now()
		for _, st := range res {
			for _, m := range st.Messages {
				last = m.ID
				if m.Values["gw"] == c.id {
					continue
				}
				src, err1 := netip.ParsePrefix(str(m.Values["src"]))
				if err1 == nil && str(m.Values["op"]) == "unban" {
					if err := lift(src); err != nil {
						bansDropped.Inc()
						c.log.Error("rate limit cluster: apply a shared unban", "source", src, "error", err)
						continue
					}
					bansApplied.Inc()
					continue
				}
				ms, err2 := strconv.ParseInt(str(m.Values["until"]), 10, 64)
				if err1 != nil || err2 != nil {
					bansDropped.Inc()
					continue
				}
				until := time.UnixMilli(ms)
				if !until.After(now) {
					continue
				}
				if err := apply(src, until); err != nil {
					bansDropped.Inc()
					c.log.Error("rate limit cluster: apply a shared ban", "source", src, "error", err)
					continue
				}
				bansApplied.Inc()
			}
		}
	}
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

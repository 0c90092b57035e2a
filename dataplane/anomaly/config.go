package anomaly

import (
	"bytes"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"
)

// Config is the compiled anomaly section of one policy. It is read-only
// once Compile returned.
type Config struct {
	// Interval is how often the detectors are evaluated (baselines
	// updated, rates compared).
	Interval time.Duration
	// Baseline is the time constant of the routes' exponentially weighted
	// rates: a change in traffic moves the baseline ~63% of the way in it.
	Baseline time.Duration
	// BanFor is how long an escalating detector bans a source.
	BanFor time.Duration
	// IPv6Prefix is the network length IPv6 sources are counted and
	// banned by (the rate limiter's).
	IPv6Prefix int

	Stuffing    StuffingConfig
	Enumeration EnumerationConfig
	Probing     ProbingConfig
	Admin       AdminConfig
	Methods     MethodsConfig
}

// StuffingConfig: a route's 401/403 rate far above its baseline.
type StuffingConfig struct {
	On, Ban bool
	// Window is the span the current failure rate is measured over.
	Window time.Duration
	// Warmup is how long a route is observed before its baseline counts.
	Warmup time.Duration
	// Factor: the current rate must exceed Factor times the baseline.
	Factor float64
	// MinFailures in Window, so that a quiet route's three typos are no attack.
	MinFailures int
	// BanMinFailures is how many failures in Window a source must have
	// collected before an alert bans it.
	BanMinFailures int
	// MaxSources bounds the failing sources counted per route.
	MaxSources int
}

// EnumerationConfig: one identity or client walks many distinct resource
// IDs of one route pattern per window.
type EnumerationConfig struct {
	On, Ban   bool
	Window    time.Duration
	Threshold int // distinct IDs per key and pattern in Window
	// Patterns are declared route patterns, "/customers/{id}": each {name}
	// segment is an ID.
	Patterns []string
	// Infer takes numeric and UUID path segments as IDs where no declared
	// pattern matches.
	Infer bool
	// MaxKeys bounds the (pattern, client) keys tracked per route.
	MaxKeys int

	patterns []pattern
}

// ProbingConfig: one source collects many 404s.
type ProbingConfig struct {
	On, Ban    bool
	Window     time.Duration
	Threshold  int // 404s per source in Window
	MaxSources int
}

// AdminConfig: a source reaches an admin-scoped route for the first time.
type AdminConfig struct {
	On, Ban bool
	Routes  []string // route names
	// Warmup: sources seen in it are learnt without an alert.
	Warmup     time.Duration
	MaxSources int // sources remembered per route
}

// MethodsConfig: a method a route never saw during warm-up, or outside its
// declared set.
type MethodsConfig struct {
	On, Ban bool
	Warmup  time.Duration
	// Declared are per-route method sets; such routes need no warm-up.
	Declared map[string][]string
}

// MaxThreshold bounds EnumerationConfig.Threshold: the distinct-ID sketch
// (linear counting over sketchBits bits) is accurate to a few percent up
// to about its size.
const MaxThreshold = 1000

// MaxWindowTicks bounds Window/Interval of credential stuffing (a ring of
// per-tick counts per route).
const MaxWindowTicks = 600

// Compile checks c and prepares what the detectors precompute.
func (c *Config) Compile() error {
	switch {
	case c.Interval <= 0:
		return fmt.Errorf("interval must be > 0, got %s", c.Interval)
	case c.Stuffing.On && c.Stuffing.Window/c.Interval > MaxWindowTicks:
		return fmt.Errorf("credential stuffing window %s is over %d intervals of %s", c.Stuffing.Window, MaxWindowTicks, c.Interval)
	case c.Enumeration.Threshold > MaxThreshold:
		return fmt.Errorf("enumeration threshold must be <= %d, got %d", MaxThreshold, c.Enumeration.Threshold)
	}
	c.Enumeration.patterns = c.Enumeration.patterns[:0]
	for _, s := range c.Enumeration.Patterns {
		p, err := parsePattern(s)
		if err != nil {
			return err
		}
		c.Enumeration.patterns = append(c.Enumeration.patterns, p)
	}
	for route, ms := range c.Methods.Declared {
		for _, m := range ms {
			if methodIndex([]byte(m)) == methodOther {
				return fmt.Errorf("unusual_methods.declared.%s: unknown method %q", route, m)
			}
		}
	}
	return nil
}

func (c *Config) isAdmin(route string) bool { return slices.Contains(c.Admin.Routes, route) }

func (c *Config) declaredMethods(route string) uint16 {
	var mask uint16
	for _, m := range c.Methods.Declared[route] {
		mask |= 1 << methodIndex([]byte(m))
	}
	return mask
}

// sourceOf is the key of a client: its address, or its IPv6 network.
func (c *Config) sourceOf(a netip.Addr) netip.Addr {
	if a.Is6() && !a.Is4In6() && c.IPv6Prefix > 0 && c.IPv6Prefix < 128 {
		p, _ := a.Prefix(c.IPv6Prefix)
		return p.Addr()
	}
	return a.Unmap()
}

// Methods, as bits of a uint16: the known ones, and all others in one.
const (
	methodGet uint8 = iota
	methodHead
	methodPost
	methodPut
	methodDelete
	methodConnect
	methodOptions
	methodTrace
	methodPatch
	methodOther
)

var methodNames = [...]string{"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"}

// methodIndex maps a method to its bit, case-sensitively (RFC 9110 §9.1).
func methodIndex(m []byte) uint8 {
	for i, n := range methodNames {
		if string(m) == n {
			return uint8(i)
		}
	}
	return methodOther
}

// pattern is a declared route pattern split into segments; an empty
// segment stands for an ID.
type pattern struct {
	text string
	segs [][]byte
	hash uint64
}

func parsePattern(s string) (pattern, error) {
	if !strings.HasPrefix(s, "/") || len(s) > MaxPath {
		return pattern{}, fmt.Errorf("enumeration pattern %q must start with / and be at most %d bytes", s, MaxPath)
	}
	p := pattern{text: s, hash: hashString(s)}
	ids := 0
	for _, seg := range strings.Split(s[1:], "/") {
		switch {
		case strings.HasPrefix(seg, "{") && strings.HasSuffix(seg, "}") && len(seg) > 2:
			p.segs = append(p.segs, nil)
			ids++
		case strings.ContainsAny(seg, "{}"):
			return pattern{}, fmt.Errorf("enumeration pattern %q: segment %q must be a literal or a whole {name}", s, seg)
		default:
			p.segs = append(p.segs, []byte(seg))
		}
	}
	if ids == 0 {
		return pattern{}, fmt.Errorf("enumeration pattern %q has no {id} segment", s)
	}
	return p, nil
}

// match reports whether path has p's shape and hashes its IDs.
func (p *pattern) match(path []byte) (ids uint64, ok bool) {
	if len(path) == 0 || path[0] != '/' {
		return 0, false
	}
	rest := path[1:]
	ids = fnvOffset
	for i, seg := range p.segs {
		var s []byte
		if j := bytes.IndexByte(rest, '/'); j >= 0 {
			if i == len(p.segs)-1 {
				return 0, false
			}
			s, rest = rest[:j], rest[j+1:]
		} else {
			if i != len(p.segs)-1 {
				return 0, false
			}
			s, rest = rest, nil
		}
		if seg == nil {
			if len(s) == 0 {
				return 0, false
			}
			ids = fnvAdd(fnvAdd(ids, s), sep)
		} else if !bytes.Equal(seg, s) {
			return 0, false
		}
	}
	return ids, true
}

var sep = []byte{'/'}

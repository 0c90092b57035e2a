package config

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// FieldError is one problem in a configuration, named by its key path
// (e.g. "routes[2].upstream").
type FieldError struct {
	Key string
	Msg string
}

func (e FieldError) Error() string { return e.Key + ": " + e.Msg }

// Errors is every problem found in one configuration.
type Errors []FieldError

func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// DemoTarget is the upstream target that names gatewayd's built-in demo
// upstream, so the embedded default config works with nothing else running.
const DemoTarget = "builtin:demo"

type validator struct{ errs Errors }

func (v *validator) add(key, format string, args ...any) {
	v.errs = append(v.errs, FieldError{Key: key, Msg: fmt.Sprintf(format, args...)})
}

func (v *validator) positive(key string, d time.Duration) {
	if d <= 0 {
		v.add(key, "must be > 0, got %s", d)
	}
}

func (v *validator) atLeast(key string, n, min int) {
	if n < min {
		v.add(key, "must be >= %d, got %d", min, n)
	}
}

// between checks min <= n <= max.
func (v *validator) between(key string, n, min, max int) {
	if n < min || n > max {
		v.add(key, "must be %d-%d, got %d", min, max, n)
	}
}

// hostPort checks a listen address: an optional host (empty: every
// address) and a port, 0 for an ephemeral one.
func (v *validator) hostPort(key, addr string) { v.address(key, addr, false) }

// target checks an upstream target: a host (name or address) and a port
// that can be dialled.
func (v *validator) target(key, addr string) { v.address(key, addr, true) }

func (v *validator) address(key, addr string, dial bool) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		v.add(key, "must be host:port, got %q", addr)
		return
	}
	lo := 0
	if dial {
		lo = 1
	}
	if p, err := strconv.Atoi(port); err != nil || p < lo || p > 65535 {
		v.add(key, "port must be %d-65535, got %q", lo, port)
	}
	if (dial && host == "") || strings.ContainsFunc(host, func(r rune) bool { return r <= ' ' || r == '/' || r == 0x7f }) {
		v.add(key, "bad host %q", host)
	}
}

// Validate reports every problem in c. It expects defaults to be applied.
func (c *Config) Validate() error {
	v := &validator{}
	c.validateListeners(v)
	c.validateServer(v)
	c.validateHeaders(v)
	upstreams := c.validateUpstreams(v)
	c.validateRoutes(v, upstreams)
	c.validateXDP(v)
	c.Auth.validate(v)
	c.RateLimit.validate(v)
	c.WAF.validate(v)
	c.SecurityEvents.validate(v)
	c.Tracing.validate(v)
	c.Anomaly.validate(v, c.Routes)
	if len(v.errs) == 0 {
		return nil
	}
	return v.errs
}

func (c *Config) validateListeners(v *validator) {
	names := map[string]int{}
	addrs := map[string]int{}
	for i, l := range c.Listeners {
		key := fmt.Sprintf("listeners[%d]", i)
		if j, dup := names[l.Name]; dup {
			v.add(key+".name", "duplicate listener name %q (also listeners[%d])", l.Name, j)
		} else {
			v.name(key+".name", l.Name)
		}
		names[l.Name] = i
		v.hostPort(key+".address", l.Address)
		if l.TLS != nil {
			l.TLS.validate(v, key+".tls")
		}
		if ephemeral(l.Address) {
			continue // port 0: the kernel picks distinct ports
		}
		if j, dup := addrs[l.Address]; dup {
			v.add(key+".address", "duplicate address %q (also listeners[%d])", l.Address, j)
		}
		addrs[l.Address] = i
		if l.Address == c.Management.Address {
			v.add(key+".address", "%q is the management address: the data plane must never serve management routes", l.Address)
		}
	}
	c.Management.validate(v, c.Listeners)
}

func (c *Config) validateServer(v *validator) {
	s := c.Server
	v.positive("server.read_timeout", s.ReadTimeout)
	v.positive("server.request_head_timeout", s.RequestHeadTimeout)
	v.positive("server.write_timeout", s.WriteTimeout)
	v.positive("server.idle_timeout", s.IdleTimeout)
	v.positive("server.shutdown_grace", s.ShutdownGrace)
	v.atLeast("server.max_request_body_bytes", s.MaxRequestBodyBytes, 1)
	v.atLeast("server.max_header_bytes", s.MaxHeaderBytes, 1024)
	if n := *s.MaxConnsPerIP; n == 0 || n < -1 {
		v.add("server.max_conns_per_ip", "must be a cap >= 1, or -1 for no cap, got %d (0 no longer means no cap; the default is %d)", n, DefaultMaxConnsPerIP)
	}
	v.atLeast("server.max_conns_per_trusted_proxy", s.MaxConnsPerTrustedProxy, 0)
	v.atLeast("server.concurrency", s.Concurrency, 1)
	v.atLeast("access_log.buffer", c.AccessLog.Buffer, 1)
	v.logPath("access_log.path", c.AccessLog.Path)
}

// logPath refuses a log path gatewayd could never open: a directory, or a
// file under something that is not one.
func (v *validator) logPath(key, path string) {
	switch path {
	case "", "stdout", "stderr", "off":
		return
	}
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		v.add(key, "%s is a directory, not a file", path)
	} else if fi, err := os.Stat(filepath.Dir(path)); err == nil && !fi.IsDir() {
		v.add(key, "%s: %s is not a directory", path, filepath.Dir(path))
	}
}

// Warnings lists what would stop gatewayd from starting on this host now
// but may be put right before it starts: a log file's directory that does
// not exist yet (systemd's LogsDirectory= creates it just before
// ExecStartPre, and examples name one). check-config prints them.
func (c *Config) Warnings() []string {
	out := slices.Clone(c.envWarnings)
	for _, l := range []struct{ key, path string }{
		{"access_log.path", c.AccessLog.Path}, {"security_events.path", c.SecurityEvents.Path},
	} {
		switch l.path {
		case "", "stdout", "stderr", "off":
			continue
		}
		dir := filepath.Dir(l.path)
		if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
			out = append(out, fmt.Sprintf("%s: directory %s does not exist: gatewayd creates %s, not its directory, and will not start until it exists", l.key, dir, filepath.Base(l.path)))
		} else if err != nil && !errors.Is(err, os.ErrNotExist) {
			out = append(out, fmt.Sprintf("%s: directory %s: %v", l.key, dir, err))
		}
	}
	return out
}

func (c *Config) validateHeaders(v *validator) {
	h := c.Headers
	for i, p := range h.TrustedProxies {
		if _, err := ParsePrefix(p); err != nil {
			v.add(fmt.Sprintf("headers.trusted_proxies[%d]", i), "%v", err)
		}
	}
	if !isToken(h.RequestIDHeader) {
		v.add("headers.request_id_header", "not a valid header name: %q", h.RequestIDHeader)
	}
	for name, val := range h.SetResponse {
		if !isToken(name) {
			v.add("headers.set_response."+name, "not a valid header name")
		}
		if strings.ContainsAny(val, "\r\n\x00") {
			v.add("headers.set_response."+name, "value must not contain CR, LF or NUL")
		}
	}
	for i, name := range h.RemoveResponse {
		if !isToken(name) {
			v.add(fmt.Sprintf("headers.remove_response[%d]", i), "not a valid header name: %q", name)
		}
	}
	for i, name := range h.Spoofable {
		if !isToken(name) {
			v.add(fmt.Sprintf("headers.spoofable[%d]", i), "not a valid header name: %q", name)
		}
	}
	for i, name := range h.TrustedSpoofable {
		if !isToken(name) {
			v.add(fmt.Sprintf("headers.trusted_spoofable[%d]", i), "not a valid header name: %q", name)
		}
	}
}

func (c *Config) validateUpstreams(v *validator) map[string]bool {
	names := map[string]bool{}
	for i, u := range c.Upstreams {
		key := fmt.Sprintf("upstreams[%d]", i)
		switch {
		case u.Name == "":
			v.add(key+".name", "required")
		case names[u.Name]:
			v.add(key+".name", "duplicate upstream name %q", u.Name)
		default:
			v.name(key+".name", u.Name)
		}
		names[u.Name] = true
		if len(u.Targets) == 0 {
			v.add(key+".targets", "at least one target is required")
		}
		seen := map[string]bool{}
		for j, t := range u.Targets {
			tk := fmt.Sprintf("%s.targets[%d]", key, j)
			if seen[t] {
				v.add(tk, "duplicate target %q", t)
			}
			seen[t] = true
			if t != DemoTarget {
				v.target(tk, t)
			}
		}
		if u.Balance != BalanceRoundRobin && u.Balance != BalanceLeastConn {
			v.add(key+".balance", "must be %q or %q, got %q", BalanceRoundRobin, BalanceLeastConn, u.Balance)
		}
		v.positive(key+".connect_timeout", u.ConnectTimeout)
		v.positive(key+".read_timeout", u.ReadTimeout)
		v.positive(key+".write_timeout", u.WriteTimeout)
		v.positive(key+".idle_timeout", u.IdleTimeout)
		v.atLeast(key+".max_conns_per_target", u.MaxConnsPerTarget, 1)
		v.between(key+".pipeline.conns", u.Pipeline.Conns, 0, MaxPipelineConns)
		v.between(key+".pipeline.max_pending", u.Pipeline.MaxPending, 1, MaxPipelinePending)
		v.atLeast(key+".passive.consecutive_failures", u.Passive.Failures(), 0)
		v.positive(key+".passive.eject_for", u.Passive.EjectFor)
		if hc := u.HealthCheck; hc != nil {
			hk := key + ".health_check"
			if !strings.HasPrefix(hc.Path, "/") || strings.ContainsFunc(hc.Path, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
				v.add(hk+".path", "must start with \"/\" and hold no spaces or control characters, got %q", hc.Path)
			}
			v.positive(hk+".interval", hc.Interval)
			v.positive(hk+".timeout", hc.Timeout)
			if hc.Timeout > hc.Interval && hc.Interval > 0 {
				v.add(hk+".timeout", "must not exceed interval (%s), got %s", hc.Interval, hc.Timeout)
			}
			v.atLeast(hk+".healthy_threshold", hc.HealthyThreshold, 1)
			v.atLeast(hk+".unhealthy_threshold", hc.UnhealthyThreshold, 1)
			if hc.ExpectStatus != 0 && (hc.ExpectStatus < 100 || hc.ExpectStatus > 599) {
				v.add(hk+".expect_status", "must be an HTTP status 100-599, got %d", hc.ExpectStatus)
			}
		}
	}
	return names
}

func (c *Config) validateRoutes(v *validator, upstreams map[string]bool) {
	names := map[string]bool{}
	if len(c.Routes) == 0 {
		v.add("routes", "at least one route is required")
	}
	for i, r := range c.Routes {
		key := fmt.Sprintf("routes[%d]", i)
		switch {
		case r.Name == "":
			v.add(key+".name", "required")
		case names[r.Name]:
			v.add(key+".name", "duplicate route name %q", r.Name)
		default:
			v.name(key+".name", r.Name)
		}
		names[r.Name] = true
		if !strings.HasPrefix(r.Path, "/") {
			v.add(key+".path", "must start with \"/\", got %q", r.Path)
		}
		if r.Match != MatchPrefix && r.Match != MatchExact {
			v.add(key+".match", "must be %q or %q, got %q", MatchPrefix, MatchExact, r.Match)
		}
		for j, m := range r.Methods {
			v.method(fmt.Sprintf("%s.methods[%d]", key, j), m)
		}
		switch {
		case r.Upstream == "":
			v.add(key+".upstream", "required")
		case !upstreams[r.Upstream]:
			v.add(key+".upstream", "unknown upstream %q", r.Upstream)
		}
		if r.StripPrefix != "" && !strings.HasPrefix(r.Path, r.StripPrefix) {
			v.add(key+".strip_prefix", "%q is not a prefix of path %q", r.StripPrefix, r.Path)
		}
		r.Auth.validate(v, key+".auth", &c.Auth)
		r.RateLimit.validate(v, key+".rate_limit", &c.RateLimit)
		r.Validate.validate(v, key+".validate")
		r.WAF.validate(v, key+".waf")
	}
}

func (c *Config) validateXDP(v *validator) {
	switch c.XDP.Mode {
	case "auto", "native", "generic", "off":
	default:
		v.add("xdp.mode", "must be auto, native, generic or off, got %q", c.XDP.Mode)
	}
	for i, name := range c.XDP.Interfaces {
		if name == "" || len(name) > 15 || strings.ContainsAny(name, "/ \t") {
			v.add(fmt.Sprintf("xdp.interfaces[%d]", i), "not a valid interface name: %q", name)
		}
	}
	if !strings.HasPrefix(c.XDP.PinPath, "/") {
		v.add("xdp.pin_path", "must be an absolute path, got %q", c.XDP.PinPath)
	}
	v.positive("xdp.ban_default", c.XDP.BanDefault)
	for i, a := range c.XDP.Allowlist {
		if _, err := ParsePrefix(a); err != nil {
			v.add(fmt.Sprintf("xdp.allowlist[%d]", i), "%v", err)
		}
	}
	c.validateBurst(v)
}

func (c *Config) validateBurst(v *validator) {
	b := c.XDP.Burst
	v.atLeast("xdp.burst.syn_rate", b.SYNRate, 1)
	v.atLeast("xdp.burst.syn_burst", b.SYNBurst, 1)
	v.atLeast("xdp.burst.packet_rate", b.PacketRate, 1)
	v.atLeast("xdp.burst.packet_burst", b.PacketBurst, 1)
	if b.BanDuration < 0 {
		v.add("xdp.burst.ban_duration", "must be >= 0 (0: xdp.ban_default), got %s", b.BanDuration)
	}
	// The kernel meter's clock advances by ticks (enforce.MinBurstSpan).
	for _, r := range []struct {
		key         string
		rate, burst int
	}{{"xdp.burst.syn_burst", b.SYNRate, b.SYNBurst}, {"xdp.burst.packet_burst", b.PacketRate, b.PacketBurst}} {
		if r.rate >= 1 && r.burst >= 1 && (r.burst-1)*100 < r.rate {
			v.add(r.key, "must last at least 10ms at its rate (>= rate/100 + 1 = %d), got %d", r.rate/100+1, r.burst)
		}
	}
	v.between("xdp.burst.max_sources", b.MaxSources, 1, MaxBurstMaxSources)
	// The meter bans IPv6 sources by the network it counts them by, and a
	// ban covers /32 or longer (wider belongs in the blocklist).
	if b.On() && c.RateLimit.IPv6Prefix >= 1 && c.RateLimit.IPv6Prefix < 32 {
		v.add("xdp.burst.enabled", "the burst meter bans IPv6 sources per rate_limit.ipv6_prefix, which must then be 32-128, got %d (or set enabled: false)",
			c.RateLimit.IPv6Prefix)
	}
}

func ephemeral(addr string) bool {
	_, port, err := net.SplitHostPort(addr)
	return err == nil && port == "0"
}

// ParsePrefix accepts a CIDR or a bare address (taken as a host prefix) and
// returns it masked, rejecting host bits set past the prefix length.
func ParsePrefix(s string) (netip.Prefix, error) {
	if !strings.Contains(s, "/") {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("bad address %q", s)
		}
		return netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()), nil
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("bad CIDR %q", s)
	}
	if p.Masked() != p {
		return netip.Prefix{}, fmt.Errorf("bad CIDR %q: host bits set (did you mean %s?)", s, p.Masked())
	}
	return p, nil
}

// isToken reports whether s is a non-empty RFC 9110 token (header names, methods).
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// knownMethods is the IANA HTTP Method Registry (RFC 9110, PATCH, WebDAV and
// its extensions, QUERY), less PRI, which only opens HTTP/2. A route's
// methods are matched exactly: a misspelling (GIT) or a method no client
// sends would make the route refuse what it meant to serve.
var knownMethods = []string{
	"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH", "QUERY",
	"ACL", "BASELINE-CONTROL", "BIND", "CHECKIN", "CHECKOUT", "COPY", "LABEL", "LINK", "LOCK",
	"MERGE", "MKACTIVITY", "MKCALENDAR", "MKCOL", "MKREDIRECTREF", "MKWORKSPACE", "MOVE",
	"ORDERPATCH", "PROPFIND", "PROPPATCH", "REBIND", "REPORT", "SEARCH", "UNBIND", "UNCHECKOUT",
	"UNLINK", "UNLOCK", "UPDATE", "UPDATEREDIRECTREF", "VERSION-CONTROL",
}

// method checks one HTTP method of a route: an RFC 9110 token, written as
// registered (methods are case-sensitive, RFC 9110 section 9.1), and known.
func (v *validator) method(key, m string) {
	switch up := strings.ToUpper(m); {
	case !isToken(m):
		v.add(key, "not a valid HTTP method: %q", m)
	case containsString(knownMethods, m):
	case containsString(knownMethods, up):
		v.add(key, "methods are case-sensitive: write %q, got %q", up, m)
	default:
		v.add(key, "unknown HTTP method %q: not in the IANA method registry (GET, HEAD, POST, PUT, DELETE, PATCH, OPTIONS, CONNECT, TRACE, QUERY, WebDAV's PROPFIND, MKCOL, ...)", m)
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

// nameRE is what listener, upstream and route names may hold: they become
// metric labels, log fields and status keys.
var nameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$`)

// name checks a listener, upstream or route name.
func (v *validator) name(key, name string) {
	if !nameRE.MatchString(name) {
		v.add(key, "names use letters, digits, '_', '.', ':' and '-' (at most 64, starting with a letter or digit), got %q", name)
	}
}

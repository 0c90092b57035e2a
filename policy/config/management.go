package config

import (
	"fmt"
	"net"
	"net/netip"
	"path/filepath"
	"regexp"
	"strings"
	"time"
)

// Management is the operators' listener: metrics, health, status and the
// management API (blocklists, bans, reload). It must never share an address
// with a data listener, and it listens on a wildcard address only when
// allow_wildcard says so.
//
// Authentication: bearer tokens (only their SHA-256 hashes are in the file),
// client certificates signed by client_ca_file (mTLS), and, on the Unix
// socket, the peer's user id (root or the daemon's own user). With no tokens
// and no client CA configured, the listener must be on loopback and serves
// only what public allows (read-only monitoring by default), never a change.
type Management struct {
	// Address is the TCP listener, host:port with an IP literal host, or
	// "off" (then unix_socket is required).
	Address string `mapstructure:"address"`
	// UnixSocket is a path for a Unix socket listener (mode 0600), "" for none.
	UnixSocket string `mapstructure:"unix_socket"`
	// BindDevice restricts the TCP listener to one interface (SO_BINDTODEVICE).
	BindDevice string `mapstructure:"bind_device"`
	// AllowWildcard permits 0.0.0.0, :: or an empty host.
	AllowWildcard bool `mapstructure:"allow_wildcard"`
	// AllowDataAddress permits an address a data listener (or, at start, a
	// data interface in xdp.interfaces) also uses. Loopback always may.
	AllowDataAddress bool `mapstructure:"allow_data_address"`
	// Public names what is served without authentication: none, health
	// (/healthz, /readyz), monitoring (health and /metrics) or status
	// (monitoring and /status). Default: health when credentials are
	// configured (load balancers keep their checks when the first token
	// is added), status otherwise.
	Public string `mapstructure:"public"`
	// Tokens are the accepted bearer tokens, by hash.
	Tokens []ManagementToken `mapstructure:"tokens"`
	// TLSCertFile and TLSKeyFile turn on TLS for the TCP listener.
	TLSCertFile string `mapstructure:"tls_cert_file"`
	TLSKeyFile  string `mapstructure:"tls_key_file"`
	// ClientCAFile turns on mTLS: a client certificate signed by one of
	// these CAs authenticates the caller (as admin).
	ClientCAFile string `mapstructure:"client_ca_file"`
	// InsecurePlaintext allows bearer tokens over plain TCP on a
	// non-loopback address (e.g. inside a VPN). Off by default.
	InsecurePlaintext bool `mapstructure:"insecure_plaintext"`
	// Pprof serves Go's runtime profiles (CPU, heap, goroutines, mutex,
	// block, execution trace) under /debug/pprof/ to admin callers, so a
	// production gateway can be profiled under its real load. Off by
	// default: a profile shows internals and costs CPU while it runs.
	Pprof bool `mapstructure:"pprof"`
	// StateDir keeps every accepted blocklist version and the live bans.
	// Without it the blocklist API refuses changes (they could not survive
	// a restart) and bans are not persisted.
	StateDir string `mapstructure:"state_dir"`
	// MaxBodyBytes bounds one request body (a blocklist push).
	MaxBodyBytes int64 `mapstructure:"max_body_bytes"`
	// MaxEntries bounds the entries of one push, as sent (duplicates count:
	// the parse stops at the limit without holding a set of what it read),
	// and of the stored list.
	MaxEntries int `mapstructure:"max_entries"`
	// ReadTimeout bounds reading one request, body included; WriteTimeout
	// bounds handling it and writing the response.
	ReadTimeout  time.Duration `mapstructure:"read_timeout"`
	WriteTimeout time.Duration `mapstructure:"write_timeout"`
}

// ManagementToken is one accepted bearer token.
type ManagementToken struct {
	// Name identifies the token's holder in logs ("fleet-sync").
	Name string `mapstructure:"name"`
	// Hash is "sha256:" and the lower-case hex SHA-256 of the token
	// (gatewayctl token new prints both).
	Hash string `mapstructure:"hash"`
	// Role is admin (everything, default) or read (GET only).
	Role string `mapstructure:"role"`
}

// Management defaults and limits.
const (
	DefaultManagementBodyBytes = 128 << 20
	DefaultManagementEntries   = 4_000_000
	DefaultManagementTimeout   = 5 * time.Minute
	ManagementOff              = "off"

	PublicNone       = "none"
	PublicHealth     = "health"
	PublicMonitoring = "monitoring"
	PublicStatus     = "status"

	RoleAdmin = "admin"
	RoleRead  = "read"
)

// PublicPaths lists the management paths a management.public value serves
// without authentication.
func PublicPaths(public string) []string {
	paths := []string{"/healthz", "/readyz", "/metrics", "/status", "/v1/status"}
	switch public {
	case PublicHealth:
		return paths[:2]
	case PublicMonitoring:
		return paths[:3]
	case PublicStatus:
		return paths
	}
	return nil
}

// ActiveTokens returns the configured tokens.
func (m *Management) ActiveTokens() []ManagementToken { return m.Tokens }

// HasCredentials reports whether any network caller can authenticate:
// a token or a client CA is configured.
func (m *Management) HasCredentials() bool {
	return len(m.ActiveTokens()) > 0 || m.ClientCAFile != ""
}

func (m *Management) applyDefaults() {
	setString(&m.Address, DefaultManagementAddress)
	if m.Public == "" {
		m.Public = PublicHealth
		if !m.HasCredentials() {
			m.Public = PublicStatus
		}
	}
	for i := range m.Tokens {
		if t := &m.Tokens[i]; t.Name != "" || t.Hash != "" {
			setString(&t.Role, RoleAdmin)
		}
	}
	if m.MaxBodyBytes == 0 {
		m.MaxBodyBytes = DefaultManagementBodyBytes
	}
	setInt(&m.MaxEntries, DefaultManagementEntries)
	setDuration(&m.ReadTimeout, DefaultManagementTimeout)
	setDuration(&m.WriteTimeout, DefaultManagementTimeout)
}

var (
	tokenNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$`)
	tokenHashRE = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)
)

// validate checks the section; listeners are the data listeners, whose
// addresses the management listener must never take or overlap.
func (m *Management) validate(v *validator, listeners []Listener) {
	const key = "management"
	tcp := m.Address != ManagementOff
	var host netip.Addr
	if !tcp {
		if m.UnixSocket == "" {
			v.add(key+".address", "%q needs management.unix_socket: the management API would be unreachable", m.Address)
		}
	} else if h, port, ok := m.checkAddress(v); ok {
		host = h
		for i, l := range listeners {
			switch {
			case overlaps(h, port, l.Address):
				v.add(key+".address", "%q overlaps data listener listeners[%d] (%q): the data plane must never serve management routes", m.Address, i, l.Address)
			case sharesDataAddress(h, l.Address) && !m.AllowDataAddress:
				v.add(key+".address", "%q is the address of data listener listeners[%d] (%q): bind the management network's address, or set management.allow_data_address", m.Address, i, l.Address)
			}
		}
	}
	if p := m.UnixSocket; p != "" {
		switch {
		case !filepath.IsAbs(p):
			v.add(key+".unix_socket", "must be an absolute path, got %q", p)
		case len(p) > 107:
			v.add(key+".unix_socket", "path longer than 107 bytes: %q", p)
		}
	}
	if d := m.BindDevice; d != "" {
		if !tcp {
			v.add(key+".bind_device", "set, but management.address is off")
		}
		if len(d) > 15 || strings.ContainsAny(d, "/ \t") {
			v.add(key+".bind_device", "not a valid interface name: %q", d)
		}
	}
	switch m.Public {
	case PublicNone, PublicHealth, PublicMonitoring, PublicStatus:
	default:
		v.add(key+".public", "must be none, health, monitoring or status, got %q", m.Public)
	}
	m.validateTokens(v)
	if (m.TLSCertFile == "") != (m.TLSKeyFile == "") {
		v.add(key+".tls_key_file", "tls_cert_file and tls_key_file go together")
	}
	if m.ClientCAFile != "" && m.TLSCertFile == "" {
		v.add(key+".client_ca_file", "mTLS needs management.tls_cert_file and management.tls_key_file")
	}
	if tcp && host.IsValid() && !host.IsLoopback() {
		switch {
		case !m.HasCredentials():
			v.add(key+".address", "%q is reachable from the network but no credentials are configured (management.tokens or management.client_ca_file)", m.Address)
		case m.TLSCertFile == "" && !m.InsecurePlaintext:
			v.add(key+".tls_cert_file", "required on a non-loopback management.address: bearer tokens would cross the network in clear (set management.insecure_plaintext to accept that)")
		}
	}
	if m.StateDir != "" && !filepath.IsAbs(m.StateDir) {
		v.add(key+".state_dir", "must be an absolute path, got %q", m.StateDir)
	}
	if m.MaxBodyBytes < 1024 {
		v.add(key+".max_body_bytes", "must be >= 1024, got %d", m.MaxBodyBytes)
	}
	v.atLeast(key+".max_entries", m.MaxEntries, 1)
	v.positive(key+".read_timeout", m.ReadTimeout)
	v.positive(key+".write_timeout", m.WriteTimeout)
}

// checkAddress validates the TCP address and returns its host (the
// unspecified address for a wildcard) and port.
func (m *Management) checkAddress(v *validator) (netip.Addr, string, bool) {
	const key = "management.address"
	n := len(v.errs)
	v.hostPort(key, m.Address)
	if len(v.errs) > n {
		return netip.Addr{}, "", false
	}
	h, port, _ := net.SplitHostPort(m.Address)
	var a netip.Addr
	if h == "" {
		a = netip.IPv6Unspecified()
	} else {
		var err error
		if a, err = netip.ParseAddr(h); err != nil || a.Zone() != "" {
			v.add(key, "host must be an IP address (no name lookups for the management listener), got %q", h)
			return netip.Addr{}, "", false
		}
	}
	a = a.Unmap()
	if a.IsUnspecified() && !m.AllowWildcard {
		v.add(key, "%q is a wildcard address: bind the management network's address, or set management.allow_wildcard", m.Address)
	}
	return a, port, true
}

// sharesDataAddress reports whether the management host is the specific,
// non-loopback IP a data listener binds: the management API would be
// reachable from the data network, on another port.
func sharesDataAddress(mh netip.Addr, dataAddr string) bool {
	dh, _, err := net.SplitHostPort(dataAddr)
	if err != nil || mh.IsLoopback() || mh.IsUnspecified() {
		return false
	}
	da, err := netip.ParseAddr(dh)
	return err == nil && da.Unmap() == mh
}

// overlaps reports whether a data listener address could accept connections
// meant for the management host:port.
func overlaps(mh netip.Addr, mport, dataAddr string) bool {
	dh, dport, err := net.SplitHostPort(dataAddr)
	if err != nil || dport != mport || mport == "0" {
		return false
	}
	if dh == "" {
		return true
	}
	da, err := netip.ParseAddr(dh)
	if err != nil {
		return false // a name: compared as text by validateListeners
	}
	da = da.Unmap()
	return da == mh || da.IsUnspecified() || mh.IsUnspecified()
}

func (m *Management) validateTokens(v *validator) {
	names, hashes := map[string]int{}, map[string]int{}
	for i, t := range m.Tokens {
		if t == (ManagementToken{}) {
			continue
		}
		key := fmt.Sprintf("management.tokens[%d]", i)
		switch {
		case !tokenNameRE.MatchString(t.Name):
			v.add(key+".name", "must be 1-64 letters, digits, '_', '.', '@' or '-', got %q", t.Name)
		default:
			if j, dup := names[t.Name]; dup {
				v.add(key+".name", "duplicate token name %q (also management.tokens[%d])", t.Name, j)
			}
			names[t.Name] = i
		}
		if !tokenHashRE.MatchString(t.Hash) {
			v.add(key+".hash", "must be \"sha256:\" and 64 lower-case hex digits (gatewayctl token new prints one); never the token itself")
		} else if j, dup := hashes[t.Hash]; dup {
			// One token, two names and maybe two roles: the last one
			// listed decided, so an admin token could act as read-only
			// or the reverse.
			v.add(key+".hash", "the same hash as management.tokens[%d]: one token can have one name and role", j)
		} else {
			hashes[t.Hash] = i
		}
		if t.Role != RoleAdmin && t.Role != RoleRead {
			v.add(key+".role", "must be admin or read, got %q", t.Role)
		}
	}
}

package mgmt

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"

	"github.com/VictoriaMetrics/metrics"

	"github.com/edgeguard/edgeguard/policy/config"
)

// access is what a route exposes, from least to most sensitive.
type access int

const (
	accessHealth  access = iota // /healthz, /readyz
	accessMetrics               // /metrics
	accessStatus                // /status
	accessRead                  // every other GET
	accessAdmin                 // changes
)

// publicUpTo maps management.public to the most sensitive access served
// without authentication (-1: none).
func publicUpTo(public string) access {
	switch public {
	case config.PublicHealth:
		return accessHealth
	case config.PublicMonitoring:
		return accessMetrics
	case config.PublicStatus:
		return accessStatus
	}
	return -1
}

// principal is an authenticated caller.
type principal struct {
	Name string // token name, "cert:<subject CN>", "uid:<n>", or "public"
	Role string // config.RoleAdmin or config.RoleRead
}

// tokenHash is one configured token.
type tokenHash struct {
	name, role string
	sum        [sha256.Size]byte
}

// authenticator checks credentials. It holds only token hashes.
type authenticator struct {
	tokens []tokenHash
	public access
	ownUID uint32
	// noCredentials: nothing can authenticate over TCP; calls that need
	// authentication are told so instead of a bare 401.
	noCredentials bool
}

func newAuthenticator(cfg config.Management) *authenticator {
	a := &authenticator{public: publicUpTo(cfg.Public), ownUID: uint32(os.Getuid()), noCredentials: !cfg.HasCredentials()}
	for _, t := range cfg.ActiveTokens() {
		th := tokenHash{name: t.Name, role: t.Role}
		// Validated by config: "sha256:" and 64 hex digits.
		_, _ = hex.Decode(th.sum[:], []byte(strings.TrimPrefix(t.Hash, "sha256:")))
		a.tokens = append(a.tokens, th)
	}
	return a
}

type ctxKey int

const peerUIDKey ctxKey = 0

// connContext records the peer's user id for Unix socket connections.
func connContext(ctx context.Context, c net.Conn) context.Context {
	if uid, ok := peerUID(c); ok {
		return context.WithValue(ctx, peerUIDKey, uid)
	}
	return ctx
}

// Authentication failures by reason.
var (
	authMissing = metrics.NewCounter(`edgeguard_mgmt_auth_failures_total{reason="missing"}`)
	authBad     = metrics.NewCounter(`edgeguard_mgmt_auth_failures_total{reason="bad_token"}`)
	authUID     = metrics.NewCounter(`edgeguard_mgmt_auth_failures_total{reason="unix_uid"}`)
	authRole    = metrics.NewCounter(`edgeguard_mgmt_auth_failures_total{reason="role"}`)
)

// authenticate returns the caller of r, or an HTTP status and message
// saying why it is refused. need is what the route exposes.
func (a *authenticator) authenticate(r *http.Request, need access) (principal, int, string) {
	if need <= a.public {
		return principal{Name: "public", Role: config.RoleRead}, 0, ""
	}
	p, status, msg := a.identify(r)
	if status != 0 {
		return p, status, msg
	}
	if need == accessAdmin && p.Role != config.RoleAdmin {
		authRole.Inc()
		return p, http.StatusForbidden, "the credential of " + p.Name + " is read-only"
	}
	return p, 0, ""
}

func (a *authenticator) identify(r *http.Request) (principal, int, string) {
	if auth := r.Header.Get("Authorization"); auth != "" {
		// The scheme is case-insensitive (RFC 9110 §11.1).
		scheme, tok, ok := strings.Cut(auth, " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") {
			authBad.Inc()
			return principal{}, http.StatusUnauthorized, "unsupported Authorization scheme (want Bearer)"
		}
		sum := sha256.Sum256([]byte(strings.TrimSpace(tok)))
		match := -1
		for i := range a.tokens { // every hash is compared: the time does not say which matched
			if subtle.ConstantTimeCompare(sum[:], a.tokens[i].sum[:]) == 1 {
				match = i
			}
		}
		if match < 0 {
			authBad.Inc()
			return principal{}, http.StatusUnauthorized, "invalid token"
		}
		return principal{Name: a.tokens[match].name, Role: a.tokens[match].role}, 0, ""
	}
	if r.TLS != nil && len(r.TLS.VerifiedChains) > 0 {
		return principal{Name: "cert:" + r.TLS.VerifiedChains[0][0].Subject.CommonName, Role: config.RoleAdmin}, 0, ""
	}
	if uid, ok := r.Context().Value(peerUIDKey).(uint32); ok {
		if uid == 0 || uid == a.ownUID {
			return principal{Name: "uid:" + strconv.FormatUint(uint64(uid), 10), Role: config.RoleAdmin}, 0, ""
		}
		authUID.Inc()
		return principal{}, http.StatusUnauthorized, "unix socket peer uid " + strconv.FormatUint(uint64(uid), 10) + " is neither root nor the daemon's user; send a token"
	}
	authMissing.Inc()
	if a.noCredentials {
		return principal{}, http.StatusUnauthorized, "authentication required, and no credentials are configured (management.tokens, management.client_ca_file, or use management.unix_socket)"
	}
	return principal{}, http.StatusUnauthorized, "authentication required (bearer token or client certificate)"
}

// Package certauth turns a verified TLS client certificate into the
// request's identity (mTLS). The listener's TLS configuration verifies the
// chain against the configured CA during the handshake; this package only
// reads the verified chain, names the client from the leaf's SAN or
// subject, and remembers the result per connection so later requests on a
// keep-alive connection cost one table lookup. It must never accept a
// certificate the handshake did not verify.
package certauth

import (
	"errors"
	"sync/atomic"

	"github.com/valyala/fasthttp"

	"github.com/edgeguard/edgeguard/dataplane/auth/identity"
	"github.com/edgeguard/edgeguard/dataplane/pipeline"
)

// Identification errors; each text is the precise deny cause.
var (
	ErrNoCert     = errors.New("cert_missing")
	ErrUnverified = errors.New("cert_unverified")
	ErrNoIdentity = errors.New("cert_identity_missing")
	ErrUnsafe     = errors.New("cert_identity_unsafe")
)

// Errors lists every error Identify returns, for metric registration.
func Errors() []error { return []error{ErrNoCert, ErrUnverified, ErrNoIdentity, ErrUnsafe} }

// Mode says which certificate field names the client.
type Mode uint8

const (
	// SAN uses the first URI SAN (e.g. a SPIFFE id), else DNS name, else
	// email, else IP address; the subject DN when the certificate has none.
	SAN Mode = iota
	// Subject uses the full subject DN (RFC 2253 form).
	Subject
	// CommonName uses the subject's CN; a certificate without one is refused.
	CommonName
)

// Client gives a certificate identity a tier and scopes.
type Client struct {
	Identity string
	Tier     string
	Scopes   []string
}

// Config configures an Authenticator.
type Config struct {
	Mode      Mode
	Clients   []Client // optional; identities not listed get no tier or scopes
	CacheSize int      // connections remembered; rounded up to a power of two
}

// Authenticator identifies clients by certificate. Safe for concurrent use.
type Authenticator struct {
	mode    Mode
	clients map[string]Client
	conns   []atomic.Pointer[connEntry]
	mask    uint64
}

type connEntry struct {
	connID uint64
	id     *identity.Identity
	err    error
}

// New builds an authenticator.
func New(cfg Config) *Authenticator {
	n := 1
	for n < max(cfg.CacheSize, 16) {
		n <<= 1
	}
	a := &Authenticator{mode: cfg.Mode, clients: map[string]Client{}, conns: make([]atomic.Pointer[connEntry], n), mask: uint64(n - 1)}
	for _, c := range cfg.Clients {
		a.clients[c.Identity] = c
	}
	return a
}

// Identify returns the identity of the request's verified client
// certificate. The first request of a connection reads the TLS state (one
// allocation); later ones are served from a per-connection table without
// allocating. Connection ids are never reused within a process, so an entry
// can never describe another connection.
func (a *Authenticator) Identify(ctx *fasthttp.RequestCtx) (*identity.Identity, error) {
	if !ctx.IsTLS() {
		return nil, ErrNoCert
	}
	cid := ctx.ConnID()
	slot := &a.conns[cid&a.mask]
	if e := slot.Load(); e != nil && e.connID == cid {
		return e.id, e.err
	}
	e := &connEntry{connID: cid}
	e.id, e.err = a.fromState(ctx)
	slot.Store(e)
	return e.id, e.err
}

func (a *Authenticator) fromState(ctx *fasthttp.RequestCtx) (*identity.Identity, error) {
	st := ctx.TLSConnectionState()
	if st == nil || len(st.PeerCertificates) == 0 {
		return nil, ErrNoCert
	}
	if len(st.VerifiedChains) == 0 || len(st.VerifiedChains[0]) == 0 {
		return nil, ErrUnverified
	}
	leaf := st.VerifiedChains[0][0]
	var name string
	switch a.mode {
	case Subject:
		name = leaf.Subject.String()
	case CommonName:
		name = leaf.Subject.CommonName
	default:
		switch {
		case len(leaf.URIs) > 0:
			name = leaf.URIs[0].String()
		case len(leaf.DNSNames) > 0:
			name = leaf.DNSNames[0]
		case len(leaf.EmailAddresses) > 0:
			name = leaf.EmailAddresses[0]
		case len(leaf.IPAddresses) > 0:
			name = leaf.IPAddresses[0].String()
		default:
			name = leaf.Subject.String()
		}
	}
	if name == "" {
		return nil, ErrNoIdentity
	}
	c := a.clients[name]
	id, err := identity.New(identity.Spec{Kind: pipeline.IdentityCert, Subject: name, Tier: c.Tier, Scopes: c.Scopes})
	if err != nil {
		return nil, ErrUnsafe
	}
	return id, nil
}

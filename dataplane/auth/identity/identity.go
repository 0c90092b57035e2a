// Package identity is the authenticated client as the gateway passes it on:
// an immutable pipeline.Principal, the header values that carry it to the
// upstream, and the header names a client is never allowed to send itself.
// It must never hold a credential (key, token, secret), only names and ids,
// and must never let a client-supplied header through under an identity name.
package identity

import (
	"errors"
	"strings"

	"github.com/valyala/fasthttp"

	"github.com/edgeguard/edgeguard/dataplane/headers"
	"github.com/edgeguard/edgeguard/dataplane/pipeline"
)

// ErrUnsafeValue means a field of an identity (a claim, a certificate name)
// holds bytes that cannot travel in an HTTP header: control characters, or
// spaces inside a scope.
var ErrUnsafeValue = errors.New("identity_value_unsafe")

// MaxValueBytes bounds each identity field; longer values are refused rather
// than truncated, so an upstream never sees a shortened, different identity.
const MaxValueBytes = 1024

// Spec describes an identity to build.
type Spec struct {
	Kind    pipeline.IdentityKind
	Subject string
	KeyID   string
	Tier    string
	Scopes  []string
	// RateKey is what rate limits key on; empty derives "<kind>:<key id or subject>".
	RateKey string
}

// Identity is an authenticated client. It is built once per credential
// (per API key, per verified token, per client certificate) and shared by
// every request presenting that credential, so it is never modified.
type Identity struct {
	Principal pipeline.Principal

	subject, keyID, tier, scopes, kind []byte
}

// New validates s and builds its identity.
func New(s Spec) (*Identity, error) {
	for _, v := range [...]string{s.Subject, s.KeyID, s.Tier} {
		if !safe(v) {
			return nil, ErrUnsafeValue
		}
	}
	for _, sc := range s.Scopes {
		if sc == "" || strings.IndexByte(sc, ' ') >= 0 || !safe(sc) {
			return nil, ErrUnsafeValue
		}
	}
	joined := strings.Join(s.Scopes, " ")
	if len(joined) > 8*MaxValueBytes {
		return nil, ErrUnsafeValue
	}
	if s.RateKey == "" {
		id := s.KeyID
		if id == "" {
			id = s.Subject
		}
		s.RateKey = s.Kind.String() + ":" + id
	}
	scopes := append([]string(nil), s.Scopes...)
	return &Identity{
		Principal: pipeline.Principal{
			Kind: s.Kind, Subject: s.Subject, KeyID: s.KeyID, Tier: s.Tier,
			Scopes: scopes, RateKey: s.RateKey,
		},
		subject: []byte(s.Subject),
		keyID:   []byte(s.KeyID),
		tier:    []byte(s.Tier),
		scopes:  []byte(joined),
		kind:    []byte(s.Kind.String()),
	}, nil
}

// HasScopes reports whether the identity holds every scope in want.
func (id *Identity) HasScopes(want []string) bool {
	for _, w := range want {
		found := false
		for _, g := range id.Principal.Scopes {
			if g == w {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

func safe(s string) bool {
	if len(s) > MaxValueBytes {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == 0x7f {
			return false
		}
	}
	return true
}

// HeaderNames are the request headers that carry an identity to the
// upstream. An empty name is not sent.
type HeaderNames struct {
	Subject, KeyID, Tier, Scopes, Kind string
}

// Headers strips identity headers from client requests and sets them from
// an authenticated identity. Build with NewHeaders; safe for concurrent use.
type Headers struct {
	subject, keyID, tier, scopes, kind []byte // canonical names, nil when off
	names                              [][]byte
	maxLen                             int
	lens                               uint64 // bit len%64 set for each name: most headers are skipped on length alone
}

// NewHeaders canonicalizes n. Names are validated by the configuration.
func NewHeaders(n HeaderNames) *Headers {
	h := &Headers{}
	canon := func(s string) []byte {
		if s == "" {
			return nil
		}
		b := fasthttp.AppendNormalizedHeaderKey(nil, s)
		h.names = append(h.names, b)
		h.maxLen = max(h.maxLen, len(b))
		h.lens |= 1 << (len(b) % 64)
		return b
	}
	h.subject = canon(n.Subject)
	h.keyID = canon(n.KeyID)
	h.tier = canon(n.Tier)
	h.scopes = canon(n.Scopes)
	h.kind = canon(n.Kind)
	return h
}

// Empty reports whether no identity header is configured.
func (h *Headers) Empty() bool { return len(h.names) == 0 }

// Strip deletes every identity header the client sent, including spellings
// that some upstream stacks fold into the same name (any case, underscores
// for hyphens, as CGI and several frameworks do). The common case, no such
// header, is one pass over the header names without deleting anything.
func (h *Headers) Strip(req *fasthttp.RequestHeader) {
	// Deleting while iterating is not allowed: collect the names found
	// (copied out of the header storage), delete them, and look again
	// until a pass finds none. Bounded by the number of headers.
	var buf [512]byte
	var ends [16]int
	for range 64 {
		names, n := h.find(req, buf[:0], ends[:0])
		if len(n) == 0 {
			return
		}
		start := 0
		for _, end := range n {
			req.DelBytes(names[start:end])
			start = end
		}
	}
}

// find appends the names of identity headers present in req to dst, as
// long as dst and ends have room, and returns them with their end offsets.
func (h *Headers) find(req *fasthttp.RequestHeader, dst []byte, ends []int) ([]byte, []int) {
	for k := range req.All() {
		if len(k) > h.maxLen || h.lens&(1<<(len(k)%64)) == 0 {
			continue
		}
		for _, n := range h.names {
			if !foldEqual(k, n) {
				continue
			}
			if len(ends) == cap(ends) || len(dst)+len(k) > cap(dst) {
				return dst, ends
			}
			dst = append(dst, k...)
			ends = append(ends, len(dst))
			break
		}
	}
	return dst, ends
}

// foldEqual compares header names ignoring case and treating '_' as '-'.
func foldEqual(a, b []byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		x, y := headers.FoldByte(a[i]), headers.FoldByte(b[i])
		if x != y {
			return false
		}
	}
	return true
}

// Set adds id's headers to req. Call Strip first.
func (h *Headers) Set(req *fasthttp.RequestHeader, id *Identity) {
	set(req, h.subject, id.subject)
	set(req, h.keyID, id.keyID)
	set(req, h.tier, id.tier)
	set(req, h.scopes, id.scopes)
	set(req, h.kind, id.kind)
}

func set(req *fasthttp.RequestHeader, name, value []byte) {
	if name != nil && len(value) > 0 {
		req.SetCanonical(name, value)
	}
}

// Package apikey authenticates API keys: it generates high-entropy keys,
// stores only their SHA-256 hashes, and looks a presented key up by its hash.
// Keys come from a request header only; a key in the query string is
// detected (QueryLeak) so the gateway can refuse it, because URLs leak into
// logs and caches. It must never hold or log a key itself, only hashes and
// key ids.
package apikey

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/edgeguard/edgeguard/dataplane/auth/identity"
	"github.com/edgeguard/edgeguard/dataplane/pipeline"
)

// Prefix starts every generated key, so secret scanners and the query
// check recognise a leaked key.
const Prefix = "egk_"

// MaxKeyBytes bounds a presented key; longer values are refused unhashed.
const MaxKeyBytes = 256

// keyBytes is the entropy of a generated key: 256 bits.
const keyBytes = 32

// Lookup errors; each text is the precise deny cause for logs and metrics.
var (
	ErrMalformed = errors.New("api_key_malformed")
	ErrUnknown   = errors.New("api_key_unknown")
	ErrExpired   = errors.New("api_key_expired")
)

// Errors lists every error Lookup returns, for metric registration.
func Errors() []error { return []error{ErrMalformed, ErrUnknown, ErrExpired} }

// Generate returns a new key and the hex SHA-256 hash to put in the
// configuration. The key is shown once; the gateway only ever stores the hash.
func Generate() (key, hash string, err error) {
	b := make([]byte, keyBytes)
	if _, err := rand.Read(b); err != nil {
		return "", "", fmt.Errorf("generate API key: %w", err)
	}
	key = Prefix + base64.RawURLEncoding.EncodeToString(b)
	sum := sha256.Sum256([]byte(key))
	return key, hex.EncodeToString(sum[:]), nil
}

// ParseHash decodes a configured hash: 64 hex digits.
func ParseHash(s string) ([32]byte, error) {
	var h [32]byte
	if len(s) != 64 {
		return h, fmt.Errorf("parse key hash: want 64 hex digits (SHA-256), got %d characters", len(s))
	}
	if _, err := hex.Decode(h[:], []byte(s)); err != nil {
		return h, fmt.Errorf("parse key hash: %w", err)
	}
	return h, nil
}

// KeyConfig is one configured key.
type KeyConfig struct {
	ID     string
	Client string
	Tier   string
	Hash   [32]byte
	// Routes the key may call; empty means every route that accepts keys.
	Routes   []string
	Scopes   []string
	NotAfter time.Time // zero: no expiry
}

// Key is a configured key, immutable once built.
type Key struct {
	ID       string
	Identity *identity.Identity
	hash     [32]byte
	routes   []string
	notAfter int64 // unix nanoseconds; 0: none
	uses     *metrics.Counter
}

// AllowsRoute reports whether the key may call the named route.
func (k *Key) AllowsRoute(route string) bool {
	return len(k.routes) == 0 || slices.Contains(k.routes, route)
}

// Table holds the configured keys by hash.
type Table struct {
	byHash map[[32]byte]*Key
}

// NewTable builds the key table. Ids and hashes must be unique. Two keys of
// one client with overlapping lifetimes are how rotation works: the new key
// is added, the old one gets a not_after, and both work until then.
func NewTable(cfgs []KeyConfig) (*Table, error) {
	t := &Table{byHash: make(map[[32]byte]*Key, len(cfgs))}
	ids := map[string]bool{}
	for _, c := range cfgs {
		if c.ID == "" || c.Client == "" {
			return nil, errors.New("build API key table: every key needs an id and a client")
		}
		if ids[c.ID] {
			return nil, fmt.Errorf("build API key table: duplicate key id %q", c.ID)
		}
		ids[c.ID] = true
		if _, dup := t.byHash[c.Hash]; dup {
			return nil, fmt.Errorf("build API key table: key %q has the hash of another key", c.ID)
		}
		id, err := identity.New(identity.Spec{
			Kind: pipeline.IdentityAPIKey, Subject: c.Client, KeyID: c.ID, Tier: c.Tier, Scopes: c.Scopes,
			RateKey: "api_key:" + c.Client, // one quota per client, also while two keys overlap
		})
		if err != nil {
			return nil, fmt.Errorf("build API key table: key %q: %w", c.ID, err)
		}
		k := &Key{
			ID: c.ID, Identity: id, hash: c.Hash, routes: append([]string(nil), c.Routes...),
			uses: metrics.GetOrCreateCounter(fmt.Sprintf(`edgeguard_auth_api_key_uses_total{key_id=%q,client=%q}`, c.ID, c.Client)),
		}
		if !c.NotAfter.IsZero() {
			k.notAfter = c.NotAfter.UnixNano()
		}
		t.byHash[c.Hash] = k
	}
	return t, nil
}

// Len is the number of keys.
func (t *Table) Len() int { return len(t.byHash) }

// Lookup authenticates a presented key at time now and counts the use.
// The key itself is only hashed: the table is searched by SHA-256, which
// reveals nothing about stored keys through timing, and the match is
// confirmed with a constant-time compare. It allocates nothing.
func (t *Table) Lookup(presented []byte, now time.Time) (*Key, error) {
	if len(presented) == 0 || len(presented) > MaxKeyBytes {
		return nil, ErrMalformed
	}
	h := sha256.Sum256(presented)
	k, ok := t.byHash[h]
	if !ok || subtle.ConstantTimeCompare(k.hash[:], h[:]) != 1 {
		return nil, ErrUnknown
	}
	if k.notAfter != 0 && now.UnixNano() >= k.notAfter {
		return nil, ErrExpired
	}
	k.uses.Inc()
	return k, nil
}

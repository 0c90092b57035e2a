// Package jwks holds the keys that verify JWT signatures: it parses them
// from PEM files, HMAC secrets and JWK Set documents, groups them into
// immutable sets, and keeps sets fetched from configured JWKS URLs fresh in
// the background. It decides which algorithms each key may verify, so a key
// is never used with an algorithm of another family (RS256 -> HS256 key
// confusion). It must never fetch a URL that is not in the configuration
// (token headers such as jku and x5u are not its input) and never runs on
// the request path except for a non-blocking refresh request.
package jwks

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"sort"
)

// Kind is the family of a key.
type Kind uint8

const (
	KindRSA Kind = iota + 1
	KindEC
	KindEd25519
	KindHMAC
)

var kindNames = [...]string{"", "RSA", "EC", "Ed25519", "HMAC"}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "unknown"
}

// Minimum key sizes: weaker keys are refused when loaded.
const (
	MinRSABits       = 2048
	MinSecretBytes   = 32
	maxRSABits       = 8192
	maxSecretBytes   = 4096
	maxKIDBytes      = 256
	maxKeysInOneSet  = 256
	maxDocumentBytes = 1 << 20
)

// Key is one verification key. Keys are immutable once built.
type Key struct {
	ID   string // kid; may be empty
	Kind Kind
	// Alg, when set (a JWK's "alg"), is the only algorithm the key verifies.
	Alg    string
	public crypto.PublicKey // *rsa.PublicKey, *ecdsa.PublicKey, ed25519.PublicKey
	secret []byte
	fp     [32]byte // fingerprint of kind, alg, id and key material
}

// Verifier returns the value golang-jwt's signing methods take as a key.
func (k *Key) Verifier() any {
	if k.Kind == KindHMAC {
		return k.secret
	}
	return k.public
}

// Allows reports whether k may verify a signature made with alg. Families
// never mix: an RSA public key never verifies an HS256 signature, an HMAC
// secret only verifies HS*, an EC key only the ES* algorithm of its curve,
// and an HMAC secret only algorithms whose hash is no longer than it.
func (k *Key) Allows(alg string) bool {
	if k.Alg != "" && k.Alg != alg {
		return false
	}
	switch k.Kind {
	case KindRSA:
		switch alg {
		case "RS256", "RS384", "RS512", "PS256", "PS384", "PS512":
			return true
		}
	case KindEC:
		var curve elliptic.Curve
		switch alg {
		case "ES256":
			curve = elliptic.P256()
		case "ES384":
			curve = elliptic.P384()
		case "ES512":
			curve = elliptic.P521()
		default:
			return false
		}
		return k.public.(*ecdsa.PublicKey).Curve == curve
	case KindEd25519:
		return alg == "EdDSA"
	case KindHMAC:
		switch alg {
		case "HS256":
			return len(k.secret) >= 32
		case "HS384":
			return len(k.secret) >= 48
		case "HS512":
			return len(k.secret) >= 64
		}
	}
	return false
}

// NewPublicKey wraps a parsed public key. kid and alg may be empty.
func NewPublicKey(kid, alg string, pub crypto.PublicKey) (*Key, error) {
	k := &Key{ID: kid, Alg: alg, public: pub}
	var material []byte
	switch p := pub.(type) {
	case *rsa.PublicKey:
		if p.N.BitLen() < MinRSABits || p.N.BitLen() > maxRSABits {
			return nil, fmt.Errorf("RSA key of %d bits: want %d-%d", p.N.BitLen(), MinRSABits, maxRSABits)
		}
		if p.E < 3 || p.E%2 == 0 {
			return nil, fmt.Errorf("RSA key: bad public exponent %d", p.E)
		}
		k.Kind = KindRSA
	case *ecdsa.PublicKey:
		switch p.Curve {
		case elliptic.P256(), elliptic.P384(), elliptic.P521():
		default:
			return nil, errors.New("EC key: curve must be P-256, P-384 or P-521")
		}
		k.Kind = KindEC
	case ed25519.PublicKey:
		if len(p) != ed25519.PublicKeySize {
			return nil, errors.New("Ed25519 key: bad length")
		}
		k.Kind = KindEd25519
	default:
		return nil, fmt.Errorf("unsupported public key type %T", pub)
	}
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("encode public key: %w", err)
	}
	material = der
	if len(kid) > maxKIDBytes {
		return nil, errors.New("kid too long")
	}
	if alg != "" && !k.Allows(alg) {
		return nil, fmt.Errorf("alg %q does not fit a %s key", alg, k.Kind)
	}
	k.fp = fingerprint(k, material)
	return k, nil
}

// NewSecret builds an HMAC key from a shared secret of at least
// MinSecretBytes.
func NewSecret(kid string, secret []byte) (*Key, error) {
	if len(secret) < MinSecretBytes {
		return nil, fmt.Errorf("HMAC secret of %d bytes: want at least %d", len(secret), MinSecretBytes)
	}
	if len(secret) > maxSecretBytes {
		return nil, fmt.Errorf("HMAC secret of %d bytes: want at most %d", len(secret), maxSecretBytes)
	}
	if len(kid) > maxKIDBytes {
		return nil, errors.New("kid too long")
	}
	k := &Key{ID: kid, Kind: KindHMAC, secret: append([]byte(nil), secret...)}
	k.fp = fingerprint(k, k.secret)
	return k, nil
}

// ParsePEM reads one public key from PEM: a PUBLIC KEY (PKIX) block, an RSA
// PUBLIC KEY (PKCS#1) block, or a CERTIFICATE whose public key is used.
// Private keys are refused: the gateway only ever needs the public half.
func ParsePEM(kid string, data []byte) (*Key, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, errors.New("parse PEM: no PEM block")
	}
	var pub crypto.PublicKey
	var err error
	switch block.Type {
	case "PUBLIC KEY":
		pub, err = x509.ParsePKIXPublicKey(block.Bytes)
	case "RSA PUBLIC KEY":
		pub, err = x509.ParsePKCS1PublicKey(block.Bytes)
	case "CERTIFICATE":
		var c *x509.Certificate
		if c, err = x509.ParseCertificate(block.Bytes); err == nil {
			pub = c.PublicKey
		}
	default:
		return nil, fmt.Errorf("parse PEM: block %q: want PUBLIC KEY, RSA PUBLIC KEY or CERTIFICATE (never a private key)", block.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("parse PEM: %w", err)
	}
	return NewPublicKey(kid, "", pub)
}

func fingerprint(k *Key, material []byte) [32]byte {
	h := sha256.New()
	h.Write([]byte{byte(k.Kind), byte(len(k.Alg)), byte(len(k.ID))})
	h.Write([]byte(k.Alg))
	h.Write([]byte(k.ID))
	h.Write(material)
	var fp [32]byte
	h.Sum(fp[:0])
	return fp
}

// Lookup errors. Their text is the precise deny cause for logs and metrics.
var (
	ErrUnknownKID  = errors.New("jwt_kid_unknown")
	ErrKIDRequired = errors.New("jwt_kid_missing")
	ErrNoKey       = errors.New("jwt_no_key_for_alg")
)

// Set is an immutable group of keys, indexed by kid.
type Set struct {
	keys   []*Key
	byKID  map[string][]*Key
	digest [32]byte
}

// NewSet groups keys. The digest ignores order, so two documents listing
// the same keys compare equal.
func NewSet(keys []*Key) *Set {
	s := &Set{keys: keys, byKID: make(map[string][]*Key, len(keys))}
	fps := make([][32]byte, len(keys))
	for i, k := range keys {
		s.byKID[k.ID] = append(s.byKID[k.ID], k)
		fps[i] = k.fp
	}
	sort.Slice(fps, func(i, j int) bool { return string(fps[i][:]) < string(fps[j][:]) })
	h := sha256.New()
	for _, fp := range fps {
		h.Write(fp[:])
	}
	h.Sum(s.digest[:0])
	return s
}

// Len is the number of keys.
func (s *Set) Len() int {
	if s == nil {
		return 0
	}
	return len(s.keys)
}

// Keys returns the keys; callers must not modify the slice.
func (s *Set) Keys() []*Key { return s.keys }

// Digest identifies the content of s.
func (s *Set) Digest() [32]byte { return s.digest }

// Lookup finds the key that verifies alg for a token with this kid. With a
// kid, only keys with that id are candidates; without one, the set must
// hold exactly one key that allows alg. Returns ErrUnknownKID when no key
// has the id, ErrNoKey when keys exist but none allows alg, and
// ErrKIDRequired when a missing kid leaves more than one candidate.
func (s *Set) Lookup(kid, alg string) (*Key, error) {
	if s == nil {
		if kid != "" {
			return nil, ErrUnknownKID
		}
		return nil, ErrNoKey
	}
	if kid != "" {
		cands, ok := s.byKID[kid]
		if !ok {
			return nil, ErrUnknownKID
		}
		for _, k := range cands {
			if k.Allows(alg) {
				return k, nil
			}
		}
		return nil, ErrNoKey
	}
	var found *Key
	for _, k := range s.keys {
		if !k.Allows(alg) {
			continue
		}
		if found != nil {
			return nil, ErrKIDRequired
		}
		found = k
	}
	if found == nil {
		return nil, ErrNoKey
	}
	return found, nil
}

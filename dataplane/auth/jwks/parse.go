package jwks

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
)

type jwkDoc struct {
	Keys []json.RawMessage `json:"keys"`
}

type jwk struct {
	Kty string `json:"kty"`
	Use string `json:"use"`
	Kid string `json:"kid"`
	Alg string `json:"alg"`
	N   string `json:"n"`
	E   string `json:"e"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	Y   string `json:"y"`
	D   string `json:"d"`
}

// Parse reads a JWK Set document (RFC 7517). Keys whose "use" is not "sig",
// and keys of types the gateway does not verify with, are skipped and
// counted in skipped; a malformed key of a supported type is an error, as is
// any private key material ("d") and symmetric ("oct") keys, whose secrets
// belong in a secret file, not in a document that may be served over HTTP.
func Parse(data []byte) (set *Set, skipped int, err error) {
	if len(data) > maxDocumentBytes {
		return nil, 0, fmt.Errorf("parse JWKS: document of %d bytes exceeds %d", len(data), maxDocumentBytes)
	}
	var doc jwkDoc
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		return nil, 0, fmt.Errorf("parse JWKS: %w", err)
	}
	if dec.More() {
		return nil, 0, errors.New("parse JWKS: trailing data after the document")
	}
	if doc.Keys == nil {
		return nil, 0, errors.New(`parse JWKS: no "keys" array`)
	}
	if len(doc.Keys) > maxKeysInOneSet {
		return nil, 0, fmt.Errorf("parse JWKS: %d keys exceeds %d", len(doc.Keys), maxKeysInOneSet)
	}
	keys := make([]*Key, 0, len(doc.Keys))
	for i, raw := range doc.Keys {
		var j jwk
		if err := json.Unmarshal(raw, &j); err != nil {
			return nil, 0, fmt.Errorf("parse JWKS: keys[%d]: %w", i, err)
		}
		k, err := j.key()
		if err != nil {
			return nil, 0, fmt.Errorf("parse JWKS: keys[%d] (kid %q): %w", i, j.Kid, err)
		}
		if k == nil {
			skipped++
			continue
		}
		keys = append(keys, k)
	}
	return NewSet(keys), skipped, nil
}

// key converts one JWK; nil without error means "not for us, skip".
func (j *jwk) key() (*Key, error) {
	if j.D != "" {
		return nil, errors.New("private key material (\"d\") must never be published")
	}
	if j.Use != "" && j.Use != "sig" {
		return nil, nil
	}
	switch j.Kty {
	case "RSA":
		n, err := b64int(j.N)
		if err != nil {
			return nil, fmt.Errorf("n: %w", err)
		}
		e, err := b64int(j.E)
		if err != nil {
			return nil, fmt.Errorf("e: %w", err)
		}
		if !e.IsInt64() || e.Int64() > 1<<31-1 {
			return nil, errors.New("e: out of range")
		}
		return NewPublicKey(j.Kid, j.Alg, &rsa.PublicKey{N: n, E: int(e.Int64())})
	case "EC":
		var curve elliptic.Curve
		switch j.Crv {
		case "P-256":
			curve = elliptic.P256()
		case "P-384":
			curve = elliptic.P384()
		case "P-521":
			curve = elliptic.P521()
		default:
			return nil, fmt.Errorf("unsupported curve %q", j.Crv)
		}
		size := (curve.Params().BitSize + 7) / 8
		x, err := b64fixed(j.X, size)
		if err != nil {
			return nil, fmt.Errorf("x: %w", err)
		}
		y, err := b64fixed(j.Y, size)
		if err != nil {
			return nil, fmt.Errorf("y: %w", err)
		}
		point := append(append([]byte{4}, x...), y...)
		pub, err := ecdsa.ParseUncompressedPublicKey(curve, point)
		if err != nil {
			return nil, fmt.Errorf("point: %w", err)
		}
		return NewPublicKey(j.Kid, j.Alg, pub)
	case "OKP":
		if j.Crv != "Ed25519" {
			return nil, fmt.Errorf("unsupported OKP curve %q", j.Crv)
		}
		x, err := b64fixed(j.X, ed25519.PublicKeySize)
		if err != nil {
			return nil, fmt.Errorf("x: %w", err)
		}
		return NewPublicKey(j.Kid, j.Alg, ed25519.PublicKey(x))
	case "oct":
		return nil, errors.New(`symmetric ("oct") keys are refused in JWKS: configure a secret_file`)
	default:
		return nil, nil
	}
}

func b64(s string) ([]byte, error) {
	if s == "" {
		return nil, errors.New("missing")
	}
	return base64.RawURLEncoding.Strict().DecodeString(s)
}

func b64int(s string) (*big.Int, error) {
	b, err := b64(s)
	if err != nil {
		return nil, err
	}
	if len(b) > maxRSABits/8 {
		return nil, errors.New("too long")
	}
	return new(big.Int).SetBytes(b), nil
}

func b64fixed(s string, size int) ([]byte, error) {
	b, err := b64(s)
	if err != nil {
		return nil, err
	}
	if len(b) != size {
		return nil, fmt.Errorf("%d bytes, want %d", len(b), size)
	}
	return b, nil
}

package jwtauth

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
	"unsafe"

	"github.com/golang-jwt/jwt/v5"
	"github.com/valyala/fastjson"

	"github.com/edgeguard/edgeguard/dataplane/auth/identity"
	"github.com/edgeguard/edgeguard/dataplane/auth/jwks"
	"github.com/edgeguard/edgeguard/dataplane/pipeline"
)

// The uncached path reads a compact JWS the way jwt.Parser with
// WithStrictDecoding and jwt.MapClaims did (encoding/json into maps), with
// the same verdict on every input, but without building maps: segments are
// decoded into pooled buffers, the JSON is checked with json.Valid (the
// syntax check encoding/json runs before decoding), made to decode strings
// as encoding/json does (see normalize), parsed with a pooled fastjson
// parser, and the members the checks need are picked up in one pass, the
// last of duplicate names winning as in a Go map. The header's typ is not
// checked (it never was); crit is refused whatever it holds. One deliberate
// difference: nesting deeper than fastjson.MaxDepth (300) is refused as
// ErrMalformed, where encoding/json allowed 10000 levels. differential_test.go
// holds the former path to this.

// segment is the strict unpadded base64url of RFC 7515, as the parser's
// WithStrictDecoding used (CR and LF are skipped, as they were).
var segment = base64.RawURLEncoding.Strict()

// Claims every issuer reads occupy the first slots.
const (
	slotIss = iota
	slotExp
	slotNbf
	slotIat
	slotAud
	slotScope
	slotScp
)

var fixedClaims = [...]string{"iss", "exp", "nbf", "iat", "aud", "scope", "scp"}

// scratch is the working memory of one uncached verification, pooled per
// Verifier. Values from the parsers point into their buffers and die with
// the next use of the scratch; nothing derived from them outlives a call
// except the strings copied into the identity.
type scratch struct {
	hdr, pay, sig []byte // decoded segments
	norm, num     []byte // normalized JSON; one number's text
	str           []byte // the identity's strings, before their one copy
	hp, pp        fastjson.Parser
	slots         []*fastjson.Value // last value of each claim name, by slot
	scopes        []string
	// From the header, the last member of each name (nil: absent).
	alg, kid *fastjson.Value
	crit     bool
}

// verifySlow verifies a token the cache does not hold, and caches it when
// it is valid for a while yet.
func (v *Verifier) verifySlow(token []byte, now time.Time) (*Verified, error) {
	// Exactly two dots, as the parser's split required.
	d1 := bytes.IndexByte(token, '.')
	if d1 < 0 {
		return nil, ErrMalformed
	}
	d2 := bytes.IndexByte(token[d1+1:], '.') + d1 + 1
	if d2 == d1 || bytes.IndexByte(token[d2+1:], '.') >= 0 {
		return nil, ErrMalformed
	}
	s := v.scratch.Get().(*scratch)
	e, err := v.verifyParts(s, token, d1, d2, now)
	s.release()
	v.scratch.Put(s)
	if err != nil {
		return nil, err
	}
	if e.expires > now.UnixNano() {
		v.cache.put(e, now.UnixNano())
	}
	return e, nil
}

// verifyParts checks the token in the order jwt.Parser.ParseWithClaims and
// the former key function did, so that a token with several faults gets
// the same cause: header, payload, alg, signature encoding, key, signature,
// claims.
func (v *Verifier) verifyParts(s *scratch, token []byte, d1, d2 int, now time.Time) (*Verified, error) {
	var err error
	if s.hdr, err = decodeSegment(s.hdr, token[:d1]); err != nil {
		return nil, ErrMalformed
	}
	hdr, hdrErr := s.parse(&s.hp, s.hdr)
	if hdr == nil {
		// Undecodable, or not an object: no header map at all.
		return nil, ErrMalformed
	}
	dup := false
	if o := hdr.GetObject(); o != nil { // JSON null is a header without members
		o.Visit(func(k []byte, val *fastjson.Value) {
			switch string(k) {
			case "alg":
				dup = dup || s.alg != nil
				s.alg = val
			case "kid":
				dup = dup || s.kid != nil
				s.kid = val
			case "crit":
				s.crit = true
			}
		})
	}
	if hdrErr != nil { // a number out of range: the map was filled, then refused
		return nil, s.classify(ErrMalformed)
	}
	if s.pay, err = decodeSegment(s.pay, token[d1+1:d2]); err != nil {
		return nil, s.classify(ErrMalformed)
	}
	pay, err := s.parse(&s.pp, s.pay)
	if err != nil {
		return nil, s.classify(ErrMalformed)
	}
	if o := pay.GetObject(); o != nil { // null leaves the claims empty
		o.Visit(func(k []byte, val *fastjson.Value) {
			if i, ok := v.claimSlot[string(k)]; ok {
				dup = dup || s.slots[i] != nil
				s.slots[i] = val
			}
		})
	}
	if dup {
		return nil, ErrDuplicateMember
	}
	alg, ok := stringOf(s.alg)
	if !ok {
		return nil, ErrAlgNotAllowed // alg missing or not a string: unverifiable
	}
	method := jwt.GetSigningMethod(b2s(alg))
	if method == nil {
		return nil, s.classify(ErrAlgNotAllowed)
	}
	if s.sig, err = decodeSegment(s.sig, token[d2+1:]); err != nil {
		return nil, s.classify(ErrMalformed)
	}

	// The former key function: never "none", no crit extension understood,
	// the issuer by exact iss, the algorithm on its list, the key by kid
	// and alg from its sources.
	if strings.EqualFold(b2s(alg), "none") {
		return nil, ErrAlgNone
	}
	if s.crit {
		return nil, ErrCrit // RFC 7515 section 4.1.11
	}
	var kid []byte
	if s.kid != nil {
		if kid, ok = stringOf(s.kid); !ok {
			return nil, ErrMalformed
		}
	}
	iss, _ := stringOf(s.slots[slotIss])
	is, ok := v.byIss[b2s(iss)]
	if !ok {
		return nil, ErrIssuer
	}
	algName := method.Alg() // the same text as alg, but outlives the scratch
	if algName != b2s(alg) || !is.algs[algName] {
		return nil, ErrAlgNotAllowed
	}
	key, cell, set, err := is.lookup(b2s(kid), algName)
	if errors.Is(err, jwks.ErrUnknownKID) && is.refresh() {
		key, cell, set, err = is.lookup(b2s(kid), algName)
	}
	if err != nil {
		return nil, err
	}
	if err := method.Verify(b2s(token[:d2]), s.sig, key.Verifier()); err != nil {
		return nil, ErrSignature // alg is on the issuer's list, so this is the cause
	}

	id, expires, err := is.check(s, now, v.ttl)
	if err != nil {
		return nil, err
	}
	return &Verified{Identity: id, Issuer: is.index, token: append([]byte(nil), token...),
		expires: expires, cell: cell, set: set}, nil
}

// classify gives a parse failure the cause the header's alg explains best,
// as the former path did once the header was decoded: "none" in any case
// is ErrAlgNone, an algorithm this package does not know ErrAlgNotAllowed.
func (s *scratch) classify(err error) error {
	if alg, ok := stringOf(s.alg); ok {
		if strings.EqualFold(b2s(alg), "none") {
			return ErrAlgNone
		}
		if !supportedAlgs[b2s(alg)] {
			return ErrAlgNotAllowed
		}
	}
	return err
}

// release drops the references into the parsers before the scratch goes
// back to the pool.
func (s *scratch) release() {
	clear(s.slots)
	clear(s.scopes)
	s.scopes = s.scopes[:0]
	s.alg, s.kid, s.crit = nil, nil, false
}

func decodeSegment(dst, seg []byte) ([]byte, error) {
	n := segment.DecodedLen(len(seg))
	if cap(dst) < n {
		dst = make([]byte, n)
	}
	n, err := segment.Decode(dst[:n], seg)
	return dst[:n], err
}

var (
	errNotObject = errors.New("JSON value is not an object or null")
	errRange     = errors.New("JSON number out of float64 range")
)

// parse parses data as encoding/json decoding into a map[string]any would
// accept it. It returns a nil value when that decoding left no map (bad
// syntax, or a value that is neither an object nor null), and the value
// with errRange when a number somewhere does not fit a float64 (encoding/
// json filled the map, then failed).
func (s *scratch) parse(p *fastjson.Parser, data []byte) (*fastjson.Value, error) {
	if !json.Valid(data) {
		return nil, errNotObject
	}
	val, err := p.ParseBytes(s.normalize(data))
	if err != nil {
		return nil, err // deeper than fastjson.MaxDepth
	}
	if t := val.Type(); t != fastjson.TypeObject && t != fastjson.TypeNull {
		return nil, errNotObject
	}
	if !s.numbersFit(val) {
		return val, errRange
	}
	return val, nil
}

// numbersFit reports whether every number in val parses as a float64, as
// each must for encoding/json to decode it into an any.
func (s *scratch) numbersFit(val *fastjson.Value) bool {
	switch val.Type() {
	case fastjson.TypeNumber:
		s.num = val.MarshalTo(s.num[:0])
		if len(s.num) <= 308 && bytes.IndexAny(s.num, "eE") < 0 {
			return true // fewer than 309 digits and no exponent: below 1e308
		}
		_, err := strconv.ParseFloat(b2s(s.num), 64)
		return err == nil
	case fastjson.TypeArray:
		for _, x := range val.GetArray() {
			if !s.numbersFit(x) {
				return false
			}
		}
	case fastjson.TypeObject:
		fit := true
		val.GetObject().Visit(func(_ []byte, x *fastjson.Value) {
			fit = fit && s.numbersFit(x)
		})
		return fit
	}
	return true
}

// float parses a number's JSON text with strconv.ParseFloat, as
// encoding/json does (fastjson's own float parser rounds differently in
// places).
func (s *scratch) float(val *fastjson.Value) (float64, error) {
	s.num = val.MarshalTo(s.num[:0])
	return strconv.ParseFloat(b2s(s.num), 64)
}

// normalize returns valid JSON data with its strings rewritten so that
// fastjson decodes them to what encoding/json does: each byte of invalid
// UTF-8 becomes U+FFFD, and a \u escape of a UTF-16 surrogate that is not
// the first half of a valid pair becomes \uFFFD (fastjson would keep the
// escape as text, or swallow the next escape with it). data itself comes
// back when nothing needs rewriting, the usual case.
func (s *scratch) normalize(data []byte) []byte {
	if utf8.Valid(data) && !maybeSurrogateEscape(data) {
		return data
	}
	out := s.norm[:0]
	inString := false
	for i := 0; i < len(data); {
		c := data[i]
		switch {
		case !inString:
			inString = c == '"'
			out = append(out, c)
			i++
		case c == '"':
			inString = false
			out = append(out, c)
			i++
		case c == '\\' && data[i+1] == 'u':
			r := hex4(data[i+2 : i+6])
			if !utf16.IsSurrogate(r) {
				out = append(out, data[i:i+6]...)
				i += 6
				break
			}
			if i+12 <= len(data) && data[i+6] == '\\' && data[i+7] == 'u' &&
				utf16.DecodeRune(r, hex4(data[i+8:i+12])) != unicode.ReplacementChar {
				out = append(out, data[i:i+12]...)
				i += 12
				break
			}
			out = append(out, `\uFFFD`...)
			i += 6
		case c == '\\':
			out = append(out, c, data[i+1])
			i += 2
		case c < utf8.RuneSelf:
			out = append(out, c)
			i++
		default:
			r, size := utf8.DecodeRune(data[i:])
			out = utf8.AppendRune(out, r) // RuneError for each invalid byte
			i += size
		}
	}
	s.norm = out
	return out
}

// maybeSurrogateEscape reports whether data may hold a \u escape of a
// surrogate (D800-DFFF). False positives only cost the slow path.
func maybeSurrogateEscape(data []byte) bool {
	for {
		i := bytes.Index(data, []byte(`\u`))
		if i < 0 || i+3 >= len(data) {
			return false
		}
		if d, x := data[i+2], data[i+3]; (d == 'd' || d == 'D') && (x >= '8' && x <= '9' || x >= 'a' && x <= 'f' || x >= 'A' && x <= 'F') {
			return true
		}
		data = data[i+2:]
	}
}

// hex4 decodes four hex digits; -1 when they are not (json.Valid has
// checked every escape, so only a following "\u" can be short).
func hex4(b []byte) rune {
	if len(b) < 4 {
		return -1
	}
	var r rune
	for _, c := range b[:4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			c = c - 'A' + 10
		default:
			return -1
		}
		r = r<<4 | rune(c)
	}
	return r
}

// stringOf returns val's string when it is one.
func stringOf(val *fastjson.Value) ([]byte, bool) {
	if val == nil || val.Type() != fastjson.TypeString {
		return nil, false
	}
	b, _ := val.StringBytes()
	return b, true
}

// check applies the issuer's claim rules, in the order and with the
// results the former jwt.MapClaims checks had, and builds the identity. It
// returns the cache expiry: the token's exp, or now+ttl if sooner.
func (is *issuer) check(s *scratch, now time.Time, ttl time.Duration) (*identity.Identity, int64, error) {
	exp, ok, err := s.numericDate(s.slots[slotExp])
	if err != nil {
		return nil, 0, err
	}
	if !ok {
		return nil, 0, ErrExpMissing
	}
	if !now.Before(exp.Add(is.Leeway)) {
		return nil, 0, ErrExpired
	}
	nbf, ok, err := s.numericDate(s.slots[slotNbf])
	if err != nil {
		return nil, 0, err
	}
	if ok && now.Add(is.Leeway).Before(nbf) {
		return nil, 0, ErrNotYetValid
	}
	iat, ok, err := s.numericDate(s.slots[slotIat])
	if err != nil {
		return nil, 0, err
	}
	if ok && now.Add(is.Leeway).Before(iat) {
		return nil, 0, ErrIssuedInFuture
	}
	if err := is.checkAudience(s.slots[slotAud]); err != nil {
		return nil, 0, err
	}
	for _, i := range is.reqSlots {
		if val := s.slots[i]; val == nil || val.Type() == fastjson.TypeNull {
			return nil, 0, ErrClaimMissing
		}
	}

	// The identity's strings are gathered in s.str and copied once:
	// rate key prefix and subject (the rate key, then the subject as its
	// tail), tier, scopes.
	s.str = append(s.str[:0], is.rateKeyPrefix...)
	sub, err := claimString(s.slots[is.subSlot], true)
	if err != nil {
		return nil, 0, err
	}
	s.str = append(s.str, sub...)
	subEnd := len(s.str)
	if is.tierSlot >= 0 {
		tier, err := claimString(s.slots[is.tierSlot], false)
		if err != nil {
			return nil, 0, err
		}
		s.str = append(s.str, tier...)
	}
	tierEnd := len(s.str)
	var bounds [2 * 16]int // scope start/end offsets in s.str; more spill to the heap
	scopeBounds, err := s.appendScopes(bounds[:0])
	if err != nil {
		return nil, 0, err
	}
	all := string(s.str)
	for i := 0; i < len(scopeBounds); i += 2 {
		s.scopes = append(s.scopes, all[scopeBounds[i]:scopeBounds[i+1]])
	}
	var scopes []string // nil when there are none, as before
	if len(s.scopes) > 0 {
		scopes = s.scopes
	}
	id, err := identity.New(identity.Spec{
		Kind: pipeline.IdentityJWT, Subject: all[len(is.rateKeyPrefix):subEnd],
		Tier: all[subEnd:tierEnd], Scopes: scopes, RateKey: all[:subEnd],
	})
	if err != nil {
		return nil, 0, ErrClaimInvalid
	}
	expires := exp.UnixNano()
	if exp.Unix() > math.MaxInt64/int64(time.Second) {
		expires = math.MaxInt64
	}
	if limit := now.Add(ttl).UnixNano(); limit < expires {
		expires = limit
	}
	return id, expires, nil
}

// numericDate reads exp, nbf or iat as jwt.MapClaims did: absent or 0 is
// no date, a JSON number (fractions too) is seconds since the epoch
// truncated to jwt.TimePrecision, anything else (null too) is invalid.
func (s *scratch) numericDate(val *fastjson.Value) (time.Time, bool, error) {
	if val == nil {
		return time.Time{}, false, nil
	}
	if val.Type() != fastjson.TypeNumber {
		return time.Time{}, false, ErrClaimInvalid
	}
	f, err := s.float(val)
	if err != nil { // numbersFit refused these already
		return time.Time{}, false, ErrClaimInvalid
	}
	if f == 0 {
		return time.Time{}, false, nil
	}
	round, frac := math.Modf(f)
	return time.Unix(int64(round), int64(frac*1e9)).Truncate(jwt.TimePrecision), true, nil
}

// checkAudience requires one of the issuer's audiences in aud, a string or
// an array of strings (any other element makes the claim invalid; any
// other type counts as no audience).
func (is *issuer) checkAudience(aud *fastjson.Value) error {
	if s, ok := stringOf(aud); ok {
		if is.aud[b2s(s)] {
			return nil
		}
		return ErrAudience
	}
	if aud == nil || aud.Type() != fastjson.TypeArray {
		return ErrAudience
	}
	arr := aud.GetArray()
	for _, x := range arr {
		if _, ok := stringOf(x); !ok {
			return ErrClaimInvalid
		}
	}
	for _, x := range arr {
		if s, _ := stringOf(x); is.aud[b2s(s)] {
			return nil
		}
	}
	return ErrAudience
}

// claimString reads a string claim: absent or null is missing (an error
// when required), another type is invalid, and so is "" when required.
func claimString(val *fastjson.Value, required bool) ([]byte, error) {
	if val == nil || val.Type() == fastjson.TypeNull {
		if required {
			return nil, ErrClaimMissing
		}
		return nil, nil
	}
	b, ok := stringOf(val)
	if !ok || (required && len(b) == 0) {
		return nil, ErrClaimInvalid
	}
	return b, nil
}

// appendScopes appends the scopes to s.str and their offsets to bounds:
// "scope" (RFC 8693: space-separated printable ASCII tokens, anything else
// refused) or, when "scope" is
// absent, "scp" (string or array of strings).
func (s *scratch) appendScopes(bounds []int) ([]int, error) {
	val := s.slots[slotScope]
	if val == nil {
		val = s.slots[slotScp]
	}
	if val == nil {
		return bounds, nil
	}
	switch val.Type() {
	case fastjson.TypeNull:
		return bounds, nil
	case fastjson.TypeString:
		b, _ := val.StringBytes()
		for _, c := range b {
			if c != ' ' && (c < 0x21 || c > 0x7e) {
				// RFC 6749 §3.3: scope tokens are printable ASCII
				// separated by spaces. A tab or U+00A0 is no separator
				// to the issuer, so "read\u00a0admin" is not "admin".
				return nil, ErrClaimInvalid
			}
		}
		for len(b) > 0 {
			var tok []byte
			tok, b, _ = bytes.Cut(b, []byte{' '})
			if len(tok) == 0 {
				continue // leading, trailing or repeated spaces
			}
			bounds = append(bounds, len(s.str), len(s.str)+len(tok))
			s.str = append(s.str, tok...)
		}
		return bounds, nil
	case fastjson.TypeArray:
		for _, x := range val.GetArray() {
			b, ok := stringOf(x)
			if !ok {
				return nil, ErrClaimInvalid
			}
			bounds = append(bounds, len(s.str), len(s.str)+len(b))
			s.str = append(s.str, b...)
		}
		return bounds, nil
	}
	return nil, ErrClaimInvalid
}

// b2s views b as a string without copying, for lookups and comparisons
// that do not keep the string.
func b2s(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

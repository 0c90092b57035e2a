package router

import (
	"fmt"
	"slices"
	"strings"
)

// Bits for the registered methods, so that the common case is one AND.
const (
	mGET uint16 = 1 << iota
	mHEAD
	mPOST
	mPUT
	mDELETE
	mPATCH
	mOPTIONS
	mCONNECT
	mTRACE
)

// methodBit returns the bit of a registered method, or 0 for any other.
func methodBit(m []byte) uint16 {
	switch string(m) {
	case "GET":
		return mGET
	case "HEAD":
		return mHEAD
	case "POST":
		return mPOST
	case "PUT":
		return mPUT
	case "DELETE":
		return mDELETE
	case "PATCH":
		return mPATCH
	case "OPTIONS":
		return mOPTIONS
	case "CONNECT":
		return mCONNECT
	case "TRACE":
		return mTRACE
	}
	return 0
}

// methodSet is the compiled form of Spec.Methods.
type methodSet struct {
	any   bool
	mask  uint16   // registered methods
	other []string // other methods, upper-case
}

type allowance uint8

const (
	denied allowance = iota
	allowed
	allowedAsGet // HEAD on a route that lists GET but not HEAD
)

// allows reports whether the set allows a request method. A route without
// a method list allows every method but TRACE, which echoes the request
// (its cookies and credentials) back to a script that can read the
// response (cross-site tracing): a route allows it only by listing it;
// nor does it allow TRACE in another case ("trace"), which an upstream
// that folds method names would serve as TRACE.
func (s *methodSet) allows(method []byte, bit uint16) allowance {
	switch {
	case s.any && bit != mTRACE && !(bit == 0 && strings.EqualFold(string(method), "TRACE")) || s.mask&bit != 0:
		return allowed
	case bit == mHEAD && s.mask&mGET != 0:
		return allowedAsGet
	case bit == 0:
		for _, m := range s.other {
			if m == string(method) {
				return allowed
			}
		}
	}
	return denied
}

// overlap reports whether a request method could be allowed explicitly by
// both sets, and names one such method. HEAD allowed only through GET does
// not count: an explicit HEAD route takes precedence over it.
func (s *methodSet) overlap(o *methodSet) (string, bool) {
	switch {
	case s.any && o.any:
		return "any method", true
	case s.any && (o.mask&^mTRACE != 0 || len(o.other) > 0):
		return o.String(), true
	case o.any && (s.mask&^mTRACE != 0 || len(s.other) > 0):
		return s.String(), true
	case s.any || o.any:
		return "", false // a method list of TRACE alone: what a list-less route refuses
	}
	if common := s.mask & o.mask; common != 0 {
		return (&methodSet{mask: common}).String(), true
	}
	for _, m := range s.other {
		if slices.Contains(o.other, m) {
			return m, true
		}
	}
	return "", false
}

var bitNames = [...]string{"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "CONNECT", "TRACE"}

// String lists the methods, e.g. "GET, POST".
func (s *methodSet) String() string {
	if s.any {
		return "any method"
	}
	var names []string
	for i, n := range bitNames {
		if s.mask&(1<<i) != 0 {
			names = append(names, n)
		}
	}
	return strings.Join(append(names, s.other...), ", ")
}

func compileMethods(methods []string) (methodSet, []error) {
	var s methodSet
	if len(methods) == 0 {
		s.any = true
		return s, nil
	}
	var errs []error
	seen := make(map[string]bool, len(methods))
	for i, m := range methods {
		if !isToken(m) {
			errs = append(errs, fmt.Errorf("methods[%d] %q: not a valid method token", i, m))
			continue
		}
		up := strings.ToUpper(m)
		if seen[up] {
			errs = append(errs, fmt.Errorf("methods[%d] %q: listed twice", i, m))
			continue
		}
		seen[up] = true
		if bit := methodBit([]byte(up)); bit != 0 {
			s.mask |= bit
		} else {
			s.other = append(s.other, up)
		}
	}
	return s, errs
}

// isToken reports whether m is an RFC 9110 token.
func isToken(m string) bool {
	if m == "" {
		return false
	}
	for i := 0; i < len(m); i++ {
		c := m[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return true
}

// header renders the set as an Allow header value: the registered methods
// in a fixed order, HEAD with GET (a GET route answers HEAD), then the
// others as configured. "" for any method (no 405 names it).
func (s *methodSet) header() string {
	if s.any {
		// Only TRACE is refused by a route without a method list.
		h := "GET, HEAD, POST, PUT, DELETE, PATCH, OPTIONS"
		if s.mask&mTRACE != 0 {
			h += ", TRACE"
		}
		return h
	}
	var b strings.Builder
	add := func(m string) {
		if b.Len() > 0 {
			b.WriteString(", ")
		}
		b.WriteString(m)
	}
	for _, m := range [...]struct {
		bit  uint16
		name string
	}{{mGET, "GET"}, {mHEAD, "HEAD"}, {mPOST, "POST"}, {mPUT, "PUT"}, {mDELETE, "DELETE"}, {mPATCH, "PATCH"},
		{mOPTIONS, "OPTIONS"}, {mCONNECT, "CONNECT"}, {mTRACE, "TRACE"}} {
		if s.mask&m.bit != 0 || m.bit == mHEAD && s.mask&mGET != 0 {
			add(m.name)
		}
	}
	for _, m := range s.other {
		add(m)
	}
	return b.String()
}

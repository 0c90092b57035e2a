package headers

import (
	"bytes"
	"math/rand/v2"
)

// W3C Trace Context (https://www.w3.org/TR/trace-context/): the gateway is a
// hop of the trace. A valid incoming traceparent is continued: the upstream
// gets the same trace-id and flags with the gateway's own span id as
// parent-id, in version 00 whatever version came in (§3.2.4: a future
// version is parsed as far as version 00 defines and re-sent as 00). An
// invalid one starts a new trace, and its tracestate is dropped with it.

// Trace flags the gateway passes on: sampled (Level 1) and random
// trace-id (Level 2). Level 1 has vendors zero the flags it does not define.
const (
	flagSampled = 0x01
	flagRandom  = 0x02
	flagsKnown  = flagSampled | flagRandom
)

// Tracestate bounds (§3.3.1): at most 32 list members, and the gateway
// passes on at most 512 bytes, the length every vendor must propagate.
const (
	maxTracestateMembers = 32
	maxTracestateLen     = 512
	// Members longer than this are dropped first when the list is over
	// maxTracestateLen (§3.3.1.5).
	maxTracestateKeepMember = 128
)

// newSpanID returns a random, non-zero span id.
func newSpanID() uint64 {
	for {
		if id := rand.Uint64(); id != 0 {
			return id
		}
	}
}

func unhex(c byte) byte {
	if c <= '9' {
		return c - '0'
	}
	return c - 'a' + 10
}

// continueTraceparent appends the version-00 traceparent that continues the
// valid traceparent tp (validTraceparent) with spanID as parent-id.
func continueTraceparent(dst, tp []byte, spanID uint64) []byte {
	dst = append(dst, "00-"...)
	dst = append(dst, tp[3:35]...)
	dst = append(dst, '-')
	dst = appendHex64(dst, spanID)
	f := (unhex(tp[53])<<4 | unhex(tp[54])) & flagsKnown
	return append(dst, '-', lowerHex[f>>4], lowerHex[f&0xf])
}

// TraceID returns the trace-id (32 lowercase hex characters) of a
// traceparent the headers stage set, nil when it has none.
func TraceID(tp []byte) []byte {
	if len(tp) < traceparentLen {
		return nil
	}
	return tp[3:35]
}

// Sampled reports whether a traceparent the headers stage set has the
// sampled flag.
func Sampled(tp []byte) bool {
	return len(tp) >= traceparentLen && unhex(tp[54])&flagSampled != 0
}

// appendTracestate appends the tracestate to pass on from the header
// values vals (several fields form one list, RFC 9110 §5.3): empty members
// skipped, at most maxTracestateMembers (the right-most removed), at most
// maxTracestateLen bytes (members over maxTracestateKeepMember removed
// first, then from the right). A list with an invalid member or a
// duplicate key is dropped whole (§3.3.1.1: a vendor may discard what it
// cannot parse), so nothing the gateway cannot vouch for reaches upstreams.
func appendTracestate(dst []byte, vals [][]byte) []byte {
	start := len(dst)
	var members [maxTracestateMembers][2]int // offsets in dst
	n := 0
	// Members past the limit are dropped, but their keys still count for
	// duplicates (a list with one is invalid whole); past twice the limit
	// the list is refused rather than compared without bound.
	var dropped [maxTracestateMembers][]byte
	nd := 0
	for _, v := range vals {
		for len(v) > 0 {
			var m []byte
			if i := bytes.IndexByte(v, ','); i >= 0 {
				m, v = v[:i], v[i+1:]
			} else {
				m, v = v, nil
			}
			m = trimOWS(m)
			if len(m) == 0 {
				continue
			}
			if !validTracestateMember(m) {
				return dst[:start]
			}
			k := memberKey(m)
			for _, p := range members[:n] {
				if bytes.Equal(memberKey(dst[p[0]:p[1]]), k) {
					return dst[:start]
				}
			}
			for _, d := range dropped[:nd] {
				if bytes.Equal(d, k) {
					return dst[:start]
				}
			}
			if n == maxTracestateMembers {
				if nd == len(dropped) {
					return dst[:start]
				}
				dropped[nd] = k // over the limit: the right-most are removed
				nd++
				continue
			}
			if n > 0 {
				dst = append(dst, ',')
			}
			members[n] = [2]int{len(dst), len(dst) + len(m)}
			dst = append(dst, m...)
			n++
		}
	}
	if len(dst)-start <= maxTracestateLen {
		return dst
	}
	// Over the bound: keep the members that fit, long ones dropped first.
	out := dst[:start]
	var keep [maxTracestateMembers]bool
	total := 0
	for i, p := range members[:n] {
		if l := p[1] - p[0]; l <= maxTracestateKeepMember {
			keep[i] = true
			total += l + 1
		}
	}
	for i := n - 1; i >= 0 && total-1 > maxTracestateLen; i-- {
		if keep[i] {
			keep[i] = false
			total -= members[i][1] - members[i][0] + 1
		}
	}
	for i, p := range members[:n] {
		if keep[i] {
			if len(out) > start {
				out = append(out, ',')
			}
			// Moving left within dst: the source is never overwritten
			// before it is copied.
			out = append(out, dst[p[0]:p[1]]...)
		}
	}
	return out
}

func memberKey(m []byte) []byte {
	return m[:bytes.IndexByte(m, '=')]
}

// validTracestateMember checks one list-member, key "=" value:
//
//	key       = simple-key / multi-tenant-key
//	simple-key = lcalpha 0*255( lcalpha / DIGIT / "_" / "-"/ "*" / "/" )
//	multi-tenant-key = tenant-id "@" system-id
//	tenant-id = ( lcalpha / DIGIT ) 0*240( lcalpha / DIGIT / "_" / "-"/ "*" / "/" )
//	system-id = lcalpha 0*13( lcalpha / DIGIT / "_" / "-"/ "*" / "/" )
//	value     = 0*255(chr) nblk-chr ; chr = %x20 / nblk-chr
//	nblk-chr  = %x21-2B / %x2D-3C / %x3E-7E
func validTracestateMember(m []byte) bool {
	eq := bytes.IndexByte(m, '=')
	if eq <= 0 {
		return false
	}
	key, val := m[:eq], m[eq+1:]
	if at := bytes.IndexByte(key, '@'); at >= 0 {
		tenant, system := key[:at], key[at+1:]
		if len(tenant) == 0 || len(tenant) > 241 || !isLowerAlnum(tenant[0]) || !keyChars(tenant[1:]) ||
			len(system) == 0 || len(system) > 14 || !isLowerAlpha(system[0]) || !keyChars(system[1:]) {
			return false
		}
	} else if len(key) > 256 || !isLowerAlpha(key[0]) || !keyChars(key[1:]) {
		return false
	}
	if len(val) == 0 || len(val) > 256 || val[len(val)-1] == ' ' {
		return false
	}
	for _, c := range val {
		if c < 0x20 || c > 0x7e || c == ',' || c == '=' {
			return false
		}
	}
	return true
}

func isLowerAlpha(c byte) bool { return c >= 'a' && c <= 'z' }

func isLowerAlnum(c byte) bool { return isLowerAlpha(c) || (c >= '0' && c <= '9') }

func keyChars(b []byte) bool {
	for _, c := range b {
		if !isLowerAlnum(c) && c != '_' && c != '-' && c != '*' && c != '/' {
			return false
		}
	}
	return true
}

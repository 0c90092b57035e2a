package headers

import (
	"math/rand/v2"
	"sync/atomic"
)

// MaxRequestIDLen is the longest client-supplied request ID that is kept.
const MaxRequestIDLen = 128

// requestIDByte marks the bytes allowed in a client-supplied request ID:
// letters, digits, '.', '_', ':' and '-'. None of them needs escaping in
// JSON, in a log line or in a header, so the ID can be copied verbatim into
// error bodies and access logs.
var requestIDByte = alnumAnd("._:-")

// validRequestID reports whether a client-supplied request ID is kept.
func validRequestID(b []byte) bool {
	if len(b) == 0 || len(b) > MaxRequestIDLen {
		return false
	}
	for _, c := range b {
		if !requestIDByte[c] {
			return false
		}
	}
	return true
}

// Request IDs are 128 bits: the high half comes from the runtime's
// per-thread ChaCha8 generator (unpredictable, lock-free), the low half is a
// process-wide counter passed through a keyed bijection, so two IDs of one
// process never collide and IDs of different processes collide only by
// chance (2^-64 per pair of equal counters). They serve correlation, not
// security: nothing may be authorised by knowing one.
var (
	idCounter atomic.Uint64
	idKey     = rand.Uint64()
)

// mix64 is the SplitMix64 finalizer: a bijection on uint64 that spreads
// consecutive counters over the whole range.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

// appendRequestID appends a new 32-character lowercase hex request ID.
func appendRequestID(dst []byte) []byte {
	lo := mix64(idCounter.Add(1) ^ idKey)
	return appendHex64(appendHex64(dst, rand.Uint64()), lo)
}

const lowerHex = "0123456789abcdef"

func appendHex64(dst []byte, v uint64) []byte {
	var b [16]byte
	for i := 15; i >= 0; i-- {
		b[i] = lowerHex[v&0xf]
		v >>= 4
	}
	return append(dst, b[:]...)
}

// traceparentLen is the length of a version-00 traceparent header:
// "00-" + 32 hex trace-id + "-" + 16 hex parent-id + "-" + 2 hex flags.
const traceparentLen = 55

// maxTraceparentLen bounds a future-version traceparent that is propagated
// as-is; the specification sets no bound, but an unbounded value would be
// echoed into every response and log line.
const maxTraceparentLen = 512

// validTraceparent reports whether b is a traceparent header whose trace
// the gateway continues (trace.go), following the W3C Trace Context rules: version 00
// must be exactly 55 characters; a higher version (other than the invalid
// "ff") must have at least 55 characters whose first 55 parse as version 00,
// followed by '-' if there are more. Hex must be lowercase, and neither the
// trace-id nor the parent-id may be all zeros. Beyond the spec, the tail of a
// future version must be printable ASCII and the whole at most 512 bytes.
func validTraceparent(b []byte) bool {
	if len(b) < traceparentLen || len(b) > maxTraceparentLen {
		return false
	}
	if !isLowerHex(b[0]) || !isLowerHex(b[1]) {
		return false
	}
	switch {
	case b[0] == '0' && b[1] == '0':
		if len(b) != traceparentLen {
			return false
		}
	case b[0] == 'f' && b[1] == 'f':
		return false
	default:
		if len(b) > traceparentLen {
			if b[traceparentLen] != '-' {
				return false
			}
			for _, c := range b[traceparentLen+1:] {
				if c < 0x21 || c > 0x7e {
					return false
				}
			}
		}
	}
	if b[2] != '-' || b[35] != '-' || b[52] != '-' {
		return false
	}
	return lowerHexNonZero(b[3:35]) && lowerHexNonZero(b[36:52]) &&
		isLowerHex(b[53]) && isLowerHex(b[54])
}

func isLowerHex(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')
}

// lowerHexNonZero reports whether b is lowercase hex and not all zeros.
func lowerHexNonZero(b []byte) bool {
	nonZero := false
	for _, c := range b {
		if !isLowerHex(c) {
			return false
		}
		if c != '0' {
			nonZero = true
		}
	}
	return nonZero
}

// appendTraceparent appends a new version-00 traceparent with a random
// trace-id and parent-id (the gateway's span). It is marked sampled when
// the low 63 bits of the trace-id fall under bound (sampleBound): the same
// decision as OpenTelemetry's TraceIDRatioBased sampler, so services that
// sample by ratio agree with the gateway. With bound 0 (no export) the
// flags are 00: a gateway that records no spans must not claim that the
// trace is sampled; the first service that traces decides.
func appendTraceparent(dst []byte, bound uint64) []byte {
	hi, lo := rand.Uint64(), rand.Uint64()
	if hi == 0 && lo == 0 {
		lo = 1
	}
	dst = append(dst, "00-"...)
	dst = appendHex64(appendHex64(dst, hi), lo)
	dst = append(dst, '-')
	dst = appendHex64(dst, newSpanID())
	if lo>>1 < bound {
		return append(dst, "-01"...)
	}
	return append(dst, "-00"...)
}

// sampleBound turns a ratio into the bound of the low 63 bits of a
// trace-id under which a trace is sampled.
func sampleBound(ratio float64) uint64 {
	switch {
	case ratio <= 0:
		return 0
	case ratio >= 1:
		return 1 << 63
	}
	return uint64(ratio * (1 << 63))
}

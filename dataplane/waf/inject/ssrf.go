package inject

import "bytes"

// Server-side request forgery (Kind "ssrf"): a value that points a server
// which fetches URLs at what only the server can reach and nothing
// ordinary names:
//
//   - a cloud metadata service, the target that turns an SSRF into stolen
//     credentials: 169.254.169.254 in any spelling a URL parser accepts
//     (dotted, decimal 2852039166, hex 0xa9fea9fe, octal 0251.0376.0251.0376,
//     IPv4-mapped IPv6 [::ffff:a9fe:a9fe]), AWS's fd00:ec2::254 and
//     ECS's 169.254.170.2, Alibaba's 100.100.100.200, the names
//     metadata.google.internal and (in a URL) instance-data;
//   - a URL scheme that smuggles another protocol through a URL fetcher:
//     gopher:// (raw bytes to Redis, SMTP, FastCGI) and dict://.
//
// Loopback and private addresses are left alone: API values carry them
// (webhooks in a lab, documentation), and the upstream's own allowlist is
// the right place for them.

const (
	ruleSSRFMetadata = "cloud_metadata"
	ruleSSRFScheme   = "smuggling_scheme"
)

const ssrfNeeds = bDot | bColon

// metadataAddresses are the spellings of metadata addresses; each has a
// digit.
var metadataAddresses = [...]string{"169.254.169.254", "169.254.170.2", "100.100.100.200", "2852039166",
	"0xa9fea9fe", "0251.0376.0251.0376", "0xa9.0xfe.0xa9.0xfe", "a9fe:a9fe", "fd00:ec2::254"}

func checkSSRF(v []byte, m uint64) string {
	if !hasAny(m, ssrfNeeds) {
		return ""
	}
	if has(m, bColon|bSlash) {
		// Each "://" (one vectorized search) with its scheme and host.
		for i := bytes.Index(v, schemeSep); i >= 0; {
			if r := schemeRule(v, i); r != "" {
				return r
			}
			n := bytes.Index(v[i+3:], schemeSep)
			if n < 0 {
				break
			}
			i += 3 + n
		}
	}
	if has(m, bDigit) && metadataAddress(v) {
		return ruleSSRFMetadata
	}
	if has(m, bDot) && hasAny(m, bLower|bUpper) {
		// "metadata.google.internal" at one of the value's dots.
		for i := bytes.IndexByte(v, '.'); i >= 0; {
			if i >= 8 && hasPrefixFold(v, i-8, "metadata.google.internal") && (i == 8 || !isAlnum(v[i-9]) && v[i-9] != '.') &&
				addressEnds(v, i+16) {
				return ruleSSRFMetadata
			}
			n := bytes.IndexByte(v[i+1:], '.')
			if n < 0 {
				break
			}
			i += 1 + n
		}
	}
	return ""
}

var schemeSep = []byte("://")

// schemeRule reads the URL whose "://" is at v[i]: a smuggling scheme
// with a host ("gopher://127.0.0.1:6379/_", not "the gopher:// scheme"),
// or AWS's metadata name as the host ("http://instance-data/").
func schemeRule(v []byte, i int) string {
	host := i + 3
	if host >= len(v) || !isAlnum(v[host]) && v[host] != '[' {
		return ""
	}
	start := i
	for start > 0 && isLetter(v[start-1]) {
		start--
	}
	if w := v[start:i]; len(w) == 6 && hasPrefixFold(w, 0, "gopher") || len(w) == 4 && hasPrefixFold(w, 0, "dict") {
		return ruleSSRFScheme
	}
	if hasPrefixFold(v, host, "instance-data") && addressEnds(v, host+len("instance-data")) {
		return ruleSSRFMetadata
	}
	return ""
}

// metadataAddress finds a spelling of metadataAddresses in v. A few
// vectorized searches for a piece of each spelling rule out nearly every
// value first; the byte loop then finds the spelling at a token start.
func metadataAddress(v []byte) bool {
	if !bytes.Contains(v, []byte("169.254.")) && !bytes.Contains(v, []byte("100.100.100.200")) &&
		!bytes.Contains(v, []byte("2852039166")) && !bytes.Contains(v, []byte("0251.0376")) &&
		indexFold(v, "0xa9") < 0 && indexFold(v, "9fe:a9fe") < 0 && indexFold(v, ":ec2::254") < 0 {
		return false
	}
	for i := 0; i+1 < len(v); i++ {
		switch c, n := lowerASCII(v[i]), lowerASCII(v[i+1]); {
		case c == '1' && (n == '6' || n == '0'), c == '2' && n == '8', c == '0' && (n == 'x' || n == '2'),
			c == 'a' && n == '9', c == 'f' && n == 'd':
			if i > 0 && (isAlnum(v[i-1]) || v[i-1] == '.') {
				continue
			}
			for _, s := range metadataAddresses {
				if s[0] == c && hasPrefixFold(v, i, s) && addressEnds(v, i+len(s)) {
					return true
				}
			}
		}
	}
	return false
}

// addressEnds: an address ends at v[end], not inside a longer name or
// number ("169.254.169.2549", "169.254.169.254.example").
func addressEnds(v []byte, end int) bool {
	return end == len(v) || !isAlnum(v[end]) && !(v[end] == '.' && end+1 < len(v) && isAlnum(v[end+1]))
}

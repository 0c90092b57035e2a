package headers

import (
	"bytes"

	"github.com/valyala/fasthttp"

	"github.com/edgeguard/edgeguard/dataplane/pipeline"
)

// Details of requests refused for their request line or Host.
const (
	DetailHostInvalid   = "host_invalid"   // Host is not host[:port] (userinfo, a port over 65535, other bytes)
	DetailTargetInvalid = "target_invalid" // an absolute-form target with a scheme other than http(s), userinfo, or no valid host
)

// checkTarget refuses what fasthttp reads leniently in the request line and
// Host, which the gateway would otherwise pass on in another shape than it
// judged: an HTTP major version other than 1 (fasthttp serves HTTP/2.0 as
// 1.1), a Host with userinfo ("a.example@b" is routed and sent as b) or a
// port that is no port, and an absolute-form target with another scheme
// (ftp://) or with userinfo. It returns the status, reason and detail of a
// refusal, or status 0.
func checkTarget(ctx *fasthttp.RequestCtx) (int, pipeline.Reason, string) {
	h := &ctx.Request.Header
	if p := h.Protocol(); len(p) == len("HTTP/1.1") && p[5] != '1' {
		return fasthttp.StatusHTTPVersionNotSupported, pipeline.ReasonVersionUnsupported, ""
	}
	if !validHost(h.Host()) {
		return fasthttp.StatusBadRequest, pipeline.ReasonHeaderInvalid, DetailHostInvalid
	}
	if uri := h.RequestURI(); len(uri) > 0 && uri[0] != '/' && uri[0] != '*' && !h.IsConnect() {
		// Absolute form (RFC 9112 §3.2.2): scheme "://" authority.
		scheme, rest, ok := bytes.Cut(uri, schemeSep)
		if !ok || !(bytes.EqualFold(scheme, strHTTP) || bytes.EqualFold(scheme, strHTTPS)) {
			return fasthttp.StatusBadRequest, pipeline.ReasonPathInvalid, DetailTargetInvalid
		}
		authority := rest
		if i := bytes.IndexAny(rest, "/?#"); i >= 0 {
			authority = rest[:i]
		}
		// An http(s) URI with an empty host is invalid (RFC 9110 §4.2.1):
		// fasthttp would route it on the Host header, and send the
		// upstream another host.
		if bytes.IndexByte(authority, '@') >= 0 || len(authority) == 0 || authority[0] == ':' || !validHost(authority) {
			return fasthttp.StatusBadRequest, pipeline.ReasonPathInvalid, DetailTargetInvalid
		}
	}
	return 0, pipeline.ReasonNone, ""
}

var (
	schemeSep = []byte("://")
	strHTTP   = []byte("http")
	strHTTPS  = []byte("https")
)

// validHost reports whether a Host value is host[:port] (RFC 9110 §7.2,
// RFC 3986 §3.2.2): a reg-name of unreserved, percent and sub-delim bytes
// (no '@': userinfo is not allowed in Host), an IP literal in brackets, and
// an optional port of at most five digits up to 65535. An empty Host is
// left to the router (no route matches it by name).
func validHost(host []byte) bool {
	if len(host) == 0 {
		return true
	}
	name, port := host, []byte(nil)
	if host[0] == '[' {
		end := bytes.IndexByte(host, ']')
		if end < 0 {
			return false
		}
		if end == 1 {
			return false // "[]": no address
		}
		for _, c := range host[1:end] {
			if !isHex(c) && c != ':' && c != '.' {
				return false
			}
		}
		name, port = host[:end+1], host[end+1:]
		if len(port) > 0 && port[0] != ':' {
			return false
		}
	} else if i := bytes.LastIndexByte(host, ':'); i >= 0 {
		name, port = host[:i], host[i:]
	}
	if len(port) > 0 {
		port = port[1:] // the ':'
		if len(port) == 0 || len(port) > 5 {
			return len(port) == 0 // "host:" is allowed (RFC 3986: empty port)
		}
		n := 0
		for _, c := range port {
			if c < '0' || c > '9' {
				return false
			}
			n = n*10 + int(c-'0')
		}
		if n > 65535 {
			return false
		}
	}
	if name[0] == '[' {
		return true
	}
	for _, c := range name {
		if !hostByte[c] {
			return false
		}
	}
	return true
}

func isHex(c byte) bool { return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' }

// hostByte: RFC 3986 reg-name bytes (unreserved, sub-delims, '%').
var hostByte = alnumAnd("-._~!$&'()*+,;=%")

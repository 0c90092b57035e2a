// Package headers is the data-plane stage for header hygiene. On the request
// side it finds the real client address (X-Forwarded-For is believed only
// from trusted proxies), strips hop-by-hop headers, sets X-Forwarded-For,
// X-Real-IP and X-Forwarded-Proto, and assigns a request ID and a W3C
// traceparent. On the response side it strips hop-by-hop headers and
// headers that leak implementation details, sets security headers, and
// echoes the request ID and traceparent to the client.
//
// The package must never believe forwarding headers from an untrusted peer,
// never let a client remove the headers the gateway sets (Connection-listed
// names are stripped before the gateway sets its own), never copy an
// unvalidated client value into a header it owns, and never allocate per
// request in steady state.
package headers

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"sync"

	"github.com/valyala/fasthttp"

	"github.com/edgeguard/edgeguard/dataplane/pipeline"
)

// DefaultRequestIDHeader is the request ID header used when
// Options.RequestIDHeader is empty.
const DefaultRequestIDHeader = "X-Request-ID"

// Options configures a Stage. The zero value trusts no proxy, uses
// X-Request-ID, and sets and removes no response headers.
type Options struct {
	// TrustedProxies are the peers whose X-Forwarded-For and
	// X-Forwarded-Proto are believed. IPv4-mapped IPv6 prefixes are
	// converted to IPv4.
	TrustedProxies []netip.Prefix
	// RequestIDHeader names the request ID header; DefaultRequestIDHeader
	// when empty.
	RequestIDHeader string
	// SetResponseHeaders are set on every response, replacing any value the
	// upstream sent: the gateway's security policy is authoritative, so an
	// upstream cannot weaken it. Nil sets nothing; DefaultSecurityHeaders
	// returns a set for APIs.
	SetResponseHeaders [][2]string
	// RemoveResponseHeaders are removed from every response, e.g. Server and
	// X-Powered-By.
	RemoveResponseHeaders []string

	// CredentialHeaders carry credentials; Authorization always does. A
	// request with more than one field of one of them, in any spelling, or
	// with one in a spelling the gateway does not read ("X_Api_Key") is
	// refused: the gateway would check one value and the upstream might
	// act on another.
	CredentialHeaders []string
	// CredentialCookies are cookies that carry credentials; a request that
	// names one more than once (ignoring case) is refused.
	CredentialCookies []string
	// Spoofable are removed, in every spelling, from requests of peers
	// that are not trusted proxies. Nil means DefaultSpoofable; an empty
	// slice removes nothing.
	Spoofable []string
	// TrustedSpoofable are the Spoofable headers trusted proxies may pass
	// on. Nil means DefaultTrustedSpoofable.
	TrustedSpoofable []string

	// SampleRatio is the share of the traces the gateway starts that it
	// marks sampled (0-1): it exports their spans (dataplane/tracing), and
	// the upstreams learn to record theirs. 0 when the gateway exports none.
	SampleRatio float64
}

// DefaultSecurityHeaders returns the response headers recommended for a JSON
// API (OWASP REST Security Cheat Sheet): no MIME sniffing, no framing, no
// referrer, and a Content-Security-Policy that lets a browser load nothing
// from an API response rendered as a page.
//
// Cache-Control is left to the upstream, which knows what is cacheable.
// Strict-Transport-Security is not included because the gateway cannot
// know whether clients reach it over TLS (it may sit behind a TLS
// terminator); add it where they do.
func DefaultSecurityHeaders() [][2]string {
	return [][2]string{
		{"X-Content-Type-Options", "nosniff"},
		{"X-Frame-Options", "DENY"},
		{"Referrer-Policy", "no-referrer"},
		{"Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'"},
	}
}

// Header names, canonical as fasthttp stores them.
var (
	hdrConnection     = []byte("Connection")
	hdrXForwardedFor  = []byte("X-Forwarded-For")
	hdrXForwardedProt = []byte("X-Forwarded-Proto")
	hdrXForwardedHost = []byte("X-Forwarded-Host")
	hdrForwarded      = []byte("Forwarded")
	hdrXRealIP        = []byte("X-Real-Ip")
	hdrTraceparent    = []byte("Traceparent")
	hdrTracestate     = []byte("Tracestate")
	hdrTrailer        = []byte("Trailer")

	valueHTTP  = []byte("http")
	valueHTTPS = []byte("https")
	valueClose = []byte("close")
	listSep    = []byte(", ")
)

// The same names as strings, for PeekAll.
const (
	strConnection     = "Connection"
	strXForwardedFor  = "X-Forwarded-For"
	strXForwardedProt = "X-Forwarded-Proto"
	strTraceparent    = "Traceparent"
	strTracestate     = "Tracestate"
)

// hopByHop are the headers that describe one connection, not the message
// (RFC 9110 §7.6.1, plus the non-standard Proxy-Connection). Transfer-Encoding
// is hop-by-hop too, but fasthttp owns message framing.
var hopByHop = [][]byte{
	hdrConnection,
	[]byte("Keep-Alive"),
	[]byte("Proxy-Connection"),
	[]byte("Proxy-Authenticate"),
	[]byte("Proxy-Authorization"),
	[]byte("Te"),
	hdrTrailer,
	[]byte("Upgrade"),
}

// protected are headers that a Connection header may not remove: message
// framing, the target host, and the forwarding headers that this stage
// manages itself.
var protected = [][]byte{
	[]byte("Host"),
	[]byte("Content-Length"),
	[]byte("Content-Type"),
	[]byte("Content-Encoding"),
	[]byte("Transfer-Encoding"),
	hdrXForwardedFor,
	hdrXForwardedProt,
	hdrXForwardedHost,
	hdrForwarded,
	hdrXRealIP,
}

// Stage is the header hygiene stage. It is immutable after New and safe for
// concurrent use.
type Stage struct {
	sampleBound  uint64 // new traces whose trace-id's low 63 bits fall under it are sampled
	trusted      []netip.Prefix
	requestID    []byte // canonical name
	requestIDStr string
	setResp      [][2][]byte
	removeResp   [][]byte
	scratch      sync.Pool // *[]byte for building header values

	names       nameTable // credential, spoofable and managed names
	respNames   nameTable // response names removed or replaced (response.go)
	cookies     [][]byte  // credential cookie names
	credentials int       // credential counters in use
}

// maxCredentialHeaders bounds Options.CredentialHeaders (plus
// Authorization): the counters live on the stack.
const maxCredentialHeaders = 8

var _ pipeline.Stage = (*Stage)(nil)

// New validates opts and builds a Stage. It reports every invalid option.
func New(opts Options) (*Stage, error) {
	s := &Stage{sampleBound: sampleBound(opts.SampleRatio)}
	var errs []error
	for i, p := range opts.TrustedProxies {
		if !p.IsValid() {
			errs = append(errs, fmt.Errorf("trusted_proxies[%d]: invalid prefix %q", i, p))
			continue
		}
		if p.Addr().Is4In6() && p.Bits() >= 96 {
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		s.trusted = append(s.trusted, p.Masked())
	}

	name := opts.RequestIDHeader
	if name == "" {
		name = DefaultRequestIDHeader
	}
	if err := checkName(name); err != nil {
		errs = append(errs, fmt.Errorf("request_id_header: %w", err))
	} else if isOneOf([]byte(name), hopByHop) || isOneOf([]byte(name), protected) ||
		isOneOf([]byte(name), [][]byte{hdrTraceparent, hdrTracestate}) {
		errs = append(errs, fmt.Errorf("request_id_header: %q is managed by the gateway", name))
	}
	s.requestID = fasthttp.AppendNormalizedHeaderKey(nil, name)
	s.requestIDStr = string(s.requestID)

	for i, kv := range opts.SetResponseHeaders {
		if err := checkResponseName(kv[0], s.requestID); err != nil {
			errs = append(errs, fmt.Errorf("set_response_headers[%d]: %w", i, err))
			continue
		}
		if err := checkValue(kv[1]); err != nil {
			errs = append(errs, fmt.Errorf("set_response_headers[%d] %q: %w", i, kv[0], err))
			continue
		}
		s.setResp = append(s.setResp, [2][]byte{
			fasthttp.AppendNormalizedHeaderKey(nil, kv[0]), []byte(kv[1]),
		})
	}
	for i, n := range opts.RemoveResponseHeaders {
		if err := checkResponseName(n, s.requestID); err != nil {
			errs = append(errs, fmt.Errorf("remove_response_headers[%d]: %w", i, err))
			continue
		}
		s.removeResp = append(s.removeResp, fasthttp.AppendNormalizedHeaderKey(nil, n))
	}
	errs = append(errs, s.buildNames(opts)...)
	if err := s.buildResponseNames(); err != nil {
		errs = append(errs, fmt.Errorf("response headers: %w", err))
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("new headers stage: %w", errors.Join(errs...))
	}
	s.scratch.New = func() any {
		b := make([]byte, 0, 256)
		return &b
	}
	return s, nil
}

// checkName reports whether name is a valid header field name (an RFC 9110
// token).
func checkName(name string) error {
	if name == "" {
		return errors.New("empty header name")
	}
	for i := 0; i < len(name); i++ {
		if !tokenByte[name[i]] {
			return fmt.Errorf("header name %q: invalid byte %q", name, name[i])
		}
	}
	return nil
}

// checkResponseName validates a configured response header name: a token
// that names neither framing, a hop-by-hop header, nor a header the stage
// sets itself.
func checkResponseName(name string, requestID []byte) error {
	if err := checkName(name); err != nil {
		return err
	}
	b := []byte(name)
	if isOneOf(b, hopByHop) || isOneOf(b, [][]byte{
		[]byte("Content-Length"), []byte("Transfer-Encoding"),
		hdrTraceparent, requestID,
	}) {
		return fmt.Errorf("header %q is managed by the gateway", name)
	}
	return nil
}

// checkValue rejects header values with control characters other than tab.
func checkValue(v string) error {
	for i := 0; i < len(v); i++ {
		if c := v[i]; (c < 0x20 && c != '\t') || c == 0x7f {
			return fmt.Errorf("invalid byte %q in value", c)
		}
	}
	return nil
}

// tokenByte marks RFC 9110 tchar.
var tokenByte = alnumAnd("!#$%&'*+-.^_`|~")

// alnumAnd marks the ASCII letters and digits and the bytes of extra.
func alnumAnd(extra string) (t [256]bool) {
	for c := 'a'; c <= 'z'; c++ {
		t[c], t[c-'a'+'A'] = true, true
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for i := 0; i < len(extra); i++ {
		t[extra[i]] = true
	}
	return t
}

// Name returns "headers".
func (s *Stage) Name() string { return "headers" }

// Handle sanitizes the request headers and sets the forwarding headers, the
// request ID and the traceparent. It sets r.ClientIP, r.RequestID and
// r.TraceParent. It refuses (400, pipeline.Done) a request with a header
// name that is not an RFC 9110 token (header_invalid) or with a repeated or
// respelt credential (credential_ambiguous), and otherwise returns
// pipeline.Continue.
func (s *Stage) Handle(ctx *fasthttp.RequestCtx, r *pipeline.Request) pipeline.Verdict {
	h := &ctx.Request.Header
	peer := r.PeerIP.Unmap()
	trustedPeer := peer.IsValid() && s.isTrusted(peer)
	r.ClientIP = peer
	// Every look for a name is a pass over the header list: look only for
	// the names the scan met, in any spelling.
	refusal, detail, seen := s.scanNames(h, trustedPeer, r)

	bp := s.scratch.Get().(*[]byte)
	buf := (*bp)[:0]
	if trustedPeer && seen&seenXForwardedFor != 0 {
		// Read the forwarding headers before anything is deleted: PeekAll's
		// result is only valid until the next header operation.
		xff := h.PeekAll(strXForwardedFor)
		r.ClientIP = s.clientFromXFF(xff, peer)
		for _, v := range xff {
			v = trimOWS(v)
			if len(v) == 0 {
				continue
			}
			if len(buf) > 0 {
				buf = append(buf, listSep...)
			}
			buf = append(buf, v...)
		}
		if len(buf) > 0 {
			buf = append(buf, listSep...)
		}
	}

	if seen&seenHopByHop != 0 {
		stripHopByHop(h)
	}
	if seen&seenXForwardedFor != 0 {
		del(h, hdrXForwardedFor)
	}
	if seen&seenXRealIP != 0 {
		del(h, hdrXRealIP)
	}
	if peer.IsValid() {
		buf = peer.AppendTo(buf)
		h.SetCanonical(hdrXForwardedFor, buf)
		buf = r.ClientIP.AppendTo(buf[:0])
		h.SetCanonical(hdrXRealIP, buf)
	}
	*bp = buf
	s.scratch.Put(bp)

	proto := valueHTTP
	if r.TLS {
		proto = valueHTTPS
	}
	if trustedPeer && seen&seenXForwardedProto != 0 {
		if v := h.PeekAll(strXForwardedProt); len(v) == 1 {
			switch {
			case bytes.EqualFold(v[0], valueHTTPS):
				proto = valueHTTPS
			case bytes.EqualFold(v[0], valueHTTP):
				proto = valueHTTP
			}
		}
	}
	if seen&seenXForwardedProto != 0 {
		del(h, hdrXForwardedProt)
	}
	h.SetCanonical(hdrXForwardedProt, proto)

	var v [][]byte
	if seen&seenRequestID != 0 {
		v = h.PeekAll(s.requestIDStr)
	}
	if !takeRequestID(r, v) {
		r.RequestID = appendRequestID(r.RequestID[:0])
		if seen&seenRequestID != 0 {
			del(h, s.requestID)
		}
		h.SetCanonical(s.requestID, r.RequestID)
	}

	v = nil
	if seen&seenTraceparent != 0 {
		v = h.PeekAll(strTraceparent)
	}
	if len(v) == 1 && validTraceparent(v[0]) {
		// The gateway is a hop of the trace: the upstream's parent is the
		// gateway's own span (trace.go).
		r.TraceParent = continueTraceparent(r.TraceParent[:0], v[0], newSpanID())
		_, _ = hex.Decode(r.ParentID[:], v[0][36:52]) // lowercase hex: validated
		if seen&seenTracestate != 0 {
			st := h.PeekAll(strTracestate)
			if len(st) > 0 {
				bp := s.scratch.Get().(*[]byte)
				buf := appendTracestate((*bp)[:0], st)
				del(h, hdrTracestate)
				if len(buf) > 0 {
					h.SetCanonical(hdrTracestate, buf)
				}
				*bp = buf
				s.scratch.Put(bp)
			}
		}
	} else {
		// W3C Trace Context: a vendor that cannot parse traceparent must
		// not use tracestate either; the new trace starts without it.
		r.TraceParent = appendTraceparent(r.TraceParent[:0], s.sampleBound)
		if seen&seenTracestate != 0 {
			del(h, hdrTracestate)
		}
	}
	if seen&seenTraceparent != 0 {
		del(h, hdrTraceparent)
	}
	h.SetCanonical(hdrTraceparent, r.TraceParent)
	if refusal != pipeline.ReasonNone {
		v := pipeline.Deny(ctx, r, fasthttp.StatusBadRequest, refusal)
		r.Detail = detail
		if closesConnection(detail) {
			ctx.SetConnectionClose()
		}
		return v
	}
	if status, reason, detail := checkTarget(ctx); status != 0 {
		v := pipeline.Deny(ctx, r, status, reason)
		r.Detail = detail
		return v
	}
	return pipeline.Continue
}

// HandleResponse sanitizes the response headers: it strips hop-by-hop
// headers and RemoveResponseHeaders, sets SetResponseHeaders, and echoes the
// request ID and traceparent. It runs for every response, including denials
// written by an earlier stage; when Handle did not run, it generates the
// request ID and traceparent here so that every response carries them.
//
// The client-facing connection is fasthttp's, and whether it closes is the
// gateway's decision (a stage, a parse error or draining may have asked for
// it): the Connection header fields are removed but the close flag is kept.
// An upstream's own "Connection: close" concerns only the upstream
// connection; the proxy stage clears it when it copies the response.
func (s *Stage) HandleResponse(ctx *fasthttp.RequestCtx, r *pipeline.Request) {
	h := &ctx.Response.Header
	closeConn := h.ConnectionClose()
	s.scanResponse(h)
	if closeConn {
		h.SetConnectionClose()
	}
	for _, kv := range s.setResp {
		h.SetCanonical(kv[0], kv[1])
	}
	if len(r.RequestID) == 0 {
		r.RequestID = appendRequestID(r.RequestID)
	}
	h.SetCanonical(s.requestID, r.RequestID)
	if len(r.TraceParent) == 0 {
		r.TraceParent = appendTraceparent(r.TraceParent, s.sampleBound)
	}
	h.SetCanonical(hdrTraceparent, r.TraceParent)
}

// AdoptRequestID sets r's request ID as the request stage will: the
// client's one valid ID header, else a new ID. For what answers a request
// before the stages run (a refusal of an "Expect: 100-continue" head), so
// that its body and log carry the ID the client sent.
func (s *Stage) AdoptRequestID(h *fasthttp.RequestHeader, r *pipeline.Request) {
	if !takeRequestID(r, h.PeekAll(s.requestIDStr)) {
		NewRequestID(r)
	}
}

// takeRequestID makes the client's request ID r's when the fields v of its
// header hold exactly one valid one, and reports whether it did.
func takeRequestID(r *pipeline.Request, v [][]byte) bool {
	if len(v) != 1 || !validRequestID(v[0]) {
		return false
	}
	r.RequestID = append(r.RequestID[:0], v[0]...)
	return true
}

// NewRequestID gives r a generated request ID when it has none, for
// responses written before Handle ran (requests fasthttp could not parse),
// so that their body and their log line name the same ID as the header.
func NewRequestID(r *pipeline.Request) {
	if len(r.RequestID) == 0 {
		r.RequestID = appendRequestID(r.RequestID)
	}
}

// isTrusted reports whether addr (unmapped) is a trusted proxy.
func (s *Stage) isTrusted(addr netip.Addr) bool {
	for _, p := range s.trusted {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// clientFromXFF walks the X-Forwarded-For elements right to left, starting
// from the trusted peer, skipping trusted proxies. The first untrusted
// address is the client. An unparsable element stops the walk: everything to
// its left was written by someone no trusted proxy vouches for, so the
// client is the last trusted hop considered. Empty list elements are
// skipped (RFC 9110 §5.6.1).
func (s *Stage) clientFromXFF(values [][]byte, peer netip.Addr) netip.Addr {
	client := peer
	for i := len(values) - 1; i >= 0; i-- {
		v := values[i]
		for end := len(v); end >= 0; {
			start := bytes.LastIndexByte(v[:end], ',') + 1
			elem := trimOWS(v[start:end])
			end = start - 1
			if len(elem) == 0 {
				continue
			}
			addr, ok := parseForwardedAddr(elem)
			if !ok {
				return client
			}
			client = addr
			if !s.isTrusted(addr) {
				return client
			}
		}
	}
	return client
}

// del deletes every request field named name, which must be canonical.
// Looking first is several times cheaper than deleting (no key
// normalization), and most of the names this package removes are absent
// from most requests.
//
// Like every request lookup here, it relies on fasthttp's header name
// normalization (the default): with normalization disabled,
// "x-forwarded-for" would not match. Responses, whose names are kept as
// sent, go through scanResponse instead.
func del(h *fasthttp.RequestHeader, name []byte) {
	if string(name) == "Trailer" {
		// Peeking it formats a value, which allocates.
		h.DelBytes(name)
		return
	}
	if h.PeekCanonical(name) != nil {
		h.DelBytes(name)
	}
}

// stripHopByHop removes the request headers named in Connection, except
// protected ones, and then the standard hop-by-hop headers.
func stripHopByHop(h *fasthttp.RequestHeader) {
	// Deleting moves header entries but not the bytes of the Connection
	// values, and does not touch the slice PeekAll returned, so the values
	// stay readable while the named headers are deleted.
	for _, v := range h.PeekAll(strConnection) {
		for len(v) > 0 {
			var tok []byte
			if tok, v = nextConnectionToken(v); tok != nil {
				h.DelBytes(tok)
			}
		}
	}
	for _, n := range hopByHop {
		del(h, n)
	}
}

// nextConnectionToken splits the first element off a Connection value: it
// returns the name it lists, or nil for "close", hop-by-hop and protected
// names (which a Connection header may not remove) and non-tokens, and the
// rest of the value.
func nextConnectionToken(v []byte) (tok, rest []byte) {
	if i := bytes.IndexByte(v, ','); i >= 0 {
		tok, rest = v[:i], v[i+1:]
	} else {
		tok = v
	}
	tok = trimOWS(tok)
	if len(tok) == 0 || !isToken(tok) || bytes.EqualFold(tok, valueClose) ||
		isOneOf(tok, hopByHop) || isOneOf(tok, protected) {
		return nil, rest
	}
	return tok, rest
}

func isToken(b []byte) bool {
	for _, c := range b {
		if !tokenByte[c] {
			return false
		}
	}
	return true
}

// isOneOf reports whether name equals one of names, ignoring case.
func isOneOf(name []byte, names [][]byte) bool {
	for _, n := range names {
		if len(n) == len(name) && bytes.EqualFold(n, name) {
			return true
		}
	}
	return false
}

// trimOWS trims optional whitespace (space and tab) from both ends.
func trimOWS(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

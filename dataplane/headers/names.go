package headers

import (
	"bytes"
	"errors"
	"fmt"
	"iter"
	"slices"

	"github.com/valyala/fasthttp"

	"github.com/edgeguard/edgeguard/dataplane/pipeline"
)

// Request header names are compared the way the most lenient common server
// compares them: ignoring case and treating '_' as '-' (CGI, PHP, WSGI and
// nginx with underscores_in_headers fold both into HTTP_X_NAME). A name the
// gateway looks at must therefore be looked at in every spelling.

// DefaultSpoofable are the request headers that common servers and
// frameworks read as the client's address, the original URL, host, scheme
// or port, or an override of the method. A client must not set them: they
// are removed from every request of a peer that is not a trusted proxy.
var DefaultSpoofable = []string{
	// The client's address.
	"Forwarded", "X-Forwarded", "Forwarded-For", "X-Forwarded-By", "X-Original-Forwarded-For",
	"True-Client-IP", "X-Client-IP", "Client-IP", "CF-Connecting-IP", "CF-Connecting-IPv6",
	"CF-Pseudo-IPv4", "Fastly-Client-IP", "X-Cluster-Client-IP", "X-Originating-IP",
	"X-Remote-IP", "X-Remote-Addr", "X-ProxyUser-IP", "X-Azure-ClientIP", "X-Azure-SocketIP",
	"X-Envoy-External-Address", "X-Appengine-User-IP", "CloudFront-Viewer-Address", "Akamai-Client-IP",
	"Proxy-Client-IP", "WL-Proxy-Client-IP", "HTTP-Client-IP", "HTTP-X-Forwarded-For",
	// The original URL or path, honoured as the real request path (IIS
	// URL Rewrite, Symfony, Zend, Envoy).
	"X-Original-URL", "X-Rewrite-URL", "X-Original-URI", "X-Forwarded-URI", "X-Forwarded-Path",
	"X-Forwarded-Prefix", "X-Envoy-Original-Path", "X-Override-URL", "X-HTTP-DestinationURL", "X-Proxy-URL",
	"X-Original-Path", "X-Forwarded-URL",
	// The original host, scheme and port.
	"X-Forwarded-Host", "X-Host", "X-Original-Host", "X-Forwarded-Server", "X-HTTP-Host-Override",
	"X-Forwarded-Scheme", "X-Forwarded-Protocol", "X-Forwarded-Ssl", "X-Url-Scheme", "Front-End-Https",
	"X-Forwarded-Port", "X-Scheme", "X-ARR-SSL", "CloudFront-Forwarded-Proto",
	// Method overrides (Express method-override, Rails, Laminas, and the
	// forward-auth services that read the original method).
	"X-HTTP-Method-Override", "X-HTTP-Method", "X-Method-Override", "X-Forwarded-Method", "X-Original-Method",
	// A client certificate a TLS terminator vouches for (RFC 9440, Envoy,
	// IIS ARR, nginx, Apache, HAProxy, Traefik and AWS ALB conventions).
	"Client-Cert", "Client-Cert-Chain", "X-Forwarded-Client-Cert", "X-ARR-ClientCert", "X-SSL-Client-Cert",
	"X-SSL-Client-Verify", "X-SSL-Client-S-DN", "X-SSL-Client-DN", "X-Client-Cert", "X-Client-Verify",
	"X-SSL-Client-CN", "X-SSL-Client-I-DN", "X-SSL-Client-Serial", "X-SSL-Client-Fingerprint", "X-SSL-Cert",
	"X-SSL-Client-Escaped-Cert", "SSL-Client-Cert", "SSL-Client-Verify", "SSL-Client-S-DN", "SSL-Client-I-DN",
	"X-Client-DN", "X-Client-CN", "X-Client-Cert-Chain", "X-Client-Certificate", "X-Client-Cert-Fingerprint",
	"X-Forwarded-TLS-Client-Cert", "X-Forwarded-TLS-Client-Cert-Info", "X-Amzn-Mtls-Clientcert",
	"X-Amzn-Mtls-Clientcert-Leaf", "X-Amzn-Mtls-Clientcert-Serial-Number", "X-Amzn-Mtls-Clientcert-Subject",
	"X-Amzn-Mtls-Clientcert-Issuer", "X-Amzn-Mtls-Clientcert-Validity", "X-Tls-Client-Cert", "X-Client-Verified",
	// CGI turns it into HTTP_PROXY, which libraries read as their outbound
	// proxy (httpoxy).
	"Proxy",
}

// DefaultTrustedSpoofable are the spoofable headers a trusted proxy may pass
// on: the address and forwarded-host headers that CDNs and load balancers
// set themselves. URL and method overrides are never passed on by default.
var DefaultTrustedSpoofable = []string{
	"Forwarded", "X-Forwarded-Host", "X-Forwarded-Port", "True-Client-IP", "X-Client-IP",
	"CF-Connecting-IP", "CF-Connecting-IPv6", "Fastly-Client-IP", "X-Cluster-Client-IP",
}

// alwaysSpoofable are removed from untrusted peers even when the configured
// list leaves them out: the gateway's own forwarding rules depend on them.
var alwaysSpoofable = []string{"Forwarded", "X-Forwarded-Host"}

// framingNames are fields fasthttp and upstreams read for message framing,
// routing and decoding the body: a spelling other than the standard one
// ("Content_Length", "content_type") is never legitimate, and a lenient
// upstream would act on it (validation and the WAF read the body by the
// standard Content-Type and Content-Encoding; an upstream that honours
// HTTP_CONTENT_TYPE could read it as another type).
var framingNames = []string{"Content-Length", "Transfer-Encoding", "Host", "Content-Type", "Content-Encoding"}

// managedNames are set by the gateway itself: every client spelling is
// removed, from trusted peers too, before the gateway sets its own (a
// lenient upstream would otherwise merge X_Forwarded_For into the
// gateway's X-Forwarded-For).
var managedNames = []string{"X-Forwarded-For", "X-Real-IP", "X-Forwarded-Proto"}

// Name classes.
const (
	classCredential uint8 = 1 << iota // counted: more than one field is ambiguous
	classSpoofable                    // removed from untrusted peers
	classTrustedOK                    // kept from trusted peers
	classManaged                      // removed in every spelling but the gateway's own
	classFraming                      // refused in every spelling but the standard one
)

// maxFoldedName bounds the names in the table; longer request header names
// cannot match and are not folded.
const maxFoldedName = 64

// nameTable maps folded header names to their classes. It is an open
// addressing hash table built once; lookups do not allocate.
type nameTable struct {
	slots   [512]uint16 // index+1 into entries; 0 = empty
	entries []nameEntry
	lens    uint64 // bit len%64 for each name: most headers are skipped on length alone
}

type nameEntry struct {
	folded    string
	canonical []byte // as fasthttp stores it
	class     uint8
	cred      uint8  // index of the credential counter
	mark      uint16 // seen bits scanNames reports when the name is present
}

// Seen bits: which of the names Handle acts on a request carries (in some
// spelling), so that it looks only for those (each look is a pass over the
// header list).
const (
	seenHopByHop uint16 = 1 << iota
	seenXForwardedFor
	seenXRealIP
	seenXForwardedProto
	seenRequestID
	seenTraceparent
	seenTracestate

	seenAll uint16 = 1<<iota - 1
)

// markName makes name report bit when scanNames meets it.
func (t *nameTable) markName(name string, bit uint16) error {
	if err := t.add(name, 0, 0); err != nil {
		return err
	}
	t.entries[t.find([]byte(name))].mark |= bit
	return nil
}

// FoldByte folds one byte of a header name the way lenient servers do:
// ASCII letters to lower case, '_' to '-'.
func FoldByte(c byte) byte {
	switch {
	case c >= 'A' && c <= 'Z':
		return c + 'a' - 'A'
	case c == '_':
		return '-'
	}
	return c
}

// foldHash returns the FNV-1a hash of name folded.
func foldHash(name []byte) uint32 {
	h := uint32(2166136261)
	for _, c := range name {
		h ^= uint32(FoldByte(c))
		h *= 16777619
	}
	return h
}

func foldString(s string) string {
	b := []byte(s)
	for i, c := range b {
		b[i] = FoldByte(c)
	}
	return string(b)
}

// add registers name with class; a name added twice gets both classes.
func (t *nameTable) add(name string, class uint8, cred uint8) error {
	if err := checkName(name); err != nil {
		return err
	}
	if len(name) > maxFoldedName {
		return fmt.Errorf("header name %q: longer than %d bytes", name, maxFoldedName)
	}
	if i := t.find([]byte(name)); i >= 0 {
		t.entries[i].class |= class
		if class&classCredential != 0 {
			t.entries[i].cred = cred
		}
		return nil
	}
	if len(t.entries) >= len(t.slots)/2 {
		return errors.New("too many header names")
	}
	t.entries = append(t.entries, nameEntry{
		folded: foldString(name), canonical: fasthttp.AppendNormalizedHeaderKey(nil, name),
		class: class, cred: cred,
	})
	h := foldHash([]byte(name))
	for j := uint32(0); ; j++ {
		s := &t.slots[(h+j)%uint32(len(t.slots))]
		if *s == 0 {
			*s = uint16(len(t.entries))
			break
		}
	}
	t.lens |= 1 << (len(name) % 64)
	return nil
}

// find returns the entry index of name, or -1.
func (t *nameTable) find(name []byte) int {
	if len(name) > maxFoldedName || t.lens&(1<<(len(name)%64)) == 0 {
		return -1
	}
	h := foldHash(name)
	for j := uint32(0); j < uint32(len(t.slots)); j++ {
		s := t.slots[(h+j)%uint32(len(t.slots))]
		if s == 0 {
			return -1
		}
		if e := &t.entries[s-1]; foldEqual(name, e.folded) {
			return int(s - 1)
		}
	}
	return -1
}

// foldEqual reports whether name folds to folded.
func foldEqual(name []byte, folded string) bool {
	if len(name) != len(folded) {
		return false
	}
	for i, c := range name {
		if FoldByte(c) != folded[i] {
			return false
		}
	}
	return true
}

// buildNames compiles the name table from opts.
func (s *Stage) buildNames(opts Options) []error {
	var errs []error
	creds := append([]string{fasthttp.HeaderAuthorization}, opts.CredentialHeaders...)
	for _, n := range creds {
		cred := uint8(s.credentials)
		if i := s.names.find([]byte(n)); i >= 0 && s.names.entries[i].class&classCredential != 0 {
			continue // the same header named twice (e.g. jwt.header: Authorization)
		}
		if s.credentials == maxCredentialHeaders {
			errs = append(errs, fmt.Errorf("credential headers: more than %d", maxCredentialHeaders))
			break
		}
		if err := s.names.add(n, classCredential, cred); err != nil {
			errs = append(errs, fmt.Errorf("credential header: %w", err))
			continue
		}
		s.credentials++
	}
	for _, c := range opts.CredentialCookies {
		if c != "" {
			s.cookies = append(s.cookies, []byte(c))
		}
	}
	spoofable, trusted := opts.Spoofable, opts.TrustedSpoofable
	if spoofable == nil {
		spoofable = DefaultSpoofable
	}
	if trusted == nil {
		trusted = DefaultTrustedSpoofable
	}
	spoofable = append(slices.Clip(spoofable), alwaysSpoofable...)
	for i, n := range spoofable {
		if isOneOf([]byte(n), protected[:5]) || isOneOf([]byte(n), [][]byte{[]byte("Cookie"), []byte("Authorization")}) {
			errs = append(errs, fmt.Errorf("spoofable[%d]: %q is not a forwarding header", i, n))
			continue
		}
		if foldedOneOf(n, managedNames) {
			errs = append(errs, fmt.Errorf("spoofable[%d]: %q is set by the gateway itself", i, n))
			continue
		}
		if err := s.names.add(n, classSpoofable, 0); err != nil {
			errs = append(errs, fmt.Errorf("spoofable[%d]: %w", i, err))
		}
	}
	for i, n := range trusted {
		if j := s.names.find([]byte(n)); j < 0 || s.names.entries[j].class&classSpoofable == 0 {
			if opts.TrustedSpoofable != nil { // the defaults apply where they are spoofable
				errs = append(errs, fmt.Errorf("trusted_spoofable[%d]: %q is not in the spoofable list", i, n))
			}
			continue
		}
		if err := s.names.add(n, classTrustedOK, 0); err != nil {
			errs = append(errs, fmt.Errorf("trusted_spoofable[%d]: %w", i, err))
		}
	}
	for _, n := range managedNames {
		if err := s.names.add(n, classManaged, 0); err != nil {
			errs = append(errs, err)
		}
	}
	for _, n := range framingNames {
		if err := s.names.add(n, classFraming, 0); err != nil {
			errs = append(errs, err)
		}
	}
	type mark struct {
		name string
		bit  uint16
	}
	marks := []mark{
		{strXForwardedFor, seenXForwardedFor}, {string(hdrXRealIP), seenXRealIP},
		{strXForwardedProt, seenXForwardedProto}, {s.requestIDStr, seenRequestID},
		{strTraceparent, seenTraceparent}, {strTracestate, seenTracestate},
	}
	for _, n := range hopByHop {
		marks = append(marks, mark{string(n), seenHopByHop})
	}
	for _, m := range marks {
		if err := s.names.markName(m.name, m.bit); err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}

// Details of a refusal, for the access log.
const (
	detailNameInvalid       = "header_name_invalid"
	detailCredentialRepeat  = "credential_repeated"
	detailCredentialRespelt = "credential_respelt"
	detailCookieRepeat      = "credential_cookie_repeated"
	detailCookieRespelt     = "credential_cookie_respelt"
	detailCookieHidden      = "credential_cookie_after_comma"
	detailCookieNameless    = "cookie_without_name"
	detailFramingRespelt    = "framing_header_respelt"
	detailTrailer           = "trailer_fields"
)

// rawChunked reports whether the head as received has a
// Transfer-Encoding field (framing allows only chunked).
func rawChunked(raw []byte) bool {
	for name := range RawFields(raw) {
		if bytes.EqualFold(bytes.TrimSpace(name), strTransferEncoding) {
			return true
		}
	}
	return false
}

// RawFields yields the name and value of each field line of a head as
// received (h.RawHeaders()), as they are: fasthttp's parsed head adds
// fields the client never sent, and merges or drops others.
func RawFields(raw []byte) iter.Seq2[[]byte, []byte] {
	return func(yield func(name, value []byte) bool) {
		for len(raw) > 0 {
			var line []byte
			line, raw, _ = bytes.Cut(raw, lf)
			if name, value, ok := bytes.Cut(line, colon); ok && !yield(name, value) {
				return
			}
		}
	}
}

var (
	lf                  = []byte{'\n'}
	colon               = []byte{':'}
	strTransferEncoding = []byte("transfer-encoding")
)

// closesConnection reports whether a refusal with this detail ends the
// connection: a framing header in another spelling, trailer fields or a
// name that is no token say the client frames messages other than the
// gateway does, so nothing more it sends on the connection is trusted.
func closesConnection(detail string) bool {
	return detail == detailFramingRespelt || detail == detailTrailer || detail == detailNameInvalid
}

// scanNames checks every request header name once: each must be a token,
// and each credential header may appear once, in the spelling the gateway
// reads. It removes the spoofable headers an untrusted peer sent (all of
// them from an untrusted peer, those not allowed from a trusted one) and
// every spelling of a managed header other than the gateway's own, and
// reports which of the names Handle acts on it met (seen bits; all of them
// on a refusal). On a refusal it returns the reason and leaves the headers
// as they are.
func (s *Stage) scanNames(h *fasthttp.RequestHeader, trusted bool, r *pipeline.Request) (reason pipeline.Reason, detail string, seen uint16) {
	defer func() {
		if reason != pipeline.ReasonNone {
			seen = seenAll
		}
	}()
	var counts [maxCredentialHeaders]uint8
	// Deleting while iterating is not allowed: collect the names to delete
	// (copied out of the header storage), delete them, and look again
	// while the buffer overflowed. Bounded by the number of headers.
	var buf [512]byte
	var ends [16]int
	for range h.Trailers() {
		if !rawChunked(h.RawHeaders()) {
			// A Trailer field without a chunked body announces what
			// cannot come: dropped, as a field that means nothing here.
			h.Del(fasthttp.HeaderTrailer)
			break
		}
		// fasthttp keeps trailer fields apart from the head, where no name
		// rule sees them, and merges them into it when a Trailer header is
		// removed: an upstream would get them as headers.
		return pipeline.ReasonHeaderInvalid, detailTrailer, 0
	}
	// The fields the client sent, counted in the head as received: All
	// adds a Content-Length to a bodiless POST and Connection: close to
	// HTTP/1.0, and yields every Cookie field as one. A head built in
	// memory (no raw bytes) is counted through All.
	raw := h.RawHeaders()
	if len(raw) > 0 {
		r.HeaderCount = rawFieldCount(raw)
	}
	for pass := 0; pass < 64; pass++ {
		names, n := buf[:0], ends[:0]
		full := false
		for k := range h.All() {
			if pass == 0 {
				if len(raw) == 0 {
					r.HeaderCount++
				}
				if !isToken(k) {
					return pipeline.ReasonHeaderInvalid, detailNameInvalid, 0
				}
			}
			i := s.names.find(k)
			if i < 0 {
				continue
			}
			e := &s.names.entries[i]
			seen |= e.mark
			if pass == 0 && e.class&classFraming != 0 && string(k) != string(e.canonical) {
				return pipeline.ReasonHeaderInvalid, detailFramingRespelt, 0
			}
			if pass == 0 && e.class&classCredential != 0 {
				counts[e.cred]++
				if counts[e.cred] > 1 {
					return pipeline.ReasonCredentialAmbiguous, detailCredentialRepeat, 0
				}
				if string(k) != string(e.canonical) {
					return pipeline.ReasonCredentialAmbiguous, detailCredentialRespelt, 0
				}
			}
			if !e.drop(k, trusted) {
				continue
			}
			if len(n) == cap(n) || len(names)+len(k) > cap(names) {
				full = true
				continue
			}
			names = append(names, k...)
			n = append(n, len(names))
		}
		if pass == 0 {
			if namelessCookie(h) {
				return pipeline.ReasonHeaderInvalid, detailCookieNameless, 0
			}
			if len(s.cookies) > 0 {
				if d := s.checkCookies(h); d != "" {
					return pipeline.ReasonCredentialAmbiguous, d, 0
				}
			}
		}
		start := 0
		for _, end := range n {
			h.DelBytes(names[start:end])
			start = end
		}
		if !full {
			break
		}
	}
	return pipeline.ReasonNone, "", seen
}

// FieldCount is how many header fields the client sent in h, counted in
// the head as received (see scanNames), for checks that run before the
// header stage (a head with Expect: 100-continue).
func FieldCount(h *fasthttp.RequestHeader) int {
	if raw := h.RawHeaders(); len(raw) > 0 {
		return rawFieldCount(raw)
	}
	n := 0
	for range h.All() {
		n++
	}
	return n
}

func rawFieldCount(raw []byte) int { return bytes.Count(raw, []byte("\n")) - 1 }

// drop reports whether a request header named k (an entry of this class)
// is removed.
func (e *nameEntry) drop(k []byte, trusted bool) bool {
	if e.class&classManaged != 0 && string(k) != string(e.canonical) {
		return true
	}
	return e.class&classSpoofable != 0 && (!trusted || e.class&classTrustedOK == 0)
}

// namelessCookie reports whether a cookie pair has no name but an '=' in
// its value ("=session=forged"). fasthttp reads it as a nameless cookie
// and writes it upstream as "session=forged": a cookie no check here saw
// by that name. No browser sends one (a nameless cookie goes as its
// value alone).
func namelessCookie(h *fasthttp.RequestHeader) bool {
	for k, v := range h.Cookies() {
		if len(k) == 0 && bytes.IndexByte(v, '=') >= 0 {
			return true
		}
	}
	return false
}

// checkCookies returns the refusal detail when a credential cookie is named
// more than once across the request's cookies, or once in another spelling,
// comparing names the way lenient servers do: any case, and '.', ' ', '['
// as '_' (PHP).
func (s *Stage) checkCookies(h *fasthttp.RequestHeader) string {
	for _, name := range s.cookies {
		seen := false
		for k, v := range h.Cookies() {
			if hiddenCookie(k, v, name) {
				return detailCookieHidden
			}
			if !cookieFoldEqual(k, name) {
				continue
			}
			if seen {
				return detailCookieRepeat
			}
			if !bytes.Equal(k, name) {
				return detailCookieRespelt
			}
			seen = true
		}
	}
	return ""
}

// hiddenCookie reports whether the cookie k=v hides credential cookie name
// after a comma ("x=1,session_jwt=..."): cookies split on ';' here, but
// some upstream parsers (ASP.NET Core, older Rack and Jetty) also split on
// ',', and would read a credential the gateway never verified. A comma is
// no cookie-octet (RFC 6265), so no real client sends one there.
func hiddenCookie(k, v, name []byte) bool {
	for seg := range CookiesAfterCommas(k, v) {
		if cookieFoldEqual(seg, name) {
			return true
		}
	}
	return false
}

// CookiesAfterCommas yields the cookie names the pair k=v hides after
// commas ("a=1, sess=x" yields sess), which upstreams that split cookies
// on ',' too (ASP.NET Core, older Rack and Jetty) read as cookies of
// their own.
func CookiesAfterCommas(k, v []byte) iter.Seq[[]byte] {
	return func(yield func([]byte) bool) {
		for _, part := range [2][]byte{k, v} {
			for i := bytes.IndexByte(part, ','); i >= 0; i = bytes.IndexByte(part, ',') {
				part = part[i+1:]
				seg := part
				if j := bytes.IndexAny(seg, ",="); j >= 0 {
					seg = seg[:j]
				}
				if !yield(bytes.TrimSpace(seg)) {
					return
				}
			}
		}
	}
}

func cookieFoldEqual(a, b []byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if foldCookieByte(a[i]) != foldCookieByte(b[i]) {
			return false
		}
	}
	return true
}

func foldCookieByte(c byte) byte {
	switch {
	case c >= 'A' && c <= 'Z':
		return c + 'a' - 'A'
	case c == '.', c == ' ', c == '[':
		return '_'
	}
	return c
}

func foldedOneOf(name string, names []string) bool {
	for _, n := range names {
		if foldString(n) == foldString(name) {
			return true
		}
	}
	return false
}

package inject

import (
	"bytes"
	"errors"
	"fmt"
	"hash/maphash"
	"strings"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/corazawaf/libinjection-go"
	"github.com/edgeguard/edgeguard/dataplane/waf/formdata"
	"github.com/valyala/fasthttp"
	"github.com/valyala/fastjson"
)

// Kind is what a detection found. Each kind has its own check, described
// in the file that holds it.
type Kind uint8

const (
	KindNone                 Kind = iota
	KindSQLi                      // libinjection (prefilter.go, sqlitune.go)
	KindXSS                       // libinjection, and script URLs and sinks (xss.go)
	KindPathTraversal             // paths.go
	KindLFI                       // paths.go
	KindCmdInjection              // shell.go
	KindCodeInjection             // code.go
	KindTemplate                  // template.go
	KindJNDI                      // template.go
	KindSSI                       // markup.go
	KindXXE                       // markup.go
	KindLDAP                      // query.go
	KindNoSQL                     // query.go
	KindCRLF                      // protocol.go
	KindMail                      // protocol.go
	KindPrototypePollution        // code.go
	KindScanner                   // scanner.go
	KindGraphQLIntrospection      // scanner.go
	KindSSRF                      // ssrf.go
	kindEnd
)

// NumKinds is the number of kinds, KindNone included: kinds are
// 0..NumKinds-1, for tables and counters indexed by Kind.
const NumKinds = int(kindEnd)

var kindNames = [...]string{"none", "sqli", "xss", "path_traversal", "lfi", "cmd_injection", "code_injection",
	"template", "jndi", "ssi", "xxe", "ldap", "nosql", "crlf", "mail", "prototype_pollution", "scanner",
	"graphql_introspection", "ssrf"}

// ParseKind maps a kind's name to the kind.
func ParseKind(name string) (Kind, bool) {
	for i, n := range kindNames {
		if n == name && i != int(KindNone) {
			return Kind(i), true
		}
	}
	return KindNone, false
}

// KindSet is a set of kinds, one bit per Kind.
type KindSet uint32

// Has reports whether s contains k.
func (s KindSet) Has(k Kind) bool { return s&(1<<k) != 0 }

// With returns s with k added.
func (s KindSet) With(k Kind) KindSet { return s | 1<<k }

// String returns the kind's stable name, used as a metric label.
func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "unknown"
}

// Source is the part of the request a value came from. Its String is the
// location prefix and the location_kind metric label (bounded cardinality,
// unlike Location).
type Source uint8

const (
	SourceNone Source = iota
	SourcePath
	SourceQuery
	SourceCookie
	SourceHeader
	SourceForm
	SourceJSON
	SourceBody
	SourceXML
	sourceEnd
)

// NumSources is the number of sources, SourceNone included.
const NumSources = int(sourceEnd)

var sourceNames = [...]string{"none", "path", "query", "cookie", "header", "form", "json", "body", "xml"}

// String returns the source's stable name.
func (s Source) String() string {
	if int(s) < len(sourceNames) {
		return sourceNames[s]
	}
	return "unknown"
}

// SourceSet is a set of sources, one bit per Source.
type SourceSet uint16

// AllSources inspects everything the package knows how to read.
const AllSources SourceSet = 1<<SourcePath | 1<<SourceQuery | 1<<SourceCookie | 1<<SourceHeader | 1<<SourceForm | 1<<SourceJSON | 1<<SourceBody | 1<<SourceXML

// Has reports whether s contains src.
func (s SourceSet) Has(src Source) bool { return s&(1<<src) != 0 }

// Decoding says in which form a value matched.
type Decoding uint8

const (
	DecodingNone    Decoding = iota // as received (after the HTTP decoding of its source)
	DecodingURL                     // after one to three more URL decodings
	DecodingBase64                  // after Base64 decoding
	DecodingHTML                    // after decoding HTML character references
	DecodingTags                    // after removing tags inside words ("al<x>ert"), as a sanitizer would
	DecodingEscapes                 // after decoding JavaScript/JSON escapes (\u003c, \x3c)
	DecodingWidth                   // after folding fullwidth forms to ASCII (＜ to <), as NFKC does
)

var decodingNames = [...]string{"none", "url", "base64", "html", "tags", "escapes", "width"}

// String returns the decoding's stable name.
func (d Decoding) String() string {
	if int(d) < len(decodingNames) {
		return decodingNames[d]
	}
	return "unknown"
}

// DefaultHeaders are the headers inspected when Options.Headers is nil:
// every header but the excluded ones (AllHeaders). Attack tools put
// payloads in any header (GoTestWAF sends them under random X- names), and
// applications log, store and render headers of their own; measured on a
// browser's and a mobile app's headers (TestAllHeaders) and on GoTestWAF's
// benign requests, the excluded set leaves no false positive.
var DefaultHeaders = []string{AllHeaders}

// AllHeaders, as the only entry of Options.Headers, inspects every request
// header but those that excludedHeaders lists (credentials and session
// tokens: opaque, often Base64, all false positives and secrets in logs;
// the cookie header, inspected cookie by cookie; framing and hop-by-hop
// headers) and Options.ExcludeHeaders.
const AllHeaders = "*"

// NamedHeaders is the narrower choice: the two headers that applications
// most often store and render back (analytics, log viewers, "recent
// visitors" pages).
var NamedHeaders = []string{"User-Agent", "Referer"}

// Defaults for Options' zero values.
const (
	DefaultMaxValues = 512
	DefaultMaxBytes  = 1 << 20
)

// MaxLocation bounds Result.Location, in bytes.
const MaxLocation = 128

// Options configures a Detector. The zero value inspects every source, for
// every kind, with every decoder and the default limits.
type Options struct {
	// Headers are the request headers whose values are inspected. nil means
	// DefaultHeaders; an empty non-nil slice inspects none; AllHeaders
	// ("*") alone inspects every header but the excluded ones.
	Headers []string
	// ExcludeHeaders are more headers that AllHeaders leaves out: the
	// deployment's own credential, signature or trace headers (the API key
	// and JWT header names of the auth stage, for instance).
	ExcludeHeaders []string
	// Off lists the kinds not detected.
	Off KindSet
	// Sources restricts what is inspected; 0 means AllSources.
	Sources SourceSet
	// NoSQLi and NoXSS turn a detector off (as Off does).
	NoSQLi, NoXSS bool
	// NoURLDecode and NoBase64 turn off inspecting values in decoded form.
	NoURLDecode, NoBase64 bool
	// MaxValues is the number of values (names and keys included) inspected
	// per request; 0 means DefaultMaxValues. Past it Inspect stops and
	// reports Truncated.
	MaxValues int
	// MaxBytes is the number of value bytes inspected per request, and
	// again of decoded forms; 0 means DefaultMaxBytes, the gateway's
	// default body limit, so that a payload padded to 64 or 128 KiB is
	// still read. A value that does not fit is not inspected, and Inspect
	// stops and reports Truncated.
	MaxBytes int
	// MaxDecodeBytes is the longest value that is also inspected decoded;
	// 0 means every value (MaxBytes bounds what decoding costs). A longer
	// value that is only encoded would pass uninspected.
	MaxDecodeBytes int
}

// Detector inspects requests. It is immutable once built and safe for
// concurrent use; per-request state lives in a Scratch.
type Detector struct {
	headers        [][]byte // lower-case names, also used in locations
	allHeaders     bool
	exclude        map[string]struct{} // lower-case names left out by allHeaders
	sources        SourceSet
	off            KindSet
	sqli, xss      bool
	urlDecode      bool
	base64         bool
	maxValues      int
	maxBytes       int
	maxDecodeBytes int
	clean          cleanCache // values inspected clean by every check
	cleanLib       cleanCache // values libinjection found clean
	cleanBody      cleanCache // JSON bodies inspected clean, whole
}

// New validates o and compiles it. It reports every problem, not just the
// first.
func New(o Options) (*Detector, error) {
	var errs []error
	if o.MaxValues < 0 {
		errs = append(errs, fmt.Errorf("max_values: must be >= 0, got %d", o.MaxValues))
	}
	if o.MaxBytes < 0 {
		errs = append(errs, fmt.Errorf("max_bytes: must be >= 0, got %d", o.MaxBytes))
	}
	if o.MaxDecodeBytes < 0 {
		errs = append(errs, fmt.Errorf("max_decode_bytes: must be >= 0, got %d", o.MaxDecodeBytes))
	}
	if o.Sources&^AllSources != 0 {
		errs = append(errs, fmt.Errorf("sources: unknown bits %#x", uint16(o.Sources&^AllSources)))
	}
	off := o.Off
	if o.NoSQLi {
		off = off.With(KindSQLi)
	}
	if o.NoXSS {
		off = off.With(KindXSS)
	}
	if all := KindSet(1)<<kindEnd - 2; off&all == all {
		errs = append(errs, errors.New("detectors: every kind is off"))
	}
	if off>>kindEnd != 0 {
		errs = append(errs, fmt.Errorf("detectors: unknown kinds %#x", uint32(off>>kindEnd<<kindEnd)))
	}
	headers := o.Headers
	if headers == nil {
		headers = DefaultHeaders
	}
	d := &Detector{
		sources:        o.Sources,
		off:            off,
		sqli:           !off.Has(KindSQLi),
		xss:            !off.Has(KindXSS),
		urlDecode:      !o.NoURLDecode,
		base64:         !o.NoBase64,
		maxValues:      orDefault(o.MaxValues, DefaultMaxValues),
		maxBytes:       orDefault(o.MaxBytes, DefaultMaxBytes),
		maxDecodeBytes: orDefault(o.MaxDecodeBytes, orDefault(o.MaxBytes, DefaultMaxBytes)),
	}
	if d.sources == 0 {
		d.sources = AllSources
	}
	d.clean.init()
	d.cleanLib.init()
	d.cleanBody.init()
	seen := map[string]bool{}
	for i, h := range headers {
		lower := strings.ToLower(h)
		switch {
		case h == AllHeaders:
			if len(headers) != 1 {
				errs = append(errs, fmt.Errorf("headers[%d]: %q must be the only entry", i, AllHeaders))
			}
			d.allHeaders = true
		case h == "" || !isToken(h):
			errs = append(errs, fmt.Errorf("headers[%d]: not a header name: %q", i, h))
		case seen[lower]:
			errs = append(errs, fmt.Errorf("headers[%d]: duplicate header %q", i, h))
		case lower == "cookie":
			errs = append(errs, fmt.Errorf("headers[%d]: Cookie is inspected per cookie by the cookie source", i))
		default:
			seen[lower] = true
			d.headers = append(d.headers, []byte(lower))
		}
	}
	d.exclude = map[string]struct{}{}
	for _, h := range excludedHeaders {
		d.exclude[h] = struct{}{}
	}
	for i, h := range o.ExcludeHeaders {
		if h == "" || !isToken(h) {
			errs = append(errs, fmt.Errorf("exclude_headers[%d]: not a header name: %q", i, h))
			continue
		}
		d.exclude[strings.ToLower(h)] = struct{}{}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("compile waf inject: %w", err)
	}
	return d, nil
}

func orDefault(v, def int) int {
	if v == 0 {
		return def
	}
	return v
}

// isToken reports whether s is an RFC 9110 token (a valid header name).
func isToken(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`"(),/:;<=>?@[\]{}`, c) >= 0 {
			return false
		}
	}
	return true
}

// Result is the outcome of an inspection.
type Result struct {
	// Kind is KindNone when nothing was detected.
	Kind Kind
	// Source is where the detected value came from.
	Source Source
	// Location names the value, e.g. "query.q" or "json./items/0/name":
	// printable ASCII, bytes outside 0x21-0x7e and '%' percent-encoded, at
	// most MaxLocation bytes. It aliases the Scratch and is valid until the
	// Scratch is used again. For the access log only: never a metric label,
	// never the response.
	Location []byte
	// Rule names the check that matched, a short stable name such as
	// "libinjection", "dot_dot_slash" or "js_sink": for the access log.
	Rule string
	// Fingerprint is libinjection's SQLi fingerprint ("s&sos"); empty for
	// other detections.
	Fingerprint string
	// Decoding is the form in which the value matched.
	Decoding Decoding
	// Truncated means some of the request was not inspected: MaxValues or
	// MaxBytes was reached, the body has a Content-Encoding, a multipart
	// body is malformed, or Undecodable. The caller decides whether that
	// is a block.
	Truncated bool
	// Undecodable means the body, or a multipart part, declares a charset
	// that tier 1 cannot decode (UTF-7, EBCDIC, ISO-2022, an unknown
	// label): its bytes were inspected, but an upstream that decodes it
	// may read what they hide. Truncated is set too.
	Undecodable bool
	// Values and Bytes are how much was inspected, as received (decoded
	// forms have a budget of their own).
	Values, Bytes int
}

// Detected reports whether the inspection found an attack.
func (r *Result) Detected() bool { return r.Kind != KindNone }

// Scratch is the per-request state of Inspect: buffers for decoding and
// locations, the JSON parser and counters. The zero value is ready to use.
// It is not safe for concurrent use; reuse one per connection or take one
// from AcquireScratch.
type Scratch struct {
	parser  fastjson.Parser
	form    fasthttp.Args
	dec     []byte
	dec2    []byte
	norm    []byte
	str     []byte
	xmlJoin []byte  // an XML element's text so far, its text nodes and CDATA sections joined (xml.go)
	xmlSegs int     // how many segments xmlJoin holds
	sf      sfSpans // the strings of a structured header (extract.go)
	loc     []byte
	parts   [maxPartDepth]formdata.Reader // a multipart body's parts, and a nested one's (extract.go)
	utf     []byte                        // the body transcoded from UTF-16 or UTF-32 (charset.go)
	utfPart []byte                        // a multipart part transcoded
	cte     [maxPartDepth][]byte          // a multipart part's Content-Transfer-Encoding undone, per nesting level
	// decBytes is what the decoded forms inspected so far cost (their
	// budget is apart from Result.Bytes).
	decBytes int
	// lit holds a string literal unescaped (literals), one per nesting
	// level: a literal may hold literals of its own.
	lit      [2][]byte
	litDepth int
	b64doc   []byte // a Base64 value's decoding read as a document (base64Document)
	b64raw   []byte // a wrapped Base64 value without its line breaks
	basic    []byte // Basic credentials decoded (extract.go)
	fname    []byte // the name of a multipart file's filename: <field>.filename
	fval     []byte // a multipart filename decoded
	ptr      []ptrSeg
	res      Result
	fp       string // the fingerprint of the last SQLi detection
	stopped  bool

	// JSON locations are found after the fact (locate.go): the walk
	// counts values, and only a detection walks again to name its path.
	jsonStart int  // res.Values when the JSON walk started
	jsonHit   int  // res.Values at the JSON detection, 0 for none
	locating  bool // walking again to find value number locTarget
	locTarget int
	locCount  int
}

type ptrSeg struct {
	key  []byte // nil for an array index
	idx  int
	esc  bool // key is a raw JSON string with escapes
	attr bool // key is an XML attribute name
}

var scratchPool = sync.Pool{New: func() any { return new(Scratch) }}

// AcquireScratch returns a Scratch from a pool.
func AcquireScratch() *Scratch { return scratchPool.Get().(*Scratch) }

// ReleaseScratch returns sc to the pool. Neither sc nor a Result's Location
// from it may be used afterwards.
func ReleaseScratch(sc *Scratch) {
	sc.form.Reset()
	sc.ptr = sc.ptr[:0]
	sc.res = Result{}
	scratchPool.Put(sc)
}

func (sc *Scratch) start() {
	// A pooled Scratch keeps no huge value's decoding.
	for _, b := range []*[]byte{&sc.dec, &sc.dec2, &sc.cte[0], &sc.cte[1], &sc.b64doc, &sc.b64raw} {
		if cap(*b) > maxKeptUTF8 {
			*b = nil
		}
	}
	sc.res = Result{}
	sc.decBytes = 0
	sc.loc = sc.loc[:0]
	sc.ptr = sc.ptr[:0]
	sc.stopped = false
	sc.jsonHit = 0
	sc.locating = false
}

// Inspect looks for attacks in req, in the order path, query, cookies,
// headers, body, and returns the first detection. body is the request's
// JSON body when the caller has parsed it already; when nil, a JSON body is
// read from the raw bytes. Inspect does not retain req, body or anything
// reachable from them.
func (d *Detector) Inspect(sc *Scratch, req *fasthttp.Request, body *fastjson.Value) Result {
	sc.start()
	d.inspectHead(sc, req)
	if !sc.stopped {
		d.inspectBody(sc, req, body)
	}
	return sc.res
}

// InspectJSON inspects a parsed JSON document alone, as the body of a
// request.
func (d *Detector) InspectJSON(sc *Scratch, v *fastjson.Value) Result {
	sc.start()
	if d.sources.Has(SourceJSON) {
		d.inspectJSONValue(sc, v)
	}
	return sc.res
}

// inspectJSONValue walks a parsed JSON document, then names the location
// of a detection.
func (d *Detector) inspectJSONValue(sc *Scratch, v *fastjson.Value) {
	sc.jsonStart = sc.res.Values
	d.walkJSON(sc, v, false)
	if sc.jsonHit > 0 {
		sc.startLocating()
		d.walkJSON(sc, v, false)
		sc.locating, sc.stopped = false, true
	}
}

// InspectJSONBytes inspects raw as a JSON body; raw that is not JSON is
// inspected as one value of source body.
func (d *Detector) InspectJSONBytes(sc *Scratch, raw []byte) Result {
	sc.start()
	d.inspectJSONBytes(sc, raw)
	return sc.res
}

// cleanBodyMin is the shortest JSON body worth a look-up in the clean
// body cache: shorter ones cost little more to inspect than to hash.
const cleanBodyMin = 256

// inspectJSONBody inspects a JSON request body, raw, and its parse when
// the caller has one (else it reads raw): a body that a client sends
// again and again (a polling client, a GraphQL query, a retry) costs a
// hash once it was inspected clean. The cache answers only what inspecting
// would: it remembers a body only when its inspection found nothing and
// truncated nothing, and is consulted only when what is left of the budget
// covers the most that body could take (a value per two quotes, and each
// value's bytes in every decoded form: see maxBodyBytesPerByte), so that
// the body would be read whole again.
func (d *Detector) inspectJSONBody(sc *Scratch, raw []byte, parsed *fastjson.Value) {
	inspect := func() {
		if parsed != nil {
			d.inspectJSONValue(sc, parsed)
		} else {
			d.inspectJSONBytes(sc, raw)
		}
	}
	r := &sc.res
	if len(raw) < cleanBodyMin || r.Truncated || d.cleanBody.off ||
		r.Values+bytes.Count(raw, dquote)/2+1 > d.maxValues || r.Bytes+maxBodyBytesPerByte*len(raw) > d.maxBytes {
		inspect()
		return
	}
	h := d.cleanBody.hash(raw, 0)
	if d.cleanBody.has(h) {
		return
	}
	inspect()
	if r.Kind == KindNone && !r.Truncated {
		d.cleanBody.add(h)
	}
}

// maxBodyBytesPerByte bounds the bytes a JSON body's inspection charges to
// the budget per byte of the body: each value as received (1), its URL
// (3), HTML (2) and tag-stripped (1) decodings, its Base64 decoding (3/4)
// and that one's chain (6 x 3/4), twice when a body that stops being JSON
// is inspected again whole.
const maxBodyBytesPerByte = 25

var dquote = []byte{'"'}

// inspectJSONBytes reads raw with the streaming reader (jsonscan.go); raw
// that is not JSON is inspected whole, as one value of source body.
func (d *Detector) inspectJSONBytes(sc *Scratch, raw []byte) {
	if d.sources.Has(SourceJSON) {
		sc.jsonStart = sc.res.Values
		ok := d.scanJSON(sc, raw)
		if sc.jsonHit > 0 {
			sc.startLocating()
			d.scanJSON(sc, raw)
			sc.locating, sc.stopped = false, true
		}
		if ok || sc.stopped {
			return
		}
	}
	if d.sources.Has(SourceBody) {
		sc.ptr = sc.ptr[:0]
		d.value(sc, SourceBody, nil, raw, 0)
	}
}

// Value contexts: what a check may need to know about where a value is.
const (
	ctxName      uint8 = 1 << iota // a parameter name or an object key
	ctxUserAgent                   // the User-Agent header
	ctxPath                        // the whole path: only files and traversals
	ctxMarkup                      // an XML declaration, comment or DOCTYPE: only the markup checks
)

// finding is the outcome of the checks on one form of a value; a SQLi
// fingerprint goes to the Scratch (sc.fp).
type finding struct {
	kind Kind
	rule string
}

// value inspects one value v of src, named name, and records a detection or
// the end of the budget in sc. It reports whether inspection must stop.
func (d *Detector) value(sc *Scratch, src Source, name, v []byte, ctx uint8) bool {
	return d.valueMask(sc, src, name, v, 0, ctx)
}

// valueMask is value for a value whose class mask m the caller computed
// while reading it (0: not computed).
func (d *Detector) valueMask(sc *Scratch, src Source, name, v []byte, m uint64, ctx uint8) bool {
	if sc.stopped {
		return true
	}
	if len(v) == 0 {
		return false
	}
	r := &sc.res
	// A string literal inside a value (literals) costs bytes, not a
	// value: a prose or log body full of quotes is not cut short, and the
	// value count keeps naming the value it came from (the JSON walk's
	// second pass counts only its own values).
	lit := sc.litDepth > 0
	if !lit && r.Values+1 > d.maxValues || r.Bytes+len(v) > d.maxBytes {
		r.Truncated = true
		sc.stopped = true
		return true
	}
	if !lit {
		r.Values++
	}
	r.Bytes += len(v)
	if m == 0 {
		m = classMask(v)
	}
	if m&^(bAlnum|bUnder) == 0 && !isDigit(v[0]) && ctx&ctxUserAgent == 0 && (len(v) < minBase64 || !has(m, bLower|bUpper)) && !hasDunder(v, m) {
		// One word, the typical key or enum value ("express", "EUR",
		// "Jane"): no check applies (detect), and it is not Base64,
		// which is longer and mixes cases (detectDecoded).
		return false
	}
	f, dec := d.inspectValue(sc, v, m, ctx)
	if f.kind != KindNone {
		d.found(sc, src, name, f, dec)
		return true
	}
	if (has(m, bDQuote) || has(m, bQuote) && document(v)) && hasAny(m, bLBrace|bLBracket|bLParen) &&
		sc.litDepth < len(sc.lit) && bytes.IndexByte(v, 0) < 0 {
		// (Text: the bytes of a UTF-16 or UTF-32 body, read as they
		// are, hold no literals; its transcoded reading does.)
		if d.literals(sc, src, name, v) {
			return true
		}
	}
	if has(m, bEq) && hasAny(m, bQuestion|bAmp) && sc.litDepth < len(sc.lit) {
		if d.queryArgs(sc, src, name, v) {
			return true
		}
	}
	if sc.litDepth == 0 && d.base64 && m&^(bBase64|bNL) == 0 && has(m, bLower|bUpper) {
		// Base64 of a JSON document or a query: its values, as above
		// (read whole, the decoding hides them as the URL did).
		if doc := d.base64Document(sc, v, m); doc != nil {
			dm := classMask(doc)
			if has(dm, bDQuote) && d.literals(sc, src, name, doc) {
				return true
			}
			if has(dm, bEq) && hasAny(dm, bQuestion|bAmp) {
				return d.queryArgs(sc, src, name, doc)
			}
		}
	}
	return false
}

// appendUnwrapped appends Base64 value v to dst without the line breaks
// and blanks of its wrapping: at 76 columns (MIME) or 64 (PEM), maybe
// indented (YAML), which decoders skip. (A space is a '+' only in a value
// a form decoder read, which has no line break.)
func appendUnwrapped(dst, v []byte) []byte {
	for _, c := range v {
		if c != '\r' && c != '\n' && c != ' ' && c != '\t' {
			dst = append(dst, c)
		}
	}
	return dst
}

// base64Document returns the Base64 decoding of v (line breaks skipped)
// when it is a JSON document or a query string, in sc.b64doc; else nil.
// It runs whatever the clean caches say of v, as the values inside are
// inspected after them.
func (d *Detector) base64Document(sc *Scratch, v []byte, m uint64) []byte {
	if len(v) < 2*minBase64 {
		return nil
	}
	if has(m, bNL) {
		sc.b64raw = appendUnwrapped(sc.b64raw[:0], v)
		v = sc.b64raw
	}
	if !looksBase64(v) {
		return nil
	}
	doc, ok := decodeBase64(sc.b64doc[:0], v)
	sc.b64doc = doc
	if !ok || !mostlyPrintable(doc) {
		return nil
	}
	if i := skipSpace(doc, 0); i < len(doc) && (doc[i] == '{' || doc[i] == '[') || bytes.IndexByte(doc, '=') > 0 && bytes.IndexByte(doc, '&') > 0 {
		return doc
	}
	return nil
}

// queryArgs inspects the argument values of the query string inside v
// (past its first '?', or all of v when it has no '?' but holds an '&'),
// each decoded as a query decoder does ('+' a space), as values of their
// own: a URL in a Referer, a redirect parameter or a JSON field carries
// the query its target reads, where "id=1 UNION SELECT ..." is hidden by
// the URL around it when the whole is read. Like literals, they cost
// bytes, not values. It reports whether inspection must stop.
func (d *Detector) queryArgs(sc *Scratch, src Source, name, v []byte) bool {
	q := v
	if i := bytes.IndexByte(v, '?'); i >= 0 {
		// The URL ends where URLs cannot go on: white space, a quote or
		// an angle bracket (the prose around a link is no argument).
		q = v[i+1:]
		for end, c := range q {
			if urlEnd[c] {
				q = q[:end]
				break
			}
		}
	} else if hasWhite(v) {
		return false // a query string has no white space ('+' encodes it)
	}
	if i := bytes.IndexByte(q, '#'); i >= 0 {
		q = q[:i]
	}
	if bytes.IndexByte(q, '=') < 0 {
		return false
	}
	depth := sc.litDepth
	sc.litDepth++
	defer func() { sc.litDepth-- }()
	for len(q) > 0 {
		arg := q
		q = nil
		for i, c := range arg {
			if c == '&' || c == ';' {
				arg, q = arg[:i], arg[i+1:]
				break
			}
		}
		_, val, ok := bytes.Cut(arg, []byte{'='})
		if !ok || len(val) == 0 {
			continue
		}
		if bytes.IndexByte(val, '%') >= 0 || bytes.IndexByte(val, '+') >= 0 {
			sc.lit[depth] = urlDecode(sc.lit[depth][:0], val)
			val = sc.lit[depth]
		}
		if d.value(sc, src, name, val, 0) {
			return true
		}
	}
	return false
}

// urlEnd: the bytes a URL in text cannot go on past (queryArgs).
var urlEnd = [256]bool{' ': true, '\t': true, '\r': true, '\n': true, '"': true, '\'': true, '<': true, '>': true}

func hasWhite(v []byte) bool {
	for _, c := range v {
		if c == ' ' || c == '\t' || c == '\r' || c == '\n' {
			return true
		}
	}
	return false
}

// literals inspects the double-quoted string literals of v, unescaped, as
// values of their own: v reads as JSON that no strict parser took (NaN,
// comments, JSON sent as text, a JSON string inside a query value, a
// header or another JSON string) or as a GraphQL query, whose arguments
// are such literals. A payload inside one would otherwise be read only as
// part of the whole text, where its surroundings hide it. It reports
// whether inspection must stop.
func (d *Detector) literals(sc *Scratch, src Source, name, v []byte) bool {
	depth := sc.litDepth
	sc.litDepth++
	defer func() { sc.litDepth-- }()
	if d.scanLiterals(sc, src, name, v, depth, false) {
		return true
	}
	// Again with single-quoted strings as strings (JSON5, JavaScript):
	// one holding '"' or "/*" would shift the first reading, and prose
	// apostrophes would shift this one; each finds what the other misses.
	return bytes.IndexByte(v, '\'') >= 0 && document(v) && d.scanLiterals(sc, src, name, v, depth, true)
}

// document reports whether v starts as a JSON5 or JavaScript object or
// array does, where single quotes delimit strings (in prose they are
// apostrophes).
func document(v []byte) bool {
	i := skipSpace(v, 0)
	return i < len(v) && (v[i] == '{' || v[i] == '[')
}

// scanLiterals is one reading of v for literals: double-quoted strings
// (and, with singles, single-quoted ones), skipping comments.
func (d *Detector) scanLiterals(sc *Scratch, src Source, name, v []byte, depth int, singles bool) bool {
	for i := 0; i < len(v); {
		switch c := v[i]; {
		case c == '"' && i+2 < len(v) && v[i+1] == '"' && v[i+2] == '"':
			// A GraphQL block string: raw up to the next """.
			end := bytes.Index(v[i+3:], tripleQuote)
			if end < 0 {
				return false
			}
			if d.literal(sc, src, name, v[i+3:i+3+end], false, depth) {
				return true
			}
			i += 3 + end + 3
		case c == '"' || c == '\'' && singles:
			end := quotedEnd(v, i)
			if end < 0 {
				return false
			}
			s := v[i+1 : end]
			esc := bytes.IndexByte(s, '\\') >= 0
			if esc && c == '\'' {
				// JavaScript's \' first, in place, then the escapes JSON
				// shares (each step only shortens what it reads).
				b := sc.lit[depth][:0]
				for k := 0; k < len(s); k++ {
					if s[k] == '\\' && k+1 < len(s) && s[k+1] == '\'' {
						k++
					}
					b = append(b, s[k])
				}
				sc.lit[depth] = appendJSONString(b[:0], b)
				s, esc = sc.lit[depth], false
			}
			if d.literal(sc, src, name, s, esc, depth) {
				return true
			}
			i = end + 1
		case c == '/' && i+1 < len(v) && v[i+1] == '*':
			// Comments (JSON5, JavaScript) and GraphQL's '#' lines hold
			// no literal: a quote inside one must not pair with the next.
			end := bytes.Index(v[i+2:], commentEnd)
			if end < 0 {
				return false
			}
			i += 2 + end + 2
		case c == '/' && i+1 < len(v) && v[i+1] == '/', c == '#':
			end := bytes.IndexByte(v[i:], '\n')
			if end < 0 {
				return false
			}
			i += end + 1
		default:
			i++
		}
	}
	return false
}

// quotedEnd returns the index of the quote that closes the string opened
// by v[i] (backslash escapes skipped), or -1.
func quotedEnd(v []byte, i int) int {
	q := v[i]
	for j := i + 1; j < len(v); j++ {
		switch v[j] {
		case '\\':
			j++
		case q:
			return j
		}
	}
	return -1
}

var tripleQuote, commentEnd = []byte(`"""`), []byte("*/")

// literal inspects one string literal s (its raw content, escaped when
// esc) found at nesting depth.
func (d *Detector) literal(sc *Scratch, src Source, name, s []byte, esc bool, depth int) bool {
	if esc {
		sc.lit[depth] = appendJSONString(sc.lit[depth][:0], s)
		s = sc.lit[depth]
	}
	return len(s) > 0 && d.value(sc, src, name, s, 0)
}

// found records detection f in sc and stops the inspection.
func (d *Detector) found(sc *Scratch, src Source, name []byte, f finding, dec Decoding) {
	r := &sc.res
	r.Kind, r.Source, r.Rule, r.Decoding = f.kind, src, f.rule, dec
	if f.kind == KindSQLi && f.rule == ruleLibinjection {
		r.Fingerprint = sc.fp
	}
	if src == SourceJSON {
		sc.jsonHit = r.Values // named by the second walk
	} else {
		r.Location = sc.location(src, name)
	}
	sc.stopped = true
}

// cacheMin is the shortest value worth a look-up in the clean cache:
// shorter ones, and single words, cost less to inspect than to hash.
const cacheMin = 16

// inspectValue runs the checks on v as received and in its decoded forms.
func (d *Detector) inspectValue(sc *Scratch, v []byte, m uint64, ctx uint8) (finding, Decoding) {
	var h uint64
	cached := len(v) >= cacheMin && m&^(bAlnum|bUnder) != 0
	if cached {
		h = d.clean.hash(v, ctx)
		if d.clean.has(h) {
			return finding{}, DecodingNone
		}
	}
	f := d.detect(sc, v, m, ctx)
	dec := DecodingNone
	if f.kind == KindNone && len(v) <= d.maxDecodeBytes {
		f, dec = d.detectDecoded(sc, v, m, ctx)
	}
	if f.kind == KindNone && cached && !sc.res.Truncated {
		d.clean.add(h)
	}
	return f, dec
}

// maxURLDecodings is how many more URL decodings a value gets: attack
// tools encode two or three times.
const maxURLDecodings = 3

// detectDecoded inspects v in its decoded forms, when it looks encoded:
// URL-decoded (repeatedly), escapes decoded, HTML-decoded, with tags
// inside words removed;
// and Base64-decoded, then the same chain on the decoded bytes.
func (d *Detector) detectDecoded(sc *Scratch, v []byte, m uint64, ctx uint8) (finding, Decoding) {
	if hasAny(m, bPercent|bAmp|bLT|bBackslash) || has(m, bHigh) && hasFullwidth(v) {
		if f, dec := d.decodeChain(sc, v, m, ctx, 0); f.kind != KindNone {
			return f, dec
		}
	}
	// Base64 of text mixes upper and lower case; words, hex digests,
	// UUIDs and upper-case codes do not, and are not decoded.
	if !d.base64 || m&^(bBase64|bNL) != 0 || !has(m, bLower|bUpper) {
		return finding{}, DecodingNone
	}
	if has(m, bNL) {
		sc.keep(1, appendUnwrapped(sc.decBuf(1), v))
		v = sc.dec2
	}
	if !looksBase64(v) {
		return finding{}, DecodingNone
	}
	// Decoded whole (a start that is not text must not hide a payload
	// after it), and charged to the budget only when it is text: Base64
	// images and files cost the decoding, not the budget.
	b, ok := decodeBase64(sc.decBuf(0), v)
	sc.dec = b
	if !ok || !mostlyPrintable(b) {
		return finding{}, DecodingNone
	}
	if b = d.decoded(sc, 0, b); b == nil {
		return finding{}, DecodingNone
	}
	bm := classMask(b)
	if f := d.detect(sc, b, bm, ctx); f.kind != KindNone {
		return f, DecodingBase64
	}
	if f, _ := d.decodeChain(sc, b, bm, ctx, 1); f.kind != KindNone {
		return f, DecodingBase64
	}
	return finding{}, DecodingNone
}

// decodeChain runs the URL, escape, HTML and tag steps from v; each decodes the
// previous one's output into the other of two buffers, starting with
// buffer step%2.
func (d *Detector) decodeChain(sc *Scratch, v []byte, m uint64, ctx uint8, step int) (finding, Decoding) {
	cur, curM := v, m
	next := func(b []byte) bool {
		cur = d.decoded(sc, step, b)
		step++
		if cur == nil {
			return false
		}
		curM = classMask(cur)
		return true
	}
	if d.urlDecode {
		for k := 0; k < maxURLDecodings && has(curM, bPercent) && hasPercentHex(cur); k++ {
			if !next(urlDecode(sc.decBuf(step), cur)) {
				return finding{}, DecodingNone
			}
			if f := d.detect(sc, cur, curM, ctx); f.kind != KindNone {
				return f, DecodingURL
			}
		}
	}
	if has(curM, bBackslash) && hasEscape(cur) {
		if !next(escapeDecode(sc.decBuf(step), cur)) {
			return finding{}, DecodingNone
		}
		if f := d.detect(sc, cur, curM, ctx); f.kind != KindNone {
			return f, DecodingEscapes
		}
	}
	// Twice: "&amp;lpar;" is "(" to a page that decodes once more.
	for k := 0; k < 2 && has(curM, bAmp) && hasEntity(cur); k++ {
		if !next(htmlDecode(sc.decBuf(step), cur)) {
			return finding{}, DecodingNone
		}
		if f := d.detect(sc, cur, curM, ctx); f.kind != KindNone {
			return f, DecodingHTML
		}
	}
	if has(curM, bLT|bGT) && tagInWord(cur) {
		if !next(stripTags(sc.decBuf(step), cur)) {
			return finding{}, DecodingNone
		}
		if f := d.detect(sc, cur, curM, ctx); f.kind != KindNone {
			return f, DecodingTags
		}
	}
	if has(curM, bHigh) && hasFullwidth(cur) {
		// Upstreams that normalize (NFKC, as Python's unicodedata and
		// many ORMs' collations do) read "１＇ or ＇１＇=＇１" as ASCII.
		// Not charged to the budget: folding never lengthens what it
		// reads, runs once a chain, and French text has a no-break space
		// in every other sentence.
		cur = sc.keep(step, foldWidth(sc.decBuf(step), cur))
		step++
		curM = classMask(cur)
		if f := d.detect(sc, cur, curM, ctx); f.kind != KindNone {
			return f, DecodingWidth
		}
	}
	return finding{}, DecodingNone
}

// decBuf returns the empty decoding buffer for step k: steps alternate
// between two buffers, so that each decodes the previous one's output.
// keep stores b, decoded into decBuf(k), as step k's buffer, and returns
// it.
func (sc *Scratch) keep(k int, b []byte) []byte {
	if k%2 == 0 {
		sc.dec = b
	} else {
		sc.dec2 = b
	}
	return b
}

func (sc *Scratch) decBuf(k int) []byte {
	if k%2 == 0 {
		return sc.dec[:0]
	}
	return sc.dec2[:0]
}

// decoded keeps the buffer b of step k in sc and charges it to the
// budget; nil when it does not fit (the result is then Truncated).
func (d *Detector) decoded(sc *Scratch, k int, b []byte) []byte {
	sc.keep(k, b)
	// Decoded forms have a budget of their own, as large as the one for
	// the values as received: a body under the budget is not refused for
	// being decoded once (a long text with %20 in its links).
	if sc.decBytes+len(b) > d.maxBytes {
		sc.res.Truncated = true
		return nil
	}
	sc.decBytes += len(b)
	return b
}

// detect runs every check on one form of a value, whose class mask is m:
// the specific checks first (they are cheap and gated by m), then
// libinjection where its pre-filters cannot rule it out, then the XSS
// checks for script without markup.
func (d *Detector) detect(sc *Scratch, v []byte, m uint64, ctx uint8) finding {
	if m&^(bAlnum|bUnder|bHigh) == 0 && !hasDunder(v, m) {
		// One word (no overlong byte): nothing but the scanner's
		// User-Agent words, and libinjection for a word that starts
		// with a digit ("1union" is two tokens), can match.
		if ctx&ctxUserAgent != 0 && !d.off.Has(KindScanner) {
			if r := checkScannerAgent(v); r != "" {
				return finding{kind: KindScanner, rule: r}
			}
		}
		if !isDigit(v[0]) || m&^bDigit == 0 {
			return finding{}
		}
		return d.libinjection(sc, v, m)
	}
	off := d.off
	check := func(k Kind, rule string) bool { return rule != "" && !off.Has(k) }
	// Each check runs only when the value has the bytes it needs (the
	// same tests open each check function; repeated here, they save the
	// calls on the typical value, which needs none).
	if ctx&ctxMarkup != 0 {
		// libinjection reads any <!DOCTYPE or <?xml as XSS: in an XML
		// body's prolog, only what a parser acts on counts.
		if r := checkXXE(v, m); check(KindXXE, r) {
			return finding{kind: KindXXE, rule: r}
		}
		if r := checkSSI(v, m); check(KindSSI, r) {
			return finding{kind: KindSSI, rule: r}
		}
		return finding{}
	}
	if ctx&ctxPath != 0 {
		if r := checkTraversal(v, m); check(KindPathTraversal, r) {
			return finding{kind: KindPathTraversal, rule: r}
		}
		if r := checkFile(v, m); check(KindLFI, r) {
			return finding{kind: KindLFI, rule: r}
		}
		return finding{}
	}
	if has(m, bLT) {
		if r := checkXXE(v, m); check(KindXXE, r) {
			return finding{kind: KindXXE, rule: r}
		}
		if r := checkSSI(v, m); check(KindSSI, r) {
			return finding{kind: KindSSI, rule: r}
		}
	}
	if has(m, bDollar|bLBrace) {
		if r := checkJNDI(v, m); check(KindJNDI, r) {
			return finding{kind: KindJNDI, rule: r}
		}
	}
	if mayBeOverlong(v, m) || has(m, bDot) && hasAny(m, bSlash|bBackslash) {
		if r := checkTraversal(v, m); check(KindPathTraversal, r) {
			return finding{kind: KindPathTraversal, rule: r}
		}
	}
	if hasAny(m, fileNeeds|bDot) {
		if r := checkFile(v, m); check(KindLFI, r) {
			return finding{kind: KindLFI, rule: r}
		}
	}
	if hasAny(m, templateNeeds) {
		if r := checkTemplate(v, m); check(KindTemplate, r) {
			return finding{kind: KindTemplate, rule: r}
		}
	}
	if hasAny(m, codeNeeds) {
		if k, r := checkCode(v, m); check(k, r) {
			return finding{kind: k, rule: r}
		}
	}
	if hasAny(m, cmdNeeds) {
		if r := checkCmd(v, m); check(KindCmdInjection, r) {
			return finding{kind: KindCmdInjection, rule: r}
		}
	}
	if hasAny(m, ssrfNeeds) {
		if r := checkSSRF(v, m); check(KindSSRF, r) {
			return finding{kind: KindSSRF, rule: r}
		}
	}
	if hasAny(m, bLParen|bColon) {
		if r := checkLDAP(v, m); check(KindLDAP, r) {
			return finding{kind: KindLDAP, rule: r}
		}
	}
	if has(m, bDollar) || has(m, bDot|bLParen) {
		if r := checkNoSQL(v, m, ctx&ctxName != 0); check(KindNoSQL, r) {
			return finding{kind: KindNoSQL, rule: r}
		}
	}
	if hasAny(m, bSemi|bPipe|bAmp) && hasAny(m, bQuote|bDQuote|bDigit) && hasAny(m, bLetter|bEq|bBang) {
		if r := checkMongoWhere(v, m); check(KindNoSQL, r) {
			return finding{kind: KindNoSQL, rule: r}
		}
	}
	if has(m, bNL) {
		if r := checkMail(v, m); check(KindMail, r) {
			return finding{kind: KindMail, rule: r}
		}
	}
	if hasAny(m, bNL|bHigh) {
		if r := checkCRLF(v, m); check(KindCRLF, r) {
			return finding{kind: KindCRLF, rule: r}
		}
	}
	if has(m, bUnder) {
		if r := checkGraphQL(v, m); check(KindGraphQLIntrospection, r) {
			return finding{kind: KindGraphQLIntrospection, rule: r}
		}
	}
	if !off.Has(KindScanner) {
		if ctx&ctxUserAgent != 0 {
			if r := checkScannerAgent(v); r != "" {
				return finding{kind: KindScanner, rule: r}
			}
		}
		if has(m, bDot) {
			if r := checkOAST(v, m); r != "" {
				return finding{kind: KindScanner, rule: r}
			}
		}
	}
	if f := d.libinjection(sc, v, m); f.kind != KindNone {
		return f
	}
	if hasAny(m, bDigit|bQuote|bDQuote) {
		if r := checkTautology(v, m); check(KindSQLi, r) {
			return finding{kind: KindSQLi, rule: r}
		}
		if r := checkQuoteComment(v, m); check(KindSQLi, r) {
			return finding{kind: KindSQLi, rule: r}
		}
	}
	if hasAny(m, bQuote|bDQuote|bLParen|bDollar|bAt|bSemi|bDigit|bBacktick) {
		if r := checkSQLStatement(v, m); check(KindSQLi, r) {
			return finding{kind: KindSQLi, rule: r}
		}
	}
	if hasAny(m, bColon|bLParen|bBacktick|bLBracket) {
		if r := checkXSSCode(v, m); check(KindXSS, r) {
			return finding{kind: KindXSS, rule: r}
		}
	}
	return finding{}
}

const ruleLibinjection = "libinjection"

// libinjection runs IsSQLi and IsXSS where the pre-filters cannot rule them
// out, and drops the SQLi detections that sqlitune.go asks a second signal
// for and that lack it, and the XSS detections of rich text a sanitizer
// would keep whole (richtext.go).
func (d *Detector) libinjection(sc *Scratch, v []byte, m uint64) finding {
	if m&^bWordOnly == 0 && !isDigit(v[0]) {
		return finding{} // singleWord
	}
	xss := d.xss && xssMaybeMask(v, m)
	sqli := d.sqli && sqliMaybeMask(v, m)
	if !sqli && !xss {
		return finding{}
	}
	// libinjection's verdict depends on the bytes alone: remember the
	// clean ones, whatever form or place they come from, in a table of
	// their own that the far more numerous cheap values cannot evict.
	h := d.cleanLib.hash(v, 0)
	if d.cleanLib.has(h) {
		return finding{}
	}
	if sqli {
		if is, fp := libinjection.IsSQLi(b2s(v)); is && !weakSQLi(sc, fp, v) {
			sc.fp = fp
			return finding{kind: KindSQLi, rule: ruleLibinjection}
		}
	}
	if xss && libinjection.IsXSS(b2s(v)) && !safeRichText(v) {
		return finding{kind: KindXSS, rule: ruleLibinjection}
	}
	d.cleanLib.add(h)
	return finding{}
}

// cleanCache remembers values that were inspected and found clean, so
// that the values a client repeats on every request (a browser's
// User-Agent, a session cookie, the same form text) cost a hash instead of
// the lexer and 1-3 us and a dozen allocations inside libinjection. The
// context of a value (a name, the User-Agent) is part of its key, as it
// changes the checks. It is a direct-mapped table of
// 64-bit keyed hashes, written and read with atomics: an entry can be
// overwritten by any other value, which only costs a recomputation. The
// hash is seeded per process (hash/maphash), so a client cannot craft a
// value that collides with a cached clean one; the chance that an attack
// collides by accident is 2^-64 per cached entry.
type cleanCache struct {
	seed  maphash.Seed
	slots []atomic.Uint64
	off   bool // benchmarks of the uncached cost only
}

const cleanCacheSlots = 1 << 13 // 64 KiB per table

func (c *cleanCache) init() {
	c.seed = maphash.MakeSeed()
	c.slots = make([]atomic.Uint64, cleanCacheSlots)
}

// hash never returns 0, the empty slot.
func (c *cleanCache) hash(v []byte, ctx uint8) uint64 {
	return (maphash.Bytes(c.seed, v) ^ uint64(ctx)*0x9e3779b97f4a7c15) | 1
}

func (c *cleanCache) has(h uint64) bool {
	return !c.off && c.slots[h>>1&(cleanCacheSlots-1)].Load() == h
}

func (c *cleanCache) add(h uint64) { c.slots[h>>1&(cleanCacheSlots-1)].Store(h) }

// b2s views b as a string without copying. libinjection keeps no reference
// to its input after returning (its pooled states are cleared), and its
// fingerprint is a separate string.
func b2s(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

// s2b views s as bytes without copying; the bytes must not be written.
func s2b(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }

// hasDunder reports whether v, whose class mask is m, has "__": a word
// such as "__proto__" or "__class__" is a signature on its own, so it does
// not take the single-word shortcuts.
func hasDunder(v []byte, m uint64) bool {
	return m&bUnder != 0 && bytes.Contains(v, dunder)
}

var dunder = []byte("__")

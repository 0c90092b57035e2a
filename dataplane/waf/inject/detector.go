package inject

import (
	"errors"
	"fmt"
	"hash/maphash"
	"strings"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/corazawaf/libinjection-go"
	"github.com/valyala/fasthttp"
	"github.com/valyala/fastjson"
)

// Kind is what a detection found.
type Kind uint8

const (
	KindNone Kind = iota
	KindSQLi
	KindXSS
)

var kindNames = [...]string{"none", "sqli", "xss"}

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
)

var sourceNames = [...]string{"none", "path", "query", "cookie", "header", "form", "json", "body"}

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
const AllSources SourceSet = 1<<SourcePath | 1<<SourceQuery | 1<<SourceCookie | 1<<SourceHeader | 1<<SourceForm | 1<<SourceJSON | 1<<SourceBody

// Has reports whether s contains src.
func (s SourceSet) Has(src Source) bool { return s&(1<<src) != 0 }

// Decoding says in which form a value matched.
type Decoding uint8

const (
	DecodingNone   Decoding = iota // as received (after the HTTP decoding of its source)
	DecodingURL                    // after one more URL decoding
	DecodingBase64                 // after Base64 decoding
)

var decodingNames = [...]string{"none", "url", "base64"}

// String returns the decoding's stable name.
func (d Decoding) String() string {
	if int(d) < len(decodingNames) {
		return decodingNames[d]
	}
	return "unknown"
}

// DefaultHeaders are the headers inspected when Options.Headers is nil:
// the two that applications most often store and render back (analytics,
// log viewers, "recent visitors" pages) and that scanners inject into.
// Credentials (Authorization, Cookie's raw form) are left out: they are
// opaque tokens, often Base64, and inspecting them is all false positives
// and secrets in logs. Forwarding headers (X-Forwarded-*, Forwarded) are
// rewritten by the gateway's headers stage and Host is matched by the
// router, so neither reaches an application as client-controlled text.
var DefaultHeaders = []string{"User-Agent", "Referer"}

// Defaults for Options' zero values.
const (
	DefaultMaxValues      = 512
	DefaultMaxBytes       = 64 << 10
	DefaultMaxDecodeBytes = 4 << 10
)

// MaxLocation bounds Result.Location, in bytes.
const MaxLocation = 128

// Options configures a Detector. The zero value inspects every source, for
// SQLi and XSS, with both decoders and the default limits.
type Options struct {
	// Headers are the request headers whose values are inspected. nil means
	// DefaultHeaders; an empty non-nil slice inspects none.
	Headers []string
	// Sources restricts what is inspected; 0 means AllSources.
	Sources SourceSet
	// NoSQLi and NoXSS turn a detector off.
	NoSQLi, NoXSS bool
	// NoURLDecode and NoBase64 turn off inspecting values in decoded form.
	NoURLDecode, NoBase64 bool
	// MaxValues is the number of values (names and keys included) inspected
	// per request; 0 means DefaultMaxValues. Past it Inspect stops and
	// reports Truncated.
	MaxValues int
	// MaxBytes is the number of value bytes inspected per request, decoded
	// forms included; 0 means DefaultMaxBytes. A value that does not fit
	// is not inspected, and Inspect stops and reports Truncated.
	MaxBytes int
	// MaxDecodeBytes is the longest value that is also inspected decoded;
	// 0 means DefaultMaxDecodeBytes.
	MaxDecodeBytes int
}

// Detector inspects requests. It is immutable once built and safe for
// concurrent use; per-request state lives in a Scratch.
type Detector struct {
	headers        [][]byte // lower-case names, also used in locations
	sources        SourceSet
	sqli, xss      bool
	urlDecode      bool
	base64         bool
	maxValues      int
	maxBytes       int
	maxDecodeBytes int
	clean          cleanCache
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
	if o.NoSQLi && o.NoXSS {
		errs = append(errs, errors.New("detectors: both sqli and xss are off"))
	}
	headers := o.Headers
	if headers == nil {
		headers = DefaultHeaders
	}
	d := &Detector{
		sources:        o.Sources,
		sqli:           !o.NoSQLi,
		xss:            !o.NoXSS,
		urlDecode:      !o.NoURLDecode,
		base64:         !o.NoBase64,
		maxValues:      orDefault(o.MaxValues, DefaultMaxValues),
		maxBytes:       orDefault(o.MaxBytes, DefaultMaxBytes),
		maxDecodeBytes: orDefault(o.MaxDecodeBytes, DefaultMaxDecodeBytes),
	}
	if d.sources == 0 {
		d.sources = AllSources
	}
	d.clean.init()
	seen := map[string]bool{}
	for i, h := range headers {
		lower := strings.ToLower(h)
		switch {
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
	// Fingerprint is libinjection's SQLi fingerprint ("s&sos"); empty for XSS.
	Fingerprint string
	// Decoding is the form in which the value matched.
	Decoding Decoding
	// Truncated means some of the request was not inspected: MaxValues or
	// MaxBytes was reached, the body has a Content-Encoding, or a multipart
	// body is malformed. The caller decides whether that is a block.
	Truncated bool
	// Values and Bytes are how much was inspected, decoded forms included.
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
	loc     []byte
	delim   []byte
	ptr     []ptrSeg
	res     Result
	stopped bool
}

type ptrSeg struct {
	key []byte // nil for an array index
	idx int
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
	sc.res = Result{}
	sc.loc = sc.loc[:0]
	sc.ptr = sc.ptr[:0]
	sc.stopped = false
}

// Inspect looks for SQLi and XSS in req, in the order path, query, cookies,
// headers, body, and returns the first detection. body is the request's
// JSON body when the caller has parsed it already; when nil, a JSON body is
// parsed with sc's parser. Inspect does not retain req, body or anything
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
		d.walkJSON(sc, v)
	}
	return sc.res
}

// InspectJSONBytes parses raw with sc's parser and inspects it as
// InspectJSON does; raw that is not JSON is inspected as one value of
// source body.
func (d *Detector) InspectJSONBytes(sc *Scratch, raw []byte) Result {
	sc.start()
	d.inspectJSONBytes(sc, raw)
	return sc.res
}

func (d *Detector) inspectJSONBytes(sc *Scratch, raw []byte) {
	v, err := sc.parser.ParseBytes(raw)
	if err != nil {
		if d.sources.Has(SourceBody) {
			d.value(sc, SourceBody, nil, raw)
		}
		return
	}
	if d.sources.Has(SourceJSON) {
		d.walkJSON(sc, v)
	}
}

// value inspects one value v of src, named name, and records a detection or
// the end of the budget in sc. It reports whether inspection must stop.
func (d *Detector) value(sc *Scratch, src Source, name, v []byte) bool {
	if sc.stopped {
		return true
	}
	if len(v) == 0 {
		return false
	}
	r := &sc.res
	if r.Values+1 > d.maxValues || r.Bytes+len(v) > d.maxBytes {
		r.Truncated = true
		sc.stopped = true
		return true
	}
	r.Values++
	r.Bytes += len(v)
	kind, fp := d.detect(v)
	dec := DecodingNone
	if kind == KindNone && len(v) <= d.maxDecodeBytes {
		kind, fp, dec = d.detectDecoded(sc, v)
	}
	if kind == KindNone {
		return false
	}
	r.Kind, r.Source, r.Fingerprint, r.Decoding = kind, src, fp, dec
	r.Location = sc.location(src, name)
	sc.stopped = true
	return true
}

// detectDecoded inspects v once more URL-decoded and Base64-decoded, when it
// looks like either.
func (d *Detector) detectDecoded(sc *Scratch, v []byte) (Kind, string, Decoding) {
	r := &sc.res
	if d.urlDecode && hasPercentHex(v) {
		sc.dec = urlDecode(sc.dec[:0], v)
		if r.Bytes+len(sc.dec) > d.maxBytes {
			r.Truncated = true
			return KindNone, "", DecodingNone
		}
		r.Bytes += len(sc.dec)
		if k, fp := d.detect(sc.dec); k != KindNone {
			return k, fp, DecodingURL
		}
	}
	if d.base64 && looksBase64(v) {
		var ok bool
		sc.dec, ok = decodeBase64(sc.dec[:0], v)
		if ok && mostlyPrintable(sc.dec) {
			if r.Bytes+len(sc.dec) > d.maxBytes {
				r.Truncated = true
				return KindNone, "", DecodingNone
			}
			r.Bytes += len(sc.dec)
			if k, fp := d.detect(sc.dec); k != KindNone {
				return k, fp, DecodingBase64
			}
		}
	}
	return KindNone, "", DecodingNone
}

// detect runs the pre-filters, and libinjection where they cannot rule it
// out and the value was not found clean before.
func (d *Detector) detect(v []byte) (Kind, string) {
	if singleWord(v) {
		return KindNone, ""
	}
	sqli := d.sqli && sqliMaybe(v)
	xss := d.xss && xssMaybe(v)
	if !sqli && !xss {
		return KindNone, ""
	}
	h := d.clean.hash(v)
	if d.clean.has(h) {
		return KindNone, ""
	}
	if sqli {
		if is, fp := libinjection.IsSQLi(b2s(v)); is {
			return KindSQLi, fp
		}
	}
	if xss && libinjection.IsXSS(b2s(v)) {
		return KindXSS, ""
	}
	d.clean.add(h)
	return KindNone, ""
}

// cleanCache remembers values that libinjection found clean, so that the
// values a client repeats on every request (a browser's User-Agent, a
// session cookie, the same form text) cost a hash instead of 1-3 us and a
// dozen allocations inside libinjection. It is a direct-mapped table of
// 64-bit keyed hashes, written and read with atomics: an entry can be
// overwritten by any other value, which only costs a recomputation. The
// hash is seeded per process (hash/maphash), so a client cannot craft a
// value that collides with a cached clean one; the chance that an attack
// collides by accident is 2^-64 per cached entry.
type cleanCache struct {
	seed  maphash.Seed
	slots []atomic.Uint64
}

const cleanCacheSlots = 1 << 13 // 64 KiB per detector

func (c *cleanCache) init() {
	c.seed = maphash.MakeSeed()
	c.slots = make([]atomic.Uint64, cleanCacheSlots)
}

// hash never returns 0, the empty slot.
func (c *cleanCache) hash(v []byte) uint64 { return maphash.Bytes(c.seed, v) | 1 }

func (c *cleanCache) has(h uint64) bool {
	return c.slots[h>>1&(cleanCacheSlots-1)].Load() == h
}

func (c *cleanCache) add(h uint64) { c.slots[h>>1&(cleanCacheSlots-1)].Store(h) }

// b2s views b as a string without copying. libinjection keeps no reference
// to its input after returning (its pooled states are cleared), and its
// fingerprint is a separate string.
func b2s(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

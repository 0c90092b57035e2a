package inject

import (
	"bytes"
	"strconv"
	"strings"

	"github.com/valyala/fasthttp"
	"github.com/valyala/fastjson"

	"github.com/edgeguard/edgeguard/dataplane/headers"
	"github.com/edgeguard/edgeguard/dataplane/waf/formdata"
)

// maxPathComments bounds the path readings from a "/*" on.
const maxPathComments = 4

// pathReading inspects another reading of part of the path, with '+' read
// as a space when plus; like a literal, it costs bytes, not a value.
func (d *Detector) pathReading(sc *Scratch, v []byte, plus bool) bool {
	if sc.litDepth >= len(sc.lit) {
		return false
	}
	depth := sc.litDepth
	sc.litDepth++
	defer func() { sc.litDepth-- }()
	if plus {
		b := append(sc.lit[depth][:0], v...)
		for i, c := range b {
			if c == '+' {
				b[i] = ' '
			}
		}
		sc.lit[depth], v = b, b
	}
	return d.value(sc, SourcePath, nil, v, 0)
}

// inspectHead inspects the path, the query, the cookies and the configured
// headers.
func (d *Detector) inspectHead(sc *Scratch, req *fasthttp.Request) {
	if d.sources.Has(SourcePath) {
		path := req.URI().Path()
		// The whole path for files and traversals, then each segment.
		if len(path) > 1 && d.value(sc, SourcePath, nil, path, ctxPath) {
			return
		}
		full, comments := path, 0
		for len(path) > 0 {
			var seg []byte
			seg, path, _ = bytes.Cut(path, slash)
			if d.value(sc, SourcePath, nil, seg, 0) {
				return
			}
			if bytes.IndexByte(seg, '+') >= 0 && d.pathReading(sc, seg, true) {
				// Java's URLDecoder and PHP's urldecode read '+' in a path
				// as a space: "1+union+select+...".
				return
			}
			if len(path) > 0 && (path[0] == '*' || hasPrefixFold(path, 0, "%2a")) && comments < maxPathComments {
				// "/**/" between segments is a SQL comment to an upstream
				// that takes the rest of the path as one parameter: read
				// from this segment on, "1/**/union/**/select ..." whole
				// (and decoded again: "/%2A%2A/" is the same comment to
				// an upstream that decodes twice).
				comments++
				rest := full[len(full)-len(path)-1-len(seg):]
				if d.pathReading(sc, rest, false) {
					return
				}
			}
			// Matrix parameters (/users;id=7/...): servlet containers and
			// JAX-RS hand each value to the application.
			for i := bytes.IndexByte(seg, ';'); i >= 0; i = bytes.IndexByte(seg, ';') {
				seg = seg[i+1:]
				param := seg
				if j := bytes.IndexByte(param, ';'); j >= 0 {
					param = param[:j]
				}
				if j := bytes.IndexByte(param, '='); j >= 0 && d.value(sc, SourcePath, nil, param[j+1:], 0) {
					return
				}
			}
		}
	}
	if d.sources.Has(SourceQuery) {
		for k, v := range req.URI().QueryArgs().All() {
			if d.value(sc, SourceQuery, k, k, ctxName) || d.value(sc, SourceQuery, k, v, 0) {
				return
			}
		}
	}
	if d.sources.Has(SourceCookie) {
		for k, v := range req.Header.Cookies() {
			if d.value(sc, SourceCookie, k, k, ctxName) || d.value(sc, SourceCookie, k, v, 0) {
				return
			}
		}
	}
	if !d.sources.Has(SourceHeader) {
		return
	}
	if d.allHeaders {
		for k, v := range req.Header.All() {
			if d.excluded(k) {
				if d.credential(sc, k, v) {
					return
				}
				continue
			}
			var ctx uint8
			if equalFoldLower(k, hUserAgent) {
				ctx = ctxUserAgent
			}
			if hasPrefixFold(k, 0, "sec-ch-") && sfList(v, &sc.sf) {
				// A client hint is a structured-field list of strings
				// (RFC 8941): its strings are the values, not its syntax
				// ('" Not A;Brand";v="99"' read as SQL).
				for j := 0; j < sc.sf.n; j++ {
					s := v[sc.sf.span[j][0]:sc.sf.span[j][1]]
					if sc.sf.esc[j] {
						sc.str = sfUnescape(sc.str[:0], s)
						s = sc.str
					}
					if d.value(sc, SourceHeader, k, s, 0) {
						return
					}
				}
				continue
			}
			if d.value(sc, SourceHeader, k, v, ctx) {
				return
			}
		}
		return
	}
	for k, v := range req.Header.All() {
		named := false
		for _, h := range d.headers {
			if equalFoldLower(k, h) {
				var ctx uint8
				if equalFoldLower(h, hUserAgent) {
					ctx = ctxUserAgent
				}
				if d.value(sc, SourceHeader, h, v, ctx) {
					return
				}
				named = true
				break
			}
		}
		if !named && d.credential(sc, k, v) {
			return
		}
	}
}

var (
	hUserAgent          = []byte("user-agent")
	hAuthorization      = []byte("authorization")
	hProxyAuthorization = []byte("proxy-authorization")
)

// credential inspects header k that is not inspected whole (a credential,
// a token, an excluded or unnamed header) for what reaches an application
// through it all the same: a Log4j lookup, as Log4j logs any header
// (lookupOnly), and the user name and password of Basic credentials, which
// applications look up in their database. It reports whether inspection
// must stop.
func (d *Detector) credential(sc *Scratch, k, v []byte) bool {
	if d.lookupOnly(sc, k, v) {
		return true
	}
	if len(v) > 6 && hasPrefixFold(v, 0, "basic ") && (equalFoldLower(k, hAuthorization) || equalFoldLower(k, hProxyAuthorization)) {
		return d.basicCredentials(sc, k, bytes.TrimSpace(v[6:]))
	}
	return false
}

// lookupOnly runs the Log4j lookup check alone on v: a '$' and a '{' rule
// it out on almost every value, Bearer tokens and JWTs included.
func (d *Detector) lookupOnly(sc *Scratch, name, v []byte) bool {
	if d.off.Has(KindJNDI) || sc.stopped || bytes.IndexByte(v, '$') < 0 || bytes.IndexByte(v, '{') < 0 {
		return false
	}
	if r := checkJNDI(v, bDollar|bLBrace); r != "" {
		d.found(sc, SourceHeader, name, finding{kind: KindJNDI, rule: r}, DecodingNone)
		return true
	}
	return false
}

// basicCredentials inspects the user name of Basic credentials cred as a
// value, and the password for SQLi alone (libinjection and tautologies):
// a password is random punctuation by design, which the other checks
// would misread.
func (d *Detector) basicCredentials(sc *Scratch, name, cred []byte) bool {
	if len(cred) < 4 || len(cred) > 1024 || !looksBase64(cred) {
		return false
	}
	dec, ok := decodeBase64(sc.basic[:0], cred)
	sc.basic = dec
	user, pass, found := bytes.Cut(dec, colon)
	if !ok || !found || !mostlyPrintable(dec) {
		return false
	}
	if d.value(sc, SourceHeader, name, user, 0) {
		return true
	}
	if len(pass) == 0 || d.off.Has(KindSQLi) {
		return false
	}
	m := classMask(pass)
	f := d.libinjection(sc, pass, m)
	if f.kind != KindSQLi {
		f = finding{}
		if r := checkTautology(pass, m); r != "" {
			f = finding{kind: KindSQLi, rule: r}
		}
	}
	if f.kind != KindNone {
		d.found(sc, SourceHeader, name, f, DecodingBase64)
		return true
	}
	return false
}

var colon = []byte(":")

// excludedHeaders are the headers that AllHeaders leaves out, lower case:
// credentials and session tokens (opaque, often Base64: nothing to find and
// secrets to keep out of logs), the cookie header (inspected cookie by
// cookie), and the framing and hop-by-hop headers that the request-hygiene
// stage has already checked or the gateway rewrites. Negotiation,
// conditionals, fetch metadata, tracing and forwarding headers are
// inspected: attack tools spray them (Log4Shell in Accept-Language and
// X-Forwarded-For), and applications log them.
var excludedHeaders = []string{
	"authorization", "proxy-authorization", "cookie", "x-api-key", "x-auth-token", "x-csrf-token",
	"x-xsrf-token", "x-amz-security-token", "x-goog-iap-jwt-assertion", "signature", "signature-input",
	"digest", "content-digest", "x-hub-signature", "x-hub-signature-256",
	"host", "content-length", "content-encoding", "transfer-encoding", "connection",
	"keep-alive", "upgrade", "te", "trailer", "proxy-connection", "expect",
}

// excluded reports whether AllHeaders leaves header name out.
func (d *Detector) excluded(name []byte) bool {
	var buf [64]byte
	if len(name) > len(buf) {
		return false
	}
	for i, c := range name {
		buf[i] = lowerASCII(c)
	}
	lower := buf[:len(name)]
	_, ok := d.exclude[string(lower)]
	return ok
}

var slash = []byte("/")

// equalFoldLower compares b with the lower-case ASCII lower, ignoring case.
func equalFoldLower(b, lower []byte) bool {
	if len(b) != len(lower) {
		return false
	}
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}

// Body kinds, by media type (bodyKindOf).
const (
	bodySkip      = iota // binary: images, archives, protobuf...
	bodyJSON             // application/json, */*+json, and untyped bodies that start like JSON
	bodyForm             // application/x-www-form-urlencoded
	bodyMultipart        // multipart/*: form-data's fields, or the parts of mixed, related...
	bodyXML              // */xml, */*+xml (SOAP)
	bodyRaw              // anything else that reads as text (untyped markup included): one value
)

// inspectBody inspects the body by its media type: the fields of JSON,
// form and multipart bodies, the text and attributes of XML, and any other
// text body as one value; and again in each Unicode encoding an upstream
// may decode it in (charset.go).
func (d *Detector) inspectBody(sc *Scratch, req *fasthttp.Request, body *fastjson.Value) {
	ct := req.Header.ContentType()
	cs, _ := headers.ContentCharset(ct)
	if body != nil && (cs == headers.CharsetNone || cs == headers.CharsetUTF8) {
		if d.sources.Has(SourceJSON) {
			d.inspectJSONBody(sc, req.Body(), body)
		}
		return
	}
	// A body parsed as UTF-8 JSON but declared in another charset is read
	// from its bytes below, where the charset is honoured.
	raw := req.Body()
	if len(raw) == 0 {
		return
	}
	mt, params := mediaType(ct)
	if len(mt) > 0 && binaryMediaType(mt) {
		// A JSON, XML or form document under a binary label is read as
		// one by the frameworks that parse a body whatever its type
		// (Go's json.Decoder on r.Body, Flask's get_json(force=True),
		// PHP's php://input): inspected as what it is. Other bytes are
		// the opaque upload the label says.
		if sniffed := sniffDocument(stripUTF8BOM(raw)); sniffed != nil {
			d.inspectReading(sc, sniffed, nil, stripUTF8BOM(raw))
		}
		return
	}
	if ce, n := headers.ContentCodings(&req.Header); n > 1 || n == 1 && encoded(ce, raw) {
		// Compressed (twice: not even its magic is checked): not readable
		// here, in any charset, whatever its bytes look like (gzip's are
		// not text, and a text/plain body must not pass as binary).
		if d.sources&bodySources != 0 {
			sc.res.Truncated = true
		}
		return
	}
	// The Unicode readings first: the one an upstream decodes names the
	// detection's location, where the bytes would only say "body".
	inspected := false
	reads := bodyReadings(cs, raw)
	for r := readUTF16LE; r&readAll != 0 && !sc.stopped; r <<= 1 {
		if reads&r == 0 {
			continue
		}
		var whole bool
		sc.utf, whole = transcode(sc.utf[:0], raw, r, d.maxBytes)
		if !whole {
			sc.res.Truncated = true
		}
		if d.inspectReading(sc, mt, params, sc.utf) {
			inspected = true
		}
	}
	if cap(sc.utf) > maxKeptUTF8 {
		sc.utf = nil
	}
	if !sc.stopped && d.inspectReading(sc, mt, params, stripUTF8BOM(raw)) {
		inspected = true
	}
	if inspected && !sc.stopped && (cs == headers.CharsetOther || xmlUndecodable(stripUTF8BOM(raw))) {
		sc.res.Truncated, sc.res.Undecodable = true, true
	}
}

// bodySources are the sources read from a body.
const bodySources = 1<<SourceForm | 1<<SourceJSON | 1<<SourceBody | 1<<SourceXML

// inspectReading inspects b, one reading of the body, by its media type
// mt (its first bytes when it has none), and reports whether its kind is
// one that is inspected.
func (d *Detector) inspectReading(sc *Scratch, mt, params, b []byte) bool {
	if len(b) == 0 {
		return false
	}
	kind := bodyKindOf(mt, b)
	switch kind {
	case bodySkip:
		return false
	case bodyJSON:
		if !d.sources.Has(SourceJSON) && !d.sources.Has(SourceBody) {
			return false
		}
	case bodyForm:
		if !d.sources.Has(SourceForm) {
			return false
		}
	case bodyMultipart:
		if !d.sources.Has(SourceForm) && (equalFoldLower(mt, mtMultipart) || d.sources&bodySources == 0) {
			return false
		}
	case bodyXML:
		if !d.sources.Has(SourceXML) && !d.sources.Has(SourceBody) {
			return false
		}
	case bodyRaw:
		if !d.sources.Has(SourceBody) {
			return false
		}
	}
	switch kind {
	case bodyJSON:
		d.inspectJSONBody(sc, b, nil)
	case bodyForm:
		d.inspectForm(sc, b, true)
		// A JSON or XML document sent as a form: the form reading splits
		// it at '=' and '&', and a server that reads the raw body (PHP's
		// php://input, readers that ignore the type) gets the document.
		if first := skipSpace(b, 0); !sc.stopped && first < len(b) {
			switch b[first] {
			case '{', '[':
				d.inspectJSONBytes(sc, b)
			case '<':
				d.inspectXML(sc, b)
			}
		}
	case bodyMultipart:
		d.inspectMultipart(sc, b, params, equalFoldLower(mt, mtMultipart), 0)
	case bodyXML:
		d.inspectXML(sc, b)
	case bodyRaw:
		d.value(sc, SourceBody, nil, b, 0)
	}
	return true
}

// inspectForm inspects the names and values of URL-encoded form b, and
// with charset honours a _charset_ field (charsetField).
func (d *Detector) inspectForm(sc *Scratch, b []byte, charset bool) {
	sc.form.ParseBytes(b)
	for k, v := range sc.form.All() {
		if d.value(sc, SourceForm, k, k, ctxName) || d.value(sc, SourceForm, k, v, 0) {
			break
		}
		if charset {
			charsetField(sc, k, v)
		}
	}
	sc.form.Reset()
}

// bodyKindOf classifies a body by its media type mt, and by its first
// bytes when it has none.
func bodyKindOf(mt, raw []byte) int {
	switch {
	case len(mt) == 0:
		first := skipSpace(raw, 0)
		switch {
		case first < len(raw) && (raw[first] == '{' || raw[first] == '['):
			return bodyJSON
		case first < len(raw) && raw[first] == '<':
			// Untyped markup is more often HTML than XML: one value,
			// where libinjection reads the tags.
			return bodyRaw
		case looksText(raw):
			return bodyRaw
		}
		return bodySkip
	case isJSONMediaType(mt):
		return bodyJSON
	case equalFoldLower(mt, mtForm):
		return bodyForm
	case hasPrefixFold(mt, 0, "multipart/"):
		return bodyMultipart
	case isXMLMediaType(mt):
		return bodyXML
	case binaryMediaType(mt):
		return bodySkip
	case looksText(raw):
		return bodyRaw
	}
	return bodySkip
}

var (
	xmlSuffix = []byte("/xml")
	xmlPlus   = []byte("+xml")
)

func isXMLMediaType(mt []byte) bool {
	n := len(mt)
	return n > 4 && (equalFoldLower(mt[n-4:], xmlSuffix) || equalFoldLower(mt[n-4:], xmlPlus))
}

// binaryMediaType: types whose bodies are not text. A +json or +xml
// suffix names a text body whatever comes before it (vnd.ms-foo+json,
// image/svg+xml), and frameworks parse it as such.
func binaryMediaType(mt []byte) bool {
	if isJSONMediaType(mt) || isXMLMediaType(mt) {
		return false
	}
	if hasPrefixFold(mt, 0, "application/") {
		// Past the common prefix, which every JSON body would otherwise
		// compare once per binary type.
		sub := mt[len("application/"):]
		for _, p := range binaryApplicationTypes {
			if hasPrefixFold(sub, 0, p) {
				return true
			}
		}
		return false
	}
	return hasPrefixFold(mt, 0, "image/") || hasPrefixFold(mt, 0, "audio/") || hasPrefixFold(mt, 0, "video/") ||
		hasPrefixFold(mt, 0, "font/")
}

// binaryApplicationTypes are the binary application/ subtypes (prefixes).
var binaryApplicationTypes = [...]string{"octet-stream", "pdf", "zip", "gzip", "x-gzip", "zstd", "x-protobuf",
	"protobuf", "grpc", "vnd.google.protobuf", "x-tar", "x-7z", "wasm", "cbor", "msgpack", "x-msgpack", "vnd.ms-",
	"vnd.openxmlformats"}

var mtXML = []byte("application/xml")

// sniffDocument returns the media type of the document that a body sent
// under a binary type is, if it is one: text that starts like JSON ('{',
// '['), an XML declaration or a DOCTYPE other than HTML's, or a
// URL-encoded form (no byte outside a query's, a '='). nil for anything
// else.
func sniffDocument(b []byte) []byte {
	first := skipSpace(b, 0)
	if first == len(b) || !looksText(b) {
		return nil
	}
	switch c := b[first]; {
	case c == '{' || c == '[':
		return mtJSON
	case c == '<' && (hasPrefixFold(b, first, "<?xml") || hasPrefixFold(b, first, "<!doctype") && !hasPrefixFold(b, skipSpace(b, first+9), "html")):
		// XML a parser reads whatever the label (XXE). HTML is a file
		// stored and served, not a document the upstream parses.
		return mtXML
	case c == '<' && first+1 < len(b) && isLetter(b[first+1]) && xmlElement(b[first:]):
		// An XML document without a declaration, which PHP's
		// simplexml_load_string(file_get_contents('php://input')) parses
		// under any label: "<r><q>...</q></r>".
		return mtXML
	}
	eq := false
	for _, c := range b {
		if !formByte[c] {
			return nil
		}
		eq = eq || c == '='
	}
	if !eq {
		return nil
	}
	return mtForm
}

// xmlElement reports whether b, which starts with '<' and a letter, is
// one element: it ends with the end tag of the name it starts with, or is
// one empty-element tag.
func xmlElement(b []byte) bool {
	b = bytes.TrimRight(b, " \t\r\n")
	end := 1
	for end < len(b) && (isAlnum(b[end]) || b[end] == ':' || b[end] == '-' || b[end] == '_' || b[end] == '.') {
		end++
	}
	name := b[1:end]
	if len(b) < 2 || b[len(b)-1] != '>' {
		return false
	}
	if bytes.HasSuffix(b, []byte("/>")) && bytes.IndexByte(b[1:], '<') < 0 {
		return true
	}
	tail := b[:len(b)-1]
	tail = bytes.TrimRight(tail, " \t\r\n")
	return bytes.HasSuffix(tail, name) && len(tail) >= len(name)+2 && string(tail[len(tail)-len(name)-2:len(tail)-len(name)]) == "</"
}

// formByte: the bytes of a URL-encoded form as clients send it.
var formByte = func() (t [256]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c], t[c-'a'+'A'] = true, true
	}
	for _, c := range "-._~%+=&;*!'()[]$,:/@?" {
		t[c] = true
	}
	return t
}()

// looksText reports whether the start of b reads as text (UTF-8 or not):
// no NUL and few control bytes in its first KiB.
func looksText(b []byte) bool {
	b = b[:min(len(b), 1024)]
	bad := 0
	for _, c := range b {
		if c == 0 {
			return false
		}
		if c < ' ' && c != '\t' && c != '\n' && c != '\r' {
			bad++
		}
	}
	return bad*20 <= len(b)
}

// encoded reports whether a body with Content-Encoding ce really is
// encoded. A body that does not start with its coding's magic bytes (gzip:
// 1f 8b; deflate: a zlib header; zstd: 28 b5 2f fd) was sent plain under
// a false label, which an upstream that ignores the label reads as is:
// it is inspected. br has no magic bytes, and several codings cannot be
// checked: both count as encoded.
func encoded(ce, raw []byte) bool {
	ce = bytes.TrimSpace(ce)
	switch {
	case equalFoldLower(ce, ceIdentity):
		return false
	case equalFoldLower(ce, ceGzip) || equalFoldLower(ce, ceXGzip):
		return len(raw) >= 2 && raw[0] == 0x1f && raw[1] == 0x8b
	case equalFoldLower(ce, ceDeflate):
		return len(raw) >= 2 && raw[0]&0x0f == 8 && (uint(raw[0])<<8|uint(raw[1]))%31 == 0
	case equalFoldLower(ce, ceZstd):
		return len(raw) >= 4 && raw[0] == 0x28 && raw[1] == 0xb5 && raw[2] == 0x2f && raw[3] == 0xfd
	}
	return true
}

var (
	ceIdentity = []byte("identity")
	ceGzip     = []byte("gzip")
	ceXGzip    = []byte("x-gzip")
	ceDeflate  = []byte("deflate")
	ceZstd     = []byte("zstd")
)

var (
	mtForm      = []byte("application/x-www-form-urlencoded")
	mtMultipart = []byte("multipart/form-data")
	mtJSON      = []byte("application/json")
	jsonSuffix  = []byte("+json")
)

// mediaType splits a Content-Type into its media type (spaces trimmed,
// case kept) and its parameters.
func mediaType(ct []byte) (mt, params []byte) {
	mt, params, _ = bytes.Cut(ct, []byte{';'})
	return bytes.TrimSpace(mt), params
}

func isJSONMediaType(mt []byte) bool {
	if equalFoldLower(mt, mtJSON) {
		return true
	}
	return len(mt) > len(jsonSuffix) && equalFoldLower(mt[len(mt)-len(jsonSuffix):], jsonSuffix)
}

// walkJSON inspects every string value and object key of v. It keeps no
// path: when locating, it does (see locate.go).
func (d *Detector) walkJSON(sc *Scratch, v *fastjson.Value, underCtor bool) {
	switch v.Type() {
	case fastjson.TypeString:
		d.jsonValue(sc, v.GetStringBytes(), 0, 0)
	case fastjson.TypeArray:
		a, _ := v.Array()
		for i, e := range a {
			if sc.locating {
				sc.ptr = append(sc.ptr, ptrSeg{idx: i})
			}
			d.walkJSON(sc, e, false)
			if sc.stopped {
				return
			}
			if sc.locating {
				sc.ptr = sc.ptr[:len(sc.ptr)-1]
			}
		}
	case fastjson.TypeObject:
		o, _ := v.Object()
		o.Visit(func(k []byte, e *fastjson.Value) {
			if sc.stopped {
				return
			}
			if sc.locating {
				sc.ptr = append(sc.ptr, ptrSeg{key: k})
			}
			if d.jsonKey(sc, k, 0, underCtor, numericJSON(e)) {
				return
			}
			d.walkJSON(sc, e, string(k) == "constructor")
			if sc.locating && !sc.stopped {
				sc.ptr = sc.ptr[:len(sc.ptr)-1]
			}
		})
	}
}

// numericJSON reports whether v is a number or an array that starts with
// one (the value of MongoDB's $type, see jsonKey).
func numericJSON(v *fastjson.Value) bool {
	if v.Type() == fastjson.TypeArray {
		if a, _ := v.Array(); len(a) > 0 {
			v = a[0]
		}
	}
	return v.Type() == fastjson.TypeNumber
}

// inspectMultipart inspects the fields of a multipart/form-data body that
// are not files, or, for any other multipart type (mixed, related:
// batch APIs, uploads with a JSON metadata part), each part by its own
// media type. Lines end in CRLF, or in LF alone when the first boundary
// line does (as Go's and PHP's readers accept). A body it cannot follow
// marks the result Truncated.
func (d *Detector) inspectMultipart(sc *Scratch, body, params []byte, formData bool, depth int) {
	mr := &sc.parts[depth]
	if !mr.Start(body, params) {
		sc.res.Truncated = true
		return
	}
	for {
		header, content, ok := mr.Next()
		if !ok {
			break
		}
		name, disp, kind, pt, cte := partHeaders(header)
		cs, _ := headers.ContentCharset(pt)
		if !formData {
			if d.inspectPart(sc, name, pt, content, cte, cs, depth) {
				return
			}
			continue
		}
		if kind != formdata.KindField {
			if d.partFilenames(sc, name, disp) {
				return
			}
			if kind == formdata.KindFile {
				continue
			}
			// Named a file by filename* alone: PHP reads it as a field.
		}
		if d.value(sc, SourceForm, name, name, ctxName) || d.value(sc, SourceForm, name, content, 0) {
			return
		}
		if len(cte) > 0 {
			// Go's mime/multipart undoes quoted-printable by itself, and
			// mail-style readers base64 too: the decoded content is the
			// value, and what the readings below read.
			decoded, ok := undoTransferEncoding(sc.cte[depth][:0], content, cte)
			if decoded != nil {
				sc.cte[depth] = decoded
			}
			if !ok {
				sc.res.Truncated = true // an encoding tier 1 does not read
			} else if decoded != nil {
				if d.value(sc, SourceForm, name, decoded, 0) {
					return
				}
				content = decoded
			}
		}
		if d.partReadings(sc, name, content, cs) {
			return
		}
		charsetField(sc, name, content)
	}
	if mr.Err() != nil {
		sc.res.Truncated = true // unfollowable, or parts after the close that PHP reads
	}
}

// maxPartDepth bounds multipart nesting (a multipart/alternative inside
// a multipart/mixed) and HTTP messages inside parts; deeper content makes
// the result Truncated.
const maxPartDepth = 2

var mtHTTP = []byte("application/http")

// inspectPart inspects a part of a multipart body other than form-data by
// its own Content-Type ct, as the upstream that takes it apart reads it: a
// JSON, XML or form document field by field (also under a binary type, as
// at the top level), an HTTP message (batch requests) by its parts, a
// nested multipart body part by part, other binary content not at all,
// text as one value. depth is the part's nesting level. It reports
// whether inspection must stop.
func (d *Detector) inspectPart(sc *Scratch, name, ct, content, cte []byte, cs headers.Charset, depth int) bool {
	if len(cte) > 0 {
		decoded, ok := undoTransferEncoding(sc.cte[depth][:0], content, cte)
		if decoded != nil {
			sc.cte[depth] = decoded
			content = decoded
		}
		if !ok {
			sc.res.Truncated = true // an encoding tier 1 does not read
			return false
		}
	}
	mt, params := mediaType(ct)
	if equalFoldLower(mt, mtHTTP) {
		return d.inspectHTTPPart(sc, name, content, depth)
	}
	kind := bodyKindOf(mt, content)
	if kind == bodySkip && len(mt) > 0 {
		if doc := sniffDocument(stripUTF8BOM(content)); doc != nil {
			kind = bodyKindOf(doc, content)
		}
	}
	switch kind {
	case bodySkip:
	case bodyJSON:
		d.inspectJSONBytes(sc, content)
	case bodyXML:
		if d.sources.Has(SourceXML) || d.sources.Has(SourceBody) {
			d.inspectXML(sc, content)
		}
	case bodyForm:
		if d.sources.Has(SourceForm) {
			d.inspectForm(sc, content, false)
		}
	case bodyMultipart:
		if depth+1 >= maxPartDepth {
			sc.res.Truncated = true // nested deeper than tier 1 follows
			break
		}
		d.inspectMultipart(sc, content, params, equalFoldLower(mt, mtMultipart), depth+1)
	default:
		if !d.sources.Has(SourceBody) {
			break
		}
		if d.value(sc, SourceBody, name, content, 0) {
			return true
		}
		return d.partReadings(sc, name, content, cs)
	}
	return sc.stopped
}

// inspectHTTPPart inspects an HTTP message sent as a part (application/
// http: Google's and OData's batch requests): the request target, each
// header field's value and the body by its Content-Type, not the message
// as one text, whose line breaks and header lines are its framing.
func (d *Detector) inspectHTTPPart(sc *Scratch, name, content []byte, depth int) bool {
	if !d.sources.Has(SourceBody) {
		return false
	}
	msg := content
	for len(msg) > 0 && (msg[0] == '\r' || msg[0] == '\n') {
		msg = msg[1:]
	}
	head, body, ok := bytes.Cut(msg, crlfcrlf)
	if !ok {
		head, body, _ = bytes.Cut(msg, lflf)
	}
	line, fields, _ := bytes.Cut(head, lf)
	// "GET /farm/v1/animals?x=1 HTTP/1.1": the target is the second word.
	if _, rest, ok := bytes.Cut(bytes.TrimSpace(line), []byte{' '}); ok {
		target, _, _ := bytes.Cut(rest, []byte{' '})
		if d.value(sc, SourceBody, name, target, 0) {
			return true
		}
	}
	var ct []byte
	for len(fields) > 0 {
		var f []byte
		f, fields, _ = bytes.Cut(fields, lf)
		k, v, ok := bytes.Cut(bytes.TrimSuffix(f, []byte{'\r'}), []byte{':'})
		if !ok {
			continue
		}
		v = bytes.TrimSpace(v)
		if equalFoldLower(bytes.TrimSpace(k), hContentType) {
			ct = v
		}
		if d.value(sc, SourceBody, name, v, 0) {
			return true
		}
	}
	if len(body) == 0 {
		return false
	}
	if depth+1 >= maxPartDepth {
		sc.res.Truncated = true
		return false
	}
	cs, _ := headers.ContentCharset(ct)
	return d.inspectPart(sc, name, ct, body, nil, cs, depth+1)
}

var crlfcrlf, lflf = []byte("\r\n\r\n"), []byte("\n\n")

var charsetFieldName = []byte("_charset_")

// charsetField marks the result Undecodable for a form field _charset_
// naming a charset other than UTF-8 or an ASCII-compatible one: HTML forms
// send it, and servers such as Apache Sling decode the other fields by it.
func charsetField(sc *Scratch, name, value []byte) {
	if !equalFoldLower(name, charsetFieldName) {
		return
	}
	if cs := headers.CharsetLabel(value); cs != headers.CharsetUTF8 && cs != headers.CharsetASCII {
		sc.res.Truncated, sc.res.Undecodable = true, true
	}
}

// partReadings inspects a part's content again in each Unicode encoding
// its charset or BOM names (an upstream decodes a part by its own
// Content-Type), and marks the result Undecodable for a charset it cannot
// decode. It reports whether inspection must stop.
func (d *Detector) partReadings(sc *Scratch, name, content []byte, cs headers.Charset) bool {
	if cs == headers.CharsetOther {
		sc.res.Truncated, sc.res.Undecodable = true, true
		return false
	}
	reads := declaredReadings(cs)
	if hasUnicodeBOM(content) {
		reads = sniffReadings(content)
	}
	for r := readUTF16LE; r&readAll != 0; r <<= 1 {
		if reads&r == 0 {
			continue
		}
		var whole bool
		sc.utfPart, whole = transcode(sc.utfPart[:0], content, r, d.maxBytes)
		if !whole {
			sc.res.Truncated = true
		}
		if d.value(sc, SourceForm, name, sc.utfPart, 0) {
			return true
		}
	}
	if cap(sc.utfPart) > maxKeptUTF8 {
		sc.utfPart = nil
	}
	return false
}

var (
	dashdash = []byte("--")
	lf       = []byte("\n")
)

// param finds parameter name (lower case) in "; a=b; c="d"" and returns its
// value, unquoted (quoted-pairs are kept as they are).
func param(params []byte, name string) []byte {
	for len(params) > 0 {
		var k, v []byte
		k, v, _, params = nextParam(params)
		if equalFoldLower(k, []byte(name)) {
			return v
		}
	}
	return nil
}

// nextParam reads the first parameter of params ("; a=b; c="d;e""): its
// name and value, spaces trimmed, the value unquoted when it is a quoted
// string (where a ';' does not end it; quoted-pairs are kept as they are),
// and what follows it.
func nextParam(params []byte) (k, v []byte, quoted bool, rest []byte) {
	i := bytes.IndexAny(params, ";=")
	if i < 0 || params[i] == ';' {
		if i < 0 {
			i = len(params)
		}
		return bytes.TrimSpace(params[:i]), nil, false, params[min(i+1, len(params)):]
	}
	k = bytes.TrimSpace(params[:i])
	j := skipSpace(params, i+1)
	if j < len(params) && params[j] == '"' {
		for e := j + 1; e < len(params); e++ {
			switch params[e] {
			case '\\':
				e++
			case '"':
				rest = params[e+1:]
				if c := bytes.IndexByte(rest, ';'); c >= 0 {
					rest = rest[c+1:]
				} else {
					rest = nil
				}
				return k, params[j+1 : e], true, rest
			}
		}
		// Unterminated: the rest of the header is the value.
		return k, params[j+1:], true, nil
	}
	e := bytes.IndexByte(params[j:], ';')
	if e < 0 {
		return k, bytes.TrimSpace(params[j:]), false, nil
	}
	return k, bytes.TrimSpace(params[j : j+e]), false, params[j+e+1:]
}

// partHeaders reads a part's header block: its field name, the
// parameters of its Content-Disposition, how servers read it (a field, a
// file, or either: formdata.Kind), its Content-Type and its
// Content-Transfer-Encoding.
func partHeaders(hs []byte) (name, disp []byte, kind formdata.Kind, ct, cte []byte) {
	name, disp, kind = formdata.Disposition(hs)
	sawType := false
	for len(hs) > 0 {
		var line []byte
		line, hs, _ = bytes.Cut(hs, lf)
		line = bytes.TrimSuffix(line, []byte{'\r'})
		k, v, ok := bytes.Cut(line, []byte{':'})
		// The first of each, as Go's mime/multipart reads them; a second,
		// other transfer encoding is one tier 1 does not know.
		switch {
		case !ok:
		case equalFoldLower(bytes.TrimSpace(k), hContentType):
			if !sawType {
				ct = v
				sawType = true
			}
		case equalFoldLower(bytes.TrimSpace(k), hContentTransferEncoding):
			if v = bytes.TrimSpace(v); cte == nil {
				cte = v
			} else if !bytes.EqualFold(cte, v) {
				cte = cteConflict
			}
		}
	}
	return name, disp, kind, ct, cte
}

// cteConflict stands for two different transfer encodings on one part.
var cteConflict = []byte("(conflicting)")

var hContentTransferEncoding = []byte("content-transfer-encoding")

// undoTransferEncoding decodes content by its Content-Transfer-Encoding
// cte into dst: nil for the identities (7bit, 8bit, binary), false for an
// encoding it does not know.
func undoTransferEncoding(dst, content, cte []byte) ([]byte, bool) {
	switch {
	case equalFoldLower(cte, []byte("7bit")), equalFoldLower(cte, []byte("8bit")), equalFoldLower(cte, []byte("binary")):
		return nil, true
	case equalFoldLower(cte, []byte("quoted-printable")):
		return decodeQuotedPrintable(dst, content), true
	case equalFoldLower(cte, []byte("base64")):
		for _, c := range content {
			if c != '\r' && c != '\n' && c != ' ' && c != '\t' {
				dst = append(dst, c)
			}
		}
		out, _ := decodeBase64(dst[:0], dst) // in place: it writes 3 bytes for every 4 it has read
		return out, true
	}
	return nil, false
}

// decodeQuotedPrintable undoes RFC 2045 quoted-printable: "=XX" is a byte,
// "=" at a line end a soft break; anything else stays as it is.
func decodeQuotedPrintable(dst, v []byte) []byte {
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c != '=' {
			dst = append(dst, c)
			continue
		}
		switch {
		case i+2 < len(v) && unhex[v[i+1]] < 16 && unhex[v[i+2]] < 16:
			dst = append(dst, unhex[v[i+1]]<<4|unhex[v[i+2]])
			i += 2
		case i+1 < len(v) && v[i+1] == '\n':
			i++
		case i+2 < len(v) && v[i+1] == '\r' && v[i+2] == '\n':
			i += 2
		default:
			dst = append(dst, c)
		}
	}
	return dst
}

// partFilenames inspects the filename and filename* parameters of a file
// part's Content-Disposition disp, as the value form.<name>.filename: the
// client chooses them, and an upstream writes them to disk and to its
// logs. filename* (RFC 5987: charset'language'percent-encoded) is read
// percent-decoded; a quoted filename with quoted-pairs also without them,
// as RFC 7578 parsers read it. The file's content is not inspected (an
// uploaded page may hold script: that is what it is).
func (d *Detector) partFilenames(sc *Scratch, name, disp []byte) bool {
	sc.fname = append(append(sc.fname[:0], name...), ".filename"...)
	for len(disp) > 0 {
		var k, v []byte
		var quoted bool
		k, v, quoted, disp = nextParam(disp)
		switch {
		case equalFoldLower(k, pFilename):
			if d.value(sc, SourceForm, sc.fname, v, 0) {
				return true
			}
			if !quoted || bytes.IndexByte(v, '\\') < 0 {
				continue
			}
			sc.fval = unquotePairs(sc.fval[:0], v)
		case equalFoldLower(k, pFilenameExt):
			// Past charset'language' (the value may hold quotes of its own).
			if q := bytes.IndexByte(v, '\''); q >= 0 {
				if q2 := bytes.IndexByte(v[q+1:], '\''); q2 >= 0 {
					v = v[q+1+q2+1:]
				}
			}
			sc.fval = percentDecode(sc.fval[:0], v)
		default:
			continue
		}
		if d.value(sc, SourceForm, sc.fname, sc.fval, 0) {
			return true
		}
	}
	return false
}

var (
	pFilename    = []byte("filename")
	pFilenameExt = []byte("filename*")
)

// unquotePairs appends v, the inside of a quoted string, to dst with its
// quoted-pairs ("\x") read as the characters they quote.
func unquotePairs(dst, v []byte) []byte {
	for i := 0; i < len(v); i++ {
		if v[i] == '\\' && i+1 < len(v) {
			i++
		}
		dst = append(dst, v[i])
	}
	return dst
}

// percentDecode appends v to dst with its %XX escapes decoded ('+' is
// itself, as in RFC 5987's ext-value); a malformed escape is kept as is.
func percentDecode(dst, v []byte) []byte {
	for i := 0; i < len(v); i++ {
		if c := v[i]; c == '%' && i+2 < len(v) && unhex[v[i+1]] < 16 && unhex[v[i+2]] < 16 {
			dst = append(dst, unhex[v[i+1]]<<4|unhex[v[i+2]])
			i += 2
			continue
		}
		dst = append(dst, v[i])
	}
	return dst
}

var hContentType = []byte("content-type")

// location builds the location of a detection in sc.loc: the source, then
// the name (or the JSON pointer, or the XML element path), sanitized and
// bounded by MaxLocation.
func (sc *Scratch) location(src Source, name []byte) []byte {
	b := append(sc.loc[:0], src.String()...)
	switch src {
	case SourcePath, SourceBody:
	case SourceJSON, SourceXML:
		if src == SourceXML && len(sc.ptr) == 0 {
			break // the prolog, or markup it could not follow
		}
		b = append(b, '.')
		for _, s := range sc.ptr {
			b = append(b, '/')
			if s.attr {
				b = append(b, '@')
			}
			if s.key == nil {
				b = strconv.AppendInt(b, int64(s.idx), 10)
				continue
			}
			key := s.key
			if s.esc {
				sc.norm = appendJSONString(sc.norm[:0], key)
				key = sc.norm
			}
			for _, c := range key {
				switch c {
				case '~':
					b = append(b, "~0"...)
				case '/':
					b = append(b, "~1"...)
				default:
					b = appendSafe(b, c)
				}
			}
			if len(b) > MaxLocation {
				break
			}
		}
	default:
		b = append(b, '.')
		for _, c := range name {
			if src == SourceHeader {
				c = lowerASCII(c)
			}
			b = appendSafe(b, c)
			if len(b) > MaxLocation {
				break
			}
		}
	}
	if len(b) > MaxLocation {
		b = b[:MaxLocation]
		// Do not leave half a percent-encoding at the end.
		if i := bytes.LastIndexByte(b[max(0, len(b)-2):], '%'); i >= 0 {
			b = b[:len(b)-2+i]
		}
	}
	sc.loc = b
	return b
}

const hexUpper = "0123456789ABCDEF"

// appendSafe appends c, percent-encoded unless it is printable ASCII other
// than '%'.
func appendSafe(b []byte, c byte) []byte {
	if c > ' ' && c < 0x7f && c != '%' {
		return append(b, c)
	}
	return append(b, '%', hexUpper[c>>4], hexUpper[c&15])
}

// sfSpans are the strings of a structured-field list (sfList): up to
// maxSFStrings [start, end) spans of their raw content.
type sfSpans struct {
	n    int
	span [maxSFStrings][2]int32
	esc  [maxSFStrings]bool
}

const maxSFStrings = 16

// sfList reads v as an RFC 8941 list whose members and parameter values
// are strings or tokens ('"Chromium";v="120", "Not A;Brand";v="99"') and
// records its strings in sp. It reports false when v is not such a list,
// or has more than maxSFStrings strings.
func sfList(v []byte, sp *sfSpans) bool {
	sp.n = 0
	i := 0
	item := func() bool {
		switch {
		case i < len(v) && v[i] == '"':
			start, esc := i+1, false
			for i++; i < len(v) && v[i] != '"'; i++ {
				switch c := v[i]; {
				case c == '\\':
					if i+1 >= len(v) || v[i+1] != '"' && v[i+1] != '\\' {
						return false
					}
					esc = true
					i++
				case c < 0x20 || c >= 0x7f:
					return false
				}
			}
			if i >= len(v) || sp.n == maxSFStrings {
				return false
			}
			sp.span[sp.n], sp.esc[sp.n] = [2]int32{int32(start), int32(i)}, esc
			sp.n++
			i++
			return true
		case i < len(v) && (isAlnum(v[i]) || v[i] == '*' || v[i] == '?'):
			for i < len(v) && (isAlnum(v[i]) || strings.IndexByte("!#$%&'*+-.^_`|~:/?", v[i]) >= 0) {
				i++
			}
			return true
		}
		return false
	}
	for {
		i = skipSpace(v, i)
		if !item() {
			return false
		}
		for i < len(v) && v[i] == ';' {
			i = skipSpace(v, i+1)
			k := i
			for i < len(v) && (v[i] >= 'a' && v[i] <= 'z' || isDigit(v[i]) || v[i] == '_' || v[i] == '-' || v[i] == '.' || v[i] == '*') {
				i++
			}
			if i == k {
				return false
			}
			if i < len(v) && v[i] == '=' {
				i++
				if !item() {
					return false
				}
			}
		}
		i = skipSpace(v, i)
		if i == len(v) {
			return true
		}
		if v[i] != ',' {
			return false
		}
		i++
	}
}

// sfUnescape appends the content of a string with escapes to dst.
func sfUnescape(dst, s []byte) []byte {
	for j := 0; j < len(s); j++ {
		if s[j] == '\\' && j+1 < len(s) {
			j++
		}
		dst = append(dst, s[j])
	}
	return dst
}

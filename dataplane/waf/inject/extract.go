package inject

import (
	"bytes"
	"strconv"

	"github.com/valyala/fasthttp"
	"github.com/valyala/fastjson"
)

// inspectHead inspects the path, the query, the cookies and the configured
// headers.
func (d *Detector) inspectHead(sc *Scratch, req *fasthttp.Request) {
	if d.sources.Has(SourcePath) {
		path := req.URI().Path()
		for len(path) > 0 {
			var seg []byte
			seg, path, _ = bytes.Cut(path, slash)
			if d.value(sc, SourcePath, nil, seg) {
				return
			}
		}
	}
	if d.sources.Has(SourceQuery) {
		for k, v := range req.URI().QueryArgs().All() {
			if d.value(sc, SourceQuery, k, k) || d.value(sc, SourceQuery, k, v) {
				return
			}
		}
	}
	if d.sources.Has(SourceCookie) {
		for k, v := range req.Header.Cookies() {
			if d.value(sc, SourceCookie, k, v) {
				return
			}
		}
	}
	if d.sources.Has(SourceHeader) && len(d.headers) > 0 {
		for k, v := range req.Header.All() {
			for _, h := range d.headers {
				if equalFoldLower(k, h) {
					if d.value(sc, SourceHeader, h, v) {
						return
					}
					break
				}
			}
		}
	}
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

// inspectBody inspects the body by its media type: JSON, URL-encoded form
// or multipart form. Other bodies are left to tier 2.
func (d *Detector) inspectBody(sc *Scratch, req *fasthttp.Request, body *fastjson.Value) {
	if body != nil {
		if d.sources.Has(SourceJSON) {
			d.walkJSON(sc, body)
		}
		return
	}
	raw := req.Body()
	if len(raw) == 0 {
		return
	}
	ct := req.Header.ContentType()
	mt, params := mediaType(ct)
	switch {
	case isJSONMediaType(mt):
		if !d.sources.Has(SourceJSON) && !d.sources.Has(SourceBody) {
			return
		}
	case equalFoldLower(mt, mtForm):
		if !d.sources.Has(SourceForm) {
			return
		}
	case equalFoldLower(mt, mtMultipart):
		if !d.sources.Has(SourceForm) {
			return
		}
	default:
		return
	}
	if len(req.Header.ContentEncoding()) > 0 {
		sc.res.Truncated = true // compressed: not readable here
		return
	}
	switch {
	case isJSONMediaType(mt):
		d.inspectJSONBytes(sc, raw)
	case len(mt) == len(mtForm):
		sc.form.ParseBytes(raw)
		for k, v := range sc.form.All() {
			if d.value(sc, SourceForm, k, k) || d.value(sc, SourceForm, k, v) {
				break
			}
		}
		sc.form.Reset()
	default:
		d.inspectMultipart(sc, raw, params)
	}
}

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

// walkJSON inspects every string value and object key of v.
func (d *Detector) walkJSON(sc *Scratch, v *fastjson.Value) {
	switch v.Type() {
	case fastjson.TypeString:
		d.value(sc, SourceJSON, nil, v.GetStringBytes())
	case fastjson.TypeArray:
		a, _ := v.Array()
		for i, e := range a {
			sc.ptr = append(sc.ptr, ptrSeg{idx: i})
			d.walkJSON(sc, e)
			sc.ptr = sc.ptr[:len(sc.ptr)-1]
			if sc.stopped {
				return
			}
		}
	case fastjson.TypeObject:
		o, _ := v.Object()
		o.Visit(func(k []byte, e *fastjson.Value) {
			if sc.stopped {
				return
			}
			sc.ptr = append(sc.ptr, ptrSeg{key: k})
			if !d.value(sc, SourceJSON, nil, k) {
				d.walkJSON(sc, e)
			}
			sc.ptr = sc.ptr[:len(sc.ptr)-1]
		})
	}
}

// inspectMultipart inspects the fields of a multipart/form-data body that
// are not files. A body it cannot follow marks the result Truncated.
func (d *Detector) inspectMultipart(sc *Scratch, body, params []byte) {
	boundary := boundaryParam(params)
	if len(boundary) == 0 || len(boundary) > 70 {
		sc.res.Truncated = true
		return
	}
	// Parts are separated by CRLF "--" boundary; the first may start the body.
	sc.delim = append(append(sc.delim[:0], "\r\n--"...), boundary...)
	delim := sc.delim
	i := bytes.Index(body, delim[2:])
	if i < 0 || (i > 0 && (i < 2 || !bytes.Equal(body[i-2:i], delim[:2]))) {
		sc.res.Truncated = true
		return
	}
	rest := body[i+len(delim)-2:]
	for {
		if bytes.HasPrefix(rest, dashdash) {
			return // closing delimiter
		}
		// Skip transport padding and the CRLF after the delimiter.
		eol := bytes.Index(rest, crlf)
		if eol < 0 {
			sc.res.Truncated = true
			return
		}
		rest = rest[eol+2:]
		hdrEnd := bytes.Index(rest, crlfcrlf)
		if hdrEnd < 0 {
			sc.res.Truncated = true
			return
		}
		headers := rest[:hdrEnd+2]
		rest = rest[hdrEnd+4:]
		end := bytes.Index(rest, delim)
		if end < 0 {
			sc.res.Truncated = true
			return
		}
		content := rest[:end]
		rest = rest[end+len(delim):]
		name, isFile := partName(headers)
		if isFile {
			continue
		}
		if d.value(sc, SourceForm, name, name) || d.value(sc, SourceForm, name, content) {
			return
		}
	}
}

var (
	dashdash = []byte("--")
	crlf     = []byte("\r\n")
	crlfcrlf = []byte("\r\n\r\n")
)

// boundaryParam returns the boundary parameter of a Content-Type.
func boundaryParam(params []byte) []byte {
	return param(params, "boundary")
}

// param finds parameter name (lower case) in "; a=b; c="d"" and returns its
// value, unquoted (quoted-pairs are kept as they are).
func param(params []byte, name string) []byte {
	for len(params) > 0 {
		var p []byte
		p, params, _ = bytes.Cut(params, []byte{';'})
		k, v, ok := bytes.Cut(bytes.TrimSpace(p), []byte{'='})
		k = bytes.TrimSpace(k)
		if !ok || !equalFoldLower(k, []byte(name)) {
			continue
		}
		v = bytes.TrimSpace(v)
		if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
			v = v[1 : len(v)-1]
		}
		return v
	}
	return nil
}

// partName reads the field name of a part from its Content-Disposition
// header, and whether the part is a file upload.
func partName(headers []byte) (name []byte, isFile bool) {
	for len(headers) > 0 {
		var line []byte
		line, headers, _ = bytes.Cut(headers, crlf)
		k, v, ok := bytes.Cut(line, []byte{':'})
		k = bytes.TrimSpace(k)
		if !ok || !equalFoldLower(k, hContentDisposition) {
			continue
		}
		_, params, _ := bytes.Cut(v, []byte{';'})
		return param(params, "name"), len(param(params, "filename")) > 0 || hasParam(params, "filename*")
	}
	return nil, false
}

var hContentDisposition = []byte("content-disposition")

func hasParam(params []byte, name string) bool {
	for len(params) > 0 {
		var p []byte
		p, params, _ = bytes.Cut(params, []byte{';'})
		k, _, _ := bytes.Cut(bytes.TrimSpace(p), []byte{'='})
		k = bytes.TrimSpace(k)
		if equalFoldLower(k, []byte(name)) {
			return true
		}
	}
	return false
}

// location builds the location of a detection in sc.loc: the source, then
// the name (or the JSON pointer), sanitized and bounded by MaxLocation.
func (sc *Scratch) location(src Source, name []byte) []byte {
	b := append(sc.loc[:0], src.String()...)
	switch src {
	case SourcePath, SourceBody:
	case SourceJSON:
		b = append(b, '.')
		for _, s := range sc.ptr {
			b = append(b, '/')
			if s.key == nil {
				b = strconv.AppendInt(b, int64(s.idx), 10)
				continue
			}
			for _, c := range s.key {
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

package login

import "bytes"

var (
	paramBoundary = []byte("boundary")
	paramName     = []byte("name")
	paramFilename = []byte("filename")
	hdrDisp       = []byte("content-disposition")
	hdrCTE        = []byte("content-transfer-encoding")
)

// multipartBoundary returns the boundary parameter of a multipart
// Content-Type; !ok when it is missing, empty or given more than once
// (parsers disagree on which one wins).
func multipartBoundary(contentType []byte) (b []byte, ok bool) {
	n := 0
	for ps := contentType; len(ps) > 0; {
		var k, v []byte
		k, v, _, ps = nextParam(ps)
		if bytes.EqualFold(k, paramBoundary) {
			b = v
			n++
		}
	}
	return b, n == 1 && len(b) > 0 && bytes.IndexByte(b, '\\') < 0
}

// nextParam scans the next "; key=value" parameter of a header value (the
// text before the first ';' is skipped). value is the raw token or the
// inside of a quoted string (its escapes still in); quotedV says which.
func nextParam(s []byte) (key, value []byte, quotedV bool, rest []byte) {
	i := bytes.IndexByte(s, ';')
	if i < 0 {
		return nil, nil, false, nil
	}
	s = bytes.TrimLeft(s[i+1:], " \t")
	j := 0
	for j < len(s) && s[j] != '=' && s[j] != ';' {
		j++
	}
	key = bytes.TrimSpace(s[:j])
	if j == len(s) || s[j] == ';' {
		return key, nil, false, s[j:]
	}
	s = bytes.TrimLeft(s[j+1:], " \t")
	if len(s) > 0 && s[0] == '"' {
		k := 1
		for k < len(s) && s[k] != '"' {
			if s[k] == '\\' {
				k++
			}
			k++
		}
		value = s[1:min(k, len(s))]
		return key, value, true, s[min(k+1, len(s)):]
	}
	k := 0
	for k < len(s) && s[k] != ';' {
		k++
	}
	return key, bytes.TrimSpace(s[:k]), false, s[k:]
}

// multipartValues adds to m the values of the fields of a
// multipart/form-data body that go by one of names. Files (a part with a
// non-empty filename) are skipped. Lines may end in CRLF or LF alone, as
// Go's reader accepts; a body without its final boundary is read to its
// end. A part with a Content-Transfer-Encoding (Go decodes
// quoted-printable) counts twice, ambiguous: browsers never send one.
func multipartValues(m *match, body, boundary []byte, names []string) {
	pos := nextDelimiter(body, 0, boundary)
	for pos >= 0 {
		after := pos + len(boundary)
		if after+2 <= len(body) && body[after] == '-' && body[after+1] == '-' {
			return // the closing delimiter
		}
		eol := bytes.IndexByte(body[after:], '\n')
		if eol < 0 {
			return
		}
		p := after + eol + 1
		// Part headers, up to an empty line.
		var match, file, encoded bool
		for {
			eol := bytes.IndexByte(body[p:], '\n')
			if eol < 0 {
				return
			}
			line := bytes.TrimSuffix(body[p:p+eol], []byte("\r"))
			p += eol + 1
			if len(line) == 0 {
				break
			}
			colon := bytes.IndexByte(line, ':')
			if colon < 0 {
				continue
			}
			h := bytes.TrimSpace(line[:colon])
			switch {
			case bytes.EqualFold(h, hdrCTE):
				v := bytes.TrimSpace(line[colon+1:])
				encoded = !(bytes.EqualFold(v, []byte("binary")) || bytes.EqualFold(v, []byte("8bit")) || bytes.EqualFold(v, []byte("7bit")))
			case bytes.EqualFold(h, hdrDisp):
				match, file = disposition(line[colon+1:], names)
			}
		}
		next := nextDelimiter(body, p, boundary)
		end := len(body)
		if next >= 0 {
			end = next - 3 // "\n--"
			if end > p && body[end-1] == '\r' {
				end--
			}
			end = max(end, p)
		}
		if match && !file {
			if encoded {
				m.n += 2
			} else if m.add() {
				for _, c := range body[p:end] {
					m.c.add(c)
				}
			}
		}
		pos = next
	}
}

// nextDelimiter returns where the boundary of the next delimiter line
// ("--boundary" at the start of the body or of a line) at or after from
// begins, or -1.
func nextDelimiter(body []byte, from int, boundary []byte) int {
	for from < len(body) {
		i := bytes.Index(body[from:], boundary)
		if i < 0 {
			return -1
		}
		at := from + i
		if at >= 2 && body[at-1] == '-' && body[at-2] == '-' && (at == 2 || body[at-3] == '\n') && delimiterEnds(body[at+len(boundary):]) {
			return at
		}
		from = at + 1
	}
	return -1
}

// delimiterEnds reports whether what follows a boundary ends a delimiter
// line: "--", or white space up to the end of the line or body (as Go's
// reader requires: "--b0" is no delimiter of boundary "b").
func delimiterEnds(rest []byte) bool {
	if len(rest) >= 2 && rest[0] == '-' && rest[1] == '-' {
		return true
	}
	rest = bytes.TrimLeft(rest, " \t")
	return len(rest) == 0 || rest[0] == '\n' || rest[0] == '\r' && (len(rest) == 1 || rest[1] == '\n')
}

// disposition reports whether a part's Content-Disposition names one of
// names (by its name parameter or RFC 2231 name*) and whether the part is
// a file (a non-empty filename or filename*).
func disposition(v []byte, names []string) (match, file bool) {
	for ps := v; len(ps) > 0; {
		var k, val []byte
		var q bool
		k, val, q, ps = nextParam(ps)
		style := pct
		if q {
			style = quoted
		}
		var buf [maxAccount]byte
		switch {
		case bytes.EqualFold(k, paramName):
			if !q {
				style = quoted // a token has no escapes; nothing to decode
				if bytes.IndexByte(val, '\\') >= 0 {
					match = true // odd: count it
				}
			}
			match = match || nameMatches(decodeInto(buf[:0], val, style), names)
		case len(k) > len(paramName) && bytes.EqualFold(k[:len(paramName)], paramName) && k[len(paramName)] == '*':
			// name*=charset'lang'value (RFC 2231); continuations
			// (name*0) are not decoded: count them as a match.
			if !bytes.EqualFold(k, []byte("name*")) {
				match = true
				continue
			}
			if i := bytes.LastIndexByte(val, '\''); i >= 0 {
				val = val[i+1:]
			}
			match = match || nameMatches(decodeInto(buf[:0], val, style), names)
		case len(k) >= len(paramFilename) && bytes.EqualFold(k[:len(paramFilename)], paramFilename):
			file = file || len(val) > 0
		}
	}
	return match, file
}

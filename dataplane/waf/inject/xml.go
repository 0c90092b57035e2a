package inject

import "bytes"

// inspectXML reads an XML body (SOAP included) without an XML parser: a
// single forward pass over the markup that inspects
//
//   - each text node and CDATA section, with XML's character references
//     decoded, at the path of its element: xml./Envelope/Body/login/user;
//   - each attribute value, decoded, at its element's path and
//     "@name": xml./Envelope/Body/a/@href;
//   - each XML declaration, processing instruction, comment and document
//     type declaration, whole, where the xxe and ssi checks find
//     <!DOCTYPE ... SYSTEM>, <!ENTITY, encoding="UTF-7" and <!--#exec.
//
// It needs no well-formedness and builds nothing: element names are
// slices of the body. Markup it cannot follow (a '<' that opens nothing it
// knows, an unterminated comment or tag) ends the pass, and the rest of the
// body is inspected as one value. Nesting past maxXMLDepth is read but not
// named in locations.
func (d *Detector) inspectXML(sc *Scratch, raw []byte) {
	sc.ptr = sc.ptr[:0]
	if !d.sources.Has(SourceXML) {
		d.value(sc, SourceBody, nil, raw, 0)
		return
	}
	sc.xmlJoin, sc.xmlSegs = sc.xmlJoin[:0], 0
	depth := 0
	i := 0
	for i < len(raw) {
		lt := bytes.IndexByte(raw[i:], '<')
		if lt < 0 {
			if !d.xmlText(sc, raw[i:]) {
				d.xmlFlush(sc)
			}
			return
		}
		if lt > 0 && d.xmlText(sc, raw[i:i+lt]) {
			return
		}
		i += lt
		var end int
		switch {
		case hasPrefixAt(raw, i, "<?"):
			end = after(indexFrom(raw, i+2, "?>"), 2)
		case hasPrefixAt(raw, i, "<!--"):
			end = after(indexFrom(raw, i+4, "-->"), 3)
		case hasPrefixAt(raw, i, "<![CDATA["):
			if e := indexFrom(raw, i+9, "]]>"); e >= 0 {
				if d.value(sc, SourceXML, nil, raw[i+9:e], 0) {
					return
				}
				sc.xmlJoin = append(sc.xmlJoin, raw[i+9:e]...)
				sc.xmlSegs++
				i = e + 3
				continue
			}
		case hasPrefixAt(raw, i, "<!"):
			end = declarationEnd(raw, i+2)
		case hasPrefixAt(raw, i, "</"):
			end = after(indexByteFrom(raw, i+2, '>'), 1)
			if d.xmlFlush(sc) {
				return
			}
			if end > 0 {
				if depth > 0 {
					depth--
					if depth < maxXMLDepth && len(sc.ptr) > 0 {
						sc.ptr = sc.ptr[:len(sc.ptr)-1]
					}
				}
				i = end
				continue
			}
		default:
			if d.xmlFlush(sc) {
				return
			}
			var ok, closed bool
			end, closed, ok = d.xmlStartTag(sc, raw, i+1, depth)
			if sc.stopped {
				return
			}
			if ok {
				if !closed {
					depth++
				} else if depth < maxXMLDepth && len(sc.ptr) > 0 {
					sc.ptr = sc.ptr[:len(sc.ptr)-1]
				}
				i = end
				continue
			}
			end = 0
		}
		if end <= 0 {
			// Markup it cannot follow: the rest as one value.
			if d.xmlFlush(sc) {
				return
			}
			sc.ptr = sc.ptr[:0]
			d.value(sc, SourceXML, nil, raw[i:], 0)
			return
		}
		if d.value(sc, SourceXML, nil, raw[i:end], ctxMarkup) {
			return
		}
		i = end
	}
	d.xmlFlush(sc)
}

// after returns the index n bytes past a match at i, or 0 for no match
// (i < 0).
func after(i, n int) int {
	if i < 0 {
		return 0
	}
	return i + n
}

var xincludeNS = []byte("www.w3.org/2001/XInclude")

// maxXMLDepth is the deepest element named in a location.
const maxXMLDepth = 64

// xmlText inspects a text node, decoded, when it is more than white space,
// and adds it to the element's joined text.
func (d *Detector) xmlText(sc *Scratch, t []byte) bool {
	if skipSpace(t, 0) == len(t) {
		return false
	}
	if bytes.IndexByte(t, '&') >= 0 {
		sc.str = htmlDecode(sc.str[:0], t)
		t = sc.str
	}
	sc.xmlJoin = append(sc.xmlJoin, t...)
	sc.xmlSegs++
	return d.value(sc, SourceXML, nil, t, 0)
}

// xmlFlush inspects an element's text as a parser delivers it, when it
// came in more than one piece: text nodes and CDATA sections joined, the
// comments and processing instructions between them dropped
// ("1' UNI<![CDATA[ON SELECT]]>..." is "1' UNION SELECT..." to the
// application). Each piece was inspected on its own already.
func (d *Detector) xmlFlush(sc *Scratch) bool {
	stop := false
	if sc.xmlSegs > 1 {
		stop = d.value(sc, SourceXML, nil, sc.xmlJoin, 0)
	}
	sc.xmlJoin, sc.xmlSegs = sc.xmlJoin[:0], 0
	return stop
}

// xmlStartTag reads the start tag whose name begins at raw[i], pushes the
// element's name on sc.ptr and inspects its attribute values. It returns
// the index after the tag, whether it closed itself ("/>"), and false
// when raw[i:] is not a tag.
func (d *Detector) xmlStartTag(sc *Scratch, raw []byte, i, depth int) (int, bool, bool) {
	end := xmlNameEnd(raw, i)
	if end == i {
		return 0, false, false
	}
	if depth < maxXMLDepth {
		sc.ptr = append(sc.ptr, ptrSeg{key: localName(raw[i:end])})
	}
	j := end
	for {
		j = skipSpace(raw, j)
		if j >= len(raw) {
			return 0, false, false
		}
		switch raw[j] {
		case '>':
			return j + 1, false, true
		case '/':
			if j+1 < len(raw) && raw[j+1] == '>' {
				return j + 2, true, true
			}
			return 0, false, false
		}
		nameEnd := xmlNameEnd(raw, j)
		if nameEnd == j {
			return 0, false, false
		}
		name := raw[j:nameEnd]
		k := skipSpace(raw, nameEnd)
		if k >= len(raw) || raw[k] != '=' {
			return 0, false, false
		}
		k = skipSpace(raw, k+1)
		if k >= len(raw) || (raw[k] != '"' && raw[k] != '\'') {
			return 0, false, false
		}
		q := indexByteFrom(raw, k+1, raw[k])
		if q < 0 {
			return 0, false, false
		}
		val := raw[k+1 : q]
		if bytes.IndexByte(val, '&') >= 0 {
			// Decoded first: the parser compares the namespace with its
			// character references resolved ("X&#73;nclude").
			sc.str = htmlDecode(sc.str[:0], val)
			val = sc.str
		}
		if hasPrefixAt(name, 0, "xmlns") && bytes.Contains(val, xincludeNS) && !d.off.Has(KindXXE) {
			// The XInclude namespace: the parser will fetch what its
			// include elements name.
			d.found(sc, SourceXML, nil, finding{kind: KindXXE, rule: ruleXInclude}, DecodingNone)
			return 0, false, false
		}
		if len(val) > 0 {
			sc.ptr = append(sc.ptr, ptrSeg{key: name, attr: true})
			stop := d.value(sc, SourceXML, nil, val, 0)
			if stop {
				return 0, false, false
			}
			sc.ptr = sc.ptr[:len(sc.ptr)-1]
		}
		j = q + 1
	}
}

// xmlNameEnd returns the end of the XML name at raw[i] (i when none).
func xmlNameEnd(raw []byte, i int) int {
	for i < len(raw) {
		c := raw[i]
		if isAlnum(c) || c == '_' || c == ':' || c == '-' || c == '.' || c >= 0x80 {
			i++
			continue
		}
		break
	}
	return i
}

// localName drops a namespace prefix: soapenv:Body is Body.
func localName(n []byte) []byte {
	if i := bytes.LastIndexByte(n, ':'); i >= 0 && i+1 < len(n) {
		return n[i+1:]
	}
	return n
}

// declarationEnd returns the index after a <!...> declaration whose body
// starts at raw[i]: the first '>' outside an internal subset [...] and
// outside quotes; 0 when there is none.
func declarationEnd(raw []byte, i int) int {
	depth := 0
	var quote byte
	for ; i < len(raw); i++ {
		c := raw[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '"' || c == '\'':
			quote = c
		case c == '[':
			depth++
		case c == ']':
			if depth > 0 {
				depth--
			}
		case c == '>' && depth == 0:
			return i + 1
		}
	}
	return 0
}

package inject

import "bytes"

// libinjection's XSS check flags markup by its names: any style
// attribute, <iframe>, <svg>, <style>, <link> or <meta>, whatever they
// hold. The HTML a rich-text editor or an e-mail template API sends is
// made of exactly those ("<p style="text-align: center;">", a video
// embed, an inline icon). safeRichText lets such a value through when a
// sanitizer would keep every part of it: each tag and attribute is on an
// allowlist, URLs are http(s), relative, mailto:, tel: or an image data:
// URI, and style sheets hold no script, binding, import, escape or
// comment. Anything else (an event handler, <script>, <object>, <form>,
// an HTML comment, an entity in a URL, an unknown tag) keeps the
// detection.

// richTags are the elements kept; the value is the set of their own
// URL attributes besides the common ones.
var richTags = newWordSet("p", "br", "hr", "b", "i", "u", "s", "em", "strong", "small", "sub", "sup", "mark",
	"span", "div", "a", "ul", "ol", "li", "dl", "dt", "dd", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote",
	"pre", "code", "table", "thead", "tbody", "tfoot", "tr", "td", "th", "caption", "col", "colgroup", "img",
	"figure", "figcaption", "font", "center", "section", "article", "header", "footer", "nav", "abbr", "cite",
	"q", "del", "ins", "kbd", "samp", "iframe", "style", "meta", "picture", "source", "video", "audio",
	"svg", "g", "path", "circle", "rect", "line", "polyline", "polygon", "ellipse", "defs", "lineargradient",
	"radialgradient", "stop", "title", "desc", "clippath", "mask", "text", "tspan")

// richAttrs are the attributes kept on any allowed element; URL
// attributes (richURLAttrs) are checked as URLs and style as CSS.
var richAttrs = newWordSet("class", "id", "style", "title", "alt", "width", "height", "align", "valign", "border",
	"cellpadding", "cellspacing", "colspan", "rowspan", "dir", "lang", "role", "target", "rel", "loading",
	"frameborder", "allow", "allowfullscreen", "referrerpolicy", "start", "type", "scope", "headers", "span",
	"size", "color", "face", "charset", "name", "content", "media", "crossorigin", "integrity", "sizes",
	"controls", "muted", "loop", "playsinline", "decoding", "xmlns", "viewbox", "d", "fill", "stroke",
	"stroke-width", "stroke-linecap", "stroke-linejoin", "stroke-dasharray", "fill-rule", "clip-rule",
	"opacity", "fill-opacity", "stroke-opacity", "transform", "x", "y", "x1", "y1", "x2", "y2", "cx", "cy",
	"r", "rx", "ry", "points", "offset", "stop-color", "stop-opacity", "version", "focusable", "aria-hidden",
	"aria-label", "aria-labelledby", "aria-describedby", "gradientunits", "clip-path", "font-size",
	"font-family", "text-anchor", "preserveaspectratio", "href", "src", "srcset", "cite", "poster")

var richURLAttrs = newWordSet("href", "src", "srcset", "cite", "poster")

const maxRichText = 64 << 10

func safeRichText(v []byte) bool {
	if len(v) > maxRichText {
		return false
	}
	tags := 0
	for i := 0; i < len(v); {
		lt := indexByteFrom(v, i, '<')
		if lt < 0 {
			lt = len(v)
		}
		if !safeText(v, i, lt) {
			return false
		}
		if lt == len(v) {
			return tags > 0
		}
		tags++
		j := lt + 1
		if j < len(v) && v[j] == '/' {
			end := identAt(v, j+1)
			if _, ok := richTags.getFold(v[j+1 : end]); !ok || end == j+1 {
				return false
			}
			k := skipSpace(v, end)
			if k >= len(v) || v[k] != '>' {
				return false
			}
			i = k + 1
			continue
		}
		if j >= len(v) || !isLetter(v[j]) {
			if j < len(v) && !isSpaceByte(v[j]) && !isDigit(v[j]) && v[j] != '=' {
				return false // a comment, a declaration, "<?", "<%"...
			}
			i = j // "<" in text: "x < y", "<3", "<="
			continue
		}
		end := identAt(v, j)
		name := v[j:end]
		if _, ok := richTags.getFold(name); !ok {
			return false
		}
		k, ok := richAttributes(v, end, name)
		if !ok {
			return false
		}
		i = k
		if len(name) == 5 && equalFoldLower(name, []byte("style")) {
			// A style sheet runs to its closing tag.
			close := indexFold(v[i:], "</style")
			if close < 0 || !safeCSS(v[i:i+close]) {
				return false
			}
			i += close
		}
	}
	return tags > 0
}

// safeText reports whether the text v[i:end] between tags cannot be read
// as an attribute of a tag around the value ("x\" onerror=alert(1)"): no
// '"', '`' or '=', and "'" only as an apostrophe between letters.
func safeText(v []byte, i, end int) bool {
	for ; i < end; i++ {
		switch v[i] {
		case '"', '`', '=':
			return false
		case '\'':
			if i == 0 || i+1 >= len(v) || !isLetter(v[i-1]) || !isLetter(v[i+1]) {
				return false
			}
		}
	}
	return true
}

// richAttributes reads the attributes of a start tag from v[i] to its
// '>' and returns the index after it; ok is false for an attribute that
// is not on the allowlist or a value that is not safe.
func richAttributes(v []byte, i int, tag []byte) (int, bool) {
	for {
		i = skipSpace(v, i)
		if i >= len(v) {
			return i, false
		}
		switch v[i] {
		case '>':
			return i + 1, true
		case '/':
			if i+1 < len(v) && v[i+1] == '>' {
				return i + 2, true
			}
			return i, false
		}
		start := i
		for i < len(v) && (isAlnum(v[i]) || v[i] == '-' || v[i] == ':') {
			i++
		}
		name := v[start:i]
		if len(name) == 0 {
			return i, false
		}
		if _, known := richAttrs.getFold(name); !known && !hasPrefixFold(name, 0, "aria-") && !dataAttr(name) {
			return i, false
		}
		i = skipSpace(v, i)
		if i >= len(v) || v[i] != '=' {
			continue // a boolean attribute
		}
		i = skipSpace(v, i+1)
		if i >= len(v) {
			return i, false
		}
		var val []byte
		if q := v[i]; q == '"' || q == '\'' {
			end := indexByteFrom(v, i+1, q)
			if end < 0 {
				return i, false
			}
			val, i = v[i+1:end], end+1
		} else {
			s := i
			for i < len(v) && !isSpaceByte(v[i]) && v[i] != '>' {
				i++
			}
			val = v[s:i]
		}
		if !safeAttrValue(name, val) {
			return i, false
		}
		if len(tag) == 6 && equalFoldLower(tag, []byte("iframe")) && !hasPrefixFold(bytes.TrimSpace(val), 0, "https://") {
			if _, url := richURLAttrs.getFold(name); url {
				return i, false // a frame only of an https page
			}
		}
		if len(name) == 5 && equalFoldLower(name, []byte("style")) && bytes.ContainsAny(val, "{}") {
			return i, false // a rule inside a declaration: a parser quirk
		}
	}
}

// safeAttrValue checks one attribute value: URLs by their scheme, style
// as CSS, and no value may name a script scheme or a CSS expression.
func safeAttrValue(name, val []byte) bool {
	if bytes.IndexByte(val, '<') >= 0 || bytes.IndexByte(val, '`') >= 0 || indexFold(val, "script:") >= 0 ||
		indexFold(val, "expression") >= 0 {
		return false
	}
	if len(name) == 5 && equalFoldLower(name, []byte("style")) {
		return safeCSS(val)
	}
	if len(name) == 7 && equalFoldLower(name, []byte("charset")) {
		// UTF-7 and its kin decode markup from plain text.
		return equalFoldLower(val, []byte("utf-8")) || equalFoldLower(val, []byte("iso-8859-1")) ||
			equalFoldLower(val, []byte("windows-1252"))
	}
	if _, ok := richURLAttrs.getFold(name); ok {
		return safeURL(val)
	}
	return true
}

// safeURL: http(s), mailto:, tel:, a relative reference or a raster image
// data: URI, with no entity or backslash that a browser would decode
// into another scheme.
func safeURL(u []byte) bool {
	u = bytes.TrimSpace(u)
	if bytes.Contains(u, []byte("&#")) || bytes.IndexByte(u, '\\') >= 0 {
		return false
	}
	for _, p := range [...]string{"https://", "http://", "mailto:", "tel:", "data:image/png;", "data:image/jpeg;",
		"data:image/gif;", "data:image/webp;"} {
		if hasPrefixFold(u, 0, p) {
			return true
		}
	}
	// A relative reference: no scheme before the first '/', '?' or '#'.
	for _, c := range u {
		switch {
		case c == ':':
			return false
		case c == '/' || c == '?' || c == '#':
			return true
		case c < ' ' || c >= 0x7f:
			return false
		}
	}
	return true
}

// safeCSS: declarations with no script, IE expression or behavior,
// Mozilla binding, @import, CSS escape, comment, markup or attribute
// selector (old parsers' quirks), and url() only to a safe URL that is
// no SVG document.
func safeCSS(c []byte) bool {
	if bytes.IndexByte(c, '\\') >= 0 || bytes.IndexByte(c, '<') >= 0 || bytes.Contains(c, []byte("/*")) ||
		bytes.Contains(c, []byte("&#")) || bytes.IndexByte(c, '[') >= 0 || indexFold(c, ".svg") >= 0 {
		return false
	}
	for _, w := range [...]string{"script", "expression", "behavio", "binding", "@import", "@charset"} {
		if indexFold(c, w) >= 0 {
			return false
		}
	}
	for i := indexFold(c, "url("); i >= 0; {
		j := skipSpace(c, i+4)
		if j < len(c) && (c[j] == '"' || c[j] == '\'') {
			j++
		}
		end := j
		for end < len(c) && c[end] != ')' && c[end] != '"' && c[end] != '\'' {
			end++
		}
		if !safeURL(c[j:end]) || bytes.IndexByte(c[j:end], '(') >= 0 {
			return false
		}
		n := indexFold(c[end:], "url(")
		if n < 0 {
			break
		}
		i = end + n
	}
	return true
}

// dataAttr: a data-* attribute that no script framework reads as code
// (Knockout's data-bind, AngularJS's data-ng-*, htmx's data-hx-*,
// Alpine's data-x-*).
func dataAttr(name []byte) bool {
	if !hasPrefixFold(name, 0, "data-") {
		return false
	}
	for _, p := range [...]string{"data-bind", "data-ng", "data-hx", "data-x-", "data-on", "data-v-"} {
		if hasPrefixFold(name, 0, p) {
			return false
		}
	}
	return true
}

package inject

import "bytes"

// Cross-site scripting without markup (Kind "xss", besides libinjection's
// HTML checks): payloads for a value that an application writes into a
// script, an event handler or a URL attribute, where no tag is needed.
// libinjection parses HTML and lets these through.
//
//   - A script URL: "javascript:", "vbscript:" or "livescript:" (white
//     space, control bytes and "&Tab;" between the letters, as browsers
//     ignore them) at the start of the value or after a quote, '=', '(',
//     '>' or white space, followed by code that calls something ("alert(",
//     "void(", "alert`", "top[...](") and not by white space (or its URL
//     encodings): "JavaScript: the good parts" is prose. A script URL
//     that starts the value or an attribute's value needs only code after
//     it ("javascript:location=name"). And "data:" URLs of HTML,
//     XHTML or SVG documents.
//   - A call of a JavaScript sink written as code: "name(", "name`",
//     "name?.(", "name.call(", "name.apply(", "name.bind(", "(name)(" or
//     "(name)`". alert, prompt, confirm (the probes) and eval, execScript,
//     String.fromCharCode need an argument that is code, not a word: a
//     number, a quote, a backtick, ')', or an expression
//     (document.domain, [1]...); the words alert, prompt and confirm also
//     need no space before '(' ("please confirm (by mail)" is prose) and
//     an argument that is not a single lower-case word ("set an
//     alert(s)"). setTimeout, setInterval and Function evaluate only a
//     string: their first argument must be one (ordinary code passes them
//     a function).
//   - The DOM state an exploit steals or changes: document.cookie,
//     document.domain, document.write(, document["cookie"],
//     window.location=, location.href= (the dotted ones are found with
//     the other dotted names, in code.go).
//
// Like CRS 941170 (javascript: URLs), 941180 (DOM) and 941390
// (JavaScript methods).

const (
	ruleScriptURL = "script_url"
	ruleDataURL   = "data_url"
	ruleJSSink    = "js_sink"
	ruleJSDOM     = "js_dom"
)

const (
	sinkWord   = 1 // an English word too: stricter form required
	sinkCode   = 2 // evaluates its argument: any code-like argument
	sinkString = 3 // evaluates its argument only when it is a string
)

var jsSinks = func() wordSet {
	s := wordSet{}
	for _, w := range []string{"alert", "prompt", "confirm"} {
		s[w] = sinkWord
	}
	for _, w := range []string{"eval", "execscript", "fromcharcode"} {
		s[w] = sinkCode
	}
	for _, w := range []string{"settimeout", "setinterval", "setimmediate", "function"} {
		s[w] = sinkString
	}
	return s
}()

func checkXSSCode(v []byte, m uint64) string {
	if has(m, bColon) && hasAny(m, bLetter) {
		if r := scriptURL(v); r != "" {
			return r
		}
	}
	if hasAny(m, bLParen|bBacktick) && hasAny(m, bLetter) && jsSinkCall(v) {
		return ruleJSSink
	}
	if has(m, bLBracket) && hasAny(m, bLetter) && jsDOMIndex(v) {
		return ruleJSDOM
	}
	return ""
}

// scriptURL finds a script or HTML data URL (see above).
func scriptURL(v []byte) string {
	for i := bytes.IndexByte(v, ':'); i >= 0; i = indexByteFrom(v, i+1, ':') {
		// The scheme ends in 't' (javascript, vbscript, livescript) or
		// 'a' (data); then no white space.
		if i == 0 || (v[i-1]|0x20 != 't' && v[i-1]|0x20 != 'a' && v[i-1] > ' ') || i+1 >= len(v) ||
			isSpaceByte(v[i+1]) || v[i+1] == '+' || hasPrefixAt(v, i+1, "%20") || hasPrefixAt(v, i+1, "%09") {
			continue
		}
		// Read the scheme backwards, skipping what browsers ignore, and
		// remember where each letter is.
		var letters [10]byte
		var at [10]int
		n := 0
		for j := i; j > 0 && n < len(letters); j-- {
			c := v[j-1]
			if isLetter(c) {
				letters[len(letters)-1-n] = lowerASCII(c)
				at[len(at)-1-n] = j - 1
				n++
				continue
			}
			if c > ' ' {
				break
			}
		}
		for _, s := range [...]string{"javascript", "vbscript", "livescript", "data"} {
			if n < len(s) || string(letters[len(letters)-len(s):]) != s {
				continue
			}
			if p := at[len(at)-len(s)]; p > 0 && !isURLStart(v[p-1]) && v[p-1] > ' ' {
				continue
			}
			if s != "data" {
				if callIn(v[i+1:]) || urlValueAt(v, at[len(at)-len(s)]) && codeIn(v[i+1:]) {
					return ruleScriptURL
				}
				continue
			}
			if hasPrefixFold(v, i+1, "text/html") || hasPrefixFold(v, i+1, "application/xhtml") ||
				hasPrefixFold(v, i+1, "image/svg") || hasPrefixFold(v, i+1, "text/xml") {
				return ruleDataURL
			}
		}
	}
	return ""
}

// callIn reports whether the start of a script URL's content calls
// something: an identifier, ')' or ']' followed by '(' or '`'.
func callIn(c []byte) bool {
	c = c[:min(len(c), 256)]
	for i := 1; i < len(c); i++ {
		if (c[i] == '(' || c[i] == '`') && (isIdent(c[i-1]) || c[i-1] == ')' || c[i-1] == ']') {
			return true
		}
	}
	return false
}

// urlValueAt reports whether the scheme at v[p] starts the value (past
// white space and control bytes) or an attribute's value ('=' and maybe a
// quote before it): a URL a link or a redirect takes whole.
func urlValueAt(v []byte, p int) bool {
	for p > 0 && v[p-1] <= ' ' {
		p--
	}
	if p > 0 && (v[p-1] == '"' || v[p-1] == '\'') {
		p--
	}
	return p == 0 || v[p-1] == '='
}

// codeIn reports whether a script URL's content c is code from its first
// byte: an expression's opening ("(", "[", "/re/", a quote, a unary
// operator) or an identifier followed by an assignment, an index or a
// member ("location=name", "top[...]", "self.x"). A word and a space
// ("javascript:a language") is not.
func codeIn(c []byte) bool {
	if len(c) == 0 {
		return false
	}
	switch c[0] {
	case '(', '[', '/', '\'', '"', '`', '!', '~', '+', '-', '{':
		return true
	}
	n := 0
	for n < len(c) && n < 64 && isIdent(c[n]) {
		n++
	}
	if n == 0 || n == len(c) || isDigit(c[0]) {
		return false // a version ("javascript:1.8") is no identifier
	}
	switch c[n] {
	case '=', '[':
		return true
	case '.':
		return n+1 < len(c) && isIdent(c[n+1])
	}
	return false
}

// isURLStart: bytes a URL attribute value or a link may follow.
func isURLStart(c byte) bool {
	return c == '"' || c == '\'' || c == '=' || c == '(' || c == '>' || c == '`' || c == ' ' || c == '\t' ||
		c == '\n' || c == '\r' || c == ',' || c == ';' || c == '[' || c == '{' || c == ':'
}

// jsSinkCall finds a sink called as code (see above).
func jsSinkCall(v []byte) bool {
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c != '(' && c != '`' && c != '.' && c != '?' && c != ')' {
			continue
		}
		// The identifier before v[i].
		start := identBefore(v, i)
		if start == i {
			continue
		}
		if start > 0 && isIdent(v[start-1]) {
			continue
		}
		kind, ok := jsSinks.getFold(v[start:i])
		if !ok {
			continue
		}
		word := kind == sinkWord
		if word && !(v[start] >= 'a' && v[start] <= 'z') {
			continue // "Alert(" is a name in prose more often than code
		}
		if kind == sinkString {
			// setTimeout("code"), Function('code'): a string argument.
			if c == '`' || c == '(' && i+1 < len(v) && (v[i+1] == '\'' || v[i+1] == '"' || v[i+1] == '`') {
				return true
			}
			continue
		}
		switch c {
		case '(':
			if sinkArg(v, i+1, word) {
				return true
			}
		case '`':
			return true
		case '?':
			if hasPrefixAt(v, i, "?.(") {
				return true
			}
		case '.':
			if hasPrefixAt(v, i, ".call(") || hasPrefixAt(v, i, ".apply(") || hasPrefixAt(v, i, ".bind(") {
				return true
			}
		case ')':
			// (alert)(1), (alert)`1`, [1].some(alert)
			if start > 0 && v[start-1] == '(' {
				if i+1 < len(v) && (v[i+1] == '(' || v[i+1] == '`') {
					return true
				}
				if start >= 2 && isIdent(v[start-2]) {
					b := identBefore(v, start-1)
					if b > 0 && v[b-1] == '.' {
						return true // .some(alert), .map(eval)
					}
				}
			}
		}
	}
	return false
}

// sinkArg reports whether the argument list at v[i] starts like code.
func sinkArg(v []byte, i int, word bool) bool {
	if i >= len(v) {
		return !word
	}
	switch c := v[i]; {
	case c == ')' || c == '\'' || c == '"' || c == '`' || c == '[' || c == '/' || c == '{' || c == '-' || c == '!' || c == '+':
		return true
	case isDigit(c):
		return true
	case isLetter(c) || c == '_' || c == '$':
		end := identAt(v, i)
		if end < len(v) && (v[end] == '.' || v[end] == '(' || v[end] == '[') {
			return true
		}
		w := v[i:end]
		if equalFoldString(w, "document") || equalFoldString(w, "window") || equalFoldString(w, "this") ||
			equalFoldString(w, "xss") || equalFoldString(w, "self") || equalFoldString(w, "top") {
			return true
		}
		if !word {
			return true
		}
		// A single word: code only when it is not lower-case prose.
		return end < len(v) && v[end] == ')' && !isLowerWord(w) && len(w) > 1
	}
	return !word
}

func isLowerWord(w []byte) bool {
	for _, c := range w {
		if c < 'a' || c > 'z' {
			return false
		}
	}
	return true
}

// jsDOMIndex finds document["cookie"] and the like; the dotted forms
// (document.cookie) are found by dotted in code.go.
func jsDOMIndex(v []byte) bool {
	for i := bytes.IndexByte(v, '['); i >= 0; {
		if i >= len("document") && hasPrefixFold(v, i-len("document"), "document") {
			k := i + 1
			if k < len(v) && (v[k] == '"' || v[k] == '\'' || v[k] == '`') {
				k++
			}
			if hasPrefixFold(v, k, "cookie") || hasPrefixFold(v, k, "domain") || hasPrefixFold(v, k, "write") {
				return true
			}
		}
		n := bytes.IndexByte(v[i+1:], '[')
		if n < 0 {
			break
		}
		i += 1 + n
	}
	return false
}

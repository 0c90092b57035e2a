package inject

import "bytes"

// Server-side includes (Kind "ssi") and XML external entities (Kind
// "xxe"): markup that a server, not a browser, acts on.
//
// ssi: "<!--#" and a directive (exec, include, echo, config, set,
// printenv, fsize, flastmod, if, elif, else, endif), which Apache's
// mod_include and IIS run when a value lands in a .shtml page (CRS 932
// "SSI" rules).
//
// xxe:
//   - a document type declaration that loads or defines something: an
//     internal subset with <!ENTITY, or an external identifier (SYSTEM, or
//     PUBLIC other than the W3C's own HTML and XHTML DTDs, which an HTML
//     e-mail template carries);
//   - <!ENTITY anywhere (a parameter entity outside a DOCTYPE);
//   - an XML declaration in UTF-7, whose "+ADw-" spelling of '<' hides the
//     markup from byte-level filters;
//   - XInclude (the namespace http://www.w3.org/2001/XInclude, or an
//     xi:include element), which makes the parser fetch a file or URL.
//
// Left out on purpose: xsi:schemaLocation, which e-invoicing (UBL) and
// Maven documents carry, and which only a parser configured to fetch
// schemas follows; Java XML parsers that do should be configured not to.

const (
	ruleSSI       = "ssi_directive"
	ruleDoctype   = "doctype_external"
	ruleEntity    = "entity_declaration"
	ruleUTF7      = "utf7_xml"
	ruleXInclude  = "xinclude"
	maxDoctypeLen = 64 << 10
)

var ssiDirectives = newWordSet("exec", "include", "echo", "config", "set", "printenv", "fsize", "flastmod",
	"if", "elif", "else", "endif")

func checkSSI(v []byte, m uint64) string {
	if !has(m, bLT|bBang|bHash) {
		return ""
	}
	for i := bytes.Index(v, []byte("<!--")); i >= 0; {
		j := skipSpace(v, i+4)
		if j < len(v) && v[j] == '#' {
			end := identAt(v, j+1)
			if _, ok := ssiDirectives.getFold(v[j+1 : end]); ok {
				return ruleSSI
			}
		}
		n := bytes.Index(v[i+4:], []byte("<!--"))
		if n < 0 {
			break
		}
		i += 4 + n
	}
	return ""
}

func checkXXE(v []byte, m uint64) string {
	if !has(m, bLT) {
		return ""
	}
	if has(m, bBang) {
		for i := indexFold(v, "<!doctype"); i >= 0; {
			if doctypeLoads(v[i+len("<!doctype"):]) {
				return ruleDoctype
			}
			n := indexFold(v[i+1:], "<!doctype")
			if n < 0 {
				break
			}
			i += 1 + n
		}
		if indexFold(v, "<!entity") >= 0 {
			return ruleEntity
		}
	}
	if has(m, bQuestion) && utf7Declaration(v) {
		return ruleUTF7
	}
	if has(m, bColon) && (bytes.Contains(v, []byte("www.w3.org/2001/XInclude")) || indexFold(v, "<xi:include") >= 0) {
		return ruleXInclude
	}
	return ""
}

// doctypeLoads reads a DOCTYPE declaration after "<!DOCTYPE" and reports
// whether it has an internal subset declaring entities or an external
// identifier other than the W3C's (X)HTML DTDs.
func doctypeLoads(d []byte) bool {
	if len(d) > maxDoctypeLen {
		d = d[:maxDoctypeLen]
	}
	// The declaration ends at the first '>' outside the internal subset.
	depth := 0
	end := len(d)
	for i, c := range d {
		if c == '[' {
			depth++
		} else if c == ']' && depth > 0 {
			depth--
		} else if c == '>' && depth == 0 {
			end = i
			break
		}
	}
	d = d[:end]
	if sub := bytes.IndexByte(d, '['); sub >= 0 && indexFold(d[sub:], "<!entity") >= 0 {
		return true
	}
	head := d
	if sub := bytes.IndexByte(d, '['); sub >= 0 {
		head = d[:sub]
	}
	if i := indexFold(head, "system"); i >= 0 && (i == 0 || isSpaceByte(head[i-1])) {
		return true
	}
	if i := indexFold(head, "public"); i >= 0 && (i == 0 || isSpaceByte(head[i-1])) {
		j := skipSpace(head, i+len("public"))
		if j < len(head) && (head[j] == '"' || head[j] == '\'') && hasPrefixAt(head, j+1, "-//W3C//DTD ") {
			return false
		}
		return true
	}
	return false
}

// utf7Declaration finds <?xml ... encoding="utf-7" ... ?>.
func utf7Declaration(v []byte) bool {
	i := indexFold(v, "<?xml")
	if i < 0 {
		return false
	}
	end := bytes.Index(v[i:], []byte("?>"))
	if end < 0 {
		end = len(v) - i
	}
	decl := v[i : i+end]
	e := indexFold(decl, "encoding")
	if e < 0 {
		return false
	}
	j := skipSpace(decl, e+len("encoding"))
	if j >= len(decl) || decl[j] != '=' {
		return false
	}
	j = skipSpace(decl, j+1)
	if j < len(decl) && (decl[j] == '"' || decl[j] == '\'') {
		j++
	}
	return hasPrefixFold(decl, j, "utf-7") || hasPrefixFold(decl, j, "utf7") || hasPrefixFold(decl, j, "unicode-1-1-utf-7")
}

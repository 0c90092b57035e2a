package inject

import "bytes"

// Attack tools (Kind "scanner"): the User-Agent of a vulnerability
// scanner, and the out-of-band callback domains that scanners put in
// payloads to learn whether a server fetched or resolved them.
//
//   - User-Agent only: a word of scannerAgents (sqlmap, nikto, nuclei,
//     OpenVAS, Nessus's ".nasl" plugin names, ffuf's "Fuzz Faster U
//     Fool"...), from CRS's scanners-user-agents.data (rule 913100) less
//     the names that are also ordinary words or products;
//   - any value: a host name under an interaction server (Burp
//     Collaborator, oastify.com, interact.sh, the oast.* domains, dnslog.cn,
//     ceye.io, XSS Hunter's xss.ht), which no application has a reason to
//     receive.

const (
	ruleScannerAgent = "scanner_user_agent"
	ruleOASTDomain   = "oast_domain"
)

// scannerAgents are matched as whole words of the User-Agent, lower-cased
// (words are runs of letters, digits, '-' and '_').
var scannerAgents = newWordSet("sqlmap", "nikto", "nuclei", "openvas", "openvasvt", "openvas-vt", "nessus",
	"nasl", "acunetix", "netsparker", "arachni", "w3af", "wpscan", "joomscan", "droopescan", "cmsmap",
	"dirbuster", "gobuster", "feroxbuster", "wfuzz", "ffuf", "masscan", "zgrab", "zmeu", "havij", "commix",
	"fimap", "jbrofuzz", "jorgee", "libwhisker", "morfeus", "nettacker", "sqlninja", "xsstrike", "xsser",
	"skipfish", "wapiti", "appspider", "ironwasp", "webshag", "webbandit", "sysscan", "bfac", "nmap",
	"interactsh", "qualysguard", "n-stalker", "tsunamisecurityscanner", "l9explore", "l9tcpid",
	"bewica-security-scan")

func checkScannerAgent(v []byte) string {
	for i := 0; i < len(v); {
		if !isScanWordByte(v[i]) {
			i++
			continue
		}
		end := i
		for end < len(v) && isScanWordByte(v[end]) {
			end++
		}
		if _, ok := scannerAgents.getFold(v[i:end]); ok {
			return ruleScannerAgent
		}
		i = end
	}
	if indexFold(v, "fuzz faster u fool") >= 0 {
		return ruleScannerAgent
	}
	return ""
}

func isScanWordByte(c byte) bool { return isAlnum(c) || c == '-' || c == '_' }

// oastDomains are interaction-server domains: a label and the labels that
// must follow it.
var oastDomains = map[string][]string{
	"burpcollaborator": {"net"},
	"oastify":          {"com"},
	"interact":         {"sh"},
	"interactsh":       {"com"},
	"oast":             {"me", "pro", "live", "site", "online", "fun"},
	"dnslog":           {"cn"},
	"ceye":             {"io"},
	"xss":              {"ht"},
	"bxss":             {"in", "me"},
	"requestbin":       {"net"},
	"canarytokens":     {"com"},
}

// oastFirst marks the first letters of the labels of oastDomains.
var oastFirst = func() (t [256]bool) {
	for l := range oastDomains {
		t[l[0]] = true
	}
	return t
}()

func checkOAST(v []byte, m uint64) string {
	if !has(m, bDot) || !hasAny(m, bLower|bUpper) {
		return ""
	}
	for i := bytes.IndexByte(v, '.'); i >= 0; {
		start := i
		for start > 0 && isAlnum(v[start-1]) || start > 0 && v[start-1] == '-' {
			start--
		}
		end := i + 1
		for end < len(v) && isAlnum(v[end]) {
			end++
		}
		if label, next := v[start:i], v[i+1:end]; len(label) >= 3 && len(label) <= 16 && oastFirst[lowerASCII(label[0])] &&
			len(next) >= 2 && (end == len(v) || !isAlnum(v[end])) {
			var buf [16]byte
			for k, c := range label {
				buf[k] = lowerASCII(c)
			}
			if tlds, ok := oastDomains[string(buf[:len(label)])]; ok {
				for _, t := range tlds {
					if equalFoldString(next, t) {
						return ruleOASTDomain
					}
				}
			}
		}
		n := bytes.IndexByte(v[i+1:], '.')
		if n < 0 {
			break
		}
		i += 1 + n
	}
	return ""
}

// GraphQL introspection (Kind "graphql_introspection"): a query that asks
// for the schema (__schema, or __type(name: ...)), which maps every type,
// field and argument of an API for an attacker. Production GraphQL
// servers turn it off (Apollo Server does by default); a gateway in front
// of one that does not should refuse it. Only a value that reads as a
// GraphQL document counts: the field is followed by '{' or '('.
const ruleIntrospection = "introspection"

func checkGraphQL(v []byte, m uint64) string {
	if !has(m, bUnder) || !hasAny(m, bLBrace|bLParen) {
		return ""
	}
	for i := bytes.Index(v, []byte("__")); i >= 0; {
		if i == 0 || !isIdent(v[i-1]) {
			var end int
			switch {
			case hasPrefixAt(v, i, "__schema"):
				end = i + len("__schema")
			case hasPrefixAt(v, i, "__type"):
				end = i + len("__type")
			}
			if end > 0 && (end == len(v) || !isIdent(v[end])) {
				k := skipIgnored(v, end)
				// Directives may come between the field and its selection:
				// "__schema @skip(if: false) { ... }".
				for k < len(v) && v[k] == '@' {
					k = skipIgnored(v, skipDirective(v, k+1))
				}
				if k < len(v) && (v[k] == '{' || v[k] == '(') {
					return ruleIntrospection
				}
			}
		}
		n := bytes.Index(v[i+2:], []byte("__"))
		if n < 0 {
			break
		}
		i += 2 + n
	}
	return ""
}

// skipIgnored returns the index after GraphQL's ignored tokens from i:
// white space, commas, '#' comments to the line end, and the byte order
// mark (GraphQL spec §2.1.7).
func skipIgnored(v []byte, i int) int {
	for i < len(v) {
		switch {
		case isSpaceByte(v[i]) || v[i] == ',':
			i++
		case v[i] == '#':
			for i < len(v) && v[i] != '\n' && v[i] != '\r' {
				i++
			}
		case i+2 < len(v) && v[i] == 0xef && v[i+1] == 0xbb && v[i+2] == 0xbf:
			i += 3
		default:
			return i
		}
	}
	return i
}

// skipDirective returns the index after a GraphQL directive's name and
// arguments ("skip(if: false)"), starting past its '@'.
func skipDirective(v []byte, i int) int {
	i = identAt(v, i)
	j := skipSpace(v, i)
	if j < len(v) && v[j] == '(' {
		if e := indexByteFrom(v, j, ')'); e >= 0 {
			return e + 1
		}
	}
	return i
}

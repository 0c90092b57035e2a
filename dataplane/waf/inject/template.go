package inject

import "bytes"

// Server-side template and expression-language injection (Kind
// "template") and Log4j lookups (Kind "jndi").
//
// A template delimiter alone is not an attack: "{{name}}" in a note about a
// mail merge is ordinary, and "${HOME}" is a shell variable. A delimited
// expression counts when it computes something, which a placeholder never
// does:
//   - {{...}}, ${...}, #{...}, *{...}, @{...} (Jinja, Twig, Handlebars,
//     Freemarker, Spring EL, JSF EL, Thymeleaf, Ruby, Mako) whose content
//     has a call '(', a dunder "__" (Python's object graph), or arithmetic
//     between two numbers ("7*7", the probe every scanner sends); ${@...}
//     (PHP's variable-variable with a silenced call) counts too;
//   - {{...}} that starts with a Flask/Jinja object reaching secrets or
//     Python's object graph ({{config}}, {{request.environ}},
//     {{lipsum[...]}}), and ${...} with a JSP/JSF scope object
//     (${applicationScope}, ${pageContext.request});
//   - {%...%} holding a call, a dunder or a statement that loads code
//     (import, include, extends, load, from, debug);
//   - <%...%> (ERB, JSP, ASP) opened with '=', '@', '!' or white space;
//   - FreeMarker directives (<#assign, <#include...) and built-ins that
//     instantiate classes (?new(, ?api.); Velocity directives that run or
//     load code (#set( #evaluate( #include( #parse( #define().
//
// jndi: "${" followed by a Log4j lookup prefix and ':' (jndi:, env:, sys:,
// lower:, upper:, java:, base64:, ::-...), nested "${" allowed, which is
// how Log4Shell (CVE-2021-44228) payloads and their obfuscations start.
//
// Like CRS 934 (generic attacks: SSTI, Log4j) and 944150 (Log4j).

const (
	ruleTemplateExpr      = "template_expression"
	ruleTemplateStatement = "template_statement"
	ruleServerPage        = "server_page_tag"
	ruleFreemarker        = "freemarker"
	ruleVelocity          = "velocity"
	ruleLog4j             = "log4j_lookup"
	maxTemplateExpr       = 512
)

// log4jLookups are Log4j 2 lookup prefixes (before ':'), lower case.
var log4jLookups = newWordSet("jndi", "env", "sys", "lower", "upper", "java", "base64", "ctx", "main",
	"bundle", "k8s", "docker", "spring", "web", "log4j", "date", "sd", "map", "marker", "event", "jvmrunargs")

var freemarkerDirectives = newWordSet("assign", "include", "import", "macro", "function", "global", "local",
	"attempt", "setting", "ftl", "visit", "recurse", "noparse", "compress", "escape", "list", "if")

// templateNeeds: every template syntax has one of these bytes.
const templateNeeds = bLBrace | bLT | bHash | bQuestion

func checkJNDI(v []byte, m uint64) string {
	if !has(m, bDollar|bLBrace) {
		return ""
	}
	for i := 0; i+2 < len(v); i++ {
		if v[i] != '$' || v[i+1] != '{' {
			continue
		}
		j := i + 2
		for hasPrefixAt(v, j, "${") {
			j += 2 // ${${lower:j}ndi:...}
		}
		j = skipSpace(v, j)
		if hasPrefixAt(v, j, "::-") {
			return ruleLog4j
		}
		end := j
		for end < len(v) && end-j <= 12 && isAlnum(v[end]) {
			end++
		}
		if end < len(v) && v[end] == ':' {
			if _, ok := log4jLookups.getFold(v[j:end]); ok {
				return ruleLog4j
			}
		}
	}
	return ""
}

func checkTemplate(v []byte, m uint64) string {
	if has(m, bLBrace) {
		for i := 0; i+1 < len(v); i++ {
			if v[i+1] != '{' {
				continue
			}
			switch v[i] {
			case '{':
				if v[i+1] == '{' {
					if end := indexFrom(v, i+2, "}}"); end >= 0 && (computes(v[i+2:end], false) || jinjaGadget(v[i+2:end])) {
						return ruleTemplateExpr
					}
				}
			case '$', '#', '*', '@':
				if end := indexByteFrom(v, i+2, '}'); end >= 0 && (computes(v[i+2:end], v[i] == '$') || elScope(v[i+2:end])) {
					return ruleTemplateExpr
				}
			}
		}
		if has(m, bPercent) {
			for i := indexFrom(v, 0, "{%"); i >= 0; i = indexFrom(v, i+2, "{%") {
				if end := indexFrom(v, i+2, "%}"); end >= 0 && templateStatement(v[i+2:end]) {
					return ruleTemplateStatement
				}
			}
		}
	}
	if has(m, bLT|bPercent) {
		for i := indexFrom(v, 0, "<%"); i >= 0; i = indexFrom(v, i+2, "<%") {
			if i+2 < len(v) && (v[i+2] == '=' || v[i+2] == '@' || v[i+2] == '!' || isSpaceByte(v[i+2])) &&
				indexFrom(v, i+2, "%>") >= 0 {
				return ruleServerPage
			}
		}
	}
	if has(m, bLT|bHash) {
		for i := indexFrom(v, 0, "<#"); i >= 0; i = indexFrom(v, i+2, "<#") {
			end := identAt(v, i+2)
			if _, ok := freemarkerDirectives.getFold(v[i+2 : end]); ok && end < len(v) && (isSpaceByte(v[end]) || v[end] == '>') {
				return ruleFreemarker
			}
		}
	}
	if has(m, bQuestion) && (indexFrom(v, 0, "?new(") >= 0 || indexFrom(v, 0, "?api.") >= 0) {
		return ruleFreemarker
	}
	if has(m, bHash|bLParen) {
		for i := indexByteFrom(v, 0, '#'); i >= 0; i = indexByteFrom(v, i+1, '#') {
			for _, d := range [...]string{"set", "evaluate", "include", "parse", "define"} {
				if hasPrefixFold(v, i+1, d) {
					j := skipSpace(v, i+1+len(d))
					if j < len(v) && v[j] == '(' {
						return ruleVelocity
					}
				}
			}
		}
	}
	return ""
}

// computes reports whether a delimited expression does more than name a
// value: a call, a dunder, arithmetic between numbers, or (after '$')
// PHP's "@".
func computes(e []byte, dollar bool) bool {
	if len(e) > maxTemplateExpr {
		e = e[:maxTemplateExpr]
	}
	t := skipSpace(e, 0)
	if dollar && t < len(e) && e[t] == '@' {
		return true
	}
	for i := 0; i < len(e); i++ {
		switch c := e[i]; {
		case c == '(':
			if i > 0 && (isIdent(e[i-1]) || e[i-1] == ')' || e[i-1] == ' ' || e[i-1] == '"' || e[i-1] == '\'') {
				return true
			}
		case c == '_' && i+1 < len(e) && e[i+1] == '_':
			return true
		case c == '*' || c == '+' || c == '/' || c == '%' || c == '-':
			if digitBefore(e, i) && digitAfter(e, i+1) {
				return true
			}
		}
	}
	return false
}

// jinjaGadgets are the names a Jinja (Flask) template has in scope that
// reach the application's secrets or Python's object graph: {{config}},
// {{lipsum.__globals__}}, {{cycler.__init__}}... A placeholder in a mail
// template names the recipient's data, not these.
// (range and namespace are left out: Go templates' {{range .Items}} and
// Kubernetes alerts' {{namespace}}.)
var jinjaGadgets = newWordSet("config", "lipsum", "cycler", "joiner", "url_for", "get_flashed_messages", "self")

// requestGadgets are the attributes of Flask's request object that hold
// the server's environment or smuggle strings past filters
// (lipsum[request.args.g]).
var requestGadgets = newWordSet("environ", "application", "args", "form", "values", "cookies", "files",
	"headers", "get_data", "mimetype_params")

// jinjaGadget reports whether expression e starts with one of
// jinjaGadgets (alone, or with a member, an index or a filter), or with
// request and one of requestGadgets.
func jinjaGadget(e []byte) bool {
	i := skipSpace(e, 0)
	end := identAt(e, i)
	if end == i {
		return false
	}
	j := skipSpace(e, end)
	next := byte(0)
	if j < len(e) {
		next = e[j]
	}
	if _, ok := jinjaGadgets.get(e[i:end]); ok {
		return next == 0 || next == '.' || next == '[' || next == '|'
	}
	if string(e[i:end]) == "request" && (next == '.' || next == '[') {
		k := skipSpace(e, j+1)
		if k < len(e) && (e[k] == '\'' || e[k] == '"') {
			k++
		}
		_, ok := requestGadgets.get(e[k:identAt(e, k)])
		return ok
	}
	return false
}

// elScopes are the implicit objects of JSP and JSF expression language
// that expose the server's state: ${applicationScope}, ${pageContext...}.
var elScopes = newWordSet("applicationScope", "sessionScope", "requestScope", "pageScope", "pageContext",
	"initParam", "facesContext")

// elScope reports whether expression e starts with one of elScopes.
func elScope(e []byte) bool {
	i := skipSpace(e, 0)
	_, ok := elScopes.get(e[i:identAt(e, i)])
	return ok
}

// digitBefore and digitAfter find a number next to an operator, past
// spaces and a quote: "7*'7'" is Jinja's probe that tells it from Twig.
func digitBefore(e []byte, i int) bool {
	for i > 0 && e[i-1] == ' ' {
		i--
	}
	if i > 0 && (e[i-1] == '\'' || e[i-1] == '"') {
		i--
	}
	return i > 0 && isDigit(e[i-1])
}

func digitAfter(e []byte, i int) bool {
	for i < len(e) && e[i] == ' ' {
		i++
	}
	if i < len(e) && (e[i] == '\'' || e[i] == '"') {
		i++
	}
	return i < len(e) && isDigit(e[i])
}

// templateStatement reports whether the content of {% ... %} runs or
// loads code.
func templateStatement(s []byte) bool {
	if len(s) > maxTemplateExpr {
		s = s[:maxTemplateExpr]
	}
	if computes(s, false) {
		return true
	}
	i := skipSpace(s, 0)
	end := identAt(s, i)
	for _, w := range [...]string{"import", "include", "extends", "load", "from", "debug", "module", "embed", "source"} {
		if equalFoldString(s[i:end], w) {
			return true
		}
	}
	return false
}

func indexFrom(v []byte, from int, s string) int {
	if from >= len(v) {
		return -1
	}
	i := bytes.Index(v[from:], s2b(s))
	if i < 0 {
		return -1
	}
	return from + i
}

func indexByteFrom(v []byte, from int, c byte) int {
	if from >= len(v) {
		return -1
	}
	i := bytes.IndexByte(v[from:], c)
	if i < 0 {
		return -1
	}
	return from + i
}

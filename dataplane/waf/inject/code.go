package inject

import "bytes"

// Server-side code injection (Kind "code_injection") and JavaScript
// prototype pollution (Kind "prototype_pollution"): a value that is code in
// a language servers evaluate, recognized by constructs that ordinary text
// does not contain.
//
//   - PHP: an opening tag (<?php, <?=), a superglobal ($_GET[...],
//     $GLOBALS[...]), or a call of a function that runs commands, evaluates
//     code or decodes a payload (system, passthru, shell_exec, eval,
//     assert, base64_decode...) with a code-like argument: a quote, a
//     variable, a backtick, another call or nothing ("system('id')",
//     "eval($_POST[x])"); "system(s)" in prose has none of these.
//   - Python: the dunder attributes that walk from any object to os or
//     builtins (__import__, __globals__, __subclasses__, __builtins__,
//     __class__, __mro__, __bases__, __reduce__, __getattribute__), os and
//     subprocess calls, and YAML tags that build objects (!!python/,
//     !!javax., !!java., !!com.sun.).
//   - Java: the classes that run commands or load code
//     (java.lang.Runtime, ProcessBuilder, ScriptEngineManager,
//     java.lang.reflect, Class.forName(, freemarker.template.utility), OGNL
//     context variables (#_memberAccess, @java.lang...) and static access
//     to System (@java.lang.System@getenv()).
//   - .NET: a Razor expression of a namespace that runs processes or
//     reads files (@System.Diagnostics.Process.Start(, @System.IO.File.),
//     reported as a template.
//   - Node.js: child_process, process.mainModule, process.binding(,
//     require('fs'...), this.constructor.constructor(.
//   - Classic ASP / VBScript: Response.Write(, Server.CreateObject(,
//     CreateObject(, WScript.Shell, Server.ScriptTimeout, "On Error Resume
//     Next".
//   - JavaScript statements injected into a server-side evaluator (the
//     MongoDB $where injection): after ';' or '{', "var|let|const name =",
//     "do {", or "}while(".
//
// prototype_pollution: "__proto__", or "constructor" followed by
// "prototype" (.constructor.prototype, [constructor][prototype]), as in
// CRS 934130.
//
// Like CRS 933 (PHP), 932 (Python, YAML), 934 (Node.js, Python) and 944
// (Java).

const (
	rulePHPTag       = "php_tag"
	rulePHPVariable  = "php_superglobal"
	rulePHPCall      = "php_function"
	rulePythonDunder = "python_dunder"
	rulePythonCall   = "python_os_call"
	ruleYAMLTag      = "yaml_object_tag"
	ruleJava         = "java_class"
	ruleNode         = "nodejs"
	ruleASP          = "asp_vbscript"
	ruleJSStatement  = "js_statement"
	ruleProto        = "proto"
	ruleRazor        = "razor"
)

// phpFunctions run commands, evaluate code, decode payloads or read
// files. Functions that only print or hash (print, echo, md5) are left
// out: other languages have them, and the templates check catches the
// probes built on them.
var phpFunctions = newWordSet("system", "exec", "shell_exec", "passthru", "popen", "proc_open", "pcntl_exec",
	"eval", "create_function", "call_user_func", "call_user_func_array", "base64_decode",
	"str_rot13", "gzinflate", "gzuncompress", "file_get_contents", "file_put_contents", "readfile",
	"fsockopen", "phpinfo", "preg_replace", "unserialize", "include_once", "require_once",
	"highlight_file", "show_source", "putenv", "ini_set", "move_uploaded_file")

var pythonDunders = newWordSet("import", "builtins", "globals", "subclasses", "class", "mro", "bases",
	"reduce", "getattribute", "loader", "code")

// codeNeeds: every code construct checked has one of these bytes.
const codeNeeds = bUnder | bLBracket | bQuestion | bDollar | bBang | bDot | bLParen | bHash | bColon | bSemi | bLBrace

func checkCode(v []byte, m uint64) (Kind, string) {
	if has(m, bUnder) {
		if bytes.Contains(v, []byte("__proto__")) {
			return KindPrototypePollution, ruleProto
		}
		if pythonDunder(v) {
			return KindCodeInjection, rulePythonDunder
		}
		if bytes.Contains(v, []byte("child_process")) {
			return KindCodeInjection, ruleNode
		}
	}
	if hasAny(m, bLBracket|bDot) {
		if i := indexFold(v, "constructor"); i >= 0 && protoChain(v[i:]) {
			return KindPrototypePollution, ruleProto
		}
	}
	if has(m, bLT|bQuestion) && (indexFold(v, "<?php") >= 0 || bytes.Contains(v, []byte("<?="))) {
		return KindCodeInjection, rulePHPTag
	}
	if has(m, bDollar|bLBracket) {
		for _, g := range [...]string{"$_GET[", "$_POST[", "$_REQUEST[", "$_SERVER[", "$_COOKIE[", "$_FILES[", "$_ENV[", "$_SESSION[", "$GLOBALS["} {
			if bytes.Contains(v, s2b(g)) {
				return KindCodeInjection, rulePHPVariable
			}
		}
	}
	if has(m, bBang) && bytes.Contains(v, []byte("!!")) {
		for _, t := range [...]string{"!!python/", "!!javax.", "!!java.", "!!com.sun.", "!!ruby/object"} {
			if bytes.Contains(v, s2b(t)) {
				return KindCodeInjection, ruleYAMLTag
			}
		}
	}
	if has(m, bDot) && hasAny(m, bLetter) {
		if k, r := dotted(v); k != KindNone {
			return k, r
		}
	}
	if has(m, bLParen) && hasAny(m, bLetter) {
		if k, r := codeCalls(v); k != KindNone {
			return k, r
		}
	}
	if has(m, bHash) && (bytes.Contains(v, []byte("#_memberAccess")) || bytes.Contains(v, []byte("@java.lang."))) {
		return KindCodeInjection, ruleJava
	}
	if has(m, bColon|bSpace) && indexFold(v, "resume next") >= 0 && indexFold(v, "on error resume next") >= 0 {
		return KindCodeInjection, ruleASP
	}
	if hasAny(m, bSemi|bLBrace) && jsStatement(v) {
		return KindCodeInjection, ruleJSStatement
	}
	return KindNone, ""
}

// dotted looks at each "name.name" of v: the name before the dot picks
// the patterns to compare (java.lang.Runtime, process.mainModule,
// Response.Write(, document.cookie...), so that a value costs a look at
// its dots rather than a search per pattern.
func dotted(v []byte) (Kind, string) {
	for i := bytes.IndexByte(v, '.'); i >= 0; {
		if i > 0 && i+1 < len(v) && isIdent(v[i-1]) && (isLetter(v[i+1]) || v[i+1] == '_') {
			start := identBefore(v, i)
			if k, r := dottedAt(v, start, i); k != KindNone {
				return k, r
			}
		}
		n := bytes.IndexByte(v[i+1:], '.')
		if n < 0 {
			break
		}
		i += 1 + n
	}
	return KindNone, ""
}

// dottedAt checks the patterns of the name v[start:dot].
func dottedAt(v []byte, start, dot int) (Kind, string) {
	n := dot - start
	if n < 2 || n > 11 {
		return KindNone, ""
	}
	var buf [11]byte
	for i := range n {
		buf[i] = lowerASCII(v[start+i])
	}
	any := func(pats ...string) bool {
		for _, p := range pats {
			if hasPrefixFold(v, start, p) {
				return true
			}
		}
		return false
	}
	switch string(buf[:n]) {
	case "java", "javax", "freemarker", "runtime", "class":
		if any("java.lang.runtime", "java.lang.processbuilder", "java.lang.reflect", "java.beans.xmldecoder", "java.lang.system@",
			"javax.naming.", "javax.script.", "freemarker.template.utility", "runtime.getruntime(", "class.forname(") {
			return KindCodeInjection, ruleJava
		}
	case "system":
		// Razor: "@System.Diagnostics.Process.Start(...)" in a value a
		// view renders as a template.
		if start > 0 && v[start-1] == '@' && any("system.diagnostics.", "system.io.", "system.reflection.", "system.net.",
			"system.runtime.", "system.environment.", "system.appdomain.") {
			return KindTemplate, ruleRazor
		}
	case "process", "global":
		if any("process.mainmodule", "process.binding(", "global.process") {
			return KindCodeInjection, ruleNode
		}
	case "response", "server", "wscript":
		if any("response.write(", "server.createobject(", "server.scripttimeout", "wscript.shell") {
			return KindCodeInjection, ruleASP
		}
	case "os", "subprocess", "pty":
		if any("os.system(", "os.popen(", "os.exec", "subprocess.", "pty.spawn(") {
			return KindCodeInjection, rulePythonCall
		}
	case "constructor":
		if protoChain(v[start:]) {
			return KindPrototypePollution, ruleProto
		}
	case "document":
		if any("document.cookie", "document.domain", "document.write", "document.location") {
			return KindXSS, ruleJSDOM
		}
	case "window":
		if any("window.location=", "window.location.href=") {
			return KindXSS, ruleJSDOM
		}
	case "location":
		if any("location.href=") {
			return KindXSS, ruleJSDOM
		}
	}
	return KindNone, ""
}

// codeCalls looks at each call "name(" of v for the Java, Node.js and
// ASP constructors and loaders (ProcessBuilder(, ScriptEngineManager(,
// CreateObject(, require('child_process')) and PHP's functions (phpCall).
func codeCalls(v []byte) (Kind, string) {
	for i := bytes.IndexByte(v, '('); i >= 0; {
		end := i
		for end > 0 && v[end-1] == ' ' {
			end--
		}
		start := identBefore(v, end)
		if n := end - start; n >= 4 && n <= 19 && (start == 0 || !isIdent(v[start-1])) {
			var buf [19]byte
			for k := range n {
				buf[k] = lowerASCII(v[start+k])
			}
			switch string(buf[:n]) {
			case "processbuilder", "scriptenginemanager":
				return KindCodeInjection, ruleJava
			case "createobject":
				return KindCodeInjection, ruleASP
			case "require":
				if nodeRequire(v[start:]) {
					return KindCodeInjection, ruleNode
				}
			}
		}
		n := bytes.IndexByte(v[i+1:], '(')
		if n < 0 {
			break
		}
		i += 1 + n
	}
	if phpCall(v) {
		return KindCodeInjection, rulePHPCall
	}
	return KindNone, ""
}

// pythonDunder finds "__name__" with name in pythonDunders.
func pythonDunder(v []byte) bool {
	for i := bytes.Index(v, []byte("__")); i >= 0 && i+2 < len(v); {
		end := identAt(v, i+2)
		name := v[i+2 : end]
		for len(name) > 0 && name[len(name)-1] == '_' {
			name = name[:len(name)-1]
		}
		if _, ok := pythonDunders.get(name); ok && hasPrefixAt(v, i+2+len(name), "__") {
			return true
		}
		j := bytes.Index(v[i+2:], []byte("__"))
		if j < 0 {
			return false
		}
		i += 2 + j
	}
	return false
}

// protoChain finds "constructor" then, past at most two quote or bracket
// or dot bytes, "prototype"; or ".constructor.constructor(" (the path to
// Function from any object).
func protoChain(v []byte) bool {
	for i := indexFold(v, "constructor"); i >= 0; {
		j := i + len("constructor")
		k := j
		for k < len(v) && k-j < 4 && (v[k] == '.' || v[k] == '[' || v[k] == ']' || v[k] == '"' || v[k] == '\'') {
			k++
		}
		if k > j && (hasPrefixFold(v, k, "prototype") || hasPrefixFold(v, k, "constructor(")) {
			return true
		}
		n := indexFold(v[j:], "constructor")
		if n < 0 {
			return false
		}
		i = j + n
	}
	return false
}

// phpCall finds a call of a function of phpFunctions, written as a call
// (not preceded by a letter, '.' or "->"), with a code-like argument.
func phpCall(v []byte) bool {
	for i := 0; i < len(v); i++ {
		if v[i] != '(' {
			continue
		}
		end := i
		for end > 0 && v[end-1] == ' ' {
			end--
		}
		start := identBefore(v, end)
		if start == end {
			continue
		}
		if start > 0 && (isAlnum(v[start-1]) || v[start-1] == '.' || v[start-1] == '>' || v[start-1] == '$') {
			continue
		}
		if end != i && !isPHPOnly(v[start:end]) {
			continue // "system (s)": prose spacing, unless the name is PHP's own
		}
		if _, ok := phpFunctions.getFold(v[start:end]); !ok {
			continue
		}
		if codeArg(v, i+1) {
			return true
		}
	}
	return false
}

// isPHPOnly: names that only PHP code contains.
func isPHPOnly(name []byte) bool { return bytes.IndexByte(name, '_') >= 0 }

// codeArg reports whether the argument list starting at v[i] begins like
// code: a quote, a variable, a backtick, a call, or ')' closing an empty
// list.
func codeArg(v []byte, i int) bool {
	i = skipSpace(v, i)
	if i >= len(v) {
		return false
	}
	switch v[i] {
	case '\'', '"', '`', '$', ')', '@':
		return true
	}
	end := identAt(v, i)
	if end > i && end < len(v) && v[end] == '(' {
		return true
	}
	return false
}

// nodeRequire finds require('<module>') of a module that reaches the
// system.
func nodeRequire(v []byte) bool {
	for i := indexFold(v, "require("); i >= 0; {
		j := skipSpace(v, i+len("require("))
		if j < len(v) && (v[j] == '\'' || v[j] == '"' || v[j] == '`') {
			for _, mod := range [...]string{"child_process", "fs", "net", "vm", "os", "http", "process"} {
				if hasPrefixAt(v, j+1, mod) && j+1+len(mod) < len(v) && v[j+1+len(mod)] == v[j] {
					return true
				}
			}
		}
		n := indexFold(v[i+1:], "require(")
		if n < 0 {
			return false
		}
		i += 1 + n
	}
	return false
}

// jsStatement finds a JavaScript statement after ';' or '{': a variable
// declaration with an initializer, "do {", or "}while(".
func jsStatement(v []byte) bool {
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c != ';' && c != '{' && c != '}' {
			continue
		}
		j := skipSpace(v, i+1)
		if c == '}' {
			if hasPrefixAt(v, j, "while") {
				k := skipSpace(v, j+5)
				if k < len(v) && v[k] == '(' {
					return true
				}
			}
			continue
		}
		switch {
		case hasPrefixAt(v, j, "var ") || hasPrefixAt(v, j, "let ") || hasPrefixAt(v, j, "const "):
			k := skipSpace(v, j+bytes.IndexByte(v[j:], ' '))
			end := identAt(v, k)
			if end > k {
				e := skipSpace(v, end)
				if e < len(v) && v[e] == '=' && (e+1 >= len(v) || v[e+1] != '=') {
					return true
				}
			}
		case hasPrefixAt(v, j, "do"):
			k := skipSpace(v, j+2)
			if k < len(v) && v[k] == '{' {
				return true
			}
		}
	}
	return false
}

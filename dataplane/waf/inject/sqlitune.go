package inject

import (
	"bytes"
	"strings"

	"github.com/corazawaf/libinjection-go"
)

// libinjection flags a value when its fingerprint (the types of its first
// five tokens, folded) is in a blacklist. A few short fingerprints are
// shared by attacks and by ordinary text; for them tier 1 asks for a second
// signal that the attacks in libinjection's own sample files all have and
// the ordinary text in its false-positive file lacks. Figures are from
// libinjection's data/ directory at commit 85e252a (17,214 SQLi samples,
// 421 false positives) with libinjection-go v0.3.6:
//
//	fingerprint  attack samples  false positives  second signal
//	sos          172             12               see below
//	s&s           32              2               see below
//	1&1           27              2               a comparison: = < > LIKE BETWEEN REGEXP RLIKE,
//	                                               and not a numericConjunction
//	1c            16              3               only numbers and operators before the comment
//	nc, n&v,
//	Enknk          0              3               none: never a detection alone
//	f(1)n          0              0               the function is no aggregate or
//	                                               arithmetic one: "max(3) per order"
//	                                               is text, "sleep(5) x" is not
//
// sos and s&s are "string, operator (or AND/OR), string": the value closes
// a string, adds an operator and opens another ("1' OR '1"). Every attack
// sample but five uses single quotes; the false positives use double
// quotes as quotation marks ('SMALL "&" SIGN', '"LIKE" STAMP',
// '<A HREF="/APPS/">'). So when the value has no single quote (the strings
// can only be double-quoted) the first '"' must read as a closing quote,
// after a letter or digit ('1"OR!"0'), not as an opening quotation mark
// (at the start, or after white space, '=', '(' or ',').
//
// nc ("x/*"), n&v ("john or@var.es") and Enknk ("select x from y where")
// cannot leave a string or a number: a bare word and a comment, a word
// and a variable, or a statement with no quote to end the application's.
//
// The values still blocked in the false-positive file with these rules,
// and why, are listed in TestLibinjectionSamples.
func weakSQLi(sc *Scratch, fp string, v []byte) bool {
	switch fp {
	case "nc", "n&v", "Enknk":
		return true
	case "f(1)n":
		return harmlessCall(v) || proseCall(fp, v)
	case "n;Tn", "n;Tnn":
		return proseClause(v)
	case "sos", "s&s":
		q := bytes.IndexByte(v, '"')
		if q < 0 {
			return fp == "s&s" && quotedOperatorWord(v)
		}
		if bytes.IndexByte(v, '\'') >= 0 {
			// Both quotes: does the detection need the double ones?
			b := append(sc.norm[:0], v...)
			for i, c := range b {
				if c == '"' {
					b[i] = ' '
				}
			}
			sc.norm = b
			if is, _ := libinjection.IsSQLi(b2s(b)); is {
				return false
			}
		}
		return q == 0 || isQuotationStart(v[q-1])
	case "1&1":
		return !hasComparison(v) || numericConjunction(v)
	case "1c":
		return !numericBeforeComment(v)
	}
	return booleanSearch(fp, v) || proseCall(fp, v)
}

// quotedOperatorWord: the s&s of prose that quotes a word ("Why I love
// 'or' statements", "select 'and'"): single quotes only, the first one
// opening a quotation (at the start or after white space) around one
// lower-case word that touches both quotes, other words outside it, and
// no digit, comparison, comment or ';'. The attacks close the
// application's string first ("x' OR 'x"), compare ("' or 'a'='a", "' or
// '1"), or stand alone in MySQL's implicit-conversion spellings ("'OR'",
// "' OR '", "A 'OR' B", from libinjection's samples).
func quotedOperatorWord(v []byte) bool {
	q := bytes.IndexByte(v, '\'')
	if q < 0 || q > 0 && !isSQLWhite(v[q-1]) {
		return false
	}
	end := q + 1
	for end < len(v) && v[end] >= 'a' && v[end] <= 'z' {
		end++
	}
	if end == q+1 || end >= len(v) || v[end] != '\'' {
		return false
	}
	outside := false
	for _, c := range v[:q] {
		outside = outside || isLetter(c)
	}
	for _, c := range v[end+1:] {
		outside = outside || isLetter(c)
	}
	return outside && !sqlSignal(v)
}

// booleanSearch: a fingerprint of words, AND/OR/NOT and parentheses only
// ("n&n)&": "(red OR blue) AND shoes", the syntax of search boxes) on a
// value with no digit, quote, comparison, comment or ';': nothing in it
// can end the application's string or number.
func booleanSearch(fp string, v []byte) bool {
	for i := 0; i < len(fp); i++ {
		if c := fp[i]; c != 'n' && c != '&' && c != '(' && c != ')' {
			return false
		}
	}
	return bytes.IndexByte(v, '\'') < 0 && bytes.IndexByte(v, '"') < 0 && bytes.IndexByte(v, '`') < 0 && !sqlSignal(v)
}

// sqlSignal: a digit, a comparison, a comment, ';' or '@' in v.
func sqlSignal(v []byte) bool {
	for _, c := range v {
		if isDigit(c) || c == ';' || c == '@' || c == '#' {
			return true
		}
	}
	return hasComparison(v) || bytes.Contains(v, []byte("--")) || bytes.Contains(v, []byte("/*"))
}

// checkQuoteComment finds the login bypass that libinjection reads only in
// its "admin'--" spelling (Kind "sqli", rule "quote_comment"): a value's
// first quote, right after a single token ("admin", "1", an email), then
// a comment that cuts the rest of the application's query and ends the
// value: "admin'#", "admin' -- -", "1'-- ", "admin'/*".
func checkQuoteComment(v []byte, m uint64) string {
	if !has(m, bQuote) || !hasAny(m, bHash|bDash) {
		return ""
	}
	q := bytes.IndexByte(v, '\'')
	if q == 0 {
		return "" // "'#hashtag'": a quotation, not a token's end
	}
	for i := 0; i < q; i++ {
		if c := v[i]; isSQLWhite(c) || c == '"' || c == '(' || c == ')' {
			return ""
		}
	}
	i := q + 1
	for i < len(v) && isSQLWhite(v[i]) {
		i++
	}
	switch {
	case i < len(v) && v[i] == '#':
		i++
	case i+1 < len(v) && (v[i] == '-' && v[i+1] == '-' || v[i] == '/' && v[i+1] == '*'):
		i += 2
	default:
		return ""
	}
	// The comment ends the value: nothing but white space and comment
	// bytes after it ("admin' -- -", "admin'/*"). "Parents' #1 choice",
	// "Girls' -- sizes 7-16" and "12' #10 AWG" go on with text.
	for ; i < len(v); i++ {
		if c := v[i]; !isSQLWhite(c) && c != '-' && c != '*' && c != '/' && c != '#' {
			return ""
		}
	}
	return ruleQuoteComment
}

const ruleQuoteComment = "quote_comment"

func isQuotationStart(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '=' || c == '(' || c == ',' || c == '['
}

// hasComparison: a comparison operator or a comparison keyword.
func hasComparison(v []byte) bool {
	if bytes.IndexByte(v, '=') >= 0 || bytes.IndexByte(v, '<') >= 0 || bytes.IndexByte(v, '>') >= 0 {
		return true
	}
	for _, w := range [...]string{"like", "between", "regexp", "rlike"} {
		if indexFold(v, w) >= 0 {
			return true
		}
	}
	return false
}

// numericBeforeComment: what comes before the first comment ("--", "/*",
// "#") is numbers, white space and operators only ("1 --", "1*1/*").
func numericBeforeComment(v []byte) bool {
	end := len(v)
	for _, c := range [...]string{"--", "/*", "#"} {
		if i := bytes.Index(v, s2b(c)); i >= 0 && i < end {
			end = i
		}
	}
	if end == len(v) {
		return false
	}
	for _, c := range v[:end] {
		if !isDigit(c) && !isSQLWhite(c) && strings.IndexByte("*+-/!=<>%^&|~.", c) < 0 {
			return false
		}
	}
	return true
}

// libinjection misses some boolean probes whose first tokens fold into a
// fingerprint it does not list, such as sqlmap's
// "123) AND 12=12 AND JSON_DEPTH('{}') != 2521" and
// "-1134') OR JSON_EXTRACT(...) = 9648*7799 AND ('QlYa' LIKE 'QlYa".
// checkTautology adds one signal for them (Kind "sqli", rule
// "tautology"): AND, OR, XOR, && or || followed (past spaces and
// parentheses) by a comparison of two literals, numbers or quoted strings
// (the last may be left open for the application's quote to close):
// "AND 12=12", "OR 1=2", "AND ('a' LIKE 'a". Prose has no literal on both
// sides of a comparison after "and" ("between 1 and 10", "x < y and y >
// z"). Like CRS 942130 (SQL tautologies).
const ruleTautology = "tautology"

func checkTautology(v []byte, m uint64) string {
	if !hasAny(m, bDigit|bQuote|bDQuote) || !hasAny(m, bLetter|bAmp|bPipe) {
		return ""
	}
	if !hasAny(m, bEq|bLT|bGT) && (!hasAny(m, bQuote|bDQuote) || indexFold(v, "like") < 0) {
		return ""
	}
	for i := 0; i < len(v); i++ {
		var n int
		switch c := v[i]; {
		case c == '&' || c == '|':
			if i+1 < len(v) && v[i+1] == c {
				n = 2
			}
		case c == 'a' || c == 'A' || c == 'o' || c == 'O' || c == 'x' || c == 'X':
			if i > 0 && isIdent(v[i-1]) {
				continue
			}
			switch {
			case hasPrefixFold(v, i, "and"), hasPrefixFold(v, i, "xor"):
				n = 3
			case hasPrefixFold(v, i, "or"):
				n = 2
			}
			if n > 0 && i+n < len(v) && isIdent(v[i+n]) {
				n = 0
			}
		}
		if n > 0 && literalComparison(v, i+n) {
			if numericConjunction(v) {
				return ""
			}
			return ruleTautology
		}
	}
	return ""
}

// literalComparison reads "literal op literal" at v[i], past white space
// and opening parentheses.
func literalComparison(v []byte, i int) bool {
	for i < len(v) && (isSQLWhite(v[i]) || v[i] == '(' || v[i] == '+') {
		i++
	}
	j, ok := sqlLiteral(v, i, false)
	if !ok {
		return false
	}
	j = skipSQLWhite(v, j)
	switch {
	case hasPrefixAt(v, j, "<=>"):
		j += 3
	case hasPrefixAt(v, j, "==") || hasPrefixAt(v, j, "!=") || hasPrefixAt(v, j, "<>") || hasPrefixAt(v, j, ">=") || hasPrefixAt(v, j, "<="):
		j += 2
	case j < len(v) && (v[j] == '=' || v[j] == '<' || v[j] == '>'):
		j++
	case hasPrefixFold(v, j, "like") && j+4 < len(v) && !isIdent(v[j+4]):
		j += 4
	default:
		return false
	}
	j = skipSQLWhite(v, j)
	_, ok = sqlLiteral(v, j, true)
	return ok
}

func skipSQLWhite(v []byte, i int) int {
	for i < len(v) && isSQLWhite(v[i]) {
		i++
	}
	return i
}

// sqlLiteral reads a number or a quoted string at v[i] and returns the
// index after it; open allows a string left open at the end of v.
func sqlLiteral(v []byte, i int, open bool) (int, bool) {
	if i >= len(v) {
		return i, false
	}
	switch c := v[i]; {
	case c == '\'' || c == '"':
		if q := bytes.IndexByte(v[i+1:], c); q >= 0 {
			return i + 2 + q, true
		}
		return len(v), open && len(v)-i > 1
	case isDigit(c) || c == '-' && i+1 < len(v) && isDigit(v[i+1]):
		j := i + 1
		for j < len(v) && (isDigit(v[j]) || v[j] == '.') {
			j++
		}
		if j < len(v) && isIdent(v[j]) {
			return i, false // 12abc: not a number
		}
		return j, true
	}
	return i, false
}

// numericConjunction reports whether v is nothing but comparisons of two
// numbers by < > <= >=, joined by && or AND, the first of them false for
// a left side of 0 ("2 > 1 && 1 < 2", "1 > 0 and 2 < 3"): the math or
// logic a search box gets, and no injection. Where a number is expected
// (WHERE id = <v>), MySQL reads "id = 2 > 1" as "(id = 2) > 1", a 0 or
// 1 compared with 1: the first comparison selects at most the rows the
// bare number would (when true for 1 alone) or none, and AND adds only
// constants. A first comparison true for 0 ("1 < 2 && ...": id != 1 or
// every row) or an OR makes a tautology: those stay detections. Other
// databases refuse the syntax or (SQLite) compare id with 0 or 1.
func numericConjunction(v []byte) bool {
	i := skipSQLWhite(v, 0)
	for k := 0; ; k++ {
		j, ok := sqlNumber(v, i)
		if !ok {
			return false
		}
		j = skipSQLWhite(v, j)
		if j >= len(v) || v[j] != '<' && v[j] != '>' {
			return false
		}
		less, orEqual := v[j] == '<', j+1 < len(v) && v[j+1] == '='
		if orEqual {
			j++
		}
		end, ok := sqlNumber(v, skipSQLWhite(v, j+1))
		if !ok {
			return false
		}
		if k == 0 {
			// 0 against the right side, a number >= 0.
			zero := bytes.IndexFunc(v[j+1:end], func(r rune) bool { return r >= '1' && r <= '9' }) < 0
			if less && !zero || orEqual && zero {
				return false
			}
		}
		j = end
		i = skipSQLWhite(v, j)
		switch {
		case i == len(v):
			return k > 0
		case hasPrefixAt(v, i, "&&"):
			i += 2
		case hasPrefixFold(v, i, "and") && i > j && i+3 < len(v) && isSQLWhite(v[i+3]):
			i += 3
		default:
			return false
		}
		i = skipSQLWhite(v, i)
	}
}

// sqlNumber reads an unsigned decimal number at v[i] ("12", "1.5") and
// returns the index after it.
func sqlNumber(v []byte, i int) (int, bool) {
	j, dot := i, false
	for j < len(v) && (isDigit(v[j]) || v[j] == '.' && !dot) {
		dot = dot || v[j] == '.'
		j++
	}
	if j == i || v[i] == '.' || v[j-1] == '.' || j < len(v) && isIdent(v[j]) {
		return i, false
	}
	return j, true
}

// harmlessCall: the value starts with an aggregate or arithmetic function
// of one number ("max(3) per order", "Count(3) items left") and names no
// SQL keyword or time-based function anywhere after it.
func harmlessCall(v []byte) bool {
	open := bytes.IndexByte(v, '(')
	if open <= 0 {
		return false
	}
	fn := strings.ToLower(strings.TrimSpace(string(v[:open])))
	switch fn {
	case "min", "max", "count", "avg", "sum", "abs", "round", "len", "length":
	default:
		return false
	}
	lower := bytes.ToLower(v[open:])
	for _, w := range []string{"select", "union", "sleep", "benchmark", "waitfor", "delay", "insert", "update", "delete", "drop", "exec", "or ", "and ", "--", "#", ";"} {
		if bytes.Contains(lower, []byte(w)) {
			return false
		}
	}
	return true
}

// proseCall: a fingerprint of words, numbers and operators around a
// function call ("f(n)", "nf(1)", "f(n)o") on a value that only calls
// functions of no effect on plain arguments: a label, a title or an
// expression ("Date (UTC)", "Groundhog Day (1993)", "Length (cm)",
// "count(up)", "sum(up) / count(up)", "year(BirthDate) eq 1990"). With no
// quote, comment, comparison, ';' or keyword, the value cannot leave the
// application's string, and where a number or a column is expected a call
// of a plain function changes nothing an attacker wants; the calls that
// do (sleep, benchmark, load_file, extractvalue, utl_http...), nested
// calls and subqueries stay detections. A CSS custom property, "var(--
// brand)", comments out its own closing parenthesis: the query that is
// left cannot parse.
func proseCall(fp string, v []byte) bool {
	if !strings.HasPrefix(fp, "f(") && !strings.HasPrefix(fp, "nf(") {
		return false
	}
	for i := 0; i < len(fp); i++ {
		switch fp[i] {
		case 'n', 'f', '1', '(', ')', 'o':
		default:
			return false
		}
	}
	depth := 0
	for i := 0; i < len(v); i++ {
		switch c := v[i]; c {
		case '\'', '"', '`', ';', '=', '<', '>', '@', '#', '\\', '\n', '\r', '{', '[':
			return false
		case '(':
			if depth++; depth > 1 || effectCall(v, i) {
				return false
			}
		case ')':
			depth--
		case '-':
			if i+1 < len(v) && v[i+1] == '-' && (depth == 0 || i == 0 || v[i-1] != '(' || i+2 >= len(v) || !isLetter(v[i+2])) {
				return false
			}
		case '/':
			if i+1 < len(v) && v[i+1] == '*' {
				return false
			}
		default:
			if isLetter(c) && (i == 0 || !isIdent(v[i-1])) && sqlClauseWord(v, i) {
				return false
			}
		}
	}
	return depth == 0
}

// effectCall reports whether the word before the '(' at v[open] names a
// function with an effect an attacker calls for: a delay, a file or
// network access, an error that carries data, or a vendor package
// (utl_, dbms_, xp_, sp_, pg_, lo_, sys_).
func effectCall(v []byte, open int) bool {
	end := open
	for end > 0 && isSQLWhite(v[end-1]) {
		end--
	}
	start := end
	for start > 0 && isIdent(v[start-1]) {
		start--
	}
	w := v[start:end]
	for _, p := range [...]string{"utl_", "dbms_", "xp_", "sp_", "pg_", "lo_", "sys_", "sys."} {
		if hasPrefixFold(w, 0, p) {
			return true
		}
	}
	_, ok := effectFunctions.getFold(w)
	return ok
}

var effectFunctions = newWordSet("sleep", "benchmark", "randomblob", "zeroblob", "load_file", "extractvalue",
	"updatexml", "get_lock", "master_pos_wait", "dblink", "openrowset", "opendatasource", "openquery", "exec",
	"execute", "waitfor", "if", "iif", "case", "elt", "make_set", "exp", "json_keys", "gtid_subset", "polygon",
	"multipoint", "linestring", "geometrycollection", "multipolygon", "multilinestring", "name_const", "row", "user",
	"database", "version", "schema")

// sqlClauseWord reports whether the word at v[i] is a keyword that
// builds a query or a condition (proseCall: none may follow the call).
func sqlClauseWord(v []byte, i int) bool {
	end := i
	for end < len(v) && isIdent(v[end]) {
		end++
	}
	_, ok := clauseWords.getFold(v[i:end])
	return ok
}

var clauseWords = newWordSet("select", "union", "from", "where", "and", "or", "xor", "like", "rlike", "regexp",
	"case", "when", "into", "exec", "execute", "waitfor", "delay", "insert", "update", "delete", "drop", "having",
	"order", "group", "limit", "procedure", "sleep", "benchmark", "declare", "begin", "end")

// proseClause: a word, ';' and a clause that starts with IF or USE in
// prose ("Thanks; if you need anything", "Fragile; use the side
// entrance"): a stacked IF needs a condition and USE a database name and
// nothing after it, and the value has no quote, comment, parenthesis,
// comparison or '@' to give either one.
func proseClause(v []byte) bool {
	semi := bytes.IndexByte(v, ';')
	if semi < 0 || bytes.ContainsAny(v, "'\"`()=<>@#") || bytes.Contains(v, []byte("--")) || bytes.Contains(v, []byte("/*")) {
		return false
	}
	i := skipSQLWhite(v, semi+1)
	end := i
	for end < len(v) && isLetter(v[end]) {
		end++
	}
	w := v[i:end]
	if !(len(w) == 2 && hasPrefixFold(w, 0, "if")) && !(len(w) == 3 && hasPrefixFold(w, 0, "use")) {
		return false
	}
	// Prose goes on for words after the clause's first one.
	words := 0
	for j := end; j < len(v); {
		j = skipSQLWhite(v, j)
		k := j
		for k < len(v) && isIdent(v[k]) {
			k++
		}
		if k == j {
			j++
			continue
		}
		words++
		j = k
	}
	return words >= 2
}

package inject

import (
	"bytes"
	"regexp"
)

// checkSQLStatement finds the SQL that libinjection has no fingerprint
// for because its words are not in libinjection's keyword table or its
// token sequence folds into one it does not list: MSSQL's WAITFOR DELAY,
// PostgreSQL's COPY ... TO PROGRAM (a shell command), MySQL's PROCEDURE
// ANALYSE and its error-based geometry and GTID functions, system
// variables (@@version), and statements stacked after a ';' that change
// the database or read its secrets (SHUTDOWN, TRUNCATE TABLE, GRANT,
// CREATE USER, ALTER TABLE, REPLACE INTO, ATTACH DATABASE, DO $$, SET
// GLOBAL, BACKUP ... TO DISK, a SELECT ... FROM), and UNION VALUES or UNION TABLE after an
// injected value; the blind oracles libinjection reads as harmless calls:
// CASE WHEN subqueries, SQLite's GLOB and RANDOMBLOB, a delay after an
// ORDER BY value. Each pattern asks for the syntax the
// statement needs (a quoted delay, a quoted program, "on *.*"), which
// prose lacks.
//
// Each regular expression is anchored and runs only where a literal
// anchor was found first (the keyword, "@@", a function name before '('),
// on a bounded window: a clean value costs a byte scan, never a regexp
// pass over the whole of it.
const ruleSQLStatement = "sql_statement"

// sqlWS is SQL white space: blanks and /* */ comments.
const sqlWS, sqlWS0 = `(?:[\s\x0b]|/\*.*?\*/)+`, `(?:[\s\x0b]|/\*.*?\*/)*`

// sqlName is a (qualified, quoted) table or database name.
const sqlName = `[\w.\x60"\[\]]+`

// stmtWindow bounds the bytes a pattern reads from its anchor: comments
// inside a statement can pad it, up to this (a small window also keeps
// the regexp engine on its cheap paths).
const stmtWindow = 512

var (
	rxWaitfor = regexp.MustCompile(`(?is)^waitfor` + sqlWS + `(?:delay|time)` + sqlWS0 + `['"]` + sqlWS0 + `\d`)
	rxAnalyse = regexp.MustCompile(`(?is)^procedure` + sqlWS + `analyse` + sqlWS0 + `\(`)
	rxSysVar  = regexp.MustCompile(`(?i)^@@(?:global\.|session\.)?(?:version\w*|datadir|hostname|basedir|tmpdir|` +
		`servername|spid|language|identity|rowcount|secure_file_priv|plugin_dir|port|innodb_\w+|have_\w+)\b`)
	rxStacked = regexp.MustCompile(`(?is)^(?:shutdown` + sqlWS0 + `(?:$|--|#|;|/\*|with` + sqlWS + `nowait)` +
		`|copy` + sqlWS0 + `[\w."]*` + sqlWS0 + `(?:\(.*?\))?` + sqlWS0 + `(?:to|from)` + sqlWS + `program` + sqlWS0 + `(?:[eE]?['"]|\$\$)` +
		`|truncate` + sqlWS0 + `(?:table` + sqlWS + `)?[\w."\x60\[\]]+` +
		`|grant` + sqlWS + `\S.*?` + sqlWS + `(?:on|to)` + sqlWS0 + `\S` +
		`|(?:create|alter|drop)` + sqlWS + `(?:user|login|role)` + sqlWS0 + `\S` +
		`|set` + sqlWS + `password\b` +
		`|create` + sqlWS + `(?:or` + sqlWS + `replace` + sqlWS + `)?function` + sqlWS + `[\w."\x60]+` + sqlWS0 + `\([^)]*\)` + sqlWS0 + `returns` + sqlWS + `\w+` + sqlWS + `(?:as|language)\b` +
		`|create` + sqlWS + `(?:temp(?:orary)?` + sqlWS + `)?table` + sqlWS + `(?:if` + sqlWS + `not` + sqlWS + `exists` + sqlWS + `)?` + sqlName + sqlWS + `(?:as|like|select)\b` +
		`|create` + sqlWS + `(?:database|schema|trigger|procedure|view|extension|event)` + sqlWS + sqlName +
		`|(?:replace|insert)` + sqlWS + `(?:(?:low_priority|delayed|ignore)` + sqlWS + `)?into` + sqlWS + sqlName + sqlWS0 + `(?:\(|values\b|select\b|set\b)` +
		`|attach` + sqlWS + `(?:database` + sqlWS0 + `)?['"(]` +
		`|do` + sqlWS0 + `(?:\$\w*\$|\w+` + sqlWS0 + `\()` +
		`|alter` + sqlWS + `table` + sqlWS + sqlName + sqlWS + `(?:add|drop|rename|modify|alter|change|owner)\b` +
		`|merge` + sqlWS + `into` + sqlWS + sqlName + `.*?\busing\b` +
		`|rename` + sqlWS + `table` + sqlWS + sqlName + sqlWS + `to` + sqlWS + `\S` +
		`|set` + sqlWS + `(?:(?:global|session|persist)` + sqlWS + `[\w.]+|@@?[\w.]+)` + sqlWS0 + `:?=` +
		`|select` + sqlWS0 + `(?:\*` + sqlWS0 + `from` + sqlWS0 + `\S|[\w.]+` + sqlWS0 + `\(|.*?\bfrom` + sqlWS + `[\w.\x60"\[\]]+` + sqlWS0 + `(?:$|--|#|;|/\*|\)|\(|(?:where|limit|order|union)\b))` +
		`|(?:backup|restore)` + sqlWS + `(?:database|log)` + sqlWS + sqlName + sqlWS + `(?:to|from)` + sqlWS + `(?:disk|url|tape)\b` +
		`|bulk` + sqlWS + `insert` + sqlWS + sqlName + sqlWS + `from` + sqlWS0 + `['"]` +
		`|exec(?:ute)?` + sqlWS + `(?:master\.(?:dbo)?\.)?(?:sp|xp)_\w+)`)
	// rxCaseWhen is a CASE WHEN ... THEN ... ELSE/END subquery: the
	// boolean oracle of blind injections ("(select case when (1=1) then
	// 1 else 1/0 end)"), which libinjection reads as a harmless call.
	rxCaseWhen = regexp.MustCompile(`(?is)^select` + sqlWS + `case` + sqlWS + `when\b.*?\bthen\b.*?\b(?:else|end)\b`)
	// rxHeavyBlob is SQLite's delay: a blob too large to be data.
	rxHeavyBlob = regexp.MustCompile(`(?is)^(?:randomblob|zeroblob)` + sqlWS0 + `\(` + sqlWS0 + `\d{6}`)
	// rxGlobLead is what a quoted GLOB operand follows in an injection:
	// a closed quote, then OR or AND ("x' or 'a' glob 'a").
	rxGlobLead = regexp.MustCompile(`(?is)['"]` + sqlWS0 + `(?:or|and|\|\||&&)(?:` + sqlWS + `|['"(])`)
	// rxOrderDelay is a delay after an ORDER BY value: "ASC,SLEEP(5)",
	// "1,BENCHMARK(...)", "name desc,if(1=1,sleep(5),0)".
	rxOrderDelay = regexp.MustCompile(`(?is)^[\s\x0b]*(?:[\w.\x60"]+` + sqlWS + `)?(?:asc|desc|\d+)` + sqlWS0 + `,` + sqlWS0 +
		`(?:if` + sqlWS0 + `\(.{0,64}?)?(?:(?:pg_)?sleep` + sqlWS0 + `\(` + sqlWS0 + `[\d.]+` + sqlWS0 + `\)|benchmark` + sqlWS0 + `\(` + sqlWS0 + `\d+` + sqlWS0 + `,)`)
	// rxUnionRows is a UNION whose second part is a table value
	// constructor (VALUES, MySQL's VALUES ROW) or TABLE: libinjection
	// knows UNION SELECT only. The VALUES must start with a value
	// ("workers' union values (equality)" is prose), a TABLE must end its
	// statement ("union table tennis club").
	rxUnionRows = regexp.MustCompile(`(?is)^union(?:` + sqlWS + `(?:all|distinct))?` + sqlWS +
		`(?:values(?:` + sqlWS + `row)?` + sqlWS0 + `\(` + sqlWS0 + `(?:[\d'"@(+-]|null\b|select\b|char\b|0x|true\b|false\b)` +
		`|table` + sqlWS + sqlName + sqlWS0 + `(?:$|--|#|;|/\*|\)|(?:order|limit|union)\b))`)
	// rxUnionRowsQuoted is rxUnionRows after a quote: the query's own
	// closing quote must then be cut off, so the TABLE cannot end the
	// value ("Workers' union table tennis" is prose).
	rxUnionRowsQuoted = regexp.MustCompile(`(?is)^union(?:` + sqlWS + `(?:all|distinct))?` + sqlWS +
		`(?:values(?:` + sqlWS + `row)?` + sqlWS0 + `\(` + sqlWS0 + `(?:[\d'"@(+-]|null\b|select\b|char\b|0x|true\b|false\b)` +
		`|table` + sqlWS + sqlName + sqlWS0 + `(?:--|#|;|/\*|\)|(?:order|limit|union)\b))`)
)

func checkSQLStatement(v []byte, m uint64) string {
	if !hasAny(m, bLetter) {
		return ""
	}
	// The bytes the patterns may read in all, linear in v: a value made of
	// anchors ("polygon(polygon(...") cannot make the windows quadratic.
	// One that exhausts it is not read further and counts as a finding:
	// no API value has thousands of SQL anchors.
	rx := rxBudget(len(v)/2 + 4*stmtWindow)
	if hasAny(m, bQuote|bDQuote) && anchoredAt(v, "waitfor", rxWaitfor, &rx) ||
		has(m, bLParen) && (anchoredAt(v, "procedure", rxAnalyse, &rx) || errorFunctionCall(v, &rx)) ||
		has(m, bAt) && systemVariable(v, &rx) ||
		has(m, bSemi) && stackedStatement(v, &rx) ||
		hasAny(m, bDigit|bQuote|bDQuote|bRParen|bBacktick) && unionRows(v, &rx) ||
		has(m, bLParen) && (caseWhen(v, &rx) || anchoredAt(v, "randomblob", rxHeavyBlob, &rx) || anchoredAt(v, "zeroblob", rxHeavyBlob, &rx) ||
			has(m, bComma) && orderDelay(v, &rx)) ||
		hasAny(m, bQuote|bDQuote) && quotedGlob(v, &rx) || rx < 0 {
		return ruleSQLStatement
	}
	return ""
}

// rxBudget is what is left of the bytes the patterns may read.
type rxBudget int

// rxCallCost is what a regexp run costs beside its bytes, in bytes.
const rxCallCost = 64

// match runs rx on w, charged to the budget; false once it is spent.
func (b *rxBudget) match(rx *regexp.Regexp, w []byte) bool {
	if *b -= rxBudget(rxCallCost + len(w)); *b < 0 {
		return false
	}
	return rx.Match(w)
}

// window is v from i to the end of its statement (the next ';', included)
// and at most stmtWindow bytes.
func window(v []byte, i int) []byte {
	end := min(len(v), i+stmtWindow)
	if j := bytes.IndexByte(v[i:end], ';'); j >= 0 && i+j+1 < end {
		end = i + j + 1
	}
	return v[i:end]
}

// anchoredAt runs rx at each word-initial occurrence of word (lower case)
// in v.
func anchoredAt(v []byte, word string, rx *regexp.Regexp, b *rxBudget) bool {
	for off := 0; off < len(v); {
		i := indexFold(v[off:], word)
		if i < 0 {
			return false
		}
		i += off
		if (i == 0 || !isIdent(v[i-1])) && b.match(rx, window(v, i)) {
			return true
		}
		off = i + len(word)
	}
	return false
}

// errorFunctionCall finds a call of one of MySQL's error-based functions
// whose arguments, up to the first ')', read data (readsData).
func errorFunctionCall(v []byte, b *rxBudget) bool {
	for off := 0; off < len(v); {
		i := bytes.IndexByte(v[off:], '(')
		if i < 0 {
			return false
		}
		i += off
		end := i
		for {
			for end > 0 && isSQLWhite(v[end-1]) {
				end--
			}
			// A comment before the '(': "polygon/**/((select ...".
			if end < 2 || v[end-1] != '/' || v[end-2] != '*' {
				break
			}
			lo := max(0, end-2-stmtWindow) // bounded: "*/(" repeated must stay linear
			open := bytes.LastIndex(v[lo:end-2], []byte("/*"))
			if open < 0 {
				break
			}
			end = lo + open
		}
		start := end
		for start > 0 && (isAlnum(v[start-1]) || v[start-1] == '_') {
			start--
		}
		if end-start >= 6 && end-start <= 20 && errorFunction(v[start:end]) {
			w := v[i:min(len(v), i+stmtWindow)]
			if c := bytes.IndexByte(w, ')'); c >= 0 {
				w = w[:c+1]
			}
			if *b -= rxBudget(len(w)); *b >= 0 && readsData(w) {
				return true
			}
		}
		off = i + 1
	}
	return false
}

// readsData reports whether function arguments w hold what makes an
// error print data: a subquery (SELECT), CONCAT, a hex literal, a system
// variable, or a call of USER, VERSION, DATABASE, SCHEMA or CHAR.
func readsData(w []byte) bool {
	for i := 1; i < len(w); i++ {
		c := w[i]
		switch {
		case c == '@' && i+1 < len(w) && w[i+1] == '@':
			return true
		case c == '0' && i+2 < len(w) && w[i+1]|0x20 == 'x' && unhex[w[i+2]] < 16:
			return true
		case !isASCIILetter(c) || isIdent(w[i-1]):
		case hasPrefixFold(w, i, "concat"):
			return true
		default:
			end := identAt(w, i)
			switch n := end - i; {
			case n == 6 && hasPrefixFold(w, i, "select"):
				return true
			case n == 4 && (hasPrefixFold(w, i, "user") || hasPrefixFold(w, i, "char")),
				n == 6 && hasPrefixFold(w, i, "schema"),
				n == 7 && hasPrefixFold(w, i, "version"),
				n == 8 && hasPrefixFold(w, i, "database"):
				if j := skipSQLComments(w, end); j < len(w) && w[j] == '(' {
					return true
				}
			}
			i = end - 1
		}
	}
	return false
}

// errorFunction reports whether w (any case) names a function whose
// invalid argument makes MySQL print it in an error.
func errorFunction(w []byte) bool {
	var buf [20]byte
	n := copy(buf[:], w)
	for k := range n {
		buf[k] = lowerASCII(buf[k])
	}
	switch string(buf[:n]) {
	case "gtid_subset", "gtid_subtract", "st_latfromgeohash", "st_longfromgeohash", "st_pointfromgeohash", "st_geomfromgeohash",
		"multipoint", "multipolygon", "multilinestring", "linestring", "geometrycollection", "polygon", "uuid_to_bin",
		"bin_to_uuid", "json_keys", "name_const":
		return true
	}
	return false
}

// caseWhen finds a CASE WHEN subquery (rxCaseWhen): SELECT after a '('.
func caseWhen(v []byte, b *rxBudget) bool {
	for off := 0; off < len(v); {
		i := indexFold(v[off:], "select")
		if i < 0 {
			return false
		}
		i += off
		off = i + len("select")
		j := i
		for j > 0 && isSQLWhite(v[j-1]) {
			j--
		}
		if j > 0 && v[j-1] == '(' && b.match(rxCaseWhen, window(v, i)) {
			return true
		}
	}
	return false
}

// orderDelay finds a delay appended to an ORDER BY value (rxOrderDelay),
// read from the start of v only.
func orderDelay(v []byte, b *rxBudget) bool {
	w := v[:min(len(v), stmtWindow)]
	return (indexFold(w, "sleep") >= 0 || indexFold(w, "benchmark") >= 0) && b.match(rxOrderDelay, w)
}

// globLead bounds how far before GLOB its injection's OR or AND is looked
// for.
const globLead = 96

// quotedGlob finds SQLite's GLOB operator with a quoted pattern after an
// injection's closed quote and OR or AND (rxGlobLead): "admin' and
// password glob 's*".
func quotedGlob(v []byte, b *rxBudget) bool {
	for off := 0; off < len(v); {
		i := indexFold(v[off:], "glob")
		if i < 0 {
			return false
		}
		i += off
		off = i + len("glob")
		if i > 0 && isIdent(v[i-1]) || off < len(v) && isIdent(v[off]) {
			continue
		}
		if j := skipSQLComments(v, off); j < len(v) && (v[j] == '\'' || v[j] == '"') &&
			b.match(rxGlobLead, v[max(0, i-globLead):i]) {
			return true
		}
	}
	return false
}

// unionRows finds a UNION VALUES or UNION TABLE (rxUnionRows) after an
// injected value: a digit, a quote or a ')' before UNION, past white space
// and comments ("' union table users--", "-1 union values(1,2)"); prose
// has a word there ("the union table at the fair").
func unionRows(v []byte, b *rxBudget) bool {
	for off := 0; off < len(v); {
		i := indexFold(v[off:], "union")
		if i < 0 {
			return false
		}
		i += off
		off = i + len("union")
		if i > 0 && isIdent(v[i-1]) {
			continue
		}
		rx := rxUnionRows
		switch valueEndsAt(v, i) {
		case 0:
			continue
		case '\'', '"', '`':
			rx = rxUnionRowsQuoted
		}
		if b.match(rx, window(v, i)) {
			return true
		}
	}
	return false
}

// valueEndsAt returns what precedes v[i], past SQL white space and one
// /* */ comment, when it ends a value an injection closes: a digit, a
// quote or a ')'; else 0.
func valueEndsAt(v []byte, i int) byte {
	for i > 0 && isSQLWhite(v[i-1]) {
		i--
	}
	if i >= 2 && v[i-1] == '/' && v[i-2] == '*' {
		lo := max(0, i-2-stmtWindow) // bounded: "*/union" repeated stays linear
		open := bytes.LastIndex(v[lo:i-2], []byte("/*"))
		if open < 0 {
			return 0
		}
		for i = lo + open; i > 0 && isSQLWhite(v[i-1]); i-- {
		}
	}
	if i == 0 {
		return 0
	}
	switch c := v[i-1]; {
	case isDigit(c), c == '\'', c == '"', c == ')', c == '`':
		return c
	}
	return 0
}

// systemVariable finds "@@" not inside a word, followed by a server
// variable's name.
func systemVariable(v []byte, b *rxBudget) bool {
	for off := 0; off < len(v); {
		i := bytes.Index(v[off:], atat)
		if i < 0 {
			return false
		}
		i += off
		if (i == 0 || !isIdent(v[i-1]) && v[i-1] != '@') && b.match(rxSysVar, v[i:min(len(v), i+64)]) {
			return true
		}
		off = i + 2
	}
	return false
}

var atat = []byte("@@")

// stackedStatement finds a statement stacked after an injected value: a
// ';' after one token at most (the value it is appended to: "1",
// "admin'", "x')"), then (past white space and comments) a statement
// keyword of rxStacked and that statement's syntax. Prose and code have
// several words before their ';' ("Names are long; truncate table
// headers").
func stackedStatement(v []byte, b *rxBudget) bool {
	// The first white space after the first token: a ';' is after one
	// token when nothing but white space lies between that and the ';'.
	lead := skipSpace(v, 0)
	ws := bytes.IndexAny(v[lead:], " \t\r\n\v\f")
	if ws < 0 {
		ws = len(v)
	} else {
		ws += lead
	}
	for off := 0; off < len(v); {
		i := bytes.IndexByte(v[off:], ';')
		if i < 0 {
			return false
		}
		i += off
		t := i
		for t > lead && isSpaceByte(v[t-1]) {
			t--
		}
		if ws < t {
			return false // several words before this ';', and before the ones after it
		}
		if i+1 < len(v) && isSQLWhite(v[i+1]) && !injectedValue(v[:i]) {
			off = i + 1 // "note; truncate logs": a word, then prose
			continue
		}
		j := skipSQLComments(v, i+1)
		w := identAt(v, j)
		switch {
		case !stackedKeyword(v[j:w]):
		case b.match(rxStacked, window(v, j)):
			return true
		}
		off = i + 1
	}
	return false
}

// skipSQLComments returns the index of the first byte at or after i that
// is neither SQL white space nor inside a /* */ comment.
func skipSQLComments(v []byte, i int) int {
	for i < len(v) {
		switch {
		case isSQLWhite(v[i]):
			i++
		case v[i] == '/' && i+1 < len(v) && v[i+1] == '*':
			end := bytes.Index(v[i+2:], commentEnd)
			if end < 0 {
				return len(v)
			}
			i += 2 + end + 2
		default:
			return i
		}
	}
	return i
}

// injectedValue reports whether token b (white space around it allowed)
// reads as a value a statement is appended to: empty, or with a digit, a
// quote or a closing parenthesis ("1", "admin'", "x')"), not a word.
func injectedValue(b []byte) bool {
	b = bytes.TrimSpace(b)
	return len(b) == 0 || bytes.IndexAny(b, "0123456789'\")`\x60") >= 0
}

func stackedKeyword(w []byte) bool {
	for _, k := range [...]string{"shutdown", "copy", "truncate", "grant", "create", "alter", "drop", "set",
		"replace", "insert", "attach", "do", "merge", "rename", "select", "backup", "restore", "bulk", "exec", "execute"} {
		if len(w) == len(k) && hasPrefixFold(w, 0, k) {
			return true
		}
	}
	return false
}

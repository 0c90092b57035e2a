package inject

import "regexp"

// checkSQLStatement finds the SQL that libinjection has no fingerprint
// for because its words are not in libinjection's keyword table or its
// token sequence folds into one it does not list: MSSQL's WAITFOR DELAY,
// PostgreSQL's COPY ... TO PROGRAM (a shell command), MySQL's PROCEDURE
// ANALYSE and its error-based geometry and GTID functions, system
// variables (@@version), and statements stacked after a ';' that change
// the database rather than read it (SHUTDOWN, TRUNCATE, GRANT, CREATE
// USER, ALTER USER). Each pattern asks for the syntax the statement needs
// (a quoted delay, a quoted program, "on *.*"), which prose lacks.
const ruleSQLStatement = "sql_statement"

// sqlWS is SQL white space: blanks and /* */ comments.
const sqlWS, sqlWS0 = `(?:[\s\x0b]|/\*.*?\*/)+`, `(?:[\s\x0b]|/\*.*?\*/)*`

var (
	// sqlTimeOrError needs a quote (the delay) or a '('.
	sqlTimeOrError = regexp.MustCompile(`(?is)\bwaitfor` + sqlWS + `(?:delay|time)` + sqlWS0 + `['"]` + sqlWS0 + `\d` +
		`|\bprocedure` + sqlWS + `analyse` + sqlWS0 + `\(` +
		`|\b(?:gtid_subset|gtid_subtract|st_latfromgeohash|st_longfromgeohash|st_pointfromgeohash|st_geomfromgeohash|` +
		`multipoint|multipolygon|multilinestring|linestring|geometrycollection|polygon|uuid_to_bin|bin_to_uuid|json_keys|name_const)` +
		sqlWS0 + `\([^)]*?(?:\bselect\b|concat|0x[0-9a-f]|@@|\b(?:user|version|database|schema|char)` + sqlWS0 + `\()`)
	// sqlSystemVariable needs an '@'.
	sqlSystemVariable = regexp.MustCompile(`(?i)(?:^|[^\w@])@@(?:global\.|session\.)?(?:version\w*|datadir|hostname|basedir|tmpdir|` +
		`servername|spid|language|identity|rowcount|secure_file_priv|plugin_dir|port|innodb_\w+|have_\w+)\b`)
	// sqlStacked needs a ';'.
	sqlStacked = regexp.MustCompile(`(?is);` + sqlWS0 + `(?:shutdown` + sqlWS0 + `(?:$|--|#|;|/\*|with` + sqlWS + `nowait)` +
		`|copy` + sqlWS0 + `(?:\(.*\)|[\w."]+)` + sqlWS0 + `(?:to|from)` + sqlWS + `program` + sqlWS0 + `(?:['"]|\$\$)` +
		`|truncate` + sqlWS + `(?:table` + sqlWS + `)?[\w."\x60\[\]]+` + sqlWS0 + `(?:$|--|#|;)` +
		`|grant` + sqlWS + `[\w, ]+?` + sqlWS + `on` + sqlWS + `(?:\*|[\w\x60"]+\.)` +
		`|(?:create|alter)` + sqlWS + `(?:user|login|role)` + sqlWS + `\S+` + sqlWS + `(?:identified` + sqlWS + `(?:by|with|via)\b[^;]*?['"]|with` + sqlWS + `(?:superuser|password|login|encrypted)|password` + sqlWS0 + `['"]|superuser\b)` +
		`|create` + sqlWS + `(?:or` + sqlWS + `replace` + sqlWS + `)?(?:function|procedure|trigger|table)` + sqlWS + `[\w."\x60]+` + sqlWS0 + `\()`)
)

func checkSQLStatement(v []byte, m uint64) string {
	if hasAny(m, bQuote|bDQuote|bLParen|bDollar) && hasAny(m, bLetter) && sqlTimeOrError.Match(v) ||
		has(m, bAt) && sqlSystemVariable.Match(v) ||
		has(m, bSemi) && sqlStacked.Match(v) {
		return ruleSQLStatement
	}
	return ""
}

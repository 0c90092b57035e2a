package inject

import (
	"bytes"
	"regexp"
)

// Query languages other than SQL: LDAP filters (Kind "ldap") and MongoDB
// queries (Kind "nosql").
//
// ldap:
//   - a filter combination: '(' then '&', '|' or '!' then '(' (white
//     space allowed), the only way to add a clause to a filter;
//   - a break-out: "*)(" or ")(" followed by an attribute and '=';
//   - an extensible match: "attr:" then an OID or "dn" then ":=".
//
// nosql:
//   - a query operator written as a key: "$ne:", "'$gt':", "$where :"...
//     inside a value, or a whole key or parameter name that is an operator
//     ({"password": {"$ne": null}}, password[$ne]=x), which is how a
//     request smuggles an operator into a query built from its fields;
//   - the Mongo shell: "db.<collection>.<method>(" and db.getCollection(,
//     db.eval(, db.runCommand(.
//
// Operators are MongoDB's own, case-sensitive ("$NE" is not one); "$type"
// is left out, as .NET's JSON writes it as a key for polymorphism.
// An API built on an operator-filter convention (Strapi's
// filters[name][$eq]=...) needs this detector off for its routes.
//
// Like CRS 934 (NoSQL, PL2) and the LDAP part of CRS 921.

const (
	ruleLDAPFilter      = "filter_combination"
	ruleLDAPBreakout    = "filter_breakout"
	ruleLDAPExtensible  = "extensible_match"
	ruleMongoOperator   = "operator"
	ruleMongoShell      = "mongo_shell"
	ruleMongoWhere      = "mongo_where"
	maxOperatorNameSize = 16
)

var mongoOperators = newWordSet("where", "ne", "eq", "gt", "gte", "lt", "lte", "in", "nin", "or", "and",
	"not", "nor", "regex", "exists", "expr", "function", "accumulator", "elemMatch", "all", "size", "mod",
	"text", "jsonSchema", "lookup", "merge", "out", "options", "comment", "geoWithin", "near")

var mongoMethods = newWordSet("find", "findOne", "insert", "insertOne", "insertMany", "update", "updateOne",
	"updateMany", "remove", "drop", "deleteOne", "deleteMany", "aggregate", "mapReduce", "save",
	"findAndModify", "findOneAndUpdate", "findOneAndDelete", "renameCollection", "count")

func checkLDAP(v []byte, m uint64) string {
	if has(m, bLParen) && hasAny(m, bAmp|bPipe|bBang) {
		for i := 0; i < len(v); i++ {
			if v[i] != '(' {
				continue
			}
			j := skipSpace(v, i+1)
			if j < len(v) && (v[j] == '&' || v[j] == '|' || v[j] == '!') {
				k := skipSpace(v, j+1)
				if k < len(v) && v[k] == '(' {
					return ruleLDAPFilter
				}
			}
		}
	}
	if has(m, bLParen|bRParen|bEq) {
		for i := bytes.Index(v, []byte(")(")); i >= 0; {
			end := identAt(v, i+2)
			if end > i+2 && end < len(v) && (v[end] == '=' || v[end] == '~' || v[end] == '>' || v[end] == '<') &&
				ldapBreakout(v, i) {
				return ruleLDAPBreakout
			}
			n := bytes.Index(v[i+2:], []byte(")("))
			if n < 0 {
				break
			}
			i += 2 + n
		}
	}
	if has(m, bColon|bEq) {
		for i := bytes.Index(v, []byte(":=")); i >= 0; {
			// attr:2.5.13.18:= or attr:dn:=
			j := i
			for j > 0 && (isDigit(v[j-1]) || v[j-1] == '.') {
				j--
			}
			if j < i && j > 0 && v[j-1] == ':' && bytes.IndexByte(v[j:i], '.') >= 0 {
				return ruleLDAPExtensible
			}
			if i >= 3 && equalFoldString(v[i-2:i], "dn") && v[i-3] == ':' {
				return ruleLDAPExtensible
			}
			n := bytes.Index(v[i+2:], []byte(":="))
			if n < 0 {
				break
			}
			i += 2 + n
		}
	}
	return ""
}

// ldapBreakout: the ")(" at i closes a filter: an attribute assertion or a
// '*' comes right before it ("*)(uid=*", "x)(|(").
func ldapBreakout(v []byte, i int) bool {
	if i == 0 {
		return false
	}
	switch v[i-1] {
	case '*':
		return true
	}
	// "...=value)(" : an assertion before.
	eq := bytes.LastIndexByte(v[:i], '=')
	open := bytes.LastIndexByte(v[:i], '(')
	return eq > open && open >= 0
}

// mongoWhere is JavaScript that breaks out of a string in a MongoDB
// $where clause (or mapReduce, or a server-side eval): after a quote, a
// boolean on this.<field> ("' || this.role == 'admin"), or a statement
// that only such code writes after ';' (sleep(n), return true, an endless
// loop); or, in a value that is a number, such a statement after it
// ("0;return true"). Anchored, it runs only where its literal anchors
// ("this.", ';') are.
var rxWhereStatement = regexp.MustCompile(`^(?:sleep\s*\(\s*\d|return\s+(?:true|false|[01]\b|this\b|['"])|while\s*\(\s*(?:true|1)\s*\))`)

// checkMongoWhere finds mongoWhere in v, whose class mask is m.
func checkMongoWhere(v []byte, m uint64) string {
	if hasAny(m, bQuote|bDQuote) && hasAny(m, bPipe|bAmp) && whereBoolean(v) ||
		has(m, bSemi) && whereStatement(v) {
		return ruleMongoWhere
	}
	return ""
}

// whereBoolean: a quote, then "||" or "&&", then this.<name>.
func whereBoolean(v []byte) bool {
	for off := 0; off < len(v); {
		i := indexFold(v[off:], "this.")
		if i < 0 {
			return false
		}
		i += off
		off = i + 5
		if i+5 >= len(v) || !isIdent(v[i+5]) && v[i+5] != '$' || i > 0 && isIdent(v[i-1]) {
			continue
		}
		j := i
		for j > 0 && isSpaceByte(v[j-1]) {
			j--
		}
		if j < 2 || !(v[j-1] == '|' && v[j-2] == '|' || v[j-1] == '&' && v[j-2] == '&') {
			continue
		}
		j -= 2
		for j > 0 && isSpaceByte(v[j-1]) {
			j--
		}
		if j > 0 && (v[j-1] == '\'' || v[j-1] == '"') {
			return true
		}
	}
	return false
}

// whereStatement: a ';' after a quote, or after a number that starts the
// value, then rxWhereStatement.
func whereStatement(v []byte) bool {
	for off := 0; off < len(v); {
		i := bytes.IndexByte(v[off:], ';')
		if i < 0 {
			return false
		}
		i += off
		off = i + 1
		j := i
		for j > 0 && isSpaceByte(v[j-1]) {
			j--
		}
		if j == 0 {
			continue
		}
		quoted := v[j-1] == '\'' || v[j-1] == '"'
		if !quoted {
			k := skipSpace(v, 0)
			n := k
			for n < j && isDigit(v[n]) {
				n++
			}
			if n == k || n != j {
				continue // not a number that starts the value
			}
		}
		if rxWhereStatement.Match(window(v, skipSpace(v, i+1))) {
			return true
		}
	}
	return false
}

// checkNoSQL; name is true when v is a key or a parameter name.
func checkNoSQL(v []byte, m uint64, name bool) string {
	if has(m, bDollar) {
		if name {
			if isOperator(v, 0, len(v)) {
				return ruleMongoOperator
			}
			// password.$ne: dot notation (qs with allowDots, mongo-sanitize
			// misses it) reads it as password[$ne].
			for i := bytes.Index(v, []byte(".$")); i >= 0; {
				end := i + 2
				for end < len(v) && isLetter(v[end]) {
					end++
				}
				if isOperator(v, i+1, end) && (end == len(v) || v[end] == '.' || v[end] == '[') {
					return ruleMongoOperator
				}
				n := bytes.Index(v[i+2:], []byte(".$"))
				if n < 0 {
					break
				}
				i += 2 + n
			}
			// password[$ne]
			for i := bytes.Index(v, []byte("[$")); i >= 0; {
				end := bytes.IndexByte(v[i:], ']')
				if end > 0 && isOperator(v, i+1, i+end) {
					return ruleMongoOperator
				}
				n := bytes.Index(v[i+2:], []byte("[$"))
				if n < 0 {
					break
				}
				i += 2 + n
			}
		}
		if has(m, bColon) {
			for i := bytes.IndexByte(v, '$'); i >= 0; {
				end := i + 1
				for end < len(v) && isLetter(v[end]) {
					end++
				}
				if end > i+1 && (i == 0 || !isIdent(v[i-1])) && isOperator(v, i, end) {
					k := end
					if k < len(v) && (v[k] == '"' || v[k] == '\'') {
						k++
					}
					k = skipSpace(v, k)
					if k < len(v) && v[k] == ':' {
						return ruleMongoOperator
					}
				}
				n := bytes.IndexByte(v[i+1:], '$')
				if n < 0 {
					break
				}
				i += 1 + n
			}
		}
	}
	if has(m, bDot|bLParen) && bytes.Contains(v, []byte("db.")) {
		for i := bytes.Index(v, []byte("db.")); i >= 0; {
			if i == 0 || !isIdent(v[i-1]) && v[i-1] != '.' {
				j := i + 3
				end := identAt(v, j)
				switch {
				case end < len(v) && v[end] == '(':
					switch string(v[j:end]) {
					case "getCollection", "eval", "runCommand", "dropDatabase", "createUser", "getSiblingDB":
						return ruleMongoShell
					}
				case end > j && end < len(v) && v[end] == '.':
					mend := identAt(v, end+1)
					if _, ok := mongoMethods.get(v[end+1 : mend]); ok && mend < len(v) && v[mend] == '(' {
						return ruleMongoShell
					}
				}
			}
			n := bytes.Index(v[i+3:], []byte("db."))
			if n < 0 {
				break
			}
			i += 3 + n
		}
	}
	return ""
}

// isOperator reports whether v[start:end] is "$" and a MongoDB operator.
func isOperator(v []byte, start, end int) bool {
	if end-start < 3 || end-start > maxOperatorNameSize || v[start] != '$' {
		return false
	}
	_, ok := mongoOperators.get(v[start+1 : end])
	return ok
}

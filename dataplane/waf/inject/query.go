package inject

import "bytes"

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
// only in bracket or dot notation or with a BSON type number, as .NET's
// JSON writes it as a key for polymorphism ("$type": "App.Dog, App").
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
	"text", "jsonSchema", "lookup", "merge", "out", "options", "comment", "geoWithin", "near",
	"bitsAllClear", "bitsAllSet", "bitsAnyClear", "bitsAnySet", "unionWith", "graphLookup", "geoIntersects", "nearSphere")

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
	if has(m, bLParen|bRParen) && hasAny(m, bAmp|bPipe) {
		// The absolute filters "(&)" (true) and "(|)" (false) after a
		// break-out: "*)(&", "admin)(|)".
		for i := bytes.Index(v, []byte(")(")); i >= 0 && i+2 < len(v); {
			if c := v[i+2]; (c == '&' || c == '|') && (i+3 == len(v) || v[i+3] == ')') {
				return ruleLDAPBreakout
			}
			n := bytes.Index(v[i+2:], []byte(")("))
			if n < 0 {
				break
			}
			i += 2 + n
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
// '*' comes right before it ("*)(uid=*", "x)(|("), or it follows the one
// token the value starts with, the value an application puts in an
// assertion ("admin)(userPassword=a*").
func ldapBreakout(v []byte, i int) bool {
	if i == 0 {
		return false
	}
	switch v[i-1] {
	case '*':
		return true
	}
	if bytes.IndexAny(v[:i], " \t\r\n()") < 0 {
		return true
	}
	// "...=value)(" : an assertion before.
	eq := bytes.LastIndexByte(v[:i], '=')
	open := bytes.LastIndexByte(v[:i], '(')
	return eq > open && open >= 0
}

// mongoWhere is JavaScript that breaks out of a string or a number in a
// MongoDB $where clause (or mapReduce, or a server-side eval). The
// breakout is the value's first quote, after one token at most ("'",
// "admin'", "1'"), or a number the value starts with; after it, past
// JavaScript white space and comments, come "||" or "&&" and this or obj
// (MongoDB's alias) with a member ("' || this.role == 'admin",
// "'|| obj['role']"), or ';' and a statement only such code writes
// (sleep(n), return true, an endless loop), or a tautology ("'||true||'",
// `" || ""=="`). Code in prose or snippets
// ("var s = 'x'; return true;") has more than one token before its first
// quote.

// checkMongoWhere finds mongoWhere in v, whose class mask is m.
func checkMongoWhere(v []byte, m uint64) string {
	i := whereBreakout(v, m)
	if i < 0 {
		return ""
	}
	j := skipJS(v, i)
	switch {
	case j+1 < len(v) && (v[j] == '|' && v[j+1] == '|' || v[j] == '&' && v[j+1] == '&'):
		k := skipJS(v, j+2)
		for _, w := range [...]string{"this", "obj"} {
			if hasPrefixFold(v, k, w) {
				if n := skipJS(v, k+len(w)); n < len(v) && (v[n] == '.' || v[n] == '[') {
					return ruleMongoWhere
				}
			}
		}
		if whereTautologyAt(v, k) {
			return ruleMongoWhere
		}
	case j < len(v) && v[j] == ';':
		if whereStatementAt(v, skipJS(v, j+1)) {
			return ruleMongoWhere
		}
	}
	return ""
}

// whereTautologyAt reports whether the operand of an injected "||" or
// "&&" at v[i] makes the clause always true: a string literal compared
// ("”=='", `""=="`) or true or 1 before another "||" or "&&" or the
// quote that closes the breakout ("'||true||'", `" || 1 || "`).
func whereTautologyAt(v []byte, i int) bool {
	if i >= len(v) {
		return false
	}
	if q := v[i]; q == '\'' || q == '"' {
		end := indexByteFrom(v[:min(len(v), i+64)], i+1, q)
		if end < 0 {
			return false
		}
		k := skipJS(v, end+1)
		return k+1 < len(v) && (v[k] == '=' || v[k] == '!') && v[k+1] == '='
	}
	for _, w := range [...]string{"true", "1", "!0"} {
		if hasPrefixFold(v, i, w) && (i+len(w) == len(v) || !isIdent(v[i+len(w)])) {
			k := skipJS(v, i+len(w))
			return k < len(v) && (v[k] == '\'' || v[k] == '"') ||
				k+1 < len(v) && (v[k] == '|' && v[k+1] == '|' || v[k] == '&' && v[k+1] == '&')
		}
	}
	return false
}

// whereBreakout returns the index after the breakout of v (see
// mongoWhere), or -1.
func whereBreakout(v []byte, m uint64) int {
	if hasAny(m, bQuote|bDQuote) {
		q := bytes.IndexAny(v, `'"`)
		for _, c := range v[:q] {
			if isSpaceByte(c) {
				return -1 // more than one token before the first quote
			}
		}
		return q + 1
	}
	k := skipSpace(v, 0)
	n := k
	for n < len(v) && isDigit(v[n]) {
		n++
	}
	if n == k {
		return -1
	}
	return n
}

// whereStatementAt reports whether a statement only injected code writes
// starts at v[i]: sleep(<digit>, return true/false/0/1/this/a string/(,
// while(true or 1), for(;;).
func whereStatementAt(v []byte, i int) bool {
	word := func(w string) (int, bool) {
		if !hasPrefixFold(v, i, w) || i+len(w) < len(v) && isIdent(v[i+len(w)]) {
			return 0, false
		}
		return skipJS(v, i+len(w)), true
	}
	if j, ok := word("sleep"); ok {
		return j < len(v) && v[j] == '(' && skipJS(v, j+1) < len(v) && isDigit(v[skipJS(v, j+1)])
	}
	if j, ok := word("return"); ok {
		if j < len(v) && (v[j] == '(' || v[j] == '\'' || v[j] == '"') {
			return true
		}
		for _, w := range [...]string{"true", "false", "this", "0", "1"} {
			if hasPrefixFold(v, j, w) && (j+len(w) == len(v) || !isIdent(v[j+len(w)])) {
				return true
			}
		}
		return false
	}
	if j, ok := word("while"); ok {
		if j >= len(v) || v[j] != '(' {
			return false
		}
		k := skipJS(v, j+1)
		return hasPrefixFold(v, k, "true") || k < len(v) && v[k] == '1'
	}
	if j, ok := word("for"); ok {
		return j < len(v) && v[j] == '(' && bytes.HasPrefix(v[skipJS(v, j+1):], []byte(";;"))
	}
	return false
}

// skipJS returns the index of the first byte at or after i that is not
// JavaScript white space (Unicode spaces and line separators included)
// or inside a comment.
func skipJS(v []byte, i int) int {
	for i < len(v) {
		switch c := v[i]; {
		case isSpaceByte(c):
			i++
		case c == '/' && i+1 < len(v) && v[i+1] == '*':
			end := bytes.Index(v[i+2:], commentEnd)
			if end < 0 {
				return len(v)
			}
			i += 2 + end + 2
		case c == '/' && i+1 < len(v) && v[i+1] == '/':
			end := bytes.IndexByte(v[i:], '\n')
			if end < 0 {
				return len(v)
			}
			i += end + 1
		case c >= 0x80:
			n := unicodeSpaceAt(v, i)
			if n == 0 && i+2 < len(v) && v[i] == 0xe2 && v[i+1] == 0x80 && (v[i+2] == 0xa8 || v[i+2] == 0xa9) ||
				n == 0 && i+2 < len(v) && v[i] == 0xef && v[i+1] == 0xbb && v[i+2] == 0xbf {
				n = 3 // U+2028, U+2029, U+FEFF
			}
			if n == 0 {
				return i
			}
			i += n
		default:
			return i
		}
	}
	return i
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
				if (isOperator(v, i+1, end) || isType(v, i+1, end)) && (end == len(v) || v[end] == '.' || v[end] == '[') {
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
				if end > 0 && (isOperator(v, i+1, i+end) || isType(v, i+1, i+end)) {
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
				if end > i+1 && (i == 0 || !isIdent(v[i-1])) {
					op, typ := isOperator(v, i, end), isType(v, i, end)
					k := end
					if (op || typ) && k < len(v) && (v[k] == '"' || v[k] == '\'') {
						k++
					}
					k = skipSpace(v, k)
					if k < len(v) && v[k] == ':' && (op || typ && bsonTypeNumber(v, k+1)) {
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

// isType reports whether v[start:end] is "$type": an operator in a
// query's bracket or dot notation (pass[$type]=2), or with a BSON type
// number ({"$type": 2}), but a class name's key in .NET's JSON.
func isType(v []byte, start, end int) bool {
	return end-start == 5 && string(v[start:end]) == "$type"
}

// bsonTypeNumber reports whether a BSON type number (or a list of them)
// starts at v[i], past white space.
func bsonTypeNumber(v []byte, i int) bool {
	i = skipSpace(v, i)
	if i < len(v) && v[i] == '[' {
		i = skipSpace(v, i+1)
	}
	if i < len(v) && v[i] == '-' {
		i++
	}
	return i < len(v) && isDigit(v[i])
}

// isOperator reports whether v[start:end] is "$" and a MongoDB operator.
func isOperator(v []byte, start, end int) bool {
	if end-start < 3 || end-start > maxOperatorNameSize || v[start] != '$' {
		return false
	}
	_, ok := mongoOperators.get(v[start+1 : end])
	return ok
}

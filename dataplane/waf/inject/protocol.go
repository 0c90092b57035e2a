package inject

// Injections into line-based protocols: HTTP header injection and
// response splitting (Kind "crlf"), and mail commands (Kind "mail").
//
// crlf: a line break (CR or LF, or U+560A/U+560D, whose low bytes some
// servers keep when they truncate characters to bytes) followed by a
// response header that an attacker sets (Set-Cookie, Location, Refresh,
// Content-Type...) and ':', or by "HTTP/1." (a second response). A line
// break followed by "Note: ..." in a message is not one: the header must
// be one of respHeaders. Like CRS 921120-921160.
//
// mail: a line break, then an SMTP command that starts a new mail or ends
// the session ("MAIL FROM:", "RCPT TO:", "DATA", "QUIT", "RSET", "HELO
// x"...) or a tagged IMAP command ("V100 CAPABILITY", "a1 FETCH 1").
// Commands are upper case as clients send them, and the bare ones (DATA,
// QUIT...) must fill their line, so that a line of prose starting with
// "Data" or "Quit" is not one. An application that pastes a value into a
// mail header or an IMAP session runs them (CWE-93, CRS 932 has none).

const (
	ruleHeaderInjection   = "header_injection"
	ruleResponseSplitting = "response_splitting"
	ruleSMTP              = "smtp_command"
	ruleIMAP              = "imap_command"
)

var respHeaders = newWordSet("set-cookie", "location", "refresh", "content-type", "content-length",
	"content-disposition", "content-security-policy", "x-xss-protection", "access-control-allow-origin",
	"access-control-allow-credentials", "transfer-encoding", "link", "x-frame-options", "cache-control",
	"strict-transport-security", "set-cookie2", "www-authenticate", "x-forwarded-for", "host")

// SMTP commands: bare ones fill their line; others take an argument.
var (
	smtpBare = newWordSet("DATA", "QUIT", "RSET", "NOOP", "STARTTLS", "TURN")
	smtpArg  = newWordSet("HELO", "EHLO", "VRFY", "EXPN", "AUTH", "ETRN")
	imapCmds = newWordSet("CAPABILITY", "LOGIN", "LOGOUT", "SELECT", "EXAMINE", "FETCH", "STORE", "SEARCH",
		"APPEND", "LIST", "LSUB", "UID", "COPY", "DELETE", "RENAME", "CREATE", "NOOP", "AUTHENTICATE", "EXPUNGE",
		"STATUS", "SUBSCRIBE", "IDLE", "STARTTLS")
)

func checkCRLF(v []byte, m uint64) string {
	if !has(m, bNL) && !has(m, bHigh) {
		return ""
	}
	for i := 0; i < len(v); i++ {
		j := lineBreakEnd(v, i)
		if j == i {
			continue
		}
		if hasPrefixAt(v, j, "HTTP/1.") {
			return ruleResponseSplitting
		}
		end := j
		for end < len(v) && (isAlnum(v[end]) || v[end] == '-') {
			end++
		}
		if end > j && end < len(v) {
			k := end
			for k < len(v) && (v[k] == ' ' || v[k] == '\t') {
				k++
			}
			if k < len(v) && v[k] == ':' {
				if _, ok := respHeaders.getFold(v[j:end]); ok {
					return ruleHeaderInjection
				}
			}
		}
		i = j - 1
	}
	return ""
}

// lineBreakEnd returns the index after the line breaks starting at v[i]
// (CR, LF, and the UTF-8 forms of U+560A and U+560D), i when there is
// none.
func lineBreakEnd(v []byte, i int) int {
	for i < len(v) {
		switch {
		case v[i] == '\r' || v[i] == '\n':
			i++
		case v[i] == 0xe5 && i+2 < len(v) && v[i+1] == 0x98 && (v[i+2] == 0x8a || v[i+2] == 0x8d):
			i += 3
		default:
			return i
		}
	}
	return i
}

func checkMail(v []byte, m uint64) string {
	if !has(m, bNL|bUpper) {
		return ""
	}
	for i := 0; i < len(v); i++ {
		if v[i] != '\r' && v[i] != '\n' {
			continue
		}
		j := i
		for j < len(v) && (v[j] == '\r' || v[j] == '\n') {
			j++
		}
		line := v[j:]
		if e := indexLineEnd(line); e >= 0 {
			line = line[:e]
		}
		if r := mailLine(line); r != "" {
			return r
		}
		i = j - 1
	}
	return ""
}

func indexLineEnd(b []byte) int {
	for i, c := range b {
		if c == '\r' || c == '\n' {
			return i
		}
	}
	return -1
}

// mailLine reads one line as an SMTP or a tagged IMAP command.
func mailLine(line []byte) string {
	w := wordAt(line, 0)
	if _, ok := smtpBare.get(w); ok && len(trimRightSpace(line)) == len(w) {
		return ruleSMTP
	}
	if _, ok := smtpArg.get(w); ok && len(line) > len(w)+1 && line[len(w)] == ' ' && isAlnum(line[len(w)+1]) {
		return ruleSMTP
	}
	if (string(w) == "MAIL" && hasPrefixFold(line, 4, " from:")) || (string(w) == "RCPT" && hasPrefixFold(line, 4, " to:")) {
		return ruleSMTP
	}
	// IMAP: a tag of letters and digits with a digit in it (a001, V100),
	// one space, a command.
	if len(w) == 0 || len(w) > 10 || len(line) <= len(w)+1 || line[len(w)] != ' ' || !hasDigit(w) {
		return ""
	}
	c := wordAt(line, len(w)+1)
	if _, ok := imapCmds.get(c); ok {
		rest := line[len(w)+1+len(c):]
		if len(trimRightSpace(rest)) == 0 || rest[0] == ' ' {
			return ruleIMAP
		}
	}
	return ""
}

func hasDigit(b []byte) bool {
	for _, c := range b {
		if isDigit(c) {
			return true
		}
	}
	return false
}

// wordAt returns the run of letters and digits at b[i:].
func wordAt(b []byte, i int) []byte {
	end := i
	for end < len(b) && isAlnum(b[end]) {
		end++
	}
	return b[i:end]
}

func trimRightSpace(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

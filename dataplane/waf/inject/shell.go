package inject

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
		"traceroute", "tracert", "arp", "hostname", "lsof", "iptables", "cmd.exe", "sh.exe":
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
				if commandAt(v, i+2, true) {
					return ruleCmdSubstitution
				}
			}
		}
	}
	if has(m, bBacktick) {
		for i := 0; i < len(v); i++ {
			if v[i] == '`' && commandAt(v, i+1, true) {
				return ruleCmdSubstitution
			}
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
				for j < len(v) && (v[j] == v[i] || v[j] == '|' || v[j] == '&') {
					j++ // || && |& ;;
				}
				if commandAt(v, j, false) {
					return ruleCmdSeparator
				}
				i = j - 1
			}
		}
	}
	if hasAny(m, bSpace|bDollar|bLT|bGT|bPlus) && commandAtStart(v) {
		return ruleCmdStart
	}
	return ""
}

// commandAt reports whether a shell command starts at v[i] (after white
// space and an optional directory): a strong command, or any command in a
// substitution (sub), followed by a word boundary; or a weak command
// followed by a shell argument.
func commandAt(v []byte, i int, sub bool) bool {
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
	strength := commandStrength(v[i:end])
	if strength == 0 {
		return false
	}
	if end < len(v) && isAlnum(v[end]) {
		return false
	}
	if strength == cmdStrong || sub {
		return end == len(v) || !isIdent(v[end]) && v[end] != '.' && v[end] != '-' && v[end] != '\''
	}
	return shellArg(v, end)
}

// commandAtStart reports whether v starts with a command and a shell
// argument: the value is a command line of its own.
func commandAtStart(v []byte) bool {
	i := skipBinDir(v, skipSpace(v, 0))
	end := identAt(v, i)
	if end == i || commandStrength(v[i:end]) == 0 {
		return false
	}
	return shellArg(v, end)
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
func shellArg(v []byte, end int) bool {
	if end >= len(v) {
		return false
	}
	i := end
	switch {
	case v[i] == '<' || v[i] == '>':
		return true
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
		return i+1 < len(v) && (isLetter(v[i+1]) || v[i+1] == '-')
	case '/', '~', '$', '<', '>', '|', '\\':
		return true
	case '.':
		return i+1 < len(v) && (v[i+1] == '/' || v[i+1] == '.')
	case '"', '\'':
		return i+1 < len(v) && (v[i+1] == '/' || v[i+1] == '$' || v[i+1] == '-')
	default:
		if isLetter(c) && i+2 < len(v) && v[i+1] == ':' && (v[i+2] == '\\' || v[i+2] == '/') {
			return true // C:\ or C:/
		}
		return hasPrefixFold(v, i, "http://") || hasPrefixFold(v, i, "https://") || hasPrefixFold(v, i, "ftp://")
	}
}

// shellshock finds "()" then optional spaces and "{": the prefix of a bash
// function definition in an environment variable (CVE-2014-6271).
func shellshock(v []byte) bool {
	for i := 0; i+2 < len(v); i++ {
		if v[i] == '(' && v[i+1] == ')' {
			j := skipSpace(v, i+2)
			if j < len(v) && v[j] == '{' {
				k := skipSpace(v, j+1)
				if k < len(v) && (v[k] == ':' || v[k] == '}') {
					return true
				}
			}
		}
	}
	return false
}

package inject

import "bytes"

// Path traversal (Kind "path_traversal") and local file access (Kind
// "lfi"): a value that walks out of the directory an application reads
// from, or that names a file no request has a reason to name.
//
// path_traversal:
//   - two "../" (or "..\", or Tomcat's "..;/") segments in a row: one is
//     an ordinary relative link ("../README.md"), two are how a traversal
//     climbs out of a web root;
//   - an overlong UTF-8 sequence (0xC0 or 0xC1 and a continuation byte):
//     no encoder produces one, and old decoders read "%C0%AE" as '.' and
//     "%C0%AF" as '/' (CRS 920260 / 930100).
//
// lfi, reading the value as a path resolves: case ignored, '\' read as
// '/', quotes skipped ("/et'c/pa'ss'wd" is how a shell reads
// /etc/passwd), "//" and "/./" read as "/":
//   - a path to one of the operating-system files that attacks read
//     (osFiles: /etc/passwd, /proc/self/, win.ini, ntuser.dat, .htpasswd,
//     .ssh/, .aws/credentials...), at the start of the value or after a
//     '/', and ending there (a file name does not continue with a letter);
//   - a PHP stream wrapper that reads or runs files (php://, phar://,
//     expect://, zip://, glob://, data://, compress.zlib://) or Java's
//     netdoc: and jar: schemes;
//   - a process's environment or memory by its number (/proc/1/environ);
//   - a .env file after a separator, and a site's configuration
//     (web.config, appsettings.json) one "../" up;
//   - a Windows administrative share (\\host\c$\, \\host\admin$\).
//
// Like CRS 930100-930130 (LFI) and 933200 (PHP wrappers), with a list of
// files cut down to those that a benign value does not name.

const (
	ruleDotDot      = "dot_dot_slash"
	ruleOverlong    = "overlong_utf8"
	ruleOSFile      = "os_file"
	ruleWrapper     = "stream_wrapper"
	ruleAdminShare  = "admin_share"
	pathTraversalAt = 2 // consecutive ../ segments that make a traversal
)

func checkTraversal(v []byte, m uint64) string {
	if mayBeOverlong(v, m) && overlongUTF8(v) {
		return ruleOverlong
	}
	if !has(m, bDot) || !hasAny(m, bSlash|bBackslash) {
		return ""
	}
	first := bytes.Index(v, dotdot)
	if first < 0 {
		return ""
	}
	run := 0
	for i := max(0, first-1); i+2 < len(v); {
		if v[i] == '.' && v[i+1] == '.' && (i == 0 || isPathSep(v[i-1]) || isPathStart(v[i-1])) {
			j := i + 2
			if j < len(v) && v[j] == ';' {
				j++ // Tomcat path parameter: "..;/"
			}
			if j < len(v) && isPathSep(v[j]) {
				run++
				if run >= pathTraversalAt {
					return ruleDotDot
				}
				for j < len(v) && isPathSep(v[j]) {
					j++
				}
				i = j
				continue
			}
		}
		if isPathSep(v[i]) || v[i] == '.' {
			i++
			continue
		}
		run = 0
		i++
	}
	return ""
}

var dotdot = []byte("..")

func isPathSep(c byte) bool { return c == '/' || c == '\\' }

// isPathStart: bytes after which a path value may start: a parameter,
// a quote, white space.
func isPathStart(c byte) bool {
	return c == '=' || c == '"' || c == '\'' || c == ' ' || c == ':' || c == '(' || c == ',' || c == ';' || c == '\t'
}

// overlongUTF8 finds an overlong encoding: two bytes for an ASCII byte
// (C0 AF), three for one below U+0800 (E0 80 AF), four for one below
// U+10000 (F0 80 80 AF). Never valid UTF-8, they are read as the short
// form by decoders that skip the check (old IIS, Tomcat, Java's modified
// UTF-8).
func overlongUTF8(v []byte) bool {
	for i := 0; i+1 < len(v); i++ {
		switch c := v[i]; {
		case (c == 0xc0 || c == 0xc1) && v[i+1]&0xc0 == 0x80:
			return true
		case c == 0xe0 && i+2 < len(v) && v[i+1] >= 0x80 && v[i+1] <= 0x9f && v[i+2]&0xc0 == 0x80:
			return true
		case c == 0xf0 && i+3 < len(v) && v[i+1] >= 0x80 && v[i+1] <= 0x8f && v[i+2]&0xc0 == 0x80 && v[i+3]&0xc0 == 0x80:
			return true
		}
	}
	return false
}

// mayBeOverlong: v, whose class mask is m, has a byte an overlong
// encoding starts with.
func mayBeOverlong(v []byte, m uint64) bool {
	return has(m, bOverlong) || has(m, bHigh) && (bytes.IndexByte(v, 0xe0) >= 0 || bytes.IndexByte(v, 0xf0) >= 0)
}

// osFiles are the files that local file inclusion and traversal attacks
// read, normalized (lower case, '/' separators), without their leading
// '/'. A name ending in '/' is a directory: anything may follow it.
var osFiles = []string{
	"etc/passwd", "etc/shadow", "etc/gshadow", "etc/master.passwd", "etc/sudoers", "etc/group",
	"etc/issue", "etc/crontab", "etc/environment", "etc/security/", "etc/ssh/", "etc/mysql/",
	"etc/apache2/", "etc/httpd/", "etc/nginx/", "etc/hosts.allow", "etc/hosts.deny",
	"proc/self/", "proc/version", "proc/cmdline", "proc/net/", "proc/sched_debug", "proc/mounts",
	"windows/win.ini", "windows/system.ini", "win.ini", "boot.ini", "windows/system32/",
	"winnt/system32/", "windows/repair/", "system32/config/", "ntuser.dat", "inetpub/wwwroot/",
	".htpasswd", ".htaccess", ".ssh/", "id_rsa", "id_dsa", "id_ecdsa", "id_ed25519", ".aws/credentials",
	".bash_history", ".zsh_history", ".mysql_history", ".psql_history", ".bashrc", ".netrc",
	".pgpass", ".my.cnf", ".git/config", ".git/head", ".svn/entries", ".docker/config.json",
	".kube/config", "wp-config.php", "web-inf/web.xml", "meta-inf/manifest.mf",
	"proc/thread-self/", "etc/ssl/private/", "etc/kubernetes/", "run/secrets/", "windows/panther/",
}

// procFiles are the files of a process's /proc/<pid>/ directory that leak
// its environment, memory or files (the self forms are osFiles').
var procFiles = []string{"environ", "cmdline", "maps", "smaps", "mem", "auxv", "mountinfo", "exe", "fd/", "root/", "cwd/"}

// dotEnv is the file of secrets that frameworks read from the directory
// they run in: named after a separator ("/app/.env", "../.env"), never
// bare (a file list) or continued (".env.example").
const dotEnv = ".env"

// upFiles are the configuration files a single "../" or ".." reaches
// from a web root's subdirectory: one step is enough for them, where
// path_traversal asks for two.
var upFiles = []string{"web.config", "appsettings.json", dotEnv}

// osFileBy maps the first byte of an entry of osFiles to the entries.
var osFileBy = func() (t [256][]string) {
	for _, f := range osFiles {
		t[f[0]] = append(t[f[0]], f)
	}
	return t
}()

// fileNeeds: a file path or wrapper needs a separator or a ':' (or a '.'
// for a bare "win.ini" or ".htpasswd").
const fileNeeds = bSlash | bBackslash | bColon

func checkFile(v []byte, m uint64) string {
	if !hasAny(m, fileNeeds|bDot) || !hasAny(m, bLetter) {
		return ""
	}
	if has(m, bColon) {
		if r := streamWrapper(v); r != "" {
			return r
		}
	}
	if has(m, bBackslash|bDollar) && adminShare(v) {
		return ruleAdminShare
	}
	if osFileAt(v, 0) {
		return ruleOSFile
	}
	if !hasAny(m, bSlash|bBackslash) {
		return ""
	}
	for _, sep := range [...]byte{'/', '\\'} {
		for i := bytes.IndexByte(v, sep); i >= 0; i = indexByteFrom(v, i+1, sep) {
			if osFileAt(v, i+1) || fileAt(v, i+1, dotEnv) ||
				i >= 2 && v[i-1] == '.' && v[i-2] == '.' && upFileAt(v, i+1) {
				return ruleOSFile
			}
		}
	}
	return ""
}

// fileAt reports whether file f is named at v[i] (past quotes and
// separators) and ends there.
func fileAt(v []byte, i int, f string) bool {
	i = skipPathNoise(v, i)
	end, ok := matchPath(v, i, f)
	return ok && (end == len(v) || !isFileNameByte(v[end]))
}

// upFileAt reports whether one of upFiles is named at v[i].
func upFileAt(v []byte, i int) bool {
	for _, f := range upFiles {
		if fileAt(v, i, f) {
			return true
		}
	}
	return false
}

// procPidFile reports whether v at i names one of procFiles of a process
// by its number: "proc/1/environ".
func procPidFile(v []byte, i int) bool {
	j, ok := matchPath(v, i, "proc/")
	if !ok {
		return false
	}
	k := j
	for k < len(v) && isDigit(v[k]) {
		k++
	}
	if k == j || k >= len(v) || !isPathSep(v[k]) {
		return false
	}
	k = skipPathNoise(v, k)
	for _, f := range procFiles {
		if end, ok := matchPath(v, k, f); ok && (f[len(f)-1] == '/' || end == len(v) || !isFileNameByte(v[end])) {
			return true
		}
	}
	return false
}

// isFileNameByte: a byte that continues a file name ("id_rsa.pub" is
// not "id_rsa").
func isFileNameByte(c byte) bool { return isAlnum(c) || c == '_' || c == '-' || c == '.' }

// osFileAt reports whether an entry of osFiles starts at v[i], comparing
// the way a path resolves: case ignored, '\' read as '/', quotes skipped
// ("/et'c/pa'ss'wd" is how a shell reads /etc/passwd), and "//" and "/./"
// read as "/"; the entry must end there (a file name does not continue
// with a letter or digit).
func osFileAt(v []byte, i int) bool {
	i = skipPathNoise(v, i)
	if i >= len(v) {
		return false
	}
	if lowerASCII(v[i]) == 'p' && procPidFile(v, i) {
		return true
	}
	for _, f := range osFileBy[lowerASCII(v[i])] {
		if end, ok := matchPath(v, i, f); ok && (f[len(f)-1] == '/' || end == len(v) || !isFileNameByte(v[end])) {
			return true
		}
	}
	return false
}

// skipPathNoise skips what matchPath ignores before a name: quotes,
// separators and "./".
func skipPathNoise(v []byte, i int) int {
	for i < len(v) {
		switch {
		case v[i] == '\'' || v[i] == '"' || v[i] == '/' || v[i] == '\\':
			i++
		case v[i] == '.' && i+1 < len(v) && (v[i+1] == '/' || v[i+1] == '\\'):
			i += 2
		default:
			return i
		}
	}
	return i
}

// matchPath compares v from i with the normalized path f (see osFileAt)
// and returns the index in v after the match.
func matchPath(v []byte, i int, f string) (int, bool) {
	for k := 0; k < len(f); {
		if i >= len(v) {
			return i, false
		}
		c := lowerASCII(v[i])
		switch c {
		case '\'', '"':
			i++
			continue
		case '\\':
			c = '/'
		}
		if c != f[k] {
			return i, false
		}
		i++
		k++
		if c == '/' {
			i = skipPathNoise(v, i)
		}
	}
	return i, true
}

// wrappers are the URL schemes that read or execute local files in PHP
// (stream wrappers) and Java (netdoc:, jar:).
var wrappers = []string{"php://", "phar://", "expect://", "zip://", "glob://", "data://", "compress.zlib://",
	"compress.bzip2://", "zlib://", "netdoc:", "jar:file:", "jar:http"}

func streamWrapper(v []byte) string {
	for i := bytes.IndexByte(v, ':'); i >= 0; i = indexByteFrom(v, i+1, ':') {
		// Every wrapper ends in "://" but netdoc: and jar:.
		if !hasPrefixAt(v, i+1, "//") && (i < 3 || (v[i-1]|0x20 != 'c' && v[i-1]|0x20 != 'r')) {
			continue
		}
		start := i
		for start > 0 && (isLetter(v[start-1]) || v[start-1] == '.' || isAlnum(v[start-1])) {
			start--
		}
		if start == i {
			continue
		}
		for _, w := range wrappers {
			if hasPrefixFold(v, start, w) {
				return ruleWrapper
			}
		}
	}
	return ""
}

// adminShare finds "\\host\x$" with x a drive letter, "admin" or "ipc".
func adminShare(v []byte) bool {
	for i := 0; i+1 < len(v); i++ {
		if v[i] != '$' || i == 0 {
			continue
		}
		j := i
		for j > 0 && isLetter(v[j-1]) {
			j--
		}
		name := v[j:i]
		if j == 0 || v[j-1] != '\\' || !(len(name) == 1 || equalFoldString(name, "admin") || equalFoldString(name, "ipc")) {
			continue
		}
		if i+1 < len(v) && v[i+1] != '\\' && v[i+1] != '/' {
			continue
		}
		// A UNC path before it: "\\host\".
		k := j - 1
		for k > 0 && v[k-1] != '\\' {
			k--
		}
		if k >= 2 && v[k-1] == '\\' && v[k-2] == '\\' {
			return true
		}
	}
	return false
}

// equalFoldString reports whether b is lower, ignoring ASCII case; lower
// must be lower case.
func equalFoldString(b []byte, lower string) bool {
	return len(b) == len(lower) && hasPrefixFold(b, 0, lower)
}

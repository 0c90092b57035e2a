//go:build !coraza.rule.no_regex_multiline

package crs

// rxFlags are the flags Coraza's @rx puts before every regular expression
// (internal/operators/multilineregex_default.go): dot matches newline, ^
// and $ match at line ends.
const rxFlags = "(?sm)"

//go:build coraza.rule.no_regex_multiline

package crs

// rxFlags are the flags Coraza's @rx puts before every regular expression
// when built with coraza.rule.no_regex_multiline: dot matches newline.
const rxFlags = "(?s)"

package main

import "testing"

func TestURLDecode(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"plain", "1 OR 1=1", "1 OR 1=1"},
		{"plus is space", "1+OR+1=1", "1 OR 1=1"},
		{"percent pair", "%27%20or%201%3D1", "' or 1=1"},
		{"mixed case hex", "%3c%3C", "<<"},
		{"percent at end", "abc%", "abc%"},
		{"one digit at end", "abc%4", "abc%4"},
		{"pair at end", "abc%41", "abcA"},
		{"bad first digit", "%G1x", "%G1x"},
		{"bad second digit", "%1Gx", "%1Gx"},
		{"encoded percent decoded once", "%2541", "%41"},
		{"raw bytes kept", "\xff%ff", "\xff\xff"},
		{"encoded plus", "%2B", "+"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := string(urlDecode([]byte(tc.in))); got != tc.want {
				t.Errorf("urlDecode(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

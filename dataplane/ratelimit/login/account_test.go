package login

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestAccount(t *testing.T) {
	f := compileFields([]string{"username", "user.email"})
	tests := []struct {
		name, ct, body string
		want           string
		l              lookup
	}{
		{"json top level", "application/json", `{"username":"alice","password":"x"}`, "alice", found},
		{"json with charset", "application/json; charset=utf-8", `{"username":"bob"}`, "bob", found},
		{"json escapes decoded", "application/json", `{"username":"\u0061dmin"}`, "admin", found},
		{"vendor +json", "application/vnd.api+json", `{"username":"carol"}`, "carol", found},
		{"nested path is the second choice", "application/json", `{"user":{"email":"d@example.com"}}`, "d@example.com", found},
		{"first configured field wins", "application/json", `{"user":{"email":"e@x"},"username":"eve"}`, "eve", found},
		{"json keys match ignoring case", "application/json", `{"UserName":"alice"}`, "alice", found},
		{"json escaped key", "application/json", `{"user\u006eame":"alice"}`, "alice", found},
		{"json duplicate key", "application/json", `{"username":"decoy","username":"alice"}`, "", ambiguous},
		{"json case-variant duplicate", "application/json", `{"username":"decoy","USERNAME":"alice"}`, "", ambiguous},
		{"json duplicate nested key", "application/json", `{"user":{"email":"a","Email":"b"}}`, "", ambiguous},
		{"json duplicate parent", "application/json", `{"user":{"email":"a"},"user":{"email":"b"}}`, "", ambiguous},
		{"non-string ignored", "application/json", `{"username":42}`, "", absent},
		{"invalid json", "application/json", `{"username":"a"`, "", absent},
		{"form", "application/x-www-form-urlencoded", "password=x&username=frank", "frank", found},
		{"form decoding", "application/x-www-form-urlencoded", "user%6Eame=g%C3%BCnter+m%40x", "günter m@x", found},
		{"form malformed escape kept", "application/x-www-form-urlencoded", "username=a%zzb%4", "a%zzb%4", found},
		{"form repeated field", "application/x-www-form-urlencoded", "username=h1&username=h2", "", ambiguous},
		{"form repeated field, encoded", "application/x-www-form-urlencoded", "username=h1&user%6Eame=h2", "", ambiguous},
		{"form field absent", "application/x-www-form-urlencoded", "user=x&usernamex=y", "", absent},
		{"form names are literal", "application/x-www-form-urlencoded", "user.email=i%40x", "i@x", found},
		{"form empty value", "application/x-www-form-urlencoded", "username=", "", found},
		{"form without value", "application/x-www-form-urlencoded", "username", "", found},
		{"multipart not parsed", "multipart/form-data; boundary=x", "--x\r\n", "", absent},
		{"no body", "application/json", "", "", absent},
		{"long names are truncated", "application/json", `{"username":"` + strings.Repeat("a", 300) + `"}`, strings.Repeat("a", maxAccount), found},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var buf [maxAccount]byte
			got, l := f.account(buf[:0], []byte(tc.ct), []byte(tc.body))
			if l != tc.l || string(got) != tc.want {
				t.Fatalf("account = %q, %d; want %q, %d", got, l, tc.want, tc.l)
			}
		})
	}
}

// FuzzFormValue checks the scanner against net/url on bodies url parses.
func FuzzFormValue(f *testing.F) {
	for _, s := range []string{"username=a", "a=1&username=b%20c", "user%6Eame=x+y", "username=%zz", "&&username=&", "=x&username", "username=a&username=b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		got, l := formValue(nil, []byte(body), "username")
		if len(got) > maxAccount {
			t.Fatalf("value of %d bytes, bound %d", len(got), maxAccount)
		}
		q, err := url.ParseQuery(body)
		if err != nil || strings.Contains(body, ";") {
			return // malformed escapes: url rejects, the scanner keeps them literally
		}
		vals := q["username"]
		want := map[int]lookup{0: absent, 1: found}[min(len(vals), 2)]
		if len(vals) > 1 {
			want = ambiguous
		}
		if l != want {
			t.Fatalf("body %q: lookup %d, url has %d values", body, l, len(vals))
		}
		if l == found && len(vals[0]) <= maxAccount && string(got) != vals[0] {
			t.Fatalf("body %q: value %q, url says %q", body, got, vals[0])
		}
	})
}

// topLevelFold returns the values of the top-level keys of a JSON object
// that equal name ignoring case, as encoding/json's tokenizer reads them.
func topLevelFold(body, name string) ([]any, bool) {
	dec := json.NewDecoder(strings.NewReader(body))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, false
	}
	var vals []any
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, false
		}
		var v any
		if err := dec.Decode(&v); err != nil {
			return nil, false
		}
		if k, _ := tok.(string); strings.EqualFold(k, name) {
			vals = append(vals, v)
		}
	}
	return vals, true
}

// FuzzAccountJSON checks the JSON path against encoding/json: one matching
// key (any case) is the account when it is a string, several are ambiguous.
func FuzzAccountJSON(f *testing.F) {
	for _, s := range []string{`{"username":"a"}`, `{"username":"\u00e9\n"}`, `{"username":1}`, `[1]`, `{"user":{"email":"x"}}`,
		`{"username":"a","username":"b"}`, `{"UserName":"a"}`, `{"username":"a","USERNAME":1}`} {
		f.Add(s)
	}
	fl := compileFields([]string{"username"})
	f.Fuzz(func(t *testing.T, body string) {
		got, l := fl.account(nil, []byte("application/json"), []byte(body))
		var doc any
		if err := json.Unmarshal([]byte(body), &doc); err != nil || !utf8.ValidString(body) {
			return
		}
		vals, ok := topLevelFold(body, "username")
		if !ok {
			return
		}
		switch {
		case len(vals) > 1:
			if l != ambiguous {
				t.Fatalf("body %q: %d matching keys, lookup %d", body, len(vals), l)
			}
		case len(vals) == 1:
			s, isString := vals[0].(string)
			if (l == found) != isString {
				t.Fatalf("body %q: lookup %d, encoding/json value %#v", body, l, vals[0])
			}
			if isString && len(s) <= maxAccount && string(got) != s {
				t.Fatalf("body %q: %q, encoding/json says %q", body, got, s)
			}
		default:
			if l != absent {
				t.Fatalf("body %q: lookup %d with no matching key", body, l)
			}
		}
	})
}

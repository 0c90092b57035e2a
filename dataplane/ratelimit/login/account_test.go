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
		ok             bool
	}{
		{"json top level", "application/json", `{"username":"alice","password":"x"}`, "alice", true},
		{"json with charset", "application/json; charset=utf-8", `{"username":"bob"}`, "bob", true},
		{"json escapes decoded", "application/json", `{"username":"\u0061dmin"}`, "admin", true},
		{"vendor +json", "application/vnd.api+json", `{"username":"carol"}`, "carol", true},
		{"nested path is the second choice", "application/json", `{"user":{"email":"d@example.com"}}`, "d@example.com", true},
		{"first configured field wins", "application/json", `{"user":{"email":"e@x"},"username":"eve"}`, "eve", true},
		{"non-string ignored", "application/json", `{"username":42}`, "", false},
		{"invalid json", "application/json", `{"username":"a"`, "", false},
		{"form", "application/x-www-form-urlencoded", "password=x&username=frank", "frank", true},
		{"form decoding", "application/x-www-form-urlencoded", "user%6Eame=g%C3%BCnter+m%40x", "günter m@x", true},
		{"form malformed escape kept", "application/x-www-form-urlencoded", "username=a%zzb%4", "a%zzb%4", true},
		{"form first occurrence", "application/x-www-form-urlencoded", "username=h1&username=h2", "h1", true},
		{"form field absent", "application/x-www-form-urlencoded", "user=x&usernamex=y", "", false},
		{"form names are literal", "application/x-www-form-urlencoded", "user.email=i%40x", "i@x", true},
		{"form empty value", "application/x-www-form-urlencoded", "username=", "", true},
		{"form without value", "application/x-www-form-urlencoded", "username", "", true},
		{"multipart not parsed", "multipart/form-data; boundary=x", "--x\r\n", "", false},
		{"no body", "application/json", "", "", false},
		{"long names are truncated", "application/json", `{"username":"` + strings.Repeat("a", 300) + `"}`, strings.Repeat("a", maxAccount), true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var buf [maxAccount]byte
			got, ok := f.account(buf[:0], []byte(tc.ct), []byte(tc.body))
			if ok != tc.ok || string(got) != tc.want {
				t.Fatalf("account = %q, %v; want %q, %v", got, ok, tc.want, tc.ok)
			}
		})
	}
}

// FuzzFormValue checks the scanner against net/url on bodies url parses.
func FuzzFormValue(f *testing.F) {
	for _, s := range []string{"username=a", "a=1&username=b%20c", "user%6Eame=x+y", "username=%zz", "&&username=&", "=x&username"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		got, ok := formValue(nil, []byte(body), "username")
		if len(got) > maxAccount {
			t.Fatalf("value of %d bytes, bound %d", len(got), maxAccount)
		}
		q, err := url.ParseQuery(body)
		if err != nil || strings.Contains(body, ";") {
			return // malformed escapes: url rejects, the scanner keeps them literally
		}
		vals, present := q["username"]
		if present != ok {
			t.Fatalf("body %q: present %v, url says %v", body, ok, present)
		}
		if ok && len(vals[0]) <= maxAccount && string(got) != vals[0] {
			t.Fatalf("body %q: value %q, url says %q", body, got, vals[0])
		}
	})
}

// FuzzAccountJSON checks the JSON path against encoding/json.
func FuzzAccountJSON(f *testing.F) {
	for _, s := range []string{`{"username":"a"}`, `{"username":"\u00e9\n"}`, `{"username":1}`, `[1]`, `{"user":{"email":"x"}}`, `{"username":"a","username":"b"}`} {
		f.Add(s)
	}
	fl := compileFields([]string{"username"})
	f.Fuzz(func(t *testing.T, body string) {
		got, ok := fl.account(nil, []byte("application/json"), []byte(body))
		var doc map[string]any
		if err := json.Unmarshal([]byte(body), &doc); err != nil || !utf8.ValidString(body) {
			return
		}
		if strings.Count(body, `"username"`) > 1 || strings.Contains(body, `\u0075`) {
			return // duplicate keys: fastjson takes the first, encoding/json the last
		}
		s, isString := doc["username"].(string)
		if ok != isString {
			t.Fatalf("body %q: found %v, encoding/json says %v", body, ok, isString)
		}
		if ok && len(s) <= maxAccount && string(got) != s {
			t.Fatalf("body %q: %q, encoding/json says %q", body, got, s)
		}
	})
}

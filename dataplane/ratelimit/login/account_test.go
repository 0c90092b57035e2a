package login

import (
	"encoding/json"
	"io"
	"mime/multipart"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"unicode"
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
		{"number: its decimal form", "application/json", `{"username":42}`, "42", found},
		{"number: exponent", "application/json", `{"username":[1.5e2]}`, "150", found},
		{"bool ignored", "application/json", `{"username":true}`, "", absent},
		{"invalid json", "application/json", `{"username":"a"`, "", absent},
		{"form", "application/x-www-form-urlencoded", "password=x&username=frank", "frank", found},
		{"form decoding", "application/x-www-form-urlencoded", "user%6Eame=g%C3%BCnter+m%40x", "günter m@x", found},
		{"form malformed escape kept", "application/x-www-form-urlencoded", "username=a%zzb%4", "a%zzb%4", found},
		{"form repeated field", "application/x-www-form-urlencoded", "username=h1&username=h2", "", ambiguous},
		{"form repeated field, encoded", "application/x-www-form-urlencoded", "username=h1&user%6Eame=h2", "", ambiguous},
		{"form field absent", "application/x-www-form-urlencoded", "user=x&usernamex=y", "", absent},
		{"form names are literal", "application/x-www-form-urlencoded", "user.email=i%40x", "i@x", found},
		{"form empty value", "application/x-www-form-urlencoded", "username=", "", absent},
		{"form without value", "application/x-www-form-urlencoded", "username", "", absent},
		{"form case-insensitive", "application/x-www-form-urlencoded", "UserName=j", "j", found},
		{"form array", "application/x-www-form-urlencoded", "username%5B%5D=k", "k", found},
		{"form bracket spelling of a dotted path", "application/x-www-form-urlencoded", "user[email]=l%40x", "l@x", found},
		{"form array of two", "application/x-www-form-urlencoded", "username[]=a&username[]=b", "", ambiguous},
		{"json array of one", "application/json", `{"username":["m"]}`, "m", found},
		{"json array of two", "application/json", `{"username":["m","n"]}`, "", ambiguous},
		{"json empty array", "application/json", `{"username":[]}`, "", absent},
		{"json in text/plain", "text/plain", `{"username":"o"}`, "o", found},
		{"json in a form", "application/x-www-form-urlencoded", `{"username":"p"}`, "p", found},
		{"canonical: trimmed, controls dropped", "application/json", `{"username":"\u3000 q\u0000 r\t\u200a"}`, "q r", found},
		{"canonical: only space", "application/json", `{"username":" \t"}`, "", absent},
		{"canonical: invalid UTF-8 kept", "application/x-www-form-urlencoded", "username=%ff%C2s", "\xff\xc2s", found},
		{"multipart", "multipart/form-data; boundary=x", "--x\r\nContent-Disposition: form-data; name=username\r\n\r\ns\r\n--x--", "s", found},
		{"multipart file skipped", "multipart/form-data; boundary=x", "--x\r\nContent-Disposition: form-data; name=username; filename=a\r\n\r\ns\r\n--x--", "", absent},
		{"multipart no boundary", "multipart/form-data", "--x\r\n", "", ambiguous},
		{"multipart empty", "multipart/form-data; boundary=x", "--x\r\n", "", absent},
		{"multipart without end", "multipart/form-data; boundary=x", "preamble\n--x\nContent-Disposition: form-data; name=\"user\\name\"\n\nt", "t", found},
		{"no body", "application/json", "", "", absent},
		{"long names are truncated", "application/json", `{"username":"` + strings.Repeat("a", 300) + `"}`, strings.Repeat("a", maxAccount), found},
		{"leading space is not kept", "application/json", `{"username":"` + strings.Repeat(" ", 300) + `u"}`, "u", found},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var buf [maxAccount]byte
			got, l := f.account(buf[:0], request{contentType: []byte(tc.ct), body: []byte(tc.body)})
			if l != tc.l || string(got) != tc.want {
				t.Fatalf("account = %q, %d; want %q, %d", got, l, tc.want, tc.l)
			}
		})
	}
}

// canonRef is canon written plainly: controls dropped, then white space
// trimmed; bytes that are not UTF-8 kept as they are.
func canonRef(s string) string {
	var b []byte
	for len(s) > 0 {
		r, n := utf8.DecodeRuneInString(s)
		if !(n > 1 || r != utf8.RuneError) || !unicode.IsControl(r) {
			b = append(b, s[:n]...)
		}
		s = s[n:]
	}
	return strings.TrimFunc(string(b), func(r rune) bool { return r != utf8.RuneError && unicode.IsSpace(r) })
}

// formField reports whether a form key names the username field.
func formField(k string) bool {
	return len(k) >= 8 && strings.EqualFold(k[:8], "username") && (len(k) == 8 || k[8] == '[')
}

// FuzzFormValue checks the scanner against net/url on bodies url parses.
func FuzzFormValue(f *testing.F) {
	for _, s := range []string{"username=a", "a=1&username=b%20c", "user%6Eame=x+y", "username=%zz", "&&username=&", "=x&username", "username=a&username=b",
		"USERNAME[]=%20a%00", "username[x]=a&Username=b"} {
		f.Add(s)
	}
	fl := compileFields([]string{"username"})
	f.Fuzz(func(t *testing.T, body string) {
		got, l := fl.account(nil, request{contentType: []byte("application/x-www-form-urlencoded"), body: []byte(body)})
		if len(got) > maxAccount {
			t.Fatalf("value of %d bytes, bound %d", len(got), maxAccount)
		}
		q, err := url.ParseQuery(body)
		if err != nil || strings.Contains(body, ";") || strings.HasPrefix(strings.TrimSpace(body), "{") {
			return // malformed escapes: url rejects, the scanner keeps them literally
		}
		var vals []string
		for k, v := range q {
			if formField(k) {
				vals = append(vals, v...)
			}
		}
		want := absent
		switch {
		case len(vals) > 1:
			want = ambiguous
		case len(vals) == 1 && canonRef(vals[0]) != "":
			want = found
		}
		if l != want {
			t.Fatalf("body %q: lookup %d, url has %q", body, l, vals)
		}
		if l == found && len(vals[0]) <= maxAccount && string(got) != canonRef(vals[0]) {
			t.Fatalf("body %q: value %q, url says %q", body, got, vals[0])
		}
	})
}

// topLevelFold returns the values of the top-level keys of a JSON object
// that equal name ignoring case, as encoding/json's tokenizer reads them.
func topLevelFold(body, name string) ([]any, bool) {
	dec := json.NewDecoder(strings.NewReader(body))
	dec.UseNumber()
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

// decimal is the decimal form of a JSON number, as an account name.
func decimal(n string) string {
	if i, err := strconv.ParseInt(n, 10, 64); err == nil {
		return strconv.FormatInt(i, 10)
	}
	if u, err := strconv.ParseUint(n, 10, 64); err == nil {
		return strconv.FormatUint(u, 10)
	}
	f, _ := strconv.ParseFloat(n, 64)
	return strconv.FormatFloat(f, 'f', -1, 64)
}

// FuzzAccountJSON checks the JSON path against encoding/json: one matching
// key (any case) is the account when it is a string or number (or an array
// of one), several are ambiguous.
func FuzzAccountJSON(f *testing.F) {
	for _, s := range []string{`{"username":"a"}`, `{"username":"\u00e9\n"}`, `{"username":1}`, `[1]`, `{"user":{"email":"x"}}`,
		`{"username":"a","username":"b"}`, `{"UserName":"a"}`, `{"username":"a","USERNAME":1}`, `{"username":[" a\u0000"]}`, `{"username":["a",1]}`} {
		f.Add(s)
	}
	fl := compileFields([]string{"username"})
	f.Fuzz(func(t *testing.T, body string) {
		got, l := fl.account(nil, request{contentType: []byte("application/json"), body: []byte(body)})
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
			if a, ok := vals[0].([]any); ok {
				if len(a) > 1 {
					if l != ambiguous {
						t.Fatalf("body %q: array of %d, lookup %d", body, len(a), l)
					}
					return
				}
				if len(a) == 1 {
					vals[0] = a[0]
				}
			}
			s, isString := vals[0].(string)
			if n, ok := vals[0].(json.Number); ok {
				s, isString = decimal(string(n)), true
			}
			s = canonRef(s)
			if (l == found) != (isString && s != "") {
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

// FuzzAccountMultipart checks the multipart scanner against mime/multipart
// on bodies Go's reader reads to the end: every field part it reads as
// the username is one the scanner counts (it may count more, never fewer).
func FuzzAccountMultipart(f *testing.F) {
	for _, s := range []string{
		"--b\r\nContent-Disposition: form-data; name=\"username\"\r\n\r\n a\r\n--b--\r\n",
		"--b\nContent-Disposition: form-data; name=USERNAME\n\na\n--b\ncontent-disposition: form-data; name=\"username[]\"\n\nb\n--b--\n",
		"pre\r\n--b\r\nContent-Disposition: form-data; name=\"username\"; filename=\"f\"\r\n\r\nx\r\n--b--",
		"--b\r\nContent-Disposition: form-data; name*=utf-8''user%6Eame\r\n\r\nx\r\n--b--",
	} {
		f.Add(s)
	}
	fl := compileFields([]string{"username"})
	f.Fuzz(func(t *testing.T, body string) {
		got, l := fl.account(nil, request{contentType: []byte("multipart/form-data; boundary=b"), body: []byte(body)})
		if len(got) > maxAccount {
			t.Fatalf("value of %d bytes, bound %d", len(got), maxAccount)
		}
		if strings.HasPrefix(strings.TrimSpace(body), "{") {
			return // read as JSON too
		}
		r := multipart.NewReader(strings.NewReader(body), "b")
		var vals []string
		for {
			p, err := r.NextPart()
			if err == io.EOF {
				break
			}
			if err != nil {
				return
			}
			v, err := io.ReadAll(p)
			if err != nil {
				return
			}
			if p.FileName() == "" && formField(p.FormName()) {
				vals = append(vals, string(v))
			}
		}
		switch {
		case len(vals) > 1:
			if l != ambiguous {
				t.Fatalf("body %q: Go reads %q, lookup %d", body, vals, l)
			}
		case len(vals) == 1 && canonRef(vals[0]) != "" && len(vals[0]) <= maxAccount:
			if l != ambiguous && (l != found || string(got) != canonRef(vals[0])) {
				t.Fatalf("body %q: Go reads %q, lookup %d %q", body, vals, l, got)
			}
		}
	})
}

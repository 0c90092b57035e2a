package headers

import (
	"mime"
	"strings"
	"testing"
)

func TestContentCharset(t *testing.T) {
	for _, tc := range []struct {
		name, ct string
		want     Charset
		label    string
	}{
		{"no parameters", "application/json", CharsetNone, ""},
		{"other parameter", "multipart/form-data; boundary=x", CharsetNone, ""},
		{"utf-8", "application/json; charset=utf-8", CharsetUTF8, "utf-8"},
		{"UTF-8 quoted, spaced", `text/plain ;  Charset = "UTF-8" `, CharsetUTF8, "UTF-8"},
		{"utf8 alias", "text/plain; charset=utf8", CharsetUTF8, "utf8"},
		{"latin-1", "text/plain; charset=ISO-8859-1", CharsetASCII, "ISO-8859-1"},
		{"latin-15", "text/plain; charset=iso-8859-15", CharsetASCII, "iso-8859-15"},
		{"windows-1252", "text/html; charset=windows-1252", CharsetASCII, "windows-1252"},
		{"shift_jis", "text/plain; charset=Shift_JIS", CharsetASCII, "Shift_JIS"},
		{"us-ascii", "application/x-www-form-urlencoded; charset=US-ASCII", CharsetASCII, "US-ASCII"},
		{"utf-16", "application/json; charset=utf-16", CharsetUTF16, "utf-16"},
		{"utf-16le", "application/json; charset=UTF-16LE", CharsetUTF16LE, "UTF-16LE"},
		{"utf-16be", "text/plain; charset=utf-16be", CharsetUTF16BE, "utf-16be"},
		{"ucs-2", "text/plain; charset=ucs-2", CharsetUTF16, "ucs-2"},
		{"utf-32", "application/json; charset=utf-32", CharsetUTF32, "utf-32"},
		{"utf-32le", "application/json; charset=utf-32le", CharsetUTF32LE, "utf-32le"},
		{"utf-32be", "application/json; charset=utf-32BE", CharsetUTF32BE, "utf-32BE"},
		{"utf-7", "application/x-www-form-urlencoded; charset=utf-7", CharsetOther, "utf-7"},
		{"utf-7 quoted", `text/plain; charset="UTF-7"`, CharsetOther, "UTF-7"},
		{"EBCDIC", "text/plain; charset=IBM037", CharsetOther, "IBM037"},
		{"cp500", "text/plain; charset=cp500", CharsetOther, "cp500"},
		{"ISO-2022-JP", "text/plain; charset=iso-2022-jp", CharsetOther, "iso-2022-jp"},
		{"HZ", "text/plain; charset=hz-gb-2312", CharsetOther, "hz-gb-2312"},
		{"unknown", "text/plain; charset=x-made-up", CharsetOther, "x-made-up"},
		{"empty label", "text/plain; charset=", CharsetOther, ""},
		{"look-alike prefix", "text/plain; charset=iso-8859-1x", CharsetOther, "iso-8859-1x"},
		{"label too long", "text/plain; charset=" + strings.Repeat("a", 40), CharsetOther, strings.Repeat("a", 40)},
		{"charset twice", "text/plain; charset=utf-8; charset=utf-7", CharsetOther, "utf-8"},
		{"charset twice, same", "text/plain; charset=utf-8; CHARSET=utf-8", CharsetOther, "utf-8"},
		{"semicolon in a quoted string", `text/plain; a="x;charset=utf-8;"; charset=utf-7`, CharsetOther, "utf-7"},
		{"quoted charset with a semicolon", `text/plain; charset="utf-8;x"`, CharsetOther, "utf-8;x"},
		{"unclosed quote", `text/plain; charset="utf-8`, CharsetOther, `"utf-8`},
		{"parameter without value", `text/plain; foo; charset=utf-16le`, CharsetUTF16LE, "utf-16le"},
		{"charset-like name", "text/plain; xcharset=utf-7", CharsetNone, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, label := ContentCharset([]byte(tc.ct))
			if got != tc.want || string(label) != tc.label {
				t.Errorf("ContentCharset(%q) = %v %q; want %v %q", tc.ct, got, label, tc.want, tc.label)
			}
		})
	}
}

func TestCharsetLabel(t *testing.T) {
	for label, want := range map[string]Charset{"UTF-8": CharsetUTF8, " utf-7 ": CharsetOther, "Shift_JIS": CharsetASCII,
		"utf-16": CharsetUTF16, "": CharsetOther, "windows-1252": CharsetASCII} {
		if got := CharsetLabel([]byte(label)); got != want {
			t.Errorf("CharsetLabel(%q) = %v; want %v", label, got, want)
		}
	}
}

// FuzzContentCharset: ContentCharset never panics, agrees with
// mime.ParseMediaType on the label where that parses the value, and takes
// no label as safe (UTF-8 or ASCII-compatible) unless it is in the lists.
func FuzzContentCharset(f *testing.F) {
	for _, s := range []string{"application/json; charset=utf-8", `text/plain; charset="utf-7"`, "a/b;charset=UTF-16LE;x=y",
		"a/b; charset=iso-8859-1", "a/b; charset", "a/b;;charset=windows-1252", "a/b; charset=\"\""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, ct string) {
		cs, label := ContentCharset([]byte(ct))
		if cs == CharsetNone && label != nil {
			t.Fatalf("ContentCharset(%q) = none with label %q", ct, label)
		}
		if cs == CharsetUTF8 || cs == CharsetASCII || cs.Unicode() {
			if again := charsetOf(label); again != cs {
				t.Fatalf("label %q classified %v, then %v", label, cs, again)
			}
			l := strings.ToLower(string(label))
			if !strings.Contains(l, "utf") && !strings.Contains(l, "ucs") && !strings.Contains(l, "unicode") &&
				!strings.ContainsAny(l, "0123456789") && !knownASCII(l) {
				t.Fatalf("label %q taken as %v", label, cs)
			}
		}
		_, params, err := mime.ParseMediaType(ct)
		if err != nil || strings.Count(strings.ToLower(ct), "charset") != 1 || strings.Contains(ct, `\`) {
			return
		}
		if want, ok := params["charset"]; ok && !strings.EqualFold(want, string(label)) {
			t.Fatalf("ContentCharset(%q) label %q; mime says %q", ct, label, want)
		}
	})
}

func knownASCII(l string) bool {
	switch l {
	case "us-ascii", "ascii", "latin1", "l1", "koi8r", "koi8u", "sjis", "shift_jis", "shift-jis", "ms_kanji", "eucjp", "euckr",
		"gbk", "big5":
		return true
	}
	return false
}

package formdata

import (
	"bytes"
	"errors"
	"testing"
)

func TestReader(t *testing.T) {
	for _, tc := range []struct {
		name, params, body string
		parts              []string // name=content
		kinds              []Kind
		err                error
	}{
		{"crlf", "; boundary=BB", "--BB\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nx\r\n--BB\r\nContent-Disposition: form-data; name=\"b\"; filename=\"b.txt\"\r\n\r\ny\r\n--BB--\r\n",
			[]string{"a=x", "b=y"}, []Kind{KindField, KindFile}, nil},
		{"lf", "; boundary=BB", "--BB\nContent-Disposition: form-data; name=a\n\nx\n--BB--\n", []string{"a=x"}, []Kind{KindField}, nil},
		{"preamble", "; boundary=\"BB\"", "junk\r\n--BB\r\nContent-Disposition: form-data; name=a\r\n\r\nx\r\n--BB--", []string{"a=x"}, []Kind{KindField}, nil},
		{"filename* alone", "; boundary=BB", "--BB\r\nContent-Disposition: form-data; name=f; filename*=UTF-8''x.txt\r\n\r\nq\r\n--BB--\r\n",
			[]string{"f=q"}, []Kind{KindEither}, nil},
		{"empty filename", "; boundary=BB", "--BB\r\nContent-Disposition: form-data; name=f; filename=\"\"\r\n\r\nq\r\n--BB--\r\n",
			[]string{"f=q"}, []Kind{KindField}, nil},
		{"epilogue", "; boundary=BB", "--BB\r\nContent-Disposition: form-data; name=a\r\n\r\nx\r\n--BB--\r\nbye\r\n", []string{"a=x"}, []Kind{KindField}, nil},
		{"part after the close", "; boundary=BB", "--BB\r\nContent-Disposition: form-data; name=a\r\n\r\nx\r\n--BB--\r\n--BB\r\nContent-Disposition: form-data; name=f\r\n\r\nz\r\n--BB--\r\n",
			[]string{"a=x"}, []Kind{KindField}, ErrPartsAfterClose},
		{"part without headers", "; boundary=BB", "--BB\r\n\r\nplain\r\n--BB\r\nContent-Disposition: form-data; name=a\r\n\r\nx\r\n--BB--\r\n",
			[]string{"=plain", "a=x"}, []Kind{KindField, KindField}, nil},
		{"lf part without headers", "; boundary=BB", "--BB\n\nplain\n--BB--\n", []string{"=plain"}, []Kind{KindField}, nil},
		{"no boundary", "", "--BB\r\n", nil, nil, ErrUnfollowable},
		{"two boundaries", "; boundary=BB; boundary=CC", "--BB\r\n", nil, nil, ErrUnfollowable},
		{"no first delimiter", "; boundary=BB", "x--BB\r\n", nil, nil, ErrUnfollowable},
		{"no header end", "; boundary=BB", "--BB\r\nContent-Disposition: form-data; name=a\r\n", nil, nil, ErrUnfollowable},
		{"no next delimiter", "; boundary=BB", "--BB\r\nContent-Disposition: form-data; name=a\r\n\r\nx", nil, nil, ErrUnfollowable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var r Reader
			var parts []string
			var kinds []Kind
			if r.Start([]byte(tc.body), []byte(tc.params)) {
				for {
					h, c, ok := r.Next()
					if !ok {
						break
					}
					name, _, kind := Disposition(h)
					parts = append(parts, string(name)+"="+string(c))
					kinds = append(kinds, kind)
				}
			}
			if !errors.Is(r.Err(), tc.err) || r.Err() == nil != (tc.err == nil) {
				t.Errorf("Err() = %v, want %v", r.Err(), tc.err)
			}
			if len(parts) != len(tc.parts) {
				t.Fatalf("parts %q, want %q", parts, tc.parts)
			}
			for i := range parts {
				if parts[i] != tc.parts[i] || kinds[i] != tc.kinds[i] {
					t.Errorf("part %d: %q kind %d, want %q kind %d", i, parts[i], kinds[i], tc.parts[i], tc.kinds[i])
				}
			}
		})
	}
}

func TestReaderAllocs(t *testing.T) {
	body := []byte("--BB\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nx\r\n--BB--\r\n")
	params := []byte("; boundary=BB")
	var r Reader
	if n := testing.AllocsPerRun(100, func() {
		r.Start(body, params)
		for {
			if _, _, ok := r.Next(); !ok {
				break
			}
		}
	}); n != 0 {
		t.Errorf("%v allocations per body", n)
	}
}

// FuzzReader: any body and parameters are read without panic, every part
// is a piece of the body, and reading stops with an error or cleanly.
func FuzzReader(f *testing.F) {
	f.Add([]byte("; boundary=BB"), []byte("--BB\r\nContent-Disposition: form-data; name=a\r\n\r\nx\r\n--BB--\r\n--BB\r\n"))
	f.Add([]byte("; boundary=\"a b\""), []byte("--a b\nContent-Disposition: form-data; name=a; filename*=UTF-8''x\n\nx\n--a b--"))
	f.Fuzz(func(t *testing.T, params, body []byte) {
		var r Reader
		if !r.Start(body, params) {
			if r.Err() == nil {
				t.Fatal("Start failed without an error")
			}
			return
		}
		for n := 0; ; n++ {
			h, c, ok := r.Next()
			if !ok {
				break
			}
			if n > len(body) {
				t.Fatal("more parts than bytes")
			}
			if !bytes.Contains(body, h) || !bytes.Contains(body, c) {
				t.Fatal("a part that is not in the body")
			}
			Disposition(h)
		}
	})
}

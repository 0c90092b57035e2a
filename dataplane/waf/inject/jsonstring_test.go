package inject

import "testing"

// readJSONStringRef is readJSONString one byte a step: the reference the
// four-byte loop must agree with.
func readJSONStringRef(raw []byte, i int) (s []byte, end int, m uint64, esc, ok bool) {
	j := i + 1
	for j < len(raw) {
		cls := classOf[raw[j]]
		if cls&(bDQuote|bBackslash) != 0 {
			if cls == bDQuote {
				return raw[i+1 : j], j + 1, m, esc, true
			}
			esc = true
			j += 2
			continue
		}
		m |= cls
		j++
	}
	return nil, 0, 0, false, false
}

func TestReadJSONStringMatchesReference(t *testing.T) {
	for _, s := range []string{`""`, `"a"`, `"abc"`, `"abcd"`, `"abcde"`, `"ab\"c" x`, `"abcdefgh\\" y`,
		`"a\u0041bcdefghijk"`, `"unterminated`, `"abc\`, `"abcd\`, `"abcde\"fghij\\"`, `"<scrip"t>`,
		"\"caf\xc3\xa9 au lait\"", `"1' OR '1'='1"`, `"tab	and space"`} {
		a1, b1, c1, d1, e1 := readJSONStringRef([]byte(s), 0)
		a2, b2, c2, d2, e2 := readJSONString([]byte(s), 0)
		if string(a1) != string(a2) || b1 != b2 || c1 != c2 || d1 != d2 || e1 != e2 {
			t.Errorf("%q: got (%q %d %x %v %v), reference (%q %d %x %v %v)", s, a2, b2, c2, d2, e2, a1, b1, c1, d1, e1)
		}
	}
}

func FuzzReadJSONString(f *testing.F) {
	for _, s := range []string{`"abc"`, `"ab\"cdefgh" x`, `"abcd\`, `"a\\\\"`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		raw := []byte(`"` + s)
		a1, b1, c1, d1, e1 := readJSONStringRef(raw, 0)
		a2, b2, c2, d2, e2 := readJSONString(raw, 0)
		if string(a1) != string(a2) || b1 != b2 || c1 != c2 || d1 != d2 || e1 != e2 {
			t.Fatalf("%q: got (%q %d %x %v %v), reference (%q %d %x %v %v)", raw, a2, b2, c2, d2, e2, a1, b1, c1, d1, e1)
		}
	})
}

// BenchmarkReadJSONString compares the four-byte loop with the reference
// on a prose value and a short one.
func BenchmarkReadJSONString(b *testing.B) {
	for _, in := range []string{`"Please deliver to the back door, ring twice. Fragile items inside, handle with care" x`, `"widget" x`} {
		raw := []byte(in)
		b.Run("reference", func(b *testing.B) {
			for b.Loop() {
				readJSONStringRef(raw, 0)
			}
		})
		b.Run("four_bytes", func(b *testing.B) {
			for b.Loop() {
				readJSONString(raw, 0)
			}
		})
	}
}

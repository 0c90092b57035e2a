//go:build !race

package framing

import "testing"

func TestFeedAllocs(t *testing.T) {
	for _, bs := range benchStreams {
		p := []byte(bs.stream)
		var v Validator
		if n := testing.AllocsPerRun(100, func() {
			v.Reset()
			for off := 0; off < len(p); off += 7 { // cut everywhere, states resume mid-line
				v.Feed(p[off:min(off+7, len(p))])
			}
			v.Feed(p)
		}); n != 0 {
			t.Errorf("Feed(%s) allocates %v times per run; want 0", bs.name, n)
		}
	}
	// The violation path too.
	p := []byte("GET / HTTP/1.1\r\nHost: a\r\n\nGET /admin HTTP/1.1\r\n\r\n")
	var v Validator
	if n := testing.AllocsPerRun(100, func() {
		v.Reset()
		v.Feed(p)
		v.Feed(p)
	}); n != 0 {
		t.Errorf("Feed with a violation allocates %v times per run; want 0", n)
	}
}

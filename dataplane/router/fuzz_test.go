package router

import (
	"slices"
	"strings"
	"testing"
)

// fuzzBase is the table every FuzzMatch run starts from: nested wildcards,
// exact and wildcard hosts, case-insensitive routes, method lists and
// catch-alls, so that precedence is exercised on every input.
var fuzzBase = []Spec[string]{
	spec("root", "", "/", Prefix),
	spec("api", "", "/api", Prefix, "GET", "POST"),
	spec("api-v1", "", "/api/v1/", Prefix, "GET"),
	spec("api-v1-head", "", "/api/v1", Prefix, "HEAD"),
	spec("users", "", "/api/v1/users", Exact, "GET", "PURGE"),
	{Name: "files", Path: "/Files", Kind: Prefix, CaseInsensitive: true, Methods: []string{"GET"}},
	{Name: "readme", Path: "/README.md", Kind: Exact, CaseInsensitive: true},
	spec("upper", "", "/API", Prefix, "DELETE"),
	spec("host", "api.example.com", "/api", Prefix, "PUT"),
	spec("host-root", "api.example.com", "/", Prefix, "GET"),
	spec("wild", "*.example.com", "/api/v1", Prefix),
	spec("wild-deep", "*.eu.example.com", "/api", Prefix, "GET"),
	spec("wild-exact", "*.example.com", "/x", Exact),
	spec("ip6", "[::1]", "/", Prefix, "OPTIONS"),
}

// FuzzMatch checks Match against refMatch, a linear scan that applies the
// documented precedence rules directly, on a table made of fuzzBase plus
// routes described by the routes argument: one per line, as
// "host path e|p i|s [METHOD...]" with "-" for no host.
func FuzzMatch(f *testing.F) {
	f.Add("api.example.com:8080", "GET", "/api/v1/users", "")
	f.Add("x.eu.example.com.", "HEAD", "/api/v2", "- /api/v2 p s POST\n*.eu.example.com /api/v2 e i")
	f.Add("", "PURGE", "/FILES/a", "- /files/a p s GET")
	f.Fuzz(func(t *testing.T, host, method, path, routes string) {
		specs := slices.Clone(fuzzBase)
		for i, line := range strings.Split(routes, "\n") {
			fields := strings.Fields(line)
			if len(fields) < 4 {
				continue
			}
			s := Spec[string]{Name: "fuzz" + string(rune('a'+i%26)) + strings.Repeat("+", i/26), Path: fields[1], Methods: fields[4:]}
			if fields[0] != "-" {
				s.Host = fields[0]
			}
			if fields[2] == "p" {
				s.Kind = Prefix
			}
			s.CaseInsensitive = fields[3] == "i"
			specs = append(specs, s)
		}
		tab, err := New(specs)
		if err != nil {
			specs = fuzzBase
			tab = mustNew(t, specs)
		}

		val, name, res := tab.Match([]byte(host), []byte(method), []byte(path))
		wantName, wantRes := refMatch(specs, host, method, path)
		if name != wantName || res != wantRes {
			t.Fatalf("Match(%q, %q, %q) = %q, %v; reference says %q, %v", host, method, path, name, res, wantName, wantRes)
		}
		if res != Matched {
			if val != "" || name != "" {
				t.Fatalf("Match(%q, %q, %q) = %q, %q with %v; want zero values", host, method, path, val, name, res)
			}
			return
		}
		i := slices.IndexFunc(specs, func(s Spec[string]) bool { return s.Name == name })
		s := specs[i]
		if val != s.Value {
			t.Fatalf("Match returned value %q for route %q; want %q", val, name, s.Value)
		}
		if _, ok := refHostRank(s.Host, host); !ok {
			t.Fatalf("route %q matched host %q: host %q does not allow it", name, host, s.Host)
		}
		if _, _, ok := refPathLevel(s, path); !ok {
			t.Fatalf("route %q matched path %q: %s %q does not allow it", name, path, s.Kind, s.Path)
		}
		if a := refMethod(s, method); a == denied {
			t.Fatalf("route %q matched method %q: methods %q do not allow it", name, method, s.Methods)
		}
	})
}

// refMatch finds every route whose host and path match, keeps those at the
// most specific level (host rank, then exact over prefix, then key length),
// and lets the first of them in declaration order that allows the method
// win, an explicit method before HEAD-through-GET.
func refMatch(specs []Spec[string], host, method, path string) (string, Result) {
	if !strings.HasPrefix(path, "/") {
		return "", NoRoute
	}
	var best [3]int
	var level []Spec[string]
	for _, s := range specs {
		hr, ok := refHostRank(s.Host, host)
		if !ok {
			continue
		}
		kind, plen, ok := refPathLevel(s, path)
		if !ok {
			continue
		}
		l := [3]int{hr, kind, plen}
		switch c := slices.Compare(l[:], best[:]); {
		case len(level) == 0 || c > 0:
			best, level = l, []Spec[string]{s}
		case c == 0:
			level = append(level, s)
		}
	}
	if len(level) == 0 {
		return "", NoRoute
	}
	for _, want := range []allowance{allowed, allowedAsGet} {
		for _, s := range level {
			if refMethod(s, method) == want {
				return s.Name, Matched
			}
		}
	}
	return "", MethodNotAllowed
}

// refHostRank says whether a route host accepts the request host, and how
// specifically: host-less 0, wildcards by length, exact names highest.
func refHostRank(specHost, reqHost string) (int, bool) {
	sh, err := normalizeSpecHost(specHost)
	if err != nil {
		panic(err)
	}
	if sh == "" {
		return 0, true
	}
	h := reqHost
	if strings.HasPrefix(h, "[") {
		if i := strings.IndexByte(h, ']'); i >= 0 {
			h = h[:i+1]
		}
	} else if i := strings.IndexByte(h, ':'); i >= 0 {
		h = h[:i]
	}
	h = strings.TrimSuffix(h, ".")
	if h == "" || len(h) > 255 {
		return 0, false
	}
	h = asciiLower(h)
	if suffix, ok := strings.CutPrefix(sh, "*"); ok {
		return len(sh), len(h) > len(suffix) && strings.HasSuffix(h, suffix)
	}
	return 1 << 20, h == sh
}

// refPathLevel says whether the route's path accepts path, returning 1 for
// an exact route and 0 for a prefix route, and the length of the key.
func refPathLevel(s Spec[string], path string) (kind, n int, ok bool) {
	eq := func(a, b string) bool { return a == b || s.CaseInsensitive && asciiLower(a) == asciiLower(b) }
	if s.Kind == Exact {
		// One trailing slash makes no difference (both sides).
		key := trimSlash(s.Path)
		return 1, len(key), eq(key, trimSlash(path))
	}
	key := strings.TrimSuffix(s.Path, "/")
	if eq(key, path) {
		return 0, len(key), true
	}
	return 0, len(key), len(path) > len(key) && path[len(key)] == '/' && eq(key, path[:len(key)])
}

func refMethod(s Spec[string], method string) allowance {
	if len(s.Methods) == 0 {
		if strings.EqualFold(method, "TRACE") {
			return denied
		}
		return allowed
	}
	var up []string
	for _, m := range s.Methods {
		up = append(up, strings.ToUpper(m))
	}
	switch {
	case slices.Contains(up, method):
		return allowed
	case method == "HEAD" && slices.Contains(up, "GET"):
		return allowedAsGet
	}
	return denied
}

func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		b[i] = lower[c]
	}
	return string(b)
}

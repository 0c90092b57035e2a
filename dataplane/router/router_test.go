package router

import (
	"strings"
	"testing"
)

type request struct {
	name     string
	host     string
	method   string
	path     string
	wantName string // "" unless Matched
	wantRes  Result
}

func spec(name, host, path string, kind MatchKind, methods ...string) Spec[string] {
	return Spec[string]{Name: name, Host: host, Path: path, Kind: kind, Methods: methods, Value: "value of " + name}
}

func mustNew(t testing.TB, specs []Spec[string]) *Table[string] {
	t.Helper()
	tab, err := New(specs)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return tab
}

func runRequests(t *testing.T, tab *Table[string], reqs []request) {
	t.Helper()
	for _, rq := range reqs {
		t.Run(rq.name, func(t *testing.T) {
			val, name, res := tab.Match([]byte(rq.host), []byte(rq.method), []byte(rq.path))
			if res != rq.wantRes || name != rq.wantName {
				t.Fatalf("Match(%q, %q, %q) = %q, %v; want %q, %v", rq.host, rq.method, rq.path, name, res, rq.wantName, rq.wantRes)
			}
			wantVal := ""
			if res == Matched {
				wantVal = "value of " + name
			}
			if val != wantVal {
				t.Fatalf("Match(%q, %q, %q) value = %q; want %q", rq.host, rq.method, rq.path, val, wantVal)
			}
		})
	}
}

func TestMatchPrecedence(t *testing.T) {
	tab := mustNew(t, []Spec[string]{
		spec("catch-all", "", "/", Prefix),
		spec("api", "", "/api", Prefix),
		spec("api-v1", "", "/api/v1/", Prefix),
		spec("api-v1-users-exact", "", "/api/v1/users", Exact),
		spec("api-v1-users", "", "/api/v1/users", Prefix),
		spec("first", "", "/tie", Prefix, "GET"),
		spec("second", "", "/TIE", Prefix, "GET"), // different case, case-sensitive: distinct
		spec("host-api", "api.example.com", "/api", Prefix),
		spec("wild-api", "*.example.com", "/api", Prefix),
		spec("wild-deep", "*.eu.example.com", "/api", Prefix),
		spec("wild-only-root", "*.example.com", "/wild", Exact),
	})
	runRequests(t, tab, []request{
		{name: "root", method: "GET", path: "/", wantName: "catch-all", wantRes: Matched},
		{name: "unrelated", method: "GET", path: "/static/app.js", wantName: "catch-all", wantRes: Matched},
		{name: "prefix", method: "GET", path: "/api/x", wantName: "api", wantRes: Matched},
		{name: "longest prefix", method: "GET", path: "/api/v1/x", wantName: "api-v1", wantRes: Matched},
		{name: "exact beats prefix", method: "GET", path: "/api/v1/users", wantName: "api-v1-users-exact", wantRes: Matched},
		{name: "prefix below exact", method: "GET", path: "/api/v1/users/42", wantName: "api-v1-users", wantRes: Matched},
		{name: "exact takes a trailing slash", method: "GET", path: "/api/v1/users/", wantName: "api-v1-users-exact", wantRes: Matched},
		{name: "case-sensitive lower", method: "GET", path: "/tie/x", wantName: "first", wantRes: Matched},
		{name: "case-sensitive upper", method: "GET", path: "/TIE/x", wantName: "second", wantRes: Matched},
		{name: "case-sensitive mixed", method: "GET", path: "/Tie", wantName: "catch-all", wantRes: Matched},
		{name: "exact host beats wildcard", host: "api.example.com", method: "GET", path: "/api", wantName: "host-api", wantRes: Matched},
		{name: "wildcard beats host-less", host: "www.example.com", method: "GET", path: "/api/x", wantName: "wild-api", wantRes: Matched},
		{name: "longer wildcard wins", host: "fr.eu.example.com", method: "GET", path: "/api", wantName: "wild-deep", wantRes: Matched},
		{name: "deep name matches shorter wildcard", host: "a.b.example.com", method: "GET", path: "/api", wantName: "wild-api", wantRes: Matched},
		{name: "host route falls through to host-less", host: "api.example.com", method: "GET", path: "/other", wantName: "catch-all", wantRes: Matched},
		{name: "exact host falls through to wildcard", host: "api.example.com", method: "GET", path: "/wild", wantName: "wild-only-root", wantRes: Matched},
		{name: "unknown host uses host-less", host: "other.test", method: "GET", path: "/api", wantName: "api", wantRes: Matched},
		{name: "no host header", method: "GET", path: "/api", wantName: "api", wantRes: Matched},
		{name: "empty path", method: "GET", path: "", wantRes: NoRoute},
		{name: "relative path", method: "GET", path: "api", wantRes: NoRoute},
	})
}

func TestMatchDeclarationOrder(t *testing.T) {
	tab := mustNew(t, []Spec[string]{
		spec("get", "", "/items", Exact, "GET"),
		spec("post", "", "/items", Exact, "POST", "PUT"),
		{Name: "insensitive", Path: "/items", Kind: Exact, CaseInsensitive: true, Methods: []string{"DELETE"}, Value: "value of insensitive"},
		spec("upper", "", "/ITEMS", Exact, "PATCH"),
	})
	runRequests(t, tab, []request{
		{name: "first route for GET", method: "GET", path: "/items", wantName: "get", wantRes: Matched},
		{name: "second route for POST", method: "POST", path: "/items", wantName: "post", wantRes: Matched},
		{name: "second route for PUT", method: "PUT", path: "/items", wantName: "post", wantRes: Matched},
		{name: "insensitive matches other case", method: "DELETE", path: "/Items", wantName: "insensitive", wantRes: Matched},
		{name: "case-sensitive sibling", method: "PATCH", path: "/ITEMS", wantName: "upper", wantRes: Matched},
		{name: "insensitive beside sensitive", method: "DELETE", path: "/ITEMS", wantName: "insensitive", wantRes: Matched},
		{name: "not allowed", method: "PATCH", path: "/items", wantRes: MethodNotAllowed},
		{name: "not allowed other case", method: "GET", path: "/ITEMS", wantRes: MethodNotAllowed},
	})
}

func TestMatchSegmentBoundaries(t *testing.T) {
	tab := mustNew(t, []Spec[string]{
		spec("api", "", "/api", Prefix),
		spec("docs", "", "/docs/", Prefix),
		spec("exact", "", "/exact", Exact),
		spec("exact-slash", "", "/exact-slash/", Exact),
	})
	runRequests(t, tab, []request{
		{name: "prefix itself", method: "GET", path: "/api", wantName: "api", wantRes: Matched},
		{name: "prefix with slash", method: "GET", path: "/api/", wantName: "api", wantRes: Matched},
		{name: "prefix child", method: "GET", path: "/api/x/y", wantName: "api", wantRes: Matched},
		{name: "prefix is not a string prefix", method: "GET", path: "/apix", wantRes: NoRoute},
		{name: "prefix longer segment", method: "GET", path: "/api-v2/x", wantRes: NoRoute},
		{name: "shorter than prefix", method: "GET", path: "/ap", wantRes: NoRoute},
		{name: "slash prefix without slash", method: "GET", path: "/docs", wantName: "docs", wantRes: Matched},
		{name: "slash prefix with slash", method: "GET", path: "/docs/", wantName: "docs", wantRes: Matched},
		{name: "slash prefix child", method: "GET", path: "/docs/a", wantName: "docs", wantRes: Matched},
		{name: "slash prefix not string prefix", method: "GET", path: "/docsx", wantRes: NoRoute},
		{name: "exact", method: "GET", path: "/exact", wantName: "exact", wantRes: Matched},
		{name: "exact with a trailing slash", method: "GET", path: "/exact/", wantName: "exact", wantRes: Matched},
		{name: "exact no child", method: "GET", path: "/exact/x", wantRes: NoRoute},
		{name: "exact with trailing slash", method: "GET", path: "/exact-slash/", wantName: "exact-slash", wantRes: Matched},
		{name: "exact with trailing slash, path without", method: "GET", path: "/exact-slash", wantName: "exact-slash", wantRes: Matched},
		{name: "exact no second slash", method: "GET", path: "/exact-slash//", wantRes: NoRoute},
		{name: "root", method: "GET", path: "/", wantRes: NoRoute},
		{name: "long miss", method: "GET", path: "/" + strings.Repeat("a/", 5000), wantRes: NoRoute},
		{name: "long hit", method: "GET", path: "/api/" + strings.Repeat("a/", 5000), wantName: "api", wantRes: Matched},
	})
}

func TestMatchHosts(t *testing.T) {
	tab := mustNew(t, []Spec[string]{
		spec("exact", "API.Example.com", "/", Prefix),
		spec("wild", "*.example.com", "/", Prefix),
		spec("ipv6", "[2001:DB8::1]", "/", Prefix),
		spec("ipv4", "192.0.2.1", "/", Prefix),
		spec("dotted", "dot.example.org.", "/", Prefix),
	})
	runRequests(t, tab, []request{
		{name: "exact", host: "api.example.com", method: "GET", path: "/", wantName: "exact", wantRes: Matched},
		{name: "exact upper case", host: "API.EXAMPLE.COM", method: "GET", path: "/", wantName: "exact", wantRes: Matched},
		{name: "exact with port", host: "api.example.com:8443", method: "GET", path: "/", wantName: "exact", wantRes: Matched},
		{name: "exact trailing dot", host: "api.example.com.", method: "GET", path: "/", wantName: "exact", wantRes: Matched},
		{name: "exact trailing dot and port", host: "api.example.com.:443", method: "GET", path: "/", wantName: "exact", wantRes: Matched},
		{name: "wildcard", host: "www.example.com", method: "GET", path: "/", wantName: "wild", wantRes: Matched},
		{name: "wildcard deep", host: "a.b.c.example.com:80", method: "GET", path: "/", wantName: "wild", wantRes: Matched},
		{name: "wildcard mixed case", host: "WWW.Example.COM", method: "GET", path: "/", wantName: "wild", wantRes: Matched},
		{name: "wildcard not apex", host: "example.com", method: "GET", path: "/", wantRes: NoRoute},
		{name: "wildcard not empty label", host: ".example.com", method: "GET", path: "/", wantRes: NoRoute},
		{name: "wildcard not suffix of label", host: "badexample.com", method: "GET", path: "/", wantRes: NoRoute},
		{name: "ipv6", host: "[2001:db8::1]:8080", method: "GET", path: "/", wantName: "ipv6", wantRes: Matched},
		{name: "ipv6 no port", host: "[2001:db8::1]", method: "GET", path: "/", wantName: "ipv6", wantRes: Matched},
		{name: "ipv4 with port", host: "192.0.2.1:80", method: "GET", path: "/", wantName: "ipv4", wantRes: Matched},
		{name: "spec trailing dot", host: "dot.example.org", method: "GET", path: "/", wantName: "dotted", wantRes: Matched},
		{name: "other host", host: "example.net", method: "GET", path: "/", wantRes: NoRoute},
		{name: "empty host", method: "GET", path: "/", wantRes: NoRoute},
		{name: "only port", host: ":80", method: "GET", path: "/", wantRes: NoRoute},
		{name: "too long host", host: strings.Repeat("a", 300) + ".example.com", method: "GET", path: "/", wantRes: NoRoute},
	})
}

func TestMatchCaseSensitivity(t *testing.T) {
	tab := mustNew(t, []Spec[string]{
		spec("sensitive", "", "/Admin", Prefix),
		{Name: "insensitive", Path: "/reports/Q1", Kind: Exact, CaseInsensitive: true, Value: "value of insensitive"},
		{Name: "insensitive-prefix", Path: "/files/", Kind: Prefix, CaseInsensitive: true, Value: "value of insensitive-prefix"},
		spec("encoded", "", "/caf%C3%A9", Exact),
	})
	runRequests(t, tab, []request{
		{name: "sensitive exact case", method: "GET", path: "/Admin/x", wantName: "sensitive", wantRes: Matched},
		{name: "sensitive other case", method: "GET", path: "/admin/x", wantRes: NoRoute},
		{name: "sensitive upper", method: "GET", path: "/ADMIN", wantRes: NoRoute},
		{name: "insensitive same", method: "GET", path: "/reports/Q1", wantName: "insensitive", wantRes: Matched},
		{name: "insensitive lower", method: "GET", path: "/reports/q1", wantName: "insensitive", wantRes: Matched},
		{name: "insensitive upper", method: "GET", path: "/REPORTS/Q1", wantName: "insensitive", wantRes: Matched},
		{name: "insensitive still exact", method: "GET", path: "/reports/q1/x", wantRes: NoRoute},
		{name: "insensitive trailing slash", method: "GET", path: "/reports/q1/", wantName: "insensitive", wantRes: Matched},
		{name: "insensitive prefix", method: "GET", path: "/FILES/A/b", wantName: "insensitive-prefix", wantRes: Matched},
		{name: "insensitive prefix bare", method: "GET", path: "/Files", wantName: "insensitive-prefix", wantRes: Matched},
		{name: "insensitive prefix boundary", method: "GET", path: "/FILESX", wantRes: NoRoute},
		{name: "encoded", method: "GET", path: "/caf%C3%A9", wantName: "encoded", wantRes: Matched},
		{name: "non-letters do not fold", method: "GET", path: "/caf%C3%A9x", wantRes: NoRoute},
	})
}

func TestMatchMethods(t *testing.T) {
	tab := mustNew(t, []Spec[string]{
		spec("catch-all", "", "/", Prefix),
		spec("admin", "", "/admin", Prefix, "get"),
		spec("admin-head", "", "/admin/status", Exact, "HEAD"),
		spec("admin-status", "", "/admin/status", Exact, "GET"),
		spec("custom", "", "/dav", Prefix, "PROPFIND", "GET"),
		spec("host-only-post", "api.example.com", "/submit", Exact, "POST"),
		spec("submit", "", "/submit", Exact),
	})
	runRequests(t, tab, []request{
		{name: "allowed", method: "GET", path: "/admin/users", wantName: "admin", wantRes: Matched},
		{name: "head through get", method: "HEAD", path: "/admin/users", wantName: "admin", wantRes: Matched},
		{name: "explicit head wins over get", method: "HEAD", path: "/admin/status", wantName: "admin-head", wantRes: Matched},
		{name: "get beside head", method: "GET", path: "/admin/status", wantName: "admin-status", wantRes: Matched},
		{name: "post does not fall back to catch-all", method: "POST", path: "/admin/users", wantRes: MethodNotAllowed},
		{name: "lower-case method is not GET", method: "get", path: "/admin", wantRes: MethodNotAllowed},
		{name: "empty method", method: "", path: "/admin", wantRes: MethodNotAllowed},
		{name: "exact level decides", method: "POST", path: "/admin/status", wantRes: MethodNotAllowed},
		{name: "custom method", method: "PROPFIND", path: "/dav/x", wantName: "custom", wantRes: Matched},
		{name: "custom method not listed", method: "MKCOL", path: "/dav/x", wantRes: MethodNotAllowed},
		{name: "catch-all any method", method: "DELETE", path: "/other", wantName: "catch-all", wantRes: Matched},
		{name: "host route post", host: "api.example.com", method: "POST", path: "/submit", wantName: "host-only-post", wantRes: Matched},
		{name: "host route blocks host-less", host: "api.example.com", method: "GET", path: "/submit", wantRes: MethodNotAllowed},
		{name: "other host", host: "www.example.com", method: "GET", path: "/submit", wantName: "submit", wantRes: Matched},
		{name: "trace needs listing", method: "TRACE", path: "/other", wantRes: MethodNotAllowed},
		{name: "trace not listed", method: "TRACE", path: "/dav/x", wantRes: MethodNotAllowed},
		{name: "trace in lower case needs listing too", method: "trace", path: "/other", wantRes: MethodNotAllowed},
		{name: "trace in mixed case", method: "Trace", path: "/other", wantRes: MethodNotAllowed},
	})
	traced := mustNew(t, []Spec[string]{spec("all", "", "/", Prefix), spec("debug", "", "/debug", Prefix, "TRACE", "GET"),
		spec("trace-only", "", "/", Prefix, "TRACE")})
	runRequests(t, traced, []request{
		{name: "trace on a route that lists it", method: "TRACE", path: "/debug/x", wantName: "debug", wantRes: Matched},
		{name: "trace elsewhere goes to the trace-only route", method: "TRACE", path: "/x", wantName: "trace-only", wantRes: Matched},
		{name: "get elsewhere", method: "GET", path: "/x", wantName: "all", wantRes: Matched},
	})
	plain := mustNew(t, []Spec[string]{spec("all", "", "/", Prefix)})
	if got := plain.AllowedMethods(nil, []byte("TRACE"), []byte("/x")); got != "GET, HEAD, POST, PUT, DELETE, PATCH, OPTIONS" {
		t.Errorf("Allow for TRACE on a route without methods: %q", got)
	}
	// A 405 names what the deciding level allows (RFC 9110 §15.5.6).
	for _, tc := range []struct{ host, method, path, want string }{
		{"", "POST", "/admin/users", "GET, HEAD"},
		{"", "POST", "/admin/status", "GET, HEAD"},
		{"", "MKCOL", "/dav/x", "GET, HEAD, PROPFIND"},
		{"api.example.com", "GET", "/submit", "POST"},
		{"", "GET", "/admin/users", ""}, // allowed: no 405
		{"", "GET", "/nowhere", ""},     // the catch-all takes any method
	} {
		if got := tab.AllowedMethods([]byte(tc.host), []byte(tc.method), []byte(tc.path)); got != tc.want {
			t.Errorf("AllowedMethods(%q, %s, %s) = %q, want %q", tc.host, tc.method, tc.path, got, tc.want)
		}
	}
}

func TestMatchNoRoutes(t *testing.T) {
	tab := mustNew(t, nil)
	if _, name, res := tab.Match(nil, []byte("GET"), []byte("/")); res != NoRoute || name != "" {
		t.Fatalf("empty table: Match = %q, %v; want NoRoute", name, res)
	}
	if tab.Len() != 0 {
		t.Fatalf("Len() = %d; want 0", tab.Len())
	}
}

func TestNewErrors(t *testing.T) {
	ok := spec("ok", "", "/ok", Exact)
	cases := []struct {
		name  string
		specs []Spec[string]
		want  []string // substrings of the joined error, in order
	}{
		{name: "path without slash", specs: []Spec[string]{spec("api", "", "api/", Prefix)},
			want: []string{`route "api": path "api/": must start with "/"`}},
		{name: "empty path", specs: []Spec[string]{spec("api", "", "", Prefix)},
			want: []string{`route "api": path "": must start with "/"`}},
		{name: "path not normalized", specs: []Spec[string]{spec("api", "", "/a//b/../c", Prefix)},
			want: []string{`route "api": path "/a//b/../c": not normalized (want "/a/c")`}},
		{name: "path lower hex", specs: []Spec[string]{spec("api", "", "/a%3a", Exact)},
			want: []string{`route "api": path "/a%3a": not normalized (want "/a%3A")`}},
		{name: "path ambiguous", specs: []Spec[string]{spec("api", "", "/a%2Fb", Exact)},
			want: []string{`route "api": path "/a%2Fb": normalize path: ambiguous`}},
		{name: "path malformed", specs: []Spec[string]{spec("api", "", "/a b", Exact)},
			want: []string{`route "api": path "/a b": normalize path: malformed`}},
		{name: "empty name", specs: []Spec[string]{ok, spec("", "", "/x", Exact)},
			want: []string{`routes[1]: name: must not be empty`}},
		{name: "duplicate name", specs: []Spec[string]{ok, spec("ok", "", "/other", Exact)},
			want: []string{`route "ok": name already used by routes[0]`}},
		{name: "bad kind", specs: []Spec[string]{spec("k", "", "/k", MatchKind(7))},
			want: []string{`route "k": kind 7: must be Exact or Prefix`}},
		{name: "bad method", specs: []Spec[string]{spec("m", "", "/m", Exact, "GET", "BAD METHOD")},
			want: []string{`route "m": methods[1] "BAD METHOD": not a valid method token`}},
		{name: "empty method", specs: []Spec[string]{spec("m", "", "/m", Exact, "")},
			want: []string{`route "m": methods[0] "": not a valid method token`}},
		{name: "method twice", specs: []Spec[string]{spec("m", "", "/m", Exact, "GET", "get")},
			want: []string{`route "m": methods[1] "get": listed twice`}},
		{name: "host with port", specs: []Spec[string]{spec("h", "api.example.com:443", "/", Prefix)},
			want: []string{`route "h": host "api.example.com:443": must not include a port`}},
		{name: "host star", specs: []Spec[string]{spec("h", "*", "/", Prefix)},
			want: []string{`route "h": host "*": wildcard must name a domain`}},
		{name: "host star dot", specs: []Spec[string]{spec("h", "*.", "/", Prefix)},
			want: []string{`route "h": host "*.": wildcard must name a domain`}},
		{name: "host inner star", specs: []Spec[string]{spec("h", "a.*.example.com", "/", Prefix)},
			want: []string{`route "h": host "a.*.example.com": "*" is only allowed as the first label`}},
		{name: "host empty label", specs: []Spec[string]{spec("h", "a..example.com", "/", Prefix)},
			want: []string{`route "h": host "a..example.com": label "": must be 1 to 63 bytes`}},
		{name: "host bad char", specs: []Spec[string]{spec("h", "exa mple.com", "/", Prefix)},
			want: []string{`route "h": host "exa mple.com": label "exa mple": invalid character ' '`}},
		{name: "host long label", specs: []Spec[string]{spec("h", strings.Repeat("a", 64)+".com", "/", Prefix)},
			want: []string{`must be 1 to 63 bytes`}},
		{name: "host too long", specs: []Spec[string]{spec("h", strings.Repeat("abcdefghi.", 26)+"com", "/", Prefix)},
			want: []string{`longer than 253 bytes`}},
		{name: "host bad ipv6", specs: []Spec[string]{spec("h", "[not-ip]", "/", Prefix)},
			want: []string{`route "h": host "[not-ip]": IPv6 literal: not an IPv6 address`}},
		{name: "host ipv6 with port", specs: []Spec[string]{spec("h", "[::1]:80", "/", Prefix)},
			want: []string{`IPv6 literal: missing "]" or has a port`}},
		{name: "duplicate exact", specs: []Spec[string]{ok, spec("again", "", "/ok", Exact)},
			want: []string{`route "again": duplicates route "ok": same host "", exact path "/ok" vs "/ok", both allow any method`}},
		{name: "exact with and without slash", specs: []Spec[string]{spec("a", "", "/x", Exact), spec("b", "", "/x/", Exact)},
			want: []string{`route "b": duplicates route "a": same host "", exact path "/x/" vs "/x", both allow any method`}},
		{name: "duplicate overlapping methods", specs: []Spec[string]{
			spec("a", "", "/x", Prefix, "GET", "POST"), spec("b", "", "/x", Prefix, "POST", "PUT")},
			want: []string{`route "b": duplicates route "a": same host "", prefix path "/x" vs "/x", both allow POST`}},
		{name: "duplicate any and get", specs: []Spec[string]{
			spec("a", "", "/x", Prefix, "GET"), spec("b", "", "/x", Prefix)},
			want: []string{`route "b": duplicates route "a"`, `both allow GET`}},
		{name: "duplicate custom method", specs: []Spec[string]{
			spec("a", "", "/x", Prefix, "PURGE"), spec("b", "", "/x", Prefix, "purge")},
			want: []string{`route "b": duplicates route "a"`, `both allow PURGE`}},
		{name: "duplicate prefix with and without slash", specs: []Spec[string]{
			spec("a", "", "/api", Prefix), spec("b", "", "/api/", Prefix)},
			want: []string{`route "b": duplicates route "a": same host "", prefix path "/api/" vs "/api"`}},
		{name: "duplicate host case", specs: []Spec[string]{
			spec("a", "Api.Example.com", "/", Prefix), spec("b", "api.example.COM.", "/", Prefix)},
			want: []string{`route "b": duplicates route "a": same host "api.example.com"`}},
		{name: "duplicate wildcard", specs: []Spec[string]{
			spec("a", "*.example.com", "/", Prefix), spec("b", "*.EXAMPLE.com", "/", Prefix)},
			want: []string{`route "b": duplicates route "a": same host "*.example.com"`}},
		{name: "duplicate case-insensitive shadow", specs: []Spec[string]{
			{Name: "a", Path: "/Files", Kind: Prefix, CaseInsensitive: true}, spec("b", "", "/files", Prefix)},
			want: []string{`route "b": duplicates route "a": same host "", prefix path "/files" vs "/Files"`}},
		{name: "several errors joined", specs: []Spec[string]{
			spec("one", "", "one", Exact), ok, spec("two", "*", "/two", Exact, "G ET"), spec("ok", "", "/ok", Exact)},
			want: []string{
				`route "one": path "one": must start with "/"`,
				`route "two": host "*": wildcard`,
				`route "two": methods[0] "G ET": not a valid method token`,
				`route "ok": name already used by routes[1]`,
				`route "ok": duplicates route "ok"`,
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tab, err := New(tc.specs)
			if err == nil {
				t.Fatalf("New succeeded (%d routes); want error containing %q", tab.Len(), tc.want)
			}
			msg := err.Error()
			rest := msg
			for _, w := range tc.want {
				i := strings.Index(rest, w)
				if i < 0 {
					t.Fatalf("New error:\n%s\nwant it to contain, in order, %q", msg, tc.want)
				}
				rest = rest[i+len(w):]
			}
		})
	}
}

func TestNewAccepts(t *testing.T) {
	// Pairs that look alike but are not duplicates.
	cases := []struct {
		name  string
		specs []Spec[string]
	}{
		{name: "different methods", specs: []Spec[string]{spec("a", "", "/x", Exact, "GET"), spec("b", "", "/x", Exact, "POST")}},
		{name: "get and explicit head", specs: []Spec[string]{spec("a", "", "/x", Exact, "GET"), spec("b", "", "/x", Exact, "HEAD")}},
		{name: "different kinds", specs: []Spec[string]{spec("a", "", "/x", Exact), spec("b", "", "/x", Prefix)}},
		{name: "different hosts", specs: []Spec[string]{spec("a", "a.example.com", "/", Prefix), spec("b", "*.example.com", "/", Prefix), spec("c", "", "/", Prefix)}},
		{name: "case-sensitive different case", specs: []Spec[string]{spec("a", "", "/x", Exact), spec("b", "", "/X", Exact)}},
		{name: "ipv6 host", specs: []Spec[string]{spec("a", "[::1]", "/", Prefix)}},
		{name: "custom methods", specs: []Spec[string]{spec("a", "", "/x", Exact, "PURGE"), spec("b", "", "/x", Exact, "BAN")}},
		{name: "trace beside a route without methods", specs: []Spec[string]{spec("a", "", "/x", Prefix), spec("b", "", "/x", Prefix, "TRACE")}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := New(tc.specs); err != nil {
				t.Fatalf("New: %v", err)
			}
		})
	}
}

func TestStrings(t *testing.T) {
	for _, tc := range []struct{ got, want string }{
		{Exact.String(), "exact"}, {Prefix.String(), "prefix"}, {MatchKind(9).String(), "MatchKind(9)"},
		{NoRoute.String(), "no_route"}, {Matched.String(), "matched"},
		{MethodNotAllowed.String(), "method_not_allowed"}, {Result(9).String(), "Result(9)"},
	} {
		if tc.got != tc.want {
			t.Errorf("String() = %q; want %q", tc.got, tc.want)
		}
	}
}

// TestMatchManyHostGroups covers requests that match more host groups than
// one path walk serves (maxBatch): the later batches must still be tried,
// in order.
func TestMatchManyHostGroups(t *testing.T) {
	labels := []string{"a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k"}
	host := strings.Join(labels, ".") // a.b.c.d.e.f.g.h.i.j.k
	var specs []Spec[string]
	for i := 1; i < len(labels); i++ { // *.b.c...k (longest) down to *.k
		specs = append(specs, spec("wild-"+labels[i], "*."+strings.Join(labels[i:], "."), "/"+labels[i], Prefix))
	}
	specs = append(specs, spec("exact", host, "/exact", Exact), spec("any", "", "/any", Prefix, "POST"))
	tab := mustNew(t, specs)
	reqs := []request{
		{name: "exact host", host: host, method: "GET", path: "/exact", wantName: "exact", wantRes: Matched},
		{name: "any", host: host, method: "POST", path: "/any/x", wantName: "any", wantRes: Matched},
		{name: "any method not allowed", host: host, method: "GET", path: "/any", wantRes: MethodNotAllowed},
		{name: "nothing", host: host, method: "GET", path: "/zzz", wantRes: NoRoute},
	}
	for _, l := range labels[1:] {
		reqs = append(reqs, request{name: "wildcard " + l, host: host, method: "GET", path: "/" + l + "/x", wantName: "wild-" + l, wantRes: Matched})
	}
	runRequests(t, tab, reqs)
}

// TestMatchConcurrent shares one table between goroutines, as the server
// does; run with -race.
func TestMatchConcurrent(t *testing.T) {
	tab, err := New(benchSpecs(50))
	if err != nil {
		t.Fatal(err)
	}
	hit, miss := benchRequests(50)
	const workers, rounds = 4, 500
	errs := make(chan string, workers)
	for range workers {
		go func() {
			for range rounds {
				if _, _, res := tab.Match(hit.host, hit.method, hit.path); res != Matched {
					errs <- "hit: " + res.String()
					return
				}
				if _, _, res := tab.Match(miss.host, miss.method, miss.path); res != NoRoute {
					errs <- "miss: " + res.String()
					return
				}
			}
			errs <- ""
		}()
	}
	for range workers {
		if e := <-errs; e != "" {
			t.Fatal(e)
		}
	}
}

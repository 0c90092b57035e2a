package headers

import (
	"bufio"
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/valyala/fasthttp"

	"github.com/edgeguard/edgeguard/dataplane/pipeline"
)

var (
	reRequestID   = regexp.MustCompile(`^[0-9a-f]{32}$`)
	reTraceparent = regexp.MustCompile(`^00-[0-9a-f]{32}-[0-9a-f]{16}-00$`)
)

// testTrusted is the trusted proxy set used by most tests.
var testTrusted = []netip.Prefix{
	netip.MustParsePrefix("10.0.0.0/8"),
	netip.MustParsePrefix("192.168.1.1/32"),
	netip.MustParsePrefix("2001:db8:1::/48"),
}

func newStage(t testing.TB, opts Options) *Stage {
	t.Helper()
	s, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// parseRequest parses a raw HTTP/1.1 request head (lines joined with \r\n)
// into a fresh RequestCtx.
func parseRequest(t testing.TB, lines ...string) *fasthttp.RequestCtx {
	t.Helper()
	raw := strings.Join(lines, "\r\n") + "\r\n\r\n"
	ctx := &fasthttp.RequestCtx{}
	if err := ctx.Request.Read(bufio.NewReader(strings.NewReader(raw))); err != nil {
		t.Fatalf("parse request: %v\n%s", err, raw)
	}
	return ctx
}

// headerValues returns every value of name on the request.
func headerValues(h *fasthttp.RequestHeader, name string) []string {
	var out []string
	for _, v := range h.PeekAll(name) {
		out = append(out, string(v))
	}
	return out
}

// respValuesFold returns the values of every field named name in any case.
func respValuesFold(h *fasthttp.ResponseHeader, name string) []string {
	var out []string
	for k, v := range h.All() {
		if strings.EqualFold(string(k), name) {
			out = append(out, string(v))
		}
	}
	return out
}

func respValues(h *fasthttp.ResponseHeader, name string) []string {
	var out []string
	for _, v := range h.PeekAll(name) {
		out = append(out, string(v))
	}
	return out
}

func TestClientIPAndForwardedFor(t *testing.T) {
	s := newStage(t, Options{TrustedProxies: testTrusted})
	tests := []struct {
		name       string
		peer       string
		xff        []string // one header line each
		wantClient string
		wantXFF    string
	}{
		{name: "untrusted peer, no XFF", peer: "203.0.113.5",
			wantClient: "203.0.113.5", wantXFF: "203.0.113.5"},
		{name: "untrusted peer spoofs XFF", peer: "203.0.113.5", xff: []string{"1.2.3.4, 10.0.0.1"},
			wantClient: "203.0.113.5", wantXFF: "203.0.113.5"},
		{name: "trusted peer, no XFF", peer: "10.0.0.1",
			wantClient: "10.0.0.1", wantXFF: "10.0.0.1"},
		{name: "trusted peer, one hop", peer: "10.0.0.1", xff: []string{"198.51.100.7"},
			wantClient: "198.51.100.7", wantXFF: "198.51.100.7, 10.0.0.1"},
		{name: "trusted chain skips trusted hops", peer: "10.0.0.1", xff: []string{"1.1.1.1, 198.51.100.7, 10.0.0.2, 192.168.1.1"},
			wantClient: "198.51.100.7", wantXFF: "1.1.1.1, 198.51.100.7, 10.0.0.2, 192.168.1.1, 10.0.0.1"},
		{name: "several XFF headers are one list", peer: "10.0.0.1", xff: []string{"1.1.1.1, 198.51.100.7", "10.0.0.2"},
			wantClient: "198.51.100.7", wantXFF: "1.1.1.1, 198.51.100.7, 10.0.0.2, 10.0.0.1"},
		{name: "all hops trusted", peer: "10.0.0.1", xff: []string{"10.0.0.3, 10.0.0.2"},
			wantClient: "10.0.0.3", wantXFF: "10.0.0.3, 10.0.0.2, 10.0.0.1"},
		{name: "garbage stops at last trusted hop", peer: "10.0.0.1", xff: []string{"198.51.100.7, garbage, 10.0.0.2"},
			wantClient: "10.0.0.2", wantXFF: "198.51.100.7, garbage, 10.0.0.2, 10.0.0.1"},
		{name: "garbage rightmost keeps peer", peer: "10.0.0.1", xff: []string{"198.51.100.7, unknown"},
			wantClient: "10.0.0.1", wantXFF: "198.51.100.7, unknown, 10.0.0.1"},
		{name: "leading zero octet is garbage", peer: "10.0.0.1", xff: []string{"198.51.100.07"},
			wantClient: "10.0.0.1", wantXFF: "198.51.100.07, 10.0.0.1"},
		{name: "zone is garbage", peer: "10.0.0.1", xff: []string{"fe80::1%eth0"},
			wantClient: "10.0.0.1", wantXFF: "fe80::1%eth0, 10.0.0.1"},
		{name: "empty elements skipped", peer: "10.0.0.1", xff: []string{"198.51.100.7,, \t,10.0.0.2,"},
			wantClient: "198.51.100.7", wantXFF: "198.51.100.7,, \t,10.0.0.2,, 10.0.0.1"},
		{name: "IPv4 with port", peer: "10.0.0.1", xff: []string{"198.51.100.7:5555"},
			wantClient: "198.51.100.7", wantXFF: "198.51.100.7:5555, 10.0.0.1"},
		{name: "IPv6 peer and client", peer: "2001:db8:1::1", xff: []string{"2001:db8:ffff::5"},
			wantClient: "2001:db8:ffff::5", wantXFF: "2001:db8:ffff::5, 2001:db8:1::1"},
		{name: "bracketed IPv6 with port", peer: "2001:db8:1::1", xff: []string{"[2001:db8:ffff::5]:443"},
			wantClient: "2001:db8:ffff::5", wantXFF: "[2001:db8:ffff::5]:443, 2001:db8:1::1"},
		{name: "bracketed IPv6 bad port", peer: "2001:db8:1::1", xff: []string{"[2001:db8:ffff::5]x"},
			wantClient: "2001:db8:1::1", wantXFF: "[2001:db8:ffff::5]x, 2001:db8:1::1"},
		{name: "IPv4-mapped peer is unmapped", peer: "::ffff:10.0.0.1", xff: []string{"198.51.100.7"},
			wantClient: "198.51.100.7", wantXFF: "198.51.100.7, 10.0.0.1"},
		{name: "IPv4-mapped XFF element is unmapped", peer: "10.0.0.1", xff: []string{"::ffff:198.51.100.7"},
			wantClient: "198.51.100.7", wantXFF: "::ffff:198.51.100.7, 10.0.0.1"},
		{name: "untrusted IPv6 peer", peer: "2001:db8:2::1", xff: []string{"2001:db8:ffff::5"},
			wantClient: "2001:db8:2::1", wantXFF: "2001:db8:2::1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			lines := []string{"GET /x HTTP/1.1", "Host: api.example"}
			for _, v := range tc.xff {
				lines = append(lines, "X-Forwarded-For: "+v)
			}
			lines = append(lines, "X-Real-IP: 6.6.6.6")
			ctx := parseRequest(t, lines...)
			r := &pipeline.Request{PeerIP: netip.MustParseAddr(tc.peer)}
			if v := s.Handle(ctx, r); v != pipeline.Continue {
				t.Fatalf("verdict %v", v)
			}
			if got := r.ClientIP.String(); got != tc.wantClient {
				t.Errorf("ClientIP = %s, want %s", got, tc.wantClient)
			}
			h := &ctx.Request.Header
			if got := headerValues(h, "X-Forwarded-For"); !slices.Equal(got, []string{tc.wantXFF}) {
				t.Errorf("X-Forwarded-For = %q, want [%q]", got, tc.wantXFF)
			}
			if got := headerValues(h, "X-Real-IP"); !slices.Equal(got, []string{tc.wantClient}) {
				t.Errorf("X-Real-IP = %q, want [%q]", got, tc.wantClient)
			}
		})
	}
}

func TestNoPeerAddress(t *testing.T) {
	s := newStage(t, Options{TrustedProxies: testTrusted})
	ctx := parseRequest(t, "GET / HTTP/1.1", "Host: a", "X-Forwarded-For: 1.2.3.4", "X-Real-IP: 1.2.3.4")
	r := &pipeline.Request{}
	s.Handle(ctx, r)
	if r.ClientIP.IsValid() {
		t.Errorf("ClientIP = %s, want invalid", r.ClientIP)
	}
	for _, n := range []string{"X-Forwarded-For", "X-Real-IP"} {
		if v := ctx.Request.Header.Peek(n); len(v) > 0 {
			t.Errorf("%s = %q, want absent", n, v)
		}
	}
}

func TestForwardedProtoAndHost(t *testing.T) {
	s := newStage(t, Options{TrustedProxies: testTrusted})
	tests := []struct {
		name      string
		peer      string
		tls       bool
		headers   []string
		wantProto string
		wantHost  string // X-Forwarded-Host after the stage, "" for absent
		wantFwd   string // Forwarded after the stage
	}{
		{name: "untrusted plain", peer: "203.0.113.5", wantProto: "http"},
		{name: "untrusted TLS", peer: "203.0.113.5", tls: true, wantProto: "https"},
		{name: "untrusted spoofs https and host", peer: "203.0.113.5",
			headers:   []string{"X-Forwarded-Proto: https", "X-Forwarded-Host: evil.example", "Forwarded: for=1.2.3.4;proto=https"},
			wantProto: "http"},
		{name: "trusted https kept", peer: "10.0.0.1",
			headers:   []string{"X-Forwarded-Proto: https", "X-Forwarded-Host: api.example", "Forwarded: for=198.51.100.7"},
			wantProto: "https", wantHost: "api.example", wantFwd: "for=198.51.100.7"},
		{name: "trusted value is lower-cased", peer: "10.0.0.1", tls: true,
			headers: []string{"X-Forwarded-Proto: HTTP"}, wantProto: "http"},
		{name: "trusted invalid value replaced", peer: "10.0.0.1", tls: true,
			headers: []string{"X-Forwarded-Proto: ftp"}, wantProto: "https"},
		{name: "trusted duplicate values replaced", peer: "10.0.0.1",
			headers: []string{"X-Forwarded-Proto: https", "X-Forwarded-Proto: https"}, wantProto: "http"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := parseRequest(t, append([]string{"GET / HTTP/1.1", "Host: a"}, tc.headers...)...)
			r := &pipeline.Request{PeerIP: netip.MustParseAddr(tc.peer), TLS: tc.tls}
			s.Handle(ctx, r)
			h := &ctx.Request.Header
			if got := headerValues(h, "X-Forwarded-Proto"); !slices.Equal(got, []string{tc.wantProto}) {
				t.Errorf("X-Forwarded-Proto = %q, want [%q]", got, tc.wantProto)
			}
			if got := string(h.Peek("X-Forwarded-Host")); got != tc.wantHost {
				t.Errorf("X-Forwarded-Host = %q, want %q", got, tc.wantHost)
			}
			if got := string(h.Peek("Forwarded")); got != tc.wantFwd {
				t.Errorf("Forwarded = %q, want %q", got, tc.wantFwd)
			}
		})
	}
}

func TestRequestHopByHop(t *testing.T) {
	s := newStage(t, Options{TrustedProxies: testTrusted})
	tests := []struct {
		name    string
		peer    string
		headers []string
		gone    []string
		kept    map[string]string
	}{
		{
			name: "standard hop-by-hop headers",
			peer: "203.0.113.5",
			headers: []string{"Connection: keep-alive", "Keep-Alive: timeout=5", "Proxy-Connection: keep-alive",
				"Proxy-Authorization: Basic Zm9vOmJhcg==", "Proxy-Authenticate: Basic", "TE: trailers",
				"Upgrade: websocket", "X-Other: 1"},
			gone: []string{"Connection", "Keep-Alive", "Proxy-Connection", "Proxy-Authorization",
				"Proxy-Authenticate", "TE", "Upgrade"},
			kept: map[string]string{"X-Other": "1", "Host": "api.example"},
		},
		{
			name:    "Connection-listed names are stripped",
			peer:    "203.0.113.5",
			headers: []string{"Connection: X-Secret, x-debug ,Keep-Alive", "Connection: X-Third", "X-Secret: s", "X-Debug: d", "X-Third: 3", "X-Other: 1"},
			gone:    []string{"X-Secret", "X-Debug", "X-Third", "Connection"},
			kept:    map[string]string{"X-Other": "1"},
		},
		{
			name:    "Connection close with a listed name",
			peer:    "203.0.113.5",
			headers: []string{"Connection: close, X-Secret", "X-Secret: s"},
			gone:    []string{"X-Secret", "Connection"},
		},
		{
			name: "Connection cannot remove protected or gateway headers",
			peer: "10.0.0.1",
			headers: []string{"Connection: Host, Content-Type, X-Forwarded-For, X-Forwarded-Proto, X-Forwarded-Host, X-Real-IP, Forwarded",
				"Content-Type: application/json", "X-Forwarded-For: 198.51.100.7", "X-Forwarded-Proto: https",
				"X-Forwarded-Host: api.example", "Forwarded: for=198.51.100.7"},
			gone: []string{"Connection"},
			kept: map[string]string{
				"Host": "api.example", "Content-Type": "application/json",
				"X-Forwarded-For": "198.51.100.7, 10.0.0.1", "X-Forwarded-Proto": "https",
				"X-Forwarded-Host": "api.example", "Forwarded": "for=198.51.100.7", "X-Real-Ip": "198.51.100.7",
			},
		},
		{
			name:    "untrusted client cannot smuggle its XFF past stripping",
			peer:    "203.0.113.5",
			headers: []string{"Connection: X-Forwarded-For", "X-Forwarded-For: 1.2.3.4"},
			gone:    []string{"Connection"},
			kept:    map[string]string{"X-Forwarded-For": "203.0.113.5"},
		},
		{
			name:    "invalid tokens ignored",
			peer:    "203.0.113.5",
			headers: []string{"Connection: X(Bad), , X-Ok", "X-Ok: 1", "X-Other: 1"},
			gone:    []string{"X-Ok", "Connection"},
			kept:    map[string]string{"X-Other": "1"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := parseRequest(t, append([]string{"POST / HTTP/1.1", "Host: api.example", "Content-Length: 0"}, tc.headers...)...)
			r := &pipeline.Request{PeerIP: netip.MustParseAddr(tc.peer)}
			s.Handle(ctx, r)
			h := &ctx.Request.Header
			for _, n := range tc.gone {
				if v := h.Peek(n); len(v) > 0 {
					t.Errorf("%s = %q, want removed", n, v)
				}
			}
			if h.ConnectionClose() {
				t.Errorf("upstream request still carries Connection: close")
			}
			for n, want := range tc.kept {
				if got := string(h.Peek(n)); got != want {
					t.Errorf("%s = %q, want %q", n, got, want)
				}
			}
		})
	}
}

func TestRequestID(t *testing.T) {
	long128 := strings.Repeat("a", 128)
	tests := []struct {
		name     string
		header   string // the stage's request ID header name; "" for default
		sent     []string
		wantKeep string // "" means a new ID must be generated
	}{
		{name: "valid kept", sent: []string{"X-Request-ID: abc-123_x.y:z"}, wantKeep: "abc-123_x.y:z"},
		{name: "128 chars kept", sent: []string{"X-Request-ID: " + long128}, wantKeep: long128},
		{name: "lower-case header name", sent: []string{"x-request-id: AbC"}, wantKeep: "AbC"},
		{name: "absent", sent: nil},
		{name: "empty", sent: []string{"X-Request-ID: "}},
		{name: "129 chars", sent: []string{"X-Request-ID: " + long128 + "a"}},
		{name: "quote", sent: []string{`X-Request-ID: ab"c`}},
		{name: "space", sent: []string{"X-Request-ID: a b"}},
		{name: "slash", sent: []string{"X-Request-ID: a/b"}},
		{name: "non-ASCII", sent: []string{"X-Request-ID: caf\xc3\xa9"}},
		{name: "duplicate headers", sent: []string{"X-Request-ID: a", "X-Request-ID: b"}},
		{name: "custom header kept", header: "X-Correlation-Id", sent: []string{"X-Correlation-ID: corr-1"}, wantKeep: "corr-1"},
		{name: "custom header ignores default one", header: "X-Correlation-Id", sent: []string{"X-Request-ID: r-1"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newStage(t, Options{RequestIDHeader: tc.header})
			name := tc.header
			if name == "" {
				name = DefaultRequestIDHeader
			}
			ctx := parseRequest(t, append([]string{"GET / HTTP/1.1", "Host: a"}, tc.sent...)...)
			r := &pipeline.Request{PeerIP: netip.MustParseAddr("203.0.113.5")}
			s.Handle(ctx, r)
			got := string(r.RequestID)
			if tc.wantKeep != "" {
				if got != tc.wantKeep {
					t.Errorf("RequestID = %q, want %q", got, tc.wantKeep)
				}
			} else if !reRequestID.MatchString(got) {
				t.Errorf("RequestID = %q, want a generated 32-hex ID", got)
			}
			if vals := headerValues(&ctx.Request.Header, name); !slices.Equal(vals, []string{got}) {
				t.Errorf("upstream %s = %q, want [%q]", name, vals, got)
			}
		})
	}
}

func TestGeneratedRequestIDsDiffer(t *testing.T) {
	seen := make(map[string]bool)
	for i := 0; i < 10000; i++ {
		id := string(appendRequestID(nil))
		if !reRequestID.MatchString(id) {
			t.Fatalf("bad ID %q", id)
		}
		if seen[id] {
			t.Fatalf("duplicate ID %q after %d", id, i)
		}
		seen[id] = true
	}
}

// TestTraceparent follows the W3C Trace Context rules (and the cases of
// its test suite, w3c/trace-context test/test.py): a valid traceparent is
// continued with the same trace-id and flags and the gateway's span as
// parent, in version 00; an invalid one is replaced by a new trace and its
// tracestate dropped.
func TestTraceparent(t *testing.T) {
	const (
		traceID  = "4bf92f3577b34da6a3ce929d0e0e4736"
		parentID = "00f067aa0ba902b7"
	)
	valid := "00-" + traceID + "-" + parentID + "-01"
	tests := []struct {
		name      string
		sent      []string
		wantTrace string // trace-id continued; "" means a new trace
		wantFlags string
		wantState string // tracestate after the stage
	}{
		{name: "valid v00 with tracestate", sent: []string{"traceparent: " + valid, "tracestate: congo=t61rcWkgMzE"},
			wantTrace: traceID, wantFlags: "01", wantState: "congo=t61rcWkgMzE"},
		{name: "valid v00 not sampled", sent: []string{"traceparent: 00-" + traceID + "-" + parentID + "-00"},
			wantTrace: traceID, wantFlags: "00"},
		{name: "random flag kept", sent: []string{"traceparent: 00-" + traceID + "-" + parentID + "-03"},
			wantTrace: traceID, wantFlags: "03"},
		{name: "unknown flags zeroed", sent: []string{"traceparent: 00-" + traceID + "-" + parentID + "-ff"},
			wantTrace: traceID, wantFlags: "03"},
		{name: "absent drops tracestate", sent: []string{"tracestate: congo=t61rcWkgMzE"}},
		{name: "uppercase trace-id", sent: []string{"traceparent: 00-" + strings.ToUpper(traceID) + "-" + parentID + "-01", "tracestate: a=b"}},
		{name: "uppercase parent-id", sent: []string{"traceparent: 00-" + traceID + "-00F067AA0BA902B7-01"}},
		{name: "uppercase flags", sent: []string{"traceparent: 00-" + traceID + "-" + parentID + "-0A"}},
		{name: "all-zero trace-id", sent: []string{"traceparent: 00-" + strings.Repeat("0", 32) + "-" + parentID + "-01"}},
		{name: "all-zero parent-id", sent: []string{"traceparent: 00-" + traceID + "-" + strings.Repeat("0", 16) + "-01"}},
		{name: "version ff", sent: []string{"traceparent: ff-" + traceID + "-" + parentID + "-01"}},
		{name: "version illegal characters", sent: []string{"traceparent: .0-" + traceID + "-" + parentID + "-01"}},
		{name: "version too long", sent: []string{"traceparent: 000-" + traceID + "-" + parentID + "-01"}},
		{name: "version too short", sent: []string{"traceparent: 0-" + traceID + "-" + parentID + "-01"}},
		{name: "trace-id too long", sent: []string{"traceparent: 00-" + traceID + "00-" + parentID + "-01"}},
		{name: "trace-id too short", sent: []string{"traceparent: 00-" + traceID[:31] + "-" + parentID + "-01"}},
		{name: "trace-id illegal characters", sent: []string{"traceparent: 00-" + traceID[:31] + ".-" + parentID + "-01"}},
		{name: "parent-id too long", sent: []string{"traceparent: 00-" + traceID + "-" + parentID + "00-01"}},
		{name: "parent-id too short", sent: []string{"traceparent: 00-" + traceID + "-" + parentID[:15] + "-01"}},
		{name: "flags too long", sent: []string{"traceparent: 00-" + traceID + "-" + parentID + "-010"}},
		{name: "flags too short", sent: []string{"traceparent: 00-" + traceID + "-" + parentID + "-1"}},
		{name: "v00 with extra fields", sent: []string{"traceparent: " + valid + "-extra", "tracestate: a=b"}},
		{name: "v00 too short", sent: []string{"traceparent: " + valid[:54]}},
		{name: "bad separator", sent: []string{"traceparent: 00_" + traceID + "-" + parentID + "-01"}},
		{name: "non-hex flags", sent: []string{"traceparent: 00-" + traceID + "-" + parentID + "-0g"}},
		{name: "two traceparent fields", sent: []string{"traceparent: " + valid, "traceparent: " + valid}},
		{name: "empty", sent: []string{"traceparent: "}},
		{name: "future version exact length", sent: []string{"traceparent: cc-" + traceID + "-" + parentID + "-01"},
			wantTrace: traceID, wantFlags: "01"},
		{name: "future version with more fields", sent: []string{"traceparent: cc-" + traceID + "-" + parentID + "-01-what-the-future-will-be-like", "tracestate: x=y"},
			wantTrace: traceID, wantFlags: "01", wantState: "x=y"},
		{name: "future version without dash after 55", sent: []string{"traceparent: cc-" + traceID + "-" + parentID + "-01.what"}},
		{name: "future version with uppercase hex", sent: []string{"traceparent: cc-" + traceID + "-" + strings.ToUpper(parentID) + "-01"}},
		{name: "future version too short", sent: []string{"traceparent: cc-" + traceID + "-" + parentID + "-1"}},
	}
	s := newStage(t, Options{})
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := parseRequest(t, append([]string{"GET / HTTP/1.1", "Host: a"}, tc.sent...)...)
			r := &pipeline.Request{PeerIP: netip.MustParseAddr("203.0.113.5")}
			s.Handle(ctx, r)
			got := string(r.TraceParent)
			if !reContinued.MatchString(got) || strings.Contains(got, "-"+parentID+"-") {
				t.Fatalf("TraceParent = %q, want version 00 with the gateway's own parent-id", got)
			}
			if tc.wantTrace != "" {
				if got[3:35] != tc.wantTrace || got[53:] != tc.wantFlags {
					t.Errorf("TraceParent = %q, want trace-id %s, flags %s", got, tc.wantTrace, tc.wantFlags)
				}
			} else if !reTraceparent.MatchString(got) || strings.Contains(got, traceID) {
				t.Errorf("TraceParent = %q, want a new trace", got)
			}
			h := &ctx.Request.Header
			if vals := headerValues(h, "Traceparent"); !slices.Equal(vals, []string{got}) {
				t.Errorf("upstream traceparent = %q, want [%q]", vals, got)
			}
			if st := string(h.Peek("Tracestate")); st != tc.wantState {
				t.Errorf("tracestate = %q, want %q", st, tc.wantState)
			}
		})
	}
}

var reContinued = regexp.MustCompile(`^00-[0-9a-f]{32}-[0-9a-f]{16}-0[0-3]$`)

// TestTracestate: the list passed on with a valid traceparent, from the
// rules of §3.3 and the test suite's tracestate cases.
func TestTracestate(t *testing.T) {
	long := func(k string, n int) string { return k + "=" + strings.Repeat("v", n-len(k)-1) } // a member of n bytes
	var members []string
	for i := range 33 {
		members = append(members, fmt.Sprintf("k%d=%d", i, i))
	}
	var mid []string // 8 members of 70 bytes: 567 bytes with commas
	for i := range 8 {
		mid = append(mid, fmt.Sprintf("m%d", i)+strings.Repeat("y", 65)+"=v")
	}
	tests := []struct {
		name string
		sent []string // tracestate fields
		want string   // "" means none passed on
	}{
		{"one member", []string{"foo=1"}, "foo=1"},
		{"list kept in order", []string{"foo=1,bar=2"}, "foo=1,bar=2"},
		{"optional white space", []string{"foo=1 ,\tbar=2 "}, "foo=1,bar=2"},
		{"fields combined", []string{"foo=1", "bar=2"}, "foo=1,bar=2"},
		{"empty members skipped", []string{",foo=1,,bar=2,"}, "foo=1,bar=2"},
		{"empty field", []string{""}, ""},
		{"multi-tenant key", []string{"1a-2f@foo=x,tenant@sys-1_*/=y"}, "1a-2f@foo=x,tenant@sys-1_*/=y"},
		{"value with spaces and symbols", []string{"foo=a b!\"#+-<>~"}, "foo=a b!\"#+-<>~"},
		{"duplicate key", []string{"foo=1,foo=2"}, ""},
		{"duplicate key across fields", []string{"foo=1", "foo=2"}, ""},
		{"uppercase key", []string{"Foo=1,bar=2"}, ""},
		{"key starting with a digit", []string{"1foo=1"}, ""},
		{"key illegal character", []string{"fo.o=1"}, ""},
		{"key too long", []string{"k" + strings.Repeat("a", 256) + "=1"}, ""},
		{"key of 256 characters", []string{"k" + strings.Repeat("a", 255) + "=1"}, "k" + strings.Repeat("a", 255) + "=1"},
		{"tenant empty", []string{"@sys=1"}, ""},
		{"system too long", []string{"t@" + strings.Repeat("s", 15) + "=1"}, ""},
		{"system starting with a digit", []string{"t@1s=1"}, ""},
		{"no equals sign", []string{"foo"}, ""},
		{"empty value", []string{"foo="}, ""},
		{"value with equals sign", []string{"foo=a=b"}, ""},
		{"value ending in a space", []string{"foo=bar =1"}, ""},
		{"value too long", []string{"foo=" + strings.Repeat("v", 257)}, ""},
		{"value control byte", []string{"foo=a\x01b"}, ""},
		{"32 members", []string{strings.Join(members[:32], ",")}, strings.Join(members[:32], ",")},
		{"33 members: the right-most removed", []string{strings.Join(members, ",")}, strings.Join(members[:32], ",")},
		{"over 512 bytes: long members removed first", []string{"a=1," + long("l1", 200) + ",b=2," + long("l2", 250) + "," + long("l3", 250) + ",c=3"}, "a=1,b=2,c=3"},
		{"over 512 bytes: then from the right", []string{strings.Join(mid, ",")}, strings.Join(mid[:7], ",")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			vals := make([][]byte, len(tc.sent))
			for i, v := range tc.sent {
				vals[i] = []byte(v)
			}
			got := string(appendTracestate([]byte("prefix"), vals))
			if got != "prefix"+tc.want {
				t.Errorf("got %q\nwant %q", got[6:], tc.want)
			}
			if len(got)-6 > maxTracestateLen {
				t.Errorf("%d bytes passed on", len(got)-6)
			}
		})
	}
	// Through the stage: the fields become one, bounded and checked.
	s := newStage(t, Options{})
	ctx := parseRequest(t, "GET / HTTP/1.1", "Host: a", "traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
		"tracestate: foo=1", "tracestate: bar=2")
	s.Handle(ctx, &pipeline.Request{PeerIP: netip.MustParseAddr("203.0.113.5")})
	if vals := headerValues(&ctx.Request.Header, "Tracestate"); !slices.Equal(vals, []string{"foo=1,bar=2"}) {
		t.Errorf("upstream tracestate %q", vals)
	}
}

func TestResponseHeaders(t *testing.T) {
	s := newStage(t, Options{
		SetResponseHeaders:    DefaultSecurityHeaders(),
		RemoveResponseHeaders: []string{"Server", "X-Powered-By"},
	})
	tests := []struct {
		name         string
		upstream     string // r.Upstream
		reason       pipeline.Reason
		setClose     bool // response has Connection: close before the stage
		handleRan    bool // Handle set the IDs
		respHeaders  [][2]string
		gone         []string
		kept         map[string]string
		wantClose    bool
		wantGenerate bool
	}{
		{
			name: "upstream response sanitized", upstream: "10.1.0.1:8080", handleRan: true,
			respHeaders: [][2]string{
				{"Connection", "X-Internal"}, {"X-Internal", "secret"}, {"Keep-Alive", "timeout=5"},
				{"Server", "nginx/1.2"}, {"X-Powered-By", "PHP"}, {"X-Frame-Options", "SAMEORIGIN"},
				{"Upgrade", "h2c"}, {"Proxy-Authenticate", "Basic"}, {"X-App", "1"},
				{"X-Request-ID", "upstream-id"},
			},
			gone: []string{"Connection", "X-Internal", "Keep-Alive", "Server", "X-Powered-By", "Upgrade", "Proxy-Authenticate"},
			kept: map[string]string{
				"X-App": "1", "X-Frame-Options": "DENY", "X-Content-Type-Options": "nosniff",
				"Referrer-Policy": "no-referrer", "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
			},
		},
		{
			name: "every Connection-listed field goes, twelve of them", upstream: "10.1.0.1:8080", handleRan: true,
			respHeaders: [][2]string{
				{"Connection", "X-T0, X-T1, X-T2, X-T3, X-T4, X-T5, X-T6, X-T7, X-T8, X-T9, X-T10, X-T11"},
				{"X-T0", "0"}, {"X-T3", "3"}, {"X-T8", "8"}, {"X-T9", "9"}, {"X-T11", "11"}, {"X-App", "1"},
			},
			gone: []string{"X-T0", "X-T3", "X-T8", "X-T9", "X-T11"},
			kept: map[string]string{"X-App": "1"},
		},
		{
			name: "field names that are no tokens go", upstream: "10.1.0.1:8080", handleRan: true,
			respHeaders: [][2]string{{"Content Length", "99"}, {"Set Cookie", "evil=1"}, {"X-App", "1"}},
			gone:        []string{"Content Length", "Set Cookie"},
			kept:        map[string]string{"X-App": "1"},
		},
		{
			name: "close flag is kept", reason: pipeline.ReasonBlocked, handleRan: true, setClose: true,
			respHeaders: [][2]string{{"Connection", "close, X-Internal"}, {"X-Internal", "secret"}},
			gone:        []string{"X-Internal"},
			wantClose:   true,
		},
		{
			name: "keep-alive upstream response stays keep-alive", upstream: "10.1.0.1:8080", handleRan: true,
			respHeaders: [][2]string{{"Connection", "keep-alive"}},
			wantClose:   false,
		},
		{
			name: "denied before Handle ran", reason: pipeline.ReasonNoRoute, wantGenerate: true,
		},
	}
	// Upstream responses keep their names as sent (the proxy does not
	// normalize them): each case runs again with the names in lower and
	// in odd case, which must be removed and replaced just the same.
	spellings := []struct {
		name  string
		spell func(string) string
	}{
		{"canonical", nil},
		{"lower case", strings.ToLower},
		{"odd case", func(n string) string {
			b := []byte(strings.ToLower(n))
			for i := 0; i < len(b); i += 2 {
				if b[i] >= 'a' && b[i] <= 'z' {
					b[i] -= 'a' - 'A'
				}
			}
			return string(b)
		}},
	}
	for _, tc := range tests {
		for _, sp := range spellings {
			t.Run(tc.name+"/"+sp.name, func(t *testing.T) {
				ctx := &fasthttp.RequestCtx{}
				r := &pipeline.Request{Upstream: tc.upstream, Reason: tc.reason}
				if tc.handleRan {
					r.RequestID = []byte("req-1")
					r.TraceParent = []byte("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
				}
				h := &ctx.Response.Header
				if sp.spell != nil {
					h.DisableNormalizing()
				}
				for _, kv := range tc.respHeaders {
					k, v := kv[0], kv[1]
					if sp.spell != nil {
						k = sp.spell(k)
						if strings.EqualFold(kv[0], "Connection") {
							v = sp.spell(v)
						}
					}
					h.Add(k, v)
				}
				if tc.setClose {
					h.SetConnectionClose()
				}
				s.HandleResponse(ctx, r)
				for _, n := range tc.gone {
					if v := respValuesFold(h, n); len(v) > 0 {
						t.Errorf("%s = %q, want removed", n, v)
					}
				}
				for n, want := range tc.kept {
					if got := respValuesFold(h, n); !slices.Equal(got, []string{want}) {
						t.Errorf("%s = %q, want [%q]", n, got, want)
					}
				}
				if got := h.ConnectionClose(); got != tc.wantClose {
					t.Errorf("ConnectionClose = %v, want %v", got, tc.wantClose)
				}
				id := respValuesFold(h, "X-Request-ID")
				tp := respValuesFold(h, "Traceparent")
				if tc.wantGenerate {
					if len(id) != 1 || !reRequestID.MatchString(id[0]) || id[0] != string(r.RequestID) {
						t.Errorf("X-Request-ID = %q, r.RequestID = %q, want one generated ID", id, r.RequestID)
					}
					if len(tp) != 1 || !reTraceparent.MatchString(tp[0]) || tp[0] != string(r.TraceParent) {
						t.Errorf("traceparent = %q, want one generated", tp)
					}
				} else {
					if !slices.Equal(id, []string{string(r.RequestID)}) {
						t.Errorf("X-Request-ID = %q, want [%q]", id, r.RequestID)
					}
					if !slices.Equal(tp, []string{string(r.TraceParent)}) {
						t.Errorf("traceparent = %q, want [%q]", tp, r.TraceParent)
					}
				}
			})
		}
	}
}

func TestNewValidation(t *testing.T) {
	tests := []struct {
		name    string
		opts    Options
		wantErr []string // substrings of the error, all required
	}{
		{name: "zero value", opts: Options{}},
		{name: "defaults", opts: Options{TrustedProxies: testTrusted, SetResponseHeaders: DefaultSecurityHeaders(),
			RemoveResponseHeaders: []string{"Server", "X-Powered-By"}}},
		{name: "invalid prefix", opts: Options{TrustedProxies: []netip.Prefix{{}}},
			wantErr: []string{"trusted_proxies[0]"}},
		{name: "bad request ID header", opts: Options{RequestIDHeader: "X Request"},
			wantErr: []string{"request_id_header", "invalid byte"}},
		{name: "request ID header managed", opts: Options{RequestIDHeader: "x-forwarded-for"},
			wantErr: []string{"request_id_header", "managed"}},
		{name: "all errors reported", opts: Options{
			SetResponseHeaders:    [][2]string{{"X-Ok", "1"}, {"Connection", "close"}, {"X-Bad", "a\r\nb"}, {"", "x"}},
			RemoveResponseHeaders: []string{"Content-Length", "X-Request-Id"},
		}, wantErr: []string{"set_response_headers[1]", "set_response_headers[2]", "set_response_headers[3]",
			"remove_response_headers[0]", "remove_response_headers[1]"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.opts)
			if len(tc.wantErr) == 0 {
				if err != nil {
					t.Fatalf("New: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("New succeeded, want error")
			}
			for _, w := range tc.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

func TestMappedTrustedPrefix(t *testing.T) {
	s := newStage(t, Options{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("::ffff:10.0.0.0/104")}})
	if !s.isTrusted(netip.MustParseAddr("10.1.2.3")) {
		t.Error("::ffff:10.0.0.0/104 does not trust 10.1.2.3")
	}
}

func TestParseForwardedAddrMatchesNetip(t *testing.T) {
	for _, in := range []string{
		"1.2.3.4", "0.0.0.0", "255.255.255.255", "256.1.1.1", "1.2.3", "1.2.3.4.5", "01.2.3.4", "1..2.3",
		"::", "::1", "1::", "2001:db8::1", "2001:db8:0:0:0:0:0:1", "1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8:9",
		"1:2:3:4:5:6:7::", "::1:2:3:4:5:6:7", "1:2:3:4:5:6:7::8", ":::", "1:::2", "12345::", "::ffff:1.2.3.4",
		"::1.2.3.4", "1:2:3:4:5:6:1.2.3.4", "1:2:3:4:5:6:7:1.2.3.4", "1:", ":1", "g::", "", "1.2.3.4 ",
	} {
		want, err := netip.ParseAddr(in)
		got, ok := parseForwardedAddr([]byte(in))
		if ok != (err == nil) || (ok && got != want.Unmap()) {
			t.Errorf("parseForwardedAddr(%q) = %v, %v; netip: %v, %v", in, got, ok, want, err)
		}
	}
}

// TestTraceSampling: the traces the gateway starts are marked sampled by
// ratio (OpenTelemetry's TraceIDRatioBased rule on the trace-id), continued
// ones keep their caller's decision, and the caller's span is recorded as
// the parent.
func TestTraceSampling(t *testing.T) {
	const n = 4000
	for _, tc := range []struct {
		ratio    float64
		min, max int
	}{{0, 0, 0}, {0.25, n/4 - 200, n/4 + 200}, {1, n, n}} {
		s := newStage(t, Options{SampleRatio: tc.ratio})
		sampled := 0
		for range n {
			ctx := parseRequest(t, "GET / HTTP/1.1", "Host: a")
			r := &pipeline.Request{PeerIP: netip.MustParseAddr("203.0.113.5")}
			s.Handle(ctx, r)
			tp := string(r.TraceParent)
			lo, err := strconv.ParseUint(tp[19:35], 16, 64)
			if err != nil {
				t.Fatal(err)
			}
			want := lo>>1 < sampleBound(tc.ratio)
			if Sampled(r.TraceParent) != want || r.ParentID != [8]byte{} {
				t.Fatalf("ratio %v: %s sampled %v, want %v (parent %x)", tc.ratio, tp, Sampled(r.TraceParent), want, r.ParentID)
			}
			if want {
				sampled++
			}
		}
		if sampled < tc.min || sampled > tc.max {
			t.Errorf("ratio %v: %d of %d sampled", tc.ratio, sampled, n)
		}
	}
	s := newStage(t, Options{SampleRatio: 1})
	for _, flags := range []string{"00", "01"} {
		ctx := parseRequest(t, "GET / HTTP/1.1", "Host: a", "traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-"+flags)
		r := &pipeline.Request{PeerIP: netip.MustParseAddr("203.0.113.5")}
		s.Handle(ctx, r)
		if Sampled(r.TraceParent) != (flags == "01") || r.ParentID != [8]byte{0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7} {
			t.Errorf("continued %s: %s, parent %x", flags, r.TraceParent, r.ParentID)
		}
	}
}

// TestHeaderCount counts the fields the client sent, as the route's
// max_headers sees them: not the Content-Length fasthttp adds to a
// bodiless POST (a POST with the fields of a passing GET got 431), nor
// its Connection: close for HTTP/1.0, and every Cookie field on its own
// (ten counted as one).
func TestHeaderCount(t *testing.T) {
	s := newStage(t, Options{TrustedProxies: testTrusted})
	five := []string{"Host: x", "A: 1", "B: 2", "C: 3", "D: 4"}
	tests := []struct {
		name  string
		lines []string
		want  int
	}{
		{"GET", append([]string{"GET /lim HTTP/1.1"}, five...), 5},
		{"bodiless POST", append([]string{"POST /lim HTTP/1.1"}, five...), 5},
		{"bodiless DELETE", append([]string{"DELETE /lim HTTP/1.1"}, five...), 5},
		{"HTTP/1.0 POST", append([]string{"POST /lim HTTP/1.0"}, five...), 5},
		{"POST with Content-Length", append([]string{"POST /lim HTTP/1.1", "Content-Length: 0"}, five...), 6},
		{"ten cookies", append([]string{"GET /lim HTTP/1.1", "Host: x"}, slices.Repeat([]string{"Cookie: c=1"}, 10)...), 11},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := parseRequest(t, tc.lines...)
			r := &pipeline.Request{PeerIP: netip.MustParseAddr("203.0.113.5")}
			s.Handle(ctx, r)
			if r.HeaderCount != tc.want {
				t.Errorf("HeaderCount = %d, want %d", r.HeaderCount, tc.want)
			}
		})
	}
}

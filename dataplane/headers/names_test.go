package headers

import (
	"bufio"
	"net/netip"
	"strings"
	"testing"

	"github.com/valyala/fasthttp"

	"github.com/edgeguard/edgeguard/dataplane/pipeline"
)

// TestNameRules covers the rules that look at every header name: tokens
// only, credentials once and in the spelling the gateway reads, spoofable
// headers removed from untrusted peers in any spelling.
func TestNameRules(t *testing.T) {
	s := newStage(t, Options{
		TrustedProxies:    testTrusted,
		CredentialHeaders: []string{"X-API-Key", "Authorization"},
		CredentialCookies: []string{"eg_session"},
	})
	const untrusted, trusted = "203.0.113.5", "10.0.0.1"
	tests := []struct {
		name    string
		peer    string
		headers []string
		reason  pipeline.Reason // ReasonNone: passes
		detail  string
		gone    []string // header names (any spelling) absent afterwards
		kept    []string // header names still present
	}{
		{name: "plain request passes", peer: untrusted, headers: []string{"Authorization: Bearer  a.b.c  ", "X-API-Key: k"},
			kept: []string{"Authorization", "X-Api-Key"}},
		{name: "space in a name", peer: untrusted, headers: []string{"X Bad: 1"}, reason: pipeline.ReasonHeaderInvalid, detail: detailNameInvalid},
		{name: "two Authorization headers", peer: untrusted, headers: []string{"Authorization: Bearer a", "Authorization: Bearer b"},
			reason: pipeline.ReasonCredentialAmbiguous, detail: detailCredentialRepeat},
		{name: "Authorization in two cases", peer: untrusted, headers: []string{"Authorization: Bearer a", "authorization: Bearer b"},
			reason: pipeline.ReasonCredentialAmbiguous, detail: detailCredentialRepeat},
		{name: "API key twice", peer: trusted, headers: []string{"X-API-Key: a", "x-api-key: b"},
			reason: pipeline.ReasonCredentialAmbiguous, detail: detailCredentialRepeat},
		{name: "API key with underscores beside the real one", peer: untrusted, headers: []string{"X-API-Key: a", "X_API_KEY: b"},
			reason: pipeline.ReasonCredentialAmbiguous, detail: detailCredentialRepeat},
		{name: "API key only in underscores", peer: untrusted, headers: []string{"x_api_key: a"},
			reason: pipeline.ReasonCredentialAmbiguous, detail: detailCredentialRespelt},
		{name: "Authorization with underscore-free respelling", peer: untrusted, headers: []string{"Authorization: a", "AUTHORIZATION: b"},
			reason: pipeline.ReasonCredentialAmbiguous, detail: detailCredentialRepeat},
		{name: "session cookie twice in one header", peer: untrusted, headers: []string{"Cookie: eg_session=a; eg_session=b"},
			reason: pipeline.ReasonCredentialAmbiguous, detail: detailCookieRepeat},
		{name: "session cookie in two headers", peer: untrusted, headers: []string{"Cookie: eg_session=a", "Cookie: x=1; EG_SESSION=b"},
			reason: pipeline.ReasonCredentialAmbiguous, detail: detailCookieRepeat},
		{name: "other cookies repeat freely", peer: untrusted, headers: []string{"Cookie: x=1; x=2; eg_session=a"}},
		{name: "session cookie after a comma", peer: untrusted, headers: []string{"Cookie: eg_session=a; x=1,eg_session=forged"},
			reason: pipeline.ReasonCredentialAmbiguous, detail: detailCookieHidden},
		{name: "session cookie alone after a comma", peer: untrusted, headers: []string{"Cookie: a=1, EG_SESSION=forged"},
			reason: pipeline.ReasonCredentialAmbiguous, detail: detailCookieHidden},
		{name: "session cookie after a comma in a name", peer: untrusted, headers: []string{"Cookie: a,eg_session=forged"},
			reason: pipeline.ReasonCredentialAmbiguous, detail: detailCookieHidden},
		{name: "a nameless cookie that names the session", peer: untrusted, headers: []string{"Cookie: eg_session=a; =eg_session=forged"},
			reason: pipeline.ReasonHeaderInvalid, detail: detailCookieNameless},
		{name: "a nameless cookie naming another", peer: untrusted, headers: []string{"Cookie: =role=admin"},
			reason: pipeline.ReasonHeaderInvalid, detail: detailCookieNameless},
		{name: "a nameless cookie after spaces", peer: untrusted, headers: []string{"Cookie: x=1;  =role=admin"},
			reason: pipeline.ReasonHeaderInvalid, detail: detailCookieNameless},
		{name: "a value without a name", peer: untrusted, headers: []string{"Cookie: flag; x=1"}},
		{name: "a comma in another cookie's value", peer: untrusted, headers: []string{"Cookie: list=a,b,c; eg_session=a"}},
		{name: "session cookie respelt for PHP", peer: untrusted, headers: []string{"Cookie: eg.session=a"},
			reason: pipeline.ReasonCredentialAmbiguous, detail: detailCookieRespelt},
		{name: "session cookie in capitals", peer: untrusted, headers: []string{"Cookie: EG_SESSION=a"},
			reason: pipeline.ReasonCredentialAmbiguous, detail: detailCookieRespelt},
		{name: "content length respelt", peer: untrusted, headers: []string{"Content_Length: 0"},
			reason: pipeline.ReasonHeaderInvalid, detail: detailFramingRespelt},
		{name: "transfer encoding respelt", peer: trusted, headers: []string{"transfer_encoding: chunked"},
			reason: pipeline.ReasonHeaderInvalid, detail: detailFramingRespelt},
		{name: "content type respelt", peer: untrusted, headers: []string{"Content-Type: application/json", "Content_Type: text/plain"},
			reason: pipeline.ReasonHeaderInvalid, detail: detailFramingRespelt},
		{name: "content encoding respelt", peer: trusted, headers: []string{"content_encoding: gzip"},
			reason: pipeline.ReasonHeaderInvalid, detail: detailFramingRespelt},
		{name: "content type in lower case is the standard spelling", peer: untrusted, headers: []string{"content-type: application/json"}},
		{name: "host respelt", peer: untrusted, headers: []string{"X-A: 1", "HOST_: x", "Ho_st: x"}},
		{name: "client certificate headers go", peer: untrusted,
			headers: []string{"X-Forwarded-Client-Cert: By=x", "Client-Cert: :abc:", "X-SSL-Client-Verify: SUCCESS"},
			gone:    []string{"X-Forwarded-Client-Cert", "Client-Cert", "X-SSL-Client-Verify"}},
		{name: "untrusted client address headers go", peer: untrusted,
			headers: []string{"True-Client-IP: 1.2.3.4", "X-Client-IP: 1.2.3.4", "CF-Connecting-IP: 1.2.3.4", "Fastly-Client-IP: 1.2.3.4",
				"X-Cluster-Client-IP: 1.2.3.4", "Forwarded: for=1.2.3.4", "X_Client_IP: 1.2.3.4", "true_client_ip: 1.2.3.4"},
			gone: []string{"True-Client-IP", "X-Client-IP", "CF-Connecting-IP", "Fastly-Client-IP", "X-Cluster-Client-IP", "Forwarded"}},
		{name: "untrusted URL and method overrides go", peer: untrusted,
			headers: []string{"X-Original-URL: /admin", "X-Rewrite-URL: /admin", "x_original_url: /admin", "X-HTTP-Method-Override: DELETE",
				"X-Forwarded-Host: evil", "Proxy: http://evil/"},
			gone: []string{"X-Original-URL", "X-Rewrite-URL", "X-HTTP-Method-Override", "X-Forwarded-Host", "Proxy"}},
		{name: "trusted proxy keeps address headers, loses overrides", peer: trusted,
			headers: []string{"True-Client-IP: 1.2.3.4", "CF-Connecting-IP: 1.2.3.4", "X-Original-URL: /admin", "X-HTTP-Method: DELETE"},
			kept:    []string{"True-Client-IP", "CF-Connecting-IP"}, gone: []string{"X-Original-URL", "X-HTTP-Method"}},
		{name: "respelt forwarding headers go even from trusted proxies", peer: trusted,
			headers: []string{"X_Forwarded_For: 6.6.6.6", "x_real_ip: 6.6.6.6", "X_Forwarded_Proto: https"},
			gone:    []string{"X_Forwarded_For", "X_Real_Ip", "X_Forwarded_Proto"}, kept: []string{"X-Forwarded-For"}},
		{name: "many spoofable headers all go", peer: untrusted, headers: manySpoofable(40), gone: []string{"X-Original-URL", "True-Client-IP"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := parseRequest(t, append([]string{"GET / HTTP/1.1", "Host: a"}, tc.headers...)...)
			r := &pipeline.Request{PeerIP: netip.MustParseAddr(tc.peer)}
			v := s.Handle(ctx, r)
			if r.Reason != tc.reason || r.Detail != tc.detail {
				t.Fatalf("reason %v (%q), want %v (%q)", r.Reason, r.Detail, tc.reason, tc.detail)
			}
			if want := pipeline.Continue; tc.reason != pipeline.ReasonNone {
				if v != pipeline.Done || ctx.Response.StatusCode() != 400 || !strings.Contains(string(ctx.Response.Body()), tc.reason.String()) {
					t.Fatalf("verdict %v status %d body %q, want a 400 naming %s", v, ctx.Response.StatusCode(), ctx.Response.Body(), tc.reason)
				}
				if len(r.RequestID) == 0 {
					t.Error("refusal without a request ID")
				}
				return
			} else if v != want {
				t.Fatalf("verdict %v, want Continue", v)
			}
			h := &ctx.Request.Header
			for k := range h.All() {
				for _, g := range tc.gone {
					if strings.EqualFold(strings.ReplaceAll(string(k), "_", "-"), g) {
						t.Errorf("%s still present as %q", g, k)
					}
				}
			}
			for _, k := range tc.kept {
				if len(h.Peek(k)) == 0 {
					t.Errorf("%s removed", k)
				}
			}
		})
	}
}

func manySpoofable(n int) []string {
	var out []string
	for i := range n {
		out = append(out, "X-Original-URL: /a"+strings.Repeat("x", i), "true_client_ip: 1.2.3.4")
	}
	return out
}

func TestNameOptionsValidation(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts Options
		want string
	}{
		{"bad credential name", Options{CredentialHeaders: []string{"X Key"}}, "credential header"},
		{"too many credentials", Options{CredentialHeaders: []string{"A1", "A2", "A3", "A4", "A5", "A6", "A7", "A8"}}, "more than 8"},
		{"framing header as spoofable", Options{Spoofable: []string{"Content-Length"}}, `spoofable[0]: "Content-Length"`},
		{"managed header as spoofable", Options{Spoofable: []string{"X-Real-IP"}}, "set by the gateway"},
		{"trusted name not spoofable", Options{Spoofable: []string{"X-Original-URL"}, TrustedSpoofable: []string{"True-Client-IP"}}, "trusted_spoofable[0]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.opts)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("New: %v, want an error containing %q", err, tc.want)
			}
		})
	}
	s := newStage(t, Options{Spoofable: []string{}})
	ctx := parseRequest(t, "GET / HTTP/1.1", "Host: a", "X-Original-URL: /x", "X-Forwarded-Host: evil", "Forwarded: for=1.2.3.4")
	s.Handle(ctx, &pipeline.Request{PeerIP: netip.MustParseAddr("203.0.113.5")})
	h := &ctx.Request.Header
	if len(h.Peek("X-Original-URL")) == 0 {
		t.Error("an empty spoofable list still removed X-Original-URL")
	}
	if len(h.Peek("X-Forwarded-Host")) != 0 || len(h.Peek("Forwarded")) != 0 {
		t.Error("an empty spoofable list let X-Forwarded-Host or Forwarded through from an untrusted peer")
	}
}

// TestTrailerFieldsRefused: fasthttp keeps trailer fields out of the head,
// where the name rules would not see them, and merges them into it later.
func TestTrailerFieldsRefused(t *testing.T) {
	s := newStage(t, Options{})
	for _, tc := range []struct {
		name, raw string
		refused   bool
	}{
		{"trailer field", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\nX-Original-URL: /admin\r\n\r\n", true},
		{"announced trailer", "POST / HTTP/1.1\r\nHost: a\r\nTrailer: X-Sum\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\nX-Sum: 1\r\n\r\n", true},
		{"chunked without trailer", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\n\r\n", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := &fasthttp.RequestCtx{}
			if err := ctx.Request.Read(bufio.NewReader(strings.NewReader(tc.raw))); err != nil {
				t.Fatal(err)
			}
			r := &pipeline.Request{PeerIP: netip.MustParseAddr("203.0.113.5")}
			s.Handle(ctx, r)
			if refused := r.Reason == pipeline.ReasonHeaderInvalid && r.Detail == detailTrailer; refused != tc.refused {
				t.Fatalf("reason %v %q, refused %v, want %v", r.Reason, r.Detail, refused, tc.refused)
			}
		})
	}
}

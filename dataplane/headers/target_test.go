package headers

import (
	"testing"

	"github.com/edgeguard/edgeguard/dataplane/pipeline"
)

// TestCheckTarget: request lines and Host values fasthttp reads leniently
// are refused with a status, a reason and a detail; the usual forms pass.
func TestCheckTarget(t *testing.T) {
	cases := []struct {
		name   string
		line   string
		host   string
		status int // 0: passes
		reason pipeline.Reason
		detail string
	}{
		{name: "origin form", line: "GET /a?b=1 HTTP/1.1", host: "api.example.com"},
		{name: "HTTP/1.0", line: "GET /a HTTP/1.0", host: "api.example.com"},
		{name: "port", line: "GET /a HTTP/1.1", host: "api.example.com:8443"},
		{name: "empty port", line: "GET /a HTTP/1.1", host: "api.example.com:"},
		{name: "IPv4", line: "GET /a HTTP/1.1", host: "192.0.2.1:80"},
		{name: "IPv6 literal", line: "GET /a HTTP/1.1", host: "[2001:db8::1]:443"},
		{name: "absolute http", line: "GET http://api.example.com/a HTTP/1.1", host: "api.example.com"},
		{name: "absolute https", line: "GET HTTPS://api.example.com/a HTTP/1.1", host: "api.example.com"},
		{name: "asterisk", line: "OPTIONS * HTTP/1.1", host: "api.example.com"},
		{name: "HTTP/2.0 line", line: "GET /a HTTP/2.0", host: "api.example.com", status: 505, reason: pipeline.ReasonVersionUnsupported},
		{name: "HTTP/9.9 line", line: "GET /a HTTP/9.9", host: "api.example.com", status: 505, reason: pipeline.ReasonVersionUnsupported},
		{name: "userinfo in Host", line: "GET /a HTTP/1.1", host: "secure.example.com@x", status: 400, reason: pipeline.ReasonHeaderInvalid, detail: DetailHostInvalid},
		{name: "port over 65535", line: "GET /a HTTP/1.1", host: "x:99999", status: 400, reason: pipeline.ReasonHeaderInvalid, detail: DetailHostInvalid},
		{name: "port not digits", line: "GET /a HTTP/1.1", host: "x:8o", status: 400, reason: pipeline.ReasonHeaderInvalid, detail: DetailHostInvalid},
		{name: "bare IPv6", line: "GET /a HTTP/1.1", host: "2001:db8::1", status: 400, reason: pipeline.ReasonHeaderInvalid, detail: DetailHostInvalid},
		{name: "unclosed literal", line: "GET /a HTTP/1.1", host: "[2001:db8::1", status: 400, reason: pipeline.ReasonHeaderInvalid, detail: DetailHostInvalid},
		{name: "ftp target", line: "GET ftp://x/a HTTP/1.1", host: "x", status: 400, reason: pipeline.ReasonPathInvalid, detail: DetailTargetInvalid},
		{name: "userinfo in target", line: "GET http://user:pass@x/a HTTP/1.1", host: "x", status: 400, reason: pipeline.ReasonPathInvalid, detail: DetailTargetInvalid},
		{name: "empty host in target", line: "GET http:///a HTTP/1.1", host: "internal.example", status: 400, reason: pipeline.ReasonPathInvalid, detail: DetailTargetInvalid},
		{name: "port only in target", line: "GET http://:80/a HTTP/1.1", host: "internal.example", status: 400, reason: pipeline.ReasonPathInvalid, detail: DetailTargetInvalid},
		{name: "empty host before a query", line: "GET http://?a=1 HTTP/1.1", host: "internal.example", status: 400, reason: pipeline.ReasonPathInvalid, detail: DetailTargetInvalid},
		{name: "bad byte in target host", line: "GET http://a\"b/a HTTP/1.1", host: "x", status: 400, reason: pipeline.ReasonPathInvalid, detail: DetailTargetInvalid},
		{name: "absolute form with port", line: "GET http://x:8080/a HTTP/1.1", host: "x", status: 0},
		{name: "empty IP literal in target", line: "GET http://[]/a HTTP/1.1", host: "x", status: 400, reason: pipeline.ReasonPathInvalid, detail: DetailTargetInvalid},
		{name: "empty IP literal in Host", line: "GET /a HTTP/1.1", host: "[]", status: 400, reason: pipeline.ReasonHeaderInvalid, detail: DetailHostInvalid},
	}
	s := newStage(t, Options{})
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := parseRequest(t, tc.line, "Host: "+tc.host)
			r := &pipeline.Request{}
			v := s.Handle(ctx, r)
			if tc.status == 0 {
				if v != pipeline.Continue {
					t.Fatalf("refused: %d %s %s", ctx.Response.StatusCode(), r.Reason, r.Detail)
				}
				return
			}
			if v != pipeline.Done || ctx.Response.StatusCode() != tc.status || r.Reason != tc.reason || r.Detail != tc.detail {
				t.Fatalf("got %v %d %s %q, want %d %s %q", v, ctx.Response.StatusCode(), r.Reason, r.Detail, tc.status, tc.reason, tc.detail)
			}
		})
	}
}

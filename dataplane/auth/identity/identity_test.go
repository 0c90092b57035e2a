package identity

import (
	"strings"
	"testing"

	"github.com/valyala/fasthttp"

	"github.com/edgeguard/edgeguard/dataplane/pipeline"
)

func TestNew(t *testing.T) {
	cases := []struct {
		name string
		spec Spec
		ok   bool
		rate string
	}{
		{"api key", Spec{Kind: pipeline.IdentityAPIKey, Subject: "acme", KeyID: "k1", Scopes: []string{"a", "b"}}, true, "api_key:k1"},
		{"subject only", Spec{Kind: pipeline.IdentityCert, Subject: "CN=x"}, true, "cert:CN=x"},
		{"explicit rate key", Spec{Kind: pipeline.IdentityJWT, Subject: "s", RateKey: "jwt:corp:s"}, true, "jwt:corp:s"},
		{"CR LF in subject", Spec{Subject: "a\r\nX-Evil: 1"}, false, ""},
		{"NUL in tier", Spec{Subject: "a", Tier: "g\x00"}, false, ""},
		{"DEL in key id", Spec{Subject: "a", KeyID: "k\x7f"}, false, ""},
		{"space in a scope", Spec{Subject: "a", Scopes: []string{"a b"}}, false, ""},
		{"empty scope", Spec{Subject: "a", Scopes: []string{""}}, false, ""},
		{"oversized subject", Spec{Subject: strings.Repeat("a", MaxValueBytes+1)}, false, ""},
		{"UTF-8 subject", Spec{Subject: "Jürgen"}, true, "none:Jürgen"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			id, err := New(tc.spec)
			if (err == nil) != tc.ok {
				t.Fatalf("err = %v", err)
			}
			if tc.ok && id.Principal.RateKey != tc.rate {
				t.Errorf("rate key %q, want %q", id.Principal.RateKey, tc.rate)
			}
		})
	}
}

func TestHasScopes(t *testing.T) {
	id, _ := New(Spec{Subject: "a", Scopes: []string{"read", "write"}})
	for _, tc := range []struct {
		want []string
		ok   bool
	}{{nil, true}, {[]string{"read"}, true}, {[]string{"write", "read"}, true}, {[]string{"admin"}, false}, {[]string{"read", "admin"}, false}} {
		if id.HasScopes(tc.want) != tc.ok {
			t.Errorf("HasScopes(%q) = %v", tc.want, !tc.ok)
		}
	}
}

var names = HeaderNames{Subject: "X-Auth-Subject", KeyID: "X-Auth-Key-Id", Tier: "X-Auth-Tier", Scopes: "X-Auth-Scopes", Kind: "X-Auth-Method"}

func TestStripAndSet(t *testing.T) {
	h := NewHeaders(names)
	cases := []struct {
		name string
		sent [][2]string
	}{
		{"none", nil},
		{"canonical", [][2]string{{"X-Auth-Subject", "root"}}},
		{"lower case", [][2]string{{"x-auth-subject", "root"}}},
		{"underscores", [][2]string{{"X_Auth_Subject", "root"}, {"x_auth-tier", "gold"}}},
		{"repeated", [][2]string{{"X-Auth-Scopes", "a"}, {"X-Auth-Scopes", "b"}, {"X-AUTH-SCOPES", "c"}}},
		{"all five and more", [][2]string{{"X-Auth-Subject", "1"}, {"X-Auth-Key-Id", "2"}, {"X-Auth-Tier", "3"}, {"X-Auth-Scopes", "4"},
			{"X-Auth-Method", "5"}, {"X_Auth_Subject", "6"}, {"x-auth-key_id", "7"}, {"X-Auth-Tier", "8"}, {"X-Auth-Scopes", "9"}, {"x-auth-method", "10"},
			{"X-Auth-Subject", "11"}, {"X-Auth-Subject", "12"}, {"X-Auth-Subject", "13"}, {"X-Auth-Subject", "14"}, {"X-Auth-Subject", "15"},
			{"X-Auth-Subject", "16"}, {"X-Auth-Subject", "17"}, {"X-Auth-Subject", "18"}}},
	}
	id, _ := New(Spec{Kind: pipeline.IdentityAPIKey, Subject: "acme", KeyID: "k1", Tier: "gold", Scopes: []string{"a", "b"}})
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var req fasthttp.RequestHeader
			req.DisableNormalizing() // keep the spellings as sent, like a raw client
			req.Set("X-Other", "keep")
			for _, kv := range tc.sent {
				req.Add(kv[0], kv[1])
			}
			h.Strip(&req)
			for k := range req.All() {
				if strings.HasPrefix(strings.ToLower(strings.ReplaceAll(string(k), "_", "-")), "x-auth-") {
					t.Fatalf("%s survived Strip:\n%s", k, req.String())
				}
			}
			if string(req.Peek("X-Other")) != "keep" {
				t.Error("unrelated header removed")
			}
			h.Set(&req, id)
			for name, want := range map[string]string{"X-Auth-Subject": "acme", "X-Auth-Key-Id": "k1", "X-Auth-Tier": "gold", "X-Auth-Scopes": "a b", "X-Auth-Method": "api_key"} {
				if got := string(req.Peek(name)); got != want {
					t.Errorf("%s = %q, want %q", name, got, want)
				}
			}
		})
	}
}

func TestEmptyNamesAreOff(t *testing.T) {
	h := NewHeaders(HeaderNames{Subject: "X-User"})
	id, _ := New(Spec{Subject: "acme", KeyID: "k1"})
	var req fasthttp.RequestHeader
	h.Set(&req, id)
	if string(req.Peek("X-User")) != "acme" || strings.Contains(req.String(), "k1") {
		t.Errorf("headers:\n%s", req.String())
	}
	if NewHeaders(HeaderNames{}).Empty() != true {
		t.Error("no names should be Empty")
	}
}

//go:build !race

package identity

import (
	"testing"

	"github.com/valyala/fasthttp"

	"github.com/edgeguard/edgeguard/dataplane/pipeline"
)

func TestStripSetAllocateNothing(t *testing.T) {
	h := NewHeaders(names)
	id, _ := New(Spec{Kind: pipeline.IdentityJWT, Subject: "alice", Scopes: []string{"read"}})
	var tmpl, req fasthttp.RequestHeader
	tmpl.Set("User-Agent", "t")
	tmpl.Set("X-Auth_Subject", "forged")
	tmpl.Set("Accept", "*/*")
	tmpl.CopyTo(&req)
	h.Strip(&req)
	h.Set(&req, id)
	if n := testing.AllocsPerRun(200, func() {
		tmpl.CopyTo(&req)
		h.Strip(&req)
		h.Set(&req, id)
	}); n != 0 {
		t.Errorf("allocs = %.1f", n)
	}
}

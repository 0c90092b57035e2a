package login

import (
	"fmt"
	"net/netip"
	"testing"

	"github.com/valyala/fasthttp"

	"github.com/edgeguard/edgeguard/dataplane/pipeline"
)

// rawAttempt is a login request as a client sends it: any body type, and
// a request URI that may carry a query.
type rawAttempt struct {
	method        string // POST if empty
	ct, body, uri string
	encoding      string // Content-Encoding
}

// doRaw sends a through the stage from ip; the upstream answers upstream.
func (f *fixture) doRaw(ip string, a rawAttempt, upstream int) (int, string) {
	f.t.Helper()
	var ctx fasthttp.RequestCtx
	ctx.Request.Header.SetMethod(fasthttp.MethodPost)
	if a.method != "" {
		ctx.Request.Header.SetMethod(a.method)
	}
	uri := a.uri
	if uri == "" {
		uri = "/login"
	}
	ctx.Request.SetRequestURI(uri)
	if a.ct != "" {
		ctx.Request.Header.SetContentType(a.ct)
	}
	if a.encoding != "" {
		ctx.Request.Header.Set(fasthttp.HeaderContentEncoding, a.encoding)
	}
	ctx.Request.SetBodyString(a.body)
	r := &pipeline.Request{Start: f.store.Epoch().Add(f.now), ClientIP: netip.MustParseAddr(ip)}
	r.PeerIP = r.ClientIP
	if f.st.Handle(&ctx, r) == pipeline.Continue {
		ctx.Response.SetStatusCode(upstream)
	}
	f.st.ObserveResponse(&ctx, r)
	return ctx.Response.StatusCode(), r.Detail
}

func multipartLogin(fields ...string) rawAttempt {
	body := ""
	for i := 0; i+1 < len(fields); i += 2 {
		body += "--XyZ\r\nContent-Disposition: form-data; name=\"" + fields[i] + "\"\r\n\r\n" + fields[i+1] + "\r\n"
	}
	return rawAttempt{ct: "multipart/form-data; boundary=XyZ", body: body + "--XyZ--\r\n"}
}

func jsonLogin(user string) rawAttempt {
	return rawAttempt{ct: "application/json", body: `{"username":"` + user + `","password":"pw"}`}
}

// TestAccountCountedInEveryEncoding: failures for one account are counted
// whatever body type, spelling or padding names it, so that after
// MaxFailures (3) failures of one kind, every other kind is locked too.
func TestAccountCountedInEveryEncoding(t *testing.T) {
	kinds := []struct {
		name string
		a    rawAttempt
	}{
		{"json", jsonLogin("victim")},
		{"json, other case", jsonLogin("VICTIM")},
		{"urlencoded", rawAttempt{ct: "application/x-www-form-urlencoded", body: "username=victim&password=pw"}},
		{"multipart", multipartLogin("username", "victim", "password", "pw")},
		{"multipart, LF line ends", rawAttempt{ct: "multipart/form-data; boundary=\"XyZ\"", body: "--XyZ\nContent-Disposition: form-data; name=username\n\nvictim\n--XyZ--\n"}},
		{"multipart, RFC 2231 name", rawAttempt{ct: "multipart/form-data; boundary=XyZ", body: "--XyZ\r\ncontent-disposition: form-data; name*=UTF-8''user%6Eame\r\n\r\nvictim\r\n--XyZ--\r\n"}},
		{"multipart, empty filename is a field", rawAttempt{ct: "multipart/form-data; boundary=XyZ", body: "--XyZ\r\nContent-Disposition: form-data; name=\"username\"; filename=\"\"\r\n\r\nvictim\r\n--XyZ--\r\n"}},
		{"query", rawAttempt{uri: "/login?username=victim&password=pw"}},
		{"json array of one", rawAttempt{ct: "application/json", body: `{"username":["victim"],"password":"pw"}`}},
		{"form array", rawAttempt{ct: "application/x-www-form-urlencoded", body: "username[]=victim&password=pw"}},
		{"form upper-case field", rawAttempt{ct: "application/x-www-form-urlencoded", body: "USERNAME=victim&password=pw"}},
		{"json as text/plain", rawAttempt{ct: "text/plain", body: `{"username":"victim","password":"pw"}`}},
		{"json without content type", rawAttempt{body: ` {"username":"victim"}`}},
		{"json with a BOM", rawAttempt{ct: "application/json", body: "\ufeff" + `{"username":"victim"}`}},
		{"trailing space", jsonLogin("victim ")},
		{"leading tab and newline", jsonLogin(`\t\nvictim`)},
		{"unicode spaces", jsonLogin(`\u3000victim\u00a0\u2028`)},
		{"NUL", jsonLogin(`victim\u0000`)},
		{"control in the middle", jsonLogin(`vic\u0007tim`)},
		{"C1 control", jsonLogin(`victim\u0085`)},
		{"many leading spaces", jsonLogin(fmt.Sprintf("%300svictim", ""))},
		{"form: encoded space and NUL", rawAttempt{ct: "application/x-www-form-urlencoded", body: "username=+victim%00%20"}},
		{"multipart: trailing space", multipartLogin("username", "victim ")},
	}
	for _, locker := range kinds {
		t.Run(locker.name, func(t *testing.T) {
			for _, probe := range kinds {
				t.Run(probe.name, func(t *testing.T) {
					f := newFixture(t)
					for i := 0; i < 3; i++ {
						ip := fmt.Sprintf("192.0.2.%d", 10+i)
						if got, d := f.doRaw(ip, locker.a, 401); got != 401 {
							t.Fatalf("failure %d: status %d (%s), want 401 from the upstream", i+1, got, d)
						}
					}
					if got, d := f.doRaw("198.51.100.1", probe.a, 200); got != 429 || d != "login_locked_account" {
						t.Fatalf("after 3 failures: status %d (%s), want 429 login_locked_account", got, d)
					}
				})
			}
		})
	}
}

// TestAccountNamedOnce: a request that names the account field more than
// once, in any encoding or spread over query and body, is refused before
// it reaches the upstream and counts for nobody.
func TestAccountNamedOnce(t *testing.T) {
	form := "application/x-www-form-urlencoded"
	tests := []struct {
		name string
		a    rawAttempt
	}{
		{"json duplicate", rawAttempt{ct: "application/json", body: `{"username":"a","username":"b"}`}},
		{"json array of two", rawAttempt{ct: "application/json", body: `{"username":["a","b"]}`}},
		{"text/plain json duplicate", rawAttempt{ct: "text/plain", body: `{"username":"a","Username":"b"}`}},
		{"form repeated", rawAttempt{ct: form, body: "username=a&username=b"}},
		{"form case variants", rawAttempt{ct: form, body: "username=a&USERNAME=b"}},
		{"form plain and array", rawAttempt{ct: form, body: "username=a&username[]=b"}},
		{"form array of two", rawAttempt{ct: form, body: "username[]=a&username[]=b"}},
		{"multipart repeated", multipartLogin("username", "a", "username", "b")},
		{"multipart case variants", multipartLogin("username", "a", "UserName", "b")},
		{"multipart two boundaries", rawAttempt{ct: "multipart/form-data; boundary=XyZ; boundary=AbC", body: multipartLogin("username", "a").body}},
		{"multipart encoded part", rawAttempt{ct: "multipart/form-data; boundary=XyZ", body: "--XyZ\r\nContent-Disposition: form-data; name=username\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nvic=74im\r\n--XyZ--\r\n"}},
		{"query repeated", rawAttempt{uri: "/login?username=a&username=b"}},
		{"form and query", rawAttempt{ct: form, body: "username=a", uri: "/login?username=b"}},
		{"json and query", rawAttempt{ct: "application/json", body: `{"username":"a"}`, uri: "/login?USERNAME=b"}},
		{"multipart and query", rawAttempt{ct: multipartLogin().ct, body: multipartLogin("username", "a").body, uri: "/login?username=b"}},
		{"compressed body", rawAttempt{ct: form, body: "\x1f\x8b", encoding: "gzip"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			for i := 0; i < 4; i++ {
				if got, d := f.doRaw("192.0.2.1", tc.a, 401); got != 400 || d != "login_account_ambiguous" {
					t.Fatalf("attempt %d: status %d (%s), want 400 login_account_ambiguous", i+1, got, d)
				}
			}
			// Nothing was counted: the client still logs in.
			if got, d := f.doRaw("192.0.2.1", jsonLogin("a"), 200); got != 200 {
				t.Fatalf("then a clean login: status %d (%s), want 200", got, d)
			}
		})
	}
}

// TestLoginPageDoesNotClear: the login page answers a GET naming the
// account with 200; that is no successful login and must not wipe the
// account's failures (reading the query made it easy to name one).
func TestLoginPageDoesNotClear(t *testing.T) {
	for _, page := range []rawAttempt{
		{method: fasthttp.MethodGet, uri: "/login?username=victim"},
		{method: fasthttp.MethodHead, uri: "/login?username=victim"},
		{method: fasthttp.MethodGet, ct: "application/json", body: `{"username":"victim"}`},
	} {
		t.Run(page.method+" "+page.uri+page.body, func(t *testing.T) {
			f := newFixture(t)
			for i := 0; i < 3; i++ {
				if got, _ := f.doRaw(fmt.Sprintf("192.0.2.%d", 10+i), jsonLogin("victim"), 401); got != 401 {
					t.Fatalf("failure %d: status %d", i+1, got)
				}
				if i < 2 {
					if got, _ := f.doRaw("198.51.100.7", page, 200); got != 200 {
						t.Fatalf("login page: status %d, want 200", got)
					}
				}
			}
			if got, d := f.doRaw("198.51.100.1", jsonLogin("victim"), 200); got != 429 {
				t.Fatalf("after 3 failures and page views between them: status %d (%s), want 429", got, d)
			}
		})
	}
}

// TestNumericAccount: a JSON number names the account of its decimal
// form, as loosely typed handlers compare it.
func TestNumericAccount(t *testing.T) {
	tests := []struct {
		name          string
		locker, probe rawAttempt
	}{
		{"string locks, number probes", jsonLogin("12345"), rawAttempt{ct: "application/json", body: `{"username":12345}`}},
		{"number locks, form probes", rawAttempt{ct: "application/json", body: `{"username":12345}`}, rawAttempt{ct: "application/x-www-form-urlencoded", body: "username=12345"}},
		{"exponent", jsonLogin("100"), rawAttempt{ct: "application/json", body: `{"username":[1e2]}`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			for i := 0; i < 3; i++ {
				if got, d := f.doRaw(fmt.Sprintf("192.0.2.%d", 10+i), tc.locker, 401); got != 401 {
					t.Fatalf("failure %d: status %d (%s)", i+1, got, d)
				}
			}
			if got, d := f.doRaw("198.51.100.1", tc.probe, 200); got != 429 || d != "login_locked_account" {
				t.Fatalf("after 3 failures: status %d (%s), want 429 login_locked_account", got, d)
			}
		})
	}
}

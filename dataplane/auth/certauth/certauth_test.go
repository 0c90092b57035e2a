package certauth

import (
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/valyala/fasthttp"

	"github.com/edgeguard/edgeguard/dataplane/auth/certauth/certtest"
)

// server is a real fasthttp server behind tls.NewListener on loopback that
// answers with the identity Identify finds.
type server struct {
	addr  string
	calls atomic.Int32
	hook  atomic.Pointer[func(*fasthttp.RequestCtx)]
}

func startServer(t testing.TB, ca *certtest.CA, a *Authenticator, mode tls.ClientAuthType) *server {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srvCert := ca.Server(t)
	tln := tls.NewListener(ln, &tls.Config{
		Certificates: []tls.Certificate{srvCert.TLS}, ClientCAs: ca.Pool(), ClientAuth: mode, MinVersion: tls.VersionTLS12,
	})
	s := &server{addr: ln.Addr().String()}
	fs := &fasthttp.Server{Logger: quiet{}, Handler: func(ctx *fasthttp.RequestCtx) {
		s.calls.Add(1)
		if h := s.hook.Load(); h != nil {
			(*h)(ctx)
		}
		id, err := a.Identify(ctx)
		if err != nil {
			ctx.SetStatusCode(401)
			ctx.SetBodyString(err.Error())
			return
		}
		ctx.SetBodyString(id.Principal.Subject + "|" + id.Principal.Tier + "|" + strings.Join(id.Principal.Scopes, ","))
	}}
	go func() { _ = fs.Serve(tln) }()
	t.Cleanup(func() { _ = fs.Shutdown() })
	return s
}

type quiet struct{}

func (quiet) Printf(string, ...any) {}

func client(ca *certtest.CA, cert *certtest.Leaf) *http.Client {
	cfg := &tls.Config{RootCAs: ca.Pool(), MinVersion: tls.VersionTLS12}
	if cert != nil {
		// Always present the certificate, even when it does not chain to a
		// CA the server asked for (the default client would send none).
		cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &cert.TLS, nil }
	}
	return &http.Client{Transport: &http.Transport{TLSClientConfig: cfg}}
}

func get(t testing.TB, c *http.Client, addr string) (int, string, error) {
	t.Helper()
	resp, err := c.Get("https://" + addr + "/")
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), nil
}

func TestIdentify(t *testing.T) {
	ca := certtest.NewCA(t, "edgeguard test CA")
	rogue := certtest.NewCA(t, "rogue CA")
	svc := ca.Client(t, certtest.Names{CommonName: "billing", URIs: []string{"spiffe://corp/billing"}, DNS: []string{"billing.corp"}})
	dnsOnly := ca.Client(t, certtest.Names{CommonName: "web", DNS: []string{"web.corp"}})
	noSAN := ca.Client(t, certtest.Names{CommonName: "legacy"})
	noCN := ca.Client(t, certtest.Names{Emails: []string{"ops@corp.test"}})
	clients := []Client{{Identity: "spiffe://corp/billing", Tier: "internal", Scopes: []string{"ledger:write"}}}

	cases := []struct {
		name    string
		mode    Mode
		auth    tls.ClientAuthType
		cert    *certtest.Leaf
		ca      *certtest.CA
		want    string // body on 200
		status  int
		handErr bool // the handshake must fail
	}{
		{name: "URI SAN with a mapped tier", mode: SAN, auth: tls.RequireAndVerifyClientCert, cert: svc, status: 200, want: "spiffe://corp/billing|internal|ledger:write"},
		{name: "DNS SAN", mode: SAN, auth: tls.RequireAndVerifyClientCert, cert: dnsOnly, status: 200, want: "web.corp||"},
		{name: "no SAN falls back to the subject", mode: SAN, auth: tls.RequireAndVerifyClientCert, cert: noSAN, status: 200, want: "CN=legacy,O=edgeguard tests||"},
		{name: "email SAN", mode: SAN, auth: tls.RequireAndVerifyClientCert, cert: noCN, status: 200, want: "ops@corp.test||"},
		{name: "subject mode", mode: Subject, auth: tls.RequireAndVerifyClientCert, cert: svc, status: 200, want: "CN=billing,O=edgeguard tests||"},
		{name: "common name mode", mode: CommonName, auth: tls.RequireAndVerifyClientCert, cert: svc, status: 200, want: "billing||"},
		{name: "common name mode without a CN", mode: CommonName, auth: tls.RequireAndVerifyClientCert, cert: noCN, status: 401, want: "cert_identity_missing"},
		{name: "request mode without a certificate", mode: SAN, auth: tls.VerifyClientCertIfGiven, status: 401, want: "cert_missing"},
		{name: "request mode with a certificate", mode: SAN, auth: tls.VerifyClientCertIfGiven, cert: dnsOnly, status: 200, want: "web.corp||"},
		{name: "require mode without a certificate", mode: SAN, auth: tls.RequireAndVerifyClientCert, handErr: true},
		{name: "certificate from another CA, require", mode: SAN, auth: tls.RequireAndVerifyClientCert, cert: rogue.Client(t, certtest.Names{CommonName: "billing", URIs: []string{"spiffe://corp/billing"}}), handErr: true},
		{name: "certificate from another CA, request", mode: SAN, auth: tls.VerifyClientCertIfGiven, cert: rogue.Client(t, certtest.Names{CommonName: "x"}), handErr: true},
		{name: "expired certificate", mode: SAN, auth: tls.VerifyClientCertIfGiven, cert: ca.ExpiredClient(t, certtest.Names{CommonName: "old"}), handErr: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := startServer(t, ca, New(Config{Mode: tc.mode, Clients: clients}), tc.auth)
			status, body, err := get(t, client(ca, tc.cert), s.addr)
			if tc.handErr {
				if err == nil {
					t.Fatalf("handshake succeeded: %d %q", status, body)
				}
				if s.calls.Load() != 0 {
					t.Error("the handler ran after a failed handshake")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if status != tc.status || body != tc.want {
				t.Errorf("got %d %q, want %d %q", status, body, tc.status, tc.want)
			}
		})
	}
}

func TestPlainConnectionHasNoCert(t *testing.T) {
	a := New(Config{})
	var ctx fasthttp.RequestCtx
	if _, err := a.Identify(&ctx); err != ErrNoCert {
		t.Errorf("err = %v", err)
	}
}

package mgmt

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/edgeguard/edgeguard/bpf/enforce"
	"github.com/edgeguard/edgeguard/dataplane/auth/certauth/certtest"
	"github.com/edgeguard/edgeguard/dataplane/connfilter"
	"github.com/edgeguard/edgeguard/policy"
	"github.com/edgeguard/edgeguard/policy/blocklist"
	"github.com/edgeguard/edgeguard/policy/config"
	"github.com/edgeguard/edgeguard/policy/mgmt/api"
	"github.com/edgeguard/edgeguard/policy/mgmt/client"
)

const (
	adminToken = "admin-token-0123456789abcdef"
	readToken  = "read-token-0123456789abcdef"
)

// fixture is a management server over a real store and the real
// user-space enforcer, on loopback.
type fixture struct {
	srv     *Server
	filter  *connfilter.Filter
	store   *blocklist.Store
	holder  *policy.Holder
	cfgPath string
	dir     string
}

// mgmtSection is the management section of the fixture's config; extra
// lines are appended to it.
func startFixture(t *testing.T, extra string) *fixture {
	t.Helper()
	dir := t.TempDir()
	doc := `
listeners: [{name: public, address: "127.0.0.1:0"}]
management:
  address: 127.0.0.1:0
  tokens:
    - {name: ops, hash: ` + api.HashToken(adminToken) + `}
    - {name: grafana, hash: ` + api.HashToken(readToken) + `, role: read}
  state_dir: ` + filepath.Join(dir, "state") + `
  max_entries: 1000
  max_body_bytes: 65536
` + extra + `
access_log: {path: "off"}
upstreams: [{name: api, targets: ["127.0.0.1:1"]}]
routes: [{name: r, path: /, upstream: api}]
xdp: {mode: "off"}
`
	f := &fixture{filter: connfilter.New(), dir: dir, cfgPath: filepath.Join(dir, "gatewayd.yaml")}
	if err := os.WriteFile(f.cfgPath, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	load := func() (*config.Loaded, error) { return config.Load(f.cfgPath) }
	l, err := load()
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	enf := &policy.Enforcement{Enforcer: f.filter, Listener: f.filter, Why: "test"}
	f.holder, err = policy.NewHolder(load, policy.Options{Enforcer: enf}, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.holder.Close)
	mc := l.Config.Management
	f.store, err = blocklist.Open(blocklist.Options{Dir: mc.StateDir, Applier: enf, MaxEntries: mc.MaxEntries, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.store.Close() })
	f.srv, err = Start(Options{Config: mc, Policies: f.holder, Version: "test", Log: log, Enforcement: enf, Blocklist: f.store, BanDefault: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.srv.Shutdown(context.Background()) })
	return f
}

func (f *fixture) client(t *testing.T, o client.Options) *client.Client {
	t.Helper()
	tg, err := client.ParseTarget(f.srv.Addr(), false)
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.New(tg, o)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// call makes a raw request and returns the status.
func call(t *testing.T, method, url, token string, body string) int {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", token)
	}
	if body != "" && strings.HasPrefix(body, "{") {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

func TestAuthRequiredOnEveryCall(t *testing.T) {
	f := startFixture(t, "  public: none\n") // with tokens, the default keeps health public
	base := "http://" + f.srv.Addr()
	routes := []struct {
		method, path, body string
		admin              bool
	}{
		{"GET", "/healthz", "", false},
		{"GET", "/readyz", "", false},
		{"GET", "/metrics", "", false},
		{"GET", "/status", "", false},
		{"GET", api.PathStatus, "", false},
		{"GET", api.PathBlocklist, "", false},
		{"GET", api.PathBlocklistEntries, "", false},
		{"GET", api.PathBlocklistTest + "?ip=192.0.2.1", "", false},
		{"GET", api.PathBans, "", false},
		{"PUT", api.PathBlocklist + "?version=1", "10.0.0.0/8\n", true},
		{"POST", api.PathBlocklistDelta, `{"add": ["192.0.2.0/24"]}`, true},
		{"POST", api.PathBans, `{"ip": "192.0.2.9", "for": "1m"}`, true},
		{"DELETE", api.PathBans + "/192.0.2.9", "", true},
		{"POST", api.PathReload, "", true},
	}
	creds := []struct {
		name      string
		header    string
		wantRead  int
		wantAdmin int
	}{
		{"no token", "", 401, 401},
		{"wrong token", "Bearer not-the-token", 401, 401},
		{"token of another scheme", "Basic " + adminToken, 401, 401},
		{"hash instead of token", "Bearer " + api.HashToken(adminToken), 401, 401},
		{"read-only token", "Bearer " + readToken, 200, 403},
		{"admin token", "Bearer " + adminToken, 200, 200},
		{"scheme in lower case", "bearer " + readToken, 200, 403},
		{"scheme alone", "Bearer", 401, 401},
	}
	for _, c := range creds {
		for _, r := range routes {
			want := c.wantRead
			if r.admin {
				want = c.wantAdmin
			}
			if got := call(t, r.method, base+r.path, c.header, r.body); got != want {
				t.Errorf("%s: %s %s = %d, want %d", c.name, r.method, r.path, got, want)
			}
		}
	}
	if f.store.Version() != 2 {
		t.Errorf("the admin push and delta should have landed: version %d", f.store.Version())
	}
}

// TestHealthPublicByDefault: configuring tokens must not close the load
// balancers' health checks; everything else needs a credential.
func TestHealthPublicByDefault(t *testing.T) {
	f := startFixture(t, "")
	base := "http://" + f.srv.Addr()
	for path, want := range map[string]int{"/healthz": 200, "/readyz": 200, "/metrics": 401, "/status": 401, api.PathBans: 401} {
		if got := call(t, "GET", base+path, "", ""); got != want {
			t.Errorf("GET %s without credentials = %d, want %d", path, got, want)
		}
	}
}

func TestPublicLevels(t *testing.T) {
	cases := []struct {
		public string
		open   []string // paths served without credentials; the rest need them
	}{
		{"none", nil},
		{"health", []string{"/healthz", "/readyz"}},
		{"monitoring", []string{"/healthz", "/readyz", "/metrics"}},
		{"status", []string{"/healthz", "/readyz", "/metrics", "/status", api.PathStatus}},
	}
	for _, tc := range cases {
		t.Run(tc.public, func(t *testing.T) {
			f := startFixture(t, "  public: "+tc.public+"\n")
			for _, path := range []string{"/healthz", "/readyz", "/metrics", "/status", api.PathStatus, api.PathBlocklist, api.PathBans} {
				want := 401
				for _, o := range tc.open {
					if o == path {
						want = 200
					}
				}
				if got := call(t, "GET", "http://"+f.srv.Addr()+path, "", ""); got != want {
					t.Errorf("GET %s = %d, want %d", path, got, want)
				}
			}
			if got := call(t, "PUT", "http://"+f.srv.Addr()+api.PathBlocklist+"?version=1", "", "10.0.0.0/8\n"); got != 401 {
				t.Errorf("a push is never public: %d", got)
			}
		})
	}
}

func TestBlocklistAPI(t *testing.T) {
	f := startFixture(t, "")
	c := f.client(t, client.Options{Token: adminToken})
	ctx := context.Background()
	res, err := c.Push(ctx, strings.NewReader("# list\n10.0.0.0/8\n10.1.0.0/16\n10.0.0.0/8\n2001:db8::/32 ; v6\n"), blocklist.FormatText, 5)
	if err != nil {
		t.Fatal(err)
	}
	if res.Version != 5 || res.Entries != 3 || res.Received != 4 || res.Duplicates != 1 || res.Covered != 1 {
		t.Errorf("push result = %+v", res)
	}
	if f.filter.Check(netip.MustParseAddr("10.9.9.9")) != enforce.ReasonDropBlocklist {
		t.Error("pushed list is not enforced")
	}

	refused := []struct {
		name    string
		do      func() error
		status  int
		msg     string
		badLine int
	}{
		{"stale version", func() error {
			_, err := c.Push(ctx, strings.NewReader("192.0.2.0/24\n"), blocklist.FormatText, 4)
			return err
		}, 409, "not newer than the current", 0},
		{"same version, other content", func() error {
			_, err := c.Push(ctx, strings.NewReader("192.0.2.0/24\n"), blocklist.FormatText, 5)
			return err
		}, 409, "different content", 0},
		{"bad lines", func() error {
			_, err := c.Push(ctx, strings.NewReader("192.0.2.0/24\nnope\n198.51.100.1/8\n"), blocklist.FormatText, 6)
			return err
		}, 400, "2 bad lines", 2},
		{"bad JSON entry", func() error {
			_, err := c.Push(ctx, strings.NewReader(`{"version": 6, "entries": ["192.0.2.0/24", "x"]}`), blocklist.FormatJSON, 6)
			return err
		}, 400, "entries[1]", 1},
		{"body versions disagree", func() error {
			_, err := c.Push(ctx, strings.NewReader(`{"version": 7, "entries": []}`), blocklist.FormatJSON, 6)
			return err
		}, 400, "disagrees", 0},
		{"too many entries", func() error {
			_, err := c.Push(ctx, strings.NewReader(strings.Repeat("192.0.2.1\n", 1001)), blocklist.FormatText, 6)
			return err
		}, 413, "too many entries", 0},
		{"body too large", func() error {
			_, err := c.Push(ctx, strings.NewReader("#"+strings.Repeat("x", 70000)+"\n"), blocklist.FormatText, 6)
			return err
		}, 413, "max_body_bytes", 0},
		{"stale delta", func() error {
			_, err := c.Delta(ctx, 5, []string{"192.0.2.0/24"}, nil)
			return err
		}, 409, "not newer than the current", 0},
		{"bad delta entry", func() error {
			_, err := c.Delta(ctx, 0, []string{"192.0.2.0/24", "192.0.2.300"}, nil)
			return err
		}, 400, "add[1]", 1},
		{"bad test address", func() error {
			_, err := c.Test(ctx, "nope")
			return err
		}, 400, "must be an IP address", 0},
	}
	for _, tc := range refused {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.do()
			var ae *client.APIError
			if !errors.As(err, &ae) || ae.Status != tc.status || !strings.Contains(ae.Body.Error, tc.msg) {
				t.Fatalf("err = %v, want %d %q", err, tc.status, tc.msg)
			}
			if tc.badLine != 0 && (len(ae.Body.BadLines) == 0 || ae.Body.BadLines[0].Line != tc.badLine) {
				t.Errorf("bad lines = %+v, want first at line %d", ae.Body.BadLines, tc.badLine)
			}
			if ae.Status == 409 && (ae.Body.CurrentVersion == nil || *ae.Body.CurrentVersion != 5) {
				t.Errorf("current_version = %v", ae.Body.CurrentVersion)
			}
			// Nothing changed.
			if in := f.store.Info(); in.Version != 5 || in.Entries != 3 {
				t.Fatalf("state changed: %+v", in)
			}
		})
	}

	raw := call(t, "PUT", "http://"+f.srv.Addr()+api.PathBlocklist, "Bearer "+adminToken, "192.0.2.0/24\n")
	if raw != 400 {
		t.Errorf("push without a version = %d, want 400", raw)
	}
	req, _ := http.NewRequest("PUT", "http://"+f.srv.Addr()+api.PathBlocklist+"?version=9", strings.NewReader("x"))
	req.Header.Set("Authorization", "Bearer "+adminToken)
	req.Header.Set("Content-Type", "application/xml")
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 415 {
		t.Errorf("xml push: %v %v", resp, err)
	}

	res, err = c.Delta(ctx, 0, []string{"192.0.2.0/24", "10.0.0.0/8"}, []string{"10.1.0.0/16", "198.51.100.0/24"})
	if err != nil || res.Version != 6 || res.Added != 1 || res.Removed != 1 || res.Absent != 1 {
		t.Fatalf("delta = %+v %v", res, err)
	}
	tr, err := c.Test(ctx, "10.1.2.3")
	if err != nil || !tr.Blocked || len(tr.Entries) != 1 || tr.Entries[0] != "10.0.0.0/8" || tr.Version != 6 {
		t.Fatalf("test = %+v %v", tr, err)
	}
	if tr, _ := c.Test(ctx, "203.0.113.5"); tr.Blocked || len(tr.Entries) != 0 {
		t.Errorf("test of an unlisted address = %+v", tr)
	}
	var exp bytes.Buffer
	if err := c.Export(ctx, &exp); err != nil || !strings.Contains(exp.String(), "# version: 6\n") || !strings.Contains(exp.String(), "192.0.2.0/24\n") {
		t.Fatalf("export: %v\n%s", err, exp.String())
	}
	// An export pushes back as is (same version, same content: a no-op).
	if res, err := c.Push(ctx, &exp, blocklist.FormatText, 6); err != nil || !res.Unchanged {
		t.Errorf("re-push of the export: %+v %v", res, err)
	}
	in, err := c.Info(ctx)
	if err != nil || in.Version != 6 || in.AppliedVersion != 6 || !in.Persistent || in.Entries != 3 {
		t.Errorf("info = %+v %v", in, err)
	}
}

func TestBansAPI(t *testing.T) {
	f := startFixture(t, "")
	c := f.client(t, client.Options{Token: adminToken})
	ctx := context.Background()
	b, err := c.Ban(ctx, "192.0.2.9", 10*time.Minute)
	if err != nil || b.IP != "192.0.2.9" || time.Duration(b.Remaining) != 10*time.Minute {
		t.Fatalf("ban = %+v %v", b, err)
	}
	if _, err := c.Ban(ctx, "2001:db8::9", 0); err != nil { // default length
		t.Fatal(err)
	}
	if f.filter.Check(netip.MustParseAddr("192.0.2.9")) != enforce.ReasonDropBanned {
		t.Error("ban not enforced")
	}
	list, err := c.Bans(ctx)
	if err != nil || len(list.Bans) != 2 {
		t.Fatalf("bans = %+v %v", list, err)
	}
	if tr, _ := c.Test(ctx, "192.0.2.9"); !tr.Banned || !tr.Blocked || tr.BanUntil == nil {
		t.Errorf("test of a banned address = %+v", tr)
	}
	if _, err := c.Unban(ctx, "2001:db8::9"); err != nil {
		t.Fatal(err)
	}
	if list, _ := c.Bans(ctx); len(list.Bans) != 1 {
		t.Errorf("after unban: %+v", list)
	}

	// An IPv6 network: every address in it is banned, it is listed and
	// tested as the network, and it is lifted by the same CIDR.
	if b, err := c.Ban(ctx, "2001:db8:7:8::1/64", time.Minute); err != nil || b.IP != "2001:db8:7:8::/64" {
		t.Fatalf("network ban = %+v %v", b, err)
	}
	if f.filter.Check(netip.MustParseAddr("2001:db8:7:8:ffff::2")) != enforce.ReasonDropBanned {
		t.Error("network ban not enforced")
	}
	if tr, _ := c.Test(ctx, "2001:db8:7:8::99"); !tr.Banned {
		t.Errorf("test of an address in a banned network = %+v", tr)
	}
	if list, _ := c.Bans(ctx); len(list.Bans) != 2 || !slices.ContainsFunc(list.Bans, func(b api.Ban) bool { return b.IP == "2001:db8:7:8::/64" }) {
		t.Errorf("bans with a network: %+v", list)
	}
	if _, err := c.Unban(ctx, "2001:db8:7:8::/64"); err != nil {
		t.Fatal(err)
	}
	if f.filter.Check(netip.MustParseAddr("2001:db8:7:8::1")) != enforce.ReasonPass {
		t.Error("network unban not applied")
	}

	for _, tc := range []struct {
		ip string
		d  time.Duration
	}{{"nope", time.Minute}, {"192.0.2.1", -time.Minute}, {"192.0.2.1", 400 * 24 * time.Hour}, {"fe80::1%eth0", time.Minute},
		{"192.0.2.0/24", time.Minute}, {"2001:db8::/16", time.Minute}} {
		if _, err := c.Ban(ctx, tc.ip, tc.d); !client.IsAPIError(err) {
			t.Errorf("ban %s for %s: %v, want a 400", tc.ip, tc.d, err)
		}
	}
	// Raw bodies: an explicit zero is no default (it banned for the
	// default 10 minutes), and one object only (the second was ignored).
	base := "http://" + f.srv.Addr() + "/v1/bans"
	for _, tc := range []struct {
		body string
		want int
	}{
		{`{"ip":"192.0.2.50","for":"0s"}`, 400},
		{`{"ip":"192.0.2.51","for":"0"}`, 400},
		{`{"ip":"192.0.2.52"}{"ip":"192.0.2.53"}`, 400},
		{`{"ip":"192.0.2.54"}`, 200},
	} {
		if got := call(t, "POST", base, "Bearer "+adminToken, tc.body); got != tc.want {
			t.Errorf("POST %s = %d, want %d", tc.body, got, tc.want)
		}
	}
	for _, ip := range []string{"192.0.2.50", "192.0.2.51", "192.0.2.52", "192.0.2.53"} {
		if f.filter.Check(netip.MustParseAddr(ip)) == enforce.ReasonDropBanned {
			t.Errorf("%s banned by a refused request", ip)
		}
	}
}

func TestReloadAPI(t *testing.T) {
	f := startFixture(t, "")
	c := f.client(t, client.Options{Token: adminToken})
	ctx := context.Background()
	res, err := c.Reload(ctx)
	if err != nil || res.Swapped {
		t.Fatalf("unchanged file: %+v %v", res, err)
	}
	b, _ := os.ReadFile(f.cfgPath)
	if err := os.WriteFile(f.cfgPath, bytes.Replace(b, []byte("path: /,"), []byte("path: /x,"), 1), 0o600); err != nil {
		t.Fatal(err)
	}
	if res, err := c.Reload(ctx); err != nil || !res.Swapped || res.Version != 2 {
		t.Fatalf("changed file: %+v %v", res, err)
	}
	if err := os.WriteFile(f.cfgPath, []byte("routes: 5\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	res, err = c.Reload(ctx)
	var ae *client.APIError
	if !errors.As(err, &ae) || ae.Status != 422 || res.Error == "" || f.holder.Current().Version != 2 {
		t.Fatalf("bad file: %+v %v", res, err)
	}
}

func TestStatusReportsBlocklistAndEnforcer(t *testing.T) {
	f := startFixture(t, "")
	c := f.client(t, client.Options{Token: readToken})
	st, err := c.Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if st.Enforcer.Mode != enforce.ModeUserspace || !st.Enforcer.Fallback || st.Enforcer.Counters == nil || st.Blocklist == nil ||
		!st.Blocklist.Persistent || st.Blocklist.Restore == nil || st.Config.Version != 1 || st.Version != "test" {
		t.Errorf("status = %+v", st)
	}
}

func TestUnixSocket(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "mgmt.sock")
	f := startFixture(t, "  unix_socket: "+sock+"\n")
	fi, err := os.Stat(sock)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("socket mode: %v %v", fi, err)
	}
	tg, err := client.ParseTarget("unix:"+sock, false)
	if err != nil {
		t.Fatal(err)
	}
	// The peer is this process's user: root or the daemon's own user.
	c, err := client.New(tg, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Push(context.Background(), strings.NewReader("10.0.0.0/8\n"), blocklist.FormatText, 1); err != nil {
		t.Fatalf("push over the socket without a token: %v", err)
	}
	// A wrong token is refused even on the socket.
	c2, _ := client.New(tg, client.Options{Token: "wrong"})
	if _, err := c2.Info(context.Background()); !client.IsAPIError(err) {
		t.Errorf("wrong token on the socket: %v", err)
	}
	// A second server cannot take a live socket.
	cfg := config.Management{Address: config.ManagementOff, UnixSocket: sock, Public: config.PublicNone, MaxBodyBytes: 1024, ReadTimeout: time.Second, WriteTimeout: time.Second}
	if _, err := Start(Options{Config: cfg, Policies: f.holder}); err == nil || !strings.Contains(err.Error(), "another process") {
		t.Errorf("second server on a live socket: %v", err)
	}
	_ = f.srv.Shutdown(context.Background())
	// A stale socket (no server behind it) is replaced...
	stale, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	stale.(*net.UnixListener).SetUnlinkOnClose(false)
	stale.Close()
	s2, err := Start(Options{Config: cfg, Policies: f.holder})
	if err != nil {
		t.Fatalf("stale socket: %v", err)
	}
	_ = s2.Shutdown(context.Background())
	// ...but a regular file is never removed.
	if err := os.WriteFile(sock, []byte("keep"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Start(Options{Config: cfg, Policies: f.holder}); err == nil || !strings.Contains(err.Error(), "not a socket") {
		t.Errorf("regular file: %v", err)
	}
}

func TestBindDevice(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("SO_BINDTODEVICE needs CAP_NET_RAW")
	}
	cfg := config.Management{Address: "127.0.0.1:0", BindDevice: "lo", Public: config.PublicHealth, MaxBodyBytes: 1024, ReadTimeout: time.Second, WriteTimeout: time.Second}
	s, err := Start(Options{Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Shutdown(context.Background())
	if got := call(t, "GET", "http://"+s.Addr()+"/healthz", "", ""); got != 200 {
		t.Errorf("healthz on lo: %d", got)
	}
	cfg.BindDevice = "nosuchdev0"
	if _, err := Start(Options{Config: cfg}); err == nil || !strings.Contains(err.Error(), "management.bind_device") {
		t.Errorf("missing device: %v", err)
	}
}

func TestMTLS(t *testing.T) {
	dir := t.TempDir()
	ca, other := certtest.NewCA(t, "edgeguard test CA"), certtest.NewCA(t, "someone else")
	serverCert, serverKey := ca.Server(t).WriteFiles(t, dir, "server")
	opsCert, opsKey := ca.Client(t, certtest.Names{CommonName: "ops"}).WriteFiles(t, dir, "ops")
	intruderCert, intruderKey := other.Client(t, certtest.Names{CommonName: "intruder"}).WriteFiles(t, dir, "intruder")
	caFile := ca.WriteFile(t, dir, "ca")
	f := startFixture(t, "  tls_cert_file: "+serverCert+"\n  tls_key_file: "+serverKey+"\n  client_ca_file: "+caFile+"\n")
	tg, err := client.ParseTarget(f.srv.Addr(), true)
	if err != nil {
		t.Fatal(err)
	}
	newClient := func(o client.Options) *client.Client {
		o.CAFile = caFile
		c, err := client.New(tg, o)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	ctx := context.Background()
	if _, err := newClient(client.Options{CertFile: opsCert, KeyFile: opsKey}).Push(ctx, strings.NewReader("10.0.0.0/8\n"), blocklist.FormatText, 1); err != nil {
		t.Fatalf("client certificate from the CA: %v", err)
	}
	if _, err := newClient(client.Options{CertFile: intruderCert, KeyFile: intruderKey}).Info(ctx); err == nil || client.IsAPIError(err) || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("certificate from another CA must fail the handshake: %v", err)
	}
	var ae *client.APIError
	if _, err := newClient(client.Options{}).Info(ctx); !errors.As(err, &ae) || ae.Status != 401 {
		t.Errorf("no certificate, no token: %v", err)
	}
	if _, err := newClient(client.Options{Token: adminToken}).Info(ctx); err != nil {
		t.Errorf("token over TLS without a certificate: %v", err)
	}
	// Plain HTTP to the TLS port gets nowhere.
	if resp, err := http.Get("http://" + f.srv.Addr() + "/healthz"); err == nil && resp.StatusCode == 200 {
		t.Error("plain HTTP served on the TLS listener")
	}
}

func TestHashTokenMatchesConfigForm(t *testing.T) {
	h := api.HashToken("secret")
	if h != "sha256:2bb80d537b1da3e38bd30361aa855686bde0eacd7162fef6a25fe97bf527a25b" {
		t.Errorf("HashToken = %s", h)
	}
	b, _ := json.Marshal(h)
	if strings.Contains(string(b), "secret") {
		t.Error("hash contains the token")
	}
}

// TestTokensReloadWithoutRestart: revoking a leaked token in the config and
// reloading shuts it out at once; a token added the same way works.
func TestTokensReloadWithoutRestart(t *testing.T) {
	f := startFixture(t, "")
	ctx := context.Background()
	if _, err := f.client(t, client.Options{Token: adminToken}).Info(ctx); err != nil {
		t.Fatalf("before the reload: %v", err)
	}
	const newToken = "eg_new_admin_token_0123456789abcdefghij"
	b, err := os.ReadFile(f.cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	doc := strings.Replace(string(b), api.HashToken(adminToken), api.HashToken(newToken), 1)
	if err := os.WriteFile(f.cfgPath, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	res, err := f.holder.Reload("test")
	if err != nil || !res.Swapped {
		t.Fatalf("reload: %+v %v", res, err)
	}
	for _, r := range res.RestartRequired {
		if r == "management" {
			t.Errorf("a token change reported as needing a restart")
		}
	}
	if _, err := f.client(t, client.Options{Token: adminToken}).Info(ctx); !client.IsAPIError(err) {
		t.Fatalf("revoked token after the reload: %v, want refused", err)
	}
	if _, err := f.client(t, client.Options{Token: newToken}).Info(ctx); err != nil {
		t.Fatalf("new token after the reload: %v", err)
	}
}

// TestAbandonedChangeNotApplied: a delta waiting for the write slot whose
// client gives up (gatewayctl's timeout, exit 3: "unreachable") must not
// be applied once the slot frees (it was, and the client had reported a
// failure).
func TestAbandonedChangeNotApplied(t *testing.T) {
	f := startFixture(t, "")
	base := "http://" + f.srv.Addr()
	f.srv.writes <- struct{}{} // another change holds the slot
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "POST", base+"/v1/blocklist/delta", strings.NewReader(`{"add":["198.18.0.1"]}`))
	req.Header.Set("Authorization", "Bearer "+adminToken)
	req.Header.Set("Content-Type", "application/json")
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
		t.Fatalf("the delta was answered %d while the slot was held", resp.StatusCode)
	}
	time.Sleep(100 * time.Millisecond) // the server notices the closed connection
	<-f.srv.writes
	// A change made after it lands, and the abandoned one is not in.
	if got := call(t, "POST", base+"/v1/blocklist/delta", "Bearer "+adminToken, `{"add":["198.18.0.2"]}`); got != 200 {
		t.Fatalf("later delta: %d", got)
	}
	var exp strings.Builder
	c := f.client(t, client.Options{Token: adminToken})
	if err := c.Export(context.Background(), &exp); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(exp.String(), "198.18.0.1/32") || !strings.Contains(exp.String(), "198.18.0.2/32") {
		t.Errorf("list after an abandoned and a completed delta:\n%s", exp.String())
	}
}

// TestCompressedPushRefused: a compressed list is a 415 naming the coding
// (it was parsed as text and refused for a garbled line); identity passes.
func TestCompressedPushRefused(t *testing.T) {
	f := startFixture(t, "")
	base := "http://" + f.srv.Addr()
	for _, tc := range []struct {
		method, path, ct, ce, body string
		want                       int
	}{
		{"PUT", "/v1/blocklist", "text/plain", "gzip", "\x1f\x8b\x08\x00", 415},
		{"POST", "/v1/blocklist/delta", "application/json", "deflate", "x", 415},
		{"PUT", "/v1/blocklist?version=3", "text/plain", "identity", "192.0.2.0/24\n", 200},
	} {
		req, _ := http.NewRequest(tc.method, base+tc.path, strings.NewReader(tc.body))
		req.Header.Set("Authorization", "Bearer "+adminToken)
		req.Header.Set("Content-Type", tc.ct)
		req.Header.Set("Content-Encoding", tc.ce)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.want || tc.want == 415 && !strings.Contains(string(b), "uncompressed") {
			t.Errorf("%s %s with Content-Encoding %s: %d %s, want %d", tc.method, tc.path, tc.ce, resp.StatusCode, b, tc.want)
		}
	}
}

// TestMetricsForPrometheus: /metrics carries "# TYPE" lines, and the
// blocklist change durations are Prometheus histograms ("le" buckets, which
// histogram_quantile reads).
func TestMetricsForPrometheus(t *testing.T) {
	f := startFixture(t, "")
	base := "http://" + f.srv.Addr()
	if got := call(t, "PUT", base+api.PathBlocklist+"?version=1", "Bearer "+adminToken, "10.0.0.0/8\n"); got != 200 {
		t.Fatalf("push: %d", got)
	}
	req, _ := http.NewRequest("GET", base+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+readToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	m := string(b)
	for _, want := range []string{
		"# TYPE edgeguard_blocklist_apply_duration_seconds histogram",
		`edgeguard_blocklist_apply_duration_seconds_bucket{le="+Inf"}`,
		"# TYPE edgeguard_blocklist_version gauge",
	} {
		if !strings.Contains(m, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if strings.Contains(m, `edgeguard_blocklist_apply_duration_seconds_bucket{vmrange=`) {
		t.Error("apply duration still in vmrange buckets")
	}
}

// TestBrowserChangesRefused: a change that carries a browser's Origin or
// Sec-Fetch-Site (a page driving an operator's browser, which may hold a
// management client certificate) is refused before anything is read;
// reads and command-line changes are not affected.
func TestBrowserChangesRefused(t *testing.T) {
	f := startFixture(t, "")
	base := "http://" + f.srv.Addr()
	for _, tc := range []struct {
		name, method, path, header, value string
		want                              int
	}{
		{"ban from a page", "POST", api.PathBans, "Origin", "https://evil.example", 403},
		{"ban with a null origin", "POST", api.PathBans, "Origin", "null", 403},
		{"reload cross-site", "POST", api.PathReload, "Sec-Fetch-Site", "cross-site", 403},
		{"push same-site", "PUT", api.PathBlocklist + "?version=5", "Sec-Fetch-Site", "same-site", 403},
		{"typed address", "POST", api.PathBans, "Sec-Fetch-Site", "none", 200},
		{"read from a page", "GET", api.PathBans, "Origin", "https://evil.example", 200},
		{"command line", "POST", api.PathBans, "", "", 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := ""
			switch tc.method {
			case "POST":
				body = `{"ip":"203.0.113.9","for":"1m"}`
			case "PUT":
				body = "10.0.0.0/8\n"
			}
			req, _ := http.NewRequest(tc.method, base+tc.path, strings.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+adminToken)
			if strings.HasPrefix(body, "{") {
				req.Header.Set("Content-Type", "application/json")
			} else if body != "" {
				req.Header.Set("Content-Type", "text/plain")
			}
			if tc.header != "" {
				req.Header.Set(tc.header, tc.value)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Fatalf("%s %s with %s: %d %s, want %d", tc.method, tc.path, tc.header, resp.StatusCode, b, tc.want)
			}
		})
	}
	if f.store.Version() != 0 {
		t.Errorf("a refused push changed the list: version %d", f.store.Version())
	}
}

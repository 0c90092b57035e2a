// Package client calls the management API of one or many gatewayd
// instances: it is what gatewayctl (and the benchmarks) use. It resolves
// targets (host:port, http(s) URLs, unix:/path), authenticates with a
// bearer token and/or a client certificate, streams list pushes, and fans
// a call out to a fleet in parallel, one result per host.
//
// It must never print or decide exit codes (that is gatewayctl's job), and
// never log or echo a token.
package client

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/edgeguard/edgeguard/policy/blocklist"
	"github.com/edgeguard/edgeguard/policy/mgmt/api"
)

// Target is one gatewayd management endpoint.
type Target struct {
	// Name is the target as the operator wrote it (for result tables).
	Name string
	// URL is the base URL; for a Unix socket it is "http://unix".
	URL string
	// Socket is the Unix socket path, "" for TCP.
	Socket string
}

// ParseTarget accepts "host:port", "http://host:port", "https://host:port"
// and "unix:/path/to/socket". A bare host:port uses https when tls is true.
func ParseTarget(s string, tls bool) (Target, error) {
	s = strings.TrimSpace(s)
	if path, ok := strings.CutPrefix(s, "unix:"); ok {
		if !strings.HasPrefix(path, "/") {
			return Target{}, fmt.Errorf("parse target %q: a socket path must be absolute", s)
		}
		return Target{Name: s, URL: "http://unix", Socket: path}, nil
	}
	raw := s
	if !strings.Contains(s, "://") {
		scheme := "http://"
		if tls {
			scheme = "https://"
		}
		raw = scheme + s
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") || (u.Path != "" && u.Path != "/") {
		return Target{}, fmt.Errorf("parse target %q: want host:port, http(s)://host:port or unix:/path", s)
	}
	if u.Port() == "" {
		return Target{}, fmt.Errorf("parse target %q: a port is required", s)
	}
	return Target{Name: s, URL: u.Scheme + "://" + u.Host}, nil
}

// Options configure a Client.
type Options struct {
	// Token is the bearer token ("" sends none).
	Token string
	// CAFile verifies the server certificate (default: system roots).
	CAFile string
	// CertFile and KeyFile are the client certificate for mTLS.
	CertFile, KeyFile string
	// ServerName overrides the name checked in the server certificate.
	ServerName string
	// Timeout bounds one call, upload included (default 5m).
	Timeout time.Duration
}

// Client calls one target.
type Client struct {
	Target Target
	hc     *http.Client
	token  string
}

// New returns a client for t.
func New(t Target, o Options) (*Client, error) {
	if o.Timeout == 0 {
		o.Timeout = 5 * time.Minute
	}
	tr := &http.Transport{
		Proxy:               nil, // management traffic never goes through a proxy
		MaxIdleConnsPerHost: 4,
		IdleConnTimeout:     90 * time.Second,
		TLSHandshakeTimeout: 10 * time.Second,
	}
	if t.Socket != "" {
		path := t.Socket
		tr.DialContext = func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", path)
		}
	}
	if strings.HasPrefix(t.URL, "https://") {
		tc := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: o.ServerName}
		if o.CAFile != "" {
			pem, err := os.ReadFile(o.CAFile)
			if err != nil {
				return nil, fmt.Errorf("load CA file: %w", err)
			}
			tc.RootCAs = x509.NewCertPool()
			if !tc.RootCAs.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("load CA file %s: no PEM certificate found", o.CAFile)
			}
		}
		if o.CertFile != "" || o.KeyFile != "" {
			cert, err := tls.LoadX509KeyPair(o.CertFile, o.KeyFile)
			if err != nil {
				return nil, fmt.Errorf("load client certificate: %w", err)
			}
			// Always present the certificate, even when the server asks for
			// other CAs: a wrong certificate then fails the handshake with a
			// clear error instead of turning into an anonymous 401.
			tc.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &cert, nil }
		}
		tr.TLSClientConfig = tc
	}
	return &Client{Target: t, hc: &http.Client{Transport: tr, Timeout: o.Timeout}, token: o.Token}, nil
}

// APIError is a call the server answered with an error status.
type APIError struct {
	Status int
	Body   api.ErrorBody
}

func (e *APIError) Error() string {
	msg := e.Body.Error
	if msg == "" {
		msg = http.StatusText(e.Status)
	}
	return fmt.Sprintf("%d %s", e.Status, msg)
}

// IsAPIError reports whether err is a refusal by the server (as opposed
// to a target that could not be reached).
func IsAPIError(err error) bool {
	var ae *APIError
	return errors.As(err, &ae)
}

// do sends a request and decodes a JSON answer into out (when not nil).
func (c *Client) do(ctx context.Context, method, path string, body io.Reader, contentType string, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, c.Target.URL+path, body)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	if s, ok := body.(interface{ Size() int64 }); ok {
		req.ContentLength = s.Size()
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) { // it repeats the method and the whole URL
			err = ue.Err
		}
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 400 {
		ae := &APIError{Status: resp.StatusCode}
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		if json.Unmarshal(b, &ae.Body) != nil {
			ae.Body.Error = strings.TrimSpace(string(b))
		}
		return ae
	}
	if out == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		return nil
	}
	if w, ok := out.(io.Writer); ok {
		if _, err := io.Copy(w, resp.Body); err != nil {
			return fmt.Errorf("%s %s: read answer: %w", method, path, err)
		}
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("%s %s: decode answer: %w", method, path, err)
	}
	return nil
}

// Status reads the daemon's status.
func (c *Client) Status(ctx context.Context) (api.Status, error) {
	var st api.Status
	return st, c.do(ctx, http.MethodGet, api.PathStatus, nil, "", &st)
}

// Info reads the blocklist's version and size.
func (c *Client) Info(ctx context.Context) (blocklist.Info, error) {
	var in blocklist.Info
	return in, c.do(ctx, http.MethodGet, api.PathBlocklist, nil, "", &in)
}

// Push replaces the whole list with body (text or JSON) as version. body
// is streamed; when it has a Size method, the length is sent up front.
func (c *Client) Push(ctx context.Context, body io.Reader, format blocklist.Format, version uint64) (blocklist.Result, error) {
	ct := "text/plain; charset=utf-8"
	if format == blocklist.FormatJSON {
		ct = "application/json"
	}
	var res blocklist.Result
	path := api.PathBlocklist + "?version=" + strconv.FormatUint(version, 10)
	return res, c.do(ctx, http.MethodPut, path, body, ct, &res)
}

// Delta adds then removes entries; version 0 lets the daemon use current+1.
func (c *Client) Delta(ctx context.Context, version uint64, add, remove []string) (blocklist.Result, error) {
	doc := struct {
		Version uint64   `json:"version,omitempty"`
		Add     []string `json:"add,omitempty"`
		Remove  []string `json:"remove,omitempty"`
	}{version, add, remove}
	b, err := json.Marshal(doc)
	if err != nil {
		return blocklist.Result{}, err
	}
	var res blocklist.Result
	return res, c.do(ctx, http.MethodPost, api.PathBlocklistDelta, bytes.NewReader(b), "application/json", &res)
}

// Test asks whether ip is blocked and by which entries.
func (c *Client) Test(ctx context.Context, ip string) (api.TestResult, error) {
	var res api.TestResult
	return res, c.do(ctx, http.MethodGet, api.PathBlocklistTest+"?ip="+url.QueryEscape(ip), nil, "", &res)
}

// Export writes the current list (snapshot text format) to w.
func (c *Client) Export(ctx context.Context, w io.Writer) error {
	return c.do(ctx, http.MethodGet, api.PathBlocklistEntries, nil, "", w)
}

// Ban bans ip for d (0: the daemon's xdp.ban_default).
func (c *Client) Ban(ctx context.Context, ip string, d time.Duration) (api.Ban, error) {
	b, err := json.Marshal(api.BanRequest{IP: ip, For: blocklist.Duration(d)})
	if err != nil {
		return api.Ban{}, err
	}
	var res api.Ban
	return res, c.do(ctx, http.MethodPost, api.PathBans, bytes.NewReader(b), "application/json", &res)
}

// Unban lifts a ban; the result says whether there was one.
func (c *Client) Unban(ctx context.Context, ip string) (api.UnbanResult, error) {
	var res api.UnbanResult
	return res, c.do(ctx, http.MethodDelete, api.PathBans+"/"+url.PathEscape(ip), nil, "", &res)
}

// Bans lists active bans.
func (c *Client) Bans(ctx context.Context) (api.BanList, error) {
	var res api.BanList
	return res, c.do(ctx, http.MethodGet, api.PathBans, nil, "", &res)
}

// Top reads one frame of the live view, each list cut to n entries.
func (c *Client) Top(ctx context.Context, n int) (api.Top, error) {
	var res api.Top
	return res, c.do(ctx, http.MethodGet, api.PathTop+"?n="+strconv.Itoa(n), nil, "", &res)
}

// Reload asks the daemon to reload its configuration file.
func (c *Client) Reload(ctx context.Context) (api.ReloadResponse, error) {
	var res api.ReloadResponse
	err := c.do(ctx, http.MethodPost, api.PathReload, nil, "", &res)
	var ae *APIError
	if errors.As(err, &ae) && ae.Status == http.StatusUnprocessableEntity {
		res.Error = ae.Body.Error
	}
	return res, err
}

// Result is the outcome of one call on one target.
type Result[T any] struct {
	Target   Target
	Value    T
	Err      error
	Duration time.Duration
}

// Fanout calls f on every client, at most parallel at a time, and returns
// the results in the order of clients.
func Fanout[T any](ctx context.Context, clients []*Client, parallel int, f func(context.Context, *Client) (T, error)) []Result[T] {
	if parallel < 1 {
		parallel = 1
	}
	out := make([]Result[T], len(clients))
	sem := make(chan struct{}, parallel)
	var wg sync.WaitGroup
	for i, c := range clients {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			start := time.Now()
			v, err := f(ctx, c)
			out[i] = Result[T]{Target: c.Target, Value: v, Err: err, Duration: time.Since(start)}
		})
	}
	wg.Wait()
	return out
}

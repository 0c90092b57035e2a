// Package check proves each gateway does the job of a scenario before the
// suite measures it: a valid request gets the upstream's answer, a POST
// arrives whole, every bad token is refused, the limiter is wired. A
// gateway that fails a scenario's checks is not measured in it: a fast
// gateway that lets forged tokens through proves nothing.
package check

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/edgeguard/edgeguard/bench/suite/results"
	"github.com/edgeguard/edgeguard/bench/suite/targets"
	"github.com/edgeguard/edgeguard/bench/suite/tokens"
)

// Source addresses: the checks come from their own loopback address, so
// their refused tokens never count against the address wrk measures
// from, and the limiter probe's own (which may end in a ban) neither.
const (
	checkSource = "127.0.0.3"
	probeSource = "127.0.0.2"
)

// Inputs are what the checks send.
type Inputs struct {
	Tokens       *tokens.Set
	RotatingOne  string // one token of the rotating file
	UpstreamBody string // what the upstream answers a GET
	ValidJSON    []byte // passes the schema and both WAF tiers
	InvalidJSON  []byte // fails the schema
}

func client(source string) *http.Client {
	d := &net.Dialer{Timeout: 2 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(source)}}
	return &http.Client{
		Timeout:   5 * time.Second,
		Transport: &http.Transport{DialContext: d.DialContext, DisableKeepAlives: true},
	}
}

type answer struct {
	status int
	body   string
}

func send(ctx context.Context, c *http.Client, method, url, token, ctype string, body []byte) (answer, error) {
	req, err := http.NewRequestWithContext(ctx, method, url, bytes.NewReader(body))
	if err != nil {
		return answer{}, err
	}
	if body == nil {
		req.Body = nil
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	resp, err := c.Do(req)
	if err != nil {
		return answer{}, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	return answer{resp.StatusCode, string(b)}, nil
}

// Scenario runs the checks of one scenario against a gateway at addr.
func Scenario(ctx context.Context, target, scenario, addr string, in Inputs) results.TargetChecks {
	tc := results.TargetChecks{Target: target, Scenario: scenario}
	c := client(checkSource)
	url := "http://" + addr + targets.Path(scenario)
	add := func(name string, ok bool, detail string) {
		tc.Checks = append(tc.Checks, results.Check{Name: name, Passed: ok, Detail: detail})
	}
	expect := func(name, method, u, token, ctype string, body []byte, status int, wantBody string) {
		a, err := send(ctx, c, method, u, token, ctype, body)
		switch {
		case err != nil:
			add(name, false, err.Error())
		case a.status != status:
			add(name, false, fmt.Sprintf("status %d, want %d", a.status, status))
		case wantBody != "" && a.body != wantBody:
			add(name, false, fmt.Sprintf("body %q, want %q", clip(a.body), clip(wantBody)))
		default:
			add(name, true, fmt.Sprintf("%d", a.status))
		}
	}
	post1000 := bytes.Repeat([]byte("x"), 1000)
	token := ""
	switch scenario {
	case targets.HS256:
		token = in.Tokens.HS256
	case targets.RS256:
		token = in.Tokens.RS256
	case targets.RS256Rotating:
		token = in.RotatingOne
	}
	switch {
	case targets.IsPost(scenario):
		expect("valid JSON body: 200, arrives whole", http.MethodPost, url, "", "application/json", in.ValidJSON, 200,
			fmt.Sprintf(`{"received_bytes":%d}`+"\n", len(in.ValidJSON)))
	default:
		expect("valid request: 200 with the upstream's body", http.MethodGet, url, token, "", nil, 200, in.UpstreamBody)
		expect("1000-byte POST arrives whole", http.MethodPost, url, token, "application/octet-stream", post1000, 200,
			`{"received_bytes":1000}`+"\n")
	}
	switch scenario {
	case targets.HS256:
		t := in.Tokens
		expect("no token: 401", http.MethodGet, url, "", "", nil, 401, "")
		expect("bad signature: 401", http.MethodGet, url, t.HSBadSignature, "", nil, 401, "")
		expect("expired: 401", http.MethodGet, url, t.HSExpired, "", nil, 401, "")
		expect("alg none: 401", http.MethodGet, url, t.AlgNoneHS, "", nil, 401, "")
		expect("RS256 token on HS256 route: 401", http.MethodGet, url, t.RS256, "", nil, 401, "")
	case targets.RS256, targets.RS256Rotating:
		t := in.Tokens
		expect("no token: 401", http.MethodGet, url, "", "", nil, 401, "")
		expect("bad signature: 401", http.MethodGet, url, t.RSBadSignature, "", nil, 401, "")
		expect("expired: 401", http.MethodGet, url, t.RSExpired, "", nil, 401, "")
		expect("alg none: 401", http.MethodGet, url, t.AlgNoneRS, "", nil, 401, "")
		expect("HS256 token signed with the RSA public key: 401", http.MethodGet, url, t.HSOnRSKey, "", nil, 401, "")
	case targets.JSONSchema:
		expect("body against the schema: 400", http.MethodPost, url, "", "application/json", in.InvalidJSON, 400, "")
		expect("other content type: 415", http.MethodPost, url, "", "text/plain", in.ValidJSON, 415, "")
	case targets.WAFTier1, targets.WAFCRS:
		expect("SQL injection in the query: 403", http.MethodGet, url+"?id=1%27%20OR%20%271%27%3D%271", "", "", nil, 403, "")
		expect("XSS in a JSON value: 403", http.MethodPost, url, "", "application/json",
			[]byte(`{"comment":"<script>alert(document.cookie)</script>"}`), 403, "")
	case targets.IPLimit:
		ok, detail := probeLimiter(ctx, addr)
		add("limiter wired: a burst at a 5/s limit gets 429", ok, detail)
	}
	return tc
}

// probeLimiter sends 30 requests at once to the 5-a-second probe path;
// some must be refused with 429 (or, past a ban threshold, with the
// connection closed). At once, because a graduated limiter (edgeguard's)
// slows a client that waits for each answer instead of refusing it.
func probeLimiter(ctx context.Context, addr string) (bool, string) {
	c := client(probeSource)
	type out struct {
		status int
		err    error
	}
	ch := make(chan out, 30)
	for i := 0; i < 30; i++ {
		go func() {
			a, err := send(ctx, c, http.MethodGet, "http://"+addr+targets.Path(targets.LimitProbe), "", "", nil)
			ch <- out{a.status, err}
		}()
	}
	codes := map[int]int{}
	closed := 0
	for i := 0; i < 30; i++ {
		o := <-ch
		if o.err != nil {
			closed++
			continue
		}
		codes[o.status]++
	}
	detail := fmt.Sprintf("answers %v, connections refused or closed %d", codes, closed)
	return codes[200] > 0 && codes[200] <= 10 && codes[429] > 0, detail
}

// Passed says whether every check passed.
func Passed(tc results.TargetChecks) (bool, string) {
	var failed []string
	for _, c := range tc.Checks {
		if !c.Passed {
			failed = append(failed, c.Name+" ("+c.Detail+")")
		}
	}
	if len(failed) > 0 {
		return false, "failed checks: " + strings.Join(failed, "; ")
	}
	return true, ""
}

func clip(s string) string {
	if len(s) > 120 {
		return s[:120] + "..."
	}
	return s
}

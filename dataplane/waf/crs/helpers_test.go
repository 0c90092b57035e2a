package crs

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"

	"github.com/valyala/fasthttp"
)

// reqSpec is a request of the fixtures (testdata/benign.json): the test
// renders it as raw HTTP/1.1 and parses it with fasthttp, as the server
// would receive it.
type reqSpec struct {
	Name        string          `json:"name"`
	Method      string          `json:"method"`
	URI         string          `json:"uri"`
	Host        string          `json:"host"`        // default api.example.com
	Headers     []string        `json:"headers"`     // "Name: value", after the defaults
	JSON        json.RawMessage `json:"json"`        // body, sent compact
	File        string          `json:"file"`        // body from testdata/
	Raw         string          `json:"raw"`         // body as is
	ContentType string          `json:"contentType"` // default application/json for JSON bodies
	NoDefaultUA bool            `json:"noDefaultUA"`
}

// A typical RS256 access token: API clients send one on every request.
const testBearer = "Bearer eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCIsImtpZCI6IjFlOWdkazcifQ." +
	"eyJpc3MiOiJodHRwczovL2F1dGguZXhhbXBsZS5jb20vIiwic3ViIjoiYXV0aDB8NjYzMmE3YjEiLCJhdWQiOlsiaHR0cHM6Ly9hcGkuZXhhbXBsZS5jb20iXSwiaWF0IjoxNzE0NTYwMDAwLCJleHAiOjE3MTQ2NDY0MDAsInNjb3BlIjoib3BlbmlkIHByb2ZpbGUgcmVhZDpvcmRlcnMifQ." +
	"dGhpc19pc19ub3RfYV9yZWFsX3NpZ25hdHVyZV9idXRfaXRfbG9va3NfbGlrZV9vbmVfXy1fLV8tXzEyMzQ1Njc4OTA"

func (s reqSpec) raw(t testing.TB) []byte {
	t.Helper()
	var body []byte
	ct := s.ContentType
	switch {
	case s.File != "":
		b, err := os.ReadFile(filepath.Join("testdata", s.File))
		if err != nil {
			t.Fatalf("read body of %q: %v", s.Name, err)
		}
		var c bytes.Buffer
		if err := json.Compact(&c, b); err != nil {
			t.Fatalf("compact body of %q: %v", s.Name, err)
		}
		body = c.Bytes()
	case len(s.JSON) > 0:
		var c bytes.Buffer
		if err := json.Compact(&c, s.JSON); err != nil {
			t.Fatalf("compact body of %q: %v", s.Name, err)
		}
		body = c.Bytes()
	case s.Raw != "":
		body = []byte(s.Raw)
	}
	if len(body) > 0 && ct == "" {
		ct = "application/json"
	}
	host := s.Host
	if host == "" {
		host = "api.example.com"
	}
	var b bytes.Buffer
	b.WriteString(s.Method + " " + s.URI + " HTTP/1.1\r\nHost: " + host + "\r\n")
	if !s.NoDefaultUA {
		b.WriteString("User-Agent: shop-client/2.3.1 (+https://example.com/sdk)\r\n")
	}
	hasAccept := false
	for _, h := range s.Headers {
		if len(h) > 7 && bytes.EqualFold([]byte(h[:7]), []byte("accept:")) {
			hasAccept = true
		}
	}
	if !hasAccept {
		b.WriteString("Accept: application/json\r\n")
	}
	b.WriteString("Authorization: " + testBearer + "\r\n")
	b.WriteString("X-Request-ID: 7f3c9a2e-1b4d-4c6e-9f8a-2d5e6b7c8d9e\r\n")
	for _, h := range s.Headers {
		b.WriteString(h + "\r\n")
	}
	if len(body) > 0 || s.Method == "POST" || s.Method == "PUT" || s.Method == "PATCH" {
		if ct != "" {
			b.WriteString("Content-Type: " + ct + "\r\n")
		}
		b.WriteString("Content-Length: " + strconv.Itoa(len(body)) + "\r\n")
	}
	b.WriteString("\r\n")
	b.Write(body)
	return b.Bytes()
}

// parseRaw reads one request as the server does: a multipart body is
// kept as sent (DisablePreParseMultipartForm), not rebuilt from a parse.
func parseRaw(t testing.TB, raw []byte) *fasthttp.Request {
	t.Helper()
	req := new(fasthttp.Request)
	br := bufio.NewReader(bytes.NewReader(raw))
	if err := req.Header.Read(br); err != nil {
		t.Fatalf("parse request head %q: %v", raw, err)
	}
	if err := req.ContinueReadBody(br, 0, false); err != nil {
		t.Fatalf("parse request body %q: %v", raw, err)
	}
	return req
}

func loadSpecs(t testing.TB, name string) []reqSpec {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	var specs []reqSpec
	if err := json.Unmarshal(b, &specs); err != nil {
		t.Fatalf("decode %s: %v", name, err)
	}
	return specs
}

// Compiling CRS takes a few hundred milliseconds: tests share WAFs.
var (
	testEnginesOnce sync.Once
	testEngines     *Engines
)

func testWAF(t testing.TB, c Config) *WAF {
	t.Helper()
	testEnginesOnce.Do(func() { testEngines = NewEngines() })
	w, err := testEngines.WAF(c)
	if err != nil {
		t.Fatalf("compile %+v: %v", c, err)
	}
	return w
}

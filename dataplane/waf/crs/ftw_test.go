package crs

import (
	"bytes"
	"encoding/base64"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	"go.yaml.in/yaml/v3"
)

// ftwRequest is one request of CRS's own regression tests (go-ftw YAML,
// shipped in the coraza-coreruleset module under tests/): thousands of
// requests written to make each CRS rule fire, or not, rendered as raw
// HTTP/1.1.
type ftwRequest struct {
	name string
	raw  []byte
}

type ftwFile struct {
	Tests []struct {
		TestID any `yaml:"test_id"`
		Stages []struct {
			Input struct {
				Method         string            `yaml:"method"`
				URI            string            `yaml:"uri"`
				Version        string            `yaml:"version"`
				Headers        map[string]string `yaml:"headers"`
				Data           string            `yaml:"data"`
				EncodedRequest string            `yaml:"encoded_request"`
			} `yaml:"input"`
		} `yaml:"stages"`
	} `yaml:"tests"`
}

var (
	ftwOnce sync.Once
	ftwReqs []ftwRequest
	ftwErr  error
)

// loadFTW reads every request of CRS's regression tests, from the
// coraza-coreruleset module the build uses.
func loadFTW(t testing.TB) []ftwRequest {
	t.Helper()
	ftwOnce.Do(func() { ftwReqs, ftwErr = readFTW() })
	if ftwErr != nil {
		t.Fatalf("load CRS regression tests: %v", ftwErr)
	}
	return ftwReqs
}

func readFTW() ([]ftwRequest, error) {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/corazawaf/coraza-coreruleset/v4").Output()
	if err != nil {
		return nil, err
	}
	files, err := filepath.Glob(filepath.Join(strings.TrimSpace(string(out)), "tests", "REQUEST-*", "*.yaml"))
	if err != nil {
		return nil, err
	}
	sort.Strings(files)
	var reqs []ftwRequest
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			return nil, err
		}
		var f ftwFile
		if err := yaml.Unmarshal(b, &f); err != nil {
			return nil, err
		}
		base := strings.TrimSuffix(filepath.Base(name), ".yaml")
		for _, tc := range f.Tests {
			for si, st := range tc.Stages {
				in := st.Input
				r := ftwRequest{name: base + "/" + strings.TrimSpace(toString(tc.TestID)) + "/" + strconv.Itoa(si)}
				if in.EncodedRequest != "" {
					raw, err := base64.StdEncoding.DecodeString(strings.ReplaceAll(in.EncodedRequest, "\n", ""))
					if err != nil {
						continue
					}
					r.raw = raw
				} else {
					r.raw = ftwRaw(in.Method, in.URI, in.Version, in.Headers, in.Data)
				}
				reqs = append(reqs, r)
			}
		}
	}
	return reqs, nil
}

func toString(v any) string {
	switch v := v.(type) {
	case int:
		return strconv.Itoa(v)
	case string:
		return v
	}
	return ""
}

func ftwRaw(method, uri, version string, headers map[string]string, data string) []byte {
	if method == "" {
		method = "GET"
	}
	if uri == "" {
		uri = "/"
	}
	if version == "" {
		version = "HTTP/1.1"
	}
	var b bytes.Buffer
	b.WriteString(method + " " + uri + " " + version + "\r\n")
	names := make([]string, 0, len(headers))
	for k := range headers {
		names = append(names, k)
	}
	sort.Strings(names)
	hasLen := false
	for _, k := range names {
		if strings.EqualFold(k, "Content-Length") {
			hasLen = true
		}
		b.WriteString(k + ": " + headers[k] + "\r\n")
	}
	if data != "" && !hasLen {
		b.WriteString("Content-Length: " + strconv.Itoa(len(data)) + "\r\n")
	}
	b.WriteString("\r\n")
	b.WriteString(data)
	return b.Bytes()
}

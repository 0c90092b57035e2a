package main

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestReplay sends a small synthetic data directory to a fake gateway that
// refuses by the decoded value of q, and checks the tallies and the value
// the server received.
func TestReplay(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"sqli-a.txt":          "# comment\n\n1'+OR+'1'='1\nUNION%20SELECT\n",
		"sqli-b.txt":          "path\r\n",
		"xss-a.txt":           "%3Cscript%3E\n",
		"false_positives.txt": "D'Angelo\nx%20<%20y\n",
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var mu sync.Mutex
	got := map[string]bool{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query().Get("q")
		mu.Lock()
		got[q] = true
		mu.Unlock()
		switch {
		case strings.Contains(q, "'1'='1") || strings.Contains(q, "<script>") || q == "D'Angelo":
			w.WriteHeader(http.StatusForbidden)
			w.Write([]byte(`{"status":403,"error":"Forbidden","reason":"waf_blocked","request_id":"x"}`))
		case q == "path":
			w.WriteHeader(http.StatusBadRequest)
			w.Write([]byte(`{"status":400,"error":"Bad Request","reason":"path_ambiguous","request_id":"x"}`))
		case q == "UNION SELECT":
			w.WriteHeader(http.StatusBadGateway)
		default:
			w.Write([]byte(`{"ok":true}`))
		}
	}))
	defer srv.Close()

	samples, names, err := load(dir)
	if err != nil {
		t.Fatal(err)
	}
	results := send(context.Background(), &http.Client{Timeout: 5 * time.Second}, srv.URL+"/?q=", samples, 1)
	for _, want := range []string{"1' OR '1'='1", "UNION SELECT", "path", "<script>", "D'Angelo", "x < y"} {
		if !got[want] {
			t.Errorf("server never received q=%q; got %v", want, got)
		}
	}
	var out bytes.Buffer
	if incomplete := report(&out, "test", samples, names, results, time.Second); incomplete {
		t.Errorf("report says incomplete")
	}
	for _, want := range []string{
		"SUMMARY replay [test] sqli: blocked 2/3 (66.67%; 403 1, other 4xx 1), passed 0, other 1, no answer 0; 2 files\n",
		"  sqli refusals: 400 path_ambiguous 1, 403 waf_blocked 1\n",
		"  sqli neither blocked nor passed: 502 (no edgeguard reason) 1\n",
		"SUMMARY replay [test] xss: blocked 1/1 (100.00%; 403 1, other 4xx 0), passed 0, other 0, no answer 0; 1 files\n",
		"SUMMARY replay [test] benign: passed 1/2 (50.00%), blocked 1 (50.00%; 403 1, other 4xx 0), other 0, no answer 0; 1 files\n",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q; got:\n%s", want, out.String())
		}
	}

	misses := filepath.Join(dir, "misses")
	if err := writeMisses(misses, samples, results); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(misses, "replay-benign-blocked-benign.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if want := "false_positives.txt:1\t403\tD'Angelo\n"; string(b) != want {
		t.Errorf("benign misses = %q, want %q", b, want)
	}
}

func TestLoadRefusesEmptyDir(t *testing.T) {
	if _, _, err := load(t.TempDir()); err == nil {
		t.Fatal("load accepted a directory without sample files")
	}
}

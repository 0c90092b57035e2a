package demoupstream

import (
	"encoding/json"
	"testing"

	"github.com/valyala/fasthttp"
)

func TestDemoEchoes(t *testing.T) {
	s, err := Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	cases := []struct {
		name, uri string
		status    int
	}{
		{"health", "/healthz", 200},
		{"echo", "/hello/world?x=1", 200},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, body, err := fasthttp.Get(nil, "http://"+s.Addr()+tc.uri)
			if err != nil || status != tc.status {
				t.Fatalf("GET %s: status %d err %v", tc.uri, status, err)
			}
			if tc.name != "echo" {
				return
			}
			var e echo
			if err := json.Unmarshal(body, &e); err != nil {
				t.Fatalf("body is not JSON: %v", err)
			}
			if e.Path != "/hello/world" || e.Query != "x=1" || e.Method != "GET" {
				t.Errorf("echo = %+v", e)
			}
		})
	}
}

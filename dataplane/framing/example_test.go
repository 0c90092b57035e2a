package framing_test

import (
	"fmt"

	"github.com/edgeguard/edgeguard/dataplane/framing"
)

// A connection wrapper feeds every chunk it reads and passes on only the
// accepted prefix; here the second chunk completes one request and then
// tries to end the next head at a bare LF.
func ExampleValidator_Feed() {
	var v framing.Validator
	for _, chunk := range []string{
		"GET / HTTP/1.1\r\nHost: a\r",
		"\n\r\nGET /admin HTTP/1.1\r\nHost: a\r\n\nGET /x HTTP/1.1\r\n\r\n",
	} {
		ok, viol := v.Feed([]byte(chunk))
		fmt.Printf("pass on %q; violation %q; %d requests\n", chunk[:ok], viol, v.Messages())
	}
	// Output:
	// pass on "GET / HTTP/1.1\r\nHost: a\r"; violation ""; 0 requests
	// pass on "\n\r\nGET /admin HTTP/1.1\r\nHost: a\r\n"; violation "bare_lf"; 1 requests
}

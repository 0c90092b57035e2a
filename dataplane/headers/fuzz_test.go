package headers

import (
	"bufio"
	"bytes"
	"fmt"
	"net/netip"
	"regexp"
	"strings"
	"testing"

	"github.com/valyala/fasthttp"

	"github.com/edgeguard/edgeguard/dataplane/pipeline"
)

// FuzzForwardedFor checks the address parser against net/netip and runs the
// request side on arbitrary X-Forwarded-For values from a trusted peer.
func FuzzForwardedFor(f *testing.F) {
	s := newStage(f, Options{TrustedProxies: testTrusted})
	peer := netip.MustParseAddr("10.0.0.1")
	f.Fuzz(func(t *testing.T, xff []byte) {
		checkAddrParsers(t, xff)
		for _, elem := range bytes.Split(xff, []byte(",")) {
			checkAddrParsers(t, trimOWS(elem))
		}

		ctx := &fasthttp.RequestCtx{}
		ctx.Request.Header.SetBytesV("X-Forwarded-For", xff)
		sent := string(ctx.Request.Header.Peek("X-Forwarded-For")) // as fasthttp stored it
		r := &pipeline.Request{PeerIP: peer}
		s.Handle(ctx, r)
		if !r.ClientIP.IsValid() {
			t.Fatalf("ClientIP invalid for %q", sent)
		}
		if r.ClientIP != peer && !containsAddr(sent, r.ClientIP) {
			t.Fatalf("ClientIP %s neither the peer nor in %q", r.ClientIP, sent)
		}
		got := string(ctx.Request.Header.Peek("X-Forwarded-For"))
		if got != "10.0.0.1" && !strings.HasSuffix(got, ", 10.0.0.1") {
			t.Fatalf("X-Forwarded-For %q does not end with the peer", got)
		}
		if rip := string(ctx.Request.Header.Peek("X-Real-Ip")); rip != r.ClientIP.String() {
			t.Fatalf("X-Real-IP %q, ClientIP %s", rip, r.ClientIP)
		}
	})
}

// containsAddr reports whether an element of the list xff parses as a.
func containsAddr(xff string, a netip.Addr) bool {
	for _, elem := range strings.Split(xff, ",") {
		if got, ok := parseForwardedAddr(trimOWS([]byte(elem))); ok && got == a {
			return true
		}
	}
	return false
}

// checkAddrParsers compares parseIPv4 and parseIPv6 with netip.ParseAddr,
// which picks the family by the first '.' or ':' just as they are used.
func checkAddrParsers(t *testing.T, b []byte) {
	if bytes.IndexByte(b, '%') >= 0 {
		return // zones are rejected on purpose
	}
	want, err := netip.ParseAddr(string(b))
	var got netip.Addr
	var ok bool
	i := bytes.IndexAny(b, ".:")
	switch {
	case i < 0:
	case b[i] == '.':
		var ip [4]byte
		ip, ok = parseIPv4(b)
		got = netip.AddrFrom4(ip)
	default:
		var ip [16]byte
		ip, ok = parseIPv6(b)
		got = netip.AddrFrom16(ip)
	}
	if ok != (err == nil) || (ok && got != want) {
		t.Fatalf("parse %q = %v, %v; netip: %v, %v", b, got, ok, want, err)
	}
}

var reTraceparentRef = regexp.MustCompile(`(?s)^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(.*)$`)

// refValidTraceparent is the W3C Trace Context rule written the slow,
// obvious way.
func refValidTraceparent(s string) bool {
	m := reTraceparentRef.FindStringSubmatch(s)
	if m == nil || len(s) > maxTraceparentLen || m[1] == "ff" ||
		m[2] == strings.Repeat("0", 32) || m[3] == strings.Repeat("0", 16) {
		return false
	}
	rest := m[5]
	if m[1] == "00" || rest == "" {
		return rest == ""
	}
	if rest[0] != '-' {
		return false
	}
	for _, c := range []byte(rest[1:]) {
		if c < 0x21 || c > 0x7e {
			return false
		}
	}
	return true
}

// FuzzTraceparent checks validTraceparent against the reference rule and
// that the request side continues exactly the valid ones.
func FuzzTraceparent(f *testing.F) {
	s := newStage(f, Options{})
	f.Fuzz(func(t *testing.T, tp []byte) {
		if got, want := validTraceparent(tp), refValidTraceparent(string(tp)); got != want {
			t.Fatalf("validTraceparent(%q) = %v, reference %v", tp, got, want)
		}
		ctx := &fasthttp.RequestCtx{}
		ctx.Request.Header.SetBytesV("traceparent", tp)
		ctx.Request.Header.Set("tracestate", "a=b")
		sent := ctx.Request.Header.Peek("Traceparent")
		valid := validTraceparent(sent)
		sent = append([]byte(nil), sent...)
		r := &pipeline.Request{PeerIP: netip.MustParseAddr("203.0.113.5")}
		s.Handle(ctx, r)
		h := &ctx.Request.Header
		if valid {
			// Continued: same trace-id, known flags, the gateway's parent-id.
			flags := (unhex(sent[53])<<4 | unhex(sent[54])) & flagsKnown
			want := fmt.Sprintf("00-%s-%s-%02x", sent[3:35], r.TraceParent[36:52], flags)
			if string(r.TraceParent) != want || bytes.Equal(r.TraceParent[36:52], sent[36:52]) ||
				!bytes.Equal(h.Peek("Traceparent"), r.TraceParent) || string(h.Peek("Tracestate")) != "a=b" {
				t.Fatalf("valid %q not continued: %q, tracestate %q", sent, r.TraceParent, h.Peek("Tracestate"))
			}
			return
		}
		if !reTraceparent.Match(r.TraceParent) || !bytes.Equal(h.Peek("Traceparent"), r.TraceParent) ||
			h.Peek("Tracestate") != nil {
			t.Fatalf("invalid %q replaced by %q, tracestate %q", sent, r.TraceParent, h.Peek("Tracestate"))
		}
	})
}

// FuzzNameRules feeds arbitrary header lines from an untrusted peer and
// checks the name rules against a model built from the names as parsed: a
// request is refused exactly when a name is not a token or a credential is
// repeated or respelt, and one that passes carries no spoofable header in
// any spelling.
func FuzzNameRules(f *testing.F) {
	s := newStage(f, Options{CredentialHeaders: []string{"X-API-Key"}, CredentialCookies: []string{"session"}})
	for _, seed := range []string{
		"X-Original-URL: /a\nx_original_url: /b",
		"Authorization: a\nauthorization: b",
		"X_API_KEY: k",
		"X Bad: 1",
		"Authorization: a\nAuthorization: b\nX Bad: 1",
		"Content_Length: 0",
		"content_type: text/plain\nContent-Type: application/json",
		"Cookie: Session=a",
		"Cookie: session=a; SESSION=b",
		"True-Client-IP: 1.2.3.4\nAccept: */*",
	} {
		f.Add(seed)
	}
	spoofable := map[string]bool{}
	for _, n := range DefaultSpoofable {
		spoofable[foldString(n)] = true
	}
	f.Fuzz(func(t *testing.T, lines string) {
		for _, l := range strings.Split(lines, "\n") {
			if strings.HasPrefix(l, " ") || strings.HasPrefix(l, "\t") {
				// An obs-fold line: the connection's framing check refuses
				// it before this stage, which refuses it too; the model,
				// built from the parsed names, does not see it.
				return
			}
		}
		raw := "GET / HTTP/1.1\r\nHost: a\r\n" + strings.ReplaceAll(lines, "\n", "\r\n") + "\r\n\r\n"
		ctx := &fasthttp.RequestCtx{}
		if ctx.Request.Header.Read(bufio.NewReader(strings.NewReader(raw))) != nil {
			return
		}
		h := &ctx.Request.Header
		// The first refusal in header order wins, as in scanNames.
		wantReason := pipeline.ReasonNone
		creds := map[string]int{}
		canonical := map[string]string{"authorization": "Authorization", "x-api-key": "X-Api-Key",
			"content-length": "Content-Length", "transfer-encoding": "Transfer-Encoding", "host": "Host",
			"content-type": "Content-Type", "content-encoding": "Content-Encoding"}
	model:
		for k := range h.All() {
			name := foldString(string(k))
			switch {
			case !isToken(k):
				wantReason = pipeline.ReasonHeaderInvalid
				break model
			case name == "content-length" || name == "transfer-encoding" || name == "host" ||
				name == "content-type" || name == "content-encoding":
				if string(k) != canonical[name] {
					wantReason = pipeline.ReasonHeaderInvalid
					break model
				}
			case name == "authorization" || name == "x-api-key":
				creds[name]++
				if creds[name] > 1 || string(k) != canonical[name] {
					wantReason = pipeline.ReasonCredentialAmbiguous
					break model
				}
			}
		}
		if wantReason == pipeline.ReasonNone {
			n := 0
			for k := range h.Cookies() {
				folded := strings.Map(func(r rune) rune {
					if r == '.' || r == ' ' || r == '[' {
						return '_'
					}
					return r
				}, strings.ToLower(string(k)))
				if folded == "session" {
					n++
					if n > 1 || string(k) != "session" {
						wantReason = pipeline.ReasonCredentialAmbiguous
					}
				}
			}
		}
		r := &pipeline.Request{PeerIP: netip.MustParseAddr("203.0.113.9")}
		v := s.Handle(ctx, r)
		if r.Reason != wantReason {
			t.Fatalf("head %q: reason %v, model says %v", raw, r.Reason, wantReason)
		}
		if r.Reason != pipeline.ReasonNone {
			if v != pipeline.Done {
				t.Fatalf("refused with verdict %v", v)
			}
			return
		}
		for k := range h.All() {
			if spoofable[foldString(string(k))] {
				t.Fatalf("head %q: %q survived from an untrusted peer", raw, k)
			}
		}
	})
}

var (
	reTracestateKey   = regexp.MustCompile(`^([a-z][a-z0-9_\-*/]{0,255}|[a-z0-9][a-z0-9_\-*/]{0,240}@[a-z][a-z0-9_\-*/]{0,13})$`)
	reTracestateValue = regexp.MustCompile(`^[\x20-\x2b\x2d-\x3c\x3e-\x7e]{0,255}[\x21-\x2b\x2d-\x3c\x3e-\x7e]$`)
)

// refTracestate is appendTracestate's rule written the slow, obvious way.
func refTracestate(fields []string) string {
	var members []string
	seen := map[string]bool{}
	for _, f := range fields {
		for _, m := range strings.Split(f, ",") {
			m = strings.Trim(m, " \t")
			if m == "" {
				continue
			}
			k, v, ok := strings.Cut(m, "=")
			if !ok || !reTracestateKey.MatchString(k) || !reTracestateValue.MatchString(v) || seen[k] {
				return ""
			}
			seen[k] = true
			members = append(members, m)
		}
	}
	if len(members) > 2*maxTracestateMembers {
		return "" // far past the limit: refused whole
	}
	if len(members) > maxTracestateMembers {
		members = members[:maxTracestateMembers]
	}
	if len(strings.Join(members, ",")) <= maxTracestateLen {
		return strings.Join(members, ",")
	}
	short := members[:0:0]
	for _, m := range members {
		if len(m) <= maxTracestateKeepMember {
			short = append(short, m)
		}
	}
	for len(strings.Join(short, ",")) > maxTracestateLen {
		short = short[:len(short)-1]
	}
	return strings.Join(short, ",")
}

// FuzzTracestate checks appendTracestate against the reference rule on
// fields separated by newlines, and its bounds.
func FuzzTracestate(f *testing.F) {
	f.Fuzz(func(t *testing.T, in []byte) {
		fields := strings.Split(string(in), "\n")
		vals := make([][]byte, len(fields))
		for i, s := range fields {
			vals[i] = []byte(s)
		}
		got := string(appendTracestate([]byte("x"), vals))
		if want := "x" + refTracestate(fields); got != want {
			t.Fatalf("appendTracestate(%q)\n got %q\nwant %q", fields, got, want)
		}
		if len(got)-1 > maxTracestateLen || strings.Count(got, ",") >= maxTracestateMembers {
			t.Fatalf("over the bounds: %q", got)
		}
	})
}

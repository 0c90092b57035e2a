package framing

import (
	"strconv"
	"strings"
	"testing"
	"unsafe"
)

// feedCase is one request stream. The validator must accept exactly ok and
// report viol at the first byte of rest (None when rest is empty), having
// completed msgs requests.
type feedCase struct {
	name string
	ok   string
	rest string
	viol Violation
	msgs uint64
	// fasthttpRejects marks a stream the validator accepts but fasthttp
	// refuses for reasons that are not framing (e.g. a forbidden trailer).
	fasthttpRejects bool
}

const (
	getA   = "GET / HTTP/1.1\r\nHost: a\r\n\r\n"
	head11 = "POST /p HTTP/1.1\r\nHost: a\r\n"
)

var feedCases = []feedCase{
	// Valid streams.
	{name: "simple get", ok: getA, msgs: 1},
	{name: "no fields", ok: "GET / HTTP/1.0\r\n\r\n", msgs: 1},
	{name: "pipelined gets", ok: getA + "GET /b HTTP/1.1\r\nHost: a\r\nAccept: */*\r\n\r\n" + getA, msgs: 3},
	{name: "leading crlf", ok: "\r\n" + getA, msgs: 1},
	{name: "leading crlfs between requests", ok: getA + "\r\n\r\n" + getA, msgs: 2},
	{name: "trailing crlf", ok: getA + "\r\n", msgs: 1},
	{name: "post cl body with crlf and bare lf", ok: head11 + "Content-Length: 23\r\n\r\n" + "a\r\n\r\nb\nc\rd\n\nGET / HTTP\n" + getA, msgs: 2},
	{name: "cl zero", ok: head11 + "Content-Length: 0\r\n\r\n" + getA, msgs: 2},
	{name: "get with cl body", ok: "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello" + getA, msgs: 2},
	{name: "head with cl body", ok: "HEAD / HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nhi", msgs: 1},
	{name: "cl name case and ows", ok: head11 + "content-LENGTH:\t 3 \t\r\n\r\nabc", msgs: 1},
	{name: "cl no ows", ok: head11 + "Content-Length:3\r\n\r\nabc", msgs: 1},
	{name: "cl leading zeros", ok: head11 + "Content-Length: 0003\r\n\r\nabc", msgs: 1},
	{name: "cl 18 digits body pending", ok: head11 + "Content-Length: 100000000000000000\r\n\r\nabc"},
	{name: "expect 100-continue body later", ok: head11 + "Expect: 100-continue\r\nContent-Length: 3\r\n\r\nabc" + getA, msgs: 2},
	{name: "chunked", ok: head11 + "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n" + getA, msgs: 2},
	{name: "chunked extensions and trailers", ok: head11 + "Transfer-Encoding: chunked\r\n\r\n" +
		"5;name=value;quoted=\"a b\"\r\nhel\nl\r\n" + "1a;x\r\n" + strings.Repeat("z", 26) + "\r\n" +
		"0;last\r\nX-Checksum: abc\r\nX-Other:\r\n\r\n" + getA, msgs: 2},
	{name: "chunked data with crlf inside", ok: head11 + "Transfer-Encoding: chunked\r\n\r\n4\r\n\r\n\r\n\r\n0\r\n\r\n", msgs: 1},
	{name: "chunked upper hex leading zeros", ok: head11 + "Transfer-Encoding: chunked\r\n\r\n000A\r\n0123456789\r\n00\r\n\r\n", msgs: 1},
	{name: "chunked case and ows", ok: head11 + "transfer-encoding: \tCHUNKED \r\n\r\n1\r\nx\r\n0\r\n\r\n", msgs: 1},
	{name: "chunked 16 hex digits data pending", ok: head11 + "Transfer-Encoding: chunked\r\n\r\nffffffffffffffff\r\nabc"},
	{name: "http10", ok: "GET / HTTP/1.0\r\nContent-Length: 1\r\n\r\nx" + "GET / HTTP/1.0\r\n\r\n", msgs: 2},
	{name: "names near cl and te", ok: head11 + "Content-Lengthy: x\r\nContent-Lengt: x\r\nX-Content-Length: x\r\n" +
		"Transfer-Encodings: x\r\nTransfer-Encodin: x\r\nContent: x\r\nC: x\r\nT: x\r\n\r\n", msgs: 1},
	{name: "values with colons and empty values", ok: "GET / HTTP/1.1\r\nHost: a:80\r\nX-Empty:\r\nX-Ows: \t\r\nX-Url: http://x/y\r\n\r\n", msgs: 1},
	{name: "trailer names not tracked", ok: head11 + "Transfer-Encoding: chunked\r\n\r\n0\r\nContent-Length: zzz\r\n\r\n", msgs: 1, fasthttpRejects: true},
	{name: "incomplete head", ok: "GET / HTTP/1.1\r\nHost: a\r"},
	{name: "incomplete chunked", ok: head11 + "Transfer-Encoding: chunked\r\n\r\n5\r\nhel"},

	// The smuggling case: fasthttp reads two requests here.
	{name: "smuggle bare lf blank line", ok: "GET / HTTP/1.1\r\nHost: a\r\n", rest: "\nGET /admin HTTP/1.1\r\nHost: a\r\n\r\n", viol: BareLF},

	// Bare LF.
	{name: "bare lf leading line", rest: "\n" + getA, viol: BareLF},
	{name: "bare lf after leading crlf", ok: "\r\n", rest: "\n" + getA, viol: BareLF},
	{name: "bare lf request line", ok: "GET / HTTP/1.1", rest: "\nHost: a\r\n\r\n", viol: BareLF},
	{name: "bare lf field line", ok: "GET / HTTP/1.1\r\nHost: a", rest: "\n\r\n", viol: BareLF},
	{name: "bare lf inside value", ok: "GET / HTTP/1.1\r\nX: a", rest: "\nb\r\n\r\n", viol: BareLF},
	{name: "bare lf everywhere", ok: "GET / HTTP/1.1", rest: "\nHost: a\n\n", viol: BareLF},
	{name: "bare lf after cl value", ok: head11 + "Content-Length: 1", rest: "\n\r\nx", viol: BareLF},
	{name: "bare lf after te value", ok: head11 + "Transfer-Encoding: chunked", rest: "\n\r\n0\r\n\r\n", viol: BareLF},
	{name: "bare lf chunk size line", ok: head11 + "Transfer-Encoding: chunked\r\n\r\n5", rest: "\nhello\r\n0\r\n\r\n", viol: BareLF},
	{name: "bare lf chunk extension", ok: head11 + "Transfer-Encoding: chunked\r\n\r\n5;a=b", rest: "\nhello\r\n0\r\n\r\n", viol: BareLF},
	{name: "bare lf after chunk data", ok: head11 + "Transfer-Encoding: chunked\r\n\r\n5\r\nhello", rest: "\n0\r\n\r\n", viol: BareLF},
	{name: "bare lf last chunk", ok: head11 + "Transfer-Encoding: chunked\r\n\r\n0", rest: "\n\r\n", viol: BareLF},
	{name: "bare lf trailer line", ok: head11 + "Transfer-Encoding: chunked\r\n\r\n0\r\nX: y", rest: "\n\r\n", viol: BareLF},
	{name: "bare lf trailer blank line", ok: head11 + "Transfer-Encoding: chunked\r\n\r\n0\r\n", rest: "\n" + getA, viol: BareLF},
	{name: "bare lf in second request", ok: getA + "GET /b HTTP/1.1\r\nHost: a\r\n", rest: "\n", viol: BareLF, msgs: 1},

	// Bare CR: reported at the byte after the CR.
	{name: "bare cr leading", ok: "\r", rest: "GET / HTTP/1.1\r\n\r\n", viol: BareCR},
	{name: "bare cr request line", ok: "GET /\r", rest: " HTTP/1.1\r\n\r\n", viol: BareCR},
	{name: "bare cr value", ok: "GET / HTTP/1.1\r\nHost: a\r", rest: "b\r\n\r\n", viol: BareCR},
	{name: "bare cr cr lf", ok: "GET / HTTP/1.1\r\nHost: a\r", rest: "\r\n\r\n", viol: BareCR},
	{name: "bare cr blank line", ok: "GET / HTTP/1.1\r\nHost: a\r\n\r", rest: "X: b\r\n\r\n", viol: BareCR},
	{name: "bare cr after cl value", ok: head11 + "Content-Length: 1\r", rest: "2\r\n\r\nx", viol: BareCR},
	{name: "bare cr chunk size line", ok: head11 + "Transfer-Encoding: chunked\r\n\r\n5\r", rest: "hello\r\n0\r\n\r\n", viol: BareCR},
	{name: "bare cr chunk extension", ok: head11 + "Transfer-Encoding: chunked\r\n\r\n5;a\r", rest: "b\r\nhello\r\n0\r\n\r\n", viol: BareCR},
	{name: "bare cr trailer", ok: head11 + "Transfer-Encoding: chunked\r\n\r\n0\r\nX: y\r", rest: "z\r\n\r\n", viol: BareCR},

	// Obs-fold.
	{name: "obs fold sp", ok: "GET / HTTP/1.1\r\nHost: a\r\nX: b\r\n", rest: " c\r\n\r\n", viol: ObsFold},
	{name: "obs fold htab", ok: "GET / HTTP/1.1\r\nHost: a\r\nX: b\r\n", rest: "\tc\r\n\r\n", viol: ObsFold},
	{name: "obs fold of content-length", ok: head11 + "Content-Length: 1\r\n", rest: " 0\r\n\r\nx", viol: ObsFold},
	{name: "space after request line", ok: "GET / HTTP/1.1\r\n", rest: " Host: a\r\n\r\n", viol: ObsFold},
	{name: "obs fold trailer", ok: head11 + "Transfer-Encoding: chunked\r\n\r\n0\r\nX: y\r\n", rest: " z\r\n\r\n", viol: ObsFold},

	// Field lines.
	{name: "missing colon", ok: "GET / HTTP/1.1\r\nHost: a\r\nNoColon", rest: "\r\n\r\n", viol: BadFieldLine},
	{name: "missing colon bare lf", ok: "GET / HTTP/1.1\r\nHost: a\r\nNoColon", rest: "\n\r\n", viol: BadFieldLine},
	{name: "empty name", ok: "GET / HTTP/1.1\r\nHost: a\r\n", rest: ": x\r\n\r\n", viol: BadFieldLine},
	{name: "space before colon", ok: head11 + "Content-Length", rest: " : 1\r\n\r\nx", viol: BadFieldLine},
	{name: "space in name", ok: "GET / HTTP/1.1\r\nHost: a\r\nFoo", rest: " Bar: x\r\n\r\n", viol: BadFieldLine},
	{name: "non token name", ok: "GET / HTTP/1.1\r\nHost: a\r\nFo", rest: "\"o: x\r\n\r\n", viol: BadFieldLine},
	{name: "trailer missing colon", ok: head11 + "Transfer-Encoding: chunked\r\n\r\n0\r\nX", rest: "\r\n\r\n", viol: BadFieldLine},

	// Content-Length and Transfer-Encoding together.
	{name: "cl then te", ok: head11 + "Content-Length: 5\r\nTransfer-Encoding", rest: ": chunked\r\n\r\n0\r\n\r\n", viol: ContentLengthAndTransferEncoding},
	{name: "te then cl", ok: head11 + "Transfer-Encoding: chunked\r\nContent-Length", rest: ": 5\r\n\r\n0\r\n\r\n", viol: ContentLengthAndTransferEncoding},
	{name: "cl and te identity", ok: head11 + "Content-Length: 5\r\nTransfer-Encoding", rest: ": identity\r\n\r\nhello", viol: ContentLengthAndTransferEncoding},
	{name: "cl and te in second request", ok: getA + head11 + "Content-Length: 5\r\ntransfer-encoding", rest: ": chunked\r\n\r\n", viol: ContentLengthAndTransferEncoding, msgs: 1},

	// Content-Length values.
	{name: "cl empty", ok: head11 + "Content-Length: ", rest: "\r\n\r\n", viol: BadContentLength},
	{name: "cl empty bare lf", ok: head11 + "Content-Length:", rest: "\n\r\n", viol: BadContentLength},
	{name: "cl letters", ok: head11 + "Content-Length: ", rest: "abc\r\n\r\n", viol: BadContentLength},
	{name: "cl plus", ok: head11 + "Content-Length: ", rest: "+1\r\n\r\nx", viol: BadContentLength},
	{name: "cl minus", ok: head11 + "Content-Length: ", rest: "-1\r\n\r\n", viol: BadContentLength},
	{name: "cl hex", ok: head11 + "Content-Length: 0", rest: "x10\r\n\r\n", viol: BadContentLength},
	{name: "cl list", ok: head11 + "Content-Length: 1", rest: ",1\r\n\r\nx", viol: BadContentLength},
	{name: "cl inner space", ok: head11 + "Content-Length: 1 ", rest: "2\r\n\r\nx", viol: BadContentLength},
	{name: "cl 19 digits", ok: head11 + "Content-Length: 000000000000000001", rest: "0\r\n\r\n", viol: BadContentLength},

	// Duplicate Content-Length.
	{name: "cl duplicate same value", ok: head11 + "Content-Length: 1\r\nContent-Length", rest: ": 1\r\n\r\nx", viol: DuplicateContentLength},
	{name: "cl duplicate other value", ok: head11 + "Content-Length: 1\r\nX: y\r\ncontent-length", rest: ": 20\r\n\r\nx", viol: DuplicateContentLength},

	// Transfer-Encoding values.
	{name: "te list", ok: head11 + "Transfer-Encoding: ", rest: "gzip, chunked\r\n\r\n", viol: BadTransferEncoding},
	{name: "te chunked then list", ok: head11 + "Transfer-Encoding: chunked", rest: ", gzip\r\n\r\n", viol: BadTransferEncoding},
	{name: "te chunked then token", ok: head11 + "Transfer-Encoding: chunked ", rest: "x\r\n\r\n", viol: BadTransferEncoding},
	{name: "te empty", ok: head11 + "Transfer-Encoding: ", rest: "\r\n\r\n", viol: BadTransferEncoding},
	{name: "te prefix", ok: head11 + "Transfer-Encoding: chunk", rest: "\r\n\r\n", viol: BadTransferEncoding},
	{name: "te longer", ok: head11 + "Transfer-Encoding: chunked", rest: "x\r\n\r\n", viol: BadTransferEncoding},
	{name: "te identity", ok: head11 + "Transfer-Encoding: ", rest: "identity\r\n\r\n", viol: BadTransferEncoding},
	{name: "te unknown", ok: head11 + "Transfer-Encoding: ", rest: "gzip\r\n\r\n", viol: BadTransferEncoding},
	{name: "te duplicate", ok: head11 + "Transfer-Encoding: chunked\r\nTransfer-Encoding", rest: ": chunked\r\n\r\n0\r\n\r\n", viol: BadTransferEncoding},
	{name: "te http10", ok: "POST / HTTP/1.0\r\nTransfer-Encoding", rest: ": chunked\r\n\r\n0\r\n\r\n", viol: BadTransferEncoding},
	{name: "te http12", ok: "POST / HTTP/1.2\r\nTransfer-Encoding", rest: ": chunked\r\n\r\n0\r\n\r\n", viol: BadTransferEncoding},
	{name: "te version not last", ok: "POST / HTTP/1.1 \r\nTransfer-Encoding", rest: ": chunked\r\n\r\n0\r\n\r\n", viol: BadTransferEncoding},

	// Chunk framing.
	{name: "chunk size missing", ok: head11 + "Transfer-Encoding: chunked\r\n\r\n", rest: "\r\nhello\r\n0\r\n\r\n", viol: BadChunk},
	{name: "chunk size not hex", ok: head11 + "Transfer-Encoding: chunked\r\n\r\n", rest: "g\r\n", viol: BadChunk},
	{name: "chunk size 17 digits", ok: head11 + "Transfer-Encoding: chunked\r\n\r\n0000000000000000", rest: "1\r\nx\r\n0\r\n\r\n", viol: BadChunk},
	{name: "chunk size trailing space", ok: head11 + "Transfer-Encoding: chunked\r\n\r\n5", rest: " \r\nhello\r\n0\r\n\r\n", viol: BadChunk},
	{name: "chunk size space before ext", ok: head11 + "Transfer-Encoding: chunked\r\n\r\n5", rest: " ;a\r\nhello\r\n0\r\n\r\n", viol: BadChunk},
	{name: "chunk extensions at the limit", ok: head11 + "Transfer-Encoding: chunked\r\n\r\n5;" + strings.Repeat("e", 4096) + "\r\nhello\r\n0\r\n\r\n", msgs: 1},
	{name: "chunk extensions over the limit", ok: head11 + "Transfer-Encoding: chunked\r\n\r\n5;" + strings.Repeat("e", 4096), rest: "e\r\nhello\r\n0\r\n\r\n", viol: BadChunk},
	{name: "chunk extensions over the limit in sum", ok: head11 + "Transfer-Encoding: chunked\r\n\r\n1;" + strings.Repeat("e", 2048) + "\r\nx\r\n0;" + strings.Repeat("e", 2048),
		rest: "e\r\n\r\n", viol: BadChunk},
	{name: "chunk extension budget per body", ok: head11 + "Transfer-Encoding: chunked\r\n\r\n1;" + strings.Repeat("e", 3000) + "\r\nx\r\n0\r\n\r\n" +
		head11 + "Transfer-Encoding: chunked\r\n\r\n1;" + strings.Repeat("e", 3000) + "\r\nx\r\n0\r\n\r\n", msgs: 2},
	{name: "chunk size 0x", ok: head11 + "Transfer-Encoding: chunked\r\n\r\n0", rest: "x5\r\nhello\r\n0\r\n\r\n", viol: BadChunk},
	{name: "chunk size negative", ok: head11 + "Transfer-Encoding: chunked\r\n\r\n", rest: "-5\r\nhello\r\n0\r\n\r\n", viol: BadChunk},
	{name: "chunk data too long", ok: head11 + "Transfer-Encoding: chunked\r\n\r\n5\r\nhello", rest: "!\r\n0\r\n\r\n", viol: BadChunk},
	{name: "chunk data cr then junk", ok: head11 + "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r", rest: "X0\r\n\r\n", viol: BadChunk},
	{name: "chunk data cr cr", ok: head11 + "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r", rest: "\r\n0\r\n\r\n", viol: BadChunk},
}

// feedPieces feeds in cut at the given offsets and returns the offset of
// the violation (len(in) if none), the violation and the requests completed.
func feedPieces(t *testing.T, in string, cuts ...int) (int, Violation, uint64) {
	t.Helper()
	var v Validator
	off := 0
	feed := func(piece string) bool {
		n, viol := v.Feed([]byte(piece))
		if viol == None && n != len(piece) {
			t.Fatalf("Feed(%q) = %d, None; want %d", piece, n, len(piece))
		}
		if viol != None && (n < 0 || n >= len(piece)) {
			t.Fatalf("Feed(%q) = %d, %v: offset outside the piece", piece, n, viol)
		}
		off += n
		return viol == None
	}
	prev := 0
	for _, c := range append(cuts, len(in)) {
		if !feed(in[prev:c]) {
			break
		}
		prev = c
	}
	if viol := v.Violation(); viol != None {
		if n, again := v.Feed([]byte(in)); n != 0 || again != viol {
			t.Fatalf("Feed after %v = %d, %v; want 0, %v (sticky)", viol, n, again, viol)
		}
	}
	return off, v.Violation(), v.Messages()
}

func TestFeed(t *testing.T) {
	for _, tc := range feedCases {
		t.Run(tc.name, func(t *testing.T) {
			in := tc.ok + tc.rest
			if (tc.rest == "") != (tc.viol == None) {
				t.Fatalf("bad case: rest %q with violation %v", tc.rest, tc.viol)
			}
			check := func(how string, cuts ...int) {
				t.Helper()
				ok, viol, msgs := feedPieces(t, in, cuts...)
				if ok != len(tc.ok) || viol != tc.viol || msgs != tc.msgs {
					t.Fatalf("%s: Feed(%q) = %d, %v, %d requests; want %d, %v, %d (violation at %q)",
						how, in, ok, viol, msgs, len(tc.ok), tc.viol, tc.msgs, tc.rest)
				}
			}
			check("whole")
			for c := 0; c <= len(in); c++ {
				check("split at "+strconv.Itoa(c), c)
			}
			bytewise := make([]int, len(in))
			for i := range bytewise {
				bytewise[i] = i
			}
			check("byte by byte", bytewise...)
		})
	}
}

// TestFeedAgainstFasthttp checks every case against fasthttp: requests the
// validator completes, fasthttp frames the same way, and from the accepted
// prefix of a stream with a violation fasthttp completes nothing more.
func TestFeedAgainstFasthttp(t *testing.T) {
	for _, tc := range feedCases {
		t.Run(tc.name, func(t *testing.T) {
			in := []byte(tc.ok + tc.rest)
			got := checkFasthttp(t, in)
			if tc.viol == None && !tc.fasthttpRejects && got != int(tc.msgs) {
				t.Fatalf("fasthttp read %d of the %d requests in %q", got, tc.msgs, in)
			}
		})
	}
}

func TestReset(t *testing.T) {
	var v Validator
	if _, viol := v.Feed([]byte(getA + "\n")); viol != BareLF {
		t.Fatalf("Feed = %v; want %v", viol, BareLF)
	}
	v.Reset()
	if v != (Validator{}) {
		t.Fatalf("Reset left %+v", v)
	}
	if n, viol := v.Feed([]byte(getA)); n != len(getA) || viol != None || v.Messages() != 1 {
		t.Fatalf("Feed after Reset = %d, %v, %d requests", n, viol, v.Messages())
	}
}

func TestFeedEmpty(t *testing.T) {
	var v Validator
	if n, viol := v.Feed(nil); n != 0 || viol != None {
		t.Fatalf("Feed(nil) = %d, %v", n, viol)
	}
}

func TestValidatorSize(t *testing.T) {
	if s := unsafe.Sizeof(Validator{}); s != 24 {
		t.Fatalf("Validator is %d bytes; the package doc says 24", s)
	}
}

func TestViolationString(t *testing.T) {
	seen := map[string]Violation{}
	for _, v := range Violations() {
		s := v.String()
		if s == "" || s == "unknown" || strings.Trim(s, "abcdefghijklmnopqrstuvwxyz_") != "" {
			t.Errorf("Violation(%d).String() = %q; want a snake_case code", v, s)
		}
		if prev, dup := seen[s]; dup {
			t.Errorf("%d and %d share the code %q", prev, v, s)
		}
		seen[s] = v
	}
	if None.String() != "" || Violation(200).String() != "unknown" {
		t.Errorf("None = %q, 200 = %q", None.String(), Violation(200).String())
	}
	if len(Violations()) != int(numViolations)-1 {
		t.Errorf("Violations() has %d entries", len(Violations()))
	}
}

func TestMatchVersion(t *testing.T) {
	for _, tc := range []struct {
		line string
		want bool
	}{
		{"GET / HTTP/1.1", true},
		{"GET /HTTP/1.1 HTTP/1.1", true},
		{"GET / HTTP/1.0", false},
		{"GET / HTTP/1.1 ", false},
		{"GET /xHTTP/1.1", false},
		{"GET / HTTP/1.11", false},
		{"GET / http/1.1", false},
		{" HTTP/1.1", true},
		{"HTTP/1.1", false},
		{"GET /  HTTP/1.1", true},
	} {
		// Every split of the line must give the same answer.
		for c := 0; c <= len(tc.line); c++ {
			m := matchVersion(matchVersion(0, []byte(tc.line[:c])), []byte(tc.line[c:]))
			if got := m == uint8(len(versionOK)); got != tc.want {
				t.Errorf("matchVersion(%q split at %d) = %v; want %v", tc.line, c, got, tc.want)
			}
		}
	}
}

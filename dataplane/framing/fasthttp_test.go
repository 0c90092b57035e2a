package framing

import (
	"bufio"
	"errors"
	"io"
	"testing"

	"github.com/valyala/fasthttp"
)

// frame is one request as a parser framed it: the stream offset where it
// ends and the length of its (decoded) body.
type frame struct{ end, body int }

// validatorFrames feeds stream byte by byte and returns the requests the
// validator completes, how much it accepts and the violation.
func validatorFrames(stream []byte) (frames []frame, ok int, viol Violation) {
	var v Validator
	body := 0
	for i := range stream {
		if v.state == stBody || v.state == stChunkData {
			body++
		}
		if _, viol := v.Feed(stream[i : i+1]); viol != None {
			return frames, i, viol
		}
		if v.Messages() > uint64(len(frames)) {
			frames = append(frames, frame{end: i + 1, body: body})
			body = 0
		}
	}
	return frames, len(stream), None
}

// wire is a connection that delivers b, in one-byte reads if oneByte, and
// then fails every read with end: io.EOF for a client that hangs up, or the
// error the connection wrapper returns after a violation.
type wire struct {
	b       []byte
	end     error
	oneByte bool
	read    int
}

func (w *wire) Read(p []byte) (int, error) {
	if len(w.b) == 0 {
		return 0, w.end
	}
	if w.oneByte {
		p = p[:1]
	}
	n := copy(p, w.b)
	w.b = w.b[n:]
	w.read += n
	return n, nil
}

var errViolation = errors.New("framing violation")

// oneByteMax bounds the streams fasthttp is also given in one-byte reads:
// it re-parses a head on every byte it gets, so the cost is quadratic.
const oneByteMax = 512

// fasthttpFrames reads requests from stream the way fasthttp's server does
// (head, then body, 100-continue or not, with the server's default read
// buffer) and returns those it reads before its first error.
func fasthttpFrames(stream []byte, end error, oneByte bool) []frame {
	w := &wire{b: stream, end: end, oneByte: oneByte}
	br := bufio.NewReaderSize(w, 4096)
	var req fasthttp.Request
	var frames []frame
	for {
		req.Reset()
		if req.Header.Read(br) != nil {
			return frames
		}
		// A limit just above the stream keeps a huge Content-Length or
		// chunk size from allocating; such a body cannot complete anyway.
		if req.ContinueReadBody(br, len(stream)+1, false) != nil {
			return frames
		}
		frames = append(frames, frame{end: w.read - br.Buffered(), body: len(req.Body())})
	}
}

// checkFasthttp fails t unless fasthttp, given the prefix of stream the
// validator accepts followed by a read error, frames every request it reads
// exactly as the validator does and reads no request the validator did not
// complete. It returns the fewest requests fasthttp read in any of the ways
// the bytes were delivered.
func checkFasthttp(t *testing.T, stream []byte) int {
	t.Helper()
	want, ok, viol := validatorFrames(stream)
	ends := []error{io.EOF}
	if viol != None {
		ends = append(ends, errViolation)
	}
	modes := []bool{false, true}
	if ok > oneByteMax {
		modes = modes[:1]
	}
	fewest := len(want)
	for _, end := range ends {
		for _, oneByte := range modes {
			got := fasthttpFrames(stream[:ok], end, oneByte)
			for k := range got {
				if k >= len(want) {
					t.Fatalf("fasthttp (one-byte reads %v, then %v) read request %d %+v from %q; the validator completed %d requests (%v at %d)",
						oneByte, end, k, got[k], stream[:ok], len(want), viol, ok)
				}
				if got[k] != want[k] {
					t.Fatalf("fasthttp (one-byte reads %v, then %v) framed request %d of %q as %+v; the validator as %+v",
						oneByte, end, k, stream[:ok], got[k], want[k])
				}
			}
			fewest = min(fewest, len(got))
		}
	}
	return fewest
}

// TestFasthttpLeniency pins what fasthttp does with one example of each
// violation when nothing checks the bytes first: how many requests it reads
// from the whole stream. 0 means it rejects the first request; 1 or more
// means it normalizes the bytes silently. The Violation docs (and the
// README) rely on this table; a fasthttp upgrade that changes it fails here.
func TestFasthttpLeniency(t *testing.T) {
	const te = "Transfer-Encoding: chunked\r\n\r\n"
	for _, tc := range []struct {
		name     string
		in       string
		viol     Violation
		fasthttp int
	}{
		{"smuggle bare lf blank line", "GET / HTTP/1.1\r\nHost: a\r\n\nGET /admin HTTP/1.1\r\nHost: a\r\n\r\n", BareLF, 2},
		{"bare lf blank line without crlfcrlf later", "GET / HTTP/1.1\r\nHost: a\r\n\n", BareLF, 0},
		{"bare lf leading line", "\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", BareLF, 1},
		{"bare lf request line", "GET / HTTP/1.1\nHost: a\r\n\r\n", BareLF, 1},
		{"bare lf field line", "GET / HTTP/1.1\r\nHost: a\nX: b\r\n\r\n", BareLF, 1},
		{"bare lf chunk size line", head11 + te + "5\nhello\r\n0\r\n\r\n", BareLF, 0},
		{"bare lf after chunk data", head11 + te + "5\r\nhello\n0\r\n\r\n", BareLF, 0},
		{"bare lf trailer line", head11 + te + "0\r\nX: y\nZ: w\r\n\r\n", BareLF, 1},
		{"bare lf trailer blank line", head11 + te + "0\r\nX: y\r\n\n" + getA, BareLF, 2},
		{"bare cr request line", "GET /\r HTTP/1.1\r\nHost: a\r\n\r\n", BareCR, 0},
		{"bare cr value", "GET / HTTP/1.1\r\nHost: a\rb\r\n\r\n", BareCR, 0},
		{"bare cr leading", "\rGET / HTTP/1.1\r\nHost: a\r\n\r\n", BareCR, 0},
		{"bare cr line start", "GET / HTTP/1.1\r\nHost: a\r\n\rX: b\r\n\r\n", BareCR, 0},
		{"bare cr chunk size line", head11 + te + "5\rhello\r\n0\r\n\r\n", BareCR, 0},
		{"bare cr trailer", head11 + te + "0\r\nX: y\rz\r\n\r\n", BareCR, 0},
		{"obs fold", "GET / HTTP/1.1\r\nHost: a\r\nX: b\r\n c\r\n\r\n", ObsFold, 1},
		{"space after request line", "GET / HTTP/1.1\r\n Host: a\r\n\r\n", ObsFold, 0},
		{"obs fold trailer", head11 + te + "0\r\nX: y\r\n z\r\n\r\n", ObsFold, 1},
		{"missing colon", "GET / HTTP/1.1\r\nHost: a\r\nNoColon\r\n\r\n", BadFieldLine, 0},
		{"empty name", "GET / HTTP/1.1\r\nHost: a\r\n: x\r\n\r\n", BadFieldLine, 0},
		{"space before colon", "GET / HTTP/1.1\r\nHost: a\r\nX : y\r\n\r\n", BadFieldLine, 0},
		{"space in name", "GET / HTTP/1.1\r\nHost: a\r\nFoo Bar: x\r\n\r\n", BadFieldLine, 1},
		{"non token name", "GET / HTTP/1.1\r\nHost: a\r\nFo\"o: x\r\n\r\n", BadFieldLine, 0},
		{"trailer space before colon", head11 + te + "0\r\nX : y\r\n\r\n", BadFieldLine, 1},
		{"cl and te", head11 + "Content-Length: 5\r\n" + te + "0\r\n\r\n", ContentLengthAndTransferEncoding, 1},
		{"cl and te identity", head11 + "Content-Length: 5\r\nTransfer-Encoding: identity\r\n\r\nhello", ContentLengthAndTransferEncoding, 1},
		{"cl letters", head11 + "Content-Length: abc\r\n\r\n", BadContentLength, 0},
		{"cl 19 digits", head11 + "Content-Length: 0000000000000000001\r\n\r\nx", BadContentLength, 1},
		{"cl duplicate", head11 + "Content-Length: 1\r\nContent-Length: 1\r\n\r\nx", DuplicateContentLength, 0},
		{"te list", head11 + "Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", BadTransferEncoding, 0},
		{"te duplicate", head11 + "Transfer-Encoding: chunked\r\n" + te + "0\r\n\r\n", BadTransferEncoding, 0},
		{"te http10", "POST / HTTP/1.0\r\n" + te + "0\r\n\r\n", BadTransferEncoding, 0},
		{"chunk size trailing space", head11 + te + "5 \r\nhello\r\n0\r\n\r\n", BadChunk, 1},
		{"chunk size space before ext", head11 + te + "5 ;a\r\nhello\r\n0\r\n\r\n", BadChunk, 0},
		{"chunk size 16 digits", head11 + te + "0000000000000005\r\nhello\r\n0\r\n\r\n", None, 0},
		{"chunk size 17 digits", head11 + te + "00000000000000005\r\nhello\r\n0\r\n\r\n", BadChunk, 0},
		{"chunk data too long", head11 + te + "5\r\nhello!\r\n0\r\n\r\n", BadChunk, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var v Validator
			if _, viol := v.Feed([]byte(tc.in)); viol != tc.viol {
				t.Errorf("validator: %v; want %v", viol, tc.viol)
			}
			if got := len(fasthttpFrames([]byte(tc.in), io.EOF, false)); got != tc.fasthttp {
				t.Errorf("fasthttp read %d requests from %q; want %d", got, tc.in, tc.fasthttp)
			}
		})
	}
}

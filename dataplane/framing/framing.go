// Package framing checks the message framing of the HTTP/1.1 request
// stream a client sends on one connection, strictly by RFC 9112, before
// fasthttp's parser sees the bytes.
//
// fasthttp normalizes lenient framing silently, and one normalization is a
// request-smuggling hole: it ends a head at a bare-LF blank line when a
// CRLFCRLF appears anywhere later in its read buffer, so
//
//	GET / HTTP/1.1\r\nHost: a\r\n\nGET /admin HTTP/1.1\r\nHost: a\r\n\r\n
//
// is read as two requests, while a front proxy that ends heads only at
// CRLFCRLF sees one and never applies its rules to /admin. A Validator sits in the connection's Read path, is fed
// every chunk the socket returns, and says how much of it may be passed on.
// It enforces CRLF line ends everywhere in heads, chunk-size lines and
// trailers; no obs-fold; well-formed field lines; one decimal
// Content-Length or one Transfer-Encoding of exactly "chunked" (never
// both, never Transfer-Encoding below HTTP/1.1); and
// well-formed chunked bodies. Content-Length bodies and chunk data are
// skipped without being looked at. See Violation for each rule and for
// which of them fasthttp would already reject on its own.
//
// The package validates framing only: methods, targets, field values and
// Host are left to fasthttp. It must never allocate, never buffer or copy
// the bytes it checks (its state is a fixed 24-byte struct), never need to
// see more than the bytes already received to judge them, and never accept
// a prefix that fasthttp could complete into a request the validator has not
// framed the same way.
//
// It knows nothing about protocol switches: after a CONNECT tunnel or a 101
// Switching Protocols the stream is no longer HTTP/1.1, and the caller must
// stop feeding it.
package framing

import "bytes"

// state is where in a request the next byte falls.
type state uint8

const (
	stStart        state = iota // before a request line; empty lines (CRLF) may come first
	stStartCR                   // after the CR of a leading empty line
	stRequestLine               // inside the request line
	stLineCR                    // after the CR ending the request line or a field line
	stLineStart                 // at the start of a field line or of the blank line ending a section
	stName                      // inside a field name
	stValue                     // inside a field value that is not tracked
	stCLValue                   // inside a Content-Length value
	stTEValue                   // inside a Transfer-Encoding value
	stBlankCR                   // after the CR of the blank line ending a head or trailer section
	stBody                      // inside a Content-Length body
	stChunkSize                 // inside the hex digits of a chunk-size line
	stChunkExt                  // inside chunk extensions
	stChunkSizeCR               // after the CR ending a chunk-size line
	stChunkData                 // inside chunk data
	stChunkDataEnd              // after chunk data, where its CR must be
	stChunkDataCR               // after the CR following chunk data
)

// Flags of the message being read.
const (
	fHTTP11  uint8 = 1 << iota // the request line ends in " HTTP/1.1"
	fTrailer                   // the field lines are a trailer section
	fSawCL                     // the head has a Content-Length field
	fSawTE                     // the head has a Transfer-Encoding field
	fChunked                   // the body is chunked
	fOWSEnd                    // a tracked value has had whitespace after its token
)

// Candidates while matching a field name or a Transfer-Encoding value.
const (
	mCL      uint8 = 1 << iota // field name may still be Content-Length
	mTE                        // field name may still be Transfer-Encoding
	mChunked                   // value may still be "chunked"
)

const (
	maxCLDigits    = 18 // 10^18-1 fits in an int64, so no caller has to think about overflow
	maxChunkDigits = 16 // 16 hex digits fill a uint64
	// maxChunkExt bounds the chunk extensions of one body, all chunk
	// lines together (RFC 9112 §7.1.1: a server ought to limit them).
	// Nothing the gateway serves uses them; unbounded, they are body
	// bytes that no body limit counts.
	maxChunkExt = 4096
)

// Lower-case spellings compared against name and value bytes ORed with
// 0x20. That folds ASCII case for letters; for '-' (0x2d) it also maps CR
// (0x0d), which never reaches the comparison because it is not a token byte.
const (
	nameCL    = "content-length"
	nameTE    = "transfer-encoding"
	tokChunk  = "chunked"
	versionOK = " HTTP/1.1"
)

// tchar marks the token characters of RFC 9110 §5.6.2, the only bytes a
// field name may hold.
var tchar = func() (t [256]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
		t[c-'a'+'A'] = true
	}
	for _, c := range []byte("!#$%&'*+-.^_`|~") {
		t[c] = true
	}
	return t
}()

// unhex maps hex digits to their value and every other byte to 0xff.
var unhex = func() (t [256]uint8) {
	for i := range t {
		t[i] = 0xff
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = uint8(c - '0')
	}
	for c := 'a'; c <= 'f'; c++ {
		t[c] = uint8(c - 'a' + 10)
		t[c-'a'+'A'] = uint8(c - 'a' + 10)
	}
	return t
}()

// Validator checks the request stream of one connection. The zero value is
// ready to use at the start of a connection; Reset makes a used one ready
// again. A Validator must not be used by two goroutines at once.
type Validator struct {
	n        uint64 // Content-Length being parsed, body bytes left, chunk size or chunk bytes left
	messages uint64 // requests completed
	state    state
	viol     Violation
	flags    uint8
	ext      uint16 // chunk extension bytes of the current body
	count    uint8  // bytes of the current name, digits, token, or suffix matched so far
	match    uint8  // candidates still possible for the current name or value
}

// Reset makes v ready for a new connection.
func (v *Validator) Reset() { *v = Validator{} }

// Messages returns how many requests v has seen complete: head, body and,
// for a chunked body, trailer section.
func (v *Validator) Messages() uint64 { return v.messages }

// InRequestLine reports whether the bytes so far end inside a request
// line: a head too large for the server's buffer was then too large in its
// request-target alone (414, not 431).
func (v *Validator) InRequestLine() bool { return v.state == stRequestLine }

// Violation returns the violation v has found, or None.
func (v *Validator) Violation() Violation { return v.viol }

// Feed checks the next bytes of the stream. It returns how many of them are
// acceptable (len(p) when all are) and the violation found at p[ok] (None
// when ok == len(p)). Bytes may be split across calls at any position; the
// outcome is the same however the stream is cut.
//
// Passing on only p[:ok] can never complete the offending request: every
// violation is reported at or before the byte that would end the head, the
// chunk or the trailer section it is in, so a parser that then gets a read
// error fails that request. Requests completed before it were framed
// strictly and are safe to serve. The read error should not be io.EOF:
// when no byte of a connection's first request has been passed on,
// fasthttp takes io.EOF for a client hanging up and sends no 400.
//
// After a violation every later Feed returns 0 and the same violation.
func (v *Validator) Feed(p []byte) (ok int, viol Violation) {
	if v.viol != None {
		return 0, v.viol
	}
	i := 0
	for i < len(p) {
		switch v.state {
		case stStart:
			switch p[i] {
			case '\r':
				v.state = stStartCR
				i++
			case '\n':
				return v.fail(i, BareLF)
			default:
				// The request line starts here; stRequestLine reads this byte.
				v.state = stRequestLine
				v.n, v.flags, v.count, v.match = 0, 0, 0, 0
			}

		case stStartCR:
			if p[i] != '\n' {
				return v.fail(i, BareCR)
			}
			v.state = stStart
			i++

		case stRequestLine:
			end := i + lineEnd(p[i:])
			v.count = matchVersion(v.count, p[i:end])
			if end == len(p) {
				return len(p), None
			}
			if p[end] == '\n' {
				return v.fail(end, BareLF)
			}
			if v.count == uint8(len(versionOK)) {
				v.flags |= fHTTP11
			}
			v.state = stLineCR
			i = end + 1

		case stLineCR:
			if p[i] != '\n' {
				return v.fail(i, BareCR)
			}
			v.state = stLineStart
			i++

		case stLineStart:
			switch p[i] {
			case '\r':
				v.state = stBlankCR
				i++
			case '\n':
				return v.fail(i, BareLF)
			case ' ', '\t':
				return v.fail(i, ObsFold)
			default:
				// A field name starts here; stName reads this byte.
				v.state = stName
				v.count = 0
				v.match = 0
				if v.flags&fTrailer == 0 {
					v.match = mCL | mTE
				}
			}

		case stName:
			j := i
			for j < len(p) && tchar[p[j]] {
				j++
			}
			if v.match != 0 {
				if !foldedAt(p[i:j], nameCL, int(v.count)) {
					v.match &^= mCL
				}
				if !foldedAt(p[i:j], nameTE, int(v.count)) {
					v.match &^= mTE
				}
			}
			// Only lengths up to len(nameTE) matter; keep count from wrapping.
			v.count = uint8(min(int(v.count)+j-i, 255))
			i = j
			if i == len(p) {
				return len(p), None
			}
			if p[i] != ':' || v.count == 0 {
				return v.fail(i, BadFieldLine)
			}
			switch {
			case v.match&mCL != 0 && v.count == uint8(len(nameCL)):
				switch {
				case v.flags&fSawCL != 0:
					return v.fail(i, DuplicateContentLength)
				case v.flags&fSawTE != 0:
					return v.fail(i, ContentLengthAndTransferEncoding)
				}
				v.flags |= fSawCL
				v.state = stCLValue
			case v.match&mTE != 0 && v.count == uint8(len(nameTE)):
				switch {
				case v.flags&fSawTE != 0:
					return v.fail(i, BadTransferEncoding)
				case v.flags&fSawCL != 0:
					return v.fail(i, ContentLengthAndTransferEncoding)
				case v.flags&fHTTP11 == 0:
					return v.fail(i, BadTransferEncoding)
				}
				v.flags |= fSawTE
				v.state = stTEValue
				v.match = mChunked
			default:
				v.state = stValue
			}
			v.count = 0
			i++

		case stValue:
			end := i + lineEnd(p[i:])
			if end == len(p) {
				return len(p), None
			}
			if p[end] == '\n' {
				return v.fail(end, BareLF)
			}
			i = end + 1
			v.state = stLineCR
			if i < len(p) && p[i] == '\n' { // the usual CRLF, without a trip round the loop
				v.state = stLineStart
				i++
			}

		case stCLValue:
		digits:
			for ; i < len(p); i++ {
				switch c := p[i]; c {
				case ' ', '\t':
					if v.count > 0 {
						v.flags |= fOWSEnd
					}
				case '\r', '\n':
					if v.count == 0 {
						return v.fail(i, BadContentLength)
					}
					v.flags &^= fOWSEnd
					v.state = stValue // which ends the line or reports the bare LF
					break digits
				default:
					if c < '0' || c > '9' || v.count == maxCLDigits || v.flags&fOWSEnd != 0 {
						return v.fail(i, BadContentLength)
					}
					v.n = v.n*10 + uint64(c-'0')
					v.count++
				}
			}

		case stTEValue:
		token:
			for ; i < len(p); i++ {
				switch c := p[i]; c {
				case ' ', '\t':
					if v.count > 0 {
						v.flags |= fOWSEnd
					}
				case '\r', '\n':
					// "identity" is no coding any more (RFC 9112 §6.3: a
					// request whose last coding is not chunked is 400), and
					// peers disagree on what it frames.
					if v.match&mChunked == 0 || v.count != uint8(len(tokChunk)) {
						return v.fail(i, BadTransferEncoding)
					}
					v.flags |= fChunked
					v.flags &^= fOWSEnd
					v.state = stValue
					break token
				default:
					k := int(v.count)
					c |= 0x20
					if k >= len(tokChunk) || c != tokChunk[k] {
						v.match &^= mChunked
					}
					if v.match == 0 || v.flags&fOWSEnd != 0 {
						return v.fail(i, BadTransferEncoding)
					}
					v.count++
				}
			}

		case stBlankCR:
			if p[i] != '\n' {
				return v.fail(i, BareCR)
			}
			i++
			switch {
			case v.flags&fTrailer != 0:
				v.done()
			case v.flags&fChunked != 0:
				v.ext = 0
				v.startChunk()
			case v.n > 0:
				v.state = stBody
			default:
				v.done()
			}

		case stBody:
			if rest := uint64(len(p) - i); rest < v.n {
				v.n -= rest
				return len(p), None
			}
			i += int(v.n)
			v.n = 0
			v.done()

		case stChunkSize:
		size:
			for ; i < len(p); i++ {
				c := p[i]
				if d := unhex[c]; d != 0xff {
					if v.count == maxChunkDigits {
						return v.fail(i, BadChunk)
					}
					v.n = v.n<<4 | uint64(d)
					v.count++
					continue
				}
				switch {
				case v.count == 0:
					return v.fail(i, BadChunk)
				case c == ';':
					v.state = stChunkExt
				case c == '\r':
					v.state = stChunkSizeCR
				case c == '\n':
					return v.fail(i, BareLF)
				default:
					return v.fail(i, BadChunk)
				}
				i++
				break size
			}

		case stChunkExt:
			end := i + lineEnd(p[i:])
			if left := maxChunkExt - int(v.ext); end-i > left {
				return v.fail(i+left, BadChunk)
			}
			v.ext += uint16(end - i)
			if end == len(p) {
				return len(p), None
			}
			if p[end] == '\n' {
				return v.fail(end, BareLF)
			}
			v.state = stChunkSizeCR
			i = end + 1

		case stChunkSizeCR:
			if p[i] != '\n' {
				return v.fail(i, BareCR)
			}
			i++
			if v.n == 0 {
				v.state = stLineStart
				v.flags |= fTrailer
			} else {
				v.state = stChunkData
			}

		case stChunkData:
			if rest := uint64(len(p) - i); rest < v.n {
				v.n -= rest
				return len(p), None
			}
			i += int(v.n)
			v.n = 0
			v.state = stChunkDataEnd

		case stChunkDataEnd:
			switch p[i] {
			case '\r':
				v.state = stChunkDataCR
			case '\n':
				return v.fail(i, BareLF)
			default:
				return v.fail(i, BadChunk)
			}
			i++

		case stChunkDataCR:
			if p[i] != '\n' {
				return v.fail(i, BadChunk)
			}
			i++
			v.startChunk()
		}
	}
	return len(p), None
}

func (v *Validator) fail(i int, viol Violation) (int, Violation) {
	v.viol = viol
	return i, viol
}

// done ends a request.
func (v *Validator) done() {
	v.messages++
	v.state = stStart
}

// startChunk expects a chunk-size line.
func (v *Validator) startChunk() {
	v.state = stChunkSize
	v.n = 0
	v.count = 0
}

// foldedAt reports whether b, ASCII case folded, is name[off:off+len(b)].
func foldedAt(b []byte, name string, off int) bool {
	if off+len(b) > len(name) {
		return false
	}
	for k, c := range b {
		if c|0x20 != name[off+k] {
			return false
		}
	}
	return true
}

// lineEnd returns the index of the first CR or LF in p, or len(p) if there
// is neither. Two vectorized searches beat a byte loop on any line longer
// than a few bytes.
func lineEnd(p []byte) int {
	end := bytes.IndexByte(p, '\r')
	if end < 0 {
		end = len(p)
	}
	if lf := bytes.IndexByte(p[:end], '\n'); lf >= 0 {
		return lf
	}
	return end
}

// matchVersion advances m, the length of the longest suffix of the request
// line read so far that is a prefix of versionOK, over the next bytes b of
// the line. versionOK's only SP is its first byte, so after a mismatch the
// match restarts at 1 on SP and at 0 otherwise; and since a match is at
// most len(versionOK) bytes long, only the tail of a long b matters.
func matchVersion(m uint8, b []byte) uint8 {
	if len(b) > len(versionOK) {
		b = b[len(b)-len(versionOK):]
		m = 0
	}
	for _, c := range b {
		switch {
		case int(m) < len(versionOK) && c == versionOK[m]:
			m++
		case c == ' ':
			m = 1
		default:
			m = 0
		}
	}
	return m
}

package framing

// Violation says which framing rule a request stream broke. It appears in
// logs and metrics, so its string form is stable API. The zero value, None,
// means no rule was broken.
//
// Each constant's comment says what fasthttp v1.78.0 does with the same
// bytes when nothing checks them first (pinned by TestFasthttpLeniency):
// "rejects" means its parser returns an error, so a connection with that
// violation gets a 400 either way and the validator only makes the reason
// visible; "accepts" means fasthttp normalizes the bytes silently, and only
// the validator stands between them and the handler.
type Violation uint8

const (
	None Violation = iota

	// BareLF is a LF not preceded by CR in a request head, a chunk-size
	// line, after chunk data or in a trailer section.
	//
	// fasthttp accepts LF as a line end in leading empty lines, request
	// lines, field lines and trailer lines, and ends a head or a trailer
	// section at a bare-LF blank line as soon as a CRLFCRLF appears
	// anywhere later in its read buffer (in the next request's head or in
	// a body): the smuggling case this package exists for. It rejects a
	// bare LF in a chunk-size line or after chunk data.
	BareLF

	// BareCR is a CR not followed by LF where a line may end (request line,
	// field lines, blank lines, chunk-size lines, trailers). It is reported
	// at the byte after the CR, which proves the CR bare; the CR itself may
	// have arrived in an earlier Feed call.
	//
	// fasthttp rejects it in every position (as an invalid method, URI,
	// field name or value, or chunk-size line).
	BareCR

	// ObsFold is a field line starting with SP or HTAB: an obs-fold
	// continuation (RFC 9112 §5.2), or whitespace right after the request
	// line or the last chunk.
	//
	// fasthttp accepts continuation lines and joins them with a space into
	// the previous field's value; it rejects whitespace at the start of the
	// first field line of a head or trailer section.
	ObsFold

	// BadFieldLine is a field line without a colon, with an empty field
	// name, or with a name byte that is not a token character (RFC 9110
	// §5.1), whitespace before the colon included (RFC 9112 §5.1).
	//
	// fasthttp rejects a missing colon, an empty name, a non-token name
	// byte and, in a request head, whitespace before the colon. It accepts
	// a space inside a name ("Foo Bar: x") and, in a trailer, whitespace
	// before the colon, which it trims.
	BadFieldLine

	// ContentLengthAndTransferEncoding is a head with both a Content-Length
	// and a Transfer-Encoding field (RFC 9112 §6.1). It is reported at the
	// colon of the second of the two fields.
	//
	// fasthttp accepts it: chunked wins and the connection is closed after
	// the response.
	ContentLengthAndTransferEncoding

	// BadContentLength is a Content-Length value that is not 1*DIGIT with
	// optional surrounding whitespace, or has more than 18 digits.
	//
	// fasthttp rejects it, except that it accepts more than 18 digits when
	// the value still fits an int (leading zeros).
	BadContentLength

	// DuplicateContentLength is a second Content-Length field in one head,
	// even with the same value. It is reported at the second field's colon.
	//
	// fasthttp rejects it.
	DuplicateContentLength

	// BadTransferEncoding is a Transfer-Encoding value other than "chunked"
	// (lists such as "gzip, chunked", and "identity", included), a second
	// Transfer-Encoding field, or a Transfer-Encoding field in a request
	// whose version is not HTTP/1.1 (RFC 9112 §6.1).
	//
	// fasthttp rejects all three.
	BadTransferEncoding

	// BadChunk is a malformed chunk-size line (no hex digit, more than 16
	// hex digits, whitespace after the size, any byte but ';' or CR after
	// it), chunk extensions longer than 4096 bytes in one body, or chunk
	// data not followed by CRLF.
	//
	// fasthttp rejects all of these except whitespace between the size
	// and the line end ("5 \r\n"), which it accepts, and extensions of any
	// length, which it skips. It allows at most 15 hex digits on 64-bit
	// platforms.
	BadChunk

	numViolations
)

var violationNames = [numViolations]string{
	None:                             "",
	BareLF:                           "bare_lf",
	BareCR:                           "bare_cr",
	ObsFold:                          "obs_fold",
	BadFieldLine:                     "bad_field_line",
	ContentLengthAndTransferEncoding: "cl_and_te",
	BadContentLength:                 "bad_content_length",
	DuplicateContentLength:           "duplicate_content_length",
	BadTransferEncoding:              "bad_transfer_encoding",
	BadChunk:                         "bad_chunk",
}

// String returns the stable code, e.g. "bare_lf"; None is "".
func (v Violation) String() string {
	if v < numViolations {
		return violationNames[v]
	}
	return "unknown"
}

// Violations lists every defined violation except None, for metric
// registration.
func Violations() []Violation {
	out := make([]Violation, 0, numViolations-1)
	for v := None + 1; v < numViolations; v++ {
		out = append(out, v)
	}
	return out
}

// Package formdata walks the parts of a multipart/form-data body as the
// lenient servers behind the gateway read them, for the WAF tiers to
// inspect what those servers will see, and reports the bodies they would
// read differently from each other: one that cannot be followed, and one
// with parts after its closing delimiter (PHP reads those; Go's and
// Coraza's readers stop at the close).
package formdata

import (
	"bytes"
	"errors"

	"github.com/edgeguard/edgeguard/dataplane/headers"
)

var (
	// ErrUnfollowable: no boundary, no first delimiter line, a part
	// without its header end or its next delimiter.
	ErrUnfollowable = errors.New("multipart body cannot be followed")
	// ErrPartsAfterClose: the text after the closing delimiter holds
	// another delimiter line, a part that some servers read.
	ErrPartsAfterClose = errors.New("multipart body has parts after its closing delimiter")
)

var (
	dashdash = []byte("--")
	crlf     = []byte("\r\n")
	crlfcrlf = []byte("\r\n\r\n")
	lf       = []byte("\n")
	lflf     = []byte("\n\n")
)

// Reader reads the parts of one body. The zero value is ready for Start;
// it allocates nothing once its delimiter buffer has grown.
type Reader struct {
	delim []byte // "\r\n--boundary", or "\n--boundary" for LF bodies
	nl    []byte
	rest  []byte
	err   error
	done  bool
}

// Start begins reading body, whose Content-Type parameters are params.
// Lines end in CRLF, or in LF alone when the first delimiter line does (as
// Go's and PHP's readers accept). It reports false when the body cannot be
// followed (Err says why).
func (r *Reader) Start(body, params []byte) bool {
	r.err, r.done, r.rest = nil, false, nil
	boundary, n := headers.MediaParam(params, []byte("boundary"))
	if n != 1 || len(boundary) == 0 || len(boundary) > 70 {
		return r.fail(ErrUnfollowable) // twice: readers differ on which one counts
	}
	r.delim = append(append(r.delim[:0], "\r\n--"...), boundary...)
	// The first delimiter line starts the body or follows a line break.
	i := bytes.Index(body, r.delim[2:])
	if i < 0 || (i > 0 && body[i-1] != '\n') {
		return r.fail(ErrUnfollowable)
	}
	first := body[i+len(r.delim)-2:]
	r.nl = crlf
	if eol := bytes.IndexByte(first, '\n'); eol >= 0 && (eol == 0 || first[eol-1] != '\r') {
		r.nl = lf
		r.delim = append(append(r.delim[:0], "\n--"...), boundary...)
	}
	r.rest = first
	return true
}

func (r *Reader) fail(err error) bool {
	r.err, r.done = err, true
	return false
}

// Next returns the next part's header block (its lines, each ending in the
// body's line break) and content; false at the end of the body or when it
// cannot be followed further (Err).
func (r *Reader) Next() (header, content []byte, ok bool) {
	if r.done {
		return nil, nil, false
	}
	rest := r.rest
	if bytes.HasPrefix(rest, dashdash) {
		// The closing delimiter. What follows is an epilogue to RFC 2046,
		// but a reader that does not stop there finds any part in it.
		r.done = true
		if bytes.Contains(rest, r.delim) {
			r.err = ErrPartsAfterClose
		}
		return nil, nil, false
	}
	// Skip transport padding and the line break after the delimiter.
	eol := bytes.Index(rest, r.nl)
	if eol < 0 {
		return nil, nil, r.fail(ErrUnfollowable)
	}
	rest = rest[eol+len(r.nl):]
	if bytes.HasPrefix(rest, r.nl) {
		// No header lines (RFC 2046: the part is text/plain).
		header, rest = rest[:0], rest[len(r.nl):]
	} else {
		var hdrEnd int
		if len(r.nl) == 2 {
			hdrEnd = bytes.Index(rest, crlfcrlf)
		} else {
			hdrEnd = bytes.Index(rest, lflf)
		}
		if hdrEnd < 0 {
			return nil, nil, r.fail(ErrUnfollowable)
		}
		header = rest[:hdrEnd+len(r.nl)]
		rest = rest[hdrEnd+2*len(r.nl):]
	}
	end := bytes.Index(rest, r.delim)
	if end < 0 {
		return nil, nil, r.fail(ErrUnfollowable)
	}
	content = rest[:end]
	r.rest = rest[end+len(r.delim):]
	return header, content, true
}

// Err is why reading stopped early: nil after a well-formed body.
func (r *Reader) Err() error { return r.err }

// Kind is how servers read a part: as a form field, a file, or, for a
// part named a file only by an RFC 2231 filename* (which Go, Coraza and
// most frameworks read as a file and PHP as a field), either.
type Kind uint8

const (
	KindField Kind = iota
	KindFile
	KindEither
)

// Disposition reads a part's header block: the field name and the
// parameters of its Content-Disposition (the first one), and its Kind.
func Disposition(header []byte) (name, params []byte, kind Kind) {
	for len(header) > 0 {
		var line []byte
		line, header, _ = bytes.Cut(header, lf)
		line = bytes.TrimSuffix(line, []byte{'\r'})
		k, v, ok := bytes.Cut(line, []byte{':'})
		if !ok || !bytes.EqualFold(bytes.TrimSpace(k), []byte("content-disposition")) {
			continue
		}
		_, params, _ = bytes.Cut(v, []byte{';'})
		name, _ = headers.MediaParam(params, []byte("name"))
		plain, _ := headers.MediaParam(params, []byte("filename"))
		_, ext := headers.MediaParam(params, []byte("filename*"))
		switch {
		case len(plain) > 0:
			kind = KindFile
		case ext > 0:
			kind = KindEither
		}
		return name, params, kind
	}
	return nil, nil, KindField
}

package headers

import (
	"bytes"

	"github.com/valyala/fasthttp"
)

// Responses from upstreams keep their header names as sent ("x-powered-by",
// "keep-alive"): the proxy reads them without normalization, so that the
// client gets them unchanged. Every name this stage removes or replaces is
// therefore matched ignoring case, in one pass over the fields.

// Response name classes.
const (
	respDrop       uint8 = 1 << iota // removed in every spelling
	respConnection                   // Connection: its tokens name more fields to remove
)

// buildResponseNames compiles the names HandleResponse removes: hop-by-hop
// headers, RemoveResponseHeaders, and those the stage sets itself (the
// SetResponseHeaders, the request ID and the traceparent), whose upstream
// fields, in any spelling, must not survive beside the gateway's own.
func (s *Stage) buildResponseNames() error {
	names := make([][]byte, 0, len(hopByHop)+len(s.removeResp)+len(s.setResp)+2)
	names = append(names, hopByHop...)
	names = append(names, s.removeResp...)
	for _, kv := range s.setResp {
		names = append(names, kv[0])
	}
	names = append(names, s.requestID, hdrTraceparent)
	for _, n := range names {
		class := respDrop
		if bytes.Equal(n, hdrConnection) {
			class |= respConnection
		}
		if err := s.respNames.add(string(n), class, 0); err != nil {
			return err
		}
	}
	return nil
}

// maxConnectionTokens bounds the Connection-listed names removed from one
// response (in at most 1 KiB of names); more are not legitimate and the
// rest stay (none is a name the gateway relies on: those are removed by
// name anyway).
const maxConnectionTokens = 64

// scanResponse removes, in one pass over the fields and ignoring case,
// every response field this stage removes or replaces, and the fields the
// Connection header names (except protected ones).
func (s *Stage) scanResponse(h *fasthttp.ResponseHeader) {
	// Deleting while iterating is not allowed: the names to delete are
	// copied out and deleted after the pass, which repeats while the
	// buffer overflowed (bounded by the number of fields).
	var buf [256]byte
	var ends [16]int
	var tokBuf [1024]byte
	var tokEnds [maxConnectionTokens]int
	toks, tokN := tokBuf[:0], tokEnds[:0]
	for pass := 0; pass < 64; pass++ {
		names, n := buf[:0], ends[:0]
		full := false
		for k, v := range h.All() {
			if !isToken(k) {
				// "Content Length", "Set Cookie": no field a client
				// may read as the gateway does (RFC 9110 §5.1).
				names, n, full = collect(names, n, k, full)
				continue
			}
			i := s.respNames.find(k)
			if i < 0 {
				if len(tokN) > 0 && connectionListed(k, toks, tokN) {
					names, n, full = collect(names, n, k, full)
				}
				continue
			}
			if pass == 0 && s.respNames.entries[i].class&respConnection != 0 {
				toks, tokN = appendConnectionTokens(toks, tokN, v)
			}
			names, n, full = collect(names, n, k, full)
		}
		start := 0
		for _, end := range n {
			h.DelBytes(names[start:end])
			start = end
		}
		if !full && (pass > 0 || len(tokN) == 0) {
			break
		}
		// A second pass finds the fields named by Connection, which may
		// come before it.
	}
}

// collect appends name to the deletion list, or reports it full.
func collect(names []byte, ends []int, name []byte, full bool) ([]byte, []int, bool) {
	if len(ends) == cap(ends) || len(names)+len(name) > cap(names) {
		return names, ends, true
	}
	names = append(names, name...)
	return names, append(ends, len(names)), full
}

// appendConnectionTokens adds the names a Connection value lists, except
// "close", hop-by-hop and protected names, and anything but tokens.
func appendConnectionTokens(toks []byte, ends []int, v []byte) ([]byte, []int) {
	for len(v) > 0 {
		var tok []byte
		if tok, v = nextConnectionToken(v); tok == nil {
			continue
		}
		if len(ends) == cap(ends) || len(toks)+len(tok) > cap(toks) {
			return toks, ends
		}
		toks = append(toks, tok...)
		ends = append(ends, len(toks))
	}
	return toks, ends
}

// connectionListed reports whether name is one of the Connection tokens,
// ignoring case.
func connectionListed(name, toks []byte, ends []int) bool {
	start := 0
	for _, end := range ends {
		if bytes.EqualFold(name, toks[start:end]) {
			return true
		}
		start = end
	}
	return false
}

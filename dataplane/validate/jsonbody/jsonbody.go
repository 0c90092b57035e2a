// Package jsonbody reads a request body as exactly one strict JSON value
// and hands it over as a fastjson tree for the schema stage.
//
// fastjson alone is lenient (it accepts NaN, Inf, 1., +1, invalid UTF-8,
// lone surrogate escapes and duplicate keys) and recursive (a deep document
// costs stack before it fails). So a Reader first checks the body with a
// linear, non-recursive scan: RFC 8259 grammar, valid UTF-8 everywhere
// including the unescaped content of strings (a "\ud800" escape without its
// pair is refused), no trailing data, and nesting depth bounded before
// fastjson ever recurses. Only a body that passes is parsed, and the parsed
// tree is then checked for duplicate object keys, compared after unescaping
// (so "a" and "\u0061" are duplicates).
//
// The package is for the request path: a Reader allocates nothing in steady
// state, and every error is one of the static sentinels below. It must never
// put request data into an error, never let a body's depth reach fastjson's
// recursion unchecked, and never return a value that another JSON parser
// would read differently (duplicate keys are the usual way to make two
// parsers disagree).
package jsonbody

import (
	"hash/maphash"
	"sync"

	"github.com/valyala/fastjson"
)

// DefaultMaxDepth is the nesting depth allowed when Read is given 0.
const DefaultMaxDepth = 64

// MaxDepthLimit is the largest depth Read enforces: fastjson refuses deeper
// documents itself (it counts scalars as a level), so a larger maxDepth is
// lowered to this.
const MaxDepthLimit = fastjson.MaxDepth - 1

// Error is a static reason a body was refused. Code is the short name for
// response bodies, logs and counters; it never contains request data.
type Error struct {
	code string
	msg  string
}

// Error returns the full message, "read json body: <code>: <detail>".
func (e *Error) Error() string { return e.msg }

// Code returns the short name of the problem, e.g. "json_too_deep".
func (e *Error) Code() string { return e.code }

// The errors Read returns. They are compared with errors.Is or ==.
var (
	// ErrMalformed: not one JSON value by RFC 8259 (bad token, unclosed
	// string or container, bad number or escape, control character in a
	// string, empty body).
	ErrMalformed = &Error{"json_malformed", "read json body: json_malformed: not a well-formed JSON value"}
	// ErrTrailingData: a complete value followed by more than whitespace.
	ErrTrailingData = &Error{"json_trailing_data", "read json body: json_trailing_data: data after the JSON value"}
	// ErrDuplicateKey: an object has the same key twice after unescaping.
	ErrDuplicateKey = &Error{"json_duplicate_key", "read json body: json_duplicate_key: an object has a key twice"}
	// ErrTooDeep: objects and arrays nest deeper than the limit.
	ErrTooDeep = &Error{"json_too_deep", "read json body: json_too_deep: nesting deeper than the limit"}
	// ErrInvalidUTF8: invalid UTF-8 bytes, or a \u escape that is a
	// surrogate without its pair.
	ErrInvalidUTF8 = &Error{"json_invalid_utf8", "read json body: json_invalid_utf8: invalid UTF-8 or lone surrogate escape"}
)

// Reader reads bodies with one fastjson parser and keeps the scratch space
// the duplicate-key check needs. A value returned by Read is valid until the
// next Read on the same Reader. A Reader is not safe for concurrent use:
// take one per request from a Pool.
type Reader struct {
	p     fastjson.Parser
	keys  [][]byte // keys of the object being checked for duplicates
	table []uint32 // open-addressing hash table of indexes into keys, +1
}

// maxKeptKeys bounds the scratch space a Reader keeps between bodies, so a
// single huge object does not pin memory in the pool forever.
const maxKeptKeys = 1 << 12

// pairwiseMax is the object size up to which keys are compared pairwise;
// above it they go through a hash table.
const pairwiseMax = 8

var hashSeed = maphash.MakeSeed()

// Read checks that body is exactly one well-formed JSON value, valid UTF-8,
// nested at most maxDepth deep (0 means DefaultMaxDepth, more than
// MaxDepthLimit means MaxDepthLimit), with no duplicate keys, and returns
// it parsed. The depth of a scalar is 0, of [] or {} 1, of [[1]] 2. The
// body is copied, so it may be reused once Read returns.
func (r *Reader) Read(body []byte, maxDepth int) (*fastjson.Value, error) {
	if maxDepth <= 0 {
		maxDepth = DefaultMaxDepth
	}
	if maxDepth > MaxDepthLimit {
		maxDepth = MaxDepthLimit
	}
	if err := scan(body, maxDepth); err != nil {
		return nil, err
	}
	v, err := r.p.ParseBytes(body)
	if err != nil {
		// Unreachable: scan accepts only what fastjson parses.
		return nil, ErrMalformed
	}
	dup := r.hasDuplicateKeys(v)
	if cap(r.keys) > maxKeptKeys {
		r.keys, r.table = nil, nil
	}
	r.keys = r.keys[:0]
	if dup {
		return nil, ErrDuplicateKey
	}
	return v, nil
}

// hasDuplicateKeys walks v depth first; the recursion is bounded by the
// depth scan already enforced. Each object's keys are checked before its
// children, so the scratch space is shared by every level.
func (r *Reader) hasDuplicateKeys(v *fastjson.Value) bool {
	switch v.Type() {
	case fastjson.TypeObject:
		o, _ := v.Object()
		if o.Len() > 1 {
			r.keys = r.keys[:0]
			o.Visit(func(k []byte, _ *fastjson.Value) { r.keys = append(r.keys, k) })
			if r.keysRepeat() {
				return true
			}
		}
		dup := false
		o.Visit(func(_ []byte, child *fastjson.Value) {
			if !dup && child.Type() >= fastjson.TypeObject && child.Type() <= fastjson.TypeArray {
				dup = r.hasDuplicateKeys(child)
			}
		})
		return dup
	case fastjson.TypeArray:
		for _, child := range v.GetArray() {
			if t := child.Type(); (t == fastjson.TypeObject || t == fastjson.TypeArray) && r.hasDuplicateKeys(child) {
				return true
			}
		}
	}
	return false
}

// keysRepeat reports whether r.keys holds the same key twice: pairwise for
// small objects, through a seeded hash table (so crafted keys cannot force
// collisions) for large ones.
func (r *Reader) keysRepeat() bool {
	keys := r.keys
	if len(keys) <= pairwiseMax {
		for i := 1; i < len(keys); i++ {
			for j := range i {
				if string(keys[i]) == string(keys[j]) {
					return true
				}
			}
		}
		return false
	}
	size := 16
	for size < 2*len(keys) {
		size <<= 1
	}
	if cap(r.table) < size {
		r.table = make([]uint32, size)
	}
	table := r.table[:size]
	clear(table)
	mask := uint64(size - 1)
	for i, k := range keys {
		h := maphash.Bytes(hashSeed, k) & mask
		for table[h] != 0 {
			if string(keys[table[h]-1]) == string(k) {
				return true
			}
			h = (h + 1) & mask
		}
		table[h] = uint32(i + 1)
	}
	return false
}

// Pool hands out Readers. The zero value is ready to use.
type Pool struct {
	pool sync.Pool
}

// Get returns a Reader from the pool, or a new one.
func (p *Pool) Get() *Reader {
	if r, ok := p.pool.Get().(*Reader); ok {
		return r
	}
	return &Reader{}
}

// Put returns r to the pool. Values read with r must not be used after.
func (p *Pool) Put(r *Reader) {
	p.pool.Put(r)
}

package jsonbody

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"testing"
	"unicode/utf8"

	"github.com/valyala/fastjson"
)

// FuzzRead compares Read with encoding/json as the reference for
// well-formedness. The documented differences, which the reference does
// not check, are computed independently here: duplicate keys (after
// unescaping), nesting depth, invalid UTF-8 and lone surrogate escapes.
// Where none of them applies, Read and json.Valid must agree; wherever
// Read accepts, json.Valid must accept and the value must decode the same.
func FuzzRead(f *testing.F) {
	for _, tc := range readCases {
		if len(tc.body) < 4096 {
			f.Add([]byte(tc.body))
		}
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var r Reader
		v, err := r.Read(body, 8)
		var e *Error
		if err != nil && !errors.As(err, &e) {
			t.Fatalf("Read(%q) = %v, not an *Error", body, err)
		}
		valid := json.Valid(body)
		if err == nil {
			if !valid {
				t.Fatalf("Read(%q) accepted what encoding/json refuses", body)
			}
			// Same value as encoding/json reads.
			d := json.NewDecoder(bytes.NewReader(body))
			d.UseNumber()
			var ref any
			if d.Decode(&ref) != nil || !sameValue(v, ref) {
				t.Fatalf("Read(%q) = %s; encoding/json reads %#v", body, v, ref)
			}
			return
		}
		if !valid {
			if err == ErrDuplicateKey {
				t.Fatalf("Read(%q) = %v for a body encoding/json refuses", body, err)
			}
			return
		}
		// encoding/json accepts: Read may refuse only for a documented reason.
		switch err {
		case ErrDuplicateKey:
			if !hasDuplicateKey(body) {
				t.Fatalf("Read(%q) = %v; reference finds no duplicate", body, err)
			}
		case ErrTooDeep:
			if maxDepthOf(body) <= 8 {
				t.Fatalf("Read(%q) = %v; reference depth %d", body, err, maxDepthOf(body))
			}
		case ErrInvalidUTF8:
			if utf8.Valid(body) && !bytes.Contains(body, []byte(`\u`)) && !bytes.Contains(body, []byte(`\U`)) {
				t.Fatalf("Read(%q) = %v for valid UTF-8 without escapes", body, err)
			}
		default:
			t.Fatalf("Read(%q) = %v; encoding/json accepts it", body, err)
		}
	})
}

// maxDepthOf returns the nesting depth of a body encoding/json accepts.
func maxDepthOf(body []byte) int {
	d := json.NewDecoder(bytes.NewReader(body))
	depth, deepest := 0, 0
	for {
		tok, err := d.Token()
		if err == io.EOF {
			return deepest
		}
		if err != nil {
			return -1
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			depth++
			deepest = max(deepest, depth)
		case json.Delim('}'), json.Delim(']'):
			depth--
		}
	}
}

// hasDuplicateKey reports whether an object in body has a key twice, as
// encoding/json decodes keys (a lone surrogate decodes to U+FFFD, so two
// different lone surrogates compare equal here; Read refuses both anyway).
func hasDuplicateKey(body []byte) bool {
	d := json.NewDecoder(bytes.NewReader(body))
	type frame struct {
		object bool
		keys   map[string]bool
		key    bool // the next token in this object is a key
	}
	var stack []*frame
	for {
		tok, err := d.Token()
		if err != nil {
			return false
		}
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if top != nil && top.object && top.key {
			if s, ok := tok.(string); ok {
				if top.keys[s] {
					return true
				}
				top.keys[s] = true
				top.key = false
				continue
			}
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, &frame{object: true, keys: map[string]bool{}, key: true})
			continue
		case json.Delim('['):
			stack = append(stack, &frame{})
			continue
		case json.Delim('}'), json.Delim(']'):
			stack = stack[:len(stack)-1]
		}
		if len(stack) > 0 && stack[len(stack)-1].object {
			stack[len(stack)-1].key = true // a value ended: a key comes next
		}
	}
}

// sameValue reports whether the fastjson value v is ref as decoded by
// encoding/json with UseNumber.
func sameValue(v *fastjson.Value, ref any) bool {
	switch ref := ref.(type) {
	case nil:
		return v.Type() == fastjson.TypeNull
	case bool:
		return v.Type() == fastjson.TypeTrue && ref || v.Type() == fastjson.TypeFalse && !ref
	case json.Number:
		return v.Type() == fastjson.TypeNumber && string(v.MarshalTo(nil)) == string(ref)
	case string:
		return v.Type() == fastjson.TypeString && string(v.GetStringBytes()) == ref
	case []any:
		a := v.GetArray()
		if v.Type() != fastjson.TypeArray || len(a) != len(ref) {
			return false
		}
		for i := range a {
			if !sameValue(a[i], ref[i]) {
				return false
			}
		}
		return true
	case map[string]any:
		o := v.GetObject()
		if o == nil || o.Len() != len(ref) {
			return false
		}
		same := true
		o.Visit(func(k []byte, child *fastjson.Value) {
			r, ok := ref[string(k)]
			same = same && ok && sameValue(child, r)
		})
		return same
	}
	return false
}

package schema

import (
	"bytes"
	"hash/maphash"
	"slices"
	"sort"
	"strings"

	"github.com/valyala/fastjson"
)

// kind is a JSON type with true and false folded into boolean.
type kind uint8

const (
	kindNull kind = iota
	kindBool
	kindNumber
	kindString
	kindArray
	kindObject
)

func kindOf(v *fastjson.Value) kind {
	switch v.Type() {
	case fastjson.TypeTrue, fastjson.TypeFalse:
		return kindBool
	case fastjson.TypeNumber:
		return kindNumber
	case fastjson.TypeString:
		return kindString
	case fastjson.TypeArray:
		return kindArray
	case fastjson.TypeObject:
		return kindObject
	}
	return kindNull
}

// constValue is an enum or const value from the schema, canonicalized at
// compile time: numbers as exact decimals (so 1 equals 1.0), strings
// unescaped, object members sorted by key.
type constValue struct {
	kind   kind
	truth  bool
	num    decimal
	str    string
	items  []*constValue
	keys   []string
	values []*constValue
}

func newConstValue(v *fastjson.Value) *constValue {
	c := &constValue{kind: kindOf(v)}
	switch c.kind {
	case kindBool:
		c.truth = v.Type() == fastjson.TypeTrue
	case kindNumber:
		d, ok := parseDecimal(v.MarshalTo(nil))
		if !ok { // unreachable: the compiler refuses such a number (exactNumbers)
			c.kind = kindNull
		}
		c.num = d
	case kindString:
		c.str = string(v.GetStringBytes())
	case kindArray:
		for _, item := range v.GetArray() {
			c.items = append(c.items, newConstValue(item))
		}
	case kindObject:
		type member struct {
			k string
			v *constValue
		}
		var ms []member
		v.GetObject().Visit(func(k []byte, child *fastjson.Value) {
			ms = append(ms, member{string(k), newConstValue(child)})
		})
		sort.Slice(ms, func(i, j int) bool { return ms[i].k < ms[j].k })
		for _, m := range ms {
			c.keys = append(c.keys, m.k)
			c.values = append(c.values, m.v)
		}
	}
	return c
}

// equal reports whether the instance v is the JSON value c.
func (c *constValue) equal(v *fastjson.Value, st *state) bool {
	if v == nil { // a property name
		return c.kind == kindString && string(st.name) == c.str
	}
	if kindOf(v) != c.kind {
		return false
	}
	switch c.kind {
	case kindNull:
		return true
	case kindBool:
		return (v.Type() == fastjson.TypeTrue) == c.truth
	case kindNumber:
		d, ok := st.decimal(v, 0)
		return ok && cmpDecimal(d, c.num) == 0
	case kindString:
		return string(v.GetStringBytes()) == c.str
	case kindArray:
		items := v.GetArray()
		if len(items) != len(c.items) {
			return false
		}
		for i, item := range items {
			if !c.items[i].equal(item, st) {
				return false
			}
		}
		return true
	case kindObject:
		o := v.GetObject()
		if o.Len() != len(c.keys) {
			return false
		}
		for i, k := range c.keys {
			child := o.Get(k)
			if child == nil || !c.values[i].equal(child, st) {
				return false
			}
		}
		return true
	}
	return false
}

// equalValues reports whether two instance values are equal as JSON values.
func equalValues(a, b *fastjson.Value, st *state) bool {
	ka := kindOf(a)
	if ka != kindOf(b) {
		return false
	}
	switch ka {
	case kindNull:
		return true
	case kindBool:
		return a.Type() == b.Type()
	case kindNumber:
		da, oka := st.decimal(a, 0)
		db, okb := st.decimal(b, 1)
		// Two numbers out of parseDecimal's range are equal when an
		// upstream reads them as the same value: uniqueItems refuses
		// [1e99999999999999999999,2e99999999999999999999] (one infinity)
		// but not [1e9999999999999999999,-1e9999999999999999999]; hashValue
		// agrees.
		return oka && okb && cmpDecimal(da, db) == 0 || !oka && !okb && outOfRange(a) == outOfRange(b)
	case kindString:
		return string(a.GetStringBytes()) == string(b.GetStringBytes())
	case kindArray:
		ia, ib := a.GetArray(), b.GetArray()
		if len(ia) != len(ib) {
			return false
		}
		for i := range ia {
			if !equalValues(ia[i], ib[i], st) {
				return false
			}
		}
		return true
	case kindObject:
		oa, ob := a.GetObject(), b.GetObject()
		if oa.Len() != ob.Len() {
			return false
		}
		same := true
		oa.Visit(func(k []byte, va *fastjson.Value) {
			if !same {
				return
			}
			vb := ob.Get(b2s(k))
			same = vb != nil && equalValues(va, vb, st)
		})
		return same
	}
	return false
}

var hashSeed = maphash.MakeSeed()

// hashValue hashes v so that equal JSON values hash alike: numbers by their
// exact decimal, objects independently of member order.
func hashValue(v *fastjson.Value, st *state) uint64 {
	const prime = 0x100000001b3
	k := kindOf(v)
	h := uint64(k+1) * 0x9e3779b97f4a7c15
	switch k {
	case kindBool:
		if v.Type() == fastjson.TypeTrue {
			h++
		}
	case kindNumber:
		if d, ok := st.decimal(v, 0); ok {
			h ^= maphash.Bytes(hashSeed, d.digits) + uint64(d.exp)*prime
			if d.neg {
				h = ^h
			}
		} else {
			h += uint64(outOfRange(v))
		}
	case kindString:
		h ^= maphash.Bytes(hashSeed, v.GetStringBytes())
	case kindArray:
		for _, item := range v.GetArray() {
			h = (h^hashValue(item, st))*prime + 1
		}
	case kindObject:
		var sum uint64
		v.GetObject().Visit(func(key []byte, child *fastjson.Value) {
			kh := maphash.Bytes(hashSeed, key)
			sum += (kh ^ hashValue(child, st)) * prime
		})
		h ^= sum
	}
	return h
}

// hashedItem is an array item's hash and index, sorted to find candidates
// for uniqueItems.
type hashedItem struct {
	hash  uint64
	index int
}

// pairwiseUnique is the array length up to which uniqueItems compares
// items pairwise; longer arrays are hashed, so a large array does not cost
// a quadratic number of comparisons.
const pairwiseUnique = 16

// itemsUnique reports whether no two items are equal JSON values.
func itemsUnique(items []*fastjson.Value, st *state) bool {
	if len(items) <= pairwiseUnique {
		for i := 1; i < len(items); i++ {
			for j := range i {
				if equalValues(items[i], items[j], st) {
					return false
				}
			}
		}
		return true
	}
	hs := st.hashed[:0]
	for i, item := range items {
		hs = append(hs, hashedItem{hashValue(item, st), i})
	}
	st.hashed = hs
	slices.SortFunc(hs, cmpHashed)
	for i := 1; i < len(hs); i++ {
		// Every pair in a run of equal hashes is compared: runs are short
		// unless the items are equal, and then the first pair decides.
		for j := i - 1; j >= 0 && hs[j].hash == hs[i].hash; j-- {
			if equalValues(items[hs[i].index], items[hs[j].index], st) {
				return false
			}
		}
	}
	return true
}

func cmpHashed(a, b hashedItem) int {
	switch {
	case a.hash < b.hash:
		return -1
	case a.hash > b.hash:
		return 1
	}
	return 0
}

// outOfRange classifies a number beyond parseDecimal's exponent range by
// what a float reader makes of it: +1 and -1 for the two infinities, 0 for
// a value that underflows to zero.
func outOfRange(v *fastjson.Value) int {
	var buf [64]byte
	raw := v.MarshalTo(buf[:0])
	i := bytes.IndexAny(raw, "eE")
	if i >= 0 && i+1 < len(raw) && raw[i+1] == '-' || i >= 0 && strings.Trim(string(raw[:i]), "-0.") == "" {
		return 0 // underflows, or a zero mantissa
	}
	if len(raw) > 0 && raw[0] == '-' {
		return -1
	}
	return 1
}

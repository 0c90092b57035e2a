package inject

// The JSON walks keep no path while they inspect: pushing every key and
// index for a location that is almost never needed was a fifth of the cost
// of a clean body. A detection records the number of the value that
// matched (Scratch.jsonHit), and the document is walked a second time in
// locating mode, counting values the same way (non-empty keys and
// strings) and keeping the path, up to that value; its location is then
// built from the path.

// startLocating switches sc to the second walk.
func (sc *Scratch) startLocating() {
	sc.locating = true
	sc.locTarget = sc.jsonHit - sc.jsonStart
	sc.locCount = 0
	sc.stopped = false
	sc.ptr = sc.ptr[:0]
}

// jsonKey is jsonValue for an object key. Under a "constructor" key, a
// "prototype" key is prototype pollution: {"constructor":{"prototype":
// {...}}} through JSON.parse and a deep merge reaches Object.prototype
// as "__proto__" does (CRS 934130 reads the two in one value).
//
// A "$type" key whose value is a number (or numbers) is MongoDB's $type
// operator ({"pass": {"$type": 2}} matches any string), where .NET's
// "$type" names a class.
func (d *Detector) jsonKey(sc *Scratch, k []byte, m uint64, underCtor, numeric bool) bool {
	if d.jsonValue(sc, k, m, ctxName) {
		return true
	}
	if underCtor && !sc.locating && string(k) == "prototype" && !d.off.Has(KindPrototypePollution) {
		d.found(sc, SourceJSON, nil, finding{kind: KindPrototypePollution, rule: ruleProto}, DecodingNone)
		return true
	}
	if numeric && !sc.locating && string(k) == "$type" && !d.off.Has(KindNoSQL) {
		d.found(sc, SourceJSON, nil, finding{kind: KindNoSQL, rule: ruleMongoOperator}, DecodingNone)
		return true
	}
	return false
}

// jsonValue is what the JSON walks call for each key (ctxName) and string
// value: an inspection, or, when locating, a count that stops the walk at
// the detected value and names its location. It reports whether the walk
// must stop.
func (d *Detector) jsonValue(sc *Scratch, v []byte, m uint64, ctx uint8) bool {
	if !sc.locating {
		return d.valueMask(sc, SourceJSON, nil, v, m, ctx)
	}
	if len(v) == 0 {
		return false
	}
	sc.locCount++
	if sc.locCount < sc.locTarget {
		return false
	}
	sc.res.Location = sc.location(SourceJSON, nil)
	sc.stopped = true
	return true
}

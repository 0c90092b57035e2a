//go:build race

package crs

// raceEnabled: the race detector slows regexp matching about tenfold, so
// the corpus tests sample (see corpusStride).
const raceEnabled = true

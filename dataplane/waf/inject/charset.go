package inject

import (
	"bytes"
	"slices"
	"unicode/utf8"

	"github.com/edgeguard/edgeguard/dataplane/headers"
)

// Bodies in UTF-16 and UTF-32. An upstream decodes a body by its declared
// charset, by its byte order mark, or, for JSON, by the NUL pattern of its
// first four bytes (RFC 4627 §3; Jackson does, whatever the Content-Type
// says). Read as bytes, such a body is NUL-interleaved and no check sees
// "<script>" in "<\x00s\x00c\x00...". So a body is inspected as its bytes
// (what a UTF-8 upstream reads), then once more transcoded to UTF-8 for
// each Unicode encoding an upstream may decode it in: the declared one
// (both byte orders when "utf-16" has no BOM: RFC 2781 says big-endian,
// Windows little-endian), the BOM's, and the NUL pattern's. A charset that
// cannot be decoded here (UTF-7, EBCDIC, ISO-2022, unknown labels) hides
// ASCII syntax in other bytes ("+ADw-" is '<' in UTF-7): a body declared
// in one is inspected as its bytes and the result marked Undecodable, which
// the stage refuses in block mode like a truncated inspection.

// readings is a set of Unicode encodings a body is also read in.
type readings uint8

const (
	readUTF16LE readings = 1 << iota
	readUTF16BE
	readUTF32LE
	readUTF32BE
	readAll = readUTF16LE | readUTF16BE | readUTF32LE | readUTF32BE
)

// declaredReadings: the encodings a declared charset stands for. "utf-16"
// and "utf-32" without a BOM may be read in either byte order.
func declaredReadings(cs headers.Charset) readings {
	switch cs {
	case headers.CharsetUTF16LE:
		return readUTF16LE
	case headers.CharsetUTF16BE:
		return readUTF16BE
	case headers.CharsetUTF16:
		return readUTF16LE | readUTF16BE
	case headers.CharsetUTF32LE:
		return readUTF32LE
	case headers.CharsetUTF32BE:
		return readUTF32BE
	case headers.CharsetUTF32:
		return readUTF32LE | readUTF32BE
	}
	return 0
}

// sniffReadings: the encodings a BOM names, or the NUL pattern of the
// first bytes shows (an ASCII character first: 00 00 00 xx is UTF-32BE,
// xx 00 00 00 UTF-32LE, 00 xx UTF-16BE, xx 00 UTF-16LE).
func sniffReadings(b []byte) readings {
	switch {
	case len(b) >= 4 && b[0] == 0 && b[1] == 0 && b[2] == 0xfe && b[3] == 0xff:
		return readUTF32BE
	case len(b) >= 4 && b[0] == 0xff && b[1] == 0xfe && b[2] == 0 && b[3] == 0:
		return readUTF32LE | readUTF16LE // UTF-16LE with a BOM then U+0000 looks the same
	case len(b) >= 2 && b[0] == 0xfe && b[1] == 0xff:
		return readUTF16BE
	case len(b) >= 2 && b[0] == 0xff && b[1] == 0xfe:
		return readUTF16LE
	case len(b) >= 4 && b[0] == 0 && b[1] == 0 && b[2] == 0 && b[3] != 0:
		return readUTF32BE
	case len(b) >= 4 && b[0] != 0 && b[1] == 0 && b[2] == 0 && b[3] == 0:
		return readUTF32LE
	case len(b) >= 2 && b[0] == 0 && b[1] != 0 && (len(b) < 4 || b[2] == 0):
		return readUTF16BE
	case len(b) >= 2 && b[0] != 0 && b[1] == 0 && (len(b) < 4 || b[3] == 0):
		return readUTF16LE
	}
	return 0
}

// bodyReadings is the set of Unicode readings of body b declared as cs.
// A BOM narrows a declared "utf-16" or "utf-32" to its byte order, as
// decoders of those labels follow it.
func bodyReadings(cs headers.Charset, b []byte) readings {
	declared, sniffed := declaredReadings(cs), sniffReadings(b)
	if (cs == headers.CharsetUTF16 || cs == headers.CharsetUTF32) && hasUnicodeBOM(b) {
		declared = 0
	}
	return declared | sniffed
}

func hasUnicodeBOM(b []byte) bool {
	return len(b) >= 2 && (b[0] == 0xfe && b[1] == 0xff || b[0] == 0xff && b[1] == 0xfe) ||
		len(b) >= 4 && b[0] == 0 && b[1] == 0 && b[2] == 0xfe && b[3] == 0xff
}

// stripUTF8BOM drops a UTF-8 byte order mark, which decoders skip.
func stripUTF8BOM(b []byte) []byte {
	if len(b) >= 3 && b[0] == 0xef && b[1] == 0xbb && b[2] == 0xbf {
		return b[3:]
	}
	return b
}

// transcode appends b read in encoding r (one bit) to dst as UTF-8, and
// reports whether all of it fit in limit bytes; when not, it stops after
// the first character past the limit. A BOM at the
// start is dropped; a lone surrogate, a code point beyond U+10FFFF and a
// partial code unit at the end become U+FFFD, as decoders replace them.
func transcode(dst, b []byte, r readings, limit int) ([]byte, bool) {
	unit, most := 2, len(b)/2*3 // UTF-8 takes at most 3 bytes per UTF-16 unit
	if r&(readUTF32LE|readUTF32BE) != 0 {
		unit, most = 4, len(b) // and 4 per UTF-32 one
	}
	// Grow once, so that the loop appends within capacity.
	dst = slices.Grow(dst, min(most, limit)+2*utf8.UTFMax)
	start := len(dst)
	i := 0
	for i+unit <= len(b) {
		var c rune
		switch r {
		case readUTF16LE, readUTF16BE:
			u := unit16(b[i:], r == readUTF16LE)
			i += 2
			c = rune(u)
			if u >= 0xd800 && u < 0xdc00 && i+2 <= len(b) {
				if lo := unit16(b[i:], r == readUTF16LE); lo >= 0xdc00 && lo < 0xe000 {
					c = 0x10000 + (rune(u)-0xd800)<<10 + rune(lo) - 0xdc00
					i += 2
				}
			}
		default:
			if r == readUTF32LE {
				c = rune(b[i]) | rune(b[i+1])<<8 | rune(b[i+2])<<16 | rune(b[i+3])<<24
			} else {
				c = rune(b[i+3]) | rune(b[i+2])<<8 | rune(b[i+1])<<16 | rune(b[i])<<24
			}
			i += 4
		}
		if c == 0xfeff && i == unit {
			continue // the BOM: the first unit only (a second U+FEFF is text)
		}
		dst = utf8.AppendRune(dst, c) // U+FFFD for surrogates and c > U+10FFFF
		if len(dst)-start > limit {
			return dst, false
		}
	}
	if i < len(b) {
		dst = utf8.AppendRune(dst, utf8.RuneError)
	}
	return dst, len(dst)-start <= limit
}

func unit16(b []byte, le bool) uint16 {
	if le {
		return uint16(b[0]) | uint16(b[1])<<8
	}
	return uint16(b[1]) | uint16(b[0])<<8
}

// maxKeptUTF8 bounds the transcoding buffers a pooled Scratch keeps, so
// that one large UTF-16 body does not pin its size in the pool.
const maxKeptUTF8 = 256 << 10

// xmlUndecodable reports whether an XML body names, in its declaration
// (<?xml ... encoding="..."?>) or by its first bytes, an encoding that
// cannot be read here: XML parsers decode by it (an EBCDIC document starts
// with "<?xm" in EBCDIC, 4C 6F A7 94, and Xerces reads it), and none of
// its markup is ASCII to the checks. UTF-7 declarations are a detection
// of their own (markup.go).
func xmlUndecodable(b []byte) bool {
	if len(b) >= 4 && b[0] == 0x4c && b[1] == 0x6f && b[2] == 0xa7 && b[3] == 0x94 {
		return true
	}
	b = b[skipSpace(b, 0):]
	if !hasPrefixFold(b, 0, "<?xml") {
		return false
	}
	end := bytes.Index(b, []byte("?>"))
	if end < 0 {
		end = min(len(b), 256)
	}
	decl := b[:end]
	e := indexFold(decl, "encoding")
	if e < 0 {
		return false
	}
	j := skipSpace(decl, e+len("encoding"))
	if j >= len(decl) || decl[j] != '=' {
		return false
	}
	j = skipSpace(decl, j+1)
	if j >= len(decl) || decl[j] != '"' && decl[j] != '\'' {
		return true // no quoted name: parsers differ, so does the reading
	}
	q := decl[j]
	k := bytes.IndexByte(decl[j+1:], q)
	if k < 0 {
		return true
	}
	cs := headers.CharsetLabel(decl[j+1 : j+1+k])
	return cs == headers.CharsetOther
}

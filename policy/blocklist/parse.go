package blocklist

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/edgeguard/edgeguard/bpf/cidrset"
)

// Format is how a list body is written.
type Format int

const (
	// FormatText is one address or CIDR per line; "#" and ";" start a
	// comment anywhere on a line (FireHOL .netset, Spamhaus DROP).
	FormatText Format = iota
	// FormatJSON is an array of strings, or {"version": N, "entries": [...]}.
	FormatJSON
)

// String names the format.
func (f Format) String() string {
	if f == FormatJSON {
		return "json"
	}
	return "text"
}

// maxReported bounds the bad lines one error lists; the rest are counted.
const maxReported = 100

// ErrTooManyEntries is returned (wrapped) when a list exceeds Limits.MaxEntries.
var ErrTooManyEntries = errors.New("too many entries")

// Limits bound one parse.
type Limits struct {
	// MaxEntries stops the parse as soon as a list has more entries
	// (0: no limit).
	MaxEntries int
}

// LineError is one refused line (or JSON entry).
type LineError struct {
	Line   int    `json:"line"`
	Text   string `json:"text,omitempty"`
	Reason string `json:"reason"`
}

func (e *LineError) Error() string {
	if e.Line == 0 {
		return fmt.Sprintf("%q: %s", e.Text, e.Reason)
	}
	if e.Text == "" {
		return fmt.Sprintf("line %d: %s", e.Line, e.Reason)
	}
	return fmt.Sprintf("line %d: %q: %s", e.Line, e.Text, e.Reason)
}

// ParseError rejects a whole list: it names the first bad lines and counts
// all of them.
type ParseError struct {
	Lines []LineError // the first maxReported
	Total int         // every bad line
}

func (e *ParseError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "parse blocklist: %d bad line", e.Total)
	if e.Total != 1 {
		b.WriteByte('s')
	}
	for i := range e.Lines {
		if i == 10 {
			fmt.Fprintf(&b, "; and %d more", e.Total-10)
			break
		}
		b.WriteString("; ")
		b.WriteString(e.Lines[i].Error())
	}
	return b.String()
}

func (e *ParseError) add(line int, text []byte, reason string) {
	e.Total++
	if len(e.Lines) < maxReported {
		e.Lines = append(e.Lines, LineError{Line: line, Text: quoteText(text), Reason: reason})
	}
}

func (e *ParseError) orNil() error {
	if e.Total == 0 {
		return nil
	}
	return e
}

// List is a parsed full list.
type List struct {
	Version    uint64 // from a JSON object's "version"
	HasVersion bool
	Entries    []cidrset.Prefix // in input order, duplicates kept
}

// Delta is a parsed change: Add is applied first, then Remove.
type Delta struct {
	Version    uint64
	HasVersion bool
	Add        []cidrset.Prefix
	Remove     []cidrset.Prefix
}

// Parse reads a full list in format f from r, streaming: r is read once,
// line by line or token by token, and only the parsed entries are kept.
// Any bad entry fails the parse with a *ParseError listing line numbers and
// reasons; exceeding lim.MaxEntries stops it at once with ErrTooManyEntries.
func Parse(r io.Reader, f Format, lim Limits) (*List, error) {
	if f == FormatJSON {
		return parseJSONList(r, lim)
	}
	return ParseText(r, lim)
}

// ParseText reads one address or CIDR per line. Blank lines and comments
// ("#" or ";" up to the end of the line) are skipped; surrounding spaces,
// tabs, a CR before the LF and a UTF-8 byte order mark are ignored.
func ParseText(r io.Reader, lim Limits) (*List, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	var acc accumulator
	perr := &ParseError{}
	for line := 1; ; line++ {
		raw, err := br.ReadSlice('\n')
		if line == 1 {
			raw = bytes.TrimPrefix(raw, []byte("\xef\xbb\xbf"))
		}
		comment := commentAt(raw)
		if comment >= 0 {
			raw = raw[:comment]
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			if comment < 0 { // no comment in the first 64 KiB: not a list line
				perr.add(line, raw, reasonTooLong)
				raw = nil
			}
			// The rest of the line is comment (or junk already reported).
			raw = bytes.Clone(raw) // the next read reuses the buffer
			for errors.Is(err, bufio.ErrBufferFull) {
				_, err = br.ReadSlice('\n')
			}
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("read blocklist: line %d: %w", line, err)
		}
		if entry := trimSpace(raw); len(entry) > 0 {
			switch p, reason := parseEntry(entry); {
			case hasSpace(entry):
				perr.add(line, entry, reasonTrailing)
			case reason != "":
				perr.add(line, entry, reason)
			case lim.MaxEntries > 0 && acc.n >= lim.MaxEntries:
				return nil, fmt.Errorf("parse blocklist: line %d: %w (limit %d)", line, ErrTooManyEntries, lim.MaxEntries)
			default:
				acc.add(p)
			}
		}
		if err != nil { // io.EOF
			break
		}
	}
	if err := perr.orNil(); err != nil {
		return nil, err
	}
	return &List{Entries: acc.slice()}, nil
}

// commentAt returns the index of the first '#' or ';' in b, or -1.
func commentAt(b []byte) int {
	for i, c := range b {
		if c == '#' || c == ';' {
			return i
		}
	}
	return -1
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f'
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && isSpace(b[0]) {
		b = b[1:]
	}
	for len(b) > 0 && isSpace(b[len(b)-1]) {
		b = b[:len(b)-1]
	}
	return b
}

func hasSpace(b []byte) bool {
	for _, c := range b {
		if isSpace(c) {
			return true
		}
	}
	return false
}

// accumulator collects entries in fixed-size chunks, so that a large list
// is copied once at the end instead of at every growth of one slice.
type accumulator struct {
	chunks [][]cidrset.Prefix
	n      int
}

const chunkLen = 1 << 15

func (a *accumulator) add(p cidrset.Prefix) {
	if len(a.chunks) == 0 || len(a.chunks[len(a.chunks)-1]) == chunkLen {
		a.chunks = append(a.chunks, make([]cidrset.Prefix, 0, chunkLen))
	}
	last := &a.chunks[len(a.chunks)-1]
	*last = append(*last, p)
	a.n++
}

func (a *accumulator) slice() []cidrset.Prefix {
	if len(a.chunks) == 1 {
		return a.chunks[0]
	}
	out := make([]cidrset.Prefix, 0, a.n)
	for _, c := range a.chunks {
		out = append(out, c...)
	}
	return out
}

// ParseDelta reads a JSON change: {"version": N, "add": [...], "remove": [...]},
// every key optional. Bad entries fail it as in Parse.
func ParseDelta(r io.Reader, lim Limits) (*Delta, error) {
	j := newJSONReader(r)
	d := &Delta{}
	perr := &ParseError{}
	n := 0
	err := j.object(func(key string) error {
		switch key {
		case "version":
			v, err := j.uint()
			d.Version, d.HasVersion = v, true
			return err
		case "add":
			return j.entries(key, &d.Add, perr, lim, &n)
		case "remove":
			return j.entries(key, &d.Remove, perr, lim, &n)
		}
		return j.errorf("unknown key %q (want version, add, remove)", key)
	})
	if err := j.finish(err, perr); err != nil {
		return nil, err
	}
	return d, nil
}

func parseJSONList(r io.Reader, lim Limits) (*List, error) {
	j := newJSONReader(r)
	l := &List{}
	perr := &ParseError{}
	n := 0
	c, err := j.peek()
	switch {
	case err != nil:
	case c == '[':
		err = j.entries("entries", &l.Entries, perr, lim, &n)
	case c == '{':
		err = j.object(func(key string) error {
			switch key {
			case "version":
				v, err := j.uint()
				l.Version, l.HasVersion = v, true
				return err
			case "entries":
				return j.entries(key, &l.Entries, perr, lim, &n)
			}
			return j.errorf("unknown key %q (want version, entries)", key)
		})
	default:
		err = j.errorf("a list must be a JSON array of strings or an object with \"entries\"")
	}
	if err := j.finish(err, perr); err != nil {
		return nil, err
	}
	return l, nil
}

// finish ends a document read with err: nothing but space may follow it,
// and the bad entries collected in perr, if any, are the error.
func (j *jsonReader) finish(err error, perr *ParseError) error {
	if err == nil {
		err = j.end()
	}
	if err != nil {
		return err
	}
	return perr.orNil()
}

// jsonReader is a streaming reader for the small JSON grammar the API
// accepts: objects with known keys, arrays of strings, unsigned integers.
type jsonReader struct {
	r    *bufio.Reader
	line int
	buf  []byte // the last string read
}

func newJSONReader(r io.Reader) *jsonReader {
	br := bufio.NewReaderSize(r, 64<<10)
	// A byte order mark, as Windows editors write, is accepted as in text
	// lists.
	if b, err := br.Peek(3); err == nil && string(b) == "\xef\xbb\xbf" {
		_, _ = br.Discard(3)
	}
	return &jsonReader{r: br, line: 1}
}

// errSyntax marks a malformed JSON document.
var errSyntax = errors.New("bad JSON")

func (j *jsonReader) errorf(format string, args ...any) error {
	return fmt.Errorf("parse blocklist: line %d: %w: %s", j.line, errSyntax, fmt.Sprintf(format, args...))
}

func (j *jsonReader) readErr(err error) error {
	if errors.Is(err, io.EOF) {
		return j.errorf("unexpected end of input")
	}
	return fmt.Errorf("read blocklist: line %d: %w", j.line, err)
}

// peek skips white space and returns the next byte without consuming it.
func (j *jsonReader) peek() (byte, error) {
	c, err := j.skipSpace()
	if err != nil {
		return 0, j.readErr(err)
	}
	return c, nil
}

// skipSpace is peek with the reader's own errors (io.EOF at the end).
func (j *jsonReader) skipSpace() (byte, error) {
	for {
		c, err := j.r.ReadByte()
		if err != nil {
			return 0, err
		}
		switch c {
		case '\n':
			j.line++
		case ' ', '\t', '\r':
		default:
			_ = j.r.UnreadByte()
			return c, nil
		}
	}
}

func (j *jsonReader) expect(want byte) error {
	c, err := j.peek()
	if err != nil {
		return err
	}
	if c != want {
		return j.errorf("expected %q, found %q", want, c)
	}
	_, _ = j.r.ReadByte()
	return nil
}

// end checks that nothing but white space follows the document.
func (j *jsonReader) end() error {
	c, err := j.skipSpace()
	switch {
	case errors.Is(err, io.EOF):
		return nil
	case err != nil:
		return j.readErr(err)
	}
	return j.errorf("unexpected %q after the document", c)
}

// object reads {"key": value, ...}, calling field for each key to read its
// value. A key may appear once.
func (j *jsonReader) object(field func(key string) error) error {
	c, empty, err := j.open('{', '}')
	if err != nil || empty {
		return err
	}
	seen := map[string]bool{}
	for {
		if c != '"' {
			return j.errorf("expected a key, found %q", c)
		}
		if err := j.string(); err != nil {
			return err
		}
		key := string(j.buf)
		if seen[key] {
			return j.errorf("duplicate key %q", key)
		}
		seen[key] = true
		if err := j.expect(':'); err != nil {
			return err
		}
		if err := field(key); err != nil {
			return err
		}
		var done bool
		if c, done, err = j.next('}'); err != nil || done {
			return err
		}
	}
}

// entries reads an array of strings into out, recording bad entries in
// perr (by line and index) and counting all entries in n against lim.
func (j *jsonReader) entries(key string, out *[]cidrset.Prefix, perr *ParseError, lim Limits, n *int) error {
	c, empty, err := j.open('[', ']')
	if err != nil || empty {
		return err
	}
	for i := 0; ; i++ {
		if c != '"' {
			return j.errorf("%s[%d]: %s", key, i, reasonNotString)
		}
		line := j.line
		if err := j.string(); err != nil {
			return err
		}
		if p, reason := parseEntry(j.buf); reason != "" {
			perr.add(line, j.buf, key+"["+strconv.Itoa(i)+"]: "+reason)
		} else {
			if lim.MaxEntries > 0 && *n >= lim.MaxEntries {
				return fmt.Errorf("parse blocklist: line %d: %w (limit %d)", line, ErrTooManyEntries, lim.MaxEntries)
			}
			*n++
			*out = append(*out, p)
		}
		var done bool
		if c, done, err = j.next(']'); err != nil || done {
			return err
		}
	}
}

// open reads the opening byte of an object or array and reports whether
// it is empty (closed at once); otherwise it returns the first byte of the
// first element, not consumed.
func (j *jsonReader) open(opening, closing byte) (first byte, empty bool, err error) {
	if err := j.expect(opening); err != nil {
		return 0, false, err
	}
	c, err := j.peek()
	if err != nil || c != closing {
		return c, false, err
	}
	_, _ = j.r.ReadByte()
	return 0, true, nil
}

// next reads what follows an element: the closing byte (done), or a comma,
// returning the first byte of the next element, not consumed.
func (j *jsonReader) next(closing byte) (first byte, done bool, err error) {
	c, err := j.peek()
	if err != nil {
		return 0, false, err
	}
	_, _ = j.r.ReadByte()
	switch c {
	case closing:
		return 0, true, nil
	case ',':
		c, err = j.peek()
		return c, false, err
	}
	return 0, false, j.errorf("expected ',' or '%c', found %q", closing, c)
}

// string reads a JSON string (the next byte is its opening quote) into
// j.buf, decoding escapes. Strings longer than maxEntryBytes are refused.
func (j *jsonReader) string() error {
	_, _ = j.r.ReadByte()
	j.buf = j.buf[:0]
	for {
		c, err := j.r.ReadByte()
		if err != nil {
			return j.readErr(err)
		}
		switch {
		case c == '"':
			return nil
		case c < 0x20:
			return j.errorf("control character in a string")
		case c == '\\':
			if err := j.escape(); err != nil {
				return err
			}
		default:
			j.buf = append(j.buf, c)
		}
		if len(j.buf) > maxEntryBytes {
			return j.errorf("string longer than %d bytes", maxEntryBytes)
		}
	}
}

func (j *jsonReader) escape() error {
	c, err := j.r.ReadByte()
	if err != nil {
		return j.readErr(err)
	}
	switch c {
	case '"', '\\', '/':
		j.buf = append(j.buf, c)
	case 'b':
		j.buf = append(j.buf, '\b')
	case 'f':
		j.buf = append(j.buf, '\f')
	case 'n':
		j.buf = append(j.buf, '\n')
	case 'r':
		j.buf = append(j.buf, '\r')
	case 't':
		j.buf = append(j.buf, '\t')
	case 'u':
		r, err := j.hex4()
		if err != nil {
			return err
		}
		if r >= 0xd800 && r < 0xdc00 { // high surrogate: a low one should follow
			if b, _ := j.r.Peek(2); len(b) == 2 && b[0] == '\\' && b[1] == 'u' {
				_, _ = j.r.Discard(2)
				lo, err := j.hex4()
				if err != nil {
					return err
				}
				if lo >= 0xdc00 && lo < 0xe000 {
					j.buf = utf8.AppendRune(j.buf, (r-0xd800)<<10|(lo-0xdc00)+0x10000)
					return nil
				}
				j.buf = utf8.AppendRune(j.buf, 0xfffd)
				r = lo
			}
		}
		if r >= 0xd800 && r < 0xe000 {
			r = 0xfffd
		}
		j.buf = utf8.AppendRune(j.buf, r)
	default:
		return j.errorf("bad escape \\%c", c)
	}
	return nil
}

func (j *jsonReader) hex4() (rune, error) {
	var r rune
	for k := 0; k < 4; k++ {
		c, err := j.r.ReadByte()
		if err != nil {
			return 0, j.readErr(err)
		}
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		case c >= 'A' && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, j.errorf("bad \\u escape")
		}
		r = r<<4 | rune(c)
	}
	return r, nil
}

// uint reads a non-negative JSON integer.
func (j *jsonReader) uint() (uint64, error) {
	c, err := j.peek()
	if err != nil {
		return 0, err
	}
	var digits []byte
	for c >= '0' && c <= '9' || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E' {
		digits = append(digits, c)
		_, _ = j.r.ReadByte()
		if len(digits) > 24 {
			break
		}
		if b, err := j.r.Peek(1); err == nil {
			c = b[0]
		} else {
			break
		}
	}
	if len(digits) == 0 {
		// A string, true, null, an object...: name what it starts with.
		return 0, j.errorf("version must be an integer 0-%d, found a value starting %q", MaxVersion, c)
	}
	v, err := strconv.ParseUint(string(digits), 10, 64)
	if err != nil || (len(digits) > 1 && digits[0] == '0') {
		return 0, j.errorf("version must be an integer 0-%d, found %q", MaxVersion, quoteText(digits))
	}
	return v, nil
}

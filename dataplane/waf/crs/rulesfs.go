package crs

import (
	"bytes"
	"io/fs"
	"strings"
)

// rulesFS serves the embedded CRS with each rule's msg and logdata
// actions removed. Coraza expands both macros (into the RULE collection)
// every time it evaluates a rule, matched or not; the gateway reports rule
// ids and never reads them, so they are pure cost. Nothing that decides a
// match is touched: the rewrite only deletes whole lines of the form
// `    msg:'...',\` and `    logdata:'...',\`.
type rulesFS struct{ fs.FS }

func (r rulesFS) ReadFile(name string) ([]byte, error) {
	b, err := fs.ReadFile(r.FS, name)
	if err != nil || !strings.HasSuffix(name, ".conf") {
		return b, err
	}
	return stripMessages(b), nil
}

func stripMessages(b []byte) []byte {
	out := make([]byte, 0, len(b))
	for len(b) > 0 {
		line := b
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			line, b = b[:i+1], b[i+1:]
		} else {
			b = nil
		}
		t := bytes.TrimSpace(line)
		if (bytes.HasPrefix(t, []byte("msg:'")) || bytes.HasPrefix(t, []byte("logdata:'"))) && bytes.HasSuffix(t, []byte("',\\")) {
			continue
		}
		out = append(out, line...)
	}
	return out
}

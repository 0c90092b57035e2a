package crs

import (
	"bytes"
	"io/fs"
	"strings"
)

// rulesFS serves the embedded CRS rewritten in two ways, each of which
// leaves what decides a match as it is:
//
//   - Each rule's msg and logdata actions are removed (unless
//     keepMessages). Coraza expands both macros (into the RULE collection)
//     every time it evaluates a rule, matched or not; the gateway reports
//     rule ids and never reads them, so they are pure cost. The rewrite
//     only deletes whole lines of the form `    msg:'...',\` and
//     `    logdata:'...',\`.
//   - The @rx operator is renamed to rx (unless rx is empty): the
//     gateway's rxOperator, which matches as Coraza's does but skips
//     regular expressions whose required literals an input lacks.
type rulesFS struct {
	fs.FS
	keepMessages bool
	rx           string
}

func (r rulesFS) ReadFile(name string) ([]byte, error) {
	b, err := fs.ReadFile(r.FS, name)
	if err != nil || !strings.HasSuffix(name, ".conf") {
		return b, err
	}
	if !r.keepMessages {
		b = stripMessages(b)
	}
	if r.rx != "" {
		b = renameRx(b, r.rx)
	}
	return b, nil
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

// renameRx renames the operator of every rule that names @rx (as `"@rx `
// or `"!@rx `, the only ways CRS writes it) to name.
func renameRx(b []byte, name string) []byte {
	b = bytes.ReplaceAll(b, []byte(`"@rx `), []byte(`"@`+name+` `))
	return bytes.ReplaceAll(b, []byte(`"!@rx `), []byte(`"!@`+name+` `))
}

package config

import (
	"fmt"
	"slices"
	"strings"

	"github.com/pelletier/go-toml/v2"
	"go.yaml.in/yaml/v3"
)

// scanNodes walks the YAML (or JSON) node tree before viper sees it, which
// lower-cases every key and so merges keys that differ only in case, the
// later winning (path: / and Path: /zzz in one route). It refuses those as
// the YAML parser refuses exact duplicates, and records every scalar as
// written, by lower-cased key path, so that an error can quote a number
// viper has already turned into a float.
func scanNodes(data []byte) (written map[string]string, errs Errors) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, nil // the parser's own error is reported by viper
	}
	written = map[string]string{}
	var walk func(n *yaml.Node, path string)
	walk = func(n *yaml.Node, path string) {
		switch n.Kind {
		case yaml.DocumentNode:
			for _, c := range n.Content {
				walk(c, path)
			}
		case yaml.SequenceNode:
			for i, c := range n.Content {
				walk(c, fmt.Sprintf("%s[%d]", path, i))
			}
		case yaml.MappingNode:
			seen := map[string]*yaml.Node{}
			for i := 0; i+1 < len(n.Content); i += 2 {
				k, v := n.Content[i], n.Content[i+1]
				if k.Kind != yaml.ScalarNode || k.Tag == "!!merge" {
					continue
				}
				lower := strings.ToLower(k.Value)
				if prev, dup := seen[lower]; dup && prev.Value != k.Value {
					errs = append(errs, FieldError{Key: joinKey(path, k.Value), Msg: fmt.Sprintf(
						"%q (line %d) and %q (line %d) differ only in case: keys are case-insensitive, so the later would silently replace the earlier; keep one",
						prev.Value, prev.Line, k.Value, k.Line)})
				} else if !dup {
					seen[lower] = k
				}
				walk(v, joinKey(path, lower))
			}
		case yaml.ScalarNode:
			written[path] = n.Value
		}
	}
	walk(&doc, "")
	return written, errs
}

// writtenAs returns how the file wrote the value at a decoder's key path
// (map entries are "a[b]" there, "a.b" here).
func writtenAs(written map[string]string, key string) (string, bool) {
	var b strings.Builder
	for i := 0; i < len(key); i++ {
		if key[i] == '[' {
			end := strings.IndexByte(key[i:], ']')
			if end > 0 {
				inner := key[i+1 : i+end]
				if strings.Trim(inner, "0123456789") != "" { // a map key, not an index
					b.WriteString("." + inner)
					i += end
					continue
				}
			}
		}
		b.WriteByte(key[i])
	}
	s, ok := written[strings.ToLower(b.String())]
	return s, ok
}

// tomlCaseVariants is scanNodes' case check for TOML, whose keys are
// case-sensitive but reach viper lower-cased just the same. The decoded
// tree has no line numbers; the error names both spellings.
func tomlCaseVariants(data []byte) Errors {
	var doc map[string]any
	if toml.Unmarshal(data, &doc) != nil {
		return nil // the parser's own error is reported by viper
	}
	var errs Errors
	var walk func(v any, path string)
	walk = func(v any, path string) {
		switch v := v.(type) {
		case []any:
			for i, e := range v {
				walk(e, fmt.Sprintf("%s[%d]", path, i))
			}
		case map[string]any:
			keys := make([]string, 0, len(v))
			for k := range v {
				keys = append(keys, k)
			}
			slices.Sort(keys)
			seen := map[string]string{}
			for _, k := range keys {
				lower := strings.ToLower(k)
				if prev, dup := seen[lower]; dup {
					errs = append(errs, FieldError{Key: joinKey(path, k), Msg: fmt.Sprintf(
						"%q and %q differ only in case: keys are case-insensitive, so one would silently replace the other; keep one", prev, k)})
					continue
				}
				seen[lower] = k
				walk(v[k], joinKey(path, lower))
			}
		}
	}
	walk(doc, "")
	return errs
}

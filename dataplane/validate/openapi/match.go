package openapi

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/edgeguard/edgeguard/dataplane/pathnorm"
)

// segment is one segment of a path template: a literal, or a variable
// between an optional literal prefix and suffix ("{name}.json").
type segment struct {
	literal        string // the normalized literal, when name is ""
	name           string // the variable
	prefix, suffix string
}

// shape is the segment with the variable's name left out: two templates
// whose segments have the same shapes are the same template.
func (s segment) shape() string {
	if s.name == "" {
		return s.literal
	}
	return s.prefix + "{}" + s.suffix
}

// parseTemplate splits a paths key such as "/orders/{id}/items" into
// segments, normalizing literals as request paths are normalized.
func parseTemplate(p string) ([]segment, error) {
	if !strings.HasPrefix(p, "/") {
		return nil, errors.New("must start with /")
	}
	var segs []segment
	parts := strings.Split(p[1:], "/")
	names := map[string]bool{}
	for i, part := range parts {
		if part == "" && i < len(parts)-1 {
			return nil, errors.New("empty segment")
		}
		open, close := strings.Count(part, "{"), strings.Count(part, "}")
		switch {
		case open == 0 && close == 0:
			lit, err := normalizeLiteral(part)
			if err != nil {
				return nil, err
			}
			segs = append(segs, segment{literal: lit})
		case open == 1 && close == 1:
			i, j := strings.IndexByte(part, '{'), strings.IndexByte(part, '}')
			if j < i+2 {
				return nil, fmt.Errorf("segment %q: empty or malformed template expression", part)
			}
			s := segment{name: part[i+1 : j]}
			var err error
			if s.prefix, err = normalizeLiteral(part[:i]); err != nil {
				return nil, err
			}
			if s.suffix, err = normalizeLiteral(part[j+1:]); err != nil {
				return nil, err
			}
			if names[s.name] {
				return nil, fmt.Errorf("variable {%s} used twice", s.name)
			}
			names[s.name] = true
			segs = append(segs, s)
		default:
			return nil, fmt.Errorf("segment %q: one template expression per segment is supported", part)
		}
	}
	return segs, nil
}

// normalizeLiteral normalizes a literal part of a segment as the request
// path is normalized (unreserved characters decoded, hex upper case).
func normalizeLiteral(s string) (string, error) {
	if s == "" {
		return "", nil
	}
	if s == "." || s == ".." {
		return "", fmt.Errorf("dot segment %q", s)
	}
	out, err := pathnorm.Normalize(nil, []byte("/"+s))
	if err != nil || bytes.Count(out, []byte{'/'}) != 1 {
		return "", fmt.Errorf("segment %q is not a valid path segment", s)
	}
	return string(out[1:]), nil
}

// node is a node of the template trie: one level per path segment.
type node struct {
	literal   map[string]*node
	templates []*templateChild // longest literal prefix and suffix first
	entry     *pathEntry       // a template ends here
}

type templateChild struct {
	prefix, suffix string
	next           *node
}

// span is a template variable's value: rel[start:end].
type span struct{ start, end int }

// insert adds the template segs, ending in e, and reports false when
// the same template is there already.
func (n *node) insert(segs []segment, e *pathEntry) bool {
	for _, s := range segs {
		if s.name == "" {
			if n.literal == nil {
				n.literal = map[string]*node{}
			}
			next := n.literal[s.literal]
			if next == nil {
				next = &node{}
				n.literal[s.literal] = next
			}
			n = next
			continue
		}
		i := slices.IndexFunc(n.templates, func(t *templateChild) bool { return t.prefix == s.prefix && t.suffix == s.suffix })
		if i < 0 {
			n.templates = append(n.templates, &templateChild{prefix: s.prefix, suffix: s.suffix, next: &node{}})
			slices.SortStableFunc(n.templates, func(a, b *templateChild) int {
				return (len(b.prefix) + len(b.suffix)) - (len(a.prefix) + len(a.suffix))
			})
			i = slices.IndexFunc(n.templates, func(t *templateChild) bool { return t.prefix == s.prefix && t.suffix == s.suffix })
		}
		n = n.templates[i].next
	}
	if n.entry != nil {
		return false
	}
	n.entry = e
	return true
}

// match finds the template rel[pos:] matches, the segment at pos being
// number depth, and records each variable's span in caps[depth]. A
// literal segment is tried before templates, and a failed literal branch
// falls back to the templates: the search visits each trie node at most
// once, so it costs at most the size of the trie.
func (n *node) match(rel []byte, pos, depth int, caps []span) *pathEntry {
	end := bytes.IndexByte(rel[pos:], '/')
	last := end < 0
	if last {
		end = len(rel)
	} else {
		end += pos
	}
	seg := rel[pos:end]
	if next := n.literal[string(seg)]; next != nil {
		if e := next.follow(rel, end, depth, caps, last); e != nil {
			return e
		}
	}
	for _, t := range n.templates {
		if len(seg) <= len(t.prefix)+len(t.suffix) ||
			string(seg[:len(t.prefix)]) != t.prefix || string(seg[len(seg)-len(t.suffix):]) != t.suffix {
			continue
		}
		caps[depth] = span{pos + len(t.prefix), end - len(t.suffix)}
		if e := t.next.follow(rel, end, depth, caps, last); e != nil {
			return e
		}
	}
	return nil
}

func (n *node) follow(rel []byte, end, depth int, caps []span, last bool) *pathEntry {
	if last {
		return n.entry
	}
	if n.literal == nil && n.templates == nil {
		return nil
	}
	return n.match(rel, end+1, depth+1, caps)
}

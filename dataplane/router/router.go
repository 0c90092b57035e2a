// Package router selects the route for a request: a compiled, immutable table
// built once from route specs (host, methods, path, exact or prefix match)
// and queried on every request by host, method and normalized path.
//
// Precedence, from strongest to weakest: a route for the request's exact
// host, then for the longest matching wildcard host, then host-less routes;
// within a host, an Exact route, then the longest Prefix route; declaration
// order breaks the remaining ties. The most specific routes whose host and
// path match decide the outcome alone: if none of them allows the method the
// result is MethodNotAllowed, and a less specific route (such as a catch-all
// "/") is never consulted. That keeps a method restriction on a protected
// route from being bypassed through a broader route.
//
// The router must never normalize or decode paths itself (callers pass the
// output of pathnorm.Normalize), never allocate in Match, and never be
// mutated after New: tables are swapped whole on reload.
package router

import (
	"bytes"
	"errors"
	"fmt"
	"math/bits"
	"net/netip"
	"slices"
	"strings"

	"github.com/edgeguard/edgeguard/dataplane/pathnorm"
)

// MatchKind says how a route's Path is compared with the request path.
type MatchKind uint8

const (
	// Exact matches the path exactly, give or take one trailing slash:
	// "/login" matches "/login" and "/login/" (most frameworks serve both
	// alike, so a policy on one must hold on the other).
	Exact MatchKind = iota
	// Prefix matches the path and everything below it, on segment
	// boundaries: "/api" matches "/api", "/api/" and "/api/x" but not
	// "/apix". "/api/" matches the same paths, and "/" matches every path.
	Prefix
)

// String returns "exact" or "prefix".
func (k MatchKind) String() string {
	switch k {
	case Exact:
		return "exact"
	case Prefix:
		return "prefix"
	}
	return fmt.Sprintf("MatchKind(%d)", uint8(k))
}

// Spec describes one route before compilation.
type Spec[T any] struct {
	// Name identifies the route in errors, logs and metrics; it must be
	// unique within a table.
	Name string
	// Host is "" for any host, an exact name ("api.example.com"), or a
	// wildcard ("*.example.com", matching any name that ends in
	// ".example.com", at any depth, but not "example.com" itself). Hosts
	// are compared case-insensitively and a request's ":port" is ignored.
	// An IPv6 literal is written in brackets: "[2001:db8::1]".
	Host string
	// Methods lists the allowed methods; empty allows any. Methods are
	// upper-cased at compile time and matched exactly; HEAD is allowed
	// wherever GET is.
	Methods []string
	// Path must start with '/' and be normalized (pathnorm.Normalize
	// returns it unchanged).
	Path string
	Kind MatchKind
	// CaseInsensitive compares the path ignoring ASCII case.
	CaseInsensitive bool
	// Value is returned by Match for this route.
	Value T
}

// Result is the outcome of Match. The zero value is NoRoute.
type Result uint8

const (
	// NoRoute means no route matches the host and path.
	NoRoute Result = iota
	// Matched means a route matches host, path and method.
	Matched
	// MethodNotAllowed means the most specific routes matching the host
	// and path do not allow the method.
	MethodNotAllowed
)

// String returns "no_route", "matched" or "method_not_allowed".
func (r Result) String() string {
	switch r {
	case NoRoute:
		return "no_route"
	case Matched:
		return "matched"
	case MethodNotAllowed:
		return "method_not_allowed"
	}
	return fmt.Sprintf("Result(%d)", uint8(r))
}

// Table is a compiled route table. It is immutable and safe for concurrent
// use.
type Table[T any] struct {
	routes  []route[T] // declaration order
	hosts   hostIndex  // groups of routes that name a host
	anyHost *hostGroup // nil when every route names a host

	// Key lengths over all groups: Match hashes a path prefix only where
	// some group may hold a key that long.
	prefixLens, exactLens lengthSet
	prefixMax, exactMax   int
}

type route[T any] struct {
	name    string
	value   T
	host    string // normalized
	path    string
	key     string // Exact: the path; Prefix: the path without a trailing slash ("" for "/")
	kind    MatchKind
	fold    bool
	methods methodSet
	// allow is the Allow header of a 405 this route decides: the methods
	// of every route with its host, kind and key.
	allow string
}

// hostGroup holds the routes of one host (or of no host), indexed by the
// case-folded hash of their keys.
type hostGroup struct {
	exact, prefix index
}

// New compiles specs into a Table. It reports every problem it finds, each
// naming its route, joined with errors.Join.
func New[T any](specs []Spec[T]) (*Table[T], error) {
	t := &Table[T]{routes: make([]route[T], 0, len(specs))}
	var errs []error
	names := make(map[string]int, len(specs))
	for i := range specs {
		s := &specs[i]
		r, rerrs := compileRoute(s)
		label := routeLabel(s.Name, i)
		for _, err := range rerrs {
			errs = append(errs, fmt.Errorf("%s: %w", label, err))
		}
		if s.Name != "" {
			if j, dup := names[s.Name]; dup {
				errs = append(errs, fmt.Errorf("%s: name already used by routes[%d]", label, j))
			} else {
				names[s.Name] = i
			}
		}
		if len(rerrs) == 0 {
			t.routes = append(t.routes, r)
		}
	}
	errs = append(errs, t.checkDuplicates()...)
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	t.build()
	t.buildAllow()
	return t, nil
}

// buildAllow sets every route's allow: the union of the methods of the
// routes that share its host, kind and key (compared as the route compares
// paths), HEAD included where GET is, in a fixed order.
func (t *Table[T]) buildAllow() {
	type level struct {
		host string
		kind MatchKind
		key  string
	}
	keyOf := func(r *route[T]) level {
		k := r.key
		if r.fold {
			k = strings.ToLower(k)
		}
		return level{r.host, r.kind, k}
	}
	union := map[level]*methodSet{}
	for i := range t.routes {
		r := &t.routes[i]
		k := keyOf(r)
		u := union[k]
		if u == nil {
			u = &methodSet{}
			union[k] = u
		}
		u.any = u.any || r.methods.any
		u.mask |= r.methods.mask
		for _, m := range r.methods.other {
			if !slices.Contains(u.other, m) {
				u.other = append(u.other, m)
			}
		}
	}
	for i := range t.routes {
		t.routes[i].allow = union[keyOf(&t.routes[i])].header()
	}
}

// AllowedMethods returns the Allow header value for a request that Match
// answers MethodNotAllowed ("GET, HEAD, POST"), "" otherwise. It runs the
// match again: only a 405 needs it.
func (t *Table[T]) AllowedMethods(host, method, path []byte) string {
	i, res := t.matchAll(host, method, path)
	if res != MethodNotAllowed || i < 0 {
		return ""
	}
	return t.routes[i].allow
}

// Allow returns the Allow header value of the route named name: the
// methods of every route with its host and path ("" for no such route).
func (t *Table[T]) Allow(name string) string {
	for i := range t.routes {
		if t.routes[i].name == name {
			return t.routes[i].allow
		}
	}
	return ""
}

func routeLabel(name string, i int) string {
	if name == "" {
		return fmt.Sprintf("routes[%d]", i)
	}
	return fmt.Sprintf("route %q", name)
}

func compileRoute[T any](s *Spec[T]) (route[T], []error) {
	r := route[T]{name: s.Name, value: s.Value, path: s.Path, kind: s.Kind, fold: s.CaseInsensitive}
	var errs []error
	if s.Name == "" {
		errs = append(errs, errors.New("name: must not be empty"))
	}
	host, err := normalizeSpecHost(s.Host)
	if err != nil {
		errs = append(errs, fmt.Errorf("host %q: %w", s.Host, err))
	}
	r.host = host
	if err := checkPath(s.Path); err != nil {
		errs = append(errs, fmt.Errorf("path %q: %w", s.Path, err))
	}
	switch s.Kind {
	case Exact:
		r.key = trimSlash(s.Path)
	case Prefix:
		r.key = strings.TrimSuffix(s.Path, "/")
	default:
		errs = append(errs, fmt.Errorf("kind %d: must be Exact or Prefix", s.Kind))
	}
	ms, merrs := compileMethods(s.Methods)
	r.methods = ms
	return r, append(errs, merrs...)
}

// trimSlash drops the trailing slash of a path other than "/".
func trimSlash(p string) string {
	if len(p) > 1 && p[len(p)-1] == '/' {
		return p[:len(p)-1]
	}
	return p
}

func checkPath(p string) error {
	if !strings.HasPrefix(p, "/") {
		return errors.New(`must start with "/"`)
	}
	norm, err := pathnorm.Normalize(nil, []byte(p))
	if err != nil {
		return err
	}
	if string(norm) != p {
		return fmt.Errorf("not normalized (want %q)", norm)
	}
	return nil
}

// normalizeSpecHost lower-cases a route's host and checks its syntax.
func normalizeSpecHost(h string) (string, error) {
	if h == "" {
		return "", nil
	}
	h = strings.ToLower(h)
	if strings.HasPrefix(h, "[") {
		inner, ok := strings.CutSuffix(h[1:], "]")
		if !ok {
			return "", errors.New(`IPv6 literal: missing "]" or has a port`)
		}
		a, err := netip.ParseAddr(inner)
		if err != nil || !a.Is6() || a.Zone() != "" {
			return "", errors.New("IPv6 literal: not an IPv6 address")
		}
		return "[" + a.String() + "]", nil
	}
	if strings.Contains(h, ":") {
		return "", errors.New("must not include a port")
	}
	h = strings.TrimSuffix(h, ".")
	name := h
	if rest, ok := strings.CutPrefix(h, "*."); ok {
		name = rest
	}
	if name == "" || name == "*" {
		return "", errors.New(`wildcard must name a domain, as in "*.example.com" (use "" for any host)`)
	}
	if len(name) > 253 {
		return "", errors.New("longer than 253 bytes")
	}
	for _, label := range strings.Split(name, ".") {
		if label == "" || len(label) > 63 {
			return "", fmt.Errorf("label %q: must be 1 to 63 bytes", label)
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				if c == '*' {
					return "", errors.New(`"*" is only allowed as the first label`)
				}
				return "", fmt.Errorf("label %q: invalid character %q", label, c)
			}
		}
	}
	return h, nil
}

// checkDuplicates reports pairs of routes where the later one can never
// match some request because the earlier one, at the same precedence,
// takes it.
func (t *Table[T]) checkDuplicates() []error {
	type groupKey struct {
		host, key string
		kind      MatchKind
	}
	groups := make(map[groupKey][]int, len(t.routes))
	for i := range t.routes {
		r := &t.routes[i]
		k := groupKey{host: r.host, key: strings.ToLower(r.key), kind: r.kind}
		groups[k] = append(groups[k], i)
	}
	var errs []error
	for i := range t.routes {
		b := &t.routes[i]
		for _, j := range groups[groupKey{host: b.host, key: strings.ToLower(b.key), kind: b.kind}] {
			if j >= i {
				break
			}
			a := &t.routes[j]
			if a.key != b.key && !a.fold && !b.fold {
				continue // same letters, different case, both case-sensitive
			}
			if m, ok := a.methods.overlap(&b.methods); ok {
				errs = append(errs, fmt.Errorf("route %q: duplicates route %q: same host %q, %s path %q vs %q, both allow %s",
					b.name, a.name, b.host, b.kind, b.path, a.path, m))
				break
			}
		}
	}
	return errs
}

func (t *Table[T]) build() {
	type members struct{ exact, prefix []int32 }
	byHost := make(map[string]*members)
	var hosts []string // first-seen order, so the build is deterministic
	for i := range t.routes {
		h := t.routes[i].host
		m := byHost[h]
		if m == nil {
			m = &members{}
			byHost[h] = m
			hosts = append(hosts, h)
		}
		if t.routes[i].kind == Exact {
			m.exact = append(m.exact, int32(i))
		} else {
			m.prefix = append(m.prefix, int32(i))
		}
	}
	var named []hostEntry
	t.prefixMax, t.exactMax = -1, -1
	for _, h := range hosts {
		m := byHost[h]
		g := &hostGroup{exact: t.buildIndex(m.exact), prefix: t.buildIndex(m.prefix)}
		t.prefixLens.union(&g.prefix.lens)
		t.exactLens.union(&g.exact.lens)
		if g.prefix.size > 0 {
			t.prefixMax = max(t.prefixMax, g.prefix.maxLen)
		}
		if g.exact.size > 0 {
			t.exactMax = max(t.exactMax, g.exact.maxLen)
		}
		switch {
		case h == "":
			t.anyHost = g
		case strings.HasPrefix(h, "*."):
			named = append(named, hostEntry{name: h[1:], wild: true, group: g})
		default:
			named = append(named, hostEntry{name: h, group: g})
		}
	}
	t.hosts = buildHostIndex(named)
}

// Len returns the number of routes in the table.
func (t *Table[T]) Len() int { return len(t.routes) }

// maxHostLen bounds request hosts worth looking up: no route host is
// longer, so a longer request host can only match host-less routes.
const maxHostLen = 255

// Match returns the route for a request: its value and name with Matched,
// or the zero value and "" with NoRoute or MethodNotAllowed. path must be
// normalized (pathnorm.Normalize) and method upper-case as sent. Match does
// not allocate.
func (t *Table[T]) Match(host, method, path []byte) (value T, name string, res Result) {
	return t.result(t.matchAll(host, method, path))
}

// matchAll is Match returning the deciding route's index: the matched
// route, or for MethodNotAllowed one route of the level that refused the
// method; -1 for NoRoute.
func (t *Table[T]) matchAll(host, method, path []byte) (int, Result) {
	if len(path) == 0 || path[0] != '/' {
		return -1, NoRoute
	}
	mbit := methodBit(method)
	// Collect the host groups that apply, most specific first (the exact
	// name, wildcards from the longest suffix, host-less), and match the
	// path against a batch of them in one walk.
	var batch [maxBatch]*hostGroup
	k := 0
	if t.hosts.slots != nil {
		if h, ok := trimHost(host); ok {
			if t.hosts.lens.has(len(h)) {
				if g := t.hosts.find(hashFold(h), h, false); g != nil {
					batch[k] = g
					k++
				}
			}
			for d := 1; d < len(h); d++ {
				if h[d] != '.' || !t.hosts.lens.has(len(h)-d) {
					continue
				}
				g := t.hosts.find(hashFold(h[d:]), h[d:], true)
				if g == nil {
					continue
				}
				if k == maxBatch {
					if i, res := t.matchGroups(batch[:k], method, mbit, path); res != NoRoute {
						return i, res
					}
					k = 0
				}
				batch[k] = g
				k++
			}
		}
	}
	if t.anyHost != nil {
		if k == maxBatch {
			if i, res := t.matchGroups(batch[:k], method, mbit, path); res != NoRoute {
				return i, res
			}
			k = 0
		}
		batch[k] = t.anyHost
		k++
	}
	if k == 0 {
		return -1, NoRoute
	}
	return t.matchGroups(batch[:k], method, mbit, path)
}

// maxBatch is how many host groups one path walk serves. A request matches
// more only with deeply nested wildcard hosts; those take another walk.
const maxBatch = 8

func (t *Table[T]) result(i int, res Result) (value T, name string, _ Result) {
	if res != Matched {
		return value, "", res
	}
	r := &t.routes[i]
	return r.value, r.name, Matched
}

// trimHost strips a ":port" suffix and one trailing dot from a Host header
// value. It reports false for a host no route can match.
func trimHost(host []byte) ([]byte, bool) {
	sep := byte(':')
	if len(host) > 0 && host[0] == '[' {
		sep = ']'
	}
	if i := bytes.IndexByte(host, sep); i >= 0 {
		if sep == ']' {
			i++
		}
		host = host[:i]
	}
	if n := len(host); n > 0 && host[n-1] == '.' {
		host = host[:n-1]
	}
	return host, len(host) > 0 && len(host) <= maxHostLen
}

// matchGroups decides a request against host groups gs, given most
// specific first: the first group with a route whose path matches decides,
// at its most specific level (its exact routes, then its longest matching
// prefix). It returns NoRoute when no group has a matching path.
//
// Prefix keys end at segment boundaries (before each '/' and at the end of
// the path), so one walk over the boundaries hashes each candidate prefix
// once and probes every group that holds a key of that length.
func (t *Table[T]) matchGroups(gs []*hostGroup, method []byte, mbit uint16, path []byte) (int, Result) {
	n := len(path)
	ph := newPrefixHasher(path)
	var bestHash [maxBatch]uint64
	var bestEnd [maxBatch]int32 // length of the longest matching prefix key + 1; 0 for none
	probe := func(j int) {
		h := ph.at(j)
		for k, g := range gs {
			if !g.prefix.mayHold(j) {
				continue
			}
			if cands := g.prefix.find(h); cands != nil && t.anyKeyMatches(cands, path[:j]) {
				bestHash[k], bestEnd[k] = h, int32(j)+1
			}
		}
	}
	// Visit only the lengths some key has, shortest first, and keep those
	// that fall on a segment boundary.
	limit := min(n, t.prefixMax)
	for w, word := range t.prefixLens {
		for ; word != 0; word &= word - 1 {
			j := w<<6 | bits.TrailingZeros64(word)
			if j > limit {
				break
			}
			if j == n || path[j] == '/' {
				probe(j)
			}
		}
	}
	// Lengths from 256 up are not in the set: scan for boundaries there.
	for j := lengthSetMax; j <= limit; j++ {
		if j == n || path[j] == '/' {
			probe(j)
		}
	}
	// Exact keys have no trailing slash (trimSlash): nor has the path
	// they are compared with.
	en := n
	if n > 1 && path[n-1] == '/' {
		en = n - 1
	}
	var exactHash uint64
	if en <= t.exactMax && t.exactLens.has(en) {
		if en == n {
			exactHash = ph.at(n) // last: the hasher only moves forward
		} else {
			eh := newPrefixHasher(path) // ph may have moved past en
			exactHash = eh.at(en)
		}
	}
	for k, g := range gs {
		if g.exact.mayHold(en) {
			if i, res := t.resolve(g.exact.find(exactHash), method, mbit, path[:en]); res != NoRoute {
				return i, res
			}
		}
		if e := bestEnd[k]; e > 0 {
			return t.resolve(g.prefix.find(bestHash[k]), method, mbit, path[:e-1])
		}
	}
	return -1, NoRoute
}

func (t *Table[T]) anyKeyMatches(cands []int32, p []byte) bool {
	for _, ci := range cands {
		if t.routes[ci].keyMatches(p) {
			return true
		}
	}
	return false
}

// resolve picks, among the candidates whose key equals p, the first in
// declaration order that allows the method, preferring an explicit HEAD
// over HEAD allowed through GET.
func (t *Table[T]) resolve(cands []int32, method []byte, mbit uint16, p []byte) (int, Result) {
	fallback := -1
	seen := -1 // a route whose key matched, for MethodNotAllowed
	for _, ci := range cands {
		r := &t.routes[ci]
		if !r.keyMatches(p) {
			continue
		}
		seen = int(ci)
		switch r.methods.allows(method, mbit) {
		case allowed:
			return int(ci), Matched
		case allowedAsGet:
			if fallback < 0 {
				fallback = int(ci)
			}
		}
	}
	switch {
	case fallback >= 0:
		return fallback, Matched
	case seen >= 0:
		return seen, MethodNotAllowed
	}
	return -1, NoRoute
}

func (r *route[T]) keyMatches(p []byte) bool {
	if len(r.key) != len(p) {
		return false
	}
	if !r.fold {
		return r.key == string(p)
	}
	for i := 0; i < len(p); i++ {
		if lower[r.key[i]] != lower[p[i]] {
			return false
		}
	}
	return true
}

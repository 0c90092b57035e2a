package crs

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"

	"github.com/corazawaf/coraza/v3/experimental/plugins/plugintypes"
	"github.com/corazawaf/coraza/v3/types"
	"github.com/valyala/fasthttp"

	"github.com/edgeguard/edgeguard/dataplane/headers"
	"github.com/edgeguard/edgeguard/dataplane/waf/formdata"
)

// MaxResultRules is how many detection rule ids a Result keeps.
const MaxResultRules = 8

// Result is what CRS decided about one request. It holds no request data:
// only rule ids, a score and a static category, so it can be logged as is.
type Result struct {
	// Blocked: the route is in block mode and CRS decided to block. The
	// caller answers 403 with a generic body.
	Blocked bool
	// Matched: CRS decided to block (in either mode). In detect mode the
	// caller counts and logs it and lets the request through.
	Matched bool
	// Decision is the rule that interrupted the request: 949110 (inbound
	// anomaly score at or over the threshold after the body) or 949111
	// (already after the headers); 0 when CRS let the request through.
	Decision int
	// RuleID is the detection rule that weighed most, for logs: the first
	// rule to match in Category. 0 when no detection rule matched.
	RuleID int
	// Score is CRS's inbound anomaly score at the route's paranoia level,
	// also when it stayed under the threshold.
	Score int
	// Category is the kind of attack whose rules added the most points
	// (first to match among equals); CategoryNone when none matched.
	Category Category

	rules  [MaxResultRules]int32
	nRules uint8
	loc    [MaxLocation]byte
	nLoc   uint8
}

// MaxLocation bounds Result.Location, in bytes.
const MaxLocation = 96

// Location is where RuleID matched, as tier 1 names places: "query.q",
// "form.comment", "json.user.name", "header.user-agent", "cookie.sid",
// "path", "body", "xml"; names sanitized (printable ASCII, no quotes or
// white space) and bounded. Empty when unknown.
func (r *Result) Location() []byte { return r.loc[:r.nLoc] }

// setLocation records where a rule matched: of the places in mds, the
// first in byte order, as Coraza lists them in map order.
func (r *Result) setLocation(mds []types.MatchData, req *fasthttp.Request) {
	var best, tmp [MaxLocation]byte
	n := -1
	for _, md := range mds {
		loc := appendLocation(tmp[:0], md, req)
		if n < 0 || bytes.Compare(loc, best[:n]) < 0 {
			n = copy(best[:], loc)
		}
	}
	r.nLoc = uint8(copy(r.loc[:], best[:max(n, 0)]))
}

// appendLocation appends where md matched to b (at most cap(b) bytes).
func appendLocation(b []byte, md types.MatchData, req *fasthttp.Request) []byte {
	src, keyed := variableSource(md.Variable().Name())
	key := md.Key()
	switch {
	case (src == "form" || src == "args") && strings.HasPrefix(key, "json."):
		// The JSON body processor's arguments: json.user.name.
		src, key = "json", key[len("json."):]
	case src == "args" && req.URI().QueryArgs().Has(key):
		src = "query"
	case src == "args":
		src = "form"
	}
	b = append(b, src...)
	if keyed && key != "" {
		b = append(b, '.')
		for i := 0; i < len(key) && len(b) < cap(b); i++ {
			c := key[i]
			if src == "header" && c >= 'A' && c <= 'Z' {
				c += 'a' - 'A'
			}
			if c <= ' ' || c >= 0x7f || c == '"' || c == '\\' || c == '\'' {
				c = '_'
			}
			b = append(b, c)
		}
	}
	return b
}

// variableSource names the place a Coraza variable reads, and whether its
// key (an argument, header or cookie name) belongs in the location.
func variableSource(v string) (string, bool) {
	switch v {
	case "ARGS_GET", "ARGS_GET_NAMES":
		return "query", true
	case "ARGS_POST", "ARGS_POST_NAMES", "FILES", "FILES_NAMES":
		return "form", true
	case "ARGS", "ARGS_NAMES":
		return "args", true
	case "REQUEST_HEADERS", "REQUEST_HEADERS_NAMES":
		return "header", true
	case "REQUEST_COOKIES", "REQUEST_COOKIES_NAMES":
		return "cookie", true
	case "REQUEST_URI", "REQUEST_URI_RAW", "REQUEST_FILENAME", "REQUEST_BASENAME", "REQUEST_LINE", "QUERY_STRING":
		return "path", false
	case "REQUEST_BODY":
		return "body", false
	case "XML":
		return "xml", false
	case "REQUEST_METHOD":
		return "method", false
	case "REQUEST_PROTOCOL":
		return "protocol", false
	}
	return "request", false
}

// Rules returns the ids of the detection rules that added to the score,
// in the order they matched (at most MaxResultRules). The slice points into
// r.
func (r *Result) Rules() []int32 { return r.rules[:r.nRules] }

// Peer is the connection a request arrived on, as CRS sees it
// (REMOTE_ADDR, SERVER_ADDR and their ports).
type Peer struct {
	Client netip.AddrPort
	Server netip.AddrPort
}

// Inspect runs the request side of CRS (phases 1 and 2) over ctx's
// request. jsonBody says the caller knows the body is JSON (e.g. its route
// validated it against a JSON schema): the JSON body processor is used
// whatever the Content-Type says; otherwise CRS picks it from the
// Content-Type as usual (application/json and */*+json are JSON).
//
// It fails closed: a non-nil error (see the Err variables) means the
// request was not fully inspected and must be refused with
// OnErrorStatus, in either mode. A panic inside Coraza is recovered and
// returned as an error wrapping ErrInternal.
func (w *WAF) Inspect(ctx *fasthttp.RequestCtx, jsonBody bool) (Result, error) {
	var p Peer
	if a, ok := ctx.RemoteAddr().(*net.TCPAddr); ok {
		p.Client = a.AddrPort()
	}
	if a, ok := ctx.LocalAddr().(*net.TCPAddr); ok {
		p.Server = a.AddrPort()
	}
	return w.InspectRequest(&ctx.Request, p, jsonBody)
}

// InspectRequest is Inspect for a request without its RequestCtx.
func (w *WAF) InspectRequest(req *fasthttp.Request, peer Peer, jsonBody bool) (res Result, err error) {
	body := req.Body()
	if len(body) > w.eng.maxBody {
		return Result{Category: CategoryInternal}, ErrBodyTooLarge
	}
	if len(body) > 0 {
		if _, n := headers.ContentCodings(&req.Header); n > 0 {
			return Result{Category: CategoryInternal}, ErrBodyEncoded
		}
	}

	tx := w.eng.waf.NewTransaction()
	defer func() {
		if p := recover(); p != nil {
			res, err = Result{Category: CategoryInternal}, &panicError{p}
		}
		if cerr := closeTx(tx); cerr != nil && err == nil {
			res, err = Result{Category: CategoryInternal}, cerr
		}
	}()

	res, err = run(tx, req, peer, body, jsonBody)
	if err != nil {
		return res, err
	}
	res.Blocked = res.Matched && w.mode == ModeBlock
	return res, nil
}

// closeTx closes tx (returning it to Coraza's pool), turning a failure or
// a panic into an error.
func closeTx(tx types.Transaction) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = &panicError{p}
		}
	}()
	if cerr := tx.Close(); cerr != nil {
		return fmt.Errorf("inspect request: close transaction: %v: %w", cerr, ErrInternal)
	}
	return nil
}

// run feeds req to tx and evaluates phases 1 and 2.
func run(tx types.Transaction, req *fasthttp.Request, peer Peer, body []byte, jsonBody bool) (Result, error) {
	st, ok := tx.(plugintypes.TransactionState)
	if !ok {
		return Result{Category: CategoryInternal}, errTxState
	}
	vars := st.Variables()

	tx.ProcessConnection(addrString(peer.Client), int(peer.Client.Port()), addrString(peer.Server), int(peer.Server.Port()))

	h := &req.Header
	uri := h.RequestURI()
	if len(uri) == 0 {
		uri = req.URI().RequestURI()
	}
	tx.ProcessURI(string(uri), string(h.Method()), string(h.Protocol()))
	if vars.ArgumentsLimitReached().Get() == "1" {
		return Result{Category: CategoryInternal}, ErrTooManyArgs // query arguments dropped
	}
	addHeaders(tx, h)
	if host := h.Host(); len(host) > 0 {
		tx.SetServerName(hostName(host))
	}
	if jsonBody {
		vars.TX().Set(txForceJSON, []string{"1"})
	}

	if it := tx.ProcessRequestHeaders(); it != nil {
		return verdict(tx, vars, it, req), nil
	}
	if len(body) > 0 {
		if err := multipartFields(tx, h, body); err != nil {
			return Result{Category: CategoryBodyUnparsable}, err
		}
		formDocument(tx, h, body)
		it, _, err := tx.WriteRequestBody(body)
		if err != nil {
			return Result{Category: CategoryInternal}, fmt.Errorf("inspect request: write body: %v: %w", err, ErrInternal)
		}
		if it != nil {
			// Only the body limit interrupts here, and the length was
			// checked: Coraza disagrees with us about the limit.
			return Result{Category: CategoryInternal}, ErrBodyTooLarge
		}
	}
	it, err := tx.ProcessRequestBody()
	if err != nil {
		return Result{Category: CategoryInternal}, fmt.Errorf("inspect request: process body: %v: %w", err, ErrInternal)
	}
	if vars.RequestBodyError().Get() == "1" {
		return Result{Category: CategoryBodyUnparsable}, ErrBody
	}
	if vars.ArgumentsLimitReached().Get() == "1" {
		return Result{Category: CategoryInternal}, ErrTooManyArgs // body arguments dropped
	}
	return verdict(tx, vars, it, req), nil
}

// multipartFields adds to ARGS_POST the content of the parts of a
// multipart body that a file only by an RFC 2231 filename* names (Coraza
// files them, unread; PHP reads them as fields), and refuses a body with
// parts after its closing delimiter (Coraza stops at the close; PHP reads
// on). Other bodies pass untouched.
func multipartFields(tx types.Transaction, h *fasthttp.RequestHeader, body []byte) error {
	mt, params, _ := bytes.Cut(h.ContentType(), []byte{';'})
	if !bytes.EqualFold(bytes.TrimSpace(mt), []byte("multipart/form-data")) {
		return nil
	}
	var r formdata.Reader
	if !r.Start(body, params) {
		return nil // Coraza's own reader refuses what cannot be followed
	}
	for {
		header, content, ok := r.Next()
		if !ok {
			break
		}
		if name, _, kind := formdata.Disposition(header); kind == formdata.KindEither {
			tx.AddPostRequestArgument(string(name), string(content))
		}
	}
	if errors.Is(r.Err(), formdata.ErrPartsAfterClose) {
		return fmt.Errorf("inspect request: %w: %w", formdata.ErrPartsAfterClose, ErrBody)
	}
	return nil
}

// formDocument adds a form body that is a JSON or XML document to
// ARGS_POST whole, as "_body": the form reader splits it at '=' and '&',
// and a server that reads the raw body (PHP's php://input, readers that
// ignore the type) gets the document.
func formDocument(tx types.Transaction, h *fasthttp.RequestHeader, body []byte) {
	mt, _, _ := bytes.Cut(h.ContentType(), []byte{';'})
	if !bytes.EqualFold(bytes.TrimSpace(mt), []byte("application/x-www-form-urlencoded")) {
		return
	}
	if b := bytes.TrimLeft(body, " \t\r\n"); len(b) > 0 && (b[0] == '{' || b[0] == '[' || b[0] == '<') {
		tx.AddPostRequestArgument("_body", string(body))
	}
}

// addHeaders feeds every header line as the client sent it (repeated
// headers repeated, the Cookie header unparsed, headers later stages
// removed still there) when fasthttp kept the raw header block, else
// fasthttp's parsed view.
func addHeaders(tx types.Transaction, h *fasthttp.RequestHeader) {
	if len(h.RawHeaders()) > 0 {
		for k, v := range h.AllInOrder() {
			addHeader(tx, k, v)
		}
		return
	}
	for k, v := range h.All() {
		addHeader(tx, k, v)
	}
}

// addHeader feeds one header line, but Expect: the gateway answers it
// itself and the upstream never gets it, so CRS's restricted-header rule
// (920450) would refuse every client that asks for a 100 Continue (curl on
// uploads, .NET, AWS SDKs) for nothing.
func addHeader(tx types.Transaction, k, v []byte) {
	if bytes.EqualFold(k, []byte(fasthttp.HeaderExpect)) {
		return
	}
	tx.AddRequestHeader(string(k), string(v))
}

// severityPoints is the anomaly score CRS adds for a rule of severity s.
func severityPoints(s types.RuleSeverity) int {
	switch s {
	case types.RuleSeverityEmergency, types.RuleSeverityAlert, types.RuleSeverityCritical:
		return 5
	case types.RuleSeverityError:
		return 4
	case types.RuleSeverityWarning:
		return 3
	case types.RuleSeverityNotice:
		return 2
	}
	return 0
}

// verdict reads CRS's decision from a transaction that ran.
func verdict(tx types.Transaction, vars plugintypes.TransactionVariables, it *types.Interruption, req *fasthttp.Request) Result {
	var r Result
	if it != nil {
		r.Matched = true
		r.Decision = it.RuleID
	}
	if s := vars.TX().Get("blocking_inbound_anomaly_score"); len(s) > 0 {
		r.Score, _ = strconv.Atoi(s[0])
	}
	// The category is the one whose rules added the most points (CRS's
	// severities: critical 5, error 4, warning 3, notice 2); among equals,
	// the first to match.
	var points [len(categoryIDs)]int
	var first [len(categoryIDs)]int
	var firstRule [len(categoryIDs)]types.MatchedRule
	best := -1
	for _, mr := range tx.MatchedRules() {
		m := mr.Rule()
		sev, id := m.Severity(), m.ID()
		if sev == types.RuleSeverityUnset || id/1000 == 949 {
			continue // setup and scoring rules, not detections
		}
		if int(r.nRules) < MaxResultRules {
			r.rules[r.nRules] = int32(id)
			r.nRules++
		}
		i := categoryIndex(id)
		if first[i] == 0 {
			first[i] = id
			firstRule[i] = mr
		}
		points[i] += severityPoints(sev)
		if best < 0 || points[i] > points[best] {
			best = i
		}
	}
	if best >= 0 {
		r.Category, r.RuleID = categoryIDs[best].cat, first[best]
		if mr := firstRule[best]; mr != nil {
			r.setLocation(mr.MatchedDatas(), req)
		}
	} else if r.Matched {
		// Interrupted by a rule with no detection before it (not CRS's
		// anomaly mode, e.g. a route's own deny rule).
		r.Category, r.RuleID = categoryOf(r.Decision), r.Decision
	}
	return r
}

func addrString(a netip.AddrPort) string {
	if !a.Addr().IsValid() {
		return ""
	}
	return a.Addr().Unmap().String()
}

// hostName is the Host header without its port.
func hostName(host []byte) string {
	if i := bytes.LastIndexByte(host, ':'); i >= 0 && bytes.IndexByte(host[i:], ']') < 0 {
		host = host[:i]
	}
	return string(host)
}

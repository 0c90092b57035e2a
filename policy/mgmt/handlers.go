package mgmt

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/edgeguard/edgeguard/bpf/enforce"
	"github.com/edgeguard/edgeguard/dataplane/secevent"
	"github.com/edgeguard/edgeguard/policy/blocklist"
	"github.com/edgeguard/edgeguard/policy/mgmt/api"
)

// maxBanDuration bounds one ban; longer blocks belong in the blocklist.
const maxBanDuration = 366 * 24 * time.Hour

type handler func(w http.ResponseWriter, r *http.Request, p principal)

// routes builds the mux: every route declares what it exposes, and the
// wrapper authenticates before the handler runs (before any body is read).
func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	add := func(pattern, name string, need access, h handler) {
		ok := metrics.GetOrCreateCounter(`edgeguard_mgmt_requests_total{route="` + name + `",result="ok"}`)
		denied := metrics.GetOrCreateCounter(`edgeguard_mgmt_requests_total{route="` + name + `",result="denied"}`)
		failed := metrics.GetOrCreateCounter(`edgeguard_mgmt_requests_total{route="` + name + `",result="error"}`)
		mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
			if s.opt.Handover && r.Method != http.MethodGet && r.Method != http.MethodHead {
				w.Header().Set("Retry-After", "2")
				writeJSON(w, http.StatusServiceUnavailable, api.ErrorBody{Error: "upgrade in progress: the new gatewayd takes changes once it is ready; retry"})
				return
			}
			if r.Method != http.MethodGet && r.Method != http.MethodHead && fromBrowser(r) {
				// A page an operator's browser opens could otherwise
				// send changes with the client certificate the browser
				// holds (no CORS preflight guards a form POST).
				denied.Inc()
				msg := "changes from a web page are refused (Origin or Sec-Fetch-Site set): use gatewayctl or an API client"
				writeJSON(w, http.StatusForbidden, api.ErrorBody{Error: msg})
				s.callEvent(r, name, "", http.StatusForbidden, "denied", msg)
				return
			}
			p, status, msg := s.authenticator().authenticate(r, need)
			if status != 0 {
				denied.Inc()
				if status == http.StatusUnauthorized {
					w.Header().Set("WWW-Authenticate", `Bearer realm="edgeguard-management"`)
				}
				s.opt.Log.Warn("management call refused", "route", name, "remote", r.RemoteAddr, "status", status, "why", msg)
				writeJSON(w, status, api.ErrorBody{Error: msg})
				s.callEvent(r, name, "", status, "denied", msg)
				return
			}
			rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
			h(rec, r, p)
			if rec.status >= 400 {
				failed.Inc()
				s.callEvent(r, name, p.Name, rec.status, "error", "")
			} else {
				ok.Inc()
				s.callEvent(r, name, p.Name, rec.status, "ok", "")
			}
			if need == accessAdmin {
				s.opt.Log.Info("management change", "route", name, "by", p.Name, "remote", r.RemoteAddr, "status", rec.status)
			}
		})
	}
	add("GET /healthz", "healthz", accessHealth, func(w http.ResponseWriter, _ *http.Request, _ principal) {
		_, _ = w.Write([]byte("ok\n"))
	})
	add("GET /readyz", "readyz", accessHealth, s.readyz)
	add("GET /metrics", "metrics", accessMetrics, func(w http.ResponseWriter, _ *http.Request, _ principal) {
		metrics.WritePrometheus(w, true)
	})
	// "# TYPE" lines, so that Prometheus and promtool read counters,
	// gauges and histograms as what they are.
	metrics.ExposeMetadata(true)
	add("GET /status", "status", accessStatus, s.status)
	add("GET "+api.PathStatus, "status", accessStatus, s.status)
	add("GET "+api.PathBlocklist, "blocklist_info", accessRead, s.blocklistInfo)
	add("GET "+api.PathBlocklistEntries, "blocklist_entries", accessRead, s.blocklistEntries)
	add("GET "+api.PathBlocklistTest, "blocklist_test", accessRead, s.blocklistTest)
	add("PUT "+api.PathBlocklist, "blocklist_replace", accessAdmin, s.blocklistReplace)
	add("POST "+api.PathBlocklistDelta, "blocklist_delta", accessAdmin, s.blocklistDelta)
	add("GET "+api.PathBans, "bans_list", accessRead, s.bansList)
	add("GET "+api.PathTop, "top", accessRead, s.top)
	add("POST "+api.PathBans, "ban", accessAdmin, s.ban)
	add("DELETE "+api.PathBans+"/{ip}", "unban", accessAdmin, s.unban)
	add("POST "+api.PathReload, "reload", accessAdmin, s.reload)
	add("GET /debug/pprof/{profile...}", "pprof", accessAdmin, s.pprof)
	return mux
}

// fromBrowser reports whether r carries the headers browsers add to
// requests a page makes (Origin, Sec-Fetch-Site other than a typed
// address); command-line clients send neither.
func fromBrowser(r *http.Request) bool {
	if _, ok := r.Header["Origin"]; ok {
		return true
	}
	site := r.Header.Get("Sec-Fetch-Site")
	return site != "" && site != "none"
}

// events returns the security event stream (nil: none).
func (s *Server) events() *secevent.Log {
	if s.opt.Policies == nil {
		return nil
	}
	return s.opt.Policies.Events()
}

// callEvent records a management call: who (by, "" when unauthenticated),
// from where, what (route and request line) and with what result.
func (s *Server) callEvent(r *http.Request, route, by string, status int, result, detail string) {
	ev := s.events()
	if ev == nil {
		return
	}
	e := secevent.Event{Type: secevent.MgmtCall, Time: time.Now(), ClientIP: remoteIP(r), Identity: by, Route: route,
		Reason: result, Detail: detail, Status: status, By: by, Action: r.Method + " " + r.URL.Path, Result: result}
	ev.Emit(&e)
}

// changeEvent records a ban or blocklist change made by p.
func (s *Server) changeEvent(r *http.Request, typ secevent.Type, p principal, action, result string, e secevent.Event) {
	e.Type, e.Time, e.Identity, e.By, e.Action, e.Result = typ, time.Now(), p.Name, p.Name, action, result
	e.Reason = action
	if !e.ClientIP.IsValid() {
		e.ClientIP = remoteIP(r)
	}
	s.events().Emit(&e)
}

// remoteIP is the caller's address; invalid over a Unix socket.
func remoteIP(r *http.Request) netip.Addr {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().Unmap()
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(status int) {
	r.status = status
	r.ResponseWriter.WriteHeader(status)
}

func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

func fail(w http.ResponseWriter, status int, format string, args ...any) {
	writeJSON(w, status, api.ErrorBody{Error: fmt.Sprintf(format, args...)})
}

func (s *Server) store(w http.ResponseWriter) *blocklist.Store {
	if s.opt.Blocklist == nil {
		fail(w, http.StatusNotFound, "no blocklist store in this process")
	}
	return s.opt.Blocklist
}

func (s *Server) blocklistInfo(w http.ResponseWriter, _ *http.Request, _ principal) {
	if st := s.store(w); st != nil {
		writeJSON(w, http.StatusOK, st.Info())
	}
}

func (s *Server) blocklistEntries(w http.ResponseWriter, _ *http.Request, _ principal) {
	st := s.store(w)
	if st == nil {
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Blocklist-Version", strconv.FormatUint(st.Version(), 10))
	_, _ = st.Export(w)
}

func (s *Server) blocklistTest(w http.ResponseWriter, r *http.Request, _ principal) {
	st := s.store(w)
	if st == nil {
		return
	}
	a, err := netip.ParseAddr(r.URL.Query().Get("ip"))
	if err != nil || a.Zone() != "" {
		fail(w, http.StatusBadRequest, "test blocklist: ?ip= must be an IP address, got %q", r.URL.Query().Get("ip"))
		return
	}
	a = a.Unmap()
	res := api.TestResult{IP: a.String(), Entries: []string{}, Version: st.Version()}
	for _, p := range st.Test(a) {
		res.Entries = append(res.Entries, p.String())
	}
	if e := s.opt.Enforcement; e != nil {
		if bans, err := e.Bans(); err == nil {
			for _, b := range bans {
				if b.Source.Contains(a) {
					until := b.Until
					res.Banned, res.BanUntil = true, &until
				}
			}
		}
	}
	if s.opt.Policies != nil {
		for _, p := range s.opt.Policies.Current().Allowlist {
			if p.Contains(a) {
				res.AllowedBy = append(res.AllowedBy, p.String())
			}
		}
	}
	// The allowlist overrides both, as in the filter.
	res.Blocked = (len(res.Entries) > 0 || res.Banned) && len(res.AllowedBy) == 0
	writeJSON(w, http.StatusOK, res)
}

// bodyFormat picks the parser from Content-Type.
func bodyFormat(r *http.Request) (blocklist.Format, bool) {
	// A compressed list would be parsed as text and refused for a garbled
	// line: refuse the coding instead.
	for _, ce := range r.Header.Values("Content-Encoding") {
		if ce = strings.TrimSpace(ce); ce != "" && !strings.EqualFold(ce, "identity") {
			return 0, false
		}
	}
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		return blocklist.FormatText, true
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return 0, false
	}
	switch mt {
	case "application/json":
		return blocklist.FormatJSON, true
	case "text/plain", "application/octet-stream":
		return blocklist.FormatText, true
	}
	return 0, false
}

// queryVersion reads ?version=N (0 and false when absent).
func queryVersion(r *http.Request) (uint64, bool, error) {
	q := r.URL.Query().Get("version")
	if q == "" {
		return 0, false, nil
	}
	v, err := strconv.ParseUint(q, 10, 64)
	if err != nil {
		return 0, false, fmt.Errorf("?version= must be an unsigned integer, got %q", q)
	}
	return v, true, nil
}

// acquire takes the single write slot, so that one change is applied at a
// time (its body already parsed: net/http notices a client gone only once
// the body is read); it gives up when the caller goes away.
func (s *Server) acquire(w http.ResponseWriter, r *http.Request) bool {
	select {
	case s.writes <- struct{}{}:
		// Both may be ready at once: a caller gone meanwhile gets nothing
		// applied (its client reported a failure).
		if r.Context().Err() == nil {
			return true
		}
		<-s.writes
	case <-r.Context().Done():
	}
	fail(w, http.StatusServiceUnavailable, "another blocklist change is in progress")
	return false
}

func (s *Server) release() { <-s.writes }

func (s *Server) blocklistReplace(w http.ResponseWriter, r *http.Request, p principal) {
	st := s.store(w)
	if st == nil {
		return
	}
	format, ok := bodyFormat(r)
	if !ok {
		blocklist.CountUpdate("replace", "invalid")
		fail(w, http.StatusUnsupportedMediaType, "replace blocklist: Content-Type must be text/plain or application/json, uncompressed; got %q (Content-Encoding %q)", r.Header.Get("Content-Type"), r.Header.Get("Content-Encoding"))
		return
	}
	version, hasVersion, err := queryVersion(r)
	if err != nil {
		blocklist.CountUpdate("replace", "invalid")
		fail(w, http.StatusBadRequest, "replace blocklist: %v", err)
		return
	}
	if hasVersion && version < st.Version() { // refuse a stale push before reading it
		s.refuse(w, "replace", fmt.Errorf("replace blocklist: version %d: %w (%d)", version, blocklist.ErrStale, st.Version()), st)
		return
	}
	if !st.Persistent() {
		s.refuse(w, "replace", fmt.Errorf("replace blocklist: %w", blocklist.ErrNotPersistent), st)
		return
	}
	// The body is read before waiting for the write slot: only then does
	// net/http notice a client that goes away (acquire).
	body := http.MaxBytesReader(w, r.Body, s.opt.Config.MaxBodyBytes)
	l, err := blocklist.Parse(body, format, blocklist.Limits{MaxEntries: s.opt.Config.MaxEntries})
	if err != nil {
		s.refuse(w, "replace", err, st)
		return
	}
	if !s.acquire(w, r) {
		return
	}
	defer s.release()
	switch {
	case l.HasVersion && hasVersion && l.Version != version:
		blocklist.CountUpdate("replace", "invalid")
		fail(w, http.StatusBadRequest, "replace blocklist: ?version=%d disagrees with the body's version %d", version, l.Version)
		return
	case l.HasVersion:
		version, hasVersion = l.Version, true
	}
	if !hasVersion {
		blocklist.CountUpdate("replace", "invalid")
		fail(w, http.StatusBadRequest, "replace blocklist: a version is required (?version=N, or \"version\" in a JSON body) so that an older push cannot roll back a newer one")
		return
	}
	res, err := st.Replace(version, l.Entries)
	if err != nil {
		s.refuse(w, "replace", err, st)
		return
	}
	blocklist.CountUpdate("replace", okOrUnchanged(res))
	s.changeEvent(r, secevent.BlocklistChange, p, "blocklist_replace", okOrUnchanged(res),
		secevent.Event{Entries: res.Entries, Version: res.Version})
	writeJSON(w, http.StatusOK, res)
}

func (s *Server) blocklistDelta(w http.ResponseWriter, r *http.Request, p principal) {
	st := s.store(w)
	if st == nil {
		return
	}
	if f, ok := bodyFormat(r); !ok || f != blocklist.FormatJSON {
		blocklist.CountUpdate("delta", "invalid")
		fail(w, http.StatusUnsupportedMediaType, "apply blocklist delta: Content-Type must be application/json, uncompressed")
		return
	}
	version, hasVersion, err := queryVersion(r)
	if err != nil {
		blocklist.CountUpdate("delta", "invalid")
		fail(w, http.StatusBadRequest, "apply blocklist delta: %v", err)
		return
	}
	body := http.MaxBytesReader(w, r.Body, s.opt.Config.MaxBodyBytes)
	d, err := blocklist.ParseDelta(body, blocklist.Limits{MaxEntries: s.opt.Config.MaxEntries})
	if err != nil {
		s.refuse(w, "delta", err, st)
		return
	}
	if !s.acquire(w, r) {
		return
	}
	defer s.release()
	switch {
	case d.HasVersion && hasVersion && d.Version != version:
		blocklist.CountUpdate("delta", "invalid")
		fail(w, http.StatusBadRequest, "apply blocklist delta: ?version=%d disagrees with the body's version %d", version, d.Version)
		return
	case d.HasVersion:
		version = d.Version
	}
	res, err := st.ApplyDelta(version, d.Add, d.Remove)
	if err != nil {
		s.refuse(w, "delta", err, st)
		return
	}
	blocklist.CountUpdate("delta", okOrUnchanged(res))
	s.changeEvent(r, secevent.BlocklistChange, p, "blocklist_delta", okOrUnchanged(res),
		secevent.Event{Entries: res.Entries, Version: res.Version})
	writeJSON(w, http.StatusOK, res)
}

func okOrUnchanged(r blocklist.Result) string {
	if r.Unchanged {
		return "unchanged"
	}
	return "ok"
}

// refuse answers a refused blocklist change with the status that says why.
func (s *Server) refuse(w http.ResponseWriter, op string, err error, st *blocklist.Store) {
	body := api.ErrorBody{Error: err.Error()}
	var (
		status = http.StatusInternalServerError
		result = "failed"
		perr   *blocklist.ParseError
		maxErr *http.MaxBytesError
	)
	switch {
	case errors.As(err, &perr):
		status, result = http.StatusBadRequest, "invalid"
		body.BadLines, body.BadTotal = perr.Lines, perr.Total
	case errors.As(err, &maxErr):
		status, result = http.StatusRequestEntityTooLarge, "too_large"
		body.Error = fmt.Sprintf("%s blocklist: body larger than management.max_body_bytes (%d)", op, maxErr.Limit)
	case errors.Is(err, blocklist.ErrTooManyEntries):
		status, result = http.StatusRequestEntityTooLarge, "too_large"
	case errors.Is(err, blocklist.ErrStale):
		status, result = http.StatusConflict, "stale"
	case errors.Is(err, blocklist.ErrConflict):
		status, result = http.StatusConflict, "conflict"
	case errors.Is(err, blocklist.ErrBadVersion):
		status, result = http.StatusBadRequest, "invalid"
	case errors.Is(err, blocklist.ErrNotPersistent):
		status = http.StatusServiceUnavailable
		if s.restartPending("management.state_dir") {
			body.Error = fmt.Sprintf("%s blocklist: restart pending: management.state_dir was set by a reload and takes effect when gatewayd restarts; until then changes are refused (they would not survive a restart)", op)
		}
	case errors.Is(err, blocklist.ErrApply), errors.Is(err, blocklist.ErrPersist):
	default: // a body that could not be read or decoded
		status, result = http.StatusBadRequest, "invalid"
	}
	if status == http.StatusConflict {
		v := st.Version()
		body.CurrentVersion = &v
	}
	blocklist.CountUpdate(op, result)
	writeJSON(w, status, body)
}

// restartPending reports whether a reload changed key, a restart-only key,
// so that the running process does not use its configured value yet.
func (s *Server) restartPending(key string) bool {
	return s.opt.Policies != nil && slices.Contains(s.opt.Policies.RestartPending(), key)
}

func (s *Server) enforcer(w http.ResponseWriter) bool {
	if s.opt.Enforcement == nil {
		fail(w, http.StatusNotFound, "no enforcer in this process")
		return false
	}
	return true
}

func (s *Server) bansList(w http.ResponseWriter, _ *http.Request, _ principal) {
	if !s.enforcer(w) {
		return
	}
	bans, err := s.opt.Enforcement.Bans()
	if err != nil {
		fail(w, http.StatusInternalServerError, "list bans: %v", err)
		return
	}
	now := time.Now()
	out := api.BanList{Bans: make([]api.Ban, 0, len(bans))}
	for _, b := range bans {
		out.Bans = append(out.Bans, api.Ban{IP: enforce.FormatSource(b.Source), Until: b.Until,
			Remaining: blocklist.Duration(b.Until.Sub(now).Round(time.Second)), Note: s.allowlistNote(b.Source)})
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) ban(w http.ResponseWriter, r *http.Request, p principal) {
	if !s.enforcer(w) {
		return
	}
	// api.BanRequest with "for" as a pointer: an explicit 0 is an error,
	// not the default (it gave a 10-minute ban).
	var req struct {
		IP  string              `json:"ip"`
		For *blocklist.Duration `json:"for"`
	}
	dec := json.NewDecoder(io.LimitReader(r.Body, 64<<10))
	dec.DisallowUnknownFields()
	err := dec.Decode(&req)
	if err == nil {
		if _, terr := dec.Token(); terr != io.EOF {
			err = errors.New("data after the JSON object")
		}
	}
	if err != nil {
		fail(w, http.StatusBadRequest, "ban: body must be one JSON object {\"ip\": ..., \"for\": \"10m\"}: %v", err)
		return
	}
	src, err := enforce.ParseBanSource(req.IP)
	if err != nil {
		fail(w, http.StatusBadRequest, "ban: ip must be an IP address or an IPv6 network: %v", err)
		return
	}
	d := s.opt.BanDefault
	if req.For != nil {
		d = time.Duration(*req.For)
	}
	if d <= 0 || d > maxBanDuration {
		fail(w, http.StatusBadRequest, "ban: for must be > 0 and <= %s, got %s", maxBanDuration, d)
		return
	}
	until := time.Now().Add(d)
	replaced := s.banUntil(src)
	// A persisted ban is acknowledged only once it is on disk.
	if err := s.opt.Enforcement.AddBan(src, until); err != nil {
		fail(w, http.StatusInternalServerError, "ban %s: %v", enforce.FormatSource(src), err)
		return
	}
	s.changeEvent(r, secevent.BanChange, p, "ban", "ok",
		secevent.Event{ClientIP: src.Addr(), Source: enforce.FormatSource(src), Until: until})
	res := api.Ban{IP: enforce.FormatSource(src), Until: until, Remaining: blocklist.Duration(d), Note: s.allowlistNote(src), Replaced: replaced}
	writeJSON(w, http.StatusOK, res)
}

func (s *Server) unban(w http.ResponseWriter, r *http.Request, p principal) {
	if !s.enforcer(w) {
		return
	}
	src, err := enforce.ParseBanSource(r.PathValue("ip"))
	if err != nil {
		fail(w, http.StatusBadRequest, "unban: %v", err)
		return
	}
	res := api.UnbanResult{IP: enforce.FormatSource(src), Result: api.Unbanned}
	if own, covering := s.banned(src); !own { // say so: an operator who mistyped the address must not believe it lifted
		res.Result, res.CoveredBy = api.NotBanned, covering
		s.changeEvent(r, secevent.BanChange, p, "unban", "not_banned", secevent.Event{ClientIP: src.Addr(), Source: res.IP})
		writeJSON(w, http.StatusOK, res)
		return
	}
	if err := s.opt.Enforcement.RemoveBan(src); err != nil {
		fail(w, http.StatusInternalServerError, "unban %s: %v", enforce.FormatSource(src), err)
		return
	}
	s.changeEvent(r, secevent.BanChange, p, "unban", "ok", secevent.Event{ClientIP: src.Addr(), Source: res.IP})
	writeJSON(w, http.StatusOK, res)
}

// banned reports whether src has a ban of its own (true when the bans
// cannot be listed, so that the unban is tried anyway) and, when it has
// none, the banned network that covers it ("" if none).
func (s *Server) banned(src netip.Prefix) (own bool, covering string) {
	bans, err := s.opt.Enforcement.Bans()
	if err != nil {
		return true, ""
	}
	for _, b := range bans {
		if b.Source == src {
			return true, ""
		}
		if b.Source.Bits() < src.Bits() && b.Source.Contains(src.Addr()) {
			covering = enforce.FormatSource(b.Source)
		}
	}
	return false, covering
}

// banUntil returns the end of src's own running ban (nil: none, or the
// bans cannot be listed).
func (s *Server) banUntil(src netip.Prefix) *time.Time {
	bans, err := s.opt.Enforcement.Bans()
	if err != nil {
		return nil
	}
	now := time.Now()
	for _, b := range bans {
		if b.Source == src && b.Until.After(now) {
			u := b.Until
			return &u
		}
	}
	return nil
}

// allowlistNote says why a ban on src takes no effect ("" when it does).
func (s *Server) allowlistNote(src netip.Prefix) string {
	if s.opt.Policies == nil {
		return ""
	}
	for _, a := range s.opt.Policies.Current().Allowlist {
		if a.Overlaps(src) {
			return "no effect while xdp.allowlist holds " + a.String() + ": the allowlist wins"
		}
	}
	return ""
}

func (s *Server) reload(w http.ResponseWriter, _ *http.Request, p principal) {
	if s.opt.Policies == nil {
		fail(w, http.StatusNotFound, "no policy holder in this process")
		return
	}
	res, err := s.opt.Policies.Reload("management API (" + p.Name + ")")
	out := api.ReloadResponse{Swapped: res.Swapped, Version: res.Version, RestartRequired: res.RestartRequired, RestartPending: res.RestartPending}
	if err != nil {
		out.Error = err.Error()
		writeJSON(w, http.StatusUnprocessableEntity, out)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

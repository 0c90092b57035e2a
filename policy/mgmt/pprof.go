package mgmt

import (
	"net/http"
	"net/http/pprof"
	"strconv"
	"time"
)

// maxProfileSeconds bounds one CPU profile or execution trace.
const maxProfileSeconds = 120

// pprof serves Go's profiles when management.pprof is on (read at every
// call, so a reload turns it on or off); 404 otherwise. The route is
// admin-only: profiles show internals, and a CPU profile costs CPU.
func (s *Server) pprof(w http.ResponseWriter, r *http.Request, _ principal) {
	if !s.opt.Policies.Current().Config.Management.Pprof {
		fail(w, http.StatusNotFound, "profiling is off: set management.pprof: true and reload")
		return
	}
	name := r.PathValue("profile")
	switch name {
	case "profile", "trace":
		secs := 30
		if v := r.URL.Query().Get("seconds"); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > maxProfileSeconds {
				fail(w, http.StatusBadRequest, "seconds must be 1-%d, got %q", maxProfileSeconds, v)
				return
			}
			secs = n
		}
		// The profile runs longer than management.write_timeout allows
		// an ordinary call.
		_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(time.Duration(secs)*time.Second + s.opt.Config.WriteTimeout))
		q := r.URL.Query()
		q.Set("seconds", strconv.Itoa(secs))
		r.URL.RawQuery = q.Encode()
		if name == "profile" {
			pprof.Profile(w, r)
		} else {
			pprof.Trace(w, r)
		}
	case "cmdline":
		pprof.Cmdline(w, r)
	case "symbol":
		pprof.Symbol(w, r)
	case "":
		pprof.Index(w, r)
	default:
		pprof.Handler(name).ServeHTTP(w, r)
	}
}

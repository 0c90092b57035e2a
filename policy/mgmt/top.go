package mgmt

import (
	"cmp"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/edgeguard/edgeguard/bpf/enforce"
	"github.com/edgeguard/edgeguard/dataplane/livetop"
	"github.com/edgeguard/edgeguard/policy/blocklist"
	"github.com/edgeguard/edgeguard/policy/mgmt/api"
)

// classNames are livetop's status classes by index.
var classNames = [6]string{"other", "1xx", "2xx", "3xx", "4xx", "5xx"}

// top answers GET /v1/top: one frame of gatewayctl top. Every list is cut
// to ?n= entries, so the answer stays small whatever the traffic.
func (s *Server) top(w http.ResponseWriter, r *http.Request, _ principal) {
	n := api.TopDefault
	if q := r.URL.Query().Get("n"); q != "" {
		v, err := strconv.Atoi(q)
		if err != nil || v < 1 || v > api.TopMax {
			fail(w, http.StatusBadRequest, "top: ?n= must be 1 to %d, got %q", api.TopMax, q)
			return
		}
		n = v
	}
	now := time.Now()
	snap := livetop.Default.Snapshot(n)
	out := api.Top{Time: now, Window: snap.Window.Seconds(), Requests: snap.Requests(),
		Classes: map[string]uint64{}, Clients: []api.TopClient{}, Reasons: []api.TopReason{}, Bans: []api.Ban{}, Upstreams: []api.TopUpstream{}}
	rate := func(c uint64) float64 {
		if snap.Window <= 0 {
			return 0
		}
		return float64(c) / snap.Window.Seconds()
	}
	out.Rate = rate(out.Requests)
	for i, c := range snap.Classes {
		out.Classes[classNames[i]] = c
	}
	for _, c := range snap.Clients {
		out.Clients = append(out.Clients, api.TopClient{Client: enforce.FormatSource(c.Prefix), Requests: c.Requests, Denied: c.Denied, Rate: rate(c.Requests)})
	}
	out.DistinctClients, out.UntrackedRequests = snap.Distinct, snap.Untracked
	for _, c := range snap.Reasons {
		out.Reasons = append(out.Reasons, api.TopReason{Reason: c.Reason.String(), Count: c.Count, Rate: rate(c.Count)})
	}
	if e := s.opt.Enforcement; e != nil {
		es := enforcerStatus(e)
		out.Enforcer = &es
		if bans, err := e.Bans(); err == nil {
			out.BansTotal = len(bans)
			slices.SortFunc(bans, func(a, b enforce.Ban) int { return cmp.Compare(b.Until.UnixNano(), a.Until.UnixNano()) })
			for _, b := range bans[:min(len(bans), n)] {
				out.Bans = append(out.Bans, api.Ban{IP: enforce.FormatSource(b.Source), Until: b.Until, Remaining: blocklist.Duration(b.Until.Sub(now).Round(time.Second))})
			}
		}
	}
	if s.opt.Blocklist != nil {
		in := s.opt.Blocklist.Info()
		out.Blocklist = &in
	}
	if s.opt.Policies != nil {
		p := s.opt.Policies.Current()
		out.ConfigVersion = p.Version
		for _, name := range p.PoolNames() {
			u := api.TopUpstream{Name: name}
			for _, t := range p.Pool(name).Status() {
				u.Targets++
				if t.Healthy {
					u.Healthy++
				}
			}
			out.Upstreams = append(out.Upstreams, u)
		}
	}
	if ev := s.events(); ev != nil {
		out.Events = ev.Recent(n)
		out.EventsDropped = ev.Dropped()
	}
	writeJSON(w, http.StatusOK, out)
}

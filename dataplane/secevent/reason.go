package secevent

import "github.com/edgeguard/edgeguard/dataplane/pipeline"

// ForReason is the event type of a request the gateway denied for reason;
// TypeNone for denials that are not security events (upstream failures,
// shutting down).
func ForReason(r pipeline.Reason) Type { return byReason[r] }

var byReason = func() (t [256]Type) {
	for _, r := range []pipeline.Reason{
		pipeline.ReasonUnauthenticated, pipeline.ReasonForbidden, pipeline.ReasonLoginLocked,
		pipeline.ReasonAuthLocked, pipeline.ReasonCredentialInQuery, pipeline.ReasonCredentialAmbiguous,
		pipeline.ReasonLoginAmbiguous,
	} {
		t[r] = AuthFailure
	}
	for _, r := range []pipeline.Reason{
		pipeline.ReasonPathInvalid, pipeline.ReasonPathAmbiguous, pipeline.ReasonHeaderInvalid,
		pipeline.ReasonBodyTooLarge, pipeline.ReasonFramingInvalid, pipeline.ReasonRequestTimeout,
		pipeline.ReasonMediaTypeUnsupported, pipeline.ReasonURITooLong, pipeline.ReasonHeadersTooMany,
		pipeline.ReasonQueryParamsTooMany, pipeline.ReasonBodyInvalid, pipeline.ReasonVersionUnsupported,
	} {
		t[r] = ValidationRefused
	}
	t[pipeline.ReasonNoRoute] = RouteRefused
	t[pipeline.ReasonMethodNotAllowed] = RouteRefused
	t[pipeline.ReasonRateLimited] = LimitRefused
	t[pipeline.ReasonBurstBanned] = LimitBan
	t[pipeline.ReasonWAFBlocked] = WAFDetection
	t[pipeline.ReasonWAFError] = WAFError
	return t
}()

package crs

import (
	"fmt"
	"strconv"
	"strings"
)

// requestFiles are the CRS files a route loads: the request side only.
// RESPONSE-95x/980 are left out: the gateway never feeds Coraza a
// response (phases 3 and 4 never run) and the logging phase is never run,
// so their rules would only be skipped one by one on every request.
var requestFiles = []string{
	"REQUEST-901-INITIALIZATION.conf",
	"REQUEST-905-COMMON-EXCEPTIONS.conf",
	"REQUEST-911-METHOD-ENFORCEMENT.conf",
	"REQUEST-913-SCANNER-DETECTION.conf",
	"REQUEST-920-PROTOCOL-ENFORCEMENT.conf",
	"REQUEST-921-PROTOCOL-ATTACK.conf",
	"REQUEST-922-MULTIPART-ATTACK.conf",
	"REQUEST-930-APPLICATION-ATTACK-LFI.conf",
	"REQUEST-931-APPLICATION-ATTACK-RFI.conf",
	"REQUEST-932-APPLICATION-ATTACK-RCE.conf",
	"REQUEST-933-APPLICATION-ATTACK-PHP.conf",
	"REQUEST-934-APPLICATION-ATTACK-GENERIC.conf",
	"REQUEST-941-APPLICATION-ATTACK-XSS.conf",
	"REQUEST-942-APPLICATION-ATTACK-SQLI.conf",
	"REQUEST-943-APPLICATION-ATTACK-SESSION-FIXATION.conf",
	"REQUEST-944-APPLICATION-ATTACK-JAVA.conf",
	"REQUEST-949-BLOCKING-EVALUATION.conf",
}

// crsSetupVersion must match the embedded CRS (REQUEST-901 refuses to run
// without it).
const crsSetupVersion = 4250

// Ids of the gateway's own rules, in the range CRS leaves to integrators
// (the 200000s are Coraza's recommended-config rules, reused as they are).
const (
	ruleForceJSON = 10001 // ctl:requestBodyProcessor=JSON when the caller says the body is JSON
	ruleSetup     = 10002
)

// txForceJSON is the TX variable Inspect sets when the caller says the body
// is JSON; ruleForceJSON reads it.
const txForceJSON = "edgeguard_force_json"

// allowedMethods: an API gateway route already restricts methods, and CRS's
// default (GET HEAD POST OPTIONS) would block every PUT, PATCH and DELETE
// with rule 911100 at paranoia 1.
const allowedMethods = "GET HEAD POST OPTIONS PUT PATCH DELETE"

// allowedContentTypes is CRS's default list plus the JSON media types APIs
// send (RFC 7396 merge patch, RFC 6902 JSON patch, problem+json,
// JSON:API, CloudEvents); CRS's rule 920420 refuses any other.
// The route's own media-type rules (package validate) are the real
// allow-list; this only keeps CRS from contradicting them.
const allowedContentTypes = "|application/x-www-form-urlencoded| |multipart/form-data| |text/xml| |application/xml| " +
	"|application/soap+xml| |application/json| |application/merge-patch+json| |application/json-patch+json| " +
	"|application/problem+json| |application/vnd.api+json| " +
	"|application/cloudevents+json| |application/cloudevents-batch+json|"

// directives renders the SecLang for one engine: Coraza's settings, the
// CRS setup, the request-side CRS files, then the exclusions (which must
// follow the rules they change).
func directives(c Config, prefilter bool) string {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }

	// Engine: always On. Detect mode is applied by Inspect on the verdict,
	// so detect and block routes share an engine and score identically
	// (DetectionOnly would also switch the body limit to ProcessPartial,
	// which truncates).
	w("SecRuleEngine On")
	w("SecRequestBodyAccess On")
	w("SecResponseBodyAccess Off")
	// Coraza refuses a body whose length reaches its limit (>=), so the
	// limit is one byte over the route's; the in-memory limit equals it so
	// the body is never buffered in a temporary file. (Coraza's multipart
	// processor still copies file parts to $TMPDIR, deleted when the
	// transaction closes, unless built with the no_fs_access tag.)
	w("SecRequestBodyLimit %d", c.MaxBodyBytes+1)
	w("SecRequestBodyInMemoryLimit %d", c.MaxBodyBytes+1)
	w("SecRequestBodyLimitAction Reject")
	w("SecArgumentsLimit %d", c.MaxArgs)
	w("SecAuditEngine Off")
	// Coraza's own @rx pre-filter stays off: in v3.8.1 it says "cannot
	// match" for inputs its regular expression matches (CRS's own test
	// 942220-2, "2.2250738585072011e-308", passes unseen with it on). CRS's
	// @rx run the gateway's operator instead (rxOperator), whose filter is
	// tested sound on every CRS regular expression.
	if prefilter {
		w("SecRxPreFilter On")
	} else {
		w("SecRxPreFilter Off")
	}
	w(`SecDefaultAction "phase:1,log,auditlog,pass"`)
	w(`SecDefaultAction "phase:2,log,auditlog,pass"`)

	// Body processors, as Coraza's recommended config selects them, plus
	// the caller's "this body is JSON". They run before CRS's 901340, which
	// would otherwise force the URL-encoded processor on a JSON body.
	w(`SecRule REQUEST_HEADERS:Content-Type "^(?:application(?:/soap\+|/)|text/)xml" "id:200000,phase:1,t:none,t:lowercase,pass,nolog,ctl:requestBodyProcessor=XML"`)
	w(`SecRule REQUEST_HEADERS:Content-Type "^application/json" "id:200001,phase:1,t:none,t:lowercase,pass,nolog,ctl:requestBodyProcessor=JSON"`)
	w(`SecRule REQUEST_HEADERS:Content-Type "^application/[a-z0-9.-]+[+]json" "id:200006,phase:1,t:none,t:lowercase,pass,nolog,ctl:requestBodyProcessor=JSON"`)
	w(`SecRule TX:%s "@eq 1" "id:%d,phase:1,t:none,pass,nolog,ctl:requestBodyProcessor=JSON"`, txForceJSON, ruleForceJSON)

	// CRS setup (what crs-setup.conf would say).
	w(`SecAction "id:%d,phase:1,pass,t:none,nolog,`+
		`setvar:tx.crs_setup_version=%d,`+
		`setvar:tx.blocking_paranoia_level=%d,`+
		`setvar:tx.detection_paranoia_level=%d,`+
		`setvar:tx.inbound_anomaly_score_threshold=%d,`+
		`setvar:tx.early_blocking=1,`+
		`setvar:tx.crs_skip_response_analysis=1,`+
		`setvar:'tx.allowed_methods=%s',`+
		`setvar:'tx.allowed_request_content_type=%s'"`,
		ruleSetup, crsSetupVersion, c.Paranoia, c.Paranoia, c.AnomalyThreshold, allowedMethods, allowedContentTypes)

	for _, f := range requestFiles {
		w("Include @owasp_crs/%s", f)
	}

	if !c.NoAPIExclusions {
		b.WriteString(exclusionDirectives(apiExclusions))
	}
	for _, id := range c.ExcludeRules {
		w("SecRuleRemoveById %s", strconv.Itoa(id))
	}
	if c.extra != "" {
		w("%s", c.extra)
	}
	return b.String()
}

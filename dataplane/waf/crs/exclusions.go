package crs

import (
	"fmt"
	"strings"
)

// Scope is how much of a rule an Exclusion takes away.
type Scope uint8

const (
	// ScopeRule removes the rule (SecRuleRemoveById).
	ScopeRule Scope = iota + 1
	// ScopeTargets stops the rule inspecting Exclusion.Targets
	// (SecRuleUpdateTargetById with negated targets); it keeps inspecting
	// everything else it did.
	ScopeTargets
	// ScopeJSONBody stops the rule inspecting the values of a JSON body,
	// and nothing else: query and path arguments, form fields and every
	// other target stay inspected. The rule's ARGS target is split into
	// ARGS_GET|ARGS_PATH|ARGS_POST at compile time, and ARGS_POST is
	// dropped for the one request only when Coraza parses the body as
	// JSON (ruleJSONExclusions). A narrower "!ARGS:/^json\./" would let an
	// attacker evade the rule by naming a query argument "json.x".
	ScopeJSONBody
)

// Exclusion is one change the gateway ships to CRS for JSON API traffic.
type Exclusion struct {
	Rule  int
	Scope Scope
	// Targets is what ScopeTargets stops inspecting, in SecLang
	// ("ARGS|REQUEST_COOKIES").
	Targets string
	// Paranoia is the paranoia level from which the rule runs.
	Paranoia int
	// Reason says what benign API traffic the rule fired on.
	Reason string
}

// APIExclusions returns the exclusions every route gets unless it sets
// Config.NoAPIExclusions. Each was found by running the benign API corpus
// (testdata/benign.json) at paranoia 1 and 2, and each is as narrow as
// CRS allows: a rule is removed only when what it fires on is what APIs
// routinely carry in every place it inspects.
func APIExclusions() []Exclusion {
	return append([]Exclusion(nil), apiExclusions...)
}

var apiExclusions = []Exclusion{
	{Rule: 920350, Scope: ScopeRule, Paranoia: 1,
		Reason: "Host header is a numeric IP address: internal clients, load balancer health checks and " +
			"service meshes address APIs by IP; it adds 3 points to every such request and is no attack " +
			"signal (the router decides which hosts a route serves)"},
	{Rule: 931130, Scope: ScopeRule, Paranoia: 2,
		Reason: "RFI off-domain link: fires on every URL to another host in any argument (avatar_url, " +
			"webhook url, OAuth redirect_uri, problem+json type). APIs carry URLs as data; its only target " +
			"is ARGS, so it cannot be narrowed. 931100-931120 (IP-address URLs, include-style parameters, " +
			"trailing '?') still run at paranoia 1"},
	{Rule: 942200, Scope: ScopeTargets, Targets: "ARGS|REQUEST_COOKIES", Paranoia: 2,
		Reason: "MySQL comment/space obfuscation: fires on any comma-separated text: \"Blue widget, large\", " +
			"street addresses, fields=id,name,price, ids=17,42,1337, CSV rows, consent cookies " +
			"(a=false,b=false). Still inspects argument names, User-Agent and Referer"},
	{Rule: 932236, Scope: ScopeTargets, Targets: "ARGS", Paranoia: 2,
		Reason: "Unix command without evasion, loose variant: fires on text that starts with a command " +
			"name: q=red running shoes (red), fields=id,name (id), \"Nice write-up\" (nice). Its paranoia 1 " +
			"sibling 932235, which needs command syntax around the word, still inspects arguments; this one " +
			"still inspects cookies and argument names"},
	{Rule: 942120, Scope: ScopeTargets, Targets: "ARGS", Paranoia: 2,
		Reason: "SQL operator: '==' matches the padding of every base64 value (pagination cursors, " +
			"uploads, integrity hashes) and '>=' every version range. Still inspects argument names and " +
			"the path"},
	{Rule: 942440, Scope: ScopeJSONBody, Paranoia: 2,
		Reason: "SQL comment sequence: '#' followed by text (\"order #6735, please\") and ' -- ' dashes in " +
			"free text of JSON bodies"},
	{Rule: 942430, Scope: ScopeJSONBody, Paranoia: 2,
		Reason: "12 or more special characters: any markdown or prose field of a JSON body"},
	{Rule: 942510, Scope: ScopeJSONBody, Paranoia: 2,
		Reason: "backticks: markdown `code` spans in JSON text fields"},
	{Rule: 942131, Scope: ScopeJSONBody, Paranoia: 2,
		Reason: "SQL boolean comparison: prose with '<' or '>' between words (\"costs are < 5% over\") " +
			"and version ranges (\">=1.0.0 <2.0.0\") in JSON bodies"},
	{Rule: 942150, Scope: ScopeJSONBody, Paranoia: 2,
		Reason: "SQL function name followed by '(': prose such as \"my password (ticket #4521)\" or " +
			"\"pick a date (any weekday)\" in JSON text fields"},
	{Rule: 942410, Scope: ScopeJSONBody, Paranoia: 2,
		Reason: "SQL function name followed by '(' (second list): the same prose as 942150"},
	{Rule: 932200, Scope: ScopeJSONBody, Paranoia: 2,
		Reason: "shell evasion ($var/, quoting): prices such as \"12.5h @ $150/h\" in JSON text fields"},
}

// ruleJSONExclusions is the id of the gateway's rule that drops ARGS_POST
// from the ScopeJSONBody rules when the body is parsed as JSON.
const ruleJSONExclusions = 10003

// exclusionDirectives renders exclusions as SecLang; they must follow the
// rules they change.
func exclusionDirectives(excl []Exclusion) string {
	var b strings.Builder
	var ctl []string
	for _, e := range excl {
		switch e.Scope {
		case ScopeRule:
			fmt.Fprintf(&b, "SecRuleRemoveById %d\n", e.Rule)
		case ScopeTargets:
			fmt.Fprintf(&b, "SecRuleUpdateTargetById %d \"!%s\"\n", e.Rule, strings.ReplaceAll(e.Targets, "|", "|!"))
		case ScopeJSONBody:
			fmt.Fprintf(&b, "SecRuleUpdateTargetById %d \"!ARGS\"\n", e.Rule)
			fmt.Fprintf(&b, "SecRuleUpdateTargetById %d \"ARGS_GET|ARGS_PATH|ARGS_POST\"\n", e.Rule)
			ctl = append(ctl, fmt.Sprintf("ctl:ruleRemoveTargetById=%d;ARGS_POST", e.Rule))
		}
	}
	if len(ctl) > 0 {
		fmt.Fprintf(&b, "SecRule REQBODY_PROCESSOR \"@streq JSON\" \"id:%d,phase:1,pass,nolog,t:none,%s\"\n",
			ruleJSONExclusions, strings.Join(ctl, ","))
	}
	return b.String()
}

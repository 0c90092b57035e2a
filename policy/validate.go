package policy

import (
	"fmt"

	"github.com/edgeguard/edgeguard/dataplane/pipeline"
	"github.com/edgeguard/edgeguard/dataplane/validate"
	"github.com/edgeguard/edgeguard/policy/config"
)

// validateStage compiles a route's request validation; nil when the route
// validates nothing.
func validateStage(r *config.Route) (pipeline.Stage, error) {
	v := &r.Validate
	if !v.On() {
		return nil, nil
	}
	rules := validate.Rules{
		Route:          r.Name,
		MediaTypes:     v.ContentTypes,
		MaxBodyBytes:   v.MaxBodyBytes,
		MaxHeaders:     v.MaxHeaders,
		MaxURIBytes:    v.MaxURIBytes,
		MaxQueryParams: v.MaxQueryParams,
		RefuseEncoded:  v.Validated(),
	}
	body, err := jsonChecker(r)
	if err != nil {
		return nil, err
	}
	rules.Body = body
	return validate.New(rules)
}

// jsonChecker compiles the route's JSON body check; nil without one.
func jsonChecker(r *config.Route) (validate.BodyChecker, error) {
	if !r.Validate.JSON {
		return nil, nil
	}
	return nil, fmt.Errorf("route %q: JSON validation is not built yet", r.Name)
}

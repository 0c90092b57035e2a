package policy

import (
	"fmt"
	"os"

	"github.com/edgeguard/edgeguard/dataplane/pipeline"
	"github.com/edgeguard/edgeguard/dataplane/validate"
	"github.com/edgeguard/edgeguard/dataplane/validate/schema"
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

// jsonChecker compiles the route's JSON body check; nil without one. The
// schema file is read here, at load: the data plane never reads files.
func jsonChecker(r *config.Route) (validate.BodyChecker, error) {
	v := &r.Validate
	if !v.JSON {
		return nil, nil
	}
	var s *schema.Schema
	if v.JSONSchemaFile != "" {
		doc, err := os.ReadFile(v.JSONSchemaFile)
		if err != nil {
			return nil, fmt.Errorf("validate.json_schema_file: %w", err)
		}
		if v.JSONSchemaPointer != "" {
			s, err = schema.CompileAt(doc, v.JSONSchemaPointer)
		} else {
			s, err = schema.Compile(doc)
		}
		if err != nil {
			return nil, fmt.Errorf("validate.json_schema_file %s: %w", v.JSONSchemaFile, err)
		}
	}
	return validate.NewJSONCheck(r.Name, v.MaxJSONDepth, s), nil
}

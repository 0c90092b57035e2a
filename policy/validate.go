package policy

import (
	"fmt"
	"os"
	"strings"

	"github.com/edgeguard/edgeguard/dataplane/pipeline"
	"github.com/edgeguard/edgeguard/dataplane/validate"
	"github.com/edgeguard/edgeguard/dataplane/validate/openapi"
	"github.com/edgeguard/edgeguard/dataplane/validate/schema"
	"github.com/edgeguard/edgeguard/policy/config"
)

// validateStage compiles a route's request validation; nil when the route
// validates nothing.
func validateStage(r *config.Route, warnings *[]string) (pipeline.Stage, error) {
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
	body, err := bodyChecker(r)
	if err != nil {
		return nil, err
	}
	if c, ok := body.(*openapi.Check); ok && len(c.Security()) > 0 && len(r.Auth.Methods) == 0 {
		*warnings = append(*warnings, fmt.Sprintf("routes %q: validate.openapi_file %s: %s asks for credentials, which validation "+
			"does not check, and the route sets no auth.methods: it is public", r.Name, v.OpenAPIFile, strings.Join(c.Security(), ", ")))
	}
	rules.Body = body
	return validate.New(rules)
}

// bodyChecker compiles the route's body check (an OpenAPI document's
// operations, or a JSON check with an optional schema); nil without one.
// Files are read here, at load: the data plane never reads files.
func bodyChecker(r *config.Route) (validate.BodyChecker, error) {
	v := &r.Validate
	if v.OpenAPIFile != "" {
		doc, err := os.ReadFile(v.OpenAPIFile)
		if err != nil {
			return nil, fmt.Errorf("validate.openapi_file: %w", err)
		}
		base := strings.TrimSuffix(r.Path, "/")
		if base == "" {
			base = "/"
		}
		c, err := openapi.New(doc, openapi.Options{Route: r.Name, BasePath: base, MaxJSONDepth: v.MaxJSONDepth})
		if err != nil {
			return nil, fmt.Errorf("validate.openapi_file %s: %w", v.OpenAPIFile, err)
		}
		return c, nil
	}
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

package config

import (
	"fmt"
	"os"
	"strings"
)

// RouteValidate is a route's request validation (routes[].validate). A
// route with content types, a body limit or a JSON check is a validated
// route: its bodies may carry no Content-Encoding, and the header, URI and
// query limits default on. The limits also apply alone, where set.
type RouteValidate struct {
	// ContentTypes are the media types a request body may have
	// ("application/json", "text/*"); parameters such as charset are
	// ignored. Default: [application/json] when JSONSchemaFile is set,
	// else any.
	ContentTypes []string `mapstructure:"content_types"`
	// MaxBodyBytes is the route's body limit, applied before the body is
	// read (413); 0: server.max_request_body_bytes.
	MaxBodyBytes int `mapstructure:"max_body_bytes"`
	// JSONSchemaFile names a JSON Schema (draft 2020-12 subset): the body
	// must be one well-formed JSON value that it accepts.
	JSONSchemaFile string `mapstructure:"json_schema_file"`
	// JSONSchemaPointer selects a schema inside the file (e.g.
	// "/components/schemas/Order" in an OpenAPI document); "" is the root.
	JSONSchemaPointer string `mapstructure:"json_schema_pointer"`
	// JSON checks that a body is one well-formed JSON value (no duplicate
	// keys, depth bounded) even without a schema. On with a schema.
	JSON bool `mapstructure:"json"`
	// OpenAPIFile names an OpenAPI 3.0 or 3.1 document (JSON or YAML)
	// whose paths, relative to the route's path, are the route's
	// operations: requests are checked against their operation's
	// parameters and request body, and an undeclared operation is refused
	// (404/405). Excludes json_schema_file.
	OpenAPIFile string `mapstructure:"openapi_file"`
	// MaxJSONDepth bounds the nesting of JSON bodies.
	MaxJSONDepth   int `mapstructure:"max_json_depth"`
	MaxHeaders     int `mapstructure:"max_headers"`      // 431 above; default 100 on validated routes
	MaxURIBytes    int `mapstructure:"max_uri_bytes"`    // 414 above; default 8192
	MaxQueryParams int `mapstructure:"max_query_params"` // 400 above; default 100
}

// MaxJSONDepthLimit is the deepest max_json_depth the JSON reader
// enforces (validate/jsonbody.MaxDepthLimit: fastjson's recursion limit
// less one; policy's tests check they agree). A larger setting would be
// lowered silently, so it is refused.
const MaxJSONDepthLimit = 299

// Defaults of validated routes.
const (
	DefaultMaxJSONDepth   = 64
	DefaultMaxHeaders     = 100
	DefaultMaxURIBytes    = 8192
	DefaultMaxQueryParams = 100
)

// Validated reports whether the route validates request bodies.
func (v *RouteValidate) Validated() bool {
	return len(v.ContentTypes) > 0 || v.MaxBodyBytes != 0 || v.JSONSchemaFile != "" || v.JSON || v.OpenAPIFile != ""
}

// On reports whether the route checks anything of its requests.
func (v *RouteValidate) On() bool {
	return v.Validated() || v.MaxHeaders != 0 || v.MaxURIBytes != 0 || v.MaxQueryParams != 0
}

func (v *RouteValidate) applyDefaults() {
	if !v.Validated() {
		return
	}
	if v.JSONSchemaFile != "" {
		v.JSON = true
	}
	if v.JSON && len(v.ContentTypes) == 0 {
		v.ContentTypes = []string{"application/json"}
	}
	if v.JSON || v.OpenAPIFile != "" {
		setInt(&v.MaxJSONDepth, DefaultMaxJSONDepth)
	}
	setInt(&v.MaxHeaders, DefaultMaxHeaders)
	setInt(&v.MaxURIBytes, DefaultMaxURIBytes)
	setInt(&v.MaxQueryParams, DefaultMaxQueryParams)
}

func (v *RouteValidate) validate(val *validator, key string) {
	for i, t := range v.ContentTypes {
		typ, sub, ok := strings.Cut(t, "/")
		if !ok || !isToken(typ) || typ == "*" || (sub != "*" && !isToken(sub)) {
			val.add(fmt.Sprintf("%s.content_types[%d]", key, i), "want type/subtype or type/*, got %q", t)
		}
	}
	val.atLeast(key+".max_body_bytes", v.MaxBodyBytes, 0)
	val.atLeast(key+".max_headers", v.MaxHeaders, 0)
	val.atLeast(key+".max_uri_bytes", v.MaxURIBytes, 0)
	val.atLeast(key+".max_query_params", v.MaxQueryParams, 0)
	if v.JSON || v.OpenAPIFile != "" || v.MaxJSONDepth != 0 {
		// Set without a JSON body check it does nothing, but a value out
		// of range is a mistake all the same.
		val.between(key+".max_json_depth", v.MaxJSONDepth, 1, MaxJSONDepthLimit)
	}
	if v.OpenAPIFile != "" {
		if v.JSON {
			val.add(key+".openapi_file", "excludes json and json_schema_file: the document's operations say what each body must be")
		}
		if _, err := os.Stat(v.OpenAPIFile); err != nil {
			val.add(key+".openapi_file", "%v", err)
		}
	}
	switch {
	case v.JSONSchemaPointer != "" && v.JSONSchemaFile == "":
		val.add(key+".json_schema_pointer", "points into json_schema_file, which is not set")
	case v.JSONSchemaPointer != "" && !strings.HasPrefix(v.JSONSchemaPointer, "/"):
		val.add(key+".json_schema_pointer", "must be a JSON pointer (\"/components/schemas/X\") into json_schema_file, got %q", v.JSONSchemaPointer)
	}
	if v.JSONSchemaFile != "" {
		if _, err := os.Stat(v.JSONSchemaFile); err != nil {
			val.add(key+".json_schema_file", "%v", err)
		}
	}
}

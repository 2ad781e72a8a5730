package api

import (
	"encoding/json"
	"net/http"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/liftrescue/liftrescue"
)

// openAPI serves the OpenAPI 3 document, built from the route table and the Go types of the
// bodies, so that it cannot describe a route that does not exist or miss one that does.
func (s *Server) openAPI(c echo.Context) error {
	return c.JSON(http.StatusOK, s.OpenAPI())
}

var pathParam = regexp.MustCompile(`:([a-z_]+)`)

// openAPIPath writes an echo path as OpenAPI does: /api/v1/incidents/{id}.
func openAPIPath(path string) string { return pathParam.ReplaceAllString(path, "{$1}") }

// OpenAPI returns the document as a JSON-ready value.
func (s *Server) OpenAPI() map[string]any {
	sg := schemaGen{components: map[string]any{}}
	paths := map[string]map[string]any{}
	for _, r := range s.routes {
		p := openAPIPath(r.path)
		if paths[p] == nil {
			paths[p] = map[string]any{}
		}
		op := map[string]any{
			"summary":     r.summary,
			"tags":        []string{r.tag},
			"operationId": strings.ToLower(r.method) + strings.NewReplacer("/", "_", "{", "", "}", "", ".", "_").Replace(p),
		}
		var params []any
		for _, m := range pathParam.FindAllStringSubmatch(r.path, -1) {
			typ := "string"
			if m[1] == "id" {
				typ = "integer"
			}
			params = append(params, map[string]any{"name": m[1], "in": "path", "required": true, "schema": map[string]any{"type": typ}})
		}
		for _, q := range r.query {
			params = append(params, map[string]any{"name": q.name, "in": "query", "description": q.description, "schema": map[string]any{"type": q.typ}})
		}
		if params != nil {
			op["parameters"] = params
		}
		// The document's security (a session or an API key) applies unless the route is public.
		switch r.perm {
		case permPublic:
			op["security"] = []any{}
		case permSignedIn:
		default:
			op["x-permission"] = r.perm
		}
		switch {
		case r.bodyType != "":
			op["requestBody"] = map[string]any{"required": true, "content": map[string]any{
				r.bodyType:            map[string]any{"schema": map[string]any{"type": "string"}},
				"multipart/form-data": map[string]any{"schema": map[string]any{"type": "object", "properties": map[string]any{"file": map[string]any{"type": "string", "format": "binary"}}}},
			}}
		case r.body != nil:
			op["requestBody"] = map[string]any{"required": true, "content": map[string]any{"application/json": map[string]any{"schema": sg.schema(reflect.TypeOf(r.body))}}}
		}
		ok := map[string]any{"description": http.StatusText(r.status)}
		if r.response != nil {
			ok["content"] = map[string]any{"application/json": map[string]any{"schema": sg.schema(reflect.TypeOf(r.response))}}
		}
		op["responses"] = map[string]any{
			strconv.Itoa(r.status): ok,
			"default":              map[string]any{"description": "An error", "content": map[string]any{"application/json": map[string]any{"schema": sg.schema(reflect.TypeOf(ErrorBody{}))}}},
		}
		paths[p][strings.ToLower(r.method)] = op
	}
	return map[string]any{
		"openapi": "3.0.3",
		"info": map[string]any{
			"title":       "liftrescue",
			"version":     s.cfg.Version,
			"description": "Elevator emergency rescue dispatch. Errors are {\"error\":{\"code\",\"message\",\"details\"}}; lists are {\"items\",\"total\",\"next_cursor\"}.",
		},
		"paths":    paths,
		"security": []any{map[string]any{"session": []string{}}, map[string]any{"apiKey": []string{}}},
		"components": map[string]any{"schemas": sg.components, "securitySchemes": map[string]any{
			"session": map[string]any{"type": "apiKey", "in": "cookie", "name": sessionCookie,
				"description": "A person's session from POST /api/v1/session; writes also need the X-CSRF-Token header"},
			"apiKey": map[string]any{"type": "http", "scheme": "bearer", "description": "An API key (lrk_…) with the route's permission (x-permission) among its scopes"},
		}},
	}
}

// schemaGen turns Go types into JSON schemas, naming structs as components.
type schemaGen struct{ components map[string]any }

var (
	timeType    = reflect.TypeOf(time.Time{})
	rawJSONType = reflect.TypeOf(json.RawMessage{})
	dateType    = reflect.TypeOf(liftrescue.Date{})
	districtTyp = reflect.TypeOf(liftrescue.District{})
)

func (g *schemaGen) schema(t reflect.Type) map[string]any {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t {
	case timeType:
		return map[string]any{"type": "string", "format": "date-time"}
	case dateType:
		return map[string]any{"type": "string", "format": "date", "nullable": true}
	case rawJSONType:
		return map[string]any{"type": "object", "description": "JSON kept byte for byte"}
	case districtTyp:
		return g.component("District", func() map[string]any {
			return map[string]any{"type": "object", "properties": map[string]any{
				"code":    map[string]any{"type": "string"},
				"name":    map[string]any{"type": "string"},
				"rural":   map[string]any{"type": "boolean"},
				"outline": map[string]any{"type": "object", "nullable": true, "description": "GeoJSON Polygon or MultiPolygon, WGS-84"},
			}}
		})
	}
	if strings.HasPrefix(t.PkgPath(), "github.com/paulmach/orb") {
		return map[string]any{"type": "object", "description": "GeoJSON (RFC 7946), WGS-84"}
	}
	switch t.Kind() {
	case reflect.String:
		return map[string]any{"type": "string"}
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64, reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return map[string]any{"type": "integer"}
	case reflect.Float32, reflect.Float64:
		return map[string]any{"type": "number"}
	case reflect.Slice, reflect.Array:
		return map[string]any{"type": "array", "items": g.schema(t.Elem())}
	case reflect.Map, reflect.Interface:
		return map[string]any{"type": "object"}
	case reflect.Struct:
		name := t.Name()
		if i := strings.IndexByte(name, '['); i >= 0 && t.Field(0).Type.Kind() == reflect.Slice { // Page[*liftrescue.Elevator] → PageElevator
			item := t.Field(0).Type.Elem()
			for item.Kind() == reflect.Pointer {
				item = item.Elem()
			}
			name = name[:i] + item.Name()
		}
		return g.component(name, func() map[string]any { return g.object(t) })
	}
	return map[string]any{}
}

func (g *schemaGen) component(name string, build func() map[string]any) map[string]any {
	if _, ok := g.components[name]; !ok {
		g.components[name] = map[string]any{} // a placeholder stops recursion
		g.components[name] = build()
	}
	return map[string]any{"$ref": "#/components/schemas/" + name}
}

// object lists the JSON fields of a struct, flattening embedded structs as encoding/json does.
func (g *schemaGen) object(t reflect.Type) map[string]any {
	props := map[string]any{}
	var walk func(t reflect.Type)
	walk = func(t reflect.Type) {
		for i := range t.NumField() {
			f := t.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			// openapi:"-" hides what the store keeps but the API never sends (responder token hashes).
			if name == "-" || !f.IsExported() || f.Tag.Get("openapi") == "-" {
				continue
			}
			ft := f.Type
			if f.Anonymous && name == "" {
				for ft.Kind() == reflect.Pointer {
					ft = ft.Elem()
				}
				walk(ft)
				continue
			}
			if name == "" {
				name = f.Name
			}
			s := g.schema(ft)
			if ft.Kind() == reflect.Pointer && s["$ref"] == nil {
				s["nullable"] = true
			}
			props[name] = s
		}
	}
	walk(t)
	return map[string]any{"type": "object", "properties": props}
}

package app

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
	"github.com/gin-gonic/gin"

	"authapi/adapters/httpapi"
	"authapi/domain"
)

// Every exchange of the end-to-end tests is checked against the OpenAPI
// document: a response whose status, headers or body drift from it fails the
// test that provoked it, and so does a request the server accepted although
// the document forbids it.

type contract struct {
	doc    *openapi3.T
	router routers.Router
}

var loadContract = sync.OnceValues(func() (*contract, error) {
	doc, err := openapi3.NewLoader().LoadFromData(httpapi.OpenAPIDocument)
	if err != nil {
		return nil, err
	}
	if err := doc.Validate(context.Background()); err != nil {
		return nil, err
	}
	// Pages and assets are checked for status and headers; their bodies are
	// not JSON and need no decoding beyond reading them.
	for _, mediaType := range []string{"text/html", "text/css", "text/javascript"} {
		openapi3filter.RegisterBodyDecoder(mediaType, openapi3filter.PlainBodyDecoder)
	}
	router, err := legacy.NewRouter(doc)
	if err != nil {
		return nil, err
	}
	return &contract{doc: doc, router: router}, nil
})

// checkContract validates one exchange. reqBody is the body req was sent with.
func checkContract(t *testing.T, req *http.Request, reqBody []byte, rec *httptest.ResponseRecorder) {
	t.Helper()
	c, err := loadContract()
	if err != nil {
		t.Fatalf("the OpenAPI document does not load: %v", err)
	}
	req = req.Clone(context.Background())
	req.Body = io.NopCloser(bytes.NewReader(reqBody))
	// The legacy router matches on the full URL when a server has a host;
	// ours is relative, so the request needs none.
	route, params, err := c.router.FindRoute(req)
	if err != nil || isRoutingProblem(rec) {
		// Nothing in the document describes this request (the router is also
		// lenient about trailing slashes, which the server is not): the
		// server must refuse it with a 404 or 405 problem.
		if rec.Code != http.StatusNotFound && rec.Code != http.StatusMethodNotAllowed {
			t.Errorf("%s %s answered %d, but the document does not describe it", req.Method, req.URL.Path, rec.Code)
		}
		c.checkProblem(t, rec)
		return
	}
	input := &openapi3filter.RequestValidationInput{
		Request:    req,
		PathParams: params,
		Route:      route,
		Options:    &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, MultiError: true},
	}
	// Requests are sent wrong on purpose to test the errors; one that the
	// server accepted must be one that the document allows.
	if rec.Code < http.StatusBadRequest {
		if err := openapi3filter.ValidateRequest(context.Background(), input); err != nil {
			t.Errorf("%s %s was accepted (%d) but breaks the document: %v", req.Method, req.URL.Path, rec.Code, err)
		}
	}
	err = openapi3filter.ValidateResponse(context.Background(), &openapi3filter.ResponseValidationInput{
		RequestValidationInput: input,
		Status:                 rec.Code,
		Header:                 rec.Header(),
		Body:                   io.NopCloser(bytes.NewReader(rec.Body.Bytes())),
		Options:                &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	})
	if err != nil {
		t.Errorf("%s %s: the %d response breaks the document: %v\nbody: %s", req.Method, req.URL.Path, rec.Code, err, rec.Body)
	}
}

// isRoutingProblem reports a response saying that no route matched.
func isRoutingProblem(rec *httptest.ResponseRecorder) bool {
	var p struct{ Code string }
	_ = json.Unmarshal(rec.Body.Bytes(), &p)
	return p.Code == "not_found" || p.Code == "method_not_allowed"
}

// checkProblem validates a response to a route the document cannot list,
// such as an unknown path, against the problem schema.
func (c *contract) checkProblem(t *testing.T, rec *httptest.ResponseRecorder) {
	t.Helper()
	if ct := rec.Header().Get("Content-Type"); ct != httpapi.ProblemContentType {
		t.Errorf("Content-Type = %q, want %q", ct, httpapi.ProblemContentType)
	}
	var body any
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Errorf("problem body is not JSON: %s", rec.Body)
		return
	}
	schema := c.doc.Components.Schemas["Problem"]
	if schema == nil {
		t.Fatal("the document has no Problem schema")
	}
	if err := schema.Value.VisitJSON(body); err != nil {
		t.Errorf("problem body breaks the Problem schema: %v\nbody: %s", err, rec.Body)
	}
}

func TestOpenAPIDocumentIsValid(t *testing.T) {
	if _, err := loadContract(); err != nil {
		t.Fatal(err)
	}
}

// TestDocumentAndRouterAgree fails when a route is served that the document
// lacks, or the document names a route that is not served: with the admin
// API beside the public routes, and on a listener of its own, where it
// serves the admin routes and the probes and the public listener no admin
// route.
func TestDocumentAndRouterAgree(t *testing.T) {
	c, err := loadContract()
	if err != nil {
		t.Fatal(err)
	}
	documented := map[string]bool{}
	for path, item := range c.doc.Paths.Map() {
		for method := range item.Operations() {
			documented[method+" "+path] = true
		}
	}
	agree := func(t *testing.T, served map[string]bool) {
		t.Helper()
		for route := range served {
			if !documented[route] {
				t.Errorf("%s is served but not documented", route)
			}
		}
		for route := range documented {
			if !served[route] {
				t.Errorf("%s is documented but not served", route)
			}
		}
	}
	t.Run("one listener", func(t *testing.T) {
		agree(t, routesOf(t, newTestAPI(t).handler))
	})
	t.Run("the admin API on its own listener", func(t *testing.T) {
		api := newTestAPI(t, func(c *Config) { c.AdminAddr = "127.0.0.1:0" })
		public, admin := routesOf(t, api.handler), routesOf(t, api.admin)
		served := map[string]bool{}
		for route := range public {
			if strings.Contains(route, " /admin/") {
				t.Errorf("%s is served on the public listener", route)
			}
			served[route] = true
		}
		for route := range admin {
			if !strings.Contains(route, " /admin/") && route != "GET /healthz" && route != "GET /readyz" {
				t.Errorf("%s is served on the admin listener", route)
			}
			served[route] = true
		}
		agree(t, served)
	})
}

// routesOf lists the routes handler serves, as "METHOD /path/{param}".
func routesOf(t *testing.T, handler http.Handler) map[string]bool {
	t.Helper()
	engine, ok := handler.(*gin.Engine)
	if !ok {
		t.Fatalf("router is a %T, not a gin engine", handler)
	}
	served := map[string]bool{}
	for _, r := range engine.Routes() {
		served[r.Method+" "+ginPathToOpenAPI(r.Path)] = true
	}
	return served
}

// TestAdminRoutesHaveTheirOwnSecurity: every admin operation takes the
// admin key and nothing else, and no other operation takes it, so that the
// document never shows a user's token as a way into the admin API, nor the
// other way round.
func TestAdminRoutesHaveTheirOwnSecurity(t *testing.T) {
	c, err := loadContract()
	if err != nil {
		t.Fatal(err)
	}
	scheme := c.doc.Components.SecuritySchemes["adminKey"]
	if scheme == nil || scheme.Value.Type != "http" || scheme.Value.Scheme != "bearer" {
		t.Fatalf("the adminKey scheme = %+v, want HTTP bearer", scheme)
	}
	admin := 0
	for path, item := range c.doc.Paths.Map() {
		for method, op := range item.Operations() {
			var schemes []string
			if op.Security != nil {
				for _, req := range *op.Security {
					for name := range req {
						schemes = append(schemes, name)
					}
				}
			}
			isAdmin := strings.HasPrefix(path, "/admin/")
			switch {
			case isAdmin && !slices.Equal(schemes, []string{"adminKey"}):
				t.Errorf("%s %s takes %v, want the admin key alone", method, path, schemes)
			case !isAdmin && slices.Contains(schemes, "adminKey"):
				t.Errorf("%s %s takes the admin key", method, path)
			}
			if isAdmin {
				admin++
				if op.Responses.Status(http.StatusUnauthorized) == nil {
					t.Errorf("%s %s documents no 401", method, path)
				}
			}
		}
	}
	if admin != len(adminRoutes("{id}")) {
		t.Errorf("the document has %d admin operations, the tests know %d", admin, len(adminRoutes("{id}")))
	}
}

// TestEventTypesAreDocumented: the document lists every event type the
// audit log holds, so that GET /admin/audit and GET /me/activity never
// answer with a type a client was told cannot occur.
func TestEventTypesAreDocumented(t *testing.T) {
	c, err := loadContract()
	if err != nil {
		t.Fatal(err)
	}
	schema := c.doc.Components.Schemas["EventType"]
	if schema == nil {
		t.Fatal("the document has no EventType schema")
	}
	var documented []string
	for _, v := range schema.Value.Enum {
		documented = append(documented, fmt.Sprint(v))
	}
	var known []string
	for _, typ := range domain.EventTypes() {
		known = append(known, string(typ))
	}
	slices.Sort(documented)
	slices.Sort(known)
	if !slices.Equal(documented, known) {
		t.Errorf("EventType lists\n%v\nthe audit log has\n%v", documented, known)
	}
}

// ginPathToOpenAPI turns "/docs/:asset" into "/docs/{asset}".
func ginPathToOpenAPI(path string) string {
	parts := strings.Split(path, "/")
	for i, p := range parts {
		if strings.HasPrefix(p, ":") || strings.HasPrefix(p, "*") {
			parts[i] = "{" + p[1:] + "}"
		}
	}
	return strings.Join(parts, "/")
}

func TestDocsPageAndAssetsAreServed(t *testing.T) {
	api := newTestAPI(t)
	res := api.do(t, "GET", "/docs", nil)
	wantStatus(t, res, http.StatusOK)
	page := res.Body.String()
	if !strings.Contains(res.Header().Get("Content-Security-Policy"), "script-src 'self'") {
		t.Errorf("Content-Security-Policy = %q", res.Header().Get("Content-Security-Policy"))
	}
	refs := regexp.MustCompile(`(?:src|href)="([^"]+)"`).FindAllStringSubmatch(page, -1)
	if len(refs) < 3 {
		t.Fatalf("page references %d assets:\n%s", len(refs), page)
	}
	for _, ref := range refs {
		if strings.Contains(ref[1], "//") {
			t.Errorf("asset %q is not served by authapi", ref[1])
			continue
		}
		asset := api.do(t, "GET", "/"+ref[1], nil)
		wantStatus(t, asset, http.StatusOK)
		if asset.Body.Len() == 0 {
			t.Errorf("asset %s is empty", ref[1])
		}
	}
	wantProblem(t, api.do(t, "GET", "/docs/secret.txt", nil), http.StatusNotFound, "not_found")

	yamlRes := api.do(t, "GET", "/openapi.yaml", nil)
	wantStatus(t, yamlRes, http.StatusOK)
	if !bytes.Equal(yamlRes.Body.Bytes(), httpapi.OpenAPIDocument) {
		t.Error("/openapi.yaml is not the document")
	}
	jsonRes := api.do(t, "GET", "/openapi.json", nil)
	wantStatus(t, jsonRes, http.StatusOK)
	served, err := openapi3.NewLoader().LoadFromData(jsonRes.Body.Bytes())
	if err != nil {
		t.Fatalf("/openapi.json does not load: %v", err)
	}
	c, _ := loadContract()
	if got, want := served.Paths.Len(), c.doc.Paths.Len(); got != want || served.Info.Title != c.doc.Info.Title {
		t.Errorf("/openapi.json has %d paths titled %q, want %d titled %q", got, served.Info.Title, want, c.doc.Info.Title)
	}
}

package httpapi

import (
	_ "embed"
	"net/http"

	"github.com/gin-gonic/gin"
	swaggerfiles "github.com/swaggo/files/v2"
)

//go:generate go run ./internal/openapijson

// OpenAPIDocument is the API's contract: the source the docs are served
// from and that the contract tests hold every response to.
//
//go:embed openapi.yaml
var OpenAPIDocument []byte

// openAPIJSON is OpenAPIDocument in JSON, generated from it (see the
// go:generate line above), so that no YAML parser runs in the service.
//
//go:embed openapi.json
var openAPIJSON []byte

func (h *handlers) openapiYAML(c *gin.Context) {
	c.Header("Cache-Control", "no-cache")
	c.Data(http.StatusOK, "application/yaml", OpenAPIDocument)
}

func (h *handlers) openapiJSON(c *gin.Context) {
	c.Header("Cache-Control", "no-cache")
	c.Data(http.StatusOK, "application/json", openAPIJSON)
}

// The Swagger UI page and its initializer are ours; the UI's own assets come
// embedded from the swaggo/files module, so the docs work with no network.
const (
	docsPage = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>authapi API reference</title>
<link rel="stylesheet" href="docs/swagger-ui.css">
<link rel="icon" type="image/png" href="docs/favicon-32x32.png">
</head>
<body>
<div id="swagger-ui"></div>
<script src="docs/swagger-ui-bundle.js"></script>
<script src="docs/initializer.js"></script>
</body>
</html>
`
	docsInitializer = `window.addEventListener("load", function () {
  window.ui = SwaggerUIBundle({
    url: "openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout"
  });
});
`
	// Scripts and styles come only from this server; Swagger UI sets styles
	// through the DOM, which the policy does not restrict, and shows data:
	// images.
	docsPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; " +
		"img-src 'self' data:; font-src 'self' data:; connect-src 'self'; " +
		"base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)

// docsAssets are the files of the UI that the page loads, by name.
var docsAssets = map[string]bool{
	"swagger-ui.css":       true,
	"swagger-ui-bundle.js": true,
	"favicon-32x32.png":    true,
}

func (h *handlers) docs(c *gin.Context) {
	c.Header("Content-Security-Policy", docsPolicy)
	c.Header("X-Frame-Options", "DENY")
	c.Data(http.StatusOK, "text/html; charset=utf-8", []byte(docsPage))
}

func (h *handlers) docsAsset(c *gin.Context) {
	name := c.Param("asset")
	c.Header("Cache-Control", "public, max-age=86400")
	switch {
	case name == "initializer.js":
		c.Data(http.StatusOK, "text/javascript; charset=utf-8", []byte(docsInitializer))
	case docsAssets[name]:
		http.ServeFileFS(c.Writer, c.Request, swaggerfiles.FS, name)
	default:
		c.Header("Cache-Control", "no-cache")
		writeProblem(c, codeRouteNotFound, "no such route", nil)
	}
}

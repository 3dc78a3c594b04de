package httpapi

import (
	"crypto/sha256"
	"encoding/base64"
	"html/template"
	"net/http"

	"github.com/gin-gonic/gin"
)

// The activation page is where emailed links lead. Opening it changes
// nothing, because mail scanners open links; the button posts the link's
// token (or a code typed into the page) to /verify. Script and style are inline and allowed by hash, so the page needs
// no other asset and the Content-Security-Policy can forbid everything else.
const (
	formPageStyle = `body{font-family:system-ui,sans-serif;max-width:28rem;margin:3rem auto;padding:0 1rem;color:#222}
label{display:block;margin:.8rem 0 .2rem}input{width:100%;padding:.5rem;font-size:1rem;box-sizing:border-box}
button{margin-top:1rem;padding:.6rem 1.2rem;font-size:1rem}#result{margin-top:1rem;font-weight:600}`

	activateScript = `document.getElementById("activate").addEventListener("submit", async function (event) {
  event.preventDefault();
  var form = event.target, result = document.getElementById("result");
  form.querySelector("button").disabled = true;
  result.textContent = "Activating...";
  try {
    var response = await fetch("verify", {
      method: "POST",
      headers: {"Content-Type": "application/json"},
      body: JSON.stringify(form.token ? {email: form.email.value, token: form.token.value}
                                      : {email: form.email.value, activation_code: form.code.value})
    });
    var body = await response.json();
    result.textContent = response.ok ? "Your account is active. You can now log in." : (body.detail || "Activation failed.");
  } catch (e) {
    result.textContent = "The service could not be reached. Try again.";
  }
  form.querySelector("button").disabled = false;
});`
)

var activatePage = template.Must(template.New("activate").Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>Activate your account</title>
<style>` + formPageStyle + `</style>
</head>
<body>
<h1>Activate your account</h1>
<form id="activate">
<label for="email">Email</label>
<input id="email" name="email" type="email" value="{{.Email}}" required>
{{if .Token}}<input name="token" type="hidden" value="{{.Token}}">
{{else}}<label for="code">Activation code</label>
<input id="code" name="code" inputmode="numeric" autocomplete="one-time-code" value="{{.Code}}" required>
{{end}}<button type="submit">Activate account</button>
</form>
<p id="result" role="status"></p>
<script>` + activateScript + `</script>
</body>
</html>
`))

var activatePolicy = formPagePolicy(activateScript)

// formPagePolicy is the Content-Security-Policy of a form page: its one
// inline script and the shared style, allowed by hash, requests to this
// origin, and nothing else.
func formPagePolicy(script string) string {
	return "default-src 'none'; script-src " + cspHash(script) +
		"; style-src " + cspHash(formPageStyle) +
		"; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
}

func cspHash(source string) string {
	sum := sha256.Sum256([]byte(source))
	return "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
}

// serveFormPage renders page, filled in with the query's email and code or
// link token, under policy. Its URL carries a secret, so it must stay out of
// caches.
func serveFormPage(c *gin.Context, page *template.Template, policy string) {
	header := c.Writer.Header()
	header.Set("Content-Security-Policy", policy)
	header.Set("X-Frame-Options", "DENY")
	header.Set("Cache-Control", "no-store")
	header.Set("Content-Type", "text/html; charset=utf-8")
	c.Status(http.StatusOK)
	data := struct{ Email, Code, Token string }{c.Query("email"), c.Query("code"), c.Query("token")}
	if err := page.Execute(c.Writer, data); err != nil {
		logger(c).ErrorContext(c.Request.Context(), "render page", "page", page.Name(), "error", err)
	}
}

func (h *handlers) activatePage(c *gin.Context) {
	serveFormPage(c, activatePage, activatePolicy)
}

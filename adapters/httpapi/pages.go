package httpapi

import (
	"crypto/sha256"
	"encoding/base64"
	"html/template"
	"net/http"

	"github.com/gin-gonic/gin"
)

// The pages that emailed links lead to: activation, password reset and
// unlock. Opening one changes nothing, because mail scanners open links; a
// button posts the link's token (or a code typed in) to the API. Script and
// style are inline and allowed by hash, so a page needs no other asset and
// its Content-Security-Policy can forbid everything else.

// formPageStyle is the style every page shares; activateScript is the
// activation page's script, which posts to /verify.
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

// The password reset page is where the reset email's link leads. Like the
// activation page, opening it changes nothing (mail scanners open links):
// the link's token (or a typed code) is spent only when its owner chooses a
// new password and presses the button, which posts to /password/reset.
const resetScript = `document.getElementById("reset").addEventListener("submit", async function (event) {
  event.preventDefault();
  var form = event.target, result = document.getElementById("result");
  form.querySelector("button").disabled = true;
  result.textContent = "Changing the password...";
  try {
    var response = await fetch("password/reset", {
      method: "POST",
      headers: {"Content-Type": "application/json"},
      body: JSON.stringify(form.token
        ? {email: form.email.value, token: form.token.value, new_password: form.new_password.value}
        : {email: form.email.value, code: form.code.value, new_password: form.new_password.value})
    });
    var body = await response.json();
    if (response.ok) {
      form.new_password.value = "";
      result.textContent = "Your password has been changed and every session has ended. Log in with the new password.";
    } else {
      var fields = (body.errors || []).map(function (e) { return e.field.replace("_", " ") + " " + e.message; });
      result.textContent = (body.detail || "The password could not be changed.") + (fields.length ? ": " + fields.join("; ") : "");
    }
  } catch (e) {
    result.textContent = "The service could not be reached. Try again.";
  }
  form.querySelector("button").disabled = false;
});`

var resetPage = template.Must(template.New("reset-password").Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>Choose a new password</title>
<style>` + formPageStyle + `</style>
</head>
<body>
<h1>Choose a new password</h1>
<form id="reset">
<label for="email">Email</label>
<input id="email" name="email" type="email" autocomplete="username" value="{{.Email}}" required>
{{if .Token}}<input name="token" type="hidden" value="{{.Token}}">
{{else}}<label for="code">Reset code</label>
<input id="code" name="code" inputmode="numeric" autocomplete="one-time-code" value="{{.Code}}" required>
{{end}}
<label for="new_password">New password</label>
<input id="new_password" name="new_password" type="password" autocomplete="new-password" minlength="8" required>
<button type="submit">Change password</button>
</form>
<p id="result" role="status"></p>
<script>` + resetScript + `</script>
</body>
</html>
`))

var resetPolicy = formPagePolicy(resetScript)

func (h *handlers) resetPasswordPage(c *gin.Context) {
	serveFormPage(c, resetPage, resetPolicy)
}

// The unlock page is where the link emailed to the owner of a locked account
// leads. Like the other pages, opening it changes nothing (mail scanners
// open links); the button posts the link's token to /unlock.
const unlockScript = `document.getElementById("unlock").addEventListener("submit", async function (event) {
  event.preventDefault();
  var form = event.target, result = document.getElementById("result");
  form.querySelector("button").disabled = true;
  result.textContent = "Unlocking...";
  try {
    var response = await fetch("unlock", {
      method: "POST",
      headers: {"Content-Type": "application/json"},
      body: JSON.stringify({email: form.email.value, token: form.token.value})
    });
    var body = await response.json();
    result.textContent = response.ok ? "Your account is unlocked. You can log in again." : (body.detail || "The account could not be unlocked.");
  } catch (e) {
    result.textContent = "The service could not be reached. Try again.";
  }
  form.querySelector("button").disabled = false;
});`

var unlockPage = template.Must(template.New("unlock").Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>Unlock your account</title>
<style>` + formPageStyle + `</style>
</head>
<body>
<h1>Unlock your account</h1>
<p>Logins to this account were stopped after many wrong passwords. If those were yours, unlock it now.</p>
<form id="unlock">
<label for="email">Email</label>
<input id="email" name="email" type="email" autocomplete="username" value="{{.Email}}" required>
<input name="token" type="hidden" value="{{.Token}}">
<button type="submit">Unlock account</button>
</form>
<p id="result" role="status"></p>
<script>` + unlockScript + `</script>
</body>
</html>
`))

var unlockPolicy = formPagePolicy(unlockScript)

func (h *handlers) unlockPage(c *gin.Context) {
	serveFormPage(c, unlockPage, unlockPolicy)
}

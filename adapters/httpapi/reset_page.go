package httpapi

import (
	"html/template"

	"github.com/gin-gonic/gin"
)

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

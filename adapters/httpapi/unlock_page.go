package httpapi

import (
	"html/template"

	"github.com/gin-gonic/gin"
)

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

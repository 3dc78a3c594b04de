package app

import (
	"bytes"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"authapi/app/emails"
)

// writeTemplates writes files (name: text) into a new directory and returns
// it.
func writeTemplates(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestEmailsAreBranded: the product name and the support address reach the
// emails the service sends, and a template in AUTH_EMAIL_TEMPLATES_DIR
// replaces its built-in namesake while the others stay.
func TestEmailsAreBranded(t *testing.T) {
	dir := writeTemplates(t, map[string]string{
		"activation.subject.txt": "Welcome to {{.ProductName}}, {{.FirstName}}\n",
		"activation.txt":         "Your {{.ProductName}} activation code is {{.Code}}.\n{{.Link}}\nQuestions? {{.SupportEmail}}\n",
	})
	api := newTestAPI(t, func(c *Config) {
		c.Brand = emails.Brand{ProductName: "Astrodesk", SupportEmail: "help@astrodesk.example"}
		c.EmailTemplatesDir = dir
	})
	code := api.signup(t)
	mails := api.mailer.mailsTo(email)
	if len(mails) != 1 {
		t.Fatalf("%d emails, want 1", len(mails))
	}
	got := mails[0]
	if got.Subject != "Welcome to Astrodesk, Astro" {
		t.Errorf("subject %q, want the one of the directory", got.Subject)
	}
	if !strings.HasPrefix(got.Text, "Your Astrodesk activation code is "+code+".\n") || !strings.Contains(got.Text, "/activate?email=") ||
		!strings.HasSuffix(got.Text, "Questions? help@astrodesk.example\n") {
		t.Errorf("text %q, want the one of the directory", got.Text)
	}
	// The HTML part is the built-in one, branded.
	if !strings.Contains(got.HTML, "Activate your Astrodesk account") || !strings.Contains(got.HTML, `href="mailto:help@astrodesk.example"`) {
		t.Errorf("HTML, want the built-in one with the brand:\n%s", got.HTML)
	}

	// Other emails keep their built-in templates.
	wantStatus(t, api.do(t, "POST", "/verify", map[string]string{"email": email, "activation_code": code}), http.StatusOK)
	wantStatus(t, api.forgot(t, email), http.StatusAccepted)
	reset, _ := api.resetMail(t, email)
	if reset.Subject != "Reset your password" || !strings.Contains(reset.Text, "password of your Astrodesk account") ||
		!strings.Contains(reset.Text, "Questions? Write to us at help@astrodesk.example.") {
		t.Errorf("reset email %q:\n%s", reset.Subject, reset.Text)
	}
}

// TestEmailTemplateMistakesStopStartUp: a template that does not parse, one
// that uses a field its email does not have, and a file whose name is no
// template each stop the service before it serves, with one line that names
// the file.
func TestEmailTemplateMistakesStopStartUp(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		want  []string
	}{
		{"does not parse", map[string]string{"password-reset.html": "<p>Hi {{.FirstName</p>\n"},
			[]string{"password-reset.html", "does not parse"}},
		{"unknown field", map[string]string{"activation.subject.txt": "Hello {{.Frist}}\n"},
			[]string{"activation.subject.txt", "Frist", "FirstName"}},
		{"unknown file", map[string]string{"activation.text": "Hi\n"},
			[]string{"activation.text", "is no email template"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := writeTemplates(t, tt.files)
			state := t.TempDir()
			var stdout, stderr bytes.Buffer
			code := Main(t.Context(), nil, environ(map[string]string{
				"AUTH_ADDR":                "127.0.0.1:0",
				"AUTH_DATABASE_URL":        filepath.Join(state, "auth.db"),
				"AUTH_SIGNING_KEY_FILE":    filepath.Join(state, "signing-key.pem"),
				"AUTH_SECRET_KEY_FILE":     filepath.Join(state, "secret.key"),
				"AUTH_EMAIL_TEMPLATES_DIR": dir,
			}), &stdout, &stderr)
			if code != 1 {
				t.Fatalf("exit code %d, want 1:\n%s", code, &stderr)
			}
			logs := stderr.String()
			if strings.Contains(logs, "authapi is serving") {
				t.Errorf("the service served:\n%s", logs)
			}
			var errorLines []string
			for line := range strings.Lines(logs) {
				if strings.Contains(line, "level=ERROR") {
					errorLines = append(errorLines, line)
				}
			}
			if len(errorLines) != 1 {
				t.Fatalf("%d error lines, want 1:\n%s", len(errorLines), logs)
			}
			for _, want := range append(tt.want, "AUTH_EMAIL_TEMPLATES_DIR="+dir) {
				if !strings.Contains(errorLines[0], want) {
					t.Errorf("the error line lacks %q:\n%s", want, errorLines[0])
				}
			}
		})
	}
}

// TestEmailTemplatesDirMustBeADirectory: a directory that is not there, or
// is a file, is said as such.
func TestEmailTemplatesDirMustBeADirectory(t *testing.T) {
	file := filepath.Join(writeTemplates(t, map[string]string{"activation.txt": "Hi\n"}), "activation.txt")
	for path, want := range map[string]string{
		filepath.Join(t.TempDir(), "missing"): "does not exist",
		file:                                  "is not a directory",
	} {
		cfg := DefaultConfig()
		cfg.EmailTemplatesDir = path
		_, err := loadEmails(cfg)
		if err == nil || !strings.Contains(err.Error(), "AUTH_EMAIL_TEMPLATES_DIR="+path+" "+want) {
			t.Errorf("loadEmails(%s) = %v, want %q", path, err, want)
		}
	}
}

// TestBrandSettings: the two settings fill the brand that every template
// receives.
func TestBrandSettings(t *testing.T) {
	cfg, _, err := parseConfig([]string{"--product-name", "Astrodesk"}, envOf(map[string]string{"AUTH_SUPPORT_EMAIL": "help@astrodesk.example"}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if want := (emails.Brand{ProductName: "Astrodesk", SupportEmail: "help@astrodesk.example"}); cfg.Brand != want {
		t.Errorf("brand %+v, want %+v", cfg.Brand, want)
	}
}

package emails

import (
	"fmt"
	"io/fs"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
)

var defaultBrand = Brand{ProductName: "authapi"}

// subjects are the subjects of the built-in templates, as the emails had
// them before they were templates.
var subjects = map[string]string{
	"activation":         "Your activation code",
	"password-reset":     "Reset your password",
	"password-changed":   "Your password was changed",
	"account-locked":     "Your account was locked",
	"account-deleted":    "Your account was deleted",
	"signup-attempt":     "Someone tried to sign up with your email address",
	"two-step-on":        "Two-step login is on",
	"two-step-off":       "Two-step login is off",
	"passkey-added":      "A passkey was added to your account",
	"passkey-removed":    "A passkey was removed from your account",
	"recovery-code-used": "A recovery code was used to log in",
}

func load(t *testing.T, dir fs.FS, brand Brand) *Templates {
	t.Helper()
	templates, err := Load(dir, brand)
	if err != nil {
		t.Fatal(err)
	}
	return templates
}

// TestBuiltInTemplatesRender: every email renders from the built-in
// templates with its subject, its fields in both bodies, the product name,
// and the line with the support address only when there is one.
func TestBuiltInTemplatesRender(t *testing.T) {
	for _, support := range []string{"", "help@example.com"} {
		brand := Brand{ProductName: "Astrodesk", SupportEmail: support}
		templates := load(t, nil, brand)
		for _, sample := range samples {
			name := sample.email()
			t.Run(name+"/support="+support, func(t *testing.T) {
				got, err := templates.Render(sample)
				if err != nil {
					t.Fatal(err)
				}
				if got.Subject != subjects[name] {
					t.Errorf("subject %q, want %q", got.Subject, subjects[name])
				}
				for field, value := range dataOf(sample, brand) {
					want := fmt.Sprint(value)
					if want == "" {
						continue
					}
					if !strings.Contains(got.Text, want) {
						t.Errorf("the text lacks %s %q:\n%s", field, want, got.Text)
					}
					// html/template writes the & of a link's query as &amp;.
					if !strings.Contains(got.HTML, strings.ReplaceAll(want, "&", "&amp;")) {
						t.Errorf("the HTML lacks %s %q:\n%s", field, want, got.HTML)
					}
				}
				if support == "" && strings.Contains(got.Text+got.HTML, "Write to us") {
					t.Errorf("a contact line without a support address:\n%s\n%s", got.Text, got.HTML)
				}
				if support != "" && !strings.Contains(got.HTML, `<a href="mailto:help@example.com">`) {
					t.Errorf("the HTML does not link to the support address:\n%s", got.HTML)
				}
				if !strings.HasSuffix(got.Text, ".\n") || strings.Contains(got.Text, " \n") || strings.Contains(got.Text, "\n\n\n") {
					t.Errorf("the text is not laid out as the others:\n%q", got.Text)
				}
			})
		}
	}
}

// TestBuiltInActivationReadsAsBefore: the activation email reads as it did
// before it was a template, but for the product name.
func TestBuiltInActivationReadsAsBefore(t *testing.T) {
	got, err := load(t, nil, defaultBrand).Render(Activation{FirstName: "Astro", Code: "123456", ExpiresIn: "1 hour", Link: "https://auth.example.com/activate?email=a%40example.com&token=t"})
	if err != nil {
		t.Fatal(err)
	}
	want := `Hi Astro,

Your activation code is 123456. It expires in 1 hour.

Activate your authapi account here:
https://auth.example.com/activate?email=a%40example.com&token=t

If you did not sign up, you can ignore this email.
`
	if got.Text != want {
		t.Errorf("text:\n%s\nwant:\n%s", got.Text, want)
	}
}

// TestHTMLEscapesTheFields: a name is text in the HTML part, never markup.
func TestHTMLEscapesTheFields(t *testing.T) {
	got, err := load(t, nil, defaultBrand).Render(PasswordChanged{FirstName: `<img src=x onerror=alert(1)>`, When: sampleTime})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(got.HTML, "<img") || !strings.Contains(got.HTML, "&lt;img") {
		t.Errorf("the name is not escaped:\n%s", got.HTML)
	}
}

// TestOverridesReplaceTheirNamesakes: a file in the directory replaces the
// built-in template of its name, and only that one.
func TestOverridesReplaceTheirNamesakes(t *testing.T) {
	dir := fstest.MapFS{
		"activation.subject.txt": {Data: []byte("Welcome to {{.ProductName}}, {{.FirstName}}\n")},
		"activation.txt":         {Data: []byte("Your code: {{.Code}}\n{{.Link}}\n")},
		".activation.txt.swp":    {Data: []byte("{{ not a template")},
		"..data":                 {Mode: fs.ModeDir},
	}
	templates := load(t, dir, Brand{ProductName: "Astrodesk"})
	got, err := templates.Render(Activation{FirstName: "Zoë", Code: "654321", ExpiresIn: "1 hour", Link: "https://a.example/activate?token=t"})
	if err != nil {
		t.Fatal(err)
	}
	if got.Subject != "Welcome to Astrodesk, Zoë" || got.Text != "Your code: 654321\nhttps://a.example/activate?token=t\n" {
		t.Errorf("the override is not used: %q, %q", got.Subject, got.Text)
	}
	if !strings.Contains(got.HTML, "Activate your Astrodesk account") {
		t.Errorf("the HTML part, not overridden, is not the built-in one:\n%s", got.HTML)
	}
	reset, err := templates.Render(PasswordReset{FirstName: "Zoë", Code: "111111", ExpiresIn: "15 minutes", Link: "https://a.example/reset"})
	if err != nil || reset.Subject != subjects["password-reset"] {
		t.Errorf("another email changed: %q, %v", reset.Subject, err)
	}
}

// TestLoadRefusesBrokenTemplates: every mistake is found when the templates
// load, and said in one line that names the file.
func TestLoadRefusesBrokenTemplates(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		brand Brand
		want  []string
	}{
		{"does not parse", map[string]string{"password-reset.txt": "Hi {{.FirstName}\n"}, defaultBrand,
			[]string{"password-reset.txt", "does not parse"}},
		{"HTML that does not parse", map[string]string{"activation.html": "{{if .Code}}<p>{{.Code}}</p>\n"}, defaultBrand,
			[]string{"activation.html", "does not parse"}},
		{"unknown field", map[string]string{"activation.txt": "Hi {{.Nmae}}\n"}, defaultBrand,
			[]string{"activation.txt", "Nmae", "FirstName, Code, ExpiresIn, Link, ProductName, SupportEmail"}},
		{"field of another email", map[string]string{"password-changed.html": "<p>{{.Code}}</p>\n"}, defaultBrand,
			[]string{"password-changed.html", `"Code"`}},
		{"field of a field", map[string]string{"account-deleted.subject.txt": "{{.FirstName.Last}}\n"}, defaultBrand,
			[]string{"account-deleted.subject.txt", "Last"}},
		// The brand has no support address, so this branch would not run
		// today; it is found all the same.
		{"unknown field where the brand does not reach", map[string]string{"signup-attempt.txt": "{{with .SupportEmail}}{{.Adress}}{{end}}\n"}, defaultBrand,
			[]string{"signup-attempt.txt", "Adress"}},
		{"HTML that cannot be escaped", map[string]string{"account-locked.html": "<a href=\"{{.Link}}>unlock</a>\n"}, defaultBrand,
			[]string{"account-locked.html"}},
		{"subject of two lines", map[string]string{"activation.subject.txt": "Hello\n{{.Code}}\n"}, defaultBrand,
			[]string{"activation.subject.txt", "one line"}},
		{"empty subject", map[string]string{"activation.subject.txt": "{{/* nothing */}}\n"}, defaultBrand,
			[]string{"activation.subject.txt", "empty"}},
		{"unknown file", map[string]string{"activaton.txt": "Hi\n"}, defaultBrand,
			[]string{"activaton.txt", "is no email template", "NAME.subject.txt", "activation, password-reset"}},
		{"file of the old style", map[string]string{"activation.tmpl": "Hi\n"}, defaultBrand,
			[]string{"activation.tmpl", "is no email template"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := fstest.MapFS{}
			for name, text := range tt.files {
				dir[name] = &fstest.MapFile{Data: []byte(text)}
			}
			_, err := Load(dir, tt.brand)
			if err == nil {
				t.Fatal("loaded")
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("the error takes more than one line:\n%v", err)
			}
			for _, want := range tt.want {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("the error %q lacks %q", err, want)
				}
			}
		})
	}
}

// TestLoadRefusesASubdirectory: a directory is no template either.
func TestLoadRefusesASubdirectory(t *testing.T) {
	_, err := Load(fstest.MapFS{"drafts/activation.txt": {Data: []byte("Hi\n")}}, defaultBrand)
	if err == nil || !strings.Contains(err.Error(), "drafts is no email template") {
		t.Errorf("err = %v, want the directory named", err)
	}
}

// TestBuiltInFilesAreTheTemplates: the built-in directory holds exactly one
// file for each part of each email, so that no template is dead or missing.
func TestBuiltInFilesAreTheTemplates(t *testing.T) {
	entries, err := fs.ReadDir(builtIn, "templates")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.Name())
	}
	want := files()
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("built-in templates %v, want %v", got, want)
	}
}

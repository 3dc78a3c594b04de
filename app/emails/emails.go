// Package emails turns the data of each email the service sends into its
// subject, text and HTML parts, from templates built into the binary that an
// operator may replace, file by file, with templates of their own.
//
// Every template is parsed and rendered with sample data when the templates
// are loaded, so that a mistake in one stops the service at start-up rather
// than failing a signup later. The package reads nothing but the file
// systems it is given, and only in Load.
package emails

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"io"
	"io/fs"
	"reflect"
	"slices"
	"strings"
	texttemplate "text/template"
)

// builtIn holds the default templates, one file per part of each email.
//
//go:embed templates
var builtIn embed.FS

// Brand is what every template receives besides the fields of its email:
// who sends the email and where users may write.
type Brand struct {
	// ProductName names the product in the emails.
	ProductName string
	// SupportEmail is where users may write; the default templates leave
	// out their "write to us" line when it is empty.
	SupportEmail string
}

// Data is the data of one email; its type says which email it is.
type Data interface {
	// email names the email, and so its templates.
	email() string
}

// Activation is the email that carries an activation code and link.
type Activation struct {
	FirstName string
	// Code is the code to type; Link carries a token instead.
	Code      string
	ExpiresIn string
	Link      string
}

// PasswordReset is the email that carries a password reset code and link.
type PasswordReset struct {
	FirstName string
	// Code is the code to type; Link carries a token instead.
	Code      string
	ExpiresIn string
	Link      string
}

// PasswordChanged tells the owner that the password was changed.
type PasswordChanged struct {
	FirstName string
	When      string
}

// AccountLocked tells the owner that logins are stopped after many wrong
// passwords, with the link that lifts the lock.
type AccountLocked struct {
	FirstName string
	Until     string
	Link      string
}

// AccountDeleted tells the owner that the account is gone.
type AccountDeleted struct {
	FirstName string
	When      string
}

// SignupAttempt tells the owner that someone tried to sign up with the
// account's address.
type SignupAttempt struct {
	FirstName string
	When      string
}

// TwoStepOn tells the owner that two-step login was turned on.
type TwoStepOn struct {
	FirstName string
	When      string
}

// TwoStepOff tells the owner that two-step login was turned off, by them
// or by an operator.
type TwoStepOff struct {
	FirstName string
	When      string
}

// RecoveryCodeUsed tells the owner that a recovery code was used to log
// in, and how many are left.
type RecoveryCodeUsed struct {
	FirstName string
	When      string
	Left      int
}

// PasskeyAdded tells the owner that a passkey was added to the account.
type PasskeyAdded struct {
	FirstName string
	Name      string
	When      string
}

// PasskeyRemoved tells the owner that a passkey was removed.
type PasskeyRemoved struct {
	FirstName string
	Name      string
	When      string
}

func (Activation) email() string      { return "activation" }
func (PasswordReset) email() string   { return "password-reset" }
func (PasswordChanged) email() string { return "password-changed" }
func (AccountLocked) email() string   { return "account-locked" }
func (AccountDeleted) email() string  { return "account-deleted" }
func (SignupAttempt) email() string   { return "signup-attempt" }
func (TwoStepOn) email() string       { return "two-step-on" }
func (TwoStepOff) email() string      { return "two-step-off" }
func (RecoveryCodeUsed) email() string {
	return "recovery-code-used"
}
func (PasskeyAdded) email() string   { return "passkey-added" }
func (PasskeyRemoved) email() string { return "passkey-removed" }

// The sample data every template is rendered with at load, one per email:
// this list is also the list of emails. Every field is set, so that every
// branch on a field is taken.
var samples = []Data{
	Activation{FirstName: "Astro", Code: "123456", ExpiresIn: "1 hour", Link: sampleLink("activate")},
	PasswordReset{FirstName: "Astro", Code: "123456", ExpiresIn: "15 minutes", Link: sampleLink("reset-password")},
	PasswordChanged{FirstName: "Astro", When: sampleTime},
	AccountLocked{FirstName: "Astro", Until: sampleTime, Link: sampleLink("unlock")},
	AccountDeleted{FirstName: "Astro", When: sampleTime},
	SignupAttempt{FirstName: "Astro", When: sampleTime},
	TwoStepOn{FirstName: "Astro", When: sampleTime},
	TwoStepOff{FirstName: "Astro", When: sampleTime},
	RecoveryCodeUsed{FirstName: "Astro", When: sampleTime, Left: 9},
	PasskeyAdded{FirstName: "Astro", Name: "Work laptop", When: sampleTime},
	PasskeyRemoved{FirstName: "Astro", Name: "Work laptop", When: sampleTime},
}

const sampleTime = "4 March 2026 at 05:06 UTC"

func sampleLink(page string) string {
	return "https://auth.example.com/" + page + "?email=astro%40example.com&token=" + strings.Repeat("x", 43)
}

// sampleBrand has every field set, so that the branches on them are taken.
var sampleBrand = Brand{ProductName: "Example", SupportEmail: "support@example.com"}

// The three parts of an email, each a file of the email's name with its
// own ending.
const (
	subjectPart = ".subject.txt"
	textPart    = ".txt"
	htmlPart    = ".html"
)

var parts = []string{subjectPart, textPart, htmlPart}

// Templates are the parsed templates of every email, ready to render.
type Templates struct {
	brand  Brand
	emails map[string]email
}

type email struct {
	subject, text *texttemplate.Template
	html          *htmltemplate.Template
}

// Load parses the built-in templates, each replaced by the file of the same
// name in dir when there is one (dir may be nil), and renders every template
// with sample data and brand. A template that does not parse or does not
// render, and a file in dir that is no template, are errors that name the
// file. Files whose names begin with a dot are skipped: editors' swap files,
// and the ..data links of a Kubernetes ConfigMap volume.
func Load(dir fs.FS, brand Brand) (*Templates, error) {
	overrides := map[string]bool{}
	if dir != nil {
		entries, err := fs.ReadDir(dir, ".")
		if err != nil {
			return nil, fmt.Errorf("cannot list the directory: %w", pathCause(err))
		}
		known := map[string]bool{}
		for _, name := range files() {
			known[name] = true
		}
		for _, e := range entries {
			switch {
			case strings.HasPrefix(e.Name(), "."):
			case !known[e.Name()]:
				return nil, fmt.Errorf("%s is no email template: the templates are NAME%s, NAME%s and NAME%s for the emails %s",
					e.Name(), subjectPart, textPart, htmlPart, strings.Join(emailNames(), ", "))
			default:
				overrides[e.Name()] = true
			}
		}
	}
	read := func(name string) (string, error) {
		source, where := fs.FS(builtIn), "templates/"+name
		if overrides[name] {
			source, where = dir, name
		}
		b, err := fs.ReadFile(source, where)
		return string(b), err
	}

	t := &Templates{brand: brand, emails: map[string]email{}}
	for _, sample := range samples {
		name := sample.email()
		var e email
		var err error
		if e.subject, err = parseText(name+subjectPart, read); err != nil {
			return nil, err
		}
		if e.text, err = parseText(name+textPart, read); err != nil {
			return nil, err
		}
		if e.html, err = parseHTML(name+htmlPart, read); err != nil {
			return nil, err
		}
		t.emails[name] = e
		// Rendered with the brand the service runs with, as it will be,
		// and with one whose every field is set, so that a mistake in a
		// branch the brand skips today cannot wait for the day it is set.
		for _, b := range []Brand{brand, sampleBrand} {
			if _, err := t.render(sample, b); err != nil {
				return nil, err
			}
		}
	}
	return t, nil
}

// strict makes a name that is no field fail to render rather than render
// as "<no value>".
const strict = "missingkey=error"

// parseText reads and parses the text template file name.
func parseText(name string, read func(string) (string, error)) (*texttemplate.Template, error) {
	source, err := read(name)
	if err != nil {
		return nil, fmt.Errorf("%s cannot be read: %w", name, pathCause(err))
	}
	t, err := texttemplate.New(name).Option(strict).Parse(source)
	if err != nil {
		return nil, fmt.Errorf("%s does not parse: %w", name, err)
	}
	return t, nil
}

// parseHTML reads and parses the HTML template file name.
func parseHTML(name string, read func(string) (string, error)) (*htmltemplate.Template, error) {
	source, err := read(name)
	if err != nil {
		return nil, fmt.Errorf("%s cannot be read: %w", name, pathCause(err))
	}
	t, err := htmltemplate.New(name).Option(strict).Parse(source)
	if err != nil {
		return nil, fmt.Errorf("%s does not parse: %w", name, err)
	}
	return t, nil
}

// pathCause keeps the cause of a failed file operation, such as "permission
// denied", without the operation and path, which the error says otherwise.
func pathCause(err error) error {
	if pe, ok := errors.AsType[*fs.PathError](err); ok {
		return pe.Err
	}
	return err
}

// Rendered is an email ready to send.
type Rendered struct {
	Subject, Text, HTML string
}

// Render renders the email of d.
func (t *Templates) Render(d Data) (Rendered, error) {
	return t.render(d, t.brand)
}

// render renders the email of d with brand. An error names the file at
// fault.
func (t *Templates) render(d Data, brand Brand) (Rendered, error) {
	name := d.email()
	e, ok := t.emails[name]
	if !ok {
		return Rendered{}, fmt.Errorf("no templates for the %s email", name)
	}
	data := dataOf(d, brand)
	var r Rendered
	var err error
	file := name + subjectPart
	r.Subject, err = execute(e.subject, data)
	if err == nil {
		file = name + textPart
		r.Text, err = execute(e.text, data)
	}
	if err == nil {
		file = name + htmlPart
		r.HTML, err = execute(e.html, data)
	}
	if err != nil {
		return Rendered{}, fmt.Errorf("%s does not render with the fields of its email (%s): %w", file, strings.Join(fieldsOf(name), ", "), err)
	}
	// A subject is one header line; its file ends with a line break.
	switch r.Subject = strings.TrimSpace(r.Subject); {
	case r.Subject == "":
		return Rendered{}, fmt.Errorf("%s renders an empty subject", name+subjectPart)
	case strings.ContainsAny(r.Subject, "\r\n"):
		return Rendered{}, fmt.Errorf("%s renders a subject of several lines; a subject is one line", name+subjectPart)
	}
	return r, nil
}

// execute renders a text or HTML template with data.
func execute(t interface {
	Execute(w io.Writer, data any) error
}, data any) (string, error) {
	var b bytes.Buffer
	err := t.Execute(&b, data)
	return b.String(), err
}

// dataOf is what a template of d receives: the fields of d and of brand, by
// name. A map rather than the struct, so that the brand's fields join the
// email's, and with missingkey=error a name that is no field fails.
func dataOf(d Data, brand Brand) map[string]any {
	m := map[string]any{}
	for _, v := range []reflect.Value{reflect.ValueOf(d), reflect.ValueOf(brand)} {
		for i := range v.NumField() {
			m[v.Type().Field(i).Name] = v.Field(i).Interface()
		}
	}
	return m
}

// emailNames lists the names of the emails, in the order the README gives
// them.
func emailNames() []string {
	names := make([]string, len(samples))
	for i, s := range samples {
		names[i] = s.email()
	}
	return names
}

// files lists the names of the template files of every email.
func files() []string {
	var files []string
	for _, name := range emailNames() {
		files = append(files, filesOf(name)...)
	}
	return files
}

// filesOf lists the template files of the email name: its subject, text and
// HTML parts.
func filesOf(name string) []string {
	files := make([]string, len(parts))
	for i, p := range parts {
		files[i] = name + p
	}
	return files
}

// fieldsOf lists the fields that the templates of the email name receive:
// its own, then the brand's.
func fieldsOf(name string) []string {
	i := slices.IndexFunc(samples, func(d Data) bool { return d.email() == name })
	if i < 0 {
		return nil
	}
	var names []string
	for _, v := range []any{samples[i], Brand{}} {
		t := reflect.TypeOf(v)
		for j := range t.NumField() {
			names = append(names, t.Field(j).Name)
		}
	}
	return names
}

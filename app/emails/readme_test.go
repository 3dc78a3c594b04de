package emails

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestREADMEListsEveryTemplateAndItsFields: the README's "Branding the
// emails" lists every email, with its template files and the fields they
// receive, no other, and says what each field is.
func TestREADMEListsEveryTemplateAndItsFields(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(readme), "\n### Branding the emails\n")
	if !ok {
		t.Fatal(`the README has no "Branding the emails" section`)
	}
	if end := regexp.MustCompile(`\n##+ `).FindStringIndex(section); end != nil {
		section = section[:end[0]]
	}
	quoted := func(cell string) []string {
		var names []string
		for _, m := range regexp.MustCompile("`([^`]+)`").FindAllStringSubmatch(cell, -1) {
			names = append(names, m[1])
		}
		return names
	}

	var listed []string
	for _, row := range regexp.MustCompile("(?m)^\\| `([a-z-]+)` \\|[^|]*\\|([^|]*)\\|([^|]*)\\|$").FindAllStringSubmatch(section, -1) {
		name, files, fields := row[1], quoted(row[2]), quoted(row[3])
		listed = append(listed, name)
		if !slices.Contains(emailNames(), name) {
			t.Errorf("the README lists the email %s, which has no templates", name)
			continue
		}
		if want := filesOf(name); !slices.Equal(files, want) {
			t.Errorf("the README gives %s the templates %v, want %v", name, files, want)
		}
		if want := fieldsOf(name); !slices.Equal(fields, want) {
			t.Errorf("the README gives %s the fields %v, want %v", name, fields, want)
		}
	}
	if !slices.Equal(listed, emailNames()) {
		t.Errorf("the README lists the emails %v, want %v in that order", listed, emailNames())
	}

	var explained, want []string
	for _, m := range regexp.MustCompile("(?m)^- `([A-Za-z]+)`: ").FindAllStringSubmatch(section, -1) {
		explained = append(explained, m[1])
	}
	for _, name := range emailNames() {
		for _, field := range fieldsOf(name) {
			if !slices.Contains(want, field) {
				want = append(want, field)
			}
		}
	}
	slices.Sort(explained)
	slices.Sort(want)
	if !slices.Equal(explained, want) {
		t.Errorf("the README explains the fields %v, want %v", explained, want)
	}
}

package app

import (
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"
)

// TestREADMEAdminExamplesWork runs the README's curl examples of the admin
// API, as curl would send them, against a service with the account they
// name: each must succeed, so that an operator who pastes one is not met by
// a refusal.
func TestREADMEAdminExamplesWork(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	examples := regexp.MustCompile(`(?m)^curl -H "Authorization: Bearer \$KEY".*$`).FindAllString(string(readme), -1)
	if len(examples) < 4 {
		t.Fatalf("the README has %d curl examples of the admin API, want its 4 at least", len(examples))
	}
	api := newTestAPI(t)
	key := api.createAdminKey(t, adminKeyName)
	api.newAccount(t, "astro@example.com")
	for _, line := range examples {
		t.Run(line, func(t *testing.T) {
			method, target, body, header := curlRequest(t, strings.ReplaceAll(line, "$KEY", key))
			res := api.send(t, api.adminHandler(), "", method, target, body, header...)
			if res.Code >= 300 {
				t.Errorf("answered %d: %s", res.Code, res.Body)
			}
		})
	}
}

// curlRequest reads a one-line curl command of the README's kind: -H, -X
// and -d options and a URL on localhost. Like curl, it sends a -d body as a
// form unless a header says otherwise.
func curlRequest(t *testing.T, line string) (method, target string, body any, header []string) {
	t.Helper()
	words := shellWords(t, line)
	method = "GET"
	var data *string
	var contentType bool
	for i := 1; i < len(words); i++ {
		switch w := words[i]; {
		case (w == "-H" || w == "-X" || w == "-d") && i+1 == len(words):
			t.Fatalf("%s without a value", w)
		case w == "-H":
			i++
			name, value, _ := strings.Cut(words[i], ":")
			header = append(header, name, strings.TrimSpace(value))
			contentType = contentType || strings.EqualFold(name, "Content-Type")
		case w == "-X":
			i++
			method = words[i]
		case w == "-d":
			i++
			data = &words[i]
			if method == "GET" {
				method = "POST"
			}
		case strings.HasPrefix(w, "-"):
			t.Fatalf("the test does not know curl's %s", w)
		default:
			u, err := url.Parse("http://" + strings.TrimPrefix(w, "http://"))
			if err != nil {
				t.Fatal(err)
			}
			target = u.RequestURI()
		}
	}
	if data != nil {
		body = *data
		if !contentType {
			header = append(header, "Content-Type", "application/x-www-form-urlencoded")
		}
	}
	return method, target, body, header
}

// shellWords splits a command line as a POSIX shell would, for quotes
// without escapes.
func shellWords(t *testing.T, line string) []string {
	t.Helper()
	var words []string
	var word strings.Builder
	inWord := false
	var quote rune
	for _, r := range line {
		switch {
		case quote != 0 && r == quote:
			quote = 0
		case quote != 0:
			word.WriteRune(r)
		case r == '\'' || r == '"':
			quote, inWord = r, true
		case r == ' ' || r == '\t':
			if inWord {
				words = append(words, word.String())
				word.Reset()
				inWord = false
			}
		default:
			word.WriteRune(r)
			inWord = true
		}
	}
	if quote != 0 {
		t.Fatalf("an unclosed quote in %q", line)
	}
	if inWord {
		words = append(words, word.String())
	}
	return words
}

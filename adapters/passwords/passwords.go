// Package passwords rejects passwords that are easy to guess, judged by the
// zxcvbn estimator: it recognises the most common passwords, names, English
// words, dates, keyboard patterns, sequences, repeats and l33t spellings of
// all of these, and the words the user typed elsewhere on the form.
package passwords

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/trustelem/zxcvbn"
	"github.com/trustelem/zxcvbn/match"

	"authapi/domain"
	"authapi/ports"
)

var _ ports.PasswordPolicy = (*Policy)(nil)

// Scores are zxcvbn's: 0 means under a thousand guesses, 1 under a million,
// 2 under a hundred million, 3 under ten billion, 4 more.
const (
	MinScore     = 0
	MaxScore     = 4
	DefaultScore = 2
)

// scoredRunes is how much of a password is scored. The estimator's cost
// grows with the cube of the length, and far faster with l33t characters,
// so that scoring 128 of them costs many times what scoring 64 does (see
// BenchmarkCheck). Passwords are at most 128 characters, and a prefix this
// long that is easy to guess is reason enough to refuse the whole.
const scoredRunes = 64

// Dictionary names the estimator gives its matches.
const (
	commonPasswords = "passwords"
	userInputs      = "user_inputs"
)

// minUserInputRunes keeps a one- or two-letter name, which matches in almost
// any password, from being blamed for a weakness that lies elsewhere.
const minUserInputRunes = 3

// The reasons a password is refused. They never quote the password.
const (
	reasonUserInputs = "is too easy to guess: it is built from your email or name"
	reasonCommon     = "is too easy to guess: it is among the most common passwords"
	reasonFromCommon = "is too easy to guess: it is built from a common password"
	reasonGuessable  = "is too easy to guess: make it longer or less predictable, for example several unrelated words"
)

// Policy refuses passwords whose zxcvbn score is below a minimum. It holds no
// state besides that minimum and is safe for concurrent use.
type Policy struct {
	minScore int
}

// New returns a Policy that accepts passwords scoring at least minScore,
// from MinScore (accept all) to MaxScore.
func New(minScore int) (*Policy, error) {
	if minScore < MinScore || minScore > MaxScore {
		return nil, fmt.Errorf("passwords: minimum score %d outside %d..%d", minScore, MinScore, MaxScore)
	}
	return &Policy{minScore: minScore}, nil
}

// Check returns nil if password is hard enough to guess, or a validation
// error for the field "password" saying why it is not. userInputs are words
// the attacker would try first, such as the user's email and name. Only the
// first 64 characters are scored, which bounds the cost of one call.
func (p *Policy) Check(password string, userInputs []string) error {
	if p.minScore == MinScore {
		return nil
	}
	scored := prefix(password, scoredRunes)
	result := zxcvbn.PasswordStrength(scored, nonBlank(userInputs))
	if result.Score >= p.minScore {
		return nil
	}
	var v domain.Validation
	v.Add("password", reason(scored, result.Sequence))
	return v.Err()
}

// reason explains a low score from the matches the estimator judged the
// cheapest way to guess password.
func reason(password string, sequence []*match.Match) string {
	if len(sequence) == 0 {
		// Only an invalid UTF-8 string yields no matches, and the domain
		// refuses those before any policy sees them.
		return reasonGuessable
	}
	if anyMatch(sequence, func(m *match.Match) bool {
		return m.DictionaryName == userInputs && utf8.RuneCountInString(m.Token) >= minUserInputRunes
	}) {
		return reasonUserInputs
	}
	if whole := sequence[0]; len(sequence) == 1 && whole.Pattern == "dictionary" &&
		whole.DictionaryName == commonPasswords && !whole.Reversed && whole.Token == password {
		return reasonCommon
	}
	if anyMatch(sequence, func(m *match.Match) bool { return m.DictionaryName == commonPasswords }) {
		return reasonFromCommon
	}
	return reasonGuessable
}

// anyMatch reports whether pred holds for a match in sequence, including the
// matches a repeat is made of.
func anyMatch(sequence []*match.Match, pred func(*match.Match) bool) bool {
	for _, m := range sequence {
		if pred(m) || anyMatch(m.BaseMatches, pred) {
			return true
		}
	}
	return false
}

// prefix returns the first n runes of s.
func prefix(s string, n int) string {
	for i := range s {
		if n == 0 {
			return s[:i]
		}
		n--
	}
	return s
}

// nonBlank drops empty inputs: they would match nothing but still cost a
// dictionary entry.
func nonBlank(inputs []string) []string {
	kept := make([]string, 0, len(inputs))
	for _, in := range inputs {
		if in = strings.TrimSpace(in); in != "" {
			kept = append(kept, in)
		}
	}
	return kept
}

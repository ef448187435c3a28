package model

import (
	"errors"
	"fmt"
	"os"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"
)

// NameCharset is the set of characters an account name may use (ATLAS_NAME_CHARSET).
type NameCharset string

const (
	// NameCharsetASCII, the default: ASCII letters and digits, which the game client takes,
	// plus '-', '_' and '.', which tools and older accounts use.
	NameCharsetASCII NameCharset = "ascii"
	// NameCharsetUnicode: letters, combining marks and digits of any script, plus '-', '_'
	// and '.'. Uniqueness still folds compatibility forms and case (NameFold), but look-alikes
	// of different scripts (Latin a, Cyrillic а) stay different names.
	NameCharsetUnicode NameCharset = "unicode"
)

// NameCharsetFromEnv reads ATLAS_NAME_CHARSET.
func NameCharsetFromEnv() (NameCharset, error) {
	switch v := NameCharset(os.Getenv("ATLAS_NAME_CHARSET")); v {
	case "":
		return NameCharsetASCII, nil
	case NameCharsetASCII, NameCharsetUnicode:
		return v, nil
	default:
		return "", fmt.Errorf("ATLAS_NAME_CHARSET=%q: want ascii or unicode", string(v))
	}
}

// ErrBadName wraps every reason a name is refused.
var ErrBadName = errors.New("bad account name")

// Check refuses a name with a character outside the set. The name must already be valid
// UTF-8 (the JSON decoder replaces invalid bytes with U+FFFD, which is refused here too, so a
// name sent with invalid UTF-8 never becomes a "similar" valid one).
func (c NameCharset) Check(name string) error {
	if !utf8.ValidString(name) {
		return fmt.Errorf("%w: not valid UTF-8", ErrBadName)
	}
	for _, r := range name {
		ok := r == '-' || r == '_' || r == '.'
		switch c {
		case NameCharsetUnicode:
			ok = ok || unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.Is(unicode.M, r)
		default:
			ok = ok || r < utf8.RuneSelf && (unicode.IsLetter(r) || unicode.IsDigit(r))
		}
		if !ok || r == utf8.RuneError {
			return fmt.Errorf("%w: the character %U is not allowed (ATLAS_NAME_CHARSET=%s)", ErrBadName, r, c)
		}
	}
	return nil
}

// NameFold is the uniqueness key of a name: NFKC, full Unicode case folding, NFKC again
// (folding can leave text unnormalised). Fullwidth "ＢＯＢ", "BOB" and "bob" meet; so do
// "Straße" and "STRASSE", and a precomposed é and e + combining acute. For ASCII names it is
// strings.ToLower, so rows written under the old key stay where they are.
func NameFold(name string) string {
	return norm.NFKC.String(cases.Fold().String(norm.NFKC.String(name)))
}

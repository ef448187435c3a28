package replay

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
)

// secretWords mark a JSON member whose value is a secret, wherever it is nested: a
// password, a session ticket, a token, a key's secret.
var secretWords = []string{"password", "secret", "ticket", "token"}

// Masked replaces a secret's value.
const Masked = "***"

func secretName(name string) bool {
	name = strings.ToLower(name)
	return slices.ContainsFunc(secretWords, func(w string) bool { return strings.Contains(name, w) })
}

// Mask is the JSON value v with every member whose name names a secret set to "***". The
// members of an object come out in name order. v must be valid JSON.
func Mask(v []byte) json.RawMessage {
	d := json.NewDecoder(bytes.NewReader(v))
	d.UseNumber() // numbers as written, not through float64
	var x any
	if err := d.Decode(&x); err != nil {
		return nil
	}
	out, err := json.Marshal(mask(x))
	if err != nil {
		return nil
	}
	return out
}

func mask(x any) any {
	switch t := x.(type) {
	case map[string]any:
		for k, v := range t {
			if secretName(k) {
				t[k] = Masked
			} else {
				t[k] = mask(v)
			}
		}
	case []any:
		for i := range t {
			t[i] = mask(t[i])
		}
	}
	return x
}

// mentionsSecret reports whether any string in the masked JSON value v, member names aside,
// still holds a secret word: JSON encoded inside a string, or a secret quoted in free text.
func mentionsSecret(v []byte) bool {
	d := json.NewDecoder(bytes.NewReader(v))
	d.UseNumber()
	var x any
	if d.Decode(&x) != nil {
		return true
	}
	return anyString(x, func(s string) bool { return s != Masked && secretName(s) })
}

func anyString(x any, f func(string) bool) bool {
	switch t := x.(type) {
	case string:
		return f(t)
	case map[string]any:
		for _, v := range t {
			if anyString(v, f) {
				return true
			}
		}
	case []any:
		for _, v := range t {
			if anyString(v, f) {
				return true
			}
		}
	}
	return false
}

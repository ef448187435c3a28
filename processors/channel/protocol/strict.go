package protocol

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode"
)

// ErrDuplicateKey: an object of the frame has a key twice, or two keys that differ only in
// case. encoding/json matches keys case-insensitively and keeps the last one, so
// {"actorId":1,"actorid":2} would otherwise let the second key override what the first said.
var ErrDuplicateKey = errors.New("duplicate key")

// maxDepth bounds nesting, so a frame of 64 KiB of brackets costs nothing to refuse.
const maxDepth = 32

// CheckKeys walks one JSON value and refuses an object with a key repeated under case
// folding, and nesting deeper than maxDepth. It does not judge anything else.
func CheckKeys(b []byte) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := checkValue(dec, 0); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return fmt.Errorf("%w: more than one JSON value", ErrBadFrame)
	}
	return nil
}

func checkValue(dec *json.Decoder, depth int) error {
	tok, err := dec.Token()
	if err != nil {
		return fmt.Errorf("%w: %v", ErrBadFrame, err)
	}
	d, ok := tok.(json.Delim)
	if !ok {
		return nil
	}
	if depth >= maxDepth {
		return fmt.Errorf("%w: nested deeper than %d", ErrBadFrame, maxDepth)
	}
	switch d {
	case '{':
		seen := map[string]string{}
		for dec.More() {
			kt, err := dec.Token()
			if err != nil {
				return fmt.Errorf("%w: %v", ErrBadFrame, err)
			}
			k := kt.(string)
			f := foldKey(k)
			if prev, dup := seen[f]; dup {
				if prev == k {
					return fmt.Errorf("%w: %q appears twice", ErrDuplicateKey, clip(k))
				}
				return fmt.Errorf("%w: %q and %q differ only in case", ErrDuplicateKey, clip(prev), clip(k))
			}
			seen[f] = k
			if err := checkValue(dec, depth+1); err != nil {
				return err
			}
		}
	case '[':
		for dec.More() {
			if err := checkValue(dec, depth+1); err != nil {
				return err
			}
		}
	}
	if _, err := dec.Token(); err != nil { // the closing delimiter
		return fmt.Errorf("%w: %v", ErrBadFrame, err)
	}
	return nil
}

// foldKey maps a key to what encoding/json considers the same key: it folds each rune through
// upper and lower case (so "K" and the Kelvin sign, "s" and the long s, meet too).
func foldKey(k string) string {
	return strings.Map(func(r rune) rune { return unicode.ToLower(unicode.ToUpper(r)) }, k)
}

package codegen

import (
	"bytes"
	"fmt"
	"go/format"
	"strings"
)

// emitter accumulates Go source. Generated code is built with Printf rather than one large
// template because most of it is decided field by field (pointer or not, which tag options, which
// wire struct), which reads more plainly as Go than as template conditionals.
type emitter struct {
	buf bytes.Buffer
}

func (e *emitter) p(format string, args ...any) {
	fmt.Fprintf(&e.buf, format, args...)
	e.buf.WriteByte('\n')
}

func (e *emitter) raw(s string) { e.buf.WriteString(s) }

// comment writes text as a // comment wrapped at about 100 columns. YAML folded scalars arrive
// with single newlines inside, so whitespace is normalised first.
func (e *emitter) comment(indent, text string) {
	for _, line := range wrap(text, 96-len(indent)) {
		if line == "" {
			e.p("%s//", indent)
			continue
		}
		e.p("%s// %s", indent, line)
	}
}

func wrap(text string, width int) []string {
	var out []string
	for i, para := range strings.Split(strings.TrimSpace(text), "\n\n") {
		if i > 0 {
			out = append(out, "")
		}
		line := ""
		for _, w := range strings.Fields(para) {
			switch {
			case line == "":
				line = w
			case len(line)+1+len(w) > width:
				out = append(out, line)
				line = w
			default:
				line += " " + w
			}
		}
		if line != "" {
			out = append(out, line)
		}
	}
	return out
}

// sentence joins non-empty notes into one comment text.
func sentence(parts ...string) string {
	var out []string
	for _, p := range parts {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		// Catalog notes are often lower-case fragments; make each a sentence, but leave a
		// leading identifier (snake_case, camelCase) as it is spelled.
		if first, _, _ := strings.Cut(p, " "); strings.Trim(first, "abcdefghijklmnopqrstuvwxyz-,;:") == "" {
			p = strings.ToUpper(p[:1]) + p[1:]
		}
		if !strings.HasSuffix(p, ".") && !strings.HasSuffix(p, ")") && !strings.HasSuffix(p, "\"") {
			p += "."
		}
		out = append(out, p)
	}
	return strings.Join(out, " ")
}

func (e *emitter) format() ([]byte, error) {
	src := e.buf.Bytes()
	out, err := format.Source(src)
	if err != nil {
		// Return the unformatted source with the error so a generator bug can be located.
		return src, fmt.Errorf("gofmt generated code: %w", err)
	}
	return out, nil
}

// lowerFirst makes an unexported identifier from an exported one.
func lowerFirst(s string) string {
	if s == "" {
		return s
	}
	// A leading initialism is lowered whole (UUIDOrUint32 -> uuidOrUint32).
	i := 0
	for i < len(s) && s[i] >= 'A' && s[i] <= 'Z' {
		i++
	}
	switch {
	case i == 0:
		return s
	case i == 1 || i == len(s):
		return strings.ToLower(s[:i]) + s[i:]
	default:
		return strings.ToLower(s[:i-1]) + s[i-1:]
	}
}

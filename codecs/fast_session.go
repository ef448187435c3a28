package codecs

import (
	"encoding/json"
	"math"

	"github.com/google/uuid"
)

// DecodeAccountSessionCommandFast is DecodeAccountSessionCommand, faster on the command the
// channel servers send most: a PROGRESS_STATE in the plain form producers write (known keys
// once each, in any order; strings without escapes; whole numbers). Anything else, including
// every input that does not decode, takes DecodeAccountSessionCommand itself, so results and
// errors are always that function's: the fast path only accepts what it decodes identically
// (FuzzSessionCommandFastPath checks that). It saves encoding/json's reflection, which was the
// largest cost of the ingress stage under a burst of session commands.
func DecodeAccountSessionCommandFast(b []byte) (*AccountSessionCommand, error) {
	if m, ok := decodeProgressStatePlain(b); ok {
		return m, nil
	}
	return DecodeAccountSessionCommand(b)
}

// decodeProgressStatePlain decodes b if it is a PROGRESS_STATE command in plain form; ok is
// false for anything else (which may still be valid: the caller decodes it the general way).
func decodeProgressStatePlain(b []byte) (m *AccountSessionCommand, ok bool) {
	p := plainJSON{b: b}
	out := AccountSessionCommand{}
	var body *AccountSessionCommandProgressStateBody
	var seen uint8
	const (
		seenSession = 1 << iota
		seenAccount
		seenAuthor
		seenType
		seenBody
	)
	member := func(key []byte) bool {
		switch string(key) {
		case "sessionId":
			s, ok := p.str()
			if !ok || seen&seenSession != 0 {
				return false
			}
			id, err := uuid.ParseBytes(s)
			if err != nil {
				return false
			}
			out.SessionID, seen = id, seen|seenSession
		case "accountId":
			n, ok := p.uint(math.MaxUint32)
			if !ok || seen&seenAccount != 0 {
				return false
			}
			out.AccountID, seen = uint32(n), seen|seenAccount
		case "author":
			s, ok := p.str()
			if !ok || seen&seenAuthor != 0 {
				return false
			}
			out.Author, seen = string(s), seen|seenAuthor
		case "type":
			s, ok := p.str()
			if !ok || seen&seenType != 0 || string(s) != AccountSessionCommandTypeProgressState {
				return false
			}
			out.Type, seen = AccountSessionCommandTypeProgressState, seen|seenType
		case "body":
			if seen&seenBody != 0 {
				return false
			}
			body, seen = new(AccountSessionCommandProgressStateBody), seen|seenBody
			return p.progressStateBody(body)
		default:
			return false // an unknown key, or a known one in another case: the general way
		}
		return true
	}
	if !p.object(member) || !p.end() || seen&seenType == 0 || seen&seenBody == 0 {
		return nil, false
	}
	out.Body = body
	return &out, true
}

func (p *plainJSON) progressStateBody(body *AccountSessionCommandProgressStateBody) bool {
	var seenState, seenParams bool
	return p.object(func(key []byte) bool {
		switch string(key) {
		case "state":
			n, ok := p.uint(math.MaxUint8)
			if !ok || seenState {
				return false
			}
			body.State, seenState = uint8(n), true
		case "params":
			raw, ok := p.value()
			if !ok || seenParams {
				return false
			}
			body.Params, seenParams = append(json.RawMessage(nil), raw...), true
		default:
			return false
		}
		return true
	})
}

// plainJSON reads the plain JSON the fast paths accept. Every method reports false on
// anything outside that form, valid JSON or not.
type plainJSON struct {
	b []byte
	i int
}

func (p *plainJSON) ws() {
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *plainJSON) byte(c byte) bool {
	p.ws()
	if p.i < len(p.b) && p.b[p.i] == c {
		p.i++
		return true
	}
	return false
}

// end: nothing but whitespace is left.
func (p *plainJSON) end() bool {
	p.ws()
	return p.i == len(p.b)
}

// object reads a non-empty object, calling member for each key with the reader at its value.
func (p *plainJSON) object(member func(key []byte) bool) bool {
	if !p.byte('{') {
		return false
	}
	for {
		key, ok := p.str()
		if !ok || !p.byte(':') || !member(key) {
			return false
		}
		if p.byte('}') {
			return true
		}
		if !p.byte(',') {
			return false
		}
	}
}

// str reads a string of printable ASCII without escapes, and returns its contents.
func (p *plainJSON) str() ([]byte, bool) {
	if !p.byte('"') {
		return nil, false
	}
	start := p.i
	for ; p.i < len(p.b); p.i++ {
		switch c := p.b[p.i]; {
		case c == '"':
			p.i++
			return p.b[start : p.i-1], true
		case c == '\\' || c < 0x20 || c >= 0x80:
			return nil, false
		}
	}
	return nil, false
}

// uint reads a whole number of at most max, written without sign, fraction or exponent.
func (p *plainJSON) uint(max uint64) (uint64, bool) {
	p.ws()
	start := p.i
	var n uint64
	for ; p.i < len(p.b) && p.b[p.i] >= '0' && p.b[p.i] <= '9'; p.i++ {
		n = n*10 + uint64(p.b[p.i]-'0')
		if n > max {
			return 0, false
		}
	}
	digits := p.i - start
	if digits == 0 || (digits > 1 && p.b[start] == '0') {
		return 0, false
	}
	if p.i < len(p.b) {
		switch p.b[p.i] {
		case '.', 'e', 'E':
			return 0, false
		}
	}
	return n, true
}

// maxPlainDepth bounds the nesting of a value the fast path takes: encoding/json refuses a
// document nested 10,000 deep, and the value sits inside the command's own objects, so a deep
// one goes the general way (which refuses or takes it as a whole).
const maxPlainDepth = 64

// value reads any JSON value and returns its bytes: it finds where the value ends (strings
// and nesting respected) and accepts it only if encoding/json finds it valid.
func (p *plainJSON) value() ([]byte, bool) {
	p.ws()
	start, depth, inString := p.i, 0, false
	for ; p.i < len(p.b); p.i++ {
		c := p.b[p.i]
		if inString {
			switch c {
			case '\\':
				if p.i+1 >= len(p.b) {
					return nil, false // the input ends inside an escape
				}
				p.i++
			case '"':
				inString = false
				if depth == 0 {
					p.i++
					return p.valid(start)
				}
			}
			continue
		}
		switch c {
		case '"':
			inString = true
		case '{', '[':
			if depth++; depth > maxPlainDepth {
				return nil, false
			}
		case '}', ']':
			if depth == 0 {
				return p.valid(start)
			}
			depth--
			if depth == 0 {
				p.i++
				return p.valid(start)
			}
		case ',', ' ', '\t', '\n', '\r':
			if depth == 0 {
				return p.valid(start)
			}
		}
	}
	return p.valid(start)
}

func (p *plainJSON) valid(start int) ([]byte, bool) {
	v := p.b[start:p.i]
	return v, len(v) > 0 && json.Valid(v)
}

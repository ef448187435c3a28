package codecs

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/lovoo/goka"
)

// W3C trace-context header names.
const (
	HeaderTraceParent = "traceparent"
	HeaderTraceState  = "tracestate"
)

// Trace is a W3C trace context: the trace every hop shares and the span of this hop.
type Trace struct {
	TraceID [16]byte
	SpanID  [8]byte
	Flags   byte
	State   string
}

// ErrBadTraceParent reports a traceparent header that is not W3C version-00 text.
var ErrBadTraceParent = errors.New("malformed traceparent")

// IsZero reports whether t holds no trace.
func (t Trace) IsZero() bool { return t.TraceID == [16]byte{} }

// TraceIDString is the 32-hex-digit trace id, as logs show it.
func (t Trace) TraceIDString() string { return hex.EncodeToString(t.TraceID[:]) }

// ParentString renders the traceparent header value.
func (t Trace) ParentString() string {
	b := make([]byte, 0, 55)
	b = append(b, "00-"...)
	b = hex.AppendEncode(b, t.TraceID[:])
	b = append(b, '-')
	b = hex.AppendEncode(b, t.SpanID[:])
	b = append(b, '-')
	b = hex.AppendEncode(b, []byte{t.Flags})
	return string(b)
}

// ParseTraceParent parses a version-00 traceparent ("00-<32 hex>-<16 hex>-<2 hex>").
func ParseTraceParent(s string) (Trace, error) {
	var t Trace
	if len(s) != 55 || s[0:3] != "00-" || s[35] != '-' || s[52] != '-' {
		return t, fmt.Errorf("%w: %q", ErrBadTraceParent, s)
	}
	var flags [1]byte
	for _, f := range []struct {
		src string
		dst []byte
	}{{s[3:35], t.TraceID[:]}, {s[36:52], t.SpanID[:]}, {s[53:55], flags[:]}} {
		if !isLowerHex(f.src) {
			return Trace{}, fmt.Errorf("%w: %q", ErrBadTraceParent, s)
		}
		if _, err := hex.Decode(f.dst, []byte(f.src)); err != nil {
			return Trace{}, fmt.Errorf("%w: %q", ErrBadTraceParent, s)
		}
	}
	t.Flags = flags[0]
	if t.TraceID == [16]byte{} || t.SpanID == [8]byte{} {
		return Trace{}, fmt.Errorf("%w: all-zero id in %q", ErrBadTraceParent, s)
	}
	return t, nil
}

func isLowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// NewTrace starts a new sampled trace.
func NewTrace() Trace {
	var t Trace
	_, _ = rand.Read(t.TraceID[:])
	_, _ = rand.Read(t.SpanID[:])
	t.Flags = 0x01
	return t
}

// Child starts a new span in the same trace, as a hop that handles a message does.
func (t Trace) Child() Trace {
	c := t
	_, _ = rand.Read(c.SpanID[:])
	return c
}

// TraceFromHeaders continues the trace the headers carry, or starts a new one when they carry
// none or a malformed one: a bad trace header must never stop a command.
func TraceFromHeaders(h goka.Headers) Trace {
	p, ok := h[HeaderTraceParent]
	if !ok {
		return NewTrace()
	}
	t, err := ParseTraceParent(string(p))
	if err != nil {
		return NewTrace()
	}
	t.State = BoundTraceState(string(h[HeaderTraceState]))
	return t.Child()
}

// W3C trace context bounds: tracestate has at most 32 list members, and 512 characters is
// what every hop must keep; a member over 128 characters is the first to go.
const (
	maxTraceStateBytes   = 512
	maxTraceStateMembers = 32
	maxTraceMemberBytes  = 128
)

// BoundTraceState keeps a tracestate within the W3C bounds, dropping members from the end
// (and any member over 128 characters, or with a byte that is not printable ASCII, which the
// W3C grammar does not allow) rather than failing anything: a trace header never makes a
// command fail or a record grow past what the broker takes, and what it keeps is valid UTF-8,
// as the protobuf strings that carry it on must be.
func BoundTraceState(s string) string {
	if len(s) <= maxTraceStateBytes && strings.Count(s, ",") < maxTraceStateMembers && printableASCII(s) {
		return s
	}
	var kept []string
	size := 0
	for _, m := range strings.Split(s, ",") {
		m = strings.TrimSpace(m)
		if m == "" || len(m) > maxTraceMemberBytes || !printableASCII(m) {
			continue
		}
		if len(kept) == maxTraceStateMembers || size+len(m)+len(kept) > maxTraceStateBytes {
			break
		}
		kept = append(kept, m)
		size += len(m)
	}
	return strings.Join(kept, ",")
}

func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// AddTo writes the trace headers into h; tracestate only when non-empty.
func (t Trace) AddTo(h goka.Headers) {
	if t.IsZero() {
		return
	}
	h[HeaderTraceParent] = []byte(t.ParentString())
	if t.State != "" {
		h[HeaderTraceState] = []byte(t.State)
	} else {
		delete(h, HeaderTraceState)
	}
}

// DerivedTraceFromHeaders is TraceFromHeaders made repeatable: the new span id (and the trace
// id, when the headers carry no valid trace) are drawn from seed, which identifies the message
// being handled. A redelivered message thus yields byte-identical headers downstream.
func DerivedTraceFromHeaders(h goka.Headers, seed []byte) Trace {
	sum := sha256.Sum256(seed)
	// Most commands come without a traceparent: parsing "" would build an error to discard.
	var t Trace
	err := ErrBadTraceParent
	if tp := h[HeaderTraceParent]; len(tp) > 0 {
		t, err = ParseTraceParent(string(tp))
	}
	if err != nil {
		t = Trace{Flags: 0x01}
		copy(t.TraceID[:], sum[8:24])
	} else {
		t.State = BoundTraceState(string(h[HeaderTraceState]))
	}
	copy(t.SpanID[:], sum[:8])
	if t.SpanID == [8]byte{} {
		t.SpanID[7] = 1 // an all-zero span id is invalid in W3C trace context
	}
	return t
}

package codecs

import (
	"encoding/json"
	"strconv"
)

// EncodeAccountSessionStatusEventFast is m.Encode, faster on the event of every channel change:
// a STATE_CHANGED whose strings and params are plain (printable ASCII that encoding/json
// writes as it is, params without whitespace). Any other event takes m.Encode itself, so the
// bytes are always that encoder's (FuzzEventFastPaths checks that).
func EncodeAccountSessionStatusEventFast(m *AccountSessionStatusEvent) ([]byte, error) {
	if b, ok := encodeStateChangedPlain(m); ok {
		return b, nil
	}
	return m.Encode()
}

// EncodeAccountStatusEventFast is m.Encode, faster where the name is plain.
func EncodeAccountStatusEventFast(m *AccountStatusEvent) ([]byte, error) {
	switch m.Status {
	case AccountStatusEventStatusCreated, AccountStatusEventStatusLoggedIn, AccountStatusEventStatusLoggedOut, AccountStatusEventStatusDeleted:
		if plainString(m.Name) {
			b := make([]byte, 0, 48+len(m.Name))
			b = append(b, `{"account_id":`...)
			b = strconv.AppendUint(b, uint64(m.AccountID), 10)
			b = append(b, `,"name":"`...)
			b = append(b, m.Name...)
			b = append(b, `","status":"`...)
			b = append(b, m.Status...)
			return append(b, `"}`...), nil
		}
	}
	return m.Encode()
}

func encodeStateChangedPlain(m *AccountSessionStatusEvent) ([]byte, bool) {
	body, ok := m.Body.(*AccountSessionStatusEventStateChangedBody)
	if !ok || body == nil || m.Type != AccountSessionStatusEventTypeStateChanged ||
		(m.AccountName != nil && !plainString(*m.AccountName)) || !plainParams(body.Params) {
		return nil, false
	}
	b := make([]byte, 0, 128+len(body.Params))
	b = append(b, `{"sessionId":"`...)
	b = appendUUID(b, m.SessionID)
	b = append(b, `","accountId":`...)
	b = strconv.AppendUint(b, uint64(m.AccountID), 10)
	if m.AccountName != nil {
		b = append(b, `,"accountName":"`...)
		b = append(b, *m.AccountName...)
		b = append(b, '"')
	}
	b = append(b, `,"type":"STATE_CHANGED","body":{"state":`...)
	b = strconv.AppendUint(b, uint64(body.State), 10)
	b = append(b, `,"params":`...)
	if body.Params == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, body.Params...)
	}
	return append(b, "}}"...), true
}

// plainString: encoding/json writes s between quotes as it is (no byte it escapes).
func plainString(s string) bool {
	for i := 0; i < len(s); i++ {
		if !plainByte(s[i]) {
			return false
		}
	}
	return true
}

func plainByte(c byte) bool {
	return c >= 0x20 && c < 0x80 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&'
}

// plainParams: encoding/json writes the raw value as it is. It compacts a json.RawMessage and
// escapes <, > and & (and the line separators, which are not ASCII) even inside strings, so a
// value with none of those nor whitespace, valid, is written unchanged.
func plainParams(p json.RawMessage) bool {
	for _, c := range p {
		switch {
		case c == '"' || c == '\\': // JSON's own strings and escapes: written as they are
		case c == ' ' || !plainByte(c):
			return false
		}
	}
	return p == nil || json.Valid(p)
}

// appendUUID appends the text form of id, as uuid.UUID.String writes it.
func appendUUID(b []byte, id [16]byte) []byte {
	const digits = "0123456789abcdef"
	for i, c := range id {
		switch i {
		case 4, 6, 8, 10:
			b = append(b, '-')
		}
		b = append(b, digits[c>>4], digits[c&0xf])
	}
	return b
}

package codecs

import (
	"encoding/json"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
)

type eventSeed struct {
	name    string
	named   bool
	state   uint8
	params  string
	nilBody bool
}

var eventSeeds = []eventSeed{
	{"bob", true, 2, `{"ipAddress":"127.0.0.1","port":7576}`, false},
	{"", false, 1, `{"characterId":1}`, false},
	{"", true, 0, `null`, false},
	{"a<b", true, 1, `{}`, false},
	{"bob", true, 1, `{"a": 1}`, false},
	{"bob", true, 1, `{"a":"<"}`, false},
	{"bob", true, 1, "{\"a\":\"\u2028\"}", false},
	{"b\"o\\b", true, 1, `[1,"x\"y"]`, false},
	{"bob", true, 1, `{"a":}`, false},
	{"bob", true, 1, ``, false},
	{"bob", true, 1, `{}`, true},
	{"\xff", true, 1, `1`, false},
}

// The fast encoders write exactly the bytes of the catalog encoders, or fail where they fail.
func TestEventFastPathsAgree(t *testing.T) {
	for _, s := range eventSeeds {
		checkEventFastPaths(t, uuid.MustParse("8f3e2a10-4b5c-4d6e-9f70-8192a3b4c5d6"), 7, s)
	}
	_, ok := encodeStateChangedPlain(stateChanged(uuid.New(), 1, eventSeeds[0]))
	require.True(t, ok, "the event of a channel change is plain")
}

func FuzzEventFastPaths(f *testing.F) {
	for _, s := range eventSeeds {
		f.Add(make([]byte, 16), uint32(7), s.name, s.named, s.state, s.params, s.nilBody)
	}
	f.Fuzz(func(t *testing.T, sid []byte, id uint32, name string, named bool, state uint8, params string, nilBody bool) {
		var u uuid.UUID
		copy(u[:], sid)
		checkEventFastPaths(t, u, id, eventSeed{name, named, state, params, nilBody})
	})
}

func stateChanged(sid uuid.UUID, id uint32, s eventSeed) *AccountSessionStatusEvent {
	m := &AccountSessionStatusEvent{SessionID: sid, AccountID: id, Type: AccountSessionStatusEventTypeStateChanged}
	if s.named {
		m.AccountName = &s.name
	}
	if !s.nilBody {
		var p json.RawMessage
		if s.params != "" {
			p = json.RawMessage(s.params)
		}
		m.Body = &AccountSessionStatusEventStateChangedBody{State: s.state, Params: p}
	}
	return m
}

func checkEventFastPaths(t *testing.T, sid uuid.UUID, id uint32, s eventSeed) {
	t.Helper()
	m := stateChanged(sid, id, s)
	want, wantErr := m.Encode()
	got, err := EncodeAccountSessionStatusEventFast(m)
	require.Equal(t, wantErr, err, "%+v", s)
	require.Equal(t, string(want), string(got), "%+v", s)

	for _, status := range []string{AccountStatusEventStatusLoggedIn, AccountStatusEventStatusCreated, "NOT_A_STATUS"} {
		e := &AccountStatusEvent{AccountID: id, Name: s.name, Status: status}
		want, wantErr := e.Encode()
		got, err := EncodeAccountStatusEventFast(e)
		require.Equal(t, wantErr, err)
		require.Equal(t, string(want), string(got))
	}
}

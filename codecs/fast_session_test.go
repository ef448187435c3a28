package codecs

import (
	"reflect"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// sessionCommandSeeds are PROGRESS_STATE commands in and just outside the plain form.
var sessionCommandSeeds = []string{
	`{"sessionId":"8f3e2a10-4b5c-4d6e-9f70-8192a3b4c5d6","accountId":1,"author":"CHANNEL","type":"PROGRESS_STATE","body":{"state":2,"params":{"ipAddress":"127.0.0.1","port":7576}}}`,
	` { "type" : "PROGRESS_STATE" , "body" : { "params" : {"characterId": 1} , "state" : 1 } , "accountId" : 4294967295 , "sessionId" : "8F3E2A10-4B5C-4D6E-9F70-8192A3B4C5D6" , "author" : "LOGIN" } `,
	`{"sessionId":"8f3e2a10-4b5c-4d6e-9f70-8192a3b4c5d6","accountId":0,"author":"","type":"PROGRESS_STATE","body":{"state":0,"params":null}}`,
	`{"sessionId":"8f3e2a10-4b5c-4d6e-9f70-8192a3b4c5d6","accountId":7,"author":"CHANNEL","type":"PROGRESS_STATE","body":{"params":[1,"a\"}",{"b":[]}],"state":255}}`,
	`{"sessionId":"8f3e2a10-4b5c-4d6e-9f70-8192a3b4c5d6","accountId":7,"author":"CHANNEL","type":"PROGRESS_STATE","body":{"params":"x","state":1}}`,
	`{"type":"PROGRESS_STATE","body":{"state":1}}`,
	`{"sessionId":"8f3e2a10-4b5c-4d6e-9f70-8192a3b4c5d6","accountId":7,"author":"CH\u0041NNEL","type":"PROGRESS_STATE","body":{"state":1,"params":{}}}`,
	`{"SessionId":"8f3e2a10-4b5c-4d6e-9f70-8192a3b4c5d6","accountId":7,"author":"CHANNEL","type":"PROGRESS_STATE","body":{"state":1,"params":{}}}`,
	`{"sessionId":"8f3e2a10-4b5c-4d6e-9f70-8192a3b4c5d6","accountId":7,"accountId":8,"type":"PROGRESS_STATE","body":{"state":1,"params":{}}}`,
	`{"sessionId":"8f3e2a10-4b5c-4d6e-9f70-8192a3b4c5d6","accountId":7.0,"type":"PROGRESS_STATE","body":{"state":1,"params":{}}}`,
	`{"sessionId":"8f3e2a10-4b5c-4d6e-9f70-8192a3b4c5d6","accountId":4294967296,"type":"PROGRESS_STATE","body":{"state":1,"params":{}}}`,
	`{"sessionId":"8f3e2a10-4b5c-4d6e-9f70-8192a3b4c5d6","accountId":7,"type":"PROGRESS_STATE","body":{"state":256,"params":{}}}`,
	`{"sessionId":"8f3e2a10-4b5c-4d6e-9f70-8192a3b4c5d6","accountId":07,"type":"PROGRESS_STATE","body":{"state":1,"params":{}}}`,
	`{"sessionId":"not-a-uuid","accountId":7,"type":"PROGRESS_STATE","body":{"state":1,"params":{}}}`,
	`{"sessionId":"8f3e2a10-4b5c-4d6e-9f70-8192a3b4c5d6","accountId":7,"type":"PROGRESS_STATE","body":{"state":1,"params":{"a":}}}`,
	`{"sessionId":"8f3e2a10-4b5c-4d6e-9f70-8192a3b4c5d6","accountId":7,"type":"PROGRESS_STATE","body":{"state":1,"params":1x}}`,
	`{"sessionId":"8f3e2a10-4b5c-4d6e-9f70-8192a3b4c5d6","accountId":7,"type":"PROGRESS_STATE","body":{"state":1,"params":{}}} x`,
	`{"sessionId":"8f3e2a10-4b5c-4d6e-9f70-8192a3b4c5d6","accountId":7,"type":"LOGOUT","body":{}}`,
	`{"sessionId":"8f3e2a10-4b5c-4d6e-9f70-8192a3b4c5d6","accountId":7,"type":"PROGRESS_STATE","body":null}`,
	`{"sessionId":"8f3e2a10-4b5c-4d6e-9f70-8192a3b4c5d6","accountId":7,"type":"PROGRESS_STATE","body":{"state":1,"params":{}},}`,
	`{"accountId":-1,"type":"PROGRESS_STATE","body":{"state":1}}`,
	"{\"author\":\"\xff\",\"type\":\"PROGRESS_STATE\",\"body\":{\"state\":1}}",
	`[]`, `{}`, ``, `null`,
	`{"type":"PROGRESS_STATE","body":{"params":"\`,
	`{"type":"PROGRESS_STATE","body":{"params":{"a":"\`,
	`{"type":"PROGRESS_STATE","body":{"state":1,"params":` + strings.Repeat("[", 9999) + strings.Repeat("]", 9999) + `}}`,
	`{"type":"PROGRESS_STATE","body":{"state":1,"params":` + strings.Repeat("[", 65) + strings.Repeat("]", 65) + `}}`,
}

// The fast path decodes what it accepts exactly as DecodeAccountSessionCommand does, and the
// plain commands producers send are what it accepts.
func TestSessionCommandFastPathAgrees(t *testing.T) {
	for _, in := range sessionCommandSeeds {
		checkFastPath(t, []byte(in))
	}
	for _, plain := range sessionCommandSeeds[:6] {
		_, ok := decodeProgressStatePlain([]byte(plain))
		require.True(t, ok, "plain form: %s", plain)
	}
	for _, other := range sessionCommandSeeds[6:] {
		_, ok := decodeProgressStatePlain([]byte(other))
		require.False(t, ok, "not the plain form: %s", other)
	}
}

func FuzzSessionCommandFastPath(f *testing.F) {
	for _, in := range sessionCommandSeeds {
		f.Add([]byte(in))
	}
	f.Fuzz(func(t *testing.T, in []byte) { checkFastPath(t, in) })
}

func checkFastPath(t *testing.T, in []byte) {
	t.Helper()
	in = in[:len(in):len(in)] // no spare capacity: a read past the end panics
	want, wantErr := DecodeAccountSessionCommand(in)
	got, err := DecodeAccountSessionCommandFast(in)
	if wantErr != nil {
		require.EqualError(t, err, wantErr.Error(), "input %q", in)
		return
	}
	require.NoError(t, err, "input %q", in)
	if !reflect.DeepEqual(want, got) {
		t.Fatalf("input %q:\n general %#v %#v\n fast    %#v %#v", in, want, want.Body, got, got.Body)
	}
}

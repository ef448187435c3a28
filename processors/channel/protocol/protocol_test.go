package protocol_test

import (
	"testing"

	"github.com/atlasstreams/atlas/processors/channel/protocol"
	"github.com/stretchr/testify/require"
)

func TestParseClientFrame(t *testing.T) {
	f, err := protocol.ParseClientFrame([]byte(`{"op":"enter","ticket":"eyJ.x.y","accountId":7,"characterId":42}`))
	require.NoError(t, err)
	require.Equal(t, uint32(42), f.CharacterID)
	require.Equal(t, "eyJ.x.y", f.Ticket)
	for _, bad := range []string{
		``, `null`, `[]`, `{}`, `{"op":"ENTER"}`, `{"op":"enter","extra":1}`, `{"op":"enter"} {"op":"enter"}`,
		`{"op":"enter","sessionId":"not-a-uuid"}`, `{"op":"enter","accountId":-1}`, `{"op":"enter"} x`,
	} {
		_, err := protocol.ParseClientFrame([]byte(bad))
		require.ErrorIs(t, err, protocol.ErrBadFrame, bad)
	}
}

// A key given twice in any object of a frame, or two keys encoding/json would take for the
// same one, is refused: otherwise the last would silently win.
func TestDuplicateKeysAreRefused(t *testing.T) {
	for _, bad := range []string{
		`{"op":"action","op":"enter"}`,
		`{"op":"action","OP":"enter"}`,
		`{"op":"action","fields":{"actorId":1,"actorid":2}}`,
		`{"op":"action","body":{"characterId":1,"CHARACTERID":2}}`,
		`{"op":"action","body":{"list":[{"a":1,"A":2}]}}`,
		"{\"op\":\"action\",\"fields\":{\"kind\":1,\"\u212aind\":2}}", // the Kelvin sign folds to k
	} {
		_, err := protocol.ParseClientFrame([]byte(bad))
		require.ErrorIs(t, err, protocol.ErrDuplicateKey, bad)
	}
	_, err := protocol.ParseClientFrame([]byte(`{"op":"action","fields":{"a":{"x":1},"b":{"x":2}}}`))
	require.NoError(t, err, "the same key in two objects is fine")
}

func TestServerFrames(t *testing.T) {
	b, err := protocol.EventFrame("EVENT_TOPIC_EXPRESSION", "", []byte(`{"characterId":42, "expression":3}`))
	require.NoError(t, err)
	require.Equal(t, `{"op":"event","topic":"EVENT_TOPIC_EXPRESSION","message":{"characterId":42,"expression":3}}`, string(b))
	require.Equal(t, `{"op":"error","code":"BAD_FRAME","reason":"no"}`, string(protocol.ErrorFrame(protocol.CodeBadFrame, "no")))
	f, err := protocol.ParseServerFrame(protocol.ErrorFrame(protocol.CodeBadFrame, "no"))
	require.NoError(t, err)
	require.Equal(t, protocol.ServerFrame{Op: protocol.OpError, Code: protocol.CodeBadFrame, Reason: "no"}, f)
}

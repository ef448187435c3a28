package protocol_test

import (
	"testing"

	"github.com/atlasstreams/atlas/processors/channel/protocol"
	"github.com/stretchr/testify/require"
)

func TestParseClientFrame(t *testing.T) {
	f, err := protocol.ParseClientFrame([]byte(`{"op":"enter","sessionId":"8c1d2e3f-4a5b-4c6d-8e7f-901234567890","accountId":7,"characterId":42}`))
	require.NoError(t, err)
	require.Equal(t, uint32(42), f.CharacterID)
	for _, bad := range []string{
		``, `null`, `[]`, `{}`, `{"op":"ENTER"}`, `{"op":"enter","extra":1}`, `{"op":"enter"} {"op":"enter"}`,
		`{"op":"enter","sessionId":"not-a-uuid"}`, `{"op":"enter","accountId":-1}`,
	} {
		_, err := protocol.ParseClientFrame([]byte(bad))
		require.ErrorIs(t, err, protocol.ErrBadFrame, bad)
	}
}

func TestServerFrames(t *testing.T) {
	b, err := protocol.EventFrame("EVENT_TOPIC_EXPRESSION", "", []byte(`{"characterId":42, "expression":3}`))
	require.NoError(t, err)
	require.Equal(t, `{"op":"event","topic":"EVENT_TOPIC_EXPRESSION","message":{"characterId":42,"expression":3}}`, string(b))
	f, err := protocol.ParseServerFrame(protocol.ErrorFrame("no"))
	require.NoError(t, err)
	require.Equal(t, protocol.ServerFrame{Op: protocol.OpError, Reason: "no"}, f)
}

package ingress

import (
	"testing"
	"time"

	"github.com/atlasstreams/atlas"
	"github.com/atlasstreams/atlas/codecs"
	"github.com/atlasstreams/atlas/processors/account/model"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
)

// A command without a traceparent gets a trace derived from where it is: SHA-256 of
// "topic/partition/offset", span id its first 8 bytes, trace id the next 16. The value is
// pinned: a redelivered command, decided again by another version, must name the same trace.
func TestDerivedTraceOfACommandIsPinned(t *testing.T) {
	headers := codecs.Tenant{ID: uuid.MustParse("083839c6-c47c-42a6-9585-76492795d123"), Region: "GMS", Major: 83, Minor: 1}.Headers()
	msg := Message{Topic: string(atlas.CommandTopicAccountSession), Partition: 3, Offset: 42, Key: codecs.IDKey(7),
		Value:   []byte(`{"sessionId":"7f1b2c3d-0000-4000-8000-000000000001","accountId":7,"author":"CHANNEL","type":"PROGRESS_STATE","body":{"state":2,"params":{}}}`),
		Headers: headers, Timestamp: time.Unix(1700000000, 0)}
	const want = "00-f33f1b2491d5f11476ace3408d35b53b-1f7bb9b3e5ed05d5-01"
	d, err := Decide(model.Passwords{}, model.NameCharsetASCII, codecs.EraSeed, msg)
	require.NoError(t, err)
	require.Equal(t, want, d.Meta.GetTraceparent())

	headers[codecs.HeaderTraceParent] = []byte{} // present but empty: as absent
	d, err = Decide(model.Passwords{}, model.NameCharsetASCII, codecs.EraSeed, msg)
	require.NoError(t, err)
	require.Equal(t, want, d.Meta.GetTraceparent())
}

package replay

import (
	"testing"
	"time"

	"github.com/atlasstreams/atlas/codecs"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"
)

func deadLetter(value string, extra ...kgo.RecordHeader) *kgo.Record {
	r := &kgo.Record{Topic: "dlq", Partition: 1, Offset: 7, Timestamp: time.UnixMilli(1_800_000_000_000), Key: []byte("k"), Value: []byte(value)}
	d := codecs.DeadLetter{Topic: "COMMAND_TOPIC_CREATE_ACCOUNT", Partition: 2, Offset: 40, Group: "atlas-account-ingress", Reason: "invalid: name is empty"}
	for k, v := range d.Headers(nil) {
		r.Headers = append(r.Headers, kgo.RecordHeader{Key: k, Value: v})
	}
	r.Headers = append(r.Headers, extra...)
	return r
}

func TestShowMasksSecretsButKeepsTheRest(t *testing.T) {
	s := Show(deadLetter(`{"name":"","password":"hunter2","body":{"Ticket":"abc","n":12345678901234567890},"list":[{"apiToken":"x"}]}`,
		kgo.RecordHeader{Key: "x-session-secret", Value: []byte("s3")}, kgo.RecordHeader{Key: "TENANT_ID", Value: []byte("t")}))
	require.JSONEq(t, `{"name":"","password":"***","body":{"Ticket":"***","n":12345678901234567890},"list":[{"apiToken":"***"}]}`, string(s.Value))
	require.Equal(t, "***", s.Headers["x-session-secret"])
	require.Equal(t, "t", s.Headers["TENANT_ID"])
	require.Equal(t, "COMMAND_TOPIC_CREATE_ACCOUNT", s.Topic)
	require.Equal(t, "2/40", s.From)
	require.Equal(t, "invalid: name is empty", s.Reason)

	// Not JSON: shown as base64 unless it names a secret, which cannot be masked.
	s = Show(deadLetter(`{"name":"x","passw`))
	require.Nil(t, s.Value)
	require.Equal(t, []byte(`{"name":"x","passw`), s.ValueB64)
	s = Show(deadLetter(`{"name":"x","PASSWORD":"hunter2`))
	require.Nil(t, s.ValueB64)
	require.NotEmpty(t, s.Withheld)
}

func TestParsePosition(t *testing.T) {
	p, err := ParsePosition(" 3/1041 ")
	require.NoError(t, err)
	require.Equal(t, Position{3, 1041}, p)
	require.Equal(t, "3/1041", p.String())
	for _, bad := range []string{"", "3", "3/", "/4", "-1/4", "3/-4", "a/b", "3/4/5", "99999999999/1"} {
		_, err := ParsePosition(bad)
		require.Error(t, err, bad)
	}
}

func TestNewestFirst(t *testing.T) {
	at := time.UnixMilli(1_800_000_000_000)
	es := []Entry{{Partition: 0, Offset: 1, Timestamp: at}, {Partition: 1, Offset: 5, Timestamp: at.Add(time.Second)}, {Partition: 0, Offset: 2, Timestamp: at}}
	sortNewestFirst(es)
	require.Equal(t, []Entry{es[0], es[1], es[2]}, []Entry{{Partition: 1, Offset: 5, Timestamp: at.Add(time.Second)}, {Partition: 0, Offset: 2, Timestamp: at}, {Partition: 0, Offset: 1, Timestamp: at}})
}

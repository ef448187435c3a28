package replay

import (
	"testing"
	"time"

	"github.com/atlasstreams/atlas/codecs"
	"github.com/atlasstreams/atlas/processors/account/accountpb"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/proto"
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

	// Not JSON (an internal protobuf record, a malformed one): never shown. A protobuf
	// Register carries the password hash and names no field.
	hash := "$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy"
	v, err := proto.Marshal(&accountpb.NameCommand{Kind: &accountpb.NameCommand_Register{Register: &accountpb.Register{PasswordHash: []byte(hash)}}})
	require.NoError(t, err)
	for _, value := range []string{string(v), `{"name":"x","passw`} {
		s = Show(deadLetter(value))
		require.Nil(t, s.Value)
		require.Nil(t, s.ValueB64)
		require.NotEmpty(t, s.Withheld)
	}
	// JSON that hides a secret where no member can be masked: withheld.
	for _, value := range []string{`"{\"name\":\"bob\",\"password\":\"hunter2\"}"`, `{"note":"my PASSWORD is hunter2"}`} {
		s = Show(deadLetter(value))
		require.Nil(t, s.Value, value)
		require.NotEmpty(t, s.Withheld, value)
	}
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

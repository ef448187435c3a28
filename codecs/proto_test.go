package codecs

import (
	"testing"

	"github.com/atlasstreams/atlas/processors/account/accountpb"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"
)

// The generated encoder writes what proto.Unmarshal reads back as the same message, of the size
// proto.Size says, for every shape the account service writes: oneofs, maps, nested lists, bytes.
func TestMarshalProtoRoundTrips(t *testing.T) {
	meta := &accountpb.Meta{Command: &accountpb.CommandID{Topic: "COMMAND_TOPIC_ACCOUNT_SESSION", Partition: 3, Offset: 1 << 40},
		Tenant: "t", Traceparent: "00-x", TimestampMs: -1}
	row := &accountpb.Account{Id: 1, Name: "bob", Tos: true, Ban: &accountpb.BanState{Reason: 2, UntilMs: 9},
		Sessions: []*accountpb.Session{{SessionId: []byte{1, 2}, Issuer: "CHANNEL", State: 2, SinceMs: 5}, {}},
		Dedupe: &accountpb.Dedupe{
			Recent: []*accountpb.Applied{{Command: meta.Command, AppliedMs: 7, Emitted: []*accountpb.Emitted{{Topic: "e", Key: []byte("k"), Value: []byte(`{}`)}}}},
			High:   map[string]int64{"ingress|a/0": 4, "names|a/1": 0, "": -3}},
		CreatedMs: 8, Deleted: true, LastLoginMs: 9, WakeSlot: 10, WakeTickMs: 1000}
	messages := []proto.Message{
		row, &accountpb.Account{}, &accountpb.Dedupe{High: map[string]int64{}},
		&accountpb.AccountCommand{Meta: meta, AccountId: 4, Kind: &accountpb.AccountCommand_ProgressState{ProgressState: &accountpb.ProgressState{SessionId: []byte{9}, Author: "CHANNEL", State: 1, Params: []byte(`{"a":1}`)}}},
		&accountpb.AccountCommand{Meta: meta, Kind: &accountpb.AccountCommand_Unban{Unban: &accountpb.Unban{}}},
		&accountpb.NameCommand{Meta: meta, Name: "bob", Kind: &accountpb.NameCommand_Login{Login: &accountpb.LoginAttempt{SealedPassword: []byte{0}}}},
		&accountpb.TimerCommand{Kind: &accountpb.TimerCommand_Tick{Tick: &accountpb.Tick{}}},
		&accountpb.TimerIndex{Pending: []*accountpb.TimerAdd{{Meta: meta, AccountKey: "k", DeadlineMs: 3}}},
		&accountpb.NameEntry{Name: "bob", PasswordHash: []byte("h"), Registration: &accountpb.PendingRegistration{Meta: meta}},
	}
	for _, m := range messages {
		b, err := MarshalProto(m)
		require.NoError(t, err)
		require.Equal(t, proto.Size(m), len(b), "%T", m)
		require.Equal(t, proto.Size(m), ProtoSize(m), "%T", m)
		back := m.ProtoReflect().New().Interface()
		require.NoError(t, proto.Unmarshal(b, back))
		require.True(t, proto.Equal(m, back), "%T: %v != %v", m, m, back)
	}
}

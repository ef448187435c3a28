package timers

import (
	"testing"

	"github.com/atlasstreams/atlas/processors/account/accountpb"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"
)

func add(account string, since, deadline int64) *accountpb.TimerCommand {
	return &accountpb.TimerCommand{Kind: &accountpb.TimerCommand_Add{Add: &accountpb.TimerAdd{
		Meta: &accountpb.Meta{Tenant: "t"}, AccountKey: account, SessionId: []byte{1}, Issuer: "LOGIN", SinceMs: since, DeadlineMs: deadline,
	}}}
}

var tick = &accountpb.TimerCommand{Kind: &accountpb.TimerCommand_Tick{Tick: &accountpb.Tick{}}}

func TestTimersExpireOnlyWhatIsDueOncePerAccount(t *testing.T) {
	idx, _ := Decide(nil, add("a", 0, 100), nil, 0)
	idx, _ = Decide(idx, add("a", 0, 100), nil, 0) // a re-emitted add is kept once
	require.Len(t, idx.Pending, 1)
	idx, _ = Decide(idx, add("a", 50, 150), nil, 0)
	idx, _ = Decide(idx, add("b", 0, 500), nil, 0)

	tickID := &accountpb.CommandID{Topic: "timers", Offset: 9}
	idx, outs := Decide(idx, tick, tickID, 99)
	require.Empty(t, outs, "nothing is due yet")
	require.Len(t, idx.Pending, 3)

	idx, outs = Decide(idx, tick, tickID, 200)
	require.Len(t, outs, 1, "one expiry per account, however many of its deadlines passed")
	require.Equal(t, "a", outs[0].Key)
	cmd := new(accountpb.AccountCommand)
	require.NoError(t, proto.Unmarshal(outs[0].Value, cmd))
	require.EqualValues(t, 200, cmd.Meta.TimestampMs, "the expiry happens at the tick's time")
	require.True(t, proto.Equal(tickID, cmd.Meta.Command))
	require.Len(t, idx.Pending, 1)
	require.Equal(t, "b", idx.Pending[0].AccountKey)
}

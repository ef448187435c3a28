package timers

import (
	"testing"

	"github.com/atlasstreams/atlas/processors/account/accountpb"
	"github.com/atlasstreams/atlas/processors/account/model"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"
)

func add(account string, since, deadline int64) *accountpb.TimerCommand {
	return &accountpb.TimerCommand{Kind: &accountpb.TimerCommand_Add{Add: &accountpb.TimerAdd{
		Meta: &accountpb.Meta{Tenant: "t"}, AccountKey: account, SessionId: []byte{1}, Issuer: "LOGIN", SinceMs: since, DeadlineMs: deadline,
	}}}
}

var tick = &accountpb.TimerCommand{Kind: &accountpb.TimerCommand_Tick{Tick: &accountpb.Tick{}}}

func TestATickExpiresWhatIsDueOncePerAccountAndDropsTheRow(t *testing.T) {
	key := model.TimerRowKey(10, 3)
	var row []byte
	for _, c := range []*accountpb.TimerCommand{add("a", 0, 9500), add("a", 0, 9500), add("a", 50, 9900), add("b", 0, 10000)} {
		res, err := Decide(key, row, c, nil, 0, 5)
		require.NoError(t, err)
		require.Empty(t, res.Outs)
		row = res.Row
	}
	idx := new(accountpb.TimerIndex)
	require.NoError(t, proto.Unmarshal(row, idx), "appended adds are one valid row")
	require.Len(t, idx.Pending, 4)

	tickID := &accountpb.CommandID{Topic: "timers", Offset: 9}
	res, err := Decide(key, row, tick, tickID, 10000, 10)
	require.NoError(t, err)
	require.Len(t, res.Outs, 2, "one expiry per account, however many of its deadlines passed")
	require.Nil(t, res.Row, "an emptied row is deleted")
	require.True(t, res.Changed)
	require.Equal(t, "a", res.Outs[0].Key)
	cmd := new(accountpb.AccountCommand)
	require.NoError(t, proto.Unmarshal(res.Outs[0].Value, cmd))
	require.EqualValues(t, 10000, cmd.Meta.TimestampMs, "the expiry happens at the tick's time")
	require.True(t, proto.Equal(tickID, cmd.Meta.Command))

	again, err := Decide(key, nil, tick, tickID, 10000, 10)
	require.NoError(t, err)
	require.Empty(t, again.Outs, "a second tick of the slot finds nothing")
	require.False(t, again.Changed)
}

func TestATickKeepsWhatIsNotDue(t *testing.T) {
	key := model.TimerRowKey(10, 3)
	res, _ := Decide(key, nil, add("a", 0, 20000), nil, 0, 5)
	res, err := Decide(key, res.Row, tick, &accountpb.CommandID{}, 10000, 10)
	require.NoError(t, err)
	require.Empty(t, res.Outs)
	require.NotEmpty(t, res.Row)
}

func TestALateAddMovesToTheNextSlot(t *testing.T) {
	res, err := Decide(model.TimerRowKey(10, 3), nil, add("a", 0, 9500), nil, 0, 12)
	require.NoError(t, err)
	require.False(t, res.Changed, "slot 10 may have been ticked already: nothing is stored there")
	require.Len(t, res.Outs, 1)
	require.Equal(t, model.TimerRowKey(13, 3), res.Outs[0].Key)
}

func TestACorruptRowIsAnErrorNotAPanic(t *testing.T) {
	_, err := Decide(model.TimerRowKey(1, 0), []byte{0xff, 0xff, 0xff}, tick, &accountpb.CommandID{}, 10, 1)
	require.Error(t, err)
}

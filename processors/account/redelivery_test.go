package account_test

import (
	"testing"

	"github.com/atlasstreams/atlas"
	"github.com/atlasstreams/atlas/processors/account/accountpb"
	"github.com/atlasstreams/atlas/processors/account/accounttest"
	"github.com/atlasstreams/atlas/processors/account/model"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"
)

// A command delivered twice (same source topic, partition and offset, as after a crash
// between emit and commit) changes state once and yields the same events, byte for byte.
func TestRedeliveredAccountCommandChangesStateOnce(t *testing.T) {
	h := accounttest.New(t)
	id := loggedIn(t, h)
	h.Progress(s1, id, login, 2, `{}`)
	h.EventStrings()

	// A channel login: applied twice it would fail the second time (no transition left).
	cmd := &accountpb.AccountCommand{
		Meta:      h.Meta(atlas.CommandTopicAccountSession, 3, 1000),
		AccountId: id,
		Kind: &accountpb.AccountCommand_ProgressState{ProgressState: &accountpb.ProgressState{
			SessionId: s2[:], Author: channel, State: 1, Params: []byte(`{"characterId":5}`),
		}},
	}
	key := model.AccountKey(h.Tenant, id)
	h.ProduceInternal(atlas.AccountCommands, key, cmd)
	first := h.Events()
	require.Equal(t, "STATUS 1 LOGGED_IN bob", first[0].String())
	require.Equal(t, "SESSION 1 STATE_CHANGED 1", first[1].String())
	before := proto.Clone(h.Account(id)).(*accountpb.Account)

	h.Advance(1000) // a later redelivery: the decision must not look at the wall clock
	h.ProduceInternal(atlas.AccountCommands, key, cmd)
	second := h.Events()
	require.Len(t, second, len(first))
	for i := range first {
		require.Equal(t, first[i].Raw, second[i].Raw, "event %d re-emitted byte for byte", i)
		require.Equal(t, first[i].Key, second[i].Key)
		require.Equal(t, first[i].Headers, second[i].Headers, "headers too")
	}
	require.True(t, proto.Equal(before.Sessions[0], h.Account(id).Sessions[0]), "state changed once")
}

func TestRedeliveredFailedLoginCountsOnce(t *testing.T) {
	h := accounttest.New(t)
	h.Create("bob", "secret")
	h.EventStrings()
	meta := h.Meta(atlas.CommandTopicAccountSession, 0, 77)
	key := model.NameKey(h.Tenant, "bob")
	cmd := &accountpb.NameCommand{Meta: meta, Name: "bob", Kind: &accountpb.NameCommand_Login{Login: &accountpb.LoginAttempt{
		SessionId: s1[:], Author: login, SealedPassword: h.Passwords.Seal([]byte("wrong"), model.SealContext(key, meta.Command)),
	}}}
	h.ProduceInternal(atlas.AccountNameCommands, key, cmd)
	first := h.Events()
	h.ProduceInternal(atlas.AccountNameCommands, key, cmd)
	second := h.Events()
	require.Equal(t, []string{"SESSION 1 ERROR INCORRECT_PASSWORD"}, []string{first[0].String()})
	require.Len(t, second, 1)
	require.Equal(t, first[0].Raw, second[0].Raw)
	require.EqualValues(t, 1, h.Name("bob").FailedLogins, "one failure counted")
}

func TestRedeliveredRegistrationCreatesOneAccount(t *testing.T) {
	h := accounttest.New(t)
	meta := h.Meta(atlas.CommandTopicCreateAccount, 1, 5)
	hash, err := h.Passwords.Hash([]byte("pw"))
	require.NoError(t, err)
	cmd := &accountpb.NameCommand{Meta: meta, Name: "eve", Kind: &accountpb.NameCommand_Register{Register: &accountpb.Register{PasswordHash: hash}}}
	key := model.NameKey(h.Tenant, "eve")
	h.ProduceInternal(atlas.AccountNameCommands, key, cmd)
	first := h.Events()
	require.Equal(t, "STATUS 1 CREATED eve", first[0].String())
	h.ProduceInternal(atlas.AccountNameCommands, key, cmd)
	require.Empty(t, h.EventStrings(), "the name is taken by this very registration: nothing new")
	require.Nil(t, h.Account(2), "no second account")

	// The same id answered again (a redelivered answer) re-sends the create, which the accounts
	// stage recognises: the same event again, byte for byte.
	assigned := func(id uint32) *accountpb.NameCommand {
		return &accountpb.NameCommand{Meta: meta, Kind: &accountpb.NameCommand_IdAssigned{
			IdAssigned: &accountpb.IDAssigned{AccountId: id, ForCommand: meta.Command}}}
	}
	h.ProduceInternal(atlas.AccountNameCommands, key, assigned(1))
	again := h.Events()
	require.Len(t, again, 1)
	require.Equal(t, first[0].Raw, again[0].Raw)

	// Another id for the same registration (its id request was delivered twice) is never used.
	h.ProduceInternal(atlas.AccountNameCommands, key, assigned(9))
	require.Empty(t, h.EventStrings())
	require.EqualValues(t, 1, h.Name("eve").AccountId)
	require.Nil(t, h.Account(9))

	// The redelivered registration cost an id: ids have gaps but never repeat.
	h.Create("fay", "pw")
	require.Equal(t, []string{"STATUS 3 CREATED fay"}, h.EventStrings())
}

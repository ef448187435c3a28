package names

import (
	"testing"
	"time"

	"github.com/atlasstreams/atlas/codecs"
	"github.com/atlasstreams/atlas/processors/account/accountpb"
	"github.com/atlasstreams/atlas/processors/account/model"
	"github.com/atlasstreams/atlas/processors/account/seal"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"
	"google.golang.org/protobuf/proto"
)

var tenant = codecs.Tenant{ID: uuid.MustParse("11111111-2222-4333-8444-555555555555"), Region: "GMS", Major: 83, Minor: 1}

func passwords(t *testing.T) model.Passwords {
	s, err := seal.New(seal.RandomKey())
	require.NoError(t, err)
	return model.Passwords{Cost: bcrypt.MinCost, Sealer: s}
}

func loginCmd(pw model.Passwords, key string, offset int64, plain string, at time.Time) *accountpb.NameCommand {
	id := &accountpb.CommandID{Topic: "COMMAND_TOPIC_ACCOUNT_SESSION", Offset: offset}
	return &accountpb.NameCommand{
		Meta: &accountpb.Meta{Command: id, Tenant: tenant.String(), TimestampMs: at.UnixMilli()},
		Name: "bob",
		Kind: &accountpb.NameCommand_Login{Login: &accountpb.LoginAttempt{
			SessionId: make([]byte, 16), Author: model.IssuerLogin,
			SealedPassword: pw.Seal([]byte(plain), model.SealContext(key, id)),
		}},
	}
}

func sessionError(t *testing.T, outs []model.Out) *codecs.AccountSessionStatusEventErrorBody {
	require.Len(t, outs, 1)
	e, err := codecs.DecodeAccountSessionStatusEvent(outs[0].Value)
	require.NoError(t, err)
	body, ok := e.Body.(*codecs.AccountSessionStatusEventErrorBody)
	require.True(t, ok, "want an ERROR, got %s", outs[0].Value)
	return body
}

// A login right after its account's create, while the id is in flight, waits in the
// registration and goes on with the create once the id is bound.
func TestLoginWhileRegistrationWaitsForItsID(t *testing.T) {
	pw := passwords(t)
	key := model.NameKey(tenant, "bob")
	hash, _ := pw.Hash([]byte("pw"))
	now := time.Now()
	createID := &accountpb.CommandID{Topic: "COMMAND_TOPIC_CREATE_ACCOUNT", Offset: 9}
	pending := &accountpb.NameEntry{Name: "bob", PasswordHash: hash, Registration: &accountpb.PendingRegistration{
		Meta: &accountpb.Meta{Command: createID, Tenant: tenant.String(), TimestampMs: now.UnixMilli()}}}

	res := Decide(model.DefaultConfig(), pw, key, pending, loginCmd(pw, key, 1, "pw", now))
	require.Equal(t, OutcomeLoginAwaitsID, res.Outcome)
	require.Empty(t, res.Outs, "no answer yet: the login waits")
	require.NotNil(t, res.Entry.GetRegistration().GetLogin())
	require.Nil(t, pending.GetRegistration().GetLogin(), "Decide never mutates its input")

	// A second login meanwhile is refused, as is a wrong password.
	second := Decide(model.DefaultConfig(), pw, key, res.Entry, loginCmd(pw, key, 2, "pw", now))
	require.Equal(t, model.CodeSystemError, sessionError(t, second.Outs).Code)
	require.Equal(t, OutcomeRegistering, second.Outs[0].Cause, "a SYSTEM_ERROR carries its cause for the log and the metric")
	wrong := Decide(model.DefaultConfig(), pw, key, pending, loginCmd(pw, key, 3, "nope", now))
	require.Equal(t, model.CodeIncorrectPassword, sessionError(t, wrong.Outs).Code)

	// The id comes back: the create carries the waiting login to the accounts stage.
	bound := Decide(model.DefaultConfig(), pw, key, res.Entry, &accountpb.NameCommand{
		Meta: &accountpb.Meta{Command: &accountpb.CommandID{Topic: "atlas-account-id-answers", Offset: 1}, Tenant: tenant.String(), TimestampMs: now.UnixMilli()},
		Name: "bob",
		Kind: &accountpb.NameCommand_IdAssigned{IdAssigned: &accountpb.IDAssigned{ForCommand: createID, AccountId: 5}},
	})
	require.Equal(t, OutcomeBound, bound.Outcome)
	require.Len(t, bound.Outs, 1)
	var cmd accountpb.AccountCommand
	require.NoError(t, proto.Unmarshal(bound.Outs[0].Value, &cmd))
	require.NotNil(t, cmd.GetCreate().GetLogin(), "the create logs the waiting session in")

	// A registration stuck longer than the transition timeout does not hold logins.
	late := Decide(model.DefaultConfig(), pw, key, pending, loginCmd(pw, key, 4, "pw", now.Add(model.DefaultConfig().TransitionTimeout+time.Second)))
	require.Equal(t, model.CodeSystemError, sessionError(t, late.Outs).Code)
}

func TestLoginSealedForAnotherCommandIsRefused(t *testing.T) {
	pw := passwords(t)
	key := model.NameKey(tenant, "bob")
	hash, _ := pw.Hash([]byte("pw"))
	entry := &accountpb.NameEntry{Name: "bob", AccountId: 4, PasswordHash: hash}
	cmd := loginCmd(pw, key, 1, "pw", time.Now())
	cmd.Meta.Command.Offset = 2 // replayed under another command id: the seal does not open
	res := Decide(model.DefaultConfig(), pw, key, entry, cmd)
	require.Equal(t, OutcomeUnsealable, res.Outcome)
	require.Equal(t, model.CodeSystemError, sessionError(t, res.Outs).Code)
	require.Zero(t, res.Entry.FailedLogins, "not the user's fault: no failed attempt")
}

func TestLockWindow(t *testing.T) {
	pw := passwords(t)
	cfg := model.DefaultConfig()
	key := model.NameKey(tenant, "bob")
	hash, _ := pw.Hash([]byte("pw"))
	entry := &accountpb.NameEntry{Name: "bob", AccountId: 4, PasswordHash: hash}
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := 0; i < int(cfg.MaxFailedLogins); i++ {
		res := Decide(cfg, pw, key, entry, loginCmd(pw, key, int64(i), "bad", start.Add(time.Duration(i)*time.Minute)))
		require.Equal(t, model.CodeIncorrectPassword, sessionError(t, res.Outs).Code)
		entry = res.Entry
	}
	require.EqualValues(t, cfg.MaxFailedLogins, entry.FailedLogins)
	require.Equal(t, start.UnixMilli(), entry.FailedWindowStartMs, "the window starts at the first failure")

	justBefore := start.Add(cfg.FailedLoginWindow - time.Millisecond)
	res := Decide(cfg, pw, key, entry, loginCmd(pw, key, 10, "pw", justBefore))
	require.Equal(t, model.CodeTooManyAttempts, sessionError(t, res.Outs).Code)

	res = Decide(cfg, pw, key, entry, loginCmd(pw, key, 11, "bad", start.Add(cfg.FailedLoginWindow)))
	require.Equal(t, model.CodeIncorrectPassword, sessionError(t, res.Outs).Code, "a new window opens at its end")
	require.EqualValues(t, 1, res.Entry.FailedLogins)
}

func TestDecideDoesNotMutateItsInput(t *testing.T) {
	pw := passwords(t)
	key := model.NameKey(tenant, "bob")
	hash, _ := pw.Hash([]byte("pw"))
	entry := &accountpb.NameEntry{Name: "bob", AccountId: 4, PasswordHash: hash}
	Decide(model.DefaultConfig(), pw, key, entry, loginCmd(pw, key, 1, "bad", time.Now()))
	require.Zero(t, entry.FailedLogins)
}

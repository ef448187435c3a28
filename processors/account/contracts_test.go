package account_test

import (
	"strconv"
	"testing"
	"time"

	"github.com/atlasstreams/atlas"
	"github.com/atlasstreams/atlas/codecs"
	"github.com/atlasstreams/atlas/processors/account/accounttest"
	"github.com/atlasstreams/atlas/processors/account/ingress"
	"github.com/atlasstreams/atlas/processors/account/model"
	"github.com/stretchr/testify/require"
)

func currentEra(c *model.Config) { c.Contracts = codecs.EraCurrent }

// loginWithHWID sends a login as a current login server writes it: with the client's hwid.
func loginWithHWID(h *accounttest.Harness, name, password, hwid string) {
	v, err := (&codecs.AccountSessionCommand{
		SessionID: s1, Author: model.IssuerLogin, Type: codecs.AccountSessionCommandTypeCreate,
		Body: &codecs.AccountSessionCommandCreateBody{AccountName: name, Password: password, IPAddress: "10.0.0.7", Hwid: &hwid},
	}).Encode()
	require.NoError(h.T, err)
	h.Produce(atlas.CommandTopicAccountSession, codecs.IDKey(0), v, accounttest.DefaultTenant.Headers())
}

// Current upstream's login and ban services read the account name, the address and the
// hardware id from the answers, and its consumers drop an ERROR whose ban end is a number.
func TestCurrentEraAnswersCarryWhatCurrentConsumersRead(t *testing.T) {
	h := accounttest.New(t, currentEra)
	h.Create("bob", "secret")
	h.EventStrings()
	h.Admin(ingress.AdminSetTos, 1, ingress.SetTosBody{Accepted: true})
	loginWithHWID(h, "bob", "secret", "a1b2c3d4e5f6")
	events := h.Events()
	require.Equal(t, `{"sessionId":"`+s1.String()+`","accountId":1,"accountName":"bob","type":"CREATED","body":{"ipAddress":"10.0.0.7","hwid":"a1b2c3d4e5f6"}}`, string(events[len(events)-1].Raw))

	h.Logout(s1, 1, model.IssuerLogin)
	h.EventStrings()
	until := h.Now.Add(time.Hour).Truncate(time.Millisecond)
	h.Admin(ingress.AdminBan, 1, ingress.BanBody{Reason: 3, Until: uint64(until.UnixMilli())})
	loginWithHWID(h, "bob", "secret", "a1b2c3d4e5f6")
	events = h.Events()
	require.Len(t, events, 1)
	require.Equal(t, `{"sessionId":"`+s1.String()+`","accountId":1,"accountName":"bob","type":"ERROR","body":{"code":"DELETED_OR_BLOCKED","reason":3,"until":"`+until.UTC().Format(time.RFC3339Nano)+`","ipAddress":"10.0.0.7","hwid":"a1b2c3d4e5f6"}}`, string(events[0].Raw))

	// An error that is no ban carries the zero time; a wrong password names the account.
	h.Admin(ingress.AdminUnban, 1, nil)
	loginWithHWID(h, "bob", "wrong", "ff")
	require.Equal(t, `{"sessionId":"`+s1.String()+`","accountId":1,"accountName":"bob","type":"ERROR","body":{"code":"INCORRECT_PASSWORD","reason":0,"until":"0001-01-01T00:00:00Z","ipAddress":"10.0.0.7","hwid":"ff"}}`, string(h.Events()[0].Raw))
}

// The seed era keeps Unix milliseconds for the ban's end; the superset fields are written
// in both eras (seed readers ignore them).
func TestSeedEraBanEndIsMilliseconds(t *testing.T) {
	h := accounttest.New(t)
	h.Create("bob", "secret")
	h.EventStrings()
	until := h.Now.Add(time.Hour).UnixMilli()
	h.Admin(ingress.AdminBan, 1, ingress.BanBody{Reason: 3, Until: uint64(until)})
	loginWithHWID(h, "bob", "secret", "a1")
	events := h.Events()
	require.Len(t, events, 1)
	require.Contains(t, string(events[0].Raw), `"until":`+strconv.FormatInt(until, 10)+`,"ipAddress":"10.0.0.7","hwid":"a1"}`)
}

// accountCommand sends a COMMAND_TOPIC_ACCOUNT message (current upstream's create and delete).
func accountCommand(h *accounttest.Harness, key string, m *codecs.AccountCommand) {
	v, err := m.Encode()
	require.NoError(h.T, err)
	h.Produce(atlas.CommandTopicAccount, key, v, nil)
}

// Current upstream creates and deletes accounts on COMMAND_TOPIC_ACCOUNT, in either era. A
// delete is refused while the account is logged in; otherwise the account and its name go
// (tombstones), DELETED is announced, and the name can be registered again.
func TestAccountTopicCreatesAndDeletes(t *testing.T) {
	h := accounttest.New(t)
	accountCommand(h, codecs.IDKey(99), &codecs.AccountCommand{Type: codecs.AccountCommandTypeCreate,
		Body: &codecs.AccountCommandCreateBody{Name: "bob", Password: "secret"}})
	require.Equal(t, []string{"STATUS 1 CREATED bob"}, h.EventStrings())
	h.Admin(ingress.AdminSetTos, 1, ingress.SetTosBody{Accepted: true})
	h.Login(s1, "bob", "secret")
	require.Contains(t, h.EventStrings(), "STATUS 1 LOGGED_IN bob")

	del := &codecs.AccountCommand{Type: codecs.AccountCommandTypeDelete, Body: &codecs.AccountCommandDeleteBody{AccountID: 1}}
	accountCommand(h, codecs.IDKey(1), del)
	require.Empty(t, h.EventStrings(), "a logged-in account is not deleted")
	require.NotNil(t, h.Account(1))

	h.Logout(s1, 1, model.IssuerLogin)
	require.Equal(t, []string{"STATUS 1 LOGGED_OUT bob"}, h.EventStrings())
	accountCommand(h, codecs.IDKey(1), del)
	events := h.Events()
	require.Len(t, events, 1)
	require.Equal(t, `{"account_id":1,"name":"bob","status":"DELETED"}`, string(events[0].Raw))
	require.Nil(t, h.Account(1), "the account row is removed")
	require.Nil(t, h.Name("bob"), "the name row is removed")

	// Deleting again changes nothing; the name is free for a new account with a new id.
	accountCommand(h, codecs.IDKey(1), del)
	require.Empty(t, h.EventStrings())
	h.Login(s1, "bob", "secret")
	require.Contains(t, h.EventStrings(), "STATUS 2 CREATED bob", "auto-registration of the free name")
	require.Empty(t, h.DeadLetters())
}

// A ban that ends after year 9999 cannot be an RFC3339 time: the current era writes the last
// instant of 9999 instead of failing the event, and the admin topic refuses later ends.
func TestCurrentEraFarBanEnd(t *testing.T) {
	h := accounttest.New(t, currentEra)
	h.Create("bob", "secret")
	h.EventStrings()
	h.Admin(ingress.AdminBan, 1, ingress.BanBody{Reason: 3, Until: model.MaxBanUntilMs})
	loginWithHWID(h, "bob", "secret", "a1")
	require.Contains(t, string(h.Events()[0].Raw), `"until":"9999-12-31T23:59:59.999Z"`)
	h.Admin(ingress.AdminBan, 1, ingress.BanBody{Reason: 3, Until: model.MaxBanUntilMs + 1})
	require.NotEmpty(t, h.DeadLetters(), "an end after year 9999 is refused")
}

// A DELETE that comes after a transition's timeout, before the tick that expires it, finds the
// account logged out, as every other command would.
func TestDeleteAfterAnExpiredTransition(t *testing.T) {
	h := accounttest.New(t)
	h.Create("bob", "secret")
	h.Admin(ingress.AdminSetTos, 1, ingress.SetTosBody{Accepted: true})
	h.Login(s1, "bob", "secret")
	h.Progress(s1, 1, model.IssuerLogin, 2, `{"ipAddress":"10.0.0.5","port":7575}`)
	h.EventStrings()
	h.Advance(time.Minute)
	accountCommand(h, codecs.IDKey(1), &codecs.AccountCommand{Type: codecs.AccountCommandTypeDelete, Body: &codecs.AccountCommandDeleteBody{AccountID: 1}})
	require.Contains(t, h.EventStrings(), "STATUS 1 DELETED bob")
	require.Nil(t, h.Account(1))
}

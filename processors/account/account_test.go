package account_test

import (
	"bytes"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/atlasstreams/atlas"
	"github.com/atlasstreams/atlas/codecs"
	"github.com/atlasstreams/atlas/processors/account/accountpb"
	"github.com/atlasstreams/atlas/processors/account/accounttest"
	"github.com/atlasstreams/atlas/processors/account/ingress"
	"github.com/atlasstreams/atlas/processors/account/model"
	"github.com/google/uuid"
	"github.com/lovoo/goka"
	"github.com/lovoo/goka/tester"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"
)

var (
	s1 = uuid.MustParse("00000000-0000-4000-8000-000000000001")
	s2 = uuid.MustParse("00000000-0000-4000-8000-000000000002")
	s3 = uuid.MustParse("00000000-0000-4000-8000-000000000003")
	s4 = uuid.MustParse("00000000-0000-4000-8000-000000000004")
)

const (
	login   = model.IssuerLogin
	channel = model.IssuerChannel
)

// loggedIn creates bob and logs him in through the login server; the events are drained.
func loggedIn(t *testing.T, h *accounttest.Harness) uint32 {
	h.Create("bob", "secret")
	h.Login(s1, "bob", "secret")
	require.Equal(t, []string{"STATUS 1 CREATED bob", "STATUS 1 LOGGED_IN bob", "SESSION 1 REQUEST_LICENSE_AGREEMENT"}, h.EventStrings())
	require.EqualValues(t, 1, h.State(1))
	return 1
}

func TestCreateAccount(t *testing.T) {
	h := accounttest.New(t)
	h.Create("bob", "secret")
	events := h.Events()
	require.Len(t, events, 1)
	require.Equal(t, `{"account_id":1,"name":"bob","status":"CREATED"}`, string(events[0].Raw))
	require.Equal(t, codecs.IDKey(1), events[0].Key)

	a := h.Account(1)
	require.NotNil(t, a)
	require.Equal(t, "bob", a.Name)
	require.EqualValues(t, 0, a.Gender, "GMS v83 gets gender 0")
	require.False(t, a.Tos)

	n := h.Name("BOB")
	require.NotNil(t, n, "names are unique case-insensitively")
	require.EqualValues(t, 1, n.AccountId)
	require.True(t, bytes.HasPrefix(n.PasswordHash, []byte("$2a$")), "a bcrypt hash is stored")
	require.NotContains(t, string(n.PasswordHash), "secret")

	h.Create("alice", "pw")
	require.Equal(t, []string{"STATUS 2 CREATED alice"}, h.EventStrings(), "ids count up from 1")
}

func TestCreateExistingNameChangesNothing(t *testing.T) {
	h := accounttest.New(t)
	h.Create("bob", "secret")
	h.EventStrings()
	h.Create("BoB", "other")
	require.Empty(t, h.EventStrings())
	require.Nil(t, h.Account(2))
	h.Login(s1, "bob", "secret")
	require.Contains(t, h.EventStrings(), "STATUS 1 LOGGED_IN bob", "the first password still holds")
}

func TestDefaultGender(t *testing.T) {
	for _, c := range []struct {
		region string
		major  uint16
		want   uint32
	}{{"GMS", 87, 10}, {"GMS", 95, 10}, {"GMS", 86, 0}, {"JMS", 185, 0}} {
		h := accounttest.New(t)
		h.Tenant.Region, h.Tenant.Major = c.region, c.major
		h.Create("bob", "pw")
		a := h.Account(1)
		require.NotNil(t, a, "%s v%d", c.region, c.major)
		require.Equal(t, c.want, a.Gender, "%s v%d", c.region, c.major)
	}
}

// The happy path across servers: login, transition to a channel, the login server's logout
// refused while in transition, the channel's login.
func TestLoginTransitionBlockedLogoutChannelLogin(t *testing.T) {
	h := accounttest.New(t)
	id := loggedIn(t, h)

	h.Progress(s1, id, login, 2, `{"ipAddress":"10.0.0.5","port":7575,"characterId":12}`)
	events := h.Events()
	require.Len(t, events, 1)
	require.Equal(t, `{"sessionId":"`+s1.String()+`","accountId":1,"accountName":"bob","type":"STATE_CHANGED","body":{"state":2,"params":{"ipAddress":"10.0.0.5","port":7575,"characterId":12}}}`, string(events[0].Raw), "params are echoed unchanged")
	require.EqualValues(t, 2, h.State(id))

	h.Logout(s1, id, login)
	require.Empty(t, h.EventStrings(), "a logout of a session in transition is refused")
	require.EqualValues(t, 2, h.State(id))

	h.Progress(s2, id, channel, 1, `{"characterId":12}`)
	require.Equal(t, []string{"STATUS 1 LOGGED_IN bob", "SESSION 1 STATE_CHANGED 1"}, h.EventStrings())
	a := h.Account(id)
	require.Len(t, a.Sessions, 1, "a channel login replaces every entry")
	require.Equal(t, channel, a.Sessions[0].Issuer)
	require.Equal(t, s2[:], a.Sessions[0].SessionId)
	require.EqualValues(t, 1, h.State(id))
}

func TestChannelChanges(t *testing.T) {
	for _, oldLogsOutFirst := range []bool{false, true} {
		t.Run(map[bool]string{false: "old channel logs out after", true: "old channel logs out first"}[oldLogsOutFirst], func(t *testing.T) {
			h := accounttest.New(t)
			id := loggedIn(t, h)
			h.Progress(s1, id, login, 2, `{}`)
			h.Progress(s2, id, channel, 1, `{"characterId":12}`)
			h.EventStrings()

			prev := s2
			for _, next := range []uuid.UUID{s3, s4} { // to a second, then a third channel
				h.Progress(prev, id, channel, 2, `{"ipAddress":"10.0.0.6","port":7576}`)
				require.Equal(t, []string{"SESSION 1 STATE_CHANGED 2"}, h.EventStrings())
				if oldLogsOutFirst {
					h.Logout(prev, id, channel)
					require.Empty(t, h.EventStrings(), "the old channel cannot log out a session in transition")
				}
				h.Progress(next, id, channel, 1, `{"characterId":12}`)
				require.Equal(t, []string{"STATUS 1 LOGGED_IN bob", "SESSION 1 STATE_CHANGED 1"}, h.EventStrings())
				if !oldLogsOutFirst {
					h.Logout(prev, id, channel)
					require.Empty(t, h.EventStrings(), "the old session is gone; the live one stays logged in")
				}
				require.EqualValues(t, 1, h.State(id))
				prev = next
			}
			h.Logout(prev, id, channel)
			require.Equal(t, []string{"STATUS 1 LOGGED_OUT bob"}, h.EventStrings())
			require.EqualValues(t, 0, h.State(id))
		})
	}
}

func TestDoubleLogin(t *testing.T) {
	h := accounttest.New(t)
	loggedIn(t, h)
	h.Login(s2, "bob", "secret")
	require.Equal(t, []string{"SESSION 1 ERROR ALREADY_LOGGED_IN"}, h.EventStrings())
	require.Len(t, h.Account(1).Sessions, 1)
}

func TestTransitionExpiry(t *testing.T) {
	h := accounttest.New(t)
	id := loggedIn(t, h)
	h.Progress(s1, id, login, 2, `{}`)
	h.EventStrings()

	h.Advance(h.Config.TransitionTimeout - time.Second)
	h.Tick()
	require.Empty(t, h.EventStrings(), "not expired before the timeout")
	require.EqualValues(t, 2, h.State(id))

	h.Advance(2 * time.Second)
	h.Tick()
	require.Equal(t, []string{"STATUS 1 LOGGED_OUT bob"}, h.EventStrings())
	require.EqualValues(t, 0, h.State(id))
	require.Empty(t, h.Account(id).Sessions)

	h.Tick()
	require.Empty(t, h.EventStrings(), "an expiry happens once")

	h.Login(s2, "bob", "secret")
	require.Contains(t, h.EventStrings(), "STATUS 1 LOGGED_IN bob", "the account can log in again")
}

func TestExpiredTransitionIsDroppedBeforeTheNextCommand(t *testing.T) {
	h := accounttest.New(t)
	id := loggedIn(t, h)
	h.Progress(s1, id, login, 2, `{}`)
	h.EventStrings()
	h.Advance(h.Config.TransitionTimeout + time.Second)
	// No tick yet: the channel login finds the transition already expired.
	h.Progress(s2, id, channel, 1, `{"characterId":1}`)
	require.Equal(t, []string{"STATUS 1 LOGGED_OUT bob", "SESSION 1 ERROR SYSTEM_ERROR"}, h.EventStrings())
}

func TestTerminateWithNilSession(t *testing.T) {
	h := accounttest.New(t)
	id := loggedIn(t, h)
	h.Progress(s1, id, login, 2, `{}`)
	h.EventStrings()
	h.Logout(uuid.Nil, id, model.IssuerInternal)
	require.Equal(t, []string{"STATUS 1 LOGGED_OUT bob"}, h.EventStrings())
	require.EqualValues(t, 0, h.State(id))
}

func TestTooManyAttemptsAndUnlock(t *testing.T) {
	h := accounttest.New(t)
	h.Create("bob", "secret")
	h.EventStrings()
	for i := 0; i < 5; i++ {
		h.Login(s1, "bob", "wrong")
		require.Equal(t, []string{"SESSION 1 ERROR INCORRECT_PASSWORD"}, h.EventStrings(), "attempt %d", i+1)
		h.Advance(time.Second)
	}
	h.Login(s1, "bob", "secret")
	require.Equal(t, []string{"SESSION 1 ERROR TOO_MANY_ATTEMPTS"}, h.EventStrings(), "locked even with the right password")
	h.Login(s1, "nobody-else", "x")
	require.NotContains(t, h.EventStrings(), "SESSION 1 ERROR TOO_MANY_ATTEMPTS", "the lock is per account")

	h.Advance(h.Config.FailedLoginWindow)
	h.Login(s1, "bob", "secret")
	require.Equal(t, []string{"STATUS 1 LOGGED_IN bob", "SESSION 1 REQUEST_LICENSE_AGREEMENT"}, h.EventStrings(), "unlocked after the window")
	require.Zero(t, h.Name("bob").FailedLogins, "success resets the counter")
}

func TestFailedAttemptsOutsideTheWindowDoNotLock(t *testing.T) {
	h := accounttest.New(t)
	h.Create("bob", "secret")
	h.EventStrings()
	for i := 0; i < 8; i++ {
		h.Login(s1, "bob", "wrong")
		require.Equal(t, []string{"SESSION 1 ERROR INCORRECT_PASSWORD"}, h.EventStrings(), "attempt %d", i+1)
		h.Advance(h.Config.FailedLoginWindow / 4)
	}
}

func TestAutoRegistration(t *testing.T) {
	h := accounttest.New(t)
	h.Login(s1, "newbie", "pw")
	require.Equal(t, []string{"STATUS 1 CREATED newbie", "STATUS 1 LOGGED_IN newbie", "SESSION 1 REQUEST_LICENSE_AGREEMENT"}, h.EventStrings())
	h.Logout(s1, 1, login)
	require.Equal(t, []string{"STATUS 1 LOGGED_OUT newbie"}, h.EventStrings())
	h.Login(s2, "newbie", "bad")
	require.Equal(t, []string{"SESSION 1 ERROR INCORRECT_PASSWORD"}, h.EventStrings(), "the login's password became the account's")

	off := accounttest.New(t, func(c *model.Config) { c.AutoRegister = false })
	off.Login(s1, "newbie", "pw")
	events := off.Events()
	require.Len(t, events, 1)
	require.Equal(t, `{"sessionId":"`+s1.String()+`","accountId":0,"accountName":"","type":"ERROR","body":{"code":"NOT_REGISTERED","reason":0,"until":0,"ipAddress":"10.0.0.7","hwid":""}}`, string(events[0].Raw))
	require.Equal(t, codecs.IDKey(0), events[0].Key)
}

func TestBanIsCheckedAfterThePassword(t *testing.T) {
	h := accounttest.New(t)
	h.Create("bob", "secret")
	h.EventStrings()
	until := h.Now.Add(time.Hour).UnixMilli()
	h.Admin(ingress.AdminBan, 1, ingress.BanBody{Reason: 3, Until: uint64(until)})

	h.Login(s1, "bob", "wrong")
	require.Equal(t, []string{"SESSION 1 ERROR INCORRECT_PASSWORD"}, h.EventStrings(), "no ban is revealed without the password")

	h.Login(s1, "bob", "secret")
	events := h.Events()
	require.Len(t, events, 1)
	body := events[0].Session.Body.(*codecs.AccountSessionStatusEventErrorBody)
	require.Equal(t, model.CodeDeletedOrBlocked, body.Code)
	require.EqualValues(t, 3, body.Reason)
	require.Contains(t, string(events[0].Raw), `"until":`+strconv.FormatInt(until, 10))

	h.Advance(time.Hour)
	h.Login(s1, "bob", "secret")
	require.Contains(t, h.EventStrings(), "STATUS 1 LOGGED_IN bob", "a ban ends at until")
}

func TestPermanentBanAndUnban(t *testing.T) {
	h := accounttest.New(t)
	h.Create("bob", "secret")
	h.Admin(ingress.AdminBan, 1, ingress.BanBody{Reason: 1})
	h.EventStrings()
	h.Advance(24 * 365 * time.Hour)
	h.Login(s1, "bob", "secret")
	require.Equal(t, []string{"SESSION 1 ERROR DELETED_OR_BLOCKED"}, h.EventStrings())
	h.Admin(ingress.AdminUnban, 1, struct{}{})
	h.Login(s1, "bob", "secret")
	require.Contains(t, h.EventStrings(), "STATUS 1 LOGGED_IN bob")
}

func TestLicenseAgreement(t *testing.T) {
	h := accounttest.New(t)
	h.Create("bob", "secret")
	h.Admin(ingress.AdminSetTos, 1, ingress.SetTosBody{Accepted: true})
	h.EventStrings()
	h.Login(s1, "bob", "secret")
	require.Equal(t, []string{"STATUS 1 LOGGED_IN bob", "SESSION 1 CREATED"}, h.EventStrings(), "tos accepted: CREATED")

	jms := accounttest.New(t)
	jms.Tenant.Region = "JMS"
	jms.Create("bob", "secret")
	jms.Login(s1, "bob", "secret")
	events := jms.Events()
	require.Equal(t, "SESSION 1 CREATED", events[len(events)-1].String(), "JMS never asks for the license")
	require.Equal(t, `{"sessionId":"`+s1.String()+`","accountId":1,"accountName":"bob","type":"CREATED","body":{"ipAddress":"10.0.0.7","hwid":""}}`, string(events[len(events)-1].Raw))
}

func TestLicenseRequestHasNullBody(t *testing.T) {
	h := accounttest.New(t)
	h.Create("bob", "secret")
	h.Login(s1, "bob", "secret")
	events := h.Events()
	require.Equal(t, `{"sessionId":"`+s1.String()+`","accountId":1,"accountName":"bob","type":"REQUEST_LICENSE_AGREEMENT","body":null}`, string(events[len(events)-1].Raw))
}

func TestProgressStateErrors(t *testing.T) {
	h := accounttest.New(t)
	h.Progress(s1, 42, channel, 1, `{"characterId":1}`)
	require.Equal(t, []string{"SESSION 0 ERROR NOT_REGISTERED"}, h.EventStrings(), "unknown account")

	h.Create("bob", "secret")
	h.EventStrings()
	h.Progress(s1, 1, channel, 1, `{"characterId":1}`)
	require.Equal(t, []string{"SESSION 1 ERROR SYSTEM_ERROR"}, h.EventStrings(), "account not logged in")

	h.Login(s1, "bob", "secret")
	h.EventStrings()
	for _, c := range []struct {
		name   string
		sid    uuid.UUID
		author string
		state  uint8
	}{
		{"unknown state", s1, login, 3},
		{"INTERNAL cannot log in", s2, model.IssuerInternal, 1},
		{"LOGIN cannot log in while logged in", s2, login, 1},
		{"CHANNEL login without a transition", s2, channel, 1},
		{"transition of an unknown entry", s2, channel, 2},
		{"transition by another issuer", s1, channel, 2},
	} {
		h.Progress(c.sid, 1, c.author, c.state, `{}`)
		require.Equal(t, []string{"SESSION 1 ERROR SYSTEM_ERROR"}, h.EventStrings(), c.name)
		require.EqualValues(t, 1, h.State(1), c.name)
	}
}

func TestProgressStateZeroLogsOut(t *testing.T) {
	h := accounttest.New(t)
	id := loggedIn(t, h)
	h.Progress(s1, id, login, 0, `null`)
	require.Equal(t, []string{"STATUS 1 LOGGED_OUT bob", "SESSION 1 STATE_CHANGED 0"}, h.EventStrings())
	require.EqualValues(t, 0, h.State(id))
}

func TestLogoutOfUnknownAccountOrSessionSaysNothing(t *testing.T) {
	h := accounttest.New(t)
	h.Logout(s1, 99, login)
	require.Empty(t, h.EventStrings())
	id := loggedIn(t, h)
	h.Logout(s2, id, login)
	require.Empty(t, h.EventStrings())
	require.EqualValues(t, 1, h.State(id))
	h.Logout(s1, id, "login")
	require.Equal(t, []string{"STATUS 1 LOGGED_OUT bob"}, h.EventStrings(), "issuers compare upper-cased")
}

// A tracestate header with bytes that are not printable ASCII (not UTF-8 here) neither stops
// a stage nor loses the command: the service drops those members and answers.
func TestBadTraceStateIsDropped(t *testing.T) {
	h := accounttest.New(t)
	h.Produce(atlas.CommandTopicCreateAccount, codecs.IDKey(5), []byte(`{"name":"bob","password":"secret"}`), goka.Headers{
		codecs.HeaderTraceParent: []byte("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
		codecs.HeaderTraceState:  []byte("a=\xff,ok=1"),
	})
	events := h.Events()
	require.Equal(t, []string{"STATUS 1 CREATED bob"}, eventStrings(events))
	require.Equal(t, "ok=1", string(events[0].Headers[codecs.HeaderTraceState]))
	require.Empty(t, h.DeadLetters())
}

// Internal records carry their tenant and trace in their Meta and no headers; the events of
// the same commands carry both as headers.
func TestInternalRecordsCarryNoHeaders(t *testing.T) {
	h := accounttest.New(t)
	internal := map[goka.Stream]*tester.QueueTracker{}
	for _, topic := range []goka.Stream{atlas.AccountNameCommands, atlas.AccountIDRequests, atlas.AccountCommands, atlas.AccountTimerCommands} {
		internal[topic] = h.TT.NewQueueTracker(string(topic))
	}
	id := loggedIn(t, h)
	h.Progress(s1, id, login, 2, `{"ipAddress":"127.0.0.1","port":7576}`)
	for _, e := range h.Events() {
		got, err := codecs.TenantFromHeaders(e.Headers)
		require.NoError(t, err, "event %s", e)
		require.Equal(t, h.Tenant, got)
		require.NotEmpty(t, e.Headers[codecs.HeaderTraceParent])
	}
	seen := 0
	for topic, q := range internal {
		for {
			hdr, _, _, ok := q.NextWithHeaders()
			if !ok {
				break
			}
			seen++
			require.Empty(t, hdr, "a record of %s", topic)
		}
	}
	require.GreaterOrEqual(t, seen, 5, "a creation, a login and a transition pass every internal topic")
}

func TestEventsCarryTenantAndTrace(t *testing.T) {
	h := accounttest.New(t)
	const tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	b := []byte(`{"name":"bob","password":"secret"}`)
	h.Produce(atlas.CommandTopicCreateAccount, codecs.IDKey(5), b, goka.Headers{codecs.HeaderTraceParent: []byte(tp)})
	events := h.Events()
	require.Len(t, events, 1)
	got, err := codecs.TenantFromHeaders(events[0].Headers)
	require.NoError(t, err)
	require.Equal(t, h.Tenant, got)
	tr, err := codecs.ParseTraceParent(string(events[0].Headers[codecs.HeaderTraceParent]))
	require.NoError(t, err)
	require.Equal(t, "4bf92f3577b34da6a3ce929d0e0e4736", tr.TraceIDString(), "the event continues the command's trace")
	require.NotEqual(t, tp, tr.ParentString(), "in a span of its own")

	h.Produce(atlas.CommandTopicCreateAccount, codecs.IDKey(6), []byte(`{"name":"carl","password":"x"}`), nil)
	events = h.Events()
	require.Len(t, events, 1)
	_, err = codecs.ParseTraceParent(string(events[0].Headers[codecs.HeaderTraceParent]))
	require.NoError(t, err, "a command without a trace gets a new one")
}

func TestTenantsAreIsolated(t *testing.T) {
	h := accounttest.New(t)
	a := h.Tenant
	b := a
	b.ID = uuid.MustParse("99999999-2222-4333-8444-555555555555")

	h.Create("bob", "pw-a")
	h.Tenant = b
	h.Create("BOB", "pw-b")
	require.Equal(t, []string{"STATUS 1 CREATED bob", "STATUS 1 CREATED BOB"}, h.EventStrings(), "the same name is two accounts, each with id 1")

	h.Login(s1, "bob", "pw-a")
	require.Equal(t, []string{"SESSION 1 ERROR INCORRECT_PASSWORD"}, h.EventStrings(), "tenant b does not accept tenant a's password")
	h.Login(s1, "bob", "pw-b")
	events := h.Events()
	require.Equal(t, "STATUS 1 LOGGED_IN BOB", events[0].String())
	got, _ := codecs.TenantFromHeaders(events[0].Headers)
	require.Equal(t, b, got)

	h.Tenant = a
	require.EqualValues(t, 0, h.State(1), "tenant a's account 1 is not logged in")
}

func TestBadInputIsDeadLetteredAndProcessingGoesOn(t *testing.T) {
	h := accounttest.New(t)
	sess := func(body string) []byte {
		return []byte(`{"sessionId":"` + s1.String() + `","accountId":0,"author":"LOGIN","type":"CREATE","body":` + body + `}`)
	}
	cases := []struct {
		name    string
		topic   goka.Stream
		value   []byte
		headers goka.Headers
		reason  string
	}{
		{"malformed JSON", atlas.CommandTopicCreateAccount, []byte(`{"name":`), nil, "invalid"},
		{"wrong type", atlas.CommandTopicCreateAccount, []byte(`{"name":7,"password":"x"}`), nil, "invalid"},
		{"unknown session type", atlas.CommandTopicAccountSession, []byte(`{"sessionId":"` + s1.String() + `","accountId":1,"author":"LOGIN","type":"DANCE","body":{}}`), nil, "invalid"},
		{"bad uuid", atlas.CommandTopicAccountSession, []byte(`{"sessionId":"nope","accountId":1,"author":"LOGIN","type":"LOGOUT","body":{}}`), nil, "invalid"},
		{"unknown author", atlas.CommandTopicAccountSession, []byte(`{"sessionId":"` + s1.String() + `","accountId":1,"author":"ROBOT","type":"LOGOUT","body":{}}`), nil, "author"},
		{"no tenant header", atlas.CommandTopicCreateAccount, []byte(`{"name":"x","password":"y"}`), goka.Headers{codecs.HeaderTenantID: nil}, "tenant"},
		{"short tenant header", atlas.CommandTopicCreateAccount, []byte(`{"name":"x","password":"y"}`), goka.Headers{codecs.HeaderTenantID: []byte("abc")}, "tenant"},
		{"73-byte password", atlas.CommandTopicCreateAccount, []byte(`{"name":"x","password":"` + strings.Repeat("p", 73) + `"}`), nil, "password"},
		{"73-byte login password", atlas.CommandTopicAccountSession, sess(`{"accountName":"x","password":"` + strings.Repeat("p", 73) + `","ipAddress":"1.2.3.4"}`), nil, "password"},
		{"empty name", atlas.CommandTopicCreateAccount, []byte(`{"name":"","password":"y"}`), nil, "name"},
		{"65-byte name", atlas.CommandTopicCreateAccount, []byte(`{"name":"` + strings.Repeat("n", 65) + `","password":"y"}`), nil, "name"},
		{"unprintable name", atlas.CommandTopicCreateAccount, []byte(`{"name":"a\u0007b","password":"y"}`), nil, "name"},
		{"bad admin command", atlas.AccountAdminTopic, []byte(`{"type":"NUKE","accountId":1}`), nil, "NUKE"},
		{"400 KB of params", atlas.CommandTopicAccountSession, []byte(`{"sessionId":"3f2a1c9e-7b1d-4c2a-9e55-0a1b2c3d4e5f","accountId":1,"author":"LOGIN","type":"PROGRESS_STATE","body":{"state":2,"params":"` + strings.Repeat("x", 400<<10) + `"}}`), nil, "params of"},
		{"a 1 KB ipAddress", atlas.CommandTopicAccountSession, sess(`{"accountName":"x","password":"y","ipAddress":"` + strings.Repeat("1", 1024) + `"}`), nil, "ipAddress"},
	}
	for _, c := range cases {
		h.Produce(c.topic, "k", c.value, c.headers)
		dl := h.DeadLetters()
		require.Len(t, dl, 1, c.name)
		require.Equal(t, string(c.topic), dl[0].Topic, c.name)
		require.Contains(t, dl[0].Reason, c.reason, c.name)
		require.NotContains(t, dl[0].Reason, strings.Repeat("p", 73), "%s: the reason never quotes a password", c.name)
		require.Empty(t, h.EventStrings(), c.name)
	}
	h.Create("bob", "secret")
	require.Equal(t, []string{"STATUS 1 CREATED bob"}, h.EventStrings(), "the processor goes on")
}

// Name uniqueness folds compatibility forms and case (NFKC + full case folding); a name of
// characters outside the allowed set, or sent as invalid UTF-8, is refused, not replaced.
func TestNamesFoldAndCharset(t *testing.T) {
	t.Run("ascii, the default", func(t *testing.T) {
		h := accounttest.New(t)
		h.Create("bob", "secret")
		require.Equal(t, []string{"STATUS 1 CREATED bob"}, h.EventStrings())
		for _, c := range []struct{ name, raw string }{
			{"fullwidth", `{"name":"ｂｏｂ","password":"x"}`},
			{"Cyrillic look-alike", `{"name":"b\u043eb","password":"x"}`},
			{"combining mark", `{"name":"bo\u0301b","password":"x"}`},
			{"dotless i", `{"name":"b\u0131b","password":"x"}`},
			{"sharp s", `{"name":"stra\u00dfe","password":"x"}`},
			{"invalid UTF-8", "{\"name\":\"b\xffb\",\"password\":\"x\"}"},
			{"a lone surrogate (decoded as U+FFFD)", `{"name":"b\udc00b","password":"x"}`},
		} {
			h.Produce(atlas.CommandTopicCreateAccount, "k", []byte(c.raw), nil)
			dl := h.DeadLetters()
			require.Len(t, dl, 1, c.name)
			require.Empty(t, h.EventStrings(), c.name)
		}
	})
	t.Run("unicode", func(t *testing.T) {
		h := accounttest.New(t, func(c *model.Config) { c.NameCharset = model.NameCharsetUnicode })
		h.Create("Straße", "secret")
		h.Create("Café", "secret")
		require.Equal(t, []string{"STATUS 1 CREATED Straße", "STATUS 2 CREATED Café"}, h.EventStrings())
		for _, same := range []string{"STRASSE", "ｓｔｒａｓｓｅ", "CAFE\u0301", "café"} {
			h.Create(same, "other")
			require.Empty(t, h.EventStrings(), "%q is the same name", same)
		}
		h.Create("b\u043eb", "x") // Cyrillic о: another script, another name
		require.Equal(t, []string{"STATUS 3 CREATED b\u043eb"}, h.EventStrings())
		h.Produce(atlas.CommandTopicCreateAccount, "k", []byte(`{"name":"bob\u2603","password":"x"}`), nil)
		require.Len(t, h.DeadLetters(), 1, "a symbol is not a name character")
	})
}

// timerAdds counts the wake-ups the accounts stage asked the timers stage for since the last
// call (the harness's own ticks on that topic are not adds).
func timerAdds(t *testing.T, tr *tester.QueueTracker) int {
	n := 0
	for {
		_, v, ok := tr.Next()
		if !ok {
			return n
		}
		cmd := new(accountpb.TimerCommand)
		require.NoError(t, proto.Unmarshal(v.([]byte), cmd))
		if cmd.GetAdd() != nil {
			n++
		}
	}
}

// A player changing channels several times within one timer slot costs one timer record, not
// one per change: the slot's tick expires every transition of the account due by then. A
// transition due in a later slot gets a record of its own, and every transition still
// expires on time.
func TestOneTimerRecordPerSlotAndAccount(t *testing.T) {
	h := accounttest.New(t)
	adds := h.TT.NewQueueTracker(string(atlas.AccountTimerCommands))
	id := loggedIn(t, h)
	h.Advance(300 * time.Millisecond) // away from a slot's edge
	// Three channel changes within 200 ms (one slot of 1 s): s1 -> s2 -> s1, ending in transition.
	h.Progress(s1, id, login, 2, `{}`)
	h.Advance(100 * time.Millisecond)
	h.Progress(s2, id, channel, 1, `{"characterId":1}`)
	h.Progress(s2, id, channel, 2, `{}`)
	h.Advance(100 * time.Millisecond)
	h.Progress(s1, id, channel, 1, `{"characterId":1}`)
	h.Progress(s1, id, channel, 2, `{}`)
	h.EventStrings()
	require.Equal(t, 1, timerAdds(t, adds), "three transitions in one slot, one timer record")

	// The slot's tick expires the last transition, whose deadline is in that same slot.
	h.Advance(h.Config.TransitionTimeout + h.Config.TickInterval)
	h.Tick()
	require.Equal(t, []string{"STATUS 1 LOGGED_OUT bob"}, h.EventStrings())
	require.EqualValues(t, 0, h.State(id))
}

// A transition due in another slot never relies on an earlier record: if that one is lost
// (its slot never ticked), the later transition still expires.
func TestALostTimerRecordStrandsNoLaterTransition(t *testing.T) {
	h := accounttest.New(t)
	adds := h.TT.NewQueueTracker(string(atlas.AccountTimerCommands))
	id := loggedIn(t, h)
	h.Progress(s1, id, login, 2, `{}`)
	h.Progress(s2, id, channel, 1, `{"characterId":1}`)
	h.Advance(2 * time.Second)
	h.Progress(s2, id, channel, 2, `{}`) // due two slots later than the first
	require.Equal(t, 2, timerAdds(t, adds), "a record for each slot")
	h.EventStrings()
	// The first record's slot is never ticked (lost); the second's is.
	h.Advance(h.Config.TransitionTimeout - time.Second)
	h.SkipTicks()
	h.Advance(2 * time.Second)
	h.Tick()
	require.Equal(t, []string{"STATUS 1 LOGGED_OUT bob"}, h.EventStrings())
}

// Once an expiry for the slot has come, a transition computed for that slot again (a command
// with an older timestamp) gets a record of its own, which the timers stage moves to its next
// slot: it expires.
func TestATransitionForAnAlreadyTickedSlotStillExpires(t *testing.T) {
	h := accounttest.New(t)
	adds := h.TT.NewQueueTracker(string(atlas.AccountTimerCommands))
	id := loggedIn(t, h)
	h.Progress(s1, id, login, 2, `{}`)
	h.EventStrings()
	first := h.Now
	h.Advance(h.Config.TransitionTimeout + h.Config.TickInterval)
	h.Tick()
	require.Equal(t, []string{"STATUS 1 LOGGED_OUT bob"}, h.EventStrings())
	require.Zero(t, h.Account(id).WakeSlot, "the ticked slot is forgotten")
	h.Login(s2, "bob", "secret")
	h.EventStrings()
	timerAdds(t, adds)
	// A transition stamped at the first one's time: its slot was ticked already.
	h.ProgressAt(first, s2, id, login, 2, `{}`)
	require.Equal(t, []string{"SESSION 1 STATE_CHANGED 2"}, h.EventStrings())
	require.Equal(t, 2, timerAdds(t, adds), "its own record (the slot it computed was ticked), which the timers stage moves to the next slot")
	h.Advance(2 * h.Config.TickInterval)
	h.Tick()
	require.Equal(t, []string{"STATUS 1 LOGGED_OUT bob"}, h.EventStrings())
}

// tickForTenMinutes lets ten minutes pass with every slot ticked, and no command.
func tickForTenMinutes(h *accounttest.Harness) {
	for range 60 {
		h.Advance(10 * time.Second)
		h.Tick()
	}
}

// Two deadlines of one account in one timer row (a channel server's clock 0.7 s behind): the
// row's tick expires the due transitions, and a transition begun later still gets its own
// record and expires, with no further command.
func TestTwoDeadlinesInOneRowLeaveNoLaterTransitionStranded(t *testing.T) {
	h := accounttest.New(t)
	id := loggedIn(t, h)
	t0 := h.Now
	h.Now = t0.Add(10 * time.Second)
	h.Progress(s1, id, login, 2, `{}`)
	h.Now = t0.Add(10300 * time.Millisecond)
	h.Progress(s2, id, channel, 1, `{"characterId":1}`)
	h.Now = t0.Add(9600 * time.Millisecond)
	h.Progress(s2, id, channel, 2, `{}`)
	h.EventStrings()
	h.Now = t0.Add(15500 * time.Millisecond)
	h.Tick()
	require.Equal(t, []string{"STATUS 1 LOGGED_OUT bob"}, h.EventStrings())

	// Back within 30 s, then stuck in a transition (the client crashed): no more commands.
	h.Now = t0.Add(20 * time.Second)
	h.Login(s3, "bob", "secret")
	h.Now = t0.Add(21 * time.Second)
	h.Progress(s3, id, login, 2, `{}`)
	h.EventStrings()
	tickForTenMinutes(h)
	require.EqualValues(t, 0, h.State(id), "the transition expired without another command")
}

// A restart with another slot length: records of the old numbering are never ticked by the
// new ticker, so a transition after the restart must not count on them.
func TestATickIntervalChangeStrandsNoTransition(t *testing.T) {
	h := accounttest.New(t)
	id := loggedIn(t, h)
	h.Progress(s1, id, login, 2, `{}`)
	h.EventStrings()
	key := model.AccountKey(h.Tenant, id)
	acc := h.Account(id)
	rowKey := model.TimerRowKey(acc.WakeSlot, model.TimerShard(key, h.Config.TimerShards))
	row := h.TT.TableValue(atlas.AccountTimersTable, rowKey)
	require.NotNil(t, row)

	// The same tables under TickInterval 2 s.
	h2 := accounttest.New(t, func(c *model.Config) { c.TickInterval = 2 * time.Second })
	h2.Now, h2.Tenant = h.Now, h.Tenant
	acc.Dedupe = nil // the new tester starts its topics at offset 0: forget the old watermarks
	h2.TT.SetTableValue(atlas.AccountsTable, key, acc)
	h2.TT.SetTableValue(atlas.AccountTimersTable, rowKey, row)
	h2.SkipTicks()
	h2.Advance(time.Second)
	h2.Progress(s2, id, channel, 1, `{"characterId":1}`)
	h2.Advance(time.Second)
	h2.Progress(s2, id, channel, 2, `{}`)
	h2.EventStrings()
	tickForTenMinutes(h2)
	require.EqualValues(t, 0, h2.State(id), "the transition after the restart expired")
}

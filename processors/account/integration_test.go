package account_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/atlasstreams/atlas"
	"github.com/atlasstreams/atlas/codecs"
	"github.com/atlasstreams/atlas/processors/account"
	"github.com/atlasstreams/atlas/processors/account/model"
	"github.com/atlasstreams/atlas/processors/account/seal"
	"github.com/atlasstreams/atlas/processors/runtime/kafkatest"
	"github.com/google/uuid"
	"github.com/lovoo/goka"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"
)

// instance is one running copy of every account group.
type instance struct {
	cancel  context.CancelFunc
	running *account.Running
}

func startInstance(t *testing.T, svc account.Service) *instance {
	ctx, cancel := context.WithCancel(context.Background())
	r, err := svc.Start(ctx)
	require.NoError(t, err)
	in := &instance{cancel: cancel, running: r}
	t.Cleanup(in.stop)
	return in
}

func (in *instance) stop() {
	in.cancel()
	<-in.running.Done()
}

// accountEvents groups the public events of each account by tenant, collapsing exact
// redeliveries: the same value with the same traceparent is one event emitted twice.
type accountEvents map[string][]string

func collect(t *testing.T, recs []kafkatest.Record) accountEvents {
	out := accountEvents{}
	seen := map[string]bool{}
	for _, r := range recs {
		id := r.Topic + string(r.Value) + string(r.Headers[codecs.HeaderTraceParent])
		if seen[id] {
			continue
		}
		seen[id] = true
		tenant, err := r.Tenant()
		require.NoError(t, err, "every event carries its tenant")
		var line string
		var accountID uint32
		switch r.Topic {
		case string(atlas.EventTopicAccountStatus):
			e, err := codecs.DecodeAccountStatusEvent(r.Value)
			require.NoError(t, err)
			accountID, line = e.AccountID, e.Status
		default:
			e, err := codecs.DecodeAccountSessionStatusEvent(r.Value)
			require.NoError(t, err)
			accountID, line = e.AccountID, e.Type
			if b, ok := e.Body.(*codecs.AccountSessionStatusEventStateChangedBody); ok {
				line = fmt.Sprintf("%s %d", e.Type, b.State)
			}
		}
		keyID, err := codecs.ParseIDKey(r.Key)
		require.NoError(t, err)
		require.Equal(t, accountID, keyID, "events are keyed by account id")
		k := fmt.Sprintf("%s/%d", tenant.ID, accountID)
		out[k] = append(out[k], strings.TrimPrefix(r.Topic, atlas.NamePrefix+"EVENT_TOPIC_")+" "+line)
	}
	return out
}

// count is how many accounts have exactly want among their events, in order within each
// topic (the two topics are not ordered with respect to each other).
func (ae accountEvents) count(want []string) int {
	n := 0
	w := byTopic(want)
	for _, got := range ae {
		if byTopic(got) == w {
			n++
		}
	}
	return n
}

func byTopic(lines []string) string {
	sorted := append([]string(nil), lines...)
	sort.SliceStable(sorted, func(i, j int) bool {
		return strings.SplitN(sorted[i], " ", 2)[0] < strings.SplitN(sorted[j], " ", 2)[0]
	})
	return fmt.Sprint(sorted)
}

// Two instances of every group on 8 partitions serve 200 accounts of two tenants through
// create, LOGIN login, transition and CHANNEL login; an instance restarted with empty local
// storage recovers the tables, so the final logouts still find every session.
//
// It runs once per contract era: in the current one accounts are created on
// COMMAND_TOPIC_ACCOUNT, logins carry a hwid, and every answer names its account.
func TestAccountServiceOnKafka(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test")
	}
	for _, era := range []string{codecs.EraSeed, codecs.EraCurrent} {
		t.Run(era, func(t *testing.T) {
			t.Parallel() // each era on a broker of its own; on a real one, kafkatest takes turns
			accountServiceOnKafka(t, era)
		})
	}
}

func accountServiceOnKafka(t *testing.T, era string) {
	const accounts = 200
	opts := kafkatest.Broker(t, 8)
	opts.Contracts = era
	_, err := opts.EnsureTopics(account.Topics(opts))
	require.NoError(t, err)

	cfg := model.DefaultConfig()
	cfg.BcryptCost = bcrypt.MinCost
	sealer, err := seal.New(seal.RandomKey())
	require.NoError(t, err)
	svc := account.Service{Options: opts, Config: cfg, Passwords: model.Passwords{Cost: cfg.BcryptCost, Sealer: sealer}}
	a := startInstance(t, svc)
	b := startInstance(t, svc)
	require.Eventually(t, func() bool { return a.running.Ready() && b.running.Ready() }, 60*time.Second, 20*time.Millisecond)

	events := kafkatest.Consume(t, opts, string(atlas.EventTopicAccountStatus), string(atlas.EventTopicAccountSessionStatus))
	prod := kafkatest.NewProducer(t, opts)
	tenants := []codecs.Tenant{
		{ID: uuid.MustParse("aaaaaaaa-0000-4000-8000-000000000001"), Region: "GMS", Major: 83, Minor: 1},
		{ID: uuid.MustParse("bbbbbbbb-0000-4000-8000-000000000002"), Region: "GMS", Major: 83, Minor: 1},
	}
	type acct struct {
		tenant         codecs.Tenant
		name           string
		id             uint32
		login, channel uuid.UUID
	}
	all := make([]*acct, accounts)
	for i := range all {
		all[i] = &acct{tenant: tenants[i%2], name: fmt.Sprintf("player%03d", i), login: uuid.New(), channel: uuid.New()}
	}
	send := func(topic goka.Stream, tenant codecs.Tenant, key uint32, v any) {
		raw, err := json.Marshal(v)
		require.NoError(t, err)
		prod.ProduceAsync(string(topic), []byte(codecs.IDKey(key)), raw, tenant.Headers())
	}
	session := func(a *acct, sid uuid.UUID, author, typ string, body any) {
		send(atlas.CommandTopicAccountSession, a.tenant, a.id, &codecs.AccountSessionCommand{
			SessionID: sid, AccountID: a.id, Author: author, Type: typ, Body: body})
	}
	// waitPhase waits until every account's events are exactly want.
	waitPhase := func(want ...string) {
		prod.Flush()
		events.WaitFor(t, 120*time.Second, func(recs []kafkatest.Record) bool {
			return collect(t, recs).count(want) == accounts
		}, func(recs []kafkatest.Record) string {
			return fmt.Sprintf("%d of %d accounts have %v; %s", collect(t, recs).count(want), accounts, want, kafkatest.Describe(recs))
		})
	}

	for _, a := range all {
		if era == codecs.EraCurrent {
			send(atlas.CommandTopicAccount, a.tenant, uint32(len(a.name)), &codecs.AccountCommand{Type: codecs.AccountCommandTypeCreate,
				Body: &codecs.AccountCommandCreateBody{Name: a.name, Password: "pw-" + a.name}})
			continue
		}
		send(atlas.CommandTopicCreateAccount, a.tenant, uint32(len(a.name)), &codecs.CreateAccountCommand{Name: a.name, Password: "pw-" + a.name})
	}
	phase := []string{"ACCOUNT_STATUS CREATED"}
	waitPhase(phase...)
	ids := map[string]uint32{}
	for _, r := range events.Records() {
		e, err := codecs.DecodeAccountStatusEvent(r.Value)
		if err == nil && e.Status == codecs.AccountStatusEventStatusCreated {
			tenant, _ := r.Tenant()
			ids[tenant.ID.String()+e.Name] = e.AccountID
		}
	}
	perTenant := map[string]map[uint32]bool{}
	for _, a := range all {
		a.id = ids[a.tenant.ID.String()+a.name]
		require.NotZero(t, a.id, a.name)
		if perTenant[a.tenant.ID.String()] == nil {
			perTenant[a.tenant.ID.String()] = map[uint32]bool{}
		}
		require.False(t, perTenant[a.tenant.ID.String()][a.id], "ids are unique per tenant")
		perTenant[a.tenant.ID.String()][a.id] = true
		require.LessOrEqual(t, a.id, uint32(accounts/2), "ids count from 1 in each tenant")
	}

	// Login through the login server: keyed by account id 0, as upstream does.
	for _, a := range all {
		body := &codecs.AccountSessionCommandCreateBody{AccountName: a.name, Password: "pw-" + a.name, IPAddress: "10.0.0.1"}
		if era == codecs.EraCurrent {
			hwid := "hw-" + a.name
			body.Hwid = &hwid
		}
		send(atlas.CommandTopicAccountSession, a.tenant, 0, &codecs.AccountSessionCommand{
			SessionID: a.login, Author: model.IssuerLogin, Type: codecs.AccountSessionCommandTypeCreate, Body: body})
	}
	phase = append(phase, "ACCOUNT_STATUS LOGGED_IN", "ACCOUNT_SESSION_STATUS REQUEST_LICENSE_AGREEMENT")
	waitPhase(phase...)

	for _, a := range all {
		session(a, a.login, model.IssuerLogin, codecs.AccountSessionCommandTypeProgressState,
			&codecs.AccountSessionCommandProgressStateBody{State: 2, Params: json.RawMessage(`{"ipAddress":"10.0.0.2","port":7575,"characterId":1}`)})
	}
	phase = append(phase, "ACCOUNT_SESSION_STATUS STATE_CHANGED 2")
	waitPhase(phase...)

	for _, a := range all {
		session(a, a.channel, model.IssuerChannel, codecs.AccountSessionCommandTypeProgressState,
			&codecs.AccountSessionCommandProgressStateBody{State: 1, Params: json.RawMessage(`{"characterId":1}`)})
	}
	phase = append(phase, "ACCOUNT_STATUS LOGGED_IN", "ACCOUNT_SESSION_STATUS STATE_CHANGED 1")
	waitPhase(phase...)

	// Restart one instance with empty local storage: it must recover its share of every table.
	b.stop()
	b = startInstance(t, svc)
	require.Eventually(t, func() bool { return a.running.Ready() && b.running.Ready() }, 90*time.Second, 20*time.Millisecond)

	for _, a := range all {
		session(a, a.channel, model.IssuerChannel, codecs.AccountSessionCommandTypeLogout, &codecs.AccountSessionCommandLogoutBody{})
	}
	phase = append(phase, "ACCOUNT_STATUS LOGGED_OUT")
	waitPhase(phase...)
	for _, r := range events.Records() {
		if r.Topic == string(atlas.EventTopicAccountSessionStatus) {
			e, err := codecs.DecodeAccountSessionStatusEvent(r.Value)
			require.NoError(t, err)
			require.NotNil(t, e.AccountName)
			require.True(t, strings.HasPrefix(*e.AccountName, "player"), "every answer names its account: %s", r.Value)
		}
	}
}

package account_test

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/IBM/sarama"
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

// On a broker (kfake, or real Kafka in the real-Kafka lane) whose session status topic
// allows 2 KiB records, a PROGRESS_STATE whose STATE_CHANGED would be larger is answered
// SYSTEM_ERROR exactly once, an undecodable command larger than the dead-letter topic allows
// is dead-lettered cut to fit, and the groups go on. Before the service learned the limit, the
// broker's refusal stopped the accounts group, which restarted into the same command.
func TestOversizedRecordsOnKafka(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test")
	}
	opts := kafkatest.Broker(t, 2)
	admin, err := sarama.NewClusterAdmin(opts.Brokers, opts.Sarama(sarama.OffsetOldest))
	require.NoError(t, err)
	limit := strconv.Itoa(testLimit)
	for _, topic := range []string{string(atlas.EventTopicAccountSessionStatus), string(atlas.DeadLetterTopic)} {
		require.NoError(t, admin.CreateTopic(topic, &sarama.TopicDetail{NumPartitions: 2, ReplicationFactor: int16(opts.Replication),
			ConfigEntries: map[string]*string{"max.message.bytes": &limit}}, false))
	}
	require.NoError(t, admin.Close())
	_, err = opts.EnsureTopics(account.Topics(opts))
	require.NoError(t, err)

	cfg := model.DefaultConfig()
	cfg.BcryptCost = bcrypt.MinCost
	sealer, err := seal.New(seal.RandomKey())
	require.NoError(t, err)
	in := startInstance(t, account.Service{Options: opts, Config: cfg, Passwords: model.Passwords{Cost: cfg.BcryptCost, Sealer: sealer}})
	require.Eventually(t, in.running.Ready, 60*time.Second, 20*time.Millisecond)

	events := kafkatest.Consume(t, opts, string(atlas.EventTopicAccountStatus), string(atlas.EventTopicAccountSessionStatus), string(atlas.DeadLetterTopic))
	prod := kafkatest.NewProducer(t, opts)
	tenant := codecs.Tenant{ID: uuid.New(), Region: "GMS", Major: 83, Minor: 1}
	send := func(topic goka.Stream, key uint32, v any) {
		raw, err := json.Marshal(v)
		require.NoError(t, err)
		prod.Produce(string(topic), []byte(codecs.IDKey(key)), raw, tenant.Headers())
	}
	waitFor := func(what string, match func(kafkatest.Record) bool) kafkatest.Record {
		var found kafkatest.Record
		events.WaitFor(t, 60*time.Second, func(recs []kafkatest.Record) bool {
			for _, r := range recs {
				if match(r) {
					found = r
					return true
				}
			}
			return false
		}, func(recs []kafkatest.Record) string { return what + " missing; " + kafkatest.Describe(recs) })
		return found
	}
	sessionEvent := func(typ string, state int) func(kafkatest.Record) bool {
		return func(r kafkatest.Record) bool {
			if r.Topic != string(atlas.EventTopicAccountSessionStatus) {
				return false
			}
			e, err := codecs.DecodeAccountSessionStatusEvent(r.Value)
			if err != nil || e.Type != typ {
				return false
			}
			b, ok := e.Body.(*codecs.AccountSessionStatusEventStateChangedBody)
			return state < 0 || ok && int(b.State) == state
		}
	}

	send(atlas.CommandTopicCreateAccount, 3, &codecs.CreateAccountCommand{Name: "big", Password: "pw"})
	created := waitFor("CREATED", func(r kafkatest.Record) bool { return strings.Contains(string(r.Value), `"CREATED"`) })
	e, err := codecs.DecodeAccountStatusEvent(created.Value)
	require.NoError(t, err)
	sid := uuid.New()
	send(atlas.CommandTopicAccountSession, 0, &codecs.AccountSessionCommand{SessionID: sid, Author: model.IssuerLogin,
		Type: codecs.AccountSessionCommandTypeCreate, Body: &codecs.AccountSessionCommandCreateBody{AccountName: "big", Password: "pw", IPAddress: "10.0.0.1"}})
	waitFor("REQUEST_LICENSE_AGREEMENT", sessionEvent(codecs.AccountSessionStatusEventTypeRequestLicenseAgreement, -1))

	progress := func(params string) {
		send(atlas.CommandTopicAccountSession, e.AccountID, &codecs.AccountSessionCommand{SessionID: sid, AccountID: e.AccountID, Author: model.IssuerLogin,
			Type: codecs.AccountSessionCommandTypeProgressState, Body: &codecs.AccountSessionCommandProgressStateBody{State: 2, Params: json.RawMessage(params)}})
	}
	progress(bigParams)
	prod.Produce(string(atlas.CommandTopicCreateAccount), []byte("k"), []byte(`{"name":`+strings.Repeat("9", 3000)), tenant.Headers())
	progress(`{"ok":true}`)
	waitFor("STATE_CHANGED 2 after the refused command", sessionEvent(codecs.AccountSessionStatusEventTypeStateChanged, 2))
	dl := waitFor("the cut dead letter", func(r kafkatest.Record) bool { return r.Topic == string(atlas.DeadLetterTopic) })
	require.Equal(t, "3008", string(dl.Headers[codecs.HeaderDLQOriginalLength]))

	errs := 0
	for _, r := range events.Records() {
		if sessionEvent(codecs.AccountSessionStatusEventTypeError, -1)(r) {
			errs++
			require.Contains(t, string(r.Value), model.CodeSystemError)
		}
	}
	require.Equal(t, 1, errs, "one SYSTEM_ERROR answer: %s", fmt.Sprint(kafkatest.Describe(events.Records())))
}

package commands_test

import (
	"encoding/json"
	"strings"
	"sync"
	"testing"

	"github.com/atlasstreams/atlas/codecs"
	"github.com/atlasstreams/atlas/processors/channel/channeltest"
	"github.com/atlasstreams/atlas/processors/channel/commands"
	"github.com/google/uuid"
	"github.com/lovoo/goka"
	"github.com/stretchr/testify/require"
)

// withKey builds a zero message of a topic's type whose key field holds id: the JSON path is
// created as nested objects, and the catalog's decoder fills in the rest.
func withKey(t *testing.T, cat *codecs.CatalogTopic, typ, keyField string, id uint32) any {
	t.Helper()
	top := map[string]any{}
	if cat.Discriminator != "" {
		top[cat.Discriminator] = typ
	}
	cur := top
	parts := strings.Split(keyField, ".")
	for _, p := range parts[:len(parts)-1] {
		next := map[string]any{}
		cur[p] = next
		cur = next
	}
	cur[parts[len(parts)-1]] = id
	raw, err := json.Marshal(top)
	require.NoError(t, err)
	msg, err := cat.Decode(raw)
	require.NoError(t, err, "%s %s", cat.Name, typ)
	return msg
}

// Every type the channel produces is keyed by its catalog key field, in the 8-byte form, and
// carries the tenant and trace headers.
func TestEveryProducedTypeIsKeyedAsTheCatalogSays(t *testing.T) {
	tr := codecs.NewTrace()
	n := 0
	for _, name := range commands.Produced(codecs.EraSeed) {
		cat, _ := codecs.LookupCatalogTopic(name)
		types := cat.Types
		if cat.Discriminator == "" {
			types = []codecs.CatalogType{{KeyField: cat.KeyField}}
		}
		for _, ct := range types {
			if cat.Discriminator != "" && !ct.Produced(codecs.EraSeed) || ct.KeyField == "" {
				continue
			}
			rec, err := commands.Encode(codecs.EraSeed, channeltest.Tenant, withKey(t, cat, ct.Value, ct.KeyField, 0x01020304), tr)
			require.NoError(t, err, "%s %s", name, ct.Value)
			require.Equal(t, "\x04\x03\x02\x01\x00\x00\x00\x00", rec.Key, "%s %s keyed by %s", name, ct.Value, ct.KeyField)
			require.Equal(t, name, rec.Catalog)
			require.Equal(t, ct.Value, rec.Type)
			got, err := codecs.TenantFromHeaders(rec.Headers)
			require.NoError(t, err)
			require.Equal(t, channeltest.Tenant, got)
			require.Equal(t, tr.ParentString(), string(rec.Headers[codecs.HeaderTraceParent]))
			n++
		}
	}
	require.GreaterOrEqual(t, n, 90, "every produced type was checked")
	require.Len(t, commands.Produced(codecs.EraSeed), 37, "36 command topics and the session status topic")
}

// The two keys that are not a field.
func TestKeysThatAreNotFields(t *testing.T) {
	rec, err := commands.Encode(codecs.EraSeed, channeltest.Tenant, &codecs.ChannelStatusCommand{Type: codecs.ChannelStatusCommandTypeHeartbeat, ChannelID: 1}, codecs.Trace{})
	require.NoError(t, err)
	require.Equal(t, channeltest.Tenant.ID.String(), rec.Key, "keyed by the tenant id's text")
	require.Equal(t, `{"worldId":0,"channelId":1,"ipAddress":"","port":0,"currentCapacity":0,"maxCapacity":0,"type":"HEARTBEAT"}`, string(rec.Value))
	_, hasTrace := rec.Headers[codecs.HeaderTraceParent]
	require.False(t, hasTrace, "no trace, no traceparent")

	saga, err := codecs.DecodeSagaCommand([]byte(`{"transactionId":"9e0f1a2b-3c4d-4e5f-8a6b-7c8d9e0f1a2b","sagaType":"inventory_transaction","initiatedBy":"STORAGE","steps":[]}`))
	require.NoError(t, err)
	rec, err = commands.Encode(codecs.EraSeed, channeltest.Tenant, saga, codecs.NewTrace())
	require.NoError(t, err)
	require.Equal(t, "\x2b\x1a\x0f\x9e\x00\x00\x00\x00", rec.Key, "first four uuid bytes big-endian, written little-endian")
}

func TestRefusesWhatTheChannelDoesNotProduce(t *testing.T) {
	for _, msg := range []any{
		&codecs.CreateAccountCommand{Name: "bob"},                                          // the account service's input
		&codecs.AccountSessionStatusEvent{Type: codecs.AccountSessionStatusEventTypeError}, // the account service's output
		&codecs.ChannelStatusCommand{Type: "BOGUS"},
		struct{ X int }{1},
		nil,
	} {
		_, err := commands.Encode(codecs.EraSeed, channeltest.Tenant, msg, codecs.Trace{})
		require.Error(t, err, "%T", msg)
	}
	_, err := commands.For[codecs.CreateAccountCommand](commands.New(nil, channeltest.Tenant, "g", codecs.EraSeed))
	require.ErrorIs(t, err, commands.ErrNotProduced)
}

// producer records what it is given; the test decides when the broker answers.
type producer struct {
	mu      sync.Mutex
	recs    []string
	pending []goka.PromiseFinisher
}

func (p *producer) EmitWithHeaders(topic, key string, value []byte, _ goka.Headers) *goka.Promise {
	prom, finish := goka.NewPromiseWithFinisher()
	p.mu.Lock()
	defer p.mu.Unlock()
	p.recs = append(p.recs, topic+" "+string(value))
	p.pending = append(p.pending, finish)
	return prom
}

func (p *producer) ackAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, f := range p.pending {
		f(nil, nil)
	}
	p.pending = nil
}

// Close waits for the broker's answers, and nothing is sent after it.
func TestEmitterCloseWaitsForAcknowledgements(t *testing.T) {
	p := &producer{}
	e := commands.New(p, channeltest.Tenant, "g", codecs.EraSeed)
	chat, err := commands.For[codecs.CharacterChatCommand](e)
	require.NoError(t, err)
	require.NoError(t, chat.Send(&codecs.CharacterChatCommand{ActorID: 42, Message: "hi", Type: codecs.CharacterChatCommandTypeGeneral,
		Body: &codecs.CharacterChatCommandGeneralBody{}}, codecs.NewTrace()))
	require.Equal(t, []string{`COMMAND_TOPIC_CHARACTER_CHAT {"worldId":0,"channelId":0,"mapId":0,"actorId":42,"message":"hi","type":"GENERAL","body":{"balloonOnly":false}}`}, p.recs)

	closed := make(chan struct{})
	go func() { e.Close(); close(closed) }()
	select {
	case <-closed:
		t.Fatal("Close returned before the message was acknowledged")
	default:
	}
	p.ackAll()
	<-closed
	require.ErrorIs(t, e.Send(&codecs.SessionStatusEvent{Type: codecs.SessionStatusEventTypeCreated, SessionID: uuid.New()}, codecs.Trace{}), commands.ErrClosed)
}

// In the current era every type the channel produces carries every key current upstream
// always writes, even when the message leaves them unset; in the seed era none of the keys
// only later producers write.
func TestCurrentEraWritesTheCurrentKeys(t *testing.T) {
	checked := 0
	for _, name := range commands.Produced(codecs.EraCurrent) {
		cat, _ := codecs.LookupCatalogTopic(name)
		types := cat.Types
		if cat.Discriminator == "" {
			types = []codecs.CatalogType{{KeyField: cat.KeyField, CurrentKeys: cat.CurrentKeys}}
		}
		for _, ct := range types {
			if len(ct.CurrentKeys) == 0 || ct.KeyField == "" || cat.Discriminator != "" && !ct.Produced(codecs.EraCurrent) {
				continue
			}
			for _, era := range []string{codecs.EraCurrent, codecs.EraSeed} {
				if era == codecs.EraSeed && (!cat.InEra(era) || cat.Discriminator != "" && !ct.Produced(era)) {
					continue
				}
				rec, err := commands.Encode(era, channeltest.Tenant, withKey(t, cat, ct.Value, ct.KeyField, 7), codecs.Trace{})
				require.NoError(t, err, "%s %s", name, ct.Value)
				var top map[string]json.RawMessage
				require.NoError(t, json.Unmarshal(rec.Value, &top))
				var body map[string]json.RawMessage
				_ = json.Unmarshal(top["body"], &body)
				for _, k := range ct.CurrentKeys {
					src, key := top, k
					if b, inBody := strings.CutPrefix(k, "body."); inBody {
						src, key = body, b
					}
					_, has := src[key]
					require.Equal(t, era == codecs.EraCurrent, has, "%s %s in the %s era: key %s in %s", name, ct.Value, era, k, rec.Value)
				}
			}
			checked++
		}
	}
	require.NotZero(t, checked)
}

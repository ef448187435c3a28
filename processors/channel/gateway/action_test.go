package gateway

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/atlasstreams/atlas/codecs"
	"github.com/atlasstreams/atlas/processors/channel/channeltest"
	"github.com/atlasstreams/atlas/processors/channel/protocol"
	"github.com/atlasstreams/atlas/processors/channel/sessions"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
)

var player = sessions.Session{
	ID: uuid.New(), AccountID: 7, CharacterID: 42, State: sessions.Active,
	Field: sessions.Field{World: 3, Channel: 2, Map: 100000000},
}

func frame(t *testing.T, text string) protocol.ClientFrame {
	t.Helper()
	f, err := protocol.ParseClientFrame([]byte(text))
	require.NoError(t, err)
	return f
}

// The session fills identity and location; the client cannot speak for anyone else; optional
// fields stay out; the bytes are the catalog's.
func TestBuildCommand(t *testing.T) {
	for _, c := range []struct{ name, frame, want string }{
		{"map chat", `{"op":"action","topic":"COMMAND_TOPIC_CHARACTER_CHAT","type":"GENERAL","body":{"balloonOnly":true},"fields":{"message":"hello","actorId":99,"worldId":9}}`,
			`{"worldId":3,"channelId":2,"mapId":100000000,"actorId":42,"message":"hello","type":"GENERAL","body":{"balloonOnly":true}}`},
		{"a pet speaks: actorId is the pet's", `{"op":"action","topic":"COMMAND_TOPIC_CHARACTER_CHAT","type":"PET","body":{"ownerId":42,"petSlot":0,"type":1,"action":2,"balloon":false},"fields":{"actorId":5000001,"message":"woof"}}`,
			`{"worldId":3,"channelId":2,"mapId":100000000,"actorId":5000001,"message":"woof","type":"PET","body":{"ownerId":42,"petSlot":0,"type":1,"action":2,"balloon":false}}`},
		{"flat topic: the moving character is the object", `{"op":"action","topic":"COMMAND_TOPIC_CHARACTER_MOVEMENT","fields":{"x":-210,"y":154,"stance":4}}`,
			`{"worldId":3,"channelId":2,"mapId":100000000,"objectId":42,"observerId":42,"x":-210,"y":154,"stance":4}`},
		{"optional newer envelope fields stay out", `{"op":"action","topic":"COMMAND_TOPIC_MONSTER","type":"DAMAGE","body":{"characterId":42,"damage":1375},"fields":{"monsterId":1000023}}`,
			`{"worldId":3,"channelId":2,"monsterId":1000023,"type":"DAMAGE","body":{"characterId":42,"damage":1375,"damages":[1375]}}`},
		{"body location from the session", `{"op":"action","topic":"COMMAND_TOPIC_CHARACTER","type":"REQUEST_DROP_MESO","body":{"channelId":9,"mapId":1,"amount":500}}`,
			`{"worldId":3,"characterId":42,"type":"REQUEST_DROP_MESO","body":{"channelId":2,"mapId":100000000,"amount":500}}`},
		{"a body's characterId is the client's", `{"op":"action","topic":"COMMAND_TOPIC_BUDDY_LIST","type":"REQUEST_ADD","body":{"characterId":43,"group":"Default Group"}}`,
			`{"worldId":3,"characterId":42,"type":"REQUEST_ADD","body":{"characterId":43,"group":"Default Group"}}`},
		{"an empty body", `{"op":"action","topic":"COMMAND_TOPIC_PARTY","type":"CREATE"}`,
			`{"actorId":42,"type":"CREATE","body":{}}`},
	} {
		t.Run(c.name, func(t *testing.T) {
			msg, err := buildCommand(codecs.EraSeed, frame(t, c.frame), player)
			require.NoError(t, err)
			emit := &channeltest.Emitter{}
			require.NoError(t, emit.Send(msg, codecs.NewTrace()))
			require.Equal(t, c.want, string(emit.Take()[0].Value))
		})
	}
}

func TestBuildCommandFillsAFreshTransaction(t *testing.T) {
	msg, err := buildCommand(codecs.EraSeed, frame(t, `{"op":"action","topic":"COMMAND_TOPIC_STORAGE","type":"ARRANGE"}`), player)
	require.NoError(t, err)
	s := msg.(*codecs.StorageCommand)
	require.NotEqual(t, uuid.Nil, s.TransactionID)
	require.Equal(t, uint32(7), *s.AccountID)
}

func TestBuildCommandRefusals(t *testing.T) {
	for _, c := range []struct{ name, frame string }{
		{"unknown topic", `{"op":"action","topic":"COMMAND_TOPIC_NOPE","type":"X"}`},
		{"a topic the channel consumes", `{"op":"action","topic":"EVENT_TOPIC_CHARACTER_CHAT","type":"GENERAL","body":{}}`},
		{"the account session is the gateway's", `{"op":"action","topic":"COMMAND_TOPIC_ACCOUNT_SESSION","type":"LOGOUT","body":{}}`},
		{"a key the type does not have", `{"op":"action","topic":"COMMAND_TOPIC_CHARACTER_CHAT","type":"GENERAL","body":{"balloonOnly":false,"volume":11}}`},
		{"a newer optional key", `{"op":"action","topic":"COMMAND_TOPIC_MONSTER","type":"DAMAGE","body":{"characterId":42,"damage":1,"attackType":2}}`},
		{"the discriminator among the fields", `{"op":"action","topic":"COMMAND_TOPIC_CHARACTER_CHAT","type":"GENERAL","body":{},"fields":{"type":"WHISPER"}}`},
		{"channel status is the instance's", `{"op":"action","topic":"COMMAND_TOPIC_CHANNEL_STATUS","type":"HEARTBEAT"}`},
		{"unknown type", `{"op":"action","topic":"COMMAND_TOPIC_CHARACTER_CHAT","type":"SHOUT","body":{}}`},
		{"a flat topic has no type", `{"op":"action","topic":"COMMAND_TOPIC_CHARACTER_MOVEMENT","type":"MOVE"}`},
		{"body not an object", `{"op":"action","topic":"COMMAND_TOPIC_CHARACTER_CHAT","type":"GENERAL","body":[1]}`},
		{"body of the wrong type", `{"op":"action","topic":"COMMAND_TOPIC_CHARACTER_CHAT","type":"GENERAL","body":{"balloonOnly":"yes"}}`},
		{"number out of range", `{"op":"action","topic":"COMMAND_TOPIC_FAME","type":"REQUEST_CHANGE","body":{"targetId":43,"amount":300}}`},
		{"field of the wrong type", `{"op":"action","topic":"COMMAND_TOPIC_CHARACTER_CHAT","type":"GENERAL","body":{},"fields":{"message":5}}`},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := buildCommand(codecs.EraSeed, frame(t, c.frame), player)
			require.Error(t, err)
		})
	}
}

// The policy table over the whole catalog: every type the channel produces is decided;
// allowed ones build from an empty body, server-only ones are refused with their reason,
// whatever the body.
func TestClientPolicyOverTheCatalog(t *testing.T) {
	allowed, serverOnly := 0, 0
	decided := map[string]bool{}
	for _, era := range []string{codecs.EraSeed, codecs.EraCurrent} {
		testClientPolicyIn(t, era, decided, &allowed, &serverOnly)
	}
	require.Equal(t, len(codecs.ClientPolicyTypes()), len(decided), "the table decides exactly the produced types")
	require.NotZero(t, serverOnly)
}

// testClientPolicyIn checks the policy of every type the channel produces in era, counting
// each type once over the eras.
func testClientPolicyIn(t *testing.T, era string, decided map[string]bool, allowed, serverOnly *int) {
	for _, cat := range codecs.CatalogTopicList() {
		if !cat.ProducedBy("channel") || !cat.InEra(era) {
			continue
		}
		types := []string{""}
		if cat.Discriminator != "" {
			types = nil
			for _, ct := range cat.Types {
				if ct.Produced(era) {
					types = append(types, ct.Value)
				}
			}
		}
		for _, typ := range types {
			decided[cat.Name+" "+typ] = true
			if era == codecs.EraCurrent {
				// Clients build actions in the seed era's shapes; the types current upstream
				// added are server-only until the policy says otherwise (default deny).
				if ty, ok := cat.Type(typ); !cat.InEra(codecs.EraSeed) || ok && !ty.InEra(codecs.EraSeed) {
					require.False(t, codecs.ClientPolicyFor(cat.Name, typ).Allowed, "%s %s", cat.Name, typ)
				}
				continue
			}
			// Empty but for the values the policy requires.
			f := protocol.ClientFrame{Op: protocol.OpAction, Topic: cat.Name, Type: typ}
			body := map[string]json.RawMessage{}
			for path, v := range codecs.ClientPolicyFor(cat.Name, typ).Require {
				if k, inBody := strings.CutPrefix(path, "body."); inBody {
					body[k] = json.RawMessage(v)
				} else {
					if f.Fields == nil {
						f.Fields = map[string]json.RawMessage{}
					}
					f.Fields[path] = json.RawMessage(v)
				}
			}
			if len(body) > 0 {
				f.Body, _ = json.Marshal(body)
			}
			raw, _ := json.Marshal(f)
			_, err := buildCommand(era, frame(t, string(raw)), player)
			if codecs.ClientPolicyFor(cat.Name, typ).Allowed {
				*allowed++
				require.NoError(t, err, "%s %s", cat.Name, typ)
				continue
			}
			*serverOnly++
			var r *protocol.Refusal
			require.ErrorAs(t, err, &r, "%s %s", cat.Name, typ)
			require.Equal(t, protocol.CodeNotAllowed, r.Code, "%s %s", cat.Name, typ)
		}
	}
}

// A note goes to the recipient the client names, from the session's character: the sender
// cannot be spoofed and the recipient is not overwritten.
func TestNoteKeepsTheRecipientAndTakesTheSender(t *testing.T) {
	msg, err := buildCommand(codecs.EraSeed, frame(t, `{"op":"action","topic":"COMMAND_TOPIC_NOTE","type":"CREATE","body":{"senderId":1,"message":"hi","flag":1},"fields":{"characterId":43}}`), player)
	require.NoError(t, err)
	emit := &channeltest.Emitter{}
	require.NoError(t, emit.Send(msg, codecs.NewTrace()))
	rec := emit.Take()[0]
	require.Equal(t, `{"characterId":43,"type":"CREATE","body":{"senderId":42,"message":"hi","flag":1}}`, string(rec.Value))
}

// Identity keys in bodies and envelopes are the session's, in every place the policy names;
// a guild member leaves only itself.
func TestIdentityComesFromTheSession(t *testing.T) {
	for _, c := range []struct{ name, frame, want string }{
		{"a pickup is the session's character's", `{"op":"action","topic":"COMMAND_TOPIC_DROP","type":"REQUEST_RESERVATION","body":{"dropId":9,"characterId":1,"characterX":1,"characterY":2,"petSlot":-1}}`,
			`"body":{"dropId":9,"characterId":42,`},
		{"an invite answer is the session's character's", `{"op":"action","topic":"COMMAND_TOPIC_INVITE","type":"ACCEPT","body":{"targetId":1,"referenceId":5},"fields":{"inviteType":"PARTY"}}`,
			`"targetId":42`},
		{"a guild leave is the session's character's", `{"op":"action","topic":"COMMAND_TOPIC_GUILD","type":"LEAVE","body":{"guildId":5,"force":false},"fields":{"characterId":43}}`,
			`{"characterId":42,"type":"LEAVE"`},
		{"damage is dealt by the session's character", `{"op":"action","topic":"COMMAND_TOPIC_MONSTER","type":"DAMAGE","body":{"characterId":1,"damage":10},"fields":{"monsterId":5}}`,
			`"body":{"characterId":42,"damage":10,"damages":[10]}`},
	} {
		t.Run(c.name, func(t *testing.T) {
			msg, err := buildCommand(codecs.EraSeed, frame(t, c.frame), player)
			require.NoError(t, err)
			emit := &channeltest.Emitter{}
			require.NoError(t, emit.Send(msg, codecs.NewTrace()))
			require.Contains(t, string(emit.Take()[0].Value), c.want)
		})
	}
}

// The catalog's closed value sets and documented constants of client-settable keys are
// enforced (fame: values [1, -1]; SP: "amount is always 1"): a client cannot ask for +127 fame
// on anyone or spend 127 SP at once.
func TestContractValueSetsAreEnforced(t *testing.T) {
	for _, c := range []struct{ name, frame string }{
		{"fame +127 to another character", `{"op":"action","topic":"COMMAND_TOPIC_FAME","type":"REQUEST_CHANGE","body":{"channelId":2,"mapId":1,"targetId":43,"amount":127}}`},
		{"fame -128", `{"op":"action","topic":"COMMAND_TOPIC_FAME","type":"REQUEST_CHANGE","body":{"channelId":2,"mapId":1,"targetId":43,"amount":-128}}`},
		{"SP amount 127 (always 1 upstream)", `{"op":"action","topic":"COMMAND_TOPIC_CHARACTER","type":"REQUEST_DISTRIBUTE_SP","body":{"skilId":1001004,"amount":127}}`},
		{"invite type outside the set", `{"op":"action","topic":"COMMAND_TOPIC_INVITE","type":"ACCEPT","body":{"targetId":1,"referenceId":5},"fields":{"inviteType":"ALLIANCE_ADMIN"}}`},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := buildCommand(codecs.EraSeed, frame(t, c.frame), player)
			var r *protocol.Refusal
			require.ErrorAs(t, err, &r, "a value outside the contract's set was accepted")
		})
	}
	_, err := buildCommand(codecs.EraSeed, frame(t, `{"op":"action","topic":"COMMAND_TOPIC_FAME","type":"REQUEST_CHANGE","body":{"targetId":43,"amount":-1}}`), player)
	require.NoError(t, err, "a value of the set passes")
	_, err = buildCommand(codecs.EraSeed, frame(t, `{"op":"action","topic":"COMMAND_TOPIC_CHARACTER","type":"REQUEST_DISTRIBUTE_SP","body":{"skilId":1001004,"amount":1}}`), player)
	require.NoError(t, err)
}

// COMPARTMENT_TRANSFER names compartments and inventory types the client would choose: it is
// server-only, so a player cannot move an asset out of storage (or anyone's compartment).
func TestCompartmentTransferIsServerOnly(t *testing.T) {
	_, err := buildCommand(codecs.EraSeed, frame(t, `{"op":"action","topic":"COMMAND_TOPIC_COMPARTMENT_TRANSFER","fields":{
		"assetId":70012,"referenceId":70012,"templateId":1302000,"referenceType":"EQUIPABLE","slot":1,
		"fromCompartmentId":"0b9c8d7e-6f50-4a41-b2c3-d4e5f6a7b8c9","fromCompartmentType":1,"fromInventoryType":"STORAGE",
		"toCompartmentId":"1c2d3e4f-5a6b-4c7d-8e9f-a0b1c2d3e4f5","toCompartmentType":1,"toInventoryType":"CHARACTER"}}`), player)
	var r *protocol.Refusal
	require.ErrorAs(t, err, &r, "a client moved an asset out of storage without the storage flow")
	require.Equal(t, protocol.CodeNotAllowed, r.Code)
}

// In the current contracts a client's action carries the keys current upstream always
// writes: the location from the session, a fresh transaction id, zero values for the rest.
func TestCurrentEraActionsCarryCurrentKeys(t *testing.T) {
	instanced := player
	instanced.Field.Instance = uuid.New()
	msg, err := buildCommand(codecs.EraCurrent, frame(t, `{"op":"action","topic":"COMMAND_TOPIC_CHALKBOARD","type":"SET","body":{"message":"hi"}}`), instanced)
	require.NoError(t, err)
	em := &channeltest.Emitter{Era: codecs.EraCurrent}
	require.NoError(t, em.Send(msg, codecs.NewTrace()))
	var top map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(em.Take()[0].Value, &top))
	require.Equal(t, `"`+instanced.Field.Instance.String()+`"`, string(top["instance"]), "the session's instance")

	// A key the session does not give is written with its zero value.
	msg, err = buildCommand(codecs.EraCurrent, frame(t, `{"op":"action","topic":"COMMAND_TOPIC_PORTAL","type":"ENTER","fields":{"portalId":3}}`), player)
	require.NoError(t, err)
	require.NoError(t, em.Send(msg, codecs.NewTrace()))
	require.Contains(t, string(em.Take()[0].Value), `"instance":"00000000-0000-0000-0000-000000000000","portalId":3`)

	// The seed era leaves the newer keys out.
	msg, err = buildCommand(codecs.EraSeed, frame(t, `{"op":"action","topic":"COMMAND_TOPIC_CHALKBOARD","type":"SET","body":{"message":"hi"}}`), player)
	require.NoError(t, err)
	seed := &channeltest.Emitter{}
	require.NoError(t, seed.Send(msg, codecs.NewTrace()))
	require.NotContains(t, string(seed.Take()[0].Value), "instance")
}

// A seed-shape leave and hit carry what current readers need too, in both eras: the member
// leaving, and the hit as a list of hits.
func TestSupersetKeysAreDerived(t *testing.T) {
	for _, era := range []string{codecs.EraSeed, codecs.EraCurrent} {
		em := &channeltest.Emitter{Era: era}
		msg, err := buildCommand(era, frame(t, `{"op":"action","topic":"COMMAND_TOPIC_PARTY","type":"LEAVE","body":{"partyId":9,"force":false}}`), player)
		require.NoError(t, err)
		require.NoError(t, em.Send(msg, codecs.NewTrace()))
		require.Contains(t, string(em.Take()[0].Value), `"body":{"partyId":9,"force":false,"characterId":42}`, era)
		msg, err = buildCommand(era, frame(t, `{"op":"action","topic":"COMMAND_TOPIC_MONSTER","type":"DAMAGE","fields":{"monsterId":5},"body":{"damage":1375}}`), player)
		require.NoError(t, err)
		require.NoError(t, em.Send(msg, codecs.NewTrace()))
		require.Contains(t, string(em.Take()[0].Value), `"damage":1375,"damages":[1375]`, era)
	}
}

// The keys the current era adds are filled by the gateway, never taken from a client: a
// client cannot choose a transaction, a hit's attack type or whom a leave removes.
func TestCurrentKeysAreNotTheClients(t *testing.T) {
	for _, f := range []string{
		`{"op":"action","topic":"COMMAND_TOPIC_MONSTER","type":"DAMAGE","fields":{"monsterId":5},"body":{"damage":1,"attackType":3}}`,
		`{"op":"action","topic":"COMMAND_TOPIC_EXPRESSION","fields":{"expression":2,"duration":2147483647}}`,
		`{"op":"action","topic":"COMMAND_TOPIC_CASH_SHOP","type":"REQUEST_PURCHASE","body":{"currency":1,"serialNumber":5,"transactionId":"deadbeef-0000-4000-8000-000000000001"}}`,
		`{"op":"action","topic":"COMMAND_TOPIC_PARTY","type":"LEAVE","body":{"partyId":9,"force":false,"characterId":43}}`,
	} {
		_, err := buildCommand(codecs.EraCurrent, frame(t, f), player)
		var r *protocol.Refusal
		require.ErrorAs(t, err, &r, f)
		require.Equal(t, protocol.CodeBadAction, r.Code, f)
	}
	em := &channeltest.Emitter{Era: codecs.EraCurrent}
	msg, err := buildCommand(codecs.EraCurrent, frame(t, `{"op":"action","topic":"COMMAND_TOPIC_CASH_SHOP","type":"REQUEST_PURCHASE","body":{"currency":1,"serialNumber":5}}`), player)
	require.NoError(t, err)
	require.NoError(t, em.Send(msg, codecs.NewTrace()))
	require.Contains(t, string(em.Take()[0].Value), `"transactionId":"00000000-0000-0000-0000-000000000000"`, "an uncorrelated purchase")
	msg, err = buildCommand(codecs.EraCurrent, frame(t, `{"op":"action","topic":"COMMAND_TOPIC_PARTY","type":"LEAVE","body":{"partyId":9,"force":true}}`), player)
	require.NoError(t, err)
	require.NoError(t, em.Send(msg, codecs.NewTrace()))
	require.NotContains(t, string(em.Take()[0].Value), `"characterId":42`, "an expel without a target names nobody, not the leader")
}

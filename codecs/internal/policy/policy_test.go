package policy

import (
	"os"
	"strings"
	"testing"

	"github.com/atlasstreams/atlas/codecs/internal/catalog"
	"github.com/stretchr/testify/require"
)

func load(t *testing.T) (*catalog.Catalog, []byte) {
	t.Helper()
	c, err := catalog.Load("../../../contracts")
	require.NoError(t, err)
	text, err := os.ReadFile("../../../contracts/" + File)
	require.NoError(t, err)
	return c, text
}

func byKey(es []Entry) map[string]Entry {
	m := map[string]Entry{}
	for _, e := range es {
		m[e.Topic+" "+e.Type] = e
	}
	return m
}

// The project's policy decides every type the channel produces, and the authority types the
// issue names are server-only.
func TestProjectPolicy(t *testing.T) {
	c, text := load(t)
	es, err := Build(c, text)
	require.NoError(t, err)
	m := byKey(es)
	produced := 0
	for _, tp := range c.Topics {
		if !producedByChannel(tp) {
			continue
		}
		if tp.Flat() {
			produced++
			continue
		}
		for _, ty := range tp.Types {
			if !ty.Newer() {
				produced++
			}
		}
	}
	require.Len(t, m, produced, "one decision per produced type")
	for _, k := range []string{
		"COMMAND_TOPIC_SAGA ", "COMMAND_TOPIC_STORAGE UPDATE_MESOS", "COMMAND_TOPIC_SYSTEM_MESSAGE SEND_MESSAGE",
		"COMMAND_TOPIC_CHARACTER_BUFF APPLY", "COMMAND_TOPIC_SKILL SET_COOLDOWN",
		"COMMAND_TOPIC_ACCOUNT_SESSION PROGRESS_STATE", "COMMAND_TOPIC_CHANNEL_STATUS HEARTBEAT", "EVENT_TOPIC_SESSION_STATUS CREATED",
	} {
		require.False(t, m[k].Allowed, k)
		require.NotEmpty(t, m[k].Reason, k)
	}
	// A note's recipient is the client's, its sender the session's.
	note := m["COMMAND_TOPIC_NOTE CREATE"]
	require.True(t, note.Allowed)
	require.NotContains(t, note.Session, "characterId")
	require.Equal(t, "character", note.Session["body.senderId"])
	// A guild member may leave, not expel.
	require.Equal(t, map[string]string{"body.force": "false"}, m["COMMAND_TOPIC_GUILD LEAVE"].Require)
	require.Equal(t, "character", m["COMMAND_TOPIC_GUILD LEAVE"].Session["characterId"])
	// Every allowed type takes the acting character from the session somewhere, except a pet's
	// chat (the actor is the pet; its owner is the session's) and topics with no actor key.
	for k, e := range m {
		if !e.Allowed {
			continue
		}
		for p, kind := range e.Session {
			require.Contains(t, fillKinds, kind, "%s %s", k, p)
		}
	}
}

func TestUnlistedTypesAreServerOnly(t *testing.T) {
	c, text := load(t)
	// Drop the chat topic from the policy: its types fall back to default deny.
	var kept []string
	skip := false
	for _, line := range strings.Split(string(text), "\n") {
		if strings.HasPrefix(line, "  COMMAND_TOPIC_CHARACTER_CHAT:") {
			skip = true
			continue
		}
		if skip && strings.HasPrefix(line, "    ") {
			continue
		}
		skip = false
		kept = append(kept, line)
	}
	es, err := Build(c, []byte(strings.Join(kept, "\n")))
	require.NoError(t, err)
	e := byKey(es)["COMMAND_TOPIC_CHARACTER_CHAT GENERAL"]
	require.False(t, e.Allowed)
	require.Equal(t, DefaultReason, e.Reason)
}

func TestBuildRefusesMistakes(t *testing.T) {
	c, _ := load(t)
	head := "identity:\n  character: [characterId, actorId]\ntopics:\n"
	for name, body := range map[string]string{
		"unknown type":            "  COMMAND_TOPIC_NOTE:\n    SHOUT: {client: true}\n",
		"consumed topic":          "  EVENT_TOPIC_CHARACTER_CHAT:\n    GENERAL: {client: true}\n",
		"path not a field":        "  COMMAND_TOPIC_NOTE:\n    CREATE: {client: true, targets: [body.recipientId]}\n",
		"target not identity":     "  COMMAND_TOPIC_NOTE:\n    CREATE: {client: true, targets: [body.message]}\n",
		"server-only without why": "  COMMAND_TOPIC_SAGA:\n    \"\": {client: false}\n",
		"unknown key":             "  COMMAND_TOPIC_SAGA:\n    \"\": {client: false, why: x, becuase: y}\n",
		"require not JSON":        "  COMMAND_TOPIC_GUILD:\n    LEAVE: {client: true, require: {body.force: nope}}\n",
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Build(c, []byte(head+body))
			require.Error(t, err)
		})
	}
	_, err := Build(c, []byte("identity:\n  pet: [petId]\ntopics: {}\n"))
	require.Error(t, err, "unknown identity kind")
}

func TestGenerateIsGoSource(t *testing.T) {
	c, text := load(t)
	es, err := Build(c, text)
	require.NoError(t, err)
	src, err := Generate(es)
	require.NoError(t, err)
	require.Regexp(t, `"COMMAND_TOPIC_NOTE CREATE": +\{Allowed: true, Session: map\[string\]SessionValue\{"body.senderId": SessionCharacter`, string(src))
	require.Regexp(t, `"COMMAND_TOPIC_SAGA ": +\{Reason: "sagas award mesos`, string(src))
}

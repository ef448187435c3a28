package account_test

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"
	"testing"

	"github.com/atlasstreams/atlas"
	"github.com/atlasstreams/atlas/codecs"
	"github.com/atlasstreams/atlas/processors/account/accountpb"
	"github.com/atlasstreams/atlas/processors/account/accounttest"
	"github.com/atlasstreams/atlas/processors/account/model"
	"github.com/atlasstreams/atlas/processors/recordsize"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"
)

// testLimit is a record limit an operator could set on a topic; every ordinary record of
// the account service stays below it.
const testLimit = 2048

// bigParams are valid PROGRESS_STATE params (within the 4 KiB cap) that no record of
// testLimit can carry.
var bigParams = `{"pad":"` + strings.Repeat("x", 3000) + `"}`

// A session command whose answer would exceed the record limit gets its contract answer,
// SYSTEM_ERROR, once: the redelivered command answers the same and changes nothing, and the
// group goes on with the next command.
func TestOversizedAnswerIsSystemErrorOnce(t *testing.T) {
	h := accounttest.NewWithRecordLimit(t, testLimit)
	id := loggedIn(t, h)
	before := proto.Clone(h.Account(id)).(*accountpb.Account)

	// Straight to the accounts stage, as an internal topic with a larger limit would carry it.
	cmd := &accountpb.AccountCommand{
		Meta: h.Meta(atlas.CommandTopicAccountSession, 3, 500), AccountId: id,
		Kind: &accountpb.AccountCommand_ProgressState{ProgressState: &accountpb.ProgressState{
			SessionId: s1[:], Author: login, State: 2, Params: []byte(bigParams),
		}},
	}
	key := model.AccountKey(h.Tenant, id)
	h.ProduceInternal(atlas.AccountCommands, key, cmd)
	first := h.Events()
	require.Equal(t, []string{"SESSION 1 ERROR SYSTEM_ERROR"}, eventStrings(first))
	require.True(t, proto.Equal(before.Sessions[0], h.Account(id).Sessions[0]), "the refused command changed no session")

	h.ProduceInternal(atlas.AccountCommands, key, cmd)
	second := h.Events()
	require.Len(t, second, 1, "a redelivery answers once more, the same")
	require.Equal(t, first[0].Raw, second[0].Raw)
	require.Empty(t, h.DeadLetters(), "a command with an answer is not dead-lettered")

	h.Progress(s1, id, login, 2, `{}`)
	require.Equal(t, []string{"SESSION 1 STATE_CHANGED 2"}, h.EventStrings(), "the group goes on")
}

// The same through the public topic: ingress already cannot write the internal command, and
// answers for the session.
func TestOversizedSessionCommandIsAnsweredByIngress(t *testing.T) {
	h := accounttest.NewWithRecordLimit(t, testLimit)
	id := loggedIn(t, h)
	h.Progress(s1, id, login, 2, bigParams)
	require.Equal(t, []string{"SESSION 1 ERROR SYSTEM_ERROR"}, h.EventStrings())
	require.Empty(t, h.DeadLetters())
	h.Progress(s1, id, login, 2, `{"ok":true}`)
	require.Equal(t, []string{"SESSION 1 STATE_CHANGED 2"}, h.EventStrings())
}

// A command without a contract answer whose records would not fit is dead-lettered once,
// reason oversize, and writes nothing else.
func TestOversizedCommandWithoutAnswerIsDeadLettered(t *testing.T) {
	h := accounttest.NewWithRecordLimit(t, testLimit)
	name := strings.Repeat("n", 3000) // only an internal record can carry it; ingress caps names at 64 bytes
	cmd := &accountpb.AccountCommand{
		Meta: h.Meta(atlas.CommandTopicCreateAccount, 0, 9), AccountId: 1,
		Kind: &accountpb.AccountCommand_Create{Create: &accountpb.Create{Name: name}},
	}
	h.ProduceInternal(atlas.AccountCommands, model.AccountKey(h.Tenant, 1), cmd)
	dl := h.DeadLetterRecords()
	require.Len(t, dl, 1)
	reason := string(dl[0].Headers[codecs.HeaderDLQReason])
	require.True(t, strings.HasPrefix(reason, codecs.ReasonOversize+": "), reason)
	tenant, err := codecs.TenantFromHeaders(dl[0].Headers)
	require.NoError(t, err, "an internal record has no headers: its dead letter names the tenant of its Meta")
	require.Equal(t, h.Tenant, tenant)
	require.Empty(t, h.Events())
	require.Nil(t, h.Account(1), "nothing stored")

	h.Create("bob2", "secret")
	require.Equal(t, []string{"STATUS 1 CREATED bob2"}, h.EventStrings()[:1], "the group goes on")
}

// An internal record that decodes but is not a valid command is dead-lettered with the tenant
// of its Meta (internal records have no headers); one that does not decode has none to name.
func TestInvalidInternalRecordIsDeadLetteredWithItsTenant(t *testing.T) {
	h := accounttest.New(t)
	h.ProduceInternal(atlas.AccountCommands, model.AccountKey(h.Tenant, 1),
		&accountpb.AccountCommand{Meta: h.Meta(atlas.CommandTopicAccountSession, 0, 3), AccountId: 1}) // no kind
	h.TT.Consume(string(atlas.AccountCommands), model.AccountKey(h.Tenant, 2), []byte{0xff, 0xff})
	dl := h.DeadLetterRecords()
	require.Len(t, dl, 2)
	tenant, err := codecs.TenantFromHeaders(dl[0].Headers)
	require.NoError(t, err)
	require.Equal(t, h.Tenant, tenant)
	_, err = codecs.TenantFromHeaders(dl[1].Headers)
	require.Error(t, err, "an undecodable record names no tenant")
	h.Create("bob", "secret")
	require.Equal(t, []string{"STATUS 1 CREATED bob"}, h.EventStrings()[:1], "the group goes on")
}

// An undecodable command larger than the dead-letter topic allows is dead-lettered cut to
// fit, with its length and hash, and the group goes on.
func TestUndecodableCommandTooLargeForDeadLetterIsCut(t *testing.T) {
	h := accounttest.NewWithRecordLimit(t, testLimit)
	raw := []byte(`{"name":` + strings.Repeat("9", 3000)) // not JSON
	h.Produce(atlas.CommandTopicCreateAccount, "k", raw, nil)
	dl := h.DeadLetterRecords()
	require.Len(t, dl, 1)
	sum := sha256.Sum256(raw)
	require.Equal(t, strconv.Itoa(len(raw)), string(dl[0].Headers[codecs.HeaderDLQOriginalLength]))
	require.Equal(t, hex.EncodeToString(sum[:]), string(dl[0].Headers[codecs.HeaderDLQOriginalSHA256]))
	require.LessOrEqual(t, recordsize.Of(dl[0].Key, dl[0].Value, dl[0].Headers), testLimit)
	require.Equal(t, raw[:len(dl[0].Value)], dl[0].Value, "the body is the original's beginning")
	h.Create("carol", "secret")
	require.NotEmpty(t, h.EventStrings(), "the group goes on")
}

func eventStrings(es []accounttest.Event) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.String()
	}
	return out
}

package bench

import (
	"context"
	"fmt"
	"runtime"
	"time"

	"github.com/atlasstreams/atlas/codecs"
	"github.com/atlasstreams/atlas/processors/account/accountpb"
	"github.com/atlasstreams/atlas/processors/account/accounts"
	"github.com/atlasstreams/atlas/processors/account/model"
	"github.com/google/uuid"
	"github.com/lovoo/goka"
	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/proto"
)

// typicalAccount is an account as the accounts stage stores it after a day of play: created,
// logged in, moved to a channel, with its dedupe memory full. It is made by the stage's own
// decision function, so its size follows the code.
func typicalAccount(t codecs.Tenant) *accountpb.Account {
	cfg := model.DefaultConfig()
	key := model.AccountKey(t, 1)
	sid, ch := uuid.New(), uuid.New()
	var acc *accountpb.Account
	now := time.Now().UnixMilli()
	cmds := []*accountpb.AccountCommand{
		{Kind: &accountpb.AccountCommand_Create{Create: &accountpb.Create{Name: "typical-player", Login: &accountpb.Login{SessionId: sid[:], Author: model.IssuerLogin}}}},
		{Kind: &accountpb.AccountCommand_ProgressState{ProgressState: &accountpb.ProgressState{SessionId: sid[:], Author: model.IssuerLogin, State: 2, Params: []byte(`{"ipAddress":"10.0.0.2","port":7575,"characterId":1}`)}}},
		{Kind: &accountpb.AccountCommand_ProgressState{ProgressState: &accountpb.ProgressState{SessionId: ch[:], Author: model.IssuerChannel, State: 1, Params: []byte(`{"characterId":1}`)}}},
		{Kind: &accountpb.AccountCommand_ProgressState{ProgressState: &accountpb.ProgressState{SessionId: ch[:], Author: model.IssuerChannel, State: 2, Params: []byte(`{"ipAddress":"10.0.0.3","port":7576}`)}}},
	}
	for i, c := range cmds {
		c.AccountId = 1
		c.Meta = &accountpb.Meta{Command: &accountpb.CommandID{Topic: "COMMAND_TOPIC_ACCOUNT_SESSION", Partition: 3, Offset: int64(1000 + i)},
			Tenant: t.String(), Traceparent: codecs.NewTrace().ParentString(), TimestampMs: now + int64(i)}
		next, outs := accounts.Decide(cfg, key, acc, c)
		next.Dedupe = model.Record(next.Dedupe, c.Meta.Command, "ingress", c.Meta.TimestampMs, outs, model.RememberBytes)
		acc = next
	}
	return acc
}

// typicalName is the names entry of the same account after a successful login.
func typicalName(t codecs.Tenant, pw model.Passwords) *accountpb.NameEntry {
	hash, _ := pw.Hash([]byte("a-password"))
	meta := &accountpb.Meta{Command: &accountpb.CommandID{Topic: "COMMAND_TOPIC_CREATE_ACCOUNT", Offset: 1}, Tenant: t.String(),
		Traceparent: codecs.NewTrace().ParentString(), TimestampMs: time.Now().UnixMilli()}
	e := &accountpb.NameEntry{Name: "typical-player", AccountId: 1, PasswordHash: hash, Registration: &accountpb.PendingRegistration{Meta: meta}}
	out := model.ProtoOut("atlas-account-commands", model.AccountKey(t, 1), &accountpb.AccountCommand{Meta: meta, AccountId: 1})
	e.Dedupe = model.Record(e.Dedupe, meta.Command, "ingress", meta.TimestampMs, []model.Out{out}, model.RememberBytes)
	return e
}

// recoveryResult holds what the recovery figure measured.
type recoveryResult struct {
	Records         int
	RecoverPerSec   float64 // a fresh view restoring the table
	RawReadPerSec   float64 // a plain consumer reading the same topic: the baseline
	HeapBytesPerRec float64 // heap growth of the in-memory table per record
}

// recovery writes n copies of a typical account into a table topic, then measures a fresh
// Goka view restoring it, against a plain consumer reading it.
func recovery(s *stack, n int) (recoveryResult, error) {
	res := recoveryResult{Records: n}
	t := newTenant("GMS")
	acc := typicalAccount(t)
	err := s.writeAccounts(s.name(recoveryTable), t, n, func(id uint32) *accountpb.Account {
		acc.Id = id
		return acc
	}, nil)
	if err != nil {
		return res, err
	}

	// Baseline: read everything with a plain client.
	cl, err := kgo.NewClient(append(s.opts.KafkaClientOpts(), kgo.ConsumeTopics(s.name(recoveryTable)),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(10*time.Millisecond))...)
	if err != nil {
		return res, err
	}
	start, read := time.Now(), 0
	for read < n {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		fs := cl.PollFetches(ctx)
		timedOut := ctx.Err() != nil
		cancel()
		if timedOut {
			cl.Close()
			return res, fmt.Errorf("raw read: %d of %d records", read, n)
		}
		read += fs.NumRecords()
	}
	res.RawReadPerSec = float64(n) / time.Since(start).Seconds()
	cl.Close()

	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	start = time.Now()
	v := s.opts.StartView(ctx, goka.Table(s.name(recoveryTable)), new(accounts.TableCodec))
	for !v.Ready() {
		if time.Since(start) > 5*time.Minute {
			return res, fmt.Errorf("view not recovered after 5 minutes")
		}
		time.Sleep(time.Millisecond)
	}
	res.RecoverPerSec = float64(n) / time.Since(start).Seconds()
	runtime.GC()
	runtime.ReadMemStats(&after)
	res.HeapBytesPerRec = float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / float64(n)
	cancel()
	<-v.Done()
	return res, nil
}

// storedSizes are the bytes per account the two tables hold (key plus value), from the
// typical records.
func storedSizes(pw model.Passwords) (accountBytes, nameBytes int) {
	t := newTenant("GMS")
	a, _ := proto.Marshal(typicalAccount(t))
	n, _ := proto.Marshal(typicalName(t, pw))
	return len(a) + len(model.AccountKey(t, 1)), len(n) + len(model.NameKey(t, "typical-player"))
}

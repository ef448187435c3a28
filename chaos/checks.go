package chaos

import (
	"context"
	"fmt"
	"time"

	"github.com/IBM/sarama"
	"github.com/atlasstreams/atlas"
	"github.com/atlasstreams/atlas/chaos/refmodel"
	"github.com/atlasstreams/atlas/codecs"
	"github.com/atlasstreams/atlas/processors/account/accountpb"
	"github.com/atlasstreams/atlas/processors/account/accounts"
	"github.com/atlasstreams/atlas/processors/account/model"
)

// checkTables compares the accounts table, read through a fresh Goka view, with the model:
// every account the model has, with its name, state and license, and no other account in the
// scenario's tenants.
func (r *run) checkTables(res *Result) error {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	v := r.c.opts.StartView(ctx, atlas.AccountsTable, new(accounts.TableCodec))
	defer func() { cancel(); <-v.Done() }()
	deadline := time.Now().Add(60 * time.Second)
	for !v.Ready() {
		if time.Now().After(deadline) {
			return fmt.Errorf("accounts view not recovered after 60s")
		}
		time.Sleep(10 * time.Millisecond) // polling the view's recovery
	}
	r.d.mu.Lock()
	defer r.d.mu.Unlock()
	view := v.View()
	for _, t := range r.tenants {
		want := r.d.model.Accounts(mtOf(t))
		for id, a := range want {
			raw, err := view.Get(model.AccountKey(t, id))
			if err != nil {
				return err
			}
			got, _ := raw.(*accountpb.Account)
			if got == nil || got.Name != a.Name || int(model.State(got)) != a.State() || got.Tos != a.Tos {
				res.StateMismatch++
			}
		}
		it, err := view.IteratorWithRange(model.AccountKeyPrefix(t), model.AccountKeyPrefix(t)+"\xff")
		if err != nil {
			return err
		}
		for it.Next() {
			_, id, err := model.ParseAccountKey(string(it.Key()))
			if err != nil || want[id] == nil {
				res.StateMismatch++ // an account the model does not know
			}
		}
		it.Release()
	}
	return nil
}

// caughtUp waits until the collector has read every event topic up to its end, so nothing
// emitted before the call is still on its way.
func (r *run) caughtUp(timeout time.Duration) error {
	cfg := sarama.NewConfig()
	client, err := sarama.NewClient(r.c.opts.Brokers, cfg)
	if err != nil {
		return err
	}
	defer client.Close()
	ends := map[string]map[int32]int64{}
	for _, topic := range []string{string(atlas.EventTopicAccountStatus), string(atlas.EventTopicAccountSessionStatus), string(atlas.DeadLetterTopic)} {
		parts, err := client.Partitions(topic)
		if err != nil {
			return err
		}
		ends[topic] = map[int32]int64{}
		for _, p := range parts {
			hwm, err := client.GetOffset(topic, p, sarama.OffsetNewest)
			if err != nil {
				return err
			}
			ends[topic][p] = hwm
		}
	}
	if !r.col.wait(timeout, func() bool {
		for topic, parts := range ends {
			for p, hwm := range parts {
				if hwm > 0 && r.col.next[topic][p] < hwm {
					return false
				}
			}
		}
		return true
	}) {
		return fmt.Errorf("event topics not read to their end within %s", timeout)
	}
	return nil
}

// mtOf is the model's name for a tenant.
func mtOf(t codecs.Tenant) refmodel.Tenant {
	return refmodel.Tenant{ID: t.ID.String(), Region: t.Region, Major: int(t.Major)}
}

package views

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/atlasstreams/atlas"
	"github.com/atlasstreams/atlas/processors/account/accounts"
	"github.com/atlasstreams/atlas/processors/account/names"
	"github.com/atlasstreams/atlas/processors/channel/directory"
	"github.com/atlasstreams/atlas/processors/deadletter/replay"
	"github.com/atlasstreams/atlas/processors/registry"
	"github.com/atlasstreams/atlas/processors/runtime"
	"github.com/atlasstreams/atlas/processors/topicread"
	"github.com/twmb/franz-go/pkg/kgo"
)

// DefaultChannelTTL is how long a channel that stopped announcing itself still counts as up:
// three of the channels' default heartbeat intervals (CHANNEL_HEARTBEAT_INTERVAL, 10s).
const DefaultChannelTTL = 30 * time.Second

// ChannelTTLFromEnv reads ATLAS_CHANNEL_TTL (a duration; empty: DefaultChannelTTL).
func ChannelTTLFromEnv(getenv func(string) string) (time.Duration, error) {
	v := getenv("ATLAS_CHANNEL_TTL")
	if v == "" {
		return DefaultChannelTTL, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("ATLAS_CHANNEL_TTL=%q: want a positive duration such as 30s", v)
	}
	return d, nil
}

// Views are the three supervised views the HTTP API reads, with the channel directory and the
// dead-letter reader of its operator routes.
type Views struct {
	Accounts *runtime.RunningView
	Names    *runtime.RunningView
	Registry *runtime.RunningView
	api      *API
	done     chan struct{}
}

// Topics are the tables the views read. The groups that own them create them too; a process
// that only serves queries may ensure them so that its views do not wait for those groups.
func Topics(o runtime.Options) []runtime.TopicSpec {
	return o.Tables(atlas.AccountsTable, atlas.AccountNamesTable, atlas.RegistryTable)
}

// Start runs the views of the accounts, names and registry tables until ctx ends. Each view
// reads its whole table before it answers (Ready); until then the API answers 503.
func Start(ctx context.Context, o runtime.Options) (*Views, error) {
	if len(o.Brokers) == 0 {
		return nil, errors.New("views: no Kafka brokers")
	}
	ttl, err := ChannelTTLFromEnv(os.Getenv)
	if err != nil {
		return nil, err
	}
	dir, err := directory.Start(ctx, o, ttl)
	if err != nil {
		return nil, fmt.Errorf("channel directory: %w", err)
	}
	ix := NewAccountIndex()
	v := &Views{
		Accounts: o.StartIndexedView(ctx, atlas.AccountsTable, new(accounts.TableCodec), ix),
		Names:    o.StartView(ctx, atlas.AccountNamesTable, new(names.TableCodec)),
		Registry: o.StartView(ctx, atlas.RegistryTable, new(registry.TableCodec)),
		done:     make(chan struct{}),
	}
	v.api = NewAPI(Indexed(FromRunningView(v.Accounts), ix), FromRunningView(v.Names), FromRunningView(v.Registry))
	v.api.ServeOperator(dir, replay.NewService(string(atlas.DeadLetterTopic), func() (*kgo.Client, error) {
		return kgo.NewClient(append(o.KafkaClientOpts(), topicread.ReaderOpts()...)...)
	}))
	go func() {
		defer close(v.done)
		runtime.WaitAll(v.Accounts.Done(), v.Names.Done(), v.Registry.Done())
	}()
	return v, nil
}

// API is the HTTP query API over the views.
func (v *Views) API() *API { return v.api }

// AccountRegistry is the Registry over the registry view.
func (v *Views) AccountRegistry() *ViewRegistry { return v.api.registry }

// Ready reports whether every view has been recovered.
func (v *Views) Ready() bool { return v.api.Ready() }

// Done is closed once every view stopped after ctx ended.
func (v *Views) Done() <-chan struct{} { return v.done }

// Package account runs the account service: five Goka groups that together own accounts and
// their login sessions.
//
//	public commands -> ingress ("Account Service": validate, hash, seal, re-key)
//	                -> names (tenant/name: uniqueness, password check, failed logins)
//	                   <-> ids (tenant: id sequence)
//	                -> accounts (tenant/id: account, session state machine, public events)
//	                   <-> timers (bucket: deadlines of sessions in transition)
//
// Every group scales by adding instances, up to its partition count.
package account

import (
	"context"
	"fmt"
	"os"

	"github.com/IBM/sarama"
	"github.com/atlasstreams/atlas"
	"github.com/atlasstreams/atlas/processors/account/accounts"
	"github.com/atlasstreams/atlas/processors/account/ids"
	"github.com/atlasstreams/atlas/processors/account/ingress"
	"github.com/atlasstreams/atlas/processors/account/model"
	"github.com/atlasstreams/atlas/processors/account/names"
	"github.com/atlasstreams/atlas/processors/account/seal"
	"github.com/atlasstreams/atlas/processors/account/timers"
	"github.com/atlasstreams/atlas/processors/runtime"
	"github.com/lovoo/goka"
	"github.com/lovoo/goka/codec"
)

// Service is the account service's configuration.
type Service struct {
	Options   runtime.Options
	Config    model.Config
	Passwords model.Passwords
}

// SealKeysEnv names the variable with the keys that seal login passwords between stages.
const SealKeysEnv = "ATLAS_PASSWORD_SEAL_KEYS"

// PasswordsFromEnv builds the password functions: bcrypt at cost, and the sealer from
// ATLAS_PASSWORD_SEAL_KEYS. Without that variable a random key is used when allowRandom (one
// process runs every stage, as `atlas dev` does); otherwise it is an error, since instances
// with different keys cannot open each other's sealed passwords.
func PasswordsFromEnv(cost int, allowRandom bool) (model.Passwords, error) {
	var keys [][]byte
	if text := os.Getenv(SealKeysEnv); text != "" {
		var err error
		if keys, err = seal.ParseKeys(text); err != nil {
			return model.Passwords{}, fmt.Errorf("%s: %w", SealKeysEnv, err)
		}
	} else if allowRandom {
		keys = [][]byte{seal.RandomKey()}
	} else {
		return model.Passwords{}, fmt.Errorf("%s is not set: every account instance needs the same seal key (32 random bytes, base64)", SealKeysEnv)
	}
	s, err := seal.New(keys...)
	if err != nil {
		return model.Passwords{}, err
	}
	return model.Passwords{Cost: cost, Sealer: s}, nil
}

// Graphs are the service's five group graphs.
func (s Service) Graphs() []*goka.GroupGraph {
	cfg := s.Config
	if cfg.Contracts == "" {
		cfg.Contracts = s.Options.Contracts // the process-wide setting (ATLAS_CONTRACTS)
	}
	return []*goka.GroupGraph{
		ingress.Group(s.Passwords, cfg.NameCharset, cfg.Contracts),
		names.Group(cfg, s.Passwords),
		ids.Group(),
		accounts.Group(cfg),
		timers.Group(cfg),
	}
}

// Topics are the topics the service reads and writes, tables included.
func Topics(o runtime.Options) []runtime.TopicSpec {
	specs := o.Streams(
		atlas.CommandTopicCreateAccount, atlas.CommandTopicAccount, atlas.CommandTopicAccountSession, atlas.AccountAdminTopic,
		atlas.EventTopicAccountStatus, atlas.EventTopicAccountSessionStatus,
		atlas.AccountNameCommands, atlas.AccountIDRequests, atlas.AccountCommands, atlas.AccountTimerCommands,
		atlas.DeadLetterTopic,
	)
	return append(specs, o.Tables(atlas.AccountNamesTable, atlas.AccountIDsTable, atlas.AccountsTable, atlas.AccountTimersTable)...)
}

// Written are the topics the service writes: every topic but the three it only reads. Its
// records must fit the smallest record limit among them.
func Written(o runtime.Options) []runtime.TopicSpec {
	var out []runtime.TopicSpec
	for _, t := range Topics(o) {
		switch goka.Stream(t.Name) {
		case atlas.CommandTopicCreateAccount, atlas.CommandTopicAccount, atlas.CommandTopicAccountSession, atlas.AccountAdminTopic:
			continue
		}
		out = append(out, t)
	}
	return out
}

// Running is the started service.
type Running struct {
	Processors []*runtime.Running
	done       chan struct{}
}

// Ready reports whether every group has recovered and runs.
func (r *Running) Ready() bool {
	for _, p := range r.Processors {
		if !p.Ready() {
			return false
		}
	}
	return true
}

// Done is closed once every group stopped after ctx ended.
func (r *Running) Done() <-chan struct{} { return r.done }

// Start runs every group, and the timer ticker, until ctx ends. Commands written before the
// service first started are processed: its groups start at the oldest offset.
func (s Service) Start(ctx context.Context) (*Running, error) {
	s.Options = s.Options.WithRecordLimit(Written(s.Options))
	emitter, err := goka.NewEmitter(s.Options.Brokers, atlas.AccountTimerCommands, new(codec.Bytes), s.Options.EmitterOptions("timer-ticks")...)
	if err != nil {
		return nil, fmt.Errorf("timer tick emitter: %w", err)
	}
	r := &Running{done: make(chan struct{})}
	var dones []<-chan struct{}
	for _, gg := range s.Graphs() {
		p := s.Options.StartProcessor(ctx, gg, sarama.OffsetOldest)
		r.Processors = append(r.Processors, p)
		dones = append(dones, p.Done())
	}
	tickerDone := make(chan struct{})
	go func() {
		defer close(tickerDone)
		timers.RunTicker(ctx, emitter, s.Config)
	}()
	go func() {
		defer close(r.done)
		runtime.WaitAll(append(dones, tickerDone)...)
		_ = emitter.Finish()
	}()
	return r, nil
}

package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/atlasstreams/atlas/processors/account"
	"github.com/atlasstreams/atlas/processors/account/model"
	"github.com/atlasstreams/atlas/processors/channel"
	"github.com/atlasstreams/atlas/processors/registry"
	"github.com/atlasstreams/atlas/processors/runtime"
	"github.com/atlasstreams/atlas/views"
)

// kafkaOptions reads the Kafka options and insists on KAFKA_BROKERS.
func kafkaOptions() (runtime.Options, error) {
	opts, err := runtime.OptionsFromEnv()
	if err != nil {
		return opts, err
	}
	if len(opts.Brokers) == 0 {
		return opts, errors.New("KAFKA_BROKERS is not set (comma-separated host:port list); `atlas dev` runs without it")
	}
	return opts, nil
}

// runAccount runs the account service's five groups. Run more instances to scale out.
func runAccount(ctx context.Context, args []string) error {
	httpListen, opts, err := serviceSetup("account", args)
	if err != nil {
		return err
	}
	cfg, err := model.FromEnv()
	if err != nil {
		return err
	}
	pw, err := account.PasswordsFromEnv(cfg.BcryptCost, false)
	if err != nil {
		return err
	}
	acc, err := account.Service{Options: opts, Config: cfg, Passwords: pw}.Start(ctx)
	if err != nil {
		return err
	}
	return serveUntilDone(ctx, httpListen, "account service", httpHandler(acc.Ready, nil), opts.Brokers, acc)
}

// runTopics creates every missing topic and reports existing ones that differ.
func runTopics(ctx context.Context, args []string) error {
	fs := newFlagSet("atlas topics")
	if err := parseFlags(fs, "topics", args); err != nil {
		return usageError{err}
	}
	opts, err := kafkaOptions()
	if err != nil {
		return err
	}
	specs := allTopics(opts)
	mism, err := opts.EnsureTopics(specs)
	if err != nil {
		return err
	}
	for _, m := range mism {
		fmt.Println("MISMATCH", m)
	}
	fmt.Printf("%d topics checked, %d mismatches\n", len(specs), len(mism))
	if len(mism) > 0 {
		return fmt.Errorf("%d topics differ from what the product needs", len(mism))
	}
	return nil
}

// allTopics is every topic of every part of the product.
func allTopics(o runtime.Options) []runtime.TopicSpec {
	specs := append(account.Topics(o), registry.Topics(o)...)
	specs = append(specs, views.Topics(o)...)
	return append(specs, channel.Topics(o)...)
}

package main

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"github.com/atlasstreams/atlas/codecs"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/atlasstreams/atlas/processors/account"
	"github.com/atlasstreams/atlas/processors/account/model"
	"github.com/atlasstreams/atlas/processors/channel"
	"github.com/atlasstreams/atlas/processors/registry"
	"github.com/atlasstreams/atlas/processors/runtime"
	"github.com/atlasstreams/atlas/processors/ticket"
	"github.com/atlasstreams/atlas/views"
	"github.com/sirupsen/logrus"
	"github.com/twmb/franz-go/pkg/kfake"
)

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// intEnvOr is the whole number in variable name, else def (a value that is no number is left to
// the flag, which then says so).
func intEnvOr(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil {
		return n
	}
	return def
}

// runDev starts an embedded broker that outside Kafka clients can reach, creates every topic,
// runs every group and the HTTP API, and prints one line with both addresses once ready.
func runDev(ctx context.Context, args []string) error {
	fs := newFlagSet("atlas dev")
	kafkaListen := fs.String("kafka-listen", envOr("ATLAS_KAFKA_LISTEN", "127.0.0.1:9092"), "address of the embedded broker (env ATLAS_KAFKA_LISTEN)")
	httpListen := fs.String("http-listen", envOr("ATLAS_HTTP_LISTEN", "127.0.0.1:8080"), "address of the HTTP API, /metrics, /healthz, /readyz (env ATLAS_HTTP_LISTEN)")
	partitions := fs.Int("partitions", intEnvOr("ATLAS_PARTITIONS", 12), "partitions of every topic (env ATLAS_PARTITIONS)")
	contracts := fs.String("contracts", envOr("ATLAS_CONTRACTS", codecs.EraSeed), "contract era the services write: seed or current; both are read (env ATLAS_CONTRACTS)")
	channels := fs.String("channels", envOr("CHANNEL_CHANNELS", "1:7575,2:7576"), "the dev channel instance's channel ids and client ports, id:port,... (port 0: a free one; env CHANNEL_CHANNELS)")
	if err := parseFlags(fs, "dev", args); err != nil {
		return usageError{err}
	}
	cluster, err := startBroker(*kafkaListen)
	if err != nil {
		return err
	}
	defer cluster.Close()

	opts, err := runtime.OptionsFromEnv()
	if err != nil {
		return err
	}
	opts.Brokers = cluster.ListenAddrs()
	opts.Security = runtime.Security{} // the embedded broker speaks plaintext, whatever KAFKA_TLS_* says
	opts.Partitions = *partitions
	opts.Replication = 1
	if err := runtime.CheckContracts(*contracts); err != nil {
		return fmt.Errorf("--contracts %q: %w", *contracts, err)
	}
	opts.Contracts = *contracts

	cfg, err := model.FromEnv()
	if err != nil {
		return err
	}
	if os.Getenv("ATLAS_TRANSITION_TIMEOUT") == "" {
		// A person types the login and the client by hand: keep the session in transition as
		// long as its entry ticket is valid.
		cfg.TransitionTimeout = ticket.DefaultLifetime
	}
	pw, err := account.PasswordsFromEnv(cfg.BcryptCost, true)
	if err != nil {
		return err
	}
	if _, err := opts.EnsureTopics(allTopics(opts)); err != nil {
		return err
	}
	acc, err := account.Service{Options: opts, Config: cfg, Passwords: pw}.Start(ctx)
	if err != nil {
		return err
	}
	reg, err := registry.Start(ctx, opts)
	if err != nil {
		return err
	}
	access, err := views.AccessFromEnv(os.Getenv, false)
	if err != nil {
		return err
	}
	vs, err := views.Start(ctx, opts)
	if err != nil {
		return err
	}
	vs.API().Access = access
	if access.Open() {
		logrus.Warn("the query API is open to anyone who reaches it (atlas dev without ATLAS_API_TOKENS); every other command requires tokens")
	}
	chCfg, err := devChannelConfig(*channels)
	if err != nil {
		return err
	}
	if err := devTicketKeys(&chCfg); err != nil {
		return err
	}
	ch, err := startChannel(ctx, opts, chCfg)
	if err != nil {
		return err
	}
	components := []component{acc, reg, vs, ch}
	ready := allReady(components...)
	srv, addr, err := serveHTTP(ctx, *httpListen, httpHandler(ready, vs.API()))
	if err != nil {
		return err
	}
	if err := waitReady(ctx, ready); err != nil {
		return err
	}
	var gateways []string
	for _, l := range chCfg.Channels {
		gateways = append(gateways, fmt.Sprintf("%d=%s", l.Channel, ch.Channel.Addr(l.Channel)))
	}
	fmt.Printf("atlas dev ready: kafka=%s http=http://%s channels=%s\n", opts.Brokers[0], addr, strings.Join(gateways, ","))

	<-ctx.Done()
	shutdownHTTP(srv)
	for _, c := range components {
		<-c.Done()
	}
	return nil
}

// startBroker starts kfake on addr (host:port; port 0 picks a free one).
func startBroker(addr string) (*kfake.Cluster, error) {
	host, portText, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("kafka listen address %q: %w", addr, err)
	}
	port, err := strconv.Atoi(portText)
	if err != nil {
		return nil, fmt.Errorf("kafka listen port %q: %w", portText, err)
	}
	// Guarded: kfake's accept loop ends on the first accept error (out of file descriptors).
	listen := func(network, _ string) (net.Listener, error) {
		ln, err := net.Listen(network, net.JoinHostPort(host, strconv.Itoa(port)))
		if err != nil {
			return nil, err
		}
		return runtime.GuardListener(ln, "kafka", nil), nil
	}
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.Ports(port), kfake.ListenFn(listen))
	if err != nil {
		return nil, fmt.Errorf("embedded broker on %s: %w", addr, err)
	}
	return c, nil
}

// devTicketKeys gives the dev channel the development ticket key pair, created on first use
// under the storage dir, where `atlas login` finds it: the channel verifies with its public
// key and mints channel-change tickets with it.
func devTicketKeys(cfg *channel.Config) error {
	path := devKeyFile()
	if len(cfg.VerifyKeys) > 0 {
		return nil // the operator gave keys; use them
	}
	priv, created, err := ticket.LoadOrCreateKeyFile(path)
	if err != nil {
		return fmt.Errorf("development ticket key: %w", err)
	}
	cfg.VerifyKeys = []ed25519.PublicKey{priv.Public().(ed25519.PublicKey)}
	if cfg.TransferKey == nil {
		cfg.TransferKey = priv
	}
	logrus.WithFields(logrus.Fields{"file": path, "created": created}).Warn(
		"development ticket key pair: whoever reads this file can enter as any player; outside `atlas dev`, " +
			"give channels CHANNEL_TICKET_VERIFY_KEYS and keep the signing key with the login server")
	return nil
}

// waitReady polls until every component has recovered; it reports progress every 10 s so a
// long recovery does not look like a hang.
func waitReady(ctx context.Context, ready func() bool) error {
	return awaitReady(ctx, ready, func(waited time.Duration) {
		fmt.Fprintf(os.Stderr, "still recovering after %s\n", waited.Round(time.Second))
	})
}

// awaitReady polls ready until it holds (nil) or ctx ends (its error), calling progress with
// the time waited every 10 s meanwhile.
func awaitReady(ctx context.Context, ready func() bool, progress func(waited time.Duration)) error {
	start := time.Now()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	lastReport := start
	for !ready() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
		if time.Since(lastReport) >= 10*time.Second {
			lastReport = time.Now()
			progress(time.Since(start))
		}
	}
	return nil
}

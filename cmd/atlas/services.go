package main

import (
	"context"
	"net/http"
	"os"
	"time"

	"github.com/atlasstreams/atlas/console"
	"github.com/atlasstreams/atlas/processors/registry"
	"github.com/atlasstreams/atlas/processors/runtime"
	"github.com/atlasstreams/atlas/views"
	"github.com/sirupsen/logrus"
)

// component is a started part of the product: ready once recovered, done once stopped.
type component interface {
	Ready() bool
	Done() <-chan struct{}
}

func allReady(cs ...component) func() bool {
	return func() bool {
		for _, c := range cs {
			if !c.Ready() {
				return false
			}
		}
		return true
	}
}

// httpHandler serves the ops endpoints and, when api is set, the query API under /api/ and
// the console over it under /console/.
func httpHandler(ready func() bool, api *views.API) http.Handler {
	mux := runtime.OpsMux(ready)
	if api != nil {
		mux.Handle("/api/", api.Handler())
		mux.Handle(console.Path, console.Handler())
		mux.Handle("GET /console", http.RedirectHandler(console.Path, http.StatusMovedPermanently))
	}
	return mux
}

// serveUntilDone serves h until ctx ends, then waits for every component to stop.
func serveUntilDone(ctx context.Context, listen, what string, h http.Handler, brokers []string, cs ...component) error {
	srv, addr, err := serveHTTP(ctx, listen, h)
	if err != nil {
		return err
	}
	logrus.WithFields(logrus.Fields{"http": addr, "brokers": brokers}).Info(what + " started")
	go reportRecovery(ctx, what, allReady(cs...))
	<-ctx.Done()
	shutdownHTTP(srv)
	for _, c := range cs {
		<-c.Done()
	}
	return nil
}

// reportRecovery logs every 10 s while the tables are being read, and once when they are:
// a large table takes minutes, and /readyz alone says nothing to someone reading the log.
func reportRecovery(ctx context.Context, what string, ready func() bool) {
	start := time.Now()
	err := awaitReady(ctx, ready, func(waited time.Duration) {
		logrus.WithField("after", waited.Round(time.Second).String()).Info(what + " still recovering its tables")
	})
	if err == nil {
		logrus.WithField("took", time.Since(start).Round(time.Millisecond).String()).Info(what + " ready")
	}
}

// serviceSetup parses the flags every service command has (--http-listen) and reads the Kafka
// options, which must name brokers.
func serviceSetup(name string, args []string) (httpListen string, opts runtime.Options, err error) {
	fs := newFlagSet("atlas " + name)
	listen := fs.String("http-listen", envOr("ATLAS_HTTP_LISTEN", ":8080"), "address of /metrics, /healthz, /readyz (and the API and console of atlas api) (env ATLAS_HTTP_LISTEN)")
	if err := parseFlags(fs, name, args); err != nil {
		return "", opts, usageError{err}
	}
	opts, err = kafkaOptions()
	return *listen, opts, err
}

// runRegistry runs the account registry group. Run more instances to scale out.
func runRegistry(ctx context.Context, args []string) error {
	httpListen, opts, err := serviceSetup("registry", args)
	if err != nil {
		return err
	}
	reg, err := registry.Start(ctx, opts)
	if err != nil {
		return err
	}
	return serveUntilDone(ctx, httpListen, "registry", httpHandler(reg.Ready, nil), opts.Brokers, reg)
}

// runAPI serves the HTTP query API from views of the tables.
func runAPI(ctx context.Context, args []string) error {
	httpListen, opts, err := serviceSetup("api", args)
	if err != nil {
		return err
	}
	access, err := views.AccessFromEnv(os.Getenv, true)
	if err != nil {
		return err
	}
	v, err := views.Start(ctx, opts)
	if err != nil {
		return err
	}
	v.API().Access = access
	return serveUntilDone(ctx, httpListen, "api", httpHandler(v.Ready, v.API()), opts.Brokers, v)
}

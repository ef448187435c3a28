// Package metrics holds the Prometheus collectors every processor shares. They register with
// the default registry, which /metrics serves.
package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

var (
	// MessagesIn counts consumed messages by topic, type and outcome (ok, dead_letter,
	// duplicate, ignored).
	MessagesIn = promauto.NewCounterVec(prometheus.CounterOpts{
		Namespace: "atlas", Name: "messages_in_total",
		Help: "Messages consumed, by group, topic, message type and outcome.",
	}, []string{"group", "topic", "type", "outcome"})

	// MessagesOut counts produced messages by topic.
	MessagesOut = promauto.NewCounterVec(prometheus.CounterOpts{
		Namespace: "atlas", Name: "messages_out_total",
		Help: "Messages produced, by group and topic.",
	}, []string{"group", "topic"})

	// DeadLettered counts records sent to the dead-letter topic.
	DeadLettered = promauto.NewCounterVec(prometheus.CounterOpts{
		Namespace: "atlas", Name: "dead_lettered_total",
		Help: "Records refused and sent to the dead-letter topic, by group and source topic.",
	}, []string{"group", "topic"})

	// ProcessingSeconds is the time a callback took, by group and topic.
	ProcessingSeconds = promauto.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: "atlas", Name: "processing_seconds",
		Help:    "Time spent in a processor callback, by group and topic.",
		Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1},
	}, []string{"group", "topic"})

	// BcryptSeconds is the time of one bcrypt hash or comparison.
	BcryptSeconds = promauto.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: "atlas", Name: "bcrypt_seconds",
		Help:    "Time of one bcrypt operation, by operation (hash, compare).",
		Buckets: prometheus.ExponentialBuckets(0.001, 2, 14),
	}, []string{"op"})

	// AccountOutcomes counts decisions of the account service by kind and result, for
	// instance create/duplicate_name or login/INCORRECT_PASSWORD.
	AccountOutcomes = promauto.NewCounterVec(prometheus.CounterOpts{
		Namespace: "atlas", Name: "account_outcomes_total",
		Help: "Decisions of the account service, by command and outcome.",
	}, []string{"command", "outcome"})
)

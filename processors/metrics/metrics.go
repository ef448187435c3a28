// Package metrics holds the Prometheus collectors every processor shares. They register with
// the default registry, which /metrics serves.
package metrics

import (
	"github.com/atlasstreams/atlas/codecs"
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

	// BcryptInProcess counts bcrypt operations run in the service process because its
	// low-priority helper process could not run them (by reason).
	BcryptInProcess = promauto.NewCounterVec(prometheus.CounterOpts{
		Namespace: "atlas", Name: "bcrypt_in_process_total",
		Help: "bcrypt operations run in the service process instead of its low-priority helper, by reason (unavailable, timeout, backoff).",
	}, []string{"reason"})
	// BcryptSeconds is the time of one bcrypt hash or comparison.
	BcryptSeconds = promauto.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: "atlas", Name: "bcrypt_seconds",
		Help:    "Time of one bcrypt operation, by operation (hash, compare).",
		Buckets: prometheus.ExponentialBuckets(0.001, 2, 14),
	}, []string{"op"})

	// SystemErrors counts SYSTEM_ERROR answers by stage and cause (a closed set of names the
	// stages define: registration_in_flight, unsealable_password, ...).
	SystemErrors = promauto.NewCounterVec(prometheus.CounterOpts{
		Namespace: "atlas", Name: "account_system_errors_total",
		Help: "SYSTEM_ERROR answers of the account service, by group and cause.",
	}, []string{"group", "cause"})

	// AccountOutcomes counts decisions of the account service by kind and result, for
	// instance create/duplicate_name or login/INCORRECT_PASSWORD.
	AccountOutcomes = promauto.NewCounterVec(prometheus.CounterOpts{
		Namespace: "atlas", Name: "account_outcomes_total",
		Help: "Decisions of the account service, by command and outcome.",
	}, []string{"command", "outcome"})
)

// OtherType is the type label of a message whose type its contract does not name: labels come
// from closed sets only, so a producer that writes a thousand made-up types adds one series,
// not a thousand.
const OtherType = "other"

// catalogTypes holds every discriminator value of the catalog.
var catalogTypes = func() map[string]bool {
	m := map[string]bool{}
	for _, t := range codecs.CatalogTopicList() {
		for _, ty := range t.Types {
			m[ty.Value] = true
		}
	}
	return m
}()

// TypeLabel is the type label of a consumed message: typ when the catalog (or the caller's
// own closed set, extra) names it, "" as "none", anything else OtherType.
func TypeLabel(typ string, extra ...string) string {
	switch {
	case typ == "":
		return "none"
	case catalogTypes[typ]:
		return typ
	}
	for _, e := range extra {
		if typ == e {
			return typ
		}
	}
	return OtherType
}

// DeclareIn creates the MessagesIn series of a group's topic at 0, for each type (and
// OtherType) and outcome, so that dashboards and alerts see them before the first message.
func DeclareIn(group, topic string, types []string, outcomes ...string) {
	for _, typ := range append(append([]string{}, types...), OtherType) {
		for _, o := range outcomes {
			MessagesIn.WithLabelValues(group, topic, typ, o)
		}
	}
}

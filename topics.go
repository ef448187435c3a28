// Package atlas is the root of Atlas Streams: the names of every Kafka topic and consumer
// group the product uses. Public topic names come from the contract catalog (catalog_topics.go,
// generated); each may be overridden by the environment variable of the same name.
package atlas

import (
	"os"

	"github.com/lovoo/goka"
)

// TopicFromEnv resolves a topic name the way every upstream service does: the environment
// variable named env if it is set and non-empty, otherwise env itself.
func TopicFromEnv(env string) goka.Stream {
	if v := os.Getenv(env); v != "" {
		return goka.Stream(v)
	}
	return goka.Stream(env)
}

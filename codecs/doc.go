// Package codecs holds the wire formats of Atlas Streams' Kafka records.
//
// The public contract (contracts/*.yaml, described by contracts/FORMAT.md) is generated into
// catalog_gen.go by `go generate` (codecs/internal/gen; the model is codecs/internal/catalog):
//
//   - one Go type per topic's messages, named after the topic env name: COMMAND_TOPIC_CREATE_ACCOUNT
//     gives CreateAccountCommand, EVENT_TOPIC_ACCOUNT_SESSION_STATUS gives
//     AccountSessionStatusEvent. Field order is wire order, so encoding/json writes the catalog's
//     bytes exactly.
//   - for discriminated topics, a Type field (named after the discriminator key) with one
//     constant per value (AccountSessionCommandTypeCreate), and a Body holding a pointer to the
//     body type that value selects (AccountSessionCommandCreateBody), or nil for a null body.
//   - one struct per shape, under the shape's name; saga steps carry a payload typed by action.
//   - Decode<Message> functions, an Encode method and a goka.Codec (<Message>Codec) per message
//     type, and the CatalogTopics registry (keys, routes, types and decoders by topic name).
//
// Decoders ignore unknown keys, accept the fields newer upstream producers add, and never panic;
// their errors wrap ErrUnknownType (an unknown discriminator value, which the contract says to
// ignore) or ErrMalformed. Fields marked `optional` are pointers (or omitted-when-nil lists), so
// this project's producers leave them out by default.
//
// The other files of the package are written by hand: tenant headers (headers.go), 8-byte ids
// (keys.go), W3C trace context (trace.go), the dead-letter convention (deadletter.go) and the
// protobuf codec of internal topics (proto.go).
package codecs

//go:generate go run ./internal/gen

// Package atlas is the root of Atlas Streams: the names of every Kafka topic and consumer
// group the product uses. Public topic names come from the contract catalog (catalog_topics.go,
// generated); each may be overridden by the environment variable of the same name.
package atlas

import (
	"os"

	"github.com/lovoo/goka"
)

// NamePrefix (ATLAS_NAME_PREFIX, empty by default) goes before every topic and consumer
// group name that its own variable does not set. Several isolated copies of the product can
// then share one Kafka cluster: the real-Kafka test lane gives each run a random prefix and
// deletes only the topics and groups that carry it. runtime.OptionsFromEnv checks its
// characters.
var NamePrefix = os.Getenv("ATLAS_NAME_PREFIX")

// TopicFromEnv resolves a topic name the way every upstream service does: the environment
// variable named env if it is set and non-empty, otherwise env itself (after NamePrefix).
func TopicFromEnv(env string) goka.Stream {
	if v := os.Getenv(env); v != "" {
		return goka.Stream(v)
	}
	return goka.Stream(NamePrefix + env)
}

// nameVariables are the variables envOr has read, for the list of settings.
var nameVariables []string

// NameVariables are the environment variables that rename this product's own topics and
// groups (ATLAS_DEAD_LETTER_TOPIC, ATLAS_ACCOUNTS_GROUP, ...).
func NameVariables() []string { return append([]string(nil), nameVariables...) }

// envOr resolves a name of this product (not of the catalog) from its environment variable,
// else def after NamePrefix.
func envOr(env, def string) string {
	nameVariables = append(nameVariables, env)
	if v := os.Getenv(env); v != "" {
		return v
	}
	return NamePrefix + def
}

// Consumer groups. Groups that keep a table or a loop name Kafka topics after themselves
// (`<group>-table`, `<group>-loop`), so their names use only Kafka's topic characters; the two
// groups named by the contract ("Account Service", "Channel Service - {id}") keep no table.
var (
	// AccountIngressGroup is the contract's consumer group of the two account command topics.
	AccountIngressGroup = goka.Group(envOr("ATLAS_ACCOUNT_INGRESS_GROUP", "Account Service"))
	// AccountNamesGroup owns tenant/name -> id, password hash, failed logins.
	AccountNamesGroup = goka.Group(envOr("ATLAS_ACCOUNT_NAMES_GROUP", "atlas-account-names"))
	// AccountIDsGroup owns the id sequence of each tenant.
	AccountIDsGroup = goka.Group(envOr("ATLAS_ACCOUNT_IDS_GROUP", "atlas-account-ids"))
	// AccountsGroup owns tenant/id -> account and its login sessions.
	AccountsGroup = goka.Group(envOr("ATLAS_ACCOUNTS_GROUP", "atlas-account-accounts"))
	// AccountTimersGroup owns the deadlines of sessions in transition.
	AccountTimersGroup = goka.Group(envOr("ATLAS_ACCOUNT_TIMERS_GROUP", "atlas-account-timers"))
	// RegistryGroup owns tenant/id -> logged in, built from EVENT_TOPIC_ACCOUNT_STATUS.
	RegistryGroup = goka.Group(envOr("ATLAS_REGISTRY_GROUP", "atlas-account-registry"))
)

// ChannelGroup is the consumer group of one channel instance: one group per instance, so that
// every instance sees every event.
func ChannelGroup(serviceID string) goka.Group {
	return goka.Group(NamePrefix + "Channel Service - " + serviceID)
}

// Internal and operational topics. Their values are protobuf (internal) or raw copies
// (dead-letter); none is part of the public contract.
var (
	// DeadLetterTopic receives every record a consumer refused, with its bytes and headers.
	DeadLetterTopic = goka.Stream(envOr("ATLAS_DEAD_LETTER_TOPIC", "atlas-dead-letter"))
	// AccountAdminTopic carries operator commands (ban, unban, license) as JSON.
	AccountAdminTopic = goka.Stream(envOr("ATLAS_ACCOUNT_ADMIN_TOPIC", "atlas-account-admin"))
	// AccountNameCommands feeds the names stage, keyed tenant/name.
	AccountNameCommands = goka.Stream(envOr("ATLAS_ACCOUNT_NAME_COMMANDS_TOPIC", "atlas-account-name-commands"))
	// AccountIDRequests feeds the ids stage, keyed by tenant.
	AccountIDRequests = goka.Stream(envOr("ATLAS_ACCOUNT_ID_REQUESTS_TOPIC", "atlas-account-id-requests"))
	// AccountCommands feeds the accounts stage, keyed tenant/id.
	AccountCommands = goka.Stream(envOr("ATLAS_ACCOUNT_COMMANDS_TOPIC", "atlas-account-commands"))
	// AccountTimerCommands feeds the timers stage, keyed by timer bucket.
	AccountTimerCommands = goka.Stream(envOr("ATLAS_ACCOUNT_TIMER_COMMANDS_TOPIC", "atlas-account-timer-commands"))
)

// Tables of the stateful groups.
var (
	AccountNamesTable  = goka.GroupTable(AccountNamesGroup)
	AccountIDsTable    = goka.GroupTable(AccountIDsGroup)
	AccountsTable      = goka.GroupTable(AccountsGroup)
	AccountTimersTable = goka.GroupTable(AccountTimersGroup)
	RegistryTable      = goka.GroupTable(RegistryGroup)
)

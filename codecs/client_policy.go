package codecs

// ClientPolicy says whether a player's client may send a command type through a channel
// gateway, and which of its keys the gateway takes from the player's session. The table
// (client_policy_gen.go) is generated from contracts/policy/client.yaml, default deny: a type
// the policy does not allow is server-only.
type ClientPolicy struct {
	// Allowed: a client may send this type. Otherwise Reason says why it is server-only.
	Allowed bool
	Reason  string
	// Session maps key paths ("characterId" at the top level, "body.senderId" in the body) to
	// the session value the gateway writes there, whatever the client sent: who acts and
	// where. Keys that name another player (a note's recipient) are not in it.
	Session map[string]SessionValue
	// Require maps key paths to the JSON value they must hold (absent: the zero value).
	Require map[string]string
	// Optional lists the optional key paths of the contract era a client may give; the
	// required ones are what the type's codec writes.
	Optional []string
	// Values maps key paths to the closed set of JSON values (compact) the catalog allows.
	Values map[string][]string
}

// SessionValue is a value the gateway knows from the session.
type SessionValue uint8

// The session values.
const (
	SessionCharacter SessionValue = iota + 1
	SessionAccount
	SessionWorld
	SessionChannel
	SessionMap
	SessionInstance
)

// ClientPolicyFor returns the decision for a topic's type ("" for a flat topic). A topic or
// type the channel does not produce is server-only.
func ClientPolicyFor(topic, typ string) ClientPolicy {
	if p, ok := clientPolicies[topic+" "+typ]; ok {
		return p
	}
	return ClientPolicy{Reason: "not a command the channel produces"}
}

// ClientPolicyTypes lists every "TOPIC TYPE" the table decides, for tests and documentation.
func ClientPolicyTypes() []string {
	out := make([]string, 0, len(clientPolicies))
	for k := range clientPolicies {
		out = append(out, k)
	}
	return out
}

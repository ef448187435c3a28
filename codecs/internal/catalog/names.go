package catalog

import (
	"strings"
	"unicode"
)

// initialisms are written upper-case in Go names (Go review convention), so accountId becomes
// AccountID and ipAddress IPAddress. The list is kept to what reads naturally; hwid stays Hwid.
var initialisms = map[string]bool{
	"id": true, "ip": true, "uuid": true, "url": true, "api": true, "json": true, "http": true,
}

// words splits a JSON key or an env name into words: at underscores and hyphens, at
// lower-to-upper case changes and between letters and digits.
func words(s string) []string {
	var out []string
	var cur []rune
	flush := func() {
		if len(cur) > 0 {
			out = append(out, string(cur))
			cur = cur[:0]
		}
	}
	rs := []rune(s)
	for i, r := range rs {
		switch {
		case r == '_' || r == '-' || r == ' ' || r == '.' || r == '/':
			flush()
			continue
		case i > 0 && unicode.IsUpper(r) && unicode.IsLower(rs[i-1]):
			flush()
		case i > 0 && unicode.IsDigit(r) != unicode.IsDigit(rs[i-1]):
			flush()
		}
		cur = append(cur, r)
	}
	flush()
	return out
}

// Camel joins words as an exported Go identifier, upper-casing initialisms.
func Camel(s string) string {
	var b strings.Builder
	for _, w := range words(s) {
		lw := strings.ToLower(w)
		if initialisms[lw] {
			b.WriteString(strings.ToUpper(lw))
			continue
		}
		rs := []rune(lw)
		rs[0] = unicode.ToUpper(rs[0])
		b.WriteString(string(rs))
	}
	return b.String()
}

// GoFieldName is the Go field name of a JSON key: accountId -> AccountID, account_id ->
// AccountID, skilId -> SkilID.
func GoFieldName(jsonKey string) string { return Camel(jsonKey) }

// TopicVarName is the name of a topic's package variable: COMMAND_TOPIC_CREATE_ACCOUNT ->
// CommandTopicCreateAccount.
func TopicVarName(env string) string { return Camel(env) }

// MessageName is the Go type of a topic's messages: the env name without its
// COMMAND_TOPIC_/EVENT_TOPIC_ prefix, then Command or Event.
func MessageName(env string) string {
	switch {
	case strings.HasPrefix(env, "COMMAND_TOPIC_"):
		return Camel(strings.TrimPrefix(env, "COMMAND_TOPIC_")) + "Command"
	case strings.HasPrefix(env, "EVENT_TOPIC_"):
		return Camel(strings.TrimPrefix(env, "EVENT_TOPIC_")) + "Event"
	}
	return Camel(env) + "Message"
}

// ValueName is the Go spelling of a discriminator or action value: LOGGED_IN -> LoggedIn,
// award_mesos -> AwardMesos.
func ValueName(v string) string {
	n := Camel(v)
	if n == "" {
		return "Empty"
	}
	return n
}

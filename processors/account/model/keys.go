// Package model holds what the account stages share: table keys, configuration, the session
// state machine over an account, and the outbox that makes every stage idempotent.
package model

import (
	"fmt"
	"hash/fnv"
	"strconv"
	"strings"

	"github.com/atlasstreams/atlas/codecs"
)

// Table keys put the tenant first, so that no key of one tenant can equal a key of another
// and a tenant's rows are one key range. Ids are zero-padded so that key order is id order.
const (
	accountInfix = "/a/"
	nameInfix    = "/n/"
)

// AccountKey is the accounts table key of an account.
func AccountKey(t codecs.Tenant, id uint32) string {
	return AccountKeyFor(t.String(), id)
}

// AccountKeyPrefix is the common prefix of every account key of a tenant.
func AccountKeyPrefix(t codecs.Tenant) string { return t.String() + accountInfix }

// NameKey is the names table key of a name: uniqueness is up to compatibility forms and case
// (NameFold).
func NameKey(t codecs.Tenant, name string) string {
	return t.String() + nameInfix + NameFold(name)
}

// ParseAccountKey splits an accounts table key.
func ParseAccountKey(key string) (codecs.Tenant, uint32, error) {
	i := strings.Index(key, accountInfix)
	if i < 0 {
		return codecs.Tenant{}, 0, fmt.Errorf("%q is not an account key", key)
	}
	t, err := codecs.ParseTenantString(key[:i])
	if err != nil {
		return t, 0, err
	}
	id, err := strconv.ParseUint(key[i+len(accountInfix):], 10, 32)
	if err != nil {
		return t, 0, fmt.Errorf("%q is not an account key: %w", key, err)
	}
	return t, uint32(id), nil
}

// SplitAccountKey splits an accounts table key into the tenant's key prefix (what
// AccountKeyPrefix returns) and the id, without parsing the tenant: for code that only
// groups keys by tenant. ok is false for any other key.
func SplitAccountKey(key string) (prefix string, id uint32, ok bool) {
	const digits = 10 // AccountKeyFor pads ids to ten digits
	if len(key) < len(accountInfix)+digits || key[len(key)-digits-len(accountInfix):len(key)-digits] != accountInfix {
		return "", 0, false
	}
	n, err := strconv.ParseUint(key[len(key)-digits:], 10, 32)
	if err != nil {
		return "", 0, false
	}
	return key[:len(key)-digits], uint32(n), true
}

// Timer rows. A deadline lives in the row of its time slot (the tick interval it falls in,
// rounded up) and of its account's shard: a tick of a slot visits only the deadlines due in
// it, so expiry work follows the number of sessions in transition, and no row grows with the
// number of accounts. Slots are zero-padded so rows sort by time.

// TimerSlot is the slot of a deadline: the first slot boundary at or after it.
func TimerSlot(deadlineMs, slotMs int64) int64 { return (deadlineMs + slotMs - 1) / slotMs }

// TimerShard spreads the deadlines of one slot over shards by account.
func TimerShard(accountKey string, shards int) int {
	h := fnv.New32a()
	_, _ = h.Write([]byte(accountKey))
	return int(h.Sum32() % uint32(shards))
}

// TimerRowKey is the timers table key of a slot's shard.
func TimerRowKey(slot int64, shard int) string { return fmt.Sprintf("%012d/%03d", slot, shard) }

// ParseTimerRowKey splits a timers table key.
func ParseTimerRowKey(key string) (slot int64, shard int, err error) {
	if _, err = fmt.Sscanf(key, "%d/%d", &slot, &shard); err != nil {
		return 0, 0, fmt.Errorf("%q is not a timer row key: %w", key, err)
	}
	return slot, shard, nil
}

// TenantKeyOf is the tenant part of any table key; it is also the ids table's key.
func TenantKeyOf(key string) string {
	if i := strings.IndexByte(key, '/'); i >= 0 {
		return key[:i]
	}
	return key
}

// AccountKeyFor is the account key, in the tenant of key (any table key), of account id.
func AccountKeyFor(key string, id uint32) string {
	tenant := TenantKeyOf(key)
	b := make([]byte, 0, len(tenant)+len(accountInfix)+10)
	b = append(append(b, tenant...), accountInfix...)
	// The id zero-padded to ten digits (fmt's %010d, without its cost on every command).
	var digits [10]byte
	for i := len(digits) - 1; i >= 0; i-- {
		digits[i] = byte('0' + id%10)
		id /= 10
	}
	return string(append(b, digits[:]...))
}

// ParseAccountKeyPrefix is the tenant of an AccountKeyPrefix.
func ParseAccountKeyPrefix(prefix string) (codecs.Tenant, error) {
	t, ok := strings.CutSuffix(prefix, accountInfix)
	if !ok {
		return codecs.Tenant{}, fmt.Errorf("%q is not an account key prefix", prefix)
	}
	return codecs.ParseTenantString(t)
}

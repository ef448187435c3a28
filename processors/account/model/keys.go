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

// NameKey is the names table key of a name: uniqueness is case-insensitive.
func NameKey(t codecs.Tenant, name string) string {
	return t.String() + nameInfix + strings.ToLower(name)
}

// TenantKey is the ids table key of a tenant.
func TenantKey(t codecs.Tenant) string { return t.String() }

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

// TimerBucketKey is the timers table key of the bucket that holds the deadlines of the
// account with key accountKey. Buckets spread deadlines over the timers stage's partitions;
// a tick visits each bucket, so expiry work follows the number of sessions in transition.
func TimerBucketKey(accountKey string, buckets int) string {
	h := fnv.New32a()
	_, _ = h.Write([]byte(accountKey))
	return BucketKey(int(h.Sum32() % uint32(buckets)))
}

// BucketKey names bucket i.
func BucketKey(i int) string { return fmt.Sprintf("bucket-%04d", i) }

// TenantKeyOf is the tenant part of any table key.
func TenantKeyOf(key string) string {
	if i := strings.IndexByte(key, '/'); i >= 0 {
		return key[:i]
	}
	return key
}

// AccountKeyFor is the account key, in the tenant of key (any table key), of account id.
func AccountKeyFor(key string, id uint32) string {
	return TenantKeyOf(key) + accountInfix + fmt.Sprintf("%010d", id)
}

package model

import (
	"strconv"
	"time"

	"github.com/atlasstreams/atlas/processors/account/accountpb"
	"github.com/atlasstreams/atlas/processors/account/seal"
	"github.com/atlasstreams/atlas/processors/metrics"
)

// Passwords is everything the account stages do with a password. Plaintext exists only inside
// these calls and the ingress stage's callback.
type Passwords struct {
	Cost   int
	Sealer *seal.Sealer
}

// Hash makes the bcrypt hash of a new password (on the bcrypt helper, bcryptpool.go).
func (p Passwords) Hash(plain []byte) (hash []byte, err error) {
	defer observe("hash", time.Now())
	res := bcryptDo(bcryptOp{cost: p.Cost, plain: plain})
	return res.hash, res.err
}

// Matches reports whether plain is the password of hash.
func (p Passwords) Matches(hash, plain []byte) bool {
	defer observe("compare", time.Now())
	return bcryptDo(bcryptOp{compare: true, hash: hash, plain: plain}).match
}

// Seal protects a login's password for the names stage; context binds it to its command.
func (p Passwords) Seal(plain, context []byte) []byte { return p.Sealer.Seal(plain, context) }

// Open recovers a sealed password.
func (p Passwords) Open(sealed, context []byte) ([]byte, error) {
	return p.Sealer.Open(sealed, context)
}

// SealContext binds a sealed password to the name key and the command it came with, so that it
// cannot be replayed into another name's or another command's check.
func SealContext(nameKey string, id *accountpb.CommandID) []byte {
	return []byte(nameKey + "|" + sourceKey(id, "") + "@" + itoa(id.GetOffset()))
}

func observe(op string, start time.Time) {
	metrics.BcryptSeconds.WithLabelValues(op).Observe(time.Since(start).Seconds())
}

// Wipe overwrites a plaintext password once it is no longer needed, so it does not linger in
// memory longer than the call that used it.
func Wipe(b []byte) {
	for i := range b {
		b[i] = 0
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

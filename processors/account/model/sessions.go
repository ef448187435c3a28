package model

import (
	"bytes"
	"strings"

	"github.com/atlasstreams/atlas/processors/account/accountpb"
)

// Session states (the contract's values).
const (
	StateNotLoggedIn uint32 = 0
	StateLoggedIn    uint32 = 1
	StateTransition  uint32 = 2
)

// Issuers of session commands (the contract's `author`), compared upper-cased.
const (
	IssuerLogin    = "LOGIN"
	IssuerChannel  = "CHANNEL"
	IssuerInternal = "INTERNAL"
)

// NormalizeIssuer upper-cases an issuer and reports whether it is one of the three known.
func NormalizeIssuer(s string) (string, bool) {
	u := strings.ToUpper(s)
	switch u {
	case IssuerLogin, IssuerChannel, IssuerInternal:
		return u, true
	}
	return u, false
}

var nilSession = make([]byte, 16)

// IsNilSession reports the all-zero session id, which in a logout means every session.
func IsNilSession(id []byte) bool { return bytes.Equal(id, nilSession) }

// State is the account's state: the minimum over its session entries, 0 when it has none.
func State(a *accountpb.Account) uint32 {
	if len(a.GetSessions()) == 0 {
		return StateNotLoggedIn
	}
	min := a.Sessions[0].State
	for _, s := range a.Sessions[1:] {
		if s.State < min {
			min = s.State
		}
	}
	return min
}

func findSession(a *accountpb.Account, id []byte, issuer string) int {
	for i, s := range a.Sessions {
		if s.Issuer == issuer && bytes.Equal(s.SessionId, id) {
			return i
		}
	}
	return -1
}

// Login applies a login of session id by issuer at nowMs and reports whether it was allowed.
//   - LOGIN: only while the account's state is 0; adds (id, LOGIN) = 1.
//   - CHANNEL: only while some entry is in transition; all entries become the one (id, CHANNEL) = 1.
//   - INTERNAL (and anything else) cannot log in.
func Login(a *accountpb.Account, id []byte, issuer string, nowMs int64) bool {
	entry := &accountpb.Session{SessionId: id, Issuer: issuer, State: StateLoggedIn, SinceMs: nowMs}
	switch issuer {
	case IssuerLogin:
		if State(a) > StateNotLoggedIn {
			return false
		}
		a.Sessions = append(a.Sessions, entry)
		a.LastLoginMs = nowMs
		return true
	case IssuerChannel:
		for _, s := range a.Sessions {
			if s.State == StateTransition {
				a.Sessions = []*accountpb.Session{entry}
				return true
			}
		}
	}
	return false
}

// Transition moves the entry (id, issuer) to the transition state; it must exist and be above 0.
func Transition(a *accountpb.Account, id []byte, issuer string, nowMs int64) bool {
	i := findSession(a, id, issuer)
	if i < 0 || a.Sessions[i].State == StateNotLoggedIn {
		return false
	}
	a.Sessions[i].State = StateTransition
	a.Sessions[i].SinceMs = nowMs
	return true
}

// Logout removes the entry (id, issuer), or every entry for the nil session id. An entry in
// transition is kept: the session is moving to another server, not leaving. It reports whether
// the logout was refused for that reason.
func Logout(a *accountpb.Account, id []byte, issuer string) (refused bool) {
	if IsNilSession(id) {
		a.Sessions = nil
		return false
	}
	i := findSession(a, id, issuer)
	if i < 0 {
		return false
	}
	if a.Sessions[i].State == StateTransition {
		return true
	}
	a.Sessions = append(a.Sessions[:i], a.Sessions[i+1:]...)
	return false
}

// ExpireTransitions removes the transition entries that began timeoutMs or more before nowMs
// and reports how many it removed.
func ExpireTransitions(a *accountpb.Account, nowMs, timeoutMs int64) int {
	kept := a.Sessions[:0]
	for _, s := range a.Sessions {
		if s.State == StateTransition && nowMs-s.SinceMs >= timeoutMs {
			continue
		}
		kept = append(kept, s)
	}
	removed := len(a.Sessions) - len(kept)
	for i := len(kept); i < len(a.Sessions); i++ {
		a.Sessions[i] = nil
	}
	a.Sessions = kept
	if len(a.Sessions) == 0 {
		a.Sessions = nil
	}
	return removed
}

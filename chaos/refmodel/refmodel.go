// Package refmodel is a reference model of the account service's rules, written apart from the
// processors and as plainly as possible: one map of accounts per tenant, every rule of
// spec/account.md in the order the specification states it. The chaos suite and the model
// tests replay a command log through it and compare its events and final state with what the
// real pipeline produced.
//
// It leaves out what depends on processing order across accounts (which id a new account
// gets: the caller says, from what the service announced) and on wall-clock time beyond the
// command's own timestamp.
package refmodel

import (
	"encoding/json"
	"fmt"
	"github.com/atlasstreams/atlas"
	"strings"
)

// Rules are the tunable rules (the service's defaults unless a test changes them).
type Rules struct {
	AutoRegister        bool
	MaxFailedLogins     int
	FailedLoginWindowMs int64
	TransitionTimeoutMs int64
}

// DefaultRules are the specification's defaults.
func DefaultRules() Rules {
	return Rules{AutoRegister: true, MaxFailedLogins: 5, FailedLoginWindowMs: 10 * 60 * 1000, TransitionTimeoutMs: 5000}
}

// Tenant identifies a tenant: its id, region and major version are all the rules need.
type Tenant struct {
	ID     string
	Region string
	Major  int
}

// Event is an expected public event: its topic (STATUS or SESSION), key (account id) and the
// exact JSON.
type Event struct {
	Topic string
	Key   uint32
	JSON  string
}

// Topics of Event, as this process names them (an env var or ATLAS_NAME_PREFIX may rename
// them).
var (
	Status  = string(atlas.EventTopicAccountStatus)
	Session = string(atlas.EventTopicAccountSessionStatus)
)

type entry struct {
	state int
	since int64
}

type sessionKey struct {
	id     string
	issuer string
}

// Account is the model's view of an account.
type Account struct {
	ID          uint32
	Name        string
	Password    string
	Gender      int
	Tos         bool
	Banned      bool
	BanReason   int
	BanUntilMs  int64
	Failed      int
	FailedSince int64
	sessions    map[sessionKey]entry
}

// State is the minimum over the session entries, 0 without any.
func (a *Account) State() int {
	if len(a.sessions) == 0 {
		return 0
	}
	min := 3
	for _, e := range a.sessions {
		if e.state < min {
			min = e.state
		}
	}
	return min
}

type tenantState struct {
	byID   map[uint32]*Account
	byName map[string]*Account
}

// Model holds every tenant's accounts.
type Model struct {
	rules   Rules
	tenants map[string]*tenantState
}

// New makes an empty model.
func New(r Rules) *Model { return &Model{rules: r, tenants: map[string]*tenantState{}} }

func (m *Model) tenant(t Tenant) *tenantState {
	ts := m.tenants[t.ID+t.Region+fmt.Sprint(t.Major)]
	if ts == nil {
		ts = &tenantState{byID: map[uint32]*Account{}, byName: map[string]*Account{}}
		m.tenants[t.ID+t.Region+fmt.Sprint(t.Major)] = ts
	}
	return ts
}

// Account returns the model's account (nil if none).
func (m *Model) Account(t Tenant, id uint32) *Account { return m.tenant(t).byID[id] }

// Accounts returns every account of a tenant.
func (m *Model) Accounts(t Tenant) map[uint32]*Account { return m.tenant(t).byID }

func status(id uint32, name, s string) Event {
	b, _ := json.Marshal(name)
	return Event{Status, id, fmt.Sprintf(`{"account_id":%d,"name":%s,"status":%q}`, id, b, s)}
}

// sessionEvent is a session status event. Every one names the account ("" when the service
// does not know it, or not yet: before the password was compared), as current upstream's
// consumers read it; seed readers ignore the key.
func sessionEvent(sid string, id uint32, name, typ, body string) Event {
	n, _ := json.Marshal(name)
	return Event{Session, id, fmt.Sprintf(`{"sessionId":%q,"accountId":%d,"accountName":%s,"type":%q,"body":%s}`, sid, id, n, typ, body)}
}

// sessionError is an ERROR; ip is the login's address ("" on the state-change path). The
// model's clients send no hardware id.
func sessionError(sid string, id uint32, name, code string, reason int, until int64, ip string) Event {
	return sessionEvent(sid, id, name, "ERROR", fmt.Sprintf(`{"code":%q,"reason":%d,"until":%d,"ipAddress":%q,"hwid":""}`, code, reason, until, ip))
}

// Create applies a CreateCommand; id is the id the service gave the account (ignored when the
// name exists).
func (m *Model) Create(t Tenant, name, password string, id uint32, nowMs int64) []Event {
	ts := m.tenant(t)
	if ts.byName[strings.ToLower(name)] != nil {
		return nil
	}
	return m.create(t, ts, name, password, id)
}

func (m *Model) create(t Tenant, ts *tenantState, name, password string, id uint32) []Event {
	a := &Account{ID: id, Name: name, Password: password, sessions: map[sessionKey]entry{}}
	if t.Region == "GMS" && t.Major >= 87 {
		a.Gender = 10
	}
	ts.byID[id] = a
	ts.byName[strings.ToLower(name)] = a
	return []Event{status(id, name, "CREATED")}
}

// expire drops transition entries past the timeout and says LOGGED_OUT when that ends the
// account's presence.
func (m *Model) expire(a *Account, nowMs int64) []Event {
	before := a.State()
	for k, e := range a.sessions {
		if e.state == 2 && nowMs-e.since >= m.rules.TransitionTimeoutMs {
			delete(a.sessions, k)
		}
	}
	if before > 0 && a.State() == 0 {
		return []Event{status(a.ID, a.Name, "LOGGED_OUT")}
	}
	return nil
}

// Login applies a login attempt (SessionCommand CREATE) from address ip. newID is the id an
// auto-registered account gets.
func (m *Model) Login(t Tenant, sid, name, password, ip string, newID uint32, nowMs int64) []Event {
	ts := m.tenant(t)
	a := ts.byName[strings.ToLower(name)]
	var out []Event
	if a != nil && a.Failed >= m.rules.MaxFailedLogins && nowMs-a.FailedSince < m.rules.FailedLoginWindowMs {
		return []Event{sessionError(sid, a.ID, "", "TOO_MANY_ATTEMPTS", 0, 0, ip)}
	}
	if a == nil {
		if !m.rules.AutoRegister {
			return []Event{sessionError(sid, 0, "", "NOT_REGISTERED", 0, 0, ip)}
		}
		out = m.create(t, ts, name, password, newID)
		a = ts.byID[newID]
	} else {
		if a.Password != password {
			if a.Failed == 0 || nowMs-a.FailedSince >= m.rules.FailedLoginWindowMs {
				a.Failed, a.FailedSince = 0, nowMs
			}
			a.Failed++
			return append(out, sessionError(sid, a.ID, a.Name, "INCORRECT_PASSWORD", 0, 0, ip))
		}
		a.Failed, a.FailedSince = 0, 0
		// The account's own checks start here, after the password: only now is the account
		// itself touched, and a transition past its timeout is dropped first.
		out = m.expire(a, nowMs)
	}
	if a.Banned && (a.BanUntilMs == 0 || nowMs < a.BanUntilMs) {
		return append(out, sessionError(sid, a.ID, a.Name, "DELETED_OR_BLOCKED", a.BanReason, a.BanUntilMs, ip))
	}
	if a.State() > 0 {
		return append(out, sessionError(sid, a.ID, a.Name, "ALREADY_LOGGED_IN", 0, 0, ip))
	}
	a.sessions[sessionKey{sid, "LOGIN"}] = entry{1, nowMs}
	out = append(out, status(a.ID, a.Name, "LOGGED_IN"))
	if !a.Tos && t.Region != "JMS" {
		return append(out, sessionEvent(sid, a.ID, a.Name, "REQUEST_LICENSE_AGREEMENT", "null"))
	}
	return append(out, sessionEvent(sid, a.ID, a.Name, "CREATED", fmt.Sprintf(`{"ipAddress":%q,"hwid":""}`, ip)))
}

// Progress applies PROGRESS_STATE; params is the JSON the command carried.
func (m *Model) Progress(t Tenant, sid string, id uint32, issuer string, state int, params string, nowMs int64) []Event {
	a := m.tenant(t).byID[id]
	if a == nil {
		return []Event{sessionError(sid, 0, "", "NOT_REGISTERED", 0, 0, "")}
	}
	issuer = strings.ToUpper(issuer)
	out := m.expire(a, nowMs)
	if a.State() == 0 {
		return append(out, sessionError(sid, id, a.Name, "SYSTEM_ERROR", 0, 0, ""))
	}
	changed := func() []Event {
		return append(out, sessionEvent(sid, id, a.Name, "STATE_CHANGED", fmt.Sprintf(`{"state":%d,"params":%s}`, state, params)))
	}
	switch state {
	case 0:
		out = append(out, m.logout(a, sid, issuer)...)
		return changed()
	case 1:
		if !m.login(a, sid, issuer, nowMs) {
			return append(out, sessionError(sid, id, a.Name, "SYSTEM_ERROR", 0, 0, ""))
		}
		out = append(out, status(id, a.Name, "LOGGED_IN"))
		return changed()
	case 2:
		k := sessionKey{sid, issuer}
		e, ok := a.sessions[k]
		if !ok || e.state == 0 {
			return append(out, sessionError(sid, id, a.Name, "SYSTEM_ERROR", 0, 0, ""))
		}
		a.sessions[k] = entry{2, nowMs}
		return changed()
	}
	return append(out, sessionError(sid, id, a.Name, "SYSTEM_ERROR", 0, 0, ""))
}

func (m *Model) login(a *Account, sid, issuer string, nowMs int64) bool {
	switch issuer {
	case "LOGIN":
		if a.State() > 0 {
			return false
		}
		a.sessions[sessionKey{sid, issuer}] = entry{1, nowMs}
		return true
	case "CHANNEL":
		for _, e := range a.sessions {
			if e.state == 2 {
				a.sessions = map[sessionKey]entry{{sid, issuer}: {1, nowMs}}
				return true
			}
		}
	}
	return false
}

func (m *Model) logout(a *Account, sid, issuer string) []Event {
	before := a.State()
	if sid == "00000000-0000-0000-0000-000000000000" {
		a.sessions = map[sessionKey]entry{}
	} else if e, ok := a.sessions[sessionKey{sid, issuer}]; ok && e.state != 2 {
		delete(a.sessions, sessionKey{sid, issuer})
	}
	if before > 0 && a.State() == 0 {
		return []Event{status(a.ID, a.Name, "LOGGED_OUT")}
	}
	return nil
}

// Logout applies LOGOUT.
func (m *Model) Logout(t Tenant, sid string, id uint32, issuer string, nowMs int64) []Event {
	a := m.tenant(t).byID[id]
	if a == nil {
		return nil
	}
	out := m.expire(a, nowMs)
	return append(out, m.logout(a, sid, strings.ToUpper(issuer))...)
}

// Expire is the passing of time (a tick) at nowMs.
func (m *Model) Expire(t Tenant, id uint32, nowMs int64) []Event {
	a := m.tenant(t).byID[id]
	if a == nil {
		return nil
	}
	return m.expire(a, nowMs)
}

// Ban, Unban and SetTos are the operator commands.
func (m *Model) Ban(t Tenant, id uint32, reason int, untilMs int64) {
	if a := m.tenant(t).byID[id]; a != nil {
		a.Banned, a.BanReason, a.BanUntilMs = true, reason, untilMs
	}
}

// Unban lifts a ban.
func (m *Model) Unban(t Tenant, id uint32) {
	if a := m.tenant(t).byID[id]; a != nil {
		a.Banned, a.BanReason, a.BanUntilMs = false, 0, 0
	}
}

// SetTos records the license answer.
func (m *Model) SetTos(t Tenant, id uint32, accepted bool) {
	if a := m.tenant(t).byID[id]; a != nil {
		a.Tos = accepted
	}
}

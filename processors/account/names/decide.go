// Package names is the names stage of the account service: the table tenant/name -> account
// id, password hash and failed logins. It makes names unique per tenant (case-insensitively),
// asks the ids stage for new ids, and checks login passwords (the first three login checks:
// attempts, registration, password) before the accounts stage sees the login.
package names

import (
	"github.com/atlasstreams/atlas"
	"github.com/atlasstreams/atlas/processors/account/accountpb"
	"github.com/atlasstreams/atlas/processors/account/model"
	"google.golang.org/protobuf/proto"
)

// Outcomes of a decision, for metrics and logs.
const (
	OutcomeRegistered     = "registered"
	OutcomeDuplicateName  = "duplicate_name"
	OutcomeBound          = "id_bound"
	OutcomeStaleID        = "stale_id"
	OutcomeVerified       = "verified"
	OutcomeAutoRegistered = "auto_registered"
	OutcomeLocked         = model.CodeTooManyAttempts
	OutcomeUnknownName    = model.CodeNotRegistered
	OutcomeWrongPassword  = model.CodeIncorrectPassword
	OutcomeRegistering    = "registration_in_flight"
	OutcomeLoginAwaitsID  = "login_awaits_id"
	OutcomeUnsealable     = "unsealable_password"
	OutcomeHashFailed     = "hash_failed"
	OutcomeUnknownCommand = "unknown_command"
	OutcomeUnregistered   = "unregistered"
	OutcomeNameReused     = "name_of_another_account"
)

// Result is what a decision yields: the entry to store (nil: the name has none), the records to
// emit, and an outcome for metrics. An unchanged entry is stored too: with the dedupe record of
// the command, so that a redelivery re-emits exactly what this decision emitted.
type Result struct {
	Entry   *accountpb.NameEntry
	Outs    []model.Out
	Outcome string
	Remove  bool // the row is to be removed (a tombstone)
}

// Decide is the names stage's decision. It is pure but for the password work (bcrypt and
// unsealing), which pw performs. It never mutates entry.
func Decide(cfg model.Config, pw model.Passwords, key string, entry *accountpb.NameEntry, cmd *accountpb.NameCommand) Result {
	d := decision{cfg: cfg, pw: pw, key: key, cmd: cmd, now: cmd.GetMeta().GetTimestampMs()}
	if entry != nil {
		d.entry = proto.Clone(entry).(*accountpb.NameEntry)
	}
	switch k := cmd.Kind.(type) {
	case *accountpb.NameCommand_Register:
		d.register(k.Register)
	case *accountpb.NameCommand_Login:
		d.login(k.Login)
	case *accountpb.NameCommand_IdAssigned:
		d.bind(k.IdAssigned)
	case *accountpb.NameCommand_Unregister:
		d.unregister(k.Unregister)
	default:
		d.outcome = OutcomeUnknownCommand
	}
	return Result{Entry: d.entry, Outs: d.outs, Outcome: d.outcome, Remove: d.remove}
}

// unregister gives a deleted account's name back: the row goes if it still names that
// account (a name registered again since belongs to the new account), and either way the
// accounts stage is told to remove the account's row. It is idempotent by state.
func (d *decision) unregister(u *accountpb.Unregister) {
	d.outcome = OutcomeNameReused
	if d.entry != nil && d.entry.AccountId == u.GetAccountId() {
		d.entry, d.remove = nil, true
		d.outcome = OutcomeUnregistered
	}
	purge := &accountpb.AccountCommand{Meta: d.cmd.GetMeta(), AccountId: u.GetAccountId(),
		Kind: &accountpb.AccountCommand_Purge{Purge: &accountpb.Purge{}}}
	d.emit(model.ProtoOut(atlas.AccountCommands, model.AccountKeyFor(d.key, u.GetAccountId()), purge))
}

type decision struct {
	cfg     model.Config
	pw      model.Passwords
	key     string
	cmd     *accountpb.NameCommand
	now     int64
	entry   *accountpb.NameEntry
	outs    []model.Out
	outcome string
	remove  bool
}

func (d *decision) emit(o model.Out) { d.outs = append(d.outs, o) }

// answer addresses the answers to login l. As current upstream does, the account name is
// given only once the password was compared: refusals before that do not confirm the name.
func (d *decision) answer(l *accountpb.LoginAttempt, accountID uint32, named bool) model.Session {
	s := model.Session{ID: l.GetSessionId(), AccountID: accountID, IPAddress: l.GetIpAddress(), HWID: l.GetHwid(), Era: d.cfg.Contracts}
	if named && d.entry != nil {
		s.AccountName = d.entry.Name
	}
	return s
}

func (d *decision) register(r *accountpb.Register) {
	if d.entry != nil {
		d.outcome = OutcomeDuplicateName
		return
	}
	d.startRegistration(r.GetPasswordHash(), nil)
	d.outcome = OutcomeRegistered
}

// startRegistration stores the name with its hash and asks the ids stage for an id; the
// account exists once the id comes back (bind).
func (d *decision) startRegistration(hash []byte, login *accountpb.LoginAttempt) {
	d.entry = &accountpb.NameEntry{
		Name:         d.cmd.GetName(),
		PasswordHash: hash,
		Registration: &accountpb.PendingRegistration{Meta: d.cmd.GetMeta(), Login: login},
	}
	req := &accountpb.IDRequest{Meta: d.cmd.GetMeta(), NameKey: d.key}
	d.emit(model.ProtoOut(atlas.AccountIDRequests, model.TenantKeyOf(d.key), req))
}

func (d *decision) bind(a *accountpb.IDAssigned) {
	e := d.entry
	if e == nil || !proto.Equal(e.GetRegistration().GetMeta().GetCommand(), a.GetForCommand()) {
		d.outcome = OutcomeStaleID
		return
	}
	switch {
	case e.AccountId == 0:
		e.AccountId = a.GetAccountId()
	case e.AccountId != a.GetAccountId():
		// A second id for a registration already bound: the id request was delivered twice.
		// Ids may have gaps, so this one is simply never used.
		d.outcome = OutcomeStaleID
		return
	}
	// Bound now, or bound before by this same id (a redelivery): send the create either way;
	// the accounts stage applies it once.
	reg := e.GetRegistration()
	create := &accountpb.AccountCommand{
		Meta:      reg.GetMeta(),
		AccountId: e.AccountId,
		Kind:      &accountpb.AccountCommand_Create{Create: &accountpb.Create{Name: e.Name, Login: verifiedLogin(reg.GetLogin())}},
	}
	d.emit(model.ProtoOut(atlas.AccountCommands, model.AccountKeyFor(d.key, e.AccountId), create))
	d.outcome = OutcomeBound
}

func verifiedLogin(l *accountpb.LoginAttempt) *accountpb.Login {
	if l == nil {
		return nil
	}
	return &accountpb.Login{SessionId: l.GetSessionId(), Author: l.GetAuthor(), IpAddress: l.GetIpAddress(), Hwid: l.GetHwid()}
}

// login runs the first three checks of a login attempt, in the specification's order.
func (d *decision) login(l *accountpb.LoginAttempt) {
	sid := l.GetSessionId()
	e := d.entry
	if e != nil && d.locked() {
		d.emit(d.answer(l, e.AccountId, false).Error(model.CodeTooManyAttempts, 0, 0))
		d.outcome = OutcomeLocked
		return
	}
	if e == nil {
		if !d.cfg.AutoRegister {
			d.emit(d.answer(l, 0, false).Error(model.CodeNotRegistered, 0, 0))
			d.outcome = OutcomeUnknownName
			return
		}
		plain, ok := d.open(l)
		if !ok {
			return
		}
		hash, err := d.pw.Hash(plain)
		model.Wipe(plain)
		if err != nil {
			d.emit(d.answer(l, 0, false).SystemError("hash_failed"))
			d.outcome = OutcomeHashFailed
			return
		}
		// Keep what the login needs to continue once the account exists; never the password.
		cont := &accountpb.LoginAttempt{SessionId: sid, IpAddress: l.GetIpAddress(), Author: l.GetAuthor(), Hwid: l.GetHwid()}
		d.startRegistration(hash, cont)
		d.outcome = OutcomeAutoRegistered
		return
	}
	if e.AccountId == 0 {
		d.awaitRegistration(l)
		return
	}
	if !d.checkPassword(l) {
		return
	}
	e.FailedLogins, e.FailedWindowStartMs = 0, 0
	fwd := &accountpb.AccountCommand{
		Meta:      d.cmd.GetMeta(),
		AccountId: e.AccountId,
		Kind:      &accountpb.AccountCommand_Login{Login: verifiedLogin(l)},
	}
	d.emit(model.ProtoOut(atlas.AccountCommands, model.AccountKeyFor(d.key, e.AccountId), fwd))
	d.outcome = OutcomeVerified
}

// awaitRegistration handles a login for a name registered a moment ago whose id is not back
// yet: a login with the right password waits in the registration and goes on once the id is
// bound (bind forwards it with the create), so a client that logs in right after creating
// its account is not refused. The wait is bounded: a registration older than the transition
// timeout, or one that already holds a waiting login, answers SYSTEM_ERROR.
func (d *decision) awaitRegistration(l *accountpb.LoginAttempt) {
	sid, e := l.GetSessionId(), d.entry
	reg := e.GetRegistration()
	if reg.GetLogin() != nil || d.now-reg.GetMeta().GetTimestampMs() > d.cfg.TransitionTimeout.Milliseconds() {
		d.emit(d.answer(l, 0, false).SystemError("registration_in_flight"))
		d.outcome = OutcomeRegistering
		return
	}
	if !d.checkPassword(l) {
		return
	}
	reg.Login = &accountpb.LoginAttempt{SessionId: sid, IpAddress: l.GetIpAddress(), Author: l.GetAuthor(), Hwid: l.GetHwid()}
	d.outcome = OutcomeLoginAwaitsID
}

// checkPassword compares the login's password with the entry's hash; a mismatch is counted
// and answered INCORRECT_PASSWORD, a seal that does not open SYSTEM_ERROR.
func (d *decision) checkPassword(l *accountpb.LoginAttempt) bool {
	plain, ok := d.open(l)
	if !ok {
		return false
	}
	match := d.pw.Matches(d.entry.PasswordHash, plain)
	model.Wipe(plain)
	if !match {
		d.countFailure()
		d.emit(d.answer(l, d.entry.AccountId, true).Error(model.CodeIncorrectPassword, 0, 0))
		d.outcome = OutcomeWrongPassword
	}
	return match
}

func (d *decision) open(l *accountpb.LoginAttempt) ([]byte, bool) {
	plain, err := d.pw.Open(l.GetSealedPassword(), model.SealContext(d.key, d.cmd.GetMeta().GetCommand()))
	if err != nil {
		// Sealed with a key this process lacks (a misconfigured instance): not the user's fault.
		d.emit(d.answer(l, d.entry.GetAccountId(), false).SystemError("unsealable_password"))
		d.outcome = OutcomeUnsealable
		return nil, false
	}
	return plain, true
}

// locked: the limit of failed checks was reached within the window, which has not ended.
func (d *decision) locked() bool {
	e := d.entry
	return e.FailedLogins >= d.cfg.MaxFailedLogins && d.now-e.FailedWindowStartMs < d.cfg.FailedLoginWindow.Milliseconds()
}

// countFailure counts a failed check in the current window, or opens a new window.
func (d *decision) countFailure() {
	e := d.entry
	if e.FailedLogins == 0 || d.now-e.FailedWindowStartMs >= d.cfg.FailedLoginWindow.Milliseconds() {
		e.FailedLogins, e.FailedWindowStartMs = 0, d.now
	}
	e.FailedLogins++
}

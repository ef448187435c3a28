// Package accounts is the accounts stage of the account service: the table tenant/id ->
// account with its login sessions, the session state machine, and the account's events.
package accounts

import (
	"github.com/atlasstreams/atlas"
	"github.com/atlasstreams/atlas/codecs"
	"github.com/atlasstreams/atlas/processors/account/accountpb"
	"github.com/atlasstreams/atlas/processors/account/model"
	"google.golang.org/protobuf/proto"
)

// Gender given to new accounts of GMS from version 87 on; every other tenant gets 0.
const (
	genderUnset   = 0
	genderDefault = 10
)

// Decide is the accounts stage's pure decision: from the account as stored (nil when the key
// holds none), a command and the configuration, the account to store (nil: store nothing) and
// the records to emit. It never mutates acc. Time is the command's Kafka timestamp.
func Decide(cfg model.Config, key string, acc *accountpb.Account, cmd *accountpb.AccountCommand) (*accountpb.Account, []model.Out) {
	if acc != nil {
		acc = proto.Clone(acc).(*accountpb.Account)
	}
	return DecideOwned(cfg, key, acc, cmd)
}

// DecideOwned is Decide on an account the caller gives away: it may be changed and returned.
// Each ctx.Value of the stage's processor gives it an account of its own (a fresh decode, or
// the very row it wrote last, see groupTableCodec), so it needs no copy (a clone of the row
// was 4 % of the CPU of a burst of session commands).
func DecideOwned(cfg model.Config, key string, acc *accountpb.Account, cmd *accountpb.AccountCommand) (*accountpb.Account, []model.Out) {
	d := decision{cfg: cfg, key: key, cmd: cmd, now: cmd.GetMeta().GetTimestampMs()}
	if acc != nil {
		d.acc = acc
		d.expireTransitions()
	}
	if d.acc.GetDeleted() {
		// A deleted account waits for its Purge (which the stage applies itself); for every
		// command it is not there.
		d.acc = nil
	}
	switch k := cmd.Kind.(type) {
	case *accountpb.AccountCommand_Create:
		d.create(k.Create)
	case *accountpb.AccountCommand_Login:
		d.login(k.Login)
	case *accountpb.AccountCommand_ProgressState:
		d.progressState(k.ProgressState)
	case *accountpb.AccountCommand_Logout:
		d.logout(k.Logout.GetSessionId(), k.Logout.GetAuthor())
	case *accountpb.AccountCommand_Expire:
		// Expiry already happened above, at the time of the tick that sent this.
	case *accountpb.AccountCommand_Ban:
		if d.acc != nil {
			d.acc.Ban = &accountpb.BanState{Reason: k.Ban.GetReason(), UntilMs: k.Ban.GetUntilMs()}
		}
	case *accountpb.AccountCommand_Unban:
		if d.acc != nil {
			d.acc.Ban = nil
		}
	case *accountpb.AccountCommand_SetTos:
		if d.acc != nil {
			d.acc.Tos = k.SetTos.GetAccepted()
		}
	case *accountpb.AccountCommand_Delete:
		if DeleteRefusal(d.acc) == "" {
			d.delete()
		}
	}
	if cmd.GetExpire() != nil {
		d.slotTicked()
	}
	return d.acc, d.outs
}

// Current is acc as a command at nowMs sees it: its transitions past the timeout dropped
// (acc itself is not changed).
func Current(cfg model.Config, acc *accountpb.Account, nowMs int64) *accountpb.Account {
	if acc == nil {
		return nil
	}
	d := decision{cfg: cfg, now: nowMs, acc: proto.Clone(acc).(*accountpb.Account)}
	d.expireTransitions()
	return d.acc
}

// DeleteRefusal says why an account cannot be deleted ("" when it can): it does not exist, or
// it is logged in (current upstream refuses that too). acc is the account as the command
// sees it (Current).
func DeleteRefusal(acc *accountpb.Account) string {
	switch {
	case acc == nil || acc.GetDeleted():
		return "no such account"
	case model.State(acc) != model.StateNotLoggedIn:
		return "the account is logged in"
	}
	return ""
}

// delete marks the account deleted, announces it, and gives its name back to the names
// stage, which then has the row removed (Purge). The row stays until then so that a
// redelivered DELETE is answered from its memory.
func (d *decision) delete() {
	d.acc.Deleted = true
	d.acc.Sessions = nil
	d.emit(model.StatusEvent(d.acc.Id, d.acc.Name, codecs.AccountStatusEventStatusDeleted))
	unregister := &accountpb.NameCommand{Meta: d.cmd.GetMeta(), Name: d.acc.Name,
		Kind: &accountpb.NameCommand_Unregister{Unregister: &accountpb.Unregister{AccountId: d.acc.Id}}}
	d.emit(model.ProtoOut(atlas.AccountNameCommands, model.NameKey(d.tenant(), d.acc.Name), unregister))
}

type decision struct {
	cfg  model.Config
	key  string
	cmd  *accountpb.AccountCommand
	now  int64
	acc  *accountpb.Account
	outs []model.Out
}

// tenant is the command's tenant. Only creates, logins and deletes need it: it is parsed then,
// not on every session command.
func (d *decision) tenant() codecs.Tenant {
	t, _ := codecs.ParseTenantString(d.cmd.GetMeta().GetTenant())
	return t
}

func (d *decision) emit(o model.Out) { d.outs = append(d.outs, o) }

// session addresses the answers to the command about session sid: the account as this stage
// knows it (id from the command and no name when it holds none), and the login's address and
// hardware id ("" on the state-change path).
func (d *decision) session(sid []byte, ip, hwid string) model.Session {
	s := model.Session{ID: sid, AccountID: d.cmd.GetAccountId(), IPAddress: ip, HWID: hwid, Era: d.cfg.Contracts}
	if d.acc != nil {
		s.AccountID, s.AccountName = d.acc.Id, d.acc.Name
	}
	return s
}

// expireTransitions drops transition entries past the timeout. An account whose last live
// entry expires is logged out, and says so: otherwise every registry would keep it logged in.
func (d *decision) expireTransitions() {
	before := model.State(d.acc)
	if model.ExpireTransitions(d.acc, d.now, d.cfg.TransitionTimeout.Milliseconds()) == 0 {
		return
	}
	if before > model.StateNotLoggedIn && model.State(d.acc) == model.StateNotLoggedIn {
		d.emit(model.StatusEvent(d.acc.Id, d.acc.Name, codecs.AccountStatusEventStatusLoggedOut))
	}
}

func (d *decision) create(c *accountpb.Create) {
	if d.acc != nil {
		// The names stage binds each id once; a second create of the same id is a replay that
		// outlived the dedupe memory. Nothing must change.
		return
	}
	d.acc = &accountpb.Account{
		Id:        d.cmd.GetAccountId(),
		Name:      c.GetName(),
		Gender:    defaultGender(d.tenant()),
		CreatedMs: d.now,
	}
	d.emit(model.StatusEvent(d.acc.Id, d.acc.Name, codecs.AccountStatusEventStatusCreated))
	if c.GetLogin() != nil {
		d.login(c.GetLogin())
	}
}

func defaultGender(t codecs.Tenant) uint32 {
	if t.Region == "GMS" && t.Major >= 87 {
		return genderDefault
	}
	return genderUnset
}

// login finishes a login attempt whose password the names stage verified: ban, presence,
// then success with the license question.
func (d *decision) login(l *accountpb.Login) {
	sid := l.GetSessionId()
	answer := d.session(sid, l.GetIpAddress(), l.GetHwid())
	if d.acc == nil {
		// The names stage knew the account but this stage does not: its create is still on the
		// way or was lost. The login server may retry.
		d.emit(answer.SystemError("account_not_created_yet"))
		return
	}
	if b := d.acc.GetBan(); b != nil && (b.UntilMs == 0 || d.now < b.UntilMs) {
		d.emit(answer.Error(model.CodeDeletedOrBlocked, uint8(b.Reason), uint64(b.UntilMs)))
		return
	}
	if !model.Login(d.acc, sid, model.IssuerLogin, d.now) {
		d.emit(answer.Error(model.CodeAlreadyLoggedIn, 0, 0))
		return
	}
	d.emit(model.StatusEvent(d.acc.Id, d.acc.Name, codecs.AccountStatusEventStatusLoggedIn))
	if !d.acc.Tos && d.tenant().Region != "JMS" {
		d.emit(answer.LicenseRequired())
	} else {
		d.emit(answer.Created())
	}
}

func (d *decision) progressState(p *accountpb.ProgressState) {
	sid, issuer := p.GetSessionId(), p.GetAuthor()
	answer := d.session(sid, "", "")
	if d.acc == nil {
		answer.AccountID = 0
		d.emit(answer.Error(model.CodeNotRegistered, 0, 0))
		return
	}
	if model.State(d.acc) == model.StateNotLoggedIn {
		d.emit(answer.SystemError("progress_while_logged_out"))
		return
	}
	switch p.GetState() {
	case model.StateNotLoggedIn:
		d.logout(sid, issuer)
	case model.StateLoggedIn:
		if !model.Login(d.acc, sid, issuer, d.now) {
			d.emit(answer.SystemError("login_not_in_transition"))
			return
		}
		d.emit(model.StatusEvent(d.acc.Id, d.acc.Name, codecs.AccountStatusEventStatusLoggedIn))
	case model.StateTransition:
		if !model.Transition(d.acc, sid, issuer, d.now) {
			d.emit(answer.SystemError("transition_of_unknown_session"))
			return
		}
		d.scheduleExpiry(sid, issuer)
	default:
		d.emit(answer.SystemError("unknown_state"))
		return
	}
	d.emit(answer.StateChanged(uint8(p.GetState()), p.GetParams()))
}

// logout removes (sid, issuer), or every entry for the nil session id, and announces
// LOGGED_OUT only when the account's state drops from above 0 to 0: a logout of one session
// while another is live must not make channels drop the live one.
func (d *decision) logout(sid []byte, issuer string) {
	if d.acc == nil {
		return
	}
	before := model.State(d.acc)
	model.Logout(d.acc, sid, issuer)
	if before > model.StateNotLoggedIn && model.State(d.acc) == model.StateNotLoggedIn {
		d.emit(model.StatusEvent(d.acc.Id, d.acc.Name, codecs.AccountStatusEventStatusLoggedOut))
	}
}

// scheduleExpiry hands the new transition's deadline to the timers stage, unless the account
// already has a deadline in the same slot there: that slot's tick sends the account one expiry,
// which drops every transition due by then, so one record per slot and account does (a player
// who changes channels several times a second costs one timer record, not one per change).
// Every other transition gets its own record, as before: nothing waits on a record that might
// have been lost.
func (d *decision) scheduleExpiry(sid []byte, issuer string) {
	tickMs := d.cfg.TickInterval.Milliseconds()
	deadline := d.now + d.cfg.TransitionTimeout.Milliseconds()
	slot := model.TimerSlot(deadline, tickMs)
	if d.acc.WakeSlot == slot && d.acc.WakeTickMs == tickMs {
		return
	}
	add := &accountpb.TimerCommand{Kind: &accountpb.TimerCommand_Add{Add: &accountpb.TimerAdd{
		Meta:       d.cmd.GetMeta(),
		AccountKey: d.key,
		AccountId:  d.acc.Id,
		SessionId:  sid,
		Issuer:     issuer,
		SinceMs:    d.now,
		DeadlineMs: deadline,
	}}}
	d.acc.WakeSlot, d.acc.WakeTickMs = slot, tickMs
	d.emit(model.ProtoOut(atlas.AccountTimerCommands, model.TimerRowKey(slot, model.TimerShard(d.key, d.cfg.TimerShards)), add))
}

// slotTicked forgets the slot of the last deadline once an expiry at or after that slot
// arrives: the slot has been ticked, so a transition now computed for it (a command with an
// older timestamp) needs a record of its own, which the timers stage moves to its next slot.
func (d *decision) slotTicked() {
	if d.acc == nil || d.acc.WakeSlot == 0 {
		return
	}
	if d.acc.WakeTickMs != d.cfg.TickInterval.Milliseconds() || model.TimerSlot(d.now, d.acc.WakeTickMs) >= d.acc.WakeSlot {
		d.acc.WakeSlot, d.acc.WakeTickMs = 0, 0
	}
}

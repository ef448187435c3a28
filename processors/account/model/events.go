package model

import (
	"encoding/json"
	"time"

	"github.com/atlasstreams/atlas"
	"github.com/atlasstreams/atlas/codecs"
	"github.com/google/uuid"
)

// Error codes of SessionStatusEvent ERROR (the contract's values).
const (
	CodeSystemError       = "SYSTEM_ERROR"
	CodeNotRegistered     = "NOT_REGISTERED"
	CodeDeletedOrBlocked  = "DELETED_OR_BLOCKED"
	CodeAlreadyLoggedIn   = "ALREADY_LOGGED_IN"
	CodeIncorrectPassword = "INCORRECT_PASSWORD"
	CodeTooManyAttempts   = "TOO_MANY_ATTEMPTS"
)

// encodeEvent returns a public event's encoding (from a catalog encoder or its fast path). The
// values are built here from known-good fields, so a failure is a programming error, not bad
// input.
func encodeEvent(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}

// StatusEvent is a StatusEvent on EVENT_TOPIC_ACCOUNT_STATUS, keyed by account id.
func StatusEvent(accountID uint32, name, status string) Out {
	return Out{
		Topic: atlas.EventTopicAccountStatus,
		Key:   codecs.IDKey(accountID),
		Value: encodeEvent(codecs.EncodeAccountStatusEventFast(&codecs.AccountStatusEvent{AccountID: accountID, Name: name, Status: status})),
	}
}

// MaxBanUntilMs is the last millisecond of year 9999, the latest ban end an RFC3339 time can
// say (the current era writes it so).
const MaxBanUntilMs = 253402300799999

// Session addresses the status events answering one session command: the session and
// account they are about, and what current upstream's consumers read beside the type (the
// ban service's login history keeps the account name, address and hardware id). Those are
// superset fields, which readers of the seed era ignore, so they are written in both eras;
// only the form of a ban's end follows the era.
type Session struct {
	ID          []byte
	AccountID   uint32
	AccountName string // "" when the account is not known
	IPAddress   string // of the login (CREATE); "" on the state-change path
	HWID        string
	Era         string // codecs.EraSeed or codecs.EraCurrent; "" is seed
}

func (s Session) event(typ string, body any) Out {
	sid, _ := uuid.FromBytes(s.ID) // a bad length yields the nil uuid, which is what was meant
	name := s.AccountName
	return Out{
		Topic: atlas.EventTopicAccountSessionStatus,
		Key:   codecs.IDKey(s.AccountID),
		Value: encodeEvent(codecs.EncodeAccountSessionStatusEventFast(&codecs.AccountSessionStatusEvent{SessionID: sid, AccountID: s.AccountID, AccountName: &name, Type: typ, Body: body})),
	}
}

// Error is an ERROR event; reason and untilMs describe a ban, 0 otherwise. The seed era
// writes the end as Unix milliseconds, the current era as an RFC3339 time (the zero time when
// there is none): current consumers drop an event whose end is a number.
func (s Session) Error(code string, reason uint8, untilMs uint64) Out {
	until := codecs.Uint64OrTime{Uint64: untilMs}
	if s.Era == codecs.EraCurrent {
		until = codecs.Uint64OrTime{IsTime: true, Time: time.Time{}.UTC()}
		if untilMs > 0 {
			// RFC3339 ends with year 9999; a later end is written as the last instant of it.
			until.Time = time.UnixMilli(int64(min(untilMs, MaxBanUntilMs))).UTC()
		}
	}
	ip, hwid := s.IPAddress, s.HWID
	return s.event(codecs.AccountSessionStatusEventTypeError,
		&codecs.AccountSessionStatusEventErrorBody{Code: code, Reason: reason, Until: until, IPAddress: &ip, Hwid: &hwid})
}

// SystemError is an ERROR SYSTEM_ERROR with its cause, a short closed-set name (a metric
// label), which the stage emitting it logs and counts.
func (s Session) SystemError(cause string) Out {
	o := s.Error(CodeSystemError, 0, 0)
	o.Cause = cause
	return o
}

// Created is a CREATED event.
func (s Session) Created() Out {
	ip, hwid := s.IPAddress, s.HWID
	return s.event(codecs.AccountSessionStatusEventTypeCreated,
		&codecs.AccountSessionStatusEventCreatedBody{IPAddress: &ip, Hwid: &hwid})
}

// LicenseRequired is a REQUEST_LICENSE_AGREEMENT event (body null).
func (s Session) LicenseRequired() Out {
	return s.event(codecs.AccountSessionStatusEventTypeRequestLicenseAgreement, nil)
}

// StateChanged is a STATE_CHANGED event echoing the command's params.
func (s Session) StateChanged(state uint8, params []byte) Out {
	return s.event(codecs.AccountSessionStatusEventTypeStateChanged,
		&codecs.AccountSessionStatusEventStateChangedBody{State: state, Params: paramsJSON(params)})
}

// paramsJSON keeps params as the command gave them; an absent params is JSON null.
func paramsJSON(p []byte) json.RawMessage {
	if len(p) == 0 {
		return json.RawMessage("null")
	}
	return json.RawMessage(p)
}

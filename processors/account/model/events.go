package model

import (
	"encoding/json"

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

// encodeEvent marshals a public event. The values are built here from known-good fields, so a
// failure is a programming error, not bad input.
func encodeEvent(v any) []byte {
	b, err := json.Marshal(v)
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
		Value: encodeEvent(&codecs.AccountStatusEvent{AccountID: accountID, Name: name, Status: status}),
	}
}

func sessionEvent(sessionID []byte, accountID uint32, typ string, body any) Out {
	sid, _ := uuid.FromBytes(sessionID) // a bad length yields the nil uuid, which is what was meant
	return Out{
		Topic: atlas.EventTopicAccountSessionStatus,
		Key:   codecs.IDKey(accountID),
		Value: encodeEvent(&codecs.AccountSessionStatusEvent{SessionID: sid, AccountID: accountID, Type: typ, Body: body}),
	}
}

// SessionError is a SessionStatusEvent ERROR; reason and untilMs describe a ban, 0 otherwise.
func SessionError(sessionID []byte, accountID uint32, code string, reason uint8, untilMs uint64) Out {
	return sessionEvent(sessionID, accountID, codecs.AccountSessionStatusEventTypeError,
		&codecs.AccountSessionStatusEventErrorBody{Code: code, Reason: reason, Until: codecs.Uint64OrTime{Uint64: untilMs}})
}

// SystemError is a SessionStatusEvent ERROR SYSTEM_ERROR with its cause, a short closed-set
// name (a metric label), which the stage emitting it logs and counts.
func SystemError(sessionID []byte, accountID uint32, cause string) Out {
	o := SessionError(sessionID, accountID, CodeSystemError, 0, 0)
	o.Cause = cause
	return o
}

// SessionCreated is a SessionStatusEvent CREATED (empty body).
func SessionCreated(sessionID []byte, accountID uint32) Out {
	return sessionEvent(sessionID, accountID, codecs.AccountSessionStatusEventTypeCreated,
		&codecs.AccountSessionStatusEventCreatedBody{})
}

// SessionLicenseRequired is a SessionStatusEvent REQUEST_LICENSE_AGREEMENT (body null).
func SessionLicenseRequired(sessionID []byte, accountID uint32) Out {
	return sessionEvent(sessionID, accountID, codecs.AccountSessionStatusEventTypeRequestLicenseAgreement, nil)
}

// SessionStateChanged is a SessionStatusEvent STATE_CHANGED echoing the command's params.
func SessionStateChanged(sessionID []byte, accountID uint32, state uint8, params []byte) Out {
	return sessionEvent(sessionID, accountID, codecs.AccountSessionStatusEventTypeStateChanged,
		&codecs.AccountSessionStatusEventStateChangedBody{State: state, Params: paramsJSON(params)})
}

// paramsJSON keeps params as the command gave them; an absent params is JSON null.
func paramsJSON(p []byte) json.RawMessage {
	if len(p) == 0 {
		return json.RawMessage("null")
	}
	return json.RawMessage(p)
}

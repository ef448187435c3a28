// Package ingress is the first stage of the account service, the contract's consumer group
// "Account Service". It reads the public command topics and the operator topic, refuses what
// is malformed or has no tenant (dead-letter), hashes new passwords, seals login passwords,
// and re-keys each command to the stage that owns its state: tenant/name for creates and
// logins, tenant/id for the rest. Upstream keys login attempts by account id 0; re-keying by
// name is what spreads them over partitions and keeps tenants apart.
package ingress

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/atlasstreams/atlas"
	"github.com/atlasstreams/atlas/codecs"
	"github.com/atlasstreams/atlas/processors/account/accountpb"
	"github.com/atlasstreams/atlas/processors/account/model"
	"github.com/lovoo/goka"
)

// Limits of CreateCommand and session command input (bcrypt reads at most 72 bytes). Params
// and the address are copied into the account's records and its answers; bounding them keeps
// every record far below the broker's message size, however many commands are remembered.
const (
	MaxNameBytes      = 64
	MaxPasswordBytes  = 72
	MaxParamsBytes    = 4096
	MaxIPAddressBytes = 64
	MaxHWIDBytes      = 64
)

// ErrInvalid wraps every reason a command is refused.
var ErrInvalid = errors.New("invalid command")

// Message is a consumed record as the decision sees it.
type Message struct {
	Topic     string
	Partition int32
	Offset    int64
	Key       string
	Value     []byte
	Headers   goka.Headers
	Timestamp time.Time
}

// Decision is what ingress does with a message: the records to emit, and the command's type
// for metrics.
type Decision struct {
	Meta *accountpb.Meta
	Outs []model.Out
	Type string

	names model.NameCharset
	// session is the session a session command is about, for its answers.
	session *model.Session
}

// Decide turns one public command into internal commands, or returns why it is refused; era
// is the contract era of the answers it may give.
func Decide(pw model.Passwords, names model.NameCharset, era string, m Message) (Decision, error) {
	tenant, err := codecs.TenantFromHeaders(m.Headers)
	if err != nil {
		return Decision{Type: "unknown"}, err
	}
	id := &accountpb.CommandID{Topic: m.Topic, Partition: m.Partition, Offset: m.Offset}
	ts := m.Timestamp
	if ts.IsZero() {
		ts = time.Now() // a record without a timestamp; replays of it may decide differently
	}
	// The trace of a command without one derives from where the command is, "topic/partition/offset".
	seed := make([]byte, 0, len(m.Topic)+24)
	seed = strconv.AppendInt(append(strconv.AppendInt(append(append(seed, m.Topic...), '/'), int64(m.Partition), 10), '/'), m.Offset, 10)
	trace := codecs.DerivedTraceFromHeaders(m.Headers, seed)
	meta := &accountpb.Meta{
		Command: id, Tenant: tenant.String(),
		Traceparent: trace.ParentString(), Tracestate: trace.State,
		TimestampMs: ts.UnixMilli(),
	}
	d := Decision{Meta: meta, names: names}
	if !utf8.Valid(m.Value) {
		// encoding/json would replace the bad bytes with U+FFFD and carry on: a name sent
		// with invalid UTF-8 must not become another valid one.
		d.Type = "unknown"
		return d, fmt.Errorf("%w: the message is not valid UTF-8", ErrInvalid)
	}
	switch goka.Stream(m.Topic) {
	case atlas.CommandTopicCreateAccount:
		d.Type = "CREATE_ACCOUNT"
		err = d.createAccount(pw, tenant, m.Value)
	case atlas.CommandTopicAccount:
		err = d.accountCommand(pw, tenant, m.Value)
	case atlas.CommandTopicAccountSession:
		err = d.sessionCommand(pw, tenant, era, m.Value)
	case atlas.AccountAdminTopic:
		err = d.adminCommand(tenant, m.Value)
	default:
		d.Type = "unknown"
		err = fmt.Errorf("%w: topic %s is not an account command topic", ErrInvalid, m.Topic)
	}
	return d, err
}

func (d *Decision) createAccount(pw model.Passwords, t codecs.Tenant, value []byte) error {
	cmd, err := codecs.DecodeCreateAccountCommand(value)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	return d.register(pw, t, cmd.Name, cmd.Password)
}

// accountCommand reads current upstream's COMMAND_TOPIC_ACCOUNT: CREATE means what a
// COMMAND_TOPIC_CREATE_ACCOUNT message means; DELETE goes to the account.
func (d *Decision) accountCommand(pw model.Passwords, t codecs.Tenant, value []byte) error {
	cmd, err := codecs.DecodeAccountCommand(value)
	if err != nil {
		d.Type = "unknown"
		return fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	d.Type = cmd.Type
	switch body := cmd.Body.(type) {
	case *codecs.AccountCommandCreateBody:
		return d.register(pw, t, body.Name, body.Password)
	case *codecs.AccountCommandDeleteBody:
		if body.AccountID == 0 {
			return fmt.Errorf("%w: DELETE needs an accountId", ErrInvalid)
		}
		d.toAccount(body.AccountID, &accountpb.AccountCommand{Kind: &accountpb.AccountCommand_Delete{Delete: &accountpb.Delete{}}})
		return nil
	}
	return fmt.Errorf("%w: account command type %q has no handler", ErrInvalid, cmd.Type)
}

// register checks a new account's name and password and asks the names stage to register
// it, with the password already hashed.
func (d *Decision) register(pw model.Passwords, t codecs.Tenant, name, password string) error {
	if err := d.validName(name); err != nil {
		return err
	}
	if err := validPassword(password); err != nil {
		return err
	}
	plain := []byte(password)
	hash, err := pw.Hash(plain)
	model.Wipe(plain)
	if err != nil {
		return fmt.Errorf("%w: password cannot be hashed: %v", ErrInvalid, err)
	}
	nc := &accountpb.NameCommand{Meta: d.Meta, Name: name,
		Kind: &accountpb.NameCommand_Register{Register: &accountpb.Register{PasswordHash: hash}}}
	d.Outs = append(d.Outs, model.ProtoOut(atlas.AccountNameCommands, model.NameKey(t, name), nc))
	return nil
}

func (d *Decision) sessionCommand(pw model.Passwords, t codecs.Tenant, era string, value []byte) error {
	cmd, err := codecs.DecodeAccountSessionCommandFast(value)
	if err != nil {
		d.Type = "unknown"
		return fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	d.Type = cmd.Type
	sid := cmd.SessionID[:]
	// A login names its account by name: its answers carry account id 0 (as upstream's do).
	d.session = &model.Session{ID: sid, Era: era}
	if _, login := cmd.Body.(*codecs.AccountSessionCommandCreateBody); !login {
		d.session.AccountID = cmd.AccountID
	}
	switch body := cmd.Body.(type) {
	case *codecs.AccountSessionCommandCreateBody:
		// A login attempt. accountId and author are not used to decide (the contract).
		if err := d.validName(body.AccountName); err != nil {
			return err
		}
		if err := validPassword(body.Password); err != nil {
			return err
		}
		if len(body.IPAddress) > MaxIPAddressBytes {
			return fmt.Errorf("%w: ipAddress of %d bytes, limit %d", ErrInvalid, len(body.IPAddress), MaxIPAddressBytes)
		}
		hwid := ""
		if body.Hwid != nil {
			hwid = *body.Hwid
		}
		if len(hwid) > MaxHWIDBytes {
			return fmt.Errorf("%w: hwid of %d bytes, limit %d", ErrInvalid, len(hwid), MaxHWIDBytes)
		}
		d.session.IPAddress, d.session.HWID = body.IPAddress, hwid
		key := model.NameKey(t, body.AccountName)
		plain := []byte(body.Password)
		sealed := pw.Seal(plain, model.SealContext(key, d.Meta.Command))
		model.Wipe(plain)
		issuer, _ := model.NormalizeIssuer(cmd.Author)
		nc := &accountpb.NameCommand{Meta: d.Meta, Name: body.AccountName,
			Kind: &accountpb.NameCommand_Login{Login: &accountpb.LoginAttempt{
				SessionId: sid, IpAddress: body.IPAddress, Author: issuer, SealedPassword: sealed, Hwid: hwid,
			}}}
		d.Outs = append(d.Outs, model.ProtoOut(atlas.AccountNameCommands, key, nc))
	case *codecs.AccountSessionCommandProgressStateBody:
		issuer, err := issuerOf(cmd.Author)
		if err != nil {
			return err
		}
		if len(body.Params) > MaxParamsBytes {
			return fmt.Errorf("%w: params of %d bytes, limit %d", ErrInvalid, len(body.Params), MaxParamsBytes)
		}
		d.toAccount(cmd.AccountID, &accountpb.AccountCommand{Kind: &accountpb.AccountCommand_ProgressState{ProgressState: &accountpb.ProgressState{
			SessionId: sid, Author: issuer, State: uint32(body.State), Params: []byte(body.Params),
		}}})
	case *codecs.AccountSessionCommandLogoutBody:
		issuer, err := issuerOf(cmd.Author)
		if err != nil {
			return err
		}
		d.toAccount(cmd.AccountID, &accountpb.AccountCommand{Kind: &accountpb.AccountCommand_Logout{Logout: &accountpb.Logout{SessionId: sid, Author: issuer}}})
	default:
		return fmt.Errorf("%w: session command type %q has no handler", ErrInvalid, cmd.Type)
	}
	return nil
}

// OversizeAnswer is the contract answer of a session command none of whose internal records
// fits the record limit: SYSTEM_ERROR for its session. Creates and operator commands have
// none (nil).
func (d *Decision) OversizeAnswer() []model.Out {
	if d.session == nil {
		return nil
	}
	return []model.Out{d.session.SystemError(model.CauseOversize)}
}

// toAccount routes cmd (its Kind set) to account id of the command's tenant (the Meta's,
// already in text: model.AccountKey would format it again).
func (d *Decision) toAccount(id uint32, cmd *accountpb.AccountCommand) {
	cmd.Meta, cmd.AccountId = d.Meta, id
	d.Outs = append(d.Outs, model.ProtoOut(atlas.AccountCommands, model.AccountKeyFor(d.Meta.GetTenant(), id), cmd))
}

func issuerOf(author string) (string, error) {
	issuer, ok := model.NormalizeIssuer(author)
	if !ok {
		return "", fmt.Errorf("%w: author %q is none of INTERNAL, LOGIN, CHANNEL", ErrInvalid, author)
	}
	return issuer, nil
}

func (d *Decision) validName(name string) error {
	if len(name) == 0 || len(name) > MaxNameBytes {
		return fmt.Errorf("%w: name must have 1 to %d bytes, has %d", ErrInvalid, MaxNameBytes, len(name))
	}
	if !utf8.ValidString(name) {
		return fmt.Errorf("%w: name is not valid UTF-8 (hex %s)", ErrInvalid, hex.EncodeToString([]byte(name)))
	}
	for _, r := range name {
		if !unicode.IsPrint(r) {
			return fmt.Errorf("%w: name has the unprintable character %U", ErrInvalid, r)
		}
	}
	if err := d.names.Check(name); err != nil {
		return fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	return nil
}

// validPassword never quotes the password: reasons end up in headers and logs.
func validPassword(pw string) error {
	if len(pw) == 0 || len(pw) > MaxPasswordBytes {
		return fmt.Errorf("%w: password must have 1 to %d bytes, has %d", ErrInvalid, MaxPasswordBytes, len(pw))
	}
	return nil
}

// AdminCommand is the JSON of an operator command on the admin topic (tenant headers as on
// every topic):
//
//	{"type":"BAN","accountId":7,"body":{"reason":3,"until":0}}   until: Unix ms, 0 = permanent
//	{"type":"UNBAN","accountId":7,"body":{}}
//	{"type":"SET_TOS","accountId":7,"body":{"accepted":true}}
type AdminCommand struct {
	Type      string          `json:"type"`
	AccountID uint32          `json:"accountId"`
	Body      json.RawMessage `json:"body"`
}

// Admin command types.
const (
	AdminBan    = "BAN"
	AdminUnban  = "UNBAN"
	AdminSetTos = "SET_TOS"
)

// BanBody is the body of BAN.
type BanBody struct {
	Reason uint8  `json:"reason"`
	Until  uint64 `json:"until"`
}

// SetTosBody is the body of SET_TOS.
type SetTosBody struct {
	Accepted bool `json:"accepted"`
}

func (d *Decision) adminCommand(t codecs.Tenant, value []byte) error {
	var cmd AdminCommand
	if err := json.Unmarshal(value, &cmd); err != nil {
		d.Type = "unknown"
		return fmt.Errorf("%w: admin command: %v", ErrInvalid, err)
	}
	d.Type = strings.ToUpper(cmd.Type)
	if cmd.AccountID == 0 {
		return fmt.Errorf("%w: admin command needs an accountId", ErrInvalid)
	}
	switch d.Type {
	case AdminBan:
		var b BanBody
		if err := json.Unmarshal(cmd.Body, &b); err != nil {
			return fmt.Errorf("%w: BAN body: %v", ErrInvalid, err)
		}
		if b.Until > model.MaxBanUntilMs {
			return fmt.Errorf("%w: BAN until %d is not a Unix time in milliseconds before year 10000", ErrInvalid, b.Until)
		}
		d.toAccount(cmd.AccountID, &accountpb.AccountCommand{Kind: &accountpb.AccountCommand_Ban{Ban: &accountpb.Ban{Reason: uint32(b.Reason), UntilMs: int64(b.Until)}}})
	case AdminUnban:
		d.toAccount(cmd.AccountID, &accountpb.AccountCommand{Kind: &accountpb.AccountCommand_Unban{Unban: &accountpb.Unban{}}})
	case AdminSetTos:
		var b SetTosBody
		if err := json.Unmarshal(cmd.Body, &b); err != nil {
			return fmt.Errorf("%w: SET_TOS body: %v", ErrInvalid, err)
		}
		d.toAccount(cmd.AccountID, &accountpb.AccountCommand{Kind: &accountpb.AccountCommand_SetTos{SetTos: &accountpb.SetTos{Accepted: b.Accepted}}})
	default:
		return fmt.Errorf("%w: admin command type %q is none of BAN, UNBAN, SET_TOS", ErrInvalid, cmd.Type)
	}
	return nil
}

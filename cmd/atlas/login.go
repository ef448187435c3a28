package main

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/atlasstreams/atlas"
	"github.com/atlasstreams/atlas/codecs"
	"github.com/atlasstreams/atlas/processors/ticket"
	"github.com/atlasstreams/atlas/processors/topicread"
	"github.com/google/uuid"
	"github.com/lovoo/goka"
	"github.com/twmb/franz-go/pkg/kgo"
)

// devTenant is the tenant `atlas dev` serves.
const devTenant = "00000000-0000-4000-8000-000000000001"

// devKeyFile is where `atlas dev` keeps its development ticket key pair: ATLAS_DEV_DIR, else
// the storage dir (ATLAS_STORAGE_DIR), else .atlas-dev in the working directory.
func devKeyFile() string {
	return filepath.Join(envOr("ATLAS_DEV_DIR", envOr("ATLAS_STORAGE_DIR", ".atlas-dev")), "dev-ticket-key.pem")
}

// loginResult is the line `atlas login` prints.
type loginResult struct {
	AccountID   uint32    `json:"accountId"`
	SessionID   uuid.UUID `json:"sessionId"`
	CharacterID uint32    `json:"characterId"`
	Ticket      string    `json:"ticket"`
	Address     string    `json:"address"`
}

// errRefused is a login the account service refused; its code goes to stderr.
type errRefused struct{ code string }

func (e errRefused) Error() string { return "login refused: " + e.code }

// runLogin is the development login server: it logs an account in through the account
// service as a login server does, moves the session into transition toward a channel, and
// prints the entry ticket for it. A real login server does the same with its own signing key
// and the character its character service vouches for (package ticket mints).
func runLogin(ctx context.Context, args []string) error {
	fs := newFlagSet("atlas login")
	brokers := brokersFlag(fs)
	name := fs.String("name", "", "account name (required)")
	password := fs.String("password", "", "password (required; env ATLAS_LOGIN_PASSWORD keeps it out of the process list)")
	character := fs.Uint("character", 0, "character id to enter with (required; this development server trusts it)")
	world := fs.Uint("world", 0, "world id")
	channelID := fs.Uint("channel", 1, "channel id")
	create := fs.Bool("create", false, "create the account first")
	contracts := fs.String("contracts", envOr("ATLAS_CONTRACTS", codecs.EraSeed), "contract era to speak: seed (create on COMMAND_TOPIC_CREATE_ACCOUNT) or current (COMMAND_TOPIC_ACCOUNT, a hwid on the login); channels are found from either era's announcements (env ATLAS_CONTRACTS)")
	hwid := fs.String("hwid", "", "the client's hardware id, sent in the current contracts")
	tenantID := fs.String("tenant", devTenant, "TENANT_ID uuid")
	region := fs.String("region", "GMS", "REGION")
	major := fs.Uint("major", 83, "MAJOR_VERSION")
	minor := fs.Uint("minor", 1, "MINOR_VERSION")
	keyFile := fs.String("key-file", envOr("ATLAS_LOGIN_SIGNING_KEY_FILE", devKeyFile()), "ticket signing key, PEM or base64 (env ATLAS_LOGIN_SIGNING_KEY_FILE; ATLAS_LOGIN_SIGNING_KEY holds the key itself)")
	address := fs.String("address", "", "the channel's client address host:port (default: from its heartbeats)")
	timeout := fs.Duration("timeout", 30*time.Second, "how long to wait for each answer")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: atlas login --name N --password P --character C [--world W] [--channel C] [--create] [flags]")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, "login", args); err != nil {
		return usageError{err}
	}
	if *password == "" {
		*password = os.Getenv("ATLAS_LOGIN_PASSWORD")
	}
	switch {
	case *name == "" || *password == "" || *character == 0:
		fs.Usage()
		return errors.New("--name, --password and --character are required")
	case *character > 1<<32-1 || *world > 255 || *channelID > 255 || *major > 65535 || *minor > 65535:
		return errors.New("--character is a uint32, --world and --channel 0 to 255, versions 16-bit")
	}
	id, err := uuid.Parse(*tenantID)
	if err != nil {
		return fmt.Errorf("--tenant: %w", err)
	}
	if *contracts != codecs.EraSeed && *contracts != codecs.EraCurrent {
		return fmt.Errorf("--contracts %q: want seed or current", *contracts)
	}
	key, err := signingKey(*keyFile)
	if err != nil {
		return err
	}
	l := &loginRun{
		tenant: codecs.Tenant{ID: id, Region: *region, Major: uint16(*major), Minor: uint16(*minor)},
		world:  uint8(*world), channel: uint8(*channelID), timeout: *timeout, address: *address,
		era: *contracts, hwid: *hwid,
	}
	res, err := l.run(ctx, *brokers, *name, *password, uint32(*character), *create)
	if err != nil {
		var refused errRefused
		if errors.As(err, &refused) {
			fmt.Fprintln(os.Stderr, refused.code)
		}
		return err
	}
	signer := ticket.NewSigner(key)
	tk, _, err := signer.Mint(ticket.Grant{Tenant: ticket.TenantOf(l.tenant), WorldID: l.world, ChannelID: l.channel,
		AccountID: res.AccountID, CharacterID: res.CharacterID, SessionID: res.SessionID})
	if err != nil {
		return err
	}
	res.Ticket = tk
	return json.NewEncoder(os.Stdout).Encode(res)
}

// signingKey reads the signing key from ATLAS_LOGIN_SIGNING_KEY or the file.
func signingKey(file string) (ed25519.PrivateKey, error) {
	if v := os.Getenv("ATLAS_LOGIN_SIGNING_KEY"); v != "" {
		return ticket.ParsePrivateKey(v)
	}
	b, err := os.ReadFile(file)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("no ticket signing key at %s: start `atlas dev` (it creates one there) or set ATLAS_LOGIN_SIGNING_KEY", file)
	}
	if err != nil {
		return nil, err
	}
	return ticket.ParsePrivateKey(string(b))
}

type loginRun struct {
	tenant  codecs.Tenant
	world   uint8
	channel uint8
	timeout time.Duration
	address string
	era     string // the contract era it writes
	hwid    string

	cl *kgo.Client
}

// run does the login server's part: create (optionally), log in, find the channel, move the
// session toward it. Answers are read from a minute before the start, filtered by this
// login's session id, so none is missed however fast it comes.
func (l *loginRun) run(ctx context.Context, brokers, name, password string, character uint32, create bool) (loginResult, error) {
	since := time.Now().Add(-time.Minute)
	cl, err := kafkaClient(brokers,
		kgo.ConsumeTopics(string(atlas.EventTopicAccountSessionStatus), string(atlas.CommandTopicChannelStatus), string(atlas.EventTopicChannelStatus)),
		kgo.ConsumeResetOffset(kgo.NewOffset().AfterMilli(since.UnixMilli())))
	if err != nil {
		return loginResult{}, err
	}
	defer cl.Close()
	l.cl = cl
	sid := uuid.New()
	if create {
		var cmd interface{ Encode() ([]byte, error) } = &codecs.CreateAccountCommand{Name: name, Password: password}
		topic := atlas.CommandTopicCreateAccount
		if l.era == codecs.EraCurrent {
			// Current upstream moved account creation to COMMAND_TOPIC_ACCOUNT.
			cmd = &codecs.AccountCommand{Type: codecs.AccountCommandTypeCreate, Body: &codecs.AccountCommandCreateBody{Name: name, Password: password}}
			topic = atlas.CommandTopicAccount
		}
		if err := l.produce(ctx, topic, 0, cmd); err != nil {
			return loginResult{}, err
		}
	}
	body := &codecs.AccountSessionCommandCreateBody{AccountName: name, Password: password, IPAddress: "127.0.0.1"}
	if l.era == codecs.EraCurrent {
		body.Hwid = &l.hwid // current login servers always write it
	}
	if err := l.produce(ctx, atlas.CommandTopicAccountSession, 0, &codecs.AccountSessionCommand{
		SessionID: sid, Author: "LOGIN", Type: codecs.AccountSessionCommandTypeCreate, Body: body,
	}); err != nil {
		return loginResult{}, err
	}
	w := &watch{l: l, sid: sid, address: l.address}
	ans, err := w.next(ctx, "the login answer")
	if err != nil {
		return loginResult{}, err
	}
	if err := refusal(ans); err != nil {
		return loginResult{}, err
	}
	if ans.Type == codecs.AccountSessionStatusEventTypeRequestLicenseAgreement {
		fmt.Fprintln(os.Stderr, "atlas login: the account has not accepted the license; entering anyway (development login server)")
	}
	account := ans.AccountID
	addr, err := w.channelAddress(ctx)
	if err != nil {
		return loginResult{}, err
	}
	host, portText, _ := net.SplitHostPort(addr)
	port, _ := strconv.ParseUint(portText, 10, 16)
	params, _ := json.Marshal(map[string]any{"ipAddress": host, "port": port, "characterId": character})
	if err := l.produce(ctx, atlas.CommandTopicAccountSession, account, &codecs.AccountSessionCommand{
		SessionID: sid, AccountID: account, Author: "LOGIN", Type: codecs.AccountSessionCommandTypeProgressState,
		Body: &codecs.AccountSessionCommandProgressStateBody{State: 2, Params: params},
	}); err != nil {
		return loginResult{}, err
	}
	moved, err := w.next(ctx, "the move toward the channel")
	if err != nil {
		return loginResult{}, err
	}
	if err := refusal(moved); err != nil {
		return loginResult{}, err
	}
	return loginResult{AccountID: account, SessionID: sid, CharacterID: character, Address: addr}, nil
}

func refusal(e *codecs.AccountSessionStatusEvent) error {
	if b, ok := e.Body.(*codecs.AccountSessionStatusEventErrorBody); ok {
		return errRefused{code: b.Code}
	}
	return nil
}

func (l *loginRun) produce(ctx context.Context, topic goka.Stream, key uint32, msg interface{ Encode() ([]byte, error) }) error {
	value, err := msg.Encode()
	if err != nil {
		return err
	}
	rec := &kgo.Record{Topic: string(topic), Key: []byte(codecs.IDKey(key)), Value: value}
	for k, v := range l.tenant.Headers() {
		rec.Headers = append(rec.Headers, kgo.RecordHeader{Key: k, Value: v})
	}
	rec.Headers = append(rec.Headers, kgo.RecordHeader{Key: codecs.HeaderTraceParent, Value: []byte(codecs.NewTrace().ParentString())})
	ctx, cancel := context.WithTimeout(ctx, l.timeout)
	defer cancel()
	if err := l.cl.ProduceSync(ctx, rec).FirstErr(); err != nil {
		return fmt.Errorf("produce to %s: %w", topic, err)
	}
	return nil
}

// watch reads this login's answers and the channel's heartbeats.
type watch struct {
	l       *loginRun
	sid     uuid.UUID
	address string
	answers []*codecs.AccountSessionStatusEvent
}

// next waits for the next answer to this login's session.
func (w *watch) next(ctx context.Context, what string) (*codecs.AccountSessionStatusEvent, error) {
	err := w.poll(ctx, what, func() bool { return len(w.answers) > 0 })
	if err != nil {
		return nil, err
	}
	a := w.answers[0]
	w.answers = w.answers[1:]
	return a, nil
}

// channelAddress waits for a heartbeat of the channel, unless --address named it.
func (w *watch) channelAddress(ctx context.Context) (string, error) {
	err := w.poll(ctx, fmt.Sprintf("a heartbeat of world %d channel %d (is the channel running?)", w.l.world, w.l.channel),
		func() bool { return w.address != "" })
	return w.address, err
}

func (w *watch) poll(ctx context.Context, what string, done func() bool) error {
	deadline := time.Now().Add(w.l.timeout)
	for !done() {
		if time.Now().After(deadline) {
			return fmt.Errorf("no answer within %s: waiting for %s", w.l.timeout, what)
		}
		pollCtx, cancel := context.WithDeadline(ctx, deadline)
		fetches := w.l.cl.PollFetches(pollCtx)
		cancel()
		if ctx.Err() != nil {
			return ctx.Err()
		}
		fetches.EachRecord(w.take)
	}
	return nil
}

func (w *watch) take(r *kgo.Record) {
	if t, err := codecs.TenantFromHeaders(topicread.HeaderMap(r.Headers)); err != nil || t != w.l.tenant {
		return
	}
	switch r.Topic {
	case string(atlas.EventTopicAccountSessionStatus):
		if e, err := codecs.DecodeAccountSessionStatusEvent(r.Value); err == nil && e.SessionID == w.sid {
			w.answers = append(w.answers, e)
		}
	case string(atlas.CommandTopicChannelStatus):
		m, err := codecs.DecodeChannelStatusCommand(r.Value)
		if err == nil {
			w.channel(m.WorldID, m.ChannelID, m.IPAddress, m.Port, m.Type == codecs.ChannelStatusCommandTypeHeartbeat, m.Type == codecs.ChannelStatusCommandTypeShutdown)
		}
	case string(atlas.EventTopicChannelStatus):
		// Channels in the current contracts announce themselves here.
		m, err := codecs.DecodeChannelStatusEvent(r.Value)
		if err == nil {
			w.channel(m.WorldID, m.ChannelID, m.IPAddress, m.Port, m.Type == codecs.ChannelStatusEventTypeStarted, m.Type == codecs.ChannelStatusEventTypeShutdown)
		}
	}
}

// channel follows the announcements of the channel this login goes to: up gives its
// address, down withdraws it.
func (w *watch) channel(world, channel uint8, ip string, port uint16, up, down bool) {
	if world != w.l.world || channel != w.l.channel || w.l.address != "" {
		return
	}
	switch {
	case up:
		w.address = net.JoinHostPort(ip, strconv.Itoa(int(port)))
	case down:
		w.address = ""
	}
}

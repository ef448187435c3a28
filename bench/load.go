package bench

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/atlasstreams/atlas"
	"github.com/atlasstreams/atlas/codecs"
	"github.com/atlasstreams/atlas/processors/account/model"
	"github.com/google/uuid"
	"github.com/twmb/franz-go/pkg/kgo"
)

// player is an account the session-command load cycles through the channel states:
// transition of the live CHANNEL session (state 2), then a CHANNEL login of the other session
// id (state 1), and again. Every command ends in one STATE_CHANGED event for the account, and
// an account's events come in the order of its commands (one key, one partition), so the
// oldest pending send time of the account is the one an event completes.
type player struct {
	id      uint32
	name    string
	sids    [2]uuid.UUID
	cur     int
	toState uint8
	pending []time.Time
	// wire holds the player's channel commands once encoded, by session index and target state
	// (1 or 2): the load generator shares the cores with the pipeline it measures, so it does
	// not encode the same four commands again and again (the pass-through gets its bytes
	// ready-made too).
	wire [2][2][]byte
}

// sessionLoad drives players of one tenant and records command-to-event latencies.
type sessionLoad struct {
	s       *stack
	tenant  codecs.Tenant
	headers []kgo.RecordHeader
	players []*player
	byID    map[uint32]*player

	mu        sync.Mutex
	latencies []time.Duration
	errors    int
	completed int
	lastDone  time.Time
	done      chan struct{}
	want      int
}

// setupPlayers creates n accounts in a new tenant and brings each to a live CHANNEL session.
func setupPlayers(s *stack, n int) (*sessionLoad, error) {
	l := &sessionLoad{s: s, tenant: newTenant("GMS"), byID: map[uint32]*player{}}
	l.headers = tenantHeaders(l.tenant)
	created := make(chan *player, n)
	states := make(chan [2]uint32, 4*n)
	s.onTenant(l.tenant, func(r *kgo.Record, now time.Time) {
		switch r.Topic {
		case string(atlas.EventTopicAccountStatus):
			if e, err := codecs.DecodeAccountStatusEvent(r.Value); err == nil && e.Status == codecs.AccountStatusEventStatusCreated {
				created <- &player{id: e.AccountID, name: e.Name, sids: [2]uuid.UUID{uuid.New(), uuid.New()}}
			}
		case string(atlas.EventTopicAccountSessionStatus):
			l.onSessionEvent(r, now, states)
		}
	})
	for i := 0; i < n; i++ {
		cmd, _ := json.Marshal(&codecs.CreateAccountCommand{Name: fmt.Sprintf("p%06d", i), Password: "pw"})
		s.send(string(atlas.CommandTopicCreateAccount), codecs.IDKey(uint32(i)), cmd, l.headers)
	}
	for i := 0; i < n; i++ {
		select {
		case p := <-created:
			l.players = append(l.players, p)
			l.byID[p.id] = p
		case <-time.After(2 * time.Minute):
			return nil, fmt.Errorf("setup: %d of %d accounts created", i, n)
		}
	}
	sort.Slice(l.players, func(i, j int) bool { return l.players[i].id < l.players[j].id })
	// Login, transition and channel login: three steps each player must finish in order.
	steps := []func(p *player){
		func(p *player) {
			cmd, _ := json.Marshal(&codecs.AccountSessionCommand{SessionID: p.sids[1], Author: model.IssuerLogin,
				Type: codecs.AccountSessionCommandTypeCreate, Body: &codecs.AccountSessionCommandCreateBody{
					AccountName: p.name, Password: "pw", IPAddress: "127.0.0.1"}})
			s.send(string(atlas.CommandTopicAccountSession), codecs.IDKey(0), cmd, l.headers)
		},
		func(p *player) { l.progress(p, p.sids[1], model.IssuerLogin, 2) },
		func(p *player) { l.progress(p, p.sids[0], model.IssuerChannel, 1) },
	}
	for step, f := range steps {
		for _, p := range l.players {
			f(p)
		}
		for i := 0; i < n; i++ {
			select {
			case <-states:
			case <-time.After(2 * time.Minute):
				return nil, fmt.Errorf("setup step %d: %d of %d players done", step, i, n)
			}
		}
	}
	for _, p := range l.players {
		p.cur, p.toState = 0, 2
	}
	return l, nil
}

// errorEvent is how an ERROR session event's type reads in its JSON (the product's encoder).
var errorEvent = []byte(`"type":"` + codecs.AccountSessionStatusEventTypeError + `"`)

// onSessionEvent completes the oldest pending command of the event's account. During setup
// (states != nil) it reports the step as done instead.
func (l *sessionLoad) onSessionEvent(r *kgo.Record, now time.Time, states chan [2]uint32) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.want == 0 { // setup
		e, err := codecs.DecodeAccountSessionStatusEvent(r.Value)
		if err != nil {
			return
		}
		switch e.Type {
		case codecs.AccountSessionStatusEventTypeStateChanged, codecs.AccountSessionStatusEventTypeRequestLicenseAgreement, codecs.AccountSessionStatusEventTypeCreated:
			states <- [2]uint32{e.AccountID, 0}
		}
		return
	}
	// Measuring: the event's key is its account's id, and only an ERROR matters. Decoding
	// every event here took 5 % of the cores the pipeline is measured on.
	id, err := codecs.ParseIDKey(r.Key)
	if err != nil {
		return
	}
	p := l.byID[id]
	if p == nil || len(p.pending) == 0 {
		return
	}
	if bytes.Contains(r.Value, errorEvent) {
		l.errors++
	}
	l.latencies = append(l.latencies, now.Sub(p.pending[0]))
	p.pending = p.pending[1:]
	l.completed++
	l.lastDone = now
	if l.completed == l.want {
		close(l.done)
	}
}

// progressCommand is a PROGRESS_STATE command of the player's session sid to state (1 or 2),
// with the params a channel server sends.
func progressCommand(p *player, sid uuid.UUID, author string, state uint8) []byte {
	body := &codecs.AccountSessionCommandProgressStateBody{State: state, Params: json.RawMessage(`{"characterId":1}`)}
	if state == 2 {
		body.Params = json.RawMessage(`{"ipAddress":"127.0.0.1","port":7576}`)
	}
	cmd, _ := json.Marshal(&codecs.AccountSessionCommand{SessionID: sid, AccountID: p.id, Author: author,
		Type: codecs.AccountSessionCommandTypeProgressState, Body: body})
	return cmd
}

func (l *sessionLoad) progress(p *player, sid uuid.UUID, author string, state uint8) time.Time {
	return l.sendFor(p, progressCommand(p, sid, author, state))
}

func (l *sessionLoad) sendFor(p *player, cmd []byte) time.Time {
	return l.s.send(string(atlas.CommandTopicAccountSession), codecs.IDKey(p.id), cmd, l.headers)
}

// channelCommand is the channel server's command moving session index i of p to state.
func (p *player) channelCommand(i int, state uint8) []byte {
	w := &p.wire[i][state-1]
	if *w == nil {
		*w = progressCommand(p, p.sids[i], model.IssuerChannel, state)
	}
	return *w
}

// next sends the next command of player i's cycle.
func (l *sessionLoad) next(p *player) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var at time.Time
	if p.toState == 2 {
		at = l.sendFor(p, p.channelCommand(p.cur, 2))
		p.toState = 1
	} else {
		at = l.sendFor(p, p.channelCommand(1-p.cur, 1))
		p.cur, p.toState = 1-p.cur, 2
	}
	p.pending = append(p.pending, at)
}

// run sends total commands over the players, at rate per second (0: as fast as possible),
// and waits until every one completed. It returns the latencies and the time from the first
// send to the last completion.
func (l *sessionLoad) run(total int, rate float64, timeout time.Duration) ([]time.Duration, time.Duration, error) {
	l.mu.Lock()
	l.latencies, l.completed, l.errors, l.want, l.done = nil, 0, 0, total, make(chan struct{})
	l.mu.Unlock()
	start := time.Now()
	for i := 0; i < total; i++ {
		if rate > 0 {
			if d := time.Until(start.Add(time.Duration(float64(i) / rate * float64(time.Second)))); d > 0 {
				time.Sleep(d) // pacing the load generator, not waiting for a result
			}
		}
		l.next(l.players[i%len(l.players)])
	}
	select {
	case <-l.done:
	case <-time.After(timeout):
		l.mu.Lock()
		defer l.mu.Unlock()
		return nil, 0, fmt.Errorf("%d of %d commands completed within %s", l.completed, total, timeout)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.errors > 0 {
		return nil, 0, fmt.Errorf("%d commands ended in an ERROR event", l.errors)
	}
	return append([]time.Duration(nil), l.latencies...), l.lastDone.Sub(start), nil
}

func newTenant(region string) codecs.Tenant {
	return codecs.Tenant{ID: uuid.New(), Region: region, Major: 83, Minor: 1}
}

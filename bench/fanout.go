package bench

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"regexp"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/atlasstreams/atlas"
	"github.com/atlasstreams/atlas/codecs"
	"github.com/atlasstreams/atlas/processors/channel"
	"github.com/atlasstreams/atlas/processors/channel/sessions"
	"github.com/atlasstreams/atlas/processors/ticket"
	"github.com/google/uuid"
	"github.com/twmb/franz-go/pkg/kgo"
)

// everyoneLoggedIn is the account registry of the fan-out and entry figures: routing and
// entry, not the registry, are measured.
type everyoneLoggedIn struct{}

func (everyoneLoggedIn) LoggedIn(codecs.Tenant, uint32) (bool, error) { return true, nil }

// countingConn is a client connection that counts the frames it is given.
type countingConn struct {
	n    *atomic.Int64
	want int64
	done chan struct{}
}

func (c countingConn) Send([]byte) bool {
	if c.n.Add(1) == c.want {
		close(c.done)
	}
	return true
}

func (countingConn) Close(string) {}

// fanOut measures a channel instance delivering map chat to every session in the map: events
// events, each for all players sessions, from the event topic to the sessions' connections.
func fanOut(s *stack, players, events int) (perSecond float64, err error) {
	if _, err := s.opts.EnsureTopics(channel.Topics(s.opts)); err != nil {
		return 0, err
	}
	tenant := newTenant("GMS")
	cfg := channel.DefaultConfig()
	cfg.ServiceID, cfg.Tenant = uuid.New(), tenant
	cfg.Channels = []channel.Listen{{Channel: 1, Addr: "127.0.0.1:0"}}
	cfg.HeartbeatInterval = time.Hour
	key, err := ticket.GenerateKey()
	if err != nil {
		return 0, err
	}
	cfg.VerifyKeys = []ed25519.PublicKey{key.Public().(ed25519.PublicKey)}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r, err := channel.Service{Options: s.opts, Config: cfg, Accounts: everyoneLoggedIn{}}.Start(ctx)
	if err != nil {
		return 0, err
	}
	defer func() { cancel(); <-r.Done() }()
	for deadline := time.Now().Add(time.Minute); !r.Ready(); {
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("channel instance not ready after a minute")
		}
		time.Sleep(10 * time.Millisecond) // polling its readiness
	}
	var delivered atomic.Int64
	done := make(chan struct{})
	field := sessions.Field{World: 0, Channel: 1, Map: 100000000}
	for i := 0; i < players; i++ {
		conn := countingConn{n: &delivered, want: int64(players * events), done: done}
		if err := r.Sessions.Add(sessions.Session{ID: uuid.New(), AccountID: uint32(i + 1), CharacterID: uint32(1000 + i),
			Field: field, State: sessions.Active, Conn: conn}, uint32(players)); err != nil {
			return 0, err
		}
	}
	headers := tenantHeaders(tenant)
	if err := awaitConsuming(s, r, tenant, uint32(players)); err != nil {
		return 0, err
	}
	start := time.Now()
	for i := 0; i < events; i++ {
		actor := uint32(1000 + i%players)
		msg := fmt.Sprintf(`{"worldId":0,"channelId":1,"mapId":100000000,"actorId":%d,"message":"hello %d","type":"GENERAL","body":{"balloonOnly":false}}`, actor, i)
		s.send(string(atlas.EventTopicCharacterChat), codecs.IDKey(actor), []byte(msg), headers)
	}
	select {
	case <-done:
	case <-time.After(2 * time.Minute):
		return 0, fmt.Errorf("fan-out: %d of %d deliveries within 2 minutes", delivered.Load(), players*events)
	}
	return float64(players*events) / time.Since(start).Seconds(), nil
}

// probeConn records which partitions' probe messages reached it.
type probeConn struct {
	mu   *sync.Mutex
	seen map[int32]bool
}

func (c probeConn) Send(frame []byte) bool {
	if m := probeMarker.FindSubmatch(frame); m != nil {
		p, _ := strconv.Atoi(string(m[1]))
		c.mu.Lock()
		c.seen[int32(p)] = true
		c.mu.Unlock()
	}
	return true
}

func (probeConn) Close(string) {}

var probeMarker = regexp.MustCompile(`probe-partition-(\d+)`)

// awaitConsuming returns once the channel instance consumes every partition of the chat
// topic. A channel starts at the newest offsets, and its consumers pick them when they are
// assigned, which may be after the instance reports ready: events sent before that are never
// read, which is right for a channel but would leave the figure waiting for them. A probe
// session in a map of its own is sent a chat message on each partition until each arrived.
func awaitConsuming(s *stack, r *channel.Running, tenant codecs.Tenant, firstFreeID uint32) error {
	pc := probeConn{mu: new(sync.Mutex), seen: map[int32]bool{}}
	probeField := sessions.Field{World: 0, Channel: 1, Map: 1}
	if err := r.Sessions.Add(sessions.Session{ID: uuid.New(), AccountID: firstFreeID + 1, CharacterID: 1, Field: probeField,
		State: sessions.Active, Conn: pc}, firstFreeID+1); err != nil {
		return err
	}
	cl, err := kgo.NewClient(append(s.opts.KafkaClientOpts(), kgo.RecordPartitioner(kgo.ManualPartitioner()))...)
	if err != nil {
		return err
	}
	defer cl.Close()
	headers := tenantHeaders(tenant)
	for deadline := time.Now().Add(time.Minute); ; {
		missing := 0
		for p := int32(0); p < int32(s.opts.Partitions); p++ {
			pc.mu.Lock()
			seen := pc.seen[p]
			pc.mu.Unlock()
			if seen {
				continue
			}
			missing++
			msg := fmt.Sprintf(`{"worldId":0,"channelId":1,"mapId":1,"actorId":999999,"message":"probe-partition-%d","type":"GENERAL","body":{"balloonOnly":false}}`, p)
			cl.Produce(context.Background(), &kgo.Record{Topic: string(atlas.EventTopicCharacterChat), Partition: p,
				Key: []byte(codecs.IDKey(1)), Value: []byte(msg), Headers: headers}, nil)
		}
		if missing == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("fan-out: the channel instance consumes %d chat partitions of %d after a minute", s.opts.Partitions-missing, s.opts.Partitions)
		}
		time.Sleep(100 * time.Millisecond) // the pace of the probes, not a wait for them
	}
}
